//! The f64 oracle of the Jacobian spectrum: the product formed in f64 and
//! its SVD (trusted for s_i / s_max > ~1e-9), and log10 s_min of square
//! products through the inverse, P⁻¹ = A_1⁻¹ ⋯ A_L⁻¹ built with a
//! Frobenius renormalisation per layer, so depth is unlimited.

/// One factor A = diag(d)·W, W (n_out × n_in) row-major.
#[derive(Debug, Clone)]
pub struct RefFactor {
    pub n_in: usize,
    pub n_out: usize,
    pub w: Vec<f64>,
    pub d: Vec<f64>,
}

impl RefFactor {
    /// diag(d)·W as a dense row-major matrix.
    pub fn dense(&self) -> Vec<f64> {
        let mut a = self.w.clone();
        for i in 0..self.n_out {
            a[i * self.n_in..(i + 1) * self.n_in]
                .iter_mut()
                .for_each(|x| *x *= self.d[i]);
        }
        a
    }
}

/// C (m × n) = A (m × k) · B (k × n), row-major.
pub fn matmul(a: &[f64], b: &[f64], m: usize, k: usize, n: usize) -> Vec<f64> {
    let mut c = vec![0.0; m * n];
    for i in 0..m {
        for p in 0..k {
            let x = a[i * k + p];
            let row = &b[p * n..(p + 1) * n];
            c[i * n..(i + 1) * n]
                .iter_mut()
                .zip(row)
                .for_each(|(ci, bi)| *ci += x * bi);
        }
    }
    c
}

/// P = A_L ⋯ A_1 formed in f64 (n_L × n_0).
pub fn formed(factors: &[RefFactor]) -> Vec<f64> {
    let n0 = factors[0].n_in;
    let mut p: Vec<f64> = (0..n0 * n0)
        .map(|e| f64::from(u8::from(e / n0 == e % n0)))
        .collect();
    for f in factors {
        p = matmul(&f.dense(), &p, f.n_out, f.n_in, n0);
    }
    p
}

/// Singular values (largest first, min(m, n) of them) of A (m × n) by
/// one-sided Jacobi on the columns of the thinner orientation.
pub fn singular_values(a: &[f64], m: usize, n: usize) -> Vec<f64> {
    // Columns of Aᵀ are A's rows: use whichever gives fewer, longer columns.
    let (cols, len): (Vec<Vec<f64>>, usize) = if n <= m {
        (
            (0..n)
                .map(|j| (0..m).map(|i| a[i * n + j]).collect())
                .collect(),
            m,
        )
    } else {
        ((0..m).map(|i| a[i * n..(i + 1) * n].to_vec()).collect(), n)
    };
    let _ = len;
    let mut c = cols;
    let dot = |x: &[f64], y: &[f64]| x.iter().zip(y).map(|(a, b)| a * b).sum::<f64>();
    for _ in 0..100 {
        let mut off = 0.0f64;
        for p in 0..c.len() {
            for q in p + 1..c.len() {
                let (alpha, beta, gamma) =
                    (dot(&c[p], &c[p]), dot(&c[q], &c[q]), dot(&c[p], &c[q]));
                if gamma == 0.0 {
                    continue;
                }
                off = off.max(gamma.abs() / (alpha * beta).sqrt());
                let zeta = (beta - alpha) / (2.0 * gamma);
                let t = zeta.signum() / (zeta.abs() + (1.0 + zeta * zeta).sqrt());
                let cs = 1.0 / (1.0 + t * t).sqrt();
                let sn = cs * t;
                let (cp, cq) = (c[p].clone(), c[q].clone());
                c[p] = cp.iter().zip(&cq).map(|(x, y)| cs * x - sn * y).collect();
                c[q] = cp.iter().zip(&cq).map(|(x, y)| sn * x + cs * y).collect();
            }
        }
        if off < 1e-15 {
            break;
        }
    }
    let mut s: Vec<f64> = c.iter().map(|v| dot(v, v).sqrt()).collect();
    s.sort_by(|a, b| b.total_cmp(a));
    s
}

/// The inverse of a square matrix (Gauss–Jordan, partial pivoting).
pub fn inverse(a: &[f64], n: usize) -> Vec<f64> {
    let mut m = a.to_vec();
    let mut inv: Vec<f64> = (0..n * n)
        .map(|e| f64::from(u8::from(e / n == e % n)))
        .collect();
    for col in 0..n {
        let piv = (col..n)
            .max_by(|&i, &j| m[i * n + col].abs().total_cmp(&m[j * n + col].abs()))
            .unwrap();
        for j in 0..n {
            m.swap(col * n + j, piv * n + j);
            inv.swap(col * n + j, piv * n + j);
        }
        let d = m[col * n + col];
        for j in 0..n {
            m[col * n + j] /= d;
            inv[col * n + j] /= d;
        }
        for i in (0..n).filter(|&i| i != col) {
            let f = m[i * n + col];
            if f != 0.0 {
                for j in 0..n {
                    m[i * n + j] -= f * m[col * n + j];
                    inv[i * n + j] -= f * inv[col * n + j];
                }
            }
        }
    }
    inv
}

/// log10 s_max of a square product, formed with a Frobenius renormalisation
/// per layer (the log-scale carried in f64).
fn log10_smax_renormalised(mats: &[Vec<f64>], n: usize) -> f64 {
    let mut x: Vec<f64> = (0..n * n)
        .map(|e| f64::from(u8::from(e / n == e % n)))
        .collect();
    let mut log10_scale = 0.0;
    for a in mats {
        x = matmul(&x, a, n, n, n);
        let fro = x.iter().map(|v| v * v).sum::<f64>().sqrt();
        x.iter_mut().for_each(|v| *v /= fro);
        log10_scale += fro.log10();
    }
    log10_scale + singular_values(&x, n, n)[0].log10()
}

/// log10 s_min of a square product A_L ⋯ A_1 through its inverse
/// A_1⁻¹ ⋯ A_L⁻¹: s_min(P) = 1/s_max(P⁻¹), with no formed-product cancellation.
pub fn log10_smin_via_inverse(factors: &[RefFactor]) -> f64 {
    let n = factors[0].n_in;
    let invs: Vec<Vec<f64>> = factors.iter().map(|f| inverse(&f.dense(), n)).collect();
    -log10_smax_renormalised(&invs, n)
}

/// log10 s_max of a square product, renormalised (any depth).
pub fn log10_smax(factors: &[RefFactor]) -> f64 {
    let n = factors[0].n_in;
    // x ← x·A: multiply on the right of the reversed order gives A_L ⋯ A_1's transpose chain.
    let mats: Vec<Vec<f64>> = factors.iter().rev().map(RefFactor::dense).collect();
    log10_smax_renormalised(&mats, n)
}
