//! Training on the GPU against the f64 training oracle, on identical initial
//! tensors read back from the GPU: the loss after each of 12 updates of SGD
//! (momentum, dampening, Nesterov, weight decay), Adam and AdamW with
//! schedules, MSE and cross-entropy; step-0 and final gradients; update norms.

mod common;
mod oracle;

use common::{gpu, run_spec};
use initscope::config::Loss;
use initscope::exec::Session;
use initscope::exec::train::TrainOutput;
use initscope::gpu::Gpu;
use initscope::model::Model;
use initscope::model::build::build;
use initscope::model::train::TrainPlan;
use initscope::train::TrainConfig;
use oracle::RefLayer;
use oracle::train::{Problem, RefTarget, RefTraining, pass, train};
use serde_json::json;

const STEPS: u32 = 12;

/// A 12 → 24 → 24 → 6 stack with `act` and `loss`, trained by `train`.
fn model(act: &str, loss: serde_json::Value, train_cfg: serde_json::Value, seed: u64) -> Model {
    let spec = run_spec(
        json!({
            "network": {"input_dim": 12, "widths": [24, 24, 6], "activation": act},
            "init": {"scheme": "xavier_normal", "gain": 1.3},
            "bias_init": {"scheme": "uniform", "a": -0.2, "b": 0.2},
            "input": {"batch": 40},
            "loss": loss
        }),
        seed,
    );
    let mut m = build(&spec, None).expect("a model");
    let cfg: TrainConfig = serde_json::from_value(train_cfg).expect("a train block");
    m.train = Some(TrainPlan::new(&m, &cfg));
    m
}

/// The initial tensors of a session as oracle layers, input and target.
struct Initial {
    layers: Vec<RefLayer>,
    input: Vec<f64>,
    rows: Vec<f64>,
    labels: Vec<usize>,
}

fn wide(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| f64::from(x)).collect()
}

fn initial(s: &Session<'_>, m: &Model) -> Initial {
    let t = s.tensors().unwrap();
    let layers = m
        .layers
        .iter()
        .map(|l| RefLayer {
            fan_in: l.fan_in,
            fan_out: l.fan_out,
            activation: l.activation,
            weight: wide(t.get(&format!("layers.{}.weight", l.index)).unwrap()),
            bias: t.get(&format!("layers.{}.bias", l.index)).map(wide),
        })
        .collect();
    let target = t.target.map(|(_, v)| v).unwrap_or_default();
    Initial {
        layers,
        input: wide(&t.input),
        labels: target.iter().map(|&x| x as usize).collect(),
        rows: wide(&target),
    }
}

impl Initial {
    fn target(&self, loss: Loss) -> RefTarget<'_> {
        match loss {
            Loss::CrossEntropy => RefTarget::Labels(&self.labels),
            Loss::Mse { .. } => RefTarget::Rows(&self.rows),
            _ => RefTarget::None,
        }
    }
}

/// Trains `m` on the GPU and in the oracle from the same initial tensors.
fn both<'g>(g: &'g Gpu, m: &'g Model) -> (TrainOutput, RefTraining, Initial, Session<'g>) {
    let s = Session::new(g, m, 7, 0).unwrap();
    let init = initial(&s, m);
    let gpu_run = s.train().unwrap();
    let plan = m.train.as_ref().unwrap();
    let problem = Problem {
        input: &init.input,
        batch: m.batch,
        loss: m.loss,
        target: init.target(m.loss),
    };
    let reference = train(
        problem,
        init.layers.clone(),
        &plan.optimizer,
        &plan.config.schedule,
        plan.config.steps,
    )
    .unwrap();
    (gpu_run, reference, init, s)
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-30)
}

/// Every step's loss within 1e-3 relative, and the loss must have moved.
fn check_losses(what: &str, g: &TrainOutput, r: &RefTraining) {
    let losses: Vec<f64> = g.record.steps.iter().map(|s| s.loss).collect();
    assert_eq!(losses.len(), r.losses.len(), "{what}: one record per step");
    for (k, (a, b)) in losses.iter().zip(&r.losses).enumerate() {
        assert!(
            rel(*a, *b) <= 1e-3,
            "{what} step {k}: GPU loss {a} vs oracle {b}"
        );
    }
    let worst = (losses.iter().zip(&r.losses)).fold(0.0f64, |m, (a, b)| m.max(rel(*a, *b)));
    eprintln!(
        "{what}: {} steps, largest relative loss difference {worst:.2e}",
        losses.len() - 1
    );
    let (first, last) = (r.losses[0], r.losses[r.losses.len() - 1]);
    assert!(
        last < 0.98 * first,
        "{what}: the oracle's loss did not fall ({first} -> {last})"
    );
}

/// Elementwise gradients within 1e-4 of the tensor's largest entry.
fn check_grads(what: &str, gpu: &[(String, Vec<usize>, Vec<f32>)], pass: &oracle::RefPass) {
    for (i, lp) in pass.layers.iter().enumerate() {
        let mut pairs = vec![(format!("layers.{i}.weight"), &lp.grad_weight)];
        pairs.extend(
            lp.grad_bias
                .as_ref()
                .map(|b| (format!("layers.{i}.bias"), b)),
        );
        for (name, want) in pairs {
            let got = &gpu.iter().find(|(n, _, _)| *n == name).unwrap().2;
            let scale = want.iter().fold(0.0f64, |a, b| a.max(b.abs()));
            let worst =
                (got.iter().zip(want)).fold(0.0f64, |m, (a, b)| m.max((f64::from(*a) - b).abs()));
            eprintln!(
                "{what} {name}: largest difference {:.2e} of the largest entry",
                worst / scale
            );
            for (j, (a, b)) in got.iter().zip(want).enumerate() {
                assert!(
                    (f64::from(*a) - b).abs() <= 1e-4 * scale,
                    "{what} {name}[{j}]: GPU {a} vs oracle {b}"
                );
            }
        }
    }
}

fn sgd(extra: serde_json::Value) -> serde_json::Value {
    let mut o = json!({"name": "sgd", "lr": 0.05});
    o.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    json!({"steps": STEPS, "record_every": 1, "optimizer": o})
}

#[test]
fn sgd_variants_match_the_oracle() {
    let teacher = json!({"name": "mse", "target": "teacher"});
    let cases = [
        ("plain", "tanh", sgd(json!({}))),
        (
            "momentum+wd",
            "tanh",
            sgd(json!({"momentum": 0.9, "weight_decay": 1e-2})),
        ),
        (
            "dampening",
            "relu",
            sgd(json!({"momentum": 0.8, "dampening": 0.5})),
        ),
        (
            "nesterov+wd+cosine",
            "gelu",
            json!({"steps": STEPS, "record_every": 1,
                   "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9, "nesterov": true, "weight_decay": 5e-3},
                   "schedule": {"warmup": 3, "decay": "cosine"}}),
        ),
    ];
    for (what, act, cfg) in cases {
        let m = model(act, teacher.clone(), cfg, 11);
        let gp = gpu();
        let (g, r, _, _) = both(&gp, &m);
        check_losses(what, &g, &r);
    }
}

#[test]
fn adam_and_adamw_match_the_oracle() {
    let teacher = json!({"name": "mse", "target": "teacher"});
    let cases = [
        (
            "adam+l2+warmup",
            json!({"name": "adam", "lr": 1e-2, "weight_decay": 1e-2}),
            json!({"warmup": 2}),
        ),
        (
            "adam betas",
            json!({"name": "adam", "lr": 5e-3, "betas": [0.8, 0.99], "eps": 1e-6}),
            json!({}),
        ),
        (
            "adamw+cosine",
            json!({"name": "adamw", "lr": 1e-2}),
            json!({"decay": "cosine"}),
        ),
        (
            "adamw wd",
            json!({"name": "adamw", "lr": 1e-2, "weight_decay": 0.5}),
            json!({}),
        ),
    ];
    for (what, opt, schedule) in cases {
        let cfg =
            json!({"steps": STEPS, "record_every": 1, "optimizer": opt, "schedule": schedule});
        let m = model("tanh", teacher.clone(), cfg, 5);
        let gp = gpu();
        let (g, r, _, s) = both(&gp, &m);
        check_losses(what, &g, &r);
        // Update norms ‖W_k − W_(k−1)‖ (f32 differences of the stored weights).
        for (k, step) in g.record.steps.iter().enumerate() {
            for (l, rec) in step.layers.iter().enumerate() {
                let want = r.update_norms[k][l];
                let ok = if k == 0 {
                    rec.update.norm == 0.0
                } else {
                    rel(rec.update.norm, want) <= 1e-3
                };
                assert!(
                    ok,
                    "{what} step {k} layer {l}: update norm {} vs {want}",
                    rec.update.norm
                );
            }
        }
        // The gradients at the last step, which no update follows.
        let plan = m.train.as_ref().unwrap();
        let init = initial(&s, &m);
        let last = pass(&init.input, m.batch, &r.layers, m.loss, init.target(m.loss)).unwrap();
        check_grads(&format!("{what} final"), &s.gradients().unwrap(), &last);
        assert_eq!(plan.config.steps, STEPS);
    }
}

#[test]
fn cross_entropy_matches_the_oracle() {
    let cfg = json!({"steps": STEPS, "record_every": 1, "optimizer": {"name": "adam", "lr": 2e-2}});
    let m = model("tanh", json!("cross_entropy"), cfg, 3);
    let gp = gpu();
    let (g, r, init, _) = both(&gp, &m);
    check_losses("cross-entropy", &g, &r);
    // The labels span several classes (the teacher's argmax is not constant).
    let mut seen = init.labels.clone();
    seen.sort_unstable();
    seen.dedup();
    assert!(seen.len() >= 3, "labels {seen:?}");
}

#[test]
fn step_zero_gradients_match_the_oracle() {
    for (loss, lt) in [
        (
            json!({"name": "mse", "target": "teacher"}),
            Loss::Mse {
                target: initscope::config::Target::Teacher,
            },
        ),
        (json!("cross_entropy"), Loss::CrossEntropy),
        (
            json!({"name": "mse", "target": "gaussian"}),
            Loss::Mse {
                target: initscope::config::Target::Gaussian,
            },
        ),
    ] {
        let m = model("silu", loss, json!({"steps": 1}), 9);
        assert_eq!(m.loss, lt);
        let g = gpu();
        let s = Session::new(&g, &m, 7, 0).unwrap();
        let init = initial(&s, &m);
        let out = s.step().unwrap();
        let reference = pass(
            &init.input,
            m.batch,
            &init.layers,
            m.loss,
            init.target(m.loss),
        )
        .unwrap();
        assert!(
            rel(out.loss, reference.loss) <= 1e-5,
            "{lt:?}: loss {} vs {}",
            out.loss,
            reference.loss
        );
        check_grads(
            &format!("{lt:?} step 0"),
            &s.gradients().unwrap(),
            &reference,
        );
    }
}
