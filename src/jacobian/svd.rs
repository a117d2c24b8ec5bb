//! Host f64 linear algebra of the Jacobian spectrum: the one-sided Jacobi
//! SVD of a matrix whose columns carry their own log-scale, and a thin
//! Householder QR.
//!
//! Why log-scaled columns: the GPU hands back the product's triangular
//! factor as `diag(e^ℓ)·V` with `ℓ` spanning hundreds of natural-log units
//! (s_min of 50 Gaussian layers of width 512 is about 1e-84), which no float
//! format holds. Each column is kept as `exp(e_j)·g_j` with `‖g_j‖ = 1`, and
//! a rotation only ever needs the ratio `r = exp(e_q − e_p) ≤ 1` of two
//! scales — which may underflow to 0 harmlessly. Pairs are never skipped
//! because their scales differ: the small column still has to be
//! orthogonalised against the large one (`g_q ← g_q − γ g_p` as r → 0).

/// Result of [`jacobi_log`]: natural logs of the singular values, largest
/// first, and the number of sweeps it took.
#[derive(Debug, Clone, PartialEq)]
pub struct LogSvd {
    pub ln_s: Vec<f64>,
    pub sweeps: u32,
}

/// Largest number of Jacobi sweeps (deep graded products need 6–8,
/// clustered spectra about 11).
const MAX_SWEEPS: u32 = 60;

/// Singular values of the `k × k` matrix `G` whose column `j` is
/// `exp(e[j]) · cols[j]` (`cols` column-major, `k` columns of length `k`,
/// any norm). `tol` bounds |cos| between converged columns (1e-8: the input
/// is only float32-accurate).
pub fn jacobi_log(cols: &[f64], e: &[f64], k: usize, tol: f64) -> LogSvd {
    let mut g: Vec<Vec<f64>> = (0..k).map(|j| cols[j * k..(j + 1) * k].to_vec()).collect();
    let mut e = e.to_vec();
    for (gj, ej) in g.iter_mut().zip(e.iter_mut()) {
        *ej += normalise(gj);
    }
    // Largest scales first: rotations then mostly move small columns.
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|&a, &b| e[b].total_cmp(&e[a]));
    let mut g: Vec<Vec<f64>> = order.iter().map(|&j| std::mem::take(&mut g[j])).collect();
    let mut e: Vec<f64> = order.iter().map(|&j| e[j]).collect();
    let mut sweeps = 0;
    while sweeps < MAX_SWEEPS {
        sweeps += 1;
        let mut rotated = false;
        for p in 0..k {
            let (head, tail) = g.split_at_mut(p + 1);
            for (qi, gq) in tail.iter_mut().enumerate() {
                let q = p + 1 + qi;
                rotated |= rotate(&mut head[p], gq, &mut e, (p, q), tol);
            }
        }
        if !rotated {
            break;
        }
    }
    e.sort_by(|a, b| b.total_cmp(a));
    LogSvd { ln_s: e, sweeps }
}

/// Scales `v` to unit norm; returns ln of its old norm (−inf for a zero vector).
fn normalise(v: &mut [f64]) -> f64 {
    let big = v.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    if big == 0.0 || !big.is_finite() {
        return f64::NEG_INFINITY;
    }
    let n = big * v.iter().map(|x| (x / big).powi(2)).sum::<f64>().sqrt();
    v.iter_mut().for_each(|x| *x /= n);
    n.ln()
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// One Hestenes rotation of columns p and q (scale-free form); returns
/// whether it rotated.
fn rotate(gp: &mut [f64], gq: &mut [f64], e: &mut [f64], (p, q): (usize, usize), tol: f64) -> bool {
    if e[q] == f64::NEG_INFINITY || e[p] == f64::NEG_INFINITY {
        return false;
    }
    let gamma = dot(gp, gq);
    if gamma.abs() <= tol {
        return false;
    }
    // (big, small): r = exp(e_small − e_big) ≤ 1.
    let (big, small, gb, gs) = if e[p] >= e[q] {
        (p, q, gp, gq)
    } else {
        (q, p, gq, gp)
    };
    let r = (e[small] - e[big]).exp();
    let w = (1.0 - r * r) / (2.0 * gamma);
    let sw = if w >= 0.0 { 1.0 } else { -1.0 };
    let u = -1.0 / (w + sw * (r * r + w * w).sqrt());
    let t = u * r;
    let c = 1.0 / (1.0 + t * t).sqrt();
    let ur2 = u * r * r;
    for (x, y) in gb.iter_mut().zip(gs.iter_mut()) {
        let (xb, ys) = (*x, *y);
        *x = c * (xb - ur2 * ys);
        *y = c * (u * xb + ys);
    }
    e[big] += normalise(gb);
    e[small] += normalise(gs);
    true
}

/// Thin Householder QR of `z` (`n × k` row-major, n ≥ k): returns Q
/// (`n × k` row-major, orthonormal columns) with a positive R diagonal.
pub fn householder_q(z: &[f64], n: usize, k: usize) -> Vec<f64> {
    // Column-major working copy: column j is a[j*n..].
    let mut a: Vec<f64> = (0..k)
        .flat_map(|j| (0..n).map(move |i| (i, j)))
        .map(|(i, j)| z[i * k + j])
        .collect();
    let mut vs: Vec<(Vec<f64>, f64)> = Vec::with_capacity(k);
    let mut sign = vec![1.0; k];
    for j in 0..k {
        let col = &a[j * n + j..(j + 1) * n];
        let norm = col.iter().map(|x| x * x).sum::<f64>().sqrt();
        let alpha = if col[0] >= 0.0 { -norm } else { norm };
        let mut v = col.to_vec();
        v[0] -= alpha;
        let vv = dot(&v, &v);
        let beta = if vv > 0.0 { 2.0 / vv } else { 0.0 };
        for c in j..k {
            let x = &mut a[c * n + j..(c + 1) * n];
            let f = beta * dot(&v, x);
            x.iter_mut().zip(&v).for_each(|(xi, vi)| *xi -= f * vi);
        }
        // R_jj = alpha; Q·diag(sign) makes the diagonal positive.
        sign[j] = if alpha < 0.0 { -1.0 } else { 1.0 };
        vs.push((v, beta));
    }
    // Q = H_0 ⋯ H_{k−1} [diag(sign); 0], applied from the last reflector.
    let mut q = vec![0.0; n * k];
    for j in 0..k {
        let col = &mut q[j * n..(j + 1) * n];
        col[j] = sign[j];
        for (r, (v, beta)) in vs.iter().enumerate().rev() {
            let x = &mut col[r..];
            let f = beta * dot(v, x);
            x.iter_mut().zip(v).for_each(|(xi, vi)| *xi -= f * vi);
        }
    }
    (0..n)
        .flat_map(|i| (0..k).map(move |j| (i, j)))
        .map(|(i, j)| q[j * n + i])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lcg(seed: &mut u64) -> f64 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((*seed >> 11) as f64 / (1u64 << 53) as f64) - 0.5
    }

    #[test]
    fn jacobi_of_a_diagonal_with_huge_range() {
        // diag(1e-200, 1, 1e150) scaled through e, columns e_j.
        let k = 3;
        let cols = vec![1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0];
        let e = [-200.0 * 10f64.ln(), 0.0, 150.0 * 10f64.ln()];
        let s = jacobi_log(&cols, &e, k, 1e-12);
        let l10: Vec<f64> = s.ln_s.iter().map(|x| x / 10f64.ln()).collect();
        assert!((l10[0] - 150.0).abs() < 1e-12 && (l10[2] + 200.0).abs() < 1e-12);
    }

    #[test]
    fn jacobi_matches_a_2x2_closed_form() {
        // [[1, 1], [0, 1]]: s = golden ratio and its inverse.
        let cols = vec![1.0, 1.0, 0.0, 1.0]; // columns of Gᵀ = rows of G: same singular values
        let s = jacobi_log(&cols, &[0.0, 0.0], 2, 1e-15);
        let phi = (1.0 + 5f64.sqrt()) / 2.0;
        assert!((s.ln_s[0] - phi.ln()).abs() < 1e-13, "{:?}", s);
        assert!((s.ln_s[1] + phi.ln()).abs() < 1e-13, "{:?}", s);
    }

    #[test]
    fn householder_q_is_orthonormal_and_spans_z() {
        let (n, k) = (7, 4);
        let mut seed = 3;
        let z: Vec<f64> = (0..n * k).map(|_| lcg(&mut seed)).collect();
        let q = householder_q(&z, n, k);
        for a in 0..k {
            for b in 0..k {
                let d: f64 = (0..n).map(|i| q[i * k + a] * q[i * k + b]).sum();
                assert!((d - f64::from(u8::from(a == b))).abs() < 1e-13);
            }
            // Q Qᵀ z_a = z_a.
            let c: Vec<f64> = (0..k)
                .map(|b| (0..n).map(|i| q[i * k + b] * z[i * k + a]).sum())
                .collect();
            for i in 0..n {
                let back: f64 = (0..k).map(|b| q[i * k + b] * c[b]).sum();
                assert!((back - z[i * k + a]).abs() < 1e-13);
            }
            // Positive diagonal of R = QᵀZ.
            assert!(c[a] > 0.0);
        }
    }
}
