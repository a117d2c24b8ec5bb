//! GEMM in the three orientations of a linear layer, with kernel variants
//! chosen per adapter: a barrier-free subgroup-broadcast kernel for CPU
//! adapters (lavapipe), a shared-memory tiled kernel for real GPUs, and a
//! portable register-blocked kernel that runs everywhere.

use crate::gpu::buffers::View;
use crate::gpu::{Gpu, GpuError, Shader, Warm};
use serde::{Deserialize, Serialize};

// The subgroup kernel's operand feeding (copies or packs) lives beside this
// file; it moves with it.
#[path = "gemm_subgroup.rs"]
mod subgroup;

/// GEMM shape and strides: C (m × n) = alpha·A·B (+ bias) (+ C when
/// accumulating), with A(i, p) = a[a_off + i·a_si + p·a_sp],
/// B(p, j) = b[b_off + p·b_sp + j·b_sj] and C(i, j) = c[c_off + i·c_si + j].
/// The constructors give alpha = 1, no offsets and c_si = n.
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
    /// 1: C += alpha·A·B (dW accumulated over batch chunks).
    pub accumulate: u32,
    /// Row stride of C, in elements.
    pub c_si: u32,
    /// Element offsets of A, B and C inside their bindings (sub-blocks).
    pub a_off: u32,
    pub b_off: u32,
    pub c_off: u32,
    /// Scale of the product (−1 with `accumulate`: C −= A·B).
    pub alpha: f32,
    pub pad: u32,
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
            c_si: n as u32,
            a_off: 0,
            b_off: 0,
            c_off: 0,
            alpha: 1.0,
            pad: 0,
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
        /// Fill the textures with buffer-to-texture copies where the operand
        /// layout allows (no pack kernels; rm 16 or 32, `tex`).
        #[serde(default)]
        direct: bool,
        /// With `direct`, also copy k-major A (Aᵀ of a row-major matrix) and
        /// k-contiguous B (Wᵀ): two more kernels, about 1 s each to compile
        /// on lavapipe, which pays off only over many GEMMs.
        #[serde(default)]
        transposed: bool,
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
                    direct: false,
                    transposed: false,
                }));
            }
            v.extend([16, 32].map(|rm| GemmVariant::Subgroup {
                rm,
                tex: true,
                ku: 4,
                atex: false,
                direct: false,
                transposed: false,
            }));
            v.extend([8, 16, 24, 32].map(|rm| GemmVariant::Subgroup {
                rm,
                tex: true,
                ku: 4,
                atex: true,
                direct: false,
                transposed: false,
            }));
            for transposed in [false, true] {
                v.extend([16, 32].map(|rm| GemmVariant::Subgroup {
                    rm,
                    tex: true,
                    ku: 4,
                    atex: true,
                    direct: true,
                    transposed,
                }));
            }
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
                    direct: true,
                    transposed: false,
                }
            } else {
                GemmVariant::Simple { wg: 64 }
            }
        } else {
            GemmVariant::Tiled { tk: 16 }
        }
    }

    /// This variant, reading transposed operands through buffer-to-texture
    /// copies where it can (the subgroup kernel's `transposed` form) instead
    /// of a gather kernel. The QR's GEMMs, whose Yᵀ and Vᵀ operands are
    /// each read once, are about 8% faster so on lavapipe.
    pub fn copying_transposes(self) -> GemmVariant {
        match self {
            GemmVariant::Subgroup {
                rm,
                tex,
                ku,
                atex,
                direct: true,
                ..
            } => GemmVariant::Subgroup {
                rm,
                tex,
                ku,
                atex,
                direct: true,
                transposed: true,
            },
            other => other,
        }
    }

    /// The large pipelines this variant compiles for operands in the
    /// given layouts ('r'/'k' for A, 'n'/'c' for B: see
    /// `gemm_subgroup::encode_direct`), to compile ahead ([`Gpu::prewarm_while`]).
    /// Only the subgroup kernels are worth it (0.2 s each on lavapipe).
    pub fn warm(&self, layouts: &[(char, char)]) -> Vec<Warm> {
        let GemmVariant::Subgroup {
            rm, direct: true, ..
        } = *self
        else {
            return Vec::new();
        };
        layouts
            .iter()
            .map(|l| match l {
                ('r', 'n') => format!("gemm_sg{rm}_tex_k4_at"),
                (a, b) => format!("gemm_sg{rm}_k4_{a}{b}"),
            })
            .map(|entry| Warm {
                shader: Shader::MatmulSubgroup,
                entry,
                constants: Vec::new(),
            })
            .collect()
    }

    /// A short name for tables ("subgroup(rm=32)").
    pub fn describe(&self) -> String {
        match self {
            GemmVariant::Simple { wg } => format!("simple(wg={wg})"),
            GemmVariant::Subgroup {
                rm,
                tex,
                ku,
                atex,
                direct,
                transposed,
            } => format!(
                "subgroup(rm={rm}, {}{}, k×{ku}{})",
                if *tex { "texture" } else { "buffer" },
                if *atex { "+A texture" } else { "" },
                match (direct, transposed) {
                    (true, true) => ", copied, transposed",
                    (true, false) => ", copied",
                    _ => "",
                }
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
        GemmVariant::Subgroup {
            rm,
            tex,
            ku,
            atex,
            direct,
            transposed,
        } => subgroup::encode(
            gpu,
            subgroup::SgShape {
                rm,
                tex,
                ku,
                atex,
                direct,
                transposed,
            },
            enc,
            g,
            [a, b, bias_buf, c],
            has_bias,
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
