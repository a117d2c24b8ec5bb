//! The shader registry (one WGSL file per kernel family) and a pipeline cache
//! keyed by (shader, entry point, override constants), so every pipeline is
//! compiled once per process.

use super::{Gpu, GpuError};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Philox core shared by every shader that draws random numbers.
pub const PHILOX_WGSL: &str = include_str!("../../shaders/philox.wgsl");
/// Portable multiply-high from 16-bit halves.
pub const MULHI_PORTABLE_WGSL: &str = include_str!("../../shaders/mulhi_portable.wgsl");
/// Multiply-high through u64 (SHADER_INT64).
pub const MULHI_INT64_WGSL: &str = include_str!("../../shaders/mulhi_int64.wgsl");

/// A kernel family: one WGSL file under `shaders/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Shader {
    /// Raw Philox fills (tests and benchmarks).
    Philox,
    /// Elementwise init distributions.
    Init,
    /// Haar-orthogonal weights from Householder reflectors.
    Orthogonal,
    /// Blocked Householder QR: helper kernels, and the panel factorisation
    /// with subgroup operations or without (a module of its own).
    Qr,
    QrPanel,
    QrPanelPortable,
    /// GEMM in the three orientations (portable register-blocked kernel).
    Matmul,
    /// GEMM for CPU adapters: subgroup broadcasts, packed B.
    MatmulSubgroup,
    /// GEMM for GPUs: shared-memory tiles.
    MatmulTiled,
    /// Activation forward and derivative.
    Activation,
    /// Loss value gradient.
    Loss,
    /// Statistics reductions and histograms.
    Reduce,
    /// Optimizer updates (SGD, Adam, AdamW).
    Optim,
    /// Unit symmetry of a layer (duplicated rows).
    Symmetry,
    /// LayerNorm and RMSNorm forward and backward.
    Norm,
    /// The residual stream's scale and add (forward and backward).
    Residual,
    /// Token-embedding input (Philox token ids, table rows, positions).
    Embed,
    /// The Jacobian spectrum's row scaling and graded-product updates.
    Jacobian,
    /// Multi-head self-attention: softmax(QKᵀ)·V, its backward, summaries.
    Attention,
}

impl Shader {
    /// The family's file name (for error messages).
    pub fn file(self) -> &'static str {
        match self {
            Shader::Philox => "philox_fill.wgsl",
            Shader::Init => "init.wgsl",
            Shader::Orthogonal => "orthogonal.wgsl",
            Shader::Qr => "qr.wgsl",
            Shader::QrPanel => "qr_panel.wgsl",
            Shader::QrPanelPortable => "qr_panel_nosg.wgsl",
            Shader::Matmul => "matmul.wgsl",
            Shader::MatmulSubgroup => "matmul_subgroup.wgsl",
            Shader::MatmulTiled => "matmul_tiled.wgsl",
            Shader::Activation => "activation.wgsl",
            Shader::Loss => "loss.wgsl",
            Shader::Reduce => "reduce.wgsl",
            Shader::Optim => "optim.wgsl",
            Shader::Symmetry => "symmetry.wgsl",
            Shader::Norm => "norm.wgsl",
            Shader::Residual => "residual.wgsl",
            Shader::Embed => "embed.wgsl",
            Shader::Jacobian => "jacobian.wgsl",
            Shader::Attention => "attention.wgsl",
        }
    }

    fn body(self) -> &'static str {
        match self {
            Shader::Philox => include_str!("../../shaders/philox_fill.wgsl"),
            Shader::Init => include_str!("../../shaders/init.wgsl"),
            Shader::Orthogonal => include_str!("../../shaders/orthogonal.wgsl"),
            Shader::Qr => include_str!("../../shaders/qr.wgsl"),
            Shader::QrPanel => include_str!("../../shaders/qr_panel.wgsl"),
            Shader::QrPanelPortable => include_str!("../../shaders/qr_panel_nosg.wgsl"),
            Shader::Matmul => include_str!("../../shaders/matmul.wgsl"),
            Shader::MatmulSubgroup => include_str!("../../shaders/matmul_subgroup.wgsl"),
            Shader::MatmulTiled => include_str!("../../shaders/matmul_tiled.wgsl"),
            Shader::Activation => include_str!("../../shaders/activation.wgsl"),
            Shader::Loss => include_str!("../../shaders/loss.wgsl"),
            Shader::Reduce => include_str!("../../shaders/reduce.wgsl"),
            Shader::Optim => include_str!("../../shaders/optim.wgsl"),
            Shader::Symmetry => include_str!("../../shaders/symmetry.wgsl"),
            Shader::Norm => include_str!("../../shaders/norm.wgsl"),
            Shader::Residual => include_str!("../../shaders/residual.wgsl"),
            Shader::Embed => include_str!("../../shaders/embed.wgsl"),
            Shader::Jacobian => include_str!("../../shaders/jacobian.wgsl"),
            Shader::Attention => include_str!("../../shaders/attention.wgsl"),
        }
    }

    fn uses_philox(self) -> bool {
        matches!(
            self,
            Shader::Philox | Shader::Init | Shader::Orthogonal | Shader::Embed
        )
    }

    /// Full WGSL source; WGSL has no `#include`, so shared code is joined here.
    pub fn source(self, int64: bool) -> String {
        let mut s = String::new();
        if self.uses_philox() {
            s.push_str(if int64 {
                MULHI_INT64_WGSL
            } else {
                MULHI_PORTABLE_WGSL
            });
            s.push('\n');
            s.push_str(PHILOX_WGSL);
            s.push('\n');
        }
        if self == Shader::Activation {
            // The opcodes come from the activation table, so they cannot drift.
            s.push_str(&crate::activation::wgsl_constants());
        }
        s.push_str(self.body());
        s
    }
}

/// Cache key of a compiled pipeline.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct PipelineKey {
    shader: Shader,
    int64: bool,
    entry: String,
    constants: Vec<(String, u64)>,
}

type Slot = Arc<Mutex<Option<Arc<wgpu::ComputePipeline>>>>;

/// Compiled modules and pipelines of one device.
#[derive(Default)]
pub(crate) struct PipelineCache {
    modules: Mutex<HashMap<(Shader, bool), Arc<wgpu::ShaderModule>>>,
    /// One slot per pipeline, locked while it compiles: a second thread
    /// asking for it (see [`Gpu::prewarm_while`]) waits instead of compiling it
    /// again.
    pipelines: Mutex<HashMap<PipelineKey, Slot>>,
    compiled: Mutex<usize>,
}

/// Runs shader compilation and turns a panic inside the shader compiler
/// (naga has a few) into a typed error naming the kernel.
fn no_panic<T>(kernel: &str, f: impl FnOnce() -> T) -> Result<T, GpuError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|p| {
        let msg = p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "unknown panic".into());
        GpuError::Shader {
            kernel: kernel.to_string(),
            detail: format!("the shader compiler failed: {msg}"),
        }
    })
}

/// A pipeline to compile ahead of its first use ([`Gpu::prewarm_while`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Warm {
    pub shader: Shader,
    pub entry: String,
    pub constants: Vec<(&'static str, f64)>,
}

/// Workgroup-size override constants are named `WG` (x) by convention.
const WG_CONSTANT: &str = "WG";

impl Gpu {
    /// The pipeline for `entry` of `shader` specialised by override constants,
    /// compiled on first use. `int64` selects the SHADER_INT64 multiply-high
    /// (ignored when the device lacks it).
    pub fn pipeline(
        &self,
        shader: Shader,
        entry: &str,
        constants: &[(&str, f64)],
        int64: bool,
    ) -> Result<Arc<wgpu::ComputePipeline>, GpuError> {
        let int64 = int64 && self.has_int64() && shader.uses_philox();
        let key = PipelineKey {
            shader,
            int64,
            entry: entry.to_string(),
            constants: constants
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_bits()))
                .collect(),
        };
        let slot = self.lock_pipelines().entry(key).or_default().clone();
        // A poisoned slot only means a compile panicked (no_panic catches
        // those); the slot then still holds None and is compiled again.
        let mut slot = slot.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(p) = slot.as_ref() {
            return Ok(p.clone());
        }
        self.check_workgroup(shader, entry, constants)?;
        let module = self.module(shader, int64)?;
        let label = format!("{}:{entry}", shader.file());
        let pipeline = self
            .scoped(&label, || {
                no_panic(&label, || {
                    self.device
                        .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                            label: Some(&label),
                            layout: None,
                            module: &module,
                            entry_point: Some(entry),
                            compilation_options: wgpu::PipelineCompilationOptions {
                                constants,
                                zero_initialize_workgroup_memory: false,
                            },
                            cache: None,
                        })
                })
            })
            .map_err(|e| GpuError::Shader {
                kernel: label.clone(),
                detail: e.to_string(),
            })??;
        let pipeline = Arc::new(pipeline);
        *slot = Some(pipeline.clone());
        if let Ok(mut n) = self.pipelines.compiled.lock() {
            *n += 1;
        }
        Ok(pipeline)
    }

    /// Runs `work` while a second thread compiles `items` ahead of their
    /// use: even with its shader cache warm, lavapipe spends 0.1–0.3 s of
    /// one core on each large pipeline (the GEMM's, the QR panel's), and a
    /// run would wait for them one after another. A pipeline both threads
    /// ask for is compiled once (the second waits for it); one already
    /// compiled costs a lookup. The thread stops at its next item once
    /// `work` returns; its errors are left for the real use to report.
    pub fn prewarm_while<T>(&self, items: &[Warm], work: impl FnOnce() -> T) -> T {
        let stop = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|s| {
            s.spawn(|| {
                for w in items {
                    if stop.load(std::sync::atomic::Ordering::Relaxed) {
                        break;
                    }
                    let _ = self.pipeline(w.shader, &w.entry, &w.constants, false);
                }
            });
            let out = work();
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            out
        })
    }

    /// How many pipelines this process compiled so far (for the no-waste checks).
    pub fn pipelines_compiled(&self) -> usize {
        self.pipelines.compiled.lock().map(|n| *n).unwrap_or(0)
    }

    fn lock_pipelines(&self) -> std::sync::MutexGuard<'_, HashMap<PipelineKey, Slot>> {
        // A poisoned lock only means another thread panicked mid-insert; the map is still usable.
        self.pipelines
            .pipelines
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    fn module(&self, shader: Shader, int64: bool) -> Result<Arc<wgpu::ShaderModule>, GpuError> {
        let mut modules = self
            .pipelines
            .modules
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(m) = modules.get(&(shader, int64)) {
            return Ok(m.clone());
        }
        let src = shader.source(int64);
        let m = self
            .scoped(shader.file(), || {
                no_panic(shader.file(), || {
                    self.device
                        .create_shader_module(wgpu::ShaderModuleDescriptor {
                            label: Some(shader.file()),
                            source: wgpu::ShaderSource::Wgsl(src.into()),
                        })
                })
            })
            .map_err(|e| GpuError::Shader {
                kernel: shader.file().into(),
                detail: e.to_string(),
            })??;
        let m = Arc::new(m);
        modules.insert((shader, int64), m.clone());
        Ok(m)
    }

    fn check_workgroup(
        &self,
        shader: Shader,
        entry: &str,
        c: &[(&str, f64)],
    ) -> Result<(), GpuError> {
        let Some((_, wg)) = c.iter().find(|(k, _)| *k == WG_CONSTANT) else {
            return Ok(());
        };
        let wg = *wg as u32;
        let max = self
            .limits
            .max_compute_invocations_per_workgroup
            .min(self.limits.max_compute_workgroup_size_x);
        if wg == 0 || wg > max {
            return Err(GpuError::Shader {
                kernel: format!("{}:{entry}", shader.file()),
                detail: format!(
                    "workgroup size {wg} exceeds this adapter's limit of {max} invocations"
                ),
            });
        }
        Ok(())
    }

    /// A bind group for group 0 of `pipeline`, binding `resources` in order.
    pub fn bind(
        &self,
        pipeline: &wgpu::ComputePipeline,
        label: &str,
        resources: &[wgpu::BindingResource<'_>],
    ) -> wgpu::BindGroup {
        let numbered: Vec<(u32, wgpu::BindingResource)> = resources
            .iter()
            .enumerate()
            .map(|(i, r)| (i as u32, r.clone()))
            .collect();
        self.bind_at(pipeline, label, &numbered)
    }

    /// A bind group for group 0 of `pipeline` with explicit binding numbers
    /// (for entry points that use only some of a module's bindings).
    pub fn bind_at(
        &self,
        pipeline: &wgpu::ComputePipeline,
        label: &str,
        resources: &[(u32, wgpu::BindingResource<'_>)],
    ) -> wgpu::BindGroup {
        let entries: Vec<wgpu::BindGroupEntry> = resources
            .iter()
            .map(|(i, r)| wgpu::BindGroupEntry {
                binding: *i,
                resource: r.clone(),
            })
            .collect();
        self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(label),
            layout: &pipeline.get_bind_group_layout(0),
            entries: &entries,
        })
    }

    /// Splits `n` workgroups into an (x, y) grid within the per-dimension limit.
    /// Kernels rebuild the linear index as `wid.y * num_workgroups.x + wid.x`
    /// and skip indices ≥ n.
    pub fn grid(&self, n: u32) -> (u32, u32) {
        let max = self.limits.max_compute_workgroups_per_dimension.max(1);
        if n <= max {
            (n.max(1), 1)
        } else {
            (max, n.div_ceil(max))
        }
    }

    /// Records one dispatch of `n` linear workgroups in a compute pass of its
    /// own, labelled `label` (the label validation messages name).
    pub fn dispatch_pass(
        &self,
        enc: &mut wgpu::CommandEncoder,
        label: &str,
        pipeline: &wgpu::ComputePipeline,
        group: &wgpu::BindGroup,
        n: u32,
    ) {
        self.dispatch(&mut compute_pass(enc, label), pipeline, group, n);
    }

    /// How many dispatches have been recorded on this device so far
    /// (`initscope bench` reports the difference over one step).
    pub fn dispatch_count(&self) -> u64 {
        let c = self.state(DispatchCount::default);
        c.0.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Records one dispatch of `n` linear workgroups into `pass`.
    pub fn dispatch(
        &self,
        pass: &mut wgpu::ComputePass<'_>,
        pipeline: &wgpu::ComputePipeline,
        group: &wgpu::BindGroup,
        n: u32,
    ) {
        let (x, y) = self.grid(n);
        self.state(DispatchCount::default)
            .0
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        pass.set_pipeline(pipeline);
        pass.set_bind_group(0, group, &[]);
        pass.dispatch_workgroups(x, y, 1);
    }
}

/// The device's dispatch counter (in its state map).
#[derive(Clone, Default)]
struct DispatchCount(std::sync::Arc<std::sync::atomic::AtomicU64>);

/// Begins a compute pass labelled `label` (without timestamp writes).
pub fn compute_pass<'e>(enc: &'e mut wgpu::CommandEncoder, label: &str) -> wgpu::ComputePass<'e> {
    enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
        label: Some(label),
        timestamp_writes: None,
    })
}
