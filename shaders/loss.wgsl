// Loss gradients with respect to the output Y (N = batch * width elements),
// bias gradients (column sums over the batch) and in-place scaling (LSUV).

struct LossParams {
    n: u32,
    kind: u32, // 0 mean, 1 mean_square, 2 mse, 3 sum
    rows: u32,
    cols: u32,
    scale: f32,
    total: u32, // elements of the whole output (a chunk covers n of them)
    _p1: u32,
    _p2: u32,
}

@group(0) @binding(0) var<uniform> lp: LossParams;
@group(0) @binding(1) var<storage, read> y: array<f32>;
@group(0) @binding(2) var<storage, read> target_v: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<storage, read_write> loss_rows: array<f32>;

override WG: u32 = 64u;

fn index(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return (wid.y * nwg.x + wid.x) * WG + lid;
}

// Elements per invocation of the elementwise kernels.
const EPT: u32 = 16u;

@compute @workgroup_size(WG)
fn loss_grad(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
    let e0 = index(wid, nwg, lid) * EPT;
    let inv_n = 1.0 / f32(lp.total);
    for (var e = e0; e < min(e0 + EPT, lp.n); e++) {
        switch lp.kind {
            case 0u: { out[e] = inv_n; }
            case 1u: { out[e] = 2.0 * y[e] * inv_n; }
            case 2u: { out[e] = 2.0 * (y[e] - target_v[e]) * inv_n; }
            default: { out[e] = 1.0; }
        }
    }
}

// out[j] = sum_i y[i * cols + j] (bias gradient: the batch sum of dH);
// kind 1 adds to out (batch chunks after the first).
@compute @workgroup_size(WG)
fn column_sum(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
    let j = index(wid, nwg, lid);
    if (j >= lp.cols) {
        return;
    }
    var s = 0.0;
    for (var i = 0u; i < lp.rows; i++) {
        s = s + y[i * lp.cols + j];
    }
    if (lp.kind == 1u) {
        out[j] = out[j] + s;
    } else {
        out[j] = s;
    }
}

// out *= scale (in place).
@compute @workgroup_size(WG)
fn scale_inplace(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_index) lid: u32) {
    let e0 = index(wid, nwg, lid) * EPT;
    for (var e = e0; e < min(e0 + EPT, lp.n); e++) {
        out[e] = out[e] * lp.scale;
    }
}

// Softmax cross-entropy over rows of `cols` logits y, mean over `total`
// rows (F.cross_entropy). The label of a row is the first argmax of the
// teacher's logits target_v. Writes out = dL/dy = (softmax(y) - onehot)/total
// and loss_rows = logsumexp(y) - y[label]; max-subtracted, so no exp overflows.
@compute @workgroup_size(WG)
fn cross_entropy(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_index) lid: u32) {
    let r = index(wid, nwg, lid);
    if (r >= lp.rows) {
        return;
    }
    let base = r * lp.cols;
    var label = 0u;
    var best = target_v[base];
    var m = y[base];
    for (var j = 1u; j < lp.cols; j++) {
        if (target_v[base + j] > best) {
            best = target_v[base + j];
            label = j;
        }
        m = max(m, y[base + j]);
    }
    var s = 0.0;
    for (var j = 0u; j < lp.cols; j++) {
        s = s + exp(y[base + j] - m);
    }
    loss_rows[r] = m + log(s) - y[base + label];
    let inv_rows = 1.0 / f32(lp.total);
    for (var j = 0u; j < lp.cols; j++) {
        let p = exp(y[base + j] - m) / s;
        out[base + j] = (p - select(0.0, 1.0, j == label)) * inv_rows;
    }
}
