// Shared-memory tiled GEMM for real GPUs: a workgroup of (TN/4) x (TM/4)
// invocations computes a TM x TN tile of C, each invocation a 4 x 4 register
// block; A and B tiles of depth TK are staged in workgroup memory. Strides
// as in matmul.wgsl (no packing needed).

struct TileParams {
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

@group(0) @binding(0) var<uniform> tp: TileParams;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> c: array<f32>;

const TM: u32 = 64u;
const TN: u32 = 64u;
override TK: u32 = 16u;      // depth of a staged tile, 4..=16
const WG: u32 = 256u;        // (TN / 4) * (TM / 4)

var<workgroup> a_tile: array<f32, 1024>;   // TK x TM, k-major
var<workgroup> b_tile: array<f32, 1024>;   // TK x TN, k-major

@compute @workgroup_size(WG)
fn gemm_tiled(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
    let w = wid.y * nwg.x + wid.x;
    let row0 = (w / tp.tiles_n) * TM;
    let col0 = (w % tp.tiles_n) * TN;
    let tx = lid % (TN / 4u);
    let ty = lid / (TN / 4u);
    var acc: array<vec4<f32>, 4>;
    for (var r = 0u; r < 4u; r++) {
        acc[r] = vec4<f32>(0.0);
    }
    let in_range = row0 < tp.m;
    for (var k0 = 0u; k0 < tp.k; k0 += TK) {
        for (var e = lid; e < TK * TM; e += WG) {
            let kk = e / TM;
            let mm = e % TM;
            let i = row0 + mm;
            let p = k0 + kk;
            a_tile[e] = select(0.0, a[tp.a_off + min(i, tp.m - 1u) * tp.a_si + min(p, tp.k - 1u) * tp.a_sp], i < tp.m && p < tp.k);
        }
        for (var e = lid; e < TK * TN; e += WG) {
            let kk = e / TN;
            let nn = e % TN;
            let j = col0 + nn;
            let p = k0 + kk;
            b_tile[e] = select(0.0, b[tp.b_off + min(p, tp.k - 1u) * tp.b_sp + min(j, tp.n - 1u) * tp.b_sj], j < tp.n && p < tp.k);
        }
        workgroupBarrier();
        for (var kk = 0u; kk < TK; kk++) {
            let av = vec4<f32>(a_tile[kk * TM + ty * 4u], a_tile[kk * TM + ty * 4u + 1u],
                               a_tile[kk * TM + ty * 4u + 2u], a_tile[kk * TM + ty * 4u + 3u]);
            let bv = vec4<f32>(b_tile[kk * TN + tx * 4u], b_tile[kk * TN + tx * 4u + 1u],
                               b_tile[kk * TN + tx * 4u + 2u], b_tile[kk * TN + tx * 4u + 3u]);
            acc[0] = acc[0] + av.x * bv;
            acc[1] = acc[1] + av.y * bv;
            acc[2] = acc[2] + av.z * bv;
            acc[3] = acc[3] + av.w * bv;
        }
        workgroupBarrier();
    }
    if (!in_range) {
        return;
    }
    for (var r = 0u; r < 4u; r++) {
        let i = row0 + ty * 4u + r;
        if (i < tp.m) {
            for (var q = 0u; q < 4u; q++) {
                let j = col0 + tx * 4u + q;
                if (j < tp.n) {
                    var v = tp.alpha * acc[r][q];
                    if (tp.has_bias != 0u) {
                        v = v + bias[j];
                    }
                    let o = tp.c_off + i * tp.c_si + j;
                    if (tp.accumulate != 0u) {
                        v = v + c[o];
                    }
                    c[o] = v;
                }
            }
        }
    }
}
