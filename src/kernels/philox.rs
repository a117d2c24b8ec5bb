//! Raw Philox fills on the GPU (words, uniforms or normals) — the GPU side of
//! the RNG contract, used by tests and benchmarks.

use crate::gpu::{Gpu, GpuError, Shader};
use crate::rng::{Stream, key_of};

/// What a fill writes per element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FillMode {
    /// Raw u32 words.
    Words = 0,
    /// `uniform01` of each word (f32 bits).
    Uniform = 1,
    /// Box–Muller standard normals (f32 bits).
    Normal = 2,
}

/// Dispatch geometry: invocations per workgroup and blocks per invocation.
/// Results never depend on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    pub workgroup: u32,
    pub blocks_per_thread: u32,
    /// Use the SHADER_INT64 multiply-high when the device has it.
    pub int64: bool,
}

impl Default for Geometry {
    fn default() -> Self {
        // Several blocks per invocation: lavapipe's per-invocation overhead
        // dominates one block per invocation (0.15 -> 0.6 Gvalues/s).
        Geometry {
            workgroup: 64,
            blocks_per_thread: 16,
            int64: true,
        }
    }
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct FillParams {
    key: [u32; 2],
    layer: u32,
    role: u32,
    repeat: u32,
    n_blocks: u32,
    mode: u32,
    first_block: u32,
}

/// The counter words of a fill: block `first_block + i` of stream words (w1, w2, w3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawCounter {
    pub key: [u32; 2],
    pub words: [u32; 3],
    pub first_block: u32,
}

impl RawCounter {
    /// Block 0 onwards of a named stream under `seed`.
    pub fn of(seed: u64, stream: Stream) -> Self {
        RawCounter {
            key: key_of(seed),
            words: [stream.layer, stream.role as u32, stream.repeat],
            first_block: 0,
        }
    }
}

/// Records a fill of `n_blocks` blocks from `ctr` into `out` (≥ 16·n_blocks bytes).
pub fn encode_fill(
    gpu: &Gpu,
    enc: &mut wgpu::CommandEncoder,
    out: &wgpu::Buffer,
    ctr: RawCounter,
    n_blocks: u32,
    mode: FillMode,
    geo: Geometry,
) -> Result<(), GpuError> {
    let consts = [
        ("WG", geo.workgroup as f64),
        ("BPT", geo.blocks_per_thread as f64),
    ];
    let pipe = gpu.pipeline(Shader::Philox, "fill", &consts, geo.int64)?;
    let params = FillParams {
        key: ctr.key,
        layer: ctr.words[0],
        role: ctr.words[1],
        repeat: ctr.words[2],
        n_blocks,
        mode: mode as u32,
        first_block: ctr.first_block,
    };
    let ubuf = gpu.uniform("philox_fill params", &params);
    let group = gpu.bind(
        &pipe,
        "philox_fill",
        &[ubuf.as_entire_binding(), out.as_entire_binding()],
    );
    let per_group = geo.workgroup * geo.blocks_per_thread;
    gpu.dispatch_pass(
        enc,
        "philox_fill",
        &pipe,
        &group,
        n_blocks.div_ceil(per_group),
    );
    Ok(())
}

/// Fills and reads back `n_blocks · 4` words (or f32 bits) from `ctr`.
pub fn fill(
    gpu: &Gpu,
    ctr: RawCounter,
    n_blocks: u32,
    mode: FillMode,
    geo: Geometry,
) -> Result<Vec<u32>, GpuError> {
    let out = gpu.storage("philox_fill out", u64::from(n_blocks) * 16)?;
    let mut enc = gpu.device.create_command_encoder(&Default::default());
    encode_fill(gpu, &mut enc, &out, ctr, n_blocks, mode, geo)?;
    gpu.submit("philox_fill", enc)?;
    gpu.read("philox_fill out", &out, 0, n_blocks as usize * 4)
}
