//! Activation functions: names, parameters and exact f64 math.
//!
//! The GPU kernels in `shaders/activation.wgsl` implement the same formulas in
//! f32; the f64 versions here serve the CPU reference and the theory module.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// SELU constants, as in torch.nn.SELU.
pub const SELU_ALPHA: f64 = 1.673_263_242_354_377_3;
/// SELU scale, as in torch.nn.SELU.
pub const SELU_SCALE: f64 = 1.050_700_987_355_480_5;

/// An elementwise nonlinearity applied after a linear layer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Activation {
    Identity,
    Tanh,
    Relu,
    /// `max(x, slope·x)`; torch's default slope is 0.01.
    LeakyRelu {
        slope: f64,
    },
    /// Exact GELU, x·Φ(x), torch's default.
    Gelu,
    /// GELU's tanh approximation (`approximate="tanh"`).
    GeluTanh,
    Silu,
    Sigmoid,
    Selu,
    /// ELU with parameter alpha (torch default 1.0).
    Elu {
        alpha: f64,
    },
}

/// Every activation name the manifest accepts.
pub const ACTIVATION_NAMES: &[&str] = &[
    "identity",
    "linear",
    "tanh",
    "relu",
    "leaky_relu",
    "gelu",
    "gelu_tanh",
    "silu",
    "sigmoid",
    "selu",
    "elu",
];

impl Activation {
    /// Parses a name with default parameters (`leaky_relu` slope 0.01, `elu` alpha 1).
    pub fn from_name(name: &str) -> Option<Activation> {
        Some(match name {
            "identity" | "linear" => Activation::Identity,
            "tanh" => Activation::Tanh,
            "relu" => Activation::Relu,
            "leaky_relu" => Activation::LeakyRelu { slope: 0.01 },
            "gelu" => Activation::Gelu,
            "gelu_tanh" => Activation::GeluTanh,
            "silu" => Activation::Silu,
            "sigmoid" => Activation::Sigmoid,
            "selu" => Activation::Selu,
            "elu" => Activation::Elu { alpha: 1.0 },
            _ => return None,
        })
    }

    /// One of every activation, with default parameters, in opcode order
    /// (for tests that must cover them all).
    pub fn all() -> Vec<Activation> {
        ACTIVATION_NAMES
            .iter()
            .filter(|n| **n != "linear")
            .filter_map(|n| Activation::from_name(n))
            .collect()
    }

    /// The canonical snake_case name.
    pub fn name(&self) -> &'static str {
        match self {
            Activation::Identity => "identity",
            Activation::Tanh => "tanh",
            Activation::Relu => "relu",
            Activation::LeakyRelu { .. } => "leaky_relu",
            Activation::Gelu => "gelu",
            Activation::GeluTanh => "gelu_tanh",
            Activation::Silu => "silu",
            Activation::Sigmoid => "sigmoid",
            Activation::Selu => "selu",
            Activation::Elu { .. } => "elu",
        }
    }

    /// The opcode used by `shaders/activation.wgsl` and its one f32 parameter.
    pub fn gpu_code(&self) -> (u32, f32) {
        match *self {
            Activation::Identity => (0, 0.0),
            Activation::Tanh => (1, 0.0),
            Activation::Relu => (2, 0.0),
            Activation::LeakyRelu { slope } => (3, slope as f32),
            Activation::Gelu => (4, 0.0),
            Activation::GeluTanh => (5, 0.0),
            Activation::Silu => (6, 0.0),
            Activation::Sigmoid => (7, 0.0),
            Activation::Selu => (8, 0.0),
            Activation::Elu { alpha } => (9, alpha as f32),
        }
    }

    /// φ(x) in f64.
    pub fn forward(&self, x: f64) -> f64 {
        match *self {
            Activation::Identity => x,
            Activation::Tanh => x.tanh(),
            Activation::Relu => x.max(0.0),
            Activation::LeakyRelu { slope } => {
                if x > 0.0 {
                    x
                } else {
                    slope * x
                }
            }
            Activation::Gelu => x * norm_cdf(x),
            Activation::GeluTanh => 0.5 * x * (1.0 + gelu_tanh_inner(x).tanh()),
            Activation::Silu => x * sigmoid(x),
            Activation::Sigmoid => sigmoid(x),
            Activation::Selu => {
                if x > 0.0 {
                    SELU_SCALE * x
                } else {
                    SELU_SCALE * SELU_ALPHA * x.exp_m1()
                }
            }
            Activation::Elu { alpha } => {
                if x > 0.0 {
                    x
                } else {
                    alpha * x.exp_m1()
                }
            }
        }
    }

    /// φ'(x) in f64. At kinks (relu at 0) it takes torch's convention: the
    /// left derivative for relu/leaky_relu (torch uses 0 for relu at 0).
    pub fn derivative(&self, x: f64) -> f64 {
        match *self {
            Activation::Identity => 1.0,
            Activation::Tanh => {
                let t = x.tanh();
                1.0 - t * t
            }
            Activation::Relu => {
                if x > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
            Activation::LeakyRelu { slope } => {
                if x > 0.0 {
                    1.0
                } else {
                    slope
                }
            }
            Activation::Gelu => norm_cdf(x) + x * norm_pdf(x),
            Activation::GeluTanh => {
                let k = (2.0 / std::f64::consts::PI).sqrt();
                let t = gelu_tanh_inner(x).tanh();
                0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * k * (1.0 + 3.0 * 0.044715 * x * x)
            }
            Activation::Silu => {
                let s = sigmoid(x);
                s * (1.0 + x * (1.0 - s))
            }
            Activation::Sigmoid => {
                let s = sigmoid(x);
                s * (1.0 - s)
            }
            Activation::Selu => {
                if x > 0.0 {
                    SELU_SCALE
                } else {
                    SELU_SCALE * SELU_ALPHA * x.exp()
                }
            }
            Activation::Elu { alpha } => {
                if x > 0.0 {
                    1.0
                } else {
                    alpha * x.exp()
                }
            }
        }
    }

    /// True where outputs are bounded and "saturation" (|a| near the bound) is meaningful.
    pub fn saturates(&self) -> bool {
        matches!(self, Activation::Tanh | Activation::Sigmoid)
    }
}

impl fmt::Display for Activation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Activation::LeakyRelu { slope } => write!(f, "leaky_relu({slope})"),
            Activation::Elu { alpha } => write!(f, "elu({alpha})"),
            other => f.write_str(other.name()),
        }
    }
}

fn gelu_tanh_inner(x: f64) -> f64 {
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

impl Serialize for Activation {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match *self {
            Activation::LeakyRelu { slope } => ActivationObj {
                name: "leaky_relu".into(),
                slope: Some(slope),
                alpha: None,
            }
            .serialize(s),
            Activation::Elu { alpha } => ActivationObj {
                name: "elu".into(),
                slope: None,
                alpha: Some(alpha),
            }
            .serialize(s),
            other => s.serialize_str(other.name()),
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ActivationObj {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    slope: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    alpha: Option<f64>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ActivationRepr {
    Name(String),
    Obj(ActivationObj),
}

impl<'de> Deserialize<'de> for Activation {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let repr = ActivationRepr::deserialize(d).map_err(|_| {
            D::Error::custom(
                "expected an activation name such as \"tanh\", or {\"name\": \"leaky_relu\", \"slope\": 0.2}",
            )
        })?;
        let (name, slope, alpha) = match repr {
            ActivationRepr::Name(n) => (n, None, None),
            ActivationRepr::Obj(o) => (o.name, o.slope, o.alpha),
        };
        let mut act = Activation::from_name(&name).ok_or_else(|| {
            D::Error::custom(format!(
                "unknown activation \"{name}\"{}; expected one of {}",
                crate::suggest::did_you_mean(&name, ACTIVATION_NAMES),
                ACTIVATION_NAMES.join(", ")
            ))
        })?;
        match (&mut act, slope, alpha) {
            (Activation::LeakyRelu { slope: s }, Some(v), None) => *s = v,
            (Activation::Elu { alpha: a }, None, Some(v)) => *a = v,
            (_, None, None) => {}
            (a, _, _) => {
                return Err(D::Error::custom(format!(
                    "activation \"{}\" takes {}",
                    a.name(),
                    match a {
                        Activation::LeakyRelu { .. } => "only \"slope\"",
                        Activation::Elu { .. } => "only \"alpha\"",
                        _ => "no parameters",
                    }
                )));
            }
        }
        Ok(act)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derivatives_match_finite_differences() {
        let acts = [
            Activation::Identity,
            Activation::Tanh,
            Activation::Relu,
            Activation::LeakyRelu { slope: 0.2 },
            Activation::Gelu,
            Activation::GeluTanh,
            Activation::Silu,
            Activation::Sigmoid,
            Activation::Selu,
            Activation::Elu { alpha: 0.7 },
        ];
        for a in acts {
            for &x in &[-3.1, -1.2, -0.3, 0.25, 0.9, 2.7] {
                let h = 1e-6;
                let fd = (a.forward(x + h) - a.forward(x - h)) / (2.0 * h);
                let d = a.derivative(x);
                assert!(
                    (fd - d).abs() < 1e-7 * (1.0 + d.abs()),
                    "{a} at {x}: fd {fd} vs {d}"
                );
            }
        }
    }

    #[test]
    fn erf_known_values() {
        assert!((erf(0.5) - 0.520_499_877_813_046_5).abs() < 1e-15);
        assert!((erf(1.0) - 0.842_700_792_949_714_9).abs() < 1e-15);
        assert!((erfc(3.0) - 2.209_049_699_858_544e-5).abs() < 1e-18);
        assert!((erfc(-3.0) - (2.0 - 2.209_049_699_858_544e-5)).abs() < 1e-15);
        assert!((norm_cdf(1.959_963_984_540_054) - 0.975).abs() < 1e-14);
    }

    #[test]
    fn serde_round_trip_and_errors() {
        let a: Activation = serde_json::from_str("\"tanh\"").unwrap();
        assert_eq!(a, Activation::Tanh);
        let a: Activation = serde_json::from_str(r#"{"name":"leaky_relu","slope":0.2}"#).unwrap();
        assert_eq!(a, Activation::LeakyRelu { slope: 0.2 });
        assert_eq!(
            serde_json::to_string(&a).unwrap(),
            r#"{"name":"leaky_relu","slope":0.2}"#
        );
        let e = serde_json::from_str::<Activation>("\"tahn\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("did you mean \"tanh\""), "{e}");
    }
}
