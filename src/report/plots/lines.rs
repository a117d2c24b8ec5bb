//! The line panel: series of (x, y) points on linear or log axes, with
//! repeat bands, dashed theory lines, a reference line, a shaded range and
//! explicit markers for the points a log axis cannot show.

use super::data::Series;
use super::layout::{below_marker, fit_text, marker, nonfinite_marker};
use super::scale::Axis;
use super::style::{Dash, GRID_BOLD, GRID_LIGHT, HEALTHY, INK, Marker, REFERENCE, bold, font};
use super::{Area, DrawError};
use plotters::coord::Shift;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::prelude::*;

/// One panel of line series.
pub(super) struct Panel<'a> {
    pub title: String,
    pub x_desc: String,
    pub y_desc: String,
    pub x: Axis,
    pub y: Axis,
    pub series: &'a [Series],
    /// A horizontal grey line at this value.
    pub reference: Option<f64>,
    /// A shaded horizontal range (e.g. the healthy band 0.1–10).
    pub shade: Option<(f64, f64)>,
}

/// What a panel drew that its legend and notes must mention: points that
/// could not be placed on the axes, by kind, and whether any theory line
/// is visible.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Drawn {
    /// ≤ 0 on a log axis: drawn at the floor.
    pub below: usize,
    /// NaN or ±Inf: drawn at the top.
    pub nonfinite: usize,
    pub theory: bool,
}

impl Drawn {
    pub fn add(&mut self, o: Drawn) {
        self.below += o.below;
        self.nonfinite += o.nonfinite;
        self.theory |= o.theory;
    }

    /// Footer notes describing what was drawn where.
    pub fn notes(&self) -> Vec<String> {
        let mut out = Vec::new();
        let plural = |n: usize| if n == 1 { "point is" } else { "points are" };
        if self.below > 0 {
            out.push(format!(
                "{} {} 0 and shown as ▼ at the floor of the log axis",
                self.below,
                plural(self.below)
            ));
        }
        if self.nonfinite > 0 {
            out.push(format!(
                "{} {} NaN or Inf and shown as × at the top",
                self.nonfinite,
                plural(self.nonfinite)
            ));
        }
        out
    }
}

/// A log (or linear) y axis fitted to every centre point, band and theory
/// point of `series` that the axis can show, plus `extra` values.
///
/// Theory may widen the range by at most [`THEORY_REACH`] of the data's
/// span (at least one decade on a log axis): a prediction of "0" evaluated as
/// 1e-17 must not squash the measurements; the rest of its line is clipped.
pub(super) fn fit_y(series: &[Series], log: bool, extra: &[f64]) -> Axis {
    let t = |v: f64| -> Option<f64> {
        if !v.is_finite() || (log && v <= 0.0) {
            None
        } else {
            Some(if log { v.log10() } else { v })
        }
    };
    let data: Vec<f64> = series
        .iter()
        .flat_map(|s| {
            let pts = s.points.iter().map(|p| p.1);
            pts.chain(s.band.iter().flat_map(|b| [b.1, b.2]))
        })
        .chain(extra.iter().copied())
        .filter_map(t)
        .collect();
    let (lo, hi) = data
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(*v), b.max(*v))
        });
    let reach = if lo <= hi {
        (THEORY_REACH * (hi - lo)).max(if log { 1.0 } else { 0.0 })
    } else {
        f64::INFINITY
    };
    let theory = series
        .iter()
        .flat_map(|s| s.theory.iter().filter_map(|p| t(p.1)))
        .filter(|v| *v >= lo - reach && *v <= hi + reach);
    let all = data.iter().copied().chain(theory);
    if log {
        Axis::log_fit(all)
    } else {
        Axis::linear_fit(all, 6)
    }
}

/// How far (as a fraction of the data's span) theory may widen a y axis.
const THEORY_REACH: f64 = 0.25;

/// A linear plotters coordinate whose grid lines are exactly an [`Axis`]'
/// ticks (bold: major, light: minor).
pub(super) struct Ticked {
    lo: f64,
    hi: f64,
    major: Vec<f64>,
    minor: Vec<f64>,
}

impl From<&Axis> for Ticked {
    fn from(a: &Axis) -> Ticked {
        Ticked {
            lo: a.lo,
            hi: a.hi,
            major: a.major.clone(),
            minor: a.minor.clone(),
        }
    }
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let span = self.hi - self.lo;
        if !(span.is_finite() && span > 0.0 && v.is_finite()) {
            return (limit.0 + limit.1) / 2;
        }
        let t = ((v - self.lo) / span).clamp(-1.0, 2.0);
        limit.0 + ((limit.1 - limit.0) as f64 * t + 1e-3).floor() as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            self.minor.clone()
        } else {
            self.major.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.lo..self.hi
    }
}

pub(super) type Chart<'a, 'b> = ChartContext<'a, BitMapBackend<'b>, Cartesian2d<Ticked, Ticked>>;

/// Builds the chart and draws its mesh; shared with other panel kinds.
pub(super) fn chart<'a, 'b>(
    area: &'a DrawingArea<BitMapBackend<'b>, Shift>,
    title: &str,
    (x, y): (&Axis, &Axis),
    (x_desc, y_desc): (&str, &str),
) -> Result<Chart<'a, 'b>, DrawError> {
    let (w, _) = area.dim_in_pixel();
    let title = fit_text(area, title, w as i32 - 24, 23, true);
    let mut chart = ChartBuilder::on(area)
        .caption(title, bold(23).color(&INK))
        .margin(14)
        .margin_right(28)
        .x_label_area_size(64)
        .y_label_area_size(96)
        .build_cartesian_2d(Ticked::from(x), Ticked::from(y))?;
    let x_fmt = |v: &f64| x.label(*v);
    let y_fmt = |v: &f64| y.label(*v);
    chart
        .configure_mesh()
        .bold_line_style(GRID_BOLD.stroke_width(1))
        .light_line_style(GRID_LIGHT.stroke_width(1))
        .axis_style(INK.stroke_width(1))
        .x_desc(x_desc)
        .y_desc(y_desc)
        .axis_desc_style(font(20).color(&INK))
        .label_style(font(18).color(&INK))
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .draw()?;
    Ok(chart)
}

/// Draws one panel; returns what could not be placed.
pub(super) fn draw_panel(area: &Area, p: &Panel) -> Result<Drawn, DrawError> {
    let mut chart = chart(area, &p.title, (&p.x, &p.y), (&p.x_desc, &p.y_desc))?;
    let (x, y) = (&p.x, &p.y);
    if let Some((lo, hi)) = p.shade {
        let (lo, hi) = (
            y.to_plot(lo).map(|v| y.clamp(v)),
            y.to_plot(hi).map(|v| y.clamp(v)),
        );
        if let (Some(lo), Some(hi)) = (lo, hi) {
            chart.draw_series(std::iter::once(Rectangle::new(
                [(x.lo, lo), (x.hi, hi)],
                HEALTHY.mix(0.09).filled(),
            )))?;
        }
    }
    if let Some(r) = p
        .reference
        .and_then(|r| y.to_plot(r))
        .filter(|r| *r > y.lo && *r < y.hi)
    {
        chart.draw_series(LineSeries::new(
            [(x.lo, r), (x.hi, r)],
            REFERENCE.stroke_width(2),
        ))?;
    }
    for s in p.series {
        draw_band(&mut chart, s, x, y)?;
    }
    let mut drawn = Drawn::default();
    for s in p.series {
        let inside = |v: f64| (v >= y.lo && v <= y.hi).then_some(v);
        let theory: Vec<Option<(f64, f64)>> = s
            .theory
            .iter()
            .map(|&(a, b)| Some((x.to_plot(a)?, inside(y.to_plot(b)?)?)))
            .collect();
        for run in theory.split(Option::is_none) {
            let run: Vec<(f64, f64)> = run.iter().flatten().copied().collect();
            for seg in segments(&run) {
                drawn.theory = true;
                let style = s.style.color.mix(0.85).stroke_width(2);
                chart.draw_series(DashedLineSeries::new(seg, 9, 6, style))?;
            }
        }
    }
    for s in p.series {
        drawn.add(draw_series(&mut chart, s, x, y)?);
    }
    Ok(drawn)
}

fn draw_band(chart: &mut Chart, s: &Series, x: &Axis, y: &Axis) -> Result<(), DrawError> {
    let pts: Vec<Option<(f64, f64, f64)>> = s
        .band
        .iter()
        .map(|&(a, lo, hi)| Some((x.to_plot(a)?, y.to_plot(lo)?, y.to_plot(hi)?)))
        .collect();
    let fill = s.style.color.mix(0.18).filled();
    for run in pts.split(Option::is_none) {
        let run: Vec<(f64, f64, f64)> = run.iter().flatten().copied().collect();
        if run.len() < 2 {
            continue;
        }
        let mut poly: Vec<(f64, f64)> = run.iter().map(|&(a, _, hi)| (a, y.clamp(hi))).collect();
        poly.extend(run.iter().rev().map(|&(a, lo, _)| (a, y.clamp(lo))));
        chart.draw_series(std::iter::once(Polygon::new(poly, fill)))?;
    }
    Ok(())
}

/// A run of theory points as a line; a lone point becomes a short level
/// dash so that it stays visible. (A prediction that cannot be placed is
/// left out, not marked: it is not a measurement.)
fn segments(points: &[(f64, f64)]) -> Vec<Vec<(f64, f64)>> {
    match points {
        [] => Vec::new(),
        [(x, y)] => vec![vec![(x - 0.3, *y), (x + 0.3, *y)]],
        _ => vec![points.to_vec()],
    }
}

fn draw_series(chart: &mut Chart, s: &Series, x: &Axis, y: &Axis) -> Result<Drawn, DrawError> {
    let mut bad = Drawn::default();
    let mut placed: Vec<Option<(f64, f64)>> = Vec::with_capacity(s.points.len());
    for &(a, b) in &s.points {
        let Some(px) = x.to_plot(a) else {
            bad.nonfinite += 1;
            placed.push(None);
            continue;
        };
        placed.push(y.to_plot(b).map(|py| (px, py)));
    }
    let stroke = s.style.color.stroke_width(3);
    for run in placed.split(Option::is_none) {
        let run: Vec<(f64, f64)> = run.iter().flatten().copied().collect();
        if run.len() < 2 {
            continue;
        }
        match s.style.dash {
            Dash::Solid => chart.draw_series(LineSeries::new(run, stroke))?,
            Dash::Dashed => chart.draw_series(DashedLineSeries::new(run, 14, 8, stroke))?,
            Dash::Dotted => chart.draw_series(DashedLineSeries::new(run, 3, 6, stroke))?,
        };
    }
    // Isolated points (no neighbour to join) always get a marker.
    let isolated = |i: usize| {
        let prev = i > 0 && placed[i - 1].is_some();
        let next = i + 1 < placed.len() && placed[i + 1].is_some();
        !prev && !next
    };
    let show_markers = s.style.marker != Marker::None && s.points.len() <= 40;
    let area = chart.plotting_area();
    // Markers are drawn in pixels, relative to the plotting area.
    let pix = area.strip_coord_spec();
    let (bx, by) = area.get_base_pixel();
    let at = |p: (f64, f64)| {
        let (u, v) = area.map_coordinate(&p);
        (u - bx, v - by)
    };
    for (i, (pt, &(a, b))) in placed.iter().zip(&s.points).enumerate() {
        let Some(px) = x.to_plot(a) else { continue };
        match pt {
            Some(p) if show_markers || isolated(i) => {
                let m = if s.style.marker == Marker::None {
                    Marker::Circle
                } else {
                    s.style.marker
                };
                marker(&pix, m, at(*p), s.style.color)?;
            }
            Some(_) => {}
            None if b.is_finite() => {
                bad.below += 1;
                below_marker(&pix, at((px, y.floor())), s.style.color)?;
            }
            None => {
                bad.nonfinite += 1;
                nonfinite_marker(&pix, at((px, y.ceiling())), s.style.color)?;
            }
        }
    }
    Ok(bad)
}
