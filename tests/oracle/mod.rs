#![allow(dead_code)]
//! The f64 oracle for tests: a plain CPU reference of the forward pass, the loss, the backward pass and
//! per-tensor statistics: the oracle the GPU kernels are tested against.
//!
//! Clarity beats speed here, but loop orders keep every inner loop contiguous
//! so an 8 × 512 × 512 stack with batch 1000 takes a second or two (release).
//!
//! Conventions are PyTorch's: a weight is `(fan_out, fan_in)` row-major, an
//! activation `(batch, features)` row-major. Layer `l` computes
//! `H = X·Wᵀ + b` and `A = φ(H)`; backward takes `dA` and gives
//! `dH = dA ⊙ φ'(H)`, `dW = dHᵀ·X`, `db = Σ_batch dH`, `dX = dH·W`.

pub mod attention;
pub mod host_fill;
pub mod jacobian;
pub mod op_check;
pub mod ops;
pub mod train;

use initscope::activation::Activation;
use initscope::config::Loss;
use initscope::results::{Histogram, TensorStats};

/// One linear layer followed by its activation.
#[derive(Debug, Clone, PartialEq)]
pub struct RefLayer {
    pub fan_in: usize,
    pub fan_out: usize,
    pub activation: Activation,
    /// `(fan_out, fan_in)` row-major.
    pub weight: Vec<f64>,
    /// `fan_out` entries, if the layer has a bias.
    pub bias: Option<Vec<f64>>,
}

/// Everything one layer computes in a forward and backward pass; the
/// activation-shaped tensors are `(batch, fan_out)` row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct RefLayerPass {
    /// `H = X·Wᵀ + b`.
    pub preact: Vec<f64>,
    /// `A = φ(H)`.
    pub act: Vec<f64>,
    /// `dL/dA`.
    pub grad_act: Vec<f64>,
    /// `dL/dH = dL/dA ⊙ φ'(H)`.
    pub grad_preact: Vec<f64>,
    /// `dL/dW = dHᵀ·X`, `(fan_out, fan_in)`.
    pub grad_weight: Vec<f64>,
    /// `dL/db = Σ_batch dH`; `Some` exactly when the layer has a bias.
    pub grad_bias: Option<Vec<f64>>,
}

/// The loss and every layer's tensors, first layer first.
#[derive(Debug, Clone, PartialEq)]
pub struct RefPass {
    pub loss: f64,
    pub layers: Vec<RefLayerPass>,
}

/// Forward + loss + backward. `target` (`batch × n_out`) is required for
/// `Loss::Mse` and ignored otherwise. Every shape is checked before any work,
/// and a mismatch is an `Err`, never a panic.
pub fn forward_backward(
    input: &[f64],
    batch: usize,
    layers: &[RefLayer],
    loss: Loss,
    target: Option<&[f64]>,
) -> Result<RefPass, String> {
    let n_out = layers.last().map_or(0, |l| l.fan_out);
    check_target(loss, target, batch * n_out)?;
    forward_backward_with(input, batch, layers, &|y| loss_and_grad(y, loss, target))
}

/// A loss as a function of the output: (value, dL/dy).
pub type LossFn<'a> = &'a dyn Fn(&[f64]) -> Result<(f64, Vec<f64>), String>;

/// Forward + loss + backward with the loss given as a function of the
/// output returning (value, dL/dy).
pub fn forward_backward_with(
    input: &[f64],
    batch: usize,
    layers: &[RefLayer],
    loss_fn: LossFn<'_>,
) -> Result<RefPass, String> {
    validate(input, batch, layers)?;
    let mut fwd = forward_unchecked(input, batch, layers);
    let output = &fwd.last().ok_or("the stack has no layers")?.1;
    let (loss_value, mut grad_act) = loss_fn(output)?;

    // Walk the layers backwards, popping each layer's forward tensors; after
    // the pop, `fwd[l - 1]` still holds this layer's input.
    let mut passes = Vec::with_capacity(layers.len());
    for (l, layer) in layers.iter().enumerate().rev() {
        let layer_fwd = fwd.pop().ok_or("forward pass is missing a layer")?;
        let x = if l == 0 { input } else { &fwd[l - 1].1 };
        // Layer 0's input gradient is not returned, so its matmul is skipped.
        let (pass, grad_input) = backward_layer(layer, x, batch, layer_fwd, grad_act, l > 0);
        passes.push(pass);
        grad_act = grad_input;
    }
    passes.reverse();
    Ok(RefPass {
        loss: loss_value,
        layers: passes,
    })
}

/// One layer's backward step from its `dA`. Also returns `dX = dH·W`, the
/// previous layer's `dA`, when `want_input_grad` (else an empty vector).
fn backward_layer(
    layer: &RefLayer,
    x: &[f64],
    batch: usize,
    (preact, act): PreactAct,
    grad_act: Vec<f64>,
    want_input_grad: bool,
) -> (RefLayerPass, Vec<f64>) {
    let (fan_in, fan_out) = (layer.fan_in, layer.fan_out);
    let grad_preact: Vec<f64> = grad_act
        .iter()
        .zip(&preact)
        .map(|(&g, &h)| g * layer.activation.derivative(h))
        .collect();
    let grad_weight = matmul(
        &transpose(&grad_preact, batch, fan_out),
        x,
        fan_out,
        batch,
        fan_in,
    );
    let grad_bias = layer.bias.as_ref().map(|_| {
        let mut db = vec![0.0; fan_out];
        for row in grad_preact.chunks_exact(fan_out) {
            axpy(1.0, row, &mut db);
        }
        db
    });
    let grad_input = if want_input_grad {
        matmul(&grad_preact, &layer.weight, batch, fan_out, fan_in)
    } else {
        Vec::new()
    };
    let pass = RefLayerPass {
        preact,
        act,
        grad_act,
        grad_preact,
        grad_weight,
        grad_bias,
    };
    (pass, grad_input)
}

/// One layer's `(preact, act)`, each `(batch, fan_out)` row-major.
pub type PreactAct = (Vec<f64>, Vec<f64>);

/// Forward only: each layer's `(preact, act)`, first layer first.
pub fn forward(input: &[f64], batch: usize, layers: &[RefLayer]) -> Result<Vec<PreactAct>, String> {
    validate(input, batch, layers)?;
    Ok(forward_unchecked(input, batch, layers))
}

/// The loss of the output `y` (N elements) and its gradient `dL/dy`:
/// Mean `Σy/N`; MeanSquare `Σy²/N`; Mse `Σ(y−t)²/N` (needs `target`, same
/// length as `y`); Sum `Σy`.
pub fn loss_and_grad(
    y: &[f64],
    loss: Loss,
    target: Option<&[f64]>,
) -> Result<(f64, Vec<f64>), String> {
    let t = check_target(loss, target, y.len())?;
    let n = y.len() as f64;
    Ok(match loss {
        Loss::Mean => (y.iter().sum::<f64>() / n, vec![1.0 / n; y.len()]),
        Loss::MeanSquare => (
            y.iter().map(|v| v * v).sum::<f64>() / n,
            y.iter().map(|v| 2.0 * v / n).collect(),
        ),
        Loss::Mse { .. } => {
            let diff: Vec<f64> = y.iter().zip(t).map(|(a, b)| a - b).collect();
            (
                diff.iter().map(|d| d * d).sum::<f64>() / n,
                diff.iter().map(|d| 2.0 * d / n).collect(),
            )
        }
        Loss::Sum => (y.iter().sum(), vec![1.0; y.len()]),
        Loss::CrossEntropy => {
            return Err("cross-entropy needs labels: see train::cross_entropy".into());
        }
    })
}

/// Checks the layer chain, the batch and every length; also that no
/// `batch × width` product overflows, so later allocations are well-defined.
fn validate(input: &[f64], batch: usize, layers: &[RefLayer]) -> Result<(), String> {
    let first = layers.first().ok_or("the stack has no layers")?;
    if batch == 0 {
        return Err("batch must be at least 1".into());
    }
    let mut width = first.fan_in;
    for (l, layer) in layers.iter().enumerate() {
        let (fan_in, fan_out) = (layer.fan_in, layer.fan_out);
        if fan_in == 0 || fan_out == 0 {
            return Err(format!("layer {l}: zero width ({fan_out}x{fan_in})"));
        }
        if fan_in != width {
            return Err(format!(
                "layer {l}: fan_in {fan_in}, but its input has width {width}"
            ));
        }
        expect_len(
            &format!("layer {l} weight"),
            layer.weight.len(),
            fan_out,
            fan_in,
        )?;
        if let Some(b) = &layer.bias {
            expect_len(&format!("layer {l} bias"), b.len(), 1, fan_out)?;
        }
        batch
            .checked_mul(fan_out)
            .ok_or_else(|| format!("layer {l}: batch x fan_out overflows"))?;
        width = fan_out;
    }
    expect_len("input", input.len(), batch, first.fan_in)
}

fn expect_len(what: &str, len: usize, rows: usize, cols: usize) -> Result<(), String> {
    match rows.checked_mul(cols) {
        Some(n) if n == len => Ok(()),
        _ => Err(format!("{what} has {len} elements, expected {rows}x{cols}")),
    }
}

/// The target slice for Mse (empty for the other losses), checked to have `n` elements.
fn check_target(loss: Loss, target: Option<&[f64]>, n: usize) -> Result<&[f64], String> {
    match (loss, target) {
        (Loss::Mse { .. }, None) => Err("the mse loss needs a target".into()),
        (Loss::Mse { .. }, Some(t)) if t.len() != n => Err(format!(
            "target has {} elements, the output has {n}",
            t.len()
        )),
        (Loss::Mse { .. }, Some(t)) => Ok(t),
        _ => Ok(&[]),
    }
}

fn forward_unchecked(input: &[f64], batch: usize, layers: &[RefLayer]) -> Vec<PreactAct> {
    let mut out: Vec<PreactAct> = Vec::with_capacity(layers.len());
    for layer in layers {
        let x = out.last().map_or(input, |(_, act)| act.as_slice());
        let preact = linear(x, batch, layer);
        let act = preact
            .iter()
            .map(|&h| layer.activation.forward(h))
            .collect();
        out.push((preact, act));
    }
    out
}

/// `H = X·Wᵀ + b`.
fn linear(x: &[f64], batch: usize, layer: &RefLayer) -> Vec<f64> {
    let wt = transpose(&layer.weight, layer.fan_out, layer.fan_in);
    let mut h = matmul(x, &wt, batch, layer.fan_in, layer.fan_out);
    if let Some(b) = &layer.bias {
        for h_row in h.chunks_exact_mut(layer.fan_out) {
            axpy(1.0, b, h_row);
        }
    }
    h
}

/// The `(cols, rows)` transpose of a `(rows, cols)` row-major matrix.
pub fn transpose(m: &[f64], rows: usize, cols: usize) -> Vec<f64> {
    (0..cols)
        .flat_map(|c| (0..rows).map(move |r| m[r * cols + c]))
        .collect()
}

/// `C = A·B` for row-major `A (n×k)` and `B (k×m)`, with `k, m > 0`.
///
/// The inner loop is a contiguous axpy `C[r] += A[r][j]·B[j]`, which
/// vectorizes even at opt-level 1 (a dot product's serial reduction does not,
/// and was 5× slower there).
pub fn matmul(a: &[f64], b: &[f64], n: usize, k: usize, m: usize) -> Vec<f64> {
    debug_assert!(a.len() == n * k && b.len() == k * m);
    let mut c = vec![0.0; n * m];
    for (a_row, c_row) in a.chunks_exact(k).zip(c.chunks_exact_mut(m)) {
        for (&a_rj, b_row) in a_row.iter().zip(b.chunks_exact(m)) {
            axpy(a_rj, b_row, c_row);
        }
    }
    c
}

/// `y += a·x`.
pub fn axpy(a: f64, x: &[f64], y: &mut [f64]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += a * xi;
    }
}

/// Exact statistics of a tensor in f64, with the GPU's definitions.
///
/// - `count` is every element; NaN and ±Inf go to `nan_count`/`inf_count` and
///   are excluded from every other field (including the saturation count).
/// - `mean`; `std` is unbiased (n−1), 0 with fewer than 2 finite values;
///   `min`/`max` are 0 with no finite value; `norm = sqrt(Σx²)`, scaled so
///   that entries of 1e±200 neither overflow nor underflow (see `moments`).
/// - `activation_opts = Some(threshold)`: `zero_fraction` = #(x == 0, so −0
///   too)/count and `saturated_fraction` = #(finite, |x| > threshold)/count;
///   both are 0 for an empty tensor.
/// - `histogram_bins = Some(k)`: `k` equal bins over `[min, max]`; `x` goes to
///   bin `floor((x − min)/(max − min)·k)`, clamped to `k − 1`. When
///   `max == min` every finite value goes to bin `k/2`. `k = 0` gives no counts.
pub fn tensor_stats(
    x: &[f64],
    activation_opts: Option<f64>,
    histogram_bins: Option<u32>,
) -> TensorStats {
    let finite: Vec<f64> = x.iter().copied().filter(|v| v.is_finite()).collect();
    let (min, max) = if finite.is_empty() {
        (0.0, 0.0)
    } else {
        finite
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
                (lo.min(v), hi.max(v))
            })
    };
    let (mean, std, norm) = moments(&finite, min.abs().max(max.abs()));
    let count = x.len() as u64;
    let fraction = |hits: usize| {
        if count == 0 {
            0.0
        } else {
            hits as f64 / count as f64
        }
    };
    TensorStats {
        count,
        mean,
        std,
        min,
        max,
        norm,
        nan_count: x.iter().filter(|v| v.is_nan()).count() as u64,
        inf_count: x.iter().filter(|v| v.is_infinite()).count() as u64,
        zero_fraction: activation_opts
            .map(|_| fraction(finite.iter().filter(|&&v| v == 0.0).count())),
        dead_unit_fraction: None,
        saturated_fraction: activation_opts
            .map(|t| fraction(finite.iter().filter(|v| v.abs() > t).count())),
        histogram: histogram_bins.map(|k| histogram(&finite, min, max, k as usize)),
    }
}

/// Fraction of the columns of a rows × cols row-major tensor that are
/// exactly 0 on every row (a NaN is not 0).
pub fn dead_unit_fraction(x: &[f64], rows: usize, cols: usize) -> f64 {
    let dead = (0..cols)
        .filter(|&j| (0..rows).all(|i| x[i * cols + j] == 0.0))
        .count();
    dead as f64 / cols.max(1) as f64
}

/// [`tensor_stats`] of an f32 tensor (widened exactly to f64).
pub fn tensor_stats_f32(
    x: &[f32],
    activation_opts: Option<f64>,
    histogram_bins: Option<u32>,
) -> TensorStats {
    let wide: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
    tensor_stats(&wide, activation_opts, histogram_bins)
}

/// `(mean, unbiased std, norm)` of finite values whose largest magnitude is
/// `largest`. Every sum runs on `v / largest`, within [−1, 1], so that squares
/// of 1e200 do not overflow nor those of 1e-200 underflow (as BLAS nrm2 scales).
fn moments(finite: &[f64], largest: f64) -> (f64, f64, f64) {
    if finite.is_empty() {
        return (0.0, 0.0, 0.0);
    }
    let scale = if largest > 0.0 { largest } else { 1.0 };
    let n = finite.len() as f64;
    let mean = finite.iter().map(|v| v / scale).sum::<f64>() / n;
    let ssd: f64 = finite.iter().map(|v| (v / scale - mean).powi(2)).sum();
    let std = if finite.len() < 2 {
        0.0
    } else {
        (ssd / (n - 1.0)).sqrt()
    };
    let norm = finite
        .iter()
        .map(|v| (v / scale).powi(2))
        .sum::<f64>()
        .sqrt();
    (scale * mean, scale * std, scale * norm)
}

/// Bins of the finite values `finite`, whose extremes are `lo` and `hi`.
fn histogram(finite: &[f64], lo: f64, hi: f64, k: usize) -> Histogram {
    let mut counts = vec![0u64; k];
    if k > 0 {
        // Halving is exact for normal numbers and keeps `hi − lo` finite even
        // when the range is wider than f64::MAX; the ratio is unchanged.
        let width = hi / 2.0 - lo / 2.0;
        for &v in finite {
            let bin = if width > 0.0 {
                ((v / 2.0 - lo / 2.0) / width * k as f64).floor() as usize
            } else {
                k / 2
            };
            counts[bin.min(k - 1)] += 1;
        }
    }
    Histogram { lo, hi, counts }
}
