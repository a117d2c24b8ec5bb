//! Dead units (`dead_units` in `shaders/reduce.wgsl`): how many columns of a
//! batch × cols activation are exactly zero on every row. Half the elements
//! of a healthy ReLU layer are zero, so the zero fraction cannot tell a dead
//! layer from a live one; a unit that never fires for any input can.

use crate::gpu::buffers::View;
use crate::gpu::{Gpu, GpuError, Shader};

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct UnitParams {
    rows: u32,
    cols: u32,
    alive_offset: u32,
    out_index: u32,
    last: u32,
    pad: [u32; 3],
}

/// Invocations per workgroup (`WGR` in reduce.wgsl).
const WG: u32 = 64;

/// One activation tensor: its row chunks (a binding and its row count, in
/// order) and its column count.
pub struct UnitItem<'a> {
    pub chunks: Vec<(View<'a>, u32)>,
    pub cols: u32,
}

/// The dead-unit counters of a recorded batch, to read after submission.
pub struct DeadUnits {
    counts: wgpu::Buffer,
    cols: Vec<u32>,
}

/// Records the dead-unit count of every item into `enc` (one compute pass).
pub fn encode_dead_units(
    gpu: &Gpu,
    enc: &mut wgpu::CommandEncoder,
    items: &[UnitItem<'_>],
) -> Result<DeadUnits, GpuError> {
    let total_cols: u64 = items.iter().map(|i| u64::from(i.cols)).sum();
    let alive = gpu.storage("unit alive flags", total_cols.max(1) * 4)?;
    let counts = gpu.storage("dead unit counts", (items.len().max(1) * 4) as u64)?;
    enc.clear_buffer(&alive, 0, None);
    enc.clear_buffer(&counts, 0, None);
    let pipe = gpu.pipeline(Shader::Reduce, "dead_units", &[], false)?;
    let mut groups = Vec::new();
    let mut offset = 0u32;
    for (idx, it) in items.iter().enumerate() {
        for (k, (view, rows)) in it.chunks.iter().enumerate() {
            let p = UnitParams {
                rows: *rows,
                cols: it.cols,
                alive_offset: offset,
                out_index: idx as u32,
                last: u32::from(k + 1 == it.chunks.len()),
                pad: [0; 3],
            };
            let u = gpu.uniform("dead units params", &p);
            let res = [
                (6, u.as_entire_binding()),
                (7, view.binding()),
                (8, alive.as_entire_binding()),
                (9, counts.as_entire_binding()),
            ];
            let group = gpu.bind_at(&pipe, "dead_units", &res);
            groups.push((group, it.cols.div_ceil(WG)));
        }
        offset += it.cols;
    }
    let mut pass = crate::gpu::pipelines::compute_pass(enc, "dead units");
    for (group, n) in &groups {
        gpu.dispatch(&mut pass, &pipe, group, *n);
    }
    Ok(DeadUnits {
        counts,
        cols: items.iter().map(|i| i.cols).collect(),
    })
}

impl DeadUnits {
    /// The dead fraction of each item (dead columns / columns), after the
    /// encoder was submitted.
    pub fn read(&self, gpu: &Gpu) -> Result<Vec<f64>, GpuError> {
        if self.cols.is_empty() {
            return Ok(Vec::new());
        }
        let dead: Vec<u32> = gpu.read("dead unit counts", &self.counts, 0, self.cols.len())?;
        Ok(dead
            .iter()
            .zip(&self.cols)
            .map(|(d, c)| f64::from(*d) / f64::from((*c).max(1)))
            .collect())
    }
}
