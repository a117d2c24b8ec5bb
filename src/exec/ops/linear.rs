//! Linear and activation ops.

use super::{Backward, Cx, grad, internal};
use crate::exec::tensors::Chunk;
use crate::gpu::buffers::View;
use crate::gpu::{Gpu, GpuError};
use crate::kernels::activation::encode_act;
use crate::kernels::gemm::{Gemm, encode_gemm};
use crate::kernels::loss::{LossParams, encode_loss_kernel};
use crate::model::{ActId, Op};

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
        _ => Err(internal("not a linear or activation op")),
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
        _ => Err(internal("not a linear or activation op")),
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
