//! How the subgroup GEMM (`matmul_subgroup.wgsl`, CPU adapters) gets its
//! operands. Its kernels read A and B from rgba32float textures (texel
//! fetches are vectorised on lavapipe; every storage-buffer load is a
//! per-lane loop costing about 30 cycles per float). A texture is filled by a
//! plain buffer-to-texture copy when the operand's rows (or columns) are
//! contiguous with a 256-byte-aligned stride: the kernel then reads the data
//! in the layout it already has ("direct" variants). Otherwise a pack kernel
//! gathers it through the strides. When accumulating, the old C is copied
//! into a texture too, so the store never loads from the storage buffer.

use super::Gemm;
use crate::gpu::buffers::View;
use crate::gpu::{Gpu, GpuError, Shader};
use crate::kernels::scratch::{self, TexSlot};

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct SgParams {
    m: u32,
    n: u32,
    k: u32,
    has_bias: u32,
    a_si: u32,
    a_sp: u32,
    ldb4: u32,
    tiles_n: u32,
    b_sp: u32,
    b_sj: u32,
    /// 0: C = ·; 1: C += · reading C from the buffer; 2: from `ctex`.
    accumulate: u32,
    c_si: u32,
    a_off: u32,
    b_off: u32,
    c_off: u32,
    alpha: f32,
}

/// Columns covered by one subgroup workgroup: 8 lanes × 2 vec4.
const SG_COLS: u32 = 64;

/// Scratch texture slots: B, A and the old C.
const SLOT_B: TexSlot = TexSlot::GemmB;
const SLOT_A: TexSlot = TexSlot::GemmA;
const SLOT_C: TexSlot = TexSlot::GemmC;

/// The kernel shape: rows per workgroup, B in a texture, k unrolled ×4, A in
/// a texture, whether textures may be filled by copies, and whether copies
/// may also feed k-major A and k-contiguous B (two more kernels).
#[derive(Debug, Clone, Copy)]
pub(crate) struct SgShape {
    pub rm: u32,
    pub tex: bool,
    pub ku: u32,
    pub atex: bool,
    pub direct: bool,
    pub transposed: bool,
}

/// A row-major block (`rows` × `cols` starting at element `off` of `v`, row
/// stride `ld`) that one buffer-to-texture copy can place as texel
/// (q, r) = block[r, 4q..4q+3]: 256-byte row pitch, 16-byte aligned start,
/// the whole copied range inside the binding, and within texture limits.
struct Block<'a> {
    v: View<'a>,
    off: u32,
    ld: u32,
    rows: u32,
    cols: u32,
}

impl Block<'_> {
    fn copyable(&self, gpu: &Gpu) -> bool {
        let max = gpu.limits.max_texture_dimension_2d;
        let texels = self.cols.div_ceil(4);
        let pitch = u64::from(self.ld) * 4;
        let start = self.v.offset + u64::from(self.off) * 4;
        let end = start + u64::from(self.rows.max(1) - 1) * pitch + u64::from(texels) * 16;
        let limit = self
            .v
            .size
            .map_or(self.v.buffer.size(), |s| self.v.offset + s);
        self.rows > 0
            && self.cols > 0
            && pitch.is_multiple_of(u64::from(wgpu::COPY_BYTES_PER_ROW_ALIGNMENT))
            && pitch >= u64::from(texels) * 16
            && start.is_multiple_of(16)
            && end <= limit
            && texels <= max
            && self.rows <= max
    }

    /// Records the copy into scratch texture `slot` (at least `min_width`
    /// texels wide) and returns its view.
    fn copy(
        &self,
        gpu: &Gpu,
        enc: &mut wgpu::CommandEncoder,
        slot: TexSlot,
        min_width: u32,
    ) -> Result<wgpu::TextureView, GpuError> {
        let texels = self.cols.div_ceil(4);
        let t = scratch::texture(gpu, slot, texels.max(min_width), self.rows)?;
        enc.copy_buffer_to_texture(
            wgpu::TexelCopyBufferInfo {
                buffer: self.v.buffer,
                layout: wgpu::TexelCopyBufferLayout {
                    offset: self.v.offset + u64::from(self.off) * 4,
                    bytes_per_row: Some(self.ld * 4),
                    rows_per_image: None,
                },
            },
            t.as_image_copy(),
            wgpu::Extent3d {
                width: texels,
                height: self.rows,
                depth_or_array_layers: 1,
            },
        );
        Ok(t.create_view(&Default::default()))
    }
}

/// Records C = alpha·A·B (+ bias) (+ C) with the subgroup kernel.
#[allow(clippy::too_many_arguments)]
pub(crate) fn encode(
    gpu: &Gpu,
    shape: SgShape,
    enc: &mut wgpu::CommandEncoder,
    g: &Gemm,
    [a, b, bias, c]: [View<'_>; 4],
    has_bias: u32,
) -> Result<(), GpuError> {
    let tiles_n = g.n.div_ceil(SG_COLS);
    let p = SgParams {
        m: g.m,
        n: g.n,
        k: g.k,
        has_bias,
        a_si: g.a_si,
        a_sp: g.a_sp,
        ldb4: tiles_n * SG_COLS / 4,
        tiles_n,
        b_sp: g.b_sp,
        b_sj: g.b_sj,
        accumulate: g.accumulate,
        c_si: g.c_si,
        a_off: g.a_off,
        b_off: g.b_off,
        c_off: g.c_off,
        alpha: g.alpha,
    };
    let max_dim = gpu.limits.max_texture_dimension_2d;
    let fits = g.k <= max_dim && p.ldb4 <= max_dim && g.m <= max_dim && g.k.div_ceil(4) <= max_dim;
    if shape.direct && shape.tex && (shape.rm == 16 || shape.rm == 32) && fits {
        return encode_direct(gpu, shape, enc, p, [a, b, bias, c]);
    }
    encode_packed(gpu, shape, enc, p, [a, b, bias, c])
}

/// One bind-group entry list plus the pack dispatches to run before the GEMM.
struct Plan<'a> {
    res: Vec<(u32, wgpu::BindingResource<'a>)>,
    packs: Vec<(std::sync::Arc<wgpu::ComputePipeline>, wgpu::BindGroup, u32)>,
}

impl Plan<'_> {
    fn pack(
        &mut self,
        gpu: &Gpu,
        entry: &str,
        bind: &[(u32, wgpu::BindingResource<'_>)],
        texels: u32,
    ) -> Result<(), GpuError> {
        let pipe = gpu.pipeline(Shader::MatmulSubgroup, entry, &[], false)?;
        let group = gpu.bind_at(&pipe, entry, bind);
        self.packs.push((pipe, group, texels.div_ceil(64)));
        Ok(())
    }

    fn run(
        &self,
        gpu: &Gpu,
        enc: &mut wgpu::CommandEncoder,
        entry: &str,
        groups: u32,
    ) -> Result<(), GpuError> {
        let gemm = gpu.pipeline(Shader::MatmulSubgroup, entry, &[], false)?;
        let group = gpu.bind_at(&gemm, entry, &self.res);
        let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("gemm_sg"),
            timestamp_writes: None,
        });
        for (pipe, g, n) in &self.packs {
            gpu.dispatch(&mut pass, pipe, g, *n);
        }
        gpu.dispatch(&mut pass, &gemm, &group, groups);
        Ok(())
    }
}

/// Textures filled by copies where the layout allows, by pack kernels otherwise.
fn encode_direct(
    gpu: &Gpu,
    SgShape { rm, transposed, .. }: SgShape,
    enc: &mut wgpu::CommandEncoder,
    mut p: SgParams,
    [a, b, bias, c]: [View<'_>; 4],
) -> Result<(), GpuError> {
    let blk = |v, off, ld, rows, cols| Block {
        v,
        off,
        ld,
        rows,
        cols,
    };
    // The kernel reads B texels up to ldb4 and clamps A rows/columns.
    let a_rows = blk(a, p.a_off, p.a_si, p.m, p.k);
    let a_cols = blk(a, p.a_off, p.a_sp, p.k, p.m);
    let (alay, a_view) = if p.a_sp == 1 && a_rows.copyable(gpu) {
        ('r', Some(a_rows.copy(gpu, enc, SLOT_A, 1)?))
    } else if transposed && p.a_si == 1 && a_cols.copyable(gpu) {
        ('k', Some(a_cols.copy(gpu, enc, SLOT_A, 1)?))
    } else {
        ('r', None)
    };
    let b_rows = blk(b, p.b_off, p.b_sp, p.k, p.n);
    let b_cols = blk(b, p.b_off, p.b_sj, p.n, p.k);
    let (blay, b_view) = if p.b_sj == 1 && b_rows.copyable(gpu) {
        ('n', Some(b_rows.copy(gpu, enc, SLOT_B, p.ldb4)?))
    } else if transposed && p.b_sp == 1 && b_cols.copyable(gpu) {
        ('c', Some(b_cols.copy(gpu, enc, SLOT_B, 1)?))
    } else {
        ('n', None)
    };
    let c_old = blk(c, p.c_off, p.c_si, p.m, p.n);
    let c_view = if p.accumulate == 1 && c_old.copyable(gpu) {
        p.accumulate = 2;
        c_old.copy(gpu, enc, SLOT_C, p.ldb4)?
    } else {
        scratch::texture_view(gpu, SLOT_C, 1, 1)?
    };
    let u = gpu.uniform("gemm_sg params", &p);
    let ub = u.as_entire_binding();
    let (a_packed, b_packed) = (a_view.is_none(), b_view.is_none());
    let a_view = match a_view {
        Some(v) => v,
        None => scratch::texture_view(gpu, SLOT_A, p.k.div_ceil(4), p.m)?,
    };
    let b_view = match b_view {
        Some(v) => v,
        None => scratch::texture_view(gpu, SLOT_B, p.ldb4, p.k)?,
    };
    let at = wgpu::BindingResource::TextureView(&a_view);
    let bt = wgpu::BindingResource::TextureView(&b_view);
    let mut plan = Plan {
        res: vec![
            (0, ub.clone()),
            (3, bias.binding()),
            (4, c.binding()),
            (7, bt.clone()),
            (9, at.clone()),
            (11, wgpu::BindingResource::TextureView(&c_view)),
        ],
        packs: Vec::new(),
    };
    if b_packed {
        let bind = [(0, ub.clone()), (5, b.binding()), (8, bt)];
        plan.pack(gpu, "pack_b_tex", &bind, p.k * p.ldb4)?;
    }
    if a_packed {
        let bind = [(0, ub.clone()), (1, a.binding()), (10, at)];
        plan.pack(gpu, "pack_a_tex", &bind, p.m * p.k.div_ceil(4))?;
    }
    let entry = match (alay, blay) {
        ('r', 'n') => format!("gemm_sg{rm}_tex_k4_at"),
        _ => format!("gemm_sg{rm}_k4_{alay}{blay}"),
    };
    plan.run(gpu, enc, &entry, p.m.div_ceil(rm) * p.tiles_n)
}

/// The packed paths: B packed into a texture or vec4 rows, A read from its
/// buffer or packed into a texture.
fn encode_packed(
    gpu: &Gpu,
    SgShape {
        rm, tex, ku, atex, ..
    }: SgShape,
    enc: &mut wgpu::CommandEncoder,
    p: SgParams,
    [a, b, bias, c]: [View<'_>; 4],
) -> Result<(), GpuError> {
    // Textures cannot be larger than the adapter allows: fall back to buffers.
    let max_dim = gpu.limits.max_texture_dimension_2d;
    let tex = tex && p.k <= max_dim && p.ldb4 <= max_dim;
    // k-unrolled kernels exist for the texture path (rm 16 and 32, and rm 8,
    // 16, 24, 32 with A in a texture too).
    let atex = tex && ku == 4 && atex && p.m <= max_dim && p.k.div_ceil(4) <= max_dim;
    let ku = if tex && ku == 4 && (atex || rm == 16 || rm == 32) {
        4
    } else {
        1
    };
    // rm = 24 exists only with A in a texture.
    let rm = if rm == 24 && !atex { 16 } else { rm };
    let entry = format!(
        "gemm_sg{rm}{}{}{}",
        if tex { "_tex" } else { "" },
        if ku == 4 { "_k4" } else { "" },
        if atex { "_at" } else { "" }
    );
    let u = gpu.uniform("gemm_sg params", &p);
    let ub = u.as_entire_binding();
    let c_view = scratch::texture_view(gpu, SLOT_C, 1, 1)?;
    let mut plan = Plan {
        res: vec![
            (0, ub.clone()),
            (3, bias.binding()),
            (4, c.binding()),
            (11, wgpu::BindingResource::TextureView(&c_view)),
        ],
        packs: Vec::new(),
    };
    let (b_view, b_buf);
    if tex {
        b_view = scratch::texture_view(gpu, SLOT_B, p.ldb4, p.k)?;
        let out = wgpu::BindingResource::TextureView(&b_view);
        let bind = [(0, ub.clone()), (5, b.binding()), (8, out.clone())];
        plan.pack(gpu, "pack_b_tex", &bind, p.k * p.ldb4)?;
        plan.res.push((7, out));
    } else {
        b_buf = gpu.scratch("packed B", u64::from(p.k) * u64::from(p.ldb4) * 16)?;
        let out = b_buf.as_entire_binding();
        let bind = [(0, ub.clone()), (5, b.binding()), (6, out.clone())];
        plan.pack(gpu, "pack_b", &bind, p.k * p.ldb4)?;
        plan.res.push((2, out));
    }
    let a_view;
    if atex {
        a_view = scratch::texture_view(gpu, SLOT_A, p.k.div_ceil(4), p.m)?;
        let out = wgpu::BindingResource::TextureView(&a_view);
        let bind = [(0, ub.clone()), (1, a.binding()), (10, out.clone())];
        plan.pack(gpu, "pack_a_tex", &bind, p.m * p.k.div_ceil(4))?;
        plan.res.push((9, out));
    } else {
        plan.res.push((1, a.binding()));
    }
    plan.run(gpu, enc, &entry, p.m.div_ceil(rm) * p.tiles_n)
}
