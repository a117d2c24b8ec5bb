//! Statistics: the GPU reduction driver (`shaders/reduce.wgsl`), conversion
//! of the small records read back into [`TensorStats`], and the per-run
//! summary with its diagnosis.

use crate::gpu::buffers::View;
use crate::gpu::{Gpu, GpuError, Shader};
use crate::record::{Histogram, LayerRecord, RunSummary, TensorStats};
use crate::spec::{Diagnosis, Loss};

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
struct RedParams {
    n: u32,
    part_offset: u32,
    n_parts: u32,
    out_index: u32,
    sat: f32,
    bins: u32,
    hist_offset: u32,
    pad: u32,
}

/// Elements per workgroup of the partial reduction (WGR × PT in reduce.wgsl).
const CHUNK: u32 = 64 * 256;
/// Bins that fit the workgroup-local histogram.
const LOCAL_BINS: u32 = 256;

/// A tensor to reduce: its chunks (each a bound range and its element count;
/// one chunk unless the tensor exceeds the binding limit) and whether to
/// histogram it.
pub struct Item<'a> {
    pub chunks: Vec<(View<'a>, u32)>,
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

fn parts_of(n: u32) -> u32 {
    n.div_ceil(CHUNK).max(1)
}

struct Pipes {
    partial: std::sync::Arc<wgpu::ComputePipeline>,
    fin: std::sync::Arc<wgpu::ComputePipeline>,
    hist: std::sync::Arc<wgpu::ComputePipeline>,
}

/// Sizes and records the reduction of `items` into `enc` (one compute pass).
pub fn encode_reduce(
    gpu: &Gpu,
    enc: &mut wgpu::CommandEncoder,
    items: &[Item<'_>],
    saturation: f32,
    bins: u32,
) -> Result<StatsBuffers, GpuError> {
    let total_parts: u64 = items
        .iter()
        .flat_map(|i| i.chunks.iter())
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
    let bufs = StatsBuffers {
        parts: gpu.storage("stats partial records", total_parts * rec)?,
        finals: gpu.storage("stats records", items.len() as u64 * rec)?,
        hist: gpu.storage("histograms", u64::from(next_hist.max(1)) * 4)?,
        counts: items.iter().map(Item::n).collect(),
        hist_offsets,
        bins,
    };
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
    let mut dispatches = Vec::new();
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
            pad: 0,
        };
        offset = record_item(gpu, &pipes, &bufs, it, base, offset, &mut dispatches);
    }
    let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
        label: Some("statistics"),
        timestamp_writes: None,
    });
    for (pipe, group, n) in &dispatches {
        gpu.dispatch(&mut pass, pipe, group, *n);
    }
    Ok(bufs)
}

type Dispatch = (std::sync::Arc<wgpu::ComputePipeline>, wgpu::BindGroup, u32);

/// Partial passes of every chunk, then one final merge over all of them.
fn record_item(
    gpu: &Gpu,
    p: &Pipes,
    bufs: &StatsBuffers,
    it: &Item<'_>,
    base: RedParams,
    mut offset: u32,
    out: &mut Vec<Dispatch>,
) -> u32 {
    let first = offset;
    let shift = it.chunks.first().map(|c| c.0.binding());
    let mut hist_groups = Vec::new();
    for (view, n) in &it.chunks {
        let n_parts = parts_of(*n);
        let params = RedParams {
            n: *n,
            part_offset: offset,
            n_parts,
            ..base
        };
        offset += n_parts;
        let u = gpu.uniform("reduce params", &params);
        let mut res = vec![
            (0, u.as_entire_binding()),
            (1, view.binding()),
            (2, bufs.parts.as_entire_binding()),
        ];
        res.extend(shift.clone().map(|s| (5, s)));
        out.push((
            p.partial.clone(),
            gpu.bind_at(&p.partial, "reduce_partial", &res),
            n_parts,
        ));
        if it.histogram {
            let res = [
                (0, u.as_entire_binding()),
                (1, view.binding()),
                (3, bufs.finals.as_entire_binding()),
                (4, bufs.hist.as_entire_binding()),
            ];
            hist_groups.push((
                p.hist.clone(),
                gpu.bind_at(&p.hist, "histogram", &res),
                n_parts,
            ));
        }
    }
    let params = RedParams {
        n: it.n(),
        part_offset: first,
        n_parts: offset - first,
        ..base
    };
    let u = gpu.uniform("reduce params", &params);
    let mut res = vec![
        (0, u.as_entire_binding()),
        (2, bufs.parts.as_entire_binding()),
        (3, bufs.finals.as_entire_binding()),
    ];
    res.extend(shift.map(|s| (5, s)));
    out.push((p.fin.clone(), gpu.bind_at(&p.fin, "reduce_final", &res), 1));
    out.extend(hist_groups);
    offset
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
            saturated_fraction: activation.then(|| frac(self.sat)),
            histogram: None,
        }
    }
}

/// The loss value from the statistics of the output and of its gradient.
pub fn loss_value(loss: Loss, out: &TensorStats, grad_out: &TensorStats) -> f64 {
    let n = out.count as f64;
    if out.nan_count + out.inf_count > 0 {
        return f64::NAN;
    }
    match loss {
        Loss::Mean => out.mean,
        Loss::Sum => out.mean * n,
        Loss::MeanSquare => out.norm * out.norm / n,
        // dL/dy = 2(y − t)/N, so Σ(y − t)²/N = N·‖dL/dy‖²/4.
        Loss::Mse { .. } => n * grad_out.norm * grad_out.norm / 4.0,
    }
}

/// Summary and diagnosis of one run.
pub fn summarize(
    layers: &[LayerRecord],
    input: &TensorStats,
    loss: f64,
    d: &Diagnosis,
    saturating: &[bool],
) -> RunSummary {
    let last = layers.last();
    let final_act_std = last.map_or(0.0, |l| l.act.std);
    let norms: Vec<f64> = layers.iter().map(|l| l.grad_weight.norm).collect();
    let mean_grad_norm = if norms.is_empty() {
        0.0
    } else {
        norms.iter().sum::<f64>() / norms.len() as f64
    };
    let (lo, hi) = norms
        .iter()
        .fold((f64::INFINITY, 0.0f64), |(a, b), &x| (a.min(x), b.max(x)));
    let grad_norm_ratio = if norms.is_empty() {
        1.0
    } else if lo > 0.0 {
        hi / lo
    } else {
        f64::INFINITY
    };
    let worst = |f: &dyn Fn(&LayerRecord) -> Option<f64>| {
        layers
            .iter()
            .filter_map(|l| f(l).map(|v| (v, l.index)))
            .fold((0.0, 0), |a, b| if b.0 > a.0 { b } else { a })
    };
    let (dead, dead_at) = worst(&|l| l.act.zero_fraction);
    let (sat, sat_at) = worst(&|l| {
        if saturating.get(l.index).copied().unwrap_or(false) {
            l.act.saturated_fraction
        } else {
            None
        }
    });
    let all = layers.iter().flat_map(|l| {
        [
            Some(&l.weight),
            Some(&l.preact),
            Some(&l.act),
            Some(&l.grad_weight),
            Some(&l.grad_act),
            l.bias.as_ref(),
            l.grad_bias.as_ref(),
        ]
    });
    let (nan, inf) = all
        .flatten()
        .fold((0, 0), |(a, b), s| (a + s.nan_count, b + s.inf_count));
    let mut diagnosis = Vec::new();
    if nan + inf > 0 {
        diagnosis.push(format!("NaN/Inf ({nan} NaN, {inf} Inf)"));
    }
    if final_act_std < d.vanishing_act_std {
        diagnosis.push(format!(
            "vanishing activations (final std {final_act_std:.2e} < {})",
            d.vanishing_act_std
        ));
    } else if final_act_std > d.exploding_act_std {
        diagnosis.push(format!(
            "exploding activations (final std {final_act_std:.2e} > {})",
            d.exploding_act_std
        ));
    }
    if mean_grad_norm < d.vanishing_grad_norm {
        diagnosis.push(format!(
            "vanishing gradients (mean ‖dW‖ {mean_grad_norm:.2e} < {:e})",
            d.vanishing_grad_norm
        ));
    } else if mean_grad_norm > d.exploding_grad_norm {
        diagnosis.push(format!(
            "exploding gradients (mean ‖dW‖ {mean_grad_norm:.2e} > {})",
            d.exploding_grad_norm
        ));
    }
    if dead > d.dead_fraction {
        diagnosis.push(format!(
            "dead units ({:.0}% zeros in layer {dead_at})",
            dead * 100.0
        ));
    }
    if sat > d.saturated_fraction {
        diagnosis.push(format!(
            "saturation ({:.0}% saturated in layer {sat_at})",
            sat * 100.0
        ));
    }
    RunSummary {
        loss,
        input_std: input.std,
        final_act_std,
        mean_grad_norm,
        grad_norm_ratio,
        max_dead_fraction: dead,
        max_saturated_fraction: sat,
        nan_count: nan,
        inf_count: inf,
        diagnosis,
    }
}
