//! Cost curves (`initscope bench --curves`): the time of one training step
//! and the GPU memory of its plan against width (depth fixed) and against
//! depth (width fixed), each with the exponent of a least-squares power-law
//! fit, and the widest stack that fits the adapter's limits.

use super::{BenchOptions, step_spec};
use crate::exec::{self, Session};
use crate::gpu::{Gpu, GpuError};
use crate::model::build::build;
use serde::Serialize;

/// One point of a curve.
#[derive(Debug, Clone, Serialize)]
pub struct CurvePoint {
    pub width: usize,
    pub depth: usize,
    pub batch: usize,
    /// Median milliseconds of one forward + backward + statistics step.
    pub step_ms: f64,
    /// Bytes of the run's memory plan (`Model::memory_plan`).
    pub gpu_bytes: u64,
    /// Compute dispatches of one step.
    pub dispatches: u64,
}

/// A curve against one variable, with its fitted exponents.
#[derive(Debug, Clone, Serialize)]
pub struct Curve {
    /// "width" or "depth".
    pub against: String,
    pub points: Vec<CurvePoint>,
    /// b of time ≈ a·xᵇ (least squares in log-log).
    pub time_exponent: f64,
    /// b of memory ≈ a·xᵇ.
    pub memory_exponent: f64,
}

/// The curves and the largest configuration the adapter's limits allow.
#[derive(Debug, Clone, Serialize)]
pub struct Curves {
    pub curves: Vec<Curve>,
    /// The widest stack (multiple of 256, at the width curve's depth and
    /// batch) whose every tensor fits the adapter's binding limits. Depth is
    /// bounded only by total device memory, which wgpu does not report.
    pub largest_width: usize,
}

/// Batch of every curve point: small, so that width 4096 stays affordable
/// on a CPU adapter while the GEMMs still dominate.
const BATCH: usize = 64;

/// The slope of log y against log x (least squares).
pub fn fit_exponent(points: &[(f64, f64)]) -> f64 {
    let logs: Vec<(f64, f64)> = points
        .iter()
        .filter(|(x, y)| *x > 0.0 && *y > 0.0)
        .map(|(x, y)| (x.ln(), y.ln()))
        .collect();
    let n = logs.len() as f64;
    if logs.len() < 2 {
        return f64::NAN;
    }
    let (mx, my) = logs
        .iter()
        .fold((0.0, 0.0), |(a, b), (x, y)| (a + x / n, b + y / n));
    let sxy: f64 = logs.iter().map(|(x, y)| (x - mx) * (y - my)).sum();
    let sxx: f64 = logs.iter().map(|(x, _)| (x - mx).powi(2)).sum();
    sxy / sxx
}

fn to_gpu(e: exec::ExecError) -> GpuError {
    match e {
        exec::ExecError::Gpu(g) => g,
        exec::ExecError::Config(m) => GpuError::Device(m),
    }
}

/// Times one configuration: a warm-up step, then `reps` steps.
fn point(gpu: &Gpu, width: usize, depth: usize, reps: usize) -> Result<CurvePoint, GpuError> {
    let spec = step_spec(width, depth, BATCH);
    let model = build(&spec, None).map_err(|e| GpuError::Device(e.0))?;
    let gpu_bytes = model
        .check_fits(exec::limits(gpu))
        .map_err(GpuError::Device)?;
    let session = Session::new(gpu, &model, spec.seed, spec.repeat).map_err(to_gpu)?;
    let (mut times, mut dispatches) = (Vec::new(), 0);
    for i in 0..=reps {
        let before = gpu.dispatch_count();
        let s = session.step().map_err(to_gpu)?;
        dispatches = gpu.dispatch_count() - before;
        if i > 0 {
            times.push(s.step_ms);
        }
    }
    Ok(CurvePoint {
        width,
        depth,
        batch: BATCH,
        step_ms: crate::tune::median(&times),
        gpu_bytes,
        dispatches,
    })
}

fn curve(against: &str, points: Vec<CurvePoint>) -> Curve {
    let x = |p: &CurvePoint| (if against == "width" { p.width } else { p.depth }) as f64;
    let time: Vec<_> = points.iter().map(|p| (x(p), p.step_ms)).collect();
    let mem: Vec<_> = points.iter().map(|p| (x(p), p.gpu_bytes as f64)).collect();
    Curve {
        against: against.into(),
        time_exponent: fit_exponent(&time),
        memory_exponent: fit_exponent(&mem),
        points,
    }
}

/// The widest multiple of 256 (at `depth`, batch [`BATCH`]) that passes
/// `check_fits` on this adapter; no GPU memory is allocated.
fn largest_width(gpu: &Gpu, depth: usize) -> usize {
    let fits = |w: usize| {
        build(&step_spec(w, depth, BATCH), None)
            .is_ok_and(|m| m.check_fits(exec::limits(gpu)).is_ok())
    };
    // Widths up to 256 × 1024 = 262144: far beyond any binding limit.
    let (mut lo, mut hi) = (0usize, 1usize << 10);
    if fits(hi * 256) {
        return hi * 256;
    }
    while hi - lo > 1 {
        let mid = (lo + hi) / 2;
        if fits(mid * 256) { lo = mid } else { hi = mid }
    }
    lo * 256
}

/// Measures the curves; `progress` sees each point as it is measured.
pub fn run(
    gpu: &Gpu,
    o: BenchOptions,
    progress: &mut dyn FnMut(&CurvePoint),
) -> Result<Curves, GpuError> {
    let (widths, depths): (&[usize], &[usize]) = if o.quick {
        (&[128, 256, 512, 1024], &[10, 20, 50])
    } else {
        (&[256, 512, 1024, 2048, 4096], &[10, 20, 50, 100, 200])
    };
    let reps = if o.quick { 1 } else { 3 };
    let mut by_width = Vec::new();
    for &w in widths {
        let p = point(gpu, w, 10, reps)?;
        progress(&p);
        by_width.push(p);
    }
    let mut by_depth = Vec::new();
    for &d in depths {
        let p = point(gpu, 256, d, reps)?;
        progress(&p);
        by_depth.push(p);
    }
    Ok(Curves {
        curves: vec![curve("width", by_width), curve("depth", by_depth)],
        largest_width: largest_width(gpu, 10),
    })
}
