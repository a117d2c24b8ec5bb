//! The residual kernel (`shaders/residual.wgsl`): dst = α·src0 (+ β·src1)
//! (+ dst), the scale and the add of the residual stream and their
//! backward passes.

use crate::gpu::buffers::View;
use crate::gpu::{Gpu, GpuError, Shader};

const WG: u32 = 64;
/// Elements per invocation (residual.wgsl's EPT).
const EPT: u32 = 16;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct AxpbyParams {
    n: u32,
    flags: u32,
    alpha: f32,
    beta: f32,
}

/// One elementwise pass: dst = α·x (+ β·y when given) (+ dst when
/// `accumulate`) over `n` elements.
#[derive(Debug, Clone, Copy)]
pub struct Axpby<'a> {
    pub n: usize,
    pub alpha: f32,
    pub x: View<'a>,
    /// (β, y).
    pub y: Option<(f32, View<'a>)>,
    pub dst: View<'a>,
    pub accumulate: bool,
}

/// Records one [`Axpby`] pass.
pub fn encode_axpby(
    gpu: &Gpu,
    enc: &mut wgpu::CommandEncoder,
    a: &Axpby<'_>,
) -> Result<(), GpuError> {
    let entry = "axpby";
    let pipe = gpu.pipeline(Shader::Residual, entry, &[("WG", WG as f64)], false)?;
    let p = AxpbyParams {
        n: a.n as u32,
        flags: u32::from(a.y.is_some()) | (u32::from(a.accumulate) << 1),
        alpha: a.alpha,
        beta: a.y.map_or(0.0, |s| s.0),
    };
    let u = gpu.uniform("axpby params", &p);
    // Without a second source the first stands in for it (never read).
    let y = a.y.map_or(a.x, |s| s.1);
    let res = [
        (0, u.as_entire_binding()),
        (1, a.x.binding()),
        (2, y.binding()),
        (3, a.dst.binding()),
    ];
    let group = gpu.bind_at(&pipe, entry, &res);
    gpu.dispatch_pass(enc, entry, &pipe, &group, (a.n as u32).div_ceil(WG * EPT));
    Ok(())
}
