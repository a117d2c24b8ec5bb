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
use crate::model::Model;
use crate::results::TensorStats;
use crate::rng::{Draw, Role};

/// Whether the loss needs a target tensor.
pub(crate) fn has_target(loss: Loss) -> bool {
    matches!(loss, Loss::Mse { .. })
}

/// Records the target of an `mse` loss (nothing for the other losses).
pub(crate) fn encode_target(
    gpu: &Gpu,
    enc: &mut wgpu::CommandEncoder,
    model: &Model,
    bufs: &Buffers,
    draw: &dyn Fn(Role) -> Draw,
) -> Result<(), GpuError> {
    let (Some(t), Loss::Mse { target }) = (&bufs.target, model.loss) else {
        return Ok(());
    };
    let normal = |std| [(1.0, Component::Normal { mean: 0.0, std })];
    match target {
        Target::Gaussian => fill_rows(gpu, enc, bufs, t, &normal(1.0), draw(Role::Target)),
        Target::Teacher => {
            // T = X·W_tᵀ with W_t ~ N(0, 1/input_dim): a random linear teacher.
            let (out, fan_in) = (t.cols, model.act(model.input).cols);
            let wt = gpu.storage("teacher weight", (out * fan_in * 4) as u64)?;
            let std = 1.0 / (fan_in as f64).sqrt();
            let n = (out * fan_in) as u32;
            let teacher = draw(Role::Teacher);
            init_kernels::encode_elementwise(gpu, enc, &wt, &normal(std), n, teacher)?;
            for c in bufs.chunks() {
                let g = Gemm::forward(c.1, fan_in, out);
                let (x, y) = (bufs.act(model.input, c), t.rows(c.0, c.1));
                encode_gemm(gpu, enc, &g, x, &wt, None, y)?;
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

/// The loss value from the statistics of the output and of its gradient.
pub fn value(loss: Loss, out: &TensorStats, grad_out: &TensorStats) -> f64 {
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
    }
}
