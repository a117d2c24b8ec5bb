//! The panel factorisation of the blocked QR: which kernel of
//! `qr_panel.wgsl` this adapter runs (by how it reduces across a
//! workgroup), how large its workgroup is, and its dispatch.

use super::{NB, Qr, ROWS_PER_INVOCATION};
use crate::gpu::buffers::View;
use crate::gpu::{Gpu, GpuError, Shader};

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct PanelParams {
    nr: u32,
    nb: u32,
    ldo: u32,
    o_off: u32,
    r_off: u32,
    pad: [u32; 3],
}

/// How the panel kernel reduces across its workgroup.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Reduction {
    /// 8-lane subgroups (lavapipe): partials exchanged as vec4 groups.
    Subgroup8,
    /// Subgroups of any size (at least `min_sg` lanes).
    Subgroup { min_sg: usize },
    /// No subgroup operations: a tree in workgroup memory.
    Tree,
}

/// Which panel kernel this adapter runs, and its largest workgroup.
#[derive(Debug, Clone, Copy)]
pub(super) struct PanelKernel {
    reduction: Reduction,
    pub(super) max_wg: usize,
}

impl PanelKernel {
    pub(super) fn of(gpu: &Gpu) -> Option<PanelKernel> {
        let (lo, hi) = (gpu.info.subgroup_min_size, gpu.info.subgroup_max_size);
        let reduction = if !gpu.features.contains(wgpu::Features::SUBGROUP) {
            Reduction::Tree
        } else if lo == 8 && hi == 8 {
            Reduction::Subgroup8
        } else {
            Reduction::Subgroup {
                min_sg: lo.max(1) as usize,
            }
        };
        let l = &gpu.limits;
        let mem = l.max_compute_workgroup_storage_size as usize;
        // Workgroup memory of each reduction: 48 bytes per invocation, 65
        // floats per subgroup, or one vec4 per invocation.
        let by_mem = match reduction {
            Reduction::Subgroup8 => mem.saturating_sub(384) / 48,
            Reduction::Subgroup { min_sg } => mem.saturating_sub(264) / 260 * min_sg,
            Reduction::Tree => mem / 16,
        };
        let cap = (l.max_compute_invocations_per_workgroup as usize)
            .min(l.max_compute_workgroup_size_x as usize)
            .min(by_mem);
        (cap >= 8).then(|| PanelKernel {
            reduction,
            max_wg: 1 << cap.ilog2(),
        })
    }

    /// The workgroup for `nr` rows: 8 or 128 invocations, then powers of
    /// two. Few sizes, because each is a pipeline to compile (0.2–0.3 s on
    /// lavapipe) while extra idle rows cost little on the few narrow panels.
    fn workgroup(&self, nr: usize) -> usize {
        let mut wg = 8;
        while wg * ROWS_PER_INVOCATION < nr && wg * 16 <= self.max_wg {
            wg *= 16;
        }
        while wg * ROWS_PER_INVOCATION < nr && wg * 2 <= self.max_wg {
            wg *= 2;
        }
        wg
    }

    fn pipeline(
        &self,
        gpu: &Gpu,
        nr: usize,
    ) -> Result<std::sync::Arc<wgpu::ComputePipeline>, GpuError> {
        let wg = self.workgroup(nr);
        let base = format!("qr_panel_nb{NB}_r{ROWS_PER_INVOCATION}");
        let c = [("WG", wg as f64)];
        match self.reduction {
            Reduction::Subgroup8 => gpu.pipeline(Shader::QrPanel, &base, &c, false),
            Reduction::Subgroup { min_sg } => {
                let c = [c[0], ("SMAX", (wg / min_sg).max(1) as f64)];
                gpu.pipeline(Shader::QrPanel, &format!("{base}_any"), &c, false)
            }
            Reduction::Tree => {
                let entry = format!("{base}_nosg");
                gpu.pipeline(Shader::QrPanelPortable, &entry, &c, false)
            }
        }
    }
}

impl Qr {
    /// One panel: copy its block into a texture, run the panel kernel.
    pub(super) fn panel(
        &self,
        gpu: &Gpu,
        enc: &mut wgpu::CommandEncoder,
        j0: usize,
        rdiag: View<'_>,
    ) -> Result<(), GpuError> {
        let (nr, ld) = (self.n - j0, self.ld);
        let tex = self.copy_to_texture(gpu, enc, &self.work, j0 * ld + j0, nr, NB)?;
        let pipe = self.kernel.pipeline(gpu, nr)?;
        let p = PanelParams {
            nr: nr as u32,
            nb: NB.min(self.m - j0) as u32,
            ldo: ld as u32,
            o_off: (j0 * ld + j0) as u32,
            r_off: j0 as u32,
            pad: [0; 3],
        };
        let u = gpu.uniform("qr panel params", &p);
        let res = [
            u.as_entire_binding(),
            wgpu::BindingResource::TextureView(&tex),
            self.v.as_entire_binding(),
            self.y.as_entire_binding(),
            rdiag.binding(),
        ];
        let group = gpu.bind(&pipe, "qr panel", &res);
        let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("qr panel"),
            timestamp_writes: None,
        });
        gpu.dispatch(&mut pass, &pipe, &group, 1);
        Ok(())
    }
}
