//! Fuzzing the three readers of user files: manifests (`run`, `validate`),
//! safetensors tensors (`from_file`) and results documents (`plot`,
//! `--resume`, `merge`). Mutated inputs (see `fuzz_support`) must never
//! panic: a manifest gives a valid plan or problems that each name a JSON
//! path or a line; a tensor file gives a model or an error; a results
//! document gives a document or an error. Through the binary, a bad manifest
//! exits 2 and writes nothing.
//!
//! Case counts: `INITSCOPE_FUZZ_CASES=1000000 cargo test --release --test fuzz`
//! runs a million of each; `INITSCOPE_FUZZ_SEED=random` draws a new seed.

#[path = "common/cli.rs"]
mod cli_support;
mod fuzz_support;
mod synth;

use cli_support::*;
use fuzz_support::*;
use initscope::manifest::{Manifest, ManifestError, PlanOverrides, config_hash};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use serde_json::{Value, json};
use std::path::Path;

fn shipped() -> Vec<(String, Value)> {
    shipped_manifests()
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p).unwrap();
            (
                p.display().to_string(),
                serde_json::from_str(&text).unwrap(),
            )
        })
        .collect()
}

fn check_problems(e: &ManifestError, text: &str) -> Result<(), TestCaseError> {
    prop_assert!(!e.problems.is_empty(), "an error without problems\n{text}");
    for p in &e.problems {
        prop_assert!(!p.message.is_empty(), "empty message at {}", p.path);
        prop_assert!(
            !p.path.is_empty() || p.line.is_some() || !text.trim_start().starts_with('{'),
            "a problem without a JSON path or line: {p}\n{text}"
        );
    }
    Ok(())
}

/// What `run` does before the GPU: parse, validate, expand, build models.
fn plan_of(text: &str, source: &str, base: &Path) -> Result<(), TestCaseError> {
    let m = match no_panic("Manifest::from_str", text, || {
        Manifest::from_str(text, source)
    })? {
        Ok(m) => m,
        Err(e) => return check_problems(&e, text),
    };
    let specs = match no_panic("plan", text, || m.plan(&PlanOverrides::default()))? {
        Ok(s) => s,
        Err(e) => return check_problems(&e, text),
    };
    prop_assert!(!specs.is_empty(), "an empty plan\n{text}");
    // Building every model of a 100,000-run sweep is the same code as
    // building a few; the first runs stand for the rest.
    for spec in specs.iter().take(4) {
        let built = no_panic("build", text, || {
            initscope::model::build::build(spec, Some(base))
        })?;
        if let Ok(model) = built {
            no_panic("cost and memory", text, || {
                let _ = model.cost().total();
                let _ = model.check_fits(initscope::model::memory::Limits {
                    binding: 128 << 20,
                    max_buffer: 2 << 30,
                });
            })?;
        }
        no_panic("config_hash", text, || config_hash(spec))?;
    }
    Ok(())
}

#[test]
fn mutated_manifests_never_panic() {
    let docs = shipped();
    let dir = cli_support::repo().join("experiments");
    let t = std::time::Instant::now();
    let strategy = (0..docs.len(), mutations(4));
    runner(5_000)
        .run(&strategy, |(k, ms)| {
            let (source, doc) = &docs[k];
            let text = apply(doc, &ms);
            plan_of(&text, source, &dir)
        })
        .unwrap();
    eprintln!("manifests: {:.1} s", t.elapsed().as_secs_f64());
}

/// A small from_file manifest and a valid 8×8 tensor file.
fn file_manifest() -> String {
    json!({
        "name": "fuzz-file", "seed": 1,
        "network": {"input_dim": 8, "width": 8, "depth": 2, "activation": "tanh"},
        "input": {"batch": 4},
        "layers": [{"index": 0, "init": {"scheme": "from_file", "path": "w.safetensors", "tensor": "w"}}]
    })
    .to_string()
}

/// A valid file's header as JSON and its data bytes.
fn valid_tensor() -> (Value, Vec<u8>) {
    let w: Vec<f32> = (0..64).map(|i| i as f32 / 64.0).collect();
    let bytes = initscope::export::safetensors_bytes(&[("w", vec![8, 8], &w)], &[]).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    (header, bytes[8 + n..].to_vec())
}

#[test]
fn mutated_tensor_files_never_panic() {
    let clock = std::time::Instant::now();
    let t = TempDir::new("fuzz-safetensors");
    let source = t.join("m.json");
    let text = file_manifest();
    let (header, data) = valid_tensor();
    // Header edits (JSON mutations), a wrong length prefix, cut data.
    let strategy = (
        mutations(3),
        prop::option::weighted(0.2, any::<u64>()),
        0..=data.len() + 8,
    );
    runner(2_500)
        .run(&strategy, |(ms, len, keep)| {
            let head = apply(&header, &ms);
            let mut bytes = len.unwrap_or(head.len() as u64).to_le_bytes().to_vec();
            bytes.extend_from_slice(head.as_bytes());
            bytes.extend_from_slice(&data[..keep.min(data.len())]);
            std::fs::write(t.join("w.safetensors"), &bytes).unwrap();
            plan_of(&text, s(&source), t.path())
        })
        .unwrap();
    eprintln!("tensor files: {:.1} s", clock.elapsed().as_secs_f64());
}

#[test]
fn mutated_results_documents_never_panic() {
    let clock = std::time::Instant::now();
    let t = TempDir::new("fuzz-results");
    let doc = serde_json::to_value(tiny_doc()).unwrap();
    let path = t.join("results.json");
    runner(2_500)
        .run(&mutations(4), |ms| {
            let text = apply(&doc, &ms);
            std::fs::write(&path, &text).unwrap();
            let read = no_panic("read_results", &text, || {
                initscope::results::files::read_results(&path)
            })?;
            if let Ok(doc) = read {
                no_panic("tables", &text, || {
                    let _ = initscope::results::tidy::layers_csv(&doc);
                    let _ = initscope::results::files::summary_csv(&doc.runs);
                })?;
            }
            Ok(())
        })
        .unwrap();
    eprintln!("results documents: {:.1} s", clock.elapsed().as_secs_f64());
}

/// A two-run synthetic results document (2 tanh layers of 8, simulated in
/// f64, with histograms): every field kind, few nodes.
fn tiny_doc() -> initscope::results::ResultsDoc {
    use initscope::activation::Activation;
    let net = synth::Net {
        depth: 2,
        width: 8,
        batch: 8,
        ..synth::Net::new(Activation::Tanh, synth::Init::Xavier)
    };
    let runs = (0..2)
        .map(|i| synth::run(i, "arm", "arm", None, json!({"init.std": i}), &net))
        .collect();
    synth::doc("fuzz", "fuzz seed", runs)
}

#[test]
fn bad_manifests_exit_2_through_the_binary_and_write_nothing() {
    let docs = shipped();
    let t = TempDir::new("fuzz-cli");
    let dir = cli_support::repo().join("experiments");
    let mut bad = Vec::new();
    let mut rng = runner(1);
    let strategy = (0..docs.len(), mutations(3));
    while bad.len() < 40 {
        let (k, ms) = strategy.new_tree(&mut rng).unwrap().current();
        let text = apply(&docs[k].1, &ms);
        // Only manifests the library refuses: a valid one would run the GPU.
        let refused = Manifest::from_str(&text, s(&dir.join("x.json")))
            .map_or(true, |m| m.plan(&PlanOverrides::default()).is_err());
        if refused {
            bad.push(text);
        }
    }
    for (i, text) in bad.iter().enumerate() {
        // Beside the shipped manifests, so relative from_file paths resolve alike.
        let m = t.join(format!("m{i}.json"));
        std::fs::write(&m, text).unwrap();
        let out = t.join(format!("out{i}"));
        let r = initscope(&["run", s(&m), "--out", s(&out)]);
        assert_eq!(r.code, Some(2), "{}\n{text}", r.show());
        assert!(r.stderr.starts_with("Error: "), "{}", r.show());
        assert!(!r.stderr.contains("panicked"), "{}", r.show());
        assert!(
            !out.exists(),
            "a refused manifest created {}",
            out.display()
        );
    }
}
