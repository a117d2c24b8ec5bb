//! The GPU layer: context (adapter, device, queue), the shader registry and
//! pipeline cache, and typed buffers.

pub mod buffers;
pub mod context;
pub mod pipelines;
pub mod runtime_dir;

pub use context::{AdapterReport, BackendChoice, Gpu, GpuOptions, list_adapters};
pub use pipelines::{Shader, Warm};

/// Everything that can go wrong on the GPU side, each naming what it concerns.
#[derive(Debug, thiserror::Error)]
pub enum GpuError {
    #[error(
        "no GPU adapter found for {wanted} (adapters seen: {}).\n\
         On Debian or Ubuntu, install the Vulkan CPU fallback (lavapipe): \
         apt-get install mesa-vulkan-drivers libvulkan1\n\
         Otherwise install your GPU's Vulkan, Metal or DX12 driver, or try --fallback / --backend gl.",
        if seen.is_empty() { "none".to_string() } else { seen.join(", ") }
    )]
    NoAdapter { wanted: String, seen: Vec<String> },
    #[error("could not open the GPU device: {0}")]
    Device(String),
    #[error("shader '{kernel}' failed to compile: {detail}")]
    Shader { kernel: String, detail: String },
    #[error("GPU validation error in {what}: {detail}")]
    Validation { what: String, detail: String },
    #[error("GPU out of memory in {what}: {detail}")]
    OutOfMemory { what: String, detail: String },
    #[error(
        "the GPU device was lost during {what} ({detail}): a driver reset or a removed GPU; \
         finished runs are kept, rerun with --resume"
    )]
    DeviceLost { what: String, detail: String },
    #[error(
        "{what} needs {} in one binding; this adapter allows {} ({limit}).{hint}",
        human_bytes(*bytes), human_bytes(*allowed)
    )]
    TooLarge {
        what: String,
        bytes: u64,
        allowed: u64,
        limit: &'static str,
        hint: String,
    },
    #[error("reading {what} back from the GPU failed: {detail}")]
    Readback { what: String, detail: String },
}

/// 1536 → "1.5 KiB".
pub fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}
