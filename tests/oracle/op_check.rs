//! Per-op checks of a residual stack on the GPU against the oracle: every
//! tensor of one step is read back, and each op's forward and backward pass
//! is recomputed in f64 from the GPU's own inputs (so errors cannot
//! compound). Shared by tests/residual_gpu.rs and tests/attention_gpu.rs,
//! which add their op-specific checks through a hook.

use super::loss_and_grad;
use super::ops::{add_into, op_backward, op_forward};
use initscope::exec::Session;
use initscope::gpu::Gpu;
use initscope::model::build::residual::build_residual;
use initscope::model::residual::ResidualSpec;
use initscope::model::{ActId, GradStore, Model, Op, ParamId};

/// Compares a GPU tensor with the oracle's (what, gpu, oracle).
pub type Close<'a> = &'a dyn Fn(&str, &[f64], &[f64]);

pub fn wide(v: Vec<f32>) -> Vec<f64> {
    v.into_iter().map(f64::from).collect()
}

/// Every tensor of one GPU step, widened to f64.
pub struct Readback {
    pub acts: Vec<Vec<f64>>,
    pub grads: Vec<Option<Vec<f64>>>,
    pub params: Vec<Vec<f64>>,
    pub param_grads: Vec<Vec<f64>>,
    pub target: Option<Vec<f64>>,
}

pub fn read_all(s: &Session<'_>, m: &Model) -> Readback {
    let n = m.acts.len();
    Readback {
        acts: (0..n)
            .map(|i| wide(s.read_act(ActId(i)).unwrap()))
            .collect(),
        grads: (0..n)
            .map(|i| s.read_grad(ActId(i)).unwrap().map(wide))
            .collect(),
        params: (s.tensors().unwrap().params.into_iter())
            .map(|(_, _, v)| wide(v))
            .collect(),
        param_grads: (0..m.params.len())
            .map(|i| wide(s.read_param_grad(ParamId(i)).unwrap()))
            .collect(),
        target: s.read_target().unwrap().map(wide),
    }
}

/// Runs `spec` with every gradient stored and checks each op in isolation:
/// its output, then `extra(k, op, model, tensors)` for what the op saves
/// besides, the loss gradient, and every activation and parameter gradient
/// summed over consumers.
pub fn check_ops(
    gpu: &Gpu,
    spec: &ResidualSpec,
    seed: u64,
    close: Close<'_>,
    extra: &dyn Fn(usize, &Op, &Model, &Readback),
) {
    let mut m = build_residual(spec, None).unwrap();
    for a in &mut m.acts {
        if matches!(a.grad, GradStore::Scratch(_)) {
            a.grad = GradStore::Full;
        }
    }
    let s = Session::new(gpu, &m, seed, 0).unwrap();
    s.step().unwrap();
    let t = read_all(&s, &m);
    for (k, op) in m.ops.iter().enumerate() {
        let y = op_forward(&m, op, &t.acts, &t.params);
        close(
            &format!("op {k} forward {op:?}"),
            &t.acts[op.output().0],
            &y,
        );
        extra(k, op, &m, &t);
    }
    // Backward from the GPU's own output gradients, summed over consumers.
    let out = &t.acts[m.output.0];
    let (_, dout) = loss_and_grad(out, m.loss, t.target.as_deref()).unwrap();
    close(
        "loss gradient",
        t.grads[m.output.0].as_ref().unwrap(),
        &dout,
    );
    let mut grads: Vec<Vec<f64>> = vec![Vec::new(); m.acts.len()];
    let mut pgrads: Vec<Vec<f64>> = vec![Vec::new(); m.params.len()];
    for op in m.ops.iter().rev() {
        let dy = t.grads[op.output().0]
            .as_ref()
            .expect("every gradient is stored");
        let (dx, dp) = op_backward(&m, op, &t.acts, &t.params, dy);
        for (id, g) in dx {
            add_into(&mut grads[id.0], &g);
        }
        for (id, g) in dp {
            add_into(&mut pgrads[id.0], &g);
        }
    }
    for (i, g) in grads.iter().enumerate() {
        if let (false, Some(gg)) = (g.is_empty(), &t.grads[i]) {
            close(&format!("gradient of {}", m.acts[i].label), gg, g);
        }
    }
    for (i, g) in pgrads.iter().enumerate() {
        let what = format!("gradient of {}", m.params[i].name);
        close(&what, &t.param_grads[i], g);
    }
}
