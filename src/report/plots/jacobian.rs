//! The Jacobian spectrum figures: singular values against depth (s_max and
//! s_min on a log axis, var(s²)/mean(s²)² with the free-probability line),
//! and the distribution of log10 s at every listed depth, one ridge per
//! depth, with the Fuss–Catalan density beside Gaussian linear stacks.

use super::data::{Ctx, Series};
use super::layout::{Key, LEGEND_W, frame, legend, notes};
use super::lines::{Drawn, Panel, chart, draw_panel, fit_y};
use super::scale::Axis;
use super::style::{Dash, INK, SeriesStyle, font};
use super::{Area, DrawError, Job};
use crate::jacobian::theory::fuss_catalan_log10;
use crate::results::RunResult;
use crate::results::jacobian::DepthSpectrum;
use plotters::prelude::*;

/// The Jacobian figures, when any run has a spectrum.
pub(super) fn jobs<'a>(ctx: &'a Ctx<'a>) -> Vec<Job<'a>> {
    if !ctx.doc.runs.iter().any(|r| r.jacobian.is_some()) {
        return Vec::new();
    }
    let arms = ctx.arms.len() as u32;
    vec![
        Job::new(
            "jacobian_depth.png",
            "Jacobian singular values against depth",
            "Dynamical isometry keeps s_max and s_min together at every depth (orthogonal linear: all 1); Gaussian layers spread them by about 1.2-1.6 decades per layer. Right: var(s²)/mean(s²)², dashed: theory L(v_W + v_D).",
            (1900, 900),
            move |root| depth_figure(ctx, root),
        ),
        Job::new(
            "jacobian_spectrum.png",
            "Distribution of log10 s at each depth",
            "One ridge per listed depth (first input, or pooled over inputs). Dashed: the Fuss–Catalan density for products of Gaussian square matrices (linear Gaussian runs).",
            (1600, (arms.div_ceil(2) * 520 + 180).clamp(800, 3000)),
            move |root| ridge_figure(ctx, root),
        ),
    ]
}

/// The whole network and every listed depth of a run, by depth.
fn entries(run: &RunResult) -> Vec<DepthSpectrum> {
    let Some(j) = &run.jacobian else {
        return Vec::new();
    };
    let mut out = j.depths.clone();
    out.push(DepthSpectrum {
        depth: j.depth,
        singular_values: j.singular_values.clone(),
        histogram: j.histogram.clone(),
        spread: j.spread.clone(),
        theory: j.theory.clone(),
        log10_values: None,
    });
    out.sort_by_key(|e| e.depth);
    out.dedup_by_key(|e| e.depth);
    out
}

fn depth_figure(ctx: &Ctx, root: &Area) -> Result<(), DrawError> {
    let f = frame(
        root,
        "Jacobian singular values against depth",
        &ctx.subtitle,
        LEGEND_W,
    )?;
    let panels = f.body.split_evenly((1, 2));
    let (mut ext, mut var) = (Vec::new(), Vec::new());
    for arm in &ctx.arms {
        let Some(run) = arm.runs.iter().find(|r| r.jacobian.is_some()) else {
            continue;
        };
        let e = entries(run);
        let pts = |pick: fn(&DepthSpectrum) -> f64| -> Vec<(f64, f64)> {
            e.iter().map(|d| (d.depth as f64, pick(d))).collect()
        };
        let style = |suffix: &str, dash: Dash| SeriesStyle {
            label: format!("{} {suffix}", arm.style.label),
            dash,
            ..arm.style.clone()
        };
        let series = |style, points| Series {
            style,
            points,
            band: Vec::new(),
            theory: Vec::new(),
        };
        ext.push(series(
            style("s_max", Dash::Solid),
            pts(|d| 10f64.powf(d.singular_values.log10_max)),
        ));
        ext.push(series(
            style("s_min", Dash::Dashed),
            pts(|d| 10f64.powf(d.singular_values.log10_min)),
        ));
        let mut v = series(
            arm.style.clone(),
            pts(|d| d.singular_values.var_over_mean_sq2),
        );
        v.theory = (e.iter())
            .filter_map(|d| Some((d.depth as f64, d.theory.as_ref()?.var_over_mean_sq2)))
            .collect();
        var.push(v);
    }
    let max_depth = ext
        .iter()
        .flat_map(|s| &s.points)
        .map(|p| p.0)
        .fold(1.0, f64::max);
    let x = Axis::linear(0.0, max_depth);
    let mut bad = Drawn::default();
    bad.add(draw_panel(
        &panels[0],
        &Panel {
            title: "largest (solid) and smallest (dashed) singular value".into(),
            x_desc: "depth (layers)".into(),
            y_desc: "singular value (log scale)".into(),
            x: x.clone(),
            y: fit_y(&ext, true, &[1.0]),
            series: &ext,
            reference: Some(1.0),
            shade: None,
        },
    )?);
    bad.add(draw_panel(
        &panels[1],
        &Panel {
            title: "var(s²) / mean(s²)²".into(),
            x_desc: "depth (layers)".into(),
            y_desc: "normalised variance of s²".into(),
            x,
            y: fit_y(&var, false, &[0.0]),
            series: &var,
            reference: None,
            shade: None,
        },
    )?);
    let mut keys = vec![Key::Heading("run".into())];
    keys.extend(ctx.arms.iter().map(|a| Key::Series(a.style.clone())));
    keys.push(Key::Heading(String::new()));
    if bad.theory {
        keys.push(Key::Theory);
    }
    keys.push(Key::Reference("s = 1".into()));
    super::layers::push_marker_keys(&mut keys, bad);
    legend(&f.legend, &keys, 12)?;
    notes(&f.footer, &bad.notes(), &[])
}

fn ridge_figure(ctx: &Ctx, root: &Area) -> Result<(), DrawError> {
    let f = frame(
        root,
        "Distribution of log10 s at each depth",
        &ctx.subtitle,
        0,
    )?;
    let runs: Vec<(&SeriesStyle, &RunResult)> = (ctx.arms.iter())
        .filter_map(|a| Some((&a.style, *a.runs.iter().find(|r| r.jacobian.is_some())?)))
        .collect();
    let cols = if runs.len() > 1 { 2 } else { 1 };
    let areas = f
        .body
        .split_evenly((runs.len().div_ceil(cols).max(1), cols));
    for ((style, run), area) in runs.iter().zip(&areas) {
        ridges(area, style, run)?;
    }
    notes(&f.footer, &[], &[])
}

/// Whether the run is a linear stack of i.i.d. square layers, where the
/// Fuss–Catalan density applies (its theory says v_D = 0, v_W = 1 per layer).
fn fuss_catalan_applies(run: &RunResult, e: &DepthSpectrum) -> bool {
    let linear = run
        .config
        .pointer("/network/activation")
        .and_then(|v| v.as_str())
        == Some("identity");
    let t = e.theory.as_ref().map(|t| t.var_over_mean_sq2);
    linear && t.is_some_and(|v| (v - e.depth as f64).abs() < 1e-9)
}

fn ridges(area: &Area, style: &SeriesStyle, run: &RunResult) -> Result<(), DrawError> {
    let e = entries(run);
    let lo = e
        .iter()
        .map(|d| d.histogram.lo)
        .fold(f64::INFINITY, f64::min);
    let hi = e
        .iter()
        .map(|d| d.histogram.hi)
        .fold(f64::NEG_INFINITY, f64::max);
    let x = Axis::linear(lo.min(hi - 0.1), hi);
    let y = Axis::linear_n(0.0, e.len() as f64 + 0.2, e.len().max(1));
    let mut ch = chart(
        area,
        &style.label,
        (&x, &y),
        ("log10 s", "depth (ridges, bottom: shallowest)"),
    )?;
    for (i, d) in e.iter().enumerate() {
        let h = &d.histogram;
        let n: u64 = h.counts.iter().sum();
        let bw = (h.hi - h.lo) / h.counts.len().max(1) as f64;
        let dens: Vec<f64> = h
            .counts
            .iter()
            .map(|c| *c as f64 / (n.max(1) as f64 * bw))
            .collect();
        let fc = if fuss_catalan_applies(run, d) {
            fuss_catalan_log10(d.depth, 600)
        } else {
            Vec::new()
        };
        let top = dens
            .iter()
            .copied()
            .chain(fc.iter().map(|p| p.1))
            .fold(1e-12, f64::max);
        let base = i as f64;
        let k = 0.9 / top;
        let pts: Vec<(f64, f64)> = (dens.iter().enumerate())
            .flat_map(|(b, v)| {
                let x0 = h.lo + b as f64 * bw;
                [(x0, base + v * k), (x0 + bw, base + v * k)]
            })
            .collect();
        ch.draw_series(
            AreaSeries::new(pts, base, style.color.mix(0.35))
                .border_style(style.color.stroke_width(2)),
        )?;
        if !fc.is_empty() {
            let line: Vec<(f64, f64)> = fc
                .iter()
                .filter(|p| p.0 >= x.lo)
                .map(|p| (p.0, base + p.1 * k))
                .collect();
            ch.draw_series(DashedLineSeries::new(line, 10, 6, INK.stroke_width(2)))?;
        }
        ch.draw_series(std::iter::once(Text::new(
            format!("L = {}", d.depth),
            (x.lo + 0.01 * (x.hi - x.lo), base + 0.55),
            font(18).color(&INK),
        )))?;
    }
    Ok(())
}
