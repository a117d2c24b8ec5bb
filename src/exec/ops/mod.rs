//! The forward and backward pass of every op over one chunk of rows.
//!
//! Forward writes the op's output rows. Backward reads the gradient of the
//! output and writes the gradients of its inputs (added to what is there
//! when `acc` says another consumer wrote first) and of its parameters
//! (summed over chunks: the first chunk overwrites).

pub(crate) mod attention;
mod linear;
mod norm;
mod residual;

use super::tensors::{Buffers, Chunk};
use crate::gpu::buffers::View;
use crate::gpu::{Gpu, GpuError};
use crate::model::{ActId, Model, Op};

/// What every op's pass needs: the device, the encoder, the model and its buffers.
pub(crate) struct Cx<'a> {
    pub gpu: &'a Gpu,
    pub enc: &'a mut wgpu::CommandEncoder,
    pub model: &'a Model,
    pub bufs: &'a Buffers,
}

/// How the backward pass of one chunk treats gradients.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Backward {
    /// The chunk's position: parameter gradients accumulate after the first.
    pub first_chunk: bool,
}

pub(crate) fn internal(what: &str) -> GpuError {
    GpuError::Device(format!("internal error: {what}"))
}

/// Rows `c` of the gradient of `id`, which must exist.
pub(crate) fn grad<'b>(
    model: &Model,
    bufs: &'b Buffers,
    id: ActId,
    c: Chunk,
) -> Result<View<'b>, GpuError> {
    bufs.grad(model, id, c)
        .ok_or_else(|| internal(&format!("{} has no gradient", model.act(id).label)))
}

/// Records `op`'s forward pass over rows `c`.
pub(crate) fn forward(cx: &mut Cx<'_>, op: &Op, c: Chunk) -> Result<(), GpuError> {
    match op {
        Op::Linear { .. } | Op::Activation { .. } => linear::forward(cx, op, c),
        Op::Norm { .. } => norm::forward(cx, op, c),
        Op::Scale { .. } | Op::Add { .. } => residual::forward(cx, op, c),
        Op::Attention { .. } => attention::forward(cx, op, c),
    }
}

/// Records `op`'s backward pass over rows `c`. `acc(x)` says whether the
/// gradient of input `x` already holds another consumer's contribution.
pub(crate) fn backward(
    cx: &mut Cx<'_>,
    op: &Op,
    c: Chunk,
    how: Backward,
    acc: &dyn Fn(ActId) -> bool,
) -> Result<(), GpuError> {
    match op {
        Op::Linear { .. } | Op::Activation { .. } => linear::backward(cx, op, c, how, acc),
        Op::Norm { .. } => norm::backward(cx, op, c, how, acc),
        Op::Scale { .. } | Op::Add { .. } => residual::backward(cx, op, c, acc),
        Op::Attention { .. } => attention::backward(cx, op, c, acc),
    }
}
