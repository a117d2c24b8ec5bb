//! Tidy (long-format) CSVs for pandas and seaborn: one row per (run, layer,
//! tensor, statistic), identified by the run's id, label, arm, variant,
//! repeat and one column per swept parameter.
//!
//! `layers.csv` holds every per-layer statistic of `results.json`, and
//! `steps.csv` (training runs) every recorded training value, with a
//! `step` column. Numbers
//! are written in Rust's shortest round-trip form, so every cell parses
//! back to exactly the value in `results.json` (NaN, which JSON writes as
//! `null`, is written as `NaN`; infinities as `inf` / `-inf`).

use super::{ResultsDoc, RunResult, TensorStats, TrainBlockRecord, TrainStep, TrainWeightRecord};

/// Quotes a CSV field when it needs it (RFC 4180).
pub(crate) fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// A JSON scalar as a CSV cell (strings unquoted, objects as compact JSON).
pub(crate) fn json_scalar(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Every swept parameter, in order of first appearance.
pub(crate) fn param_keys(runs: &[RunResult]) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    for r in runs {
        for k in r.params.keys() {
            if !keys.contains(k) {
                keys.push(k.clone());
            }
        }
    }
    keys
}

/// A float as a CSV cell that parses back to the same f64.
pub fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "inf" } else { "-inf" }.into()
    } else {
        format!("{v}")
    }
}

/// (statistic name, value) of every statistic a tensor reports.
pub fn stat_cells(s: &TensorStats) -> Vec<(&'static str, f64)> {
    let mut v = vec![
        ("count", s.count as f64),
        ("mean", s.mean),
        ("std", s.std),
        ("min", s.min),
        ("max", s.max),
        ("norm", s.norm),
        ("nan_count", s.nan_count as f64),
        ("inf_count", s.inf_count as f64),
    ];
    v.extend(s.zero_fraction.map(|x| ("zero_fraction", x)));
    v.extend(s.dead_unit_fraction.map(|x| ("dead_unit_fraction", x)));
    v.extend(s.saturated_fraction.map(|x| ("saturated_fraction", x)));
    v
}

/// The per-layer tensors of a run: (layer index, tensor name, statistics).
fn layer_tensors(run: &RunResult) -> Vec<(usize, &'static str, &TensorStats)> {
    let mut out = Vec::new();
    for l in &run.layers {
        let i = l.index;
        out.push((i, "weight", &l.weight));
        out.extend(l.bias.as_ref().map(|s| (i, "bias", s)));
        out.push((i, "preact", &l.preact));
        out.push((i, "act", &l.act));
        out.push((i, "grad_weight", &l.grad_weight));
        out.extend(l.grad_bias.as_ref().map(|s| (i, "grad_bias", s)));
        out.push((i, "grad_act", &l.grad_act));
    }
    out
}

/// The identity cells of a run: run_id, label, group, variant, repeat and
/// one value per swept parameter.
fn identity(run: &RunResult, keys: &[String]) -> String {
    let mut cells = vec![
        csv_field(&run.id),
        csv_field(&run.label),
        csv_field(&run.group),
        csv_field(run.variant.as_deref().unwrap_or("")),
        run.repeat.to_string(),
    ];
    cells.extend(
        keys.iter()
            .map(|k| csv_field(&run.params.get(k).map(json_scalar).unwrap_or_default())),
    );
    cells.join(",")
}

/// The header shared by the tidy files: identity columns, then `extra`.
fn header(keys: &[String], extra: &[&str]) -> String {
    let mut cols: Vec<String> = IDENTITY.iter().map(|s| s.to_string()).collect();
    cols.extend(keys.iter().map(|k| csv_field(k)));
    cols.extend(extra.iter().map(|s| s.to_string()));
    cols.join(",") + "\n"
}

/// The identity columns every tidy file starts with.
const IDENTITY: [&str; 5] = ["run_id", "label", "group", "variant", "repeat"];

/// The swept parameters that get a column of their own (a variant is
/// already the `variant` column).
fn tidy_keys(runs: &[RunResult]) -> Vec<String> {
    let mut keys = param_keys(runs);
    keys.retain(|k| !IDENTITY.contains(&k.as_str()));
    keys
}

/// `layers.csv`: run identity, swept parameters, layer, tensor, stat, value.
pub fn layers_csv(doc: &ResultsDoc) -> String {
    let keys = tidy_keys(&doc.runs);
    let mut out = header(&keys, &["layer", "tensor", "stat", "value"]);
    for run in &doc.runs {
        let id = identity(run, &keys);
        for (layer, tensor, s) in layer_tensors(run) {
            for (stat, v) in stat_cells(s) {
                out.push_str(&format!("{id},{layer},{tensor},{stat},{}\n", number(v)));
            }
        }
    }
    out
}

/// The values of one recorded step: (layer, tensor, stat, value); the
/// loss and the learning rate have an empty layer.
fn step_cells(s: &TrainStep) -> Vec<(String, &'static str, &'static str, f64)> {
    let mut out = vec![(String::new(), "loss", "value", s.loss)];
    out.extend(s.lr.map(|lr| (String::new(), "lr", "value", lr)));
    for l in &s.layers {
        let i = l.index.to_string();
        for (tensor, t) in [
            ("act", &l.act),
            ("grad_weight", &l.grad_weight),
            ("grad_act", &l.grad_act),
        ] {
            out.extend(
                stat_cells(t)
                    .into_iter()
                    .map(|(k, v)| (i.clone(), tensor, k, v)),
            );
        }
        out.push((i.clone(), "update", "norm", l.update.norm));
        out.push((i.clone(), "update", "ratio", l.update.ratio));
        out.push((i, "symmetry", "fraction", l.symmetry));
    }
    for b in &s.blocks {
        out.extend(train_block_cells(b));
    }
    out
}

/// A residual block's cells of `steps.csv`: the `layer` column holds the
/// block index; its weights' cells are named `fc1.update`, `fc2.grad_weight`, ...
fn train_block_cells(b: &TrainBlockRecord) -> Vec<(String, &'static str, &'static str, f64)> {
    let i = b.index.to_string();
    let mut out = Vec::new();
    for (tensor, t) in [
        ("stream", &b.stream),
        ("grad_stream", &b.grad_stream),
        ("ff_branch", &b.ff_branch),
        ("fc1.grad_weight", &b.fc1.grad_weight),
        ("fc2.grad_weight", &b.fc2.grad_weight),
    ] {
        out.extend(
            stat_cells(t)
                .into_iter()
                .map(|(k, v)| (i.clone(), tensor, k, v)),
        );
    }
    for (tensor, u) in [
        ("update", &b.update),
        ("fc1.update", &b.fc1.update),
        ("fc2.update", &b.fc2.update),
    ] {
        out.push((i.clone(), tensor, "norm", u.norm));
        out.push((i.clone(), tensor, "ratio", u.ratio));
    }
    out.push((i.clone(), "fc1.symmetry", "fraction", b.fc1.symmetry));
    out.push((i.clone(), "fc2.symmetry", "fraction", b.fc2.symmetry));
    if let Some(t) = &b.attn_branch {
        let cells = stat_cells(t).into_iter();
        out.extend(cells.map(|(k, v)| (i.clone(), "attn_branch", k, v)));
    }
    if let Some(s) = b.attn_logits_std {
        out.push((i.clone(), "attention", "logits_std", s));
    }
    let attn = [("in_proj", &b.in_proj), ("out_proj", &b.out_proj)];
    for (name, w) in attn.iter().filter_map(|(n, w)| Some((*n, w.as_ref()?))) {
        out.extend(attn_weight_cells(&i, name, w));
    }
    out
}

/// Cells of an attention weight's training record (`in_proj.update`, ...).
fn attn_weight_cells(
    i: &str,
    name: &'static str,
    w: &TrainWeightRecord,
) -> Vec<(String, &'static str, &'static str, f64)> {
    let tensor = |part: &str| -> &'static str {
        match (name, part) {
            ("in_proj", "grad_weight") => "in_proj.grad_weight",
            ("in_proj", "update") => "in_proj.update",
            ("in_proj", _) => "in_proj.symmetry",
            (_, "grad_weight") => "out_proj.grad_weight",
            (_, "update") => "out_proj.update",
            _ => "out_proj.symmetry",
        }
    };
    let grad = stat_cells(&w.grad_weight).into_iter();
    let mut out: Vec<_> = grad
        .map(|(k, v)| (i.to_string(), tensor("grad_weight"), k, v))
        .collect();
    out.push((i.to_string(), tensor("update"), "norm", w.update.norm));
    out.push((i.to_string(), tensor("update"), "ratio", w.update.ratio));
    out.push((i.to_string(), tensor("symmetry"), "fraction", w.symmetry));
    out
}

/// The per-block tensors of a run: (block index, tensor name, statistics).
fn block_tensors(run: &RunResult) -> Vec<(usize, &'static str, &TensorStats)> {
    let mut out = Vec::new();
    for b in &run.blocks {
        let i = b.index;
        out.push((i, "stream", &b.stream));
        out.push((i, "grad_stream", &b.grad_stream));
        out.push((i, "ff_branch", &b.ff_branch));
        out.extend(b.attn_branch.as_ref().map(|s| (i, "attn_branch", s)));
    }
    out
}

/// `steps.csv`: run identity, swept parameters, step, layer, tensor, stat,
/// value; `None` when no run trained.
pub fn steps_csv(doc: &ResultsDoc) -> Option<String> {
    if doc.runs.iter().all(|r| r.train.is_none()) {
        return None;
    }
    let keys = tidy_keys(&doc.runs);
    let mut out = header(&keys, &["step", "layer", "tensor", "stat", "value"]);
    for run in &doc.runs {
        let id = identity(run, &keys);
        for s in run.train.iter().flat_map(|t| &t.steps) {
            for (layer, tensor, stat, v) in step_cells(s) {
                let (step, v) = (s.step, number(v));
                out.push_str(&format!("{id},{step},{layer},{tensor},{stat},{v}\n"));
            }
            // Each head's attention entropy: `attention,entropy_head{h}`.
            for b in &s.blocks {
                for (h, e) in b.attn_entropy.iter().flatten().enumerate() {
                    let (step, layer, v) = (s.step, b.index, number(*e));
                    out.push_str(&format!(
                        "{id},{step},{layer},attention,entropy_head{h},{v}\n"
                    ));
                }
            }
        }
    }
    Some(out)
}

/// The attention numbers of a block (blocks with attention): (tensor, stat,
/// value) with tensor `attention` (logits_std, entropy_max, entropy_head{h},
/// grad_norm) or `feed_forward` (grad_norm).
fn attention_cells(b: &super::BlockRecord) -> Vec<(&'static str, String, f64)> {
    let mut out = Vec::new();
    let mut put = |t, k: &str, v: Option<f64>| {
        out.extend(v.map(|v| (t, k.to_string(), v)));
    };
    put("attention", "logits_std", b.attn_logits_std);
    put("attention", "entropy_max", b.attn_entropy_max);
    for (h, e) in b.attn_entropy.iter().flatten().enumerate() {
        put("attention", &format!("entropy_head{h}"), Some(*e));
    }
    put("attention", "grad_norm", b.attn_grad_norm);
    put("feed_forward", "grad_norm", b.ff_grad_norm);
    out
}

/// `blocks.csv` (residual stacks): run identity, swept parameters, block,
/// tensor (`stream`, `grad_stream`, `ff_branch`, `attn_branch`), stat, value;
/// with attention also `attention` (logits_std, entropy_head{h} in nats,
/// entropy_max = log(seq_len), grad_norm) and `feed_forward` (grad_norm).
pub fn blocks_csv(doc: &ResultsDoc) -> String {
    let keys = tidy_keys(&doc.runs);
    let mut out = header(&keys, &["block", "tensor", "stat", "value"]);
    for run in &doc.runs {
        let id = identity(run, &keys);
        for (block, tensor, s) in block_tensors(run) {
            for (stat, v) in stat_cells(s) {
                out.push_str(&format!("{id},{block},{tensor},{stat},{}\n", number(v)));
            }
        }
        for b in &run.blocks {
            for (tensor, stat, v) in attention_cells(b) {
                let (block, v) = (b.index, number(v));
                out.push_str(&format!("{id},{block},{tensor},{stat},{v}\n"));
            }
        }
    }
    out
}

/// `tensors.csv` (residual stacks): run identity, swept parameters, the
/// parameter's export key and shape (`512x2048`), `value` or `grad`, stat,
/// value.
pub fn tensors_csv(doc: &ResultsDoc) -> String {
    let keys = tidy_keys(&doc.runs);
    let mut out = header(&keys, &["name", "shape", "field", "stat", "value"]);
    for run in &doc.runs {
        let id = identity(run, &keys);
        for t in &run.tensors {
            let shape = t
                .shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join("x");
            let name = csv_field(&t.name);
            for (field, s) in [("value", &t.value), ("grad", &t.grad)] {
                for (stat, v) in stat_cells(s) {
                    let v = number(v);
                    out.push_str(&format!("{id},{name},{shape},{field},{stat},{v}\n"));
                }
            }
        }
    }
    out
}
