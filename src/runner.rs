//! `initscope run`: manifest → plan → GPU runs → results after every run →
//! figures and report. Errors are split by exit code: configuration errors
//! (nothing was run) and failures while running (finished runs are kept).

use crate::config::RunSpec;
use crate::exec::{self, Samplers};
use crate::gpu::{Gpu, GpuError, GpuOptions};
use crate::init::{Sampler, Shape};
use crate::io::{ensure_writable, write_atomic};
use crate::manifest::{Manifest, ManifestError, PlanOverrides, config_hash};
use crate::results::files::{read_results, write_results};
use crate::results::{Prediction, ResultsDoc, RunResult, SCHEMA_VERSION, Timing, ToolRecord};
use crate::theory::{LayerInput, predict};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// What the user asked `run` to do.
#[derive(Debug, Clone, Default)]
pub struct RunRequest {
    pub manifest: PathBuf,
    pub out: Option<PathBuf>,
    pub seed: Option<u64>,
    pub repeats: Option<u32>,
    pub export_weights: bool,
    pub resume: bool,
    pub quiet: bool,
    pub gpu: GpuOptions,
}

/// Why `run` stopped.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Nothing was run: a manifest, size or output-folder problem (exit 2).
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// A failure while running (exit 1); finished runs are in results.json.
    #[error("{0}")]
    Failed(String),
}

impl RunError {
    /// The process exit code: 2 when nothing was run, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            RunError::Usage(_) | RunError::Manifest(_) => 2,
            RunError::Failed(_) => 1,
        }
    }
}

/// A manifest expanded into runs, each with its schemes resolved (files read).
pub struct Plan {
    pub manifest: Manifest,
    pub runs: Vec<RunSpec>,
    pub samplers: Vec<Samplers>,
}

/// Parses, expands and resolves a manifest (no GPU needed). Done once per
/// command: `execute` takes the result.
pub fn load_plan(path: &Path, o: &PlanOverrides) -> Result<Plan, RunError> {
    let manifest = Manifest::from_path(path)?;
    let runs = manifest.plan(o)?;
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut samplers = Vec::with_capacity(runs.len());
    for r in &runs {
        let s = exec::resolve_samplers(r, Some(&base)).map_err(|e| {
            RunError::Usage(format!(
                "{}: run {} ({}): {}",
                path.display(),
                r.id,
                r.label,
                e.0
            ))
        })?;
        samplers.push(s);
    }
    Ok(Plan {
        manifest,
        runs,
        samplers,
    })
}

/// Checks every run's tensors against the adapter (no allocation).
pub fn check_plan(gpu: &Gpu, path: &Path, runs: &[RunSpec]) -> Result<Vec<u64>, RunError> {
    runs.iter()
        .map(|r| {
            exec::check_fits(gpu, r).map_err(|e| {
                RunError::Usage(format!(
                    "{}: run {} ({}): {e}",
                    path.display(),
                    r.id,
                    r.label
                ))
            })
        })
        .collect()
}

/// Opens the GPU for a request.
pub fn open_gpu(opts: &GpuOptions) -> Result<Arc<Gpu>, RunError> {
    Gpu::new(opts).map_err(|e| RunError::Failed(e.to_string()))
}

/// The output folder: `--out`, else `results/<name>/`.
pub fn out_dir(req: &RunRequest, m: &Manifest) -> PathBuf {
    req.out
        .clone()
        .unwrap_or_else(|| PathBuf::from("results").join(&m.name))
}

/// Progress callbacks, so the CLI can draw a bar and the library stays quiet.
pub trait Progress {
    fn start(&mut self, total: usize);
    fn run_started(&mut self, index: usize, label: &str);
    fn run_finished(&mut self, index: usize, skipped: bool);
    fn finish(&mut self);
}

/// No progress output.
pub struct Silent;

impl Progress for Silent {
    fn start(&mut self, _: usize) {}
    fn run_started(&mut self, _: usize, _: &str) {}
    fn run_finished(&mut self, _: usize, _: bool) {}
    fn finish(&mut self) {}
}

/// What a finished `run` produced.
pub struct Outcome {
    pub doc: ResultsDoc,
    pub dir: PathBuf,
    pub ran: usize,
    pub skipped: usize,
    pub figures: Vec<crate::report::plots::Figure>,
}

/// Runs a loaded plan end to end: sizes are checked against the adapter
/// and the output folder is tried before any GPU work.
pub fn execute(
    req: &RunRequest,
    gpu: &Gpu,
    plan: Plan,
    progress: &mut dyn Progress,
) -> Result<Outcome, RunError> {
    check_plan(gpu, &req.manifest, &plan.runs)?;
    let dir = out_dir(req, &plan.manifest);
    ensure_writable(&dir).map_err(|e| {
        RunError::Usage(format!(
            "output folder {} is not writable: {e}",
            dir.display()
        ))
    })?;
    if req.export_weights {
        ensure_writable(&dir.join("weights")).map_err(|e| {
            RunError::Usage(format!(
                "output folder {}/weights is not writable: {e}",
                dir.display()
            ))
        })?;
    }
    let previous = resume_map(req.resume, &dir)?;
    let mut doc = ResultsDoc {
        schema_version: SCHEMA_VERSION,
        tool: ToolRecord::default(),
        adapter: gpu.adapter_record(),
        manifest: plan.manifest.raw.clone(),
        runs: Vec::new(),
    };
    let (mut ran, mut skipped) = (0, 0);
    progress.start(plan.runs.len());
    for (i, spec) in plan.runs.iter().enumerate() {
        progress.run_started(i, &spec.label);
        let hash = config_hash(spec);
        if let Some(r) = previous.get(&hash) {
            // The measurements are the finished run's; the identity (label,
            // arm, swept values) is the current plan's.
            doc.runs.push(RunResult {
                id: spec.id.clone(),
                label: spec.label.clone(),
                group: spec.group.clone(),
                variant: spec.variant.clone(),
                params: spec.params.clone(),
                ..r.clone()
            });
            skipped += 1;
        } else {
            let r = run_one(gpu, spec, &plan.samplers[i], &hash, req, &dir)?;
            doc.runs.push(r);
            ran += 1;
        }
        write_results(&dir, &doc)
            .map_err(|e| RunError::Failed(format!("writing results to {}: {e}", dir.display())))?;
        progress.run_finished(i, previous.contains_key(&hash));
    }
    progress.finish();
    let figures = crate::report::render(&doc, &dir).map_err(|e| RunError::Failed(e.to_string()))?;
    Ok(Outcome {
        doc,
        dir,
        ran,
        skipped,
        figures,
    })
}

fn resume_map(resume: bool, dir: &Path) -> Result<HashMap<String, RunResult>, RunError> {
    let path = dir.join("results.json");
    if !resume || !path.exists() {
        return Ok(HashMap::new());
    }
    let doc = read_results(&path).map_err(|e| RunError::Usage(format!("--resume: {e}")))?;
    Ok(doc
        .runs
        .into_iter()
        .map(|r| (r.config_hash.clone(), r))
        .collect())
}

fn run_one(
    gpu: &Gpu,
    spec: &RunSpec,
    samplers: &Samplers,
    hash: &str,
    req: &RunRequest,
    dir: &Path,
) -> Result<RunResult, RunError> {
    let t = Instant::now();
    let fail = |e: exec::StackError| match e {
        exec::StackError::Config(m) => {
            RunError::Usage(format!("run {} ({}): {m}", spec.id, spec.label))
        }
        exec::StackError::Gpu(g) => RunError::Failed(format!(
            "run {} ({}): {}",
            spec.id,
            spec.label,
            gpu_hint(&g)
        )),
    };
    let session = exec::Session::new(gpu, spec, samplers).map_err(fail)?;
    let out = session.step(gpu).map_err(fail)?;
    if req.export_weights {
        let tensors = session.tensors(gpu).map_err(|e| fail(e.into()))?;
        let path = dir.join("weights").join(format!("{}.safetensors", spec.id));
        crate::export::write_safetensors(&path, spec, &tensors)
            .map_err(|e| RunError::Failed(format!("writing {}: {e}", path.display())))?;
    }
    let d = &spec.config.stats.diagnosis;
    let saturating: Vec<bool> = spec
        .config
        .layer_specs()
        .iter()
        .map(|l| l.activation.saturates())
        .collect();
    let summary = crate::stats::summarize(&out.layers, &out.input, out.loss, d, &saturating);
    Ok(RunResult {
        id: spec.id.clone(),
        label: spec.label.clone(),
        group: spec.group.clone(),
        variant: spec.variant.clone(),
        params: spec.params.clone(),
        seed: spec.seed,
        repeat: spec.repeat,
        config_hash: hash.to_string(),
        config: serde_json::to_value(&spec.config).unwrap_or_default(),
        layers: out.layers,
        summary,
        theory: theory_of(spec, samplers),
        timing_ms: Timing {
            init_ms: session.init_ms,
            step_ms: out.step_ms,
            total_ms: t.elapsed().as_secs_f64() * 1e3,
        },
    })
}

fn gpu_hint(e: &GpuError) -> String {
    match e {
        GpuError::OutOfMemory { .. } => format!("{e} (reduce input.batch or the widths)"),
        other => other.to_string(),
    }
}

/// Closed-form predictions where a theory applies: none for mixtures,
/// weights from files or LSUV (no number is invented).
pub fn theory_of(spec: &RunSpec, samplers: &Samplers) -> Option<Prediction> {
    let layers = spec.config.layer_specs();
    let mut inputs = Vec::with_capacity(layers.len());
    for (l, (w, b)) in layers.iter().zip(&samplers.layers) {
        if !l.init.has_theory() {
            return None;
        }
        let shape = Shape::weight(l.fan_in, l.fan_out);
        let (wm, wv) = w.moments(shape)?;
        let (bm, bv) = match b {
            Some(Sampler::Elementwise(_)) | Some(Sampler::Sparse { .. }) => {
                b.as_ref()?.moments(Shape::bias(l.fan_in, l.fan_out))?
            }
            Some(_) => return None,
            None => (0.0, 0.0),
        };
        inputs.push(LayerInput {
            fan_in: l.fan_in,
            fan_out: l.fan_out,
            activation: l.activation,
            weight_var: wv,
            weight_mean: wm,
            bias_var: bv,
            bias_mean: bm,
            orthogonal: matches!(w, Sampler::Orthogonal { .. }),
            gaussian: w.is_gaussian(),
        });
    }
    let in_shape = Shape {
        rows: spec.config.input.batch,
        cols: spec.config.network.input_dim,
        fan_in: 1,
        fan_out: 1,
    };
    let (im, iv) = samplers.input.moments(in_shape)?;
    predict(im, iv, spec.config.input.batch, &inputs, spec.config.loss)
}

/// Overwrites one file atomically (re-exported for the CLI's other writers).
pub fn write_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_atomic(path, bytes)
}
