// The residual stream's elementwise ops, forward and backward, as one
// kernel: dst = alpha * src0 (+ beta * src1) (+ dst).
//   scale forward   y  = a * x
//   add forward     y  = s * skip + branch
//   scale backward  dx (+)= a * dy
//   add backward    dskip (+)= s * dy;  dbranch (+)= dy
// Multiplying by 1.0 is exact, so an unscaled add is bit for bit x + y.

struct AxpbyParams {
    n: u32,
    // bit 0: src1 is bound and added; bit 1: add to dst instead of writing it.
    flags: u32,
    alpha: f32,
    beta: f32,
}

@group(0) @binding(0) var<uniform> ap: AxpbyParams;
@group(0) @binding(1) var<storage, read> src0: array<f32>;
@group(0) @binding(2) var<storage, read> src1: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;

override WG: u32 = 64u;

// Elements per invocation: lavapipe's per-invocation overhead dominates
// one element per invocation.
const EPT: u32 = 16u;

@compute @workgroup_size(WG)
fn axpby(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
         @builtin(local_invocation_index) lid: u32) {
    let e0 = ((wid.y * nwg.x + wid.x) * WG + lid) * EPT;
    let two = (ap.flags & 1u) != 0u;
    let acc = (ap.flags & 2u) != 0u;
    for (var e = e0; e < min(e0 + EPT, ap.n); e++) {
        var v = ap.alpha * src0[e];
        if (two) {
            v = v + ap.beta * src1[e];
        }
        if (acc) {
            v = dst[e] + v;
        }
        dst[e] = v;
    }
}
