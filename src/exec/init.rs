//! Initializing one tensor from its [`Sampler`]: each kind of sampler goes
//! to its kernel family (elementwise and sparse in `kernels::init`,
//! orthogonal in `kernels::orthogonal`, values from a file uploaded).

use crate::gpu::{Gpu, GpuError};
use crate::init::{Sampler, Shape};
use crate::kernels::{init, orthogonal};
use crate::rng::Draw;

/// Generates one tensor on the GPU and reads it back (tests, export checks).
/// `workgroup` changes the dispatch geometry only, never the values.
pub fn generate(
    gpu: &Gpu,
    sampler: &Sampler,
    shape: Shape,
    draw: Draw,
    workgroup: u32,
) -> Result<Vec<f32>, GpuError> {
    let out = gpu.storage("generated tensor", (shape.len() * 4) as u64)?;
    let mut enc = gpu.device.create_command_encoder(&Default::default());
    match sampler {
        Sampler::Elementwise(parts) => {
            let what = init::Fill {
                n: shape.len() as u32,
                first: 0,
                draw,
            };
            init::encode_elementwise_wg(gpu, &mut enc, (&out).into(), parts, what, workgroup)?
        }
        other => encode(gpu, &mut enc, &out, other, shape, draw)?,
    }
    gpu.submit("init", enc)?;
    gpu.read("generated tensor", &out, 0, shape.len())
}

/// Records the initialization of `out` (a tensor of `shape`) into `enc`.
/// Every sampler kind goes to its kernel family.
pub fn encode(
    gpu: &Gpu,
    enc: &mut wgpu::CommandEncoder,
    out: &wgpu::Buffer,
    sampler: &Sampler,
    shape: Shape,
    draw: Draw,
) -> Result<(), GpuError> {
    match sampler {
        Sampler::Elementwise(parts) => {
            init::encode_elementwise(gpu, enc, out, parts, shape.len() as u32, draw)
        }
        Sampler::Sparse { num_zeros, std } => {
            init::encode_sparse(gpu, enc, out, *num_zeros, *std, shape, draw)
        }
        Sampler::Orthogonal { gain } => orthogonal::encode(gpu, enc, out, *gain, shape, draw),
        Sampler::Values(v) => {
            gpu.queue.write_buffer(out, 0, bytemuck::cast_slice(v));
            Ok(())
        }
    }
}
