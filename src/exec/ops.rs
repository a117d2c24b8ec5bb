//! The forward and backward pass of every op over one chunk of rows.
//!
//! Forward writes the op's output rows. Backward reads the gradient of the
//! output and writes the gradients of its inputs (added to what is there
//! when `acc` says another consumer wrote first) and of its parameters
//! (summed over chunks: the first chunk overwrites).

use super::tensors::{Buffers, Chunk};
use crate::gpu::buffers::View;
use crate::gpu::{Gpu, GpuError};
use crate::kernels::activation::encode_act;
use crate::kernels::gemm::{Gemm, encode_gemm};
use crate::kernels::loss::{LossParams, encode_loss_kernel};
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

fn internal(what: &str) -> GpuError {
    GpuError::Device(format!("internal error: {what}"))
}

/// Rows `c` of the gradient of `id`, which must exist.
fn grad<'b>(model: &Model, bufs: &'b Buffers, id: ActId, c: Chunk) -> Result<View<'b>, GpuError> {
    bufs.grad(model, id, c)
        .ok_or_else(|| internal(&format!("{} has no gradient", model.act(id).label)))
}

/// Records `op`'s forward pass over rows `c`.
pub(crate) fn forward(cx: &mut Cx<'_>, op: &Op, c: Chunk) -> Result<(), GpuError> {
    let (gpu, bufs, model) = (cx.gpu, cx.bufs, cx.model);
    match *op {
        Op::Linear { x, y, w, b } => {
            let g = Gemm::forward(c.1, model.act(x).cols, model.act(y).cols);
            let bias = b.map(|b| View::from(bufs.param(b)));
            let (xv, yv) = (bufs.act(x, c), bufs.act(y, c));
            encode_gemm(gpu, cx.enc, &g, xv, bufs.param(w), bias, yv)
        }
        Op::Activation { x, y, act } => {
            let n = c.1 * model.act(y).cols;
            encode_act(gpu, cx.enc, act, n, bufs.act(x, c), bufs.act(y, c), None)
        }
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
    let (gpu, bufs, model) = (cx.gpu, cx.bufs, cx.model);
    match *op {
        Op::Linear { x, y, w, b } => {
            let (fi, fo) = (model.act(x).cols, model.act(y).cols);
            let dy = grad(model, bufs, y, c)?;
            let g = Gemm {
                accumulate: u32::from(!how.first_chunk),
                ..Gemm::backward_weight(c.1, fi, fo)
            };
            encode_gemm(
                gpu,
                cx.enc,
                &g,
                dy,
                bufs.act(x, c),
                None,
                bufs.param_grad(w),
            )?;
            if let Some(b) = b {
                column_sum(
                    gpu,
                    cx.enc,
                    dy,
                    bufs.param_grad(b),
                    c.1,
                    fo,
                    how.first_chunk,
                )?;
            }
            if let Some(dx) = bufs.grad(model, x, c) {
                let g = Gemm {
                    accumulate: u32::from(acc(x)),
                    ..Gemm::backward_data(c.1, fi, fo)
                };
                encode_gemm(gpu, cx.enc, &g, dy, bufs.param(w), None, dx)?;
            }
            Ok(())
        }
        Op::Activation { x, y, act } => {
            if acc(x) {
                return Err(internal("an activation's input has a second consumer"));
            }
            let Some(dx) = bufs.grad(model, x, c) else {
                return Ok(());
            };
            let n = c.1 * model.act(y).cols;
            let dy = grad(model, bufs, y, c)?;
            encode_act(gpu, cx.enc, act, n, bufs.act(x, c), dx, Some(dy))
        }
    }
}

/// db (+)= Σ_rows dy: the bias gradient of one chunk.
fn column_sum(
    gpu: &Gpu,
    enc: &mut wgpu::CommandEncoder,
    dy: View<'_>,
    db: &wgpu::Buffer,
    rows: usize,
    cols: usize,
    first_chunk: bool,
) -> Result<(), GpuError> {
    let p = LossParams {
        n: 0,
        kind: u32::from(!first_chunk),
        rows: rows as u32,
        cols: cols as u32,
        scale: 1.0,
        total: 0,
        pad: [0; 2],
    };
    let bindings = [(1, dy), (3, db.into())];
    encode_loss_kernel(gpu, enc, "column_sum", p, &bindings, cols as u32)
}
