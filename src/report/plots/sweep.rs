//! Sweep figures: final statistics against one swept parameter (`sweep.png`);
//! over two, the heatmap of `heatmap.rs`.

use super::data::lines;
use super::data::short_key;
use super::data::{Ctx, Series, aggregate, param_f64};
use super::layers::push_marker_keys;
use super::layout::{Key, LEGEND_W, frame, legend, notes};
use super::lines::{Drawn, Panel, draw_panel, fit_y};
use super::scale::Axis;
use super::style::{Marker, SeriesStyle};
use super::{Area, DrawError, Job};
use crate::results::RunResult;

/// `sweep.png` for one numeric swept parameter, `heatmap.png` for two.
pub(super) fn jobs<'a>(ctx: &'a Ctx<'a>) -> Vec<Job<'a>> {
    let sweeps = ctx.numeric_sweeps();
    match sweeps.as_slice() {
        [p] => {
            let key = p.key.clone();
            vec![Job::new(
                "sweep.png",
                &format!("Final statistics against {}", p.key),
                "The green band (0.1–10) is where the last layer's signal stays usable; the range of the parameter whose curve crosses 1 is the well-scaled init.",
                (1900, 900),
                move |root| draw_sweep(ctx, root, &key),
            )]
        }
        [a, b] => {
            // More distinct values go along x, where there is more room.
            let (x, y) = if b.values.len() > a.values.len() {
                (*b, *a)
            } else {
                (*a, *b)
            };
            let grid = super::heatmap::Grid::new(ctx, x, y);
            let (w, h) = grid.size();
            vec![Job::new(
                "heatmap.png",
                &format!(
                    "Final activation std over {} × {}",
                    short_key(&x.key),
                    short_key(&y.key)
                ),
                "Blue: the signal vanishes by the last layer (ordered phase); red: it explodes (chaotic phase); white, near 1: the healthy edge between them.",
                (w, h),
                move |root| grid.draw(ctx, root),
            )]
        }
        _ => Vec::new(),
    }
}

/// One style per line of a sweep figure (no markers past 40 points).
pub(super) fn sweep_styles(groups: &[(String, Vec<&RunResult>)]) -> Vec<SeriesStyle> {
    let many_points = groups.iter().any(|(_, runs)| runs.len() > 40);
    (groups.iter().enumerate())
        .map(|(i, (k, _))| {
            let mut s = SeriesStyle::categorical(i, k.clone());
            if many_points {
                s.marker = Marker::None;
            }
            s
        })
        .collect()
}

/// The x axis of swept parameter `key` (log when its values span 8× or
/// more) and its description.
pub(super) fn sweep_axis(ctx: &Ctx, key: &str) -> (Axis, String) {
    let xs: Vec<f64> = (ctx.doc.runs.iter())
        .filter_map(|r| param_f64(r, key))
        .collect();
    let (lo, hi) = (xs.iter()).fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(*v), b.max(*v))
    });
    let x = if lo > 0.0 && hi / lo >= 8.0 {
        Axis::log_fit(xs.iter().map(|v| v.log10()))
    } else {
        Axis::linear_fit(xs.iter().copied(), 6)
    };
    let scale = if x.log { "log scale" } else { "linear scale" };
    let desc = format!("{key} ({scale})");
    (x, desc)
}

/// One series of `value` against the parameter; repeats at one x are aggregated.
pub(super) fn sweep_series(
    style: SeriesStyle,
    runs: &[&RunResult],
    key: &str,
    value: fn(&RunResult) -> f64,
) -> Series {
    let mut by_x: Vec<(f64, Vec<f64>)> = Vec::new();
    for run in runs {
        let Some(x) = param_f64(run, key) else {
            continue;
        };
        match by_x.iter_mut().find(|(v, _)| *v == x) {
            Some((_, vals)) => vals.push(value(run)),
            None => by_x.push((x, vec![value(run)])),
        }
    }
    by_x.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut s = Series {
        style,
        points: Vec::new(),
        band: Vec::new(),
        theory: Vec::new(),
    };
    for (x, vals) in by_x {
        let (c, band) = aggregate(&vals, true);
        s.points.push((x, c));
        if let Some((lo, hi)) = band {
            s.band.push((x, lo, hi));
        }
    }
    s
}

fn draw_sweep(ctx: &Ctx, root: &Area, key: &str) -> Result<(), DrawError> {
    let title = format!("Final statistics against {key}");
    let f = frame(root, &title, &ctx.subtitle, LEGEND_W)?;
    let groups = lines(ctx, &[key]);
    let styles = sweep_styles(&groups);
    let (x, x_desc) = sweep_axis(ctx, key);
    let mut bad = Drawn::default();
    let panels = f.body.split_evenly((1, 2));
    // (panel title, y label, value, whether to mark the healthy range)
    type Stat = (&'static str, &'static str, fn(&RunResult) -> f64, bool);
    let specs: [Stat; 2] = [
        (
            "final activation std",
            "std of the last layer's output (log)",
            |r| r.summary.final_act_std,
            true,
        ),
        (
            "mean weight-gradient norm",
            "mean over layers of ‖dW‖_F (log)",
            |r| r.summary.mean_grad_norm,
            false,
        ),
    ];
    let mut repeats = false;
    for ((name, y_desc, value, healthy), area) in specs.into_iter().zip(&panels) {
        let series: Vec<Series> = groups
            .iter()
            .zip(&styles)
            .map(|((_, runs), style)| sweep_series(style.clone(), runs, key, value))
            .collect();
        repeats |= series.iter().any(|s| !s.band.is_empty());
        let extra: &[f64] = if healthy { &[0.1, 10.0] } else { &[] };
        let panel = Panel {
            title: name.into(),
            x_desc: x_desc.clone(),
            y_desc: y_desc.into(),
            x: x.clone(),
            y: fit_y(&series, true, extra),
            series: &series,
            reference: healthy.then_some(1.0),
            shade: healthy.then_some((0.1, 10.0)),
        };
        bad.add(draw_panel(area, &panel)?);
    }
    let others_vary = ctx
        .varying
        .iter()
        .any(|p| p.key != "variant" && p.key != key);
    let heading = match (groups.len(), others_vary) {
        (1, _) => "runs",
        (_, false) => "variant",
        _ => "line",
    };
    let mut keys = vec![Key::Heading(heading.into())];
    keys.extend(styles.into_iter().map(Key::Series));
    keys.push(Key::Heading(String::new()));
    keys.push(Key::Shade("healthy range 0.1–10".into()));
    keys.push(Key::Reference("reference: 1".into()));
    if repeats {
        keys.push(Key::Band("±1 std over repeats".into()));
    }
    push_marker_keys(&mut keys, bad);
    legend(&f.legend, &keys, 12)?;
    notes(&f.footer, &bad.notes(), &[])
}
