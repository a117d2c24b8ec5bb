//! The plan: a manifest expanded into runs, each with its model built
//! (every scheme resolved, `from_file` tensors read) and its configuration
//! hash — all computed once per command, before any GPU work.

use crate::config::RunSpec;
use crate::manifest::{Manifest, ManifestError, PlanOverrides, config_hash};
use crate::model::Model;
use crate::model::memory::Limits;
use std::path::{Path, PathBuf};

/// Why a plan could not be made (a user error: nothing was run).
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// A run's schemes or sizes cannot be resolved.
    #[error("{0}")]
    Run(String),
}

/// One run of the plan, ready for the GPU.
#[derive(Debug, Clone)]
pub struct PlannedRun {
    pub spec: RunSpec,
    pub model: Model,
    /// Hash of the resolved configuration, seed and repeat (`--resume`).
    pub hash: String,
}

/// A manifest expanded into runs.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The manifest file, for messages.
    pub source: PathBuf,
    pub manifest: Manifest,
    pub runs: Vec<PlannedRun>,
}

impl Plan {
    /// Parses, validates and expands the manifest at `path` and builds every
    /// run's model. Relative `from_file` paths start at its folder.
    pub fn load(path: &Path, o: &PlanOverrides) -> Result<Plan, PlanError> {
        let manifest = Manifest::from_path(path)?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut runs = Vec::new();
        for spec in manifest.plan(o)? {
            let model = crate::model::build::build(&spec, Some(&base)).map_err(|e| {
                let (id, label) = (&spec.id, &spec.label);
                PlanError::Run(format!("{}: run {id} ({label}): {}", path.display(), e.0))
            })?;
            let hash = config_hash(&spec);
            runs.push(PlannedRun { spec, model, hash });
        }
        Ok(Plan {
            source: path.to_path_buf(),
            manifest,
            runs,
        })
    }

    /// Checks every run against the adapter's limits (no allocation);
    /// returns each run's GPU bytes.
    pub fn check_fits(&self, limits: Limits) -> Result<Vec<u64>, PlanError> {
        self.runs
            .iter()
            .map(|r| {
                r.model.check_fits(limits).map_err(|e| {
                    let (id, label) = (&r.spec.id, &r.spec.label);
                    PlanError::Run(format!(
                        "{}: run {id} ({label}): {e}",
                        self.source.display()
                    ))
                })
            })
            .collect()
    }

    /// The plan's hash: every run's id and configuration hash, in plan
    /// order (see [`plan_hash`]). Shards and their merge carry it, so parts
    /// of different manifests, seeds or repeats are never mixed.
    pub fn hash(&self) -> String {
        plan_hash(
            self.runs
                .iter()
                .map(|r| (r.spec.id.as_str(), r.hash.as_str())),
        )
    }
}

/// SHA-256 over `(id, config hash)` of every run, in order, with a version
/// tag. Labels and the description are not part of it: they do not change
/// what is measured.
pub fn plan_hash<'a>(runs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(b"initscope plan hash v1\n");
    for (id, config) in runs {
        h.update(id.as_bytes());
        h.update(b" ");
        h.update(config.as_bytes());
        h.update(b"\n");
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}
