// The Jacobian spectrum's small kernels (src/kernels/jacobian.rs): scaling
// the rows of a frame by a layer's activation derivatives, and the on-the-fly
// row-graded product T = diag(e^ell) V of the backward QR half-sweep.
//
// Why graded: the product of R factors spans hundreds of decades, so it is
// never formed; V stays unit upper triangular with O(1) entries and ell holds
// the cumulative log|diag|, as a compensated (hi, lo) pair of f32 sums.

struct JacParams {
    rows: u32,
    cols: u32,
    _p1: u32,
    _p2: u32,
}

@group(0) @binding(0) var<uniform> jp: JacParams;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read> vec_in: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;
@group(0) @binding(4) var<storage, read_write> ell: array<f32>;

override WG: u32 = 64u;

fn index(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return (wid.y * nwg.x + wid.x) * WG + lid;
}

// dst[i, j] = vec_in[i] * src[i, j] (rows x cols): D_l times a frame.
@compute @workgroup_size(WG)
fn row_scale(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
    let e = index(wid, nwg, lid);
    if (e >= jp.rows * jp.cols) {
        return;
    }
    dst[e] = vec_in[e / jp.cols] * src[e];
}

// The exponent cap: exp(80) is far inside f32 and the entries that reach it
// are never needed (measured max |log M| is about 1.5).
const CAP: f32 = 80.0;

// M[a, b] = C[a, b] / C[a, a] * exp(ell[b] - ell[a]) for a <= b, else 0
// (src = C, k x k; ell = (hi[0..k], lo[k..2k])); dst = M.
@compute @workgroup_size(WG)
fn form_m(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
    let k = jp.cols;
    let e = index(wid, nwg, lid);
    if (e >= k * k) {
        return;
    }
    let a = e / k;
    let b = e % k;
    if (b < a) {
        dst[e] = 0.0;
        return;
    }
    let d = (ell[b] - ell[a]) + (ell[k + b] - ell[k + a]);
    dst[e] = src[e] / src[a * k + a] * exp(min(d, CAP));
}

// ell += log|diag C| with a compensated (two-sum) accumulation: ell's hi
// part grows to hundreds while each term is O(1).
@compute @workgroup_size(WG)
fn ell_update(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
    let k = jp.cols;
    let a = index(wid, nwg, lid);
    if (a >= k) {
        return;
    }
    let x = log(abs(src[a * k + a]));
    let hi = ell[a];
    let s = hi + x;
    let bp = s - hi;
    let err = (hi - (s - bp)) + (x - bp);
    ell[a] = s;
    ell[k + a] = ell[k + a] + err;
}
