//! Residual stacks on the GPU against the f64 oracle on identical tensors.
//!
//! Per op: every intermediate tensor, gradient and parameter gradient is
//! read back, and each op's forward and backward pass is recomputed in f64
//! from the GPU's own inputs (so errors cannot compound), with LayerNorm and
//! RMSNorm, pre and post, with and without bias, several residual scales,
//! odd sizes and batch chunks. Whole network: the per-block records against
//! the oracle run from the GPU's input and parameters alone.
//!
//! Tolerance, per element: |gpu − oracle| ≤ 1e-4·(|oracle| + rms(oracle)),
//! i.e. 1e-4 relative, with the tensor's rms as the scale of entries near 0.

mod common;
mod oracle;

use common::gpu;
use common::residual::*;
use initscope::exec::Session;
use initscope::gpu::{Gpu, GpuOptions};
use initscope::model::build::residual::build_residual;
use initscope::model::residual::{EmbeddingSpec, NormPosition, ResidualScale, ResidualSpec};
use initscope::model::{ActId, GradStore, Model, NormKind, Op, ParamId};
use initscope::results::TensorStats;
use oracle::op_check::{self, read_all, wide};
use oracle::ops::{model_pass, norm_stats};
use oracle::tensor_stats;
use serde_json::json;

const REL: f64 = 1e-4;

/// Elementwise |a − b| ≤ REL·(|b| + rms(b)).
fn close(what: &str, gpu: &[f64], r: &[f64]) {
    assert_eq!(gpu.len(), r.len(), "{what}: length");
    let rms = (r.iter().map(|v| v * v).sum::<f64>() / r.len().max(1) as f64).sqrt();
    for (i, (a, b)) in gpu.iter().zip(r).enumerate() {
        assert!(
            (a - b).abs() <= REL * (b.abs() + rms),
            "{what}[{i}]: gpu {a} vs oracle {b} (rms {rms})"
        );
    }
}

/// Each op against the oracle (`oracle::op_check`), and what a norm saves:
/// its rows' statistics.
fn check_ops(gpu: &Gpu, spec: &ResidualSpec, seed: u64) {
    op_check::check_ops(gpu, spec, seed, &close, &|k, op, m, t| {
        if let Op::Norm {
            x,
            saved,
            kind,
            eps,
            ..
        } = *op
        {
            let cols = m.act(x).cols;
            let st: Vec<f64> = norm_stats(&t.acts[x.0], cols, kind, f64::from(eps))
                .into_iter()
                .flat_map(|(m, r)| [m, r])
                .collect();
            close(&format!("op {k} row statistics"), &t.acts[saved.0], &st);
        }
    });
}

fn variants() -> Vec<(&'static str, ResidualSpec)> {
    let mut v = Vec::new();
    v.push(("layernorm pre, bias, a = 1", random_norms(small())));
    let mut s = random_norms(small());
    s.position = NormPosition::Post;
    s.residual_scale = ResidualScale::Value(0.5);
    s.final_norm = true;
    v.push(("layernorm post, a = 0.5, final norm", s));
    let mut s = small();
    s.norm = Some(NormKind::RmsNorm);
    s.bias = false;
    s.residual_scale = ResidualScale::InvSqrt2L;
    s.final_norm = true;
    v.push(("rmsnorm pre, no bias, a = 1/sqrt(2L)", random_norms(s)));
    let mut s = small();
    s.norm = Some(NormKind::RmsNorm);
    s.position = NormPosition::Post;
    s.residual_scale = ResidualScale::Value(-0.75);
    s.activation = initscope::activation::Activation::Relu;
    v.push(("rmsnorm post, a = -0.75, relu", random_norms(s)));
    let mut s = small();
    s.norm = None;
    s.residual_scale = ResidualScale::Value(0.3);
    s.activation = initscope::activation::Activation::Tanh;
    s.input_dim = s.width;
    v.push(("no norm, a = 0.3, no input projection", s));
    let mut s = small();
    s.residual_scale = ResidualScale::DeepNorm;
    s.bias = false;
    let s = random_norms(s);
    v.push(("deepnorm (post, skip 4^(1/4)), layernorm without bias", s));
    v
}

#[test]
fn every_op_matches_the_oracle_on_identical_tensors() {
    let gpu = gpu();
    for (k, (what, spec)) in variants().into_iter().enumerate() {
        eprintln!("{what}");
        check_ops(&gpu, &spec, 10 + k as u64);
    }
}

#[test]
fn ops_match_the_oracle_across_batch_chunks() {
    // 16 KiB bindings: rows of 40 floats give chunks of 64 rows (64, 64, 22),
    // so norms keep per-chunk row statistics and parameter gradients add up.
    let small_gpu = Gpu::new(&GpuOptions {
        max_binding_bytes: Some(16 << 10),
        ..Default::default()
    })
    .unwrap();
    for (pos, norm) in [
        (NormPosition::Pre, NormKind::LayerNorm),
        (NormPosition::Post, NormKind::RmsNorm),
    ] {
        let mut s = random_norms(ResidualSpec {
            batch: 150,
            width: 16,
            input_dim: 12,
            ff_width: 40,
            position: pos,
            norm: Some(norm),
            final_norm: true,
            residual_scale: ResidualScale::Value(0.7),
            ..small()
        });
        s.depth = 2;
        let m = build_residual(&s, None).unwrap();
        let chunk = initscope::model::memory::chunk_rows(16 << 10, m.batch, m.max_cols());
        assert_eq!(chunk, 64, "the test must chunk");
        check_ops(&small_gpu, &s, 5);
    }
}

/// The records of the GPU run against the oracle run from the same input
/// and parameters (the network's own scratch slots in use).
#[test]
fn block_and_tensor_records_match_the_whole_network_oracle() {
    let gpu = gpu();
    for (k, (what, spec)) in variants().into_iter().enumerate() {
        let m = build_residual(&spec, None).unwrap();
        let s = Session::new(&gpu, &m, 20 + k as u64, 0).unwrap();
        let out = s.step().unwrap();
        let t = s.tensors().unwrap();
        let params: Vec<Vec<f64>> = t.params.into_iter().map(|(_, _, v)| wide(v)).collect();
        let target = s.read_target().unwrap().map(wide);
        let r = model_pass(&m, &wide(t.input), &params, target.as_deref());
        let res = m.residual.as_ref().unwrap();
        assert_eq!(out.blocks.len(), spec.depth, "{what}");
        for (b, info) in out.blocks.iter().zip(&res.blocks) {
            let w = |f: &str| format!("{what}: block {} {f}", b.index);
            check_stats(
                &w("stream"),
                &b.stream,
                &tensor_stats(&r.acts[info.stream.0], None, None),
            );
            check_stats(
                &w("grad_stream"),
                &b.grad_stream,
                &tensor_stats(&r.grads[info.stream.0], None, None),
            );
            check_stats(
                &w("ff_branch"),
                &b.ff_branch,
                &tensor_stats(&r.acts[info.branch.0], None, None),
            );
        }
        assert_eq!(out.tensors.len(), m.params.len());
        for (rec, (p, g)) in out.tensors.iter().zip(m.params.iter().zip(&r.param_grads)) {
            assert_eq!((&rec.name, &rec.shape), (&p.name, &p.shape()));
            check_stats(
                &format!("{what}: {} grad", p.name),
                &rec.grad,
                &tensor_stats(g, None, None),
            );
        }
        assert!(
            (out.loss - r.loss).abs() <= REL * r.loss.abs(),
            "{what}: loss {} vs {}",
            out.loss,
            r.loss
        );
    }
}

fn check_stats(what: &str, g: &TensorStats, r: &TensorStats) {
    let scale = r.std.max(r.mean.abs()).max(1e-30);
    assert_eq!(g.count, r.count, "{what}: count");
    for (k, a, b) in [
        ("mean", g.mean, r.mean),
        ("std", g.std, r.std),
        ("norm", g.norm, r.norm),
        ("min", g.min, r.min),
        ("max", g.max, r.max),
    ] {
        assert!(
            (a - b).abs() <= REL * (b.abs() + scale),
            "{what}.{k}: gpu {a} vs oracle {b}"
        );
    }
}

#[test]
fn embedding_input_is_the_host_twin_bit_for_bit() {
    let mut spec = small();
    spec.embedding = Some(EmbeddingSpec {
        vocab: 50,
        init: init(json!({"scheme": "uniform", "a": -0.1, "b": 0.1})),
        positions: Some(5),
    });
    let m = build_residual(&spec, None).unwrap();
    let g = gpu();
    let s = Session::new(&g, &m, 77, 2).unwrap();
    let got = s.read_act(m.input).unwrap();
    use initscope::rng::{Role, Stream, layer_word, module, stream_u32, stream_uniform, token_of};
    let stream = |role| Stream {
        layer: layer_word(module::EMBEDDING, 0),
        role,
        repeat: 2,
    };
    let dim = spec.input_dim;
    let table = stream_uniform(77, stream(Role::Weight), 50 * dim, -0.1, 0.1);
    let ids = stream_u32(77, stream(Role::Input), spec.batch);
    let pe = initscope::kernels::embed::sinusoidal(5, dim);
    for r in 0..spec.batch {
        let id = token_of(ids[r], 50) as usize;
        for j in 0..dim {
            let want = table[id * dim + j] + pe[(r % 5) * dim + j];
            assert_eq!(
                got[r * dim + j].to_bits(),
                want.to_bits(),
                "row {r} col {j}"
            );
        }
    }
}

#[test]
fn an_override_scale_multiplies_the_drawn_tensor_exactly() {
    let plain = small();
    let mut scaled = small();
    scaled
        .overrides
        .push(over(0, "blocks.*.fc2.weight", None, Some(0.5)));
    let g = gpu();
    let read = |spec: &ResidualSpec| {
        let m = build_residual(spec, None).unwrap();
        let s = Session::new(&g, &m, 3, 0).unwrap();
        s.tensors().unwrap()
    };
    let (a, b) = (read(&plain), read(&scaled));
    for ((name, _, x), (_, _, y)) in a.params.iter().zip(&b.params) {
        let factor = if name.ends_with("fc2.weight") {
            0.5
        } else {
            1.0
        };
        let want: Vec<u32> = x.iter().map(|v| (v * factor).to_bits()).collect();
        let got: Vec<u32> = y.iter().map(|v| v.to_bits()).collect();
        assert_eq!(got, want, "{name}");
    }
}

/// A tensor read by a scale and then by an add: the add's backward writes
/// its gradient first, the scale's must add to it (the accumulate path of
/// the residual kernel, which the blocks themselves never take).
#[test]
fn a_tensor_read_by_a_scale_and_an_add_accumulates_both_gradients() {
    use initscope::init::{Component, Sampler};
    use initscope::model::{ActTensor, Param, StatKey, StatRequest, StatSource};
    let t = |label: &str, cols, grad| ActTensor {
        label: label.into(),
        grad_label: format!("grad {label}"),
        cols,
        grad,
    };
    let normal = |std| Sampler::Elementwise(vec![(1.0, Component::Normal { mean: 0.0, std })]);
    let m = Model {
        batch: 19,
        acts: vec![
            t("input", 7, GradStore::None),
            t("x", 5, GradStore::Full),
            t("scaled", 5, GradStore::Full),
            t("sum", 5, GradStore::Full),
        ],
        params: vec![Param {
            name: "w".into(),
            label: "w".into(),
            grad_label: "grad w".into(),
            rows: 5,
            cols: 7,
            fan_in: 7,
            fan_out: 5,
            sampler: normal(0.5),
            layer: 0,
            role: initscope::rng::Role::Weight,
            lsuv: None,
            theory: true,
            scale: None,
            parts: Vec::new(),
        }],
        ops: vec![
            Op::Linear {
                x: ActId(0),
                y: ActId(1),
                w: ParamId(0),
                b: None,
            },
            Op::Scale {
                x: ActId(1),
                y: ActId(2),
                factor: -0.5,
            },
            Op::Add {
                skip: ActId(1),
                branch: ActId(2),
                y: ActId(3),
                skip_scale: 1.5,
            },
        ],
        input: ActId(0),
        input_sampler: normal(1.0),
        output: ActId(3),
        loss: initscope::config::Loss::MeanSquare,
        stats: [
            (false, StatSource::Act(ActId(3))),
            (true, StatSource::Grad(ActId(3))),
        ]
        .map(|(grad, source)| StatRequest {
            key: StatKey::Output(grad),
            source,
            histogram: false,
            activation: false,
        })
        .to_vec(),
        saturation_threshold: 0.9,
        histogram_bins: 8,
        layers: Vec::new(),
        residual: None,
        embedding: None,
        jacobian: None,
        train: None,
    };
    let g = gpu();
    let s = Session::new(&g, &m, 1, 0).unwrap();
    s.step().unwrap();
    let r = read_all(&s, &m);
    let pass = model_pass(&m, &r.acts[0], &r.params, None);
    // dL/dx = (1.5 − 0.5)·dL/dsum: both consumers' contributions.
    close(
        "gradient of x",
        r.grads[1].as_ref().unwrap(),
        &pass.grads[1],
    );
    close("gradient of w", &r.param_grads[0], &pass.param_grads[0]);
}
