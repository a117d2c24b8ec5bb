//! Householder QR of tall matrices on the GPU, blocked so that nearly all of
//! the work is GEMM.
//!
//! A (n × m, n ≥ m) is reduced one panel of [`NB`] columns at a time. One
//! dispatch of the panel kernel (`qr_panel.wgsl`) factors the panel and
//! returns its reflectors as V (unit lower trapezoidal) and Y = V·T, so that
//! the panel's block reflector is H = I − V·T·Vᵀ = I − Y·Vᵀ (compact WY).
//! Panels are grouped in blocks of [`NB2`] columns: a panel updates the rest
//! of its block with two GEMMs, A₂ ← Hᵀ·A₂ = A₂ − V·(Yᵀ·A₂), and its Y is then
//! merged into the block's (H_a·H_b = I − [V_a V_b]·[Y_a, Y_b − Y_a·(V_aᵀ·Y_b)]ᵀ),
//! so that the trailing columns right of the block and the accumulation of
//! Q = H₁·H₂⋯[I; 0] backwards (Q ← Q − Y·(Vᵀ·Q)) are GEMMs with an inner
//! dimension of 128 instead of 32: twice as fast on lavapipe, and the shape
//! GPUs want. All go through [`encode_gemm`], so they run at the adapter's
//! GEMM speed. Two QRs of one shape can be factored together
//! ([`Qr::factor_all`]): each panel of both is one dispatch of two
//! workgroups, so that lavapipe runs them on both cores (a lone panel is one
//! workgroup, one core); the orthogonal init draws a model's layers of one
//! shape in pairs so. The panel kernel scales columns by powers of two and
//! keeps R's diagonal to full relative accuracy; R_jj = −sign(a_jj)·‖a_j‖ as in
//! LAPACK's geqrf (the last column of a square matrix keeps its sign).
//!
//! Use (e.g. log-determinants or Lyapunov exponents from a Jacobian product):
//!
//! ```ignore
//! let qr = Qr::new(gpu, n, m)?;             // once per shape: allocates
//! let mut enc = gpu.device.create_command_encoder(&Default::default());
//! qr.encode(gpu, &mut enc, a, q, rdiag)?;  // Q (n × m) and R's signed diagonal
//! qr.encode_scaled(gpu, &mut enc, [a, q, rdiag], ColumnScale::SignOfR { gain: 1.0 })?;
//! gpu.submit("qr", enc)?;
//! ```
//!
//! `a`, `q` and `rdiag` are f32 row-major views; `a` is only read. Limits:
//! n ≥ m ≥ 1 and n at most the rows one panel dispatch holds (8 × the
//! adapter's largest workgroup, and the texture size: 4096 on lavapipe);
//! [`Qr::new`] returns an error otherwise. Scratch texture slot
//! `TexSlot::Qr` is shared by every `Qr` of the device, which is safe
//! because commands on one queue run in order.
//!
//! All scratch lives in [`Qr`], so repeated factorisations of one shape
//! allocate nothing. The working matrices have a row stride that is a
//! multiple of 64 floats, so that every block can be copied into a texture
//! (the subgroup GEMM and the panel kernel read textures).

use crate::gpu::buffers::View;
use crate::gpu::{Gpu, GpuError, Shader};
use crate::kernels::gemm::{Gemm, encode_gemm_with};
use crate::kernels::scratch::{self, TexSlot};

// The panel kernel's choice and dispatch; it moves with this file.
#[path = "qr_panel.rs"]
mod panel;
use panel::PanelKernel;

/// Columns per panel (the generated kernel `qr_panel_nb32_r8`).
pub const NB: usize = 32;
/// Columns per block: four panels merged into one compact WY pair.
pub const NB2: usize = 128;
/// Rows each panel-kernel invocation holds in registers.
pub(crate) const ROWS_PER_INVOCATION: usize = 8;
const WG: u32 = 64;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct QrParams {
    n: u32,
    m: u32,
    ld: u32,
    mode: u32,
    gain: f32,
    src_off: u32,
    pad: [u32; 2],
}

/// What multiplies Q's columns when it is formed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ColumnScale {
    /// Nothing: the Householder Q, with R's signed diagonal.
    One,
    /// gain·sign(R_jj): Q·diag(sign R) is the Q of the QR with a positive
    /// diagonal (unique; Haar-distributed for a Gaussian A, torch's
    /// `orthogonal_`); then |R_jj| = sign(R_jj)·R_jj.
    SignOfR { gain: f32 },
}

/// A reusable QR of one shape: its scratch buffers and panel geometry.
pub struct Qr {
    n: usize,
    m: usize,
    ld: usize,
    kernel: PanelKernel,
    /// The matrix being reduced (n × ld).
    pub(crate) work: wgpu::Buffer,
    v: wgpu::Buffer,
    /// Each panel's Y, then (merged) its columns of the block's Y.
    y: wgpu::Buffer,
    /// The blocks' Y (n × ld): what the trailing updates and Q use.
    yb: wgpu::Buffer,
    w: wgpu::Buffer,
    q: wgpu::Buffer,
}

impl Qr {
    /// Scratch for the QR of n × m matrices (n ≥ m ≥ 1): five n × ld
    /// buffers (ld = m rounded up to 64) and W (128 × ld); encoding also
    /// grows the device's scratch textures to n × ld (the QR's and the
    /// subgroup GEMM's), so about 7·n·ld floats in all.
    pub fn new(gpu: &Gpu, n: usize, m: usize) -> Result<Qr, GpuError> {
        let bad = |detail: String| GpuError::Validation {
            what: format!("QR of a {n} x {m} matrix"),
            detail,
        };
        if m == 0 || n < m {
            return Err(bad("needs rows >= columns >= 1".into()));
        }
        let Some(kernel) = PanelKernel::of(gpu) else {
            return Err(bad("the adapter's workgroups are too small".into()));
        };
        let rows = ROWS_PER_INVOCATION * kernel.max_wg;
        let max_dim = gpu.limits.max_texture_dimension_2d as usize;
        if n > rows.min(max_dim) {
            return Err(bad(format!(
                "the panel kernel holds at most {} rows on this adapter",
                rows.min(max_dim)
            )));
        }
        let ld = m.next_multiple_of(64);
        let bytes = (n * ld * 4) as u64;
        Ok(Qr {
            n,
            m,
            ld,
            kernel,
            work: gpu.storage("qr working matrix", bytes)?,
            v: gpu.storage("qr V", bytes)?,
            y: gpu.storage("qr Y", bytes)?,
            yb: gpu.storage("qr block Y", bytes)?,
            w: gpu.storage("qr W", (NB2 * ld * 4) as u64)?,
            q: gpu.storage("qr Q", bytes)?,
        })
    }

    /// (rows, columns) of the matrices this QR factors.
    pub fn shape(&self) -> (usize, usize) {
        (self.n, self.m)
    }

    /// Whether the working matrix has padding columns (then the input must
    /// be loaded with [`Qr::load`] rather than written in place).
    pub(crate) fn padded(&self) -> bool {
        self.ld != self.m
    }

    /// Records Q (n × m, orthonormal columns) and R's diagonal (m, signed)
    /// of A (n × m), all row-major f32: A = Q·R with R upper triangular.
    /// `a` is read only.
    pub fn encode(
        &self,
        gpu: &Gpu,
        enc: &mut wgpu::CommandEncoder,
        a: View<'_>,
        q: View<'_>,
        rdiag: View<'_>,
    ) -> Result<(), GpuError> {
        self.encode_scaled(gpu, enc, [a, q, rdiag], ColumnScale::One)
    }

    /// As [`Qr::encode`], with Q's columns multiplied as `scale` says
    /// (`rdiag` still receives R's signed diagonal).
    pub fn encode_scaled(
        &self,
        gpu: &Gpu,
        enc: &mut wgpu::CommandEncoder,
        [a, q, rdiag]: [View<'_>; 3],
        scale: ColumnScale,
    ) -> Result<(), GpuError> {
        self.load(gpu, enc, a)?;
        self.factor(gpu, enc, rdiag)?;
        self.form_q(gpu, enc, rdiag, scale)?;
        self.store(gpu, enc, q, false)
    }

    fn params(&self, mode: u32, gain: f32) -> QrParams {
        QrParams {
            n: self.n as u32,
            m: self.m as u32,
            ld: self.ld as u32,
            mode,
            gain,
            src_off: 0,
            pad: [0; 2],
        }
    }

    /// One dispatch of a helper kernel of `qr.wgsl` over `threads` invocations.
    fn helper(
        &self,
        gpu: &Gpu,
        enc: &mut wgpu::CommandEncoder,
        entry: &str,
        p: QrParams,
        res: &[(u32, wgpu::BindingResource<'_>)],
        threads: usize,
    ) -> Result<(), GpuError> {
        let pipe = gpu.pipeline(Shader::Qr, entry, &[("WG", f64::from(WG))], false)?;
        let u = gpu.uniform("qr params", &p);
        let mut all = vec![(0, u.as_entire_binding())];
        all.extend(res.iter().cloned());
        let group = gpu.bind_at(&pipe, entry, &all);
        let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some(entry),
            timestamp_writes: None,
        });
        gpu.dispatch(&mut pass, &pipe, &group, (threads as u32).div_ceil(WG));
        Ok(())
    }

    /// Copies A (n × m, dense) into the padded working matrix.
    pub(crate) fn load(
        &self,
        gpu: &Gpu,
        enc: &mut wgpu::CommandEncoder,
        a: View<'_>,
    ) -> Result<(), GpuError> {
        let bytes = (self.n * self.m * 4) as u64;
        if self.ld == self.m && a.offset.is_multiple_of(4) {
            enc.copy_buffer_to_buffer(a.buffer, a.offset, &self.work, 0, bytes);
            return Ok(());
        }
        let res = [(1, a.binding()), (2, self.work.as_entire_binding())];
        let p = self.params(0, 1.0);
        self.helper(gpu, enc, "qr_load", p, &res, self.n * self.ld)
    }

    /// Factors the working matrix: V, the blocks' Y, and R's diagonal
    /// into `rdiag` (m floats).
    pub(crate) fn factor(
        &self,
        gpu: &Gpu,
        enc: &mut wgpu::CommandEncoder,
        rdiag: View<'_>,
    ) -> Result<(), GpuError> {
        Qr::factor_all(gpu, enc, &[(self, rdiag)])
    }

    /// T ← T − R·(Lᵀ·T) for T = rows r0.., columns c0..c1 of `t`, with the k
    /// columns of `l` and `r` from (r0, r0): a block reflector applied by two
    /// GEMMs through W. The trailing update is (L, R, T) = (Y, V, A), Q's
    /// accumulation (V, Y_b, Q), a merge (V, Y_b, Y_j).
    fn apply(
        &self,
        gpu: &Gpu,
        enc: &mut wgpu::CommandEncoder,
        [l, r, t]: [&wgpu::Buffer; 3],
        [r0, k]: [usize; 2],
        [c0, c1]: [usize; 2],
    ) -> Result<(), GpuError> {
        let (nr, ld, blk) = (self.n - r0, self.ld, r0 * self.ld + r0);
        let g1 = Gemm {
            a_off: blk as u32,
            b_off: (r0 * ld + c0) as u32,
            c_si: ld as u32,
            ..Gemm::new(k, c1 - c0, nr, [1, ld, ld, 1])
        };
        let variant = gpu.gemm_variant().copying_transposes();
        encode_gemm_with(gpu, variant, enc, &g1, l, t, None, &self.w)?;
        let g2 = Gemm {
            a_off: blk as u32,
            c_off: (r0 * ld + c0) as u32,
            c_si: ld as u32,
            alpha: -1.0,
            accumulate: 1,
            ..Gemm::new(nr, c1 - c0, k, [ld, 1, ld, 1])
        };
        encode_gemm_with(gpu, variant, enc, &g2, r, &self.w, None, t)
    }

    /// Merges panel j0's Y into the Y of the block starting at column b0:
    /// Y_j −= Y_b·(V_bᵀ·Y_j) over rows b0.. (V_b, Y_b: the block's earlier
    /// columns), then copies it into the blocks' Y.
    fn merge(
        &self,
        gpu: &Gpu,
        enc: &mut wgpu::CommandEncoder,
        b0: usize,
        j0: usize,
    ) -> Result<(), GpuError> {
        let (nr, ld) = (self.n - b0, self.ld);
        if j0 > b0 {
            let bufs = [&self.v, &self.yb, &self.y];
            self.apply(gpu, enc, bufs, [b0, j0 - b0], [j0, j0 + NB])?;
        }
        let p = QrParams {
            n: nr as u32,
            m: NB as u32,
            src_off: (b0 * ld + j0) as u32,
            ..self.params(0, 1.0)
        };
        let res = [
            (1, self.y.as_entire_binding()),
            (2, self.yb.as_entire_binding()),
        ];
        self.helper(gpu, enc, "qr_copy_block", p, &res, nr * NB)
    }

    /// Copies rows × cols of each buffer (row stride ld, from element
    /// `off`) into scratch texture `slot`, the block of buffer k from
    /// texture row `bufs[k].1`: texel (q, r0 + i) = block[i, 4q..4q+3].
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn copy_to_texture(
        &self,
        gpu: &Gpu,
        enc: &mut wgpu::CommandEncoder,
        slot: TexSlot,
        bufs: &[(&wgpu::Buffer, usize)],
        off: usize,
        rows: usize,
        cols: usize,
    ) -> Result<wgpu::TextureView, GpuError> {
        let texels = cols.div_ceil(4) as u32;
        let height = bufs.iter().map(|(_, r0)| r0 + rows).max().unwrap_or(rows);
        let t = scratch::texture(gpu, slot, texels, height as u32)?;
        for &(buf, r0) in bufs {
            enc.copy_buffer_to_texture(
                wgpu::TexelCopyBufferInfo {
                    buffer: buf,
                    layout: wgpu::TexelCopyBufferLayout {
                        offset: (off * 4) as u64,
                        bytes_per_row: Some((self.ld * 4) as u32),
                        rows_per_image: None,
                    },
                },
                wgpu::TexelCopyTextureInfo {
                    origin: wgpu::Origin3d {
                        x: 0,
                        y: r0 as u32,
                        z: 0,
                    },
                    ..t.as_image_copy()
                },
                wgpu::Extent3d {
                    width: texels,
                    height: rows as u32,
                    depth_or_array_layers: 1,
                },
            );
        }
        Ok(t.create_view(&Default::default()))
    }

    /// Accumulates Q·diag(d) = H₁⋯H_p·[diag(d); 0] backwards, d from `scale`.
    pub(crate) fn form_q(
        &self,
        gpu: &Gpu,
        enc: &mut wgpu::CommandEncoder,
        rdiag: View<'_>,
        scale: ColumnScale,
    ) -> Result<(), GpuError> {
        let m = self.m;
        enc.clear_buffer(&self.q, 0, None);
        let p = match scale {
            ColumnScale::One => self.params(0, 1.0),
            ColumnScale::SignOfR { gain } => self.params(1, gain),
        };
        let res = [(2, self.q.as_entire_binding()), (3, rdiag.binding())];
        self.helper(gpu, enc, "qr_diag", p, &res, m)?;
        for b0 in (0..m).step_by(NB2).rev() {
            let k = ((b0 + NB2).min(m) - b0).next_multiple_of(NB);
            // Q₂ −= Y·(Vᵀ·Q₂) (Q₂: rows b0.., columns b0..).
            self.apply(gpu, enc, [&self.v, &self.yb, &self.q], [b0, k], [b0, m])?;
        }
        Ok(())
    }

    /// Writes the formed Q to `out`: n × m, or its transpose (m × n).
    pub(crate) fn store(
        &self,
        gpu: &Gpu,
        enc: &mut wgpu::CommandEncoder,
        out: View<'_>,
        transpose: bool,
    ) -> Result<(), GpuError> {
        let (n, m) = (self.n, self.m);
        if !transpose && self.ld == m && out.offset.is_multiple_of(4) {
            enc.copy_buffer_to_buffer(&self.q, 0, out.buffer, out.offset, (n * m * 4) as u64);
            return Ok(());
        }
        let tex = self.copy_to_texture(gpu, enc, TexSlot::Qr, &[(&self.q, 0)], 0, n, m)?;
        let res = [
            (2, out.binding()),
            (4, wgpu::BindingResource::TextureView(&tex)),
        ];
        let p = self.params(u32::from(transpose), 1.0);
        self.helper(gpu, enc, "qr_store", p, &res, n * m.div_ceil(4))
    }
}
