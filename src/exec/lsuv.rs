//! Layer-sequential unit variance (Mishkin & Matas, 2016), on the GPU.
//!
//! After the orthogonal (or other `pre`) initialization, layer by layer: run
//! the layer's forward pass on the batch, measure Var(preact) with the GPU
//! reduction, and rescale W by 1/√Var until |Var − 1| < tol or `max_iter`
//! rescales. Only one statistics record per iteration is read back.

use crate::exec::NetView;
use crate::gpu::{Gpu, GpuError};
use crate::kernels::reduce as stats;
use crate::results::LsuvRecord;

fn measure(gpu: &Gpu, net: &NetView<'_>, i: usize) -> Result<f64, GpuError> {
    let mut enc = gpu
        .device
        .create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("lsuv"),
        });
    net.encode_layer(gpu, &mut enc, i)?;
    let bufs = stats::encode_reduce(gpu, &mut enc, &[net.preact_item(i)], 1.0, 1)?;
    gpu.submit("lsuv forward", enc)?;
    let s = stats::read_stats(gpu, &bufs, &[false])?;
    Ok(s.first().map_or(f64::NAN, |s| s.std * s.std))
}

/// Runs LSUV on layer `i` (all earlier layers must be final).
pub fn run_layer(
    gpu: &Gpu,
    net: &NetView<'_>,
    i: usize,
    tol: f64,
    max_iter: u32,
) -> Result<LsuvRecord, GpuError> {
    let mut variances = Vec::new();
    let mut iterations = 0;
    loop {
        let var = measure(gpu, net, i)?;
        variances.push(var);
        let converged = (var - 1.0).abs() < tol;
        if converged || iterations >= max_iter || !(var.is_finite() && var > 0.0) {
            return Ok(LsuvRecord {
                iterations,
                final_variance: var,
                variances,
                converged,
            });
        }
        let (w, n) = net.weight(i);
        let mut enc = gpu
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("lsuv scale"),
            });
        net.encode_scale(gpu, &mut enc, w, n, (1.0 / var.sqrt()) as f32)?;
        gpu.submit("lsuv rescale", enc)?;
        iterations += 1;
    }
}
