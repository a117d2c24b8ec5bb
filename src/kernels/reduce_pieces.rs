//! The statistics reduction's texture route (CPU adapters): each chunk of a
//! tensor is copied, one piece of at most 1024 rows × [`TEX_W`] texels at a
//! time, into an rgba32float scratch texture that `reduce_partial_tex`
//! reads. lavapipe loads a storage buffer one lane at a time (about 30
//! cycles per float, and the partial pass reads every element three times);
//! a texel fetch serves a whole 8-lane subgroup in about 72 cycles.

use super::{CHUNK, Chunk, Dispatch, RedParams, parts_of};
use crate::gpu::buffers::View;
use crate::gpu::{Gpu, GpuError, Shader};
use crate::kernels::scratch::{self, TexSlot};

/// Texels per row of the statistics texture (TEX_W in reduce.wgsl).
const TEX_W: u32 = 1024;

/// Where the partial pass reads a tensor's elements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// From the storage buffer itself.
    Buffer,
    /// From texture pieces (a 1024×1024 weight's statistics: 2x faster on
    /// lavapipe, copy included). Chunks smaller than one workgroup's
    /// elements, or not 16-byte aligned, still use the buffer.
    Texture,
}

impl Source {
    /// The faster source on this adapter: textures on CPU adapters.
    pub fn for_adapter(gpu: &Gpu) -> Source {
        if gpu.info.device_type == wgpu::DeviceType::Cpu {
            Source::Texture
        } else {
            Source::Buffer
        }
    }
}

/// The statistics texture's bytes for a tensor of `n` elements read
/// through a texture (the memory plan counts it).
pub fn texture_bytes(n: u64) -> u64 {
    if n < u64::from(CHUNK) {
        return 0;
    }
    // Whole rows of the largest piece (4 Mi elements).
    let rows = n.min(1 << 22).div_ceil(4 * u64::from(TEX_W));
    rows * u64::from(TEX_W) * 16
}

/// A piece to copy and reduce: the buffer, the byte offset of its first
/// element, its element count, and its partial pass.
pub(super) type Piece<'a> = (&'a wgpu::Buffer, u64, u32, Dispatch);

/// The scratch texture and pipeline of one reduction's pieces.
pub(super) struct Pieces {
    tex: wgpu::Texture,
    view: wgpu::TextureView,
    pipe: std::sync::Arc<wgpu::ComputePipeline>,
    /// Elements per piece: whole workgroups, at most 1024 rows.
    piece: u32,
}

impl Pieces {
    /// Whether `source` reads a chunk of `n` elements at `v` from a texture.
    pub(super) fn takes(source: Source, v: &View<'_>, n: u32) -> bool {
        source == Source::Texture && n >= CHUNK && v.offset.is_multiple_of(16)
    }

    /// The texture for the largest piece among `chunks` (None: no chunk
    /// goes through a texture).
    pub(super) fn new<'a>(
        gpu: &Gpu,
        source: Source,
        chunks: impl Iterator<Item = &'a Chunk<'a>>,
    ) -> Result<Option<Pieces>, GpuError> {
        let rows = gpu.limits.max_texture_dimension_2d.min(1024);
        let piece = CHUNK * (rows / (CHUNK / (4 * TEX_W))).max(1);
        let most = chunks
            .filter(|(v, n)| Pieces::takes(source, v, *n))
            .map(|c| c.1.min(piece))
            .max();
        let Some(most) = most else {
            return Ok(None);
        };
        let tex = scratch::texture(gpu, TexSlot::Stats, TEX_W, most.div_ceil(4 * TEX_W))?;
        Ok(Some(Pieces {
            view: tex.create_view(&Default::default()),
            tex,
            pipe: gpu.pipeline(Shader::Reduce, "reduce_partial_tex", &[], false)?,
            piece,
        }))
    }

    /// Records the pieces of chunk (`view`, `p.n` elements) whose partial
    /// records start at `p.part_offset`; returns how many records they fill.
    pub(super) fn record<'a>(
        &self,
        gpu: &Gpu,
        [view, shift]: [View<'a>; 2],
        parts: &wgpu::Buffer,
        p: RedParams,
        out: &mut Vec<Piece<'a>>,
    ) -> u32 {
        let mut filled = 0;
        for start in (0..p.n).step_by(self.piece as usize) {
            let len = self.piece.min(p.n - start);
            let q = RedParams {
                n: len,
                part_offset: p.part_offset + filled,
                n_parts: parts_of(len),
                base: start,
                ..p
            };
            filled += q.n_parts;
            let u = gpu.uniform("reduce params", &q);
            let res = [
                (0, u.as_entire_binding()),
                (1, view.binding()),
                (2, parts.as_entire_binding()),
                (5, shift.binding()),
                (10, wgpu::BindingResource::TextureView(&self.view)),
            ];
            let group = gpu.bind_at(&self.pipe, "reduce_partial_tex", &res);
            let at = view.offset + u64::from(start) * 4;
            out.push((view.buffer, at, len, (self.pipe.clone(), group, q.n_parts)));
        }
        filled
    }

    /// Records every piece: its copy, then its partial pass.
    pub(super) fn encode(&self, gpu: &Gpu, enc: &mut wgpu::CommandEncoder, pieces: &[Piece<'_>]) {
        for (buffer, at, len, (pipe, group, n)) in pieces {
            self.copy(enc, buffer, *at, *len);
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("statistics (texture piece)"),
                timestamp_writes: None,
            });
            gpu.dispatch(&mut pass, pipe, group, *n);
        }
    }

    /// Copies `len` elements of `buffer` from byte `at`: whole rows of
    /// TEX_W texels, then the last partial row (`len % 4` trailing
    /// elements stay in the buffer; the kernel reads them there).
    fn copy(&self, enc: &mut wgpu::CommandEncoder, buffer: &wgpu::Buffer, at: u64, len: u32) {
        let texels = len / 4;
        let (rows, rest) = (texels / TEX_W, texels % TEX_W);
        let mut copy = |offset: u64, y: u32, width: u32, height: u32| {
            enc.copy_buffer_to_texture(
                wgpu::TexelCopyBufferInfo {
                    buffer,
                    layout: wgpu::TexelCopyBufferLayout {
                        offset,
                        bytes_per_row: Some(TEX_W * 16),
                        rows_per_image: None,
                    },
                },
                wgpu::TexelCopyTextureInfo {
                    texture: &self.tex,
                    mip_level: 0,
                    origin: wgpu::Origin3d { x: 0, y, z: 0 },
                    aspect: wgpu::TextureAspect::All,
                },
                wgpu::Extent3d {
                    width,
                    height,
                    depth_or_array_layers: 1,
                },
            );
        };
        if rows > 0 {
            copy(at, 0, TEX_W, rows);
        }
        if rest > 0 {
            copy(at + u64::from(rows * TEX_W) * 16, rows, rest, 1);
        }
    }
}
