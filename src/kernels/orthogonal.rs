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

/// Matrices at most this tall are generated two at a time when a model has
/// two orthogonal parameters of one shape ([`encode_pair`]); the memory plan
/// counts a second set of QR buffers for them.
pub const PAIR_MAX_ROWS: usize = 2048;

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
    let fits = |s: &QrSets| s.fit(n, m, 1);
    let Ok(s) = scratch::cached(gpu, fits, || QrSets::new(gpu, n, m, 1)) else {
        return encode_stewart(gpu, enc, out, gain, shape, draw);
    };
    let s = &s.0[0];
    s.source(gpu, enc, n * m, draw)?;
    s.qr.factor(gpu, enc, (&s.rdiag).into())?;
    s.finish(gpu, enc, out, gain, shape)
}

/// Records two constructions of one shape, as two [`encode`] calls would
/// (the same values), but with the QRs' panels factored two at a time: a
/// panel is one workgroup, which on lavapipe leaves the second core idle.
pub fn encode_pair(
    gpu: &Gpu,
    enc: &mut wgpu::CommandEncoder,
    outs: [&wgpu::Buffer; 2],
    gains: [f64; 2],
    shape: Shape,
    draws: [Draw; 2],
) -> Result<(), GpuError> {
    let (n, m) = (shape.rows.max(shape.cols), shape.rows.min(shape.cols));
    // Both panels of a pair share one texture.
    let pairable = n <= PAIR_MAX_ROWS && 2 * n <= gpu.limits.max_texture_dimension_2d as usize;
    let fits = |s: &QrSets| s.fit(n, m, 2);
    let sets = pairable.then(|| scratch::cached(gpu, fits, || QrSets::new(gpu, n, m, 2)));
    let Some(Ok(sets)) = sets else {
        for k in 0..2 {
            encode(gpu, enc, outs[k], gains[k], shape, draws[k])?;
        }
        return Ok(());
    };
    let [a, b] = [&sets.0[0], &sets.0[1]];
    a.source(gpu, enc, n * m, draws[0])?;
    b.source(gpu, enc, n * m, draws[1])?;
    let items = [(&a.qr, (&a.rdiag).into()), (&b.qr, (&b.rdiag).into())];
    Qr::factor_all(gpu, enc, &items)?;
    a.finish(gpu, enc, outs[0], gains[0], shape)?;
    b.finish(gpu, enc, outs[1], gains[1], shape)
}

/// The orthogonal init's QR scratch, kept per device (the last shape): the
/// QR, R's diagonal, and the dense source G when the QR's working matrix is
/// padded (m not a multiple of 64), so that no layer allocates.
struct QrScratch {
    qr: Qr,
    rdiag: wgpu::Buffer,
    source: Option<wgpu::Buffer>,
}

/// One or two [`QrScratch`] of one shape (two for [`encode_pair`]; a lone
/// matrix then uses the first).
struct QrSets(Vec<QrScratch>);

impl QrSets {
    fn new(gpu: &Gpu, n: usize, m: usize, count: usize) -> Result<QrSets, GpuError> {
        let sets = (0..count).map(|_| QrScratch::new(gpu, n, m));
        Ok(QrSets(sets.collect::<Result<_, _>>()?))
    }

    fn fit(&self, n: usize, m: usize, count: usize) -> bool {
        self.0.len() >= count && self.0[0].qr.shape() == (n, m)
    }
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

    /// The Gaussian source of `draw` into the QR's working matrix.
    fn source(
        &self,
        gpu: &Gpu,
        enc: &mut wgpu::CommandEncoder,
        len: usize,
        draw: Draw,
    ) -> Result<(), GpuError> {
        match &self.source {
            Some(g) => {
                encode_source(gpu, enc, g, len, draw)?;
                self.qr.load(gpu, enc, g.into())
            }
            None => encode_source(gpu, enc, &self.qr.work, len, draw),
        }
    }

    /// Q with its columns times gain·sign(R_jj), written to `out`.
    fn finish(
        &self,
        gpu: &Gpu,
        enc: &mut wgpu::CommandEncoder,
        out: &wgpu::Buffer,
        gain: f64,
        shape: Shape,
    ) -> Result<(), GpuError> {
        let scale = ColumnScale::SignOfR { gain: gain as f32 };
        self.qr.form_q(gpu, enc, (&self.rdiag).into(), scale)?;
        self.qr.store(gpu, enc, out.into(), shape.rows < shape.cols)
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
