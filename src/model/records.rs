//! Turning the reduced statistics of a step (keyed by [`StatKey`]) into the
//! results schema's records.

use super::{LayerField, Model, StatKey};
use crate::results::{LayerRecord, LsuvRecord, TensorStats, TrainLayerRecord, UpdateRecord};

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
            StatKey::Loss => {}
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

/// What a recorded training step measured besides the statistics, per
/// layer index: the update that led to it and the unit symmetry.
#[derive(Debug, Clone, Default)]
pub struct StepExtras {
    pub updates: Vec<(usize, UpdateRecord)>,
    pub symmetry: Vec<(usize, f64)>,
}

/// One training record per layer of a linear stack from a step's
/// statistics (only the fields of `train::in_train_record` are read).
pub fn train_layer_records(
    model: &Model,
    stats: &[(StatKey, TensorStats)],
    extras: &StepExtras,
) -> Vec<TrainLayerRecord> {
    let find = |i: usize, f: LayerField| {
        stats
            .iter()
            .find(|(k, _)| *k == StatKey::Layer(i, f))
            .map(|(_, s)| s.clone())
            .unwrap_or_default()
    };
    model
        .layers
        .iter()
        .map(|l| TrainLayerRecord {
            index: l.index,
            act: find(l.index, LayerField::Act),
            grad_weight: find(l.index, LayerField::GradWeight),
            grad_act: find(l.index, LayerField::GradAct),
            update: extras
                .updates
                .iter()
                .find(|(i, _)| *i == l.index)
                .map_or_else(UpdateRecord::default, |(_, u)| *u),
            symmetry: extras
                .symmetry
                .iter()
                .find(|(i, _)| *i == l.index)
                .map_or(0.0, |(_, s)| *s),
        })
        .collect()
}
