//! Residual-stack specs for tests, built directly (not through a manifest).

use initscope::activation::Activation;
use initscope::config::{Init, Loss, Target};
use initscope::model::NormKind;
use initscope::model::residual::{NormPosition, ParamOverride, ResidualScale, ResidualSpec};
use serde_json::json;

/// An init from its manifest form.
pub fn init(v: serde_json::Value) -> Init {
    Init::from_json(v).expect("a valid init")
}

/// An override entry `overrides[k]`.
pub fn over(
    k: usize,
    pattern: &str,
    init_json: Option<serde_json::Value>,
    scale: Option<f64>,
) -> ParamOverride {
    ParamOverride {
        path: format!("overrides[{k}]"),
        pattern: pattern.into(),
        init: init_json.map(init),
        scale,
    }
}

/// A small pre-LayerNorm stack with odd sizes: input_dim 11 (so an input
/// projection), width 13, ff 29, 37 rows, 2 blocks, gelu, biases N(0, 0.1²),
/// MSE against a Gaussian target.
pub fn small() -> ResidualSpec {
    ResidualSpec {
        input_dim: 11,
        width: 13,
        depth: 2,
        ff_width: 29,
        activation: Activation::Gelu,
        norm: Some(NormKind::LayerNorm),
        position: NormPosition::Pre,
        eps: 1e-5,
        residual_scale: ResidualScale::Value(1.0),
        final_norm: false,
        bias: true,
        init: init(json!({"scheme": "xavier_uniform"})),
        bias_init: init(json!({"scheme": "normal", "std": 0.1})),
        overrides: Vec::new(),
        batch: 37,
        input: init(json!({"scheme": "normal", "std": 1.0})),
        embedding: None,
        loss: Loss::Mse {
            target: Target::Gaussian,
        },
        saturation_threshold: 0.9,
        histogram_bins: 16,
        attention: None,
    }
}

/// Norm weights N(1, 0.3²) and biases N(0, 0.2²) instead of ones and zeros,
/// so that every term of the norms' backward pass is exercised.
pub fn random_norms(mut s: ResidualSpec) -> ResidualSpec {
    let k = s.overrides.len();
    s.overrides.push(over(
        k,
        "*norm.weight",
        Some(json!({"scheme": "normal", "mean": 1.0, "std": 0.3})),
        None,
    ));
    if s.bias && s.norm == Some(NormKind::LayerNorm) {
        s.overrides.push(over(
            k + 1,
            "*norm.bias",
            Some(json!({"scheme": "normal", "std": 0.2})),
            None,
        ));
    }
    s
}
