//! Batch chunking on a device whose *real* binding limit is small: wgpu
//! itself would reject any binding over 32 KiB, so a run that completes
//! proves every kernel bound one chunk at a time (the software cap of
//! `--max-binding-mib` only lowers a number initscope reads).

mod common;

use common::gpu;
use initscope::config::{RunConfig, RunSpec};
use initscope::exec::{RunOptions, run};
use initscope::gpu::Gpu;
use initscope::gpu::context::OPTIONAL_FEATURES;
use initscope::model::memory::chunk_rows;

const LIMIT: u64 = 32 << 10;

fn spec() -> RunSpec {
    let cfg = serde_json::json!({
        "network": {"input_dim": 72, "widths": [96, 80, 64], "activation": "relu", "bias": true},
        "init": {"scheme": "kaiming_normal", "nonlinearity": "relu"},
        "bias_init": {"scheme": "normal", "std": 0.1},
        "input": {"batch": 300},
        "loss": {"name": "mse", "target": "teacher"}
    });
    let config: RunConfig = serde_json::from_value(cfg).unwrap();
    RunSpec {
        id: "r000".into(),
        label: "small device".into(),
        group: "small device".into(),
        variant: None,
        params: Default::default(),
        seed: 3,
        repeat: 0,
        config,
    }
}

/// The default adapter opened with max_storage_buffer_binding_size = 32 KiB.
fn small_device() -> Gpu {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
    desc.backends = wgpu::Backends::from_env().unwrap_or(wgpu::Backends::all());
    let inst = wgpu::Instance::new(desc);
    let adapter = pollster::block_on(inst.request_adapter(&wgpu::RequestAdapterOptions::default()))
        .expect("an adapter");
    let mut limits = adapter.limits();
    limits.max_storage_buffer_binding_size = LIMIT;
    let wanted = OPTIONAL_FEATURES.iter().fold(
        wgpu::Features::TIMESTAMP_QUERY_INSIDE_ENCODERS,
        |a, (_, f)| a | *f,
    );
    let desc = wgpu::DeviceDescriptor {
        label: Some("small binding limit"),
        required_features: adapter.features() & wanted,
        required_limits: limits,
        ..Default::default()
    };
    let (device, queue) = pollster::block_on(adapter.request_device(&desc)).unwrap();
    Gpu::from_device(device, queue, adapter.get_info())
}

#[test]
fn a_device_with_a_small_binding_limit_runs_in_chunks_and_agrees() {
    let small = small_device();
    assert_eq!(small.max_binding_bytes(), LIMIT);
    assert_eq!(small.device.limits().max_storage_buffer_binding_size, LIMIT);
    // 96 floats a row: 85 rows fit, so chunks of 64 rows: 64 × 4 + 44.
    let rows = chunk_rows(small.max_binding_bytes(), 300, 96);
    assert_eq!(rows, 64);
    assert_eq!(300usize.div_ceil(rows), 5, "several chunks");
    let s = spec();
    let chunked = run(&small, &s, &RunOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let whole = run(&gpu(), &s, &RunOptions::default()).unwrap();
    for (c, w) in chunked.layers.iter().zip(&whole.layers) {
        for (what, x, y) in [
            ("act std", c.act.std, w.act.std),
            ("grad_weight norm", c.grad_weight.norm, w.grad_weight.norm),
            ("grad_act norm", c.grad_act.norm, w.grad_act.norm),
        ] {
            assert!(
                (x - y).abs() <= 2e-5 * y.abs(),
                "layer {}: {what} {x} vs {y}",
                w.index
            );
        }
        assert_eq!(c.act.zero_fraction, w.act.zero_fraction);
        assert_eq!(c.act.dead_unit_fraction, w.act.dead_unit_fraction);
    }
}
