// GEMM for CPU adapters (lavapipe): one workgroup is one subgroup of 8 lanes
// and uses no workgroup memory and no barriers. Each lane owns RM rows x 8
// columns of C; A is loaded once per 8 rows and handed to every lane with
// subgroupBroadcast (in Mesa every storage load is a scalar loop over the
// lanes, so sharing A is the big win). B is pre-packed by `pack_b` into rows
// of vec4, zero-padded: a storage buffer (`gemm_sgRM`) or an rgba32float
// texture read with textureLoad, which is branch-free and vectorised
// (`gemm_sgRM_tex`). Every accumulator is a named variable: lavapipe turns a
// dynamically indexed private array into per-lane memory traffic.
//
// The entry points below the GENERATED marker are written by
// `shaders/gen_matmul_subgroup.py` (RM = 8, 16, 32; buffer or texture B).
//
// C[i, j] = sum_p A(i, p) * B(p, j) (+ bias[j]), A(i, p) = a[i*a_si + p*a_sp].

struct SgParams {
    m: u32,
    n: u32,
    k: u32,
    has_bias: u32,
    a_si: u32,
    a_sp: u32,
    ldb4: u32,      // vec4s per packed B row (a multiple of 16)
    tiles_n: u32,   // column tiles of 64 columns
    b_sp: u32,      // (pack) B(p, j) = b[p*b_sp + j*b_sj]
    b_sj: u32,
    _p0: u32,
    _p1: u32,
}

@group(0) @binding(0) var<uniform> sp: SgParams;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> bpk: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> c: array<f32>;
@group(0) @binding(5) var<storage, read> b: array<f32>;
@group(0) @binding(6) var<storage, read_write> bpk_out: array<vec4<f32>>;
@group(0) @binding(7) var btex: texture_2d<f32>;
@group(0) @binding(8) var btex_out: texture_storage_2d<rgba32float, write>;

const WGP: u32 = 64u;

fn packed_texel(p: u32, q: u32) -> vec4<f32> {
    var v = vec4<f32>(0.0);
    for (var e = 0u; e < 4u; e++) {
        let j = q * 4u + e;
        if (j < sp.n) {
            v[e] = b[p * sp.b_sp + j * sp.b_sj];
        }
    }
    return v;
}

// Packs B (K x N, any strides) into K rows of ldb4 vec4s, zero-padded.
@compute @workgroup_size(WGP)
fn pack_b(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
    let t = (wid.y * nwg.x + wid.x) * WGP + lid;
    let p = t / sp.ldb4;
    if (p < sp.k) {
        bpk_out[t] = packed_texel(p, t % sp.ldb4);
    }
}

// The same packing into a texture (texel (q, p)).
@compute @workgroup_size(WGP)
fn pack_b_tex(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
    let t = (wid.y * nwg.x + wid.x) * WGP + lid;
    let p = t / sp.ldb4;
    let q = t % sp.ldb4;
    if (p < sp.k) {
        textureStore(btex_out, vec2<u32>(q, p), packed_texel(p, q));
    }
}

fn store_row(i: u32, q0: u32, v0: vec4<f32>, v1: vec4<f32>) {
    if (i >= sp.m) {
        return;
    }
    for (var e = 0u; e < 8u; e++) {
        let j = q0 * 4u + e;
        if (j < sp.n) {
            var o = select(v1, v0, e < 4u)[e % 4u];
            if (sp.has_bias != 0u) {
                o = o + bias[j];
            }
            c[i * sp.n + j] = o;
        }
    }
}

// ---- GENERATED below by shaders/gen_matmul_subgroup.py; do not edit by hand ----

// RM = 8 rows per lane, 8 columns per lane; B from packed vec4 rows.
@compute @workgroup_size(8)
fn gemm_sg8(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(subgroup_invocation_id) lane: u32) {
    let w = wid.y * nwg.x + wid.x;
    let row0 = (w / sp.tiles_n) * 8u;
    if (row0 >= sp.m) {
        return;
    }
    let q0 = ((w % sp.tiles_n) * 8u + lane) * 2u;
    var c0_0 = vec4<f32>(0.0);
    var c0_1 = vec4<f32>(0.0);
    var c1_0 = vec4<f32>(0.0);
    var c1_1 = vec4<f32>(0.0);
    var c2_0 = vec4<f32>(0.0);
    var c2_1 = vec4<f32>(0.0);
    var c3_0 = vec4<f32>(0.0);
    var c3_1 = vec4<f32>(0.0);
    var c4_0 = vec4<f32>(0.0);
    var c4_1 = vec4<f32>(0.0);
    var c5_0 = vec4<f32>(0.0);
    var c5_1 = vec4<f32>(0.0);
    var c6_0 = vec4<f32>(0.0);
    var c6_1 = vec4<f32>(0.0);
    var c7_0 = vec4<f32>(0.0);
    var c7_1 = vec4<f32>(0.0);
    let ar0 = min(row0 + 0u + lane, sp.m - 1u) * sp.a_si;
    for (var p = 0u; p < sp.k; p++) {
        let bb = p * sp.ldb4 + q0;
        let b0 = bpk[bb];
        let b1 = bpk[bb + 1u];
        let ap = p * sp.a_sp;
        let a0 = a[ar0 + ap];
        let x0 = subgroupBroadcast(a0, 0u);
        c0_0 = c0_0 + x0 * b0;
        c0_1 = c0_1 + x0 * b1;
        let x1 = subgroupBroadcast(a0, 1u);
        c1_0 = c1_0 + x1 * b0;
        c1_1 = c1_1 + x1 * b1;
        let x2 = subgroupBroadcast(a0, 2u);
        c2_0 = c2_0 + x2 * b0;
        c2_1 = c2_1 + x2 * b1;
        let x3 = subgroupBroadcast(a0, 3u);
        c3_0 = c3_0 + x3 * b0;
        c3_1 = c3_1 + x3 * b1;
        let x4 = subgroupBroadcast(a0, 4u);
        c4_0 = c4_0 + x4 * b0;
        c4_1 = c4_1 + x4 * b1;
        let x5 = subgroupBroadcast(a0, 5u);
        c5_0 = c5_0 + x5 * b0;
        c5_1 = c5_1 + x5 * b1;
        let x6 = subgroupBroadcast(a0, 6u);
        c6_0 = c6_0 + x6 * b0;
        c6_1 = c6_1 + x6 * b1;
        let x7 = subgroupBroadcast(a0, 7u);
        c7_0 = c7_0 + x7 * b0;
        c7_1 = c7_1 + x7 * b1;
    }
    store_row(row0 + 0u, q0, c0_0, c0_1);
    store_row(row0 + 1u, q0, c1_0, c1_1);
    store_row(row0 + 2u, q0, c2_0, c2_1);
    store_row(row0 + 3u, q0, c3_0, c3_1);
    store_row(row0 + 4u, q0, c4_0, c4_1);
    store_row(row0 + 5u, q0, c5_0, c5_1);
    store_row(row0 + 6u, q0, c6_0, c6_1);
    store_row(row0 + 7u, q0, c7_0, c7_1);
}

// RM = 8 rows per lane, 8 columns per lane; B from a texture.
@compute @workgroup_size(8)
fn gemm_sg8_tex(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(subgroup_invocation_id) lane: u32) {
    let w = wid.y * nwg.x + wid.x;
    let row0 = (w / sp.tiles_n) * 8u;
    if (row0 >= sp.m) {
        return;
    }
    let q0 = ((w % sp.tiles_n) * 8u + lane) * 2u;
    var c0_0 = vec4<f32>(0.0);
    var c0_1 = vec4<f32>(0.0);
    var c1_0 = vec4<f32>(0.0);
    var c1_1 = vec4<f32>(0.0);
    var c2_0 = vec4<f32>(0.0);
    var c2_1 = vec4<f32>(0.0);
    var c3_0 = vec4<f32>(0.0);
    var c3_1 = vec4<f32>(0.0);
    var c4_0 = vec4<f32>(0.0);
    var c4_1 = vec4<f32>(0.0);
    var c5_0 = vec4<f32>(0.0);
    var c5_1 = vec4<f32>(0.0);
    var c6_0 = vec4<f32>(0.0);
    var c6_1 = vec4<f32>(0.0);
    var c7_0 = vec4<f32>(0.0);
    var c7_1 = vec4<f32>(0.0);
    let ar0 = min(row0 + 0u + lane, sp.m - 1u) * sp.a_si;
    for (var p = 0u; p < sp.k; p++) {
        let b0 = textureLoad(btex, vec2<u32>(q0, p), 0);
        let b1 = textureLoad(btex, vec2<u32>(q0 + 1u, p), 0);
        let ap = p * sp.a_sp;
        let a0 = a[ar0 + ap];
        let x0 = subgroupBroadcast(a0, 0u);
        c0_0 = c0_0 + x0 * b0;
        c0_1 = c0_1 + x0 * b1;
        let x1 = subgroupBroadcast(a0, 1u);
        c1_0 = c1_0 + x1 * b0;
        c1_1 = c1_1 + x1 * b1;
        let x2 = subgroupBroadcast(a0, 2u);
        c2_0 = c2_0 + x2 * b0;
        c2_1 = c2_1 + x2 * b1;
        let x3 = subgroupBroadcast(a0, 3u);
        c3_0 = c3_0 + x3 * b0;
        c3_1 = c3_1 + x3 * b1;
        let x4 = subgroupBroadcast(a0, 4u);
        c4_0 = c4_0 + x4 * b0;
        c4_1 = c4_1 + x4 * b1;
        let x5 = subgroupBroadcast(a0, 5u);
        c5_0 = c5_0 + x5 * b0;
        c5_1 = c5_1 + x5 * b1;
        let x6 = subgroupBroadcast(a0, 6u);
        c6_0 = c6_0 + x6 * b0;
        c6_1 = c6_1 + x6 * b1;
        let x7 = subgroupBroadcast(a0, 7u);
        c7_0 = c7_0 + x7 * b0;
        c7_1 = c7_1 + x7 * b1;
    }
    store_row(row0 + 0u, q0, c0_0, c0_1);
    store_row(row0 + 1u, q0, c1_0, c1_1);
    store_row(row0 + 2u, q0, c2_0, c2_1);
    store_row(row0 + 3u, q0, c3_0, c3_1);
    store_row(row0 + 4u, q0, c4_0, c4_1);
    store_row(row0 + 5u, q0, c5_0, c5_1);
    store_row(row0 + 6u, q0, c6_0, c6_1);
    store_row(row0 + 7u, q0, c7_0, c7_1);
}

// RM = 16 rows per lane, 8 columns per lane; B from packed vec4 rows.
@compute @workgroup_size(8)
fn gemm_sg16(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(subgroup_invocation_id) lane: u32) {
    let w = wid.y * nwg.x + wid.x;
    let row0 = (w / sp.tiles_n) * 16u;
    if (row0 >= sp.m) {
        return;
    }
    let q0 = ((w % sp.tiles_n) * 8u + lane) * 2u;
    var c0_0 = vec4<f32>(0.0);
    var c0_1 = vec4<f32>(0.0);
    var c1_0 = vec4<f32>(0.0);
    var c1_1 = vec4<f32>(0.0);
    var c2_0 = vec4<f32>(0.0);
    var c2_1 = vec4<f32>(0.0);
    var c3_0 = vec4<f32>(0.0);
    var c3_1 = vec4<f32>(0.0);
    var c4_0 = vec4<f32>(0.0);
    var c4_1 = vec4<f32>(0.0);
    var c5_0 = vec4<f32>(0.0);
    var c5_1 = vec4<f32>(0.0);
    var c6_0 = vec4<f32>(0.0);
    var c6_1 = vec4<f32>(0.0);
    var c7_0 = vec4<f32>(0.0);
    var c7_1 = vec4<f32>(0.0);
    var c8_0 = vec4<f32>(0.0);
    var c8_1 = vec4<f32>(0.0);
    var c9_0 = vec4<f32>(0.0);
    var c9_1 = vec4<f32>(0.0);
    var c10_0 = vec4<f32>(0.0);
    var c10_1 = vec4<f32>(0.0);
    var c11_0 = vec4<f32>(0.0);
    var c11_1 = vec4<f32>(0.0);
    var c12_0 = vec4<f32>(0.0);
    var c12_1 = vec4<f32>(0.0);
    var c13_0 = vec4<f32>(0.0);
    var c13_1 = vec4<f32>(0.0);
    var c14_0 = vec4<f32>(0.0);
    var c14_1 = vec4<f32>(0.0);
    var c15_0 = vec4<f32>(0.0);
    var c15_1 = vec4<f32>(0.0);
    let ar0 = min(row0 + 0u + lane, sp.m - 1u) * sp.a_si;
    let ar1 = min(row0 + 8u + lane, sp.m - 1u) * sp.a_si;
    for (var p = 0u; p < sp.k; p++) {
        let bb = p * sp.ldb4 + q0;
        let b0 = bpk[bb];
        let b1 = bpk[bb + 1u];
        let ap = p * sp.a_sp;
        let a0 = a[ar0 + ap];
        let x0 = subgroupBroadcast(a0, 0u);
        c0_0 = c0_0 + x0 * b0;
        c0_1 = c0_1 + x0 * b1;
        let x1 = subgroupBroadcast(a0, 1u);
        c1_0 = c1_0 + x1 * b0;
        c1_1 = c1_1 + x1 * b1;
        let x2 = subgroupBroadcast(a0, 2u);
        c2_0 = c2_0 + x2 * b0;
        c2_1 = c2_1 + x2 * b1;
        let x3 = subgroupBroadcast(a0, 3u);
        c3_0 = c3_0 + x3 * b0;
        c3_1 = c3_1 + x3 * b1;
        let x4 = subgroupBroadcast(a0, 4u);
        c4_0 = c4_0 + x4 * b0;
        c4_1 = c4_1 + x4 * b1;
        let x5 = subgroupBroadcast(a0, 5u);
        c5_0 = c5_0 + x5 * b0;
        c5_1 = c5_1 + x5 * b1;
        let x6 = subgroupBroadcast(a0, 6u);
        c6_0 = c6_0 + x6 * b0;
        c6_1 = c6_1 + x6 * b1;
        let x7 = subgroupBroadcast(a0, 7u);
        c7_0 = c7_0 + x7 * b0;
        c7_1 = c7_1 + x7 * b1;
        let a1 = a[ar1 + ap];
        let x8 = subgroupBroadcast(a1, 0u);
        c8_0 = c8_0 + x8 * b0;
        c8_1 = c8_1 + x8 * b1;
        let x9 = subgroupBroadcast(a1, 1u);
        c9_0 = c9_0 + x9 * b0;
        c9_1 = c9_1 + x9 * b1;
        let x10 = subgroupBroadcast(a1, 2u);
        c10_0 = c10_0 + x10 * b0;
        c10_1 = c10_1 + x10 * b1;
        let x11 = subgroupBroadcast(a1, 3u);
        c11_0 = c11_0 + x11 * b0;
        c11_1 = c11_1 + x11 * b1;
        let x12 = subgroupBroadcast(a1, 4u);
        c12_0 = c12_0 + x12 * b0;
        c12_1 = c12_1 + x12 * b1;
        let x13 = subgroupBroadcast(a1, 5u);
        c13_0 = c13_0 + x13 * b0;
        c13_1 = c13_1 + x13 * b1;
        let x14 = subgroupBroadcast(a1, 6u);
        c14_0 = c14_0 + x14 * b0;
        c14_1 = c14_1 + x14 * b1;
        let x15 = subgroupBroadcast(a1, 7u);
        c15_0 = c15_0 + x15 * b0;
        c15_1 = c15_1 + x15 * b1;
    }
    store_row(row0 + 0u, q0, c0_0, c0_1);
    store_row(row0 + 1u, q0, c1_0, c1_1);
    store_row(row0 + 2u, q0, c2_0, c2_1);
    store_row(row0 + 3u, q0, c3_0, c3_1);
    store_row(row0 + 4u, q0, c4_0, c4_1);
    store_row(row0 + 5u, q0, c5_0, c5_1);
    store_row(row0 + 6u, q0, c6_0, c6_1);
    store_row(row0 + 7u, q0, c7_0, c7_1);
    store_row(row0 + 8u, q0, c8_0, c8_1);
    store_row(row0 + 9u, q0, c9_0, c9_1);
    store_row(row0 + 10u, q0, c10_0, c10_1);
    store_row(row0 + 11u, q0, c11_0, c11_1);
    store_row(row0 + 12u, q0, c12_0, c12_1);
    store_row(row0 + 13u, q0, c13_0, c13_1);
    store_row(row0 + 14u, q0, c14_0, c14_1);
    store_row(row0 + 15u, q0, c15_0, c15_1);
}

// RM = 16 rows per lane, 8 columns per lane; B from a texture.
@compute @workgroup_size(8)
fn gemm_sg16_tex(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(subgroup_invocation_id) lane: u32) {
    let w = wid.y * nwg.x + wid.x;
    let row0 = (w / sp.tiles_n) * 16u;
    if (row0 >= sp.m) {
        return;
    }
    let q0 = ((w % sp.tiles_n) * 8u + lane) * 2u;
    var c0_0 = vec4<f32>(0.0);
    var c0_1 = vec4<f32>(0.0);
    var c1_0 = vec4<f32>(0.0);
    var c1_1 = vec4<f32>(0.0);
    var c2_0 = vec4<f32>(0.0);
    var c2_1 = vec4<f32>(0.0);
    var c3_0 = vec4<f32>(0.0);
    var c3_1 = vec4<f32>(0.0);
    var c4_0 = vec4<f32>(0.0);
    var c4_1 = vec4<f32>(0.0);
    var c5_0 = vec4<f32>(0.0);
    var c5_1 = vec4<f32>(0.0);
    var c6_0 = vec4<f32>(0.0);
    var c6_1 = vec4<f32>(0.0);
    var c7_0 = vec4<f32>(0.0);
    var c7_1 = vec4<f32>(0.0);
    var c8_0 = vec4<f32>(0.0);
    var c8_1 = vec4<f32>(0.0);
    var c9_0 = vec4<f32>(0.0);
    var c9_1 = vec4<f32>(0.0);
    var c10_0 = vec4<f32>(0.0);
    var c10_1 = vec4<f32>(0.0);
    var c11_0 = vec4<f32>(0.0);
    var c11_1 = vec4<f32>(0.0);
    var c12_0 = vec4<f32>(0.0);
    var c12_1 = vec4<f32>(0.0);
    var c13_0 = vec4<f32>(0.0);
    var c13_1 = vec4<f32>(0.0);
    var c14_0 = vec4<f32>(0.0);
    var c14_1 = vec4<f32>(0.0);
    var c15_0 = vec4<f32>(0.0);
    var c15_1 = vec4<f32>(0.0);
    let ar0 = min(row0 + 0u + lane, sp.m - 1u) * sp.a_si;
    let ar1 = min(row0 + 8u + lane, sp.m - 1u) * sp.a_si;
    for (var p = 0u; p < sp.k; p++) {
        let b0 = textureLoad(btex, vec2<u32>(q0, p), 0);
        let b1 = textureLoad(btex, vec2<u32>(q0 + 1u, p), 0);
        let ap = p * sp.a_sp;
        let a0 = a[ar0 + ap];
        let x0 = subgroupBroadcast(a0, 0u);
        c0_0 = c0_0 + x0 * b0;
        c0_1 = c0_1 + x0 * b1;
        let x1 = subgroupBroadcast(a0, 1u);
        c1_0 = c1_0 + x1 * b0;
        c1_1 = c1_1 + x1 * b1;
        let x2 = subgroupBroadcast(a0, 2u);
        c2_0 = c2_0 + x2 * b0;
        c2_1 = c2_1 + x2 * b1;
        let x3 = subgroupBroadcast(a0, 3u);
        c3_0 = c3_0 + x3 * b0;
        c3_1 = c3_1 + x3 * b1;
        let x4 = subgroupBroadcast(a0, 4u);
        c4_0 = c4_0 + x4 * b0;
        c4_1 = c4_1 + x4 * b1;
        let x5 = subgroupBroadcast(a0, 5u);
        c5_0 = c5_0 + x5 * b0;
        c5_1 = c5_1 + x5 * b1;
        let x6 = subgroupBroadcast(a0, 6u);
        c6_0 = c6_0 + x6 * b0;
        c6_1 = c6_1 + x6 * b1;
        let x7 = subgroupBroadcast(a0, 7u);
        c7_0 = c7_0 + x7 * b0;
        c7_1 = c7_1 + x7 * b1;
        let a1 = a[ar1 + ap];
        let x8 = subgroupBroadcast(a1, 0u);
        c8_0 = c8_0 + x8 * b0;
        c8_1 = c8_1 + x8 * b1;
        let x9 = subgroupBroadcast(a1, 1u);
        c9_0 = c9_0 + x9 * b0;
        c9_1 = c9_1 + x9 * b1;
        let x10 = subgroupBroadcast(a1, 2u);
        c10_0 = c10_0 + x10 * b0;
        c10_1 = c10_1 + x10 * b1;
        let x11 = subgroupBroadcast(a1, 3u);
        c11_0 = c11_0 + x11 * b0;
        c11_1 = c11_1 + x11 * b1;
        let x12 = subgroupBroadcast(a1, 4u);
        c12_0 = c12_0 + x12 * b0;
        c12_1 = c12_1 + x12 * b1;
        let x13 = subgroupBroadcast(a1, 5u);
        c13_0 = c13_0 + x13 * b0;
        c13_1 = c13_1 + x13 * b1;
        let x14 = subgroupBroadcast(a1, 6u);
        c14_0 = c14_0 + x14 * b0;
        c14_1 = c14_1 + x14 * b1;
        let x15 = subgroupBroadcast(a1, 7u);
        c15_0 = c15_0 + x15 * b0;
        c15_1 = c15_1 + x15 * b1;
    }
    store_row(row0 + 0u, q0, c0_0, c0_1);
    store_row(row0 + 1u, q0, c1_0, c1_1);
    store_row(row0 + 2u, q0, c2_0, c2_1);
    store_row(row0 + 3u, q0, c3_0, c3_1);
    store_row(row0 + 4u, q0, c4_0, c4_1);
    store_row(row0 + 5u, q0, c5_0, c5_1);
    store_row(row0 + 6u, q0, c6_0, c6_1);
    store_row(row0 + 7u, q0, c7_0, c7_1);
    store_row(row0 + 8u, q0, c8_0, c8_1);
    store_row(row0 + 9u, q0, c9_0, c9_1);
    store_row(row0 + 10u, q0, c10_0, c10_1);
    store_row(row0 + 11u, q0, c11_0, c11_1);
    store_row(row0 + 12u, q0, c12_0, c12_1);
    store_row(row0 + 13u, q0, c13_0, c13_1);
    store_row(row0 + 14u, q0, c14_0, c14_1);
    store_row(row0 + 15u, q0, c15_0, c15_1);
}

// RM = 32 rows per lane, 8 columns per lane; B from packed vec4 rows.
@compute @workgroup_size(8)
fn gemm_sg32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(subgroup_invocation_id) lane: u32) {
    let w = wid.y * nwg.x + wid.x;
    let row0 = (w / sp.tiles_n) * 32u;
    if (row0 >= sp.m) {
        return;
    }
    let q0 = ((w % sp.tiles_n) * 8u + lane) * 2u;
    var c0_0 = vec4<f32>(0.0);
    var c0_1 = vec4<f32>(0.0);
    var c1_0 = vec4<f32>(0.0);
    var c1_1 = vec4<f32>(0.0);
    var c2_0 = vec4<f32>(0.0);
    var c2_1 = vec4<f32>(0.0);
    var c3_0 = vec4<f32>(0.0);
    var c3_1 = vec4<f32>(0.0);
    var c4_0 = vec4<f32>(0.0);
    var c4_1 = vec4<f32>(0.0);
    var c5_0 = vec4<f32>(0.0);
    var c5_1 = vec4<f32>(0.0);
    var c6_0 = vec4<f32>(0.0);
    var c6_1 = vec4<f32>(0.0);
    var c7_0 = vec4<f32>(0.0);
    var c7_1 = vec4<f32>(0.0);
    var c8_0 = vec4<f32>(0.0);
    var c8_1 = vec4<f32>(0.0);
    var c9_0 = vec4<f32>(0.0);
    var c9_1 = vec4<f32>(0.0);
    var c10_0 = vec4<f32>(0.0);
    var c10_1 = vec4<f32>(0.0);
    var c11_0 = vec4<f32>(0.0);
    var c11_1 = vec4<f32>(0.0);
    var c12_0 = vec4<f32>(0.0);
    var c12_1 = vec4<f32>(0.0);
    var c13_0 = vec4<f32>(0.0);
    var c13_1 = vec4<f32>(0.0);
    var c14_0 = vec4<f32>(0.0);
    var c14_1 = vec4<f32>(0.0);
    var c15_0 = vec4<f32>(0.0);
    var c15_1 = vec4<f32>(0.0);
    var c16_0 = vec4<f32>(0.0);
    var c16_1 = vec4<f32>(0.0);
    var c17_0 = vec4<f32>(0.0);
    var c17_1 = vec4<f32>(0.0);
    var c18_0 = vec4<f32>(0.0);
    var c18_1 = vec4<f32>(0.0);
    var c19_0 = vec4<f32>(0.0);
    var c19_1 = vec4<f32>(0.0);
    var c20_0 = vec4<f32>(0.0);
    var c20_1 = vec4<f32>(0.0);
    var c21_0 = vec4<f32>(0.0);
    var c21_1 = vec4<f32>(0.0);
    var c22_0 = vec4<f32>(0.0);
    var c22_1 = vec4<f32>(0.0);
    var c23_0 = vec4<f32>(0.0);
    var c23_1 = vec4<f32>(0.0);
    var c24_0 = vec4<f32>(0.0);
    var c24_1 = vec4<f32>(0.0);
    var c25_0 = vec4<f32>(0.0);
    var c25_1 = vec4<f32>(0.0);
    var c26_0 = vec4<f32>(0.0);
    var c26_1 = vec4<f32>(0.0);
    var c27_0 = vec4<f32>(0.0);
    var c27_1 = vec4<f32>(0.0);
    var c28_0 = vec4<f32>(0.0);
    var c28_1 = vec4<f32>(0.0);
    var c29_0 = vec4<f32>(0.0);
    var c29_1 = vec4<f32>(0.0);
    var c30_0 = vec4<f32>(0.0);
    var c30_1 = vec4<f32>(0.0);
    var c31_0 = vec4<f32>(0.0);
    var c31_1 = vec4<f32>(0.0);
    let ar0 = min(row0 + 0u + lane, sp.m - 1u) * sp.a_si;
    let ar1 = min(row0 + 8u + lane, sp.m - 1u) * sp.a_si;
    let ar2 = min(row0 + 16u + lane, sp.m - 1u) * sp.a_si;
    let ar3 = min(row0 + 24u + lane, sp.m - 1u) * sp.a_si;
    for (var p = 0u; p < sp.k; p++) {
        let bb = p * sp.ldb4 + q0;
        let b0 = bpk[bb];
        let b1 = bpk[bb + 1u];
        let ap = p * sp.a_sp;
        let a0 = a[ar0 + ap];
        let x0 = subgroupBroadcast(a0, 0u);
        c0_0 = c0_0 + x0 * b0;
        c0_1 = c0_1 + x0 * b1;
        let x1 = subgroupBroadcast(a0, 1u);
        c1_0 = c1_0 + x1 * b0;
        c1_1 = c1_1 + x1 * b1;
        let x2 = subgroupBroadcast(a0, 2u);
        c2_0 = c2_0 + x2 * b0;
        c2_1 = c2_1 + x2 * b1;
        let x3 = subgroupBroadcast(a0, 3u);
        c3_0 = c3_0 + x3 * b0;
        c3_1 = c3_1 + x3 * b1;
        let x4 = subgroupBroadcast(a0, 4u);
        c4_0 = c4_0 + x4 * b0;
        c4_1 = c4_1 + x4 * b1;
        let x5 = subgroupBroadcast(a0, 5u);
        c5_0 = c5_0 + x5 * b0;
        c5_1 = c5_1 + x5 * b1;
        let x6 = subgroupBroadcast(a0, 6u);
        c6_0 = c6_0 + x6 * b0;
        c6_1 = c6_1 + x6 * b1;
        let x7 = subgroupBroadcast(a0, 7u);
        c7_0 = c7_0 + x7 * b0;
        c7_1 = c7_1 + x7 * b1;
        let a1 = a[ar1 + ap];
        let x8 = subgroupBroadcast(a1, 0u);
        c8_0 = c8_0 + x8 * b0;
        c8_1 = c8_1 + x8 * b1;
        let x9 = subgroupBroadcast(a1, 1u);
        c9_0 = c9_0 + x9 * b0;
        c9_1 = c9_1 + x9 * b1;
        let x10 = subgroupBroadcast(a1, 2u);
        c10_0 = c10_0 + x10 * b0;
        c10_1 = c10_1 + x10 * b1;
        let x11 = subgroupBroadcast(a1, 3u);
        c11_0 = c11_0 + x11 * b0;
        c11_1 = c11_1 + x11 * b1;
        let x12 = subgroupBroadcast(a1, 4u);
        c12_0 = c12_0 + x12 * b0;
        c12_1 = c12_1 + x12 * b1;
        let x13 = subgroupBroadcast(a1, 5u);
        c13_0 = c13_0 + x13 * b0;
        c13_1 = c13_1 + x13 * b1;
        let x14 = subgroupBroadcast(a1, 6u);
        c14_0 = c14_0 + x14 * b0;
        c14_1 = c14_1 + x14 * b1;
        let x15 = subgroupBroadcast(a1, 7u);
        c15_0 = c15_0 + x15 * b0;
        c15_1 = c15_1 + x15 * b1;
        let a2 = a[ar2 + ap];
        let x16 = subgroupBroadcast(a2, 0u);
        c16_0 = c16_0 + x16 * b0;
        c16_1 = c16_1 + x16 * b1;
        let x17 = subgroupBroadcast(a2, 1u);
        c17_0 = c17_0 + x17 * b0;
        c17_1 = c17_1 + x17 * b1;
        let x18 = subgroupBroadcast(a2, 2u);
        c18_0 = c18_0 + x18 * b0;
        c18_1 = c18_1 + x18 * b1;
        let x19 = subgroupBroadcast(a2, 3u);
        c19_0 = c19_0 + x19 * b0;
        c19_1 = c19_1 + x19 * b1;
        let x20 = subgroupBroadcast(a2, 4u);
        c20_0 = c20_0 + x20 * b0;
        c20_1 = c20_1 + x20 * b1;
        let x21 = subgroupBroadcast(a2, 5u);
        c21_0 = c21_0 + x21 * b0;
        c21_1 = c21_1 + x21 * b1;
        let x22 = subgroupBroadcast(a2, 6u);
        c22_0 = c22_0 + x22 * b0;
        c22_1 = c22_1 + x22 * b1;
        let x23 = subgroupBroadcast(a2, 7u);
        c23_0 = c23_0 + x23 * b0;
        c23_1 = c23_1 + x23 * b1;
        let a3 = a[ar3 + ap];
        let x24 = subgroupBroadcast(a3, 0u);
        c24_0 = c24_0 + x24 * b0;
        c24_1 = c24_1 + x24 * b1;
        let x25 = subgroupBroadcast(a3, 1u);
        c25_0 = c25_0 + x25 * b0;
        c25_1 = c25_1 + x25 * b1;
        let x26 = subgroupBroadcast(a3, 2u);
        c26_0 = c26_0 + x26 * b0;
        c26_1 = c26_1 + x26 * b1;
        let x27 = subgroupBroadcast(a3, 3u);
        c27_0 = c27_0 + x27 * b0;
        c27_1 = c27_1 + x27 * b1;
        let x28 = subgroupBroadcast(a3, 4u);
        c28_0 = c28_0 + x28 * b0;
        c28_1 = c28_1 + x28 * b1;
        let x29 = subgroupBroadcast(a3, 5u);
        c29_0 = c29_0 + x29 * b0;
        c29_1 = c29_1 + x29 * b1;
        let x30 = subgroupBroadcast(a3, 6u);
        c30_0 = c30_0 + x30 * b0;
        c30_1 = c30_1 + x30 * b1;
        let x31 = subgroupBroadcast(a3, 7u);
        c31_0 = c31_0 + x31 * b0;
        c31_1 = c31_1 + x31 * b1;
    }
    store_row(row0 + 0u, q0, c0_0, c0_1);
    store_row(row0 + 1u, q0, c1_0, c1_1);
    store_row(row0 + 2u, q0, c2_0, c2_1);
    store_row(row0 + 3u, q0, c3_0, c3_1);
    store_row(row0 + 4u, q0, c4_0, c4_1);
    store_row(row0 + 5u, q0, c5_0, c5_1);
    store_row(row0 + 6u, q0, c6_0, c6_1);
    store_row(row0 + 7u, q0, c7_0, c7_1);
    store_row(row0 + 8u, q0, c8_0, c8_1);
    store_row(row0 + 9u, q0, c9_0, c9_1);
    store_row(row0 + 10u, q0, c10_0, c10_1);
    store_row(row0 + 11u, q0, c11_0, c11_1);
    store_row(row0 + 12u, q0, c12_0, c12_1);
    store_row(row0 + 13u, q0, c13_0, c13_1);
    store_row(row0 + 14u, q0, c14_0, c14_1);
    store_row(row0 + 15u, q0, c15_0, c15_1);
    store_row(row0 + 16u, q0, c16_0, c16_1);
    store_row(row0 + 17u, q0, c17_0, c17_1);
    store_row(row0 + 18u, q0, c18_0, c18_1);
    store_row(row0 + 19u, q0, c19_0, c19_1);
    store_row(row0 + 20u, q0, c20_0, c20_1);
    store_row(row0 + 21u, q0, c21_0, c21_1);
    store_row(row0 + 22u, q0, c22_0, c22_1);
    store_row(row0 + 23u, q0, c23_0, c23_1);
    store_row(row0 + 24u, q0, c24_0, c24_1);
    store_row(row0 + 25u, q0, c25_0, c25_1);
    store_row(row0 + 26u, q0, c26_0, c26_1);
    store_row(row0 + 27u, q0, c27_0, c27_1);
    store_row(row0 + 28u, q0, c28_0, c28_1);
    store_row(row0 + 29u, q0, c29_0, c29_1);
    store_row(row0 + 30u, q0, c30_0, c30_1);
    store_row(row0 + 31u, q0, c31_0, c31_1);
}

// RM = 32 rows per lane, 8 columns per lane; B from a texture.
@compute @workgroup_size(8)
fn gemm_sg32_tex(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(subgroup_invocation_id) lane: u32) {
    let w = wid.y * nwg.x + wid.x;
    let row0 = (w / sp.tiles_n) * 32u;
    if (row0 >= sp.m) {
        return;
    }
    let q0 = ((w % sp.tiles_n) * 8u + lane) * 2u;
    var c0_0 = vec4<f32>(0.0);
    var c0_1 = vec4<f32>(0.0);
    var c1_0 = vec4<f32>(0.0);
    var c1_1 = vec4<f32>(0.0);
    var c2_0 = vec4<f32>(0.0);
    var c2_1 = vec4<f32>(0.0);
    var c3_0 = vec4<f32>(0.0);
    var c3_1 = vec4<f32>(0.0);
    var c4_0 = vec4<f32>(0.0);
    var c4_1 = vec4<f32>(0.0);
    var c5_0 = vec4<f32>(0.0);
    var c5_1 = vec4<f32>(0.0);
    var c6_0 = vec4<f32>(0.0);
    var c6_1 = vec4<f32>(0.0);
    var c7_0 = vec4<f32>(0.0);
    var c7_1 = vec4<f32>(0.0);
    var c8_0 = vec4<f32>(0.0);
    var c8_1 = vec4<f32>(0.0);
    var c9_0 = vec4<f32>(0.0);
    var c9_1 = vec4<f32>(0.0);
    var c10_0 = vec4<f32>(0.0);
    var c10_1 = vec4<f32>(0.0);
    var c11_0 = vec4<f32>(0.0);
    var c11_1 = vec4<f32>(0.0);
    var c12_0 = vec4<f32>(0.0);
    var c12_1 = vec4<f32>(0.0);
    var c13_0 = vec4<f32>(0.0);
    var c13_1 = vec4<f32>(0.0);
    var c14_0 = vec4<f32>(0.0);
    var c14_1 = vec4<f32>(0.0);
    var c15_0 = vec4<f32>(0.0);
    var c15_1 = vec4<f32>(0.0);
    var c16_0 = vec4<f32>(0.0);
    var c16_1 = vec4<f32>(0.0);
    var c17_0 = vec4<f32>(0.0);
    var c17_1 = vec4<f32>(0.0);
    var c18_0 = vec4<f32>(0.0);
    var c18_1 = vec4<f32>(0.0);
    var c19_0 = vec4<f32>(0.0);
    var c19_1 = vec4<f32>(0.0);
    var c20_0 = vec4<f32>(0.0);
    var c20_1 = vec4<f32>(0.0);
    var c21_0 = vec4<f32>(0.0);
    var c21_1 = vec4<f32>(0.0);
    var c22_0 = vec4<f32>(0.0);
    var c22_1 = vec4<f32>(0.0);
    var c23_0 = vec4<f32>(0.0);
    var c23_1 = vec4<f32>(0.0);
    var c24_0 = vec4<f32>(0.0);
    var c24_1 = vec4<f32>(0.0);
    var c25_0 = vec4<f32>(0.0);
    var c25_1 = vec4<f32>(0.0);
    var c26_0 = vec4<f32>(0.0);
    var c26_1 = vec4<f32>(0.0);
    var c27_0 = vec4<f32>(0.0);
    var c27_1 = vec4<f32>(0.0);
    var c28_0 = vec4<f32>(0.0);
    var c28_1 = vec4<f32>(0.0);
    var c29_0 = vec4<f32>(0.0);
    var c29_1 = vec4<f32>(0.0);
    var c30_0 = vec4<f32>(0.0);
    var c30_1 = vec4<f32>(0.0);
    var c31_0 = vec4<f32>(0.0);
    var c31_1 = vec4<f32>(0.0);
    let ar0 = min(row0 + 0u + lane, sp.m - 1u) * sp.a_si;
    let ar1 = min(row0 + 8u + lane, sp.m - 1u) * sp.a_si;
    let ar2 = min(row0 + 16u + lane, sp.m - 1u) * sp.a_si;
    let ar3 = min(row0 + 24u + lane, sp.m - 1u) * sp.a_si;
    for (var p = 0u; p < sp.k; p++) {
        let b0 = textureLoad(btex, vec2<u32>(q0, p), 0);
        let b1 = textureLoad(btex, vec2<u32>(q0 + 1u, p), 0);
        let ap = p * sp.a_sp;
        let a0 = a[ar0 + ap];
        let x0 = subgroupBroadcast(a0, 0u);
        c0_0 = c0_0 + x0 * b0;
        c0_1 = c0_1 + x0 * b1;
        let x1 = subgroupBroadcast(a0, 1u);
        c1_0 = c1_0 + x1 * b0;
        c1_1 = c1_1 + x1 * b1;
        let x2 = subgroupBroadcast(a0, 2u);
        c2_0 = c2_0 + x2 * b0;
        c2_1 = c2_1 + x2 * b1;
        let x3 = subgroupBroadcast(a0, 3u);
        c3_0 = c3_0 + x3 * b0;
        c3_1 = c3_1 + x3 * b1;
        let x4 = subgroupBroadcast(a0, 4u);
        c4_0 = c4_0 + x4 * b0;
        c4_1 = c4_1 + x4 * b1;
        let x5 = subgroupBroadcast(a0, 5u);
        c5_0 = c5_0 + x5 * b0;
        c5_1 = c5_1 + x5 * b1;
        let x6 = subgroupBroadcast(a0, 6u);
        c6_0 = c6_0 + x6 * b0;
        c6_1 = c6_1 + x6 * b1;
        let x7 = subgroupBroadcast(a0, 7u);
        c7_0 = c7_0 + x7 * b0;
        c7_1 = c7_1 + x7 * b1;
        let a1 = a[ar1 + ap];
        let x8 = subgroupBroadcast(a1, 0u);
        c8_0 = c8_0 + x8 * b0;
        c8_1 = c8_1 + x8 * b1;
        let x9 = subgroupBroadcast(a1, 1u);
        c9_0 = c9_0 + x9 * b0;
        c9_1 = c9_1 + x9 * b1;
        let x10 = subgroupBroadcast(a1, 2u);
        c10_0 = c10_0 + x10 * b0;
        c10_1 = c10_1 + x10 * b1;
        let x11 = subgroupBroadcast(a1, 3u);
        c11_0 = c11_0 + x11 * b0;
        c11_1 = c11_1 + x11 * b1;
        let x12 = subgroupBroadcast(a1, 4u);
        c12_0 = c12_0 + x12 * b0;
        c12_1 = c12_1 + x12 * b1;
        let x13 = subgroupBroadcast(a1, 5u);
        c13_0 = c13_0 + x13 * b0;
        c13_1 = c13_1 + x13 * b1;
        let x14 = subgroupBroadcast(a1, 6u);
        c14_0 = c14_0 + x14 * b0;
        c14_1 = c14_1 + x14 * b1;
        let x15 = subgroupBroadcast(a1, 7u);
        c15_0 = c15_0 + x15 * b0;
        c15_1 = c15_1 + x15 * b1;
        let a2 = a[ar2 + ap];
        let x16 = subgroupBroadcast(a2, 0u);
        c16_0 = c16_0 + x16 * b0;
        c16_1 = c16_1 + x16 * b1;
        let x17 = subgroupBroadcast(a2, 1u);
        c17_0 = c17_0 + x17 * b0;
        c17_1 = c17_1 + x17 * b1;
        let x18 = subgroupBroadcast(a2, 2u);
        c18_0 = c18_0 + x18 * b0;
        c18_1 = c18_1 + x18 * b1;
        let x19 = subgroupBroadcast(a2, 3u);
        c19_0 = c19_0 + x19 * b0;
        c19_1 = c19_1 + x19 * b1;
        let x20 = subgroupBroadcast(a2, 4u);
        c20_0 = c20_0 + x20 * b0;
        c20_1 = c20_1 + x20 * b1;
        let x21 = subgroupBroadcast(a2, 5u);
        c21_0 = c21_0 + x21 * b0;
        c21_1 = c21_1 + x21 * b1;
        let x22 = subgroupBroadcast(a2, 6u);
        c22_0 = c22_0 + x22 * b0;
        c22_1 = c22_1 + x22 * b1;
        let x23 = subgroupBroadcast(a2, 7u);
        c23_0 = c23_0 + x23 * b0;
        c23_1 = c23_1 + x23 * b1;
        let a3 = a[ar3 + ap];
        let x24 = subgroupBroadcast(a3, 0u);
        c24_0 = c24_0 + x24 * b0;
        c24_1 = c24_1 + x24 * b1;
        let x25 = subgroupBroadcast(a3, 1u);
        c25_0 = c25_0 + x25 * b0;
        c25_1 = c25_1 + x25 * b1;
        let x26 = subgroupBroadcast(a3, 2u);
        c26_0 = c26_0 + x26 * b0;
        c26_1 = c26_1 + x26 * b1;
        let x27 = subgroupBroadcast(a3, 3u);
        c27_0 = c27_0 + x27 * b0;
        c27_1 = c27_1 + x27 * b1;
        let x28 = subgroupBroadcast(a3, 4u);
        c28_0 = c28_0 + x28 * b0;
        c28_1 = c28_1 + x28 * b1;
        let x29 = subgroupBroadcast(a3, 5u);
        c29_0 = c29_0 + x29 * b0;
        c29_1 = c29_1 + x29 * b1;
        let x30 = subgroupBroadcast(a3, 6u);
        c30_0 = c30_0 + x30 * b0;
        c30_1 = c30_1 + x30 * b1;
        let x31 = subgroupBroadcast(a3, 7u);
        c31_0 = c31_0 + x31 * b0;
        c31_1 = c31_1 + x31 * b1;
    }
    store_row(row0 + 0u, q0, c0_0, c0_1);
    store_row(row0 + 1u, q0, c1_0, c1_1);
    store_row(row0 + 2u, q0, c2_0, c2_1);
    store_row(row0 + 3u, q0, c3_0, c3_1);
    store_row(row0 + 4u, q0, c4_0, c4_1);
    store_row(row0 + 5u, q0, c5_0, c5_1);
    store_row(row0 + 6u, q0, c6_0, c6_1);
    store_row(row0 + 7u, q0, c7_0, c7_1);
    store_row(row0 + 8u, q0, c8_0, c8_1);
    store_row(row0 + 9u, q0, c9_0, c9_1);
    store_row(row0 + 10u, q0, c10_0, c10_1);
    store_row(row0 + 11u, q0, c11_0, c11_1);
    store_row(row0 + 12u, q0, c12_0, c12_1);
    store_row(row0 + 13u, q0, c13_0, c13_1);
    store_row(row0 + 14u, q0, c14_0, c14_1);
    store_row(row0 + 15u, q0, c15_0, c15_1);
    store_row(row0 + 16u, q0, c16_0, c16_1);
    store_row(row0 + 17u, q0, c17_0, c17_1);
    store_row(row0 + 18u, q0, c18_0, c18_1);
    store_row(row0 + 19u, q0, c19_0, c19_1);
    store_row(row0 + 20u, q0, c20_0, c20_1);
    store_row(row0 + 21u, q0, c21_0, c21_1);
    store_row(row0 + 22u, q0, c22_0, c22_1);
    store_row(row0 + 23u, q0, c23_0, c23_1);
    store_row(row0 + 24u, q0, c24_0, c24_1);
    store_row(row0 + 25u, q0, c25_0, c25_1);
    store_row(row0 + 26u, q0, c26_0, c26_1);
    store_row(row0 + 27u, q0, c27_0, c27_1);
    store_row(row0 + 28u, q0, c28_0, c28_1);
    store_row(row0 + 29u, q0, c29_0, c29_1);
    store_row(row0 + 30u, q0, c30_0, c30_1);
    store_row(row0 + 31u, q0, c31_0, c31_1);
}
