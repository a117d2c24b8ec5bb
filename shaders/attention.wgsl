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
//   ds    rows x H*S     dP (from the GEMM), then dS = P * (dP - sum(P*dP)),
//                        in place (the probabilities' gradient scratch)
//   stats rows x 3H      per (query, head): mean and M2 of its logits, entropy
// Causal: query at position p sees keys 0..=p; masked probabilities are 0.
// Numbers: logits max-subtracted before exp (the running sum is rescaled
// when the max grows); entropy = log Z - sum(p*s) with s = l - max (no log
// of an underflowed p).

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

// A query row's running softmax state over its visible logits: the max m,
// z = sum exp(l - m) rescaled whenever m grows (online softmax: one pass
// over the logits instead of two), and Welford's mean and M2 of the logits.
struct Online {
    m: f32,
    z: f32,
    n: f32,
    mean: f32,
    m2: f32,
}

fn online_add(st: ptr<function, Online>, l: f32) {
    if (l > (*st).m) {
        (*st).z = (*st).z * exp((*st).m - l) + 1.0;
        (*st).m = l;
    } else {
        (*st).z = (*st).z + exp(l - (*st).m);
    }
    (*st).n = (*st).n + 1.0;
    let delta = l - (*st).mean;
    (*st).mean = (*st).mean + delta / (*st).n;
    (*st).m2 = (*st).m2 + delta * (l - (*st).mean);
}

// Query row `idx` (row·heads + head): its visible keys and first element.
struct Row {
    nk: u32,
    po: u32,
    so: u32,
}

fn row_of(idx: u32) -> Row {
    let r = idx / ap.heads;
    return Row(n_keys(r % ap.seq), idx * ap.seq, r * 3u * ap.heads + 3u * (idx % ap.heads));
}

fn write_stats(row: Row, st: Online, t: f32) {
    stats[row.so] = st.mean;
    stats[row.so + 1u] = st.m2;
    // Entropy: log z - sum p·(l - m).
    stats[row.so + 2u] = log(st.z) - t;
}

fn new_online() -> Online {
    return Online(-3.0e38, 0.0, 0.0, 0.0, 0.0);
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
    let row = row_of(idx);
    var st = new_online();
    for (var j = 0u; j < row.nk; j++) {
        online_add(&st, probs[row.po + j]);
    }
    var t = 0.0;
    for (var j = 0u; j < ap.seq; j++) {
        var p = 0.0;
        if (j < row.nk) {
            let s = probs[row.po + j] - st.m;
            p = exp(s) / st.z;
            t = t + p * s;
        }
        probs[row.po + j] = p;
    }
    write_stats(row, st, t);
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
    for (var j = 0u; j < ap.seq; j++) {
        // Masked keys get 0 even where dP is not finite.
        ds[po + j] = select(0.0, probs[po + j] * (ds[po + j] - dot), j < nk);
    }
}

// ---- vec4 variants (seq a multiple of 4): four keys per load. lavapipe
// turns every storage access into a per-lane loop with bounds checks, so
// accesses, not arithmetic, bound these kernels.

@group(0) @binding(5) var<storage, read_write> probs4: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read_write> ds4: array<vec4<f32>>;

@compute @workgroup_size(WG)
fn attn_softmax4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_index) lid: u32) {
    let idx = linear_id(wid, nwg, lid);
    if (idx >= ap.rows * ap.heads) {
        return;
    }
    let row = row_of(idx);
    let o4 = row.po / 4u;
    var st = new_online();
    for (var j4 = 0u; 4u * j4 < row.nk; j4++) {
        let v = probs4[o4 + j4];
        for (var c = 0u; c < 4u && 4u * j4 + c < row.nk; c++) {
            online_add(&st, v[c]);
        }
    }
    var t = 0.0;
    for (var j4 = 0u; j4 < ap.seq / 4u; j4++) {
        var p = vec4<f32>(0.0);
        if (4u * j4 < row.nk) {
            let v = probs4[o4 + j4];
            for (var c = 0u; c < 4u && 4u * j4 + c < row.nk; c++) {
                let s = v[c] - st.m;
                p[c] = exp(s) / st.z;
                t = t + p[c] * s;
            }
        }
        probs4[o4 + j4] = p;
    }
    write_stats(row, st, t);
}

@compute @workgroup_size(WG)
fn attn_dsoftmax4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
    let idx = linear_id(wid, nwg, lid);
    if (idx >= ap.rows * ap.heads) {
        return;
    }
    let nk = n_keys((idx / ap.heads) % ap.seq);
    let o4 = idx * ap.seq / 4u;
    var dot = vec4<f32>(0.0);
    for (var j4 = 0u; 4u * j4 < nk; j4++) {
        let vis = 4u * j4 + vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(nk);
        dot = dot + select(vec4<f32>(0.0), probs4[o4 + j4] * ds4[o4 + j4], vis);
    }
    let d = dot.x + dot.y + dot.z + dot.w;
    for (var j4 = 0u; j4 < ap.seq / 4u; j4++) {
        let vis = 4u * j4 + vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(nk);
        ds4[o4 + j4] = select(vec4<f32>(0.0), probs4[o4 + j4] * (ds4[o4 + j4] - d), vis);
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
