//! The residual step of `initscope bench`: seed 001 section 4's
//! feed-forward stack (transformer-init.json before attention: 12 pre-LayerNorm
//! blocks, d_model 512, d_ff 2048, gelu, tokens as rows, embedding input
//! N(0, 0.1²)), forward + backward + every block and tensor statistic.

use super::{BenchOptions, Measurement, summarize};
use crate::activation::Activation;
use crate::config::{Init, Loss};
use crate::exec::{self, Session};
use crate::gpu::{Gpu, GpuError};
use crate::model::NormKind;
use crate::model::build::residual::build_residual;
use crate::model::residual::{EmbeddingSpec, NormPosition, ResidualScale, ResidualSpec};

/// (name, width, ff_width, blocks, tokens) of the residual step.
pub const RESIDUAL_STEP: (&str, usize, usize, usize, usize) = (
    "step (c) 12 pre-LN blocks d512 ff2048, 1024 tokens, gelu",
    512,
    2048,
    12,
    1024,
);

/// Floating-point operations of one step: three GEMMs per linear layer, two
/// linear layers per block.
pub fn residual_flops(width: usize, ff: usize, depth: usize, tokens: usize) -> f64 {
    3.0 * 2.0 * 2.0 * (tokens * width * ff * depth) as f64
}

/// The "standard" arm of transformer-init.json at the given sizes.
pub fn residual_spec(width: usize, ff: usize, depth: usize, tokens: usize) -> ResidualSpec {
    let init = |v| Init::from_json(v).unwrap_or_else(|e| unreachable!("fixed bench init: {e}"));
    ResidualSpec {
        input_dim: width,
        width,
        depth,
        ff_width: ff,
        activation: Activation::Gelu,
        norm: Some(NormKind::LayerNorm),
        position: NormPosition::Pre,
        eps: 1e-5,
        residual_scale: ResidualScale::Value(1.0),
        final_norm: false,
        bias: true,
        init: init(serde_json::json!({"scheme": "xavier_uniform"})),
        bias_init: init(serde_json::json!({"scheme": "zeros"})),
        overrides: Vec::new(),
        batch: tokens,
        input: init(serde_json::json!({"scheme": "normal"})),
        embedding: Some(EmbeddingSpec {
            vocab: 1000,
            init: init(serde_json::json!({"scheme": "normal", "std": 0.1})),
            positions: None,
        }),
        loss: Loss::Mean,
        saturation_threshold: 0.9,
        histogram_bins: 64,
        attention: None,
    }
}

/// Times the residual step (2 blocks with `quick`).
pub(super) fn bench_residual(
    gpu: &Gpu,
    o: BenchOptions,
    out: &mut Vec<Measurement>,
) -> Result<(), GpuError> {
    let (name, width, ff, depth, tokens) = RESIDUAL_STEP;
    let depth = if o.quick { 2 } else { depth };
    let tokens = if o.quick { tokens.min(256) } else { tokens };
    let model = build_residual(&residual_spec(width, ff, depth, tokens), None)
        .map_err(|e| GpuError::Device(e.0))?;
    let bytes = model
        .check_fits(exec::limits(gpu))
        .map_err(GpuError::Device)?;
    let to_gpu = |e: exec::ExecError| match e {
        exec::ExecError::Gpu(g) => g,
        exec::ExecError::Config(m) => GpuError::Device(m),
    };
    let session = Session::new(gpu, &model, 1, 0).map_err(to_gpu)?;
    let reps = if o.quick { 2 } else { 5 };
    let mut times = Vec::new();
    for i in 0..=reps {
        let s = session.step().map_err(to_gpu)?;
        if i > 0 {
            times.push(s.step_ms);
        }
    }
    let label = if o.quick {
        format!("{name} [quick: {depth} blocks, {tokens} tokens]")
    } else {
        name.to_string()
    };
    let flops = residual_flops(width, ff, depth, tokens);
    out.push(summarize(
        label,
        &times,
        vec![(flops / 1e9, "GFLOP/s".into())],
        Some(bytes),
    ));
    Ok(())
}
