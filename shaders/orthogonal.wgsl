// Haar-orthogonal weights as a product of Householder reflectors built from
// the columns of a Gaussian matrix as drawn (Stewart 1980): distributed as
// the sign-corrected Q of the QR of a Gaussian matrix, though not equal to
// it. Used for matrices taller than the blocked QR's panel kernel holds.
//
// G is n x m (n >= m), row-major, N(0, 1) entries from the orthogonal-source
// stream. Reflector k uses column k below the diagonal: x = G[k.., k].
// Y starts as gain * [diag(d); 0] and reflectors are applied from the last to
// the first: Y <- H_k Y with H_k = I - beta_k v_k v_k^T.

struct OrthoParams {
    n: u32,
    m: u32,
    n_refl: u32,
    transpose_out: u32,
    gain: f32,
    _p0: u32,
    _p1: u32,
    _p2: u32,
}

@group(0) @binding(0) var<uniform> op: OrthoParams;
@group(0) @binding(1) var<storage, read_write> g: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read_write> beta: array<f32>;
@group(0) @binding(4) var<storage, read_write> d: array<f32>;
@group(0) @binding(5) var<storage, read_write> w: array<f32>;
@group(0) @binding(6) var<storage, read_write> state: array<u32>;

override WG: u32 = 64u;

fn linear_id(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return (wid.y * nwg.x + wid.x) * WG + lid;
}

fn sign1(x: f32) -> f32 {
    return select(-1.0, 1.0, x >= 0.0);
}

// One invocation per column k: the reflector's vector (in place), beta and d.
@compute @workgroup_size(WG)
fn ortho_prepare(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_index) lid: u32) {
    let k = linear_id(wid, nwg, lid);
    if (k >= op.m) {
        return;
    }
    let x0 = g[k * op.m + k];
    if (k >= op.n_refl) {
        // The last column of a square matrix: R_kk = x0, no reflector.
        beta[k] = 0.0;
        d[k] = sign1(x0);
        return;
    }
    // Scaled sum of squares: no overflow or underflow whatever the scale.
    var scale = 0.0;
    var ssq = 1.0;
    for (var i = k; i < op.n; i++) {
        let a = abs(g[i * op.m + k]);
        if (a > 0.0) {
            if (scale < a) {
                ssq = 1.0 + ssq * (scale / a) * (scale / a);
                scale = a;
            } else {
                ssq = ssq + (a / scale) * (a / scale);
            }
        }
    }
    let nrm = scale * sqrt(ssq);
    if (nrm == 0.0) {
        beta[k] = 0.0;
        d[k] = 1.0;
        return;
    }
    let s = sign1(x0);
    g[k * op.m + k] = x0 + s * nrm;
    beta[k] = 1.0 / (nrm * (nrm + abs(x0)));
    d[k] = -s;
}

@compute @workgroup_size(WG)
fn ortho_start(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
    let e = linear_id(wid, nwg, lid);
    if (e == 0u) {
        state[0] = op.n_refl;
    }
    if (e >= op.n * op.m) {
        return;
    }
    let i = e / op.m;
    let j = e % op.m;
    y[e] = select(0.0, op.gain * d[j], i == j);
}

// w_j = v_k^T Y[k.., j] for j >= k (columns left of k are untouched by H_k).
// Kahan-compensated: these dot products set the orthogonality error.
@compute @workgroup_size(WG)
fn ortho_dot(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
    let k = state[0] - 1u;
    let j = k + linear_id(wid, nwg, lid);
    if (j >= op.m) {
        return;
    }
    var sum = 0.0;
    var comp = 0.0;
    for (var i = k; i < op.n; i++) {
        let term = g[i * op.m + k] * y[i * op.m + j] - comp;
        let t = sum + term;
        comp = (t - sum) - term;
        sum = t;
    }
    w[j] = sum;
}

// Y[i, j] -= beta_k v_i w_j for i >= k, j >= k; each invocation updates a
// segment of SEG columns of one row (one element per invocation leaves
// lavapipe dominated by per-invocation overhead).
const SEG: u32 = 16u;

@compute @workgroup_size(WG)
fn ortho_update(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
    let k = state[0] - 1u;
    let t = linear_id(wid, nwg, lid);
    let segs = (op.m - k + SEG - 1u) / SEG;
    let i = k + t / segs;
    if (i >= op.n) {
        return;
    }
    let j0 = k + (t % segs) * SEG;
    let f = beta[k] * g[i * op.m + k];
    for (var j = j0; j < min(j0 + SEG, op.m); j++) {
        y[i * op.m + j] = y[i * op.m + j] - f * w[j];
    }
}

@compute @workgroup_size(1)
fn ortho_next() {
    state[0] = state[0] - 1u;
}

// W = Y (rows >= cols) or W = Y^T (rows < cols), written into g's buffer
// by the host's choice of binding (y -> out).
@compute @workgroup_size(WG)
fn ortho_store(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
    let e = linear_id(wid, nwg, lid);
    if (e >= op.n * op.m) {
        return;
    }
    if (op.transpose_out == 0u) {
        g[e] = y[e];
    } else {
        // Output is m x n: W[r, c] = Y[c, r].
        let r = e / op.n;
        let c = e % op.n;
        g[e] = y[c * op.m + r];
    }
}
