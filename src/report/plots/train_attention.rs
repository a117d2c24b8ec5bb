//! Attention during training (stacks with attention that train): each arm's
//! attention entropy and logits' std against step, means over blocks and
//! heads, with ±1 std bands over repeats.

use super::data::{Ctx, Series};
use super::layers::push_marker_keys;
use super::layout::{Key, LEGEND_W, frame, legend, notes};
use super::lines::{Drawn, Panel, draw_panel, fit_y};
use super::training::{step_axis, step_series, steps};
use super::{Area, DrawError, Job};
use crate::results::TrainStep;

/// The figure, when some run trained a stack with attention.
pub(super) fn jobs<'a>(ctx: &'a Ctx<'a>) -> Vec<Job<'a>> {
    let any = (ctx.doc.runs.iter().flat_map(steps))
        .any(|s| s.blocks.iter().any(|b| b.attn_entropy.is_some()));
    if !any {
        return Vec::new();
    }
    vec![Job::new(
        "attention_training.png",
        "Attention entropy and logits during training",
        "Left: the attention entropy (nats, mean over queries, heads and blocks) at each recorded step; uniform attention is its maximum (log of the keys a query sees), falling entropy is attention sharpening. Right: the std of the attention logits scale·q·k; growing logits are what sharpens it.",
        (1900, 800),
        move |root| figure(ctx, root),
    )]
}

/// A panel: title, y description, the value at a step, log axis.
type Quantity = (&'static str, &'static str, fn(&TrainStep) -> f64, bool);

/// The mean over blocks and heads of the attention entropy at a step.
fn entropy(s: &TrainStep) -> f64 {
    let all: Vec<f64> = (s.blocks.iter())
        .flat_map(|b| b.attn_entropy.iter().flatten().copied())
        .collect();
    mean(&all)
}

/// The mean over blocks of the logits' std at a step.
fn logits_std(s: &TrainStep) -> f64 {
    let all: Vec<f64> = s.blocks.iter().filter_map(|b| b.attn_logits_std).collect();
    mean(&all)
}

fn mean(v: &[f64]) -> f64 {
    if v.is_empty() {
        f64::NAN
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

fn figure(ctx: &Ctx, root: &Area) -> Result<(), DrawError> {
    let title = "Attention entropy and logits during training";
    let f = frame(root, title, &ctx.subtitle, LEGEND_W)?;
    let panels = f.body.split_evenly((1, 2));
    let x = step_axis(ctx);
    let mut drawn = Drawn::default();
    let what: [Quantity; 2] = [
        ("attention entropy", "entropy (nats)", entropy, false),
        ("attention logits' std", "std (log scale)", logits_std, true),
    ];
    for (area, (title, y_desc, value, log)) in panels.iter().zip(what) {
        let series: Vec<Series> = (ctx.arms.iter())
            .map(|a| step_series(a.style.clone(), &a.runs, value))
            .collect();
        let panel = Panel {
            title: format!("{title}, mean over blocks"),
            x_desc: "optimizer step".into(),
            y_desc: y_desc.into(),
            x: x.clone(),
            y: fit_y(&series, log, &[]),
            series: &series,
            reference: None,
            shade: None,
        };
        drawn.add(draw_panel(area, &panel)?);
    }
    let mut keys = vec![Key::Heading(
        if ctx.has_repeats() {
            "arm (mean of repeats)"
        } else {
            "run"
        }
        .into(),
    )];
    keys.extend(ctx.arms.iter().map(|a| Key::Series(a.style.clone())));
    if ctx.has_repeats() {
        keys.push(Key::Heading(String::new()));
        keys.push(Key::Band("±1 std over repeats".into()));
    }
    push_marker_keys(&mut keys, drawn);
    legend(&f.legend, &keys, 12)?;
    notes(&f.footer, &drawn.notes(), &[])
}
