//! What a scheme resolves to for one tensor: a [`Sampler`], pure math that
//! the GPU draws from (`kernels::init`, `kernels::orthogonal`) and whose
//! moments feed the theory.

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

pub(crate) fn trunc_normal_moments(mean: f64, std: f64, a: f64, b: f64) -> (f64, f64) {
    use crate::activation::{norm_cdf, norm_pdf};
    let (al, be) = ((a - mean) / std, (b - mean) / std);
    let z = norm_cdf(be) - norm_cdf(al);
    let (pa, pb) = (norm_pdf(al), norm_pdf(be));
    let m = mean + std * (pa - pb) / z;
    let v = std * std * (1.0 + (al * pa - be * pb) / z - ((pa - pb) / z).powi(2));
    (m, v)
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
