//! Numerical kernels of the theory: Gaussian expectations by graded composite
//! Gauss–Legendre quadrature, and the digamma and trigamma functions.
//!
//! Why not plain Gauss–Hermite: its error for E[f(σz)] is governed by how far
//! f's singularities lie from the real z axis. tanh(σz) has poles at
//! z = ±iπ/(2σ), so for the large pre-activation variances of exploding
//! networks (σ² ≳ 10) a 100-node Gauss–Hermite rule loses digits, and at
//! relu-type kinks it converges only algebraically. The rule here breaks the
//! line at the kink h = 0 (where every activation has its features) and
//! grades the panels geometrically around it, so it stays accurate to ~1e-14
//! for any scale σ and for kinked activations alike.

use std::f64::consts::PI;
use std::sync::OnceLock;

/// Nodes per Gauss–Legendre panel.
const NODES: usize = 20;
/// z runs over [−Z_MAX, Z_MAX]; the Gaussian mass outside is 1.5e-23, and the
/// activations grow at most linearly, so the truncated tail is negligible.
const Z_MAX: f64 = 10.0;
/// Widest panel in z: 20 nodes integrate e^{−z²/2}·(smooth f) over a width
/// of 0.5 to rounding.
const MAX_PANEL: f64 = 0.5;
/// Width, in units of h, of the first panel on either side of h = 0. Panels
/// then double, so an activation's O(1) features are resolved at any σ.
const FIRST_PANEL_H: f64 = 0.25;

/// Gauss–Legendre nodes and weights on [−1, 1], by Newton's method on the
/// three-term recurrence, computed once.
fn legendre_rule() -> &'static ([f64; NODES], [f64; NODES]) {
    static RULE: OnceLock<([f64; NODES], [f64; NODES])> = OnceLock::new();
    RULE.get_or_init(|| {
        let mut nodes = [0.0; NODES];
        let mut weights = [0.0; NODES];
        for i in 0..NODES {
            // Tricomi's initial guess is within the basin of the i-th root.
            let mut x = (PI * (i as f64 + 0.75) / (NODES as f64 + 0.5)).cos();
            for _ in 0..100 {
                let (p, d) = legendre(NODES, x);
                let dx = p / d;
                x -= dx;
                if dx.abs() < 1e-16 {
                    break;
                }
            }
            let dp = legendre(NODES, x).1;
            nodes[i] = x;
            weights[i] = 2.0 / ((1.0 - x * x) * dp * dp);
        }
        (nodes, weights)
    })
}

/// P_n(x) and P_n'(x).
fn legendre(n: usize, x: f64) -> (f64, f64) {
    let (mut p0, mut p1) = (1.0, x);
    for k in 1..n {
        let k = k as f64;
        let p2 = ((2.0 * k + 1.0) * x * p1 - k * p0) / (k + 1.0);
        p0 = p1;
        p1 = p2;
    }
    let d = n as f64 * (x * p1 - p0) / (x * x - 1.0);
    (p1, d)
}

/// E[f(mean + std·z)], z ~ N(0, 1), for K functions evaluated together.
/// NaN when `mean` or `std` is not finite or `std` < 0.
pub(crate) fn expect_normal<const K: usize>(
    mean: f64,
    std: f64,
    f: impl Fn(f64) -> [f64; K],
) -> [f64; K] {
    if !mean.is_finite() || !std.is_finite() || std < 0.0 {
        return [f64::NAN; K];
    }
    if std == 0.0 {
        return f(mean);
    }
    let (nodes, weights) = legendre_rule();
    let g = |z: f64| {
        let density = (-0.5 * z * z).exp() / (2.0 * PI).sqrt();
        f(mean + std * z).map(|v| v * density)
    };
    let centre = (-mean / std).clamp(-Z_MAX, Z_MAX);
    let first = (FIRST_PANEL_H / std).min(MAX_PANEL);
    let mut acc = [0.0; K];
    for dir in [-1.0, 1.0] {
        let end = dir * Z_MAX;
        let (mut a, mut step) = (centre, first);
        // The step doubles each time, so this ends even where a + step == a.
        while (end - a) * dir > 0.0 {
            let b = if dir > 0.0 {
                (a + step).min(end)
            } else {
                (a - step).max(end)
            };
            let (lo, hi) = if a < b { (a, b) } else { (b, a) };
            let (mid, half) = (0.5 * (lo + hi), 0.5 * (hi - lo));
            for (x, w) in nodes.iter().zip(weights) {
                let v = g(mid + half * x);
                for k in 0..K {
                    acc[k] += w * half * v[k];
                }
            }
            a = b;
            step = (2.0 * step).min(MAX_PANEL);
        }
    }
    acc
}

/// E[f(mean + std·z)] for z ~ N(0, 1), accurate to ~1e-14 relative for
/// piecewise-smooth f of at most polynomial growth whose only kink (if any)
/// is at 0. NaN when `mean` or `std` is not finite or `std` < 0.
pub fn normal_expectation(f: impl Fn(f64) -> f64, mean: f64, std: f64) -> f64 {
    expect_normal(mean, std, |h| [f(h)])[0]
}

/// Below this the recurrence shifts x up before the asymptotic series is used.
const ASYMPTOTIC_FROM: f64 = 10.0;

/// ψ(x) − ln x for x > 0, without the cancellation of computing both apart
/// (ψ(n/2) − ln(n/2) ≈ −1/n is tiny for wide layers). NaN for x ≤ 0 or NaN.
pub(crate) fn digamma_minus_ln(x: f64) -> f64 {
    if x.is_nan() || x <= 0.0 {
        return f64::NAN;
    }
    // ψ(x) = ψ(x + k) − Σ_{j<k} 1/(x + j).
    let (mut y, mut shift) = (x, 0.0);
    while y < ASYMPTOTIC_FROM {
        shift -= 1.0 / y;
        y += 1.0;
    }
    // ψ(y) − ln y = −1/(2y) − Σ B_2k/(2k y^2k); the next term is < 5e-17 at y ≥ 10.
    let r = 1.0 / (y * y);
    let series = r
        * (-1.0 / 12.0
            + r * (1.0 / 120.0
                + r * (-1.0 / 252.0
                    + r * (1.0 / 240.0
                        + r * (-1.0 / 132.0 + r * (691.0 / 32760.0 + r * (-1.0 / 12.0)))))));
    // y == x exactly when no shift happened, so ln y − ln x cancels to 0 there.
    shift + (y.ln() - x.ln()) - 0.5 / y + series
}

/// The digamma function ψ(x) = Γ'(x)/Γ(x) for x > 0 (NaN otherwise), to ~1e-15.
pub fn digamma(x: f64) -> f64 {
    digamma_minus_ln(x) + x.ln()
}

/// The trigamma function ψ′(x) for x > 0 (NaN otherwise), to ~1e-15 relative.
pub fn trigamma(x: f64) -> f64 {
    if x.is_nan() || x <= 0.0 {
        return f64::NAN;
    }
    // ψ′(x) = ψ′(x + k) + Σ_{j<k} 1/(x + j)².
    let (mut y, mut shift) = (x, 0.0);
    while y < ASYMPTOTIC_FROM {
        shift += 1.0 / (y * y);
        y += 1.0;
    }
    // ψ′(y) = 1/y + 1/(2y²) + Σ B_2k / y^(2k+1).
    let r = 1.0 / (y * y);
    let series = r / y
        * (1.0 / 6.0
            + r * (-1.0 / 30.0
                + r * (1.0 / 42.0
                    + r * (-1.0 / 30.0
                        + r * (5.0 / 66.0 + r * (-691.0 / 2730.0 + r * 7.0 / 6.0))))));
    shift + 1.0 / y + 0.5 * r + series
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activation::{Activation, norm_cdf, norm_pdf};

    const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * b.abs()
    }

    /// Trapezoid rule for E[f(σz)] on [−14, 14] with step 1e-4: spectrally
    /// accurate for smooth f (error ~ exp(−2π·d/step) with d the distance of
    /// f's poles in z, 0.157 for tanh(10z)), an independent reference.
    fn trapezoid(f: impl Fn(f64) -> f64, sigma: f64) -> f64 {
        let (step, n) = (1e-4, 140_000);
        let g = |z: f64| f(sigma * z) * (-0.5 * z * z).exp() / (2.0 * PI).sqrt();
        (-n..=n).map(|k| g(k as f64 * step)).sum::<f64>() * step
    }

    #[test]
    fn legendre_rule_is_exact_for_degree_39() {
        let (x, w) = legendre_rule();
        assert!(close(w.iter().sum::<f64>(), 2.0, 1e-14));
        let i38: f64 = x.iter().zip(w).map(|(x, w)| w * x.powi(38)).sum();
        assert!(close(i38, 2.0 / 39.0, 1e-13), "{i38}");
    }

    #[test]
    fn gaussian_moments_and_kinks() {
        assert!(close(normal_expectation(|z| z * z, 0.0, 1.0), 1.0, 1e-14));
        assert!(close(
            normal_expectation(|z| z.powi(4), 0.0, 1.0),
            3.0,
            1e-14
        ));
        assert!(close(
            normal_expectation(|z| z.powi(4), 0.0, 1e3),
            3e12,
            1e-13
        ));
        let relu = |h: f64| h.max(0.0);
        assert!(close(
            normal_expectation(|h| relu(h).powi(2), 0.0, 1.0),
            0.5,
            1e-14
        ));
        // E[relu(μ+σz)] = μΦ(μ/σ) + σφ(μ/σ); E[relu′²] = Φ(μ/σ).
        for (mu, s) in [(0.7, 1.3), (-2.0, 0.5), (3.0, 1e4), (1.0, 1e-6)] {
            let want = mu * norm_cdf(mu / s) + s * norm_pdf(mu / s);
            assert!(
                close(normal_expectation(relu, mu, s), want, 1e-13),
                "relu at {mu}, {s}"
            );
            let d = |h: f64| Activation::Relu.derivative(h).powi(2);
            assert!(close(normal_expectation(d, mu, s), norm_cdf(mu / s), 1e-13));
        }
        assert_eq!(normal_expectation(relu, 0.3, 0.0), 0.3);
        assert!(normal_expectation(relu, 0.0, f64::INFINITY).is_nan());
        assert!(normal_expectation(relu, 0.0, -1.0).is_nan());
    }

    #[test]
    fn elu_matches_closed_form_with_offset_kink() {
        // E[elu] = E[h·1{h>0}] + α(e^{μ+σ²/2}Φ(−(μ+σ²)/σ) − Φ(−μ/σ)).
        let (mu, s, alpha) = (0.3, 1.7, 0.8);
        let elu = Activation::Elu { alpha };
        let pos = mu * norm_cdf(mu / s) + s * norm_pdf(mu / s);
        let neg = (mu + 0.5 * s * s).exp() * norm_cdf(-(mu + s * s) / s) - norm_cdf(-mu / s);
        let got = normal_expectation(|h| elu.forward(h), mu, s);
        assert!(
            close(got, pos + alpha * neg, 1e-13),
            "{got} vs {}",
            pos + alpha * neg
        );
        // E[elu′²] = Φ(μ/σ) + α²·e^{2μ+2σ²}Φ(−(μ+2σ²)/σ).
        let want = norm_cdf(mu / s)
            + alpha * alpha * (2.0 * mu + 2.0 * s * s).exp() * norm_cdf(-(mu + 2.0 * s * s) / s);
        let got = normal_expectation(|h| elu.derivative(h).powi(2), mu, s);
        assert!(close(got, want, 1e-13), "{got} vs {want}");
    }

    #[test]
    fn smooth_activations_match_references() {
        for s in [1.0, 10.0] {
            let got = normal_expectation(|h| h.tanh().powi(2), 0.0, s);
            let want = trapezoid(|h| h.tanh().powi(2), s);
            assert!(close(got, want, 1e-13), "tanh² at σ={s}: {got} vs {want}");
        }
        // E[gelu(σz)] = σ E[z Φ(σz)] = σ² E[φ(σz)] = σ²/√(2π(1+σ²)) (Stein's lemma).
        for s in [1.0, 30.0] {
            let got = normal_expectation(|h| Activation::Gelu.forward(h), 0.0, s);
            let want = s * s / (2.0 * PI * (1.0 + s * s)).sqrt();
            assert!(close(got, want, 1e-13), "gelu at σ={s}: {got} vs {want}");
        }
        let got = normal_expectation(|h| Activation::Silu.forward(h).powi(2), 0.4, 2.0);
        let want = trapezoid(|h| Activation::Silu.forward(0.4 + h).powi(2), 2.0);
        assert!(close(got, want, 1e-13), "silu² {got} vs {want}");
        let got = normal_expectation(|h| Activation::Sigmoid.forward(h), 0.0, 3.0);
        assert!(close(got, 0.5, 1e-14));
    }

    #[test]
    fn digamma_trigamma_known_values() {
        let pi2 = PI * PI;
        assert!(close(digamma(1.0), -EULER_GAMMA, 1e-14));
        assert!(close(digamma(0.5), -EULER_GAMMA - 2.0 * 2f64.ln(), 1e-14));
        let h9: f64 = (1..10).map(|k| 1.0 / k as f64).sum();
        assert!(close(digamma(10.0), h9 - EULER_GAMMA, 1e-14));
        assert!(close(trigamma(1.0), pi2 / 6.0, 1e-14));
        assert!(close(trigamma(0.5), pi2 / 2.0, 1e-14));
        let s9: f64 = (1..10).map(|k| 1.0 / (k * k) as f64).sum();
        assert!(close(trigamma(10.0), pi2 / 6.0 - s9, 1e-13));
        // Large x: ψ(x) − ln x = −1/(2x) − 1/(12x²) + O(x⁻⁴),
        // ψ′(x) = 1/x + 1/(2x²) + 1/(6x³) + O(x⁻⁵).
        let x = 1e6;
        assert!(close(
            digamma_minus_ln(x),
            -0.5 / x - 1.0 / (12.0 * x * x),
            1e-14
        ));
        assert!(close(digamma(x), x.ln() - 0.5 / x, 1e-14));
        assert!(close(
            trigamma(x),
            1.0 / x + 0.5 / (x * x) + 1.0 / (6.0 * x * x * x),
            1e-14
        ));
        // Recurrences across the switch to the asymptotic series.
        for x in [0.25, 3.7, 9.5, 12.25] {
            assert!((digamma(x + 1.0) - digamma(x) - 1.0 / x).abs() < 1e-13);
            assert!(close(trigamma(x) - trigamma(x + 1.0), 1.0 / (x * x), 1e-13));
        }
        assert!(digamma(0.0).is_nan() && trigamma(-1.0).is_nan() && digamma(f64::NAN).is_nan());
    }
}
