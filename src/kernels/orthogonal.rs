//! Haar-orthogonal weights on the GPU.
//!
//! Algorithm: the Householder QR of an n×m Gaussian matrix G (n = max(rows,
//! cols), m = min), with Q's columns multiplied by sign(diag R) — torch's
//! `orthogonal_` recipe, which is Haar-distributed (Mezzadri 2007). The QR
//! is the blocked one of [`crate::qr`] (panels plus GEMMs); Q is accumulated
//! from gain·[diag(sign R); 0], so the sign correction costs nothing. Why
//! Householder rather than Gram–Schmidt: a product of reflectors is
//! orthogonal to working precision whatever the conditioning, which is what
//! the 1e-5 bound at n = 2048 in f32 needs. Wide shapes (rows < cols) are
//! generated as their transpose and written transposed, as in torch.
//!
//! Matrices taller than the panel kernel holds (4096 rows) take Stewart's
//! (1980) construction instead, one reflector at a time: reflector k comes
//! from column k of G below the diagonal as drawn (not updated by the earlier
//! reflectors), which is again Haar-distributed but is not the Q of QR(G).
//! Its dot products are Kahan-compensated.

use crate::gpu::{Gpu, GpuError, Shader};
use crate::init::{Component, Shape};
use crate::kernels::init::encode_elementwise;
use crate::kernels::qr::{ColumnScale, Qr};
use crate::kernels::scratch;
use crate::rng::Draw;
use crate::rng::{Role, Stream};

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct OrthoParams {
    n: u32,
    m: u32,
    n_refl: u32,
    transpose_out: u32,
    gain: f32,
    pad: [u32; 3],
}

const WG: u32 = 64;

fn b(i: u32, buf: &wgpu::Buffer) -> (u32, wgpu::BindingResource<'_>) {
    (i, buf.as_entire_binding())
}

/// Scratch buffers of one orthogonal construction.
struct Scratch {
    g: wgpu::Buffer,
    y: wgpu::Buffer,
    beta: wgpu::Buffer,
    d: wgpu::Buffer,
    w: wgpu::Buffer,
    state: wgpu::Buffer,
}

impl Scratch {
    fn new(gpu: &Gpu, n: usize, m: usize) -> Result<Scratch, GpuError> {
        let nm = (n * m * 4) as u64;
        Ok(Scratch {
            g: gpu.storage("orthogonal source G", nm)?,
            y: gpu.storage("orthogonal Y", nm)?,
            beta: gpu.storage("orthogonal beta", (m * 4) as u64)?,
            d: gpu.storage("orthogonal d", (m * 4) as u64)?,
            w: gpu.storage("orthogonal w", (m * 4) as u64)?,
            state: gpu.storage("orthogonal step", 16)?,
        })
    }
}

/// The Gaussian source G (n × m, row-major) of a draw: its own stream.
fn encode_source(
    gpu: &Gpu,
    enc: &mut wgpu::CommandEncoder,
    g: &wgpu::Buffer,
    len: usize,
    draw: Draw,
) -> Result<(), GpuError> {
    let src = Draw {
        seed: draw.seed,
        stream: Stream {
            role: Role::OrthogonalSource,
            ..draw.stream
        },
    };
    let normal = [(
        1.0,
        Component::Normal {
            mean: 0.0,
            std: 1.0,
        },
    )];
    encode_elementwise(gpu, enc, g, &normal, len as u32, src)
}

/// Records the construction of gain·Q into `out` (shape rows × cols).
pub fn encode(
    gpu: &Gpu,
    enc: &mut wgpu::CommandEncoder,
    out: &wgpu::Buffer,
    gain: f64,
    shape: Shape,
    draw: Draw,
) -> Result<(), GpuError> {
    let (n, m) = (shape.rows.max(shape.cols), shape.rows.min(shape.cols));
    // The QR's buffers are kept for the next layer of the same shape:
    // allocating and zero-filling them costs more than a small QR.
    let fits = |s: &QrScratch| s.qr.shape() == (n, m);
    let Ok(s) = scratch::cached(gpu, fits, || QrScratch::new(gpu, n, m)) else {
        return encode_stewart(gpu, enc, out, gain, shape, draw);
    };
    let (qr, rdiag) = (&s.qr, (&s.rdiag).into());
    match &s.source {
        Some(g) => {
            encode_source(gpu, enc, g, n * m, draw)?;
            qr.load(gpu, enc, g.into())?;
        }
        None => encode_source(gpu, enc, &qr.work, n * m, draw)?,
    }
    qr.factor(gpu, enc, rdiag)?;
    let scale = ColumnScale::SignOfR { gain: gain as f32 };
    qr.form_q(gpu, enc, rdiag, scale)?;
    qr.store(gpu, enc, out.into(), shape.rows < shape.cols)
}

/// The orthogonal init's QR scratch, kept per device (the last shape): the
/// QR, R's diagonal, and the dense source G when the QR's working matrix is
/// padded (m not a multiple of 64), so that no layer allocates.
struct QrScratch {
    qr: Qr,
    rdiag: wgpu::Buffer,
    source: Option<wgpu::Buffer>,
}

impl QrScratch {
    fn new(gpu: &Gpu, n: usize, m: usize) -> Result<QrScratch, GpuError> {
        let qr = Qr::new(gpu, n, m)?;
        let source = if qr.padded() {
            Some(gpu.storage("orthogonal source G", (n * m * 4) as u64)?)
        } else {
            None
        };
        Ok(QrScratch {
            rdiag: gpu.storage("orthogonal R diagonal", (m * 4) as u64)?,
            source,
            qr,
        })
    }
}

/// Stewart's construction, one reflector at a time (any height).
fn encode_stewart(
    gpu: &Gpu,
    enc: &mut wgpu::CommandEncoder,
    out: &wgpu::Buffer,
    gain: f64,
    shape: Shape,
    draw: Draw,
) -> Result<(), GpuError> {
    let (n, m) = (shape.rows.max(shape.cols), shape.rows.min(shape.cols));
    let s = Scratch::new(gpu, n, m)?;
    encode_source(gpu, enc, &s.g, n * m, draw)?;
    let params = OrthoParams {
        n: n as u32,
        m: m as u32,
        n_refl: if n == m { m as u32 - 1 } else { m as u32 },
        transpose_out: u32::from(shape.rows < shape.cols),
        gain: gain as f32,
        pad: [0; 3],
    };
    let ubuf = gpu.uniform("orthogonal params", &params);
    let pipe = |e: &str| gpu.pipeline(Shader::Orthogonal, e, &[("WG", WG as f64)], false);
    let (prepare, start, dot, update, store) = (
        pipe("ortho_prepare")?,
        pipe("ortho_start")?,
        pipe("ortho_dot")?,
        pipe("ortho_update")?,
        pipe("ortho_store")?,
    );
    let next = gpu.pipeline(Shader::Orthogonal, "ortho_next", &[], false)?;
    let u = (0, ubuf.as_entire_binding());
    let g_prepare = gpu.bind_at(
        &prepare,
        "ortho_prepare",
        &[u.clone(), b(1, &s.g), b(3, &s.beta), b(4, &s.d)],
    );
    let g_start = gpu.bind_at(
        &start,
        "ortho_start",
        &[u.clone(), b(2, &s.y), b(4, &s.d), b(6, &s.state)],
    );
    let g_dot = gpu.bind_at(
        &dot,
        "ortho_dot",
        &[
            u.clone(),
            b(1, &s.g),
            b(2, &s.y),
            b(5, &s.w),
            b(6, &s.state),
        ],
    );
    let g_update = gpu.bind_at(
        &update,
        "ortho_update",
        &[
            u.clone(),
            b(1, &s.g),
            b(2, &s.y),
            b(3, &s.beta),
            b(5, &s.w),
            b(6, &s.state),
        ],
    );
    let g_next = gpu.bind_at(&next, "ortho_next", &[b(6, &s.state)]);
    let g_store = gpu.bind_at(&store, "ortho_store", &[u, b(1, out), b(2, &s.y)]);
    let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
        label: Some("orthogonal"),
        timestamp_writes: None,
    });
    let groups = |threads: usize| (threads as u32).div_ceil(WG);
    gpu.dispatch(&mut pass, &prepare, &g_prepare, groups(m));
    gpu.dispatch(&mut pass, &start, &g_start, groups(n * m));
    for k in (0..params.n_refl as usize).rev() {
        gpu.dispatch(&mut pass, &dot, &g_dot, groups(m - k));
        // ortho_update: one invocation per row segment of 16 columns.
        gpu.dispatch(
            &mut pass,
            &update,
            &g_update,
            groups((n - k) * (m - k).div_ceil(16)),
        );
        gpu.dispatch(&mut pass, &next, &g_next, 1);
    }
    gpu.dispatch(&mut pass, &store, &g_store, groups(n * m));
    Ok(())
}
