// Elementwise initialization: every elementwise scheme is a table of
// components (a plain scheme is a one-component mixture). Element e of the
// tensor uses word e % 4 of Philox block e / 4 of its stream; a mixture picks
// its component from the same element of the selector stream (role word
// + 256). Also: torch's sparse_ (per-column row choice, Floyd's algorithm).

struct Comp {
    mode: u32,   // 0 constant, 1 uniform, 2 normal, 3 trunc_normal
    cum: f32,    // cumulative probability up to and including this component
    p0: f32,
    p1: f32,
    p2: f32,
    p3: f32,
    p4: f32,
    p5: f32,
}

struct InitParams {
    key: vec2<u32>,
    layer: u32,
    role: u32,
    repeat_index: u32,
    n: u32,            // elements written (this chunk)
    n_comp: u32,
    block_offset: u32, // Philox block of the chunk's first element (its index / 4)
}

@group(0) @binding(0) var<uniform> p: InitParams;
// The component table is a uniform array: lavapipe loads a storage buffer one
// lane at a time (about 30 cycles per float), a uniform vec4 in about 5 per
// lane, and a storage table read for every element made this kernel 10x
// slower than the raw Philox fill. MAX_COMPONENTS matches src/init/params.rs.
const MAX_COMPONENTS: u32 = 64u;
@group(0) @binding(1) var<uniform> comps: array<Comp, MAX_COMPONENTS>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

override WG: u32 = 64u;

// Inverse error function, Giles (2010) single-precision approximation:
// relative error below 4e-7 on (-1, 1) away from the tails (measured against
// f64 in tests/init_gpu.rs).
fn erfinv(x: f32) -> f32 {
    var w = -log((1.0 - x) * (1.0 + x));
    var q: f32;
    if (w < 5.0) {
        w = w - 2.5;
        q = 2.81022636e-08;
        q = 3.43273939e-07 + q * w;
        q = -3.5233877e-06 + q * w;
        q = -4.39150654e-06 + q * w;
        q = 0.00021858087 + q * w;
        q = -0.00125372503 + q * w;
        q = -0.00417768164 + q * w;
        q = 0.246640727 + q * w;
        q = 1.50140941 + q * w;
    } else {
        w = sqrt(w) - 3.0;
        q = -0.000200214257;
        q = 0.000100950558 + q * w;
        q = 0.00134934322 + q * w;
        q = -0.00367342844 + q * w;
        q = 0.00573950773 + q * w;
        q = -0.0076224613 + q * w;
        q = 0.00943887047 + q * w;
        q = 1.00167406 + q * w;
        q = 2.83297682 + q * w;
    }
    return q * x;
}

fn sample(c: Comp, word: u32, z: f32) -> f32 {
    switch c.mode {
        case 0u: { return c.p0; }
        case 1u: { return c.p0 + (c.p1 - c.p0) * uniform01(word); }
        case 2u: { return c.p0 + c.p1 * z; }
        default: {
            // torch.nn.init.trunc_normal_: uniform on [2l-1, 2u-1], erfinv,
            // scale by std*sqrt(2), shift by mean, clamp to [a, b].
            let x = c.p4 + (c.p5 - c.p4) * uniform01(word);
            let v = erfinv(x) * (c.p1 * 1.41421356237) + c.p0;
            return clamp(v, c.p2, c.p3);
        }
    }
}

fn pick(u: f32) -> u32 {
    var k = 0u;
    while (k + 1u < p.n_comp && u >= comps[k].cum) {
        k = k + 1u;
    }
    return k;
}

// Each invocation fills BPT consecutive Philox blocks (4 elements each):
// lavapipe's per-invocation overhead dominates one block per invocation.
override BPT: u32 = 16u;

fn fill_block(local: u32, need_normal: bool, single: Comp) {
    let first = local * 4u;
    let block = local + p.block_offset;
    let w = philox4x32_10(vec4<u32>(block, p.layer, p.role, p.repeat_index), p.key);
    var z = vec4<f32>(0.0);
    if (need_normal) {
        z = normals4(w);
    }
    if (p.n_comp == 1u) {
        for (var lane = 0u; lane < 4u; lane++) {
            let e = first + lane;
            if (e < p.n) {
                out[e] = sample(single, w[lane], z[lane]);
            }
        }
        return;
    }
    let sel = philox4x32_10(vec4<u32>(block, p.layer, p.role + 256u, p.repeat_index), p.key);
    for (var lane = 0u; lane < 4u; lane++) {
        let e = first + lane;
        if (e < p.n) {
            out[e] = sample(comps[pick(uniform01(sel[lane]))], w[lane], z[lane]);
        }
    }
}

@compute @workgroup_size(WG)
fn init_elementwise(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let t = (wid.y * nwg.x + wid.x) * WG + lid;
    var need_normal = false;
    for (var k = 0u; k < p.n_comp; k++) {
        need_normal = need_normal || comps[k].mode == 2u;
    }
    let single = comps[0];
    for (var j = 0u; j < BPT; j++) {
        let local = t * BPT + j;
        if (local * 4u >= p.n) {
            return;
        }
        fill_block(local, need_normal, single);
    }
}

// ---- torch.nn.init.sparse_ ----------------------------------------------
struct SparseParams {
    key: vec2<u32>,
    layer: u32,
    role: u32,
    repeat_index: u32,
    rows: u32,
    cols: u32,
    num_zeros: u32,
    sigma: f32,
    _p0: u32,
    _p1: u32,
    _p2: u32,
}

@group(0) @binding(0) var<uniform> sp: SparseParams;
@group(0) @binding(1) var<storage, read_write> sout: array<f32>;

fn stream_word(role: u32, e: u32) -> u32 {
    let w = philox4x32_10(vec4<u32>(e / 4u, sp.layer, role, sp.repeat_index), sp.key);
    return w[e % 4u];
}

fn stream_normal(e: u32) -> f32 {
    let w = philox4x32_10(vec4<u32>(e / 4u, sp.layer, sp.role, sp.repeat_index), sp.key);
    return normals4(w)[e % 4u];
}

// One invocation per column: exactly num_zeros rows of the column are zeroed,
// chosen uniformly by Floyd's algorithm from the selector stream (role + 512),
// and the rest are N(0, std^2) from the values stream.
@compute @workgroup_size(WG)
fn sparse_columns(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let c = (wid.y * nwg.x + wid.x) * WG + lid;
    if (c >= sp.cols) {
        return;
    }
    for (var r = 0u; r < sp.rows; r++) {
        sout[r * sp.cols + c] = 1.0;
    }
    for (var j = sp.rows - sp.num_zeros; j < sp.rows; j++) {
        let t = below(stream_word(sp.role + 512u, c * sp.rows + j), j + 1u);
        if (sout[t * sp.cols + c] == 0.0) {
            sout[j * sp.cols + c] = 0.0;
        } else {
            sout[t * sp.cols + c] = 0.0;
        }
    }
    for (var r = 0u; r < sp.rows; r++) {
        let e = r * sp.cols + c;
        if (sout[e] != 0.0) {
            sout[e] = sp.sigma * stream_normal(e);
        }
    }
}
