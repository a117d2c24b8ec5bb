//! Per-block figures of residual stacks: the stream's std and |mean| with
//! the variance recursion dashed, the branch-to-stream ratio, gradient norms
//! per parameter group (seed 001's gradient-flow panels), and the
//! with/without-norm comparison.

use super::data::{Coloring, Ctx, Series, aggregate};
use super::layers::{arm_legend, push_marker_keys};
use super::layout::{Key, LEGEND_W, frame, notes};
use super::lines::{Drawn, Panel, draw_panel, fit_y};
use super::scale::Axis;
use super::style::SeriesStyle;
use super::{Area, DrawError, Job};
use crate::results::{BlockPrediction, RunResult};
use crate::stats::{branch_ratios, group_grad_norm};

/// One number of block `i` of a run (`None`: not recorded).
type BlockMetric = fn(&RunResult, usize) -> Option<f64>;
/// A per-block prediction.
type BlockTheory = fn(&BlockPrediction) -> &Vec<f64>;

/// One panel of a per-block figure.
struct Spec {
    title: &'static str,
    y_desc: &'static str,
    metric: BlockMetric,
    theory: Option<BlockTheory>,
    reference: Option<f64>,
}

/// The per-block figures that apply to `ctx`.
pub(super) fn jobs<'a>(ctx: &'a Ctx<'a>) -> Vec<Job<'a>> {
    if !ctx.doc.runs.iter().any(|r| !r.blocks.is_empty()) {
        return Vec::new();
    }
    let h = match ctx.coloring {
        Coloring::Categorical => (ctx.arms.len() as u32 * 30 + 360).clamp(900, 1500),
        Coloring::Continuous { .. } => 900,
    };
    let repeats = if ctx.has_repeats() {
        " Lines are means over repeats; shaded: ±1 std."
    } else {
        ""
    };
    let mut out = vec![
        Job::new(
            "stream_std.png",
            "Residual stream per block",
            &format!(
                "The stream after each block. Without a norm it compounds block by block; pre-norm adds a near-constant variance per block (growth linear in depth); post-norm holds it at 1. Dashed: the variance recursion.{repeats}"
            ),
            (1900, h),
            move |root| {
                figure(
                    ctx,
                    root,
                    "Residual stream per block",
                    &[STREAM_STD, STREAM_MEAN],
                )
            },
        ),
        Job::new(
            "branch_ratio.png",
            "Branch-to-stream ratio per block",
            &format!(
                "‖a·FF(·)‖/‖x‖: how much each block's branch changes the stream it is added to. Above the grey line at 1 the branch dominates the skip; far below 1, blocks barely act (a small residual scale or zero-init).{repeats}"
            ),
            (1900, h),
            move |root| {
                figure(
                    ctx,
                    root,
                    "Branch-to-stream ratio per block",
                    &[RATIO, BRANCH_STD],
                )
            },
        ),
    ];
    let with_norm = ctx.doc.runs.iter().any(|r| has_group(r, "ff_norm"));
    out.push(Job::new(
        "block_grad_flow.png",
        "Gradient flow per block",
        &format!("Gradient norms per parameter group of every block (√Σ‖grad‖² over its tensors, as seed 001's panels) and of the stream. Flat is healthy; a slope of decades towards block 0 means vanishing gradients at the early blocks.{repeats}"),
        (1900, if with_norm { h.max(1400) } else { h }),
        move |root| {
            let specs: &[Spec] = if with_norm { &[GRAD_FC1, GRAD_FC2, GRAD_NORM, GRAD_STREAM] } else { &[GRAD_FC1, GRAD_FC2, GRAD_STREAM] };
            figure(ctx, root, "Gradient flow per block", specs)
        },
    ));
    if ctx.doc.runs.iter().any(has_attention) {
        out.push(Job::new(
            "attention_blocks.png",
            "Attention per block",
            &format!("Per block: the softmax entropy (mean over heads and queries; grey: log(seq_len), uniform attention; near 0: one key takes all), the std of the logits scale·q·k, and the attention vs feed-forward modules' gradient norms (√Σ‖grad‖² over in_proj and out_proj, over fc1 and fc2: seed 001's two panels).{repeats}"),
            (1900, h.max(1400)),
            move |root| figure(ctx, root, "Attention per block", &[ATTN_ENTROPY, ATTN_LOGITS, GRAD_ATTN, GRAD_FF]),
        ));
        out.push(super::attention::entropy_job(ctx));
    }
    if let Some(split) = NormSplit::detect(ctx) {
        out.push(Job::new(
            "norm_comparison.png",
            "With and without normalization",
            "The same arms with and without a norm, on one y axis: the norm holds the stream (left vs right) whatever the init scale (seed 004's \"LayerNorm makes the network less sensitive to the scale of initialization\").",
            (1900, h),
            move |root| split.draw(ctx, root),
        ));
    }
    out
}

fn has_attention(run: &RunResult) -> bool {
    run.blocks.iter().any(|b| b.attn_entropy.is_some())
}

const ATTN_ENTROPY: Spec = Spec {
    title: "attention entropy (nats, mean over heads)",
    y_desc: "entropy, nats (log scale)",
    metric: |r, i| {
        let e = r.blocks.get(i)?.attn_entropy.as_ref()?;
        (!e.is_empty()).then(|| e.iter().sum::<f64>() / e.len() as f64)
    },
    theory: None,
    reference: None,
};

const ATTN_LOGITS: Spec = Spec {
    title: "std of the attention logits scale·q·k",
    y_desc: "logits std (log scale)",
    metric: |r, i| r.blocks.get(i)?.attn_logits_std,
    theory: None,
    reference: Some(1.0),
};

const GRAD_ATTN: Spec = Spec {
    title: "attention ‖grad‖ (in_proj, out_proj)",
    y_desc: "gradient norm (log scale)",
    metric: |r, i| r.blocks.get(i)?.attn_grad_norm,
    theory: None,
    reference: None,
};

const GRAD_FF: Spec = Spec {
    title: "feed-forward ‖grad‖ (fc1, fc2)",
    y_desc: "gradient norm (log scale)",
    metric: |r, i| r.blocks.get(i)?.ff_grad_norm,
    theory: None,
    reference: None,
};

fn has_group(run: &RunResult, part: &str) -> bool {
    run.tensors.iter().any(|t| t.name.contains(part))
}

const STREAM_STD: Spec = Spec {
    title: "std of the stream after each block",
    y_desc: "stream std (log scale)",
    metric: |r, i| r.blocks.get(i).map(|b| b.stream.std),
    theory: Some(|p| &p.stream_std),
    reference: Some(1.0),
};

const STREAM_MEAN: Spec = Spec {
    title: "|mean| of the stream (mean drift)",
    y_desc: "|stream mean| (log scale)",
    metric: |r, i| r.blocks.get(i).map(|b| b.stream.mean.abs()),
    theory: None,
    reference: None,
};

const RATIO: Spec = Spec {
    title: "‖a·FF(·)‖ / ‖x‖ (branch over the stream it joins)",
    y_desc: "ratio (log scale)",
    metric: |r, i| {
        branch_ratios(r.stream_in.as_ref(), &r.blocks)
            .get(i)
            .copied()
    },
    theory: None,
    reference: Some(1.0),
};

const BRANCH_STD: Spec = Spec {
    title: "std of a·FF(·), the branch as added",
    y_desc: "branch std (log scale)",
    metric: |r, i| r.blocks.get(i).map(|b| b.ff_branch.std),
    theory: Some(|p| &p.branch_std),
    reference: None,
};

const GRAD_FC1: Spec = Spec {
    title: "fc1 ‖grad‖ (weight and bias)",
    y_desc: "gradient norm (log scale)",
    metric: |r, i| group_grad_norm(&r.tensors, i, "fc1."),
    theory: None,
    reference: None,
};

const GRAD_FC2: Spec = Spec {
    title: "fc2 ‖grad‖ (weight and bias)",
    y_desc: "gradient norm (log scale)",
    metric: |r, i| group_grad_norm(&r.tensors, i, "fc2."),
    theory: None,
    reference: None,
};

const GRAD_NORM: Spec = Spec {
    title: "ff_norm ‖grad‖ (weight and bias)",
    y_desc: "gradient norm (log scale)",
    metric: |r, i| group_grad_norm(&r.tensors, i, "ff_norm."),
    theory: None,
    reference: None,
};

const GRAD_STREAM: Spec = Spec {
    title: "stream gradient ‖dL/dx‖ after each block",
    y_desc: "‖dL/dx‖ (log scale)",
    metric: |r, i| r.blocks.get(i).map(|b| b.grad_stream.norm),
    theory: None,
    reference: None,
};

/// The per-block series of `metric` over `runs` (repeats aggregated on a
/// log axis).
fn block_series(style: SeriesStyle, runs: &[&RunResult], spec: &Spec, theory: bool) -> Series {
    let blocks = runs.iter().map(|r| r.blocks.len()).max().unwrap_or(0);
    let mut s = Series {
        style,
        points: Vec::new(),
        band: Vec::new(),
        theory: Vec::new(),
    };
    for i in 0..blocks {
        let vals: Vec<f64> = runs.iter().filter_map(|r| (spec.metric)(r, i)).collect();
        if vals.is_empty() {
            continue;
        }
        let (c, band) = aggregate(&vals, true);
        s.points.push((i as f64, c));
        if let Some((lo, hi)) = band {
            s.band.push((i as f64, lo, hi));
        }
    }
    let prediction = runs.iter().find_map(|r| r.block_theory.as_ref());
    if let (true, Some(pick), Some(p)) = (theory, spec.theory, prediction) {
        s.theory = pick(p)
            .iter()
            .enumerate()
            .map(|(i, v)| (i as f64, *v))
            .filter(|(_, v)| v.is_finite() && *v > 0.0)
            .collect();
    }
    s
}

/// The largest block index of any run.
fn max_block(runs: &[&RunResult]) -> usize {
    runs.iter()
        .map(|r| r.blocks.len())
        .max()
        .unwrap_or(1)
        .saturating_sub(1)
}

/// Every arm's series of one spec (theory only with a legend per arm: a
/// coloured sweep's dozens of dashed lines only add noise).
fn arm_series(ctx: &Ctx, spec: &Spec) -> Vec<Series> {
    let theory = matches!(ctx.coloring, Coloring::Categorical);
    ctx.arms
        .iter()
        .map(|arm| block_series(arm.style.clone(), &arm.runs, spec, theory))
        .collect()
}

/// A figure of side-by-side per-block panels with one legend.
fn figure(ctx: &Ctx, root: &Area, title: &str, specs: &[Spec]) -> Result<(), DrawError> {
    let f = frame(root, title, &ctx.subtitle, LEGEND_W)?;
    // Four panels read best as seed 001's 2 × 2 grid.
    let grid = if specs.len() == 4 {
        (2, 2)
    } else {
        (1, specs.len())
    };
    let panels = f.body.split_evenly(grid);
    let runs: Vec<&RunResult> = ctx.doc.runs.iter().collect();
    let x = Axis::layers(0, max_block(&runs));
    let mut bad = Drawn::default();
    for (spec, area) in specs.iter().zip(&panels) {
        let series = arm_series(ctx, spec);
        let extra: Vec<f64> = spec.reference.into_iter().collect();
        let panel = Panel {
            title: spec.title.into(),
            x_desc: "block".into(),
            y_desc: spec.y_desc.into(),
            x: x.clone(),
            y: fit_y(&series, true, &extra),
            series: &series,
            reference: spec.reference,
            shade: None,
        };
        bad.add(draw_panel(area, &panel)?);
    }
    finish(ctx, &f, bad, specs.iter().any(|s| s.reference == Some(1.0)))
}

/// The legend (arms, theory, bands, reference, markers) and footer notes.
fn finish(
    ctx: &Ctx,
    f: &super::layout::Frame,
    bad: Drawn,
    reference: bool,
) -> Result<(), DrawError> {
    let mut extras = Vec::new();
    if bad.theory {
        extras.push(Key::Theory);
    }
    if ctx.has_repeats() {
        extras.push(Key::Band("±1 std over repeats".into()));
    }
    if reference {
        extras.push(Key::Reference("reference: 1".into()));
    }
    push_marker_keys(&mut extras, bad);
    arm_legend(ctx, &f.legend, extras)?;
    notes(&f.footer, &bad.notes(), &[])
}

/// Arms split by whether their runs have a norm, when both kinds exist.
struct NormSplit {
    /// Arm indices without a norm and with one.
    without: Vec<usize>,
    with: Vec<usize>,
}

impl NormSplit {
    fn detect(ctx: &Ctx) -> Option<NormSplit> {
        let (mut without, mut with) = (Vec::new(), Vec::new());
        for (i, arm) in ctx.arms.iter().enumerate() {
            let normed: Vec<bool> = arm
                .runs
                .iter()
                .filter(|r| !r.blocks.is_empty())
                .map(|r| has_group(r, "norm"))
                .collect();
            match normed.first() {
                Some(true) => with.push(i),
                Some(false) => without.push(i),
                None => {}
            }
        }
        (!without.is_empty() && !with.is_empty()).then_some(NormSplit { without, with })
    }

    fn draw(&self, ctx: &Ctx, root: &Area) -> Result<(), DrawError> {
        let title = "Stream std with and without normalization";
        let f = frame(root, title, &ctx.subtitle, LEGEND_W)?;
        let panels = f.body.split_evenly((1, 2));
        let all = arm_series(ctx, &STREAM_STD);
        let pick = |idx: &[usize]| -> Vec<Series> { idx.iter().map(|&i| all[i].clone()).collect() };
        let (a, b) = (pick(&self.without), pick(&self.with));
        // One y axis for both panels, so the rescue reads at a glance.
        let y = fit_y(&all, true, &[1.0]);
        let runs: Vec<&RunResult> = ctx.doc.runs.iter().collect();
        let x = Axis::layers(0, max_block(&runs));
        let mut bad = Drawn::default();
        for ((series, name), area) in [(&a, "without a norm"), (&b, "with a norm")]
            .into_iter()
            .zip(&panels)
        {
            let panel = Panel {
                title: format!("stream std, {name}"),
                x_desc: "block".into(),
                y_desc: "stream std (log scale)".into(),
                x: x.clone(),
                y: y.clone(),
                series,
                reference: Some(1.0),
                shade: None,
            };
            bad.add(draw_panel(area, &panel)?);
        }
        finish(ctx, &f, bad, true)
    }
}
