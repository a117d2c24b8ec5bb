//! Paths no test covered before, through the real binary: `--export-weights`
//! names and layout, `from_file` weights reaching the GPU unchanged,
//! `--max-binding-mib` (chunked runs give the same results), whole runs on
//! the GL backend against Vulkan, and `bench --quick`.

#[path = "common/cli.rs"]
mod cli_support;

use cli_support::*;
use serde_json::{Value, json};
use std::path::Path;

fn manifest(dir: &Path, name: &str, cfg: Value) -> String {
    let mut m = json!({
        "name": name, "seed": 21,
        "network": {"input_dim": 12, "widths": [16, 8], "activation": "tanh", "bias": true},
        "init": {"scheme": "xavier_uniform"},
        "bias_init": {"scheme": "uniform", "a": -0.1, "b": 0.1},
        "input": {"batch": 64}
    });
    merge(&mut m, &cfg);
    let p = dir.join(format!("{name}.json"));
    std::fs::write(&p, m.to_string()).unwrap();
    p.to_str().unwrap().to_string()
}

/// (shape, values) of every tensor of a safetensors file, checking F32.
fn tensors(path: &Path) -> std::collections::BTreeMap<String, (Vec<usize>, Vec<f32>)> {
    let bytes = std::fs::read(path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    st.tensors()
        .into_iter()
        .map(|(name, v)| {
            assert_eq!(v.dtype(), safetensors::Dtype::F32, "{name}");
            let vals: Vec<f32> = bytemuck::pod_collect_to_vec(v.data());
            (name, (v.shape().to_vec(), vals))
        })
        .collect()
}

fn std_of(v: &[f32]) -> f64 {
    let n = v.len() as f64;
    let m = v.iter().map(|x| f64::from(*x)).sum::<f64>() / n;
    (v.iter().map(|x| (f64::from(*x) - m).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
}

#[test]
fn export_weights_names_shapes_and_values_match_the_results() {
    let _g = heavy();
    let t = TempDir::new("export");
    let m = manifest(t.path(), "export", json!({}));
    let out = t.join("out");
    initscope_ok(&["run", &m, "--out", s(&out), "--export-weights", "--quiet"]);
    let doc = read_doc(&out);
    let file = out
        .join("weights")
        .join(format!("{}.safetensors", doc.runs[0].id));
    let ts = tensors(&file);
    let names: Vec<&str> = ts.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "input",
            "layers.0.bias",
            "layers.0.weight",
            "layers.1.bias",
            "layers.1.weight"
        ]
    );
    assert_eq!(ts["input"].0, [64, 12]);
    assert_eq!(ts["layers.0.weight"].0, [16, 12], "(out, in) as in PyTorch");
    assert_eq!(ts["layers.0.bias"].0, [16]);
    assert_eq!(ts["layers.1.weight"].0, [8, 16]);
    // The exported tensors are the ones the statistics describe.
    let run = &doc.runs[0];
    for (i, l) in run.layers.iter().enumerate() {
        let w = &ts[&format!("layers.{i}.weight")].1;
        let want = l.weight.std;
        assert!(
            (std_of(w) / want - 1.0).abs() < 1e-5,
            "layer {i}: {} vs {want}",
            std_of(w)
        );
        let b = &ts[&format!("layers.{i}.bias")].1;
        assert!(b.iter().all(|x| x.abs() <= 0.1), "layer {i} bias bounds");
    }
    let x = &ts["input"].1;
    assert!((std_of(x) / run.summary.input_std - 1.0).abs() < 1e-5);
}

#[test]
fn from_file_weights_reach_the_gpu_unchanged() {
    let _g = heavy();
    let t = TempDir::new("fromfile-gpu");
    let w: Vec<f32> = (0..16 * 12)
        .map(|i| ((i * 37 % 101) as f32 - 50.0) / 173.0)
        .collect();
    let bytes = initscope::export::safetensors_bytes(&[("w", vec![16, 12], &w)], &[]).unwrap();
    std::fs::write(t.join("w.safetensors"), bytes).unwrap();
    let layer0 = json!({"layers": [{"index": 0,
        "init": {"scheme": "from_file", "path": "w.safetensors", "tensor": "w"}}]});
    let m = manifest(t.path(), "fromfile", layer0);
    let out = t.join("out");
    initscope_ok(&["run", &m, "--out", s(&out), "--export-weights", "--quiet"]);
    let doc = read_doc(&out);
    let ts = tensors(
        &out.join("weights")
            .join(format!("{}.safetensors", doc.runs[0].id)),
    );
    let got = &ts["layers.0.weight"].1;
    assert!(
        got.iter().zip(&w).all(|(a, b)| a.to_bits() == b.to_bits()),
        "the file's weights changed on the way"
    );
    let l0 = &doc.runs[0].layers[0];
    assert_eq!(l0.init, "from_file");
    assert!((l0.weight.std / std_of(&w) - 1.0).abs() < 1e-6);
}

/// results.json of a folder with the wall-clock timings and adapters removed.
fn measured(dir: &Path) -> Value {
    let mut v: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap()).unwrap();
    v.as_object_mut().unwrap().remove("adapter");
    for r in v["runs"].as_array_mut().unwrap() {
        let r = r.as_object_mut().unwrap();
        r.remove("timing_ms");
        r.remove("adapter");
    }
    v
}

/// Every number of `a` within `rel` of `b` (relative to the larger, with a
/// floor of `abs`); everything else equal.
fn close(a: &Value, b: &Value, rel: f64, abs: f64, at: &str) {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            let tol = rel * x.abs().max(y.abs()) + abs;
            assert!((x - y).abs() <= tol, "{at}: {x:e} vs {y:e}");
        }
        (Value::Array(x), Value::Array(y)) => {
            assert_eq!(x.len(), y.len(), "{at}");
            for (i, (x, y)) in x.iter().zip(y).enumerate() {
                close(x, y, rel, abs, &format!("{at}[{i}]"));
            }
        }
        (Value::Object(x), Value::Object(y)) => {
            assert_eq!(
                x.keys().collect::<Vec<_>>(),
                y.keys().collect::<Vec<_>>(),
                "{at}"
            );
            for (k, v) in x {
                close(v, &y[k], rel, abs, &format!("{at}.{k}"));
            }
        }
        _ => assert_eq!(a, b, "{at}"),
    }
}

#[test]
fn max_binding_mib_chunks_the_batch_and_changes_no_result() {
    let _g = heavy();
    let t = TempDir::new("binding");
    // 4096 rows × 256 floats = 4 MiB per activation: 4 chunks of 1 MiB.
    let m = manifest(
        t.path(),
        "binding",
        json!({"network": {"input_dim": 256, "widths": [256, 256]}, "input": {"batch": 4096}}),
    );
    let (whole, chunked) = (t.join("whole"), t.join("chunked"));
    initscope_ok(&["run", &m, "--out", s(&whole), "--quiet"]);
    initscope_ok(&[
        "run",
        &m,
        "--out",
        s(&chunked),
        "--quiet",
        "--max-binding-mib",
        "1",
    ]);
    close(
        &measured(&chunked),
        &measured(&whole),
        2e-5,
        1e-9,
        "results",
    );
    // A limit below one weight matrix is refused before any run (exit 2).
    let big = manifest(
        t.path(),
        "big",
        json!({"network": {"input_dim": 1024, "widths": [1024]}}),
    );
    let r = initscope(&[
        "run",
        &big,
        "--out",
        s(&t.join("big")),
        "--max-binding-mib",
        "1",
    ]);
    assert_eq!(r.code, Some(2), "{}", r.show());
    assert!(r.stderr.contains("4.0 MiB"), "{}", r.show());
}

#[test]
fn whole_runs_on_gl_match_vulkan() {
    let _g = heavy();
    let devices = initscope_ok(&["devices", "--json"]);
    let list: Value = serde_json::from_str(&devices.stdout).unwrap();
    let backends: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["backend"].as_str())
        .collect();
    if !(backends.contains(&"Gl") && backends.contains(&"Vulkan")) {
        eprintln!("skipped: GL and Vulkan are not both offered here ({backends:?})");
        return;
    }
    let t = TempDir::new("gl");
    let m = manifest(
        t.path(),
        "gl",
        json!({"variants": [{"label": "xavier"},
        {"label": "orthogonal", "init": {"scheme": "orthogonal"}}]}),
    );
    let (vk, gl) = (t.join("vk"), t.join("gl"));
    initscope_ok(&["run", &m, "--out", s(&vk), "--quiet", "--backend", "vulkan"]);
    initscope_ok(&["run", &m, "--out", s(&gl), "--quiet", "--backend", "gl"]);
    let (a, b) = (read_doc(&vk), read_doc(&gl));
    assert_eq!(b.adapter.backend, "Gl");
    // Uniform weights and biases are bit-identical across backends.
    for (ra, rb) in a.runs.iter().zip(&b.runs) {
        if ra.group == "xavier" {
            for (la, lb) in ra.layers.iter().zip(&rb.layers) {
                assert_eq!(la.weight, lb.weight, "{} layer {}", ra.id, la.index);
            }
        }
    }
    // Everything else within transcendental-function ulps.
    close(&measured(&gl), &measured(&vk), 1e-4, 1e-7, "results");
}

#[test]
fn bench_quick_reports_every_measurement() {
    let _g = heavy();
    let r = initscope_ok(&["bench", "--quick", "--json", "-"]);
    let v: Value = serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}\n{}", r.show()));
    let ms = v["results"].as_array().unwrap_or_else(|| panic!("{v}"));
    assert!(ms.len() >= 5, "{} measurements", ms.len());
    for m in ms {
        let (lo, med, hi) = (
            m["min_ms"].as_f64().unwrap(),
            m["median_ms"].as_f64().unwrap(),
            m["max_ms"].as_f64().unwrap(),
        );
        assert!(0.0 < lo && lo <= med && med <= hi, "{m}");
    }
}
