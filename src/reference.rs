//! Plain f64 CPU reference of the forward pass, the loss, the backward pass and
//! per-tensor statistics: the oracle the GPU kernels are tested against.
//!
//! Clarity beats speed here, but loop orders keep every inner loop contiguous
//! so an 8 × 512 × 512 stack with batch 1000 takes a second or two (release).
//!
//! Conventions are PyTorch's: a weight is `(fan_out, fan_in)` row-major, an
//! activation `(batch, features)` row-major. Layer `l` computes
//! `H = X·Wᵀ + b` and `A = φ(H)`; backward takes `dA` and gives
//! `dH = dA ⊙ φ'(H)`, `dW = dHᵀ·X`, `db = Σ_batch dH`, `dX = dH·W`.

use crate::activation::Activation;
use crate::record::{Histogram, TensorStats};
use crate::spec::Loss;

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
    validate(input, batch, layers)?;
    let n_out = layers.last().map_or(0, |l| l.fan_out);
    check_target(loss, target, batch * n_out)?;
    let mut fwd = forward_unchecked(input, batch, layers);
    let output = &fwd.last().ok_or("the stack has no layers")?.1;
    let (loss_value, mut grad_act) = loss_and_grad(output, loss, target)?;

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
fn transpose(m: &[f64], rows: usize, cols: usize) -> Vec<f64> {
    (0..cols)
        .flat_map(|c| (0..rows).map(move |r| m[r * cols + c]))
        .collect()
}

/// `C = A·B` for row-major `A (n×k)` and `B (k×m)`, with `k, m > 0`.
///
/// The inner loop is a contiguous axpy `C[r] += A[r][j]·B[j]`, which
/// vectorizes even at opt-level 1 (a dot product's serial reduction does not,
/// and was 5× slower there).
fn matmul(a: &[f64], b: &[f64], n: usize, k: usize, m: usize) -> Vec<f64> {
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
fn axpy(a: f64, x: &[f64], y: &mut [f64]) {
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
        saturated_fraction: activation_opts
            .map(|t| fraction(finite.iter().filter(|v| v.abs() > t).count())),
        histogram: histogram_bins.map(|k| histogram(&finite, min, max, k as usize)),
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Target;

    /// xorshift64*: deterministic, dependency-free test data.
    struct Rng(u64);

    impl Rng {
        fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            let bits = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11;
            lo + (hi - lo) * (bits as f64 / (1u64 << 53) as f64)
        }

        fn vec(&mut self, n: usize, lo: f64, hi: f64) -> Vec<f64> {
            (0..n).map(|_| self.uniform(lo, hi)).collect()
        }
    }

    const ACTIVATIONS: [Activation; 10] = [
        Activation::Identity,
        Activation::Tanh,
        Activation::Relu,
        Activation::LeakyRelu { slope: 0.2 },
        Activation::Gelu,
        Activation::GeluTanh,
        Activation::Silu,
        Activation::Sigmoid,
        Activation::Selu,
        Activation::Elu { alpha: 1.3 },
    ];

    const LOSSES: [Loss; 4] = [
        Loss::Mean,
        Loss::MeanSquare,
        Loss::Mse {
            target: Target::Gaussian,
        },
        Loss::Sum,
    ];

    /// Input width 5, layer widths [7, 3, 4], biases, batch 3.
    fn random_problem(rng: &mut Rng, act: Activation) -> (Vec<f64>, Vec<RefLayer>) {
        let (batch, widths) = (3, [5, 7, 3, 4]);
        let layers = widths
            .windows(2)
            .map(|w| {
                let a = (3.0 / w[0] as f64).sqrt() * 1.5;
                RefLayer {
                    fan_in: w[0],
                    fan_out: w[1],
                    activation: act,
                    weight: rng.vec(w[0] * w[1], -a, a),
                    bias: Some(rng.vec(w[1], -0.5, 0.5)),
                }
            })
            .collect();
        (rng.vec(batch * widths[0], -1.5, 1.5), layers)
    }

    /// The loss when `x` is fed into `layers` (or is the output when `layers` is empty).
    fn loss_of(x: &[f64], layers: &[RefLayer], loss: Loss, target: &[f64]) -> f64 {
        let y = match layers {
            [] => x.to_vec(),
            _ => forward(x, 3, layers).unwrap().pop().unwrap().1,
        };
        loss_and_grad(&y, loss, Some(target)).unwrap().0
    }

    /// Compares `analytic[j]` with the central difference of `eval(j, ±h)`,
    /// the loss with element `j` of the tensor moved by ±h.
    fn assert_fd(what: &str, analytic: &[f64], eval: impl Fn(usize, f64) -> f64) {
        const H: f64 = 1e-6;
        for (j, &g) in analytic.iter().enumerate() {
            let fd = (eval(j, H) - eval(j, -H)) / (2.0 * H);
            // Relative 1e-6; the 1e-2 floor covers the ~1e-10 rounding noise of
            // the difference quotient when a gradient is nearly 0.
            let tol = 1e-6 * g.abs().max(fd.abs()).max(1e-2);
            assert!(
                (fd - g).abs() <= tol,
                "{what}[{j}]: analytic {g}, finite difference {fd}"
            );
        }
    }

    #[test]
    fn gradients_match_finite_differences() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for act in ACTIVATIONS {
            // Redraw until no preact is within 1e-3 of a kink at 0: ±1e-6 moves
            // then stay on one smooth piece.
            let (input, layers) = loop {
                let (input, layers) = random_problem(&mut rng, act);
                let fwd = forward(&input, 3, &layers).unwrap();
                if fwd.iter().flat_map(|(h, _)| h).all(|h| h.abs() > 1e-3) {
                    break (input, layers);
                }
            };
            let target = rng.vec(12, -1.0, 1.0);
            for loss in LOSSES {
                let pass = forward_backward(&input, 3, &layers, loss, Some(&target)).unwrap();
                assert_eq!(pass.loss, loss_of(&input, &layers, loss, &target));
                for (l, lp) in pass.layers.iter().enumerate() {
                    let ctx = format!("{act} {loss:?} layer {l}");
                    let perturbed = |j: usize, d: f64, bias: bool| {
                        let mut ls = layers.clone();
                        let p = if bias {
                            ls[l].bias.as_mut().unwrap()
                        } else {
                            &mut ls[l].weight
                        };
                        p[j] += d;
                        loss_of(&input, &ls, loss, &target)
                    };
                    assert_fd(&format!("{ctx} dW"), &lp.grad_weight, |j, d| {
                        perturbed(j, d, false)
                    });
                    assert_fd(
                        &format!("{ctx} db"),
                        lp.grad_bias.as_ref().unwrap(),
                        |j, d| perturbed(j, d, true),
                    );
                    // dA: move this layer's output and run only the layers above it.
                    assert_fd(&format!("{ctx} dA"), &lp.grad_act, |j, d| {
                        let mut a = lp.act.clone();
                        a[j] += d;
                        loss_of(&a, &layers[l + 1..], loss, &target)
                    });
                    let dh: Vec<f64> = lp
                        .grad_act
                        .iter()
                        .zip(&lp.preact)
                        .map(|(g, &h)| g * act.derivative(h))
                        .collect();
                    assert_eq!(lp.grad_preact, dh, "{ctx} dH");
                }
            }
        }
    }

    #[test]
    fn hand_computed_relu_layer() {
        // W = [[1, 2], [3, 4]], b = [1.5, −1], X = [[1, −1], [2, 0.5]]:
        // H = [[0.5, −2], [4.5, 7]], A = relu(H) = [[0.5, 0], [4.5, 7]].
        let layer = RefLayer {
            fan_in: 2,
            fan_out: 2,
            activation: Activation::Relu,
            weight: vec![1.0, 2.0, 3.0, 4.0],
            bias: Some(vec![1.5, -1.0]),
        };
        let x = [1.0, -1.0, 2.0, 0.5];
        let layers = [layer];
        let pass = forward_backward(&x, 2, &layers, Loss::MeanSquare, None).unwrap();
        let p = &pass.layers[0];
        assert_eq!(p.preact, [0.5, -2.0, 4.5, 7.0]);
        assert_eq!(p.act, [0.5, 0.0, 4.5, 7.0]);
        // L = (0.25 + 20.25 + 49)/4; dA = 2A/4.
        assert_eq!(pass.loss, 17.375);
        assert_eq!(p.grad_act, [0.25, 0.0, 2.25, 3.5]);
        assert_eq!(p.grad_preact, [0.25, 0.0, 2.25, 3.5]);
        // dW[0] = 0.25·[1, −1] + 2.25·[2, 0.5]; dW[1] = 0·[1, −1] + 3.5·[2, 0.5].
        assert_eq!(p.grad_weight, [4.75, 0.875, 7.0, 1.75]);
        assert_eq!(p.grad_bias, Some(vec![2.5, 3.5]));
        let loss_of =
            |loss, t: Option<&[f64]>| forward_backward(&x, 2, &layers, loss, t).unwrap().loss;
        assert_eq!(loss_of(Loss::Mean, None), 3.0);
        assert_eq!(loss_of(Loss::Sum, None), 12.0);
        let t = [0.0, 1.0, 4.0, 8.0];
        assert_eq!(
            loss_of(
                Loss::Mse {
                    target: Target::Teacher
                },
                Some(&t)
            ),
            0.625
        );
        let no_bias = RefLayer {
            bias: None,
            ..layers[0].clone()
        };
        let pass = forward_backward(&x, 2, &[no_bias], Loss::Sum, None).unwrap();
        assert_eq!(pass.layers[0].preact, [-1.0, -1.0, 3.0, 8.0]);
        assert_eq!(pass.layers[0].grad_bias, None);
    }

    #[test]
    fn shape_errors_are_errors() {
        let layer = |fan_in, fan_out| RefLayer {
            fan_in,
            fan_out,
            activation: Activation::Tanh,
            weight: vec![0.1; fan_in * fan_out],
            bias: Some(vec![0.0; fan_out]),
        };
        let good = [layer(3, 2), layer(2, 4)];
        let x = [0.5; 6];
        let mse = Loss::Mse {
            target: Target::Gaussian,
        };
        assert!(forward_backward(&x, 2, &good, mse, Some(&[0.0; 8])).is_ok());
        let run = |x: &[f64], batch, layers: &[RefLayer], loss, t| {
            forward_backward(x, batch, layers, loss, t)
        };
        assert!(
            run(&x[..5], 2, &good, Loss::Mean, None).is_err(),
            "input length"
        );
        assert!(run(&x, 0, &good, Loss::Mean, None).is_err(), "zero batch");
        assert!(run(&x, 2, &[], Loss::Mean, None).is_err(), "no layers");
        assert!(
            run(&x, 2, &[layer(3, 2), layer(3, 4)], Loss::Mean, None).is_err(),
            "chain"
        );
        assert!(
            run(&[], 2, &[layer(0, 2)], Loss::Mean, None).is_err(),
            "zero width"
        );
        let mut bad = good.clone();
        bad[1].weight.pop();
        assert!(run(&x, 2, &bad, Loss::Mean, None).is_err(), "weight length");
        let mut bad = good.clone();
        bad[0].bias = Some(vec![0.0; 3]);
        assert!(run(&x, 2, &bad, Loss::Mean, None).is_err(), "bias length");
        assert!(run(&x, 2, &good, mse, None).is_err(), "missing target");
        assert!(
            run(&x, 2, &good, mse, Some(&[0.0; 7])).is_err(),
            "target length"
        );
        assert!(forward(&x, 3, &good).is_err(), "forward input length");
        assert!(
            loss_and_grad(&[1.0, 2.0], mse, Some(&[1.0])).is_err(),
            "loss target length"
        );
    }

    fn close(a: f64, b: f64) -> bool {
        close_to(a, b, 1e-15)
    }

    fn close_to(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * b.abs()
    }

    #[test]
    fn stats_of_plain_values() {
        let s = tensor_stats(&[1.0, 2.0, 3.0, 4.0], None, None);
        assert_eq!((s.count, s.mean, s.min, s.max), (4, 2.5, 1.0, 4.0));
        assert!(close(s.std, (5.0f64 / 3.0).sqrt()), "{}", s.std);
        assert!(close(s.norm, 30f64.sqrt()), "{}", s.norm);
        assert_eq!(tensor_stats_f32(&[1.0, 2.0, 3.0, 4.0], None, None), s);
        assert_eq!(
            (s.zero_fraction, s.saturated_fraction, s.histogram),
            (None, None, None)
        );
        let one = tensor_stats(&[-7.0], Some(0.5), None);
        assert_eq!(
            (one.mean, one.std, one.min, one.max, one.norm),
            (-7.0, 0.0, -7.0, -7.0, 7.0)
        );
        let empty = tensor_stats(&[], Some(0.5), Some(4));
        let zero_hist = Some(Histogram {
            lo: 0.0,
            hi: 0.0,
            counts: vec![0; 4],
        });
        assert_eq!(
            empty,
            TensorStats {
                zero_fraction: Some(0.0),
                saturated_fraction: Some(0.0),
                histogram: zero_hist,
                ..Default::default()
            }
        );
    }

    #[test]
    fn stats_exclude_and_count_non_finite() {
        let x = [
            1.0,
            f64::NAN,
            3.0,
            f64::INFINITY,
            0.0,
            f64::NEG_INFINITY,
            -4.0,
            -0.0,
        ];
        let s = tensor_stats(&x, Some(2.5), Some(7));
        assert_eq!((s.count, s.nan_count, s.inf_count), (8, 1, 2));
        assert_eq!((s.mean, s.min, s.max), (0.0, -4.0, 3.0));
        assert!(close(s.std, (26.0f64 / 4.0).sqrt()), "{}", s.std);
        assert!(close(s.norm, 26f64.sqrt()), "{}", s.norm);
        // Zeros: 0 and −0; saturated: 3 and −4 (not the infinities); both over all 8.
        assert_eq!(
            (s.zero_fraction, s.saturated_fraction),
            (Some(0.25), Some(0.25))
        );
        let h = s.histogram.unwrap();
        assert_eq!((h.lo, h.hi, h.counts.iter().sum::<u64>()), (-4.0, 3.0, 5));
        // Bins of width 1 from −4: −4 → 0, 0 and −0 → 4, 1 → 5, 3 → 7 clamped to 6.
        assert_eq!(h.counts, [1, 0, 0, 0, 2, 1, 1]);
        let all_bad = tensor_stats(&[f64::NAN, f64::INFINITY], Some(0.5), None);
        assert_eq!(
            (
                all_bad.mean,
                all_bad.std,
                all_bad.min,
                all_bad.max,
                all_bad.norm
            ),
            (0.0, 0.0, 0.0, 0.0, 0.0)
        );
        assert_eq!(all_bad.saturated_fraction, Some(0.0));
    }

    #[test]
    fn stats_of_zeros_and_histogram_bins() {
        let s = tensor_stats(&[0.0; 10], Some(0.9), Some(4));
        assert_eq!(
            (s.mean, s.std, s.min, s.max, s.norm),
            (0.0, 0.0, 0.0, 0.0, 0.0)
        );
        assert_eq!(
            (s.zero_fraction, s.saturated_fraction),
            (Some(1.0), Some(0.0))
        );
        assert_eq!(
            s.histogram.unwrap().counts,
            [0, 0, 10, 0],
            "constant tensor goes to bin k/2"
        );
        let ramp: Vec<f64> = (0..=10).map(f64::from).collect();
        let h = tensor_stats(&ramp, None, Some(5)).histogram.unwrap();
        assert_eq!(
            h.counts,
            [2, 2, 2, 2, 3],
            "the maximum lands in the last bin"
        );
        let mut rng = Rng(7);
        let noise = rng.vec(1000, -3.0, 5.0);
        let h = tensor_stats(&noise, None, Some(13)).histogram.unwrap();
        assert_eq!(h.counts.iter().sum::<u64>(), 1000);
        assert_eq!(
            tensor_stats(&noise, None, Some(0))
                .histogram
                .unwrap()
                .counts,
            Vec::<u64>::new()
        );
    }

    #[test]
    fn stats_of_extreme_magnitudes() {
        // Unscaled, (1e±200)² overflows to inf or underflows to 0. Subnormal
        // inputs (1e-310) carry only ~44 bits, hence their looser tolerance.
        for (scale, rel) in [
            (1e-200, 1e-15),
            (1e200, 1e-15),
            (1e300, 1e-15),
            (1e-310, 1e-12),
        ] {
            let s = tensor_stats(&[3.0 * scale, -4.0 * scale, 0.0], None, None);
            assert!(
                close_to(s.norm, 5.0 * scale, rel),
                "norm at {scale}: {}",
                s.norm
            );
            assert!(
                close_to(s.mean, -scale / 3.0, rel),
                "mean at {scale}: {}",
                s.mean
            );
            // Deviations (10/3, −11/3, 1/3)·scale: unbiased variance 37/3·scale².
            let want = (37.0f64 / 3.0).sqrt() * scale;
            assert!(
                close_to(s.std, want, 10.0 * rel),
                "std at {scale}: {} vs {want}",
                s.std
            );
        }
        let big = tensor_stats(&[f64::MAX / 2.0, -f64::MAX / 2.0], None, None);
        assert!(close(big.norm, f64::MAX / 2f64.sqrt()), "{}", big.norm);
        assert!(close(big.std, f64::MAX / 2f64.sqrt()), "{}", big.std);
        // max − min overflows here; the bins must still be right.
        let wide = tensor_stats(&[f64::MAX, 0.0, -f64::MAX], None, Some(2));
        assert_eq!(wide.histogram.unwrap().counts, [1, 2]);
    }
}
