//! An estimate of a run's work, used to balance the shards of a plan
//! (`run --shard K/N`). Units are "flop-equivalents": floating-point
//! operations, with latency-bound work weighted by how slowly it ran where
//! it was measured. Only the ratios between runs matter, so the numbers
//! need to be right within a factor of two, not exactly.
//!
//! New ops state their cost in [`Op::flops`] (the match is exhaustive on
//! purpose, so an op cannot be added without one); new kinds of work (a
//! Jacobian) extend [`Model::cost`], as the training steps do.

use super::{Model, Op, StatSource};
use crate::init::{Component, Sampler};

/// Per-run overhead (allocation, submission, readback, bookkeeping) in
/// flop-equivalents: a 2-layer, 16-wide run took 0.7% of a 512-wide,
/// 8-layer one on lavapipe, nearly all of it this. It also keeps every
/// cost positive.
const RUN_OVERHEAD: u64 = 20_000_000;
/// One Philox block plus a Box-Muller (or inverse-CDF) transform per element.
const DRAW_FLOPS: u64 = 40;
/// Forward plus derivative of an activation, per element (tanh, GELU's erf).
const ACTIVATION_FLOPS: u64 = 30;
/// LayerNorm/RMSNorm forward and backward, per element: about 8 flops
/// forward (two reductions, normalise, affine) and 12 backward (x̂ again,
/// two row sums, dx, dw and db accumulation).
const NORM_FLOPS: u64 = 20;
/// One pass of the statistics reduction, per element (shifted moments, the
/// scaled sum of squares, min/max, counts).
const REDUCE_FLOPS: u64 = 12;
/// Householder orthogonalisation is latency-bound (one reflector at a
/// time). On lavapipe the orthogonal init of 8-layer stacks of 256x256 and
/// 512x512 weights took 4.4 s and 35 s, 6-10x their forward + backward
/// step at batch 256; 8 x 4·m·k² matches both to within 5% of the total.
const ORTHOGONAL_PENALTY: u64 = 8;
/// Fixed cost of one dispatch (an op's pass, a statistic's reduction, a
/// tensor's fill): it dominates deep, narrow stacks (fitted to a 32-layer,
/// 64-wide stack against 256- and 512-wide 8-layer ones on lavapipe).
const DISPATCH_FLOPS: u64 = 1_500_000;
/// LSUV rarely needs more than a few rescales; each one runs the weight's
/// op forward and reduces its output (the ops before it run once).
const LSUV_ITERATIONS: u64 = 4;

/// One optimizer update per parameter element: Adam reads the gradient,
/// both moments and the weight, and writes three of them (about 15 flops
/// and 7 memory accesses); SGD with momentum about half of that. One figure
/// for all: the shards need ratios within a factor of two.
const UPDATE_FLOPS: u64 = 16;
/// Per recorded training step: the readback and the host's bookkeeping.
const RECORD_OVERHEAD: u64 = 2 * DISPATCH_FLOPS;

/// The estimated work of one run, in flop-equivalents.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cost {
    /// Drawing and scaling every parameter and the input (orthogonal and LSUV included).
    pub init: u64,
    /// One forward and backward step with its statistics.
    pub step: u64,
    /// The training steps after step 0 (updates, their forward and backward
    /// passes, fresh batches and the records); 0 without a `train` block.
    pub train: u64,
}

impl Cost {
    /// Everything a run does, plus the fixed per-run overhead (never 0).
    pub fn total(&self) -> u64 {
        RUN_OVERHEAD
            .saturating_add(self.init)
            .saturating_add(self.step)
            .saturating_add(self.train)
    }
}

impl Op {
    /// FLOPs of this op's forward and backward passes over `batch` rows.
    pub fn flops(&self, m: &Model) -> u64 {
        let b = m.batch as u64;
        match self {
            Op::Linear { w, b: bias, .. } => {
                let p = m.param(*w);
                // Y = X·Wᵀ forward; dX = dY·W and dW = dYᵀ·X backward.
                let gemm = 6 * b * p.rows as u64 * p.cols as u64;
                gemm + bias.map_or(0, |_| 2 * b * p.rows as u64)
            }
            Op::Activation { y, .. } => ACTIVATION_FLOPS * b * m.act(*y).cols as u64,
            // Two row reductions (mean, variance) and the affine map forward;
            // backward recomputes x̂ and reduces two row sums, plus dw/db sums.
            Op::Norm { y, .. } => NORM_FLOPS * b * m.act(*y).cols as u64,
            // One multiply each way.
            Op::Scale { y, .. } => 2 * b * m.act(*y).cols as u64,
            // A multiply-add forward; backward scales the skip gradient and
            // accumulates both inputs' gradients.
            Op::Add { y, .. } => 4 * b * m.act(*y).cols as u64,
            // QKᵀ and P·V forward (2·seq·width each per row), dP, dQ, dK and
            // dV backward (4 more), the softmax and its backward per logit.
            Op::Attention { y, heads, seq, .. } => {
                let (w, s) = (m.act(*y).cols as u64, *seq as u64);
                12 * b * s * w + 20 * b * *heads as u64 * s
            }
        }
    }
}

/// Work of drawing `len` elements with `sampler` into a `rows` x `cols` tensor.
fn sampler_flops(sampler: &Sampler, rows: u64, cols: u64) -> u64 {
    let len = rows * cols;
    match sampler {
        Sampler::Elementwise(parts) => {
            let draws: u64 = parts
                .iter()
                .map(|(_, c)| match c {
                    Component::Constant(_) => 1,
                    // Rejection-free, but an erfinv per element.
                    Component::TruncNormal { .. } => 2 * DRAW_FLOPS,
                    Component::Uniform { .. } | Component::Normal { .. } => DRAW_FLOPS,
                })
                .sum();
            // A mixture draws a selector besides its components.
            len * (draws + u64::from(parts.len() > 1) * DRAW_FLOPS)
        }
        Sampler::Sparse { .. } => 2 * len * DRAW_FLOPS,
        Sampler::Orthogonal { .. } => {
            let (m, k) = (rows.max(cols), rows.min(cols));
            len * DRAW_FLOPS + ORTHOGONAL_PENALTY * 4 * m * k * k
        }
        Sampler::Values(_) => len,
    }
}

impl Model {
    /// The estimated work of this run.
    pub fn cost(&self) -> Cost {
        let b = self.batch as u64;
        let ops: u64 = self
            .ops
            .iter()
            .map(|op| op.flops(self) + 2 * DISPATCH_FLOPS)
            .sum();
        let mut init = sampler_flops(&self.input_sampler, b, self.act(self.input).cols as u64);
        for p in &self.params {
            init += sampler_flops(&p.sampler, p.rows as u64, p.cols as u64) + DISPATCH_FLOPS;
            if p.lsuv.is_some() {
                let rescale = 2 * b * p.len() as u64 + REDUCE_FLOPS * b * p.rows as u64;
                init += LSUV_ITERATIONS * (rescale + 3 * DISPATCH_FLOPS);
            }
        }
        if self.params.iter().any(|p| p.lsuv.is_some()) {
            // The forward pass is about a third of forward + backward.
            init += ops / 3;
        }
        let reduced: u64 = self
            .stats
            .iter()
            .map(|s| {
                let elems = match s.source {
                    StatSource::Act(a) | StatSource::Grad(a) => b * self.act(a).cols as u64,
                    StatSource::Param(p) | StatSource::ParamGrad(p) => self.param(p).len() as u64,
                };
                // A histogram is a second pass over the same elements.
                (elems * REDUCE_FLOPS + DISPATCH_FLOPS) * (1 + u64::from(s.histogram))
            })
            .sum();
        Cost {
            init,
            step: ops + reduced + self.jacobian_cost(),
            train: self.train_cost(ops),
        }
    }

    /// The Jacobian spectra: per input and per depth d (the listed ones and
    /// the whole network), a forward and a backward QR half-sweep over d
    /// layers (GEMMs n·n·k, a QR 4·n·k², the graded product's two k³
    /// GEMMs; QR weighted like orthogonal init: latency-bound), then the
    /// host Jacobi SVD (about 8 sweeps of 3·k³).
    fn jacobian_cost(&self) -> u64 {
        let Some(j) = &self.jacobian else {
            return 0;
        };
        let fans: Vec<(u64, u64)> = (self.layers.iter())
            .map(|l| (l.fan_in as u64, l.fan_out as u64))
            .collect();
        let k = fans.iter().map(|f| f.0.min(f.1)).min().unwrap_or(0);
        let depths = j.depths.iter().copied().chain([fans.len()]);
        let per_input: u64 = depths
            .map(|d| {
                let sweep: u64 = (fans.iter().take(d))
                    .map(|&(i, o)| {
                        let n = i.max(o);
                        4 * i * o * k + 2 * ORTHOGONAL_PENALTY * 4 * n * k * k + 4 * k * k * k
                    })
                    .sum();
                sweep + 24 * k * k * k + 8 * d as u64 * DISPATCH_FLOPS
            })
            .sum();
        j.inputs as u64 * per_input
    }

    /// Work of the training steps 1..=steps: per step one forward and
    /// backward pass (`ops`), an update of every parameter and, with fresh
    /// data, a new input batch; per record the reductions of the recorded
    /// statistics, the update norms and the symmetry count.
    fn train_cost(&self, ops: u64) -> u64 {
        let Some(tr) = &self.train else {
            return 0;
        };
        let (b, steps) = (self.batch as u64, u64::from(tr.config.steps));
        let updates: u64 = (self.params.iter())
            .map(|p| UPDATE_FLOPS * p.len() as u64 + DISPATCH_FLOPS)
            .sum();
        let data = match tr.config.data {
            crate::train::DataMode::Fixed => 0,
            crate::train::DataMode::Fresh => {
                2 * DRAW_FLOPS * b * self.act(self.input).cols as u64 + 2 * DISPATCH_FLOPS
            }
        };
        let reduced: u64 = (self.stats.iter())
            .filter(|s| super::train::in_train_record(&s.key))
            .map(|s| match s.source {
                StatSource::Act(a) | StatSource::Grad(a) => b * self.act(a).cols as u64,
                StatSource::Param(p) | StatSource::ParamGrad(p) => self.param(p).len() as u64,
            })
            .map(|elems| elems * REDUCE_FLOPS + DISPATCH_FLOPS)
            .sum();
        // Norms of the recorded parameters and their updates, and the
        // units' symmetry signatures.
        let norms: u64 = (self.update_params().iter())
            .map(|p| 2 * REDUCE_FLOPS * self.param(*p).len() as u64 + 2 * DISPATCH_FLOPS)
            .sum();
        let units: u64 = norms
            + (self.train_units().iter())
                .map(|u| REDUCE_FLOPS * self.param(u.weight).len() as u64 + 2 * DISPATCH_FLOPS)
                .sum::<u64>();
        let records = steps / u64::from(tr.config.every()) + 1;
        steps
            .saturating_mul(ops + updates + data)
            .saturating_add(records.saturating_mul(reduced + units + RECORD_OVERHEAD))
    }
}

#[cfg(test)]
mod tests {
    use crate::config::RunSpec;
    use serde_json::json;

    fn model(network: serde_json::Value, init: serde_json::Value) -> super::Model {
        model_of(json!({"network": network, "init": init, "input": {"batch": 256}}))
    }

    fn model_of(config: serde_json::Value) -> super::Model {
        let config = serde_json::from_value(config).expect("config");
        let spec = RunSpec {
            id: "r000".into(),
            label: "x".into(),
            group: "x".into(),
            variant: None,
            params: Default::default(),
            seed: 1,
            repeat: 0,
            config,
        };
        crate::model::build::build(&spec, None).expect("model")
    }

    #[test]
    fn cost_grows_with_width_depth_and_orthogonal_init() {
        let xavier = json!({"scheme": "xavier_uniform"});
        let net = |w: usize, d: usize| json!({"input_dim": w, "width": w, "depth": d});
        let small = model(net(64, 4), xavier.clone()).cost();
        let wide = model(net(256, 4), xavier.clone()).cost();
        let deep = model(net(64, 16), xavier).cost();
        let ortho = model(net(256, 4), json!({"scheme": "orthogonal"})).cost();
        assert!(small.total() > 0);
        // 16x the GEMM work, but the same number of dispatches.
        assert!(wide.step > 4 * small.step, "{wide:?} vs {small:?}");
        assert!(deep.step > 3 * small.step, "{deep:?} vs {small:?}");
        assert_eq!(wide.step, ortho.step, "init does not change the step");
        assert!(ortho.init > 10 * wide.init, "{ortho:?} vs {wide:?}");
    }

    #[test]
    fn training_costs_about_one_step_per_update() {
        let net = json!({"input_dim": 128, "width": 128, "depth": 4});
        let config = |train: Option<serde_json::Value>| {
            let mut c = json!({"network": net, "input": {"batch": 256}, "loss": {"name": "mse"}});
            if let Some(t) = train {
                c["train"] = t;
            }
            c
        };
        let plain = model_of(config(None)).cost();
        assert_eq!(plain.train, 0);
        let t = |steps: u32| {
            let train = json!({"steps": steps, "optimizer": {"name": "adam"}, "record_every": 10});
            model_of(config(Some(train))).cost()
        };
        let (t10, t100) = (t(10), t(100));
        assert_eq!(t10.step, plain.step, "step 0 is the step at init");
        // Each update costs at least its forward and backward pass.
        assert!(t10.train > 10 * plain.step / 2, "{t10:?} vs {plain:?}");
        assert!(t100.train > 9 * t10.train && t100.train < 11 * t10.train);
        assert!(t100.total() > 50 * plain.total() / 2);
    }
}
