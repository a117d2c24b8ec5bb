//! The training records of a run (`train.steps[]`): per recorded step the
//! loss and the per-layer or per-block statistics and updates.

use super::{TensorStats, nan_if_null};
use serde::{Deserialize, Serialize};

/// The parameter update that led to a recorded step: ‖W_k − W_(k−1)‖ and
/// its ratio to ‖W_(k−1)‖ (both 0 at step 0; the ratio is 0 when
/// ‖W_(k−1)‖ is 0 and the update too, infinite when only the update is not).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct UpdateRecord {
    #[serde(deserialize_with = "nan_if_null")]
    pub norm: f64,
    #[serde(deserialize_with = "nan_if_null")]
    pub ratio: f64,
}

/// One layer at a recorded training step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainLayerRecord {
    pub index: usize,
    pub act: TensorStats,
    pub grad_weight: TensorStats,
    /// Gradient of the loss with respect to the layer's output.
    pub grad_act: TensorStats,
    /// Of the weight.
    pub update: UpdateRecord,
    /// Fraction of the layer's units (rows of W with their bias) that
    /// duplicate another unit of the layer (1 for a constant init, which
    /// training cannot break).
    #[serde(deserialize_with = "nan_if_null")]
    pub symmetry: f64,
}

/// One weight matrix of a residual block at a recorded training step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct TrainWeightRecord {
    /// The gradient of the weight at this step.
    pub grad_weight: TensorStats,
    /// Of the weight: the update that led to this step.
    pub update: UpdateRecord,
    /// Fraction of the matrix's units (rows with their bias) that duplicate
    /// another unit.
    #[serde(deserialize_with = "nan_if_null")]
    pub symmetry: f64,
}

/// One residual block at a recorded training step: the fields of the
/// block's step-0 record, the update of all its parameters together, and
/// each of its two feed-forward matrices.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct TrainBlockRecord {
    pub index: usize,
    /// The block's output: the residual stream after the block.
    pub stream: TensorStats,
    /// dLoss/d(block output).
    pub grad_stream: TensorStats,
    /// a·FF(.), the feed-forward branch as it is added to the stream.
    pub ff_branch: TensorStats,
    /// Of every parameter of the block taken as one vector (norm weight
    /// and bias, fc1 and fc2 weights and biases).
    pub update: UpdateRecord,
    pub fc1: TrainWeightRecord,
    pub fc2: TrainWeightRecord,
    /// a·Attn(.) as it is added to the stream (blocks with attention).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attn_branch: Option<TensorStats>,
    /// `attn.in_proj_weight` (rows: the q, k and v units) and
    /// `attn.out_proj.weight` (blocks with attention).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_proj: Option<TrainWeightRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_proj: Option<TrainWeightRecord>,
    /// The attention logits' std and each head's mean entropy (nats), as in
    /// the run's `blocks[]` (blocks with attention).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attn_logits_std: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attn_entropy: Option<Vec<f64>>,
}

/// One recorded training step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainStep {
    /// 0 = at init, k = after k optimizer updates.
    pub step: u32,
    /// The loss of the model after `step` updates, on that step's batch.
    #[serde(deserialize_with = "nan_if_null")]
    pub loss: f64,
    /// The learning rate of the next update (none after the last step).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lr: Option<f64>,
    /// Linear stacks: one per layer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub layers: Vec<TrainLayerRecord>,
    /// Residual stacks: one per block.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blocks: Vec<TrainBlockRecord>,
}

impl TrainStep {
    /// Layers (linear stacks) or blocks (residual stacks) recorded.
    pub fn depth(&self) -> usize {
        self.layers.len().max(self.blocks.len())
    }

    /// Layer `i`'s activation, or block `i`'s stream (its output).
    pub fn act_of(&self, i: usize) -> Option<&TensorStats> {
        match self.layers.get(i) {
            Some(l) => Some(&l.act),
            None => self.blocks.get(i).map(|b| &b.stream),
        }
    }

    /// The update of layer `i`'s weight, or of all of block `i`'s parameters.
    pub fn update_of(&self, i: usize) -> Option<UpdateRecord> {
        match self.layers.get(i) {
            Some(l) => Some(l.update),
            None => self.blocks.get(i).map(|b| b.update),
        }
    }

    /// The unit symmetry of each hidden unit layer: the layers but the
    /// output layer (which the targets always break), or each block's fc1.
    pub fn hidden_symmetry(&self) -> Vec<f64> {
        if !self.blocks.is_empty() {
            return self.blocks.iter().map(|b| b.fc1.symmetry).collect();
        }
        let n = self.layers.len();
        let hidden = if n > 1 {
            &self.layers[..n - 1]
        } else {
            &self.layers[..]
        };
        hidden.iter().map(|l| l.symmetry).collect()
    }
}

/// The training of a run: its recorded steps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct TrainRecord {
    pub steps: Vec<TrainStep>,
}

impl TrainRecord {
    /// The first recorded step whose loss is at most `threshold`.
    pub fn steps_to(&self, threshold: f64) -> Option<u32> {
        self.steps
            .iter()
            .find(|s| s.loss <= threshold)
            .map(|s| s.step)
    }
}
