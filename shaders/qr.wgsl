// Helper kernels of the blocked Householder QR (src/qr.rs); the panel
// factorisation is in qr_panel.wgsl and the updates are GEMMs.
//
// The QR works on n x m row-major matrices stored with a row stride `ld`
// (a multiple of 64, so that every block can be copied into a texture).

struct QrParams {
    n: u32,         // rows
    m: u32,         // columns
    ld: u32,        // row stride of the padded working matrices
    mode: u32,      // qr_diag: 0 = ones, 1 = gain * sign(R_jj); qr_store: 1 = transpose
    gain: f32,
    src_off: u32,   // element offset of the source matrix (qr_load)
    _p0: u32,
    _p1: u32,
}

@group(0) @binding(0) var<uniform> qp: QrParams;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
@group(0) @binding(3) var<storage, read> rdiag: array<f32>;
@group(0) @binding(4) var qtex: texture_2d<f32>;

override WG: u32 = 64u;

fn linear_id(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return (wid.y * nwg.x + wid.x) * WG + lid;
}

// dst (n x ld) = src (n x m, dense) with zero padding columns. Only for
// widths that are not a multiple of 64 (otherwise the host copies).
@compute @workgroup_size(WG)
fn qr_load(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
    let e = linear_id(wid, nwg, lid);
    if (e >= qp.n * qp.ld) {
        return;
    }
    let i = e / qp.ld;
    let j = e % qp.ld;
    dst[e] = select(0.0, src[qp.src_off + i * qp.m + j], j < qp.m);
}

// dst = src on the block of n rows x m columns starting at element src_off
// (row stride ld, the same place in both): a panel's merged Y into the
// blocks' Y.
@compute @workgroup_size(WG)
fn qr_copy_block(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_index) lid: u32) {
    let e = linear_id(wid, nwg, lid);
    if (e >= qp.n * qp.m) {
        return;
    }
    let o = qp.src_off + (e / qp.m) * qp.ld + e % qp.m;
    dst[o] = src[o];
}

// The diagonal of a cleared Q: d_j = 1, or gain * sign(R_jj) so that the
// accumulated reflectors give Q * diag(d) (torch's sign correction).
@compute @workgroup_size(WG)
fn qr_diag(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
    let j = linear_id(wid, nwg, lid);
    if (j >= qp.m) {
        return;
    }
    var d = 1.0;
    if (qp.mode == 1u) {
        d = qp.gain * select(-1.0, 1.0, rdiag[j] >= 0.0);
    }
    dst[j * qp.ld + j] = d;
}

// dst = Q (n x m, dense) or its transpose (m x n), read from a texture copy
// of the padded Q (texel (q, i) = Q[i, 4q..4q+3]): a texel fetch instead of
// a per-lane storage load. One invocation per texel.
@compute @workgroup_size(WG)
fn qr_store(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
    let t = linear_id(wid, nwg, lid);
    let m4 = (qp.m + 3u) / 4u;
    if (t >= qp.n * m4) {
        return;
    }
    let i = t / m4;
    let q = t % m4;
    let v = textureLoad(qtex, vec2<u32>(q, i), 0);
    for (var e = 0u; e < 4u; e++) {
        let j = q * 4u + e;
        if (j < qp.m) {
            if (qp.mode == 1u) {
                dst[j * qp.n + i] = v[e];
            } else {
                dst[i * qp.m + j] = v[e];
            }
        }
    }
}
