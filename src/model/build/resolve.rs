//! A residual run's configuration resolved into a [`ResidualSpec`]: the
//! optional manifest fields get their documented defaults here (they stay
//! absent in the echo, so linear stacks keep their config hashes).

use crate::config::{AttnScaleSetting, NormName, NormPlace, RunConfig, ScaleRule, ScaleSetting};
use crate::init::InitError;
use crate::model::NormKind;
use crate::model::residual::*;

/// Default epsilon of every norm layer (torch's).
pub const NORM_EPS: f64 = 1e-5;

/// The residual description of `cfg`, or `None` for a linear stack.
pub fn residual_spec(cfg: &RunConfig) -> Result<Option<ResidualSpec>, InitError> {
    let n = &cfg.network;
    if !n.is_residual() {
        return Ok(None);
    }
    // Validation guarantees width and depth for residual stacks; say so
    // rather than panic if a hand-built config skipped it.
    let (Some(width), Some(depth)) = (n.width, n.depth) else {
        return Err(InitError(
            "network: a residual stack needs \"width\" and \"depth\"".into(),
        ));
    };
    let norm = match n.norm.unwrap_or(NormName::Layernorm) {
        NormName::Layernorm => Some(NormKind::LayerNorm),
        NormName::Rmsnorm => Some(NormKind::RmsNorm),
        NormName::None => None,
    };
    let residual_scale = match n.residual_scale.unwrap_or(ScaleSetting::Value(1.0)) {
        ScaleSetting::Value(a) => ResidualScale::Value(a),
        ScaleSetting::Rule(ScaleRule::InvSqrt2L) => ResidualScale::InvSqrt2L,
        ScaleSetting::Rule(ScaleRule::InvSqrtL) => ResidualScale::InvSqrtL,
        ScaleSetting::Rule(ScaleRule::DeepNorm) => ResidualScale::DeepNorm,
    };
    let overrides = (cfg.overrides.iter().enumerate())
        .map(|(k, o)| ParamOverride {
            path: format!("overrides[{k}]"),
            pattern: o.pattern.clone(),
            init: o.init.clone(),
            scale: o.scale,
        })
        .collect();
    let embedding = cfg.input.embedding.as_ref().map(|e| EmbeddingSpec {
        vocab: e.vocab,
        init: e.init.clone(),
        positions: e.positions.and(e.seq_len),
    });
    Ok(Some(ResidualSpec {
        input_dim: n.input_dim,
        width,
        depth,
        ff_width: n.ff_width.unwrap_or(4 * width),
        activation: n.activation,
        norm,
        position: match n.norm_position.unwrap_or(NormPlace::Pre) {
            NormPlace::Pre => NormPosition::Pre,
            NormPlace::Post => NormPosition::Post,
        },
        eps: n.norm_eps.unwrap_or(NORM_EPS),
        residual_scale,
        final_norm: n.final_norm.unwrap_or(false),
        bias: n.bias,
        init: cfg.init.clone(),
        bias_init: cfg.bias_init.clone(),
        overrides,
        batch: cfg.input.batch,
        input: cfg.input.dist.clone(),
        embedding,
        loss: cfg.loss,
        saturation_threshold: cfg.stats.saturation_threshold,
        histogram_bins: cfg.stats.histogram_bins,
        attention: n.attention.as_ref().map(|a| AttentionSpec {
            heads: a.heads,
            seq_len: a.seq_len,
            causal: a.causal,
            scale: resolve_scale(a.scale, width / a.heads.max(1)),
        }),
    }))
}

/// The factor of q·k for heads of `d_head` features.
fn resolve_scale(s: AttnScaleSetting, d_head: usize) -> f64 {
    s.factor(d_head)
}
