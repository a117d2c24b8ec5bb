//! The init kernels (`shaders/init.wgsl`): elementwise mixtures drawn from
//! Philox, and torch's `sparse_` column by column.

use crate::gpu::buffers::View;
use crate::gpu::{Gpu, GpuError, Shader};
use crate::init::{Component, Shape};
use crate::rng::{Draw, key_of};
use bytemuck::Zeroable;

impl Component {
    /// The GPU table row: mode and six parameters (see `shaders/init.wgsl`).
    pub fn gpu_row(&self, cum: f64) -> GpuComp {
        let (mode, p) = match *self {
            Component::Constant(v) => (0, [v, 0.0, 0.0, 0.0, 0.0, 0.0]),
            Component::Uniform { lo, hi } => (1, [lo, hi, 0.0, 0.0, 0.0, 0.0]),
            Component::Normal { mean, std } => (2, [mean, std, 0.0, 0.0, 0.0, 0.0]),
            Component::TruncNormal { mean, std, a, b } => {
                let l = crate::activation::norm_cdf((a - mean) / std);
                let u = crate::activation::norm_cdf((b - mean) / std);
                (3, [mean, std, a, b, 2.0 * l - 1.0, 2.0 * u - 1.0])
            }
        };
        GpuComp {
            mode,
            cum: cum as f32,
            p: p.map(|x| x as f32),
        }
    }
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
pub struct GpuComp {
    pub mode: u32,
    pub cum: f32,
    pub p: [f32; 6],
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct InitParams {
    key: [u32; 2],
    layer: u32,
    role: u32,
    repeat: u32,
    n: u32,
    n_comp: u32,
    block_offset: u32,
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct SparseParams {
    key: [u32; 2],
    layer: u32,
    role: u32,
    repeat: u32,
    rows: u32,
    cols: u32,
    num_zeros: u32,
    std: f32,
    pad: [u32; 3],
}

/// Default invocations per workgroup of the init kernels.
pub const WG: u32 = 64;
/// Rows of the elementwise kernel's uniform component table (a mixture's
/// most components; `MAX_COMPONENTS` in `shaders/init.wgsl`).
pub const MAX_COMPONENTS: usize = 64;
/// Philox blocks per invocation of the elementwise init kernel.
const BPT: u32 = 16;

/// Records an elementwise (mixture) fill of `n` elements.
pub fn encode_elementwise(
    gpu: &Gpu,
    enc: &mut wgpu::CommandEncoder,
    out: &wgpu::Buffer,
    parts: &[(f64, Component)],
    n: u32,
    draw: Draw,
) -> Result<(), GpuError> {
    encode_elementwise_wg(gpu, enc, out.into(), parts, Fill { n, first: 0, draw }, WG)
}

/// Which elements of a tensor a fill writes: `n` of them starting at element
/// `first` (a multiple of 4) of the tensor's stream, into the bound range.
#[derive(Debug, Clone, Copy)]
pub struct Fill {
    pub n: u32,
    pub first: u64,
    pub draw: Draw,
}

/// Records an elementwise fill of one chunk of a tensor into `out`.
pub fn encode_elementwise_chunk(
    gpu: &Gpu,
    enc: &mut wgpu::CommandEncoder,
    out: View<'_>,
    parts: &[(f64, Component)],
    what: Fill,
) -> Result<(), GpuError> {
    encode_elementwise_wg(gpu, enc, out, parts, what, WG)
}

/// Records an elementwise fill of `what` into `out` with `wg` invocations per
/// workgroup (the geometry never changes the values).
pub fn encode_elementwise_wg(
    gpu: &Gpu,
    enc: &mut wgpu::CommandEncoder,
    out: View<'_>,
    parts: &[(f64, Component)],
    what: Fill,
    wg: u32,
) -> Result<(), GpuError> {
    let Fill { n, first, draw } = what;
    debug_assert!(first % 4 == 0, "chunks start on a Philox block");
    let mut cum = 0.0;
    let rows: Vec<GpuComp> = parts
        .iter()
        .map(|(w, c)| {
            cum += w;
            c.gpu_row(cum)
        })
        .collect();
    let pipe = gpu.pipeline(
        Shader::Init,
        "init_elementwise",
        &[("WG", wg as f64), ("BPT", BPT as f64)],
        true,
    )?;
    let params = InitParams {
        key: key_of(draw.seed),
        layer: draw.stream.layer,
        role: draw.stream.role as u32,
        repeat: draw.stream.repeat,
        n,
        n_comp: rows.len() as u32,
        block_offset: (first / 4) as u32,
    };
    let ubuf = gpu.uniform("init params", &params);
    if rows.len() > MAX_COMPONENTS {
        return Err(GpuError::Validation {
            what: "init components".into(),
            detail: format!("{} components; at most {MAX_COMPONENTS}", rows.len()),
        });
    }
    // The uniform table is always MAX_COMPONENTS rows long.
    let mut table = [GpuComp::zeroed(); MAX_COMPONENTS];
    table[..rows.len()].copy_from_slice(&rows);
    let comps = gpu.uniform("init components", &table);
    let group = gpu.bind(
        &pipe,
        "init_elementwise",
        &[
            ubuf.as_entire_binding(),
            comps.as_entire_binding(),
            out.binding(),
        ],
    );
    gpu.dispatch_pass(
        enc,
        "init_elementwise",
        &pipe,
        &group,
        n.div_ceil(4).div_ceil(wg * BPT),
    );
    Ok(())
}

/// Records torch's `sparse_` (`num_zeros` zeros per column, the rest
/// N(0, std²)) into `out`.
pub fn encode_sparse(
    gpu: &Gpu,
    enc: &mut wgpu::CommandEncoder,
    out: &wgpu::Buffer,
    num_zeros: u32,
    std: f64,
    shape: Shape,
    draw: Draw,
) -> Result<(), GpuError> {
    let pipe = gpu.pipeline(Shader::Init, "sparse_columns", &[("WG", WG as f64)], true)?;
    let params = SparseParams {
        key: key_of(draw.seed),
        layer: draw.stream.layer,
        role: draw.stream.role as u32,
        repeat: draw.stream.repeat,
        rows: shape.rows as u32,
        cols: shape.cols as u32,
        num_zeros: num_zeros.min(shape.rows as u32),
        std: std as f32,
        pad: [0; 3],
    };
    let ubuf = gpu.uniform("sparse params", &params);
    let group = gpu.bind(
        &pipe,
        "sparse_columns",
        &[ubuf.as_entire_binding(), out.as_entire_binding()],
    );
    gpu.dispatch_pass(
        enc,
        "sparse_columns",
        &pipe,
        &group,
        (shape.cols as u32).div_ceil(WG),
    );
    Ok(())
}
