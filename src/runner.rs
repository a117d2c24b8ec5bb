//! `initscope run`: manifest → plan → GPU runs → results after every run →
//! figures and report. Errors are split by exit code: configuration errors
//! (nothing was run) and failures while running (finished runs are kept).

use crate::config::Diagnosis;
use crate::exec::{self, ExecError, RunOutput};
use crate::gpu::{Gpu, GpuError, GpuOptions};
use crate::io::{ensure_writable, write_atomic};
use crate::manifest::{Manifest, ManifestError, PlanOverrides};
use crate::model::Model;
use crate::plan::{Plan, PlanError, PlannedRun};
use crate::report::html::Images;
use crate::results::files::{read_results, write_results, write_tidy};
use crate::results::{
    ResultsDoc, RunResult, RunSummary, SCHEMA_VERSION, ShardRecord, Timing, ToolRecord,
};
use crate::shard::{Shard, ShardError};
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
    /// Embed the figures in report.html (one file to send).
    pub self_contained: bool,
    pub gpu: GpuOptions,
    /// `--shard K/N`: run only that part of the plan.
    pub shard: Option<Shard>,
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

impl From<ShardError> for RunError {
    fn from(e: ShardError) -> Self {
        RunError::Usage(e.to_string())
    }
}

impl From<PlanError> for RunError {
    fn from(e: PlanError) -> Self {
        match e {
            PlanError::Manifest(m) => RunError::Manifest(m),
            PlanError::Run(m) => RunError::Usage(m),
        }
    }
}

/// Parses, expands and resolves a manifest (no GPU needed). Done once per
/// command: `execute` takes the result.
pub fn load_plan(path: &Path, o: &PlanOverrides) -> Result<Plan, RunError> {
    Ok(Plan::load(path, o)?)
}

/// Opens the GPU for a request, with the GEMM kernel the tuner cached for it.
pub fn open_gpu(opts: &GpuOptions) -> Result<Arc<Gpu>, RunError> {
    let gpu = Gpu::new(opts).map_err(|e| RunError::Failed(e.to_string()))?;
    crate::tune::apply_cached(&gpu);
    Ok(gpu)
}

/// The output folder: `--out`, else `results/<name>/`, and for a shard
/// `results/<name>/shard-K-of-N/` (so that `merge results/<name>
/// results/<name>/shard-*` puts the sweep where an unsharded run would).
pub fn out_dir(req: &RunRequest, m: &Manifest) -> PathBuf {
    req.out.clone().unwrap_or_else(|| {
        let dir = PathBuf::from("results").join(&m.name);
        match req.shard {
            Some(s) => dir.join(s.folder_name()),
            None => dir,
        }
    })
}

/// Progress callbacks, so the CLI can draw a bar and the library stays quiet.
pub trait Progress {
    fn start(&mut self, total: usize);
    fn run_started(&mut self, index: usize, label: &str);
    fn run_finished(&mut self, index: usize, skipped: bool);
    fn finish(&mut self);
    /// Something the user should read that is not an error (printed on
    /// stderr by the CLI, even with --quiet).
    fn note(&mut self, _message: &str) {}
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
    /// The runs of the whole plan (more than `doc.runs` for a shard).
    pub plan_runs: usize,
}

/// Runs a loaded plan end to end: sizes are checked against the adapter
/// and the output folder is tried before any GPU work.
pub fn execute(
    req: &RunRequest,
    gpu: &Gpu,
    mut plan: Plan,
    progress: &mut dyn Progress,
) -> Result<Outcome, RunError> {
    let (plan_hash, plan_runs) = (plan.hash(), plan.runs.len());
    let shard = match req.shard {
        Some(s) => Some(crate::shard::select(&mut plan, s)?),
        None => None,
    };
    plan.check_fits(exec::limits(gpu))?;
    let dir = prepare_dir(req, &plan)?;
    // Held until the report is written: a second run into this folder is
    // refused instead of interleaving its writes with ours.
    let lock =
        crate::lock::FolderLock::acquire(&dir).map_err(|e| RunError::Usage(e.to_string()))?;
    if let Some(stale) = &lock.took_over {
        progress.note(&format!(
            "took over the lock of {} left by initscope {stale}, which no longer runs",
            dir.display()
        ));
    }
    let previous = resume_map(req.resume, &dir)?;
    let mut doc = new_doc(gpu, &plan, plan_hash, shard);
    progress.start(plan.runs.len());
    // A second thread compiles the large pipelines the runs will need while
    // the first starts them.
    let warm: Vec<_> = (plan.runs.iter())
        .flat_map(|run| exec::init::warm_list(gpu, &run.model))
        .collect();
    let (ran, skipped) = gpu.prewarm_while(&warm, || {
        run_plan(gpu, &plan, req, &dir, &previous, &mut doc, progress)
    })?;
    progress.finish();
    let images = if req.self_contained {
        Images::Embedded
    } else {
        Images::Linked
    };
    let figures = finish(&doc, &dir, images)?;
    drop(lock);
    Ok(Outcome {
        doc,
        dir,
        ran,
        skipped,
        figures,
        plan_runs,
    })
}

/// Runs (or takes from `previous`) every run of the plan in order, writing
/// results.json after each; returns (ran, skipped).
fn run_plan(
    gpu: &Gpu,
    plan: &Plan,
    req: &RunRequest,
    dir: &Path,
    previous: &HashMap<String, RunResult>,
    doc: &mut ResultsDoc,
    progress: &mut dyn Progress,
) -> Result<(usize, usize), RunError> {
    let (mut ran, mut skipped) = (0, 0);
    for (i, run) in plan.runs.iter().enumerate() {
        let (spec, hash) = (&run.spec, &run.hash);
        crate::fault::set_run(i + 1);
        progress.run_started(i, &spec.label);
        if let Some(r) = previous.get(hash) {
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
            let r = run_one(gpu, run, req, dir)?;
            doc.runs.push(r);
            ran += 1;
        }
        write_results(dir, doc)
            .map_err(|e| RunError::Failed(format!("writing results to {}: {e}", dir.display())))?;
        progress.run_finished(i, previous.contains_key(hash));
    }
    Ok((ran, skipped))
}

/// The output folder, created and tried (with `weights/` when exporting)
/// before any GPU work.
fn prepare_dir(req: &RunRequest, plan: &Plan) -> Result<PathBuf, RunError> {
    let dir = out_dir(req, &plan.manifest);
    let mut folders = vec![dir.clone()];
    if req.export_weights {
        folders.push(dir.join("weights"));
    }
    for f in folders {
        ensure_writable(&f).map_err(|e| {
            RunError::Usage(format!(
                "output folder {} is not writable: {e}",
                f.display()
            ))
        })?;
    }
    Ok(dir)
}

/// An empty results document for `plan` on `gpu`.
fn new_doc(gpu: &Gpu, plan: &Plan, plan_hash: String, shard: Option<ShardRecord>) -> ResultsDoc {
    ResultsDoc {
        schema_version: SCHEMA_VERSION,
        tool: ToolRecord::default(),
        adapter: gpu.adapter_record(),
        manifest: plan.manifest.raw.clone(),
        plan_hash: Some(plan_hash),
        shard,
        runs: Vec::new(),
    }
}

/// What follows the last run, once `results.json` is complete: `layers.csv`,
/// the figures and the report. `merge` ends the same way, so a merged
/// sweep's folder looks like an unsharded one's.
pub fn finish(
    doc: &ResultsDoc,
    dir: &Path,
    images: Images,
) -> Result<Vec<crate::report::plots::Figure>, RunError> {
    write_tidy(dir, doc)
        .map_err(|e| RunError::Failed(format!("writing layers.csv to {}: {e}", dir.display())))?;
    crate::report::render(doc, dir, images).map_err(|e| RunError::Failed(e.to_string()))
}

fn resume_map(resume: bool, dir: &Path) -> Result<HashMap<String, RunResult>, RunError> {
    let path = dir.join("results.json");
    if !resume || !path.exists() {
        return Ok(HashMap::new());
    }
    let doc = read_results(&path).map_err(|e| RunError::Usage(format!("--resume: {e}")))?;
    let adapter = doc.adapter;
    Ok(doc
        .runs
        .into_iter()
        .map(|mut r| {
            // A kept run keeps the adapter it ran on, not this process's.
            r.adapter = r.adapter.or_else(|| Some(adapter.clone()));
            (r.config_hash.clone(), r)
        })
        .collect())
}

fn run_one(
    gpu: &Gpu,
    run: &PlannedRun,
    req: &RunRequest,
    dir: &Path,
) -> Result<RunResult, RunError> {
    let (spec, model) = (&run.spec, &run.model);
    let t = Instant::now();
    let fail = |e: ExecError| match e {
        ExecError::Config(m) => RunError::Usage(format!("run {} ({}): {m}", spec.id, spec.label)),
        ExecError::Gpu(g) => RunError::Failed(format!(
            "run {} ({}): {}",
            spec.id,
            spec.label,
            gpu_hint(&g)
        )),
    };
    let out = exec::run_model(gpu, model, spec, req.export_weights).map_err(fail)?;
    if let Some(tensors) = &out.tensors {
        let path = dir.join("weights").join(format!("{}.safetensors", spec.id));
        crate::export::write_safetensors(&path, spec, tensors)
            .map_err(|e| RunError::Failed(format!("writing {}: {e}", path.display())))?;
    }
    Ok(RunResult {
        id: spec.id.clone(),
        label: spec.label.clone(),
        group: spec.group.clone(),
        variant: spec.variant.clone(),
        params: spec.params.clone(),
        seed: spec.seed,
        repeat: spec.repeat,
        config_hash: run.hash.clone(),
        config: serde_json::to_value(&spec.config).unwrap_or_default(),
        summary: summary_of(model, &spec.config.stats.diagnosis, &out),
        theory: crate::theory::of_model(model),
        train: out.train.clone(),
        block_theory: crate::theory::of_residual(model),
        stream_in: out.stream_in.clone(),
        timing_ms: Timing {
            init_ms: out.init_ms,
            step_ms: out.step_ms,
            total_ms: t.elapsed().as_secs_f64() * 1e3,
            train_ms: out.train_ms,
        },
        layers: out.layers,
        blocks: out.blocks,
        tensors: out.tensors_stats,
        adapter: Some(gpu.adapter_record()),
        jacobian: out.jacobian,
    })
}

/// The summary and diagnosis of a finished run.
pub fn summary_of(model: &Model, d: &Diagnosis, out: &RunOutput) -> RunSummary {
    if model.residual.is_some() {
        let run = crate::stats::ResidualRun {
            blocks: &out.blocks,
            tensors: &out.tensors_stats,
            stream_in: out.stream_in.as_ref(),
            input: &out.input,
            output: out.output.as_ref().map(|o| &o.0),
            loss: out.loss,
        };
        return crate::stats::summarize_residual(&run, d);
    }
    let saturating: Vec<bool> = model
        .layers
        .iter()
        .map(|l| l.activation.saturates())
        .collect();
    crate::stats::summarize(&out.layers, &out.input, out.loss, d, &saturating)
}

fn gpu_hint(e: &GpuError) -> String {
    match e {
        GpuError::OutOfMemory { .. } => format!("{e} (reduce input.batch or the widths)"),
        other => other.to_string(),
    }
}

/// Overwrites one file atomically (re-exported for the CLI's other writers).
pub fn write_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_atomic(path, bytes)
}
