//! The sweep commands beyond one process: `merge` (shard folders back into
//! one).

use crate::out;
use anyhow::Result;
use initscope::merge::MergeError;
use initscope::runner::RunError;
use std::io::Write;
use std::path::{Path, PathBuf};

/// `initscope merge OUT PART...`.
pub fn merge(out: &Path, parts: &[PathBuf], quiet: bool) -> Result<()> {
    let merged = initscope::merge::merge(out, parts).map_err(|e| match e {
        e @ MergeError::Write(_) => RunError::Failed(e.to_string()),
        e => RunError::Usage(e.to_string()),
    })?;
    if quiet {
        return Ok(());
    }
    out!("{}", super::table::runs_table(&merged.doc));
    out!(
        "Merged {} shard folder(s): {} runs into {} (results.json, summary.csv, {} figures, report.html).",
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
