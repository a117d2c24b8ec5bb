//! Tests of the predictions against closed forms: fixed points, the tanh
//! critical line, exact linear moments, the log-norm band, invalid inputs.

use super::numerics::expect_normal;
use super::*;

pub(super) fn layer(fan_in: usize, fan_out: usize, act: Activation, weight_var: f64) -> LayerInput {
    LayerInput {
        fan_in,
        fan_out,
        activation: act,
        weight_var,
        weight_mean: 0.0,
        bias_var: 0.0,
        bias_mean: 0.0,
        orthogonal: false,
        gaussian: true,
    }
}

pub(super) fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * b.abs().max(1e-300)
}

#[test]
fn relu_he_init_preserves_q_and_is_critical() {
    let n = 64;
    let layers: Vec<_> = (0..8)
        .map(|_| layer(n, n, Activation::Relu, 2.0 / n as f64))
        .collect();
    let (mean, var) = (0.3, 1.7);
    let p = predict(mean, var, 16, &layers, Loss::Mean).expect("theory applies");
    assert_eq!(p.method, "mean_field");
    // q⁰ = 2·E[x²]; E[relu(h)²] = q/2 then gives q^l = q⁰ for every l.
    let q0 = 2.0 * (var + mean * mean);
    for (l, q) in p.preact_var.iter().enumerate() {
        assert!(close(*q, q0, 1e-10), "layer {l}: q {q} vs {q0}");
    }
    for (l, chi) in p.chi1.iter().enumerate() {
        assert!(close(*chi, 1.0, 1e-10), "layer {l}: chi1 {chi}");
    }
    assert_eq!(p.depth_scale, None);
    // act_std² = E[relu²] − E[relu]² = q/2 − q/(2π).
    let want = (q0 * (0.5 - 0.5 / std::f64::consts::PI)).sqrt();
    assert!(
        close(p.act_std[3], want, 1e-12),
        "{} vs {want}",
        p.act_std[3]
    );
}

/// q* of the tanh q-map q ← σ_w²·E[tanh(√q z)²] + σ_b², and χ₁ there.
fn tanh_chi_at_fixed_point(sw2: f64, sb2: f64) -> (f64, f64) {
    let mut q = 1.0;
    for _ in 0..10_000 {
        let [t2] = expect_normal(0.0, f64::sqrt(q), |h| [h.tanh().powi(2)]);
        let next = sw2 * t2 + sb2;
        let done = (next - q).abs() <= 1e-15 * q;
        q = next;
        if done {
            break;
        }
    }
    let [d2] = expect_normal(0.0, q.sqrt(), |h| [Activation::Tanh.derivative(h).powi(2)]);
    (q, sw2 * d2)
}

#[test]
fn tanh_critical_line_at_sigma_b2_005() {
    let sb2 = 0.05;
    let (mut lo, mut hi) = (1.0, 3.0);
    assert!(tanh_chi_at_fixed_point(lo, sb2).1 < 1.0 && tanh_chi_at_fixed_point(hi, sb2).1 > 1.0);
    for _ in 0..60 {
        let mid = 0.5 * (lo + hi);
        if tanh_chi_at_fixed_point(mid, sb2).1 < 1.0 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let (q_star, _) = tanh_chi_at_fixed_point(lo, sb2);
    println!("tanh critical sigma_w^2 at sigma_b^2 = 0.05: {lo:.10} (q* = {q_star:.10})");
    assert!((lo - 1.76).abs() < 0.02, "critical sigma_w^2 = {lo}");
    // predict() agrees: an input with σ_w²·E[x²] + σ_b² = q* keeps q^l = q*, χ₁ = 1.
    let n = 100;
    let mut l = layer(n, n, Activation::Tanh, lo / n as f64);
    l.bias_var = sb2;
    let p = predict(0.0, (q_star - sb2) / lo, 1, &vec![l; 30], Loss::Sum).expect("theory applies");
    assert!(
        close(p.preact_var[29], q_star, 1e-12),
        "{} vs {q_star}",
        p.preact_var[29]
    );
    assert!(close(p.chi1[29], 1.0, 1e-9), "{}", p.chi1[29]);
    assert!(p.depth_scale.is_none_or(|xi| xi.abs() > 1e8));
}

#[test]
fn linear_stack_moments_are_exact_closed_form() {
    // Fans 4 → 8 → 3 → 5, weight var v, bias (var, mean), input (mean, var).
    let spec = [
        (4, 8, 0.3, 0.2, 0.5),
        (8, 3, 0.05, 0.0, -1.0),
        (3, 5, 0.7, 0.1, 0.0),
    ];
    let layers: Vec<_> = spec
        .iter()
        .map(|&(fi, fo, v, bv, bm)| LayerInput {
            bias_var: bv,
            bias_mean: bm,
            gaussian: false,
            ..layer(fi, fo, Activation::Identity, v)
        })
        .collect();
    let p = predict(1.5, 0.8, 7, &layers, Loss::MeanSquare).expect("theory applies");
    assert_eq!(p.method, "linear_exact");
    // Hand-unrolled: E[x²] = var + mean²; Var h_l = fan_in·v·E[x²] + bias_var;
    // E[h_l²] = Var h_l + bias_mean².
    let m0 = 0.8 + 1.5 * 1.5; // 3.05
    let q0 = 4.0 * 0.3 * m0 + 0.2; // 3.86
    let q1 = 8.0 * 0.05 * (q0 + 0.25) + 0.0; // 1.644
    let q2 = 3.0 * 0.7 * (q1 + 1.0) + 0.1; // 5.6524
    for (l, q) in [q0, q1, q2].into_iter().enumerate() {
        assert!(close(p.preact_var[l], q, 1e-14), "layer {l}");
        assert!(close(p.act_std[l], q.sqrt(), 1e-14));
    }
    assert_eq!(p.act_mean_abs, vec![0.5, 1.0, 0.0]);
    // χ₁ = fan_in·v for identity layers; gradient norms chain backwards.
    for (chi, want) in p.chi1.iter().zip([1.2, 0.4, 2.1]) {
        assert!(close(*chi, want, 1e-14), "chi1 {chi} vs {want}");
    }
    assert!(close(p.grad_act_norm_rel[1], 2.1f64.sqrt(), 1e-14));
    assert!(close(p.grad_act_norm_rel[0], (2.1f64 * 0.4).sqrt(), 1e-14));
    assert!(close(
        p.depth_scale.unwrap_or(0.0),
        -1.0 / 0.4f64.ln(),
        1e-14
    ));
    // Uniform weights and biases: no log-norm band.
    assert_eq!((p.log_norm_mean, p.log_norm_var), (None, None));
}

#[test]
fn log_norm_band_matches_digamma_formula() {
    // Square width n: l·(ψ(n/2) − ln(n/2)) and l·ψ′(n/2).
    let n = 8;
    let square: Vec<_> = (0..4)
        .map(|_| layer(n, n, Activation::Identity, 1.0 / n as f64))
        .collect();
    let p = predict(0.0, 1.0, 1, &square, Loss::Mean).expect("theory applies");
    let h = n as f64 / 2.0;
    for l in 0..4 {
        let k = (l + 1) as f64;
        assert!(close(
            p.log_norm_mean.as_ref().expect("band")[l],
            k * (digamma(h) - h.ln()),
            1e-12
        ));
        assert!(close(
            p.log_norm_var.as_ref().expect("band")[l],
            k * trigamma(h),
            1e-12
        ));
    }
    // Widths 8 → 6 → 10 → 3: the factors go by fan_out. Weight var 1/fan_out
    // makes E‖x_l‖² = ‖x_0‖², so the simulated ratio is ‖x_l‖²/‖x_0‖².
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
    let want_m: f64 = [3.0f64, 5.0, 1.5]
        .iter()
        .map(|h| digamma(*h) - h.ln())
        .sum();
    let want_v: f64 = [3.0, 5.0, 1.5].iter().map(|h| trigamma(*h)).sum();
    assert!(close(mean[2], want_m, 1e-12) && close(var[2], want_v, 1e-12));
}

#[test]
fn log_norm_band_orthogonal_and_unavailable_cases() {
    let orth = |fi, fo| LayerInput {
        orthogonal: true,
        gaussian: false,
        ..layer(fi, fo, Activation::Identity, 0.1)
    };
    let p = predict(0.0, 1.0, 1, &[orth(4, 6), orth(6, 6)], Loss::Mean).expect("theory applies");
    assert_eq!(p.log_norm_mean, Some(vec![0.0, 0.0]));
    assert_eq!(p.log_norm_var, Some(vec![0.0, 0.0]));
    // A projection (fan_out < fan_in), a bias or a nonlinearity: no band.
    let p = predict(0.0, 1.0, 1, &[orth(6, 4)], Loss::Mean).expect("theory applies");
    assert_eq!(p.log_norm_var, None);
    let biased = LayerInput {
        bias_var: 0.1,
        ..layer(4, 4, Activation::Identity, 0.25)
    };
    assert_eq!(
        predict(0.0, 1.0, 1, &[biased], Loss::Mean).and_then(|p| p.log_norm_var),
        None
    );
    let tanh = layer(4, 4, Activation::Tanh, 0.25);
    assert_eq!(
        predict(0.0, 1.0, 1, &[tanh], Loss::Mean).and_then(|p| p.log_norm_var),
        None
    );
}

#[test]
fn tiny_variance_keeps_its_precision() {
    // q = 1e-12 around a bias mean of 0.3: act_std = σ′(0.3)·√q to O(q). The
    // variance must not come from E[φ²] − E[φ]² ≈ 0.33 − 0.33.
    let l = LayerInput {
        bias_mean: 0.3,
        ..layer(1, 1, Activation::Sigmoid, 1e-12)
    };
    let p = predict(0.0, 1.0, 1, &[l], Loss::Mean).expect("theory applies");
    let want = Activation::Sigmoid.derivative(0.3) * 1e-6;
    assert!(
        close(p.act_std[0], want, 1e-8),
        "{} vs {want}",
        p.act_std[0]
    );
    assert!(close(
        p.act_mean_abs[0],
        Activation::Sigmoid.forward(0.3),
        1e-11
    ));
}

#[test]
fn invalid_inputs_give_none() {
    let ok = layer(4, 4, Activation::Tanh, 0.25);
    assert!(predict(0.0, 1.0, 2, &[ok], Loss::Mean).is_some());
    assert!(predict(0.0, 1.0, 2, &[], Loss::Mean).is_none());
    assert!(predict(0.0, 1.0, 0, &[ok], Loss::Mean).is_none());
    assert!(predict(f64::NAN, 1.0, 2, &[ok], Loss::Mean).is_none());
    assert!(predict(0.0, -1.0, 2, &[ok], Loss::Mean).is_none());
    assert!(predict(0.0, f64::INFINITY, 2, &[ok], Loss::Mean).is_none());
    for bad in [
        LayerInput {
            weight_mean: 0.1,
            weight_var: 0.0,
            ..ok
        },
        LayerInput {
            weight_var: f64::NAN,
            ..ok
        },
        LayerInput {
            bias_var: -0.5,
            ..ok
        },
        LayerInput {
            bias_mean: f64::INFINITY,
            ..ok
        },
        LayerInput { fan_in: 0, ..ok },
        LayerInput {
            activation: Activation::Elu { alpha: f64::NAN },
            ..ok
        },
    ] {
        assert!(
            predict(0.0, 1.0, 2, &[bad], Loss::Mean).is_none(),
            "{bad:?}"
        );
    }
    assert!(
        predict(
            0.0,
            1.0,
            2,
            &[ok, layer(5, 4, Activation::Tanh, 0.2)],
            Loss::Mean
        )
        .is_none()
    );
    // Overflow: a linear stack that leaves the f64 range.
    let huge = layer(4, 4, Activation::Identity, 1e100);
    assert!(predict(0.0, 1.0, 2, &[huge; 5], Loss::Mean).is_none());
}
