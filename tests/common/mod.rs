//! Shared test helpers: one GPU context per test binary, and statistics.
#![allow(dead_code)]

use initscope::gpu::{BackendChoice, Gpu, GpuOptions};
pub mod residual;

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

/// A [`initscope::config::RunSpec`] from a run configuration in JSON (the
/// `config` of one run, as in a manifest without variants or sweeps).
pub fn run_spec(cfg: serde_json::Value, seed: u64) -> initscope::config::RunSpec {
    initscope::config::RunSpec {
        id: "r000".into(),
        label: "test".into(),
        group: "test".into(),
        variant: None,
        params: Default::default(),
        seed,
        repeat: 0,
        config: serde_json::from_value(cfg).expect("a valid run configuration"),
    }
}

/// Every f64 field of `s` as raw bits, then every count, for bitwise comparisons.
pub fn stats_bits(s: &initscope::results::TensorStats) -> Vec<u64> {
    let mut v = vec![
        s.mean.to_bits(),
        s.std.to_bits(),
        s.min.to_bits(),
        s.max.to_bits(),
        s.norm.to_bits(),
        s.count,
        s.nan_count,
        s.inf_count,
    ];
    v.extend(s.zero_fraction.map(f64::to_bits));
    v.extend(s.saturated_fraction.map(f64::to_bits));
    if let Some(h) = &s.histogram {
        v.extend([h.lo.to_bits(), h.hi.to_bits()]);
        v.extend(&h.counts);
    }
    v
}
