//! Turning the reduced statistics of a step (keyed by [`StatKey`]) into the
//! results schema's records.

use super::{LayerField, Model, StatKey};
use crate::results::{LayerRecord, LsuvRecord, TensorStats};

/// The input's statistics and one record per layer of a linear stack.
/// `lsuv[i]` is layer i's LSUV outcome, if it had one.
pub fn layer_records(
    model: &Model,
    stats: Vec<(StatKey, TensorStats)>,
    mut lsuv: Vec<Option<LsuvRecord>>,
) -> (TensorStats, Vec<LayerRecord>) {
    let mut layers: Vec<LayerRecord> = model
        .layers
        .iter()
        .map(|l| LayerRecord {
            index: l.index,
            fan_in: l.fan_in,
            fan_out: l.fan_out,
            activation: l.activation.to_string(),
            init: l.init.clone(),
            weight: TensorStats::default(),
            bias: None,
            preact: TensorStats::default(),
            act: TensorStats::default(),
            grad_weight: TensorStats::default(),
            grad_bias: None,
            grad_act: TensorStats::default(),
            lsuv: lsuv.get_mut(l.index).and_then(Option::take),
        })
        .collect();
    let mut input = TensorStats::default();
    for (key, s) in stats {
        match key {
            StatKey::Input => input = s,
            StatKey::Layer(i, field) => {
                let Some(r) = layers.iter_mut().find(|r| r.index == i) else {
                    continue;
                };
                match field {
                    LayerField::Weight => r.weight = s,
                    LayerField::Bias => r.bias = Some(s),
                    LayerField::Preact => r.preact = s,
                    LayerField::Act => r.act = s,
                    LayerField::GradWeight => r.grad_weight = s,
                    LayerField::GradBias => r.grad_bias = Some(s),
                    LayerField::GradAct => r.grad_act = s,
                }
            }
        }
    }
    (input, layers)
}
