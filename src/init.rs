//! Initialization schemes as math: torch's gains and fans resolve a scheme
//! against a tensor's shape and the layer's activation into a [`Sampler`],
//! whose moments feed the theory. Sampling is the GPU's job
//! (`kernels::init`, `kernels::orthogonal`).

use crate::activation::Activation;
use crate::config::{FanMode, Gain, Init};
use std::path::Path;

/// A scheme resolved against a tensor's shape and the layer's activation.
#[derive(Debug, Clone, PartialEq)]
pub enum Sampler {
    /// Independent elements drawn from a mixture of elementwise components
    /// (a plain scheme is one component with weight 1).
    Elementwise(Vec<(f64, Component)>),
    /// torch.nn.init.sparse_: `num_zeros` entries of each column zeroed, the rest N(0, std²).
    Sparse { num_zeros: u32, std: f64 },
    /// Haar-orthogonal (rows or columns orthonormal) times `gain`.
    Orthogonal { gain: f64 },
    /// Exact values loaded from a safetensors file.
    Values(Vec<f32>),
}

/// An elementwise distribution.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Component {
    Constant(f64),
    Uniform { lo: f64, hi: f64 },
    Normal { mean: f64, std: f64 },
    TruncNormal { mean: f64, std: f64, a: f64, b: f64 },
}

impl Component {
    /// (mean, variance) of the distribution.
    pub fn moments(&self) -> (f64, f64) {
        match *self {
            Component::Constant(v) => (v, 0.0),
            Component::Uniform { lo, hi } => ((lo + hi) / 2.0, (hi - lo).powi(2) / 12.0),
            Component::Normal { mean, std } => (mean, std * std),
            Component::TruncNormal { mean, std, a, b } => trunc_normal_moments(mean, std, a, b),
        }
    }
}

fn trunc_normal_moments(mean: f64, std: f64, a: f64, b: f64) -> (f64, f64) {
    use crate::activation::{norm_cdf, norm_pdf};
    let (al, be) = ((a - mean) / std, (b - mean) / std);
    let z = norm_cdf(be) - norm_cdf(al);
    let (pa, pb) = (norm_pdf(al), norm_pdf(be));
    let m = mean + std * (pa - pb) / z;
    let v = std * std * (1.0 + (al * pa - be * pb) / z - ((pa - pb) / z).powi(2));
    (m, v)
}

/// Why a scheme could not be resolved for a layer.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{0}")]
pub struct InitError(pub String);

/// torch.nn.init.calculate_gain: `param` is leaky_relu's negative slope (default 0.01).
pub fn calculate_gain(nonlinearity: &str, param: Option<f64>) -> Option<f64> {
    Some(match nonlinearity {
        "linear" | "identity" | "conv1d" | "conv2d" | "conv3d" | "conv_transpose1d"
        | "conv_transpose2d" | "conv_transpose3d" | "sigmoid" => 1.0,
        "tanh" => 5.0 / 3.0,
        "relu" => 2f64.sqrt(),
        "leaky_relu" => {
            let s = param.unwrap_or(0.01);
            (2.0 / (1.0 + s * s)).sqrt()
        }
        "selu" => 0.75,
        _ => return None,
    })
}

/// The gain of an activation, for `"gain": "auto"`.
pub fn gain_of_activation(act: Activation) -> Result<f64, InitError> {
    match act {
        Activation::LeakyRelu { slope } => Ok(calculate_gain("leaky_relu", Some(slope)).unwrap_or(1.0)),
        a => calculate_gain(a.name(), None).ok_or_else(|| {
            InitError(format!(
                "\"gain\": \"auto\" has no torch value for {a} (calculate_gain knows linear, sigmoid, tanh, relu, \
                 leaky_relu, selu); give a number instead"
            ))
        }),
    }
}

/// Resolves a gain against the layer's activation.
pub fn resolve_gain(g: &Gain, act: Activation) -> Result<f64, InitError> {
    match g {
        Gain::Value(v) => Ok(*v),
        Gain::Name(n) if n == "auto" => gain_of_activation(act),
        Gain::Name(n) => calculate_gain(n, None).ok_or_else(|| {
            InitError(format!(
                "unknown gain \"{n}\"; use a number, \"auto\" or a nonlinearity name"
            ))
        }),
    }
}

/// The shape an init is applied to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// Rows (fan_out for a weight, the length for a vector).
    pub rows: usize,
    /// Columns (fan_in for a weight, 1 for a vector).
    pub cols: usize,
    /// fan_in of the layer (used by `torch_default` biases).
    pub fan_in: usize,
    pub fan_out: usize,
}

impl Shape {
    /// A weight of shape (fan_out, fan_in).
    pub fn weight(fan_in: usize, fan_out: usize) -> Shape {
        Shape {
            rows: fan_out,
            cols: fan_in,
            fan_in,
            fan_out,
        }
    }
    /// A bias of length fan_out.
    pub fn bias(fan_in: usize, fan_out: usize) -> Shape {
        Shape {
            rows: fan_out,
            cols: 1,
            fan_in,
            fan_out,
        }
    }
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.rows * self.cols
    }
    /// True when the tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn one(c: Component) -> Sampler {
    Sampler::Elementwise(vec![(1.0, c)])
}

/// Resolves `init` for a tensor of `shape` in a layer with activation `act`.
/// `LSUV` resolves to its pre-initialization (the rescaling happens in the stack).
pub fn sampler(
    init: &Init,
    shape: Shape,
    act: Activation,
    base_dir: Option<&Path>,
) -> Result<Sampler, InitError> {
    let (fi, fo) = (shape.fan_in as f64, shape.fan_out as f64);
    let uni = |bound: f64| {
        one(Component::Uniform {
            lo: -bound,
            hi: bound,
        })
    };
    let nor = |std: f64| one(Component::Normal { mean: 0.0, std });
    Ok(match init {
        Init::Zeros => one(Component::Constant(0.0)),
        Init::Ones => one(Component::Constant(1.0)),
        Init::Constant { value } => one(Component::Constant(*value)),
        Init::Uniform { a, b } => one(Component::Uniform { lo: *a, hi: *b }),
        Init::Normal { mean, std } => one(Component::Normal {
            mean: *mean,
            std: *std,
        }),
        Init::TruncNormal { mean, std, a, b } => one(Component::TruncNormal {
            mean: *mean,
            std: *std,
            a: *a,
            b: *b,
        }),
        Init::XavierUniform { gain } => uni(resolve_gain(gain, act)? * (6.0 / (fi + fo)).sqrt()),
        Init::XavierNormal { gain } => nor(resolve_gain(gain, act)? * (2.0 / (fi + fo)).sqrt()),
        Init::KaimingUniform {
            a,
            mode,
            nonlinearity,
        } => uni(3f64.sqrt() * kaiming_std(*a, *mode, nonlinearity, fi, fo)?),
        Init::KaimingNormal {
            a,
            mode,
            nonlinearity,
        } => nor(kaiming_std(*a, *mode, nonlinearity, fi, fo)?),
        Init::LecunUniform => uni((3.0 / fi).sqrt()),
        Init::LecunNormal | Init::ScaledNormal => nor((1.0 / fi).sqrt()),
        Init::TorchDefault => uni(1.0 / fi.sqrt()),
        Init::Orthogonal { gain } => Sampler::Orthogonal {
            gain: resolve_gain(gain, act)?,
        },
        Init::Sparse { sparsity, std } => Sampler::Sparse {
            num_zeros: (sparsity * shape.rows as f64).ceil() as u32,
            std: *std,
        },
        Init::Mixture { components } => {
            let mut parts = Vec::new();
            for c in components {
                match sampler(&c.dist, shape, act, base_dir)? {
                    Sampler::Elementwise(v) if v.len() == 1 => parts.push((c.weight, v[0].1)),
                    _ => {
                        return Err(InitError(format!(
                            "mixture component {} is not elementwise",
                            c.dist.name()
                        )));
                    }
                }
            }
            Sampler::Elementwise(parts)
        }
        Init::FromFile { path, tensor } => {
            let p = match base_dir {
                Some(d) if path.is_relative() => d.join(path),
                _ => path.clone(),
            };
            Sampler::Values(load_tensor(&p, tensor, shape)?)
        }
        Init::Lsuv { pre, .. } => sampler(pre, shape, act, base_dir)?,
    })
}

fn kaiming_std(
    a: f64,
    mode: FanMode,
    nonlinearity: &str,
    fi: f64,
    fo: f64,
) -> Result<f64, InitError> {
    let gain = calculate_gain(nonlinearity, Some(a))
        .ok_or_else(|| InitError(format!("unknown nonlinearity \"{nonlinearity}\"")))?;
    let fan = if mode == FanMode::FanIn { fi } else { fo };
    Ok(gain / fan.sqrt())
}

/// Loads `tensor` from a safetensors file and checks its shape and dtype.
pub fn load_tensor(path: &Path, tensor: &str, shape: Shape) -> Result<Vec<f32>, InitError> {
    let bytes = std::fs::read(path)
        .map_err(|e| InitError(format!("cannot read {}: {e}", path.display())))?;
    let st = safetensors::SafeTensors::deserialize(&bytes)
        .map_err(|e| InitError(format!("{} is not a safetensors file: {e}", path.display())))?;
    let view = st.tensor(tensor).map_err(|_| {
        let names: Vec<String> = st.names().into_iter().map(|s| s.to_string()).collect();
        let refs: Vec<&str> = names.iter().map(|s| s.as_str()).collect();
        InitError(format!(
            "{} has no tensor \"{tensor}\"{}; it holds: {}",
            path.display(),
            crate::suggest::did_you_mean(tensor, &refs),
            names.join(", ")
        ))
    })?;
    if view.dtype() != safetensors::Dtype::F32 {
        return Err(InitError(format!(
            "tensor \"{tensor}\" is {:?}; initscope loads F32 tensors",
            view.dtype()
        )));
    }
    let want: Vec<usize> = if shape.cols == 1 {
        vec![shape.rows]
    } else {
        vec![shape.rows, shape.cols]
    };
    if view.shape() != want.as_slice() {
        return Err(InitError(format!(
            "tensor \"{tensor}\" in {} has shape {:?}, but this layer needs {:?} (out, in)",
            path.display(),
            view.shape(),
            want
        )));
    }
    Ok(view
        .data()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

impl Sampler {
    /// Per-element (mean, variance) where the elements are i.i.d.; orthogonal
    /// rows/columns have per-element variance gain²/max(rows, cols)... reported
    /// as gain²/cols for rows ≤ cols (unit-norm rows) and gain²/rows otherwise.
    pub fn moments(&self, shape: Shape) -> Option<(f64, f64)> {
        match self {
            Sampler::Elementwise(parts) => {
                let mean: f64 = parts.iter().map(|(w, c)| w * c.moments().0).sum();
                let second: f64 = parts
                    .iter()
                    .map(|(w, c)| w * (c.moments().1 + c.moments().0.powi(2)))
                    .sum();
                Some((mean, second - mean * mean))
            }
            Sampler::Sparse { num_zeros, std } => {
                let keep = 1.0 - *num_zeros as f64 / shape.rows as f64;
                Some((0.0, std * std * keep))
            }
            Sampler::Orthogonal { gain } => {
                Some((0.0, gain * gain / shape.rows.max(shape.cols) as f64))
            }
            Sampler::Values(_) => None,
        }
    }

    /// Whether elements are i.i.d. Gaussian (for the finite-width theory).
    pub fn is_gaussian(&self) -> bool {
        matches!(self, Sampler::Elementwise(p) if p.len() == 1 && matches!(p[0].1, Component::Normal { .. }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gains_follow_torch_table() {
        assert_eq!(calculate_gain("tanh", None), Some(5.0 / 3.0));
        assert_eq!(calculate_gain("relu", None), Some(2f64.sqrt()));
        assert!(
            (calculate_gain("leaky_relu", Some(0.2)).unwrap() - (2.0 / 1.04f64).sqrt()).abs()
                < 1e-15
        );
        assert_eq!(calculate_gain("selu", None), Some(0.75));
        assert_eq!(calculate_gain("sigmoid", None), Some(1.0));
        assert_eq!(calculate_gain("swish", None), None);
        assert_eq!(
            resolve_gain(&Gain::Name("auto".into()), Activation::Tanh),
            Ok(5.0 / 3.0)
        );
        assert!(resolve_gain(&Gain::Name("auto".into()), Activation::Gelu).is_err());
    }

    #[test]
    fn schemes_resolve_to_torch_formulas() {
        let s = Shape::weight(512, 256);
        let a = Activation::Relu;
        let bound = |smp: Sampler| match smp {
            Sampler::Elementwise(v) => match v[0].1 {
                Component::Uniform { hi, .. } => hi,
                Component::Normal { std, .. } => std,
                _ => f64::NAN,
            },
            _ => f64::NAN,
        };
        let xu = Init::XavierUniform {
            gain: Gain::Value(2.0),
        };
        assert!(
            (bound(sampler(&xu, s, a, None).unwrap()) - 2.0 * (6.0f64 / 768.0).sqrt()).abs()
                < 1e-15
        );
        let ku = Init::KaimingUniform {
            a: 0.0,
            mode: FanMode::FanIn,
            nonlinearity: "relu".into(),
        };
        assert!((bound(sampler(&ku, s, a, None).unwrap()) - (6.0f64 / 512.0).sqrt()).abs() < 1e-15);
        let kn = Init::KaimingNormal {
            a: 0.0,
            mode: FanMode::FanOut,
            nonlinearity: "relu".into(),
        };
        assert!((bound(sampler(&kn, s, a, None).unwrap()) - (2.0f64 / 256.0).sqrt()).abs() < 1e-15);
        assert!(
            (bound(sampler(&Init::TorchDefault, s, a, None).unwrap()) - 1.0 / 512f64.sqrt()).abs()
                < 1e-15
        );
        let sp = sampler(
            &Init::Sparse {
                sparsity: 0.1,
                std: 0.01,
            },
            s,
            a,
            None,
        )
        .unwrap();
        assert_eq!(
            sp,
            Sampler::Sparse {
                num_zeros: 26,
                std: 0.01
            }
        );
    }

    #[test]
    fn trunc_normal_moments_match_closed_form() {
        // Against Simpson integration of the truncated density on [-1, 1.5], mean 0.3, std 0.8.
        let (mean, std, a, b) = (0.3, 0.8, -1.0, 1.5);
        let pdf = |x: f64| crate::activation::norm_pdf((x - mean) / std);
        let n = 20_000;
        let h = (b - a) / n as f64;
        let simpson = |f: &dyn Fn(f64) -> f64| {
            (0..=n)
                .map(|i| {
                    let w = if i == 0 || i == n {
                        1.0
                    } else if i % 2 == 1 {
                        4.0
                    } else {
                        2.0
                    };
                    w * f(a + i as f64 * h)
                })
                .sum::<f64>()
                * h
                / 3.0
        };
        let z = simpson(&pdf);
        let m1 = simpson(&|x| x * pdf(x)) / z;
        let m2 = simpson(&|x| x * x * pdf(x)) / z;
        let (m, v) = trunc_normal_moments(mean, std, a, b);
        assert!((m - m1).abs() < 1e-10, "{m} vs {m1}");
        assert!(
            (v - (m2 - m1 * m1)).abs() < 1e-10,
            "{v} vs {}",
            m2 - m1 * m1
        );
    }
}
