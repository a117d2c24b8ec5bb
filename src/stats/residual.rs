//! The summary and diagnosis of a residual stack: stream growth with depth,
//! branches dominating the stream, vanishing or exploding gradients at the
//! early blocks (seed 001 section 4's questions).

use crate::config::Diagnosis;
use crate::results::{BlockRecord, RunSummary, TensorRecord, TensorStats};

/// The stream growing (or shrinking) by more than this factor over the
/// blocks is reported.
pub const STREAM_GROWTH: f64 = 10.0;
/// A branch whose norm exceeds the stream's it is added to dominates it.
pub const BRANCH_DOMINATES: f64 = 1.0;
/// Branches below this fraction of the stream at every block barely act:
/// the stack starts near the identity.
pub const BRANCH_NEGLIGIBLE: f64 = 1e-2;
/// Block 0's gradient norm below this fraction of the last block's (or
/// above its inverse) is reported.
pub const EARLY_GRAD_RATIO: f64 = 1e-2;

/// Attention whose mean entropy is below this fraction of log(seq_len) has
/// collapsed: one key takes (nearly) all the weight.
pub const ENTROPY_COLLAPSE: f64 = 0.1;
/// Every head above this fraction of log(seq_len): attention is uniform.
pub const ENTROPY_UNIFORM: f64 = 0.98;
/// Attention logits with a std above this saturate the softmax.
pub const LOGITS_EXPLODING: f64 = 5.0;

/// ‖a·FF‖ / ‖x‖ per block, x the stream entering the block.
pub fn branch_ratios(stream_in: Option<&TensorStats>, blocks: &[BlockRecord]) -> Vec<f64> {
    let mut prev = stream_in.map(|s| s.norm);
    blocks
        .iter()
        .map(|b| {
            let r = prev.map_or(f64::NAN, |x| b.ff_branch.norm / x);
            prev = Some(b.stream.norm);
            r
        })
        .collect()
}

/// The gradient norm of every parameter of block `i` whose key continues
/// with `part` (e.g. `fc1`, or "" for the whole block), as √Σ‖grad‖²
/// (seed 001 sums squares per module).
pub fn group_grad_norm(tensors: &[TensorRecord], i: usize, part: &str) -> Option<f64> {
    let prefix = format!("blocks.{i}.{part}");
    let sq: Vec<f64> = tensors
        .iter()
        .filter(|t| t.name.starts_with(&prefix))
        .map(|t| t.grad.norm * t.grad.norm)
        .collect();
    (!sq.is_empty()).then(|| sq.iter().sum::<f64>().sqrt())
}

/// What a residual run's summary is made of.
pub struct ResidualRun<'a> {
    pub blocks: &'a [BlockRecord],
    pub tensors: &'a [TensorRecord],
    pub stream_in: Option<&'a TensorStats>,
    pub input: &'a TensorStats,
    /// The network's output.
    pub output: Option<&'a TensorStats>,
    pub loss: f64,
}

/// Summary and diagnosis of one residual run.
pub fn summarize_residual(r: &ResidualRun<'_>, d: &Diagnosis) -> RunSummary {
    let grads: Vec<f64> = (0..r.blocks.len())
        .map(|i| group_grad_norm(r.tensors, i, "").unwrap_or(0.0))
        .collect();
    let mean_grad_norm = grads.iter().sum::<f64>() / grads.len().max(1) as f64;
    let (lo, hi) = grads
        .iter()
        .fold((f64::INFINITY, 0.0f64), |(a, b), &x| (a.min(x), b.max(x)));
    let records = r
        .blocks
        .iter()
        .flat_map(|b| [&b.stream, &b.grad_stream, &b.ff_branch]);
    let all = records.chain(r.tensors.iter().flat_map(|t| [&t.value, &t.grad]));
    let (nan, inf) = all.fold((0, 0), |(a, b), s| (a + s.nan_count, b + s.inf_count));
    let final_act_std = r.output.map_or(0.0, |o| o.std);
    let mut diagnosis = Vec::new();
    if nan + inf > 0 {
        // The statistics leave NaN/Inf out: conclusions from what is left
        // (an output std of 0, say) would be wrong.
        diagnosis.push(format!("NaN/Inf values ({nan} NaN, {inf} Inf)"));
        diagnosis.push(
            "cannot judge output scale, stream, gradients (the statistics leave out the NaN/Inf values)"
                .into(),
        );
    } else if final_act_std < d.vanishing_act_std {
        let v = d.vanishing_act_std;
        diagnosis.push(format!("vanishing output (std {final_act_std:.2e} < {v})"));
    } else if final_act_std > d.exploding_act_std {
        let v = d.exploding_act_std;
        diagnosis.push(format!("exploding output (std {final_act_std:.2e} > {v})"));
    }
    if nan + inf == 0 {
        diagnose_stream(r, &mut diagnosis);
        diagnose_grads(&grads, mean_grad_norm, d, &mut diagnosis);
        diagnose_attention(r.blocks, &mut diagnosis);
    }
    let grad_norm_ratio = match (grads.is_empty(), lo > 0.0) {
        (true, _) => 1.0,
        (false, true) => hi / lo,
        (false, false) => f64::INFINITY,
    };
    RunSummary {
        loss: r.loss,
        input_std: r.input.std,
        final_act_std,
        mean_grad_norm,
        grad_norm_ratio,
        max_dead_fraction: 0.0,
        max_dead_unit_fraction: None,
        max_saturated_fraction: 0.0,
        nan_count: nan,
        inf_count: inf,
        diagnosis,
    }
}

/// Attention at init: entropy collapse (one key takes all), uniform
/// attention (every head near log(seq_len)), exploding logits.
pub fn diagnose_attention(blocks: &[BlockRecord], out: &mut Vec<String>) {
    let heads: Vec<(usize, usize, f64, f64)> = (blocks.iter())
        .filter_map(|b| Some((b.index, b.attn_entropy.as_ref()?, b.attn_entropy_max?)))
        .flat_map(|(i, e, max)| e.iter().enumerate().map(move |(h, v)| (i, h, *v, max)))
        .collect();
    let Some(&(_, _, _, max)) = heads.first() else {
        return;
    };
    let low = (heads.iter()).min_by(|a, b| a.2.total_cmp(&b.2));
    if let Some(&(i, h, v, _)) = low.filter(|l| max > 0.0 && l.2 < ENTROPY_COLLAPSE * max) {
        let n = heads
            .iter()
            .filter(|x| x.2 < ENTROPY_COLLAPSE * max)
            .count();
        out.push(format!(
            "attention entropy collapse: {n} of {} heads below {:.0}% of log(seq_len) = {max:.2} nats (block {i} head {h}: {v:.2e}); one key takes nearly all the weight",
            heads.len(),
            100.0 * ENTROPY_COLLAPSE
        ));
    } else if max > 0.0 && heads.iter().all(|x| x.2 >= ENTROPY_UNIFORM * max) {
        out.push(format!(
            "uniform attention: every head's entropy is within {:.0}% of log(seq_len) = {max:.2} nats; each query averages its whole sequence",
            100.0 * (1.0 - ENTROPY_UNIFORM)
        ));
    }
    let logits = (blocks.iter())
        .filter_map(|b| Some((b.index, b.attn_logits_std?)))
        .max_by(|a, b| a.1.total_cmp(&b.1));
    if let Some((i, s)) = logits.filter(|l| l.1 > LOGITS_EXPLODING) {
        out.push(format!(
            "attention logits exploding (std {s:.2} > {LOGITS_EXPLODING} at block {i}): the softmax saturates; under 1/sqrt(d_head) this grows with width once q and k align, 1/d_head (muP) holds it"
        ));
    }
}

/// Stream growth over the blocks and branches dominating the stream.
fn diagnose_stream(r: &ResidualRun<'_>, out: &mut Vec<String>) {
    let (Some(first), Some(last)) = (r.stream_in, r.blocks.last()) else {
        return;
    };
    let (a, b) = (first.std, last.stream.std);
    let growth = b / a;
    let n = r.blocks.len();
    if growth > STREAM_GROWTH {
        let g = factor(growth);
        out.push(format!(
            "stream grows ×{g} over {n} blocks (std {a:.2e} → {b:.2e})"
        ));
    } else if growth < 1.0 / STREAM_GROWTH {
        let g = factor(growth);
        out.push(format!(
            "stream shrinks ×{g} over {n} blocks (std {a:.2e} → {b:.2e})"
        ));
    }
    let ratios = branch_ratios(r.stream_in, r.blocks);
    let worst = ratios
        .iter()
        .enumerate()
        .filter(|(_, x)| x.is_finite())
        .max_by(|x, y| x.1.total_cmp(y.1));
    match worst {
        Some((i, &x)) if x > BRANCH_DOMINATES => out.push(format!(
            "branches dominate the stream (‖a·FF‖/‖x‖ = {} at block {i})",
            factor(x)
        )),
        Some((_, &x)) if x < BRANCH_NEGLIGIBLE => out.push(format!(
            "branches negligible (‖a·FF‖/‖x‖ ≤ {} at every block): the blocks start near the identity",
            factor(x)
        )),
        _ => {}
    }
}

/// A ratio for a message: 12.3, or 3.0e20 beyond the readable range.
fn factor(x: f64) -> String {
    if (1e-2..1e4).contains(&x.abs()) {
        format!("{x:.2}")
    } else {
        format!("{x:.1e}")
    }
}

/// Vanishing or exploding gradients overall and at the early blocks.
fn diagnose_grads(grads: &[f64], mean: f64, d: &Diagnosis, out: &mut Vec<String>) {
    if mean < d.vanishing_grad_norm {
        let v = d.vanishing_grad_norm;
        out.push(format!(
            "vanishing gradients (mean block ‖grad‖ {mean:.2e} < {v:e})"
        ));
    } else if mean > d.exploding_grad_norm {
        let v = d.exploding_grad_norm;
        out.push(format!(
            "exploding gradients (mean block ‖grad‖ {mean:.2e} > {v})"
        ));
    }
    let (Some(&g0), Some(&gl)) = (grads.first(), grads.last()) else {
        return;
    };
    if grads.len() < 2 || gl.is_nan() || gl <= 0.0 {
        return;
    }
    let (ratio, last) = (g0 / gl, grads.len() - 1);
    if ratio < EARLY_GRAD_RATIO {
        out.push(format!(
            "vanishing gradients at early blocks (block 0's ‖grad‖ is {ratio:.1e}× block {last}'s)"
        ));
    } else if ratio > 1.0 / EARLY_GRAD_RATIO {
        out.push(format!(
            "exploding gradients at early blocks (block 0's ‖grad‖ is {ratio:.1e}× block {last}'s)"
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The diagnosis thresholds' table defaults.
    fn defaults() -> crate::config::Diagnosis {
        let c: crate::config::RunConfig = serde_json::from_value(serde_json::json!({
            "network": {"input_dim": 1, "width": 1, "depth": 1}, "input": {"batch": 1}
        }))
        .expect("defaults");
        c.stats.diagnosis
    }

    fn stats(std: f64, norm: f64) -> TensorStats {
        TensorStats {
            count: 100,
            std,
            norm,
            ..TensorStats::default()
        }
    }

    fn grad(name: &str, norm: f64) -> TensorRecord {
        TensorRecord {
            name: name.into(),
            shape: vec![4, 4],
            value: stats(1.0, 1.0),
            grad: stats(1.0, norm),
        }
    }

    #[test]
    fn growth_dominating_branches_and_early_gradients_are_reported() {
        let blocks: Vec<BlockRecord> = (0..3)
            .map(|i| BlockRecord {
                index: i,
                stream: stats(4.0 * (i + 1) as f64, 40.0 * (i + 1) as f64),
                grad_stream: stats(1.0, 1.0),
                ff_branch: stats(1.0, [20.0, 5.0, 5.0][i]),
                attn_branch: None,
                ..BlockRecord::default()
            })
            .collect();
        let tensors = vec![
            grad("blocks.0.fc1.weight", 1e-4),
            grad("blocks.1.fc1.weight", 1e-2),
            grad("blocks.2.fc1.weight", 3.0),
            grad("blocks.2.fc2.weight", 4.0),
        ];
        assert_eq!(group_grad_norm(&tensors, 2, ""), Some(5.0));
        assert_eq!(group_grad_norm(&tensors, 2, "fc2"), Some(4.0));
        assert_eq!(group_grad_norm(&tensors, 1, "fc2"), None);
        let input = stats(1.0, 10.0);
        let run = ResidualRun {
            blocks: &blocks,
            tensors: &tensors,
            stream_in: Some(&input),
            input: &input,
            output: Some(&blocks[2].stream),
            loss: 0.5,
        };
        assert_eq!(
            branch_ratios(run.stream_in, &blocks),
            vec![2.0, 0.125, 5.0 / 80.0]
        );
        let s = summarize_residual(&run, &defaults());
        let d = s.diagnosis.join("\n");
        assert!(d.contains("stream grows ×12.00 over 3 blocks"), "{d}");
        assert!(
            d.contains("branches dominate the stream (‖a·FF‖/‖x‖ = 2.00 at block 0)"),
            "{d}"
        );
        assert!(d.contains("vanishing gradients at early blocks"), "{d}");
        assert!(d.contains("exploding output"), "{d}");
        assert_eq!(s.final_act_std, 12.0);
        assert_eq!(s.grad_norm_ratio, 5.0 / 1e-4);
        assert_eq!(factor(3e20), "3.0e20");
        let quiet: Vec<BlockRecord> = blocks
            .iter()
            .map(|b| BlockRecord {
                ff_branch: stats(0.0, 0.0),
                stream: stats(1.0, 10.0),
                ..b.clone()
            })
            .collect();
        let run = ResidualRun {
            blocks: &quiet,
            ..run
        };
        let d = summarize_residual(&run, &defaults()).diagnosis;
        assert!(
            d.iter().any(|l| l.starts_with("branches negligible")),
            "{d:?}"
        );
    }

    #[test]
    fn attention_collapse_uniformity_and_exploding_logits_are_reported() {
        let block = |e: Vec<f64>, logits: f64| BlockRecord {
            attn_entropy: Some(e),
            attn_entropy_max: Some(4.0),
            attn_logits_std: Some(logits),
            ..BlockRecord::default()
        };
        let mut out = Vec::new();
        diagnose_attention(&[block(vec![3.99, 3.95], 0.1)], &mut out);
        assert!(out[0].starts_with("uniform attention"), "{out:?}");
        let mut out = Vec::new();
        diagnose_attention(&[block(vec![3.0, 0.01], 12.0)], &mut out);
        assert!(
            out[0].starts_with("attention entropy collapse: 1 of 2"),
            "{out:?}"
        );
        assert!(
            out[1].starts_with("attention logits exploding (std 12.00"),
            "{out:?}"
        );
        let mut out = Vec::new();
        diagnose_attention(&[block(vec![2.0], 1.0)], &mut out);
        assert!(out.is_empty());
        diagnose_attention(&[BlockRecord::default()], &mut out);
        assert!(out.is_empty());
    }
}
