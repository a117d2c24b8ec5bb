//! Histogram figures: weight distributions per arm and activation
//! distributions at the first, middle and last layer.

use super::data::{Arm, Ctx};
use super::layout::{Key, frame, legend, notes};
use super::lines::chart;
use super::scale::{Axis, fmt_num};
use super::style::{INK, MUTED, font};
use super::{Area, DrawError, Job};
use crate::results::{Histogram, LayerRecord, TensorStats};
use plotters::prelude::*;
use plotters::style::RGBColor;

/// Overlaid histograms are readable when their scales differ by less than this.
const OVERLAY_RATIO: f64 = 10.0;
const MAX_PANELS: usize = 12;
const MAX_ROWS: usize = 8;

pub(super) fn jobs<'a>(ctx: &'a Ctx<'a>) -> Vec<Job<'a>> {
    let mut out = Vec::new();
    let has = |pick: fn(&LayerRecord) -> &TensorStats| {
        ctx.doc
            .runs
            .iter()
            .flat_map(|r| &r.layers)
            .any(|l| pick(l).histogram.is_some())
    };
    if has(|l| &l.act) {
        let rows = sample(ctx.arms.len(), MAX_ROWS).len() as u32;
        out.push(Job::new(
            "act_hist.png",
            "Activation distributions at the first, middle and last layer",
            "Healthy: a spread that keeps its shape with depth. A spike at 0 means vanishing or dead units; mass piled at ±1 means saturated tanh/sigmoid.",
            (1600, rows * 270 + 150),
            move |root| act_hist(ctx, root),
        ));
    }
    if has(|l| &l.weight) {
        let arms = weight_arms(ctx);
        let overlay = overlay_ok(&arms);
        let rows = if overlay {
            1
        } else {
            arms.len().div_ceil(cols(arms.len())) as u32
        };
        out.push(Job::new(
            "weight_hist.png",
            "Initial weight distributions",
            "Compare the spread (std) of each scheme: uniform schemes are flat-topped, normal ones bell-shaped; the std should match the target scale for the layer's fan-in.",
            (1600, if overlay { 900 } else { rows * 330 + 150 }),
            move |root| weight_hist(ctx, root),
        ));
    }
    out
}

/// Up to `max` indices spread evenly over `0..n`.
fn sample(n: usize, max: usize) -> Vec<usize> {
    if n <= max {
        return (0..n).collect();
    }
    let mut v: Vec<usize> = (0..max)
        .map(|i| (i * (n - 1) + (max - 1) / 2) / (max - 1))
        .collect();
    v.dedup();
    v
}

fn cols(n: usize) -> usize {
    match n {
        0..=3 => n.max(1),
        4 => 2,
        5..=9 => 3,
        _ => 4,
    }
}

/// The layer whose weights represent an arm: the middle one (the first
/// layer's fan-in is the input's, which is often unlike the rest).
fn weight_layer<'a>(arm: &Arm<'a>) -> Option<&'a LayerRecord> {
    let run = arm.runs.first()?;
    let with: Vec<&LayerRecord> = run
        .layers
        .iter()
        .filter(|l| l.weight.histogram.is_some())
        .collect();
    with.get(with.len() / 2).copied()
}

fn weight_arms<'a, 'c>(ctx: &'c Ctx<'a>) -> Vec<(&'c Arm<'a>, &'a LayerRecord)> {
    let all: Vec<_> = ctx
        .arms
        .iter()
        .filter_map(|a| weight_layer(a).map(|l| (a, l)))
        .collect();
    sample(all.len(), MAX_PANELS)
        .into_iter()
        .map(|i| all[i])
        .collect()
}

fn overlay_ok(arms: &[(&Arm, &LayerRecord)]) -> bool {
    let stds: Vec<f64> = arms
        .iter()
        .map(|(_, l)| l.weight.std)
        .filter(|s| s.is_finite() && *s > 0.0)
        .collect();
    let (lo, hi) = stds
        .iter()
        .fold((f64::INFINITY, 0.0f64), |(a, b), s| (a.min(*s), b.max(*s)));
    arms.len() <= 8 && stds.len() == arms.len() && hi / lo <= OVERLAY_RATIO
}

/// Density of each bin (count / (total · bin width)) as a step outline;
/// `None` when the histogram is empty or has no width.
fn density_outline(h: &Histogram) -> Option<Vec<(f64, f64)>> {
    let total: u64 = h.counts.iter().sum();
    let width = (h.hi - h.lo) / h.counts.len().max(1) as f64;
    if total == 0 || !(width.is_finite() && width > 0.0) {
        return None;
    }
    let mut pts = vec![(h.lo, 0.0)];
    for (i, c) in h.counts.iter().enumerate() {
        let d = *c as f64 / (total as f64 * width);
        let x0 = h.lo + i as f64 * width;
        pts.push((x0, d));
        pts.push((x0 + width, d));
    }
    pts.push((h.hi, 0.0));
    Some(pts)
}

/// One histogram panel of one or more overlaid distributions.
struct HistPanel<'a> {
    title: String,
    x_desc: &'a str,
    hists: Vec<(RGBColor, &'a Histogram)>,
    /// Lines of text in the top-left corner.
    annotation: Vec<String>,
    alpha: f64,
}

fn draw_hist(area: &Area, p: &HistPanel) -> Result<(), DrawError> {
    type Outline<'h> = (RGBColor, Option<Vec<(f64, f64)>>, &'h Histogram);
    let outlines: Vec<Outline> = p
        .hists
        .iter()
        .map(|(c, h)| (*c, density_outline(h), *h))
        .collect();
    let (mut lo, mut hi, mut top) = (f64::INFINITY, f64::NEG_INFINITY, 0.0f64);
    for (_, o, h) in &outlines {
        if h.lo.is_finite() && h.hi.is_finite() {
            lo = lo.min(h.lo);
            hi = hi.max(h.hi);
        }
        for (_, d) in o.iter().flatten() {
            top = top.max(*d);
        }
    }
    // About one labelled tick per 120 px keeps labels such as -0.0025 apart.
    let (w, h) = area.dim_in_pixel();
    let x = Axis::linear_fit([lo, hi], ((w / 120) as usize).clamp(3, 8));
    let ny = ((h / 70) as usize).clamp(3, 6);
    let y = if top > 0.0 && top.is_finite() {
        Axis::linear_n(0.0, top * 1.12, ny)
    } else {
        Axis::linear(0.0, 1.0)
    };
    let mut ch = chart(area, &p.title, (&x, &y), (p.x_desc, "density"))?;
    let mut annotation = p.annotation.clone();
    for (c, outline, h) in &outlines {
        match outline {
            Some(pts) => {
                ch.draw_series(std::iter::once(Polygon::new(
                    pts.clone(),
                    c.mix(p.alpha).filled(),
                )))?;
                ch.draw_series(LineSeries::new(pts.clone(), c.stroke_width(2)))?;
            }
            None => {
                // All values equal (or none): a marker line at the value.
                let total: u64 = h.counts.iter().sum();
                if total > 0 && h.lo.is_finite() {
                    ch.draw_series(LineSeries::new(
                        [(h.lo, y.lo), (h.lo, y.hi)],
                        c.stroke_width(4),
                    ))?;
                    annotation.push(format!("all {total} finite values = {}", fmt_num(h.lo)));
                } else {
                    annotation.push("no finite values".into());
                }
            }
        }
    }
    if !annotation.is_empty() {
        // On a translucent white card, so bars behind it stay readable.
        let area = ch.plotting_area().strip_coord_spec();
        let f = font(16).color(&INK);
        let width = annotation
            .iter()
            .filter_map(|l| area.estimate_text_size(l, &f).ok())
            .map(|s| s.0)
            .max()
            .unwrap_or(0);
        let card = [
            (6, 6),
            (18 + width as i32, 12 + 20 * annotation.len() as i32),
        ];
        area.draw(&Rectangle::new(card, WHITE.mix(0.82).filled()))?;
        for (i, line) in annotation.iter().enumerate() {
            area.draw(&Text::new(
                line.clone(),
                (12, 10 + 20 * i as i32),
                f.clone(),
            ))?;
        }
    }
    Ok(())
}

/// Text for a histogram that could not be drawn.
fn empty_panel(area: &Area, title: &str, why: &str) -> Result<(), DrawError> {
    let x = Axis::linear(0.0, 1.0);
    let ch = chart(area, title, (&x, &x), ("", ""))?;
    ch.plotting_area().strip_coord_spec().draw(&Text::new(
        why.to_string(),
        (20, 20),
        font(18).color(&MUTED),
    ))?;
    Ok(())
}

fn stats_lines(t: &TensorStats) -> Vec<String> {
    let mut out = vec![
        format!("mean {}", fmt_num(t.mean)),
        format!("std {}", fmt_num(t.std)),
    ];
    let mut extra = Vec::new();
    if let Some(z) = t.zero_fraction.filter(|z| *z > 0.0) {
        extra.push(format!("zero {}%", fmt_num(100.0 * z)));
    }
    if let Some(s) = t.saturated_fraction.filter(|s| *s > 0.0) {
        extra.push(format!("sat. {}%", fmt_num(100.0 * s)));
    }
    if t.nan_count + t.inf_count > 0 {
        extra.push(format!("NaN/Inf {}", t.nan_count + t.inf_count));
    }
    if !extra.is_empty() {
        out.push(extra.join(" · "));
    }
    out
}

fn weight_hist(ctx: &Ctx, root: &Area) -> Result<(), DrawError> {
    let arms = weight_arms(ctx);
    let title = "Initial weight distributions";
    if overlay_ok(&arms) {
        let f = frame(root, title, &ctx.subtitle, 380)?;
        let layer = arms.first().map(|(_, l)| l.index).unwrap_or(0);
        let same_layer = arms.iter().all(|(_, l)| l.index == layer);
        let panel = HistPanel {
            title: if same_layer {
                format!("weights of layer {layer}")
            } else {
                "weights of a middle layer".into()
            },
            x_desc: "weight value",
            hists: arms
                .iter()
                .filter_map(|(a, l)| Some((a.style.color, l.weight.histogram.as_ref()?)))
                .collect(),
            annotation: Vec::new(),
            alpha: 0.22,
        };
        draw_hist(&f.body, &panel)?;
        let mut keys = vec![Key::Heading("arm (std of weights)".into())];
        for (a, l) in &arms {
            let mut s = a.style.clone();
            s.label = format!("{} ({})", s.label, fmt_num(l.weight.std));
            s.dash = super::style::Dash::Solid;
            keys.push(Key::Series(s));
        }
        legend(&f.legend, &keys, 12)?;
        return notes(&f.footer, &[], &sampled_note(ctx.arms.len(), arms.len()));
    }
    // Scales too different to share an axis: one panel per arm.
    let f = frame(root, title, &ctx.subtitle, 0)?;
    let c = cols(arms.len());
    let areas = f.body.split_evenly((arms.len().div_ceil(c), c));
    for ((arm, layer), area) in arms.iter().zip(&areas) {
        let Some(h) = layer.weight.histogram.as_ref() else {
            continue;
        };
        let panel = HistPanel {
            title: format!("{} · layer {}", arm.style.label, layer.index),
            x_desc: "weight value",
            hists: vec![(arm.style.color, h)],
            annotation: stats_lines(&layer.weight),
            alpha: 0.45,
        };
        draw_hist(&area.margin(0, 0, 0, 0), &panel)?;
    }
    let mut note =
        vec!["scales differ by more than 10×: each panel has its own x axis".to_string()];
    note.extend(sampled_note(ctx.arms.len(), arms.len()));
    notes(&f.footer, &[], &note)
}

fn sampled_note(total: usize, shown: usize) -> Vec<String> {
    if shown < total {
        vec![format!("showing {shown} of {total} arms, evenly spaced")]
    } else {
        Vec::new()
    }
}

fn act_hist(ctx: &Ctx, root: &Area) -> Result<(), DrawError> {
    let f = frame(
        root,
        "Activation distributions at the first, middle and last layer",
        &ctx.subtitle,
        0,
    )?;
    let rows = sample(ctx.arms.len(), MAX_ROWS);
    let max_layers = ctx
        .arms
        .iter()
        .filter_map(|a| a.runs.first())
        .map(|r| r.layers.len())
        .max()
        .unwrap_or(0);
    let ncols = max_layers.clamp(1, 3);
    let areas = f.body.split_evenly((rows.len(), ncols));
    for (r, &ai) in rows.iter().enumerate() {
        let arm = &ctx.arms[ai];
        let Some(run) = arm.runs.first() else {
            continue;
        };
        let n = run.layers.len();
        let picks: Vec<usize> = match n {
            0 => Vec::new(),
            1 => vec![0],
            2 => vec![0, 1],
            _ => vec![0, n / 2, n - 1],
        };
        for c in 0..ncols {
            let area = &areas[r * ncols + c];
            let Some(layer) = picks.get(c).map(|&i| &run.layers[i]) else {
                empty_panel(area, &arm.style.label, "no such layer")?;
                continue;
            };
            let where_ =
                ["first", "middle", "last"][if picks.len() == 3 { c } else { c.min(1) * 2 }];
            let title = format!("{} · {where_} layer ({})", arm.style.label, layer.index);
            match layer.act.histogram.as_ref() {
                Some(h) => draw_hist(
                    area,
                    &HistPanel {
                        title,
                        x_desc: "activation value",
                        hists: vec![(arm.style.color, h)],
                        annotation: stats_lines(&layer.act),
                        alpha: 0.45,
                    },
                )?,
                None => empty_panel(area, &title, "no histogram recorded")?,
            }
        }
    }
    notes(&f.footer, &[], &sampled_note(ctx.arms.len(), rows.len()))
}
