// Per-tensor statistics, reduced on the GPU in two stages (per-workgroup
// partial records, then one merge per tensor, all tensors in one dispatch),
// and fixed-bin histograms.
//
// Numerics: NaN and +-Inf are counted and excluded from every other field.
// The mean and M2 are merged with Chan's parallel formula; M2 and the sum of
// squares are kept as (scale, ssq) pairs meaning scale^2 * ssq, as BLAS nrm2
// does, so 1e-24-scale gradients keep their true norm and 1e18-scale
// activations do not overflow.

struct Rec {
    n: u32,      // finite elements
    nan: u32,
    inf: u32,
    zero: u32,
    sat: u32,
    _p0: u32,
    _p1: u32,
    _p2: u32,
    mean: f32,
    m2_s: f32,
    m2_q: f32,
    min_v: f32,
    max_v: f32,
    nrm_s: f32,
    nrm_q: f32,
    _p3: f32,
}

struct RedParams {
    n: u32,          // elements of the tensor (of this chunk, for the partial pass)
    part_offset: u32,
    n_parts: u32,
    out_index: u32,
    sat: f32,        // saturation threshold on |x|
    bins: u32,
    hist_offset: u32,
    base: u32,       // reduce_partial_tex: the piece's first element in `src`
}

@group(0) @binding(0) var<uniform> rp: RedParams;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> parts: array<Rec>;
@group(0) @binding(3) var<storage, read_write> finals: array<Rec>;
@group(0) @binding(4) var<storage, read_write> hist: array<atomic<u32>>;
// The tensor's first chunk: its first element is the shift of every chunk.
@group(0) @binding(5) var<storage, read> shift_src: array<f32>;
// reduce_final: where each tensor's partial records are and where its record goes.
struct FinalItem {
    part_offset: u32,
    n_parts: u32,
    out_index: u32,
    _p0: u32,
}
@group(0) @binding(6) var<storage, read> final_items: array<FinalItem>;

const WGR: u32 = 64u;
const PT: u32 = 256u;   // elements per invocation
const LOCAL_BINS: u32 = 256u;

var<workgroup> wrec: array<Rec, WGR>;
var<workgroup> lhist: array<atomic<u32>, LOCAL_BINS>;

fn empty_rec() -> Rec {
    return Rec(0u, 0u, 0u, 0u, 0u, 0u, 0u, 0u, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
}

// (s1, q1) + (s2, q2) where each pair means s^2 * q.
fn add_ssq(s1: f32, q1: f32, s2: f32, q2: f32) -> vec2<f32> {
    let s = max(s1, s2);
    if (s == 0.0) {
        return vec2<f32>(0.0, 0.0);
    }
    let r1 = s1 / s;
    let r2 = s2 / s;
    return vec2<f32>(s, q1 * r1 * r1 + q2 * r2 * r2);
}

fn merge(a: Rec, b: Rec) -> Rec {
    var r: Rec;
    if (b.n == 0u) {
        r = a;
    } else if (a.n == 0u) {
        r = b;
    } else {
        r = a;
        let n = a.n + b.n;
        let fa = f32(a.n);
        let fb = f32(b.n);
        // Chan: M2 = M2a + M2b + delta^2 * na * nb / n, kept as a scaled pair.
        // Halved means never overflow, even for values of both signs near f32::MAX.
        let half_delta = 0.5 * b.mean - 0.5 * a.mean;
        var cross: vec2<f32>;
        if (abs(half_delta) < 8.0e37) {
            let delta = b.mean - a.mean;
            r.mean = a.mean + delta * (fb / f32(n));
            cross = vec2<f32>(abs(delta), fa * (fb / f32(n)));
        } else {
            r.mean = a.mean * (fa / f32(n)) + b.mean * (fb / f32(n));
            cross = vec2<f32>(abs(half_delta), 4.0 * fa * (fb / f32(n)));
        }
        r.n = n;
        let m = add_ssq(a.m2_s, a.m2_q, b.m2_s, b.m2_q);
        let m2 = add_ssq(m.x, m.y, cross.x, cross.y);
        r.m2_s = m2.x;
        r.m2_q = m2.y;
        let q = add_ssq(a.nrm_s, a.nrm_q, b.nrm_s, b.nrm_q);
        r.nrm_s = q.x;
        r.nrm_q = q.y;
        r.min_v = min(a.min_v, b.min_v);
        r.max_v = max(a.max_v, b.max_v);
    }
    r.nan = a.nan + b.nan;
    r.inf = a.inf + b.inf;
    r.zero = a.zero + b.zero;
    r.sat = a.sat + b.sat;
    return r;
}

fn is_finite_bits(x: f32) -> bool {
    return (bitcast<u32>(x) & 0x7fffffffu) < 0x7f800000u;
}

// Every mean and M2 of a tensor is taken about one shift, the tensor's first
// element (when finite and below 1e30, so x - shift cannot overflow): means
// stored in f32 then resolve the spread, not the offset (1000 + 1e-3 noise
// keeps its std to 1e-4 instead of losing it to the ulps of 1000).
fn tensor_shift() -> f32 {
    if (rp.n == 0u) {
        return 0.0;
    }
    let x0 = shift_src[0];
    return select(0.0, x0, is_finite_bits(x0) && abs(x0) < 1.0e30);
}

fn load_finite(i: u32) -> vec2<f32> {
    // (value, 1) for a finite element in range, else (0, 0).
    if (i < rp.n) {
        let x = src[i];
        if (is_finite_bits(x)) {
            return vec2<f32>(x, 1.0);
        }
    }
    return vec2<f32>(0.0, 0.0);
}

// The record of up to PT elements starting at `first`, stride WGR. Three
// passes re-read the elements (cached) instead of keeping them in a private
// array: lavapipe turns dynamically indexed private arrays into per-lane
// memory traffic, which made this kernel 10x slower.
fn thread_rec(first: u32) -> Rec {
    var r = empty_rec();
    var amax = 0.0;   // of the raw values (norm)
    var dmax = 0.0;   // of the shifted values (mean, M2)
    let shift = tensor_shift();
    r.min_v = bitcast<f32>(0x7f800000u);  // +inf: any finite value replaces it
    r.max_v = bitcast<f32>(0xff800000u);
    for (var k = 0u; k < PT; k++) {
        let i = first + k * WGR;
        if (i < rp.n) {
            let x = src[i];
            let bits = bitcast<u32>(x) & 0x7fffffffu;
            if (bits > 0x7f800000u) {
                r.nan += 1u;
            } else if (bits == 0x7f800000u) {
                r.inf += 1u;
            } else {
                r.n += 1u;
                r.min_v = min(r.min_v, x);
                r.max_v = max(r.max_v, x);
                amax = max(amax, abs(x));
                dmax = max(dmax, abs(x - shift));
                r.zero += select(0u, 1u, x == 0.0);
                r.sat += select(0u, 1u, abs(x) > rp.sat);
            }
        }
    }
    if (r.n == 0u) {
        r.min_v = 0.0;
        r.max_v = 0.0;
        return r;
    }
    // Scaling by 1/max keeps every square in [0, 1]: no overflow, no underflow.
    let inv_a = select(0.0, 1.0 / amax, amax > 0.0);
    let inv_d = select(0.0, 1.0 / dmax, dmax > 0.0);
    var qn = 0.0;
    var s1 = 0.0;
    for (var k = 0u; k < PT; k++) {
        let v = load_finite(first + k * WGR);
        let s = v.x * inv_a;
        qn += s * s;
        s1 += (v.x - shift) * inv_d * v.y;
    }
    r.nrm_s = amax;
    r.nrm_q = qn;
    if (dmax == 0.0) {
        return r; // every value equals the shift: mean 0 (about it), M2 0
    }
    let mean0 = dmax * (s1 / f32(r.n));
    // Corrected two-pass: the rounding error of mean0 is measured by the sum
    // of the deviations and removed from both the mean and M2.
    let direct = dmax < 1.0e37; // d - mean0 cannot overflow
    var c1 = 0.0;
    var q = 0.0;
    for (var k = 0u; k < PT; k++) {
        let v = load_finite(first + k * WGR);
        let dev = v.x - shift;
        let d = select(dev * inv_d - mean0 * inv_d, (dev - mean0) * inv_d, direct) * v.y;
        c1 += d;
        q += d * d;
    }
    r.mean = mean0 + dmax * (c1 / f32(r.n));
    r.m2_s = dmax;
    r.m2_q = max(q - c1 * c1 / f32(r.n), 0.0);
    return r;
}

// ---- The same partial records read from a texture (CPU adapters) ---------
// lavapipe loads a storage buffer one lane at a time (about 30 cycles per
// float, three loads per element here), a texel of four floats for a whole
// 8-lane subgroup in about 72 cycles. The host copies each piece of a tensor
// (at most 1024 rows of TEX_W texels) into `stex`: texel t holds elements
// 4t..4t+3 of the piece; the last n % 4 elements are read from `src`. Each
// workgroup still covers WGR * PT elements, so the partial records mean what
// they mean in reduce_partial.

const TEX_W: u32 = 1024u;
@group(0) @binding(10) var stex: texture_2d<f32>;

// Elements 4t..4t+3 of the piece (zeros past its end).
fn piece4(t: u32) -> vec4<f32> {
    if (t < rp.n / 4u) {
        return textureLoad(stex, vec2<u32>(t % TEX_W, t / TEX_W), 0);
    }
    var v = vec4<f32>(0.0);
    for (var c = 0u; c < 4u; c++) {
        if (4u * t + c < rp.n) {
            v[c] = src[rp.base + 4u * t + c];
        }
    }
    return v;
}

// 1 for the elements of texel t that are in the piece and finite, else 0.
fn finite4(t: u32, v: vec4<f32>) -> vec4<f32> {
    let e = vec4<u32>(4u * t) + vec4<u32>(0u, 1u, 2u, 3u);
    let bits = bitcast<vec4<u32>>(v) & vec4<u32>(0x7fffffffu);
    return select(vec4<f32>(0.0), vec4<f32>(1.0), (e < vec4<u32>(rp.n)) & (bits < vec4<u32>(0x7f800000u)));
}

// thread_rec over PT / 4 texels starting at texel `first`, stride WGR.
fn thread_rec_tex(first: u32) -> Rec {
    var r = empty_rec();
    var amax = 0.0;
    var dmax = 0.0;
    let shift = tensor_shift();
    r.min_v = bitcast<f32>(0x7f800000u);
    r.max_v = bitcast<f32>(0xff800000u);
    // Branch-free over the four lanes of a texel: vector counters and
    // extremes, folded once at the end.
    var cnt = vec4<u32>(0u);   // finite
    var nan = vec4<u32>(0u);
    var inf = vec4<u32>(0u);
    var zero = vec4<u32>(0u);
    var sat = vec4<u32>(0u);
    var lo = vec4<f32>(bitcast<f32>(0x7f800000u));
    var hi = vec4<f32>(bitcast<f32>(0xff800000u));
    var am = vec4<f32>(0.0);
    var dm = vec4<f32>(0.0);
    let one = vec4<u32>(1u);
    let none = vec4<u32>(0u);
    for (var k = 0u; k < PT / 4u; k++) {
        let t = first + k * WGR;
        if (4u * t >= rp.n) {
            break;
        }
        let v = piece4(t);
        let inside = (vec4<u32>(4u * t) + vec4<u32>(0u, 1u, 2u, 3u)) < vec4<u32>(rp.n);
        let bits = bitcast<vec4<u32>>(v) & vec4<u32>(0x7fffffffu);
        let fin = inside & (bits < vec4<u32>(0x7f800000u));
        nan += select(none, one, inside & (bits > vec4<u32>(0x7f800000u)));
        inf += select(none, one, inside & (bits == vec4<u32>(0x7f800000u)));
        cnt += select(none, one, fin);
        let x = select(vec4<f32>(0.0), v, fin);
        lo = min(lo, select(vec4<f32>(bitcast<f32>(0x7f800000u)), v, fin));
        hi = max(hi, select(vec4<f32>(bitcast<f32>(0xff800000u)), v, fin));
        am = max(am, abs(x));
        dm = max(dm, select(vec4<f32>(0.0), abs(v - shift), fin));
        zero += select(none, one, fin & (x == vec4<f32>(0.0)));
        sat += select(none, one, fin & (abs(x) > vec4<f32>(rp.sat)));
    }
    r.n = cnt.x + cnt.y + cnt.z + cnt.w;
    r.nan = nan.x + nan.y + nan.z + nan.w;
    r.inf = inf.x + inf.y + inf.z + inf.w;
    r.zero = zero.x + zero.y + zero.z + zero.w;
    r.sat = sat.x + sat.y + sat.z + sat.w;
    r.min_v = min(min(lo.x, lo.y), min(lo.z, lo.w));
    r.max_v = max(max(hi.x, hi.y), max(hi.z, hi.w));
    amax = max(max(am.x, am.y), max(am.z, am.w));
    dmax = max(max(dm.x, dm.y), max(dm.z, dm.w));
    if (r.n == 0u) {
        r.min_v = 0.0;
        r.max_v = 0.0;
        return r;
    }
    let inv_a = select(0.0, 1.0 / amax, amax > 0.0);
    let inv_d = select(0.0, 1.0 / dmax, dmax > 0.0);
    var qn = vec4<f32>(0.0);
    var s1 = vec4<f32>(0.0);
    for (var k = 0u; k < PT / 4u; k++) {
        let t = first + k * WGR;
        let v = piece4(t);
        let ok = finite4(t, v);
        let x = select(vec4<f32>(0.0), v, ok > vec4<f32>(0.5)); // not v * ok: NaN * 0 is NaN
        let s = x * inv_a;
        qn += s * s;
        s1 += (x - shift) * inv_d * ok;
    }
    r.nrm_s = amax;
    r.nrm_q = qn.x + qn.y + qn.z + qn.w;
    if (dmax == 0.0) {
        return r;
    }
    let mean0 = dmax * ((s1.x + s1.y + s1.z + s1.w) / f32(r.n));
    let direct = dmax < 1.0e37;
    var c1 = vec4<f32>(0.0);
    var q = vec4<f32>(0.0);
    for (var k = 0u; k < PT / 4u; k++) {
        let t = first + k * WGR;
        let v = piece4(t);
        let ok = finite4(t, v);
        let dev = select(vec4<f32>(0.0), v, ok > vec4<f32>(0.5)) - shift;
        let d = select(dev * inv_d - mean0 * inv_d, (dev - mean0) * inv_d, direct) * ok;
        c1 += d;
        q += d * d;
    }
    let c1s = c1.x + c1.y + c1.z + c1.w;
    r.mean = mean0 + dmax * (c1s / f32(r.n));
    r.m2_s = dmax;
    r.m2_q = max((q.x + q.y + q.z + q.w) - c1s * c1s / f32(r.n), 0.0);
    return r;
}

@compute @workgroup_size(WGR)
fn reduce_partial_tex(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                      @builtin(local_invocation_index) lid: u32) {
    let w = wid.y * nwg.x + wid.x;
    wrec[lid] = thread_rec_tex(w * WGR * PT / 4u + lid);
    var r = merge_workgroup(lid);
    if (lid == 0u && w < rp.n_parts) {
        r._p3 = tensor_shift();
        parts[rp.part_offset + w] = r;
    }
}

fn merge_workgroup(lid: u32) -> Rec {
    workgroupBarrier();
    var r = empty_rec();
    if (lid == 0u) {
        for (var t = 0u; t < WGR; t++) {
            r = merge(r, wrec[t]);
        }
    }
    return r;
}

@compute @workgroup_size(WGR)
fn reduce_partial(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
    let w = wid.y * nwg.x + wid.x;
    // Every invocation reaches the barrier; out-of-range groups write nothing.
    wrec[lid] = thread_rec(w * WGR * PT + lid);
    var r = merge_workgroup(lid);
    if (lid == 0u && w < rp.n_parts) {
        // The shift travels with the record, so that the final merge of
        // every tensor needs no binding of the tensor itself.
        r._p3 = tensor_shift();
        parts[rp.part_offset + w] = r;
    }
}

// One workgroup per tensor (rp.n tensors, one dispatch for all of them):
// merges its partial records and adds the shift back to the mean.
@compute @workgroup_size(WGR)
fn reduce_final(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
    let w = wid.y * nwg.x + wid.x;
    if (w >= rp.n) {
        return; // the whole workgroup: the barrier below stays uniform
    }
    let it = final_items[w];
    var r = empty_rec();
    for (var p = lid; p < it.n_parts; p += WGR) {
        r = merge(r, parts[it.part_offset + p]);
    }
    wrec[lid] = r;
    var total = merge_workgroup(lid);
    if (lid == 0u) {
        if (total.n > 0u) {
            total.mean = total.mean + parts[it.part_offset]._p3;
        }
        total._p3 = 0.0;
        finals[it.out_index] = total;
    }
}

fn bin_of(x: f32, lo: f32, hi: f32) -> u32 {
    if (!(hi > lo)) {
        return rp.bins / 2u;
    }
    // Halved to keep hi - lo finite for the widest ranges.
    let f = (0.5 * x - 0.5 * lo) / (0.5 * hi - 0.5 * lo);
    return u32(clamp(floor(f * f32(rp.bins)), 0.0, f32(rp.bins - 1u)));
}

// Histogram of the finite values over [min, max] of finals[out_index].
// Bins are counted in workgroup memory, then flushed with one atomic each.
@compute @workgroup_size(WGR)
fn histogram(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
    let w = wid.y * nwg.x + wid.x;
    for (var b = lid; b < LOCAL_BINS; b += WGR) {
        atomicStore(&lhist[b], 0u);
    }
    workgroupBarrier();
    let lo = finals[rp.out_index].min_v;
    let hi = finals[rp.out_index].max_v;
    for (var k = 0u; k < PT; k++) {
        let i = w * WGR * PT + lid + k * WGR;
        if (i < rp.n) {
            let x = src[i];
            if (is_finite_bits(x)) {
                atomicAdd(&lhist[bin_of(x, lo, hi)], 1u);
            }
        }
    }
    workgroupBarrier();
    for (var b = lid; b < rp.bins; b += WGR) {
        let c = atomicLoad(&lhist[b]);
        if (c > 0u) {
            atomicAdd(&hist[rp.hist_offset + b], c);
        }
    }
}

// The same for more than LOCAL_BINS bins: global atomics only.
@compute @workgroup_size(WGR)
fn histogram_wide(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
    let w = wid.y * nwg.x + wid.x;
    let lo = finals[rp.out_index].min_v;
    let hi = finals[rp.out_index].max_v;
    for (var k = 0u; k < PT; k++) {
        let i = w * WGR * PT + lid + k * WGR;
        if (i < rp.n) {
            let x = src[i];
            if (is_finite_bits(x)) {
                atomicAdd(&hist[rp.hist_offset + bin_of(x, lo, hi)], 1u);
            }
        }
    }
}

// ---- Dead units -----------------------------------------------------------
// A unit (column j of a batch x cols activation) is dead when it is exactly 0
// on every row of the batch. One invocation per column walks the rows of a
// chunk and ORs "seen a non-zero" into alive[j]; after the last chunk each
// dead column adds 1 to dead[out_index]. A NaN is not 0, so a NaN unit is
// not dead; -0 is 0.

struct UnitParams {
    rows: u32,         // rows of this chunk
    cols: u32,
    alive_offset: u32, // this tensor's first flag in `alive`
    out_index: u32,    // this tensor's counter in `dead`
    last: u32,         // 1 on the tensor's last chunk
    _p0: u32,
    _p1: u32,
    _p2: u32,
}

@group(0) @binding(6) var<uniform> up: UnitParams;
@group(0) @binding(7) var<storage, read> units: array<f32>;
@group(0) @binding(8) var<storage, read_write> alive: array<u32>;
@group(0) @binding(9) var<storage, read_write> dead: array<atomic<u32>>;

@compute @workgroup_size(WGR)
fn dead_units(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
    let j = (wid.y * nwg.x + wid.x) * WGR + lid;
    if (j >= up.cols) {
        return;
    }
    var seen = alive[up.alive_offset + j];
    for (var i = 0u; i < up.rows && seen == 0u; i = i + 1u) {
        // Bits, not `!= 0.0`: a compiler may assume no NaN and fold the test.
        if ((bitcast<u32>(units[i * up.cols + j]) & 0x7fffffffu) != 0u) {
            seen = 1u;
        }
    }
    alive[up.alive_offset + j] = seen;
    if (up.last == 1u && seen == 0u) {
        atomicAdd(&dead[up.out_index], 1u);
    }
}
