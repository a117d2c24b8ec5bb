//! GEMM in the three orientations of a linear layer, with kernel variants
//! chosen per adapter: a barrier-free subgroup-broadcast kernel for CPU
//! adapters (lavapipe), a shared-memory tiled kernel for real GPUs, and a
//! portable register-blocked kernel that runs everywhere.

use crate::gpu::buffers::View;
use crate::gpu::{Gpu, GpuError, Shader};
use serde::{Deserialize, Serialize};

/// GEMM shape and strides: C (m × n, row-major) = A·B (+ bias), with
/// A(i, p) = a[i·a_si + p·a_sp] and B(p, j) = b[p·b_sp + j·b_sj].
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Gemm {
    pub m: u32,
    pub n: u32,
    pub k: u32,
    pub has_bias: u32,
    pub a_si: u32,
    pub a_sp: u32,
    pub b_sp: u32,
    pub b_sj: u32,
    pub tiles_n: u32,
    /// 1: C += A·B (dW accumulated over batch chunks).
    pub accumulate: u32,
    pub pad: [u32; 2],
}

impl Gemm {
    /// A general GEMM from its strides `[a_si, a_sp, b_sp, b_sj]`.
    pub fn new(m: usize, n: usize, k: usize, strides: [usize; 4]) -> Gemm {
        let [a_si, a_sp, b_sp, b_sj] = strides.map(|s| s as u32);
        Gemm {
            m: m as u32,
            n: n as u32,
            k: k as u32,
            has_bias: 0,
            a_si,
            a_sp,
            b_sp,
            b_sj,
            tiles_n: 0,
            accumulate: 0,
            pad: [0; 2],
        }
    }
    /// H (batch × out) = X (batch × in) · Wᵀ, W (out × in).
    pub fn forward(batch: usize, fan_in: usize, fan_out: usize) -> Gemm {
        Gemm::new(batch, fan_out, fan_in, [fan_in, 1, 1, fan_in])
    }
    /// dX (batch × in) = dH (batch × out) · W (out × in).
    pub fn backward_data(batch: usize, fan_in: usize, fan_out: usize) -> Gemm {
        Gemm::new(batch, fan_in, fan_out, [fan_out, 1, fan_in, 1])
    }
    /// dW (out × in) = dHᵀ (out × batch) · X (batch × in).
    pub fn backward_weight(batch: usize, fan_in: usize, fan_out: usize) -> Gemm {
        Gemm::new(fan_out, fan_in, batch, [1, fan_out, fan_in, 1])
    }
    /// Floating-point operations (2·m·n·k).
    pub fn flops(&self) -> f64 {
        2.0 * f64::from(self.m) * f64::from(self.n) * f64::from(self.k)
    }
}

/// A GEMM kernel and its override constants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kernel", rename_all = "snake_case")]
pub enum GemmVariant {
    /// `matmul.wgsl`: 4×4 register blocks, `wg` invocations, no workgroup memory.
    Simple { wg: u32 },
    /// `matmul_subgroup.wgsl`: one 8-lane subgroup per workgroup, `rm` rows × 8
    /// columns per lane, A shared by subgroupBroadcast, B packed into vec4 rows
    /// of a storage buffer or (`tex`) an rgba32float texture; the k loop is
    /// unrolled `ku` times (1 or 4).
    Subgroup {
        rm: u32,
        tex: bool,
        ku: u32,
        /// A packed into a texture too (4 k-steps per load; needs `tex` and `ku` = 4).
        #[serde(default)]
        atex: bool,
    },
    /// `matmul_tiled.wgsl`: 64×64 tiles staged in workgroup memory, depth `tk`.
    Tiled { tk: u32 },
}

impl GemmVariant {
    /// Every candidate the tuner tries on an adapter with these features.
    pub fn candidates(gpu: &Gpu) -> Vec<GemmVariant> {
        let mut v = vec![
            GemmVariant::Simple { wg: 64 },
            GemmVariant::Simple { wg: 16 },
        ];
        if subgroup_ok(gpu) {
            for rm in [8, 16, 32] {
                v.extend([false, true].map(|tex| GemmVariant::Subgroup {
                    rm,
                    tex,
                    ku: 1,
                    atex: false,
                }));
            }
            v.extend([16, 32].map(|rm| GemmVariant::Subgroup {
                rm,
                tex: true,
                ku: 4,
                atex: false,
            }));
            v.extend([8, 16, 24, 32].map(|rm| GemmVariant::Subgroup {
                rm,
                tex: true,
                ku: 4,
                atex: true,
            }));
        }
        v.extend([8, 16].map(|tk| GemmVariant::Tiled { tk }));
        v
    }

    /// The default for an adapter type, before any tuning: lavapipe punishes
    /// barriers and rewards sharing loads across a subgroup; real GPUs need
    /// shared-memory tiling.
    pub fn default_for(gpu: &Gpu) -> GemmVariant {
        if gpu.info.device_type == wgpu::DeviceType::Cpu {
            if subgroup_ok(gpu) {
                GemmVariant::Subgroup {
                    rm: 16,
                    tex: true,
                    ku: 4,
                    atex: true,
                }
            } else {
                GemmVariant::Simple { wg: 64 }
            }
        } else {
            GemmVariant::Tiled { tk: 16 }
        }
    }

    /// A short name for tables ("subgroup(rm=32)").
    pub fn describe(&self) -> String {
        match self {
            GemmVariant::Simple { wg } => format!("simple(wg={wg})"),
            GemmVariant::Subgroup { rm, tex, ku, atex } => format!(
                "subgroup(rm={rm}, {}{}, k×{ku})",
                if *tex { "texture" } else { "buffer" },
                if *atex { "+A texture" } else { "" }
            ),
            GemmVariant::Tiled { tk } => format!("tiled(64x64, tk={tk})"),
        }
    }
}

/// The subgroup kernel needs SUBGROUP and exactly 8-lane subgroups.
fn subgroup_ok(gpu: &Gpu) -> bool {
    gpu.features.contains(wgpu::Features::SUBGROUP)
        && gpu.info.subgroup_min_size == 8
        && gpu.info.subgroup_max_size == 8
}

/// Records C = A·B (+ bias) with the adapter's chosen variant.
pub fn encode_gemm<'a>(
    gpu: &Gpu,
    enc: &mut wgpu::CommandEncoder,
    g: &Gemm,
    a: impl Into<View<'a>>,
    b: impl Into<View<'a>>,
    bias: Option<View<'a>>,
    c: impl Into<View<'a>>,
) -> Result<(), GpuError> {
    encode_gemm_with(
        gpu,
        gpu.gemm_variant(),
        enc,
        g,
        a.into(),
        b.into(),
        bias,
        c.into(),
    )
}

/// Records C = A·B (+ bias) with an explicit variant.
#[allow(clippy::too_many_arguments)]
pub fn encode_gemm_with<'a>(
    gpu: &Gpu,
    variant: GemmVariant,
    enc: &mut wgpu::CommandEncoder,
    g: &Gemm,
    a: impl Into<View<'a>>,
    b: impl Into<View<'a>>,
    bias: Option<View<'a>>,
    c: impl Into<View<'a>>,
) -> Result<(), GpuError> {
    let (a, b, c) = (a.into(), b.into(), c.into());
    // Without a bias the binding still needs a buffer; it is never read then.
    let bias_buf = bias.unwrap_or(a);
    let has_bias = u32::from(bias.is_some());
    match variant {
        GemmVariant::Simple { wg } => {
            let pipe = gpu.pipeline(Shader::Matmul, "gemm", &[("WG", f64::from(wg))], false)?;
            let p = Gemm {
                has_bias,
                tiles_n: g.n.div_ceil(4),
                ..*g
            };
            let groups = (g.m.div_ceil(4) * p.tiles_n).div_ceil(wg);
            encode_strided(gpu, enc, &pipe, &p, [a, b, bias_buf, c], groups);
        }
        GemmVariant::Tiled { tk } => {
            let pipe = gpu.pipeline(
                Shader::MatmulTiled,
                "gemm_tiled",
                &[("TK", f64::from(tk))],
                false,
            )?;
            let p = Gemm {
                has_bias,
                tiles_n: g.n.div_ceil(64),
                ..*g
            };
            let groups = g.m.div_ceil(64) * p.tiles_n;
            encode_strided(gpu, enc, &pipe, &p, [a, b, bias_buf, c], groups);
        }
        GemmVariant::Subgroup { rm, tex, ku, atex } => encode_subgroup(
            gpu,
            (rm, tex, ku, atex),
            enc,
            g,
            a,
            b,
            bias_buf,
            has_bias,
            c,
        )?,
    }
    Ok(())
}

/// Records one dispatch of a kernel that reads A and B through their strides
/// (`matmul.wgsl`, `matmul_tiled.wgsl`: bindings params, a, b, bias, c).
fn encode_strided(
    gpu: &Gpu,
    enc: &mut wgpu::CommandEncoder,
    pipe: &wgpu::ComputePipeline,
    p: &Gemm,
    [a, b, bias, c]: [View<'_>; 4],
    groups: u32,
) {
    let u = gpu.uniform("gemm params", p);
    let res = [
        u.as_entire_binding(),
        a.binding(),
        b.binding(),
        bias.binding(),
        c.binding(),
    ];
    let group = gpu.bind(pipe, "gemm", &res);
    let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
        label: Some("gemm"),
        timestamp_writes: None,
    });
    gpu.dispatch(&mut pass, pipe, &group, groups);
}

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
    accumulate: u32,
    pad: u32,
}

/// Columns covered by one subgroup workgroup: 8 lanes × 2 vec4.
const SG_COLS: u32 = 64;

#[allow(clippy::too_many_arguments)]
fn encode_subgroup(
    gpu: &Gpu,
    (rm, tex, ku, atex): (u32, bool, u32, bool),
    enc: &mut wgpu::CommandEncoder,
    g: &Gemm,
    a: View<'_>,
    b: View<'_>,
    bias: View<'_>,
    has_bias: u32,
    c: View<'_>,
) -> Result<(), GpuError> {
    let tiles_n = g.n.div_ceil(SG_COLS);
    let ldb4 = tiles_n * SG_COLS / 4;
    let p = SgParams {
        m: g.m,
        n: g.n,
        k: g.k,
        has_bias,
        a_si: g.a_si,
        a_sp: g.a_sp,
        ldb4,
        tiles_n,
        b_sp: g.b_sp,
        b_sj: g.b_sj,
        accumulate: g.accumulate,
        pad: 0,
    };
    // Textures cannot be larger than the adapter allows: fall back to buffers.
    let max_dim = gpu.limits.max_texture_dimension_2d;
    let tex = tex && g.k <= max_dim && ldb4 <= max_dim;
    // k-unrolled kernels exist for the texture path (rm 16 and 32, and rm 8,
    // 16, 24, 32 with A in a texture too).
    let atex = tex && ku == 4 && atex && g.m <= max_dim && g.k.div_ceil(4) <= max_dim;
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
    let gemm = gpu.pipeline(Shader::MatmulSubgroup, &entry, &[], false)?;
    let u = gpu.uniform("gemm_sg params", &p);
    let ub = u.as_entire_binding();
    let mut packs = Vec::new();
    let mut pack = |entry: &str, bind: &[(u32, wgpu::BindingResource<'_>)], texels: u32| {
        let pipe = gpu.pipeline(Shader::MatmulSubgroup, entry, &[], false)?;
        let group = gpu.bind_at(&pipe, entry, bind);
        packs.push((pipe, group, texels.div_ceil(64)));
        Ok::<(), GpuError>(())
    };
    let mut res = vec![(0, ub.clone()), (3, bias.binding()), (4, c.binding())];
    let (b_view, b_buf);
    if tex {
        b_view = gpu.scratch_texture(0, ldb4, g.k)?;
        let out = wgpu::BindingResource::TextureView(&b_view);
        pack(
            "pack_b_tex",
            &[(0, ub.clone()), (5, b.binding()), (8, out.clone())],
            g.k * ldb4,
        )?;
        res.push((7, out));
    } else {
        b_buf = gpu.scratch("packed B", u64::from(g.k) * u64::from(ldb4) * 16)?;
        let out = b_buf.as_entire_binding();
        pack(
            "pack_b",
            &[(0, ub.clone()), (5, b.binding()), (6, out.clone())],
            g.k * ldb4,
        )?;
        res.push((2, out));
    }
    let a_view;
    if atex {
        let lda4 = g.k.div_ceil(4);
        a_view = gpu.scratch_texture(1, lda4, g.m)?;
        let out = wgpu::BindingResource::TextureView(&a_view);
        pack(
            "pack_a_tex",
            &[(0, ub.clone()), (1, a.binding()), (10, out.clone())],
            g.m * lda4,
        )?;
        res.push((9, out));
    } else {
        res.push((1, a.binding()));
    }
    let g_gemm = gpu.bind_at(&gemm, &entry, &res);
    let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
        label: Some("gemm_sg"),
        timestamp_writes: None,
    });
    for (pipe, group, n) in &packs {
        gpu.dispatch(&mut pass, pipe, group, *n);
    }
    gpu.dispatch(&mut pass, &gemm, &g_gemm, g.m.div_ceil(rm) * tiles_n);
    Ok(())
}

impl Gpu {
    /// The GEMM kernel used on this adapter: the one set explicitly (the
    /// tuner's cached choice, a test's or a benchmark's), else the adapter
    /// type's default.
    pub fn gemm_variant(&self) -> GemmVariant {
        self.state(|| GemmVariant::default_for(self))
    }

    /// Sets the GEMM kernel of this adapter.
    pub fn set_gemm_variant(&self, v: GemmVariant) {
        self.set_state(v);
    }
}
