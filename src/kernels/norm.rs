//! The norm kernels (`shaders/norm.wgsl`): LayerNorm and RMSNorm forward
//! (keeping each row's mean and 1/σ), the input gradient, and the weight and
//! bias gradients summed over rows.

use crate::gpu::buffers::View;
use crate::gpu::{Gpu, GpuError, Shader};
use crate::model::NormKind;

const WG: u32 = 64;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct NormParams {
    rows: u32,
    cols: u32,
    kind: u32,
    flags: u32,
    eps: f32,
    pad: [u32; 3],
}

/// Shape and options of one norm dispatch over a chunk of rows.
#[derive(Debug, Clone, Copy)]
pub struct NormShape {
    pub rows: usize,
    pub cols: usize,
    pub kind: NormKind,
    pub eps: f32,
}

impl NormShape {
    fn params(&self, bias: bool, accumulate: bool) -> NormParams {
        NormParams {
            rows: self.rows as u32,
            cols: self.cols as u32,
            kind: match self.kind {
                NormKind::LayerNorm => 0,
                NormKind::RmsNorm => 1,
            },
            flags: u32::from(bias) | (u32::from(accumulate) << 1),
            eps: self.eps,
            pad: [0; 3],
        }
    }
}

/// The buffers of a norm's forward pass.
pub struct NormForward<'a> {
    pub x: View<'a>,
    pub y: View<'a>,
    pub w: &'a wgpu::Buffer,
    pub b: Option<&'a wgpu::Buffer>,
    /// (mean, rstd) per row, written here.
    pub saved: View<'a>,
}

/// Records y = norm(x)·w (+ b) over `s.rows` rows.
pub fn encode_forward(
    gpu: &Gpu,
    enc: &mut wgpu::CommandEncoder,
    s: &NormShape,
    t: &NormForward<'_>,
) -> Result<(), GpuError> {
    let entry = "norm_forward";
    let pipe = gpu.pipeline(Shader::Norm, entry, &[("WG", WG as f64)], false)?;
    let u = gpu.uniform("norm params", &s.params(t.b.is_some(), false));
    // Without a bias the weight stands in for binding 4 (never read).
    let b = t.b.unwrap_or(t.w);
    let res = [
        (0, u.as_entire_binding()),
        (1, t.x.binding()),
        (2, t.y.binding()),
        (3, t.w.as_entire_binding()),
        (4, b.as_entire_binding()),
        (5, t.saved.binding()),
    ];
    let group = gpu.bind_at(&pipe, entry, &res);
    gpu.dispatch_pass(enc, entry, &pipe, &group, (s.rows as u32).div_ceil(WG));
    Ok(())
}

/// The buffers of a norm's backward pass.
pub struct NormBackward<'a> {
    pub x: View<'a>,
    pub dy: View<'a>,
    pub w: &'a wgpu::Buffer,
    pub saved: View<'a>,
    /// The input gradient, if the input has one.
    pub dx: Option<View<'a>>,
    pub dw: &'a wgpu::Buffer,
    pub db: Option<&'a wgpu::Buffer>,
}

/// Records dx (+)= ∂L/∂x (when `t.dx`; `acc_dx` adds) and dw, db (+)= the
/// sums over this chunk's rows (`first_chunk` overwrites).
pub fn encode_backward(
    gpu: &Gpu,
    enc: &mut wgpu::CommandEncoder,
    s: &NormShape,
    t: &NormBackward<'_>,
    acc_dx: bool,
    first_chunk: bool,
) -> Result<(), GpuError> {
    let consts = [("WG", WG as f64)];
    if let Some(dx) = t.dx {
        let entry = "norm_backward_data";
        let pipe = gpu.pipeline(Shader::Norm, entry, &consts, false)?;
        let u = gpu.uniform("norm params", &s.params(false, acc_dx));
        let res = [
            (0, u.as_entire_binding()),
            (1, t.x.binding()),
            (2, dx.binding()),
            (3, t.w.as_entire_binding()),
            (5, t.saved.binding()),
            (6, t.dy.binding()),
        ];
        let group = gpu.bind_at(&pipe, entry, &res);
        gpu.dispatch_pass(enc, entry, &pipe, &group, (s.rows as u32).div_ceil(WG));
    }
    let entry = "norm_backward_param";
    let pipe = gpu.pipeline(Shader::Norm, entry, &consts, false)?;
    let u = gpu.uniform("norm params", &s.params(t.db.is_some(), !first_chunk));
    let dummy = unused_binding(gpu);
    let db = t.db.unwrap_or(&dummy);
    let res = [
        (0, u.as_entire_binding()),
        (1, t.x.binding()),
        (5, t.saved.binding()),
        (6, t.dy.binding()),
        (7, t.dw.as_entire_binding()),
        (8, db.as_entire_binding()),
    ];
    let group = gpu.bind_at(&pipe, entry, &res);
    gpu.dispatch_pass(enc, entry, &pipe, &group, (s.cols as u32).div_ceil(WG));
    Ok(())
}

/// A small writable buffer for a binding the kernel never touches (the bias
/// gradient of a norm without a bias), one per device.
fn unused_binding(gpu: &Gpu) -> wgpu::Buffer {
    #[derive(Clone)]
    struct Unused(wgpu::Buffer);
    gpu.state(|| {
        Unused(gpu.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("unused binding"),
            size: 16,
            usage: wgpu::BufferUsages::STORAGE,
            mapped_at_creation: false,
        }))
    })
    .0
}
