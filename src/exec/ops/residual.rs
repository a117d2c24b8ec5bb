//! The residual stream's ops: the branch scale y = a·x and the add
//! y = s·skip + branch.

use super::{Cx, grad, internal};
use crate::exec::tensors::Chunk;
use crate::gpu::GpuError;
use crate::kernels::residual::{Axpby, encode_axpby};
use crate::model::{ActId, Op};

/// Records the forward pass of a scale or add over rows `c`.
pub(crate) fn forward(cx: &mut Cx<'_>, op: &Op, c: Chunk) -> Result<(), GpuError> {
    let bufs = cx.bufs;
    let pass = match *op {
        Op::Scale { x, y, factor } => Axpby {
            n: c.1 * cx.model.act(y).cols,
            alpha: factor,
            x: bufs.act(x, c),
            y: None,
            dst: bufs.act(y, c),
            accumulate: false,
        },
        Op::Add {
            skip,
            branch,
            y,
            skip_scale,
        } => Axpby {
            n: c.1 * cx.model.act(y).cols,
            alpha: skip_scale,
            x: bufs.act(skip, c),
            y: Some((1.0, bufs.act(branch, c))),
            dst: bufs.act(y, c),
            accumulate: false,
        },
        _ => return Err(internal("not a residual op")),
    };
    encode_axpby(cx.gpu, cx.enc, &pass)
}

/// Records the backward pass of a scale or add over rows `c`: each input
/// with a gradient gets its factor times dy, added when `acc` says another
/// consumer wrote first.
pub(crate) fn backward(
    cx: &mut Cx<'_>,
    op: &Op,
    c: Chunk,
    acc: &dyn Fn(ActId) -> bool,
) -> Result<(), GpuError> {
    let (bufs, model) = (cx.bufs, cx.model);
    let (y, inputs) = match *op {
        Op::Scale { x, y, factor } => (y, vec![(x, factor)]),
        Op::Add {
            skip,
            branch,
            y,
            skip_scale,
        } => (y, vec![(skip, skip_scale), (branch, 1.0)]),
        _ => return Err(internal("not a residual op")),
    };
    let dy = grad(model, bufs, y, c)?;
    let n = c.1 * model.act(y).cols;
    for (x, factor) in inputs {
        let Some(dx) = bufs.grad(model, x, c) else {
            continue;
        };
        let pass = Axpby {
            n,
            alpha: factor,
            x: dy,
            y: None,
            dst: dx,
            accumulate: acc(x),
        };
        encode_axpby(cx.gpu, cx.enc, &pass)?;
    }
    Ok(())
}
