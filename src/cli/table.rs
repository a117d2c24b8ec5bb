//! The terminal table printed after a run, in the spirit of the classic
//! notebooks' printed reports; repeats are folded into mean ± std per arm.

use initscope::results::{ResultsDoc, RunResult};

fn sci(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.3e}")
    } else {
        format!("{v}")
    }
}

fn pct(v: f64) -> String {
    format!("{:.1}%", v * 100.0)
}

fn mean_std(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let m = xs.iter().sum::<f64>() / n;
    let v = if xs.len() > 1 {
        xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (m, v.sqrt())
}

/// One row per arm (runs sharing a `group`), metrics as mean ± std over repeats.
fn rows(doc: &ResultsDoc) -> Vec<[String; 8]> {
    let mut groups: Vec<(&str, Vec<&RunResult>)> = Vec::new();
    for r in &doc.runs {
        match groups.iter_mut().find(|(g, _)| *g == r.group) {
            Some((_, v)) => v.push(r),
            None => groups.push((&r.group, vec![r])),
        }
    }
    groups
        .into_iter()
        .map(|(g, runs)| {
            let col = |f: &dyn Fn(&RunResult) -> f64, fmt: &dyn Fn(f64) -> String| {
                let xs: Vec<f64> = runs.iter().map(|r| f(r)).collect();
                let (m, s) = mean_std(&xs);
                if runs.len() > 1 {
                    format!("{} ± {}", fmt(m), fmt(s))
                } else {
                    fmt(m)
                }
            };
            let (nan, inf) = runs.iter().fold((0, 0), |(a, b), r| {
                (a + r.summary.nan_count, b + r.summary.inf_count)
            });
            let diag = grouped_diagnosis(&runs);
            let label = if runs.len() > 1 {
                format!("{g} (×{})", runs.len())
            } else {
                g.to_string()
            };
            [
                label,
                col(&|r| r.summary.final_act_std, &sci),
                col(&|r| r.summary.mean_grad_norm, &sci),
                col(&|r| r.summary.grad_norm_ratio, &sci),
                col(
                    &|r| {
                        let s = &r.summary;
                        s.max_dead_unit_fraction.unwrap_or(s.max_dead_fraction)
                    },
                    &pct,
                ),
                col(&|r| r.summary.max_saturated_fraction, &pct),
                format!("{nan}/{inf}"),
                diag,
            ]
        })
        .collect()
}

/// Each finding of a group's runs once, in first-seen order, with how many
/// of the runs had it when there are repeats: "dead units (4/5)".
pub fn grouped_diagnosis(runs: &[&RunResult]) -> String {
    let mut seen: Vec<(String, usize)> = Vec::new();
    for r in runs {
        let mut mine: Vec<String> = r.summary.diagnosis.iter().map(|d| short(d)).collect();
        // One vote per run, however often a run names the same finding.
        mine.dedup();
        for d in mine {
            match seen.iter_mut().find(|(s, _)| *s == d) {
                Some((_, k)) => *k += 1,
                None => seen.push((d, 1)),
            }
        }
    }
    if seen.is_empty() {
        return "healthy".into();
    }
    let n = runs.len();
    seen.iter()
        .map(|(d, k)| {
            if n > 1 {
                format!("{d} ({k}/{n})")
            } else {
                d.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The diagnosis without its parenthesised numbers, for the narrow table.
fn short(d: &str) -> String {
    d.split(" (").next().unwrap_or(d).to_string()
}

/// Renders the table with aligned columns.
pub fn runs_table(doc: &ResultsDoc) -> String {
    let head = [
        "run",
        "final act std",
        "mean ‖dW‖",
        "‖dW‖ max/min",
        "dead units",
        "saturated",
        "NaN/Inf",
        "diagnosis",
    ];
    let body = rows(doc);
    let width = |i: usize| {
        body.iter()
            .map(|r| r[i].chars().count())
            .chain([head[i].chars().count()])
            .max()
            .unwrap_or(0)
    };
    let widths: Vec<usize> = (0..head.len()).map(width).collect();
    let line = |cells: &[String]| {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let mut out = line(&head.map(String::from));
    out.push('\n');
    out.push_str(
        &widths
            .iter()
            .map(|w| "─".repeat(*w))
            .collect::<Vec<_>>()
            .join("  "),
    );
    for r in &body {
        out.push('\n');
        out.push_str(&line(r));
    }
    out
}
