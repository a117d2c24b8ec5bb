//! `initscope slurm`: a sweep as a Slurm job array (one shard per task,
//! `run --shard K/N`) and a merge job that starts once every task has
//! succeeded (`--dependency=afterok`). Slurm schedules; initscope only
//! writes the two batch scripts and, with `--submit`, calls `sbatch`.
//!
//! Both scripts name the initscope binary, the manifest and the output
//! folder by absolute path, so they run from any working directory (the
//! nodes must see the same file system). Array tasks run with `--resume`:
//! a task resubmitted alone keeps the runs it had finished.

use std::path::{Path, PathBuf};
use std::process::Command;

/// What to write: every path absolute.
#[derive(Debug, Clone)]
pub struct SlurmRequest {
    /// The initscope binary the tasks run.
    pub exe: PathBuf,
    pub manifest: PathBuf,
    /// The sweep's folder: shards go to `shard-K-of-N/`, the merge to the folder itself.
    pub out: PathBuf,
    /// The manifest's name (job names).
    pub name: String,
    /// N: array tasks, one shard each.
    pub array: usize,
    pub partition: Option<String>,
    /// GPUs per array task; 0 writes no GPU request.
    pub gpus_per_task: u32,
    /// Slurm's `--time` for each job, passed through.
    pub time: Option<String>,
    /// Extra `run` arguments for every shard (`--seed`, `--backend`, ...).
    pub run_args: Vec<String>,
}

/// The files written.
#[derive(Debug, Clone)]
pub struct Scripts {
    pub array: PathBuf,
    pub merge: PathBuf,
    /// Where the jobs' output goes.
    pub logs: PathBuf,
}

/// The two jobs `--submit` queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submitted {
    pub array_job: String,
    pub merge_job: String,
}

/// Why the scripts could not be written or submitted.
#[derive(Debug, thiserror::Error)]
pub enum SlurmError {
    /// A bad argument: nothing was written or queued (exit 2).
    #[error("{0}")]
    Usage(String),
    /// sbatch refused the array job: nothing was queued (exit 2).
    #[error("sbatch refused the array job {script}: {message}")]
    ArrayRefused { script: PathBuf, message: String },
    /// The array job is queued but its merge job is not (exit 1).
    #[error(
        "the array job {array_job} is queued, but sbatch refused the merge job {script}: {message}\n\
         Cancel the array with `scancel {array_job}`, or submit the merge by hand: \
         sbatch --dependency=afterok:{array_job} {script}"
    )]
    MergeRefused {
        array_job: String,
        script: PathBuf,
        message: String,
    },
    #[error("writing {0}: {1}")]
    Io(PathBuf, std::io::Error),
}

impl SlurmError {
    /// The process exit code: 2 when nothing was queued, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            SlurmError::Usage(_) | SlurmError::ArrayRefused { .. } => 2,
            SlurmError::MergeRefused { .. } | SlurmError::Io(..) => 1,
        }
    }
}

/// Quotes `s` for bash: single quotes, with `'` written as `'\''`.
pub fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Checks the values that land in `#SBATCH` lines, where Slurm does its own
/// (quote-free) parsing and `%` starts a file-name pattern.
fn check(req: &SlurmRequest) -> Result<(), SlurmError> {
    let plain = |s: &str, extra: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c) || extra.contains(c))
    };
    if let Some(p) = &req.partition
        && !plain(p, ",")
    {
        return Err(SlurmError::Usage(format!(
            "--partition {p:?}: use partition names of letters, digits, '_', '.', '-' (comma-separated)"
        )));
    }
    if let Some(t) = &req.time
        && !plain(t, ":")
    {
        return Err(SlurmError::Usage(format!(
            "--time {t:?}: use Slurm's forms, e.g. 30, 2:00:00 or 1-12:00:00"
        )));
    }
    let out = req.out.to_string_lossy();
    if out
        .chars()
        .any(|c| c.is_whitespace() || "%\"'\\$`".contains(c))
    {
        return Err(SlurmError::Usage(format!(
            "--out {out}: the folder goes into #SBATCH --output lines, which cannot hold \
             spaces, quotes, '$', '\\' or '%'; choose another folder"
        )));
    }
    if req.array == 0 {
        return Err(SlurmError::Usage("--array must be at least 1".into()));
    }
    Ok(())
}

/// The `#SBATCH` lines both jobs share.
fn common_lines(req: &SlurmRequest) -> String {
    let mut s = String::from("#SBATCH --ntasks=1\n");
    if let Some(p) = &req.partition {
        s += &format!("#SBATCH --partition={p}\n");
    }
    if let Some(t) = &req.time {
        s += &format!("#SBATCH --time={t}\n");
    }
    s
}

/// The array job: task K runs `run --shard K/N` into `OUT/shard-K-of-N`.
pub fn array_script(req: &SlurmRequest) -> String {
    let (n, dir) = (req.array, req.out.join("slurm"));
    let mut s = format!(
        "#!/bin/bash\n\
         # initscope {version}: the {n} shards of \"{name}\", one per array task.\n\
         # Resubmit one failed task K alone: NEW=$(sbatch --parsable --array=K {this})\n\
         # then let the waiting merge job depend on it: scontrol update JobId=MERGE Dependency=afterok:$NEW\n\
         #SBATCH --job-name=initscope-{name}\n\
         #SBATCH --array=1-{n}\n\
         #SBATCH --output={logs}/shard-%a-of-{n}.%A.out\n",
        version = env!("CARGO_PKG_VERSION"),
        name = req.name,
        this = dir.join("array.sbatch").display(),
        logs = dir.join("logs").display(),
    );
    s += &common_lines(req);
    if req.gpus_per_task > 0 {
        s += &format!("#SBATCH --gpus-per-task={}\n", req.gpus_per_task);
    }
    let extra: String = req
        .run_args
        .iter()
        .map(|a| format!(" {}", sh_quote(a)))
        .collect();
    s += &format!(
        "set -euo pipefail\n\
         OUT={out}\n\
         # --resume: a resubmitted task keeps the runs it had finished.\n\
         exec {exe} run {manifest} --shard \"$((SLURM_ARRAY_TASK_ID))/{n}\" \\\n  \
         --out \"$OUT/shard-$((SLURM_ARRAY_TASK_ID))-of-{n}\" --resume{extra}\n",
        out = sh_quote(&req.out.to_string_lossy()),
        exe = sh_quote(&req.exe.to_string_lossy()),
        manifest = sh_quote(&req.manifest.to_string_lossy()),
    );
    s
}

/// The merge job: every shard folder into OUT.
pub fn merge_script(req: &SlurmRequest) -> String {
    let (n, dir) = (req.array, req.out.join("slurm"));
    let mut s = format!(
        "#!/bin/bash\n\
         # initscope: merges the {n} shards of \"{name}\" once every array task has succeeded.\n\
         #SBATCH --job-name=initscope-{name}-merge\n\
         #SBATCH --output={logs}/merge.%j.out\n",
        name = req.name,
        logs = dir.join("logs").display(),
    );
    s += &common_lines(req);
    s += &format!(
        "set -euo pipefail\n\
         OUT={out}\n\
         parts=()\n\
         for k in $(seq 1 {n}); do parts+=(\"$OUT/shard-$k-of-{n}\"); done\n\
         exec {exe} merge \"$OUT\" \"${{parts[@]}}\"\n",
        out = sh_quote(&req.out.to_string_lossy()),
        exe = sh_quote(&req.exe.to_string_lossy()),
    );
    s
}

/// Writes `OUT/slurm/array.sbatch` and `OUT/slurm/merge.sbatch` and
/// creates `OUT/slurm/logs/`.
pub fn write_scripts(req: &SlurmRequest) -> Result<Scripts, SlurmError> {
    check(req)?;
    let dir = req.out.join("slurm");
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).map_err(|e| SlurmError::Io(logs.clone(), e))?;
    let scripts = Scripts {
        array: dir.join("array.sbatch"),
        merge: dir.join("merge.sbatch"),
        logs,
    };
    for (path, text) in [
        (&scripts.array, array_script(req)),
        (&scripts.merge, merge_script(req)),
    ] {
        crate::io::write_atomic(path, text.as_bytes())
            .and_then(|_| make_executable(path))
            .map_err(|e| SlurmError::Io(path.clone(), e))?;
    }
    Ok(scripts)
}

#[cfg(unix)]
fn make_executable(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
}

#[cfg(not(unix))]
fn make_executable(_: &Path) -> std::io::Result<()> {
    Ok(())
}

/// Runs `sbatch --parsable ARGS SCRIPT`; returns the job id or sbatch's message.
fn sbatch(args: &[String], script: &Path) -> Result<String, String> {
    let out = Command::new("sbatch")
        .arg("--parsable")
        .args(args)
        .arg(script)
        .output()
        .map_err(|e| format!("cannot start sbatch ({e}): is this a Slurm login node?"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        return Err(format!("{} ({})", stderr.trim(), out.status));
    }
    // `--parsable` prints "ID" or "ID;CLUSTER".
    let id = stdout.trim().split(';').next().unwrap_or_default();
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!("unexpected sbatch output {:?}", stdout.trim()));
    }
    Ok(id.to_string())
}

/// Submits the array, then the merge job depending on it.
pub fn submit(s: &Scripts) -> Result<Submitted, SlurmError> {
    let array_job = sbatch(&[], &s.array).map_err(|message| SlurmError::ArrayRefused {
        script: s.array.clone(),
        message,
    })?;
    let dep = format!("--dependency=afterok:{array_job}");
    let merge_job = sbatch(&[dep], &s.merge).map_err(|message| SlurmError::MergeRefused {
        array_job: array_job.clone(),
        script: s.merge.clone(),
        message,
    })?;
    Ok(Submitted {
        array_job,
        merge_job,
    })
}

/// The commands that submit both jobs by hand.
pub fn submit_commands(s: &Scripts) -> [String; 2] {
    [
        format!(
            "ARRAY=$(sbatch --parsable {})",
            sh_quote(&s.array.to_string_lossy())
        ),
        format!(
            "sbatch --dependency=afterok:${{ARRAY%%;*}} {}",
            sh_quote(&s.merge.to_string_lossy())
        ),
    ]
}

/// The one-line bash command that resubmits array task `task` alone and
/// points the waiting merge job at the new job.
pub fn resubmit_command(s: &Scripts, merge_job: &str, task: &str) -> String {
    format!(
        "NEW=$(sbatch --parsable --array={task} {}) && scontrol update JobId={merge_job} Dependency=afterok:${{NEW%%;*}}",
        sh_quote(&s.array.to_string_lossy())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req() -> SlurmRequest {
        SlurmRequest {
            exe: "/opt/it's/initscope".into(),
            manifest: "/home/u/m.json".into(),
            out: "/scratch/u/sweep".into(),
            name: "sweep".into(),
            array: 4,
            partition: Some("gpu".into()),
            gpus_per_task: 1,
            time: Some("2:00:00".into()),
            run_args: vec!["--seed".into(), "7".into()],
        }
    }

    #[test]
    fn scripts_name_everything_by_absolute_path() {
        let a = array_script(&req());
        assert!(a.contains("#SBATCH --array=1-4\n"), "{a}");
        assert!(a.contains("#SBATCH --gpus-per-task=1\n"), "{a}");
        assert!(a.contains("#SBATCH --partition=gpu\n"), "{a}");
        assert!(a.contains("exec '/opt/it'\\''s/initscope' run '/home/u/m.json'"));
        assert!(a.contains("--shard \"$((SLURM_ARRAY_TASK_ID))/4\""), "{a}");
        assert!(a.contains("--resume '--seed' '7'\n"), "{a}");
        let no_gpu = array_script(&SlurmRequest {
            gpus_per_task: 0,
            ..req()
        });
        assert!(!no_gpu.contains("gpus"), "{no_gpu}");
        let m = merge_script(&req());
        assert!(m.contains("merge \"$OUT\" \"${parts[@]}\""), "{m}");
        assert!(!m.contains("gpus"), "{m}");
    }

    #[test]
    fn refuses_values_slurm_would_misread() {
        for bad in [
            SlurmRequest {
                partition: Some("a b".into()),
                ..req()
            },
            SlurmRequest {
                time: Some("1h;rm".into()),
                ..req()
            },
            SlurmRequest {
                out: "/tmp/my sweep".into(),
                ..req()
            },
            SlurmRequest {
                out: "/tmp/100%".into(),
                ..req()
            },
        ] {
            assert!(matches!(check(&bad), Err(SlurmError::Usage(_))), "{bad:?}");
        }
        assert!(check(&req()).is_ok());
    }
}
