//! Training behaviour beyond the oracle: step 0 is today's step bit for bit,
//! constant inits keep every unit a duplicate, fresh batches follow the
//! documented Philox counter, chunked batches train like whole ones, muP
//! multipliers, and the optimizer state in the memory plan.

mod common;

use common::{gpu, run_spec, stats_bits};
use initscope::exec::Session;
use initscope::gpu::{Gpu, GpuOptions};
use initscope::model::Model;
use initscope::model::build::build;
use initscope::model::memory::Limits;
use initscope::model::train::TrainPlan;
use initscope::rng::{Role, Stream, stream_uniform};
use initscope::train::TrainConfig;
use serde_json::{Value, json};

fn model(cfg: Value, train: Value) -> Model {
    let mut m = build(&run_spec(cfg, 21), None).expect("a model");
    if !train.is_null() {
        let t: TrainConfig = serde_json::from_value(train).expect("a train block");
        m.train = Some(TrainPlan::new(&m, &t));
    }
    m
}

fn net(init: Value, extra: Value) -> Value {
    let mut v = json!({
        "network": {"input_dim": 10, "widths": [16, 16, 4], "activation": "tanh"},
        "init": init,
        "input": {"batch": 70, "dist": {"scheme": "uniform", "a": -1.0, "b": 1.0}},
        "loss": {"name": "mse", "target": "teacher"}
    });
    v.as_object_mut()
        .unwrap()
        .extend(extra.as_object().cloned().unwrap_or_default());
    v
}

fn adam(steps: u32) -> Value {
    json!({"steps": steps, "record_every": 1, "optimizer": {"name": "adam", "lr": 0.01}})
}

#[test]
fn step_zero_of_training_is_todays_step_bit_for_bit() {
    let cfg = net(json!({"scheme": "kaiming_normal"}), json!({}));
    let (plain, trained) = (model(cfg.clone(), Value::Null), model(cfg, adam(3)));
    let g = gpu();
    let a = Session::new(&g, &plain, 21, 0).unwrap().step().unwrap();
    let b = Session::new(&g, &trained, 21, 0).unwrap().train().unwrap();
    assert_eq!(a.loss.to_bits(), b.first.loss.to_bits());
    assert_eq!(a.loss.to_bits(), b.record.steps[0].loss.to_bits());
    for (x, y) in a.layers.iter().zip(&b.first.layers) {
        for (s, t) in [
            (&x.weight, &y.weight),
            (&x.act, &y.act),
            (&x.grad_weight, &y.grad_weight),
        ] {
            assert_eq!(stats_bits(s), stats_bits(t), "layer {}", x.index);
        }
    }
    assert!(b.record.steps[3].loss < 0.9 * b.record.steps[0].loss);
}

/// The symmetry of the hidden layers at every recorded step.
fn hidden_symmetry(init: Value, bias: Value) -> Vec<Vec<f64>> {
    let m = model(net(init, json!({"bias_init": bias})), adam(6));
    let g = gpu();
    let out = Session::new(&g, &m, 21, 0).unwrap().train().unwrap();
    out.record
        .steps
        .iter()
        .map(|s| s.layers[..2].iter().map(|l| l.symmetry).collect())
        .collect()
}

#[test]
fn constant_inits_stay_symmetric_and_random_inits_do_not() {
    let zeros = json!({"scheme": "zeros"});
    for s in hidden_symmetry(zeros.clone(), zeros.clone()) {
        assert_eq!(s, [1.0, 1.0], "zero init");
    }
    for s in hidden_symmetry(json!({"scheme": "constant", "value": 0.2}), zeros.clone()) {
        assert_eq!(s, [1.0, 1.0], "constant init");
    }
    for s in hidden_symmetry(json!({"scheme": "xavier_normal"}), zeros.clone()) {
        assert_eq!(s, [0.0, 0.0], "xavier init");
    }
    // Random biases alone break the tie at once.
    let s = hidden_symmetry(zeros, json!({"scheme": "normal", "std": 0.1}));
    assert_eq!(s[0], [0.0, 0.0], "random biases");
}

#[test]
fn fresh_batches_follow_the_data_step_counter() {
    let cfg = net(json!({"scheme": "xavier_uniform"}), json!({}));
    let mut fresh = adam(1);
    fresh["data"] = json!("fresh");
    let (fixed_m, fresh_m) = (model(cfg.clone(), adam(1)), model(cfg, fresh));
    let g = gpu();
    let fixed = Session::new(&g, &fixed_m, 21, 0).unwrap().train().unwrap();
    let s = Session::new(&g, &fresh_m, 21, 0).unwrap();
    let before = s.tensors().unwrap().input;
    let out = s.train().unwrap();
    let after = s.tensors().unwrap().input;
    assert_eq!(fixed.record.steps[0].loss, out.record.steps[0].loss);
    assert_ne!(fixed.record.steps[1].loss, out.record.steps[1].loss);
    // Step 1's batch is counter word 1 = 1 of the input stream; step 0's is the usual one.
    let stream = |layer| Stream {
        layer,
        role: Role::Input,
        repeat: 0,
    };
    assert_eq!(before, stream_uniform(21, stream(0), 700, -1.0, 1.0));
    assert_eq!(after, stream_uniform(21, stream(1), 700, -1.0, 1.0));
}

#[test]
fn chunked_training_equals_whole_batch_training() {
    let mut cfg = net(json!({"scheme": "xavier_normal"}), json!({}));
    cfg["loss"] = json!("cross_entropy");
    cfg["input"]["batch"] = json!(300);
    let m = model(cfg, adam(4));
    let whole = Session::new(&gpu(), &m, 21, 0).unwrap().train().unwrap();
    // 8 KiB bindings hold 128 rows of 16 columns: 300 rows in 3 chunks.
    let small = Gpu::new(&GpuOptions {
        max_binding_bytes: Some(8 << 10),
        ..Default::default()
    })
    .unwrap();
    let chunked = Session::new(&small, &m, 21, 0).unwrap().train().unwrap();
    for (a, b) in whole.record.steps.iter().zip(&chunked.record.steps) {
        assert!(
            (a.loss - b.loss).abs() <= 1e-5 * a.loss,
            "step {}: {} vs {}",
            a.step,
            a.loss,
            b.loss
        );
    }
}

#[test]
fn mup_scales_the_output_layer_and_its_rates() {
    let cfg = json!({
        "network": {"input_dim": 8, "widths": [256, 256, 4], "activation": "relu"},
        "init": {"scheme": "kaiming_normal", "nonlinearity": "relu"},
        "input": {"batch": 64}, "loss": "cross_entropy"
    });
    let mut t = adam(2);
    t["parametrization"] = json!("mup");
    let (sp, mup) = (model(cfg.clone(), adam(2)), model(cfg, t));
    let plan = mup.train.as_ref().unwrap();
    // Input weight, its bias; hidden weight, bias; output weight, bias.
    assert_eq!(plan.lr_mult, [1.0, 1.0, 0.25, 1.0, 0.25, 1.0]);
    assert_eq!(plan.init_mult, [1.0, 1.0, 1.0, 1.0, 0.25, 1.0]);
    let g = gpu();
    let (a, b) = (
        Session::new(&g, &sp, 21, 0).unwrap(),
        Session::new(&g, &mup, 21, 0).unwrap(),
    );
    let (ta, tb) = (a.tensors().unwrap(), b.tensors().unwrap());
    assert_eq!(ta.get("layers.1.weight"), tb.get("layers.1.weight"));
    let (wa, wb) = (
        ta.get("layers.2.weight").unwrap(),
        tb.get("layers.2.weight").unwrap(),
    );
    assert!(wa.iter().zip(wb).all(|(x, y)| *y == *x * 0.25));
}

#[test]
fn optimizer_state_is_in_the_memory_plan() {
    let cfg = net(json!({"scheme": "xavier_uniform"}), json!({}));
    let params: u64 = (10 * 16 + 16 + 16 * 16 + 16 + 16 * 4 + 4) * 4;
    let limits = Limits {
        binding: 1 << 30,
        max_buffer: 1 << 30,
    };
    for (train, state) in [
        (Value::Null, 0),
        (json!({"steps": 2, "optimizer": {"name": "sgd"}}), 0),
        (
            json!({"steps": 2, "optimizer": {"name": "sgd", "momentum": 0.9}}),
            params,
        ),
        (adam(2), 2 * params),
    ] {
        let m = model(cfg.clone(), train);
        assert_eq!(m.optimizer_state_bytes(), state);
        let plan = m.memory_plan(limits);
        let named: u64 = plan
            .iter()
            .filter(|t| t.name.starts_with("exp_avg") || t.name.starts_with("momentum_buffer"))
            .map(|t| t.bytes)
            .sum();
        assert_eq!(named, state);
    }
}
