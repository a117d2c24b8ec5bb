//! Bad attention input is refused with exit 2 naming the JSON path and the
//! fix, before any GPU work: heads not dividing width, seq_len 0, a batch
//! that is not whole sequences, an unknown scale, sequences the adapter
//! cannot hold, attention on a linear stack, positions of another period.

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
        (
            {
                let mut m = manifest(
                    json!({"attention": {"heads": 4, "seq_len": 8}}),
                    batch.clone(),
                );
                m["train"] = json!({"steps": 2, "optimizer": {"name": "sgd", "lr": 0.1}});
                m
            },
            vec![
                "network.attention",
                "training a stack with attention is not supported",
            ],
        ),
    ];
    for (k, (m, want)) in cases.iter().enumerate() {
        refused(&dir, k, m, want);
    }
}
