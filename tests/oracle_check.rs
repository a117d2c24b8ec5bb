//! Checks of the test oracle itself: the f64 reference against finite
//! differences and closed forms, and the host erfinv against erf.

mod oracle;

use oracle::host_fill::erfinv_f32;
use oracle::*;

use initscope::activation::Activation;
use initscope::config::{Loss, Target};
use initscope::results::{Histogram, TensorStats};

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
    let loss_of = |loss, t: Option<&[f64]>| forward_backward(&x, 2, &layers, loss, t).unwrap().loss;
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

#[test]
fn erfinv_f32_is_accurate() {
    let mut worst = 0.0f64;
    for i in 1..2000 {
        let x = -0.999 + 1.998 * i as f64 / 2000.0;
        let y = erfinv_f32(x as f32) as f64;
        let back = initscope::activation::erf(y);
        // Error in x-space relative to the derivative, i.e. relative error in y.
        let dy = (back - x) / (2.0 / std::f64::consts::PI.sqrt() * (-y * y).exp());
        worst = worst.max((dy / y.abs().max(1e-30)).abs());
    }
    assert!(worst < 1e-6, "erfinv relative error {worst}");
}
