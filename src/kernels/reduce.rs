//! The statistics reduction (`shaders/reduce.wgsl`): per-tensor moments,
//! extremes, scaled norms, counts and histograms reduced on the GPU, and the
//! conversion of the small records read back into [`TensorStats`].

use crate::gpu::buffers::View;
use crate::gpu::{Gpu, GpuError, Shader};
use crate::results::{Histogram, TensorStats};

// The texture route of the partial pass; it moves with this file.
#[path = "reduce_pieces.rs"]
mod pieces;
use pieces::{Piece, Pieces};
pub use pieces::{Source, texture_bytes};

/// One record as the GPU writes it (64 bytes; see `Rec` in reduce.wgsl).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, bytemuck::Pod, bytemuck::Zeroable)]
pub struct GpuRec {
    pub n: u32,
    pub nan: u32,
    pub inf: u32,
    pub zero: u32,
    pub sat: u32,
    pub pad: [u32; 3],
    pub mean: f32,
    pub m2_s: f32,
    pub m2_q: f32,
    pub min: f32,
    pub max: f32,
    pub nrm_s: f32,
    pub nrm_q: f32,
    pub pad2: f32,
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
pub(super) struct RedParams {
    n: u32,
    part_offset: u32,
    n_parts: u32,
    out_index: u32,
    sat: f32,
    bins: u32,
    hist_offset: u32,
    /// reduce_partial_tex: the piece's first element in the bound chunk.
    base: u32,
}

/// Elements per workgroup of the partial reduction (WGR × PT in reduce.wgsl).
pub(super) const CHUNK: u32 = 64 * 256;
/// Bins that fit the workgroup-local histogram.
const LOCAL_BINS: u32 = 256;
/// A bound range of a tensor and its element count.
pub type Chunk<'a> = (View<'a>, u32);

/// A tensor to reduce: its chunks (each a bound range and its element count;
/// one chunk unless the tensor exceeds the binding limit) and whether to
/// histogram it.
pub struct Item<'a> {
    pub chunks: Vec<Chunk<'a>>,
    pub histogram: bool,
}

impl<'a> Item<'a> {
    /// A tensor held whole in `buffer` (its first `n` elements).
    pub fn whole(buffer: &'a wgpu::Buffer, n: u32, histogram: bool) -> Item<'a> {
        Item {
            chunks: vec![(View::elems(buffer, 0, u64::from(n).max(1)), n)],
            histogram,
        }
    }

    fn n(&self) -> u32 {
        self.chunks.iter().map(|c| c.1).sum()
    }
}

/// GPU buffers of one batch of reductions.
pub struct StatsBuffers {
    parts: wgpu::Buffer,
    finals: wgpu::Buffer,
    hist: wgpu::Buffer,
    counts: Vec<u32>,
    hist_offsets: Vec<Option<u32>>,
    bins: u32,
}

pub(super) fn parts_of(n: u32) -> u32 {
    n.div_ceil(CHUNK).max(1)
}

struct Pipes {
    partial: std::sync::Arc<wgpu::ComputePipeline>,
    fin: std::sync::Arc<wgpu::ComputePipeline>,
    hist: std::sync::Arc<wgpu::ComputePipeline>,
}

/// Sizes and records the reduction of `items` into `enc`, reading them
/// from [`Source::for_adapter`].
pub fn encode_reduce(
    gpu: &Gpu,
    enc: &mut wgpu::CommandEncoder,
    items: &[Item<'_>],
    saturation: f32,
    bins: u32,
) -> Result<StatsBuffers, GpuError> {
    let source = Source::for_adapter(gpu);
    encode_reduce_from(gpu, enc, items, saturation, bins, source)
}

/// [`encode_reduce`] with the partial pass reading from `source`: one
/// compute pass for the buffer, plus a copy and a pass per texture piece.
pub fn encode_reduce_from(
    gpu: &Gpu,
    enc: &mut wgpu::CommandEncoder,
    items: &[Item<'_>],
    saturation: f32,
    bins: u32,
    source: Source,
) -> Result<StatsBuffers, GpuError> {
    let bufs = StatsBuffers::new(gpu, items, bins)?;
    enc.clear_buffer(&bufs.hist, 0, None);
    let hist_entry = if bins <= LOCAL_BINS {
        "histogram"
    } else {
        "histogram_wide"
    };
    let pipes = Pipes {
        partial: gpu.pipeline(Shader::Reduce, "reduce_partial", &[], false)?,
        fin: gpu.pipeline(Shader::Reduce, "reduce_final", &[], false)?,
        hist: gpu.pipeline(Shader::Reduce, hist_entry, &[], false)?,
    };
    let all = items.iter().flat_map(|i| i.chunks.iter());
    let pieces = Pieces::new(gpu, source, all)?;
    let mut rec = Recorded::default();
    let mut offset = 0u32;
    for (idx, it) in items.iter().enumerate() {
        let base = RedParams {
            n: 0,
            part_offset: 0,
            n_parts: 0,
            out_index: idx as u32,
            sat: saturation,
            bins,
            hist_offset: bufs.hist_offsets[idx].unwrap_or(0),
            base: 0,
        };
        let first = offset;
        for &(view, n) in &it.chunks {
            let p = RedParams {
                n,
                part_offset: offset,
                ..base
            };
            let cx = Cx {
                gpu,
                pipes: &pipes,
                bufs: &bufs,
                shift: it.chunks[0].0,
            };
            offset += match pieces.as_ref().filter(|_| Pieces::takes(source, &view, n)) {
                Some(pc) => pc.record(gpu, [view, cx.shift], &bufs.parts, p, &mut rec.pieces),
                None => cx.partial(view, p, &mut rec),
            };
            if it.histogram {
                cx.histogram(view, p, &mut rec);
            }
        }
        rec.finals.push(FinalItem {
            part_offset: first,
            n_parts: offset - first,
            out_index: base.out_index,
            pad: 0,
        });
    }
    if items.is_empty() {
        return Ok(bufs);
    }
    if let Some(pc) = &pieces {
        pc.encode(gpu, enc, &rec.pieces);
    }
    encode_final(gpu, enc, &pipes, &bufs, &rec, saturation, bins)?;
    Ok(bufs)
}

impl StatsBuffers {
    /// The records of `items`: partial, final and histogram bins.
    fn new(gpu: &Gpu, items: &[Item<'_>], bins: u32) -> Result<StatsBuffers, GpuError> {
        let total_parts: u64 = (items.iter().flat_map(|i| i.chunks.iter()))
            .map(|c| u64::from(parts_of(c.1)))
            .sum();
        let mut hist_offsets = Vec::with_capacity(items.len());
        let mut next_hist = 0u32;
        for it in items {
            hist_offsets.push(it.histogram.then(|| {
                next_hist += bins;
                next_hist - bins
            }));
        }
        let rec = std::mem::size_of::<GpuRec>() as u64;
        Ok(StatsBuffers {
            parts: gpu.storage("stats partial records", total_parts * rec)?,
            finals: gpu.storage("stats records", items.len() as u64 * rec)?,
            hist: gpu.storage("histograms", u64::from(next_hist.max(1)) * 4)?,
            counts: items.iter().map(Item::n).collect(),
            hist_offsets,
            bins,
        })
    }
}

/// What recording one chunk's storage-buffer passes needs.
struct Cx<'g, 'a> {
    gpu: &'g Gpu,
    pipes: &'g Pipes,
    bufs: &'g StatsBuffers,
    /// The tensor's first chunk (its first element is every chunk's shift).
    shift: View<'a>,
}

impl Cx<'_, '_> {
    /// The partial pass over a chunk from its buffer; returns its records.
    fn partial(&self, view: View<'_>, p: RedParams, rec: &mut Recorded<'_>) -> u32 {
        let p = RedParams {
            n_parts: parts_of(p.n),
            ..p
        };
        let u = self.gpu.uniform("reduce params", &p);
        let res = [
            (0, u.as_entire_binding()),
            (1, view.binding()),
            (2, self.bufs.parts.as_entire_binding()),
            (5, self.shift.binding()),
        ];
        let group = self
            .gpu
            .bind_at(&self.pipes.partial, "reduce_partial", &res);
        rec.partials
            .push((self.pipes.partial.clone(), group, p.n_parts));
        p.n_parts
    }

    /// The histogram pass over a chunk (after the final merge: it bins over
    /// the tensor's [min, max]).
    fn histogram(&self, view: View<'_>, p: RedParams, rec: &mut Recorded<'_>) {
        let u = self.gpu.uniform("histogram params", &p);
        let res = [
            (0, u.as_entire_binding()),
            (1, view.binding()),
            (3, self.bufs.finals.as_entire_binding()),
            (4, self.bufs.hist.as_entire_binding()),
        ];
        let group = self.gpu.bind_at(&self.pipes.hist, "histogram", &res);
        rec.hists
            .push((self.pipes.hist.clone(), group, parts_of(p.n)));
    }
}

/// One pass: the buffer partials, one final merge for every tensor (a
/// dispatch per tensor would be most of a step's dispatches in a deep
/// stack), then the histograms.
fn encode_final(
    gpu: &Gpu,
    enc: &mut wgpu::CommandEncoder,
    pipes: &Pipes,
    bufs: &StatsBuffers,
    rec: &Recorded<'_>,
    sat: f32,
    bins: u32,
) -> Result<(), GpuError> {
    let table = gpu.storage_from("stats final items", &rec.finals)?;
    let params = RedParams {
        n: rec.finals.len() as u32,
        part_offset: 0,
        n_parts: 0,
        out_index: 0,
        sat,
        bins,
        hist_offset: 0,
        base: 0,
    };
    let u = gpu.uniform("reduce params", &params);
    let res = [
        (0, u.as_entire_binding()),
        (2, bufs.parts.as_entire_binding()),
        (3, bufs.finals.as_entire_binding()),
        (6, table.as_entire_binding()),
    ];
    let fin = gpu.bind_at(&pipes.fin, "reduce_final", &res);
    let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
        label: Some("statistics"),
        timestamp_writes: None,
    });
    for (pipe, group, n) in &rec.partials {
        gpu.dispatch(&mut pass, pipe, group, *n);
    }
    gpu.dispatch(&mut pass, &pipes.fin, &fin, rec.finals.len() as u32);
    for (pipe, group, n) in &rec.hists {
        gpu.dispatch(&mut pass, pipe, group, *n);
    }
    Ok(())
}

pub(super) type Dispatch = (std::sync::Arc<wgpu::ComputePipeline>, wgpu::BindGroup, u32);

/// `FinalItem` of reduce.wgsl: a tensor's partial records and its record.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct FinalItem {
    part_offset: u32,
    n_parts: u32,
    out_index: u32,
    pad: u32,
}

/// What the items of one reduction record: partial passes, final merges
/// (one dispatch for all) and histograms, in that order.
#[derive(Default)]
struct Recorded<'a> {
    partials: Vec<Dispatch>,
    /// Texture pieces, copied and reduced before the final pass.
    pieces: Vec<Piece<'a>>,
    finals: Vec<FinalItem>,
    hists: Vec<Dispatch>,
}

/// Reads the records of a finished reduction back as [`TensorStats`].
/// `activation[i]` says whether item i reports zero and saturated fractions.
pub fn read_stats(
    gpu: &Gpu,
    bufs: &StatsBuffers,
    activation: &[bool],
) -> Result<Vec<TensorStats>, GpuError> {
    let recs: Vec<GpuRec> = gpu.read("stats records", &bufs.finals, 0, bufs.counts.len())?;
    let n_hist = bufs.hist_offsets.iter().flatten().count() * bufs.bins as usize;
    let hist: Vec<u32> = if n_hist > 0 {
        gpu.read("histograms", &bufs.hist, 0, n_hist)?
    } else {
        Vec::new()
    };
    Ok(recs
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mut s = r.to_stats(
                u64::from(bufs.counts[i]),
                activation.get(i).copied().unwrap_or(false),
            );
            if let Some(off) = bufs.hist_offsets[i] {
                let counts = hist[off as usize..(off + bufs.bins) as usize]
                    .iter()
                    .map(|c| u64::from(*c))
                    .collect();
                s.histogram = Some(Histogram {
                    lo: s.min,
                    hi: s.max,
                    counts,
                });
            }
            s
        })
        .collect())
}

impl GpuRec {
    /// Converts to the results schema (f64, unbiased std, scaled norm).
    pub fn to_stats(&self, count: u64, activation: bool) -> TensorStats {
        let n = f64::from(self.n);
        let m2 = f64::from(self.m2_s).powi(2) * f64::from(self.m2_q);
        let std = if self.n > 1 {
            (m2 / (n - 1.0)).sqrt()
        } else {
            0.0
        };
        let frac = |k: u32| {
            if count == 0 {
                0.0
            } else {
                f64::from(k) / count as f64
            }
        };
        TensorStats {
            count,
            mean: f64::from(self.mean),
            std,
            min: f64::from(self.min),
            max: f64::from(self.max),
            norm: f64::from(self.nrm_s) * f64::from(self.nrm_q).sqrt(),
            nan_count: u64::from(self.nan),
            inf_count: u64::from(self.inf),
            zero_fraction: activation.then(|| frac(self.zero)),
            // Filled in by the dead-unit pass, which knows the columns.
            dead_unit_fraction: None,
            saturated_fraction: activation.then(|| frac(self.sat)),
            histogram: None,
        }
    }
}
