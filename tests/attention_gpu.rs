//! Self-attention in residual blocks on the GPU against the f64 oracle on
//! identical tensors: every op's forward and backward pass recomputed in f64
//! from the GPU's own inputs (the attention op's probabilities and per-query
//! logit statistics too), causal and not, pre- and post-norm, one head and
//! several, seq_len 1 and odd sizes, batch chunks of whole sequences; and the
//! per-block attention records against the whole-network oracle.
//!
//! Tolerance, per element: |gpu − oracle| ≤ 1e-4·(|oracle| + rms(oracle)).

mod common;
mod oracle;

use common::gpu;
use common::residual::*;
use initscope::exec::Session;
use initscope::gpu::{Gpu, GpuOptions};
use initscope::model::build::residual::build_residual;
use initscope::model::residual::{AttentionSpec, NormPosition, ResidualScale, ResidualSpec};
use initscope::model::{Model, NormKind, Op};
use oracle::op_check::{self, wide};
use oracle::ops::{attn_of, model_pass};
use oracle::tensor_stats;
use serde_json::json;
use std::cell::Cell;

const REL: f64 = 1e-4;

thread_local! {
    /// The largest |gpu − oracle| / (|oracle| + rms) seen, for the report.
    static WORST: Cell<f64> = const { Cell::new(0.0) };
}

/// Elementwise |a − b| ≤ REL·(|b| + rms(b)).
fn close(what: &str, gpu: &[f64], r: &[f64]) {
    assert_eq!(gpu.len(), r.len(), "{what}: length");
    let rms = (r.iter().map(|v| v * v).sum::<f64>() / r.len().max(1) as f64).sqrt();
    for (i, (a, b)) in gpu.iter().zip(r).enumerate() {
        let scale = b.abs() + rms;
        if scale > 0.0 {
            WORST.with(|w| w.set(w.get().max((a - b).abs() / scale)));
        }
        assert!(
            (a - b).abs() <= REL * scale,
            "{what}[{i}]: gpu {a} vs oracle {b} (rms {rms})"
        );
    }
}

/// A small stack with attention: `width` split into `heads`, sequences of
/// `seq` rows, `seqs` of them.
fn attn(width: usize, heads: usize, seq: usize, seqs: usize, causal: bool) -> ResidualSpec {
    let d_head = (width / heads) as f64;
    ResidualSpec {
        input_dim: 11,
        width,
        ff_width: 24,
        batch: seq * seqs,
        attention: Some(AttentionSpec {
            heads,
            seq_len: seq,
            causal,
            scale: 1.0 / d_head.sqrt(),
        }),
        ..small()
    }
}

fn variants() -> Vec<(&'static str, ResidualSpec)> {
    let mut v = Vec::new();
    v.push((
        "pre, 2 heads, seq 5, not causal",
        random_norms(attn(16, 2, 5, 7, false)),
    ));
    let mut s = attn(18, 3, 7, 6, true);
    s.position = NormPosition::Post;
    s.residual_scale = ResidualScale::Value(0.5);
    s.final_norm = true;
    v.push((
        "post, 3 heads of 6, seq 7, causal, a = 0.5",
        random_norms(s),
    ));
    let mut s = attn(20, 1, 9, 3, true);
    s.norm = Some(NormKind::RmsNorm);
    s.bias = false;
    if let Some(a) = &mut s.attention {
        a.scale = 1.0 / 20.0;
    }
    v.push((
        "pre rmsnorm, 1 head, seq 9, causal, 1/d_head, no bias",
        random_norms(s),
    ));
    v.push(("seq_len 1, 4 heads", attn(16, 4, 1, 13, false)));
    let mut s = attn(48, 4, 4, 4, false);
    s.norm = None;
    s.residual_scale = ResidualScale::Value(0.3);
    s.input_dim = 48;
    s.overrides = vec![over(
        0,
        "blocks.*.attn.q_proj.weight",
        Some(json!({"scheme": "normal", "std": 0.6})),
        None,
    )];
    v.push(("no norm, width 48, peaked softmax (q std 0.6)", s));
    // seq a multiple of 4: the vec4 softmax kernels, with partly masked vec4s.
    v.push((
        "pre, 2 heads, seq 12, causal (vec4 rows)",
        random_norms(attn(16, 2, 12, 3, true)),
    ));
    let mut s = attn(16, 2, 3, 4, true);
    s.residual_scale = ResidualScale::DeepNorm;
    v.push(("deepnorm (post), 2 heads, seq 3, causal", random_norms(s)));
    v
}

/// Each op against the oracle (`oracle::op_check`), and what attention
/// saves: its probabilities and per-query logit statistics.
fn check_ops(gpu: &Gpu, spec: &ResidualSpec, seed: u64) {
    op_check::check_ops(gpu, spec, seed, &close, &|k, op, m, t| {
        if let Op::Attention {
            qkv, probs, stats, ..
        } = *op
        {
            let (_, p, st) = oracle::attention::forward(&t.acts[qkv.0], &attn_of(m, op));
            close(&format!("op {k} probabilities"), &t.acts[probs.0], &p);
            close(&format!("op {k} logit statistics"), &t.acts[stats.0], &st);
        }
    });
}

#[test]
fn attention_ops_match_the_oracle_forward_and_backward() {
    let gpu = gpu();
    for (k, (what, spec)) in variants().into_iter().enumerate() {
        WORST.with(|w| w.set(0.0));
        check_ops(&gpu, &spec, 30 + k as u64);
        eprintln!("{what}: max rel error {:.2e}", WORST.with(Cell::get));
    }
}

#[test]
fn attention_matches_the_oracle_across_chunks_of_whole_sequences() {
    // 40 KiB bindings: 48-float rows fit 213, so chunks of 192 rows (the
    // least multiple of 64 and of seq 3): 192, 192, 66.
    let small_gpu = Gpu::new(&GpuOptions {
        max_binding_bytes: Some(40 << 10),
        ..Default::default()
    })
    .unwrap();
    for causal in [false, true] {
        let mut s = random_norms(attn(16, 2, 3, 150, causal));
        s.depth = 1;
        let m = build_residual(&s, None).unwrap();
        assert_eq!(m.chunk_rows(40 << 10), 192, "the test must chunk");
        WORST.with(|w| w.set(0.0));
        check_ops(&small_gpu, &s, 7);
        eprintln!(
            "chunked, causal {causal}: max rel error {:.2e}",
            WORST.with(Cell::get)
        );
    }
}

/// Unbiased std of every visible logit, and each head's mean entropy.
fn logit_records(m: &Model, op: &Op, qkv: &[f64]) -> (f64, Vec<f64>) {
    let a = attn_of(m, op);
    let mut all = Vec::new();
    let mut ent = vec![0.0; a.heads];
    for r in 0..a.rows {
        for (h, e) in ent.iter_mut().enumerate() {
            all.extend(a.logits(qkv, r, h));
            let p = a.probs_row(qkv, r, h);
            *e -= p
                .iter()
                .filter(|v| **v > 0.0)
                .map(|v| v * v.ln())
                .sum::<f64>()
                / a.rows as f64;
        }
    }
    (tensor_stats(&all, None, None).std, ent)
}

#[test]
fn attention_records_match_the_whole_network_oracle() {
    let gpu = gpu();
    for (k, (what, spec)) in variants().into_iter().enumerate() {
        let m = build_residual(&spec, None).unwrap();
        let s = Session::new(&gpu, &m, 50 + k as u64, 0).unwrap();
        let out = s.step().unwrap();
        let t = s.tensors().unwrap();
        let params: Vec<Vec<f64>> = t.params.into_iter().map(|(_, _, v)| wide(v)).collect();
        let target = s.read_target().unwrap().map(wide);
        let r = model_pass(&m, &wide(t.input), &params, target.as_deref());
        let res = m.residual.as_ref().unwrap();
        let attn_ops: Vec<&Op> = (m.ops.iter())
            .filter(|o| matches!(o, Op::Attention { .. }))
            .collect();
        for ((b, info), op) in out.blocks.iter().zip(&res.blocks).zip(attn_ops) {
            let a = info.attn.as_ref().unwrap();
            let want = tensor_stats(&r.acts[a.branch.0], None, None);
            let got = b.attn_branch.as_ref().unwrap();
            let rel = |x: f64, y: f64| (x - y).abs() / y.abs().max(1e-30);
            assert!(rel(got.std, want.std) < REL, "{what}: attn_branch std");
            let Op::Attention { qkv, .. } = *op else {
                unreachable!()
            };
            let (std, ent) = logit_records(&m, op, &r.acts[qkv.0]);
            let got_std = b.attn_logits_std.unwrap();
            assert!(
                rel(got_std, std) < REL,
                "{what}: logits std {got_std} vs {std}"
            );
            for (g, e) in b.attn_entropy.as_ref().unwrap().iter().zip(&ent) {
                // Entropy 0 (seq_len 1) is compared absolutely.
                assert!(
                    (g - e).abs() < REL * e.max(1e-3),
                    "{what}: entropy {g} vs {e}"
                );
            }
            let max = b.attn_entropy_max.unwrap();
            let seq = spec.attention.unwrap().seq_len as f64;
            assert!((max - seq.ln()).abs() < 1e-12);
            assert!(b.attn_grad_norm.unwrap() > 0.0 && b.ff_grad_norm.unwrap() > 0.0);
        }
    }
}

#[test]
fn in_proj_is_three_parts_with_their_own_schemes() {
    let mut s = attn(16, 2, 5, 2, false);
    s.bias_init = init(json!({"scheme": "zeros"}));
    s.overrides.push(over(
        9,
        "blocks.*.attn.q_proj.weight",
        Some(json!({"scheme": "zeros"})),
        None,
    ));
    s.overrides
        .push(over(10, "blocks.0.attn.in_proj_weight", None, Some(2.0)));
    let m = build_residual(&s, None).unwrap();
    let g = gpu();
    let sess = Session::new(&g, &m, 3, 0).unwrap();
    let t = sess.tensors().unwrap();
    let w = t.get("blocks.0.attn.in_proj_weight").unwrap();
    assert_eq!(w.len(), 3 * 16 * 16);
    assert!(w[..256].iter().all(|v| *v == 0.0), "q third zero");
    // k and v: xavier_uniform of a 16x16 weight, times 2.
    let bound = 2.0 * (6.0f32 / 32.0).sqrt();
    assert!(w[256..].iter().all(|v| v.abs() <= bound));
    assert!(w[256..].iter().any(|v| v.abs() > 0.8 * bound));
    assert_ne!(w[256..512], w[512..], "k and v draw their own streams");
    // With zero queries every logit is 0: uniform attention.
    let out = sess.step().unwrap();
    let b = &out.blocks[0];
    assert!(b.attn_logits_std.unwrap() < 1e-6);
    for e in b.attn_entropy.as_ref().unwrap() {
        assert!((e - 5f64.ln()).abs() < 1e-5, "uniform: {e}");
    }
}
