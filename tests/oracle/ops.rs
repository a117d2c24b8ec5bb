//! The f64 oracle of every executor op (linear, activation, norm, scale,
//! add, attention), and of a whole [`Model`] built from them: forward, loss, backward
//! with gradients accumulated over consumers, exactly as the executor's
//! contract says, in f64 from the tensors handed in.
//!
//! Norms follow torch: LayerNorm's variance is biased (1/cols), RMSNorm's
//! x̂ = x/√(mean(x²) + eps); the oracle recomputes each row's statistics.

use super::{axpy, loss_and_grad, matmul, transpose};
use initscope::model::{ActId, Model, NormKind, Op, ParamId};

/// Y (rows × fo) = X (rows × fi)·Wᵀ (+ b), W (fo × fi).
pub fn linear_forward(
    x: &[f64],
    rows: usize,
    w: &[f64],
    b: Option<&[f64]>,
    fi: usize,
    fo: usize,
) -> Vec<f64> {
    let mut y = matmul(x, &transpose(w, fo, fi), rows, fi, fo);
    if let Some(b) = b {
        for row in y.chunks_exact_mut(fo) {
            axpy(1.0, b, row);
        }
    }
    y
}

/// (dX, dW, db) of a linear layer from dY.
pub fn linear_backward(
    x: &[f64],
    dy: &[f64],
    rows: usize,
    w: &[f64],
    fi: usize,
    fo: usize,
) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let dx = matmul(dy, w, rows, fo, fi);
    let dw = matmul(&transpose(dy, rows, fo), x, fo, rows, fi);
    let mut db = vec![0.0; fo];
    for row in dy.chunks_exact(fo) {
        axpy(1.0, row, &mut db);
    }
    (dx, dw, db)
}

/// Each row's (mean, 1/σ) as the norm defines them (mean 0 for RMSNorm).
pub fn norm_stats(x: &[f64], cols: usize, kind: NormKind, eps: f64) -> Vec<(f64, f64)> {
    x.chunks_exact(cols)
        .map(|row| {
            let n = cols as f64;
            let mean = match kind {
                NormKind::LayerNorm => row.iter().sum::<f64>() / n,
                NormKind::RmsNorm => 0.0,
            };
            let var = row.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
            (mean, 1.0 / (var + eps).sqrt())
        })
        .collect()
}

/// y = x̂·w (+ b) per row.
pub fn norm_forward(
    x: &[f64],
    cols: usize,
    w: &[f64],
    b: Option<&[f64]>,
    kind: NormKind,
    eps: f64,
) -> Vec<f64> {
    let st = norm_stats(x, cols, kind, eps);
    let mut y = Vec::with_capacity(x.len());
    for (row, (mean, rstd)) in x.chunks_exact(cols).zip(st) {
        for j in 0..cols {
            y.push((row[j] - mean) * rstd * w[j] + b.map_or(0.0, |b| b[j]));
        }
    }
    y
}

/// (dx, dw, db) of a norm from dy.
pub fn norm_backward(
    x: &[f64],
    dy: &[f64],
    cols: usize,
    w: &[f64],
    kind: NormKind,
    eps: f64,
) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let st = norm_stats(x, cols, kind, eps);
    let n = cols as f64;
    let (mut dx, mut dw, mut db) = (
        Vec::with_capacity(x.len()),
        vec![0.0; cols],
        vec![0.0; cols],
    );
    for ((row, drow), (mean, rstd)) in x.chunks_exact(cols).zip(dy.chunks_exact(cols)).zip(st) {
        let xh: Vec<f64> = row.iter().map(|v| (v - mean) * rstd).collect();
        let g: Vec<f64> = drow.iter().zip(w).map(|(d, w)| d * w).collect();
        let mg = match kind {
            NormKind::LayerNorm => g.iter().sum::<f64>() / n,
            NormKind::RmsNorm => 0.0,
        };
        let mgx = g.iter().zip(&xh).map(|(g, x)| g * x).sum::<f64>() / n;
        for j in 0..cols {
            dx.push(rstd * (g[j] - mg - xh[j] * mgx));
            dw[j] += drow[j] * xh[j];
            db[j] += drow[j];
        }
    }
    (dx, dw, db)
}

/// The output of `op` from its inputs in `acts` and the parameters.
pub fn op_forward(model: &Model, op: &Op, acts: &[Vec<f64>], params: &[Vec<f64>]) -> Vec<f64> {
    let rows = model.batch;
    match *op {
        Op::Linear { x, y, w, b } => {
            let (fi, fo) = (model.act(x).cols, model.act(y).cols);
            linear_forward(
                &acts[x.0],
                rows,
                &params[w.0],
                b.map(|b| params[b.0].as_slice()),
                fi,
                fo,
            )
        }
        Op::Activation { x, act, .. } => acts[x.0].iter().map(|&v| act.forward(v)).collect(),
        Op::Norm {
            x, w, b, kind, eps, ..
        } => {
            let cols = model.act(x).cols;
            norm_forward(
                &acts[x.0],
                cols,
                &params[w.0],
                b.map(|b| params[b.0].as_slice()),
                kind,
                f64::from(eps),
            )
        }
        Op::Scale { x, factor, .. } => acts[x.0].iter().map(|v| f64::from(factor) * v).collect(),
        Op::Add {
            skip,
            branch,
            skip_scale,
            ..
        } => acts[skip.0]
            .iter()
            .zip(&acts[branch.0])
            .map(|(s, b)| f64::from(skip_scale) * s + b)
            .collect(),
        Op::Attention { qkv, .. } => super::attention::forward(&acts[qkv.0], &attn_of(model, op)).0,
    }
}

/// The oracle's description of an attention op.
pub fn attn_of(model: &Model, op: &Op) -> super::attention::Attn {
    match *op {
        Op::Attention {
            y,
            heads,
            seq,
            causal,
            scale,
            ..
        } => super::attention::Attn {
            rows: model.batch,
            width: model.act(y).cols,
            heads,
            seq,
            causal,
            scale: f64::from(scale),
        },
        _ => panic!("not an attention op"),
    }
}

/// Gradients an op's backward pass contributes: to row tensors, to parameters.
pub type Contributions = (Vec<(ActId, Vec<f64>)>, Vec<(ParamId, Vec<f64>)>);

/// The gradients `op`'s backward pass contributes: to its inputs and to its
/// parameters, from the gradient `dy` of its output.
pub fn op_backward(
    model: &Model,
    op: &Op,
    acts: &[Vec<f64>],
    params: &[Vec<f64>],
    dy: &[f64],
) -> Contributions {
    let rows = model.batch;
    match *op {
        Op::Linear { x, y, w, b } => {
            let (fi, fo) = (model.act(x).cols, model.act(y).cols);
            let (dx, dw, db) = linear_backward(&acts[x.0], dy, rows, &params[w.0], fi, fo);
            let mut p = vec![(w, dw)];
            p.extend(b.map(|b| (b, db)));
            (vec![(x, dx)], p)
        }
        Op::Activation { x, act, .. } => {
            let dx = acts[x.0]
                .iter()
                .zip(dy)
                .map(|(&h, d)| d * act.derivative(h))
                .collect();
            (vec![(x, dx)], vec![])
        }
        Op::Norm {
            x, w, b, kind, eps, ..
        } => {
            let cols = model.act(x).cols;
            let (dx, dw, db) =
                norm_backward(&acts[x.0], dy, cols, &params[w.0], kind, f64::from(eps));
            let mut p = vec![(w, dw)];
            p.extend(b.map(|b| (b, db)));
            (vec![(x, dx)], p)
        }
        Op::Scale { x, factor, .. } => (
            vec![(x, dy.iter().map(|d| f64::from(factor) * d).collect())],
            vec![],
        ),
        Op::Add {
            skip,
            branch,
            skip_scale,
            ..
        } => (
            vec![
                (skip, dy.iter().map(|d| f64::from(skip_scale) * d).collect()),
                (branch, dy.to_vec()),
            ],
            vec![],
        ),
        Op::Attention { qkv, .. } => {
            let g = super::attention::backward(&acts[qkv.0], dy, &attn_of(model, op));
            (vec![(qkv, g)], vec![])
        }
    }
}

/// Every tensor of one forward and backward pass of a whole model.
pub struct ModelPass {
    pub acts: Vec<Vec<f64>>,
    /// Per row tensor: the gradient summed over its consumers (empty for
    /// tensors no gradient reaches, such as the input).
    pub grads: Vec<Vec<f64>>,
    pub param_grads: Vec<Vec<f64>>,
    pub loss: f64,
}

/// Forward, loss and backward of `model` in f64 from `input`, the
/// parameters and (for `mse`) the target.
pub fn model_pass(
    model: &Model,
    input: &[f64],
    params: &[Vec<f64>],
    target: Option<&[f64]>,
) -> ModelPass {
    let mut acts: Vec<Vec<f64>> = vec![Vec::new(); model.acts.len()];
    acts[model.input.0] = input.to_vec();
    for op in &model.ops {
        acts[op.output().0] = op_forward(model, op, &acts, params);
    }
    let (loss, dout) = loss_and_grad(&acts[model.output.0], model.loss, target).expect("loss");
    let mut grads: Vec<Vec<f64>> = vec![Vec::new(); model.acts.len()];
    grads[model.output.0] = dout;
    let mut param_grads: Vec<Vec<f64>> = model.params.iter().map(|p| vec![0.0; p.len()]).collect();
    for op in model.ops.iter().rev() {
        let dy = grads[op.output().0].clone();
        let (dx, dp) = op_backward(model, op, &acts, params, &dy);
        for (id, g) in dx {
            add_into(&mut grads[id.0], &g);
        }
        for (id, g) in dp {
            add_into(&mut param_grads[id.0], &g);
        }
    }
    ModelPass {
        acts,
        grads,
        param_grads,
        loss,
    }
}

/// `acc += g`, starting from `g` when `acc` is empty.
pub fn add_into(acc: &mut Vec<f64>, g: &[f64]) {
    if acc.is_empty() {
        *acc = g.to_vec();
    } else {
        axpy(1.0, g, acc);
    }
}
