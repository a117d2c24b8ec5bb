//! The resolved description of one run: network, initialization schemes,
//! input, loss and statistics options.
//!
//! These serde types are what a manifest deserialises into once variants and
//! sweeps have been merged (see `manifest.rs`). Field names follow
//! `torch.nn.init` so users can carry their habits over.

use crate::activation::Activation;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// A gain: a number, a nonlinearity name from torch's `calculate_gain` table,
/// or `"auto"` (the layer's own activation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Gain {
    Value(f64),
    Name(String),
}

impl Default for Gain {
    fn default() -> Self {
        Gain::Value(1.0)
    }
}

/// `fan_in` or `fan_out`, as torch's `mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum FanMode {
    #[default]
    FanIn,
    FanOut,
}

/// One component of a `mixture`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MixtureComponent {
    /// Probability of this component; the weights must sum to 1.
    pub weight: f64,
    /// An elementwise distribution (`constant`, `uniform`, `normal`, ...).
    pub dist: Init,
}

fn zero() -> f64 {
    0.0
}
fn one() -> f64 {
    1.0
}
fn minus_two() -> f64 {
    -2.0
}
fn two() -> f64 {
    2.0
}
fn default_nonlinearity() -> String {
    "leaky_relu".into()
}
fn default_sparse_std() -> f64 {
    0.01
}
fn default_lsuv_tol() -> f64 {
    0.1
}
fn default_lsuv_iter() -> u32 {
    10
}
fn default_lsuv_pre() -> Box<Init> {
    Box::new(Init::Orthogonal {
        gain: Gain::Value(1.0),
    })
}

/// An initialization scheme, named and parameterised as in `torch.nn.init`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "scheme", rename_all = "snake_case", deny_unknown_fields)]
pub enum Init {
    Zeros,
    Ones,
    Constant {
        value: f64,
    },
    Uniform {
        #[serde(default = "zero")]
        a: f64,
        #[serde(default = "one")]
        b: f64,
    },
    Normal {
        #[serde(default = "zero")]
        mean: f64,
        #[serde(default = "one")]
        std: f64,
    },
    TruncNormal {
        #[serde(default = "zero")]
        mean: f64,
        #[serde(default = "one")]
        std: f64,
        #[serde(default = "minus_two")]
        a: f64,
        #[serde(default = "two")]
        b: f64,
    },
    XavierUniform {
        #[serde(default)]
        gain: Gain,
    },
    XavierNormal {
        #[serde(default)]
        gain: Gain,
    },
    KaimingUniform {
        #[serde(default = "zero")]
        a: f64,
        #[serde(default)]
        mode: FanMode,
        #[serde(default = "default_nonlinearity")]
        nonlinearity: String,
    },
    KaimingNormal {
        #[serde(default = "zero")]
        a: f64,
        #[serde(default)]
        mode: FanMode,
        #[serde(default = "default_nonlinearity")]
        nonlinearity: String,
    },
    LecunUniform,
    LecunNormal,
    /// N(0, 1/fan_in).
    ScaledNormal,
    Orthogonal {
        #[serde(default)]
        gain: Gain,
    },
    Sparse {
        sparsity: f64,
        #[serde(default = "default_sparse_std")]
        std: f64,
    },
    /// nn.Linear's default: U(±1/√fan_in) (weights and biases alike).
    TorchDefault,
    Mixture {
        components: Vec<MixtureComponent>,
    },
    FromFile {
        path: PathBuf,
        tensor: String,
    },
    /// Layer-sequential unit variance (Mishkin & Matas).
    Lsuv {
        #[serde(default = "default_lsuv_tol")]
        tol: f64,
        #[serde(default = "default_lsuv_iter")]
        max_iter: u32,
        #[serde(default = "default_lsuv_pre")]
        pre: Box<Init>,
    },
}

/// Every scheme name the manifest accepts.
pub const INIT_SCHEMES: &[&str] = &[
    "zeros",
    "ones",
    "constant",
    "uniform",
    "normal",
    "trunc_normal",
    "xavier_uniform",
    "xavier_normal",
    "kaiming_uniform",
    "kaiming_normal",
    "lecun_uniform",
    "lecun_normal",
    "scaled_normal",
    "orthogonal",
    "sparse",
    "torch_default",
    "mixture",
    "from_file",
    "lsuv",
];

impl Init {
    /// The scheme's snake_case name.
    pub fn name(&self) -> &'static str {
        match self {
            Init::Zeros => "zeros",
            Init::Ones => "ones",
            Init::Constant { .. } => "constant",
            Init::Uniform { .. } => "uniform",
            Init::Normal { .. } => "normal",
            Init::TruncNormal { .. } => "trunc_normal",
            Init::XavierUniform { .. } => "xavier_uniform",
            Init::XavierNormal { .. } => "xavier_normal",
            Init::KaimingUniform { .. } => "kaiming_uniform",
            Init::KaimingNormal { .. } => "kaiming_normal",
            Init::LecunUniform => "lecun_uniform",
            Init::LecunNormal => "lecun_normal",
            Init::ScaledNormal => "scaled_normal",
            Init::Orthogonal { .. } => "orthogonal",
            Init::Sparse { .. } => "sparse",
            Init::TorchDefault => "torch_default",
            Init::Mixture { .. } => "mixture",
            Init::FromFile { .. } => "from_file",
            Init::Lsuv { .. } => "lsuv",
        }
    }

    /// Schemes that need a matrix shape (fans, columns) and cannot fill a
    /// bias vector or an input batch.
    pub fn needs_matrix(&self) -> bool {
        matches!(
            self,
            Init::XavierUniform { .. }
                | Init::XavierNormal { .. }
                | Init::KaimingUniform { .. }
                | Init::KaimingNormal { .. }
                | Init::LecunUniform
                | Init::LecunNormal
                | Init::ScaledNormal
                | Init::Orthogonal { .. }
                | Init::Sparse { .. }
                | Init::Lsuv { .. }
        )
    }
}

/// The network: a stack of linear layers, each followed by an activation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Network {
    pub input_dim: usize,
    /// Hidden width with `depth`; the alternative is `widths`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depth: Option<usize>,
    /// Explicit output width of every layer (bottlenecks, expansions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub widths: Option<Vec<usize>>,
    /// Activation after every layer but the last.
    #[serde(default = "default_activation")]
    pub activation: Activation,
    /// Activation after the last layer (default identity).
    #[serde(default = "default_final_activation")]
    pub final_activation: Activation,
    #[serde(default = "yes")]
    pub bias: bool,
}

fn default_activation() -> Activation {
    Activation::Tanh
}
fn default_final_activation() -> Activation {
    Activation::Identity
}
fn yes() -> bool {
    true
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    /// Half-open range of layer indices, `[start, end)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<[usize; 2]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init: Option<Init>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
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
    /// An elementwise distribution; default N(0, 1).
    #[serde(default = "default_input_dist")]
    pub dist: Init,
}

fn default_input_dist() -> Init {
    Init::Normal {
        mean: 0.0,
        std: 1.0,
    }
}

/// Where the regression target of `mse` comes from.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// i.i.d. N(0, 1) targets drawn from Philox.
    #[default]
    Gaussian,
    /// The output of a random linear "teacher" map of the input, N(0, 1/fan_in) weights.
    Teacher,
}

/// The loss whose gradient is backpropagated.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case", tag = "name", deny_unknown_fields)]
pub enum Loss {
    /// `output.mean()`.
    #[default]
    Mean,
    /// `(output**2).mean()`.
    MeanSquare,
    /// `((output - target)**2).mean()`.
    Mse {
        #[serde(default)]
        target: Target,
    },
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

/// Every loss name the manifest accepts.
pub const LOSS_NAMES: &[&str] = &["mean", "mean_square", "mse", "sum", "cross_entropy"];

/// Thresholds of the per-run diagnosis; defaults from the classic debugging guide.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Diagnosis {
    pub vanishing_act_std: f64,
    pub exploding_act_std: f64,
    pub vanishing_grad_norm: f64,
    pub exploding_grad_norm: f64,
    pub dead_fraction: f64,
    pub saturated_fraction: f64,
}

impl Default for Diagnosis {
    fn default() -> Self {
        Diagnosis {
            vanishing_act_std: 0.1,
            exploding_act_std: 10.0,
            vanishing_grad_norm: 1e-6,
            exploding_grad_norm: 10.0,
            dead_fraction: 0.5,
            saturated_fraction: 0.3,
        }
    }
}

/// Options of the statistics reduction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StatsOptions {
    /// |a| above this counts as saturated.
    pub saturation_threshold: f64,
    /// Bins of the weight and activation histograms.
    pub histogram_bins: u32,
    pub diagnosis: Diagnosis,
}

impl Default for StatsOptions {
    fn default() -> Self {
        StatsOptions {
            saturation_threshold: 0.9,
            histogram_bins: 64,
            diagnosis: Diagnosis::default(),
        }
    }
}

fn default_init() -> Init {
    Init::XavierUniform {
        gain: Gain::Value(1.0),
    }
}
fn default_bias_init() -> Init {
    Init::Zeros
}

/// Everything one run needs besides its seed and repeat index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    pub network: Network,
    #[serde(default = "default_init")]
    pub init: Init,
    #[serde(default = "default_bias_init")]
    pub bias_init: Init,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub layers: Vec<LayerOverride>,
    pub input: Input,
    #[serde(default, with = "loss_repr")]
    pub loss: Loss,
    #[serde(default)]
    pub stats: StatsOptions,
    /// Optimizer steps after the step at init (see `train`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train: Option<crate::train::TrainConfig>,
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

impl RunConfig {
    /// Resolves per-layer schemes (later overrides win) into layer specs.
    pub fn layer_specs(&self) -> Vec<LayerSpec> {
        let fans = self.network.layer_fans();
        let depth = fans.len();
        fans.into_iter()
            .enumerate()
            .map(|(i, (fan_in, fan_out))| {
                let mut init = self.init.clone();
                let mut bias = self.bias_init.clone();
                for o in self.layers.iter().filter(|o| o.covers(i)) {
                    if let Some(x) = &o.init {
                        init = x.clone();
                    }
                    if let Some(x) = &o.bias_init {
                        bias = x.clone();
                    }
                }
                LayerSpec {
                    index: i,
                    fan_in,
                    fan_out,
                    activation: self.network.activation_of(i, depth),
                    init,
                    bias_init: self.network.bias.then_some(bias),
                }
            })
            .collect()
    }
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

/// `"loss": "mean"` or `"loss": {"name": "mse", "target": "teacher"}`.
mod loss_repr {
    use super::{LOSS_NAMES, Loss, Target};
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
        use serde::de::Error;
        let v = serde_json::Value::deserialize(d)?;
        match &v {
            serde_json::Value::String(n) => match n.as_str() {
                "mean" => Ok(Loss::Mean),
                "mean_square" => Ok(Loss::MeanSquare),
                "sum" => Ok(Loss::Sum),
                "cross_entropy" => Ok(Loss::CrossEntropy),
                "mse" => Ok(Loss::Mse {
                    target: Target::Gaussian,
                }),
                other => Err(D::Error::custom(format!(
                    "unknown loss \"{other}\"{}; expected one of {}",
                    crate::suggest::did_you_mean(other, LOSS_NAMES),
                    LOSS_NAMES.join(", ")
                ))),
            },
            _ => Loss::deserialize(v).map_err(D::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_specs_apply_overrides_and_final_activation() {
        let cfg: RunConfig = serde_json::from_str(
            r#"{"network": {"input_dim": 8, "widths": [16, 4, 2], "activation": "relu"},
                "layers": [{"index": 1, "init": {"scheme": "constant", "value": 42}},
                           {"range": [2, 3], "bias_init": {"scheme": "ones"}}],
                "input": {"batch": 3}, "loss": {"name": "mse", "target": "teacher"}}"#,
        )
        .unwrap();
        let l = cfg.layer_specs();
        assert_eq!(l.len(), 3);
        assert_eq!(
            (l[0].fan_in, l[0].fan_out, l[2].fan_in, l[2].fan_out),
            (8, 16, 4, 2)
        );
        assert_eq!(l[1].init, Init::Constant { value: 42.0 });
        assert_eq!(
            l[0].init,
            Init::XavierUniform {
                gain: Gain::Value(1.0)
            }
        );
        assert_eq!(l[2].bias_init, Some(Init::Ones));
        assert_eq!(l[1].activation, Activation::Relu);
        assert_eq!(l[2].activation, Activation::Identity);
        assert_eq!(
            cfg.loss,
            Loss::Mse {
                target: Target::Teacher
            }
        );
    }

    #[test]
    fn unknown_fields_and_schemes_are_rejected() {
        let e = serde_json::from_str::<Init>(r#"{"scheme": "normal", "stdev": 1}"#).unwrap_err();
        assert!(e.to_string().contains("stdev"), "{e}");
        assert!(serde_json::from_str::<Init>(r#"{"scheme": "nope"}"#).is_err());
    }
}
