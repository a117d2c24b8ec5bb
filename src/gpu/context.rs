//! Adapter choice, device creation and the [`Gpu`] context that owns the
//! device, the queue and the pipeline cache.

use super::GpuError;
use super::pipelines::PipelineCache;
use crate::results::AdapterRecord;
use serde::Serialize;
use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::Arc;

type StateMap = HashMap<TypeId, Box<dyn Any + Send + Sync>>;

/// A backend the user can ask for with `--backend`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendChoice {
    Vulkan,
    Metal,
    Dx12,
    Gl,
}

impl BackendChoice {
    fn backends(self) -> wgpu::Backends {
        match self {
            BackendChoice::Vulkan => wgpu::Backends::VULKAN,
            BackendChoice::Metal => wgpu::Backends::METAL,
            BackendChoice::Dx12 => wgpu::Backends::DX12,
            BackendChoice::Gl => wgpu::Backends::GL,
        }
    }
}

/// How to pick an adapter. `None` fields fall back to `WGPU_BACKEND` and
/// `WGPU_ADAPTER_NAME`, as wgpu's own utilities do.
#[derive(Debug, Clone, Default)]
pub struct GpuOptions {
    pub backend: Option<BackendChoice>,
    /// Case-insensitive substring of the adapter name.
    pub adapter: Option<String>,
    /// Force the software (CPU) adapter.
    pub fallback: bool,
    /// Pretend the largest storage binding is this many bytes (below the
    /// adapter's own): exercises batch chunking on small tensors.
    pub max_binding_bytes: Option<u64>,
}

impl GpuOptions {
    fn backends(&self) -> wgpu::Backends {
        match self.backend {
            Some(b) => b.backends(),
            None => wgpu::Backends::from_env().unwrap_or(wgpu::Backends::all()),
        }
    }

    fn adapter_filter(&self) -> Option<String> {
        self.adapter
            .clone()
            .or_else(|| std::env::var("WGPU_ADAPTER_NAME").ok())
            .map(|s| s.to_lowercase())
            .filter(|s| !s.is_empty())
    }
}

/// The optional features initscope uses when an adapter has them.
pub const OPTIONAL_FEATURES: &[(&str, wgpu::Features)] = &[
    ("SHADER_INT64", wgpu::Features::SHADER_INT64),
    ("SUBGROUP", wgpu::Features::SUBGROUP),
    ("TIMESTAMP_QUERY", wgpu::Features::TIMESTAMP_QUERY),
    ("SHADER_F16", wgpu::Features::SHADER_F16),
];

/// What `initscope devices` prints about one adapter.
#[derive(Debug, Clone, Serialize)]
pub struct AdapterReport {
    pub name: String,
    pub backend: String,
    pub device_type: String,
    pub driver: String,
    pub driver_info: String,
    pub max_storage_buffer_binding_size: u64,
    pub max_buffer_size: u64,
    pub max_compute_workgroup_size_x: u32,
    pub max_compute_invocations_per_workgroup: u32,
    pub max_compute_workgroups_per_dimension: u32,
    pub max_compute_workgroup_storage_size: u32,
    pub max_storage_buffers_per_shader_stage: u32,
    pub features: Vec<String>,
}

impl AdapterReport {
    fn of(adapter: &wgpu::Adapter) -> Self {
        let info = adapter.get_info();
        let l = adapter.limits();
        let f = adapter.features();
        AdapterReport {
            name: info.name,
            backend: format!("{:?}", info.backend),
            device_type: format!("{:?}", info.device_type),
            driver: info.driver,
            driver_info: info.driver_info,
            max_storage_buffer_binding_size: l.max_storage_buffer_binding_size,
            max_buffer_size: l.max_buffer_size,
            max_compute_workgroup_size_x: l.max_compute_workgroup_size_x,
            max_compute_invocations_per_workgroup: l.max_compute_invocations_per_workgroup,
            max_compute_workgroups_per_dimension: l.max_compute_workgroups_per_dimension,
            max_compute_workgroup_storage_size: l.max_compute_workgroup_storage_size,
            max_storage_buffers_per_shader_stage: l.max_storage_buffers_per_shader_stage,
            features: OPTIONAL_FEATURES
                .iter()
                .filter(|(_, feat)| f.contains(*feat))
                .map(|(n, _)| n.to_string())
                .collect(),
        }
    }
}

fn instance(backends: wgpu::Backends) -> wgpu::Instance {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
    desc.backends = backends;
    wgpu::Instance::new(desc)
}

/// Every adapter the chosen backends offer.
pub fn list_adapters(opts: &GpuOptions) -> Vec<AdapterReport> {
    let inst = instance(opts.backends());
    let adapters = pollster::block_on(inst.enumerate_adapters(opts.backends()));
    adapters.iter().map(AdapterReport::of).collect()
}

/// Ranks adapters: real GPUs first unless the software adapter is forced.
fn rank(info: &wgpu::AdapterInfo, fallback: bool) -> Option<u32> {
    use wgpu::DeviceType::*;
    let is_cpu = info.device_type == Cpu;
    if fallback {
        return is_cpu.then_some(0);
    }
    Some(
        match info.device_type {
            DiscreteGpu => 0,
            IntegratedGpu => 1,
            VirtualGpu => 2,
            Other => 3,
            Cpu => 4,
        } * 10
            + match info.backend {
                wgpu::Backend::Vulkan | wgpu::Backend::Metal | wgpu::Backend::Dx12 => 0,
                _ => 1,
            },
    )
}

fn choose_adapter(opts: &GpuOptions) -> Result<wgpu::Adapter, GpuError> {
    let backends = opts.backends();
    let inst = instance(backends);
    let adapters = pollster::block_on(inst.enumerate_adapters(backends));
    let seen: Vec<String> = adapters.iter().map(|a| a.get_info().name).collect();
    let filter = opts.adapter_filter();
    let best = adapters
        .into_iter()
        .filter(|a| {
            filter
                .as_ref()
                .is_none_or(|f| a.get_info().name.to_lowercase().contains(f))
        })
        .filter_map(|a| rank(&a.get_info(), opts.fallback).map(|r| (r, a)))
        .min_by_key(|(r, _)| *r)
        .map(|(_, a)| a);
    best.ok_or_else(|| GpuError::NoAdapter {
        wanted: describe_wish(opts, filter.as_deref()),
        seen,
    })
}

fn describe_wish(opts: &GpuOptions, filter: Option<&str>) -> String {
    let mut parts = vec![match opts.backend {
        Some(b) => format!("backend {b:?}"),
        None => "any backend".to_string(),
    }];
    if let Some(f) = filter {
        parts.push(format!("a name containing \"{f}\""));
    }
    if opts.fallback {
        parts.push("the software fallback adapter".into());
    }
    parts.join(", ")
}

/// The GPU context: device, queue, adapter facts and the pipeline cache.
pub struct Gpu {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub info: wgpu::AdapterInfo,
    pub limits: wgpu::Limits,
    pub features: wgpu::Features,
    pub(crate) pipelines: PipelineCache,
    /// Per-device state owned by higher layers (e.g. the chosen GEMM kernel).
    state: std::sync::Mutex<StateMap>,
    scratch: std::sync::Mutex<Option<wgpu::Buffer>>,
    pub(crate) pool: super::buffers::BufferPool,
}

impl Gpu {
    /// Picks an adapter as `opts` says and opens a device with its own limits.
    pub fn new(opts: &GpuOptions) -> Result<Arc<Gpu>, GpuError> {
        let adapter = choose_adapter(opts)?;
        let wanted = OPTIONAL_FEATURES.iter().fold(
            wgpu::Features::TIMESTAMP_QUERY_INSIDE_ENCODERS,
            |a, (_, f)| a | *f,
        );
        let features = adapter.features() & wanted;
        let limits = adapter.limits();
        let desc = wgpu::DeviceDescriptor {
            label: Some("initscope"),
            required_features: features,
            required_limits: limits.clone(),
            ..Default::default()
        };
        let (device, queue) = pollster::block_on(adapter.request_device(&desc))
            .map_err(|e| GpuError::Device(e.to_string()))?;
        let mut gpu = Gpu::from_device(device, queue, adapter.get_info());
        if let Some(cap) = opts.max_binding_bytes {
            gpu.limits.max_storage_buffer_binding_size =
                gpu.limits.max_storage_buffer_binding_size.min(cap.max(256));
        }
        Ok(Arc::new(gpu))
    }

    /// Wraps a device made elsewhere (tests hand in their own).
    pub fn from_device(device: wgpu::Device, queue: wgpu::Queue, info: wgpu::AdapterInfo) -> Gpu {
        // Never let wgpu's default handler panic: errors are caught by error
        // scopes; anything that escapes them is reported, not fatal here.
        device.on_uncaptured_error(Arc::new(|e| eprintln!("initscope: GPU error: {e}")));
        let limits = device.limits();
        let features = device.features();
        Gpu {
            device,
            queue,
            info,
            limits,
            features,
            pipelines: PipelineCache::default(),
            state: Default::default(),
            scratch: Default::default(),
            pool: Default::default(),
        }
    }

    /// Per-device state of type `T` kept for higher layers (which kernel
    /// variant to use, say): created by `init` on first use, then shared.
    pub fn state<T: Clone + Send + Sync + 'static>(&self, init: impl FnOnce() -> T) -> T {
        let lock = || self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(v) = lock()
            .get(&TypeId::of::<T>())
            .and_then(|v| v.downcast_ref::<T>())
        {
            return v.clone();
        }
        // `init` runs unlocked: it may itself ask for other state.
        let v = init();
        lock().insert(TypeId::of::<T>(), Box::new(v.clone()));
        v
    }

    /// Replaces the per-device state of type `T`.
    pub fn set_state<T: Send + Sync + 'static>(&self, value: T) {
        let mut m = self.state.lock().unwrap_or_else(|p| p.into_inner());
        m.insert(TypeId::of::<T>(), Box::new(value));
    }

    /// A scratch storage buffer of at least `bytes`, shared by sequential
    /// dispatches (commands on one queue never overlap), grown on demand.
    pub fn scratch(&self, label: &str, bytes: u64) -> Result<wgpu::Buffer, GpuError> {
        let mut s = self.scratch.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(b) = s.as_ref().filter(|b| b.size() >= bytes) {
            return Ok(b.clone());
        }
        let grown = bytes
            .next_power_of_two()
            .min(self.max_binding_bytes())
            .max(bytes);
        let b = self.storage(label, grown)?;
        *s = Some(b.clone());
        Ok(b)
    }

    /// The adapter as recorded in results.
    pub fn adapter_record(&self) -> AdapterRecord {
        AdapterRecord {
            name: self.info.name.clone(),
            backend: format!("{:?}", self.info.backend),
            device_type: format!("{:?}", self.info.device_type),
            driver: format!("{} {}", self.info.driver, self.info.driver_info)
                .trim()
                .to_string(),
        }
    }

    /// Whether the device was opened with SHADER_INT64.
    pub fn has_int64(&self) -> bool {
        self.features.contains(wgpu::Features::SHADER_INT64)
    }

    /// Blocks until all submitted work is done.
    pub fn wait(&self) -> Result<(), GpuError> {
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map(|_| ())
            .map_err(|e| GpuError::Device(format!("waiting for the GPU: {e}")))
    }

    /// Runs `f` inside validation and out-of-memory error scopes and turns a
    /// caught error into a typed one naming `what`.
    pub fn scoped<T>(&self, what: &str, f: impl FnOnce() -> T) -> Result<T, GpuError> {
        let oom = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let val = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let out = f();
        let v = pollster::block_on(val.pop());
        let o = pollster::block_on(oom.pop());
        if let Some(e) = o {
            return Err(GpuError::OutOfMemory {
                what: what.to_string(),
                detail: e.to_string(),
            });
        }
        if let Some(e) = v {
            return Err(GpuError::Validation {
                what: what.to_string(),
                detail: e.to_string(),
            });
        }
        Ok(out)
    }
}
