//! Large-width predictions for the Jacobian spectrum (Pennington, Schoenholz
//! & Ganguli, NeurIPS 2017, "Resurrecting the sigmoid ..."; Saxe et al. 2014
//! for orthogonal linear stacks), derived with S-transforms and checked by
//! simulation in the research notes:
//!
//! * mean_sq = E λ(JJᵀ) = (n_L / p) Π_l σ_w² E[φ'(h_l)²] (χ^L at a fixed point);
//! * var_sq / mean_sq² = Σ_l (v_W + v_D,l), v_D = E[φ'⁴]/E[φ'²]² − 1,
//!   v_W = 1 for i.i.d. square weights (Marchenko–Pastur), 0 for orthogonal:
//!   L for Gaussian linear, 2L for ReLU, L(1/p − 1) for orthogonal hard-tanh.
//! * the density of s² for products of L Gaussian square matrices is
//!   Fuss–Catalan (Penson & Życzkowski 2011), [`fuss_catalan_log10`].

use crate::init::Sampler;
use crate::model::Model;
use crate::results::Prediction;
use crate::results::jacobian::SpectrumTheory;
use crate::rng::Role;
use crate::theory::normal_expectation;

/// The prediction for the Jacobian of the first `depth` layers; `None` where
/// the model has no closed-form theory or a layer is not square (after the
/// first, whose aspect only rescales the mean).
pub fn predict(model: &Model, pred: &Prediction, depth: usize) -> Option<SpectrumTheory> {
    let layers = model.layers.get(..depth)?;
    let (mut log_mean, mut var) = (0.0f64, 0.0f64);
    for (i, l) in layers.iter().enumerate() {
        let chi = *pred.chi1.get(i)?;
        let q = *pred.preact_var.get(i)?;
        let w = model
            .params
            .iter()
            .find(|p| p.layer == i as u32 && p.role == Role::Weight)?;
        let bias_mean = model
            .params
            .iter()
            .find(|p| p.layer == i as u32 && p.role == Role::Bias)
            .and_then(|b| {
                b.sampler
                    .moments(crate::init::Shape::bias(l.fan_in, l.fan_out))
            })
            .map_or(0.0, |(m, _)| m);
        let orthogonal = matches!(w.sampler, Sampler::Orthogonal { .. });
        if i > 0 && l.fan_in != l.fan_out && !orthogonal {
            return None;
        }
        let act = l.activation;
        let m2 = normal_expectation(|h| act.derivative(h).powi(2), bias_mean, q.sqrt());
        let m4 = normal_expectation(|h| act.derivative(h).powi(4), bias_mean, q.sqrt());
        let v_d = if m2 > 0.0 { m4 / (m2 * m2) - 1.0 } else { 0.0 };
        var += v_d.max(0.0) + if orthogonal { 0.0 } else { 1.0 };
        log_mean += chi.ln();
    }
    let n0 = model.layers.first()?.fan_in;
    let nl = layers.last()?.fan_out;
    log_mean += (nl as f64 / n0.min(nl) as f64).ln();
    let ln10 = std::f64::consts::LN_10;
    Some(SpectrumTheory {
        mean_sq: log_mean.exp(),
        log10_mean_sq: log_mean / ln10,
        var_over_mean_sq2: var,
    })
    .filter(|t| t.log10_mean_sq.is_finite() && t.var_over_mean_sq2.is_finite())
}

/// The Fuss–Catalan density of y = log10 s for the product of `l` square
/// N(0, 1/n) matrices, n → ∞, as `points` (y, density) pairs from the right
/// edge down: x(φ) = sin((L+1)φ)^{L+1} / (sin φ · sin(Lφ)^L), s² = x, and
/// f_Y = (2 ln10/π) sin φ sin((L+1)φ) / sin(Lφ), φ ∈ (0, π/(L+1)).
/// L = 1 is Marchenko–Pastur at ratio 1.
pub fn fuss_catalan_log10(l: usize, points: usize) -> Vec<(f64, f64)> {
    let lf = l as f64;
    let top = std::f64::consts::PI / (lf + 1.0);
    (1..points)
        .filter_map(|i| {
            let phi = top * i as f64 / points as f64;
            let (s1, sl, sl1) = (phi.sin(), (lf * phi).sin(), ((lf + 1.0) * phi).sin());
            let ln_x = (lf + 1.0) * sl1.ln() - s1.ln() - lf * sl.ln();
            let y = 0.5 * ln_x / std::f64::consts::LN_10;
            let f = 2.0 * std::f64::consts::LN_10 / std::f64::consts::PI * s1 * sl1 / sl;
            (y.is_finite() && f.is_finite()).then_some((y, f))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fuss_catalan_integrates_to_one_with_the_right_second_moment() {
        for l in [1usize, 2, 5] {
            let pts = fuss_catalan_log10(l, 200_000);
            let (mut mass, mut m1, mut m2) = (0.0, 0.0, 0.0);
            for w in pts.windows(2) {
                let dy = w[0].0 - w[1].0;
                let f = 0.5 * (w[0].1 + w[1].1);
                let x = 10f64.powf(w[0].0 + w[1].0); // s² at the midpoint
                mass += f * dy;
                m1 += f * dy * x;
                m2 += f * dy * x * x;
            }
            assert!((mass - 1.0).abs() < 1e-3, "L={l}: mass {mass}");
            assert!((m1 - 1.0).abs() < 1e-2, "L={l}: m1 {m1}");
            assert!(
                (m2 - (l as f64 + 1.0)).abs() < 0.05 * (l as f64 + 1.0),
                "L={l}: m2 {m2}"
            );
        }
    }
}
