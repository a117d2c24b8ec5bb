//! Residual stacks as data: the resolved description a builder takes
//! ([`ResidualSpec`]), the residual-scale expressions and the DeepNorm
//! preset, per-parameter overrides, and what a built model remembers of its
//! blocks ([`Residual`]) for the records and the theory.
//!
//! Block i, pre-norm: `out = s·x + a·FF(ff_norm(x))`; post-norm:
//! `out = ff_norm(s·x + a·FF(x))`, with `FF(x) = fc2(act(fc1(x)))`, the skip
//! scale `s` (1 except under DeepNorm) and the branch scale `a`. With
//! attention, an attention sublayer comes first in the same form:
//! pre `h = s·x + a·Attn(attn_norm(x))`, post `h = attn_norm(s·x + a·Attn(x))`,
//! then the feed-forward sublayer on h.

use super::{ActId, NormKind, ParamId};
use crate::activation::Activation;
use crate::config::{Init, Loss};
use crate::init::Sampler;

/// Where the norm sits in a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NormPosition {
    /// `out = s·x + a·FF(norm(x))`.
    Pre,
    /// `out = norm(s·x + a·FF(x))`.
    Post,
}

/// The manifest's `residual_scale`: a number or an expression of the depth.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ResidualScale {
    /// a = the number.
    Value(f64),
    /// a = 1/√(2L) (GPT-2's output-projection scaling).
    InvSqrt2L,
    /// a = 1/√L (depth-μP).
    InvSqrtL,
    /// DeepNet (Wang et al. 2022, encoder): post-norm, skip s = (2L)^¼,
    /// a = 1, fc1 and fc2 weights xavier_normal with gain β = (8L)^-¼.
    DeepNorm,
}

/// The skip and branch scales of every block.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scales {
    /// s: multiplies the skip (the stream) before the add.
    pub skip: f64,
    /// a: multiplies the branch FF(.) before the add.
    pub branch: f64,
}

impl ResidualScale {
    /// (s, a) for a stack of `blocks` blocks.
    pub fn scales(self, blocks: usize) -> Scales {
        let l = blocks.max(1) as f64;
        match self {
            ResidualScale::Value(a) => Scales {
                skip: 1.0,
                branch: a,
            },
            ResidualScale::InvSqrt2L => Scales {
                skip: 1.0,
                branch: 1.0 / (2.0 * l).sqrt(),
            },
            ResidualScale::InvSqrtL => Scales {
                skip: 1.0,
                branch: 1.0 / l.sqrt(),
            },
            ResidualScale::DeepNorm => Scales {
                skip: (2.0 * l).powf(0.25),
                branch: 1.0,
            },
        }
    }

    /// DeepNorm's branch-weight gain β = (8L)^-¼, for the other presets `None`.
    pub fn deepnorm_gain(self, blocks: usize) -> Option<f64> {
        (self == ResidualScale::DeepNorm).then(|| (8.0 * blocks.max(1) as f64).powf(-0.25))
    }

    /// The override entries a preset adds before the user's own. DeepNet
    /// scales the value and output projections of attention by β too
    /// (not the queries and keys).
    pub fn preset(self, blocks: usize, attention: bool) -> Vec<ParamOverride> {
        let Some(beta) = self.deepnorm_gain(blocks) else {
            return Vec::new();
        };
        let attn: &[&str] = if attention {
            &[
                "blocks.*.attn.v_proj.weight",
                "blocks.*.attn.out_proj.weight",
            ]
        } else {
            &[]
        };
        ["blocks.*.fc1.weight", "blocks.*.fc2.weight"]
            .into_iter()
            .chain(attn.iter().copied())
            .map(|pattern| ParamOverride {
                path: "network.residual_scale (deepnorm)".into(),
                pattern: pattern.into(),
                init: Some(
                    Init::from_json(serde_json::json!({"scheme": "xavier_normal", "gain": beta}))
                        .unwrap_or_else(|e| unreachable!("deepnorm init: {e}")),
                ),
                scale: None,
            })
            .collect()
    }
}

/// One `overrides[]` entry: parameters whose export key matches `pattern`
/// get `init` (else their default), then are multiplied by `scale`.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamOverride {
    /// Where the entry came from, for messages (`overrides[2]`).
    pub path: String,
    pub pattern: String,
    pub init: Option<Init>,
    pub scale: Option<f64>,
}

/// Token-embedding input: ids drawn uniformly from `vocab` with Philox, the
/// rows of an embedding table looked up, optionally plus sinusoidal positions.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbeddingSpec {
    pub vocab: usize,
    /// The table's scheme; the table is (vocab, input_dim) as `nn.Embedding`'s
    /// weight, so fan_in = input_dim and fan_out = vocab.
    pub init: Init,
    /// Row r is token r % seq_len of its sequence when positions are added.
    pub positions: Option<usize>,
}

/// The resolved description of a residual stack and its run.
#[derive(Debug, Clone, PartialEq)]
pub struct ResidualSpec {
    pub input_dim: usize,
    pub width: usize,
    /// L, the number of blocks.
    pub depth: usize,
    pub ff_width: usize,
    /// Inside the branch, after fc1.
    pub activation: Activation,
    /// `None`: no norm in the blocks (and no final norm).
    pub norm: Option<NormKind>,
    pub position: NormPosition,
    pub eps: f64,
    pub residual_scale: ResidualScale,
    pub final_norm: bool,
    /// Biases on every Linear and LayerNorm.
    pub bias: bool,
    /// Default scheme of every Linear weight and bias (norm weights are
    /// ones and norm biases zeros, as torch's defaults).
    pub init: Init,
    pub bias_init: Init,
    /// Applied in order, later entries winning.
    pub overrides: Vec<ParamOverride>,
    /// Rows (tokens) of every row tensor.
    pub batch: usize,
    /// The elementwise distribution of the input, unless `embedding`.
    pub input: Init,
    pub embedding: Option<EmbeddingSpec>,
    pub loss: Loss,
    pub saturation_threshold: f64,
    pub histogram_bins: u32,
    /// A self-attention sublayer in every block, before the feed-forward one.
    pub attention: Option<AttentionSpec>,
}

/// A resolved `network.attention`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AttentionSpec {
    pub heads: usize,
    /// Rows per sequence; the batch is a multiple of it.
    pub seq_len: usize,
    pub causal: bool,
    /// The factor of q·k (resolved from the rule and d_head).
    pub scale: f64,
}

impl ResidualSpec {
    /// Where the norm sits once presets apply (DeepNorm is post-norm).
    pub fn effective_position(&self) -> NormPosition {
        if self.residual_scale == ResidualScale::DeepNorm {
            NormPosition::Post
        } else {
            self.position
        }
    }
}

/// A resolved embedding input.
#[derive(Debug, Clone, PartialEq)]
pub struct Embedding {
    pub vocab: usize,
    pub table: Sampler,
    /// Sequence length of the sinusoidal positions, if added.
    pub positions: Option<usize>,
}

/// What the records and the theory need to know of one block.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockInfo {
    pub index: usize,
    /// The block's output (the stream after it).
    pub stream: ActId,
    /// a·FF(.) before the add.
    pub branch: ActId,
    pub norm: Option<ParamId>,
    pub fc1: ParamId,
    pub fc2: ParamId,
    /// The attention sublayer, when the stack has one.
    pub attn: Option<AttnInfo>,
}

/// What the records need of a block's attention sublayer.
#[derive(Debug, Clone, PartialEq)]
pub struct AttnInfo {
    /// a·Attn(.) before the add.
    pub branch: ActId,
    /// Each query's (mean, M2, entropy) of its logits per head (`Op::Attention`).
    pub stats: ActId,
    /// The attention module's parameters (in_proj, out_proj), for its
    /// gradient norm.
    pub params: Vec<ParamId>,
    /// The feed-forward module's parameters (fc1, fc2).
    pub ff_params: Vec<ParamId>,
}

/// The architecture of a built residual stack.
#[derive(Debug, Clone, PartialEq)]
pub struct Residual {
    pub width: usize,
    pub ff_width: usize,
    pub activation: Activation,
    pub norm: Option<NormKind>,
    pub position: NormPosition,
    pub scales: Scales,
    pub final_norm: bool,
    pub attention: Option<AttentionSpec>,
    /// The stream entering block 0 (the input, or its projection).
    pub stream_in: ActId,
    pub blocks: Vec<BlockInfo>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_scales() {
        let s = ResidualScale::InvSqrt2L.scales(8);
        assert_eq!((s.skip, s.branch), (1.0, 0.25));
        assert_eq!(ResidualScale::InvSqrtL.scales(16).branch, 0.25);
        let d = ResidualScale::DeepNorm.scales(8);
        assert_eq!((d.skip, d.branch), (2.0, 1.0));
        assert_eq!(ResidualScale::DeepNorm.deepnorm_gain(2), Some(0.5));
        assert_eq!(ResidualScale::Value(0.5).deepnorm_gain(2), None);
        assert_eq!(ResidualScale::DeepNorm.preset(2, false).len(), 2);
        assert_eq!(ResidualScale::DeepNorm.preset(2, true).len(), 4);
    }
}
