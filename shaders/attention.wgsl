// The row-wise parts of multi-head scaled dot-product self-attention within
// sequences of `seq` consecutive rows (torch's nn.MultiheadAttention core,
// between in_proj and out_proj): the softmax with its causal mask, its
// backward, and the per-head logit/entropy summary. The six products
// (S = scale·QKᵀ, O = P·V, dP = dO·Vᵀ, dV = Pᵀ·dO, dQ = scale·dS·K,
// dK = scale·dSᵀ·Q) are strided GEMMs per (sequence, head), src/kernels/attention.rs.
//
// Layouts (row-major, rows of one chunk; chunks hold whole sequences):
//   probs rows x H*S     query r's logits (from the GEMM), then its softmax
//                        over the keys of its sequence, head h at columns h*S..
//   ds    rows x H*S     dP (from the GEMM), then dS = P * (dP - sum(P*dP))
//   stats rows x 3H      per (query, head): mean and M2 of its logits, entropy
// Causal: query at position p sees keys 0..=p; masked probabilities are 0.
// Numbers: logits max-subtracted before exp; entropy = log Z - sum(e*s)/Z
// with s = l - max (no log of an underflowed p).

struct AttnParams {
    rows: u32,
    heads: u32,
    seq: u32,
    causal: u32,
    // bit 0 (summary): merge with what an earlier chunk wrote.
    flags: u32,
    // summary: first float of this op's 4*heads in `summary`.
    base: u32,
    pad0: u32,
    pad1: u32,
}

@group(0) @binding(0) var<uniform> ap: AttnParams;
@group(0) @binding(1) var<storage, read_write> probs: array<f32>;
@group(0) @binding(2) var<storage, read_write> stats: array<f32>;
@group(0) @binding(3) var<storage, read_write> ds: array<f32>;
@group(0) @binding(4) var<storage, read_write> summary: array<f32>;

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

// One invocation per (query row, head): the scaled logits in `probs` become
// the masked softmax; the logits' moments and the entropy go to `stats`.
@compute @workgroup_size(WG)
fn attn_softmax(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
    let idx = linear_id(wid, nwg, lid);
    if (idx >= ap.rows * ap.heads) {
        return;
    }
    let r = idx / ap.heads;
    let h = idx % ap.heads;
    let nk = n_keys(r % ap.seq);
    let po = idx * ap.seq;
    var m = -3.0e38;
    var mean = 0.0;
    var m2 = 0.0;
    for (var j = 0u; j < nk; j++) {
        let l = probs[po + j];
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

// One invocation per (query row, head): dS = P * (dP - sum(P*dP)) in place
// over dP (the softmax backward; masked entries have P = 0, so dS = 0).
@compute @workgroup_size(WG)
fn attn_dsoftmax(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_index) lid: u32) {
    let idx = linear_id(wid, nwg, lid);
    if (idx >= ap.rows * ap.heads) {
        return;
    }
    let nk = n_keys((idx / ap.heads) % ap.seq);
    let po = idx * ap.seq;
    var dot = 0.0;
    for (var j = 0u; j < nk; j++) {
        dot = dot + probs[po + j] * ds[po + j];
    }
    for (var j = 0u; j < nk; j++) {
        ds[po + j] = probs[po + j] * (ds[po + j] - dot);
    }
    for (var j = nk; j < ap.seq; j++) {
        ds[po + j] = 0.0;
    }
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
