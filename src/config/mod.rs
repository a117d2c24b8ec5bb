//! The resolved description of one run: network, initialization schemes,
//! input, loss and statistics options.
//!
//! These serde types have no defaults of their own: every field, its
//! default and its range are described once in `fields.rs`, and
//! deserialising a [`RunConfig`] checks the JSON against that table and
//! fills the defaults first. Field names follow `torch.nn.init`.

mod checks;
mod fields;
mod residual;
mod residual_fields;
mod train_fields;

pub use crate::init::{Gain, Init};
pub use fields::{LOSS_TY, MAX_DEPTH, MAX_DIM, RUN};
pub use residual::{
    ATTN_SCALE_RULES, AttentionCfg, AttnScaleRule, AttnScaleSetting, BlockKind, EmbeddingCfg,
    NormName, NormPlace, ParamOverrideCfg, Positions, SCALE_RULES, ScaleRule, ScaleSetting,
};
pub use train_fields::OPTIMIZERS;

use crate::activation::Activation;
use crate::registry;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// The network: a stack of linear layers, each followed by an activation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Network {
    pub input_dim: usize,
    /// Hidden width with `depth`; the alternative is `widths`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub depth: Option<usize>,
    /// Explicit output width of every layer (bottlenecks, expansions).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub widths: Option<Vec<usize>>,
    /// Activation after every layer but the last.
    pub activation: Activation,
    /// Activation after the last layer.
    pub final_activation: Activation,
    pub bias: bool,
    /// `residual` for residual blocks; absent (or `linear`) for a plain stack.
    /// This and the fields below are absent unless given, so linear stacks
    /// echo (and hash) as before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block: Option<BlockKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ff_width: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub norm: Option<NormName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub norm_position: Option<NormPlace>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub norm_eps: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub residual_scale: Option<ScaleSetting>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub final_norm: Option<bool>,
    /// A self-attention sublayer before each block's feed-forward one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attention: Option<AttentionCfg>,
}

impl Network {
    /// Output widths of all layers, from `widths` or `width` × `depth`.
    /// Validation guarantees exactly one form is present.
    pub fn layer_widths(&self) -> Vec<usize> {
        match (&self.widths, self.width, self.depth) {
            (Some(w), _, _) => w.clone(),
            (None, Some(w), Some(d)) => vec![w; d],
            _ => Vec::new(),
        }
    }

    /// (fan_in, fan_out) of every layer.
    pub fn layer_fans(&self) -> Vec<(usize, usize)> {
        let mut fan_in = self.input_dim;
        self.layer_widths()
            .into_iter()
            .map(|w| {
                let f = (fan_in, w);
                fan_in = w;
                f
            })
            .collect()
    }

    /// The activation of layer `index` of `depth` layers.
    pub fn activation_of(&self, index: usize, depth: usize) -> Activation {
        if index + 1 == depth {
            self.final_activation
        } else {
            self.activation
        }
    }
}

/// A per-layer override of the init and bias init: `index` or `range` [start, end).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayerOverride {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    /// Half-open range of layer indices, `[start, end)`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub range: Option<[usize; 2]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init: Option<Init>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bias_init: Option<Init>,
}

impl LayerOverride {
    /// Whether this override applies to layer `i`.
    pub fn covers(&self, i: usize) -> bool {
        self.index == Some(i) || self.range.is_some_and(|[s, e]| (s..e).contains(&i))
    }
}

/// The input batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Input {
    pub batch: usize,
    /// An elementwise distribution.
    pub dist: Init,
    /// Token ids looked up in an embedding table (residual stacks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedding: Option<EmbeddingCfg>,
}

/// Where the regression target of `mse` comes from.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// i.i.d. N(0, 1) targets drawn from Philox.
    Gaussian,
    /// The output of a random linear "teacher" map of the input, N(0, 1/fan_in) weights.
    Teacher,
}

/// The loss whose gradient is backpropagated.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "name", deny_unknown_fields)]
pub enum Loss {
    /// `output.mean()`.
    Mean,
    /// `(output**2).mean()`.
    MeanSquare,
    /// `((output - target)**2).mean()`.
    Mse { target: Target },
    /// `output.sum()`.
    Sum,
    /// `F.cross_entropy(output, labels)` (mean over rows), the labels being
    /// the argmax of a random linear teacher of the input (the `teacher`
    /// target's logits), so the task is learnable.
    CrossEntropy,
}

impl Loss {
    /// Whether the loss compares the output with a target tensor.
    pub fn has_target(self) -> bool {
        matches!(self, Loss::Mse { .. } | Loss::CrossEntropy)
    }
}

/// Thresholds of the per-run diagnosis; defaults from the classic debugging guide.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Diagnosis {
    pub vanishing_act_std: f64,
    pub exploding_act_std: f64,
    pub vanishing_grad_norm: f64,
    pub exploding_grad_norm: f64,
    pub dead_fraction: f64,
    pub saturated_fraction: f64,
}

/// Options of the statistics reduction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatsOptions {
    /// |a| above this counts as saturated.
    pub saturation_threshold: f64,
    /// Bins of the weight and activation histograms.
    pub histogram_bins: u32,
    pub diagnosis: Diagnosis,
}

/// Everything one run needs besides its seed and repeat index. It
/// deserialises from the manifest's run fields: checked against [`RUN`],
/// defaults filled, so `serde_json::from_value` accepts what a manifest does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct RunConfig {
    pub network: Network,
    pub init: Init,
    pub bias_init: Init,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub layers: Vec<LayerOverride>,
    pub input: Input,
    /// Per-parameter overrides by glob over export keys (residual stacks).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overrides: Vec<ParamOverrideCfg>,
    #[serde(with = "loss_repr")]
    pub loss: Loss,
    pub stats: StatsOptions,
    /// The Jacobian spectrum; absent unless asked for (not echoed, so the
    /// config hashes of runs without it do not change).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jacobian: Option<JacobianOptions>,
    /// Optimizer steps after the step at init; absent (and not echoed) for
    /// a single step at init, so older runs keep their config hashes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train: Option<crate::train::TrainConfig>,
}

/// Which Jacobian spectra a run reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JacobianOptions {
    /// Input rows 0..inputs of the batch.
    pub inputs: usize,
    /// Partial depths (first d layers) reported besides the whole network.
    pub depths: Vec<usize>,
    /// Write every log10 singular value.
    pub values: bool,
}

impl Serialize for RunConfig {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        RunConfig::serialize(self, s)
    }
}

impl<'de> Deserialize<'de> for RunConfig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let v = registry::parse(&RUN, Value::deserialize(d)?).map_err(D::Error::custom)?;
        RunConfig::deserialize(v).map_err(D::Error::custom)
    }
}

impl RunConfig {
    /// A config from run fields that [`registry::check`] accepted against
    /// [`RUN`]: defaults are filled here, nothing is checked twice.
    pub fn from_checked(mut v: Value) -> Result<RunConfig, String> {
        registry::normalize(&RUN, &mut v);
        RunConfig::deserialize(v).map_err(|e| e.to_string())
    }

    /// The weight init of layer `i` and the override it comes from: the last
    /// entry of `layers` that covers the layer and sets one, else `None`
    /// (the top-level `init`).
    pub fn weight_init(&self, i: usize) -> (&Init, Option<usize>) {
        self.pick(i, |o| o.init.as_ref())
            .unwrap_or((&self.init, None))
    }

    /// The bias init of layer `i` and its override, as [`Self::weight_init`].
    pub fn bias_init_of(&self, i: usize) -> (&Init, Option<usize>) {
        (self.pick(i, |o| o.bias_init.as_ref())).unwrap_or((&self.bias_init, None))
    }

    fn pick<'c>(
        &'c self,
        i: usize,
        get: impl Fn(&'c LayerOverride) -> Option<&'c Init>,
    ) -> Option<(&'c Init, Option<usize>)> {
        (self.layers.iter().enumerate().rev())
            .filter(|(_, o)| o.covers(i))
            .find_map(|(k, o)| get(o).map(|x| (x, Some(k))))
    }

    /// Resolves per-layer schemes (later overrides win) into layer specs.
    pub fn layer_specs(&self) -> Vec<LayerSpec> {
        let fans = self.network.layer_fans();
        let depth = fans.len();
        (fans.into_iter().enumerate())
            .map(|(i, (fan_in, fan_out))| LayerSpec {
                index: i,
                fan_in,
                fan_out,
                activation: self.network.activation_of(i, depth),
                init: self.weight_init(i).0.clone(),
                bias_init: self.network.bias.then(|| self.bias_init_of(i).0.clone()),
            })
            .collect()
    }
}

/// Everything about one layer that the GPU needs.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerSpec {
    pub index: usize,
    pub fan_in: usize,
    pub fan_out: usize,
    pub activation: Activation,
    pub init: Init,
    /// `None` when the network has no bias.
    pub bias_init: Option<Init>,
}

/// One fully resolved run of the plan.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSpec {
    /// Stable identifier, e.g. `r003`, unique within the plan.
    pub id: String,
    /// Human label used in legends and tables (variant, swept values, repeat).
    pub label: String,
    /// The arm this run belongs to: the label without the repeat suffix.
    pub group: String,
    /// The variant label, if any.
    pub variant: Option<String>,
    /// Swept values, by dotted path.
    pub params: serde_json::Map<String, serde_json::Value>,
    pub seed: u64,
    pub repeat: u32,
    pub config: RunConfig,
}

/// Echoed as `"loss": "mean"`, or `{"name": "mse", "target": "teacher"}`
/// for the one loss with a parameter.
mod loss_repr {
    use super::Loss;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(l: &Loss, s: S) -> Result<S::Ok, S::Error> {
        match l {
            Loss::Mean => s.serialize_str("mean"),
            Loss::MeanSquare => s.serialize_str("mean_square"),
            Loss::Sum => s.serialize_str("sum"),
            Loss::CrossEntropy => s.serialize_str("cross_entropy"),
            Loss::Mse { .. } => l.serialize(s),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Loss, D::Error> {
        Loss::deserialize(d)
    }
}

#[cfg(test)]
mod tests;
