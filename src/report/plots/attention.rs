//! `attention_entropy.png`: each run's attention entropy as a block × head
//! heatmap, as a fraction of log(seq_len) (1: uniform attention over the
//! whole sequence; 0: one key takes all).

use super::data::Ctx;
use super::layout::{LEGEND_W, colorbar, frame, notes};
use super::lines::chart;
use super::scale::{Axis, fmt_num};
use super::style::{INK, font, is_light, viridis};
use super::{Area, DrawError, Job};
use crate::results::RunResult;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// Panels drawn at most (a sweep's further runs are named in the notes).
const MAX_PANELS: usize = 12;

/// The heatmap job (for documents with attention records).
pub(super) fn entropy_job<'a>(ctx: &'a Ctx<'a>) -> Job<'a> {
    let runs = runs_with_entropy(ctx);
    let cols = runs.len().clamp(1, 4);
    let rows = runs.len().div_ceil(cols).max(1);
    let size = (
        (cols as u32 * 520 + LEGEND_W).max(1400),
        (rows as u32 * 520 + 260).max(900),
    );
    Job::new(
        "attention_entropy.png",
        "Attention entropy per block and head",
        "Each head's softmax entropy (mean over queries) divided by log(seq_len), block by block: 1 (yellow) is uniform attention over the whole sequence, the usual start under 1/sqrt(d_head) and what 1/d_head tends to as width grows; near 0 (dark) one key takes all (entropy collapse, e.g. large query and key weights). Cells show the entropy in nats.",
        size,
        move |root| draw(ctx, root),
    )
}

fn runs_with_entropy<'a>(ctx: &Ctx<'a>) -> Vec<&'a RunResult> {
    (ctx.doc.runs.iter())
        .filter(|r| r.blocks.iter().any(|b| b.attn_entropy.is_some()))
        .collect()
}

fn draw(ctx: &Ctx, root: &Area) -> Result<(), DrawError> {
    let f = frame(
        root,
        "Attention entropy per block and head",
        &ctx.subtitle,
        LEGEND_W,
    )?;
    let runs = runs_with_entropy(ctx);
    let shown = &runs[..runs.len().min(MAX_PANELS)];
    let cols = shown.len().clamp(1, 4);
    let grid = (shown.len().div_ceil(cols).max(1), cols);
    let areas = f.body.split_evenly(grid);
    for (run, area) in shown.iter().zip(&areas) {
        panel(area, run)?;
    }
    let (_, h) = f.legend.dim_in_pixel();
    let (top, _) = f.legend.split_vertically(h.saturating_sub(110));
    colorbar(
        &top,
        "entropy / log(seq_len)",
        &Axis::linear(0.0, 1.0),
        &|t| viridis(t),
        None,
    )?;
    let mut info = Vec::new();
    if runs.len() > shown.len() {
        info.push(format!("showing {} of {} runs", shown.len(), runs.len()));
    }
    notes(&f.footer, &[], &info)
}

/// One run's block × head grid.
fn panel(area: &Area, run: &RunResult) -> Result<(), DrawError> {
    let heads = (run.blocks.iter())
        .filter_map(|b| b.attn_entropy.as_ref().map(Vec::len))
        .max()
        .unwrap_or(1);
    let names = |n: usize| (0..n).map(|i| i.to_string()).collect::<Vec<_>>();
    let (xa, ya) = (
        Axis::categories(names(heads)),
        Axis::categories(names(run.blocks.len())),
    );
    let mut ch = chart(area, &run.label, (&xa, &ya), ("head", "block"))?;
    let (pw, ph) = ch.plotting_area().dim_in_pixel();
    let cell = (pw as usize / heads.max(1)).min(ph as usize / run.blocks.len().max(1));
    let text = (cell >= 34).then(|| (cell / 4).clamp(11, 18) as u32);
    for (yi, b) in run.blocks.iter().enumerate() {
        let (Some(e), Some(max)) = (&b.attn_entropy, b.attn_entropy_max) else {
            continue;
        };
        for (xi, v) in e.iter().enumerate() {
            let t = if max > 0.0 {
                (v / max).clamp(0.0, 1.0)
            } else {
                1.0
            };
            let color = viridis(t);
            let rect = [(xi as f64, yi as f64), (xi as f64 + 1.0, yi as f64 + 1.0)];
            ch.draw_series(std::iter::once(Rectangle::new(rect, color.filled())))?;
            if let Some(size) = text {
                let ink = if is_light(color) { INK } else { WHITE };
                let style = font(size)
                    .color(&ink)
                    .pos(Pos::new(HPos::Center, VPos::Center));
                let at = (xi as f64 + 0.5, yi as f64 + 0.5);
                ch.draw_series(std::iter::once(Text::new(fmt_num(*v), at, style)))?;
            }
        }
    }
    Ok(())
}
