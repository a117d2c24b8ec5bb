//! `attention_sweep.png`: attention at init against one swept parameter
//! (e.g. `network.width` in attention-scale.json): the logits' std and the
//! entropy as a fraction of log(seq_len), means over blocks and heads, one
//! line per variant, ±1 std over repeats.

use super::data::{Ctx, Series, lines};
use super::layers::push_marker_keys;
use super::layout::{Key, LEGEND_W, frame, legend, notes};
use super::lines::{Drawn, Panel, draw_panel, fit_y};
use super::scale::Axis;
use super::sweep::{sweep_axis, sweep_series, sweep_styles};
use super::{Area, DrawError, Job};
use crate::results::RunResult;

/// The figure, for one numeric sweep over runs with attention records.
pub(super) fn jobs<'a>(ctx: &'a Ctx<'a>) -> Vec<Job<'a>> {
    let sweeps = ctx.numeric_sweeps();
    let [p] = sweeps.as_slice() else {
        return Vec::new();
    };
    let with = |r: &RunResult| r.blocks.iter().any(|b| b.attn_entropy.is_some());
    if !ctx.doc.runs.iter().any(with) {
        return Vec::new();
    }
    let key = p.key.clone();
    vec![Job::new(
        "attention_sweep.png",
        &format!("Attention at init against {key}"),
        "Left: the std of the attention logits scale·q·k (mean over blocks); right: the attention entropy as a fraction of log(seq_len) (mean over blocks and heads). Under 1/sqrt(d_head) independent q and k keep the logits' std near constant in width; under 1/d_head it falls like 1/sqrt(d_head) and attention drifts to uniform (fraction near 1); near 0 is collapse (one key takes all).",
        (1900, 900),
        move |root| draw(ctx, root, &key),
    )]
}

/// The mean over blocks of the logits' std (NaN without attention).
fn logits_std(r: &RunResult) -> f64 {
    mean(r.blocks.iter().filter_map(|b| b.attn_logits_std))
}

/// The mean over blocks and heads of entropy / log(seq_len).
fn entropy_fraction(r: &RunResult) -> f64 {
    mean(r.blocks.iter().flat_map(|b| {
        let max = b.attn_entropy_max.unwrap_or(f64::NAN);
        b.attn_entropy.iter().flatten().map(move |e| e / max)
    }))
}

fn mean(v: impl Iterator<Item = f64>) -> f64 {
    let (n, sum) = v.fold((0usize, 0.0), |(n, s), x| (n + 1, s + x));
    if n == 0 { f64::NAN } else { sum / n as f64 }
}

fn draw(ctx: &Ctx, root: &Area, key: &str) -> Result<(), DrawError> {
    let title = format!("Attention at init against {key}");
    let f = frame(root, &title, &ctx.subtitle, LEGEND_W)?;
    let groups = lines(ctx, &[key]);
    let styles = sweep_styles(&groups);
    let (x, x_desc) = sweep_axis(ctx, key);
    let mut drawn = Drawn::default();
    let panels = f.body.split_evenly((1, 2));
    type Stat = (&'static str, &'static str, fn(&RunResult) -> f64, bool);
    let specs: [Stat; 2] = [
        ("attention logits' std", "std (log scale)", logits_std, true),
        (
            "attention entropy / log(seq_len)",
            "fraction of uniform",
            entropy_fraction,
            false,
        ),
    ];
    let mut repeats = false;
    for ((name, y_desc, value, log), area) in specs.into_iter().zip(&panels) {
        let series: Vec<Series> = (groups.iter().zip(&styles))
            .map(|((_, runs), style)| sweep_series(style.clone(), runs, key, value))
            .collect();
        repeats |= series.iter().any(|s| !s.band.is_empty());
        let y = if log {
            fit_y(&series, true, &[])
        } else {
            Axis::linear_fit([0.0, 1.0], 6)
        };
        let panel = Panel {
            title: name.into(),
            x_desc: x_desc.clone(),
            y_desc: y_desc.into(),
            x: x.clone(),
            y,
            series: &series,
            reference: (!log).then_some(1.0),
            shade: None,
        };
        drawn.add(draw_panel(area, &panel)?);
    }
    let mut keys = vec![Key::Heading("line".into())];
    keys.extend(styles.into_iter().map(Key::Series));
    keys.push(Key::Heading(String::new()));
    keys.push(Key::Reference("uniform attention: 1".into()));
    if repeats {
        keys.push(Key::Band("±1 std over repeats".into()));
    }
    push_marker_keys(&mut keys, drawn);
    legend(&f.legend, &keys, 12)?;
    notes(&f.footer, &drawn.notes(), &[])
}
