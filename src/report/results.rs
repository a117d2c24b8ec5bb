//! `results.json` and `summary.csv`, written atomically (temp file in the
//! same folder, fsync, rename), so a crash, Ctrl-C or a full disk leaves
//! either the previous complete file or the new complete one.

use crate::record::{ResultsDoc, RunResult};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` atomically. On failure the temp file is removed
/// and any previous `path` is left untouched.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Checks that `dir` can be created and written, before any GPU work.
pub fn ensure_writable(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let probe = dir.join(format!(".initscope-probe-{}", std::process::id()));
    std::fs::write(&probe, b"ok")?;
    std::fs::remove_file(&probe)
}

/// Reads a `results.json`.
pub fn read_results(path: &Path) -> Result<ResultsDoc, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_str(&text)
        .map_err(|e| format!("{} is not a valid results.json: {e}", path.display()))
}

/// Writes `results.json` and `summary.csv` into `dir`; returns their paths.
pub fn write_results(dir: &Path, doc: &ResultsDoc) -> std::io::Result<(PathBuf, PathBuf)> {
    let json = serde_json::to_vec_pretty(doc).map_err(std::io::Error::other)?;
    let jp = dir.join("results.json");
    write_atomic(&jp, &json)?;
    let cp = dir.join("summary.csv");
    write_atomic(&cp, summary_csv(&doc.runs).as_bytes())?;
    Ok((jp, cp))
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn json_scalar(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// One row per run: identity, swept parameters, summary metrics and timings.
pub fn summary_csv(runs: &[RunResult]) -> String {
    let mut keys: Vec<String> = Vec::new();
    for r in runs {
        for k in r.params.keys() {
            if !keys.contains(k) {
                keys.push(k.clone());
            }
        }
    }
    let mut out = String::from("id,label,group,seed,repeat");
    for k in &keys {
        out.push(',');
        out.push_str(&csv_field(k));
    }
    out.push_str(
        ",loss,input_std,final_act_std,mean_grad_norm,grad_norm_ratio,max_dead_fraction,\
         max_saturated_fraction,nan_count,inf_count,diagnosis,init_ms,step_ms,total_ms\n",
    );
    for r in runs {
        let s = &r.summary;
        let mut row = vec![
            csv_field(&r.id),
            csv_field(&r.label),
            csv_field(&r.group),
            r.seed.to_string(),
            r.repeat.to_string(),
        ];
        row.extend(
            keys.iter()
                .map(|k| csv_field(&r.params.get(k).map(json_scalar).unwrap_or_default())),
        );
        row.extend(
            [
                s.loss,
                s.input_std,
                s.final_act_std,
                s.mean_grad_norm,
                s.grad_norm_ratio,
                s.max_dead_fraction,
                s.max_saturated_fraction,
            ]
            .iter()
            .map(|v| format!("{v:e}")),
        );
        row.push(s.nan_count.to_string());
        row.push(s.inf_count.to_string());
        row.push(csv_field(&s.diagnosis.join("; ")));
        row.extend(
            [
                r.timing_ms.init_ms,
                r.timing_ms.step_ms,
                r.timing_ms.total_ms,
            ]
            .iter()
            .map(|v| format!("{v:.3}")),
        );
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_whole_file_and_cleans_up() {
        let dir = std::env::temp_dir().join(format!("initscope-atomic-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("x.json");
        write_atomic(&p, b"first").unwrap();
        write_atomic(&p, b"second").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"second");
        let leftovers = std::fs::read_dir(&dir).unwrap().count();
        assert_eq!(leftovers, 1, "temp files left behind");
        // Writing into a missing folder fails without touching anything.
        assert!(write_atomic(&dir.join("missing/y.json"), b"z").is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn csv_quotes_fields() {
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("plain"), "plain");
    }
}
