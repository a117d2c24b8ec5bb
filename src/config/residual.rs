//! The serde types of the residual-stack fields (`network.block`, `norm`,
//! `residual_scale`, ..., `overrides`, `input.embedding`). Their table
//! entries (ranges, defaults, docs) are in `fields.rs`; every one of them is
//! optional, so a linear stack's echo and config hash do not change.

use super::{Init, Network};
use serde::{Deserialize, Serialize};

/// `network.block`: what one layer of the stack is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockKind {
    /// Linear → activation (the default).
    Linear,
    /// `x + a·FF(norm(x))` or `norm(x + a·FF(x))`.
    Residual,
}

/// `network.norm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NormName {
    /// torch's `nn.LayerNorm(width, eps)`.
    Layernorm,
    /// torch's `nn.RMSNorm(width, eps)`.
    Rmsnorm,
    /// No norm in the blocks.
    None,
}

/// `network.norm_position`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NormPlace {
    Pre,
    Post,
}

/// `network.residual_scale`: a number or the name of a depth rule.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ScaleSetting {
    Value(f64),
    Rule(ScaleRule),
}

/// The named residual scales.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScaleRule {
    #[serde(rename = "1/sqrt(2L)")]
    InvSqrt2L,
    #[serde(rename = "1/sqrt(L)")]
    InvSqrtL,
    #[serde(rename = "deepnorm")]
    DeepNorm,
}

/// The names `residual_scale` accepts besides a number.
pub const SCALE_RULES: &[&str] = &["1/sqrt(2L)", "1/sqrt(L)", "deepnorm"];

/// One `overrides[]` entry: parameters whose export key matches the glob get
/// `init`, then are multiplied by `scale`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParamOverrideCfg {
    #[serde(rename = "match")]
    pub pattern: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init: Option<Init>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scale: Option<f64>,
}

/// `input.embedding`: token ids drawn from a vocabulary, looked up in a table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmbeddingCfg {
    pub vocab: usize,
    pub init: Init,
    /// `"sinusoidal"` adds the positional encoding of row % seq_len.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub positions: Option<Positions>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seq_len: Option<usize>,
}

/// Positional encodings an embedding input can add.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Positions {
    /// Vaswani et al.'s sin/cos encoding.
    Sinusoidal,
}

/// `network.attention`: a multi-head self-attention sublayer in every
/// residual block (torch's `nn.MultiheadAttention(width, heads, bias=True,
/// batch_first=True)`), within each sequence of `seq_len` token rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttentionCfg {
    pub heads: usize,
    /// Tokens per sequence: `input.batch` (token rows) holds
    /// `batch / seq_len` sequences.
    pub seq_len: usize,
    /// Each query sees only itself and the keys before it.
    pub causal: bool,
    /// The logits' scale: a number or a rule of d_head = width / heads.
    pub scale: AttnScaleSetting,
}

/// `network.attention.scale`: a number or the name of a rule of d_head.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AttnScaleSetting {
    Value(f64),
    Rule(AttnScaleRule),
}

/// The named attention scales.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AttnScaleRule {
    /// torch's and the Transformer's 1/√d_head.
    #[serde(rename = "1/sqrt(d_head)")]
    InvSqrtDHead,
    /// μP's 1/d_head.
    #[serde(rename = "1/d_head")]
    InvDHead,
}

/// The names `attention.scale` accepts besides a number.
pub const ATTN_SCALE_RULES: &[&str] = &["1/sqrt(d_head)", "1/d_head"];

impl AttnScaleSetting {
    /// The factor multiplying q·k for heads of `d_head` features.
    pub fn factor(self, d_head: usize) -> f64 {
        let d = d_head.max(1) as f64;
        match self {
            AttnScaleSetting::Value(v) => v,
            AttnScaleSetting::Rule(AttnScaleRule::InvSqrtDHead) => 1.0 / d.sqrt(),
            AttnScaleSetting::Rule(AttnScaleRule::InvDHead) => 1.0 / d,
        }
    }
}

impl Network {
    /// Whether this network is a stack of residual blocks.
    pub fn is_residual(&self) -> bool {
        self.block == Some(BlockKind::Residual)
    }
}
