//! Training figures: loss curves per arm (seed 002's figure, with a ±1 std
//! band over repeats), per-layer activation std and update ratio against
//! step, and the unit symmetry of constant inits.

use super::data::{Ctx, Series};
use super::layers::push_marker_keys;
use super::layout::{Key, LEGEND_W, colorbar, frame, legend, notes};
use super::lines::{Drawn, Panel, draw_panel, fit_y};
use super::scale::Axis;
use super::style::{Marker, SeriesStyle, viridis};
use super::{Area, DrawError, Job};
use crate::results::{RunResult, TrainStep};

/// The recorded steps of a run (empty without training).
pub(super) fn steps(run: &RunResult) -> &[TrainStep] {
    run.train.as_ref().map_or(&[], |t| &t.steps)
}

/// The training figures that apply to `ctx`.
pub(super) fn jobs<'a>(ctx: &'a Ctx<'a>) -> Vec<Job<'a>> {
    if ctx.doc.runs.iter().all(|r| steps(r).is_empty()) {
        return Vec::new();
    }
    let bands = if ctx.has_repeats() {
        " Lines are means over repeats; shaded: ±1 std."
    } else {
        ""
    };
    let h = (ctx.arms.len() as u32 * 30 + 360).clamp(900, 1500);
    let rows = ctx.arms.len().min(MAX_ROWS) as u32;
    let mut out = vec![
        Job::new(
            "loss_curves.png",
            "Training loss by arm",
            &format!(
                "The loss after each recorded optimizer step (log scale): curves that fall fast and far learn well; flat or rising curves are stuck or diverging.{bands}"
            ),
            (1600, h),
            move |root| loss_figure(ctx, root),
        ),
        Job::new(
            "train_layers.png",
            "Per-layer activation std and update ratio during training",
            "Left: each layer's activation std at every recorded step; right: ‖W_k − W_(k−1)‖/‖W_(k−1)‖ of the update that led to it. Ratios near 1e-3 are typical; far above, layers are rewritten each step; far below, they barely learn.",
            (1900, rows * 440 + 200),
            move |root| layers_figure(ctx, root),
        ),
    ];
    let symmetric = ctx
        .doc
        .runs
        .iter()
        .flat_map(|r| steps(r).iter().flat_map(TrainStep::hidden_symmetry))
        .any(|s| s > 0.0);
    if symmetric {
        out.push(Job::new(
            "symmetry.png",
            "Unit symmetry during training",
            "Share of each hidden layer's units that duplicate another unit (same incoming weights and bias). A constant init stays at 100%: gradient descent cannot tell identical units apart.",
            (1600, h),
            move |root| symmetry_figure(ctx, root),
        ));
    }
    out
}

/// Arms shown as rows of the per-layer figure.
const MAX_ROWS: usize = 6;

/// The step axis of every run of `ctx`.
pub(super) fn step_axis(ctx: &Ctx) -> Axis {
    let last = ctx
        .doc
        .runs
        .iter()
        .flat_map(|r| steps(r).last().map(|s| s.step))
        .max()
        .unwrap_or(1);
    Axis::linear_fit([0.0, f64::from(last)], 6)
}

/// `value` of every run of an arm at each recorded step: mean and ±1 std.
pub(super) fn step_series(
    style: SeriesStyle,
    runs: &[&RunResult],
    value: fn(&TrainStep) -> f64,
) -> Series {
    let mut by_step: Vec<(u32, Vec<f64>)> = Vec::new();
    for s in runs.iter().flat_map(|r| steps(r)) {
        match by_step.iter_mut().find(|(k, _)| *k == s.step) {
            Some((_, v)) => v.push(value(s)),
            None => by_step.push((s.step, vec![value(s)])),
        }
    }
    by_step.sort_by_key(|(k, _)| *k);
    let mut series = Series {
        style,
        points: Vec::new(),
        band: Vec::new(),
        theory: Vec::new(),
    };
    for (k, v) in by_step {
        let (mean, band) = super::data::aggregate(&v, false);
        series.points.push((f64::from(k), mean));
        if let Some((lo, hi)) = band {
            series.band.push((f64::from(k), lo, hi));
        }
    }
    series
}

fn loss_figure(ctx: &Ctx, root: &Area) -> Result<(), DrawError> {
    let f = frame(root, "Training loss by arm", &ctx.subtitle, LEGEND_W)?;
    let series: Vec<Series> = ctx
        .arms
        .iter()
        .map(|a| step_series(a.style.clone(), &a.runs, |s| s.loss))
        .collect();
    // Fit the axis to the means (a band's lower edge may be ≤ 0 on the
    // log axis; it is drawn down to the floor).
    let centres: Vec<Series> = series
        .iter()
        .map(|s| Series {
            band: Vec::new(),
            ..s.clone()
        })
        .collect();
    let y = fit_y(&centres, true, &[]);
    let floored: Vec<Series> = series
        .into_iter()
        .map(|mut s| {
            let floor = 10f64.powf(y.lo);
            for b in &mut s.band {
                b.1 = b.1.max(floor);
            }
            s
        })
        .collect();
    let panel = Panel {
        title: "loss on each step's batch".into(),
        x_desc: "optimizer step".into(),
        y_desc: "loss (log scale)".into(),
        x: step_axis(ctx),
        y,
        series: &floored,
        reference: None,
        shade: None,
    };
    let drawn = draw_panel(&f.body, &panel)?;
    let mut keys = vec![Key::Heading(
        if ctx.has_repeats() {
            "arm (mean of repeats)"
        } else {
            "run"
        }
        .into(),
    )];
    keys.extend(ctx.arms.iter().map(|a| Key::Series(a.style.clone())));
    keys.push(Key::Heading(String::new()));
    if ctx.has_repeats() {
        keys.push(Key::Band("±1 std over repeats".into()));
    }
    push_marker_keys(&mut keys, drawn);
    legend(&f.legend, &keys, 12)?;
    notes(&f.footer, &drawn.notes(), &[])
}

/// "layer" or "block": what the runs of `ctx` record per step.
pub(super) fn unit_word(ctx: &Ctx) -> &'static str {
    let blocks = (ctx.doc.runs.iter())
        .flat_map(|r| steps(r).first())
        .any(|s| !s.blocks.is_empty());
    if blocks { "block" } else { "layer" }
}

/// The layers (or blocks) of a run's steps as series of `metric` against
/// step, coloured by depth.
fn layer_lines(
    run: &RunResult,
    word: &str,
    metric: impl Fn(&TrainStep, usize) -> Option<f64>,
) -> Vec<Series> {
    let st = steps(run);
    let n = st.iter().map(TrainStep::depth).max().unwrap_or(0);
    (0..n)
        .map(|i| {
            let t = if n > 1 {
                i as f64 / (n - 1) as f64
            } else {
                0.0
            };
            let style = SeriesStyle {
                label: format!("{word} {i}"),
                color: viridis(0.9 * t),
                dash: super::style::Dash::Solid,
                marker: Marker::None,
            };
            let points = st
                .iter()
                .filter_map(|s| Some((f64::from(s.step), metric(s, i)?)))
                .collect();
            Series {
                style,
                points,
                band: Vec::new(),
                theory: Vec::new(),
            }
        })
        .collect()
}

fn layers_figure(ctx: &Ctx, root: &Area) -> Result<(), DrawError> {
    let word = unit_word(ctx);
    let title = if word == "block" {
        "Stream std and update ratio per block during training"
    } else {
        "Activation std and update ratio per layer during training"
    };
    let f = frame(root, title, &ctx.subtitle, LEGEND_W)?;
    let arms: Vec<_> = ctx
        .arms
        .iter()
        .filter(|a| !steps(a.runs[0]).is_empty())
        .take(MAX_ROWS)
        .collect();
    let rows = f.body.split_evenly((arms.len().max(1), 2));
    let x = step_axis(ctx);
    let mut drawn = Drawn::default();
    let mut depth = 1;
    for (arm, pair) in arms.iter().zip(rows.chunks(2)) {
        let run = arm.runs[0];
        let act = layer_lines(run, word, |s, i| Some(s.act_of(i)?.std));
        // Step 0 follows no update; a 0 later is a layer that did not move.
        let mut ratio = layer_lines(run, word, |s, i| Some(s.update_of(i)?.ratio));
        for s in &mut ratio {
            s.points.retain(|p| p.0 > 0.0);
        }
        depth = depth.max(act.len());
        for (area, (series, what)) in pair
            .iter()
            .zip([(&act, act_word(word)), (&ratio, "update ratio")])
        {
            let panel = Panel {
                title: format!("{} · {what}", arm.style.label),
                x_desc: "optimizer step".into(),
                y_desc: format!("{what} (log scale)"),
                x: x.clone(),
                y: fit_y(series, true, &[]),
                series,
                reference: None,
                shade: None,
            };
            drawn.add(draw_panel(area, &panel)?);
        }
    }
    let (_, h) = f.legend.dim_in_pixel();
    let (top, bottom) = f.legend.split_vertically((h as f64 * 0.5) as u32);
    let axis = super::scaling::layer_axis(depth);
    let bar = format!("colour: {word}");
    colorbar(&top, &bar, &axis, &|t| viridis(0.9 * t), None)?;
    let mut keys = Vec::new();
    push_marker_keys(&mut keys, drawn);
    legend(&bottom, &keys, 10)?;
    let mut info = Vec::new();
    if ctx.arms.len() > arms.len() {
        info.push(format!(
            "first {} of {} arms shown",
            arms.len(),
            ctx.arms.len()
        ));
    }
    if ctx.has_repeats() {
        info.push("repeat 0 of each arm".into());
    }
    notes(&f.footer, &drawn.notes(), &info)
}

fn act_word(word: &str) -> &'static str {
    if word == "block" {
        "stream std"
    } else {
        "activation std"
    }
}

/// The mean symmetry of the hidden layers (all but the output layer, which
/// the targets always break), or of the blocks' fc1 units, in percent.
fn hidden_symmetry(s: &TrainStep) -> f64 {
    let hidden = s.hidden_symmetry();
    if hidden.is_empty() {
        return f64::NAN;
    }
    100.0 * hidden.iter().sum::<f64>() / hidden.len() as f64
}

fn symmetry_figure(ctx: &Ctx, root: &Area) -> Result<(), DrawError> {
    let f = frame(
        root,
        "Unit symmetry during training",
        &ctx.subtitle,
        LEGEND_W,
    )?;
    let series: Vec<Series> = ctx
        .arms
        .iter()
        .map(|a| Series {
            band: Vec::new(),
            ..step_series(a.style.clone(), &a.runs, hidden_symmetry)
        })
        .collect();
    // Lines on top of each other hide all but the last: name the flat ones.
    let flat = |v: f64| {
        series
            .iter()
            .filter(|s| !s.points.is_empty() && s.points.iter().all(|p| p.1 == v))
            .map(|s| s.style.label.clone())
            .collect::<Vec<_>>()
    };
    let mut info = Vec::new();
    for (v, what) in [(0.0, "0%"), (100.0, "100%")] {
        let names = flat(v);
        if names.len() > 1 {
            info.push(format!("at {what} throughout: {}", names.join(", ")));
        }
    }
    let panel = Panel {
        title: "duplicated units, mean over hidden layers".into(),
        x_desc: "optimizer step".into(),
        y_desc: "% of units".into(),
        x: step_axis(ctx),
        y: Axis::percent(),
        series: &series,
        reference: None,
        shade: None,
    };
    let drawn = draw_panel(&f.body, &panel)?;
    let mut keys = vec![Key::Heading("arm".into())];
    keys.extend(ctx.arms.iter().map(|a| Key::Series(a.style.clone())));
    push_marker_keys(&mut keys, drawn);
    legend(&f.legend, &keys, 12)?;
    notes(&f.footer, &drawn.notes(), &info)
}
