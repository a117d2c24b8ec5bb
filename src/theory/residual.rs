//! The stream-variance recursion of a residual stack at initialization
//! (mean-field: infinite width, weights independent of the stream).
//!
//! With v_l the second moment of the stream's entries after block l and the
//! branch B(m) = ff·σ₂²·E[φ(h)²] + E[b₂²], h ~ N(E[b₁], d·σ₁²·m + Var b₁),
//! where m is the second moment of what fc1 reads:
//! * no norm:    v_{l+1} = s²·v_l + a²·B(v_l)   (multiplicative per block:
//!   B(v) ∝ v for homogeneous φ, so v grows geometrically);
//! * pre-norm:   v_{l+1} = s²·v_l + a²·B(n(v_l))  with n(v) = E[w²]·v/(v+eps)
//!   + E[b²] ≈ 1: a constant added per block, growth linear in depth;
//! * post-norm:  v_{l+1} = n(s²·v_l + a²·B(v_l)) ≈ 1.
//!
//! The skip and the branch are uncorrelated at init (zero-mean weights), so
//! their second moments add. The stream's mean is taken as 0, so its std is
//! √v. No prediction where a weight has a nonzero mean or an init has no
//! moments (files, LSUV), and none for stacks with attention.

use super::{moments, normal_expectation};
use crate::init::{Sampler, Shape};
use crate::kernels::embed::sinusoidal;
use crate::model::residual::NormPosition;
use crate::model::{Model, Op, Param};
use crate::results::BlockPrediction;

/// (mean, variance) of a parameter's entries, if its sampler has moments.
fn param_moments(p: &Param) -> Option<(f64, f64)> {
    if p.lsuv.is_some() {
        return None;
    }
    let shape = Shape {
        rows: p.rows,
        cols: p.cols,
        fan_in: p.fan_in,
        fan_out: p.fan_out,
    };
    let (m, v) = p.sampler.moments(shape)?;
    let s = p.scale.unwrap_or(1.0);
    Some((m * s, v * s * s))
}

/// The model's parameter `name`, if any.
fn find<'m>(model: &'m Model, name: &str) -> Option<&'m Param> {
    model.params.iter().find(|p| p.name == name)
}

/// E[x²] of a vector parameter (0 when absent), `None` without moments.
fn second_of(p: Option<&Param>) -> Option<f64> {
    match p {
        Some(p) => param_moments(p).map(|(m, v)| v + m * m),
        None => Some(0.0),
    }
}

/// Weight variance of a linear layer (zero-mean weights only) and its
/// bias's (mean, variance).
fn linear(model: &Model, name: &str) -> Option<(f64, (f64, f64))> {
    let (wm, wv) = param_moments(find(model, &format!("{name}.weight"))?)?;
    if wm != 0.0 {
        return None;
    }
    let b = match find(model, &format!("{name}.bias")) {
        Some(b) => param_moments(b)?,
        None => (0.0, 0.0),
    };
    Some((wv, b))
}

/// Second moment of the input's entries.
fn input_second(model: &Model) -> Option<f64> {
    let dim = model.act(model.input).cols;
    let Some(e) = &model.embedding else {
        let shape = Shape {
            rows: model.batch,
            cols: dim,
            fan_in: 1,
            fan_out: 1,
        };
        let (m, v) = model.input_sampler.moments(shape)?;
        return Some(v + m * m);
    };
    if matches!(e.table, Sampler::Values(_)) {
        return None;
    }
    let shape = Shape {
        rows: e.vocab,
        cols: dim,
        fan_in: dim,
        fan_out: e.vocab,
    };
    let (m, v) = e.table.moments(shape)?;
    let (pm, p2) = match e.positions {
        // Rows cycle through the positions: average over the table.
        Some(seq) => {
            let pe = sinusoidal(seq, dim);
            let n = pe.len().max(1) as f64;
            let mean = pe.iter().map(|&x| f64::from(x)).sum::<f64>() / n;
            let sq = pe.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / n;
            (mean, sq)
        }
        None => (0.0, 0.0),
    };
    Some(v + m * m + 2.0 * m * pm + p2)
}

/// The norm's output second moment for an input of second moment `v`.
fn norm_out(v: f64, eps: f64, w2: f64, b2: f64) -> f64 {
    w2 * v / (v + eps) + b2
}

/// Predictions for a residual stack, where the recursion applies.
pub fn of_residual(model: &Model) -> Option<BlockPrediction> {
    let res = model.residual.as_ref()?;
    // Attention's branch variance depends on how the keys' softmax spreads
    // (Σ p² per query) and on the tokens' correlations: no closed form here.
    if res.attention.is_some() {
        return None;
    }
    let eps = model.ops.iter().find_map(|op| match op {
        Op::Norm { eps, .. } => Some(f64::from(*eps)),
        _ => None,
    });
    let mut v = input_second(model)?;
    if let Some((wv, (bm, bv))) = linear(model, "input_proj") {
        v = model.act(model.input).cols as f64 * wv * v + bv + bm * bm;
    } else if find(model, "input_proj.weight").is_some() {
        return None;
    }
    let (s, a) = (res.scales.skip, res.scales.branch);
    let mut out = BlockPrediction {
        method: "mean_field".into(),
        stream_in_std: v.sqrt(),
        ..BlockPrediction::default()
    };
    for blk in &res.blocks {
        let name = |n: &str| format!("blocks.{}.{n}", blk.index);
        let (w1, (b1m, b1v)) = linear(model, &name("fc1"))?;
        let (w2, (b2m, b2v)) = linear(model, &name("fc2"))?;
        let norm = match res.norm {
            Some(_) => Some((
                second_of(find(model, &name("ff_norm.weight")))?,
                second_of(find(model, &name("ff_norm.bias")))?,
                eps?,
            )),
            None => None,
        };
        let branch = |m: f64| -> Option<f64> {
            let q = res.width as f64 * w1 * m + b1v;
            let phi2 = if q > 0.0 {
                moments(res.activation, b1m, q)?.second
            } else {
                normal_expectation(|x| res.activation.forward(x).powi(2), b1m, 0.0)
            };
            Some(res.ff_width as f64 * w2 * phi2 + b2v + b2m * b2m)
        };
        let (next, bsec) = match (norm, res.position) {
            (None, _) => {
                let b = branch(v)?;
                (s * s * v + a * a * b, b)
            }
            (Some((w2n, b2n, eps)), NormPosition::Pre) => {
                let b = branch(norm_out(v, eps, w2n, b2n))?;
                (s * s * v + a * a * b, b)
            }
            (Some((w2n, b2n, eps)), NormPosition::Post) => {
                let b = branch(v)?;
                (norm_out(s * s * v + a * a * b, eps, w2n, b2n), b)
            }
        };
        v = next;
        out.stream_std.push(v.sqrt());
        out.branch_std.push(a.abs() * bsec.sqrt());
    }
    let finite = out
        .stream_std
        .iter()
        .chain(&out.branch_std)
        .all(|x| x.is_finite());
    finite.then_some(out)
}
