//! The sweep commands beyond one process: `merge` (shard folders back into
//! one) and `slurm` (a job array of shards plus a merge job).

use crate::out;
use anyhow::Result;
use initscope::manifest::PlanOverrides;
use initscope::merge::MergeError;
use initscope::report::html::Images;
use initscope::runner::{self, RunError};
use initscope::shard::{self, Split};
use initscope::slurm::{self, SlurmRequest};
use std::io::Write;
use std::path::{Path, PathBuf};

/// `initscope merge OUT PART...`.
pub fn merge(out: &Path, parts: &[PathBuf], quiet: bool, self_contained: bool) -> Result<()> {
    let images = if self_contained {
        Images::Embedded
    } else {
        Images::Linked
    };
    let merged = initscope::merge::merge(out, parts, images).map_err(|e| match e {
        e @ MergeError::Write(_) => RunError::Failed(e.to_string()),
        e => RunError::Usage(e.to_string()),
    })?;
    if quiet {
        return Ok(());
    }
    out!("{}", super::table::runs_table(&merged.doc));
    out!(
        "Merged {} shard folder(s): {} runs into {} (results.json, summary.csv, layers.csv, {} figures, report.html).",
        merged.parts,
        merged.doc.runs.len(),
        merged.dir.display(),
        merged.figures.len()
    );
    if merged.adapters.len() > 1 {
        out!(
            "Note: the runs ran on {} different adapters (the report lists which ran where):",
            merged.adapters.len()
        );
        for (a, n) in &merged.adapters {
            out!("  {} ({}, {}): {n} run(s)", a.name, a.backend, a.driver);
        }
    }
    Ok(())
}

/// The arguments of `initscope slurm`, once parsed.
pub struct SlurmArgs {
    pub manifest: PathBuf,
    pub array: usize,
    pub partition: Option<String>,
    pub gpus_per_task: u32,
    pub time: Option<String>,
    pub out: Option<PathBuf>,
    pub submit: bool,
    pub overrides: PlanOverrides,
    /// Forwarded to every shard's `run`.
    pub run_args: Vec<String>,
}

/// An absolute form of `p` (made against the working directory), without
/// requiring it to exist.
fn absolute(p: &Path) -> Result<PathBuf> {
    let p = std::path::absolute(p).map_err(|e| RunError::Usage(format!("{}: {e}", p.display())))?;
    Ok(std::fs::canonicalize(&p).unwrap_or(p))
}

/// `initscope slurm MANIFEST --array N ...`.
pub fn slurm(a: &SlurmArgs) -> Result<()> {
    let plan = runner::load_plan(&a.manifest, &a.overrides)?;
    let split = shard::split(&plan, a.array).map_err(RunError::from)?;
    let name = plan.manifest.name.clone();
    let out_dir = a
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("results").join(&name));
    let exe = std::env::current_exe()
        .map_err(|e| RunError::Failed(format!("cannot find the initscope binary: {e}")))?;
    let req = SlurmRequest {
        exe: absolute(&exe)?,
        manifest: absolute(&a.manifest)?,
        out: absolute(&out_dir)?,
        name: name.clone(),
        array: a.array,
        partition: a.partition.clone(),
        gpus_per_task: a.gpus_per_task,
        time: a.time.clone(),
        run_args: a.run_args.clone(),
    };
    let scripts = slurm::write_scripts(&req)?;
    out!(
        "\"{name}\": {} runs in {} shards (one per array task), results under {}/",
        plan.runs.len(),
        a.array,
        req.out.display()
    );
    print_balance(&split);
    out!(
        "  {}  the job array (shard K of task K)",
        scripts.array.display()
    );
    out!(
        "  {}  the merge, after every task succeeded",
        scripts.merge.display()
    );
    if !a.submit {
        let [first, second] = slurm::submit_commands(&scripts);
        out!("Submit both (or run this command again with --submit):");
        out!("  {first}");
        out!("  {second}");
        return Ok(());
    }
    let jobs = slurm::submit(&scripts)?;
    let (aj, mj) = (&jobs.array_job, &jobs.merge_job);
    out!(
        "Submitted array job {aj} ({} tasks) and merge job {mj} (starts when every task has succeeded).",
        a.array
    );
    out!("Watch them:  squeue -j {aj},{mj}");
    out!("Logs:        {}/", scripts.logs.display());
    out!(
        "Results:     {} once job {mj} has finished",
        req.out.join("report.html").display()
    );
    out!("If task K fails, fix the cause, then resubmit it alone and point the merge at it:");
    out!("  {}", slurm::resubmit_command(&scripts, mj, "K"));
    Ok(())
}

/// Each shard's run count and share of the estimated cost.
fn print_balance(split: &Split) {
    let n = split.runs.len();
    if n <= 16 {
        let parts: Vec<String> = (0..n)
            .map(|k| {
                format!(
                    "{}: {} runs {:.1}%",
                    k + 1,
                    split.runs[k],
                    split.share[k] * 100.0
                )
            })
            .collect();
        out!("Shards by estimated cost: {}", parts.join(" · "));
    } else {
        let (lo, hi) = (
            split.runs.iter().min().copied().unwrap_or(0),
            split.runs.iter().max().copied().unwrap_or(0),
        );
        out!("Shards by estimated cost: {lo}–{hi} runs each");
    }
    out!(
        "  (largest shard / mean shard = {:.2} by estimated cost)",
        split.imbalance()
    );
}
