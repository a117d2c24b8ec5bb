//! The Jacobian spectrum's small kernels (`shaders/jacobian.wgsl`): frame
//! rows scaled by activation derivatives, and the row-graded product update
//! of the backward QR half-sweep (`form_m`, `ell_update`).

use crate::gpu::buffers::View;
use crate::gpu::{Gpu, GpuError, Shader};

const WG: u32 = 64;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct JacParams {
    rows: u32,
    cols: u32,
    pad: [u32; 2],
}

fn encode(
    gpu: &Gpu,
    enc: &mut wgpu::CommandEncoder,
    entry: &str,
    (rows, cols): (usize, usize),
    bindings: &[(u32, View<'_>)],
    threads: usize,
) -> Result<(), GpuError> {
    let pipe = gpu.pipeline(Shader::Jacobian, entry, &[("WG", f64::from(WG))], false)?;
    let p = JacParams {
        rows: rows as u32,
        cols: cols as u32,
        pad: [0; 2],
    };
    let u = gpu.uniform("jacobian params", &p);
    let mut res = vec![(0, u.as_entire_binding())];
    res.extend(bindings.iter().map(|(i, v)| (*i, v.binding())));
    let group = gpu.bind_at(&pipe, entry, &res);
    gpu.dispatch_pass(enc, entry, &pipe, &group, (threads as u32).div_ceil(WG));
    Ok(())
}

/// dst (rows × cols) = diag(d)·src: a layer's derivative matrix D_l times a frame.
pub fn encode_row_scale<'a>(
    gpu: &Gpu,
    enc: &mut wgpu::CommandEncoder,
    (rows, cols): (usize, usize),
    d: impl Into<View<'a>>,
    src: impl Into<View<'a>>,
    dst: impl Into<View<'a>>,
) -> Result<(), GpuError> {
    let b = [(1, src.into()), (2, d.into()), (3, dst.into())];
    encode(gpu, enc, "row_scale", (rows, cols), &b, rows * cols)
}

/// M (k × k) = diag(e^{−ℓ}) · C · diag(e^{ℓ}) / diag(C) on and above the
/// diagonal, 0 below (`ell` holds ℓ as hi[0..k], lo[k..2k]).
pub fn encode_form_m<'a>(
    gpu: &Gpu,
    enc: &mut wgpu::CommandEncoder,
    k: usize,
    c: impl Into<View<'a>>,
    ell: impl Into<View<'a>>,
    m: impl Into<View<'a>>,
) -> Result<(), GpuError> {
    // form_m reads ell; it is bound read_write for ell_update's sake.
    let b = [(1, c.into()), (3, m.into()), (4, ell.into())];
    encode(gpu, enc, "form_m", (k, k), &b, k * k)
}

/// ℓ += log|diag C|, compensated.
pub fn encode_ell_update<'a>(
    gpu: &Gpu,
    enc: &mut wgpu::CommandEncoder,
    k: usize,
    c: impl Into<View<'a>>,
    ell: impl Into<View<'a>>,
) -> Result<(), GpuError> {
    let b = [(1, c.into()), (4, ell.into())];
    encode(gpu, enc, "ell_update", (k, k), &b, k)
}
