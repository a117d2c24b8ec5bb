//! Activations larger than one storage binding are processed in batch chunks:
//! the statistics equal those of the unchunked run.

mod common;

use common::gpu;
use initscope::config::{RunConfig, RunSpec};
use initscope::exec::{RunOptions, run};
use initscope::gpu::{Gpu, GpuOptions};
use initscope::results::TensorStats;

fn spec() -> RunSpec {
    let cfg = serde_json::json!({
        "network": {"input_dim": 72, "widths": [96, 80, 64], "activation": "tanh", "bias": true},
        "init": {"scheme": "xavier_normal", "gain": 1.2},
        "bias_init": {"scheme": "normal", "std": 0.1},
        "input": {"batch": 300},
        "loss": {"name": "mse", "target": "teacher"}
    });
    let config: RunConfig = serde_json::from_value(cfg).unwrap();
    RunSpec {
        id: "r000".into(),
        label: "chunked".into(),
        group: "chunked".into(),
        variant: None,
        params: Default::default(),
        seed: 3,
        repeat: 0,
        config,
    }
}

fn close(what: &str, a: &TensorStats, b: &TensorStats) {
    let scale = b.std.max(b.mean.abs()).max(1e-30);
    assert_eq!(a.count, b.count, "{what}");
    for (k, x, y) in [
        ("mean", a.mean, b.mean),
        ("std", a.std, b.std),
        ("min", a.min, b.min),
        ("max", a.max, b.max),
        ("norm", a.norm, b.norm),
    ] {
        assert!(
            (x - y).abs() <= 2e-5 * y.abs() + 1e-5 * scale,
            "{what}.{k}: chunked {x} vs whole {y}"
        );
    }
    assert_eq!(a.zero_fraction, b.zero_fraction, "{what}");
    assert_eq!(
        a.histogram.as_ref().map(|h| h.counts.iter().sum::<u64>()),
        b.histogram.as_ref().map(|h| h.counts.iter().sum::<u64>())
    );
}

#[test]
fn chunked_run_equals_whole_run() {
    let s = spec();
    let whole = run(
        &gpu(),
        &s,
        &RunOptions {
            keep_tensors: true,
            base_dir: None,
        },
    )
    .unwrap();
    // 32 KiB bindings: every weight fits, activations of 300 rows do not (rows
    // of 96 floats = 384 B, so chunks of 64 rows: 64, 64, 64, 64, 44).
    let small = Gpu::new(&GpuOptions {
        max_binding_bytes: Some(32 << 10),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(small.max_binding_bytes(), 32 << 10);
    let chunked = run(
        &small,
        &s,
        &RunOptions {
            keep_tensors: true,
            base_dir: None,
        },
    )
    .unwrap();
    let (tw, tc) = (whole.tensors.unwrap(), chunked.tensors.unwrap());
    assert_eq!(
        tw.input, tc.input,
        "the input is drawn per element: chunking cannot change it"
    );
    assert_eq!(tw.params, tc.params, "weights and biases are not chunked");
    assert!(
        (whole.loss - chunked.loss).abs() <= 1e-5 * whole.loss.abs(),
        "loss {} vs {}",
        chunked.loss,
        whole.loss
    );
    close("input", &chunked.input, &whole.input);
    for (c, w) in chunked.layers.iter().zip(&whole.layers) {
        let i = w.index;
        close(&format!("layer {i} preact"), &c.preact, &w.preact);
        close(&format!("layer {i} act"), &c.act, &w.act);
        close(&format!("layer {i} grad_act"), &c.grad_act, &w.grad_act);
        close(
            &format!("layer {i} grad_weight"),
            &c.grad_weight,
            &w.grad_weight,
        );
        close(
            &format!("layer {i} grad_bias"),
            c.grad_bias.as_ref().unwrap(),
            w.grad_bias.as_ref().unwrap(),
        );
    }
}

#[test]
fn weights_over_the_binding_limit_are_refused_before_allocating() {
    let small = Gpu::new(&GpuOptions {
        max_binding_bytes: Some(28 << 10),
        ..Default::default()
    })
    .unwrap();
    let model = initscope::model::build::build(&spec(), None).unwrap();
    let err = model
        .check_fits(initscope::exec::limits(&small))
        .unwrap_err();
    assert!(
        err.contains("w[1]") && err.contains("max_storage_buffer_binding_size"),
        "{err}"
    );
    assert!(err.contains("fan_in × fan_out must stay below"), "{err}");
}

#[test]
fn a_sweep_with_repeated_shapes_reuses_buffers_and_results_stay_identical() {
    // A private device: other tests running in parallel share the common one.
    let gpu = Gpu::new(&GpuOptions::default()).unwrap();
    let s = spec();
    let first = run(&gpu, &s, &RunOptions::default()).unwrap();
    assert_eq!(gpu.buffers_reused(), 0);
    let second = run(&gpu, &s, &RunOptions::default()).unwrap();
    // w, b, preact, act, grad_act, dw, db per layer (3 layers), input, target,
    // dH scratch, and the teacher's weights (kept for fresh training batches).
    assert_eq!(
        gpu.buffers_reused(),
        3 * 7 + 4,
        "every buffer of the second run is the first run's"
    );
    assert_eq!(
        first.layers, second.layers,
        "reused buffers must not leak state between runs"
    );
    assert_eq!(first.loss.to_bits(), second.loss.to_bits());
    // A different shape allocates afresh and still computes correctly.
    let mut other = spec();
    other.config.input.batch = 100;
    let third = run(&gpu, &other, &RunOptions::default()).unwrap();
    assert_eq!(third.layers[0].preact.count, 100 * 96);
}
