//! The GPU buffers of one run and their batch chunking.
//!
//! Row tensors (batch × width) may be larger than the adapter's largest
//! storage binding (128 MiB on lavapipe); they then live in one buffer (up to
//! `max_buffer_size`) and every kernel binds one chunk of rows at a time.
//! Chunks are a multiple of 64 rows (and hold whole attention sequences:
//! `Model::row_granule`), so every chunk starts on a 256-byte
//! boundary (the strictest binding-offset alignment) and on a Philox block.

use crate::gpu::buffers::View;
use crate::gpu::{Gpu, GpuError};
use crate::model::{ActId, GradStore, Model, ParamId};

/// A (batch × cols) row tensor.
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

/// A chunk of rows: (first row, number of rows).
pub(crate) type Chunk = (usize, usize);

/// Every buffer of one run.
pub(crate) struct Buffers {
    pub batch: usize,
    /// Rows per chunk (the batch when nothing needs chunking).
    pub chunk: usize,
    /// One per row tensor of the model.
    pub acts: Vec<Act>,
    /// The stored gradient of each row tensor (`GradStore::Full`).
    pub grads: Vec<Option<Act>>,
    pub params: Vec<wgpu::Buffer>,
    pub param_grads: Vec<wgpu::Buffer>,
    /// Gradients kept only for one chunk, per slot (`GradStore::Scratch`).
    pub scratch: Vec<wgpu::Buffer>,
    pub target: Option<Act>,
    /// The teacher's weights (teacher targets and cross-entropy labels).
    pub teacher: Option<wgpu::Buffer>,
    /// Each parameter's optimizer state tensors (empty without training).
    pub state: Vec<Vec<wgpu::Buffer>>,
    /// Every buffer above with its label, to hand back to the pool.
    pub owned: Vec<(String, wgpu::Buffer)>,
}

impl Buffers {
    /// Every chunk of the batch, in order.
    pub fn chunks(&self) -> Vec<Chunk> {
        (0..self.batch)
            .step_by(self.chunk.max(1))
            .map(|r0| (r0, self.chunk.min(self.batch - r0)))
            .collect()
    }

    /// Rows `c` of row tensor `id`.
    pub fn act(&self, id: ActId, c: Chunk) -> View<'_> {
        self.acts[id.0].rows(c.0, c.1)
    }

    /// Rows `c` of the gradient of `id`: its own tensor, or the scratch.
    /// `None` when `id` has no gradient.
    pub fn grad(&self, model: &Model, id: ActId, c: Chunk) -> Option<View<'_>> {
        match model.act(id).grad {
            GradStore::None => None,
            GradStore::Full => self.grads[id.0].as_ref().map(|g| g.rows(c.0, c.1)),
            GradStore::Scratch(slot) => {
                let n = (c.1 * model.act(id).cols).max(1) as u64;
                Some(View::elems(self.scratch.get(usize::from(slot))?, 0, n))
            }
        }
    }

    /// A parameter's buffer.
    pub fn param(&self, id: ParamId) -> &wgpu::Buffer {
        &self.params[id.0]
    }

    /// A parameter's gradient buffer.
    pub fn param_grad(&self, id: ParamId) -> &wgpu::Buffer {
        &self.param_grads[id.0]
    }
}

/// The buffer label of scratch slot `slot` (slot 0 keeps its historical name).
pub(crate) fn scratch_label(slot: usize) -> String {
    if slot == 0 {
        "grad_preact scratch".into()
    } else {
        format!("grad scratch {slot}")
    }
}

/// Allocates (or reuses) run buffers and remembers them for recycling.
struct Alloc<'g> {
    gpu: &'g Gpu,
    owned: Vec<(String, wgpu::Buffer)>,
}

impl Alloc<'_> {
    fn buf(&mut self, label: &str, elems: usize, chunked: bool) -> Result<wgpu::Buffer, GpuError> {
        let b = self
            .gpu
            .storage_for_run(label, (elems * 4) as u64, chunked)?;
        self.owned.push((label.to_string(), b.clone()));
        Ok(b)
    }

    fn act(&mut self, label: &str, batch: usize, cols: usize) -> Result<Act, GpuError> {
        Ok(Act {
            buf: self.buf(label, batch * cols, true)?,
            cols,
        })
    }
}

/// Allocates every tensor of `model` (sizes were checked by the memory
/// plan), reusing the previous run's buffers where label and size match.
pub(crate) fn alloc(gpu: &Gpu, model: &Model, with_target: bool) -> Result<Buffers, GpuError> {
    let batch = model.batch;
    let chunk = model.chunk_rows(gpu.max_binding_bytes());
    let mut a = Alloc {
        gpu,
        owned: Vec::new(),
    };
    let mut acts = Vec::with_capacity(model.acts.len());
    let mut grads = Vec::with_capacity(model.acts.len());
    for t in &model.acts {
        acts.push(a.act(&t.label, batch, t.cols)?);
        grads.push(match t.grad {
            GradStore::Full => Some(a.act(&t.grad_label, batch, t.cols)?),
            _ => None,
        });
    }
    let mut params = Vec::with_capacity(model.params.len());
    let mut param_grads = Vec::with_capacity(model.params.len());
    let mut state = Vec::with_capacity(model.params.len());
    for p in &model.params {
        params.push(a.buf(&p.label, p.len(), false)?);
        param_grads.push(a.buf(&p.grad_label, p.len(), false)?);
        let labels = model.train.as_ref().map(|t| t.state_labels(p));
        state.push(
            labels
                .unwrap_or_default()
                .iter()
                .map(|l| a.buf(l, p.len(), false))
                .collect::<Result<Vec<_>, _>>()?,
        );
    }
    let mut scratch = Vec::new();
    for slot in 0..model.scratch_slots() {
        let cols = model.scratch_cols(slot as u8).unwrap_or(1);
        scratch.push(a.buf(&scratch_label(slot), chunk * cols, false)?);
    }
    let out = model.act(model.output).cols;
    let target = if with_target {
        Some(a.act("target", batch, out)?)
    } else {
        None
    };
    let teacher = if super::loss::has_teacher(model.loss) {
        let fan_in = model.act(model.input).cols;
        Some(a.buf("teacher weight", out * fan_in, false)?)
    } else {
        None
    };
    Ok(Buffers {
        batch,
        chunk,
        acts,
        grads,
        params,
        param_grads,
        scratch,
        target,
        teacher,
        state,
        owned: a.owned,
    })
}
