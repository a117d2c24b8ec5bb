//! Multi-head self-attention per (sequence, head): softmax(scale·QKᵀ)·V with
//! an optional causal mask, its backward pass to [dQ | dK | dV], and the
//! per-head summary of the logits' moments and the softmax entropy. The six
//! products are strided GEMMs (`kernels::gemm`) reading and writing the
//! chunk's q/k/v, probabilities and output buffers in place (no copies); the
//! row-wise softmax, its backward and the summary are `shaders/attention.wgsl`.
//! in_proj and out_proj are ordinary Linear GEMMs of their own.

use crate::gpu::buffers::View;
use crate::gpu::{Gpu, GpuError, Shader};
use crate::kernels::gemm::{Gemm, encode_gemm};

const WG: u32 = 64;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct AttnParams {
    rows: u32,
    heads: u32,
    seq: u32,
    causal: u32,
    flags: u32,
    base: u32,
    pad: [u32; 2],
}

/// The shape of one attention dispatch over a chunk of whole sequences.
#[derive(Debug, Clone, Copy)]
pub struct AttnShape {
    /// Rows of the chunk (a multiple of `seq`).
    pub rows: usize,
    /// Model width (heads · d_head).
    pub width: usize,
    pub heads: usize,
    pub seq: usize,
    pub causal: bool,
    pub scale: f32,
}

/// The per-(sequence, head) products, each one GEMM over strided views.
#[derive(Debug, Clone, Copy)]
enum Product {
    /// probs ← scale·Q·Kᵀ (the logits, before the softmax).
    Logits,
    /// y ← P·V.
    Context,
    /// ds ← dY·Vᵀ (dP, before the softmax backward).
    DProbs,
    /// dV (+)= Pᵀ·dY.
    DValues,
    /// dQ (+)= scale·dS·K.
    DQueries,
    /// dK (+)= scale·dSᵀ·Q.
    DKeys,
}

impl AttnShape {
    fn params(&self, flags: u32, base: u32) -> AttnParams {
        AttnParams {
            rows: self.rows as u32,
            heads: self.heads as u32,
            seq: self.seq as u32,
            causal: u32::from(self.causal),
            flags,
            base,
            pad: [0; 2],
        }
    }

    /// The GEMM of `product` for sequence `sq` of the chunk and head `h`, in
    /// element offsets of the chunk's views: qkv (rows × 3W, head h's q, k,
    /// v at columns h·dh, W + h·dh, 2W + h·dh), y and dy (rows × W), probs
    /// and ds (rows × H·S, head h at columns h·S).
    fn gemm(&self, product: Product, sq: usize, h: usize) -> Gemm {
        let (s, w) = (self.seq, self.width);
        let dh = w / self.heads.max(1);
        let (w3, hs) = (3 * w, self.heads * s);
        let r0 = sq * s;
        let p0 = r0 * hs + h * s;
        let q0 = r0 * w3 + h * dh;
        let (k0, v0, y0) = (q0 + w, q0 + 2 * w, r0 * w + h * dh);
        // (m, n, k, [a_si, a_sp, b_sp, b_sj], a_off, b_off, c_off, c_si, alpha)
        let (m, n, k, st, a, b, c, c_si, alpha) = match product {
            Product::Logits => (s, s, dh, [w3, 1, 1, w3], q0, k0, p0, hs, self.scale),
            Product::Context => (s, dh, s, [hs, 1, w3, 1], p0, v0, y0, w, 1.0),
            Product::DProbs => (s, s, dh, [w, 1, 1, w3], y0, v0, p0, hs, 1.0),
            Product::DValues => (s, dh, s, [1, hs, w, 1], p0, y0, v0, w3, 1.0),
            Product::DQueries => (s, dh, s, [hs, 1, w3, 1], p0, k0, q0, w3, self.scale),
            Product::DKeys => (s, dh, s, [1, hs, w3, 1], p0, q0, k0, w3, self.scale),
        };
        Gemm {
            c_si: c_si as u32,
            a_off: a as u32,
            b_off: b as u32,
            c_off: c as u32,
            alpha,
            ..Gemm::new(m, n, k, st)
        }
    }

    /// Records `product` for every (sequence, head) of the chunk.
    fn products(
        &self,
        gpu: &Gpu,
        enc: &mut wgpu::CommandEncoder,
        product: Product,
        [a, b, c]: [View<'_>; 3],
        accumulate: bool,
    ) -> Result<(), GpuError> {
        for sq in 0..self.rows / self.seq.max(1) {
            for h in 0..self.heads {
                let g = Gemm {
                    accumulate: u32::from(accumulate),
                    ..self.gemm(product, sq, h)
                };
                encode_gemm(gpu, enc, &g, a, b, None, c)?;
            }
        }
        Ok(())
    }

    /// One pass of the row kernel `entry` over every (query, head), binding
    /// probs (and ds) as vec4 arrays when whole rows are vec4s.
    fn rows_pass(
        &self,
        gpu: &Gpu,
        enc: &mut wgpu::CommandEncoder,
        entry: &str,
        probs: View<'_>,
        extra: (u32, wgpu::BindingResource<'_>),
    ) -> Result<(), GpuError> {
        let p = self.params(0, 0);
        let n = self.rows * self.heads;
        if self.seq.is_multiple_of(4) {
            // ds is binding 3 in the scalar kernels and 6 in the vec4 ones.
            let extra = (if extra.0 == 3 { 6 } else { extra.0 }, extra.1);
            let res = [(5, probs.binding()), extra];
            return pass(gpu, enc, &format!("{entry}4"), &p, &res, n);
        }
        pass(gpu, enc, entry, &p, &[(1, probs.binding()), extra], n)
    }
}

/// One pass of `entry` over `n` invocations with the given bindings.
fn pass(
    gpu: &Gpu,
    enc: &mut wgpu::CommandEncoder,
    entry: &str,
    p: &AttnParams,
    res: &[(u32, wgpu::BindingResource<'_>)],
    n: usize,
) -> Result<(), GpuError> {
    let pipe = gpu.pipeline(Shader::Attention, entry, &[("WG", f64::from(WG))], false)?;
    let u = gpu.uniform("attention params", p);
    let mut all = vec![(0, u.as_entire_binding())];
    all.extend(res.iter().cloned());
    let group = gpu.bind_at(&pipe, entry, &all);
    gpu.dispatch_pass(enc, entry, &pipe, &group, (n as u32).div_ceil(WG));
    Ok(())
}

/// The buffers of the forward pass (one chunk of rows each).
pub struct AttnForward<'a> {
    pub qkv: View<'a>,
    /// Written: each query's softmax over its sequence's keys, per head.
    pub probs: View<'a>,
    /// Written: each query's (mean, M2, entropy) of its logits, per head.
    pub stats: View<'a>,
    pub y: View<'a>,
}

/// Records y = softmax(scale·QKᵀ (+ mask))·V per sequence and head.
pub fn encode_forward(
    gpu: &Gpu,
    enc: &mut wgpu::CommandEncoder,
    s: &AttnShape,
    t: &AttnForward<'_>,
) -> Result<(), GpuError> {
    s.products(gpu, enc, Product::Logits, [t.qkv, t.qkv, t.probs], false)?;
    let stats = (2, t.stats.binding());
    s.rows_pass(gpu, enc, "attn_softmax", t.probs, stats)?;
    s.products(gpu, enc, Product::Context, [t.probs, t.qkv, t.y], false)
}

/// The buffers of the backward pass (one chunk of rows each).
pub struct AttnBackward<'a> {
    pub qkv: View<'a>,
    pub probs: View<'a>,
    /// The gradient of the heads' output.
    pub dy: View<'a>,
    /// Workspace: the probabilities' gradient, then the logits' (rows × heads·seq).
    pub ds: View<'a>,
    /// Written (or added to): [dQ | dK | dV].
    pub dqkv: View<'a>,
}

/// Records dqkv (+)= the gradient of [q | k | v] from dy.
pub fn encode_backward(
    gpu: &Gpu,
    enc: &mut wgpu::CommandEncoder,
    s: &AttnShape,
    t: &AttnBackward<'_>,
    accumulate: bool,
) -> Result<(), GpuError> {
    s.products(gpu, enc, Product::DProbs, [t.dy, t.qkv, t.ds], false)?;
    s.rows_pass(gpu, enc, "attn_dsoftmax", t.probs, (3, t.ds.binding()))?;
    let acc = accumulate;
    s.products(gpu, enc, Product::DValues, [t.probs, t.dy, t.dqkv], acc)?;
    s.products(gpu, enc, Product::DQueries, [t.ds, t.qkv, t.dqkv], acc)?;
    s.products(gpu, enc, Product::DKeys, [t.ds, t.qkv, t.dqkv], acc)
}

/// Records the merge of one chunk's per-query statistics (`stats`) into
/// `summary[base + 4h ..]` = [mean, M2, entropy sum, count] of head h's
/// logits (the first chunk overwrites).
pub fn encode_summary(
    gpu: &Gpu,
    enc: &mut wgpu::CommandEncoder,
    s: &AttnShape,
    stats: View<'_>,
    summary: &wgpu::Buffer,
    base: usize,
    first_chunk: bool,
) -> Result<(), GpuError> {
    let p = s.params(u32::from(!first_chunk), base as u32);
    let res = [(2, stats.binding()), (4, summary.as_entire_binding())];
    pass(gpu, enc, "attn_summary", &p, &res, s.heads)
}
