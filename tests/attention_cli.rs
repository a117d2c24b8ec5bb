//! Bad attention input is refused with exit 2 naming the JSON path and the
//! fix, before any GPU work: heads not dividing width, seq_len 0, a batch
//! that is not whole sequences, an unknown scale, sequences the adapter
//! cannot hold, attention on a linear stack, positions of another period.
//! A stack with attention trains through the CLI.

#[path = "common/cli.rs"]
mod cli;

use cli::{TempDir, initscope, s};
use serde_json::{Value, json};

fn manifest(network: Value, input: Value) -> Value {
    let mut net = json!({"input_dim": 32, "width": 32, "depth": 2, "block": "residual"});
    for (k, v) in network.as_object().unwrap() {
        net[k] = v.clone();
    }
    json!({"name": "bad-attention", "network": net, "input": input})
}

fn refused(dir: &TempDir, k: usize, m: &Value, want: &[&str]) {
    let path = dir.join(format!("m{k}.json"));
    std::fs::write(&path, serde_json::to_string(m).unwrap()).unwrap();
    let r = initscope(&["validate", s(&path)]);
    assert_eq!(r.code, Some(2), "{}", r.show());
    assert!(!r.stderr.contains("panicked"), "{}", r.show());
    for w in want {
        assert!(r.stderr.contains(w), "missing {w:?}:\n{}", r.show());
    }
}

#[test]
fn bad_attention_input_exits_2_with_the_path_and_the_fix() {
    let dir = TempDir::new("attention-cli");
    let batch = json!({"batch": 64});
    let cases = [
        (
            manifest(
                json!({"attention": {"heads": 5, "seq_len": 8}}),
                batch.clone(),
            ),
            vec![
                "network.attention.heads",
                "5 heads do not divide width 32",
                "e.g. 32, 16, 8, 4",
            ],
        ),
        (
            manifest(
                json!({"attention": {"heads": 4, "seq_len": 0}}),
                batch.clone(),
            ),
            vec!["network.attention.seq_len", "0 is not a sequence length"],
        ),
        (
            manifest(
                json!({"attention": {"heads": 4, "seq_len": 8}}),
                json!({"batch": 30}),
            ),
            vec![
                "input.batch",
                "whole sequences of attention.seq_len 8",
                "use 24 or 32",
            ],
        ),
        (
            manifest(
                json!({"attention": {"heads": 4, "seq_len": 8, "scale": "1/dhead"}}),
                batch.clone(),
            ),
            vec!["network.attention.scale", "did you mean \"1/d_head\""],
        ),
        (
            manifest(
                json!({"attention": {"heads": 64, "seq_len": 65536}, "width": 64, "input_dim": 64}),
                json!({"batch": 65536}),
            ),
            vec![
                "blocks.0.attn.probs",
                "cannot fit this adapter",
                "whole attention sequences",
                "shorter seq_len",
            ],
        ),
        (
            json!({"name": "linear", "network": {"input_dim": 32, "width": 32, "depth": 2,
                   "attention": {"heads": 4, "seq_len": 8}}, "input": {"batch": 64}}),
            vec!["network.attention", "residual stacks only"],
        ),
        (
            manifest(
                json!({"attention": {"heads": 4, "seq_len": 8}}),
                json!({"batch": 64, "embedding": {"vocab": 10, "positions": "sinusoidal", "seq_len": 16}}),
            ),
            vec!["input.embedding.seq_len", "\"seq_len\": 8"],
        ),
    ];
    for (k, (m, want)) in cases.iter().enumerate() {
        refused(&dir, k, m, want);
    }
}

/// A pre-LN stack with causal attention trains end to end: `train.steps[]`
/// holds every recorded step, Adam lowers the teacher loss, and every block
/// record has its attention branch and in_proj/out_proj records, with the
/// zero-initialised queries' rows duplicates of each other (symmetry 1/3 of
/// in_proj's rows) at init only.
#[test]
fn a_stack_with_attention_trains() {
    let dir = TempDir::new("attention-train");
    let mut m = manifest(
        json!({"attention": {"heads": 4, "seq_len": 8, "causal": true}, "ff_width": 64}),
        json!({"batch": 64}),
    );
    m["name"] = json!("attention-train");
    m["loss"] = json!({"name": "mse", "target": "teacher"});
    m["overrides"] = json!([{"match": "blocks.*.attn.q_proj.weight", "init": {"scheme": "zeros"}}]);
    m["train"] =
        json!({"steps": 30, "optimizer": {"name": "adam", "lr": 3e-3}, "record_every": 10});
    let path = dir.join("m.json");
    std::fs::write(&path, serde_json::to_string(&m).unwrap()).unwrap();
    let out = dir.join("out");
    let r = initscope(&["run", s(&path), "--out", s(&out), "--quiet"]);
    assert_eq!(r.code, Some(0), "{}", r.show());
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    let steps = doc["runs"][0]["train"]["steps"].as_array().unwrap();
    let recorded: Vec<u64> = steps.iter().map(|s| s["step"].as_u64().unwrap()).collect();
    assert_eq!(recorded, [0, 10, 20, 30]);
    let loss = |k: usize| steps[k]["loss"].as_f64().unwrap();
    let sym = |k: usize| {
        steps[k]["blocks"][0]["in_proj"]["symmetry"]
            .as_f64()
            .unwrap()
    };
    assert_eq!((sym(0), sym(3)), (1.0 / 3.0, 0.0));
    assert!(loss(3) < 0.5 * loss(0), "loss {} -> {}", loss(0), loss(3));
    for s in steps {
        let blocks = s["blocks"].as_array().unwrap();
        assert_eq!(blocks.len(), 2, "{s}");
        for b in blocks {
            let moved = |u: &Value| u["norm"].as_f64().unwrap() > 0.0;
            let first = s["step"] == 0;
            assert!(first != moved(&b["update"]), "{b}");
            assert!(first != moved(&b["in_proj"]["update"]), "{b}");
            assert!(b["attn_branch"]["std"].as_f64().unwrap() > 0.0, "{b}");
            assert!(
                b["out_proj"]["grad_weight"]["norm"].as_f64().unwrap() > 0.0,
                "{b}"
            );
        }
    }
}
