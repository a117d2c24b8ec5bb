//! The per-run summary and its diagnosis, from the statistics records read
//! back from the GPU.
//!
//! A diagnosis only draws conclusions from statistics that describe the
//! whole tensor: NaN and Inf are left out of every moment, so a run with
//! non-finite activations has an activation std of the few finite values
//! (often 0). Such a run is diagnosed non-finite, and the checks whose
//! statistics were emptied say that they could not be judged.

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
    let final_act_std = layers.last().map_or(0.0, |l| l.act.std);
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
    let zeros = worst(layers, &|l| l.act.zero_fraction);
    let dead = worst(layers, &|l| l.act.dead_unit_fraction);
    let sat = worst(layers, &|l| {
        let saturates = saturating.get(l.index).copied().unwrap_or(false);
        l.act.saturated_fraction.filter(|_| saturates)
    });
    let (nan, inf) = tensors(layers)
        .map(|(_, _, s)| s)
        .fold((0, 0), |(a, b), s| (a + s.nan_count, b + s.inf_count));
    let f = Findings {
        final_act_std,
        mean_grad_norm,
        dead,
        sat,
    };
    RunSummary {
        loss,
        input_std: input.std,
        final_act_std,
        mean_grad_norm,
        grad_norm_ratio,
        max_dead_fraction: zeros.map_or(0.0, |w| w.0),
        max_dead_unit_fraction: dead.map(|w| w.0),
        max_saturated_fraction: sat.map_or(0.0, |w| w.0),
        nan_count: nan,
        inf_count: inf,
        diagnosis: diagnose(layers, &f, d),
    }
}

/// The largest value of `f` over the layers, with its layer index.
fn worst(layers: &[LayerRecord], f: &dyn Fn(&LayerRecord) -> Option<f64>) -> Option<(f64, usize)> {
    layers
        .iter()
        .filter_map(|l| f(l).map(|v| (v, l.index)))
        .fold(None, |a: Option<(f64, usize)>, b| match a {
            Some(a) if a.0 >= b.0 => Some(a),
            _ => Some(b),
        })
}

/// Every tensor of the records as (layer, name, stats): the forward
/// tensors in layer order, then the gradients from the last layer back (the
/// order in which a NaN spreads).
fn tensors(layers: &[LayerRecord]) -> impl Iterator<Item = (usize, &'static str, &TensorStats)> {
    let fwd = layers.iter().flat_map(|l| {
        [
            ("weight", Some(&l.weight)),
            ("bias", l.bias.as_ref()),
            ("preact", Some(&l.preact)),
            ("act", Some(&l.act)),
        ]
        .into_iter()
        .filter_map(move |(n, s)| s.map(|s| (l.index, n, s)))
    });
    let bwd = layers.iter().rev().flat_map(|l| {
        [
            ("grad_act", Some(&l.grad_act)),
            ("grad_weight", Some(&l.grad_weight)),
            ("grad_bias", l.grad_bias.as_ref()),
        ]
        .into_iter()
        .filter_map(move |(n, s)| s.map(|s| (l.index, n, s)))
    });
    fwd.chain(bwd)
}

fn finite(s: &TensorStats) -> bool {
    s.nan_count + s.inf_count == 0
}

/// The summary numbers the diagnosis judges (value, layer).
struct Findings {
    final_act_std: f64,
    mean_grad_norm: f64,
    dead: Option<(f64, usize)>,
    sat: Option<(f64, usize)>,
}

/// The findings against the thresholds, each phrase "what (numbers)".
fn diagnose(layers: &[LayerRecord], f: &Findings, d: &Diagnosis) -> Vec<String> {
    let mut out = Vec::new();
    let acts_ok = layers.iter().all(|l| finite(&l.preact) && finite(&l.act));
    let grads_ok = layers
        .iter()
        .all(|l| finite(&l.grad_weight) && finite(&l.grad_act));
    if let Some((i, name, _)) = tensors(layers).find(|t| !finite(t.2)) {
        let (nan, inf) = tensors(layers).fold((0, 0), |(a, b), (_, _, s)| {
            (a + s.nan_count, b + s.inf_count)
        });
        out.push(format!(
            "NaN/Inf values ({nan} NaN, {inf} Inf; first in layer {i} {name})"
        ));
    }
    let mut skipped = Vec::new();
    if acts_ok {
        out.extend(activation_scale(f.final_act_std, d));
    } else {
        skipped.push("activation scale");
    }
    if grads_ok {
        out.extend(gradient_scale(f.mean_grad_norm, d));
    } else {
        skipped.push("gradient scale");
    }
    if acts_ok {
        if let Some((v, i)) = f.dead.filter(|w| w.0 > d.dead_fraction) {
            out.push(format!(
                "dead units ({:.0}% of layer {i}'s units are 0 for every input)",
                v * 100.0
            ));
        }
        if let Some((v, i)) = f.sat.filter(|w| w.0 > d.saturated_fraction) {
            out.push(format!(
                "saturation ({:.0}% saturated in layer {i})",
                v * 100.0
            ));
        }
    } else {
        skipped.extend(["dead units", "saturation"]);
    }
    if !skipped.is_empty() {
        out.push(format!(
            "cannot judge {} (the statistics leave out the NaN/Inf values)",
            skipped.join(", ")
        ));
    }
    out
}

fn activation_scale(std: f64, d: &Diagnosis) -> Option<String> {
    if std < d.vanishing_act_std {
        Some(format!(
            "vanishing activations (final std {std:.2e} < {})",
            d.vanishing_act_std
        ))
    } else if std > d.exploding_act_std {
        Some(format!(
            "exploding activations (final std {std:.2e} > {})",
            d.exploding_act_std
        ))
    } else {
        None
    }
}

fn gradient_scale(norm: f64, d: &Diagnosis) -> Option<String> {
    if norm < d.vanishing_grad_norm {
        Some(format!(
            "vanishing gradients (mean ‖dW‖ {norm:.2e} < {:e})",
            d.vanishing_grad_norm
        ))
    } else if norm > d.exploding_grad_norm {
        Some(format!(
            "exploding gradients (mean ‖dW‖ {norm:.2e} > {})",
            d.exploding_grad_norm
        ))
    } else {
        None
    }
}
