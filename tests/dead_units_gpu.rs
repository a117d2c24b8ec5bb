//! Dead units (`dead_units` in shaders/reduce.wgsl): the count of columns
//! that are 0 on every row, against the f64 oracle on identical tensors,
//! across batch chunks, and through whole runs (a healthy He-ReLU stack, a
//! stack killed by its bias, and the seeds' "dead ReLU" that is really an
//! exploding one).

mod common;
mod oracle;

use common::*;
use initscope::exec::{RunOptions, RunOutput, run};
use initscope::gpu::buffers::View;
use initscope::gpu::{Gpu, GpuOptions};
use initscope::kernels::units::{UnitItem, encode_dead_units};
use initscope::model::build::build;
use initscope::runner::summary_of;
use serde_json::{Value, json};

/// A rows × cols tensor with every `k`-th column forced to 0 and a few
/// exact zeros elsewhere (a live unit may be 0 on some rows).
fn planted(rows: usize, cols: usize, k: usize, seed: u64) -> Vec<f32> {
    let mut s = seed;
    let mut next = || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    };
    let mut v: Vec<f32> = (0..rows * cols).map(|_| next()).collect();
    for i in 0..rows {
        for j in 0..cols {
            if j % k == 0 || (i + j) % 3 == 0 {
                v[i * cols + j] = 0.0;
            }
        }
    }
    v
}

/// The GPU's dead fraction of `data` read in row chunks of `chunk` rows.
fn gpu_dead(gpu: &Gpu, data: &[f32], rows: usize, cols: usize, chunk: usize) -> f64 {
    let buf = gpu.storage_from("units test", data).unwrap();
    let chunks = (0..rows)
        .step_by(chunk)
        .map(|r0| {
            let n = chunk.min(rows - r0);
            let view = View::elems(&buf, (r0 * cols) as u64, (n * cols) as u64);
            (view, n as u32)
        })
        .collect();
    let items = [UnitItem {
        chunks,
        cols: cols as u32,
    }];
    let mut enc = gpu.device.create_command_encoder(&Default::default());
    let dead = encode_dead_units(gpu, &mut enc, &items).unwrap();
    gpu.submit("units test", enc).unwrap();
    dead.read(gpu).unwrap()[0]
}

#[test]
fn dead_units_match_the_oracle_whole_and_in_chunks() {
    let gpu = gpu();
    // 48 columns × 16 rows per chunk = 3 KiB: every chunk starts on a
    // 256-byte boundary, as the executor's chunks do.
    let (rows, cols) = (64, 48);
    for k in [1, 2, 5, 7, 49] {
        let data = planted(rows, cols, k, k as u64);
        let wide: Vec<f64> = data.iter().map(|v| f64::from(*v)).collect();
        let want = oracle::dead_unit_fraction(&wide, rows, cols);
        assert_eq!(want, (cols.div_ceil(k).min(cols)) as f64 / cols as f64);
        for chunk in [rows, 16] {
            let got = gpu_dead(&gpu, &data, rows, cols, chunk);
            assert_eq!(got, want, "every {k}th column dead, chunks of {chunk} rows");
        }
    }
    // A column that is 0 in every chunk but one is alive; -0 is 0; NaN is not.
    let mut data = vec![0.0f32; rows * cols];
    data[50 * cols + 3] = 1e-30;
    data[cols + 4] = -0.0;
    data[9 * cols + 5] = f32::NAN;
    let got = gpu_dead(&gpu, &data, rows, cols, 16);
    assert_eq!(got, (cols - 2) as f64 / cols as f64);
}

/// `depth` ReLU layers of `width` with He (kaiming_normal) weights unless
/// `init` says otherwise, biases `bias`, N(0, 1) input.
fn relu_stack(width: usize, depth: usize, batch: usize, init: Value, bias: f64) -> Value {
    json!({
        "network": {"input_dim": width, "width": width, "depth": depth,
                    "activation": "relu", "final_activation": "relu", "bias": true},
        "init": init,
        "bias_init": {"scheme": "constant", "value": bias},
        "input": {"batch": batch, "dist": {"scheme": "normal", "mean": 0.0, "std": 1.0}},
        "loss": "mean"
    })
}

fn dead(out: &RunOutput) -> Vec<f64> {
    out.layers
        .iter()
        .map(|l| {
            l.act
                .dead_unit_fraction
                .expect("activations report dead units")
        })
        .collect()
}

fn zeros(out: &RunOutput) -> Vec<f64> {
    out.layers
        .iter()
        .map(|l| l.act.zero_fraction.unwrap())
        .collect()
}

#[test]
fn he_relu_loses_some_units_with_depth_but_is_healthy() {
    let he = json!({"scheme": "kaiming_normal", "nonlinearity": "relu"});
    let spec = run_spec(relu_stack(256, 10, 256, he, 0.0), 42);
    let out = run(&gpu(), &spec, &RunOptions::default()).unwrap();
    let s = summary_of(
        &build(&spec, None).unwrap(),
        &spec.config.stats.diagnosis,
        &out,
    );
    let (d, z) = (dead(&out), zeros(&out));
    eprintln!("He-ReLU 10×256, batch 256: dead units {d:.3?}\nzero fractions {z:.3?}");
    // About half of every layer's elements are 0 ...
    assert!(z.iter().all(|z| (z - 0.5).abs() < 0.06), "{z:?}");
    // ... yet at layer 1 almost every unit fires for some input, and deep
    // layers lose a minority of units (9-16% measured at layer 10).
    assert!(d[0] < 0.02, "{d:?}");
    assert!((0.03..0.3).contains(&d[9]), "{d:?}");
    assert!(d.iter().all(|f| *f < 0.5), "{d:?}");
    assert!(s.diagnosis.is_empty(), "{:?}", s.diagnosis);
    assert_eq!(s.max_dead_unit_fraction, d.iter().copied().reduce(f64::max));
}

#[test]
fn a_negative_bias_kills_every_layer_and_is_diagnosed() {
    let he = json!({"scheme": "kaiming_normal", "nonlinearity": "relu"});
    let spec = run_spec(relu_stack(64, 4, 64, he, -3.0), 42);
    let out = run(&gpu(), &spec, &RunOptions::default()).unwrap();
    let s = summary_of(
        &build(&spec, None).unwrap(),
        &spec.config.stats.diagnosis,
        &out,
    );
    eprintln!("bias -3: dead {:?}; {:?}", dead(&out), s.diagnosis);
    // Layer 0 already: preactivations ~ N(-3, 2) are < 0 for nearly every
    // input; from layer 1 on the input is 0 and every unit sits at -3.
    assert!(
        dead(&out)[1..].iter().all(|f| *f == 1.0),
        "{:?}",
        dead(&out)
    );
    assert!(
        s.diagnosis
            .iter()
            .any(|d| d.starts_with("dead units (100% of layer ")),
        "{:?}",
        s.diagnosis
    );
}

#[test]
fn the_seeds_dead_relu_is_an_exploding_stack() {
    // failure-modes.json's "Dead ReLU (std 1.0, bias -1)".
    let spec = run_spec(
        relu_stack(256, 6, 100, json!({"scheme": "normal", "std": 1.0}), -1.0),
        42,
    );
    let out = run(&gpu(), &spec, &RunOptions::default()).unwrap();
    let s = summary_of(
        &build(&spec, None).unwrap(),
        &spec.config.stats.diagnosis,
        &out,
    );
    let (d, z) = (dead(&out), zeros(&out));
    eprintln!(
        "std 1, bias -1: dead {d:.3?}; zeros {z:.3?}; {:?}",
        s.diagnosis
    );
    assert!(z.iter().all(|z| (z - 0.5).abs() < 0.1), "{z:?}");
    // Measured: 0, 0, 2%, 1.6%, 7%, 8% (layers 1-6).
    assert!(d.iter().all(|f| *f < 0.15), "{d:?}");
    assert!(
        !s.diagnosis.iter().any(|d| d.starts_with("dead")),
        "{:?}",
        s.diagnosis
    );
    assert!(
        s.diagnosis
            .iter()
            .any(|d| d.starts_with("exploding activations")),
        "{:?}",
        s.diagnosis
    );
}

#[test]
fn chunked_batches_count_the_same_dead_units() {
    let he = json!({"scheme": "kaiming_normal", "nonlinearity": "relu"});
    let spec = run_spec(relu_stack(64, 6, 256, he, -0.5), 5);
    let whole = run(&gpu(), &spec, &RunOptions::default()).unwrap();
    // 16 KiB bindings: 64 rows of 64 columns per chunk, 4 chunks.
    let small = Gpu::new(&GpuOptions {
        max_binding_bytes: Some(16 << 10),
        ..Default::default()
    })
    .unwrap();
    let chunked = run(&small, &spec, &RunOptions::default()).unwrap();
    eprintln!("bias -0.5: dead {:?}", dead(&whole));
    assert!(dead(&whole).iter().any(|f| *f > 0.0 && *f < 1.0));
    assert_eq!(dead(&whole), dead(&chunked));
}

#[test]
fn training_records_count_dead_units_at_every_record() {
    // Bias -1 leaves some units dead at init; SGD moves them.
    let he = json!({"scheme": "kaiming_normal", "nonlinearity": "relu"});
    let mut cfg = relu_stack(32, 4, 64, he, -1.0);
    cfg["loss"] = json!({"name": "mse", "target": "teacher"});
    cfg["train"] = json!({"steps": 6, "record_every": 2, "data": "fixed",
                          "optimizer": {"name": "sgd", "lr": 0.1}});
    let spec = run_spec(cfg, 7);
    let out = run(&gpu(), &spec, &RunOptions::default()).unwrap();
    let steps = &out.train.as_ref().expect("a training record").steps;
    assert_eq!(
        steps.iter().map(|s| s.step).collect::<Vec<_>>(),
        [0, 2, 4, 6]
    );
    let per_step: Vec<Vec<f64>> = steps
        .iter()
        .map(|s| {
            s.layers
                .iter()
                .map(|l| {
                    l.act.dead_unit_fraction.unwrap_or_else(|| {
                        panic!("step {} layer {}: no dead units", s.step, l.index)
                    })
                })
                .collect()
        })
        .collect();
    eprintln!("dead units per record: {per_step:.3?}");
    // The record at step 0 is the init: the run's own layer records.
    assert_eq!(per_step[0], dead(&out));
    // Units, not elements: never above the zero fraction, and below it
    // somewhere (a live ReLU unit is 0 on some rows).
    for (s, d) in steps.iter().zip(&per_step) {
        for (l, f) in s.layers.iter().zip(d) {
            let z = l.act.zero_fraction.unwrap();
            assert!(
                *f <= z,
                "step {} layer {}: dead {f} > zeros {z}",
                s.step,
                l.index
            );
        }
    }
    assert!(
        steps
            .iter()
            .flat_map(|s| &s.layers)
            .any(|l| l.act.dead_unit_fraction < l.act.zero_fraction),
        "dead units equal the zero fraction everywhere"
    );
}
