// General strided GEMM: C[i, j] = alpha * sum_p A(i, p) * B(p, j) (+ bias[j])
// (+ C[i, j]), with A(i, p) = a[a_off + i * a_si + p * a_sp],
// B(p, j) = b[b_off + p * b_sp + j * b_sj] and C[i, j] at c[c_off + i * c_si + j].
// One layout covers the three orientations of a linear layer:
//   forward  H  = X  W^T : A = X (row-major), B(p, j) = W[j, p]
//   backward dX = dH W   : A = dH,            B(p, j) = W[p, j]
//   backward dW = dH^T X : A(i, p) = dH[p, i], B = X
// Each invocation owns a TM x TN register tile; no workgroup memory and no
// barriers, which lavapipe punishes (see DESIGN.md's measured facts).

struct GemmParams {
    m: u32,
    n: u32,
    k: u32,
    has_bias: u32,
    a_si: u32,
    a_sp: u32,
    b_sp: u32,
    b_sj: u32,
    tiles_n: u32,
    accumulate: u32, // C += alpha·A·B instead of C = alpha·A·B (batch-chunked dW)
    c_si: u32,       // row stride of C
    a_off: u32,      // element offsets of A, B and C in their bindings
    b_off: u32,
    c_off: u32,
    alpha: f32,
    _p1: u32,
}

@group(0) @binding(0) var<uniform> gp: GemmParams;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> c: array<f32>;

override WG: u32 = 64u;
const TM: u32 = 4u;
const TN: u32 = 4u;

@compute @workgroup_size(WG)
fn gemm(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let t = (wid.y * nwg.x + wid.x) * WG + lid;
    let ti = t / gp.tiles_n;
    let tj = t % gp.tiles_n;
    let i0 = ti * TM;
    let j0 = tj * TN;
    if (i0 >= gp.m) {
        return;
    }
    var acc: array<vec4<f32>, 4>;
    for (var r = 0u; r < TM; r++) {
        acc[r] = vec4<f32>(0.0);
    }
    // Clamp rows/columns so loads stay in bounds; only valid ones are stored.
    var ar: array<u32, 4>;
    for (var r = 0u; r < TM; r++) {
        ar[r] = gp.a_off + min(i0 + r, gp.m - 1u) * gp.a_si;
    }
    var bc: vec4<u32>;
    for (var q = 0u; q < TN; q++) {
        bc[q] = gp.b_off + min(j0 + q, gp.n - 1u) * gp.b_sj;
    }
    for (var p = 0u; p < gp.k; p++) {
        let bp = p * gp.b_sp;
        let bv = vec4<f32>(b[bp + bc.x], b[bp + bc.y], b[bp + bc.z], b[bp + bc.w]);
        let ap = p * gp.a_sp;
        for (var r = 0u; r < TM; r++) {
            acc[r] = acc[r] + a[ar[r] + ap] * bv;
        }
    }
    for (var r = 0u; r < TM; r++) {
        let i = i0 + r;
        if (i < gp.m) {
            for (var q = 0u; q < TN; q++) {
                let j = j0 + q;
                if (j < gp.n) {
                    var v = gp.alpha * acc[r][q];
                    if (gp.has_bias != 0u) {
                        v = v + bias[j];
                    }
                    let o = gp.c_off + i * gp.c_si + j;
                    if (gp.accumulate != 0u) {
                        v = v + c[o];
                    }
                    c[o] = v;
                }
            }
        }
    }
}
