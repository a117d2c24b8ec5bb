//! `bench --tune`: times every GEMM variant on this adapter and caches the
//! fastest, keyed by adapter name, backend and driver version, so later runs
//! pick it without timing anything.
//!
//! The cache lives in `$INITSCOPE_CACHE_DIR`, else `$XDG_CACHE_HOME/initscope`,
//! else `~/.cache/initscope`, as `gemm-tune.json`.

use crate::gpu::{Gpu, GpuError};
use crate::io::write_atomic;
use crate::kernels::gemm::{Gemm, GemmVariant, encode_gemm_with};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One adapter's tuning result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TuneEntry {
    pub variant: GemmVariant,
    /// GFLOP/s of every candidate (by `describe()`), at the tuning size.
    pub candidates: BTreeMap<String, f64>,
    pub size: u32,
}

/// The cache file: adapter key → entry.
pub type TuneCache = BTreeMap<String, TuneEntry>;

/// The folder of the cache file.
pub fn cache_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("INITSCOPE_CACHE_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d));
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d).join("initscope"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache").join("initscope"))
}

/// The key of an adapter: name, backend and driver version.
pub fn adapter_key(gpu: &Gpu) -> String {
    format!(
        "{} | {:?} | {} {}",
        gpu.info.name, gpu.info.backend, gpu.info.driver, gpu.info.driver_info
    )
}

/// Reads a cache file (missing or unreadable: empty).
pub fn load(path: &Path) -> TuneCache {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

/// Writes a cache file atomically.
pub fn save(path: &Path, cache: &TuneCache) -> std::io::Result<()> {
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d)?;
    }
    let bytes = serde_json::to_vec_pretty(cache).map_err(std::io::Error::other)?;
    write_atomic(path, &bytes)
}

fn cache_file() -> Option<PathBuf> {
    cache_dir().map(|d| d.join("gemm-tune.json"))
}

/// The cached choice for this adapter, if it was tuned and is still a candidate.
pub fn cached_choice(gpu: &Gpu) -> Option<GemmVariant> {
    let entry = load(&cache_file()?).remove(&adapter_key(gpu))?;
    GemmVariant::candidates(gpu)
        .contains(&entry.variant)
        .then_some(entry.variant)
}

/// Times `reps` executions of a GEMM (after one warm-up) with the wall clock
/// around submit + wait; returns the median in seconds.
pub fn time_gemm(
    gpu: &Gpu,
    v: GemmVariant,
    g: &Gemm,
    bufs: &[wgpu::Buffer; 3],
    reps: usize,
) -> Result<Vec<f64>, GpuError> {
    let mut times = Vec::with_capacity(reps);
    for i in 0..=reps {
        let mut enc = gpu.device.create_command_encoder(&Default::default());
        encode_gemm_with(gpu, v, &mut enc, g, &bufs[0], &bufs[1], None, &bufs[2])?;
        let t = std::time::Instant::now();
        gpu.submit("gemm benchmark", enc)?;
        gpu.wait()?;
        if i > 0 {
            times.push(t.elapsed().as_secs_f64());
        }
    }
    Ok(times)
}

/// Buffers for an n³ GEMM filled with small values.
pub fn gemm_buffers(gpu: &Gpu, n: usize) -> Result<[wgpu::Buffer; 3], GpuError> {
    let data: Vec<f32> = (0..n * n).map(|i| ((i % 17) as f32 - 8.0) / 16.0).collect();
    Ok([
        gpu.storage_from("bench A", &data)?,
        gpu.storage_from("bench B", &data)?,
        gpu.storage("bench C", (n * n * 4) as u64)?,
    ])
}

/// Median of a sample.
pub fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        f64::NAN
    } else {
        v[v.len() / 2]
    }
}

/// Times every candidate at size `n` (the three orientations of a layer),
/// stores the fastest in the cache and makes it this process's choice.
pub fn tune(gpu: &Gpu, n: usize, reps: usize) -> Result<TuneEntry, GpuError> {
    let bufs = gemm_buffers(gpu, n)?;
    let shapes = [
        Gemm::forward(n, n, n),
        Gemm::backward_data(n, n, n),
        Gemm::backward_weight(n, n, n),
    ];
    let mut candidates = BTreeMap::new();
    let mut best: Option<(f64, GemmVariant)> = None;
    for v in GemmVariant::candidates(gpu) {
        let mut secs = 0.0;
        let mut ok = true;
        for g in &shapes {
            match time_gemm(gpu, v, g, &bufs, reps) {
                Ok(t) => secs += median(&t),
                Err(_) => ok = false, // a variant this adapter cannot compile is skipped
            }
        }
        if !ok {
            continue;
        }
        let gflops = shapes.iter().map(Gemm::flops).sum::<f64>() / secs / 1e9;
        candidates.insert(v.describe(), gflops);
        if best.is_none_or(|(b, _)| gflops > b) {
            best = Some((gflops, v));
        }
    }
    let variant = best
        .map(|(_, v)| v)
        .unwrap_or_else(|| GemmVariant::default_for(gpu));
    let entry = TuneEntry {
        variant,
        candidates,
        size: n as u32,
    };
    if let Some(path) = cache_file() {
        let mut cache = load(&path);
        cache.insert(adapter_key(gpu), entry.clone());
        save(&path, &cache).map_err(|e| GpuError::Readback {
            what: format!("tune cache {}", path.display()),
            detail: e.to_string(),
        })?;
    }
    gpu.set_gemm_variant(variant);
    Ok(entry)
}

/// Makes the choice cached for this adapter and driver (if any) the GEMM
/// kernel of `gpu`; commands call this once after opening the device.
pub fn apply_cached(gpu: &Gpu) {
    if let Some(v) = cached_choice(gpu) {
        gpu.set_gemm_variant(v);
    }
}
