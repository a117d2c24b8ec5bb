//! The per-run summary and its diagnosis, from the statistics records read
//! back from the GPU.

mod residual;

pub use residual::{
    BRANCH_DOMINATES, BRANCH_NEGLIGIBLE, EARLY_GRAD_RATIO, ResidualRun, STREAM_GROWTH,
    branch_ratios, group_grad_norm, summarize_residual,
};

use crate::config::Diagnosis;
use crate::results::{LayerRecord, RunSummary, TensorStats};

/// Summary and diagnosis of one run.
pub fn summarize(
    layers: &[LayerRecord],
    input: &TensorStats,
    loss: f64,
    d: &Diagnosis,
    saturating: &[bool],
) -> RunSummary {
    let last = layers.last();
    let final_act_std = last.map_or(0.0, |l| l.act.std);
    let norms: Vec<f64> = layers.iter().map(|l| l.grad_weight.norm).collect();
    let mean_grad_norm = if norms.is_empty() {
        0.0
    } else {
        norms.iter().sum::<f64>() / norms.len() as f64
    };
    let (lo, hi) = norms
        .iter()
        .fold((f64::INFINITY, 0.0f64), |(a, b), &x| (a.min(x), b.max(x)));
    let grad_norm_ratio = if norms.is_empty() {
        1.0
    } else if lo > 0.0 {
        hi / lo
    } else {
        f64::INFINITY
    };
    let worst = |f: &dyn Fn(&LayerRecord) -> Option<f64>| {
        layers
            .iter()
            .filter_map(|l| f(l).map(|v| (v, l.index)))
            .fold((0.0, 0), |a, b| if b.0 > a.0 { b } else { a })
    };
    let (dead, dead_at) = worst(&|l| l.act.zero_fraction);
    let (sat, sat_at) = worst(&|l| {
        if saturating.get(l.index).copied().unwrap_or(false) {
            l.act.saturated_fraction
        } else {
            None
        }
    });
    let all = layers.iter().flat_map(|l| {
        [
            Some(&l.weight),
            Some(&l.preact),
            Some(&l.act),
            Some(&l.grad_weight),
            Some(&l.grad_act),
            l.bias.as_ref(),
            l.grad_bias.as_ref(),
        ]
    });
    let (nan, inf) = all
        .flatten()
        .fold((0, 0), |(a, b), s| (a + s.nan_count, b + s.inf_count));
    let mut diagnosis = Vec::new();
    if nan + inf > 0 {
        diagnosis.push(format!("NaN/Inf ({nan} NaN, {inf} Inf)"));
    }
    if final_act_std < d.vanishing_act_std {
        diagnosis.push(format!(
            "vanishing activations (final std {final_act_std:.2e} < {})",
            d.vanishing_act_std
        ));
    } else if final_act_std > d.exploding_act_std {
        diagnosis.push(format!(
            "exploding activations (final std {final_act_std:.2e} > {})",
            d.exploding_act_std
        ));
    }
    if mean_grad_norm < d.vanishing_grad_norm {
        diagnosis.push(format!(
            "vanishing gradients (mean ‖dW‖ {mean_grad_norm:.2e} < {:e})",
            d.vanishing_grad_norm
        ));
    } else if mean_grad_norm > d.exploding_grad_norm {
        diagnosis.push(format!(
            "exploding gradients (mean ‖dW‖ {mean_grad_norm:.2e} > {})",
            d.exploding_grad_norm
        ));
    }
    if dead > d.dead_fraction {
        diagnosis.push(format!(
            "dead units ({:.0}% zeros in layer {dead_at})",
            dead * 100.0
        ));
    }
    if sat > d.saturated_fraction {
        diagnosis.push(format!(
            "saturation ({:.0}% saturated in layer {sat_at})",
            sat * 100.0
        ));
    }
    RunSummary {
        loss,
        input_std: input.std,
        final_act_std,
        mean_grad_norm,
        grad_norm_ratio,
        max_dead_fraction: dead,
        max_saturated_fraction: sat,
        nan_count: nan,
        inf_count: inf,
        diagnosis,
    }
}
