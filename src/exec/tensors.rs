//! The GPU tensors of one run and their batch chunking.
//!
//! Activations (batch × width) may be larger than the adapter's largest
//! storage binding (128 MiB on lavapipe); they then live in one buffer (up to
//! `max_buffer_size`) and every kernel binds one chunk of rows at a time.
//! Chunks are a multiple of 64 rows, so every chunk starts on a 256-byte
//! boundary (the strictest binding-offset alignment) and on a Philox block.

use crate::config::{LayerSpec, Loss, RunSpec};
use crate::gpu::buffers::View;
use crate::gpu::{Gpu, GpuError};

/// Rows per chunk: the whole batch when it fits one binding.
pub(crate) fn chunk_rows(binding_bytes: u64, batch: usize, max_cols: usize) -> usize {
    let fit = (binding_bytes / (max_cols.max(1) as u64 * 4)) as usize;
    if fit >= batch { batch } else { fit / 64 * 64 }
}

/// A (batch × cols) activation tensor.
pub(crate) struct Act {
    pub buf: wgpu::Buffer,
    pub cols: usize,
}

impl Act {
    /// Rows [r0, r0 + rows) as a binding.
    pub fn rows(&self, r0: usize, rows: usize) -> View<'_> {
        View::elems(
            &self.buf,
            (r0 * self.cols) as u64,
            (rows * self.cols).max(1) as u64,
        )
    }
}

pub(crate) struct LayerBufs {
    pub spec: LayerSpec,
    pub w: wgpu::Buffer,
    pub b: Option<wgpu::Buffer>,
    pub h: Act,
    pub a: Act,
    pub da: Act,
    pub dw: wgpu::Buffer,
    pub db: Option<wgpu::Buffer>,
}

/// Everything allocated for one run.
pub(crate) struct Net {
    pub batch: usize,
    pub input_dim: usize,
    /// Rows per chunk (the batch when nothing needs chunking).
    pub chunk: usize,
    pub x: Act,
    pub layers: Vec<LayerBufs>,
    /// dL/dH of one chunk of one layer (rows × max width).
    pub dh: wgpu::Buffer,
    pub target: Option<Act>,
    /// Every buffer above with its label, to hand back to the pool.
    pub owned: Vec<(String, wgpu::Buffer)>,
}

impl Net {
    /// (first row, rows) of every chunk.
    pub fn chunks(&self) -> Vec<(usize, usize)> {
        (0..self.batch)
            .step_by(self.chunk.max(1))
            .map(|r0| (r0, self.chunk.min(self.batch - r0)))
            .collect()
    }
}

/// Allocates (or reuses) run buffers and remembers them for recycling.
struct Alloc<'g> {
    gpu: &'g Gpu,
    owned: Vec<(String, wgpu::Buffer)>,
}

impl Alloc<'_> {
    fn buf(&mut self, label: String, bytes: u64, chunked: bool) -> Result<wgpu::Buffer, GpuError> {
        let b = self.gpu.storage_for_run(&label, bytes, chunked)?;
        self.owned.push((label, b.clone()));
        Ok(b)
    }

    fn act(&mut self, label: String, batch: usize, cols: usize) -> Result<Act, GpuError> {
        Ok(Act {
            buf: self.buf(label, (batch * cols * 4) as u64, true)?,
            cols,
        })
    }
}

/// Allocates every tensor of `spec` (sizes were checked by `check_fits`),
/// reusing the previous run's buffers where label and size match.
pub(crate) fn alloc(gpu: &Gpu, spec: &RunSpec) -> Result<Net, GpuError> {
    let batch = spec.config.input.batch;
    let input_dim = spec.config.network.input_dim;
    let f = |n: usize| (n * 4) as u64;
    let layer_specs = spec.config.layer_specs();
    let max_w = layer_specs.iter().map(|l| l.fan_out).max().unwrap_or(1);
    let chunk = chunk_rows(gpu.max_binding_bytes(), batch, max_w.max(input_dim));
    let mut a = Alloc {
        gpu,
        owned: Vec::new(),
    };
    let mut layers = Vec::new();
    for l in layer_specs {
        let i = l.index;
        let (fi, fo) = (l.fan_in, l.fan_out);
        let has_bias = l.bias_init.is_some();
        layers.push(LayerBufs {
            w: a.buf(format!("w[{i}]"), f(fi * fo), false)?,
            b: if has_bias {
                Some(a.buf(format!("b[{i}]"), f(fo), false)?)
            } else {
                None
            },
            h: a.act(format!("preact[{i}]"), batch, fo)?,
            a: a.act(format!("act[{i}]"), batch, fo)?,
            da: a.act(format!("grad_act[{i}]"), batch, fo)?,
            dw: a.buf(format!("dw[{i}]"), f(fi * fo), false)?,
            db: if has_bias {
                Some(a.buf(format!("db[{i}]"), f(fo), false)?)
            } else {
                None
            },
            spec: l,
        });
    }
    let out = layers.last().map_or(1, |l| l.spec.fan_out);
    let target = if matches!(spec.config.loss, Loss::Mse { .. }) {
        Some(a.act("target".into(), batch, out)?)
    } else {
        None
    };
    let x = a.act("input".into(), batch, input_dim)?;
    let dh = a.buf("grad_preact scratch".into(), f(chunk * max_w), false)?;
    Ok(Net {
        batch,
        input_dim,
        chunk,
        x,
        layers,
        dh,
        target,
        owned: a.owned,
    })
}
