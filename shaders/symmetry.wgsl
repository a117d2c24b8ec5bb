// Unit symmetry of a layer: how many units (rows of W, with their bias)
// duplicate another unit of the same layer. A constant init makes every
// unit of a layer identical, and gradient descent cannot tell them apart,
// so they stay identical: the symmetry problem.
//
// Pass 1 (`signature`) projects each row on two fixed pseudo-random
// vectors with entries in [1, 2), and keeps the same sums over |w| as the
// scale of the rounding. Pass 2 (`duplicates`) compares every unit with
// every other and counts those with a twin. Rows computed with identical
// arithmetic give identical signatures; distinct rows differ far beyond
// the tolerance.

struct SymParams {
    rows: u32,
    cols: u32,
    has_bias: u32,
    slot: u32,  // which counter of `counts` this layer adds to
}

@group(0) @binding(0) var<uniform> sp: SymParams;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> sig: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> counts: array<atomic<u32>>;

override WG: u32 = 64u;
// Two units are twins when both projections agree within TOL times their scale.
const TOL: f32 = 1e-5;

fn row_index(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return (wid.y * nwg.x + wid.x) * WG + lid;
}

// A fixed hash of the column index to [1, 2) (lowbias32 by C. Wellons).
fn weight_of(i: u32, salt: u32) -> f32 {
    var x = i ^ salt;
    x = x ^ (x >> 16u);
    x = x * 0x7feb352du;
    x = x ^ (x >> 15u);
    x = x * 0x846ca68bu;
    x = x ^ (x >> 16u);
    return 1.0 + f32(x >> 8u) * (1.0 / 16777216.0);
}

@compute @workgroup_size(WG)
fn signature(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
    let r = row_index(wid, nwg, lid);
    if (r >= sp.rows) {
        return;
    }
    var s = vec4<f32>(0.0);
    for (var i = 0u; i < sp.cols; i++) {
        let x = w[r * sp.cols + i];
        let p = vec2<f32>(weight_of(i, 0x9e3779b9u), weight_of(i, 0x85ebca6bu));
        s = s + vec4<f32>(x * p, abs(x) * p);
    }
    if (sp.has_bias != 0u) {
        let x = b[r];
        let p = vec2<f32>(weight_of(sp.cols, 0x9e3779b9u), weight_of(sp.cols, 0x85ebca6bu));
        s = s + vec4<f32>(x * p, abs(x) * p);
    }
    sig[r] = s;
}

@compute @workgroup_size(WG)
fn duplicates(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
    let r = row_index(wid, nwg, lid);
    if (r >= sp.rows) {
        return;
    }
    let a = sig[r];
    for (var q = 0u; q < sp.rows; q++) {
        let o = sig[q];
        let d = abs(a.xy - o.xy);
        let tol = TOL * max(a.zw, o.zw);
        if (q != r && d.x <= tol.x && d.y <= tol.y) {
            atomicAdd(&counts[sp.slot], 1u);
            return;
        }
    }
}
