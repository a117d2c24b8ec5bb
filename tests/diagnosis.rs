//! The diagnosis (`initscope::stats::summarize`, the code the runner calls)
//! just above and just below each threshold, with exact messages, and runs
//! whose NaN/Inf emptied the statistics it would judge; the same for a
//! residual stack's diagnosis (`initscope::stats::summarize_residual`).

use initscope::config::{Diagnosis, RunConfig};
use initscope::results::{BlockRecord, LayerRecord, RunSummary, TensorRecord, TensorStats};
use initscope::stats::{
    BRANCH_DOMINATES, BRANCH_NEGLIGIBLE, EARLY_GRAD_RATIO, ResidualRun, STREAM_GROWTH, summarize,
    summarize_residual,
};
use serde_json::json;

fn thresholds() -> Diagnosis {
    RunConfig::from_checked(
        json!({"network": {"input_dim": 8, "width": 8, "depth": 1}, "input": {"batch": 8}}),
    )
    .unwrap()
    .stats
    .diagnosis
}

fn t(std: f64, norm: f64) -> TensorStats {
    TensorStats {
        count: 64,
        std,
        norm,
        ..TensorStats::default()
    }
}

/// A healthy 3-layer run: std 1, gradient norm 1, 10% dead units, 50%
/// zeros, 10% saturated.
fn healthy() -> Vec<LayerRecord> {
    (0..3)
        .map(|i| LayerRecord {
            index: i,
            fan_in: 8,
            fan_out: 8,
            activation: "tanh".into(),
            init: "normal".into(),
            weight: t(0.3, 2.0),
            bias: None,
            preact: t(1.0, 8.0),
            act: TensorStats {
                zero_fraction: Some(0.5),
                dead_unit_fraction: Some(0.1),
                saturated_fraction: Some(0.1),
                ..t(1.0, 8.0)
            },
            grad_weight: t(0.1, 1.0),
            grad_bias: None,
            grad_act: t(0.1, 1.0),
            lsuv: None,
        })
        .collect()
}

fn diagnose(layers: &[LayerRecord]) -> RunSummary {
    summarize(layers, &t(1.0, 8.0), 0.5, &thresholds(), &[true; 3])
}

fn with(f: impl Fn(&mut Vec<LayerRecord>)) -> Vec<String> {
    let mut l = healthy();
    f(&mut l);
    diagnose(&l).diagnosis
}

#[test]
fn the_healthy_run_is_healthy() {
    let s = diagnose(&healthy());
    assert!(s.diagnosis.is_empty(), "{:?}", s.diagnosis);
    assert_eq!(s.max_dead_unit_fraction, Some(0.1));
    assert_eq!(s.max_dead_fraction, 0.5);
}

#[test]
fn each_threshold_is_met_just_above_and_not_just_below() {
    let d = thresholds();
    let (lo, hi) = (1.0 - 1e-9, 1.0 + 1e-9);
    let v = d.vanishing_act_std;
    assert!(with(|l| l[2].act.std = v * hi).is_empty());
    assert_eq!(
        with(|l| l[2].act.std = v * lo),
        ["vanishing activations (final std 1.00e-1 < 0.1)"]
    );
    let e = d.exploding_act_std;
    assert!(with(|l| l[2].act.std = e * lo).is_empty());
    assert_eq!(
        with(|l| l[2].act.std = e * hi),
        ["exploding activations (final std 1.00e1 > 10)"]
    );
    let g = d.vanishing_grad_norm;
    assert!(with(|l| l.iter_mut().for_each(|l| l.grad_weight.norm = g * hi)).is_empty());
    assert_eq!(
        with(|l| l.iter_mut().for_each(|l| l.grad_weight.norm = g * lo)),
        ["vanishing gradients (mean ‖dW‖ 1.00e-6 < 1e-6)"]
    );
    let x = d.exploding_grad_norm;
    assert!(with(|l| l.iter_mut().for_each(|l| l.grad_weight.norm = x * lo)).is_empty());
    assert_eq!(
        with(|l| l.iter_mut().for_each(|l| l.grad_weight.norm = x * hi)),
        ["exploding gradients (mean ‖dW‖ 1.00e1 > 10)"]
    );
    let dead = d.dead_fraction;
    assert!(with(|l| l[1].act.dead_unit_fraction = Some(dead)).is_empty());
    assert_eq!(
        with(|l| l[1].act.dead_unit_fraction = Some(dead + 1.0 / 256.0)),
        ["dead units (50% of layer 1's units are 0 for every input)"]
    );
    let s = d.saturated_fraction;
    assert!(with(|l| l[2].act.saturated_fraction = Some(s)).is_empty());
    assert_eq!(
        with(|l| l[2].act.saturated_fraction = Some(s * hi)),
        ["saturation (30% saturated in layer 2)"]
    );
}

#[test]
fn a_zero_fraction_alone_is_not_death() {
    // Every element 0 in 90% of rows, but every unit fires for some input.
    assert!(with(|l| l[1].act.zero_fraction = Some(0.9)).is_empty());
}

#[test]
fn saturation_counts_only_for_saturating_activations() {
    let mut l = healthy();
    l[2].act.saturated_fraction = Some(0.9);
    let s = summarize(&l, &t(1.0, 8.0), 0.5, &thresholds(), &[true, true, false]);
    assert!(s.diagnosis.is_empty(), "{:?}", s.diagnosis);
}

#[test]
fn a_run_nan_everywhere_is_non_finite_and_nothing_else() {
    // What the reduction reports for an all-NaN tensor: counts, and moments
    // of the empty rest (std 0, norm 0, "100% zeros" of nothing).
    let nan = |n: u64| TensorStats {
        count: n,
        nan_count: n,
        zero_fraction: Some(0.0),
        dead_unit_fraction: Some(0.0),
        saturated_fraction: Some(0.0),
        ..TensorStats::default()
    };
    let mut l = healthy();
    for r in &mut l[1..] {
        (r.preact, r.act, r.grad_weight, r.grad_act) = (nan(64), nan(64), nan(64), nan(64));
    }
    l[0].grad_weight = nan(64);
    l[0].grad_act = nan(64);
    let s = diagnose(&l);
    assert_eq!(
        s.diagnosis,
        [
            "NaN/Inf values (640 NaN, 0 Inf; first in layer 1 preact)",
            "cannot judge activation scale, gradient scale, dead units, saturation \
             (the statistics leave out the NaN/Inf values)"
        ]
    );
    assert_eq!(s.nan_count, 640);
}

#[test]
fn nan_only_in_gradients_still_judges_the_forward_pass() {
    let mut l = healthy();
    l[0].grad_weight.inf_count = 3;
    l[2].act.std = 1e-3;
    assert_eq!(
        diagnose(&l).diagnosis,
        [
            "NaN/Inf values (0 NaN, 3 Inf; first in layer 0 grad_weight)",
            "vanishing activations (final std 1.00e-3 < 0.1)",
            "cannot judge gradient scale (the statistics leave out the NaN/Inf values)"
        ]
    );
}

// The residual stack's diagnosis (`summarize_residual`, what the runner
// calls for a stack with blocks), around each of its thresholds.

/// A healthy 3-block stack: stream std 1 (norm 10) throughout, branches at
/// 0.1 of the stream, every block's gradient norm 0.01, output std 1.
struct Res {
    blocks: Vec<BlockRecord>,
    grads: [f64; 3],
    output: TensorStats,
}

fn healthy_residual() -> Res {
    Res {
        blocks: (0..3)
            .map(|index| BlockRecord {
                index,
                stream: t(1.0, 10.0),
                grad_stream: t(1.0, 1.0),
                ff_branch: t(1.0, 1.0),
                ..BlockRecord::default()
            })
            .collect(),
        grads: [1e-2; 3],
        output: t(1.0, 8.0),
    }
}

fn residual_with(f: impl Fn(&mut Res)) -> Vec<String> {
    let mut r = healthy_residual();
    f(&mut r);
    let tensors: Vec<TensorRecord> = (0..3)
        .map(|i| TensorRecord {
            name: format!("blocks.{i}.fc1.weight"),
            shape: vec![8, 8],
            value: t(0.3, 2.0),
            grad: t(0.1, r.grads[i]),
        })
        .collect();
    let stream_in = t(1.0, 10.0);
    let run = ResidualRun {
        blocks: &r.blocks,
        tensors: &tensors,
        stream_in: Some(&stream_in),
        input: &stream_in,
        output: Some(&r.output),
        loss: 0.5,
    };
    summarize_residual(&run, &thresholds()).diagnosis
}

#[test]
fn residual_thresholds_are_met_just_above_and_not_just_below() {
    let d = thresholds();
    let (lo, hi) = (1.0 - 1e-9, 1.0 + 1e-9);
    assert!(residual_with(|_| ()).is_empty());
    let v = d.vanishing_act_std;
    assert!(residual_with(|r| r.output.std = v * hi).is_empty());
    assert_eq!(
        residual_with(|r| r.output.std = v * lo),
        ["vanishing output (std 1.00e-1 < 0.1)"]
    );
    let e = d.exploding_act_std;
    assert!(residual_with(|r| r.output.std = e * lo).is_empty());
    assert_eq!(
        residual_with(|r| r.output.std = e * hi),
        ["exploding output (std 1.00e1 > 10)"]
    );
    // Stream growth: the last block's std against the stream entering.
    let g = STREAM_GROWTH;
    assert!(residual_with(|r| r.blocks[2].stream.std = g * lo).is_empty());
    assert_eq!(
        residual_with(|r| r.blocks[2].stream.std = g * hi),
        ["stream grows ×10.00 over 3 blocks (std 1.00e0 → 1.00e1)"]
    );
    assert!(residual_with(|r| r.blocks[2].stream.std = hi / g).is_empty());
    assert_eq!(
        residual_with(|r| r.blocks[2].stream.std = lo / g),
        ["stream shrinks ×0.10 over 3 blocks (std 1.00e0 → 1.00e-1)"]
    );
    // Branch norms against the stream norm (10) they are added to.
    let b = BRANCH_DOMINATES * 10.0;
    assert!(residual_with(|r| r.blocks[1].ff_branch.norm = b * lo).is_empty());
    assert_eq!(
        residual_with(|r| r.blocks[1].ff_branch.norm = b * hi),
        ["branches dominate the stream (‖a·FF‖/‖x‖ = 1.00 at block 1)"]
    );
    let n = BRANCH_NEGLIGIBLE * 10.0;
    let all = |x: f64| move |r: &mut Res| r.blocks.iter_mut().for_each(|b| b.ff_branch.norm = x);
    assert!(residual_with(all(n * hi)).is_empty());
    assert_eq!(
        residual_with(all(n * lo)),
        ["branches negligible (‖a·FF‖/‖x‖ ≤ 1.0e-2 at every block): \
          the blocks start near the identity"]
    );
    // Gradients: the mean block norm, and block 0 against the last block.
    let vg = d.vanishing_grad_norm;
    assert!(residual_with(|r| r.grads = [vg * hi; 3]).is_empty());
    assert_eq!(
        residual_with(|r| r.grads = [vg * lo; 3]),
        ["vanishing gradients (mean block ‖grad‖ 1.00e-6 < 1e-6)"]
    );
    let xg = d.exploding_grad_norm;
    assert!(residual_with(|r| r.grads = [xg * lo; 3]).is_empty());
    assert_eq!(
        residual_with(|r| r.grads = [xg * hi; 3]),
        ["exploding gradients (mean block ‖grad‖ 1.00e1 > 10)"]
    );
    let early = EARLY_GRAD_RATIO * 1e-2;
    assert!(residual_with(|r| r.grads[0] = early * hi).is_empty());
    assert_eq!(
        residual_with(|r| r.grads[0] = early * lo),
        ["vanishing gradients at early blocks (block 0's ‖grad‖ is 1.0e-2× block 2's)"]
    );
    let late = 1e-2 / EARLY_GRAD_RATIO;
    assert!(residual_with(|r| r.grads[0] = late * lo).is_empty());
    assert_eq!(
        residual_with(|r| r.grads[0] = late * hi),
        ["exploding gradients at early blocks (block 0's ‖grad‖ is 1.0e2× block 2's)"]
    );
}

#[test]
fn a_residual_run_with_nan_is_non_finite_and_nothing_else() {
    let diagnosis = residual_with(|r| {
        r.blocks[1].stream.nan_count = 5;
        r.output.std = 0.0; // what the finite rest of an all-NaN output gives
    });
    assert_eq!(
        diagnosis,
        [
            "NaN/Inf values (5 NaN, 0 Inf)",
            "cannot judge output scale, stream, gradients \
             (the statistics leave out the NaN/Inf values)"
        ]
    );
}
