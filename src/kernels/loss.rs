//! The loss and small elementwise kernels (`shaders/loss.wgsl`): the loss
//! gradient, column sums (bias gradients) and in-place scaling.

use crate::gpu::buffers::View;
use crate::gpu::{Gpu, GpuError, Shader};

const WG: u32 = 64;
/// Elements per invocation of the elementwise entry points.
pub const EPT: u32 = 16;

/// Parameters of every entry point of `loss.wgsl` (see its `LossParams`).
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
pub struct LossParams {
    pub n: u32,
    pub kind: u32,
    pub rows: u32,
    pub cols: u32,
    pub scale: f32,
    pub total: u32,
    pub pad: [u32; 2],
}

pub fn encode_loss_kernel(
    gpu: &Gpu,
    enc: &mut wgpu::CommandEncoder,
    entry: &str,
    p: LossParams,
    bindings: &[(u32, View<'_>)],
    threads: u32,
) -> Result<(), GpuError> {
    let pipe = gpu.pipeline(Shader::Loss, entry, &[("WG", WG as f64)], false)?;
    let u = gpu.uniform("loss params", &p);
    let mut res = vec![(0, u.as_entire_binding())];
    res.extend(bindings.iter().map(|(i, v)| (*i, v.binding())));
    let group = gpu.bind_at(&pipe, entry, &res);
    gpu.dispatch_pass(enc, entry, &pipe, &group, threads.div_ceil(WG));
    Ok(())
}

/// Records `buf[..n] *= scale` in place.
pub fn encode_scale(
    gpu: &Gpu,
    enc: &mut wgpu::CommandEncoder,
    buf: &wgpu::Buffer,
    n: usize,
    scale: f32,
) -> Result<(), GpuError> {
    let p = LossParams {
        n: n as u32,
        kind: 0,
        rows: 0,
        cols: 0,
        scale,
        total: 0,
        pad: [0; 2],
    };
    let threads = (n as u32).div_ceil(EPT);
    encode_loss_kernel(gpu, enc, "scale_inplace", p, &[(3, buf.into())], threads)
}
