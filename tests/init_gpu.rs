//! Every init scheme on the GPU, on ≥10⁶ elements: exact bounds, std against
//! torch's formula, Kolmogorov–Smirnov against the exact distribution, and
//! reproducibility across runs, geometries and backends.

mod common;
mod oracle;

use common::*;
use initscope::activation::{Activation, norm_cdf};
use initscope::config::Init;
use initscope::exec::init::generate;
use initscope::init::{Sampler, Shape, sampler};
use initscope::rng::Draw;
use initscope::rng::{Role, Stream};
use oracle::host_fill::host_elementwise;
use serde_json::json;

const FAN_IN: usize = 2048;
const FAN_OUT: usize = 512; // 1,048,576 elements

fn draw(layer: u32) -> Draw {
    Draw {
        seed: 1234,
        stream: Stream {
            layer,
            role: Role::Weight,
            repeat: 0,
        },
    }
}

/// A scheme from its manifest form.
fn init(v: serde_json::Value) -> Init {
    Init::from_json(v).unwrap()
}

fn make(init: &Init, shape: Shape, layer: u32) -> (Sampler, Vec<f64>) {
    let s = sampler(init, shape, Activation::Relu, None).unwrap();
    let v = generate(&gpu(), &s, shape, draw(layer), 64).unwrap();
    (s, v.into_iter().map(f64::from).collect())
}

fn std_of(xs: &[f64]) -> f64 {
    moments(xs).1.sqrt()
}

/// Uniform-type: exact bounds, std = bound/√3 within 1%, KS, and bit-identical to the host twin.
fn check_uniform(init: Init, bound: f64) {
    let shape = Shape::weight(FAN_IN, FAN_OUT);
    let (s, v) = make(&init, shape, 1);
    assert!(v.len() >= 1_000_000);
    assert!(
        v.iter().all(|x| x.abs() <= bound),
        "{init:?}: value outside ±{bound}"
    );
    let sd = std_of(&v);
    assert!(
        (sd / (bound / 3f64.sqrt()) - 1.0).abs() < 0.01,
        "{init:?}: std {sd}"
    );
    let d = ks_statistic(&v, |x| ((x + bound) / (2.0 * bound)).clamp(0.0, 1.0));
    assert!(d < ks_critical(v.len()), "{init:?}: KS D={d}");
    let Sampler::Elementwise(parts) = &s else {
        panic!("elementwise")
    };
    let host = host_elementwise(parts, v.len(), draw(1));
    assert!(
        host.iter()
            .zip(&v)
            .all(|(h, g)| f64::from(*h).to_bits() == g.to_bits()),
        "{init:?}: not bit-identical"
    );
}

/// Normal-type: std within 1% of the formula, KS against N(0, std²), host twin within 1e-5.
fn check_normal(init: Init, std: f64) {
    let shape = Shape::weight(FAN_IN, FAN_OUT);
    let (s, v) = make(&init, shape, 2);
    let (m, var) = moments(&v);
    assert!(m.abs() < 0.005 * std, "{init:?}: mean {m}");
    assert!(
        (var.sqrt() / std - 1.0).abs() < 0.01,
        "{init:?}: std {} vs {std}",
        var.sqrt()
    );
    let d = ks_statistic(&v, |x| norm_cdf(x / std));
    assert!(d < ks_critical(v.len()), "{init:?}: KS D={d}");
    let Sampler::Elementwise(parts) = &s else {
        panic!("elementwise")
    };
    let host = host_elementwise(parts, 4096, draw(2));
    let worst = host
        .iter()
        .zip(&v)
        .map(|(h, g)| (f64::from(*h) - g).abs())
        .fold(0.0, f64::max);
    assert!(
        worst < 1e-5 * std.max(1.0) * 8.0,
        "{init:?}: host twin differs by {worst}"
    );
}

#[test]
fn uniform_type_schemes() {
    let (fi, fo) = (FAN_IN as f64, FAN_OUT as f64);
    check_uniform(init(json!({"scheme": "uniform", "a": -0.3, "b": 0.3})), 0.3);
    check_uniform(
        init(json!({"scheme": "xavier_uniform", "gain": 1.0})),
        (6.0 / (fi + fo)).sqrt(),
    );
    check_uniform(
        init(json!({"scheme": "xavier_uniform", "gain": "tanh"})),
        5.0 / 3.0 * (6.0 / (fi + fo)).sqrt(),
    );
    let ku = init(
        json!({"scheme": "kaiming_uniform", "a": 0.0, "mode": "fan_in", "nonlinearity": "relu"}),
    );
    check_uniform(ku, (6.0 / fi).sqrt());
    let ku_out = init(
        json!({"scheme": "kaiming_uniform", "a": 0.0, "mode": "fan_out", "nonlinearity": "leaky_relu"}),
    );
    // torch passes a (= 0) as the leaky_relu slope, so the gain is √2.
    check_uniform(ku_out, 3f64.sqrt() * 2f64.sqrt() / fo.sqrt());
    check_uniform(init(json!({"scheme": "lecun_uniform"})), (3.0 / fi).sqrt());
    check_uniform(init(json!({"scheme": "torch_default"})), 1.0 / fi.sqrt());
}

#[test]
fn uniform_with_offset_has_exact_bounds() {
    let (_, v) = make(
        &init(json!({"scheme": "uniform", "a": 5.0, "b": 10.0})),
        Shape::weight(FAN_IN, FAN_OUT),
        3,
    );
    assert!(v.iter().all(|x| (5.0..=10.0).contains(x)));
    let (m, var) = moments(&v);
    assert!((m - 7.5).abs() < 0.01 && (var.sqrt() / (5.0 / 12f64.sqrt()) - 1.0).abs() < 0.01);
}

#[test]
fn normal_type_schemes() {
    let (fi, fo) = (FAN_IN as f64, FAN_OUT as f64);
    check_normal(
        init(json!({"scheme": "normal", "mean": 0.0, "std": 0.02})),
        0.02,
    );
    check_normal(
        init(json!({"scheme": "xavier_normal", "gain": 1.0})),
        (2.0 / (fi + fo)).sqrt(),
    );
    let kn = init(
        json!({"scheme": "kaiming_normal", "a": 0.0, "mode": "fan_in", "nonlinearity": "relu"}),
    );
    check_normal(kn, (2.0 / fi).sqrt());
    check_normal(init(json!({"scheme": "lecun_normal"})), (1.0 / fi).sqrt());
    check_normal(init(json!({"scheme": "scaled_normal"})), (1.0 / fi).sqrt());
}

#[test]
fn constant_schemes_are_exact() {
    for (init, want) in [
        (init(json!({"scheme": "zeros"})), 0.0),
        (init(json!({"scheme": "ones"})), 1.0),
        (init(json!({"scheme": "constant", "value": 42.0})), 42.0),
    ] {
        let (_, v) = make(&init, Shape::weight(FAN_IN, FAN_OUT), 4);
        assert!(v.iter().all(|x| *x == want), "{init:?}");
    }
}

#[test]
fn trunc_normal_matches_torch_distribution() {
    let (mean, std, a, b) = (0.5, 1.0, -1.0, 2.0);
    let (_, v) = make(
        &init(json!({"scheme": "trunc_normal", "mean": mean, "std": std, "a": a, "b": b})),
        Shape::weight(FAN_IN, FAN_OUT),
        5,
    );
    assert!(v.iter().all(|x| (a..=b).contains(x)), "outside [a, b]");
    let (al, be) = ((a - mean) / std, (b - mean) / std);
    let z = norm_cdf(be) - norm_cdf(al);
    let cdf = |x: f64| ((norm_cdf((x - mean) / std) - norm_cdf(al)) / z).clamp(0.0, 1.0);
    let d = ks_statistic(&v, cdf);
    assert!(d < ks_critical(v.len()), "KS D={d}");
    let pa = initscope::activation::norm_pdf(al);
    let pb = initscope::activation::norm_pdf(be);
    let want_var = std * std * (1.0 + (al * pa - be * pb) / z - ((pa - pb) / z).powi(2));
    let (_, var) = moments(&v);
    assert!(
        (var.sqrt() / want_var.sqrt() - 1.0).abs() < 0.01,
        "std {} vs {}",
        var.sqrt(),
        want_var.sqrt()
    );
}

#[test]
fn sparse_zeroes_exactly_per_column() {
    let shape = Shape::weight(1024, 1024);
    let (s, v) = make(
        &init(json!({"scheme": "sparse", "sparsity": 0.3, "std": 0.05})),
        shape,
        6,
    );
    let Sampler::Sparse { num_zeros, .. } = s else {
        panic!()
    };
    assert_eq!(num_zeros, 308); // ceil(0.3 * 1024)
    for c in 0..shape.cols {
        let zeros = (0..shape.rows)
            .filter(|r| v[r * shape.cols + c] == 0.0)
            .count();
        assert_eq!(zeros, 308, "column {c}");
    }
    let nz: Vec<f64> = v.iter().copied().filter(|x| *x != 0.0).collect();
    let d = ks_statistic(&nz, |x| norm_cdf(x / 0.05));
    assert!(d < ks_critical(nz.len()), "KS D={d}");
    // Zero rows differ between columns: the choice is random per column.
    let col0: Vec<bool> = (0..shape.rows).map(|r| v[r * shape.cols] == 0.0).collect();
    let col1: Vec<bool> = (0..shape.rows)
        .map(|r| v[r * shape.cols + 1] == 0.0)
        .collect();
    assert_ne!(col0, col1);
}

#[test]
fn mixture_component_fractions() {
    let init = init(json!({"scheme": "mixture", "components": [
        {"weight": 0.25, "dist": {"scheme": "uniform", "a": 5.0, "b": 10.0}},
        {"weight": 0.5, "dist": {"scheme": "zeros"}},
        {"weight": 0.25, "dist": {"scheme": "uniform", "a": -10.0, "b": -5.0}},
    ]}));
    let (s, v) = make(&init, Shape::weight(FAN_IN, FAN_OUT), 7);
    let n = v.len() as f64;
    let frac = |f: &dyn Fn(f64) -> bool| v.iter().filter(|x| f(**x)).count() as f64 / n;
    let sigma = (0.25f64 * 0.75 / n).sqrt();
    assert!((frac(&|x| (5.0..=10.0).contains(&x)) - 0.25).abs() < 5.0 * sigma);
    assert!((frac(&|x| x == 0.0) - 0.5).abs() < 5.0 * (0.25 / n).sqrt());
    assert!((frac(&|x| (-10.0..=-5.0).contains(&x)) - 0.25).abs() < 5.0 * sigma);
    assert_eq!(frac(&|x| x != 0.0 && x.abs() < 5.0), 0.0);
    let pos: Vec<f64> = v.iter().copied().filter(|x| *x > 0.0).collect();
    let d = ks_statistic(&pos, |x| ((x - 5.0) / 5.0).clamp(0.0, 1.0));
    assert!(d < ks_critical(pos.len()), "KS D={d}");
    let Sampler::Elementwise(parts) = &s else {
        panic!()
    };
    let host = host_elementwise(parts, 100_000, draw(7));
    assert!(
        host.iter().zip(&v).all(|(h, g)| f64::from(*h) == *g),
        "mixture not bit-identical to host twin"
    );
}

/// max |W Wᵀ − gain² I| (rows ≤ cols) or |Wᵀ W − gain² I| (rows > cols), in f64.
fn ortho_error(w: &[f64], rows: usize, cols: usize, gain: f64) -> f64 {
    let (n, m, row_major) = if rows <= cols {
        (rows, cols, true)
    } else {
        (cols, rows, false)
    };
    // Vectors to compare: rows of W, or columns of W (gathered).
    let vecs: Vec<Vec<f64>> = (0..n)
        .map(|i| {
            if row_major {
                w[i * cols..(i + 1) * cols].to_vec()
            } else {
                (0..rows).map(|r| w[r * cols + i]).collect()
            }
        })
        .collect();
    let mut worst: f64 = 0.0;
    for i in 0..n {
        for j in i..n {
            let dot: f64 = (0..m).map(|k| vecs[i][k] * vecs[j][k]).sum();
            let want = if i == j { gain * gain } else { 0.0 };
            worst = worst.max((dot - want).abs());
        }
    }
    worst / (gain * gain)
}

#[test]
fn orthogonal_square_wide_tall_and_gain() {
    for (rows, cols, gain) in [
        (256, 256, 1.0),
        (128, 512, 2.0),
        (512, 96, 1.0),
        (7, 3, 1.5),
        (1, 5, 1.0),
    ] {
        let init = init(json!({"scheme": "orthogonal", "gain": gain}));
        let (_, w) = make(&init, Shape::weight(cols, rows), 8);
        let err = ortho_error(&w, rows, cols, gain);
        assert!(err <= 1e-5, "{rows}x{cols}: orthogonality error {err}");
    }
}

#[test]
fn orthogonal_2048_within_1e5() {
    let n = 2048;
    let (_, w) = make(
        &init(json!({"scheme": "orthogonal", "gain": 1.0})),
        Shape::weight(n, n),
        9,
    );
    let err = ortho_error(&w, n, n, 1.0);
    eprintln!("orthogonality error at n = 2048: {err:.3e}");
    assert!(err <= 1e-5, "orthogonality error {err}");
}

#[test]
fn orthogonal_is_haar_trace_moments() {
    // For Haar-distributed O(n): E[tr Q] = 0 and E[(tr Q)²] = 1.
    let gpu = gpu();
    let s = Sampler::Orthogonal { gain: 1.0 };
    let traces: Vec<f64> = (0..600u32)
        .map(|layer| {
            let w = generate(&gpu, &s, Shape::weight(8, 8), draw(layer), 64).unwrap();
            (0..8).map(|i| f64::from(w[i * 8 + i])).sum()
        })
        .collect();
    let (m, _) = moments(&traces);
    let second = traces.iter().map(|t| t * t).sum::<f64>() / traces.len() as f64;
    // Standard errors: 1/√600 ≈ 0.041 for the mean; ≈ 0.06 for the second moment.
    assert!(m.abs() < 0.15, "mean trace {m}");
    assert!((second - 1.0).abs() < 0.25, "E[tr²] = {second}");
    // The sign correction matters: without it diagonal entries are biased positive.
    let diag_mean = traces.iter().sum::<f64>() / (8.0 * traces.len() as f64);
    assert!(diag_mean.abs() < 0.03, "diagonal mean {diag_mean}");
}

#[test]
fn reproducible_across_runs_and_geometries() {
    let gpu = gpu();
    let shape = Shape::weight(300, 200);
    for init in [
        init(json!({"scheme": "xavier_uniform", "gain": 1.0})),
        init(json!({"scheme": "normal", "mean": 0.0, "std": 1.0})),
        init(json!({"scheme": "trunc_normal", "mean": 0.0, "std": 1.0, "a": -2.0, "b": 2.0})),
    ] {
        let s = sampler(&init, shape, Activation::Tanh, None).unwrap();
        let a = generate(&gpu, &s, shape, draw(11), 64).unwrap();
        let b = generate(&gpu, &s, shape, draw(11), 64).unwrap();
        let c = generate(&gpu, &s, shape, draw(11), 256).unwrap();
        let d = generate(&gpu, &s, shape, draw(11), 32).unwrap();
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&a), bits(&b), "{init:?} differs across runs");
        assert_eq!(bits(&a), bits(&c), "{init:?} differs across geometries");
        assert_eq!(bits(&a), bits(&d), "{init:?} differs across geometries");
    }
    let s = Sampler::Orthogonal { gain: 1.0 };
    let a = generate(&gpu, &s, Shape::weight(64, 32), draw(12), 64).unwrap();
    let b = generate(&gpu, &s, Shape::weight(64, 32), draw(12), 64).unwrap();
    assert_eq!(a, b);
}

#[test]
fn gl_backend_uniform_bit_identical_normal_close() {
    let Some(gl) = gl_gpu() else {
        panic!("no GL adapter here")
    };
    let vk = gpu();
    let shape = Shape::weight(256, 512);
    for init in [
        init(json!({"scheme": "xavier_uniform", "gain": 1.0})),
        init(
            json!({"scheme": "kaiming_uniform", "a": 0.0, "mode": "fan_in", "nonlinearity": "relu"}),
        ),
        init(json!({"scheme": "torch_default"})),
    ] {
        let s = sampler(&init, shape, Activation::Tanh, None).unwrap();
        let a = generate(&vk, &s, shape, draw(13), 64).unwrap();
        let b = generate(&gl, &s, shape, draw(13), 64).unwrap();
        assert!(
            a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()),
            "{init:?}"
        );
    }
    for init in [
        init(json!({"scheme": "xavier_normal", "gain": 1.0})),
        init(json!({"scheme": "orthogonal", "gain": 1.0})),
    ] {
        let s = sampler(&init, shape, Activation::Tanh, None).unwrap();
        let a = generate(&vk, &s, shape, draw(13), 64).unwrap();
        let b = generate(&gl, &s, shape, draw(13), 64).unwrap();
        let worst = a
            .iter()
            .zip(&b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max);
        assert!(worst <= 1e-5, "{init:?}: GL differs by {worst}");
    }
}

/// Two orthogonal matrices of one shape drawn as a pair (their QR panels in
/// one dispatch, as a model's layers are) are bit-identical to each drawn
/// alone: square, padded (m not a multiple of 64) and wide shapes, and
/// different gains and streams in one pair.
#[test]
fn orthogonal_pairs_match_one_at_a_time() {
    use initscope::kernels::orthogonal::encode_pair;
    let gpu = gpu();
    for (rows, cols) in [(256, 256), (200, 72), (96, 300)] {
        let shape = Shape::weight(cols, rows);
        let gains = [1.0, 1.5];
        let alone: Vec<Vec<f32>> = (0..2)
            .map(|k| {
                let s = Sampler::Orthogonal { gain: gains[k] };
                generate(&gpu, &s, shape, draw(3 + k as u32), 64).unwrap()
            })
            .collect();
        let outs = [0, 1].map(|_| gpu.storage("pair out", (rows * cols * 4) as u64).unwrap());
        let mut enc = gpu.device.create_command_encoder(&Default::default());
        encode_pair(
            &gpu,
            &mut enc,
            [&outs[0], &outs[1]],
            gains,
            shape,
            [draw(3), draw(4)],
        )
        .unwrap();
        gpu.submit("pair", enc).unwrap();
        for k in 0..2 {
            let v: Vec<f32> = gpu.read("pair out", &outs[k], 0, rows * cols).unwrap();
            let same = v
                .iter()
                .zip(&alone[k])
                .all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(
                same,
                "{rows}x{cols}: matrix {k} of the pair differs from its draw alone"
            );
        }
    }
}
