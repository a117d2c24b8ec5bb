//! Turning the reduced statistics of a step (keyed by [`StatKey`]) into the
//! results schema's records.

use super::{BlockField, LayerField, Model, ParamId, StatKey, TensorField};
use crate::results::{
    BlockRecord, LayerRecord, LsuvRecord, TensorRecord, TensorStats, TrainBlockRecord,
    TrainLayerRecord, TrainWeightRecord, UpdateRecord,
};

/// Every record of one step.
#[derive(Debug, Clone, Default)]
pub struct Records {
    pub input: TensorStats,
    /// Linear stacks: one per layer.
    pub layers: Vec<LayerRecord>,
    /// Residual stacks: one per block.
    pub blocks: Vec<BlockRecord>,
    /// Residual stacks: one per parameter.
    pub tensors: Vec<TensorRecord>,
    /// The network's output and its gradient, where requested.
    pub output: Option<(TensorStats, TensorStats)>,
    /// The stream entering block 0 (residual stacks).
    pub stream_in: Option<TensorStats>,
}

/// Sorts the statistics of a step into records. `lsuv[i]` is layer i's
/// LSUV outcome, if it had one.
pub fn collect(
    model: &Model,
    stats: Vec<(StatKey, TensorStats)>,
    lsuv: Vec<Option<LsuvRecord>>,
) -> Records {
    let mut r = Records {
        layers: empty_layers(model, lsuv),
        blocks: model
            .residual
            .iter()
            .flat_map(|res| &res.blocks)
            .map(|b| BlockRecord {
                index: b.index,
                ..BlockRecord::default()
            })
            .collect(),
        ..Records::default()
    };
    let mut out: (Option<TensorStats>, Option<TensorStats>) = (None, None);
    for (key, s) in stats {
        match key {
            StatKey::Input => r.input = s,
            StatKey::Layer(i, field) => {
                if let Some(l) = r.layers.iter_mut().find(|l| l.index == i) {
                    set_layer(l, field, s);
                }
            }
            StatKey::Block(i, field) => {
                if let Some(b) = r.blocks.iter_mut().find(|b| b.index == i) {
                    match field {
                        BlockField::Stream => b.stream = s,
                        BlockField::GradStream => b.grad_stream = s,
                        BlockField::FfBranch => b.ff_branch = s,
                        BlockField::AttnBranch => b.attn_branch = Some(s),
                    }
                }
            }
            StatKey::Tensor(p, field) => set_tensor(model, &mut r.tensors, p, field, s),
            StatKey::Output(false) => out.0 = Some(s),
            StatKey::Output(true) => out.1 = Some(s),
            StatKey::StreamIn => r.stream_in = Some(s),
            // The per-row cross-entropy: only the loss value reads it.
            StatKey::Loss => {}
        }
    }
    if let (Some(v), Some(g)) = out {
        r.output = Some((v, g));
    }
    grad_norms(model, &mut r);
    r
}

/// Blocks with attention: the attention and feed-forward modules' gradient
/// norms from their parameters' records.
fn grad_norms(model: &Model, r: &mut Records) {
    let Some(res) = &model.residual else { return };
    for (info, rec) in res.blocks.iter().zip(&mut r.blocks) {
        let Some(a) = &info.attn else { continue };
        let norm = |ids: &[super::ParamId]| {
            let sq: f64 = ids
                .iter()
                .filter_map(|p| r.tensors.iter().find(|t| t.name == model.param(*p).name))
                .map(|t| t.grad.norm * t.grad.norm)
                .sum();
            sq.sqrt()
        };
        rec.attn_grad_norm = Some(norm(&a.params));
        rec.ff_grad_norm = Some(norm(&a.ff_params));
    }
}

/// Fills the attention records of every block with attention from the
/// per-head summaries read back (in block order, `heads` each).
pub fn attention_records(model: &Model, blocks: &mut [BlockRecord], summaries: &[HeadSummary]) {
    let Some(max) = model.residual.as_ref().and_then(|r| r.attention) else {
        return;
    };
    for (index, std, entropy) in attention_summaries(model, summaries) {
        if let Some(rec) = blocks.iter_mut().find(|b| b.index == index) {
            rec.attn_logits_std = Some(std);
            rec.attn_entropy = Some(entropy);
            rec.attn_entropy_max = Some((max.seq_len as f64).ln());
        }
    }
}

/// The same for a training step's block records.
pub fn train_attention_records(
    model: &Model,
    blocks: &mut [TrainBlockRecord],
    summaries: &[HeadSummary],
) {
    for (index, std, entropy) in attention_summaries(model, summaries) {
        if let Some(rec) = blocks.iter_mut().find(|b| b.index == index) {
            rec.attn_logits_std = Some(std);
            rec.attn_entropy = Some(entropy);
        }
    }
}

/// (block index, the logits' std, the mean entropy per head) of every block
/// with attention, from the per-head summaries (in block order, `heads` each).
fn attention_summaries(model: &Model, summaries: &[HeadSummary]) -> Vec<(usize, f64, Vec<f64>)> {
    let Some(res) = &model.residual else {
        return Vec::new();
    };
    let Some(att) = res.attention else {
        return Vec::new();
    };
    let with = res.blocks.iter().filter(|b| b.attn.is_some());
    let mut out = Vec::new();
    for (k, info) in with.enumerate() {
        let Some(heads) = summaries.get(k * att.heads..(k + 1) * att.heads) else {
            continue;
        };
        let (mut n, mut mean, mut m2) = (0.0f64, 0.0f64, 0.0f64);
        for h in heads {
            // Chan et al.'s merge of (count, mean, M2) in f64.
            let tot = n + h.count;
            if tot == 0.0 {
                continue;
            }
            let delta = h.mean - mean;
            mean += delta * h.count / tot;
            m2 += h.m2 + delta * delta * n * h.count / tot;
            n = tot;
        }
        let std = if n > 1.0 {
            (m2 / (n - 1.0)).sqrt()
        } else {
            0.0
        };
        let queries = model.batch.max(1) as f64;
        let entropy = heads.iter().map(|h| h.entropy_sum / queries).collect();
        out.push((info.index, std, entropy));
    }
    out
}

/// A record per layer of a linear stack, its statistics still empty.
fn empty_layers(model: &Model, mut lsuv: Vec<Option<LsuvRecord>>) -> Vec<LayerRecord> {
    model
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
        .collect()
}

fn set_layer(r: &mut LayerRecord, field: LayerField, s: TensorStats) {
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

/// Fills the value or gradient of parameter `p`'s record, adding the record
/// (in model order, as the requests come) the first time.
fn set_tensor(
    model: &Model,
    tensors: &mut Vec<TensorRecord>,
    p: super::ParamId,
    field: TensorField,
    s: TensorStats,
) {
    let param = model.param(p);
    let i = match tensors.iter().position(|t| t.name == param.name) {
        Some(i) => i,
        None => {
            tensors.push(TensorRecord {
                name: param.name.clone(),
                shape: param.shape(),
                ..TensorRecord::default()
            });
            tensors.len() - 1
        }
    };
    match field {
        TensorField::Value => tensors[i].value = s,
        TensorField::Grad => tensors[i].grad = s,
    }
}

/// The input's statistics and one record per layer of a linear stack.
pub fn layer_records(
    model: &Model,
    stats: Vec<(StatKey, TensorStats)>,
    lsuv: Vec<Option<LsuvRecord>>,
) -> (TensorStats, Vec<LayerRecord>) {
    let r = collect(model, stats, lsuv);
    (r.input, r.layers)
}

/// One head's attention summary as read back: the logits' (count, mean,
/// M2) and the softmax entropy summed over queries.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct HeadSummary {
    pub count: f64,
    pub mean: f64,
    pub m2: f64,
    pub entropy_sum: f64,
}

impl HeadSummary {
    /// Parses [mean, M2, entropy sum, count] as the summary kernel writes them.
    pub fn from_floats(v: &[f32]) -> HeadSummary {
        HeadSummary {
            mean: f64::from(v[0]),
            m2: f64::from(v[1]),
            entropy_sum: f64::from(v[2]),
            count: f64::from(v[3]),
        }
    }
}

/// The norms of a parameter before an update and of the update itself.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UpdateNorms {
    pub param: ParamId,
    /// ‖W_k − W_(k−1)‖.
    pub delta: f64,
    /// ‖W_(k−1)‖.
    pub before: f64,
}

/// What a recorded training step measured besides the statistics: the
/// update that led to it per parameter (none at step 0) and the unit
/// symmetry per unit weight.
#[derive(Debug, Clone, Default)]
pub struct StepExtras {
    pub updates: Vec<UpdateNorms>,
    pub symmetry: Vec<(ParamId, f64)>,
}

impl StepExtras {
    /// The update of `params` taken as one vector: ‖Δ‖ and ‖Δ‖/‖W‖ (0 when
    /// nothing moved, infinite when only the update is non-zero; zeros at
    /// step 0).
    pub fn update_of(&self, params: &[ParamId]) -> UpdateRecord {
        let (mut d2, mut b2) = (0.0, 0.0);
        for u in self.updates.iter().filter(|u| params.contains(&u.param)) {
            d2 += u.delta * u.delta;
            b2 += u.before * u.before;
        }
        let norm = f64::sqrt(d2);
        let ratio = match (norm, b2.sqrt()) {
            (0.0, _) => 0.0,
            (n, 0.0) => n * f64::INFINITY,
            (n, w) => n / w,
        };
        UpdateRecord { norm, ratio }
    }

    fn symmetry_of(&self, w: ParamId) -> f64 {
        (self.symmetry.iter())
            .find(|(p, _)| *p == w)
            .map_or(0.0, |(_, s)| *s)
    }
}

/// The statistic of `key` among a step's, or empty statistics.
fn find_stat(stats: &[(StatKey, TensorStats)], key: StatKey) -> TensorStats {
    (stats.iter())
        .find(|(k, _)| *k == key)
        .map(|(_, s)| s.clone())
        .unwrap_or_default()
}

/// One training record per layer of a linear stack from a step's
/// statistics (only the fields of `train::in_train_record` are read).
pub fn train_layer_records(
    model: &Model,
    stats: &[(StatKey, TensorStats)],
    extras: &StepExtras,
) -> Vec<TrainLayerRecord> {
    let find = |i: usize, f: LayerField| find_stat(stats, StatKey::Layer(i, f));
    let units = model.train_units();
    model
        .layers
        .iter()
        .map(|l| {
            let weight = units.iter().find(|u| u.index == l.index).map(|u| u.weight);
            TrainLayerRecord {
                index: l.index,
                act: find(l.index, LayerField::Act),
                grad_weight: find(l.index, LayerField::GradWeight),
                grad_act: find(l.index, LayerField::GradAct),
                update: weight.map_or_else(UpdateRecord::default, |w| extras.update_of(&[w])),
                symmetry: weight.map_or(0.0, |w| extras.symmetry_of(w)),
            }
        })
        .collect()
}

/// One training record per block of a residual stack from a step's
/// statistics (empty for linear stacks).
pub fn train_block_records(
    model: &Model,
    stats: &[(StatKey, TensorStats)],
    extras: &StepExtras,
) -> Vec<TrainBlockRecord> {
    let Some(res) = &model.residual else {
        return Vec::new();
    };
    let weight = |w: ParamId| TrainWeightRecord {
        grad_weight: find_stat(stats, StatKey::Tensor(w, TensorField::Grad)),
        update: extras.update_of(&[w]),
        symmetry: extras.symmetry_of(w),
    };
    (res.blocks.iter())
        .map(|b| {
            let field = |f| find_stat(stats, StatKey::Block(b.index, f));
            TrainBlockRecord {
                index: b.index,
                stream: field(BlockField::Stream),
                grad_stream: field(BlockField::GradStream),
                ff_branch: field(BlockField::FfBranch),
                update: extras.update_of(&model.block_params(b.index)),
                fc1: weight(b.fc1),
                fc2: weight(b.fc2),
                attn_branch: (b.attn.as_ref()).map(|_| field(BlockField::AttnBranch)),
                in_proj: model.attn_weights(b.index).map(|[w, _]| weight(w)),
                out_proj: model.attn_weights(b.index).map(|[_, w]| weight(w)),
                attn_logits_std: None,
                attn_entropy: None,
            }
        })
        .collect()
}
