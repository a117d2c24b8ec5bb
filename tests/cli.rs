//! The command line's manifest checks, through the real binary: malformed
//! manifests (exit 2, the JSON path and a message, no panic, no output
//! folder), sizes the adapter cannot hold, and `validate`'s expanded plan.

#[path = "common/cli.rs"]
mod cli_support;

use cli_support::*;
use serde_json::{Value, json};
use std::path::Path;
/// A small valid manifest; the error cases patch it.
fn base() -> Value {
    json!({
        "name": "t",
        "network": {"input_dim": 4, "width": 4, "depth": 2, "activation": "tanh"},
        "input": {"batch": 2}
    })
}

/// `base()` deep-merged with `patch` (`null` removes a key), pretty-printed
/// so that the reported line numbers mean something.
fn patched(patch: Value) -> String {
    let mut v = base();
    merge(&mut v, &patch);
    serde_json::to_string_pretty(&v).expect("JSON")
}

/// One malformed manifest and what its error must say.
struct Case {
    name: &'static str,
    text: String,
    /// The JSON path, printed as `file:LINE: PATH: message`; empty when the
    /// error has no path (not JSON at all, or a size check of a whole run).
    path: &'static str,
    says: Vec<String>,
}

fn case(name: &'static str, text: String, path: &'static str, says: &[&str]) -> Case {
    Case {
        name,
        text,
        path,
        says: says.iter().map(|s| s.to_string()).collect(),
    }
}

/// A safetensors file with one F32 tensor `name` of `shape` (zeros).
fn write_safetensors(path: &Path, name: &str, shape: &[usize]) {
    let n: usize = shape.iter().product();
    let header = json!({ name: {"dtype": "F32", "shape": shape, "data_offsets": [0, 4 * n]} });
    let mut h = header.to_string().into_bytes();
    while !h.len().is_multiple_of(8) {
        h.push(b' ');
    }
    let mut bytes = (h.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(&h);
    bytes.resize(bytes.len() + 4 * n, 0);
    std::fs::write(path, bytes).expect("safetensors");
}

/// The default adapter's limits in bytes: its largest storage binding and
/// its largest buffer. The adapter is the one `validate` names; its limits
/// come from `devices --json`.
struct Limits {
    binding: u64,
    buffer: u64,
}

fn adapter_limits(dir: &TempDir) -> Limits {
    let m = dir.join("limit-probe.json");
    std::fs::write(&m, base().to_string()).unwrap();
    let r = initscope_ok(&["validate", s(&m)]);
    let line = r
        .stdout
        .lines()
        .find(|l| l.starts_with("Adapter: "))
        .unwrap_or_else(|| panic!("validate names no adapter\n{}", r.show()));
    let (name, _) = line["Adapter: ".len()..]
        .rsplit_once(" — largest binding ")
        .unwrap_or_else(|| panic!("unexpected adapter line {line:?}"));
    let d = initscope_ok(&["devices", "--json"]);
    let list: Value = serde_json::from_str(&d.stdout).expect("devices --json is JSON");
    let a = list
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["name"] == name)
        .unwrap_or_else(|| panic!("adapter {name:?} not in devices --json: {list}"));
    let get = |k: &str| a[k].as_u64().unwrap_or_else(|| panic!("{k} in {a}"));
    let binding = get("max_storage_buffer_binding_size");
    Limits {
        binding: binding.min(get("max_buffer_size")),
        buffer: get("max_buffer_size"),
    }
}

/// Malformed manifests whose error names a JSON path (and a few that are
/// not JSON at all). A table: one line per case reads best unformatted.
#[rustfmt::skip]
fn field_cases(dir: &TempDir) -> Vec<Case> {
    // A weight of shape [8, 5] where layer 0 needs [4, 4].
    write_safetensors(&dir.join("w85.safetensors"), "w", &[8, 5]);
    let p = patched;
    let var3 = json!({"variants": [
        {"label": "a"}, {"label": "b"},
        {"label": "c", "init": {"scheme": "normal", "std": -1}}]});
    let from_file = |file: &str| json!({"init": {"scheme": "from_file", "path": file, "tensor": "w"}});
    let mixture = json!({"init": {"scheme": "mixture", "components": [
        {"weight": 0.5, "dist": {"scheme": "zeros"}},
        {"weight": 0.4, "dist": {"scheme": "ones"}}]}});
    let many: Vec<_> = (0..65).map(|_| json!({"weight": 1.0 / 65.0, "dist": {"scheme": "zeros"}})).collect();
    let mixture65 = json!({"init": {"scheme": "mixture", "components": many}});
    let duplicate = format!("{{\"name\": \"t\", \"name\": \"u\", {}", &base().to_string()[1..]);
    let huge_std = p(json!({"init": {"scheme": "normal"}}))
        .replace("\"normal\"", "\"normal\", \"std\": 1e400");
    let mut v = vec![
        case("not-json", "this is not JSON".into(), "", &["invalid JSON"]),
        case("empty-file", String::new(), "", &["EOF while parsing"]),
        case("top-level-list", "[1, 2]".into(), "", &["must be a JSON object"]),
        case("number-out-of-range", huge_std, "", &["number out of range"]),
        case("duplicate-key", duplicate, "name", &["duplicate key"]),
        case("width-string", p(json!({"network": {"width": "8"}})), "network.width", &["expected a positive integer", "\"8\""]),
        case("width-negative", p(json!({"network": {"width": -3}})), "network.width", &["got -3"]),
        case("width-fraction", p(json!({"network": {"width": 4.5}})), "network.width", &["got 4.5"]),
        case("depth-zero", p(json!({"network": {"depth": 0}})), "network.depth", &["0 is not a depth"]),
        case("width-absurd", p(json!({"network": {"width": 100_000_000}})), "network.width", &["too large for a width"]),
        case("depth-absurd", p(json!({"network": {"depth": 100_000}})), "network.depth", &["too large for a depth"]),
        case("batch-zero", p(json!({"input": {"batch": 0}})), "input.batch", &["not a batch size"]),
        case("widths-zero", p(json!({"network": {"width": null, "depth": null, "widths": [4, 0]}})), "network.widths[1]", &["0 is not a width"]),
        case("seed-string", p(json!({"seed": "x"})), "seed", &["expected an integer seed"]),
        case("repeats-zero", p(json!({"repeats": 0})), "repeats", &["0 is not a repeat count"]),
        case("name-bad", p(json!({"name": "a b/c"})), "name", &["letters, digits"]),
        case("name-missing", p(json!({"name": null})), "name", &["missing required field"]),
        case("scheme-typo", p(json!({"init": {"scheme": "xavier_unifrom"}})), "init.scheme", &["unknown scheme", "did you mean \"xavier_uniform\""]),
        case("activation-unknown", p(json!({"network": {"activation": "tanhh"}})), "network.activation", &["unknown activation", "did you mean \"tanh\""]),
        case("field-unknown", p(json!({"seeed": 3})), "seeed", &["unknown field", "did you mean \"seed\""]),
        case("field-unknown-nested", p(json!({"network": {"widht": 4}})), "network.widht", &["unknown field", "did you mean \"width\""]),
        case("param-of-another-scheme", p(json!({"init": {"scheme": "normal", "std": 1, "gain": 2}})), "init.gain", &["has no parameter \"gain\""]),
        case("sweep-empty", p(json!({"sweep": {"network.depth": []}})), "sweep[\"network.depth\"]", &["non-empty list"]),
        case("sweep-path-missing", p(json!({"sweep": {"network.dept": [1, 2]}})), "sweep[\"network.dept\"]", &["does not exist", "did you mean \"network.depth\""]),
        case("sweep-value-type", p(json!({"sweep": {"network.depth": [1, "x"]}})), "sweep[\"network.depth\"][1]", &["positive integers", "\"x\""]),
        case("jacobian-inputs-past-batch", p(json!({"jacobian": {"inputs": 3}})), "jacobian.inputs", &["3 input rows", "input.batch is 2"]),
        case("jacobian-depth-past-network", p(json!({"jacobian": {"depths": [1, 5]}})), "jacobian.depths[1]", &["depth 5 is beyond the network's 2 layers"]),
        case("jacobian-depth-zero", p(json!({"jacobian": {"depths": [0]}})), "jacobian.depths[0]", &["0 is not a depth"]),
        case("jacobian-field-typo", p(json!({"jacobian": {"input": 1}})), "jacobian.input", &["unknown field", "did you mean \"inputs\""]),
        case("mixture-weights", p(mixture), "init.components", &["sum to 0.9", "must sum to 1"]),
        case("mixture-too-many", p(mixture65), "init.components", &["65 components", "at most 64"]),
        case("from-file-missing", p(from_file("missing.safetensors")), "init.path", &["cannot open", "missing.safetensors"]),
        case("from-file-shape", p(from_file("w85.safetensors")), "init.tensor", &["has shape [8, 5]", "layer 0"]),
        case("std-zero", p(json!({"init": {"scheme": "normal", "std": 0}})), "init.std", &["must be > 0, got 0"]),
        case("variant-std-negative", p(var3), "variants[2].init.std", &["must be > 0, got -1"]),
        case("uniform-a-above-b", p(json!({"init": {"scheme": "uniform", "a": 2, "b": 1}})), "init.b", &["a < b"]),
        case("sparsity-one", p(json!({"init": {"scheme": "sparse", "sparsity": 1.0}})), "init.sparsity", &["[0, 1)"]),
        case("nonlinearity-unknown", p(json!({"init": {"scheme": "kaiming_uniform", "nonlinearity": "rleu"}})), "init.nonlinearity", &["unknown nonlinearity", "did you mean \"relu\""]),
        case("width-and-widths", p(json!({"network": {"widths": [4, 4]}})), "network.widths", &["not both"]),
        case("labels-duplicate", p(json!({"variants": [{"label": "a"}, {"label": "a"}]})), "variants[1].label", &["duplicate label \"a\""]),
        case("loss-unknown", p(json!({"loss": "meen"})), "loss", &["did you mean \"mean\""]),
        case("bins-absurd", p(json!({"stats": {"histogram_bins": 9999}})), "stats.histogram_bins", &["1..=4096"]),
        case("layer-index-missing", p(json!({"layers": [{"index": 5, "init": {"scheme": "zeros"}}]})), "layers[0].index", &["layer 5 does not exist"]),
        case("layer-range-empty", p(json!({"layers": [{"range": [2, 1], "init": {"scheme": "zeros"}}]})), "layers[0].range", &["is empty"]),
        case("orthogonal-bias", p(json!({"bias_init": {"scheme": "orthogonal"}})), "bias_init.scheme", &["cannot fill a bias"]),
        // Residual stacks (issue 11): the norm, its eps, the branch width, and
        // overrides that name no parameter of this network.
        case("norm-unknown", p(json!({"network": {"block": "residual", "norm": "batchnorm"}})), "network.norm", &["unknown norm \"batchnorm\"", "layernorm, rmsnorm, none"]),
        case("norm-eps-zero", p(json!({"network": {"block": "residual", "norm_eps": 0}})), "network.norm_eps", &["must be > 0, got 0"]),
        case("ff-width-zero", p(json!({"network": {"block": "residual", "ff_width": 0}})), "network.ff_width", &["0 is not a width"]),
        case("residual-scale-unknown", p(json!({"network": {"block": "residual", "residual_scale": "1/L"}})), "network.residual_scale", &["1/sqrt(2L)", "deepnorm"]),
        case("norm-on-linear", p(json!({"network": {"norm": "rmsnorm"}})), "network.norm", &["residual stacks only", "\"block\": \"residual\""]),
        case("override-glob-nothing", p(json!({"network": {"block": "residual"}, "overrides": [{"match": "blocks.*.fc3.weight", "scale": 0.5}]})),
             "overrides[0].match", &["matches no parameter", "similar keys", "blocks.0.fc1.weight"]),
        case("override-norm-none", p(json!({"network": {"block": "residual", "norm": "none"}, "overrides": [{"match": "blocks.1.ff_norm.weight", "init": {"scheme": "ones"}}]})),
             "overrides[0].match", &["matches no parameter", "norm is \"none\""]),
        case("override-empty", p(json!({"network": {"block": "residual"}, "overrides": [{"match": "blocks.*.fc2.weight"}]})), "overrides[0]", &["neither init nor scale"]),
        // `"auto"` needs the layer's activation: checked on the resolved run,
        // still reported at the JSON path and line that set it.
        case("gain-auto-gelu", p(json!({"network": {"activation": "gelu"}, "init": {"scheme": "xavier_uniform", "gain": "auto"}})),
             "init.gain", &["layer 0", "\"gain\": \"auto\"", "gelu", "give a number"]),
    ];
    v.extend(train_cases());
    v
}

/// The `train` block: the refusals issue 13 names, each at its JSON path.
fn train_cases() -> Vec<Case> {
    let t = |train: Value| patched(json!({"train": train}));
    let embedded = patched(
        json!({"network": {"block": "residual"}, "train": {"steps": 5},
        "input": {"embedding": {"vocab": 50}}}),
    );
    vec![
        case(
            "train-embedding",
            embedded,
            "input.embedding",
            &["token-embedding input is not supported", "remove \"train\""],
        ),
        case(
            "train-lr-zero",
            t(json!({"steps": 5, "optimizer": {"name": "adam", "lr": 0}})),
            "train.optimizer.lr",
            &["must be > 0", "got 0"],
        ),
        case(
            "train-lr-negative",
            t(json!({"steps": 5, "optimizer": {"name": "sgd", "lr": -0.1}})),
            "train.optimizer.lr",
            &["must be > 0"],
        ),
        case(
            "train-steps-zero",
            t(json!({"steps": 0})),
            "train.steps",
            &["0 is not a number of training steps"],
        ),
        case(
            "train-steps-absurd",
            t(json!({"steps": 50_000_000})),
            "train.steps",
            &["at most 1000000"],
        ),
        case(
            "train-beta-one",
            t(json!({"steps": 5, "optimizer": {"name": "adamw", "betas": [0.9, 1.0]}})),
            "train.optimizer.betas[1]",
            &["in [0, 1)"],
        ),
        case(
            "train-beta-negative",
            t(json!({"steps": 5, "optimizer": {"name": "adam", "betas": [-0.1, 0.9]}})),
            "train.optimizer.betas[0]",
            &["in [0, 1)"],
        ),
        case(
            "train-optimizer-unknown",
            t(json!({"steps": 5, "optimizer": {"name": "adma"}})),
            "train.optimizer.name",
            &["unknown optimizer", "did you mean \"adam\""],
        ),
        case(
            "train-schedule-unknown",
            t(json!({"steps": 5, "schedule": {"decay": "linear"}})),
            "train.schedule.decay",
            &["unknown decay", "none, cosine"],
        ),
        case(
            "train-record-every",
            t(json!({"steps": 5, "record_every": 10})),
            "train.record_every",
            &["more than the 5 steps"],
        ),
        case(
            "train-warmup-long",
            t(json!({"steps": 5, "schedule": {"warmup": 6}})),
            "train.schedule.warmup",
            &["longer than the 5 steps"],
        ),
        case(
            "train-nesterov",
            t(json!({"steps": 5, "optimizer": {"name": "sgd", "nesterov": true}})),
            "train.optimizer.nesterov",
            &["momentum > 0"],
        ),
        case(
            "train-param-of-sgd",
            t(json!({"steps": 5, "optimizer": {"name": "adam", "momentum": 0.9}})),
            "train.optimizer.momentum",
            &["belongs to sgd"],
        ),
        case(
            "cross-entropy-one-class",
            patched(
                json!({"loss": "cross_entropy", "network": {"width": null, "depth": null, "widths": [8, 1]}}),
            ),
            "loss",
            &["at least 2 classes", "network.widths"],
        ),
        case(
            "train-sweep-lr",
            patched(json!({"train": {"steps": 5}, "sweep": {"train.optimizer.lr": [0.1, 0]}})),
            "sweep[\"train.optimizer.lr\"][1]",
            &["must be > 0"],
        ),
    ]
}

/// Runs the adapter cannot hold: an activation beyond the largest buffer
/// (directly, through a variant and through a sweep), a weight beyond one
/// storage binding, and rows too wide for a chunk.
fn size_cases(dir: &TempDir) -> Vec<Case> {
    use initscope::gpu::human_bytes;
    let lim = adapter_limits(dir);
    let allows =
        |bytes: u64, name: &str| format!("this adapter allows {} ({name})", human_bytes(bytes));
    let binding = allows(lim.binding, "max_storage_buffer_binding_size");
    let buffer = allows(lim.buffer, "max_buffer_size");
    // Activations are chunked by rows, so one layer 4 → 8192 must exceed the
    // largest buffer: twice it (batch 131071, 4 GiB, on lavapipe).
    let width = 8192u64;
    let batch = 2 * lim.buffer / (width * 4);
    assert!(
        batch <= 16_777_216,
        "max_buffer_size {} cannot be exceeded by an accepted batch",
        lim.buffer
    );
    let batch_fits = format!("largest batch that fits is {}", lim.buffer / (width * 4));
    // A square weight of about twice the binding (8192² on lavapipe); weights are not chunked.
    let side = ((2 * lim.binding / 4) as f64).sqrt().ceil() as u64;
    let square = ((lim.binding / 4) as f64).sqrt().floor() as u64;
    // Rows too wide for one 64-row chunk (4 MiB rows on lavapipe).
    let row_width = 2 * lim.binding / (64 * 4);
    let one_layer = |p: Value| -> String {
        let mut v = base();
        merge(
            &mut v,
            &json!({"network": {"width": width, "depth": 1}, "input": {"batch": 2}}),
        );
        merge(&mut v, &p);
        serde_json::to_string_pretty(&v).unwrap()
    };
    let says = |v: &[&str]| -> Vec<String> { v.iter().map(|s| s.to_string()).collect() };
    let mut cases = vec![
        Case {
            name: "size-activation",
            text: one_layer(json!({"input": {"batch": batch}})),
            path: "",
            says: says(&[&buffer, "run r000", "preact[0] needs", &batch_fits]),
        },
        Case {
            name: "size-weight",
            text: patched(json!({"network": {"input_dim": side, "width": side}})),
            path: "",
            says: says(&[&binding, "w[0] needs", &format!("(e.g. {square}x{square})")]),
        },
        Case {
            name: "size-in-a-variant",
            text: one_layer(json!({"variants": [{"label": "small"},
                {"label": "huge", "input": {"batch": batch}}]})),
            path: "",
            says: says(&[&buffer, "run r001 (huge)", "preact[0] needs", &batch_fits]),
        },
        Case {
            name: "size-in-a-sweep",
            text: one_layer(json!({"sweep": {"input.batch": [2, batch]}})),
            path: "",
            says: says(&[&buffer, "run r001", &format!("batch={batch}"), &batch_fits]),
        },
    ];
    if row_width <= 16_777_216 {
        cases.push(Case {
            name: "size-row",
            text: one_layer(json!({"network": {"width": row_width}, "input": {"batch": 64}})),
            path: "",
            says: says(&[&binding, "preact[0] needs", "64-row chunk"]),
        });
    } else {
        eprintln!("size-row: a row cannot exceed this adapter's binding / 64; case left out");
    }
    cases
}

/// `true` when `stderr` has `FILE:LINE: PATH: ` for this manifest file.
fn located(stderr: &str, file: &str, path: &str) -> bool {
    let needle = format!(": {path}: ");
    stderr.match_indices(&needle).any(|(i, _)| {
        let before = &stderr[..i];
        let digits = before.len() - before.trim_end_matches(|c: char| c.is_ascii_digit()).len();
        digits > 0 && before[..before.len() - digits].ends_with(&format!("{file}:"))
    })
}

/// What is wrong with one rejected manifest's outcome, if anything.
fn judge(c: &Case, file: &str, r: &Ran, out: &Path) -> Vec<String> {
    let mut why = Vec::new();
    if r.code != Some(2) {
        why.push(format!("exit {:?}, want 2", r.code));
    }
    if r.stderr.contains("panicked") {
        why.push("panicked".into());
    }
    if !r.stderr.starts_with("Error: ") || !r.stderr.contains(file) {
        why.push(format!(
            "stderr does not start with \"Error: \" or name {file}"
        ));
    }
    if !c.path.is_empty() && !located(&r.stderr, file, c.path) {
        why.push(format!("no \"{file}:LINE: {}: \"", c.path));
    }
    for frag in &c.says {
        if !r.stderr.contains(frag.as_str()) {
            why.push(format!("no {frag:?}"));
        }
    }
    if out.exists() {
        why.push(format!("{} was created", out.display()));
    }
    if !r.stdout.trim().is_empty() {
        why.push("printed to stdout".into());
    }
    why
}

#[test]
fn malformed_manifests_exit_2_with_a_path_and_a_message_and_write_nothing() {
    let dir = TempDir::new("errors");
    let mut cases = field_cases(&dir);
    cases.extend(size_cases(&dir));
    assert!(cases.len() >= 25);
    let mut failures = Vec::new();
    for c in &cases {
        let file = format!("{}.json", c.name);
        let path = dir.join(&file);
        std::fs::write(&path, &c.text).unwrap();
        let out = dir.join(format!("{}-out", c.name));
        let r = initscope(&["run", s(&path), "--out", s(&out)]);
        let why = judge(c, &file, &r, &out);
        if !why.is_empty() {
            failures.push(format!("[{}] {}\n{}", c.name, why.join("; "), r.show()));
        }
        if c.name.starts_with("size-") {
            // Checked before any allocation: no run can have started.
            assert!(r.secs < 30.0, "[{}] took {:.1} s", c.name, r.secs);
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

#[test]
fn validate_rejects_bad_manifests_and_plans_that_cannot_fit() {
    let dir = TempDir::new("validate-bad");
    let mut cases = field_cases(&dir);
    cases.extend(size_cases(&dir));
    for name in [
        "variant-std-negative",
        "sweep-path-missing",
        "size-activation",
    ] {
        let c = cases.iter().find(|c| c.name == name).unwrap();
        let path = dir.join(format!("{name}.json"));
        std::fs::write(&path, &c.text).unwrap();
        let r = initscope(&["validate", s(&path)]);
        assert_eq!(r.code, Some(2), "[{name}]\n{}", r.show());
        assert!(!r.stderr.contains("panicked"), "[{name}]\n{}", r.show());
        if !c.path.is_empty() {
            assert!(r.stderr.contains(c.path), "[{name}]\n{}", r.show());
        }
        if name == "size-activation" {
            // The plan is printed, the run marked, and the limit named.
            assert_eq!(validate_count(&r.stdout), 1, "{}", r.show());
            assert!(r.stdout.contains("✗ r000"), "{}", r.show());
            assert!(r.stderr.contains("cannot fit this adapter"), "{}", r.show());
            assert!(r.stderr.contains(&c.says[0]), "{}", r.show());
        }
    }
    // A from_file tensor of the right shape is accepted (the shape check is
    // not a blanket refusal).
    write_safetensors(&dir.join("w44.safetensors"), "w", &[4, 4]);
    let good = dir.join("from-file-ok.json");
    std::fs::write(
        &good,
        patched(
            json!({"init": {"scheme": "from_file", "path": "w44.safetensors", "tensor": "w"},
            "network": {"depth": 1}}),
        ),
    )
    .unwrap();
    let r = initscope_ok(&["validate", s(&good)]);
    assert_eq!(validate_count(&r.stdout), 1, "{}", r.show());
}

#[test]
fn validate_accepts_every_shipped_manifest_and_prints_its_run_count() {
    for m in shipped_manifests() {
        let r = initscope_ok(&["validate", s(&m)]);
        let n = validate_count(&r.stdout);
        assert!(n >= 1, "{}: {}", m.display(), r.show());
        let marked = r
            .stdout
            .lines()
            .filter(|l| l.trim_start().starts_with("✓ r"))
            .count();
        assert_eq!(marked, n, "{}: every run fits\n{}", m.display(), r.show());
        assert!(
            r.stdout.contains("largest binding"),
            "{}: no adapter limit\n{}",
            m.display(),
            r.show()
        );
    }
}

#[test]
fn validate_expands_variants_times_sweep_times_repeats() {
    let dir = TempDir::new("expand");
    let m = dir.join("sweep.json");
    let text = json!({
        "name": "sweep", "repeats": 2,
        "network": {"input_dim": 8, "width": 8, "depth": 2, "activation": "tanh"},
        "input": {"batch": 4},
        "variants": [{"label": "Xavier", "init": {"scheme": "xavier_uniform"}},
                     {"label": "He", "init": {"scheme": "kaiming_uniform", "nonlinearity": "relu"}}],
        "sweep": {"network.depth": [2, 3, 4]}
    });
    std::fs::write(&m, text.to_string()).unwrap();
    let r = initscope_ok(&["validate", s(&m)]);
    assert_eq!(validate_count(&r.stdout), 12, "{}", r.show());
    let mut want = Vec::new();
    for v in ["Xavier", "He"] {
        for d in [2, 3, 4] {
            for k in 0..2 {
                want.push(format!("r{:03} {v}, depth={d} #{k}", want.len()));
            }
        }
    }
    let got: Vec<String> = r
        .stdout
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("✓ "))
        .map(|l| l.split("  ").next().unwrap_or_default().trim().to_string())
        .collect();
    assert_eq!(got, want, "{}", r.show());
    // --repeats overrides the manifest's repeats in the plan.
    let one = initscope_ok(&["validate", s(&m), "--repeats", "1"]);
    assert_eq!(validate_count(&one.stdout), 6, "{}", one.show());
    assert!(
        one.stdout.contains("r000 Xavier, depth=2 "),
        "{}",
        one.show()
    );
    assert!(
        !one.stdout.contains("#"),
        "one repeat has no index\n{}",
        one.show()
    );
    let three = initscope_ok(&["validate", s(&m), "--repeats", "3"]);
    assert_eq!(validate_count(&three.stdout), 18, "{}", three.show());
}
