//! The loss: its target (drawn, or a random linear teacher of the input),
//! the gradient that seeds the backward pass, and its value from the
//! statistics read back.

use super::init::fill_rows;
use super::tensors::{Buffers, Chunk};
use crate::config::{Loss, Target};
use crate::gpu::{Gpu, GpuError};
use crate::init::Component;
use crate::kernels::gemm::{Gemm, encode_gemm};
use crate::kernels::init as init_kernels;
use crate::kernels::loss::{EPT, LossParams, encode_loss_kernel};
use crate::model::{Model, StatKey, StatSource};
use crate::results::TensorStats;
use crate::rng::{Draw, Role};

/// Whether the loss needs a target tensor.
pub(crate) fn has_target(loss: Loss) -> bool {
    loss.has_target()
}

/// Whether the target comes from a random linear teacher of the input.
pub(crate) fn has_teacher(loss: Loss) -> bool {
    matches!(
        loss,
        Loss::Mse {
            target: Target::Teacher
        } | Loss::CrossEntropy
    )
}

/// Records the target of the loss (nothing for losses without one): the
/// teacher's weights, drawn once per run, then the target rows.
pub(crate) fn encode_target(
    gpu: &Gpu,
    enc: &mut wgpu::CommandEncoder,
    model: &Model,
    bufs: &Buffers,
    draw: &dyn Fn(Role) -> Draw,
) -> Result<(), GpuError> {
    if let (Some(t), Some(wt)) = (&bufs.target, &bufs.teacher) {
        // W_t ~ N(0, 1/input_dim): a random linear teacher.
        let fan_in = model.act(model.input).cols;
        let std = 1.0 / (fan_in as f64).sqrt();
        let normal = [(1.0, Component::Normal { mean: 0.0, std })];
        let n = (t.cols * fan_in) as u32;
        init_kernels::encode_elementwise(gpu, enc, wt, &normal, n, draw(Role::Teacher))?;
    }
    encode_target_rows(gpu, enc, model, bufs, draw)
}

/// Records the target rows of the current input batch: Gaussian rows drawn
/// from the `Target` stream, or the teacher's output T = X·W_tᵀ (MSE) or
/// logits (cross-entropy).
pub(crate) fn encode_target_rows(
    gpu: &Gpu,
    enc: &mut wgpu::CommandEncoder,
    model: &Model,
    bufs: &Buffers,
    draw: &dyn Fn(Role) -> Draw,
) -> Result<(), GpuError> {
    let Some(t) = &bufs.target else {
        return Ok(());
    };
    match &bufs.teacher {
        None => {
            let normal = [(
                1.0,
                Component::Normal {
                    mean: 0.0,
                    std: 1.0,
                },
            )];
            fill_rows(gpu, enc, bufs, t, &normal, draw(Role::Target))
        }
        Some(wt) => {
            let (out, fan_in) = (t.cols, model.act(model.input).cols);
            for c in bufs.chunks() {
                let g = Gemm::forward(c.1, fan_in, out);
                let (x, y) = (bufs.act(model.input, c), t.rows(c.0, c.1));
                encode_gemm(gpu, enc, &g, x, wt, None, y)?;
            }
            Ok(())
        }
    }
}

/// The loss kernel's code for `loss`.
fn kind(loss: Loss) -> u32 {
    match loss {
        Loss::Mean => 0,
        Loss::MeanSquare => 1,
        Loss::Mse { .. } => 2,
        Loss::Sum => 3,
        Loss::CrossEntropy => 4,
    }
}

/// Records dLoss/d(output) for rows `c`.
pub(crate) fn encode_grad(
    gpu: &Gpu,
    enc: &mut wgpu::CommandEncoder,
    model: &Model,
    bufs: &Buffers,
    c: Chunk,
) -> Result<(), GpuError> {
    let out = model.act(model.output).cols;
    if model.loss == Loss::CrossEntropy {
        return encode_cross_entropy(gpu, enc, model, bufs, c);
    }
    let n = (c.1 * out) as u32;
    let p = LossParams {
        n,
        kind: kind(model.loss),
        rows: 0,
        cols: 0,
        scale: 1.0,
        total: (bufs.batch * out) as u32,
        pad: [0; 2],
    };
    let y = bufs.act(model.output, c);
    let target = bufs.target.as_ref().map_or(y, |t| t.rows(c.0, c.1));
    let dy = bufs
        .grad(model, model.output, c)
        .ok_or_else(|| GpuError::Device("internal error: the output has no gradient".into()))?;
    let b = [(1, y), (2, target), (3, dy)];
    encode_loss_kernel(gpu, enc, "loss_grad", p, &b, n.div_ceil(EPT))
}

/// Records softmax cross-entropy over rows `c`: the output's gradient and
/// the per-row losses.
fn encode_cross_entropy(
    gpu: &Gpu,
    enc: &mut wgpu::CommandEncoder,
    model: &Model,
    bufs: &Buffers,
    c: Chunk,
) -> Result<(), GpuError> {
    let internal = |what: &str| GpuError::Device(format!("internal error: {what}"));
    let p = LossParams {
        n: 0,
        kind: kind(model.loss),
        rows: c.1 as u32,
        cols: model.act(model.output).cols as u32,
        scale: 1.0,
        total: bufs.batch as u32,
        pad: [0; 2],
    };
    let t = bufs
        .target
        .as_ref()
        .ok_or_else(|| internal("no teacher logits"))?;
    let rows = model.loss_rows().ok_or_else(|| internal("no loss rows"))?;
    let dy = bufs
        .grad(model, model.output, c)
        .ok_or_else(|| internal("the output has no gradient"))?;
    let b = [
        (1, bufs.act(model.output, c)),
        (2, t.rows(c.0, c.1)),
        (3, dy),
        (4, bufs.act(rows, c)),
    ];
    encode_loss_kernel(gpu, enc, "cross_entropy", p, &b, c.1 as u32)
}

/// The loss value from the statistics of the output and of its gradient
/// (cross-entropy: from the mean of its per-row losses, `rows`).
pub fn value(
    loss: Loss,
    out: &TensorStats,
    grad_out: &TensorStats,
    rows: Option<&TensorStats>,
) -> f64 {
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
        Loss::CrossEntropy => match rows {
            Some(r) if r.nan_count + r.inf_count == 0 => r.mean,
            _ => f64::NAN,
        },
    }
}

/// The loss value from a step's reduced statistics: those of the output,
/// of its gradient and (cross-entropy) of the per-row losses. `None` when
/// the statistics lack the output's.
pub(crate) fn value_of(model: &Model, stats: &[(StatKey, TensorStats)]) -> Option<f64> {
    let get = |src: StatSource| {
        let key = &model.stats.iter().find(|r| r.source == src)?.key;
        stats.iter().find(|(k, _)| k == key).map(|(_, s)| s)
    };
    let out = get(StatSource::Act(model.output))?;
    let grad = get(StatSource::Grad(model.output))?;
    let rows = model.loss_rows().and_then(|r| get(StatSource::Act(r)));
    Some(value(model.loss, out, grad, rows))
}

/// The target as exported: cross-entropy's labels (the first argmax of
/// each row of the teacher's logits, as the kernel picks them), else the
/// target rows themselves.
pub(crate) fn export_target(
    loss: Loss,
    batch: usize,
    cols: usize,
    rows: Vec<f32>,
) -> (Vec<usize>, Vec<f32>) {
    if loss != Loss::CrossEntropy {
        return (vec![batch, cols], rows);
    }
    let labels = rows
        .chunks(cols.max(1))
        .map(|r| {
            let mut best = 0;
            for (j, v) in r.iter().enumerate() {
                if *v > r[best] {
                    best = j;
                }
            }
            best as f32
        })
        .collect();
    (vec![batch], labels)
}
