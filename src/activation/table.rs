//! The activation table. Adding an activation is one row here plus its two
//! cases in `shaders/activation.wgsl` (forward and derivative, under the
//! generated constant `ACT_<NAME>`); the opcode, the manifest name, the
//! validation, the JSON Schema and the README table all follow from the row.

use super::math::{SELU_ALPHA, SELU_SCALE, gelu_tanh_inner, norm_cdf, norm_pdf, sigmoid};
use super::{ActivationDef, Param};
use crate::registry::Case;

/// leaky_relu's parameter.
static SLOPE: Param = Param::new("slope", 0.01, "negative slope: φ(x) = slope·x for x < 0");
/// elu's parameter.
static ALPHA: Param = Param::new("alpha", 1.0, "φ(x) = alpha·(eˣ − 1) for x < 0");

activation_table! {
    /// φ(x) = x.
    Identity => ActivationDef {
        case: Case { aliases: &["linear"], ..Case::new("identity", &[], "x (no nonlinearity)") },
        gain: Some(|_| 1.0),
        saturates: false,
        forward: |x, _| x,
        derivative: |_, _| 1.0,
    },
    Tanh => ActivationDef {
        case: Case::new("tanh", &[], "tanh(x)"),
        gain: Some(|_| 5.0 / 3.0),
        saturates: true,
        forward: |x, _| x.tanh(),
        derivative: |x, _| {
            let t = x.tanh();
            1.0 - t * t
        },
    },
    Relu => ActivationDef {
        case: Case::new("relu", &[], "max(x, 0)"),
        gain: Some(|_| 2f64.sqrt()),
        saturates: false,
        forward: |x, _| x.max(0.0),
        // torch's convention at the kink: 0 at x = 0.
        derivative: |x, _| if x > 0.0 { 1.0 } else { 0.0 },
    },
    /// `max(x, slope·x)`; torch's default slope is 0.01.
    LeakyRelu { slope } => ActivationDef {
        case: Case::new("leaky_relu", SLOPE.fields(), "x for x > 0, slope·x otherwise"),
        gain: Some(|s| (2.0 / (1.0 + s * s)).sqrt()),
        saturates: false,
        forward: |x, s| if x > 0.0 { x } else { s * x },
        derivative: |x, s| if x > 0.0 { 1.0 } else { s },
    },
    /// Exact GELU, x·Φ(x), torch's default.
    Gelu => ActivationDef {
        case: Case::new("gelu", &[], "x·Φ(x), exact (erf)"),
        gain: None,
        saturates: false,
        forward: |x, _| x * norm_cdf(x),
        derivative: |x, _| norm_cdf(x) + x * norm_pdf(x),
    },
    /// GELU's tanh approximation (`approximate="tanh"`).
    GeluTanh => ActivationDef {
        case: Case::new("gelu_tanh", &[], "GELU's tanh approximation (approximate=\"tanh\")"),
        gain: None,
        saturates: false,
        forward: |x, _| 0.5 * x * (1.0 + gelu_tanh_inner(x).tanh()),
        derivative: |x, _| {
            let k = (2.0 / std::f64::consts::PI).sqrt();
            let t = gelu_tanh_inner(x).tanh();
            0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * k * (1.0 + 3.0 * 0.044715 * x * x)
        },
    },
    Silu => ActivationDef {
        case: Case::new("silu", &[], "x·sigmoid(x)"),
        gain: None,
        saturates: false,
        forward: |x, _| x * sigmoid(x),
        derivative: |x, _| {
            let s = sigmoid(x);
            s * (1.0 + x * (1.0 - s))
        },
    },
    Sigmoid => ActivationDef {
        case: Case::new("sigmoid", &[], "1/(1 + e⁻ˣ)"),
        gain: Some(|_| 1.0),
        saturates: true,
        forward: |x, _| sigmoid(x),
        derivative: |x, _| {
            let s = sigmoid(x);
            s * (1.0 - s)
        },
    },
    Selu => ActivationDef {
        case: Case::new("selu", &[], "torch's SELU (scale 1.0507, alpha 1.6733)"),
        gain: Some(|_| 0.75),
        saturates: false,
        forward: |x, _| if x > 0.0 { SELU_SCALE * x } else { SELU_SCALE * SELU_ALPHA * x.exp_m1() },
        derivative: |x, _| if x > 0.0 { SELU_SCALE } else { SELU_SCALE * SELU_ALPHA * x.exp() },
    },
    /// ELU with parameter alpha (torch default 1.0).
    Elu { alpha } => ActivationDef {
        case: Case::new("elu", ALPHA.fields(), "x for x > 0, alpha·(eˣ − 1) otherwise"),
        gain: None,
        saturates: false,
        forward: |x, a| if x > 0.0 { x } else { a * x.exp_m1() },
        derivative: |x, a| if x > 0.0 { 1.0 } else { a * x.exp() },
    },
}
