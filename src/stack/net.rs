//! The GPU tensors of one run and their batch chunking.
//!
//! Activations (batch × width) may be larger than the adapter's largest
//! storage binding (128 MiB on lavapipe); they then live in one buffer (up to
//! `max_buffer_size`) and every kernel binds one chunk of rows at a time.
//! Chunks are a multiple of 64 rows, so every chunk starts on a 256-byte
//! boundary (the strictest binding-offset alignment) and on a Philox block.

use crate::gpu::buffers::View;
use crate::gpu::{Gpu, GpuError};
use crate::spec::{LayerSpec, Loss, RunSpec};

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

fn act(gpu: &Gpu, label: &str, batch: usize, cols: usize) -> Result<Act, GpuError> {
    Ok(Act {
        buf: gpu.storage_chunked(label, (batch * cols * 4) as u64)?,
        cols,
    })
}

/// Allocates every tensor of `spec` (sizes were checked by `check_fits`).
pub(crate) fn alloc(gpu: &Gpu, spec: &RunSpec) -> Result<Net, GpuError> {
    let batch = spec.config.input.batch;
    let input_dim = spec.config.network.input_dim;
    let f = |n: usize| (n * 4) as u64;
    let layer_specs = spec.config.layer_specs();
    let max_w = layer_specs.iter().map(|l| l.fan_out).max().unwrap_or(1);
    let chunk = chunk_rows(gpu.max_binding_bytes(), batch, max_w.max(input_dim));
    let mut layers = Vec::new();
    for l in layer_specs {
        let i = l.index;
        let (fi, fo) = (l.fan_in, l.fan_out);
        layers.push(LayerBufs {
            w: gpu.storage(&format!("w[{i}]"), f(fi * fo))?,
            b: l.bias_init
                .as_ref()
                .map(|_| gpu.storage(&format!("b[{i}]"), f(fo)))
                .transpose()?,
            h: act(gpu, &format!("preact[{i}]"), batch, fo)?,
            a: act(gpu, &format!("act[{i}]"), batch, fo)?,
            da: act(gpu, &format!("grad_act[{i}]"), batch, fo)?,
            dw: gpu.storage(&format!("dw[{i}]"), f(fi * fo))?,
            db: l
                .bias_init
                .as_ref()
                .map(|_| gpu.storage(&format!("db[{i}]"), f(fo)))
                .transpose()?,
            spec: l,
        });
    }
    let out = layers.last().map_or(1, |l| l.spec.fan_out);
    let target = matches!(spec.config.loss, Loss::Mse { .. })
        .then(|| act(gpu, "target", batch, out))
        .transpose()?;
    Ok(Net {
        batch,
        input_dim,
        chunk,
        x: act(gpu, "input", batch, input_dim)?,
        dh: gpu.storage("grad_preact scratch", f(chunk * max_w))?,
        layers,
        target,
    })
}
