//! The norm op: LayerNorm or RMSNorm over each row's columns.

use super::{Backward, Cx, grad, internal};
use crate::exec::tensors::Chunk;
use crate::gpu::GpuError;
use crate::kernels::norm::{NormBackward, NormForward, NormShape, encode_backward, encode_forward};
use crate::model::{ActId, Op};

/// The shape of `op` over rows `c`.
fn shape(cx: &Cx<'_>, op: &Op, c: Chunk) -> Result<NormShape, GpuError> {
    match *op {
        Op::Norm { x, kind, eps, .. } => Ok(NormShape {
            rows: c.1,
            cols: cx.model.act(x).cols,
            kind,
            eps,
        }),
        _ => Err(internal("not a norm op")),
    }
}

/// Records y = norm(x)·w (+ b) for rows `c`, keeping each row's statistics.
pub(crate) fn forward(cx: &mut Cx<'_>, op: &Op, c: Chunk) -> Result<(), GpuError> {
    let s = shape(cx, op, c)?;
    let Op::Norm {
        x, y, w, b, saved, ..
    } = *op
    else {
        return Err(internal("not a norm op"));
    };
    let bufs = cx.bufs;
    let t = NormForward {
        x: bufs.act(x, c),
        y: bufs.act(y, c),
        w: bufs.param(w),
        b: b.map(|b| bufs.param(b)),
        saved: bufs.act(saved, c),
    };
    encode_forward(cx.gpu, cx.enc, &s, &t)
}

/// Records dx (+)= ∂L/∂x for rows `c` and accumulates dw, db over chunks.
pub(crate) fn backward(
    cx: &mut Cx<'_>,
    op: &Op,
    c: Chunk,
    how: Backward,
    acc: &dyn Fn(ActId) -> bool,
) -> Result<(), GpuError> {
    let s = shape(cx, op, c)?;
    let Op::Norm {
        x, y, w, b, saved, ..
    } = *op
    else {
        return Err(internal("not a norm op"));
    };
    let (bufs, model) = (cx.bufs, cx.model);
    let t = NormBackward {
        x: bufs.act(x, c),
        dy: grad(model, bufs, y, c)?,
        w: bufs.param(w),
        saved: bufs.act(saved, c),
        dx: bufs.grad(model, x, c),
        dw: bufs.param_grad(w),
        db: b.map(|b| bufs.param_grad(b)),
    };
    encode_backward(cx.gpu, cx.enc, &s, &t, acc(x), how.first_chunk)
}
