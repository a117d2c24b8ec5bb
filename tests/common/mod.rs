//! Shared test helpers: one GPU context per test binary, and statistics.
#![allow(dead_code)]

use initscope::gpu::{BackendChoice, Gpu, GpuOptions};
use std::sync::{Arc, OnceLock};

/// The default adapter (lavapipe in CI), opened once per test binary.
pub fn gpu() -> Arc<Gpu> {
    static GPU: OnceLock<Arc<Gpu>> = OnceLock::new();
    GPU.get_or_init(|| {
        // SAFETY-free: only silences a harmless Mesa warning about XDG_RUNTIME_DIR.
        Gpu::new(&GpuOptions::default()).expect("a GPU adapter (install mesa-vulkan-drivers)")
    })
    .clone()
}

/// The GL backend's adapter, if wgpu offers one here.
pub fn gl_gpu() -> Option<Arc<Gpu>> {
    static GPU: OnceLock<Option<Arc<Gpu>>> = OnceLock::new();
    GPU.get_or_init(|| {
        Gpu::new(&GpuOptions {
            backend: Some(BackendChoice::Gl),
            ..Default::default()
        })
        .ok()
    })
    .clone()
}

/// Kolmogorov–Smirnov statistic of `xs` against the CDF `cdf`.
pub fn ks_statistic(xs: &[f64], cdf: impl Fn(f64) -> f64) -> f64 {
    let mut v: Vec<f64> = xs.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len() as f64;
    v.iter()
        .enumerate()
        .map(|(i, &x)| {
            let f = cdf(x);
            (f - i as f64 / n).abs().max(((i + 1) as f64 / n - f).abs())
        })
        .fold(0.0, f64::max)
}

/// The KS critical value at significance 0.001 (1.95/√n).
pub fn ks_critical(n: usize) -> f64 {
    1.95 / (n as f64).sqrt()
}

/// Mean and unbiased variance.
pub fn moments(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let m = xs.iter().sum::<f64>() / n;
    let v = xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0);
    (m, v)
}
