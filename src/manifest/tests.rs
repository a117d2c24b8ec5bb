//! Malformed manifests: each must be refused with the right path, a helpful
//! message and, where it matters, the right line.

use super::{Manifest, Problem};
use serde_json::Value;
use std::path::PathBuf;

/// A small valid manifest that cases patch.
const BASE: &str = r#"{
  "name": "t",
  "network": {"input_dim": 4, "width": 8, "depth": 3, "activation": "tanh"},
  "init": {"scheme": "xavier_uniform"},
  "input": {"batch": 2}
}"#;

/// RFC 7386 merge patch: objects merge, `null` deletes, the rest replaces.
fn apply(into: &mut Value, patch: &Value) {
    match (into, patch) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                if v.is_null() {
                    a.remove(k);
                } else {
                    apply(a.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (slot, _) => *slot = patch.clone(),
    }
}

pub(super) fn patched(patch: &str) -> String {
    let mut v: Value = serde_json::from_str(BASE).unwrap();
    apply(&mut v, &serde_json::from_str(patch).unwrap());
    serde_json::to_string_pretty(&v).unwrap()
}

pub(super) fn problems(text: &str) -> Vec<Problem> {
    match Manifest::from_str(text, "t.json") {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.problems,
    }
}

/// A fresh folder under the system temp dir.
pub(super) fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("initscope-manifest-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Writes a safetensors file by hand: header length, JSON header, zero data.
pub(super) fn write_safetensors(path: &std::path::Path, tensors: &[(&str, &str, &[u64])]) {
    let mut header = serde_json::Map::new();
    let mut offset = 0u64;
    for (name, dtype, shape) in tensors {
        let size = if *dtype == "F32" { 4 } else { 2 };
        let bytes = shape.iter().product::<u64>() * size;
        let entry = serde_json::json!({"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + bytes]});
        header.insert(name.to_string(), entry);
        offset += bytes;
    }
    let json = Value::Object(header).to_string().into_bytes();
    let mut out = (json.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&json);
    out.extend(std::iter::repeat_n(0u8, offset as usize));
    std::fs::write(path, out).unwrap();
}

enum Text {
    Raw(&'static str),
    Patch(&'static str),
}

/// (manifest, expected problem path, fragment of its message).
const CASES: &[(Text, &str, &str)] = &[
    (Text::Raw("not json"), "", "invalid JSON"),
    (Text::Raw("{\n  \"name\": \"x\",\n}"), "", "trailing comma"),
    (Text::Raw("[1, 2]"), "", "must be a JSON object"),
    (
        Text::Patch(r#"{"name": "my exp"}"#),
        "name",
        "letters, digits",
    ),
    (
        Text::Patch(r#"{"name": null}"#),
        "name",
        "missing required field",
    ),
    (
        Text::Patch(r#"{"seed": -1}"#),
        "seed",
        "expected an integer seed",
    ),
    (
        Text::Patch(r#"{"repeats": 0}"#),
        "repeats",
        "0 is not a repeat count",
    ),
    (
        Text::Patch(r#"{"varaints": []}"#),
        "varaints",
        "did you mean \"variants\"",
    ),
    (
        Text::Patch(r#"{"network": {"width": "abc"}}"#),
        "network.width",
        "expected a positive integer, got \"abc\"",
    ),
    (
        Text::Patch(r#"{"network": {"width": 0}}"#),
        "network.width",
        "0 is not a width",
    ),
    (
        Text::Patch(r#"{"network": {"depth": -3}}"#),
        "network.depth",
        "got -3",
    ),
    (
        Text::Patch(r#"{"network": {"width": 33554432}}"#),
        "network.width",
        "33554432 is too large",
    ),
    (
        Text::Patch(r#"{"network": {"depth": 20000}}"#),
        "network.depth",
        "20000 is too large",
    ),
    (
        Text::Patch(r#"{"network": {"widths": [4, 4]}}"#),
        "network.widths",
        "not both",
    ),
    (
        Text::Patch(r#"{"network": {"width": null, "depth": null, "widths": [4, 0]}}"#),
        "network.widths[1]",
        "0 is not a width",
    ),
    (
        Text::Patch(r#"{"network": {"depth": null}}"#),
        "network.depth",
        "missing required field",
    ),
    (
        Text::Patch(r#"{"network": {"input_dim": 65536, "width": 65536, "depth": 1}}"#),
        "network.width",
        "4294967296 elements",
    ),
    (
        Text::Patch(r#"{"network": {"widht": 8}}"#),
        "network.widht",
        "did you mean \"width\"",
    ),
    (
        Text::Patch(r#"{"network": {"activation": "rleu"}}"#),
        "network.activation",
        "did you mean \"relu\"",
    ),
    (
        Text::Patch(r#"{"input": {"batch": 0}}"#),
        "input.batch",
        "0 is not a batch size",
    ),
    (
        Text::Patch(r#"{"input": null}"#),
        "input",
        "missing required field \"input\"",
    ),
    (
        Text::Patch(r#"{"init": {"scheme": "xavier_unifrom"}}"#),
        "init.scheme",
        "did you mean \"xavier_uniform\"",
    ),
    (
        Text::Patch(r#"{"init": {"scheme": "normal", "std": -1}}"#),
        "init.std",
        "must be > 0, got -1",
    ),
    (
        Text::Patch(r#"{"init": {"scheme": "normal", "stdev": 1}}"#),
        "init.stdev",
        "did you mean \"std\"",
    ),
    (
        Text::Patch(r#"{"init": {"scheme": "uniform", "a": 2, "b": 1}}"#),
        "init.b",
        "needs a < b",
    ),
    (
        Text::Patch(r#"{"init": {"scheme": "sparse", "sparsity": 1.0}}"#),
        "init.sparsity",
        "[0, 1)",
    ),
    (
        Text::Patch(r#"{"init": {"scheme": "constant"}}"#),
        "init.value",
        "missing required field",
    ),
    (
        Text::Patch(r#"{"init": {"scheme": "kaiming_normal", "nonlinearity": "reul"}}"#),
        "init.nonlinearity",
        "did you mean \"relu\"",
    ),
    (
        Text::Patch(r#"{"init": {"scheme": "kaiming_uniform", "a": -0.1}}"#),
        "init.a",
        ">= 0",
    ),
    (
        Text::Patch(r#"{"init": {"scheme": "orthogonal", "gain": -1}}"#),
        "init.gain",
        "must be > 0",
    ),
    (
        Text::Patch(r#"{"init": {"scheme": "xavier_normal", "gain": "tanhh"}}"#),
        "init.gain",
        "did you mean \"tanh\"",
    ),
    (
        Text::Patch(r#"{"init": {"scheme": "trunc_normal", "a": 10, "b": 11}}"#),
        "init",
        "holds only",
    ),
    (
        Text::Patch(r#"{"init": {"scheme": "lsuv", "tol": 0}}"#),
        "init.tol",
        "must be > 0",
    ),
    (
        Text::Patch(r#"{"init": {"scheme": "lsuv", "pre": {"scheme": "lsuv"}}}"#),
        "init.pre.scheme",
        "cannot be \"lsuv\"",
    ),
    (
        Text::Patch(
            r#"{"init": {"scheme": "mixture", "components": [
                {"weight": 0.5, "dist": {"scheme": "zeros"}}, {"weight": 0.4, "dist": {"scheme": "normal"}}]}}"#,
        ),
        "init.components",
        "sum to 0.9",
    ),
    (
        Text::Patch(
            r#"{"init": {"scheme": "mixture", "components": [{"weight": 1, "dist": {"scheme": "mixture"}}]}}"#,
        ),
        "init.components[0].dist.scheme",
        "elementwise",
    ),
    (
        Text::Patch(r#"{"bias_init": {"scheme": "orthogonal"}}"#),
        "bias_init.scheme",
        "cannot fill a bias",
    ),
    (
        Text::Patch(r#"{"input": {"dist": {"scheme": "xavier_uniform"}}}"#),
        "input.dist.scheme",
        "cannot fill the input",
    ),
    (
        Text::Patch(
            r#"{"init": {"scheme": "from_file", "path": "nope.safetensors", "tensor": "w"}}"#,
        ),
        "init.path",
        "cannot open",
    ),
    (
        Text::Patch(r#"{"layers": [{"index": 5, "init": {"scheme": "zeros"}}]}"#),
        "layers[0].index",
        "layer 5 does not exist",
    ),
    (
        Text::Patch(r#"{"layers": [{"range": [2, 1], "init": {"scheme": "zeros"}}]}"#),
        "layers[0].range",
        "is empty",
    ),
    (
        Text::Patch(r#"{"layers": [{"range": [1, 4], "init": {"scheme": "zeros"}}]}"#),
        "layers[0].range",
        "past the last layer",
    ),
    (
        Text::Patch(r#"{"layers": [{"index": 0, "range": [0, 1], "init": {"scheme": "zeros"}}]}"#),
        "layers[0].range",
        "not both",
    ),
    (
        Text::Patch(r#"{"layers": [{"index": 0}]}"#),
        "layers[0]",
        "neither init nor bias_init",
    ),
    (
        Text::Patch(r#"{"loss": "maen"}"#),
        "loss",
        "did you mean \"mean\"",
    ),
    (
        Text::Patch(r#"{"loss": {"name": "mse", "target": "teachr"}}"#),
        "loss.target",
        "did you mean \"teacher\"",
    ),
    (
        Text::Patch(r#"{"loss": {"name": "sum", "target": "teacher"}}"#),
        "loss.target",
        "loss \"sum\" has no parameter \"target\"",
    ),
    (
        Text::Patch(r#"{"stats": {"histogram_bins": 0}}"#),
        "stats.histogram_bins",
        "1..=4096",
    ),
    (
        Text::Patch(r#"{"stats": {"diagnosis": {"dead_fraction": -0.5}}}"#),
        "stats.diagnosis.dead_fraction",
        "must be > 0",
    ),
    (
        Text::Patch(r#"{"sweep": {"network.depth": []}}"#),
        "sweep[\"network.depth\"]",
        "expected a non-empty list",
    ),
    (
        Text::Patch(r#"{"sweep": {"network.depht": [1]}}"#),
        "sweep[\"network.depht\"]",
        "did you mean \"network.depth\"",
    ),
    (
        Text::Patch(r#"{"sweep": {"network.depth": [2, "a"]}}"#),
        "sweep[\"network.depth\"][1]",
        "expected a list of positive integers",
    ),
    (
        Text::Patch(r#"{"sweep": {"init.std": [0.01]}}"#),
        "sweep[\"init.std\"][0]",
        "has no parameter \"std\"",
    ),
    (
        Text::Patch(r#"{"sweep": {"network.activation": ["relu", "tahn"]}}"#),
        "sweep[\"network.activation\"][1]",
        "did you mean \"tanh\"",
    ),
    (
        Text::Patch(r#"{"init": {"scheme": "from_file", "tensor": "w"}}"#),
        "init.path",
        "missing required field",
    ),
    (
        Text::Patch(r#"{"init": {"scheme": "lsuv", "pre": {"scheme": "zeros"}}}"#),
        "init.pre.scheme",
        "cannot be \"zeros\"",
    ),
    (
        Text::Patch(r#"{"sweep": {"init": [{"scheme": "constant"}]}}"#),
        "sweep[\"init\"][0].value",
        "missing required field",
    ),
    (
        Text::Patch(r#"{"variants": [{"label": "A"}, {"label": "A"}]}"#),
        "variants[1].label",
        "duplicate label \"A\"",
    ),
    (
        Text::Patch(r#"{"variants": [{"label": ""}]}"#),
        "variants[0].label",
        "non-empty string",
    ),
    (
        Text::Patch(r#"{"variants": [{"label": "A", "iniit": {}}]}"#),
        "variants[0].iniit",
        "did you mean \"init\"",
    ),
    (
        Text::Patch(r#"{"variants": [{"label": "A", "init": {"scheme": "normal", "std": 0}}]}"#),
        "variants[0].init.std",
        "must be > 0",
    ),
];

#[test]
fn malformed_manifests_are_refused_with_path_and_message() {
    assert!(CASES.len() >= 30);
    for (text, path, fragment) in CASES {
        let text = match text {
            Text::Raw(t) => t.to_string(),
            Text::Patch(p) => patched(p),
        };
        let found = problems(&text);
        assert!(
            found
                .iter()
                .any(|p| p.path == *path && p.message.contains(fragment)),
            "expected {path}: ...{fragment}... for\n{text}\ngot {found:#?}"
        );
    }
}
