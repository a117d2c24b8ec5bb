//! The blocked GPU QR against an f64 host Householder QR: Q orthonormal,
//! Qᵀ·A upper triangular with R's diagonal on it (so Q·R = A), and R's
//! diagonal to 1e-5 relative, on square, tall, odd and ill-scaled shapes.
//!
//! Tolerances on R: 1e-5·|R_jj| plus 1e-6·‖a_j‖. The second term is the f32
//! rounding of the trailing updates, which any f32 QR makes: the last R_jj of
//! a square Gaussian matrix is about 1/√n of its column's norm, so a
//! backward-stable f32 factorisation cannot give it to 1e-5 relative.

mod common;

use common::{gl_gpu, gpu};
use initscope::gpu::Gpu;
use initscope::kernels::qr::{ColumnScale, Qr};
use initscope::rng::{Role, Stream, stream_normal};

fn gaussian(n: usize, seed: u32) -> Vec<f32> {
    let s = Stream {
        layer: seed,
        role: Role::Weight,
        repeat: 0,
    };
    stream_normal(u64::from(seed), s, n, 0.0, 1.0)
}

/// |R_jj| of the f64 Householder QR of A (n × m, row-major).
fn host_rdiag(a: &[f32], n: usize, m: usize) -> Vec<f64> {
    let mut x: Vec<f64> = a.iter().map(|&v| f64::from(v)).collect();
    let mut d = Vec::with_capacity(m);
    for j in 0..m {
        let nrm = (j..n).map(|i| x[i * m + j].powi(2)).sum::<f64>().sqrt();
        d.push(nrm);
        if nrm == 0.0 {
            continue;
        }
        let alpha = -x[j * m + j].signum() * nrm;
        let mut v: Vec<f64> = (j..n).map(|i| x[i * m + j]).collect();
        v[0] -= alpha;
        let vv: f64 = v.iter().map(|t| t * t).sum();
        if vv == 0.0 {
            continue;
        }
        for c in j..m {
            let dot: f64 = (j..n).map(|i| v[i - j] * x[i * m + c]).sum();
            for i in j..n {
                x[i * m + c] -= 2.0 * dot / vv * v[i - j];
            }
        }
    }
    d
}

/// Runs the QR of `a` (n × m) with `qr`, returns (Q, R's diagonal).
fn run(gpu: &Gpu, qr: &Qr, a: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let (n, m) = qr.shape();
    let ba = gpu.storage_from("a", a).unwrap();
    let bq = gpu.storage("q", (n * m * 4) as u64).unwrap();
    let br = gpu.storage("rdiag", (m * 4) as u64).unwrap();
    let mut enc = gpu.device.create_command_encoder(&Default::default());
    qr.encode(gpu, &mut enc, (&ba).into(), (&bq).into(), (&br).into())
        .unwrap();
    gpu.submit("qr test", enc).unwrap();
    (
        gpu.read("q", &bq, 0, n * m).unwrap(),
        gpu.read("rdiag", &br, 0, m).unwrap(),
    )
}

/// Checks one factorisation: QᵀQ = I and Qᵀ·A upper triangular with `rd`
/// on its diagonal.
fn check(a: &[f32], n: usize, m: usize, q: &[f32], rd: &[f32]) {
    let col =
        |v: &[f32], j: usize| -> Vec<f64> { (0..n).map(|i| f64::from(v[i * m + j])).collect() };
    let qc: Vec<Vec<f64>> = (0..m).map(|j| col(q, j)).collect();
    let ac: Vec<Vec<f64>> = (0..m).map(|j| col(a, j)).collect();
    let dot = |x: &[f64], y: &[f64]| x.iter().zip(y).map(|(a, b)| a * b).sum::<f64>();
    let mut orth: f64 = 0.0;
    for i in 0..m {
        for j in i..m {
            let want = if i == j { 1.0 } else { 0.0 };
            orth = orth.max((dot(&qc[i], &qc[j]) - want).abs());
        }
    }
    assert!(orth <= 1e-5, "{n}x{m}: max |QᵀQ − I| = {orth:e}");
    // R = Qᵀ·A must be upper triangular with `rd` on its diagonal.
    for j in 0..m {
        let norm_j = dot(&ac[j], &ac[j]).sqrt();
        for (i, qi) in qc.iter().enumerate().skip(j) {
            let r = dot(qi, &ac[j]);
            if i > j {
                assert!(
                    r.abs() <= 1e-5 * norm_j,
                    "{n}x{m}: R[{i},{j}] = {r:e} below the diagonal"
                );
            } else {
                let got = f64::from(rd[j]);
                assert!(
                    (r - got).abs() <= 1e-5 * r.abs() + 1e-6 * norm_j,
                    "{n}x{m}: R[{j},{j}]: Qᵀa_j gives {r:e}, rdiag {got:e}"
                );
            }
        }
    }
}

/// |R_jj| against the f64 host QR.
fn check_host(a: &[f32], n: usize, m: usize, rd: &[f32]) {
    let host = host_rdiag(a, n, m);
    for (j, (&g, &h)) in rd.iter().zip(&host).enumerate() {
        let g = f64::from(g).abs();
        let norm_j = (0..n)
            .map(|i| f64::from(a[i * m + j]).powi(2))
            .sum::<f64>()
            .sqrt();
        assert!(
            (g - h).abs() <= 1e-5 * h + 1e-6 * norm_j,
            "{n}x{m}: |R[{j},{j}]| = {g:e}, f64 host {h:e}"
        );
    }
}

#[test]
fn qr_matches_host_reference_on_square_tall_and_odd_shapes() {
    let gpu = gpu();
    for (n, m) in [
        (64, 64),
        (256, 256),
        (300, 100),
        (97, 33),
        (130, 129),
        // Three blocks of 128 columns, the last of 77 (three panels, one partial).
        (600, 333),
        (40, 1),
        (7, 7),
    ] {
        let a = gaussian(n * m, (n + m) as u32);
        let qr = Qr::new(&gpu, n, m).unwrap();
        let (q, rd) = run(&gpu, &qr, &a);
        check(&a, n, m, &q, &rd);
        check_host(&a, n, m, &rd);
    }
}

#[test]
fn qr_keeps_relative_accuracy_for_tiny_and_huge_columns() {
    // Columns scaled from 1e-30 to 1e30: R's diagonal scales with them (a
    // plain sum of squares would underflow or overflow in f32).
    let gpu = gpu();
    let (n, m) = (96, 40);
    let mut a = gaussian(n * m, 5);
    for (e, v) in a.iter_mut().enumerate() {
        let j = e % m;
        *v *= 10f32.powi((j as i32 % 7 - 3) * 10);
    }
    let qr = Qr::new(&gpu, n, m).unwrap();
    let (q, rd) = run(&gpu, &qr, &a);
    check_host(&a, n, m, &rd);
    // Q stays orthonormal.
    let col = |j: usize| -> Vec<f64> { (0..n).map(|i| f64::from(q[i * m + j])).collect() };
    for i in 0..m {
        for j in i..m {
            let d: f64 = col(i).iter().zip(col(j)).map(|(a, b)| a * b).sum();
            let want = if i == j { 1.0 } else { 0.0 };
            assert!((d - want).abs() <= 1e-5, "QᵀQ[{i},{j}] = {d}");
        }
    }
}

#[test]
fn qr_scratch_is_reused_and_rank_deficiency_is_handled() {
    let gpu = gpu();
    let (n, m) = (150, 70);
    let qr = Qr::new(&gpu, n, m).unwrap();
    let a1 = gaussian(n * m, 11);
    let (q, rd) = run(&gpu, &qr, &a1);
    check(&a1, n, m, &q, &rd);
    check_host(&a1, n, m, &rd);
    // A zero column and a repeated column: Q is still orthonormal, R_jj = 0.
    let mut a2 = gaussian(n * m, 12);
    for i in 0..n {
        a2[i * m + 5] = 0.0;
        a2[i * m + 40] = a2[i * m + 39];
    }
    let (q, rd) = run(&gpu, &qr, &a2);
    assert_eq!(rd[5], 0.0, "a zero column gives R_jj = 0");
    assert!(
        rd[40].abs() < 1e-4,
        "a repeated column gives R_jj ≈ 0, got {}",
        rd[40]
    );
    check(&a2, n, m, &q, &rd);
}

#[test]
fn qr_refuses_wide_and_empty_shapes() {
    let gpu = gpu();
    assert!(Qr::new(&gpu, 3, 5).is_err());
    assert!(Qr::new(&gpu, 4, 0).is_err());
}

#[test]
fn qr_without_subgroups_matches_too() {
    // The GL backend has no subgroup operations: the portable panel kernel
    // (a reduction tree) and the simple GEMM.
    let Some(gl) = gl_gpu() else {
        panic!("no GL adapter here")
    };
    for (n, m) in [(60, 40), (37, 37)] {
        let a = gaussian(n * m, 21);
        let qr = Qr::new(&gl, n, m).unwrap();
        let (q, rd) = run(&gl, &qr, &a);
        check(&a, n, m, &q, &rd);
        check_host(&a, n, m, &rd);
    }
}

#[test]
fn qr_sign_corrected_q_has_a_positive_diagonal() {
    // Q·diag(sign R): Qᵀ·A then has |R_jj| on its diagonal.
    let gpu = gpu();
    let (n, m) = (120, 50);
    let a = gaussian(n * m, 31);
    let qr = Qr::new(&gpu, n, m).unwrap();
    let ba = gpu.storage_from("a", &a).unwrap();
    let bq = gpu.storage("q", (n * m * 4) as u64).unwrap();
    let br = gpu.storage("rdiag", (m * 4) as u64).unwrap();
    let mut enc = gpu.device.create_command_encoder(&Default::default());
    let views = [(&ba).into(), (&bq).into(), (&br).into()];
    let scale = ColumnScale::SignOfR { gain: 1.0 };
    qr.encode_scaled(&gpu, &mut enc, views, scale).unwrap();
    gpu.submit("qr test", enc).unwrap();
    let q: Vec<f32> = gpu.read("q", &bq, 0, n * m).unwrap();
    let rd: Vec<f32> = gpu.read("rdiag", &br, 0, m).unwrap();
    let positive: Vec<f32> = rd.iter().map(|r| r.abs()).collect();
    check(&a, n, m, &q, &positive);
}
