//! The Jacobian spectrum (product form on the GPU, log-scaled Jacobi on the
//! host) against the f64 oracle on the same factors read back from the GPU.

mod common;
mod oracle;

use common::*;
use initscope::exec::Session;
use initscope::jacobian::Spectrum;
use oracle::jacobian::{RefFactor, formed, log10_smax, log10_smin_via_inverse, singular_values};
use serde_json::{Value, json};

/// A run config: `widths` layers after `input_dim`, one activation, no bias.
fn config(input_dim: usize, widths: &[usize], act: &str, init: Value) -> Value {
    json!({
        "network": {"input_dim": input_dim, "widths": widths, "activation": act,
                    "final_activation": act, "bias": false},
        "init": init,
        "input": {"batch": 4},
    })
}

/// The GPU spectrum of the whole network at input row 0 and the same
/// factors in f64.
fn measure(cfg: Value, seed: u64) -> (Spectrum, Vec<RefFactor>) {
    let spec = run_spec(cfg, seed);
    let model = initscope::model::build::build(&spec, None).unwrap();
    let gpu = gpu();
    let session = Session::new(&gpu, &model, seed, 0).unwrap();
    session.step().unwrap();
    let factors = session.jacobian_factors(0).unwrap();
    let graded = session.jacobian_graded(&factors).unwrap();
    let tensors = session.tensors().unwrap();
    let refs = factors
        .iter()
        .enumerate()
        .map(|(i, f)| RefFactor {
            n_in: f.n_in,
            n_out: f.n_out,
            w: (tensors.get(&format!("layers.{i}.weight")).unwrap().iter())
                .map(|x| f64::from(*x))
                .collect(),
            d: f.d.iter().map(|x| f64::from(*x)).collect(),
        })
        .collect();
    (Spectrum::from_graded(&graded), refs)
}

/// Max relative error of the GPU values against the f64 SVD of the formed
/// product over the values that SVD resolves (s_i / s_max > 1e-9); checks
/// that the exact zeros the GPU reports are below that floor in f64.
fn check_against_formed(what: &str, s: &Spectrum, refs: &[RefFactor]) -> f64 {
    let (n0, nl) = (refs[0].n_in, refs.last().unwrap().n_out);
    let want = singular_values(&formed(refs), nl, n0);
    assert_eq!(s.ln_s.len() + s.zeros, want.len(), "{what}: count");
    let got: Vec<f64> = s.ln_s.iter().map(|l| l.exp()).collect();
    let floor = 1e-9 * want[0];
    let mut worst = 0.0f64;
    for (i, w) in want.iter().enumerate() {
        match got.get(i) {
            Some(g) if *w > floor => worst = worst.max((g - w).abs() / w),
            Some(_) => {}
            None => assert!(*w < floor, "{what}: value {i} is {w:e} in f64, reported 0"),
        }
    }
    assert!(worst < 1e-4, "{what}: max relative error {worst:e}");
    worst
}

#[test]
fn small_products_match_the_f64_svd_of_the_formed_product() {
    let gauss = json!({"scheme": "lecun_normal"});
    let orth = json!({"scheme": "orthogonal"});
    let he = json!({"scheme": "kaiming_normal", "nonlinearity": "relu"});
    let cases: Vec<(&str, Value)> = vec![
        ("gauss 8x1", config(8, &[8], "identity", gauss.clone())),
        (
            "gauss 64x3",
            config(64, &[64; 3], "identity", gauss.clone()),
        ),
        (
            "gauss 16x20",
            config(16, &[16; 20], "identity", gauss.clone()),
        ),
        (
            "orth 32x10",
            config(32, &[32; 10], "identity", orth.clone()),
        ),
        ("tanh 32x8", config(32, &[32; 8], "tanh", gauss.clone())),
        ("relu 32x5", config(32, &[32; 5], "relu", he.clone())),
        (
            "rect bottleneck",
            config(24, &[40, 12, 48, 20], "identity", gauss.clone()),
        ),
        (
            "rect wide out",
            config(16, &[48, 64, 40], "tanh", gauss.clone()),
        ),
        (
            "rect narrow out",
            config(56, &[40, 24, 8], "identity", orth.clone()),
        ),
        (
            "rect relu",
            config(20, &[48, 36, 64, 28], "relu", he.clone()),
        ),
    ];
    for (i, (what, cfg)) in cases.into_iter().enumerate() {
        let (s, refs) = measure(cfg, 100 + i as u64);
        let worst = check_against_formed(what, &s, &refs);
        eprintln!(
            "{what}: k = {}, zeros = {}, max rel err {worst:.2e}",
            s.ln_s.len(),
            s.zeros
        );
    }
}

#[test]
fn deep_gaussian_log10_smin_matches_f64_through_the_inverse() {
    for (n, l, seed) in [(32usize, 50usize, 7u64), (48, 30, 8)] {
        let cfg = config(
            n,
            &vec![n; l],
            "identity",
            json!({"scheme": "lecun_normal"}),
        );
        let (s, refs) = measure(cfg, seed);
        let l10 = s.log10();
        let (lo, hi) = (log10_smin_via_inverse(&refs), log10_smax(&refs));
        eprintln!(
            "n={n} L={l}: log10 s_min {} vs {lo}, s_max {} vs {hi}",
            l10[n - 1],
            l10[0]
        );
        assert!(
            lo < -20.0,
            "the test needs a product far beyond f64's formed SVD"
        );
        assert!(
            (l10[n - 1] - lo).abs() < 0.01,
            "log10 s_min {} vs {lo}",
            l10[n - 1]
        );
        assert!((l10[0] - hi).abs() < 1e-4, "log10 s_max {} vs {hi}", l10[0]);
    }
}

#[test]
fn orthogonal_linear_stacks_are_isometric() {
    for (n, l, seed) in [(64usize, 10usize, 3u64), (48, 20, 4)] {
        let cfg = config(n, &vec![n; l], "identity", json!({"scheme": "orthogonal"}));
        let (s, _) = measure(cfg, seed);
        let worst = s.ln_s.iter().map(|x| x.exp_m1().abs()).fold(0.0, f64::max);
        eprintln!("orthogonal n={n} L={l}: max |s - 1| = {worst:.2e}");
        assert_eq!(s.ln_s.len(), n);
        assert!(worst < 1e-5, "max |s - 1| = {worst:e}");
    }
}
