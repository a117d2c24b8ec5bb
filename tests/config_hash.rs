//! `--resume` compares each run's `config_hash` with the one in results.json,
//! so the hashes of the shipped experiments are a contract: a change to how a
//! run's config is echoed (a new default, a renamed field, another number
//! format) would silently rerun every old result. These pins catch it.

use initscope::manifest::{Manifest, PlanOverrides, config_hash};
use sha2::{Digest, Sha256};

/// (manifest, runs, first 16 hex digits of SHA-256 over the runs' hashes in plan order).
const PINS: &[(&str, usize, &str)] = &[
    ("activation-vs-init.json", 8, "134934479ccda83d"),
    ("coord-check.json", 12, "a19f9416c392d800"),
    ("custom-init.json", 2, "13a5efad9a40b22f"),
    ("failure-modes.json", 4, "43e4bc314fe238f3"),
    ("init-impact.json", 4, "493a53b8c9c1cb91"),
    ("isometry.json", 6, "000d38176d9fb928"),
    ("loss-by-init.json", 18, "c6ee10d8153ea7ef"),
    ("lsuv.json", 4, "72fa0d60ade50858"),
    ("quickstart.json", 3, "fbe8abe45a9fb872"),
    ("saxe-depth.json", 20, "779a07f217740ab4"),
    ("schemes-relu.json", 5, "f43aa7cf101e344a"),
    ("std-sweep.json", 50, "a8b89e56239f3955"),
    ("xavier-shapes.json", 4, "5fe9b94a35f468fc"),
    // Issue 12: seed 001 s4 in full (attention, 32 x 128 tokens): a new experiment, a new pin.
    ("transformer-init.json", 3, "a0b2ec6ddf8a993e"),
    ("attention-scale.json", 15, "3025105696cf41a7"),
    ("layernorm-rescue.json", 6, "721f498329b62635"),
    ("residual-scaling.json", 15, "5466ccaea002fd5e"),
    ("layernorm-training.json", 12, "33245d3ba71d55ca"),
];

#[test]
fn shipped_experiments_keep_their_config_hashes() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments");
    for (file, runs, pin) in PINS {
        let m = Manifest::from_path(&dir.join(file)).unwrap_or_else(|e| panic!("{e}"));
        let plan = m.plan(&PlanOverrides::default()).unwrap();
        let all: String = plan.iter().map(config_hash).collect();
        let digest: String = Sha256::digest(all.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            (plan.len(), &digest[..16]),
            (*runs, *pin),
            "{file}: the config echo changed, so --resume would rerun every old result; \
             if that is intended, bump hash_version in config_hash and update these pins"
        );
    }
}
