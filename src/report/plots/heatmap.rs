//! `heatmap.png`: final activation std over two swept parameters, as an
//! order/chaos phase diagram on a diverging colour scale centred at 1.

use super::data::{Ctx, Param, aggregate, lines, param_f64, short_key};
use super::layout::{Key, LEGEND_W, colorbar, frame, legend, notes};
use super::lines::chart;
use super::scale::{Axis, fmt_num};
use super::style::{INK, MUTED, diverging, font, is_light};
use super::{Area, DrawError};
use crate::results::RunResult;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// A heatmap over two numeric parameters, one panel per line (variant).
pub(super) struct Grid<'a> {
    x: &'a Param,
    y: &'a Param,
    xs: Vec<f64>,
    ys: Vec<f64>,
    panels: Vec<(String, Vec<&'a RunResult>)>,
}

const MAX_HEAT_PANELS: usize = 4;

impl<'a> Grid<'a> {
    pub fn new(ctx: &Ctx<'a>, x: &'a Param, y: &'a Param) -> Grid<'a> {
        let sorted = |p: &Param| {
            let mut v: Vec<f64> = p.values.iter().filter_map(|v| v.as_f64()).collect();
            v.sort_by(f64::total_cmp);
            v.dedup();
            v
        };
        let panels = lines(ctx, &[x.key.as_str(), y.key.as_str()]);
        Grid {
            x,
            y,
            xs: sorted(x),
            ys: sorted(y),
            panels,
        }
    }

    pub fn size(&self) -> (u32, u32) {
        let n = self.panels.len().min(MAX_HEAT_PANELS) as u32;
        let cell_w = if self.xs.len() <= 12 { 110 } else { 40 };
        let w = (n * (self.xs.len() as u32 * cell_w + 200) + LEGEND_W).clamp(1400, 3200);
        let h = (self.ys.len() as u32 * 70 + 380).clamp(900, 2400);
        (w, h)
    }

    /// log10 of the cell value, or the special value itself.
    fn cell(&self, runs: &[&RunResult], xi: usize, yi: usize) -> Option<f64> {
        let vals: Vec<f64> = runs
            .iter()
            .filter(|r| {
                param_f64(r, &self.x.key) == Some(self.xs[xi])
                    && param_f64(r, &self.y.key) == Some(self.ys[yi])
            })
            .map(|r| r.summary.final_act_std)
            .collect();
        (!vals.is_empty()).then(|| aggregate(&vals, true).0)
    }

    pub fn draw(&self, ctx: &Ctx, root: &Area) -> Result<(), DrawError> {
        let title = format!(
            "Final activation std over {} × {}",
            short_key(&self.x.key),
            short_key(&self.y.key)
        );
        let f = frame(root, &title, &ctx.subtitle, LEGEND_W)?;
        let shown = &self.panels[..self.panels.len().min(MAX_HEAT_PANELS)];
        // A symmetric colour range in decades around 1, at least ±1 decade.
        let mut span: f64 = 1.0;
        for (_, runs) in shown {
            for xi in 0..self.xs.len() {
                for yi in 0..self.ys.len() {
                    if let Some(v) = self
                        .cell(runs, xi, yi)
                        .filter(|v| v.is_finite() && *v > 0.0)
                    {
                        span = span.max(v.log10().abs().ceil());
                    }
                }
            }
        }
        let areas = f.body.split_evenly((1, shown.len().max(1)));
        let mut cells = Cells::default();
        for ((label, runs), area) in shown.iter().zip(&areas) {
            cells.add(self.draw_panel(area, label, runs, span, shown.len() > 1)?);
        }
        let (_, h) = f.legend.dim_in_pixel();
        let (top, bottom) = f.legend.split_vertically(h.saturating_sub(110));
        let axis = Axis::log_exact(-span, span);
        colorbar(
            &top,
            "final activation std",
            &axis,
            &|t| diverging(t),
            Some((-1.0, 1.0)),
        )?;
        let mut keys = Vec::new();
        if cells.nan > 0 {
            keys.push(Key::Swatch(RGBColor(190, 190, 190), "NaN".into()));
        }
        if cells.empty > 0 {
            keys.push(Key::Swatch(WHITE, "no run".into()));
        }
        legend(&bottom, &keys, 4)?;
        let mut warn = Vec::new();
        if cells.zero_inf > 0 {
            warn.push(format!(
                "{} {} 0 or Inf: labelled, and coloured as the end of the scale",
                cells.zero_inf,
                if cells.zero_inf == 1 {
                    "cell is"
                } else {
                    "cells are"
                }
            ));
        }
        if cells.nan > 0 {
            let what = if cells.nan == 1 {
                "cell is"
            } else {
                "cells are"
            };
            warn.push(format!("{} {what} NaN (grey)", cells.nan));
        }
        let mut info = Vec::new();
        if self.panels.len() > MAX_HEAT_PANELS {
            info.push(format!(
                "showing {MAX_HEAT_PANELS} of {} panels",
                self.panels.len()
            ));
        }
        if shown
            .iter()
            .any(|(_, runs)| runs.len() > self.xs.len() * self.ys.len())
        {
            info.push("cells with several runs show their geometric mean".into());
        }
        notes(&f.footer, &warn, &info)
    }

    /// One heatmap; returns the special cells it drew.
    fn draw_panel(
        &self,
        area: &Area,
        label: &str,
        runs: &[&RunResult],
        span: f64,
        titled: bool,
    ) -> Result<Cells, DrawError> {
        let names = |v: &[f64]| v.iter().map(|x| fmt_num(*x)).collect::<Vec<_>>();
        let (xa, ya) = (
            Axis::categories(names(&self.xs)),
            Axis::categories(names(&self.ys)),
        );
        let title = if titled {
            label.to_string()
        } else {
            String::new()
        };
        let mut ch = chart(area, &title, (&xa, &ya), (&self.x.key, &self.y.key))?;
        let plot = ch.plotting_area();
        let (pw, ph) = plot.dim_in_pixel();
        let cell_px = (pw as usize / self.xs.len().max(1)).min(ph as usize / self.ys.len().max(1));
        let annotate = cell_px >= 34;
        let text_size = (cell_px / 4).clamp(12, 20) as u32;
        let mut cells = Cells::default();
        for xi in 0..self.xs.len() {
            for yi in 0..self.ys.len() {
                let (x0, y0) = (xi as f64, yi as f64);
                let Some(v) = self.cell(runs, xi, yi) else {
                    cells.empty += 1;
                    let rect = [(x0, y0), (x0 + 1.0, y0 + 1.0)];
                    ch.draw_series(std::iter::once(Rectangle::new(rect, WHITE.filled())))?;
                    if annotate {
                        let style = font(text_size)
                            .color(&MUTED)
                            .pos(Pos::new(HPos::Center, VPos::Center));
                        ch.draw_series(std::iter::once(Text::new(
                            "no run",
                            (x0 + 0.5, y0 + 0.5),
                            style,
                        )))?;
                    }
                    continue;
                };
                let color = if v.is_nan() {
                    RGBColor(190, 190, 190)
                } else if v.is_infinite() {
                    diverging(1.0)
                } else if v <= 0.0 {
                    diverging(0.0)
                } else {
                    diverging((v.log10() + span) / (2.0 * span))
                };
                if v.is_nan() {
                    cells.nan += 1;
                } else if !(v.is_finite() && v > 0.0) {
                    cells.zero_inf += 1;
                }
                ch.draw_series(std::iter::once(Rectangle::new(
                    [(x0, y0), (x0 + 1.0, y0 + 1.0)],
                    color.filled(),
                )))?;
                ch.draw_series(std::iter::once(Rectangle::new(
                    [(x0, y0), (x0 + 1.0, y0 + 1.0)],
                    WHITE.stroke_width(2),
                )))?;
                if annotate {
                    let ink = if is_light(color) { INK } else { WHITE };
                    let style = font(text_size)
                        .color(&ink)
                        .pos(Pos::new(HPos::Center, VPos::Center));
                    ch.draw_series(std::iter::once(Text::new(
                        fmt_num(v),
                        (x0 + 0.5, y0 + 0.5),
                        style,
                    )))?;
                }
            }
        }
        Ok(cells)
    }
}

/// Counts of heatmap cells that need a word in the legend or notes.
#[derive(Default)]
struct Cells {
    empty: usize,
    nan: usize,
    zero_inf: usize,
}

impl Cells {
    fn add(&mut self, o: Cells) {
        self.empty += o.empty;
        self.nan += o.nan;
        self.zero_inf += o.zero_inf;
    }
}
