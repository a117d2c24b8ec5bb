//! Monte Carlo cross-checks in f64: small networks simulated with an inline
//! RNG, compared with the predictions (ensemble means, so with tolerances a
//! few standard errors wide).

use super::tests::{close, layer};
use super::*;

/// xorshift64* with Box–Muller normals: enough for cross-checks, no deps.
struct Rng(u64);

impl Rng {
    /// Seeds through splitmix64, so that nearby seeds give unrelated streams.
    fn new(seed: u64) -> Rng {
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Rng((z ^ (z >> 31)) | 1)
    }
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let bits = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11;
        (bits as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

#[test]
fn linear_moments_are_exact_at_tiny_width() {
    // Width 3, uniform weights and biases, nonzero input mean: mean-field would
    // be an approximation for a nonlinear net, but for a linear one the element
    // moments are exact in expectation, and so are the gradient norms of the
    // `sum` loss (dL/da = 1). 40 000 draws give ~1% standard errors.
    let (fans, v, bv, bm): ([(usize, usize); 3], f64, f64, f64) =
        ([(2, 3), (3, 3), (3, 3)], 0.25, 0.04, 0.3);
    let (a, ab) = ((3.0 * v).sqrt(), (3.0 * bv).sqrt()); // U(−a, a) has var a²/3
    let mut rng = Rng::new(1);
    let draws = 40_000;
    let (mut sum_h, mut sum_h2, mut sum_g2) = ([0.0; 3], [0.0; 3], [0.0; 3]);
    for _ in 0..draws {
        let mut x: Vec<f64> = (0..2).map(|_| 0.7 + 1.1 * rng.normal()).collect();
        let mut ws = Vec::new();
        for (l, &(fi, fo)) in fans.iter().enumerate() {
            let w: Vec<f64> = (0..fi * fo)
                .map(|_| a * (2.0 * rng.uniform() - 1.0))
                .collect();
            let h: Vec<f64> = w
                .chunks(fi)
                .map(|wi| wi.iter().zip(&x).map(|(w, x)| w * x).sum::<f64>())
                .map(|dot| dot + bm + ab * (2.0 * rng.uniform() - 1.0))
                .collect();
            sum_h[l] += h.iter().sum::<f64>() / fo as f64;
            sum_h2[l] += h.iter().map(|e| e * e).sum::<f64>() / fo as f64;
            ws.push(w);
            x = h;
        }
        // Backward: dL/da_{l−1} = dL/da_l · W_l.
        let mut da = vec![1.0; 3];
        for l in (0..3).rev() {
            sum_g2[l] += da.iter().map(|e| e * e).sum::<f64>();
            let fi = fans[l].0;
            da = (0..fi)
                .map(|j| {
                    da.iter()
                        .enumerate()
                        .map(|(i, g)| g * ws[l][i * fi + j])
                        .sum()
                })
                .collect();
        }
    }
    let layers: Vec<_> = fans
        .iter()
        .map(|&(fi, fo)| LayerInput {
            bias_var: bv,
            bias_mean: bm,
            gaussian: false,
            ..layer(fi, fo, Activation::Identity, v)
        })
        .collect();
    let p = predict(0.7, 1.21, 1, &layers, Loss::Sum).expect("theory applies");
    for l in 0..3 {
        let (mean, second) = (sum_h[l] / draws as f64, sum_h2[l] / draws as f64);
        let want = p.preact_var[l] + bm * bm;
        assert!(
            close(second, want, 0.03),
            "layer {l}: E[h²] {second} vs {want}"
        );
        assert!((mean - bm).abs() < 0.03, "layer {l}: E[h] {mean}");
        let g = (sum_g2[l] / sum_g2[2]).sqrt();
        assert!(
            close(g, p.grad_act_norm_rel[l], 0.03),
            "layer {l}: grad {g}"
        );
    }
}

#[test]
fn log_norm_band_matches_simulation() {
    // Widths 8 → 6 → 10 → 3 with weight var 1/fan_out, so E‖x_l‖² = ‖x_0‖² and
    // the simulated ratio is ‖x_l‖²/‖x_0‖², over weight draws for one input.
    let widths = [8, 6, 10, 3];
    let layers: Vec<_> = widths
        .windows(2)
        .map(|w| layer(w[0], w[1], Activation::Identity, 1.0 / w[1] as f64))
        .collect();
    let p = predict(0.0, 1.0, 1, &layers, Loss::Mean).expect("theory applies");
    let (mean, var) = (
        p.log_norm_mean.expect("band"),
        p.log_norm_var.expect("band"),
    );
    let mut rng = Rng::new(2);
    let x0: Vec<f64> = (0..widths[0]).map(|_| rng.normal()).collect();
    let n0: f64 = x0.iter().map(|e| e * e).sum();
    let draws = 50_000;
    let (mut s1, mut s2) = (0.0, 0.0);
    for _ in 0..draws {
        let mut x = x0.clone();
        for &fo in &widths[1..] {
            let sd = 1.0 / (fo as f64).sqrt();
            x = (0..fo)
                .map(|_| x.iter().map(|e| e * sd * rng.normal()).sum())
                .collect();
        }
        let r = (x.iter().map(|e| e * e).sum::<f64>() / n0).ln();
        s1 += r;
        s2 += r * r;
    }
    let (m, v) = (
        s1 / draws as f64,
        s2 / draws as f64 - (s1 / draws as f64).powi(2),
    );
    println!(
        "log-norm band 8-6-10-3: mean {m:.4} vs {:.4}, var {v:.4} vs {:.4}",
        mean[2], var[2]
    );
    // Standard errors: ~0.007 on the mean, ~1% on the variance.
    assert!((m - mean[2]).abs() < 0.03 && close(v, var[2], 0.04));
}

/// h = x·Wᵀ + b for row-major x (batch × fan_in) and W (fan_out × fan_in).
fn matmul_t(x: &[f64], w: &[f64], b: &[f64], fan_in: usize) -> Vec<f64> {
    let fan_out = b.len();
    let mut h = Vec::with_capacity(x.len() / fan_in * fan_out);
    for row in x.chunks(fan_in) {
        for (i, wi) in w.chunks(fan_in).enumerate() {
            h.push(row.iter().zip(wi).map(|(a, c)| a * c).sum::<f64>() + b[i]);
        }
    }
    h
}

fn std_of(v: &[f64]) -> f64 {
    let m = v.iter().sum::<f64>() / v.len() as f64;
    (v.iter().map(|e| (e - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64).sqrt()
}

/// Per-layer simulated statistics of one Monte Carlo network.
struct Simulated {
    act_std: Vec<f64>,
    act_mean: Vec<f64>,
    preact_var: Vec<f64>,
    grad_rel: Vec<f64>,
}

/// A square stack of width n with N(0, v) weights and N(bias_mean, bias_std²)
/// biases on N(input_mean, 1) inputs, forward and backward in f64; the
/// backward pass starts from a random dL/da (as an MSE residual would be).
fn simulate(net: &LayerInput, depth: usize, batch: usize, input_mean: f64, seed: u64) -> Simulated {
    let (n, act) = (net.fan_in, net.activation);
    let mut rng = Rng::new(seed);
    let mut x: Vec<f64> = (0..batch * n).map(|_| input_mean + rng.normal()).collect();
    let (mut ws, mut pre) = (Vec::new(), Vec::new());
    let mut sim = Simulated {
        act_std: vec![],
        act_mean: vec![],
        preact_var: vec![],
        grad_rel: vec![],
    };
    for _ in 0..depth {
        let w: Vec<f64> = (0..n * n)
            .map(|_| net.weight_var.sqrt() * rng.normal())
            .collect();
        let b: Vec<f64> = (0..n)
            .map(|_| net.bias_mean + net.bias_var.sqrt() * rng.normal())
            .collect();
        let h = matmul_t(&x, &w, &b, n);
        x = h.iter().map(|e| act.forward(*e)).collect();
        sim.preact_var.push(std_of(&h).powi(2));
        sim.act_std.push(std_of(&x));
        sim.act_mean.push(x.iter().sum::<f64>() / x.len() as f64);
        ws.push(w);
        pre.push(h);
    }
    let mut da: Vec<f64> = (0..batch * n).map(|_| rng.normal()).collect();
    let mut norms = vec![0.0; depth];
    for l in (0..depth).rev() {
        norms[l] = da.iter().map(|e| e * e).sum::<f64>().sqrt();
        let dh: Vec<f64> = da
            .iter()
            .zip(&pre[l])
            .map(|(g, h)| g * act.derivative(*h))
            .collect();
        let mut dx = vec![0.0; batch * n];
        for (dxr, dhr) in dx.chunks_mut(n).zip(dh.chunks(n)) {
            for (g, wi) in dhr.iter().zip(ws[l].chunks(n)) {
                dxr.iter_mut().zip(wi).for_each(|(d, w)| *d += g * w);
            }
        }
        da = dx;
    }
    sim.grad_rel = norms.iter().map(|g| g / norms[depth - 1]).collect();
    sim
}

/// Compares the predictions with simulated statistics averaged over `nets`
/// independent networks of width n (the prediction is an ensemble mean).
fn check_against_simulation(
    net: LayerInput,
    input_mean: f64,
    (depth, batch, nets): (usize, usize, usize),
) {
    let sims: Vec<_> = (0..nets)
        .map(|k| simulate(&net, depth, batch, input_mean, 100 + k as u64))
        .collect();
    let avg = |f: &dyn Fn(&Simulated) -> f64| sims.iter().map(f).sum::<f64>() / nets as f64;
    let loss = Loss::Mse {
        target: crate::config::Target::Gaussian,
    };
    let p = predict(input_mean, 1.0, batch, &vec![net; depth], loss).expect("theory applies");
    assert_eq!(p.method, "mean_field");
    for k in 0..depth {
        let (a_std, a_mean) = (avg(&|s| s.act_std[k]), avg(&|s| s.act_mean[k]).abs());
        let (q, g) = (avg(&|s| s.preact_var[k]), avg(&|s| s.grad_rel[k]));
        println!(
            "{} layer {k}: act_std {a_std:.4} vs {:.4}, |act_mean| {a_mean:.4} vs {:.4}, \
             preact_var {q:.4} vs {:.4}, grad_rel {g:.4} vs {:.4}",
            net.activation,
            p.act_std[k],
            p.act_mean_abs[k],
            p.preact_var[k],
            p.grad_act_norm_rel[k]
        );
        assert!(close(a_std, p.act_std[k], 0.05), "act_std layer {k}");
        // The element mean is dominated by n·nets per-feature offsets of spread < act_std.
        let mean_tol =
            0.05 * p.act_mean_abs[k] + 2.0 * p.act_std[k] / ((net.fan_out * nets) as f64).sqrt();
        assert!(
            (a_mean - p.act_mean_abs[k]).abs() < mean_tol,
            "act_mean layer {k}"
        );
        assert!(close(q, p.preact_var[k], 0.05), "preact_var layer {k}");
        assert!(
            close(g, p.grad_act_norm_rel[k], 0.05),
            "grad_act_norm_rel layer {k}"
        );
    }
}

#[test]
fn monte_carlo_tanh_stack_matches_mean_field() {
    // Width 256, batch 256, 5 tanh layers, xavier-normal weights with gain 1.2
    // (σ_w² = 1.44), N(0, 0.04) biases, N(0, 1) input.
    let n = 256;
    let net = LayerInput {
        bias_var: 0.04,
        ..layer(n, n, Activation::Tanh, 1.44 * 2.0 / (2 * n) as f64)
    };
    check_against_simulation(net, 0.0, (5, 256, 1));
}

#[test]
fn monte_carlo_relu_stack_with_means_matches_mean_field() {
    // Nonzero input and bias means: only E[x²] propagates through zero-mean weights.
    // The means give every feature an offset common to the whole batch, so one
    // network's element statistics fluctuate like n samples, not n·batch, and
    // compound over depth (q at layer 4 varies by ~15% between networks of
    // width 256): average 512 networks of width 128 and batch 4.
    let n = 128;
    let net = LayerInput {
        bias_var: 0.01,
        bias_mean: 0.1,
        ..layer(n, n, Activation::Relu, 2.0 / n as f64)
    };
    check_against_simulation(net, 0.5, (4, 4, 512));
}
