//! Unit symmetry (`shaders/symmetry.wgsl`): per layer, how many units
//! duplicate another unit of the layer, counted on the GPU into one `u32`
//! slot per layer.

use crate::gpu::{Gpu, GpuError, Shader};

const WG: u32 = 64;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct SymParams {
    rows: u32,
    cols: u32,
    has_bias: u32,
    slot: u32,
}

/// A layer's weight `(rows, cols)` and bias, counted into `slot`.
pub struct SymLayer<'a> {
    pub weight: &'a wgpu::Buffer,
    pub bias: Option<&'a wgpu::Buffer>,
    pub rows: usize,
    pub cols: usize,
    pub slot: u32,
}

/// Records the count of duplicated units of `layer` into `counts[slot]`
/// (which the caller cleared); `sig` holds at least `rows` vec4s.
pub fn encode_symmetry(
    gpu: &Gpu,
    enc: &mut wgpu::CommandEncoder,
    layer: &SymLayer<'_>,
    sig: &wgpu::Buffer,
    counts: &wgpu::Buffer,
) -> Result<(), GpuError> {
    let p = SymParams {
        rows: layer.rows as u32,
        cols: layer.cols as u32,
        has_bias: u32::from(layer.bias.is_some()),
        slot: layer.slot,
    };
    let u = gpu.uniform("symmetry params", &p);
    let groups = (layer.rows as u32).div_ceil(WG);
    for entry in ["signature", "duplicates"] {
        let pipe = gpu.pipeline(Shader::Symmetry, entry, &[("WG", f64::from(WG))], false)?;
        let res = if entry == "signature" {
            // Without a bias the entry point never reads binding 2.
            let b = layer.bias.unwrap_or(layer.weight);
            vec![
                (0, u.as_entire_binding()),
                (1, layer.weight.as_entire_binding()),
                (2, b.as_entire_binding()),
                (3, sig.as_entire_binding()),
            ]
        } else {
            vec![
                (0, u.as_entire_binding()),
                (3, sig.as_entire_binding()),
                (4, counts.as_entire_binding()),
            ]
        };
        let group = gpu.bind_at(&pipe, entry, &res);
        gpu.dispatch_pass(enc, entry, &pipe, &group, groups);
    }
    Ok(())
}
