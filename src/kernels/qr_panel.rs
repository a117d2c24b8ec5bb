//! The panel factorisation of the blocked QR: which kernel of
//! `qr_panel.wgsl` this adapter runs (by how it reduces across a
//! workgroup), how large its workgroup is, its dispatch (one panel, or the
//! same panel of two QRs at once), the factorisation's panel loop, and the
//! pipelines a QR compiles (to compile ahead: `Gpu::prewarm_while`).

use super::{NB, NB2, Qr, ROWS_PER_INVOCATION};
use crate::gpu::buffers::View;
use crate::gpu::{Gpu, GpuError, Shader, Warm};
use crate::kernels::scratch::TexSlot;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct PanelParams {
    nr: u32,
    nb: u32,
    ldo: u32,
    o_off: u32,
    r_off: u32,
    tex_rows: u32,
    pad: [u32; 2],
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

    /// The workgroup for `nr` rows: 8, 64 or 128 invocations, then powers
    /// of two. Few sizes, because each is a pipeline to compile (about 4 s
    /// cold on lavapipe), but not too many idle rows either: the kernel's
    /// cross-subgroup reductions cost in proportion to the workgroup, so
    /// 64 for the panels of 65..512 rows makes a 1024 QR's panels ~25%
    /// cheaper than 128 did.
    fn workgroup(&self, nr: usize) -> usize {
        let mut wg = 8;
        for step in [8, 2] {
            if wg * ROWS_PER_INVOCATION < nr && wg * step <= self.max_wg {
                wg *= step;
            }
        }
        while wg * ROWS_PER_INVOCATION < nr && wg * 2 <= self.max_wg {
            wg *= 2;
        }
        wg
    }

    /// The panel kernel for `nr` rows: shader, entry and constants.
    pub(super) fn warm(&self, nr: usize) -> Warm {
        let wg_n = self.workgroup(nr);
        let wg = wg_n as f64;
        let base = format!("qr_panel_nb{NB}_r{ROWS_PER_INVOCATION}");
        let (shader, entry, constants) = match self.reduction {
            Reduction::Subgroup8 => (Shader::QrPanel, base, vec![("WG", wg)]),
            Reduction::Subgroup { min_sg } => {
                let smax = (wg_n / min_sg).max(1) as f64;
                (
                    Shader::QrPanel,
                    format!("{base}_any"),
                    vec![("WG", wg), ("SMAX", smax)],
                )
            }
            Reduction::Tree => (
                Shader::QrPanelPortable,
                format!("{base}_nosg"),
                vec![("WG", wg)],
            ),
        };
        Warm {
            shader,
            entry,
            constants,
        }
    }

    fn pipeline(
        &self,
        gpu: &Gpu,
        nr: usize,
    ) -> Result<std::sync::Arc<wgpu::ComputePipeline>, GpuError> {
        let w = self.warm(nr);
        gpu.pipeline(w.shader, &w.entry, &w.constants, false)
    }
}

impl Qr {
    /// The large pipelines a QR of n × m compiles (with repeats: a compiled
    /// one costs a lookup), in the order a second thread should compile
    /// them ([`Gpu::prewarm_while`]): the GEMMs, then the panel kernels from
    /// the last (smallest) panel up, while the first thread starts with the
    /// first panel.
    pub fn warm_list(gpu: &Gpu, n: usize, m: usize) -> Vec<Warm> {
        let mut v = gpu
            .gemm_variant()
            .copying_transposes()
            .warm(&[('r', 'n'), ('k', 'n')]);
        let max_dim = gpu.limits.max_texture_dimension_2d as usize;
        let fits = |k: &PanelKernel| n <= (ROWS_PER_INVOCATION * k.max_wg).min(max_dim);
        if let Some(k) = PanelKernel::of(gpu).filter(fits) {
            v.extend((0..m.min(n)).step_by(NB).rev().map(|j0| k.warm(n - j0)));
        }
        v
    }

    /// Factors one QR, or two of the same shape with each panel of both
    /// in one dispatch (`orthogonal::encode_pair`); every other step runs per QR,
    /// exactly as alone.
    pub(crate) fn factor_all(
        gpu: &Gpu,
        enc: &mut wgpu::CommandEncoder,
        items: &[(&Qr, View<'_>)],
    ) -> Result<(), GpuError> {
        let m = items[0].0.m;
        for (qr, _) in items {
            // Merging reads Y's rows above each panel: zeros, not the last
            // factorisation's.
            enc.clear_buffer(&qr.y, 0, None);
        }
        for b0 in (0..m).step_by(NB2) {
            let end = (b0 + NB2).min(m);
            for j0 in (b0..end).step_by(NB) {
                Qr::panel(gpu, enc, items, j0)?;
                for (qr, _) in items {
                    if j0 + NB < end {
                        // The rest of the block with this panel's own Y.
                        let bufs = [&qr.y, &qr.v, &qr.work];
                        qr.apply(gpu, enc, bufs, [j0, NB], [j0 + NB, end])?;
                    }
                    qr.merge(gpu, enc, b0, j0)?;
                }
            }
            if end < m {
                let k = (end - b0).next_multiple_of(NB);
                for (qr, _) in items {
                    let bufs = [&qr.yb, &qr.v, &qr.work];
                    qr.apply(gpu, enc, bufs, [b0, k], [end, m])?;
                }
            }
        }
        Ok(())
    }

    /// One panel (`items` holds one QR), or the same panel of two QRs of
    /// one shape factored by one dispatch of two workgroups: lavapipe runs a
    /// workgroup on one core, so a lone panel leaves the other idle. Each
    /// workgroup computes exactly what a lone dispatch would.
    pub(super) fn panel(
        gpu: &Gpu,
        enc: &mut wgpu::CommandEncoder,
        items: &[(&Qr, View<'_>)],
        j0: usize,
    ) -> Result<(), GpuError> {
        let (first, r1) = items[0];
        let (second, r2) = items.get(1).copied().unwrap_or(items[0]);
        let (nr, ld) = (first.n - j0, first.ld);
        let off = j0 * ld + j0;
        let tex = if items.len() == 1 {
            first.copy_to_texture(gpu, enc, TexSlot::Qr, &[(&first.work, 0)], off, nr, NB)?
        } else {
            let bufs = [(&first.work, 0), (&second.work, nr)];
            first.copy_to_texture(gpu, enc, TexSlot::QrPair, &bufs, off, nr, NB)?
        };
        let pipe = first.kernel.pipeline(gpu, nr)?;
        let p = PanelParams {
            nr: nr as u32,
            nb: NB.min(first.m - j0) as u32,
            ldo: ld as u32,
            o_off: off as u32,
            r_off: j0 as u32,
            tex_rows: nr as u32,
            pad: [0; 2],
        };
        let u = gpu.uniform("qr panel params", &p);
        let res = [
            u.as_entire_binding(),
            wgpu::BindingResource::TextureView(&tex),
            first.v.as_entire_binding(),
            first.y.as_entire_binding(),
            r1.binding(),
            second.v.as_entire_binding(),
            second.y.as_entire_binding(),
            r2.binding(),
        ];
        let group = gpu.bind(&pipe, "qr panel", &res);
        let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("qr panel"),
            timestamp_writes: None,
        });
        gpu.dispatch(&mut pass, &pipe, &group, items.len() as u32);
        Ok(())
    }
}
