//! The `jacobian` block of a run's results: the input-output Jacobian's
//! singular values (summaries, a histogram of log10 s) at the network's depth
//! and at every listed partial depth.

use super::Histogram;
use serde::{Deserialize, Serialize};

/// Summary of one singular-value spectrum (or, with several inputs, the mean
/// over inputs of each field, log fields averaged in log space).
///
/// `log10_*` fields are authoritative: the raw `max`, `min`, `mean_sq` and
/// `var_sq` are `null` where they leave the f64 range (s_min of deep
/// products can be 1e-400). `min` and `log10_min` are over the nonzero
/// values; `zeros` counts the exact zeros that dead units (φ' = 0) force.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct SpectrumStats {
    /// How many singular values J has: min(n_in, n_out).
    pub count: usize,
    /// Exactly zero singular values (rank lost to dead units).
    pub zeros: usize,
    pub max: Option<f64>,
    pub min: Option<f64>,
    pub log10_max: f64,
    pub log10_min: f64,
    /// Mean of s² over all `count` values: tr(JJᵀ)/count.
    pub mean_sq: Option<f64>,
    /// Variance of s² over all `count` values.
    pub var_sq: Option<f64>,
    pub log10_mean_sq: f64,
    /// `null` when the variance is exactly 0.
    pub log10_var_sq: Option<f64>,
    /// var_sq / mean_sq²: what free probability predicts (L(v_W + v_D)).
    pub var_over_mean_sq2: f64,
}

/// Standard deviations over inputs of the spectrum's log summaries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct SpectrumSpread {
    pub log10_max: f64,
    pub log10_min: f64,
    pub log10_mean_sq: f64,
    pub var_over_mean_sq2: f64,
}

/// Large-width predictions (Pennington, Schoenholz & Ganguli 2017).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct SpectrumTheory {
    /// Π_l σ_w² E[φ'(h_l)²] (χ^L at the fixed point).
    pub mean_sq: f64,
    pub log10_mean_sq: f64,
    /// Σ_l (v_W + v_D): L for Gaussian linear, 2L ReLU, 0 orthogonal linear.
    pub var_over_mean_sq2: f64,
}

/// The spectrum of the Jacobian of the first `depth` layers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DepthSpectrum {
    pub depth: usize,
    pub singular_values: SpectrumStats,
    /// log10 s of the nonzero values, pooled over inputs.
    pub histogram: Histogram,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spread: Option<SpectrumSpread>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub theory: Option<SpectrumTheory>,
    /// Every input's log10 s, largest first, when `jacobian.values` asks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log10_values: Option<Vec<Vec<f64>>>,
}

/// The `jacobian` block of a run: the whole network, then the listed depths.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JacobianRecord {
    /// Input rows the Jacobian was taken at (rows 0..inputs of the batch).
    pub inputs: usize,
    /// The network's depth; the fields below describe J = d x_L / d x_0.
    pub depth: usize,
    pub singular_values: SpectrumStats,
    pub histogram: Histogram,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spread: Option<SpectrumSpread>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub theory: Option<SpectrumTheory>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log10_values: Option<Vec<Vec<f64>>>,
    /// One entry per listed depth, in the order given.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depths: Vec<DepthSpectrum>,
    /// Wall-clock milliseconds of the GPU sweeps and the host SVD.
    pub ms: f64,
}
