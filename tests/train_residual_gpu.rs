//! Training residual stacks on the GPU against the f64 oracle on identical
//! initial tensors: pre- and post-norm, LayerNorm and RMSNorm (random norm
//! weights and biases, so every norm parameter trains), an input projection,
//! 2 blocks of width 24; 12 updates of Adam, AdamW and SGD with momentum
//! (Nesterov) and weight decay, one case under muP, and stacks with causal and
//! full multi-head self-attention. Checked: the loss after
//! every update (1e-3 relative), the step-0 gradients of every parameter
//! (1e-4 of the tensor's largest entry), and the per-block update norms
//! (the block's, fc1's, fc2's and, with attention, in_proj's and out_proj's).

mod common;
mod oracle;

use common::gpu;
use common::residual::{random_norms, small};
use initscope::config::{Loss, Target};
use initscope::exec::Session;
use initscope::model::build::residual::build_residual;
use initscope::model::records::{StepExtras, UpdateNorms};
use initscope::model::residual::{AttentionSpec, NormPosition};
use initscope::model::train::TrainPlan;
use initscope::model::{Model, NormKind, ParamId};
use initscope::train::TrainConfig;
use oracle::train::{RefModelTraining, train_model};
use serde_json::json;

const STEPS: u32 = 12;

/// A 12 → 24 (input_proj) → 2 blocks (ff 48) stack trained by `train`.
fn model(norm: NormKind, position: NormPosition, train: serde_json::Value) -> Model {
    model_with(norm, position, train, None)
}

/// `model` with self-attention in every block (`heads`, sequences of 5
/// rows: 8 sequences of the batch of 40, `causal` or not).
fn attention_model(
    position: NormPosition,
    heads: usize,
    causal: bool,
    train: serde_json::Value,
) -> Model {
    let attention = AttentionSpec {
        heads,
        seq_len: 5,
        causal,
        scale: 1.0 / ((24 / heads) as f64).sqrt(),
    };
    model_with(NormKind::LayerNorm, position, train, Some(attention))
}

fn model_with(
    norm: NormKind,
    position: NormPosition,
    train: serde_json::Value,
    attention: Option<AttentionSpec>,
) -> Model {
    let mut spec = small();
    (spec.input_dim, spec.width, spec.ff_width, spec.batch) = (12, 24, 48, 40);
    (spec.norm, spec.position) = (Some(norm), position);
    spec.attention = attention;
    let mut spec = random_norms(spec);
    spec.loss = Loss::Mse {
        target: Target::Teacher,
    };
    let mut m = build_residual(&spec, None).expect("a model");
    let cfg: TrainConfig = serde_json::from_value(train).expect("a train block");
    m.train = Some(TrainPlan::new(&m, &cfg));
    m
}

fn wide(v: Vec<f32>) -> Vec<f64> {
    v.into_iter().map(f64::from).collect()
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-30)
}

/// Trains `m` on the GPU and in the oracle from the GPU's initial tensors;
/// returns the largest relative loss difference.
fn check(what: &str, m: &Model) -> f64 {
    let g = gpu();
    let s = Session::new(&g, m, 7, 0).unwrap();
    let t = s.tensors().unwrap();
    let params: Vec<Vec<f64>> = t.params.into_iter().map(|(_, _, v)| wide(v)).collect();
    let target = s.read_target().unwrap().map(wide);
    let input = wide(t.input);
    let out = s.train().unwrap();
    let plan = m.train.as_ref().unwrap();
    let r = train_model(m, &input, params, target.as_deref(), plan);
    check_grads0(what, m, &r);
    let losses: Vec<f64> = out.record.steps.iter().map(|s| s.loss).collect();
    assert_eq!(losses.len(), r.losses.len(), "{what}: one record per step");
    let mut worst = 0.0f64;
    for (k, (a, b)) in losses.iter().zip(&r.losses).enumerate() {
        worst = worst.max(rel(*a, *b));
        assert!(
            rel(*a, *b) <= 1e-3,
            "{what} step {k}: GPU {a} vs oracle {b}"
        );
    }
    let (first, last) = (r.losses[0], r.losses[r.losses.len() - 1]);
    assert!(
        last < 0.98 * first,
        "{what}: loss did not fall ({first} -> {last})"
    );
    check_updates(what, m, &out.record.steps, &r);
    eprintln!("{what}: {STEPS} steps, largest relative loss difference {worst:.2e}");
    worst
}

/// Step-0 gradients of every parameter within 1e-4 of its largest entry
/// (the GPU's are those of `Session::step`, which step 0 of training is).
fn check_grads0(what: &str, m: &Model, r: &RefModelTraining) {
    let g = gpu();
    let s = Session::new(&g, m, 7, 0).unwrap();
    s.step().unwrap();
    let grads = s.gradients().unwrap();
    assert_eq!(
        grads.len(),
        m.params.len(),
        "{what}: every parameter has a gradient"
    );
    let mut worst = 0.0f64;
    for ((name, _, got), want) in grads.iter().zip(&r.grads0) {
        let scale = want.iter().fold(0.0f64, |a, b| a.max(b.abs()));
        assert!(scale > 0.0, "{what} {name}: zero gradient");
        worst = (got.iter().zip(want))
            .fold(worst, |w, (a, b)| w.max((f64::from(*a) - b).abs() / scale));
        for (j, (a, b)) in got.iter().zip(want).enumerate() {
            assert!(
                (f64::from(*a) - b).abs() <= 1e-4 * scale,
                "{what} {name}[{j}]: GPU {a} vs oracle {b}"
            );
        }
    }
    eprintln!(
        "{what}: step-0 gradients, largest difference {worst:.2e} of the tensor's largest entry"
    );
}

/// Each block's update (all its parameters) and its fc1/fc2 updates
/// against the oracle's f64 differences, 1e-3 relative.
fn check_updates(
    what: &str,
    m: &Model,
    steps: &[initscope::results::TrainStep],
    r: &RefModelTraining,
) {
    for (k, step) in steps.iter().enumerate() {
        let extras = StepExtras {
            updates: (r.updates[k].iter().enumerate())
                .map(|(i, &(delta, before))| UpdateNorms {
                    param: ParamId(i),
                    delta,
                    before,
                })
                .collect(),
            symmetry: Vec::new(),
        };
        assert_eq!(step.blocks.len(), 2, "{what}: a record per block");
        for (b, info) in step.blocks.iter().zip(&m.residual.as_ref().unwrap().blocks) {
            let mut pairs = vec![
                (
                    "block",
                    b.update,
                    extras.update_of(&m.block_params(b.index)),
                ),
                ("fc1", b.fc1.update, extras.update_of(&[info.fc1])),
                ("fc2", b.fc2.update, extras.update_of(&[info.fc2])),
            ];
            // Blocks with attention also record in_proj and out_proj.
            assert_eq!(b.in_proj.is_some(), info.attn.is_some(), "{what}");
            if let Some([w_in, w_out]) = m.attn_weights(b.index) {
                let (a, o) = (b.in_proj.as_ref().unwrap(), b.out_proj.as_ref().unwrap());
                pairs.push(("in_proj", a.update, extras.update_of(&[w_in])));
                pairs.push(("out_proj", o.update, extras.update_of(&[w_out])));
                assert!(b.attn_branch.is_some(), "{what}: attn_branch");
            }
            for (part, got, want) in pairs {
                let ok = if k == 0 {
                    got.norm == 0.0 && got.ratio == 0.0
                } else {
                    rel(got.norm, want.norm) <= 1e-3 && rel(got.ratio, want.ratio) <= 1e-3
                };
                assert!(
                    ok,
                    "{what} step {k} block {} {part}: {got:?} vs {want:?}",
                    b.index
                );
            }
            // Random inits break every unit's symmetry.
            assert_eq!((b.fc1.symmetry, b.fc2.symmetry), (0.0, 0.0), "{what}");
        }
    }
}

fn cfg(optimizer: serde_json::Value) -> serde_json::Value {
    json!({"steps": STEPS, "record_every": 1, "optimizer": optimizer})
}

#[test]
fn adam_trains_residual_stacks_as_the_oracle() {
    let cases = [
        (
            "pre-LayerNorm adam+l2",
            NormKind::LayerNorm,
            NormPosition::Pre,
            cfg(json!({"name": "adam", "lr": 1e-2, "weight_decay": 1e-2})),
        ),
        (
            "post-RMSNorm adamw+cosine",
            NormKind::RmsNorm,
            NormPosition::Post,
            json!({"steps": STEPS, "record_every": 1, "schedule": {"decay": "cosine"},
                   "optimizer": {"name": "adamw", "lr": 1e-2, "weight_decay": 0.1}}),
        ),
        (
            "pre-RMSNorm adam muP",
            NormKind::RmsNorm,
            NormPosition::Pre,
            json!({"steps": STEPS, "record_every": 1, "parametrization": "mup", "base_width": 8,
                   "optimizer": {"name": "adam", "lr": 1e-2}}),
        ),
    ];
    for (what, norm, position, train) in cases {
        check(what, &model(norm, position, train));
    }
}

#[test]
fn sgd_trains_residual_stacks_as_the_oracle() {
    let cases = [
        (
            "post-LayerNorm sgd momentum+wd",
            NormKind::LayerNorm,
            NormPosition::Post,
            cfg(json!({"name": "sgd", "lr": 0.02, "momentum": 0.9, "weight_decay": 1e-2})),
        ),
        (
            "pre-RMSNorm sgd nesterov+wd",
            NormKind::RmsNorm,
            NormPosition::Pre,
            cfg(
                json!({"name": "sgd", "lr": 0.02, "momentum": 0.9, "nesterov": true,
                       "weight_decay": 5e-3}),
            ),
        ),
        (
            "pre-LayerNorm sgd momentum+wd",
            NormKind::LayerNorm,
            NormPosition::Pre,
            cfg(json!({"name": "sgd", "lr": 0.02, "momentum": 0.9, "weight_decay": 1e-2})),
        ),
    ];
    for (what, norm, position, train) in cases {
        check(what, &model(norm, position, train));
    }
}

/// Attention's in_proj and out_proj (weights and biases) train with the rest:
/// every parameter's step-0 gradient, each loss and each block update (over
/// all of the block's parameters, attention included) match the oracle.
#[test]
fn stacks_with_attention_train_as_the_oracle() {
    let cases = [
        (
            "pre-LN, 3 heads, causal, adam",
            NormPosition::Pre,
            3,
            true,
            cfg(json!({"name": "adam", "lr": 1e-2})),
        ),
        (
            "post-LN, 2 heads, sgd momentum+wd",
            NormPosition::Post,
            2,
            false,
            cfg(json!({"name": "sgd", "lr": 0.02, "momentum": 0.9, "weight_decay": 1e-2})),
        ),
    ];
    for (what, position, heads, causal, train) in cases {
        let m = attention_model(position, heads, causal, train);
        assert!(
            m.params
                .iter()
                .any(|p| p.name.contains("attn.in_proj_weight")),
            "{what}: the model has attention"
        );
        check(what, &m);
    }
}

/// muP on a residual stack: hidden matrices (fc1, fc2) get Adam rates
/// × base_width/width, the input projection and vectors keep the base rate,
/// and nothing is an output matrix (the stream is the output).
#[test]
fn mup_multipliers_of_residual_stacks() {
    let m = model(
        NormKind::LayerNorm,
        NormPosition::Pre,
        json!({"steps": 1, "parametrization": "mup", "base_width": 8,
               "optimizer": {"name": "adam"}}),
    );
    let plan = m.train.as_ref().unwrap();
    for (p, (lr, init)) in m
        .params
        .iter()
        .zip(plan.lr_mult.iter().zip(&plan.init_mult))
    {
        let want = if p.cols > 1 && p.name != "input_proj.weight" {
            8.0 / 24.0
        } else {
            1.0
        };
        assert_eq!((*lr, *init), (want, 1.0), "{}", p.name);
    }
}
