//! The attention kernels (`shaders/attention.wgsl`): per (sequence, head)
//! softmax(scale·QKᵀ)·V with an optional causal mask, its backward pass to
//! [dQ | dK | dV], and the per-head summary of the logits' moments and the
//! softmax entropy. in_proj and out_proj are ordinary GEMMs (`kernels::gemm`).

use crate::gpu::buffers::View;
use crate::gpu::{Gpu, GpuError, Shader};

const WG: u32 = 64;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct AttnParams {
    rows: u32,
    width: u32,
    heads: u32,
    dh: u32,
    seq: u32,
    causal: u32,
    scale: f32,
    flags: u32,
    base: u32,
    pad: [u32; 3],
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

impl AttnShape {
    /// Whether the vec4 kernels apply (d_head a multiple of 4).
    fn vec4(&self) -> bool {
        (self.width / self.heads.max(1)).is_multiple_of(4)
    }

    fn params(&self, flags: u32, base: u32) -> AttnParams {
        AttnParams {
            rows: self.rows as u32,
            width: self.width as u32,
            heads: self.heads as u32,
            dh: (self.width / self.heads.max(1)) as u32,
            seq: self.seq as u32,
            causal: u32::from(self.causal),
            scale: self.scale,
            flags,
            base,
            pad: [0; 3],
        }
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
    let p = s.params(0, 0);
    if s.vec4() {
        let res = [
            (11, t.qkv.binding()),
            (2, t.probs.binding()),
            (3, t.stats.binding()),
        ];
        pass(gpu, enc, "attn_probs4", &p, &res, s.rows * s.heads)?;
        let res = [
            (11, t.qkv.binding()),
            (2, t.probs.binding()),
            (12, t.y.binding()),
        ];
        return pass(gpu, enc, "attn_pv4", &p, &res, s.rows * s.width / 4);
    }
    let res = [
        (1, t.qkv.binding()),
        (2, t.probs.binding()),
        (3, t.stats.binding()),
    ];
    pass(gpu, enc, "attn_probs", &p, &res, s.rows * s.heads)?;
    let res = [
        (1, t.qkv.binding()),
        (2, t.probs.binding()),
        (4, t.y.binding()),
    ];
    pass(gpu, enc, "attn_pv", &p, &res, s.rows * s.width)
}

/// The buffers of the backward pass (one chunk of rows each).
pub struct AttnBackward<'a> {
    pub qkv: View<'a>,
    pub probs: View<'a>,
    /// The gradient of the heads' output.
    pub dy: View<'a>,
    /// Workspace: the logits' gradient (rows × heads·seq).
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
    let p = s.params(u32::from(accumulate), 0);
    // The vec4 kernels bind q/k/v, dy and dqkv as vec4 arrays of their own.
    let (qkv, dy, dqkv, n, sfx) = if s.vec4() {
        (11, 13, 14, 4, "4")
    } else {
        (1, 6, 8, 1, "")
    };
    let res = [
        (qkv, t.qkv.binding()),
        (2, t.probs.binding()),
        (dy, t.dy.binding()),
        (7, t.ds.binding()),
    ];
    let entry = format!("attn_dscores{sfx}");
    pass(gpu, enc, &entry, &p, &res, s.rows * s.heads)?;
    let res = [
        (qkv, t.qkv.binding()),
        (2, t.probs.binding()),
        (dy, t.dy.binding()),
        (7, t.ds.binding()),
        (dqkv, t.dqkv.binding()),
    ];
    let entry = format!("attn_dqkv{sfx}");
    pass(gpu, enc, &entry, &p, &res, s.rows * 3 * s.width / n)
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
    let res = [(3, stats.binding()), (9, summary.as_entire_binding())];
    pass(gpu, enc, "attn_summary", &p, &res, s.heads)
}
