//! The activation kernels (`shaders/activation.wgsl`): φ forward and the
//! derivative-weighted backward, elementwise over a bound range.

use crate::activation::Activation;
use crate::gpu::buffers::View;
use crate::gpu::{Gpu, GpuError, Shader};

const WG: u32 = 64;
/// Elements per invocation (activation.wgsl's EPT).
pub const EPT: u32 = 16;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct ActParams {
    n: u32,
    op: u32,
    param: f32,
    pad: u32,
}

/// Records dst = φ(src), or with `grad`: dst = grad ⊙ φ'(src), over `n` elements.
pub fn encode_act(
    gpu: &Gpu,
    enc: &mut wgpu::CommandEncoder,
    act: Activation,
    n: usize,
    src: View<'_>,
    dst: View<'_>,
    grad: Option<View<'_>>,
) -> Result<(), GpuError> {
    let (op, param) = act.gpu_code();
    let entry = if grad.is_some() {
        "act_backward"
    } else {
        "act_forward"
    };
    let pipe = gpu.pipeline(Shader::Activation, entry, &[("WG", WG as f64)], false)?;
    let u = gpu.uniform(
        "activation params",
        &ActParams {
            n: n as u32,
            op,
            param,
            pad: 0,
        },
    );
    let mut res = vec![
        (0, u.as_entire_binding()),
        (1, src.binding()),
        (2, dst.binding()),
    ];
    res.extend(grad.map(|g| (3, g.binding())));
    let group = gpu.bind_at(&pipe, entry, &res);
    gpu.dispatch_pass(enc, entry, &pipe, &group, (n as u32).div_ceil(WG * EPT));
    Ok(())
}
