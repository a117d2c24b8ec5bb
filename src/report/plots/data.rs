//! What the figures need from a results document: the arms (groups of
//! repeats), the swept parameters, per-layer series and their aggregation.

use super::scale::{Axis, fmt_num};
use super::style::{Dash, Marker, SeriesStyle, viridis};
use crate::results::{LayerRecord, Prediction, ResultsDoc, RunResult};
use serde_json::Value;

/// Picks one number out of a layer record (`None`: not recorded).
pub(super) type Metric = fn(&LayerRecord) -> Option<f64>;
/// Picks a per-layer prediction out of a theory record.
pub(super) type TheoryPick = fn(&Prediction) -> &Vec<f64>;

/// One arm: the runs sharing a `group` (repeats), drawn as one series.
pub(super) struct Arm<'a> {
    pub runs: Vec<&'a RunResult>,
    pub style: SeriesStyle,
}

/// A parameter whose value differs between runs.
pub(super) struct Param {
    pub key: String,
    /// Distinct values, in order of first appearance.
    pub values: Vec<Value>,
    pub numeric: bool,
}

/// How arms are told apart in per-layer figures.
pub(super) enum Coloring {
    /// A legend entry per arm.
    Categorical,
    /// Colour by a numeric parameter (many arms of a sweep), shown as a colour bar.
    Continuous {
        key: String,
        axis: Axis,
        variants: Vec<String>,
    },
}

/// Everything the figure builders share.
pub(super) struct Ctx<'a> {
    pub doc: &'a ResultsDoc,
    pub arms: Vec<Arm<'a>>,
    pub varying: Vec<Param>,
    pub coloring: Coloring,
    /// "initscope · <experiment name>", shown under every figure title.
    pub subtitle: String,
}

/// Above this many arms a numeric sweep is coloured continuously.
const MAX_CATEGORICAL: usize = 16;

impl<'a> Ctx<'a> {
    pub fn new(doc: &'a ResultsDoc) -> Ctx<'a> {
        let mut groups: Vec<(String, Vec<&RunResult>)> = Vec::new();
        for run in &doc.runs {
            let key = arm_label(run);
            match groups.iter_mut().find(|(k, _)| *k == key) {
                Some((_, runs)) => runs.push(run),
                None => groups.push((key, vec![run])),
            }
        }
        let varying = varying_params(&doc.runs);
        let sweep_key = varying
            .iter()
            .filter(|p| p.numeric && p.key != "variant")
            // Depth already shows as line length on a layer axis: colour by something else.
            .max_by_key(|p| (!p.key.ends_with("depth"), p.values.len()))
            .map(|p| p.key.clone());
        let coloring = match sweep_key {
            Some(key) if groups.len() > MAX_CATEGORICAL => continuous(&key, &doc.runs),
            _ => Coloring::Categorical,
        };
        let arms = groups
            .into_iter()
            .enumerate()
            .map(|(i, (label, runs))| {
                let style = match &coloring {
                    Coloring::Categorical => SeriesStyle::categorical(i, label),
                    Coloring::Continuous {
                        key,
                        axis,
                        variants,
                    } => continuous_style(runs[0], key, axis, variants, label),
                };
                Arm { runs, style }
            })
            .collect();
        let name = doc
            .manifest
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("results");
        let subtitle = format!(
            "initscope · {name} · {} run{} · {}",
            doc.runs.len(),
            if doc.runs.len() == 1 { "" } else { "s" },
            if doc.adapter.name.is_empty() {
                "unknown adapter"
            } else {
                &doc.adapter.name
            }
        );
        Ctx {
            doc,
            arms,
            varying,
            coloring,
            subtitle,
        }
    }

    /// The numeric parameters swept across runs (the variant excluded).
    pub fn numeric_sweeps(&self) -> Vec<&Param> {
        self.varying
            .iter()
            .filter(|p| p.numeric && p.key != "variant")
            .collect()
    }

    /// Any repeated arm (several runs per group)?
    pub fn has_repeats(&self) -> bool {
        self.arms.iter().any(|a| a.runs.len() > 1)
    }
}

fn arm_label(run: &RunResult) -> String {
    [&run.group, &run.label, &run.id]
        .into_iter()
        .find(|s| !s.trim().is_empty())
        .cloned()
        .unwrap_or_else(|| "run".into())
}

fn continuous(key: &str, runs: &[RunResult]) -> Coloring {
    let vals: Vec<f64> = runs.iter().filter_map(|r| param_f64(r, key)).collect();
    let positive = vals.iter().all(|v| *v > 0.0);
    let (lo, hi) = vals
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(*v), b.max(*v))
        });
    let axis = if positive && hi / lo >= 8.0 {
        Axis::log_fit([lo.log10(), hi.log10()])
    } else {
        Axis::linear_fit([lo, hi], 6)
    };
    let mut variants: Vec<String> = Vec::new();
    for r in runs {
        let v = r.variant.clone().unwrap_or_default();
        if !variants.contains(&v) {
            variants.push(v);
        }
    }
    Coloring::Continuous {
        key: key.to_string(),
        axis,
        variants,
    }
}

fn continuous_style(
    run: &RunResult,
    key: &str,
    axis: &Axis,
    variants: &[String],
    label: String,
) -> SeriesStyle {
    let t = param_f64(run, key)
        .and_then(|v| axis.to_plot(v))
        .map(|p| (p - axis.lo) / (axis.hi - axis.lo));
    let vi = variants
        .iter()
        .position(|v| Some(v) == run.variant.as_ref())
        .unwrap_or(0);
    SeriesStyle {
        label,
        // Viridis' last tenth is too pale on white.
        color: viridis(t.unwrap_or(0.5) * 0.9),
        dash: [Dash::Solid, Dash::Dashed, Dash::Dotted][vi % 3],
        marker: Marker::None,
    }
}

/// The value of a swept parameter of a run.
pub(super) fn param<'r>(run: &'r RunResult, key: &str) -> Option<&'r Value> {
    run.params.get(key)
}

/// A numeric parameter value.
pub(super) fn param_f64(run: &RunResult, key: &str) -> Option<f64> {
    param(run, key).and_then(Value::as_f64)
}

/// A short human form of a parameter value (init objects become `normal(std=0.01)`).
pub(super) fn show_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.as_f64().map(fmt_num).unwrap_or_else(|| n.to_string()),
        Value::Null => "—".into(),
        Value::Object(m) => {
            let scheme = m.get("scheme").or_else(|| m.get("name")).map(show_value);
            let rest: Vec<String> = m
                .iter()
                .filter(|(k, _)| k.as_str() != "scheme" && k.as_str() != "name")
                .map(|(k, v)| format!("{k}={}", show_value(v)))
                .collect();
            match (scheme, rest.is_empty()) {
                (Some(s), true) => s,
                (Some(s), false) => format!("{s}({})", rest.join(", ")),
                (None, _) => rest.join(", "),
            }
        }
        other => other.to_string(),
    }
}

/// Parameters whose values differ between runs, in order of first appearance.
fn varying_params(runs: &[RunResult]) -> Vec<Param> {
    let mut params: Vec<Param> = Vec::new();
    for run in runs {
        for (k, v) in &run.params {
            match params.iter_mut().find(|p| p.key == *k) {
                Some(p) => {
                    if !p.values.contains(v) {
                        p.values.push(v.clone());
                    }
                }
                None => params.push(Param {
                    key: k.clone(),
                    values: vec![v.clone()],
                    numeric: true,
                }),
            }
        }
    }
    for p in &mut params {
        let present = runs
            .iter()
            .filter(|r| r.params.contains_key(&p.key))
            .count();
        p.numeric = present == runs.len()
            && p.values
                .iter()
                .all(|v| v.as_f64().is_some_and(f64::is_finite));
    }
    params.retain(|p| p.values.len() > 1);
    params
}

/// A series: its style, centre points (raw values, possibly 0/NaN/Inf), the
/// ±1 std band over repeats and the theory prediction.
#[derive(Clone)]
pub(super) struct Series {
    pub style: SeriesStyle,
    pub points: Vec<(f64, f64)>,
    /// (x, low, high), raw values.
    pub band: Vec<(f64, f64, f64)>,
    pub theory: Vec<(f64, f64)>,
}

/// Aggregates repeats of one quantity. On a log axis: the geometric mean
/// and ×/÷ one geometric std (any 0, NaN or Inf makes the mean that value:
/// it is what the log-mean is); on a linear axis: mean ± std.
pub(super) fn aggregate(values: &[f64], log: bool) -> (f64, Option<(f64, f64)>) {
    match values {
        [] => (f64::NAN, None),
        [v] => (*v, None),
        _ if values.iter().any(|v| v.is_nan()) => (f64::NAN, None),
        _ if log && values.iter().any(|v| v.is_infinite()) => (f64::INFINITY, None),
        _ if log && values.iter().any(|v| *v <= 0.0) => (0.0, None),
        _ if !log && values.iter().any(|v| v.is_infinite()) => (f64::NAN, None),
        _ => {
            let t: Vec<f64> = values
                .iter()
                .map(|v| if log { v.log10() } else { *v })
                .collect();
            let n = t.len() as f64;
            let mean = t.iter().sum::<f64>() / n;
            let sd = (t.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
            if log {
                (
                    10f64.powf(mean),
                    Some((10f64.powf(mean - sd), 10f64.powf(mean + sd))),
                )
            } else {
                (mean, Some((mean - sd, mean + sd)))
            }
        }
    }
}

/// The per-layer series of `metric` over `runs` (repeats are aggregated).
pub(super) fn layer_series(
    style: SeriesStyle,
    runs: &[&RunResult],
    metric: Metric,
    log: bool,
) -> Series {
    let mut by_index: Vec<(usize, Vec<f64>)> = Vec::new();
    for run in runs {
        for layer in &run.layers {
            let Some(v) = metric(layer) else { continue };
            match by_index.iter_mut().find(|(i, _)| *i == layer.index) {
                Some((_, vals)) => vals.push(v),
                None => by_index.push((layer.index, vec![v])),
            }
        }
    }
    by_index.sort_by_key(|(i, _)| *i);
    let mut series = Series {
        style,
        points: Vec::new(),
        band: Vec::new(),
        theory: Vec::new(),
    };
    for (i, vals) in by_index {
        let (c, band) = aggregate(&vals, log);
        series.points.push((i as f64, c));
        if let Some((lo, hi)) = band {
            series.band.push((i as f64, lo, hi));
        }
    }
    series
}

/// The first run's prediction, per layer index, scaled by `scale`.
pub(super) fn theory_series(runs: &[&RunResult], pick: TheoryPick, scale: f64) -> Vec<(f64, f64)> {
    let Some(run) = runs.iter().find(|r| r.theory.is_some()) else {
        return Vec::new();
    };
    let Some(theory) = &run.theory else {
        return Vec::new();
    };
    pick(theory)
        .iter()
        .zip(&run.layers)
        .map(|(v, l)| (l.index as f64, v * scale))
        .filter(|(_, v)| v.is_finite() && *v > 0.0)
        .collect()
}

/// The largest layer index of any run (0 when there are no layers).
pub(super) fn max_layer(runs: &[&RunResult]) -> usize {
    runs.iter()
        .flat_map(|r| r.layers.iter().map(|l| l.index))
        .max()
        .unwrap_or(0)
}

/// The runs grouped into lines (everything that varies except `exclude`).
pub(super) fn lines<'a>(ctx: &Ctx<'a>, exclude: &[&str]) -> Vec<(String, Vec<&'a RunResult>)> {
    let variants_vary = {
        let first = ctx.doc.runs.first().map(|r| &r.variant);
        ctx.doc.runs.iter().any(|r| Some(&r.variant) != first)
    };
    let mut out: Vec<(String, Vec<&RunResult>)> = Vec::new();
    for run in &ctx.doc.runs {
        let mut parts = Vec::new();
        if variants_vary {
            parts.push(run.variant.clone().unwrap_or_else(|| "(no variant)".into()));
        }
        for p in ctx
            .varying
            .iter()
            .filter(|p| p.key != "variant" && !exclude.contains(&p.key.as_str()))
        {
            let v = run
                .params
                .get(&p.key)
                .map(show_value)
                .unwrap_or_else(|| "—".into());
            parts.push(format!("{}={v}", short_key(&p.key)));
        }
        let key = if parts.is_empty() {
            "all runs".to_string()
        } else {
            parts.join(", ")
        };
        match out.iter_mut().find(|(k, _)| *k == key) {
            Some((_, runs)) => runs.push(run),
            None => out.push((key, vec![run])),
        }
    }
    out
}

/// `network.activation` → `activation`.
pub(super) fn short_key(key: &str) -> &str {
    match key.rsplit_once('.') {
        Some((_, last)) if last != "scheme" => last,
        _ => key,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregate_is_honest_about_unplottable_repeats() {
        assert_eq!(aggregate(&[1.0, 0.0], true).0, 0.0);
        assert!(aggregate(&[1.0, f64::NAN], true).0.is_nan());
        assert_eq!(aggregate(&[1.0, f64::INFINITY], true).0, f64::INFINITY);
        let (c, band) = aggregate(&[0.1, 10.0], true);
        assert!((c - 1.0).abs() < 1e-12);
        let (lo, hi) = band.unwrap();
        assert!(lo < 0.1 && hi > 10.0);
    }

    #[test]
    fn init_objects_are_shown_briefly() {
        let v: Value = serde_json::json!({"scheme": "normal", "std": 0.01});
        assert_eq!(show_value(&v), "normal(std=0.01)");
    }
}
