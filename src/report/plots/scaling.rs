//! Training figures across a swept size: the muP-style coordinate check
//! (each layer's activation scale against width, one panel per recorded
//! step) and Saxe et al.'s learning time against depth.

use super::data::{Ctx, Param, Series, aggregate, lines, short_key};
use super::layers::push_marker_keys;
use super::layout::{Key, LEGEND_W, colorbar, frame, legend, notes};
use super::lines::{Drawn, Panel, draw_panel, fit_y};
use super::scale::Axis;
use super::style::{Dash, Marker, SeriesStyle, viridis};
use super::training::steps;
use super::{Area, DrawError, Job};
use crate::results::RunResult;

/// Fraction of the step-0 loss that counts as "learned" for the learning time.
pub(super) const LEARNED: f64 = 0.1;

/// The scaling figures that apply to `ctx`.
pub(super) fn jobs<'a>(ctx: &'a Ctx<'a>) -> Vec<Job<'a>> {
    if ctx.doc.runs.iter().all(|r| steps(r).is_empty()) {
        return Vec::new();
    }
    let mut out = Vec::new();
    if let Some(key) = width_key(ctx) {
        let rows = lines(ctx, &[key.as_str()]).len().clamp(1, 4) as u32;
        out.push(Job::new(
            "coord_check.png",
            "Coordinate check: activation scale against width",
            "Each layer's RMS activation against width (log-log), one panel per recorded step. Flat lines are width-stable (muP's promise); lines that rise with width after a few steps blow up in wide networks.",
            (2200, rows * 430 + 200),
            move |root| coord_check(ctx, root, &key),
        ));
    }
    if let Some(depth) = swept(ctx, |k| short_key(k) == "depth") {
        let key = depth.key.clone();
        out.push(Job::new(
            "learning_time.png",
            "Learning time against depth",
            "Steps until the loss falls to 10% of its initial value, against depth (Saxe et al. 2014): orthogonal inits of deep linear nets learn in a depth-independent time; scaled Gaussian ones slow down with depth.",
            (1600, 900),
            move |root| learning_time(ctx, root, &key),
        ));
    }
    out
}

/// The swept width: `network.width`, or `network.widths` lists (whose
/// first entry is the width; the last may stay fixed, e.g. the classes).
fn width_key(ctx: &Ctx) -> Option<String> {
    ctx.varying
        .iter()
        .filter(|p| matches!(short_key(&p.key), "width" | "widths"))
        .find(|p| {
            ctx.doc
                .runs
                .iter()
                .all(|r| param_value(r, &p.key).is_some())
        })
        .map(|p| p.key.clone())
}

/// The numeric swept parameter whose key passes `is`, with at least two values.
fn swept<'a>(ctx: &'a Ctx, is: impl Fn(&str) -> bool) -> Option<&'a Param> {
    ctx.numeric_sweeps().into_iter().find(|p| is(&p.key))
}

/// A swept number, or the first entry of a swept list of numbers.
fn param_value(run: &RunResult, key: &str) -> Option<f64> {
    let v = run.params.get(key)?;
    v.as_f64().or_else(|| v.as_array()?.first()?.as_f64())
}

/// A log axis over the swept values of `key`, ticked at those values (at
/// every other one when there are more than four, so labels never collide).
fn value_axis(ctx: &Ctx, key: &str) -> Axis {
    let mut vals: Vec<f64> = ctx
        .doc
        .runs
        .iter()
        .filter_map(|r| param_value(r, key))
        .filter(|v| *v > 0.0)
        .collect();
    vals.sort_by(f64::total_cmp);
    vals.dedup();
    let mut axis = Axis::log_fit(vals.iter().map(|v| v.log10()));
    let every = if vals.len() > 4 { 2 } else { 1 };
    axis.major = vals.iter().step_by(every).map(|v| v.log10()).collect();
    axis.minor = vals.iter().map(|v| v.log10()).collect();
    axis
}

/// Up to six of the recorded steps of `runs`: all when few, else evenly
/// spaced from the first to the last.
fn panel_steps(runs: &[&RunResult]) -> Vec<u32> {
    let all: Vec<u32> = runs
        .first()
        .map(|r| steps(r).iter().map(|s| s.step).collect())
        .unwrap_or_default();
    if all.len() <= 6 {
        return all;
    }
    (0..6).map(|i| all[i * (all.len() - 1) / 5]).collect()
}

/// RMS of a layer's activation: ‖a‖/√n, the typical coordinate size.
fn rms(run: &RunResult, step: u32, layer: usize) -> Option<f64> {
    let s = steps(run).iter().find(|s| s.step == step)?;
    let a = s.act_of(layer)?;
    (a.count > 0).then(|| a.norm / (a.count as f64).sqrt())
}

/// The colour bar's axis of `n` layers: 0 to n − 1 with integer ticks.
pub(super) fn layer_axis(n: usize) -> Axis {
    let last = n.saturating_sub(1).max(1);
    let mut axis = Axis::linear(0.0, last as f64);
    axis.major = Axis::layers(0, last).major;
    axis
}

fn layer_style(word: &str, i: usize, n: usize) -> SeriesStyle {
    let t = if n > 1 {
        i as f64 / (n - 1) as f64
    } else {
        0.0
    };
    SeriesStyle {
        label: format!("{word} {i}"),
        color: viridis(0.9 * t),
        dash: Dash::Solid,
        marker: Marker::Circle,
    }
}

fn coord_check(ctx: &Ctx, root: &Area, key: &str) -> Result<(), DrawError> {
    let word = super::training::unit_word(ctx);
    let title = if word == "block" {
        "Coordinate check: RMS of each block's stream against width"
    } else {
        "Coordinate check: RMS activation per layer against width"
    };
    let f = frame(root, title, &ctx.subtitle, LEGEND_W)?;
    let rows: Vec<_> = lines(ctx, &[key]).into_iter().take(4).collect();
    let cols = rows
        .first()
        .map(|(_, r)| panel_steps(r))
        .unwrap_or_default();
    let areas = f.body.split_evenly((rows.len().max(1), cols.len().max(1)));
    let x = value_axis(ctx, key);
    let depth = ctx
        .doc
        .runs
        .iter()
        .map(|r| r.layers.len().max(r.blocks.len()))
        .max()
        .unwrap_or(0);
    let mut drawn = Drawn::default();
    for (r, (label, runs)) in rows.iter().enumerate() {
        for (c, step) in cols.iter().enumerate() {
            let series: Vec<Series> = (0..depth)
                .map(|i| {
                    let mut points: Vec<(f64, f64)> = Vec::new();
                    let mut ws: Vec<f64> =
                        runs.iter().filter_map(|r| param_value(r, key)).collect();
                    ws.sort_by(f64::total_cmp);
                    ws.dedup();
                    for w in ws {
                        let vals: Vec<f64> = runs
                            .iter()
                            .filter(|r| param_value(r, key) == Some(w))
                            .filter_map(|r| rms(r, *step, i))
                            .collect();
                        if !vals.is_empty() {
                            points.push((w, aggregate(&vals, true).0));
                        }
                    }
                    Series {
                        style: layer_style(word, i, depth),
                        points,
                        band: Vec::new(),
                        theory: Vec::new(),
                    }
                })
                .collect();
            let panel = Panel {
                title: format!("{label} · step {step}"),
                x_desc: "width".into(),
                y_desc: "RMS activation (log)".into(),
                x: x.clone(),
                y: fit_y(&series, true, &[]),
                series: &series,
                reference: None,
                shade: None,
            };
            drawn.add(draw_panel(&areas[r * cols.len() + c], &panel)?);
        }
    }
    let (_, h) = f.legend.dim_in_pixel();
    let (top, bottom) = f.legend.split_vertically((h as f64 * 0.55) as u32);
    colorbar(
        &top,
        &format!("colour: {word}"),
        &layer_axis(depth),
        &|t| viridis(0.9 * t),
        None,
    )?;
    let mut keys = Vec::new();
    push_marker_keys(&mut keys, drawn);
    legend(&bottom, &keys, 10)?;
    let info = if ctx.has_repeats() {
        vec!["points: geometric means over repeats".to_string()]
    } else {
        Vec::new()
    };
    notes(&f.footer, &drawn.notes(), &info)
}

/// The first recorded step whose loss is at most `LEARNED` of the step-0
/// loss (∞ when none is).
pub(super) fn learning_steps(run: &RunResult) -> f64 {
    let st = steps(run);
    let Some(first) = st.first().map(|s| s.loss) else {
        return f64::NAN;
    };
    run.train
        .as_ref()
        .and_then(|t| t.steps_to(LEARNED * first))
        .map_or(f64::INFINITY, f64::from)
}

fn learning_time(ctx: &Ctx, root: &Area, key: &str) -> Result<(), DrawError> {
    let f = frame(root, "Learning time against depth", &ctx.subtitle, LEGEND_W)?;
    // A swept learning rate is optimised per depth (the best of the grid).
    let lr_key = ctx
        .varying
        .iter()
        .find(|p| p.key.ends_with("optimizer.lr"))
        .map(|p| p.key.clone());
    let mut exclude = vec![key];
    exclude.extend(lr_key.as_deref());
    let groups = lines(ctx, &exclude);
    let series: Vec<Series> = groups
        .iter()
        .enumerate()
        .map(|(i, (label, runs))| {
            let style = SeriesStyle::categorical(i, label.clone());
            depth_series(style, runs, key, lr_key.as_deref())
        })
        .collect();
    let panel = Panel {
        title: format!(
            "steps until the loss is {}% of its initial value",
            LEARNED * 100.0
        ),
        x_desc: short_key(key).into(),
        y_desc: "learning time, steps (log scale)".into(),
        x: value_axis(ctx, key),
        y: fit_y(&series, true, &[]),
        series: &series,
        reference: None,
        shade: None,
    };
    let drawn = draw_panel(&f.body, &panel)?;
    let mut keys = vec![Key::Heading("arm".into())];
    keys.extend(series.iter().map(|s| Key::Series(s.style.clone())));
    keys.push(Key::Heading(String::new()));
    if ctx.has_repeats() {
        keys.push(Key::Band("×/÷ 1 geometric std over repeats".into()));
    }
    push_marker_keys(&mut keys, drawn);
    // Here × means "not learned", not a NaN in the data: say so in the legend.
    for k in keys.iter_mut().filter(|k| matches!(k, Key::NonFinite)) {
        *k = Key::NonFiniteAs("not learned within the steps".into());
    }
    legend(&f.legend, &keys, 12)?;
    let mut info = Vec::new();
    if lr_key.is_some() {
        info.push("each point: the best learning rate of the sweep".to_string());
    }
    if drawn.nonfinite > 0 {
        info.push("× at the top: never reached (or diverged) within the run's steps".to_string());
    }
    notes(&f.footer, &[], &info)
}

/// Learning time against depth for one line: per depth, the mean over
/// repeats (geometric), at the best swept learning rate when `lr_key` is set.
fn depth_series(
    style: SeriesStyle,
    runs: &[&RunResult],
    key: &str,
    lr_key: Option<&str>,
) -> Series {
    let distinct = |k: &str, rs: &[&RunResult]| {
        let mut v: Vec<f64> = rs.iter().filter_map(|r| param_value(r, k)).collect();
        v.sort_by(f64::total_cmp);
        v.dedup();
        v
    };
    let mut s = Series {
        style,
        points: Vec::new(),
        band: Vec::new(),
        theory: Vec::new(),
    };
    for d in distinct(key, runs) {
        let at_d: Vec<&RunResult> = runs
            .iter()
            .copied()
            .filter(|r| param_value(r, key) == Some(d))
            .collect();
        let by_lr: Vec<Vec<&RunResult>> = match lr_key {
            Some(k) => distinct(k, &at_d)
                .into_iter()
                .map(|lr| {
                    at_d.iter()
                        .copied()
                        .filter(|r| param_value(r, k) == Some(lr))
                        .collect()
                })
                .collect(),
            None => vec![at_d],
        };
        let best = by_lr
            .iter()
            .map(|rs| {
                aggregate(
                    &rs.iter().map(|r| learning_steps(r)).collect::<Vec<_>>(),
                    true,
                )
            })
            .min_by(|a, b| {
                let key = |x: f64| if x.is_finite() { x } else { f64::INFINITY };
                key(a.0).total_cmp(&key(b.0))
            });
        if let Some((c, band)) = best {
            s.points.push((d, c));
            s.band.extend(band.map(|(lo, hi)| (d, lo, hi)));
        }
    }
    s
}
