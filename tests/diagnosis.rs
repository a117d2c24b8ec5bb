//! The diagnosis (`initscope::stats::summarize`, the code the runner calls)
//! just above and just below each threshold, with exact messages, and runs
//! whose NaN/Inf emptied the statistics it would judge.

use initscope::config::{Diagnosis, RunConfig};
use initscope::results::{LayerRecord, RunSummary, TensorStats};
use initscope::stats::summarize;
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
