//! Figure frame (title, body, legend column, footer notes), the legend and
//! the colour bar. Everything here draws in pixel coordinates.

use super::scale::Axis;
use super::style::{Dash, INK, MUTED, Marker, REFERENCE, SeriesStyle, WARN, bold, font};
use super::{Area, DrawError};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// Width of the legend column of the sweep and heatmap figures.
pub(super) const LEGEND_W: u32 = 360;

/// The parts of a figure.
pub(super) struct Frame<'a> {
    pub body: Area<'a>,
    pub legend: Area<'a>,
    pub footer: Area<'a>,
}

const HEADER_H: u32 = 86;
const FOOTER_H: u32 = 46;

/// Splits `root` into header (drawn here), body, right legend column of
/// `legend_w` pixels (0 for none) and a footer for notes.
pub(super) fn frame<'a>(
    root: &Area<'a>,
    title: &str,
    subtitle: &str,
    legend_w: u32,
) -> Result<Frame<'a>, DrawError> {
    root.fill(&WHITE)?;
    let (w, h) = root.dim_in_pixel();
    let (head, rest) = root.split_vertically(HEADER_H);
    head.draw(&Text::new(
        title.to_string(),
        (28, 16),
        bold(32).color(&INK),
    ))?;
    head.draw(&Text::new(
        subtitle.to_string(),
        (30, 56),
        font(19).color(&MUTED),
    ))?;
    let (middle, footer) = rest.split_vertically(h.saturating_sub(HEADER_H + FOOTER_H));
    let (body, legend) = middle.split_horizontally(w.saturating_sub(legend_w));
    Ok(Frame {
        body,
        legend,
        footer,
    })
}

/// One legend row.
pub(super) enum Key {
    Heading(String),
    Series(SeriesStyle),
    /// Dashed line in the ink colour: a theoretical prediction.
    Theory,
    /// Shaded swatch: ±1 std over repeats.
    Band(String),
    /// Grey line: a reference value.
    Reference(String),
    /// Green swatch: the healthy range.
    Shade(String),
    /// ▼ marker: values ≤ 0 shown at the floor of a log axis.
    Below,
    /// × marker: NaN or Inf shown at the top.
    NonFinite,
    /// × marker with its own meaning (e.g. a threshold never reached).
    NonFiniteAs(String),
    /// A filled square of a colour (heatmap cells).
    Swatch(RGBColor, String),
    /// Some entries did not fit.
    More(usize),
}

const ROW_H: i32 = 30;

/// Draws `keys` top-down in `area`. When they do not fit, the last series
/// entries give way to one "… and N more" row; explanatory rows stay.
pub(super) fn legend(area: &Area, keys: &[Key], top: i32) -> Result<(), DrawError> {
    let (w, h) = area.dim_in_pixel();
    let max_rows = ((h as i32 - top - 10) / ROW_H).max(1) as usize;
    let n_series = keys.iter().filter(|k| matches!(k, Key::Series(_))).count();
    let room = if keys.len() <= max_rows {
        n_series
    } else {
        max_rows.saturating_sub(keys.len() - n_series + 1)
    };
    let mut y = top;
    let mut seen = 0;
    for key in keys {
        if matches!(key, Key::Series(_)) {
            seen += 1;
            if seen > room {
                if seen == n_series {
                    draw_key(area, &Key::More(n_series - room), y, w)?;
                    y += ROW_H;
                }
                continue;
            }
        }
        if y + ROW_H > h as i32 {
            break;
        }
        draw_key(area, key, y, w)?;
        y += ROW_H;
    }
    Ok(())
}

fn draw_key(area: &Area, key: &Key, y: i32, w: u32) -> Result<(), DrawError> {
    let (x0, x1, tx) = (14, 58, 68);
    let text_w = w as i32 - tx - 8;
    let cy = y + ROW_H / 2;
    let label = |s: &str| -> Result<(), DrawError> {
        let fitted = fit_text(area, s, text_w, 18, false);
        area.draw(&Text::new(
            fitted,
            (tx, cy),
            font(18).color(&INK).pos(Pos::new(HPos::Left, VPos::Center)),
        ))?;
        Ok(())
    };
    match key {
        Key::Heading(s) => {
            let fitted = fit_text(area, s, w as i32 - 22, 19, true);
            area.draw(&Text::new(
                fitted,
                (x0, cy),
                bold(19).color(&INK).pos(Pos::new(HPos::Left, VPos::Center)),
            ))?;
        }
        Key::Series(style) => {
            sample_line(area, style, (x0, x1), cy)?;
            label(&style.label)?;
        }
        Key::Theory => {
            let s = SeriesStyle {
                label: String::new(),
                color: INK,
                dash: Dash::Dashed,
                marker: Marker::None,
            };
            sample_line(area, &s, (x0, x1), cy)?;
            label("theory (same colour)")?;
        }
        Key::Band(s) => {
            area.draw(&Rectangle::new(
                [(x0, cy - 9), (x1, cy + 9)],
                MUTED.mix(0.25).filled(),
            ))?;
            area.draw(&PathElement::new(
                vec![(x0, cy), (x1, cy)],
                MUTED.stroke_width(3),
            ))?;
            label(s)?;
        }
        Key::Reference(s) => {
            area.draw(&PathElement::new(
                vec![(x0, cy), (x1, cy)],
                REFERENCE.stroke_width(2),
            ))?;
            label(s)?;
        }
        Key::Shade(s) => {
            area.draw(&Rectangle::new(
                [(x0, cy - 9), (x1, cy + 9)],
                super::style::HEALTHY.mix(0.15).filled(),
            ))?;
            label(s)?;
        }
        Key::Below => {
            below_marker(area, ((x0 + x1) / 2, cy), MUTED)?;
            label("value 0 (drawn at the floor)")?;
        }
        Key::NonFinite => {
            nonfinite_marker(area, ((x0 + x1) / 2, cy), MUTED)?;
            label("NaN or Inf (drawn at the top)")?;
        }
        Key::NonFiniteAs(s) => {
            nonfinite_marker(area, ((x0 + x1) / 2, cy), MUTED)?;
            label(s)?;
        }
        Key::Swatch(c, s) => {
            area.draw(&Rectangle::new(
                [(x0 + 8, cy - 11), (x0 + 30, cy + 11)],
                c.filled(),
            ))?;
            area.draw(&Rectangle::new(
                [(x0 + 8, cy - 11), (x0 + 30, cy + 11)],
                MUTED.stroke_width(1),
            ))?;
            label(s)?;
        }
        Key::More(n) => {
            area.draw(&Text::new(
                format!("… and {n} more (see report.html)"),
                (x0, cy),
                font(18)
                    .color(&MUTED)
                    .pos(Pos::new(HPos::Left, VPos::Center)),
            ))?;
        }
    }
    Ok(())
}

/// A short sample of a series' line and marker.
fn sample_line(
    area: &Area,
    s: &SeriesStyle,
    (x0, x1): (i32, i32),
    cy: i32,
) -> Result<(), DrawError> {
    let stroke = s.color.stroke_width(3);
    match s.dash {
        Dash::Solid => area.draw(&PathElement::new(vec![(x0, cy), (x1, cy)], stroke))?,
        Dash::Dashed | Dash::Dotted => {
            let (on, off) = if s.dash == Dash::Dashed {
                (10, 6)
            } else {
                (3, 5)
            };
            let mut x = x0;
            while x < x1 {
                area.draw(&PathElement::new(
                    vec![(x, cy), ((x + on).min(x1), cy)],
                    stroke,
                ))?;
                x += on + off;
            }
        }
    }
    marker(area, s.marker, ((x0 + x1) / 2, cy), s.color)
}

/// Draws a data marker centred at a pixel position.
pub(super) fn marker(
    area: &Area,
    m: Marker,
    (x, y): (i32, i32),
    c: RGBColor,
) -> Result<(), DrawError> {
    let fill = c.filled();
    match m {
        Marker::None => {}
        Marker::Circle => area.draw(&Circle::new((x, y), 5, fill))?,
        Marker::Square => area.draw(&Rectangle::new([(x - 5, y - 5), (x + 5, y + 5)], fill))?,
        Marker::Triangle => area.draw(&Polygon::new(
            vec![(x, y - 6), (x + 6, y + 5), (x - 6, y + 5)],
            fill,
        ))?,
        Marker::Diamond => area.draw(&Polygon::new(
            vec![(x, y - 7), (x + 6, y), (x, y + 7), (x - 6, y)],
            fill,
        ))?,
    }
    Ok(())
}

/// ▼ in the series colour with a dark-red outline: a value of 0 (or below) on a log axis.
pub(super) fn below_marker(area: &Area, (x, y): (i32, i32), c: RGBColor) -> Result<(), DrawError> {
    let pts = vec![(x - 8, y - 7), (x + 8, y - 7), (x, y + 8)];
    area.draw(&Polygon::new(pts.clone(), c.filled()))?;
    let mut outline = pts;
    outline.push((x - 8, y - 7));
    area.draw(&PathElement::new(outline, WARN.stroke_width(2)))?;
    Ok(())
}

/// × in the series colour over a dark-red one: NaN or Inf.
pub(super) fn nonfinite_marker(
    area: &Area,
    (x, y): (i32, i32),
    c: RGBColor,
) -> Result<(), DrawError> {
    for (style, r) in [(WARN.stroke_width(6), 8), (c.stroke_width(3), 7)] {
        area.draw(&PathElement::new(
            vec![(x - r, y - r), (x + r, y + r)],
            style,
        ))?;
        area.draw(&PathElement::new(
            vec![(x - r, y + r), (x + r, y - r)],
            style,
        ))?;
    }
    Ok(())
}

/// Writes notes into the footer: warnings (values that could not be
/// placed) in red, then information in grey.
pub(super) fn notes(footer: &Area, warnings: &[String], info: &[String]) -> Result<(), DrawError> {
    let (w, _) = footer.dim_in_pixel();
    let mut x = 30;
    for (lines, color) in [(warnings, WARN), (info, MUTED)] {
        let text = lines.join("  ·  ");
        if text.is_empty() {
            continue;
        }
        let fitted = fit_text(footer, &text, w as i32 - x - 26, 18, false);
        let width = footer
            .estimate_text_size(&fitted, &font(18).color(&INK))
            .map(|s| s.0 as i32)
            .unwrap_or(0);
        footer.draw(&Text::new(fitted, (x, 10), font(18).color(&color)))?;
        x += width + 40;
        if x > w as i32 - 100 {
            break;
        }
    }
    Ok(())
}

/// `s`, shortened with an ellipsis until it is at most `max_w` pixels wide.
pub(super) fn fit_text(area: &Area, s: &str, max_w: i32, size: u32, heavy: bool) -> String {
    let f = if heavy { bold(size) } else { font(size) }.color(&INK);
    let width = |t: &str| {
        area.estimate_text_size(t, &f)
            .map(|(w, _)| w as i32)
            .unwrap_or(i32::MAX)
    };
    if width(s) <= max_w {
        return s.to_string();
    }
    let chars: Vec<char> = s.chars().collect();
    let (mut lo, mut hi) = (0usize, chars.len());
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        let t: String = chars[..mid].iter().collect::<String>() + "…";
        if width(&t) <= max_w {
            lo = mid
        } else {
            hi = mid - 1
        }
    }
    chars[..lo].iter().collect::<String>() + "…"
}

/// A vertical colour bar in `area`: `cmap(t)` for t in [0, 1] along `axis`.
/// `healthy`, in plot coordinates of `axis`, is bracketed beside the bar.
pub(super) fn colorbar(
    area: &Area,
    title: &str,
    axis: &Axis,
    cmap: &dyn Fn(f64) -> RGBColor,
    healthy: Option<(f64, f64)>,
) -> Result<(), DrawError> {
    let (w, h) = area.dim_in_pixel();
    let title = fit_text(area, title, w as i32 - 20, 19, true);
    area.draw(&Text::new(title, (14, 6), bold(19).color(&INK)))?;
    let (x0, x1) = (18, 48);
    let (y0, y1) = (42, h as i32 - 24);
    if y1 <= y0 + 20 {
        return Ok(());
    }
    let steps = (y1 - y0).max(1);
    for i in 0..steps {
        let t = 1.0 - i as f64 / steps as f64;
        area.draw(&Rectangle::new(
            [(x0, y0 + i), (x1, y0 + i + 1)],
            cmap(t).filled(),
        ))?;
    }
    area.draw(&Rectangle::new([(x0, y0), (x1, y1)], INK.stroke_width(1)))?;
    let span = axis.hi - axis.lo;
    let y_of =
        |p: f64| y1 - (((p - axis.lo) / span).clamp(0.0, 1.0) * (y1 - y0) as f64).round() as i32;
    if let Some((lo, hi)) = healthy {
        let (ya, yb) = (y_of(lo), y_of(hi));
        let bx = x1 + 76;
        let stroke = super::style::HEALTHY.stroke_width(3);
        area.draw(&PathElement::new(
            vec![(bx - 6, ya), (bx, ya), (bx, yb), (bx - 6, yb)],
            stroke,
        ))?;
        area.draw(&Text::new(
            "healthy",
            (bx + 8, (ya + yb) / 2),
            font(17)
                .color(&super::style::HEALTHY)
                .pos(Pos::new(HPos::Left, VPos::Center)),
        ))?;
    }
    for p in &axis.major {
        let y = y_of(*p);
        area.draw(&PathElement::new(
            vec![(x1, y), (x1 + 6, y)],
            INK.stroke_width(1),
        ))?;
        area.draw(&Text::new(
            axis.label(*p),
            (x1 + 10, y),
            font(17).color(&INK).pos(Pos::new(HPos::Left, VPos::Center)),
        ))?;
    }
    Ok(())
}
