//! The manifest: the JSON file that describes an experiment (DESIGN.md, "The
//! manifest and the CLI"). This module parses it, validates every value (each
//! problem with its JSON path and source line, all of them at once), and
//! expands variants × sweep × repeats into a plan of fully resolved runs.
//!
//! Merging goes base ← variant ← sweep values. Objects deep-merge, except
//! that objects tagged by `scheme` (an init) or `name` (a loss or an
//! activation) and arrays replace wholesale, so that switching schemes never
//! leaves a stray parameter of the old one behind. A `null` unsets a field,
//! so a variant can trade `width` and `depth` for `widths`.

mod expand;
mod fields;
mod json_schema;
mod path;
mod resolved;
mod safetensors;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_errors;
#[cfg(test)]
mod tests_plan;
mod top;

use crate::config::RunSpec;
use crate::registry::{Checker, JPath};
use expand::{Arm, expand, run_id};
pub use fields::{LABEL_DOC, MANIFEST_FIELDS, SWEEP_DOC, VARIANTS_DOC};
pub use json_schema::{json_schema, json_schema_text};
use path::LineMap;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::fmt;
use std::path::{Path, PathBuf};
use top::{Top, check_top};

/// The most runs one plan may hold.
pub const MAX_RUNS: usize = 100_000;

/// A parsed and fully validated manifest.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// Names the results folder: `[A-Za-z0-9_.-]+`.
    pub name: String,
    /// Free text for the report; empty when not given.
    pub description: String,
    /// Philox key of every run (default 0); `--seed` overrides it.
    pub seed: u64,
    /// Runs per arm, each with its own repeat index (default 1).
    pub repeats: u32,
    /// The manifest as given, for echoing into `results.json`.
    pub raw: Value,
    source_name: String,
    lines: LineMap,
    /// Every variant × sweep combination, resolved; repeats are added by `plan`.
    arms: Vec<Arm>,
}

/// Command-line overrides of the manifest's `seed` and `repeats`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlanOverrides {
    /// `--seed`: replaces the manifest's seed.
    pub seed: Option<u64>,
    /// `--repeats`: replaces the manifest's repeats (must be >= 1).
    pub repeats: Option<u32>,
}

/// One thing wrong with a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// JSON path such as `variants[2].init.std` or `sweep["network.depth"][1]`;
    /// empty for the document as a whole.
    pub path: String,
    /// 1-based line in the source text, when known.
    pub line: Option<usize>,
    /// What is wrong and how to fix it.
    pub message: String,
}

/// Every problem found in a manifest; `Display` writes one per line as
/// `{source}:{line}: {path}: {message}`.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", self.render())]
pub struct ManifestError {
    /// The file name used in messages.
    pub source_name: String,
    /// Every problem found, in the order of the file.
    pub problems: Vec<Problem>,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(line) = self.line {
            write!(f, "{line}: ")?;
        }
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

impl ManifestError {
    fn render(&self) -> String {
        let line = |p: &Problem| {
            let sep = if p.line.is_some() { ":" } else { ": " };
            format!("{}{sep}{p}", self.source_name)
        };
        self.problems
            .iter()
            .map(line)
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn one(source: &str, path: &str, line: Option<usize>, message: String) -> ManifestError {
        let problem = Problem {
            path: path.to_string(),
            line,
            message,
        };
        ManifestError {
            source_name: source.to_string(),
            problems: vec![problem],
        }
    }

    /// Attaches lines to (path, message) pairs, in the order of the file.
    fn from_found(source: &str, lines: &LineMap, found: Vec<(JPath, String)>) -> ManifestError {
        let mut problems: Vec<Problem> = found
            .into_iter()
            .map(|(p, message)| Problem {
                path: p.to_string(),
                line: lines.line_of(&p),
                message,
            })
            .collect();
        problems.sort_by_key(|p| p.line.unwrap_or(usize::MAX));
        ManifestError {
            source_name: source.to_string(),
            problems,
        }
    }
}

impl Manifest {
    /// Reads and validates the manifest at `path`; relative `from_file` paths
    /// start at its folder.
    pub fn from_path(path: &Path) -> Result<Manifest, ManifestError> {
        let source = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| {
            ManifestError::one(&source, "", None, format!("cannot read the manifest: {e}"))
        })?;
        Self::parse(&text, &source, &folder_of(path))
    }

    /// Validates manifest text; `source` is the file name used in messages,
    /// and its folder (the current one if it has none) anchors relative paths.
    pub fn from_str(text: &str, source: &str) -> Result<Manifest, ManifestError> {
        Self::parse(text, source, &folder_of(Path::new(source)))
    }

    fn parse(text: &str, source: &str, dir: &Path) -> Result<Manifest, ManifestError> {
        let raw: Value = serde_json::from_str(text).map_err(|e| syntax_error(source, &e))?;
        let lines = LineMap::scan(text);
        let mut c = Checker::default();
        for (p, _) in &lines.duplicates {
            c.push(
                p,
                "duplicate key; JSON keeps only the last one, so remove the other",
            );
        }
        let top = check_top(&mut c, &raw);
        let arms = top
            .as_ref()
            .map(|t| expand_checked(&mut c, t, dir))
            .unwrap_or_default();
        match top {
            Some(t) if c.problems.is_empty() => Ok(Manifest {
                name: t.name,
                description: t.description,
                seed: t.seed,
                repeats: t.repeats,
                raw,
                source_name: source.to_string(),
                lines,
                arms,
            }),
            _ => Err(ManifestError::from_found(source, &lines, c.problems)),
        }
    }

    /// Expands and validates every run. Run ids are "r000", "r001", ... in
    /// plan order: variants, then sweep values (first key slowest), then
    /// repeats innermost.
    pub fn plan(&self, o: &PlanOverrides) -> Result<Vec<RunSpec>, ManifestError> {
        let seed = o.seed.unwrap_or(self.seed);
        let repeats = o.repeats.unwrap_or(self.repeats);
        if repeats == 0 {
            return Err(ManifestError::one(
                &self.source_name,
                "--repeats",
                None,
                "must be at least 1".into(),
            ));
        }
        let total = self.arms.len() as u128 * u128::from(repeats);
        if total > MAX_RUNS as u128 {
            let p = JPath::root().key("repeats");
            let msg = size_message(self.arms.len() as u128, repeats);
            return Err(ManifestError::from_found(
                &self.source_name,
                &self.lines,
                vec![(p, msg)],
            ));
        }
        let (total, r_count) = (total as usize, repeats as usize);
        let runs = self.arms.iter().enumerate().flat_map(|(a, arm)| {
            (0..repeats).map(move |r| RunSpec {
                id: run_id(a * r_count + r as usize, total),
                label: if repeats > 1 {
                    format!("{} #{r}", arm.label)
                } else {
                    arm.label.clone()
                },
                group: arm.label.clone(),
                variant: arm.variant.clone(),
                params: arm.params.clone(),
                seed,
                repeat: r,
                config: arm.config.clone(),
            })
        });
        Ok(runs.collect())
    }
}

/// Checks the plan size, then expands; problems go into `c`.
fn expand_checked(c: &mut Checker, top: &Top, dir: &Path) -> Vec<Arm> {
    // Saturating: a sweep of 130 two-valued keys would overflow even u128.
    let arms = (top.sweep.iter().map(|k| k.values.len() as u128))
        .fold(top.variants.len().max(1) as u128, u128::saturating_mul);
    if arms.saturating_mul(u128::from(top.repeats)) > MAX_RUNS as u128 {
        let at = if top.sweep.is_empty() {
            "repeats"
        } else {
            "sweep"
        };
        c.push(&JPath::root().key(at), size_message(arms, top.repeats));
        return Vec::new();
    }
    match expand(top, dir) {
        Ok(arms) => arms,
        Err(found) => {
            c.problems.extend(found);
            Vec::new()
        }
    }
}

fn size_message(arms: u128, repeats: u32) -> String {
    let total = arms.saturating_mul(u128::from(repeats));
    format!(
        "the plan has {total} runs ({arms} variant and sweep combinations x {repeats} repeats); \
         at most {MAX_RUNS} are allowed, so shorten the sweep lists or the repeats"
    )
}

fn syntax_error(source: &str, e: &serde_json::Error) -> ManifestError {
    let full = e.to_string();
    let what = full.split(" at line ").next().unwrap_or(&full);
    let msg = format!("invalid JSON at column {}: {what}", e.column());
    ManifestError::one(source, "", Some(e.line()), msg)
}

/// The absolute folder of a manifest path (the current folder if it has none).
fn folder_of(path: &Path) -> PathBuf {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::path::absolute(&dir).unwrap_or(dir)
}

/// Stable hex SHA-256 of the run's config, seed and repeat (labels and ids
/// excluded), so `--resume` can tell whether a finished run is still current.
pub fn config_hash(run: &RunSpec) -> String {
    let doc = serde_json::json!({
        "hash_version": 1,
        "config": serde_json::to_value(&run.config).unwrap_or(Value::Null),
        "seed": run.seed,
        "repeat": run.repeat,
    });
    Sha256::digest(doc.to_string().as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
