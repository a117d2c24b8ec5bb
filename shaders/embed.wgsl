// Token-embedding input: row g of the input batch is row id(g) of the
// embedding table, plus row (g % seq_len) of the sinusoidal positions when
// seq_len > 0. id(g) = below(word g % 4 of Philox block g / 4, vocab) on
// the token-id stream (see src/rng.rs). One invocation per row.

struct EmbedParams {
    key: vec2<u32>,
    layer: u32,
    role: u32,
    repeat: u32,
    // Rows of this chunk, and the batch row its first one is.
    rows: u32,
    row0: u32,
    cols: u32,
    vocab: u32,
    seq_len: u32,
    _p0: u32,
    _p1: u32,
}

@group(0) @binding(0) var<uniform> ep: EmbedParams;
@group(0) @binding(1) var<storage, read> table: array<f32>;
// (seq_len x cols); bound to the table when there are no positions.
@group(0) @binding(2) var<storage, read> pos: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

override WG: u32 = 64u;

@compute @workgroup_size(WG)
fn embed_rows(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
    let r = (wid.y * nwg.x + wid.x) * WG + lid;
    if (r >= ep.rows) {
        return;
    }
    let g = ep.row0 + r;
    let words = philox4x32_10(vec4<u32>(g / 4u, ep.layer, ep.role, ep.repeat), ep.key);
    let id = below(words[g % 4u], ep.vocab);
    let src = id * ep.cols;
    let dst = r * ep.cols;
    if (ep.seq_len > 0u) {
        let p = (g % ep.seq_len) * ep.cols;
        for (var j = 0u; j < ep.cols; j++) {
            out[dst + j] = table[src + j] + pos[p + j];
        }
    } else {
        for (var j = 0u; j < ep.cols; j++) {
            out[dst + j] = table[src + j];
        }
    }
}
