//! Reading and writing `results.json` and `summary.csv`. Both are written
//! atomically (see [`crate::io::write_atomic`]), so a crash, Ctrl-C or a full
//! disk leaves either the previous complete file or the new complete one.

use super::tidy::{csv_field, json_scalar, param_keys};
use super::{ResultsDoc, RunResult};
use crate::io::write_atomic;
use std::path::{Path, PathBuf};

/// Reads a `results.json`.
pub fn read_results(path: &Path) -> Result<ResultsDoc, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    check_version(path, &text)?;
    serde_json::from_str(&text)
        .map_err(|e| format!("{} is not a valid results.json: {e}", path.display()))
}

/// Refuses a document written by a newer initscope before its fields are
/// read: a renamed field would otherwise surface as a puzzling parse error.
fn check_version(path: &Path, text: &str) -> Result<(), String> {
    #[derive(serde::Deserialize)]
    struct Version {
        schema_version: Option<u64>,
    }
    let Ok(Version {
        schema_version: Some(v),
    }) = serde_json::from_str::<Version>(text)
    else {
        return Ok(());
    };
    if v > u64::from(super::SCHEMA_VERSION) {
        return Err(format!(
            "{} has schema_version {v}, written by a newer initscope; this initscope {} reads \
             schema_version {} and older: upgrade initscope to read it",
            path.display(),
            env!("CARGO_PKG_VERSION"),
            super::SCHEMA_VERSION
        ));
    }
    Ok(())
}

/// Writes the tidy `layers.csv` into `dir` (once a command's runs are done:
/// it can be large, and `results.json` already holds every value),
/// `blocks.csv` and `tensors.csv` when a run is a residual stack, and
/// `steps.csv` with training runs (a stale one from an earlier run of the
/// folder is removed).
pub fn write_tidy(dir: &Path, doc: &ResultsDoc) -> std::io::Result<PathBuf> {
    let p = dir.join("layers.csv");
    write_atomic(&p, super::tidy::layers_csv(doc).as_bytes())?;
    if doc.runs.iter().any(|r| !r.blocks.is_empty()) {
        let blocks = super::tidy::blocks_csv(doc);
        write_atomic(&dir.join("blocks.csv"), blocks.as_bytes())?;
        let tensors = super::tidy::tensors_csv(doc);
        write_atomic(&dir.join("tensors.csv"), tensors.as_bytes())?;
    }
    let steps = dir.join("steps.csv");
    match super::tidy::steps_csv(doc) {
        Some(csv) => write_atomic(&steps, csv.as_bytes())?,
        None if steps.is_file() => std::fs::remove_file(&steps)?,
        None => {}
    }
    Ok(p)
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

/// One row per run: identity, swept parameters, summary metrics and timings.
pub fn summary_csv(runs: &[RunResult]) -> String {
    let keys = param_keys(runs);
    let mut out = String::from("id,label,group,seed,repeat");
    for k in &keys {
        out.push(',');
        out.push_str(&csv_field(k));
    }
    out.push_str(
        ",loss,input_std,final_act_std,mean_grad_norm,grad_norm_ratio,max_dead_fraction,\
         max_dead_unit_fraction,max_saturated_fraction,nan_count,inf_count,diagnosis,init_ms,step_ms,total_ms\n",
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
            ]
            .iter()
            .map(|v| format!("{v:e}")),
        );
        // Empty in documents written before dead units were counted.
        row.push(
            s.max_dead_unit_fraction
                .map_or(String::new(), |v| format!("{v:e}")),
        );
        row.push(format!("{:e}", s.max_saturated_fraction));
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
    fn csv_quotes_fields() {
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("plain"), "plain");
    }
}
