//! The input-output Jacobian's singular values: the host side.
//!
//! The GPU (`exec::jacobian`) reduces J = A_L ⋯ A_1 to a k × k triangular
//! factor held as diag(e^ℓ)·V; [`svd::jacobi_log`] finishes in f64 with
//! log-scaled columns, so s_min of 1e-84 or 1e-400 comes out as its natural
//! log, right to float32's backward error of the factors (measured: log10
//! s_min within 2e-4 decades at 50 layers). Never the SVD of a formed
//! product: float32 SVD reports ~1e-10 and float64 ~1e-17 for s_min of 50
//! Gaussian layers of width 512, whose true value is near 1e-84.
//!
//! This module turns spectra into the results' summaries and histograms.

pub mod svd;
pub mod theory;

use crate::exec::jacobian::Graded;
use crate::results::Histogram;
use crate::results::jacobian::{SpectrumSpread, SpectrumStats};

/// Converged columns' largest |cos| (the input is float32-accurate).
const JACOBI_TOL: f64 = 1e-8;

/// One Jacobian's singular values, in natural logs.
#[derive(Debug, Clone, PartialEq)]
pub struct Spectrum {
    /// ln s of the nonzero values, largest first.
    pub ln_s: Vec<f64>,
    /// Exactly zero values (min(n_in, n_out) − rank).
    pub zeros: usize,
    /// Jacobi sweeps the host SVD took.
    pub sweeps: u32,
}

impl Spectrum {
    /// The spectrum of the GPU's graded factor diag(e^ℓ)·V.
    pub fn from_graded(g: &Graded) -> Spectrum {
        let k = g.k;
        // Gᵀ's column j is e^{ℓ_j}·(row j of V): V row-major is G column-major.
        let cols: Vec<f64> = g.v.iter().map(|x| f64::from(*x)).collect();
        let s = svd::jacobi_log(&cols, &g.ell, k, JACOBI_TOL);
        Spectrum {
            ln_s: s.ln_s,
            zeros: g.p - k,
            sweeps: s.sweeps,
        }
    }

    /// log10 s of the nonzero values, largest first.
    pub fn log10(&self) -> Vec<f64> {
        self.ln_s
            .iter()
            .map(|x| x / std::f64::consts::LN_10)
            .collect()
    }

    /// The summary: extremes and the moments of s² over all values.
    pub fn stats(&self) -> SpectrumStats {
        let l10 = self.log10();
        let count = self.ln_s.len() + self.zeros;
        let (hi, lo) = (
            l10.first().copied().unwrap_or(f64::NEG_INFINITY),
            l10.last().copied().unwrap_or(f64::NEG_INFINITY),
        );
        // Moments of x = s²/s_max²: tiny values underflow to 0 harmlessly.
        let top = 2.0 * self.ln_s.first().copied().unwrap_or(0.0);
        let x: Vec<f64> = self.ln_s.iter().map(|l| (2.0 * l - top).exp()).collect();
        let n = count.max(1) as f64;
        let mu = x.iter().sum::<f64>() / n;
        let var =
            (x.iter().map(|v| (v - mu).powi(2)).sum::<f64>() + self.zeros as f64 * mu * mu) / n;
        let ln10 = std::f64::consts::LN_10;
        let log10_mean_sq = (top + mu.ln()) / ln10;
        let log10_var_sq = (var > 0.0).then(|| (2.0 * top + var.ln()) / ln10);
        SpectrumStats {
            count,
            zeros: self.zeros,
            max: finite(10f64.powf(hi)),
            min: finite(10f64.powf(lo)),
            log10_max: hi,
            log10_min: lo,
            mean_sq: finite(10f64.powf(log10_mean_sq)),
            var_sq: log10_var_sq.map_or(Some(0.0), |l| finite(10f64.powf(l))),
            log10_mean_sq,
            log10_var_sq,
            var_over_mean_sq2: var / (mu * mu),
        }
    }
}

/// `Some(x)` when x is a normal f64 (JSON holds no inf, NaN, and a
/// denormal or 0 would claim more than it knows).
fn finite(x: f64) -> Option<f64> {
    x.is_normal().then_some(x)
}

/// The mean over inputs of each field (log fields in log space) and,
/// with more than one input, their standard deviations.
pub fn aggregate(all: &[SpectrumStats]) -> (SpectrumStats, Option<SpectrumSpread>) {
    let n = all.len().max(1) as f64;
    let mean = |f: &dyn Fn(&SpectrumStats) -> f64| all.iter().map(f).sum::<f64>() / n;
    let sd = |f: &dyn Fn(&SpectrumStats) -> f64| {
        let m = mean(f);
        (all.iter().map(|s| (f(s) - m).powi(2)).sum::<f64>() / (n - 1.0).max(1.0)).sqrt()
    };
    if all.len() == 1 {
        return (all[0].clone(), None);
    }
    let (lmax, lmin) = (mean(&|s| s.log10_max), mean(&|s| s.log10_min));
    let lmean = mean(&|s| s.log10_mean_sq);
    let lvar = all
        .iter()
        .map(|s| s.log10_var_sq)
        .collect::<Option<Vec<f64>>>()
        .map(|v| v.iter().sum::<f64>() / n);
    let st = SpectrumStats {
        count: all[0].count,
        zeros: (mean(&|s| s.zeros as f64)).round() as usize,
        max: finite(10f64.powf(lmax)),
        min: finite(10f64.powf(lmin)),
        log10_max: lmax,
        log10_min: lmin,
        mean_sq: finite(10f64.powf(lmean)),
        var_sq: lvar.map_or(Some(0.0), |l| finite(10f64.powf(l))),
        log10_mean_sq: lmean,
        log10_var_sq: lvar,
        var_over_mean_sq2: mean(&|s| s.var_over_mean_sq2),
    };
    let spread = SpectrumSpread {
        log10_max: sd(&|s| s.log10_max),
        log10_min: sd(&|s| s.log10_min),
        log10_mean_sq: sd(&|s| s.log10_mean_sq),
        var_over_mean_sq2: sd(&|s| s.var_over_mean_sq2),
    };
    (st, Some(spread))
}

/// A histogram of log10 s pooled over inputs, on a range rounded out to
/// tenths of a decade (at least 0.1 wide).
pub fn histogram(values: &[Vec<f64>], bins: u32) -> Histogram {
    let all = values.iter().flatten().copied().filter(|x| x.is_finite());
    let (mut lo, mut hi) = all
        .clone()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
            (a.min(x), b.max(x))
        });
    if !lo.is_finite() {
        (lo, hi) = (0.0, 0.0);
    }
    lo = (lo * 10.0).floor() / 10.0;
    hi = (hi * 10.0).ceil() / 10.0;
    if hi - lo < 0.1 {
        let mid = (hi + lo) / 2.0;
        (lo, hi) = (mid - 0.05, mid + 0.05);
    }
    let bins = bins.max(1) as usize;
    let mut counts = vec![0u64; bins];
    for x in all {
        let b = ((x - lo) / (hi - lo) * bins as f64).floor() as isize;
        counts[b.clamp(0, bins as isize - 1) as usize] += 1;
    }
    Histogram { lo, hi, counts }
}
