//! Closed-form predictions of per-layer signal and gradient propagation at
//! initialization (mean-field theory of Poole et al. 2016 / Schoenholz et al.
//! 2017, exact moments for linear stacks), for comparison with measurements.
//!
//! Conventions: layer l computes h_l = a_{l−1}·W_lᵀ + b_l (W_l is fan_out × fan_in)
//! and a_l = φ_l(h_l); a_{−1} is the input batch. With σ_w² = fan_in·weight_var:
//!
//! * forward: q^l = σ_w²(l)·E[a_{l−1}²] + bias_var_l, and h_l ~ N(bias_mean_l, q^l)
//!   over the elements (batch × features). Zero-mean weights cancel every mean,
//!   so only the *second moment* E[a²] of the previous layer propagates.
//! * backward: χ₁^l = σ_w²(l)·E[φ_l′(h_l)²] is the factor by which layer l maps
//!   ‖dL/da_l‖² back to ‖dL/da_{l−1}‖², since E‖dH·W‖_F² = fan_in·v·‖dH‖_F² and
//!   ‖dH‖² ≈ E[φ′²]·‖dA‖² (the gradient-independence assumption). This is the
//!   mean squared singular value of the layer Jacobian ∂a_l/∂a_{l−1} = D_l·W_l;
//!   for a network with one σ_w² it equals Poole et al.'s χ₁ at q^l.
//!
//! The predictions are ensemble means over weight draws. One network's sample
//! statistics scatter around them by O(1/√width) per layer, compounding with
//! depth; nonzero activation or bias means scatter most, since each feature's
//! offset is then shared by the whole batch (q^l at layer 4 of a width-256
//! relu stack with means varies by ~15% between draws).

mod numerics;
mod of_model;
mod residual;

pub use numerics::{digamma, normal_expectation, trigamma};
pub use of_model::of_model;
pub use residual::of_residual;

use crate::activation::Activation;
use crate::config::Loss;
use crate::results::Prediction;

/// One layer as the theory sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LayerInput {
    pub fan_in: usize,
    pub fan_out: usize,
    pub activation: Activation,
    /// Per-element variance of the weight entries (e.g. gain²·2/(fan_in+fan_out)
    /// for xavier, gain²/max(fan_in, fan_out) for orthogonal).
    pub weight_var: f64,
    /// Per-element mean of the weight entries (0 for the usual schemes; constant
    /// init has var 0, mean c). Any nonzero mean makes `predict` return None.
    pub weight_mean: f64,
    /// Per-element variance and mean of the bias (0, 0 when no bias).
    pub bias_var: f64,
    pub bias_mean: f64,
    /// Weights are (scaled) orthogonal rather than i.i.d.
    pub orthogonal: bool,
    /// Weights are i.i.d. Gaussian (normal/xavier_normal/kaiming_normal/...) —
    /// needed for the finite-width log-norm band.
    pub gaussian: bool,
}

/// Closed-form predictions for a stack of `layers` fed with input entries of
/// mean `input_mean` and variance `input_var`.
///
/// Returns None where no theory applies: no layers, `batch` = 0, fans that do
/// not chain (fan_in of layer l ≠ fan_out of layer l−1), a nonzero weight mean,
/// a negative or non-finite variance or mean, or any prediction that overflows.
///
/// `method` is `"linear_exact"` when every activation is the identity: the
/// moments (`preact_var`, `act_mean_abs`, `act_std` as the root of the exact
/// variance) are then exact expectations over the weights at any width, with
/// biases and input mean; `grad_act_norm_rel` is exact as well for the `mean`
/// and `sum` losses, whose dL/da_{L−1} does not depend on the weights.
/// Otherwise `"mean_field"` (the infinite-width limit).
/// `batch` only has to be ≥ 1: the per-element predictions do not depend on it.
/// `loss` is ignored: it sets ‖dL/da_{L−1}‖ itself, but the predicted gradient
/// norms are relative to that last layer's, which the loss scale cancels.
pub fn predict(
    input_mean: f64,
    input_var: f64,
    batch: usize,
    layers: &[LayerInput],
    loss: Loss,
) -> Option<Prediction> {
    let _ = loss;
    if batch == 0 || !inputs_valid(input_mean, input_var, layers) {
        return None;
    }
    let linear = layers.iter().all(|l| l.activation == Activation::Identity);
    let input_second = input_var + input_mean * input_mean;
    let fwd = forward(input_second, layers)?;
    let grad_act_norm_rel = backward_norms(&fwd.chi1);
    let depth_scale = depth_scale(&fwd.chi1);
    let (log_norm_mean, log_norm_var) = if linear {
        log_norm_band(input_second, layers).unzip()
    } else {
        (None, None)
    };
    let prediction = Prediction {
        method: if linear { "linear_exact" } else { "mean_field" }.to_string(),
        preact_var: fwd.preact_var,
        act_std: fwd.act_std,
        act_mean_abs: fwd.act_mean_abs,
        chi1: fwd.chi1,
        grad_act_norm_rel,
        depth_scale,
        log_norm_mean,
        log_norm_var,
    };
    all_finite(&prediction).then_some(prediction)
}

/// Checks what the theory assumes of its inputs (see `predict`).
fn inputs_valid(input_mean: f64, input_var: f64, layers: &[LayerInput]) -> bool {
    let nonneg = |v: f64| v.is_finite() && v >= 0.0;
    if layers.is_empty() || !input_mean.is_finite() || !nonneg(input_var) {
        return false;
    }
    let chained = layers.windows(2).all(|w| w[1].fan_in == w[0].fan_out);
    chained
        && layers.iter().all(|l| {
            l.fan_in > 0
                && l.fan_out > 0
                && l.weight_mean == 0.0
                && nonneg(l.weight_var)
                && nonneg(l.bias_var)
                && l.bias_mean.is_finite()
        })
}

/// Per-layer forward predictions and gradient factors.
struct Forward {
    preact_var: Vec<f64>,
    act_std: Vec<f64>,
    act_mean_abs: Vec<f64>,
    chi1: Vec<f64>,
}

/// The variance recursion q^l = σ_w²·E[a_{l−1}²] + σ_b², with the moments of
/// a_l = φ(h_l), h_l ~ N(bias_mean, q^l). None once anything is not finite.
fn forward(input_second: f64, layers: &[LayerInput]) -> Option<Forward> {
    let n = layers.len();
    let mut out = Forward {
        preact_var: Vec::with_capacity(n),
        act_std: Vec::with_capacity(n),
        act_mean_abs: Vec::with_capacity(n),
        chi1: Vec::with_capacity(n),
    };
    let mut second = input_second;
    for layer in layers {
        let sigma_w2 = layer.fan_in as f64 * layer.weight_var;
        let q = sigma_w2 * second + layer.bias_var;
        let m = moments(layer.activation, layer.bias_mean, q)?;
        out.preact_var.push(q);
        out.act_std.push(m.var.sqrt());
        out.act_mean_abs.push(m.mean.abs());
        out.chi1.push(sigma_w2 * m.deriv_sq);
        second = m.second;
    }
    Some(out)
}

/// E[φ(h)], Var[φ(h)], E[φ(h)²] and E[φ′(h)²] for h ~ N(mean, var).
pub(crate) struct Moments {
    pub mean: f64,
    pub var: f64,
    pub second: f64,
    pub deriv_sq: f64,
}

pub(crate) fn moments(act: Activation, mean: f64, var: f64) -> Option<Moments> {
    let m = if act == Activation::Identity {
        // Exact, so that linear stacks carry no quadrature error at all.
        let second = var + mean * mean;
        Moments {
            mean,
            var,
            second,
            deriv_sq: 1.0,
        }
    } else {
        // Moments of φ(h) − φ(mean): small when q is, so the variance does
        // not come from cancelling two large second moments.
        let c = act.forward(mean);
        let [e1, e2, d2] = numerics::expect_normal(mean, var.sqrt(), |h| {
            let (y, d) = (act.forward(h) - c, act.derivative(h));
            [y, y * y, d * d]
        });
        let (mean, var) = (c + e1, (e2 - e1 * e1).max(0.0));
        Moments {
            mean,
            var,
            second: var + mean * mean,
            deriv_sq: d2,
        }
    };
    let finite = [m.mean, m.var, m.second, m.deriv_sq]
        .iter()
        .all(|x| x.is_finite());
    finite.then_some(m)
}

/// ‖dL/da_l‖ / ‖dL/da_{L−1}‖ from E‖dL/da_{l−1}‖² = χ₁^l·E‖dL/da_l‖².
fn backward_norms(chi1: &[f64]) -> Vec<f64> {
    let mut rel = vec![1.0; chi1.len()];
    for l in (1..chi1.len()).rev() {
        rel[l - 1] = rel[l] * chi1[l].sqrt();
    }
    rel
}

/// ξ = −1/ln χ₁ at the last hidden layer (layer L−2; layer 0 when L = 1), whose
/// q approximates the fixed point q* in a deep network: the squared gradient
/// norm changes by a factor e every |ξ| layers, shrinking for ξ > 0 (χ₁ < 1)
/// and growing for ξ < 0 (χ₁ > 1). None within 1e-9 of criticality.
fn depth_scale(chi1: &[f64]) -> Option<f64> {
    let chi = *chi1.get(chi1.len().saturating_sub(2))?;
    if (chi - 1.0).abs() <= 1e-9 {
        return None;
    }
    let xi = -1.0 / chi.ln();
    xi.is_finite().then_some(xi)
}

/// Mean and variance, per layer, of ln(‖x_l‖²/E‖x_l‖²) for one input sample,
/// over the weight draws (E also over the weights, the input held fixed).
///
/// Given x_{l−1}, an i.i.d. N(0, v) layer gives ‖x_l‖² = v‖x_{l−1}‖²·χ²_n with
/// n = fan_out, and E ln(χ²_n/n) = ψ(n/2) − ln(n/2), Var ln χ²_n = ψ′(n/2),
/// independently across layers. A scaled orthogonal layer with fan_out ≥ fan_in
/// multiplies ‖x‖² by exactly gain², adding nothing. None otherwise: with
/// biases the norm is no longer a product of independent factors; for
/// orthogonal with fan_out < fan_in (a projection) the factor's law depends on
/// the widths in a way not derived here; for non-Gaussian i.i.d. weights
/// (uniform) the law of ‖Wx‖² depends on the fourth moments of x itself
/// (Σx_j⁴/‖x‖⁴), so there is no closed form in terms of the widths alone.
fn log_norm_band(input_second: f64, layers: &[LayerInput]) -> Option<(Vec<f64>, Vec<f64>)> {
    if input_second <= 0.0 {
        return None; // a zero input has no logarithm
    }
    let (mut mean, mut var) = (Vec::new(), Vec::new());
    let (mut m, mut s) = (0.0, 0.0);
    for l in layers {
        if l.bias_var != 0.0 || l.bias_mean != 0.0 || l.weight_var <= 0.0 {
            return None;
        }
        let (dm, dv) = match (l.orthogonal, l.gaussian) {
            (true, false) if l.fan_out >= l.fan_in => (0.0, 0.0),
            (false, true) => {
                let half = l.fan_out as f64 / 2.0;
                (numerics::digamma_minus_ln(half), trigamma(half))
            }
            _ => return None,
        };
        m += dm;
        s += dv;
        mean.push(m);
        var.push(s);
    }
    Some((mean, var))
}

fn all_finite(p: &Prediction) -> bool {
    let vecs = [
        &p.preact_var,
        &p.act_std,
        &p.act_mean_abs,
        &p.chi1,
        &p.grad_act_norm_rel,
    ];
    let opt = [&p.log_norm_mean, &p.log_norm_var];
    vecs.iter().all(|v| v.iter().all(|x| x.is_finite()))
        && opt
            .iter()
            .all(|o| o.iter().flatten().all(|x| x.is_finite()))
}

#[cfg(test)]
mod monte_carlo_tests;
#[cfg(test)]
mod tests;
