//! The GPU stack (forward, loss, backward, statistics) against the f64
//! reference on exactly the same weights and input.

mod common;
mod oracle;

use common::*;
use initscope::activation::Activation;
use initscope::config::{Loss, RunConfig, RunSpec, Target};
use initscope::exec::{RunOptions, run};
use initscope::results::TensorStats;
use initscope::rng::{Role, Stream};
use oracle::{RefLayer, forward_backward, tensor_stats};

fn spec(cfg: serde_json::Value, seed: u64) -> RunSpec {
    let config: RunConfig = serde_json::from_value(cfg).unwrap();
    RunSpec {
        id: "r000".into(),
        label: "test".into(),
        group: "test".into(),
        variant: None,
        params: Default::default(),
        seed,
        repeat: 0,
        config,
    }
}

/// |a − b| ≤ rel·|b| + abs.
fn close(a: f64, b: f64, rel: f64, abs: f64) -> bool {
    (a - b).abs() <= rel * b.abs() + abs
}

fn check_stats(what: &str, gpu: &TensorStats, r: &TensorStats) {
    // f32 accumulation: 1e-4 relative on every statistic; means near zero are
    // compared on the scale of the std (a relative error of 0 is meaningless).
    let scale = r.std.max(r.mean.abs()).max(1e-30);
    assert_eq!(gpu.count, r.count, "{what}: count");
    assert_eq!(
        (gpu.nan_count, gpu.inf_count),
        (r.nan_count, r.inf_count),
        "{what}: nan/inf"
    );
    assert!(
        close(gpu.mean, r.mean, 1e-4, 1e-4 * scale),
        "{what}: mean {} vs {}",
        gpu.mean,
        r.mean
    );
    assert!(
        close(gpu.std, r.std, 1e-4, 1e-6 * scale),
        "{what}: std {} vs {}",
        gpu.std,
        r.std
    );
    assert!(
        close(gpu.norm, r.norm, 1e-4, 1e-6 * scale),
        "{what}: norm {} vs {}",
        gpu.norm,
        r.norm
    );
    assert!(
        close(gpu.min, r.min, 1e-4, 1e-4 * scale),
        "{what}: min {} vs {}",
        gpu.min,
        r.min
    );
    assert!(
        close(gpu.max, r.max, 1e-4, 1e-4 * scale),
        "{what}: max {} vs {}",
        gpu.max,
        r.max
    );
    if let (Some(a), Some(b)) = (gpu.zero_fraction, r.zero_fraction) {
        assert!(
            (a - b).abs() <= 2.0 / r.count as f64,
            "{what}: zero fraction {a} vs {b}"
        );
    }
    if let (Some(a), Some(b)) = (gpu.saturated_fraction, r.saturated_fraction) {
        assert!(
            (a - b).abs() <= 2.0 / r.count as f64,
            "{what}: saturated fraction {a} vs {b}"
        );
    }
}

fn host_target(s: &RunSpec, input: &[f32], out: usize) -> Option<Vec<f64>> {
    let b = s.config.input.batch;
    let n0 = s.config.network.input_dim;
    let stream = |role| Stream {
        layer: 0,
        role,
        repeat: s.repeat,
    };
    match s.config.loss {
        Loss::Mse {
            target: Target::Gaussian,
        } => Some(
            initscope::rng::stream_normal(s.seed, stream(Role::Target), b * out, 0.0, 1.0)
                .into_iter()
                .map(f64::from)
                .collect(),
        ),
        Loss::Mse {
            target: Target::Teacher,
        } => {
            let std = (1.0 / n0 as f64).sqrt() as f32;
            let wt =
                initscope::rng::stream_normal(s.seed, stream(Role::Teacher), out * n0, 0.0, std);
            Some(
                (0..b * out)
                    .map(|e| {
                        let (i, j) = (e / out, e % out);
                        (0..n0)
                            .map(|k| f64::from(input[i * n0 + k]) * f64::from(wt[j * n0 + k]))
                            .sum()
                    })
                    .collect(),
            )
        }
        _ => None,
    }
}

fn check_against_reference(s: &RunSpec) {
    let gpu = gpu();
    let out = run(
        &gpu,
        s,
        &RunOptions {
            keep_tensors: true,
            base_dir: None,
        },
    )
    .unwrap();
    let t = out.tensors.as_ref().unwrap();
    let layers: Vec<RefLayer> = s
        .config
        .layer_specs()
        .iter()
        .map(|l| {
            let f64s = |v: &[f32]| v.iter().map(|x| f64::from(*x)).collect::<Vec<f64>>();
            let w = t.get(&format!("layers.{}.weight", l.index)).unwrap();
            let b = t.get(&format!("layers.{}.bias", l.index));
            RefLayer {
                fan_in: l.fan_in,
                fan_out: l.fan_out,
                activation: l.activation,
                weight: f64s(w),
                bias: b.map(f64s),
            }
        })
        .collect();
    let x: Vec<f64> = t.input.iter().map(|v| f64::from(*v)).collect();
    let n_out = layers.last().unwrap().fan_out;
    let target = host_target(s, &t.input, n_out);
    let r = forward_backward(
        &x,
        s.config.input.batch,
        &layers,
        s.config.loss,
        target.as_deref(),
    )
    .unwrap();
    let sat = Some(s.config.stats.saturation_threshold);
    let tag = format!("{} / {:?}", s.config.network.activation, s.config.loss);
    assert!(
        close(out.loss, r.loss, 1e-4, 1e-7),
        "{tag}: loss {} vs {}",
        out.loss,
        r.loss
    );
    for (i, (g, rl)) in out.layers.iter().zip(&r.layers).enumerate() {
        check_stats(
            &format!("{tag} layer {i} weight"),
            &g.weight,
            &tensor_stats(&layers[i].weight, None, None),
        );
        check_stats(
            &format!("{tag} layer {i} preact"),
            &g.preact,
            &tensor_stats(&rl.preact, None, None),
        );
        check_stats(
            &format!("{tag} layer {i} act"),
            &g.act,
            &tensor_stats(&rl.act, sat, None),
        );
        check_stats(
            &format!("{tag} layer {i} grad_act"),
            &g.grad_act,
            &tensor_stats(&rl.grad_act, None, None),
        );
        check_stats(
            &format!("{tag} layer {i} grad_weight"),
            &g.grad_weight,
            &tensor_stats(&rl.grad_weight, None, None),
        );
        // A bias gradient on one side only is a failure, not a skip.
        assert_eq!(
            g.grad_bias.is_some(),
            rl.grad_bias.is_some(),
            "{tag} layer {i}: grad_bias on one side only"
        );
        if let (Some(gb), Some(rb)) = (&g.grad_bias, &rl.grad_bias) {
            check_stats(
                &format!("{tag} layer {i} grad_bias"),
                gb,
                &tensor_stats(rb, None, None),
            );
        }
    }
}

fn small_stack(act: &str, loss: serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "network": {"input_dim": 24, "widths": [33, 17, 9], "activation": act, "final_activation": act, "bias": true},
        "init": {"scheme": "xavier_normal", "gain": 1.3},
        "bias_init": {"scheme": "normal", "std": 0.2},
        "input": {"batch": 13},
        "loss": loss,
        "stats": {"saturation_threshold": 0.5}
    })
}

#[test]
fn every_activation_and_loss_matches_reference() {
    let acts = [
        serde_json::json!("identity"),
        serde_json::json!("tanh"),
        serde_json::json!("relu"),
        serde_json::json!({"name": "leaky_relu", "slope": 0.2}),
        serde_json::json!("gelu"),
        serde_json::json!("gelu_tanh"),
        serde_json::json!("silu"),
        serde_json::json!("sigmoid"),
        serde_json::json!("selu"),
        serde_json::json!({"name": "elu", "alpha": 1.3}),
    ];
    let losses = [
        serde_json::json!("mean"),
        serde_json::json!("mean_square"),
        serde_json::json!("sum"),
        serde_json::json!({"name": "mse", "target": "gaussian"}),
        serde_json::json!({"name": "mse", "target": "teacher"}),
    ];
    for (i, a) in acts.iter().enumerate() {
        for (j, l) in losses.iter().enumerate() {
            let mut cfg = small_stack("tanh", l.clone());
            cfg["network"]["activation"] = a.clone();
            cfg["network"]["final_activation"] = a.clone();
            check_against_reference(&spec(cfg, 100 + (i * 10 + j) as u64));
        }
    }
}

#[test]
fn wide_nonsquare_stack_without_bias_matches_reference() {
    let cfg = serde_json::json!({
        "network": {"input_dim": 300, "widths": [517, 64, 129], "activation": "relu", "bias": false},
        "init": {"scheme": "kaiming_uniform", "nonlinearity": "relu"},
        "input": {"batch": 70},
        "loss": "mean_square"
    });
    check_against_reference(&spec(cfg, 5));
}

#[test]
fn activation_names_round_trip_to_gpu_codes() {
    // The shader's op codes are the Rust enum's; a mismatch would show above,
    // but make the mapping explicit for all ten.
    let codes: Vec<u32> = [
        Activation::Identity,
        Activation::Tanh,
        Activation::Relu,
        Activation::LeakyRelu { slope: 0.1 },
        Activation::Gelu,
        Activation::GeluTanh,
        Activation::Silu,
        Activation::Sigmoid,
        Activation::Selu,
        Activation::Elu { alpha: 1.0 },
    ]
    .iter()
    .map(|a| a.gpu_code().0)
    .collect();
    assert_eq!(codes, (0..10).collect::<Vec<_>>());
}
