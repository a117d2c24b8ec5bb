//! The embedding-input kernel (`shaders/embed.wgsl`): token ids drawn from
//! Philox, table rows gathered, sinusoidal positions added.

use crate::gpu::buffers::View;
use crate::gpu::{Gpu, GpuError, Shader};
use crate::rng::{Draw, key_of};

const WG: u32 = 64;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct EmbedParams {
    key: [u32; 2],
    layer: u32,
    role: u32,
    repeat: u32,
    rows: u32,
    row0: u32,
    cols: u32,
    vocab: u32,
    seq_len: u32,
    pad: [u32; 2],
}

/// One chunk of embedded rows.
pub struct EmbedRows<'a> {
    /// The token-id stream.
    pub ids: Draw,
    pub vocab: usize,
    pub table: &'a wgpu::Buffer,
    /// The (seq_len × cols) positions and seq_len, if added.
    pub positions: Option<(&'a wgpu::Buffer, usize)>,
    /// Batch rows [row0, row0 + rows) into `out`.
    pub row0: usize,
    pub rows: usize,
    pub cols: usize,
    pub out: View<'a>,
}

/// Records one chunk of the embedding input.
pub fn encode_embed(
    gpu: &Gpu,
    enc: &mut wgpu::CommandEncoder,
    e: &EmbedRows<'_>,
) -> Result<(), GpuError> {
    let entry = "embed_rows";
    let pipe = gpu.pipeline(Shader::Embed, entry, &[("WG", WG as f64)], true)?;
    let s = e.ids.stream;
    let p = EmbedParams {
        key: key_of(e.ids.seed),
        layer: s.layer,
        role: s.role as u32,
        repeat: s.repeat,
        rows: e.rows as u32,
        row0: e.row0 as u32,
        cols: e.cols as u32,
        vocab: e.vocab as u32,
        seq_len: e.positions.map_or(0, |p| p.1 as u32),
        pad: [0; 2],
    };
    let u = gpu.uniform("embed params", &p);
    let pos = e.positions.map_or(e.table, |p| p.0);
    let res = [
        (0, u.as_entire_binding()),
        (1, e.table.as_entire_binding()),
        (2, pos.as_entire_binding()),
        (3, e.out.binding()),
    ];
    let group = gpu.bind_at(&pipe, entry, &res);
    gpu.dispatch_pass(enc, entry, &pipe, &group, (e.rows as u32).div_ceil(WG));
    Ok(())
}

/// The sinusoidal positions of seed 000 (slide 7), (seq_len × dim) row-major:
/// PE[p, 2i] = sin(p·10000^(−2i/dim)), PE[p, 2i+1] = cos(p·10000^(−2i/dim)),
/// computed in f64 on the host and rounded once to f32, so every adapter
/// adds the same bits.
pub fn sinusoidal(seq_len: usize, dim: usize) -> Vec<f32> {
    let mut v = Vec::with_capacity(seq_len * dim);
    for p in 0..seq_len {
        for j in 0..dim {
            let i2 = (j - j % 2) as f64;
            let angle = p as f64 * (-(10000f64.ln()) * i2 / dim as f64).exp();
            v.push(if j % 2 == 0 { angle.sin() } else { angle.cos() } as f32);
        }
    }
    v
}
