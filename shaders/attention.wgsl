// Multi-head scaled dot-product self-attention within sequences of `seq`
// consecutive rows (torch's nn.MultiheadAttention core, between in_proj and
// out_proj), forward and backward, plus the per-head logit/entropy summary.
//
// Layouts (row-major, rows of one chunk; chunks hold whole sequences):
//   qkv   rows x 3W      [q | k | v], head h at columns h*dh .. (h+1)*dh
//   probs rows x H*S     query r's softmax over the keys of its sequence
//   stats rows x 3H      per (query, head): mean and M2 of its logits, entropy
//   y     rows x W       heads side by side (out_proj's input)
// Causal: query at position p sees keys 0..=p; masked probabilities are 0.
// Numbers: logits max-subtracted before exp; entropy = log Z - sum(e*s)/Z
// with s = l - max (no log of an underflowed p).

struct AttnParams {
    rows: u32,
    width: u32,
    heads: u32,
    dh: u32,
    seq: u32,
    causal: u32,
    scale: f32,
    // bit 0: add to the output instead of writing it.
    flags: u32,
    // summary: first float of this op's 4*heads in `summary`.
    base: u32,
    pad0: u32,
    pad1: u32,
    pad2: u32,
}

@group(0) @binding(0) var<uniform> ap: AttnParams;
@group(0) @binding(1) var<storage, read> qkv: array<f32>;
@group(0) @binding(2) var<storage, read_write> probs: array<f32>;
@group(0) @binding(3) var<storage, read_write> stats: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
@group(0) @binding(6) var<storage, read> dy: array<f32>;
@group(0) @binding(7) var<storage, read_write> ds: array<f32>;
@group(0) @binding(8) var<storage, read_write> dqkv: array<f32>;
@group(0) @binding(9) var<storage, read_write> summary: array<f32>;

override WG: u32 = 64u;

fn linear_id(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return (wid.y * nwg.x + wid.x) * WG + lid;
}

// Keys a query at position `pos` of its sequence sees.
fn n_keys(pos: u32) -> u32 {
    if (ap.causal != 0u) {
        return pos + 1u;
    }
    return ap.seq;
}

// First query position whose softmax includes key position `pos`.
fn first_query(pos: u32) -> u32 {
    if (ap.causal != 0u) {
        return pos;
    }
    return 0u;
}

// One invocation per (query row, head): logits, softmax, logit moments, entropy.
@compute @workgroup_size(WG)
fn attn_probs(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
    let idx = linear_id(wid, nwg, lid);
    if (idx >= ap.rows * ap.heads) {
        return;
    }
    let r = idx / ap.heads;
    let h = idx % ap.heads;
    let pos = r % ap.seq;
    let s0 = r - pos;
    let nk = n_keys(pos);
    let w3 = 3u * ap.width;
    let qo = r * w3 + h * ap.dh;
    let ko = ap.width + h * ap.dh;
    let po = r * ap.heads * ap.seq + h * ap.seq;
    var m = -3.0e38;
    var mean = 0.0;
    var m2 = 0.0;
    for (var j = 0u; j < nk; j++) {
        let kr = (s0 + j) * w3 + ko;
        var acc = 0.0;
        for (var d = 0u; d < ap.dh; d++) {
            acc = acc + qkv[qo + d] * qkv[kr + d];
        }
        let l = acc * ap.scale;
        probs[po + j] = l;
        m = max(m, l);
        // Welford: the logits' mean and M2 without cancellation.
        let delta = l - mean;
        mean = mean + delta / f32(j + 1u);
        m2 = m2 + delta * (l - mean);
    }
    var z = 0.0;
    var t = 0.0;
    for (var j = 0u; j < nk; j++) {
        let s = probs[po + j] - m;
        let e = exp(s);
        probs[po + j] = e;
        z = z + e;
        t = t + e * s;
    }
    let inv = 1.0 / z;
    for (var j = 0u; j < nk; j++) {
        probs[po + j] = probs[po + j] * inv;
    }
    for (var j = nk; j < ap.seq; j++) {
        probs[po + j] = 0.0;
    }
    let so = r * 3u * ap.heads + 3u * h;
    stats[so] = mean;
    stats[so + 1u] = m2;
    stats[so + 2u] = log(z) - t * inv;
}

// One invocation per output element (row, column): y = P·V for its head.
@compute @workgroup_size(WG)
fn attn_pv(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
    let idx = linear_id(wid, nwg, lid);
    if (idx >= ap.rows * ap.width) {
        return;
    }
    let r = idx / ap.width;
    let c = idx % ap.width;
    let h = c / ap.dh;
    let pos = r % ap.seq;
    let s0 = r - pos;
    let nk = n_keys(pos);
    let w3 = 3u * ap.width;
    let po = r * ap.heads * ap.seq + h * ap.seq;
    let vo = 2u * ap.width + c;
    var acc = 0.0;
    for (var j = 0u; j < nk; j++) {
        acc = acc + probs[po + j] * qkv[(s0 + j) * w3 + vo];
    }
    y[r * ap.width + c] = acc;
}

// One invocation per (query row, head): dS = scale * P * (dP - sum(P*dP)),
// dP = dY·Vᵀ (the softmax backward with the logits' scale folded in).
@compute @workgroup_size(WG)
fn attn_dscores(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
    let idx = linear_id(wid, nwg, lid);
    if (idx >= ap.rows * ap.heads) {
        return;
    }
    let r = idx / ap.heads;
    let h = idx % ap.heads;
    let pos = r % ap.seq;
    let s0 = r - pos;
    let nk = n_keys(pos);
    let w3 = 3u * ap.width;
    let go = r * ap.width + h * ap.dh;
    let vo = 2u * ap.width + h * ap.dh;
    let po = r * ap.heads * ap.seq + h * ap.seq;
    var dot = 0.0;
    for (var j = 0u; j < nk; j++) {
        let vr = (s0 + j) * w3 + vo;
        var acc = 0.0;
        for (var d = 0u; d < ap.dh; d++) {
            acc = acc + dy[go + d] * qkv[vr + d];
        }
        ds[po + j] = acc;
        dot = dot + probs[po + j] * acc;
    }
    for (var j = 0u; j < nk; j++) {
        ds[po + j] = ap.scale * probs[po + j] * (ds[po + j] - dot);
    }
    for (var j = nk; j < ap.seq; j++) {
        ds[po + j] = 0.0;
    }
}

// One invocation per element of dqkv (row, column of [dq | dk | dv]):
// dQ = dS·K, dK = dSᵀ·Q, dV = Pᵀ·dY within the row's sequence and head.
@compute @workgroup_size(WG)
fn attn_dqkv(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
    let idx = linear_id(wid, nwg, lid);
    let w3 = 3u * ap.width;
    if (idx >= ap.rows * w3) {
        return;
    }
    let r = idx / w3;
    let c = idx % w3;
    let part = c / ap.width;
    let cc = c % ap.width;
    let h = cc / ap.dh;
    let pos = r % ap.seq;
    let s0 = r - pos;
    let hs = ap.heads * ap.seq;
    var acc = 0.0;
    if (part == 0u) {
        let po = r * hs + h * ap.seq;
        for (var j = 0u; j < n_keys(pos); j++) {
            acc = acc + ds[po + j] * qkv[(s0 + j) * w3 + ap.width + cc];
        }
    } else if (part == 1u) {
        for (var i = first_query(pos); i < ap.seq; i++) {
            let q = s0 + i;
            acc = acc + ds[q * hs + h * ap.seq + pos] * qkv[q * w3 + cc];
        }
    } else {
        for (var i = first_query(pos); i < ap.seq; i++) {
            let q = s0 + i;
            acc = acc + probs[q * hs + h * ap.seq + pos] * dy[q * ap.width + cc];
        }
    }
    let o = r * w3 + c;
    if ((ap.flags & 1u) != 0u) {
        acc = acc + dqkv[o];
    }
    dqkv[o] = acc;
}

// One invocation per head: the chunk's queries' logit moments merged
// (Chan et al.) into [mean, M2, entropy sum, count] at summary[base + 4h],
// merged with what is there when flags bit 0 says an earlier chunk wrote.
@compute @workgroup_size(WG)
fn attn_summary(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
    let h = linear_id(wid, nwg, lid);
    if (h >= ap.heads) {
        return;
    }
    let o = ap.base + 4u * h;
    var n = 0.0;
    var mean = 0.0;
    var m2 = 0.0;
    var ent = 0.0;
    if ((ap.flags & 1u) != 0u) {
        mean = summary[o];
        m2 = summary[o + 1u];
        ent = summary[o + 2u];
        n = summary[o + 3u];
    }
    for (var r = 0u; r < ap.rows; r++) {
        let so = r * 3u * ap.heads + 3u * h;
        let nb = f32(n_keys(r % ap.seq));
        let tot = n + nb;
        let delta = stats[so] - mean;
        mean = mean + delta * nb / tot;
        m2 = m2 + stats[so + 1u] + delta * delta * n * nb / tot;
        ent = ent + stats[so + 2u];
        n = tot;
    }
    summary[o] = mean;
    summary[o + 1u] = m2;
    summary[o + 2u] = ent;
    summary[o + 3u] = n;
}

// ---- vec4 variants (d_head a multiple of 4): four columns per load. ----
// lavapipe turns every storage load into a per-lane loop with bounds checks,
// so loads, not FMAs, bound these kernels: vec4 loads cut them by 4.

@group(0) @binding(11) var<storage, read> qkv4: array<vec4<f32>>;
@group(0) @binding(12) var<storage, read_write> y4: array<vec4<f32>>;
@group(0) @binding(13) var<storage, read> dy4: array<vec4<f32>>;
@group(0) @binding(14) var<storage, read_write> dqkv4: array<vec4<f32>>;

@compute @workgroup_size(WG)
fn attn_probs4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
    let idx = linear_id(wid, nwg, lid);
    if (idx >= ap.rows * ap.heads) {
        return;
    }
    let r = idx / ap.heads;
    let h = idx % ap.heads;
    let pos = r % ap.seq;
    let s0 = r - pos;
    let nk = n_keys(pos);
    let w4 = ap.width / 4u;
    let dh4 = ap.dh / 4u;
    let qo = r * 3u * w4 + h * dh4;
    let ko = w4 + h * dh4;
    let po = r * ap.heads * ap.seq + h * ap.seq;
    var m = -3.0e38;
    var mean = 0.0;
    var m2 = 0.0;
    for (var j = 0u; j < nk; j++) {
        let kr = (s0 + j) * 3u * w4 + ko;
        var acc = vec4<f32>(0.0);
        for (var d = 0u; d < dh4; d++) {
            acc = acc + qkv4[qo + d] * qkv4[kr + d];
        }
        let l = (acc.x + acc.y + acc.z + acc.w) * ap.scale;
        probs[po + j] = l;
        m = max(m, l);
        let delta = l - mean;
        mean = mean + delta / f32(j + 1u);
        m2 = m2 + delta * (l - mean);
    }
    var z = 0.0;
    var t = 0.0;
    for (var j = 0u; j < nk; j++) {
        let s = probs[po + j] - m;
        let e = exp(s);
        probs[po + j] = e;
        z = z + e;
        t = t + e * s;
    }
    let inv = 1.0 / z;
    for (var j = 0u; j < nk; j++) {
        probs[po + j] = probs[po + j] * inv;
    }
    for (var j = nk; j < ap.seq; j++) {
        probs[po + j] = 0.0;
    }
    let so = r * 3u * ap.heads + 3u * h;
    stats[so] = mean;
    stats[so + 1u] = m2;
    stats[so + 2u] = log(z) - t * inv;
}

@compute @workgroup_size(WG)
fn attn_pv4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
    let idx = linear_id(wid, nwg, lid);
    let w4 = ap.width / 4u;
    if (idx >= ap.rows * w4) {
        return;
    }
    let r = idx / w4;
    let c = idx % w4;
    let h = c / (ap.dh / 4u);
    let pos = r % ap.seq;
    let s0 = r - pos;
    let nk = n_keys(pos);
    let po = r * ap.heads * ap.seq + h * ap.seq;
    let vo = 2u * w4 + c;
    var acc = vec4<f32>(0.0);
    for (var j = 0u; j < nk; j++) {
        acc = acc + probs[po + j] * qkv4[(s0 + j) * 3u * w4 + vo];
    }
    y4[r * w4 + c] = acc;
}

@compute @workgroup_size(WG)
fn attn_dscores4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_index) lid: u32) {
    let idx = linear_id(wid, nwg, lid);
    if (idx >= ap.rows * ap.heads) {
        return;
    }
    let r = idx / ap.heads;
    let h = idx % ap.heads;
    let pos = r % ap.seq;
    let s0 = r - pos;
    let nk = n_keys(pos);
    let w4 = ap.width / 4u;
    let dh4 = ap.dh / 4u;
    let go = r * w4 + h * dh4;
    let vo = 2u * w4 + h * dh4;
    let po = r * ap.heads * ap.seq + h * ap.seq;
    var dot = 0.0;
    for (var j = 0u; j < nk; j++) {
        let vr = (s0 + j) * 3u * w4 + vo;
        var acc = vec4<f32>(0.0);
        for (var d = 0u; d < dh4; d++) {
            acc = acc + dy4[go + d] * qkv4[vr + d];
        }
        let a = acc.x + acc.y + acc.z + acc.w;
        ds[po + j] = a;
        dot = dot + probs[po + j] * a;
    }
    for (var j = 0u; j < nk; j++) {
        ds[po + j] = ap.scale * probs[po + j] * (ds[po + j] - dot);
    }
    for (var j = nk; j < ap.seq; j++) {
        ds[po + j] = 0.0;
    }
}

@compute @workgroup_size(WG)
fn attn_dqkv4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
    let idx = linear_id(wid, nwg, lid);
    let w4 = ap.width / 4u;
    let w34 = 3u * w4;
    if (idx >= ap.rows * w34) {
        return;
    }
    let r = idx / w34;
    let c = idx % w34;
    let part = c / w4;
    let cc = c % w4;
    let h = cc / (ap.dh / 4u);
    let pos = r % ap.seq;
    let s0 = r - pos;
    let hs = ap.heads * ap.seq;
    var acc = vec4<f32>(0.0);
    if (part == 0u) {
        let po = r * hs + h * ap.seq;
        for (var j = 0u; j < n_keys(pos); j++) {
            acc = acc + ds[po + j] * qkv4[(s0 + j) * w34 + w4 + cc];
        }
    } else if (part == 1u) {
        for (var i = first_query(pos); i < ap.seq; i++) {
            let q = s0 + i;
            acc = acc + ds[q * hs + h * ap.seq + pos] * qkv4[q * w34 + cc];
        }
    } else {
        for (var i = first_query(pos); i < ap.seq; i++) {
            let q = s0 + i;
            acc = acc + probs[q * hs + h * ap.seq + pos] * dy4[q * w4 + cc];
        }
    }
    let o = r * w34 + c;
    if ((ap.flags & 1u) != 0u) {
        acc = acc + dqkv4[o];
    }
    dqkv4[o] = acc;
}
