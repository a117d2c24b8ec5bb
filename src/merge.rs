//! `initscope merge OUT PART...`: the shards of one plan back into the
//! folder an unsharded run would have written.
//!
//! Every check runs before anything is written: the parts must be shards
//! (`run --shard K/N`) of the same plan (the same plan hash: manifest,
//! `--seed` and `--repeats`), split the same way, and cover every run of
//! the plan exactly once. Then `results.json` (runs in plan order, each
//! with the adapter it ran on), `summary.csv`, `layers.csv`, exported
//! weights, the figures and the report are written as `run` writes them.

use crate::io::{ensure_writable, write_atomic};
use crate::plan::plan_hash;
use crate::report::html::Images;
use crate::report::plots::Figure;
use crate::results::files::{read_results, write_results};
use crate::results::{
    AdapterRecord, ResultsDoc, RunResult, SCHEMA_VERSION, ShardRecord, ToolRecord,
};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// Why a merge was refused (exit 2, nothing written) or failed (exit 1).
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("merge needs at least one part folder")]
    NoParts,
    /// A part folder cannot be used as it is.
    #[error("{0}")]
    BadPart(String),
    /// The parts belong to different plans or were split differently.
    #[error("{0}")]
    Mismatch(String),
    /// Runs are missing or given twice.
    #[error("{0}")]
    Coverage(String),
    /// Writing the merged folder failed (exit 1).
    #[error("{0}")]
    Write(String),
}

impl MergeError {
    /// True when nothing was written (a usage error, exit 2).
    pub fn is_usage(&self) -> bool {
        !matches!(self, MergeError::Write(_))
    }
}

/// One part folder, read and checked on its own.
struct Part {
    dir: PathBuf,
    doc: ResultsDoc,
    shard: ShardRecord,
}

/// What a finished merge wrote.
pub struct Merged {
    pub doc: ResultsDoc,
    pub dir: PathBuf,
    pub parts: usize,
    /// Each adapter the runs ran on, with its run count (most runs first).
    pub adapters: Vec<(AdapterRecord, usize)>,
    pub figures: Vec<Figure>,
}

/// Merges the shard folders `parts` into `out`.
pub fn merge(out: &Path, parts: &[PathBuf], images: Images) -> Result<Merged, MergeError> {
    if parts.is_empty() {
        return Err(MergeError::NoParts);
    }
    let parts = read_parts(out, parts)?;
    check_same_plan(&parts)?;
    let runs = collect_runs(&parts)?;
    let adapters = adapters_of(&runs);
    let first = &parts[0].doc;
    let doc = ResultsDoc {
        schema_version: SCHEMA_VERSION,
        tool: ToolRecord::default(),
        adapter: adapters
            .first()
            .map_or_else(|| first.adapter.clone(), |a| a.0.clone()),
        manifest: first.manifest.clone(),
        plan_hash: first.plan_hash.clone(),
        shard: None,
        runs,
    };
    let figures = write_merged(out, &doc, &parts, images)?;
    Ok(Merged {
        doc,
        dir: out.to_path_buf(),
        parts: parts.len(),
        adapters,
        figures,
    })
}

fn read_parts(out: &Path, dirs: &[PathBuf]) -> Result<Vec<Part>, MergeError> {
    let out_real = std::fs::canonicalize(out).ok();
    let mut seen: HashMap<PathBuf, &Path> = HashMap::new();
    let mut parts = Vec::with_capacity(dirs.len());
    for dir in dirs {
        let real = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.clone());
        if let Some(first) = seen.insert(real.clone(), dir) {
            return Err(MergeError::BadPart(format!(
                "{} is given twice (also as {})",
                dir.display(),
                first.display()
            )));
        }
        if out_real.as_ref() == Some(&real) {
            return Err(MergeError::BadPart(format!(
                "the output folder {} is also a part; merge into another folder \
                 (e.g. the shards' parent)",
                out.display()
            )));
        }
        parts.push(read_part(dir)?);
    }
    Ok(parts)
}

fn read_part(dir: &Path) -> Result<Part, MergeError> {
    let path = dir.join("results.json");
    if !path.is_file() {
        let what = if dir.is_dir() {
            "has no results.json"
        } else {
            "does not exist"
        };
        return Err(MergeError::BadPart(format!(
            "part folder {} {what}: that shard has not run or failed before its first run \
             (run it with `initscope run MANIFEST --shard K/N --out {}`)",
            dir.display(),
            dir.display()
        )));
    }
    let doc = read_results(&path).map_err(MergeError::BadPart)?;
    let Some(shard) = doc.shard.clone() else {
        return Err(MergeError::BadPart(format!(
            "{} is not a shard's results (no \"shard\" record): merge folders written by \
             `initscope run MANIFEST --shard K/N`",
            path.display()
        )));
    };
    let listed = plan_hash(
        shard
            .plan
            .iter()
            .map(|e| (e.id.as_str(), e.config_hash.as_str())),
    );
    if doc.plan_hash.as_deref() != Some(listed.as_str()) {
        return Err(MergeError::BadPart(format!(
            "{}: the plan listed in its shard record does not match its plan_hash \
             (the file was edited or is damaged)",
            path.display()
        )));
    }
    Ok(Part {
        dir: dir.to_path_buf(),
        doc,
        shard,
    })
}

/// A part as messages name it: folder, manifest name, shard and plan hash.
fn describe(p: &Part) -> String {
    let name = p.doc.manifest.get("name").and_then(|v| v.as_str());
    format!(
        "{}: manifest \"{}\", shard {}/{}, plan {} ({} runs)",
        p.dir.display(),
        name.unwrap_or("?"),
        p.shard.index,
        p.shard.count,
        p.doc
            .plan_hash
            .as_deref()
            .map_or_else(|| "?".into(), |h| h.chars().take(12).collect::<String>()),
        p.shard.plan.len()
    )
}

fn check_same_plan(parts: &[Part]) -> Result<(), MergeError> {
    let first = &parts[0];
    let list = || {
        parts
            .iter()
            .map(|p| format!("  {}", describe(p)))
            .collect::<Vec<_>>()
            .join("\n")
    };
    if parts.iter().any(|p| p.doc.plan_hash != first.doc.plan_hash) {
        return Err(MergeError::Mismatch(format!(
            "the parts come from different plans (another manifest, --seed or --repeats):\n{}",
            list()
        )));
    }
    if parts.iter().any(|p| p.shard.count != first.shard.count) {
        return Err(MergeError::Mismatch(format!(
            "the parts split the plan different ways (different N in --shard K/N):\n{}",
            list()
        )));
    }
    Ok(())
}

/// Every run of the plan exactly once, in plan order; else what is
/// missing (by shard) and what is given twice.
fn collect_runs(parts: &[Part]) -> Result<Vec<RunResult>, MergeError> {
    let plan = &parts[0].shard.plan;
    let position: HashMap<&str, usize> = plan
        .iter()
        .enumerate()
        .map(|(i, e)| (e.id.as_str(), i))
        .collect();
    let mut slots: Vec<Option<(RunResult, usize)>> = vec![None; plan.len()];
    let (mut twice, mut foreign) = (Vec::new(), Vec::new());
    for (pi, p) in parts.iter().enumerate() {
        for r in &p.doc.runs {
            let Some(&i) = position.get(r.id.as_str()) else {
                foreign.push(format!("{} (in {})", r.id, p.dir.display()));
                continue;
            };
            if plan[i].config_hash != r.config_hash {
                foreign.push(format!(
                    "{} (in {}: another configuration)",
                    r.id,
                    p.dir.display()
                ));
            } else if let Some((_, other)) = &slots[i] {
                let a = parts[*other].dir.display();
                twice.push(format!("{} (in {a} and {})", r.id, p.dir.display()));
            } else {
                let mut r = r.clone();
                r.adapter = r.adapter.or_else(|| Some(p.doc.adapter.clone()));
                slots[i] = Some((r, pi));
            }
        }
    }
    let missing: Vec<usize> = (0..plan.len()).filter(|&i| slots[i].is_none()).collect();
    if missing.is_empty() && twice.is_empty() && foreign.is_empty() {
        return Ok(slots.into_iter().flatten().map(|(r, _)| r).collect());
    }
    Err(MergeError::Coverage(coverage_message(
        parts, &missing, &twice, &foreign,
    )))
}

fn coverage_message(
    parts: &[Part],
    missing: &[usize],
    twice: &[String],
    foreign: &[String],
) -> String {
    let plan = &parts[0].shard.plan;
    let n = parts[0].shard.count;
    let mut msg = format!(
        "the parts do not cover the plan ({} runs) exactly once:",
        plan.len()
    );
    let mut by_shard: BTreeMap<usize, Vec<&str>> = BTreeMap::new();
    for &i in missing {
        by_shard.entry(plan[i].shard).or_default().push(&plan[i].id);
    }
    if !missing.is_empty() {
        msg += &format!("\n  missing {} run(s):", missing.len());
    }
    for (k, ids) in &by_shard {
        let expected = plan.iter().filter(|e| e.shard == *k).count();
        let part = parts.iter().find(|p| p.shard.index == *k);
        let whose = part.map_or_else(
            || "no folder of this shard was given".to_string(),
            |p| {
                format!(
                    "{} has {} of its {expected} runs",
                    p.dir.display(),
                    p.doc.runs.len()
                )
            },
        );
        msg += &format!("\n    shard {k}/{n}: {} ({whose})", ids.join(", "));
    }
    if !twice.is_empty() {
        msg += &format!("\n  given twice: {}", twice.join(", "));
    }
    if !foreign.is_empty() {
        msg += &format!("\n  not in the plan: {}", foreign.join(", "));
    }
    if !by_shard.is_empty() {
        let ks: Vec<String> = by_shard.keys().map(|k| k.to_string()).collect();
        msg += &format!(
            "\nRun the missing shard(s) {} again (`initscope run MANIFEST --shard K/{n} --resume \
             --out PART`; under Slurm `sbatch --array={} ARRAY_SCRIPT`), then merge again.",
            ks.join(", "),
            ks.join(",")
        );
    }
    msg
}

/// Each distinct adapter with its run count, most runs first (plan order
/// breaks ties).
fn adapters_of(runs: &[RunResult]) -> Vec<(AdapterRecord, usize)> {
    let mut out: Vec<(AdapterRecord, usize)> = Vec::new();
    for a in runs.iter().filter_map(|r| r.adapter.as_ref()) {
        match out.iter_mut().find(|(b, _)| b == a) {
            Some((_, n)) => *n += 1,
            None => out.push((a.clone(), 1)),
        }
    }
    out.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
    out
}

/// Writes the merged folder: weights, results.json + summary.csv, then the
/// figures and the report.
fn write_merged(
    out: &Path,
    doc: &ResultsDoc,
    parts: &[Part],
    images: Images,
) -> Result<Vec<Figure>, MergeError> {
    let fail = |what: &str, e: &dyn std::fmt::Display| {
        MergeError::Write(format!("{what} {}: {e}", out.display()))
    };
    ensure_writable(out).map_err(|e| fail("cannot write the output folder", &e))?;
    for p in parts {
        for r in &p.doc.runs {
            let file = format!("{}.safetensors", r.id);
            let src = p.dir.join("weights").join(&file);
            if !src.is_file() {
                continue;
            }
            let dst = out.join("weights");
            std::fs::create_dir_all(&dst)
                .and_then(|_| std::fs::read(&src))
                .and_then(|bytes| write_atomic(&dst.join(&file), &bytes))
                .map_err(|e| fail(&format!("copying {} into", src.display()), &e))?;
        }
    }
    write_results(out, doc).map_err(|e| fail("writing results to", &e))?;
    crate::runner::finish(doc, out, images).map_err(|e| MergeError::Write(e.to_string()))
}
