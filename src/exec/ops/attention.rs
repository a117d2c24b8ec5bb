//! The attention op: softmax(scale·QKᵀ)·V per sequence and head between
//! in_proj and out_proj (which are Linear ops of their own).

use super::{Cx, grad, internal};
use crate::exec::tensors::Buffers;
use crate::exec::tensors::Chunk;
use crate::gpu::Gpu;
use crate::gpu::GpuError;
use crate::kernels::attention::{
    AttnBackward, AttnForward, AttnShape, encode_backward, encode_forward, encode_summary,
};
use crate::model::records::HeadSummary;
use crate::model::{ActId, Model, Op};

/// The shape of `op` over rows `c`.
pub(crate) fn shape(cx: &Cx<'_>, op: &Op, c: Chunk) -> Result<AttnShape, GpuError> {
    match *op {
        Op::Attention {
            y,
            heads,
            seq,
            causal,
            scale,
            ..
        } => {
            if !c.1.is_multiple_of(seq.max(1)) {
                return Err(internal("an attention chunk splits a sequence"));
            }
            Ok(AttnShape {
                rows: c.1,
                width: cx.model.act(y).cols,
                heads,
                seq,
                causal,
                scale,
            })
        }
        _ => Err(internal("not an attention op")),
    }
}

/// Records the forward pass over rows `c` (whole sequences).
pub(crate) fn forward(cx: &mut Cx<'_>, op: &Op, c: Chunk) -> Result<(), GpuError> {
    let s = shape(cx, op, c)?;
    let Op::Attention {
        qkv,
        y,
        probs,
        stats,
        ..
    } = *op
    else {
        return Err(internal("not an attention op"));
    };
    let bufs = cx.bufs;
    let t = AttnForward {
        qkv: bufs.act(qkv, c),
        probs: bufs.act(probs, c),
        stats: bufs.act(stats, c),
        y: bufs.act(y, c),
    };
    encode_forward(cx.gpu, cx.enc, &s, &t)
}

/// Records d[q | k | v] (+)= the backward pass over rows `c`.
pub(crate) fn backward(
    cx: &mut Cx<'_>,
    op: &Op,
    c: Chunk,
    acc: &dyn Fn(ActId) -> bool,
) -> Result<(), GpuError> {
    let s = shape(cx, op, c)?;
    let Op::Attention { qkv, y, probs, .. } = *op else {
        return Err(internal("not an attention op"));
    };
    let (bufs, model) = (cx.bufs, cx.model);
    let Some(dqkv) = bufs.grad(model, qkv, c) else {
        return Ok(());
    };
    let t = AttnBackward {
        qkv: bufs.act(qkv, c),
        probs: bufs.act(probs, c),
        dy: grad(model, bufs, y, c)?,
        ds: grad(model, bufs, probs, c)?,
        dqkv,
    };
    encode_backward(cx.gpu, cx.enc, &s, &t, acc(qkv))
}

/// The per-head summaries of every attention op, being computed.
pub(crate) struct PendingSummaries {
    buf: wgpu::Buffer,
    floats: usize,
}

/// Records the per-head summaries (logit moments, entropy sums) of every
/// attention op over every chunk into one small buffer; `None` without
/// attention.
pub(crate) fn encode_summaries(
    gpu: &Gpu,
    enc: &mut wgpu::CommandEncoder,
    model: &Model,
    bufs: &Buffers,
) -> Result<Option<PendingSummaries>, GpuError> {
    let ops: Vec<&Op> = (model.ops.iter())
        .filter(|op| matches!(op, Op::Attention { .. }))
        .collect();
    let heads: usize = (ops.iter())
        .map(|op| match op {
            Op::Attention { heads, .. } => *heads,
            _ => 0,
        })
        .sum();
    if ops.is_empty() {
        return Ok(None);
    }
    let buf = gpu.storage("attention summaries", (heads * 16) as u64)?;
    let mut base = 0;
    for op in ops {
        let Op::Attention {
            stats,
            y,
            heads,
            seq,
            causal,
            scale,
            ..
        } = *op
        else {
            continue;
        };
        for (k, c) in bufs.chunks().into_iter().enumerate() {
            let s = AttnShape {
                rows: c.1,
                width: model.act(y).cols,
                heads,
                seq,
                causal,
                scale,
            };
            encode_summary(gpu, enc, &s, bufs.act(stats, c), &buf, base, k == 0)?;
        }
        base += 4 * heads;
    }
    Ok(Some(PendingSummaries { buf, floats: base }))
}

impl PendingSummaries {
    /// Reads the summaries back, `heads` per attention op in model order.
    pub(crate) fn read(&self, gpu: &Gpu) -> Result<Vec<HeadSummary>, GpuError> {
        let v = gpu.read("attention summaries", &self.buf, 0, self.floats)?;
        Ok(v.chunks_exact(4).map(HeadSummary::from_floats).collect())
    }
}
