//! What training adds to a model: the resolved optimizer and schedule, each
//! parameter's muP multipliers, and the units whose updates and symmetry
//! are recorded.

use super::{LayerField, Model, Op, ParamId, StatKey, StatSource, TensorField};
use crate::train::mup::{ParamKind, multipliers};
use crate::train::{Optimizer, Parametrization, TrainConfig};

/// The training of one run, resolved against its model.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainPlan {
    pub config: TrainConfig,
    pub optimizer: Optimizer,
    /// Learning-rate multiplier of each parameter (1 unless muP).
    pub lr_mult: Vec<f64>,
    /// Init multiplier of each parameter, applied after init and LSUV (1 unless muP).
    pub init_mult: Vec<f64>,
}

impl TrainPlan {
    /// The labels of parameter `p`'s optimizer state tensors, e.g.
    /// `exp_avg w[3]` (allocation and the memory plan share them).
    pub fn state_labels(&self, p: &super::Param) -> Vec<String> {
        self.optimizer
            .state_tensors()
            .iter()
            .map(|s| format!("{s} {}", p.label))
            .collect()
    }
}

/// A unit of the per-step records: a layer's weight (and bias), whose unit
/// symmetry is recorded (linear stacks: each layer; residual stacks: each
/// block's fc1 and fc2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrainUnit {
    /// The layer (linear stacks) or block (residual stacks) the record
    /// belongs to.
    pub index: usize,
    pub weight: ParamId,
    pub bias: Option<ParamId>,
}

impl TrainPlan {
    /// Resolves `config` for `model`.
    pub fn new(model: &Model, config: &TrainConfig) -> TrainPlan {
        let optimizer = config.optimizer.resolve();
        let n = model.params.len();
        let (mut lr_mult, mut init_mult) = (vec![1.0; n], vec![1.0; n]);
        if config.parametrization == Parametrization::Mup {
            for (i, p) in model.params.iter().enumerate() {
                let kind = model.param_kind(ParamId(i));
                // Residual stacks scale every fan with the width (the base
                // model keeps the run's ff_width/width ratio), so each
                // hidden matrix's multiplier is width/base_width.
                let (fan_in, fan_out) = match &model.residual {
                    Some(r) => (r.width, r.width),
                    None => (p.fan_in, p.fan_out),
                };
                let (lr, init) = multipliers(
                    kind,
                    fan_in,
                    fan_out,
                    config.base_width,
                    optimizer.is_adaptive(),
                );
                (lr_mult[i], init_mult[i]) = (lr, init);
            }
        }
        TrainPlan {
            config: config.clone(),
            optimizer,
            lr_mult,
            init_mult,
        }
    }
}

/// Whether a statistic is part of the per-step training records (the rest,
/// and every histogram, is reduced at step 0 only). Residual stacks record
/// their blocks, the parameters' gradients and the output (the loss reads it).
pub fn in_train_record(key: &StatKey) -> bool {
    matches!(
        key,
        StatKey::Loss
            | StatKey::Layer(
                _,
                LayerField::Act | LayerField::GradWeight | LayerField::GradAct
            )
            | StatKey::Block(..)
            | StatKey::Tensor(_, TensorField::Grad)
            | StatKey::Output(_)
    )
}

impl Model {
    /// Where parameter `id` sits: the matrix of the last linear op is the
    /// output, matrices reading the input are input weights, other matrices
    /// hidden, and everything with one column a vector.
    pub fn param_kind(&self, id: ParamId) -> ParamKind {
        if self.param(id).cols == 1 {
            return ParamKind::Vector;
        }
        // A residual stack's output is its stream: no readout matrix, so
        // every matrix but the input projection is hidden.
        if self.residual.is_some() {
            return if self.param(id).name == "input_proj.weight" {
                ParamKind::InputWeight
            } else {
                ParamKind::HiddenWeight
            };
        }
        let last = self.ops.iter().rev().find_map(|op| match op {
            Op::Linear { w, .. } => Some(*w),
            _ => None,
        });
        let reads_input = self
            .ops
            .iter()
            .any(|op| matches!(op, Op::Linear { x, w, .. } if *w == id && *x == self.input));
        if last == Some(id) {
            ParamKind::OutputWeight
        } else if reads_input {
            ParamKind::InputWeight
        } else {
            ParamKind::HiddenWeight
        }
    }

    /// The units of the per-step records: each layer's weight and bias, as
    /// the statistic requests name them.
    pub fn train_units(&self) -> Vec<TrainUnit> {
        if let Some(res) = &self.residual {
            // in_proj_weight's bias is in_proj_bias; the others' `.bias`.
            let bias = |w: ParamId| {
                let name = (self.param(w).name)
                    .replace("in_proj_weight", "in_proj_bias")
                    .replace(".weight", ".bias");
                (self.params.iter().position(|p| p.name == name)).map(ParamId)
            };
            return (res.blocks.iter())
                .flat_map(|b| {
                    let attn = self.attn_weights(b.index).into_iter().flatten();
                    [b.fc1, b.fc2].into_iter().chain(attn).map(|w| (b.index, w))
                })
                .map(|(index, weight)| TrainUnit {
                    index,
                    weight,
                    bias: bias(weight),
                })
                .collect();
        }
        let param_of = |i: usize, f: LayerField| {
            self.stats.iter().find_map(|r| match (&r.key, r.source) {
                (StatKey::Layer(j, g), StatSource::Param(p)) if *j == i && *g == f => Some(p),
                _ => None,
            })
        };
        self.layers
            .iter()
            .filter_map(|l| {
                Some(TrainUnit {
                    index: l.index,
                    weight: param_of(l.index, LayerField::Weight)?,
                    bias: param_of(l.index, LayerField::Bias),
                })
            })
            .collect()
    }

    /// Block `i`'s attention weights `[in_proj_weight, out_proj.weight]`
    /// (blocks with attention).
    pub fn attn_weights(&self, i: usize) -> Option<[ParamId; 2]> {
        let block = self
            .residual
            .as_ref()?
            .blocks
            .iter()
            .find(|b| b.index == i)?;
        let attn = block.attn.as_ref()?;
        let named = |suffix: &str| {
            (attn.params.iter().copied()).find(|&p| self.param(p).name.ends_with(suffix))
        };
        Some([
            named("attn.in_proj_weight")?,
            named("attn.out_proj.weight")?,
        ])
    }

    /// The parameters whose update norms are recorded: each unit's weight
    /// (linear stacks), every parameter (residual stacks, whose block
    /// records also hold the update of all the block's parameters).
    pub fn update_params(&self) -> Vec<ParamId> {
        if self.residual.is_some() {
            return (0..self.params.len()).map(ParamId).collect();
        }
        self.train_units().iter().map(|u| u.weight).collect()
    }

    /// The parameters of residual block `i` (export keys `blocks.{i}.*`).
    pub fn block_params(&self, i: usize) -> Vec<ParamId> {
        let prefix = format!("blocks.{i}.");
        (self.params.iter().enumerate())
            .filter(|(_, p)| p.name.starts_with(&prefix))
            .map(|(k, _)| ParamId(k))
            .collect()
    }

    /// The row tensor holding the per-row loss (cross-entropy), if any.
    pub fn loss_rows(&self) -> Option<super::ActId> {
        self.stats.iter().find_map(|r| match (&r.key, r.source) {
            (StatKey::Loss, StatSource::Act(a)) => Some(a),
            _ => None,
        })
    }
}
