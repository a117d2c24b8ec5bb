//! Per-layer line figures: activation std and mean, gradient flow, dead and
//! saturated fractions, and the activation × init panel grid.

use super::data::{
    Coloring, Ctx, Metric, Series, TheoryPick, layer_series, max_layer, theory_series,
};
use super::layout::{Key, LEGEND_W, colorbar, frame, legend, notes};
use super::lines::{Drawn, Panel, draw_panel, fit_y};
use super::scale::Axis;
use super::style::{Dash, Marker, SeriesStyle, viridis};
use super::{Area, DrawError, Job};
use crate::results::RunResult;

/// Theory points for a set of runs (`None`: this panel has no theory).
type TheoryFn = fn(&[&RunResult]) -> Vec<(f64, f64)>;

/// One panel of a per-layer figure.
struct Spec {
    title: &'static str,
    y_desc: &'static str,
    metric: Metric,
    log: bool,
    theory: Option<TheoryFn>,
    reference: Option<f64>,
    /// A fixed 0–100% y axis; otherwise fitted to the data.
    percent: bool,
}

/// The per-layer figures that apply to `ctx`.
pub(super) fn jobs<'a>(ctx: &'a Ctx<'a>) -> Vec<Job<'a>> {
    let any_layers = ctx.doc.runs.iter().any(|r| !r.layers.is_empty());
    if !any_layers {
        return Vec::new();
    }
    let repeats = if ctx.has_repeats() {
        " Lines are means over repeats; shaded: ±1 std."
    } else {
        ""
    };
    let theory = match ctx.coloring {
        Coloring::Categorical if ctx.doc.runs.iter().any(|r| r.theory.is_some()) => {
            " Dashed: theory."
        }
        _ => "",
    };
    // Room in the legend column for every arm (up to a point).
    let h = match ctx.coloring {
        Coloring::Categorical => (ctx.arms.len() as u32 * 30 + 360).clamp(900, 1500),
        Coloring::Continuous { .. } => 900,
    };
    let mut out = vec![
        Job::new(
            "act_std.png",
            "Activation std per layer",
            &format!(
                "A healthy stack stays near the grey line at 1 at every depth; lines falling or climbing by decades mean vanishing or exploding signal.{theory}{repeats}"
            ),
            (1600, h),
            move |root| figure(ctx, root, "Activation std per layer", &[ACT_STD]),
        ),
        Job::new(
            "act_mean.png",
            "|Activation mean| per layer",
            &format!(
                "Mean drift: a |mean| that grows with depth (e.g. ReLU without centring) shifts every later layer; small and flat is healthy.{repeats}"
            ),
            (1600, h),
            move |root| figure(ctx, root, "|Activation mean| per layer", &[ACT_MEAN]),
        ),
        Job::new(
            "grad_flow.png",
            "Gradient flow per layer",
            &format!(
                "Both norms should be roughly flat across layers; a slope of decades from the last layer back to the first means vanishing (or exploding) gradients.{repeats}"
            ),
            (1900, h),
            move |root| figure(ctx, root, "Gradient flow per layer", &[GRAD_W, GRAD_ACT]),
        ),
    ];
    let fractions = ctx
        .doc
        .runs
        .iter()
        .flat_map(|r| &r.layers)
        .any(|l| l.act.zero_fraction.is_some() || l.act.saturated_fraction.is_some());
    if fractions {
        out.push(Job::new(
            "dead_saturated.png",
            "Dead and saturated units per layer",
            "Share of activations exactly 0 (dead ReLUs) and beyond the saturation threshold (flat tanh/sigmoid); either above ~50% starves the gradient.",
            (1900, h),
            move |root| figure(ctx, root, "Dead and saturated activations per layer", &[DEAD, SATURATED]),
        ));
    }
    out
}

/// Activation std, shared with the activation × init panels.
pub(super) const ACT_STD_METRIC: Metric = |l| Some(l.act.std);

const ACT_STD: Spec = Spec {
    title: "std of each layer's output",
    y_desc: "activation std (log scale)",
    metric: ACT_STD_METRIC,
    log: true,
    theory: Some(|runs| theory_series(runs, (|p| &p.act_std) as TheoryPick, 1.0)),
    reference: Some(1.0),
    percent: false,
};

const ACT_MEAN: Spec = Spec {
    title: "|mean| of each layer's output",
    y_desc: "|activation mean| (log scale)",
    metric: |l| Some(l.act.mean.abs()),
    log: true,
    theory: Some(|runs| theory_series(runs, (|p| &p.act_mean_abs) as TheoryPick, 1.0)),
    reference: None,
    percent: false,
};

const GRAD_W: Spec = Spec {
    title: "weight gradient ‖dL/dW‖_F",
    y_desc: "‖dW‖_F (log scale)",
    metric: |l| Some(l.grad_weight.norm),
    log: true,
    theory: None,
    reference: None,
    percent: false,
};

const GRAD_ACT: Spec = Spec {
    title: "activation gradient ‖dL/da‖",
    y_desc: "‖dL/da‖ (log scale)",
    metric: |l| Some(l.grad_act.norm),
    log: true,
    theory: Some(grad_act_theory),
    reference: None,
    percent: false,
};

const DEAD: Spec = Spec {
    title: "dead: activations exactly 0",
    y_desc: "% of activations",
    metric: |l| l.act.zero_fraction.map(|f| 100.0 * f),
    log: false,
    theory: None,
    reference: None,
    percent: true,
};

const SATURATED: Spec = Spec {
    title: "saturated: |a| above the threshold",
    y_desc: "% of activations",
    metric: |l| l.act.saturated_fraction.map(|f| 100.0 * f),
    log: false,
    theory: None,
    reference: None,
    percent: true,
};

/// The prediction is relative to the last layer, so it is anchored at the
/// measured last-layer norm of the first run.
fn grad_act_theory(runs: &[&RunResult]) -> Vec<(f64, f64)> {
    let Some(run) = runs.iter().find(|r| r.theory.is_some()) else {
        return Vec::new();
    };
    let Some(last) = run.layers.last().map(|l| l.grad_act.norm) else {
        return Vec::new();
    };
    if !(last.is_finite() && last > 0.0) {
        return Vec::new();
    }
    theory_series(&[*run], |p| &p.grad_act_norm_rel, last)
}

/// The y axis of a spec: fixed (with ticks) or fitted.
fn y_axis(spec: &Spec, series: &[Series]) -> Axis {
    if spec.percent {
        Axis::percent()
    } else {
        fit_y(
            series,
            spec.log,
            &spec.reference.into_iter().collect::<Vec<_>>(),
        )
    }
}

/// A figure of one or more side-by-side per-layer panels with one legend.
fn figure(ctx: &Ctx, root: &Area, title: &str, specs: &[Spec]) -> Result<(), DrawError> {
    let f = frame(root, title, &ctx.subtitle, LEGEND_W)?;
    let panels = f.body.split_evenly((1, specs.len()));
    let runs: Vec<&RunResult> = ctx
        .arms
        .iter()
        .flat_map(|a| a.runs.iter().copied())
        .collect();
    let x = Axis::layers(0, max_layer(&runs));
    let mut bad = Drawn::default();
    for (spec, area) in specs.iter().zip(&panels) {
        let series: Vec<Series> = ctx
            .arms
            .iter()
            .map(|arm| {
                let mut s = layer_series(arm.style.clone(), &arm.runs, spec.metric, spec.log);
                // Dozens of dashed predictions (a coloured sweep) only add noise.
                if let (Some(t), Coloring::Categorical) = (spec.theory, &ctx.coloring) {
                    s.theory = t(&arm.runs);
                }
                s
            })
            .collect();
        let panel = Panel {
            title: spec.title.into(),
            x_desc: "layer".into(),
            y_desc: spec.y_desc.into(),
            x: x.clone(),
            y: y_axis(spec, &series),
            series: &series,
            reference: spec.reference,
            shade: None,
        };
        bad.add(draw_panel(area, &panel)?);
    }
    let mut extras = Vec::new();
    if bad.theory {
        extras.push(Key::Theory);
    }
    if ctx.has_repeats() {
        extras.push(Key::Band("±1 std over repeats".into()));
    }
    if specs.iter().any(|s| s.reference == Some(1.0)) {
        extras.push(Key::Reference("reference: 1".into()));
    }
    push_marker_keys(&mut extras, bad);
    arm_legend(ctx, &f.legend, extras)?;
    notes(&f.footer, &bad.notes(), &[])
}

pub(super) fn push_marker_keys(extras: &mut Vec<Key>, bad: Drawn) {
    if bad.below > 0 {
        extras.push(Key::Below);
    }
    if bad.nonfinite > 0 {
        extras.push(Key::NonFinite);
    }
}

/// The legend of the arms: one entry each, or a colour bar for a sweep
/// coloured by its parameter; then the `extras`.
pub(super) fn arm_legend(ctx: &Ctx, area: &Area, extras: Vec<Key>) -> Result<(), DrawError> {
    match &ctx.coloring {
        Coloring::Categorical => {
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
            keys.extend(extras);
            legend(area, &keys, 12)
        }
        Coloring::Continuous {
            key,
            axis,
            variants,
        } => {
            let (_, h) = area.dim_in_pixel();
            let (top, bottom) = area.split_vertically((h as f64 * 0.55) as u32);
            colorbar(
                &top,
                &format!("colour: {key}"),
                axis,
                &|t| viridis(t * 0.9),
                None,
            )?;
            let mut keys = Vec::new();
            if variants.len() > 1 {
                keys.push(Key::Heading("variant".into()));
                for (i, v) in variants.iter().enumerate() {
                    let label = if v.is_empty() {
                        "(none)".to_string()
                    } else {
                        v.clone()
                    };
                    let dash = [Dash::Solid, Dash::Dashed, Dash::Dotted][i % 3];
                    keys.push(Key::Series(SeriesStyle {
                        label,
                        color: super::style::INK,
                        dash,
                        marker: Marker::None,
                    }));
                }
            }
            keys.extend(extras);
            legend(&bottom, &keys, 10)
        }
    }
}
