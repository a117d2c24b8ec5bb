// Per-row normalization over the columns of a (rows x cols) tensor and its
// backward pass: torch's nn.LayerNorm (kind 0) and nn.RMSNorm (kind 1),
// both with an elementwise weight, LayerNorm optionally with a bias.
//
//   LayerNorm: xh = (x - mean) * rstd,  rstd = 1 / sqrt(var + eps), var biased
//   RMSNorm:   xh = x * rstd,           rstd = 1 / sqrt(mean(x^2) + eps)
//   y = xh * w (+ b)
//
// Forward keeps (mean, rstd) per row (mean = 0 for RMSNorm) so the
// backward pass recomputes xh bit for bit. One invocation owns a row (or,
// for the parameter gradients, a column): the sums stay sequential per
// invocation, with no workgroup barriers (expensive on lavapipe).

struct NormParams {
    rows: u32,
    cols: u32,
    kind: u32,
    // bit 0: a bias is bound; bit 1: add to the output instead of writing it.
    flags: u32,
    eps: f32,
    _p0: u32,
    _p1: u32,
    _p2: u32,
}

@group(0) @binding(0) var<uniform> np: NormParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
// Forward: y. Backward (data): dx.
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read> w: array<f32>;
@group(0) @binding(4) var<storage, read> b: array<f32>;
// (mean, rstd) per row: written by the forward pass, read by the backward.
@group(0) @binding(5) var<storage, read_write> saved: array<f32>;
@group(0) @binding(6) var<storage, read> dy: array<f32>;
@group(0) @binding(7) var<storage, read_write> dw: array<f32>;
@group(0) @binding(8) var<storage, read_write> db: array<f32>;

override WG: u32 = 64u;

fn index(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return (wid.y * nwg.x + wid.x) * WG + lid;
}

fn has_bias() -> bool {
    return (np.flags & 1u) != 0u;
}

fn accumulate() -> bool {
    return (np.flags & 2u) != 0u;
}

// Sum of row r's entries minus `shift`, squared when `square`; four
// partial sums in turn shorten the dependency chain and the rounding walk.
fn row_sum(base: u32, shift: f32, square: bool) -> f32 {
    var s = vec4<f32>(0.0);
    var j = 0u;
    for (; j + 4u <= np.cols; j += 4u) {
        var v = vec4<f32>(x[base + j], x[base + j + 1u], x[base + j + 2u], x[base + j + 3u]) - shift;
        if (square) {
            v = v * v;
        }
        s += v;
    }
    for (; j < np.cols; j++) {
        var v = x[base + j] - shift;
        if (square) {
            v = v * v;
        }
        s.x += v;
    }
    return (s.x + s.y) + (s.z + s.w);
}

@compute @workgroup_size(WG)
fn norm_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
    let r = index(wid, nwg, lid);
    if (r >= np.rows) {
        return;
    }
    let base = r * np.cols;
    let n = f32(np.cols);
    var mean = 0.0;
    if (np.kind == 0u) {
        mean = row_sum(base, 0.0, false) / n;
    }
    // Two passes (mean, then squares about it) as torch's CPU kernel is
    // accurate to: no E[x^2] - E[x]^2 cancellation.
    let rstd = 1.0 / sqrt(row_sum(base, mean, true) / n + np.eps);
    for (var j = 0u; j < np.cols; j++) {
        var v = (x[base + j] - mean) * rstd * w[j];
        if (has_bias()) {
            v += b[j];
        }
        out[base + j] = v;
    }
    saved[2u * r] = mean;
    saved[2u * r + 1u] = rstd;
}

// dx = rstd * (g - mean(g) - xh * mean(g * xh)) with g = dy * w (LayerNorm);
// RMSNorm drops the mean(g) term.
@compute @workgroup_size(WG)
fn norm_backward_data(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                      @builtin(local_invocation_index) lid: u32) {
    let r = index(wid, nwg, lid);
    if (r >= np.rows) {
        return;
    }
    let base = r * np.cols;
    let mean = saved[2u * r];
    let rstd = saved[2u * r + 1u];
    var sg = 0.0;
    var sgx = 0.0;
    for (var j = 0u; j < np.cols; j++) {
        let g = dy[base + j] * w[j];
        sg += g;
        sgx += g * ((x[base + j] - mean) * rstd);
    }
    let n = f32(np.cols);
    let mg = select(0.0, sg / n, np.kind == 0u);
    let mgx = sgx / n;
    for (var j = 0u; j < np.cols; j++) {
        let xh = (x[base + j] - mean) * rstd;
        let v = rstd * (dy[base + j] * w[j] - mg - xh * mgx);
        if (accumulate()) {
            out[base + j] = out[base + j] + v;
        } else {
            out[base + j] = v;
        }
    }
}

// dw[j] = sum_r dy[r, j] * xh[r, j];  db[j] = sum_r dy[r, j]  (bit 1 of
// flags: add to what earlier batch chunks summed).
@compute @workgroup_size(WG)
fn norm_backward_param(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                       @builtin(local_invocation_index) lid: u32) {
    let j = index(wid, nwg, lid);
    if (j >= np.cols) {
        return;
    }
    var sw = 0.0;
    var sb = 0.0;
    for (var r = 0u; r < np.rows; r++) {
        let e = r * np.cols + j;
        let g = dy[e];
        sw += g * ((x[e] - saved[2u * r]) * saved[2u * r + 1u]);
        sb += g;
    }
    if (accumulate()) {
        sw += dw[j];
        sb += select(0.0, db[j], has_bias());
    }
    dw[j] = sw;
    if (has_bias()) {
        db[j] = sb;
    }
}
