//! The f64 training oracle: softmax cross-entropy, and torch.optim's SGD,
//! Adam and AdamW with the schedule, written from torch's documented
//! formulas independently of the shaders.

use super::{RefLayer, RefPass, forward_backward_with, loss_and_grad};
use initscope::config::Loss;
use initscope::train::{Optimizer, Schedule};

/// What the loss compares the output with.
#[derive(Debug, Clone, Copy)]
pub enum RefTarget<'a> {
    /// No target (mean, sum, mean_square).
    None,
    /// MSE's target rows.
    Rows(&'a [f64]),
    /// Cross-entropy's class labels, one per row.
    Labels(&'a [usize]),
}

/// `F.cross_entropy(y, labels)` over rows of `classes` logits (mean over
/// rows) and its gradient.
pub fn cross_entropy(
    y: &[f64],
    classes: usize,
    labels: &[usize],
) -> Result<(f64, Vec<f64>), String> {
    if classes == 0 || y.len() != labels.len() * classes {
        return Err(format!(
            "{} logits for {} labels of {classes} classes",
            y.len(),
            labels.len()
        ));
    }
    let rows = labels.len() as f64;
    let (mut loss, mut grad) = (0.0, vec![0.0; y.len()]);
    for ((row, g), &label) in y.chunks(classes).zip(grad.chunks_mut(classes)).zip(labels) {
        let m = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let s: f64 = row.iter().map(|v| (v - m).exp()).sum();
        loss += m + s.ln() - row[label];
        for (j, (gj, v)) in g.iter_mut().zip(row).enumerate() {
            *gj = ((v - m).exp() / s - f64::from(u8::from(j == label))) / rows;
        }
    }
    Ok((loss / rows, grad))
}

/// One pass of `layers` on `input` under `loss`.
pub fn pass(
    input: &[f64],
    batch: usize,
    layers: &[RefLayer],
    loss: Loss,
    target: RefTarget<'_>,
) -> Result<RefPass, String> {
    let classes = layers.last().map_or(0, |l| l.fan_out);
    forward_backward_with(input, batch, layers, &|y| match target {
        RefTarget::Labels(l) => cross_entropy(y, classes, l),
        RefTarget::Rows(t) => loss_and_grad(y, loss, Some(t)),
        RefTarget::None => loss_and_grad(y, loss, None),
    })
}

/// A parameter tensor's optimizer state.
#[derive(Debug, Clone, Default)]
struct State {
    s1: Vec<f64>,
    s2: Vec<f64>,
}

/// torch's update `t` (1-based) of `p` with gradient `g` at rate `lr`.
fn update(opt: &Optimizer, p: &mut [f64], g: &[f64], st: &mut State, lr: f64, t: i32) {
    if st.s1.is_empty() {
        st.s1 = vec![0.0; p.len()];
        st.s2 = vec![0.0; p.len()];
    }
    match *opt {
        Optimizer::Sgd {
            momentum,
            dampening,
            nesterov,
            weight_decay,
            ..
        } => {
            for i in 0..p.len() {
                let mut d = g[i] + weight_decay * p[i];
                if momentum != 0.0 {
                    st.s1[i] = if t == 1 {
                        d
                    } else {
                        momentum * st.s1[i] + (1.0 - dampening) * d
                    };
                    d = if nesterov {
                        d + momentum * st.s1[i]
                    } else {
                        st.s1[i]
                    };
                }
                p[i] -= lr * d;
            }
        }
        Optimizer::Adam {
            beta1,
            beta2,
            eps,
            weight_decay,
            decoupled,
            ..
        } => {
            let (bc1, bc2) = (1.0 - beta1.powi(t), 1.0 - beta2.powi(t));
            for i in 0..p.len() {
                let mut grad = g[i];
                if decoupled {
                    p[i] *= 1.0 - lr * weight_decay;
                } else {
                    grad += weight_decay * p[i];
                }
                st.s1[i] = beta1 * st.s1[i] + (1.0 - beta1) * grad;
                st.s2[i] = beta2 * st.s2[i] + (1.0 - beta2) * grad * grad;
                p[i] -= lr / bc1 * st.s1[i] / (st.s2[i].sqrt() / bc2.sqrt() + eps);
            }
        }
    }
}

/// The training of `layers` on a fixed batch: the loss at steps 0..=steps
/// and, per layer, the norm of the weight's update that led to each step
/// (0 at step 0).
pub struct RefTraining {
    pub losses: Vec<f64>,
    pub update_norms: Vec<Vec<f64>>,
    /// The final weights.
    pub layers: Vec<RefLayer>,
}

/// The data and loss of a training problem (a fixed batch).
#[derive(Debug, Clone, Copy)]
pub struct Problem<'a> {
    pub input: &'a [f64],
    pub batch: usize,
    pub loss: Loss,
    pub target: RefTarget<'a>,
}

/// Trains `layers` on `p` for `steps` updates of `opt` under `schedule`.
pub fn train(
    p: Problem<'_>,
    mut layers: Vec<RefLayer>,
    opt: &Optimizer,
    schedule: &Schedule,
    steps: u32,
) -> Result<RefTraining, String> {
    let Problem {
        input,
        batch,
        loss,
        target,
    } = p;
    let mut states = vec![(State::default(), State::default()); layers.len()];
    let mut losses = Vec::new();
    let mut update_norms = vec![vec![0.0; layers.len()]];
    for k in 0..=steps {
        let pass = pass(input, batch, &layers, loss, target)?;
        losses.push(pass.loss);
        if k == steps {
            break;
        }
        let lr = opt_lr(opt) * schedule.factor(k, steps);
        let mut norms = Vec::new();
        for ((l, lp), (sw, sb)) in layers.iter_mut().zip(&pass.layers).zip(&mut states) {
            let before = l.weight.clone();
            update(opt, &mut l.weight, &lp.grad_weight, sw, lr, k as i32 + 1);
            if let (Some(b), Some(gb)) = (l.bias.as_mut(), lp.grad_bias.as_ref()) {
                update(opt, b, gb, sb, lr, k as i32 + 1);
            }
            let d: f64 = l
                .weight
                .iter()
                .zip(&before)
                .map(|(a, b)| (a - b) * (a - b))
                .sum();
            norms.push(d.sqrt());
        }
        update_norms.push(norms);
    }
    Ok(RefTraining {
        losses,
        update_norms,
        layers,
    })
}

fn opt_lr(opt: &Optimizer) -> f64 {
    opt.lr()
}

/// The training of a whole [`initscope::model::Model`] (any ops: residual
/// stacks) on a fixed batch: the loss at steps 0..=steps, the gradients at
/// step 0, and per step the norm of each parameter's update and of the
/// parameter before it (zeros at step 0).
pub struct RefModelTraining {
    pub losses: Vec<f64>,
    pub grads0: Vec<Vec<f64>>,
    /// `[step][param]`: (‖p_k − p_(k−1)‖, ‖p_(k−1)‖).
    pub updates: Vec<Vec<(f64, f64)>>,
    pub params: Vec<Vec<f64>>,
}

/// Trains every parameter of `model` (one parameter group, as torch) from
/// `params` for `steps` updates; parameter i's rate is multiplied by
/// `lr_mult[i]` (muP).
pub fn train_model(
    model: &initscope::model::Model,
    input: &[f64],
    mut params: Vec<Vec<f64>>,
    target: Option<&[f64]>,
    plan: &initscope::model::train::TrainPlan,
) -> RefModelTraining {
    let steps = plan.config.steps;
    let mut states = vec![State::default(); params.len()];
    let (mut losses, mut grads0) = (Vec::new(), Vec::new());
    let mut updates = vec![vec![(0.0, 0.0); params.len()]];
    for k in 0..=steps {
        let pass = super::ops::model_pass(model, input, &params, target);
        losses.push(pass.loss);
        if k == 0 {
            grads0 = pass.param_grads.clone();
        }
        if k == steps {
            break;
        }
        let lr = plan.optimizer.lr() * plan.config.schedule.factor(k, steps);
        let mut norms = Vec::new();
        for (i, (p, g)) in params.iter_mut().zip(&pass.param_grads).enumerate() {
            let before = p.clone();
            let rate = lr * plan.lr_mult[i];
            update(&plan.optimizer, p, g, &mut states[i], rate, k as i32 + 1);
            let d: f64 = (p.iter().zip(&before))
                .map(|(a, b)| (a - b) * (a - b))
                .sum();
            let w: f64 = before.iter().map(|b| b * b).sum();
            norms.push((d.sqrt(), w.sqrt()));
        }
        updates.push(norms);
    }
    RefModelTraining {
        losses,
        grads0,
        updates,
        params,
    }
}
