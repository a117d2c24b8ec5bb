//! The results schema: the records written to `results.json` (per-tensor
//! statistics, per-layer entries, run summaries and the document itself;
//! see the README), and reading and writing them (`files`).

pub mod files;
pub mod jacobian;
pub mod tidy;
mod train;

pub use train::{
    TrainBlockRecord, TrainLayerRecord, TrainRecord, TrainStep, TrainWeightRecord, UpdateRecord,
};

use serde::{Deserialize, Serialize};

/// JSON has no NaN or ±Inf: serde_json writes them as `null`. Reading a
/// `null` back gives NaN, so a results.json with a diverged run, a zero
/// gradient norm (an infinite ratio) or an infinite update ratio can still
/// be re-plotted and resumed.
fn nan_if_null<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// Version of the `results.json` schema. Bump on any rename or change of meaning.
pub const SCHEMA_VERSION: u32 = 1;

/// A fixed-bin histogram over `[lo, hi]` of the finite values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    pub lo: f64,
    pub hi: f64,
    pub counts: Vec<u64>,
}

/// Statistics of one tensor, reduced on the GPU. NaN and Inf are counted
/// and excluded from every other field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct TensorStats {
    /// Number of elements, NaN and Inf included.
    pub count: u64,
    #[serde(deserialize_with = "nan_if_null")]
    pub mean: f64,
    /// Unbiased sample std (as `torch.Tensor.std()`), over finite elements.
    #[serde(deserialize_with = "nan_if_null")]
    pub std: f64,
    #[serde(deserialize_with = "nan_if_null")]
    pub min: f64,
    #[serde(deserialize_with = "nan_if_null")]
    pub max: f64,
    /// L2 (Frobenius) norm over finite elements, computed with a scaled sum of squares.
    #[serde(deserialize_with = "nan_if_null")]
    pub norm: f64,
    pub nan_count: u64,
    pub inf_count: u64,
    /// Fraction of elements exactly 0 (activations only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zero_fraction: Option<f64>,
    /// Fraction of units (columns) exactly 0 on every row of the batch
    /// (activations only): a dead unit never fires for any input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_unit_fraction: Option<f64>,
    /// Fraction with |a| > `stats.saturation_threshold` (activations only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub saturated_fraction: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub histogram: Option<Histogram>,
}

/// Per-layer LSUV outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LsuvRecord {
    pub iterations: u32,
    /// Variance of the pre-activation after each iteration's rescale was measured.
    pub variances: Vec<f64>,
    #[serde(deserialize_with = "nan_if_null")]
    pub final_variance: f64,
    pub converged: bool,
}

/// One layer's entry in a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerRecord {
    pub index: usize,
    pub fan_in: usize,
    pub fan_out: usize,
    pub activation: String,
    /// The init scheme name of the weight.
    pub init: String,
    pub weight: TensorStats,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bias: Option<TensorStats>,
    pub preact: TensorStats,
    pub act: TensorStats,
    pub grad_weight: TensorStats,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grad_bias: Option<TensorStats>,
    /// Gradient of the loss with respect to this layer's output activation.
    pub grad_act: TensorStats,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lsuv: Option<LsuvRecord>,
}

/// One residual block's entry in a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct BlockRecord {
    pub index: usize,
    /// The block's output: the residual stream after the block.
    pub stream: TensorStats,
    /// dLoss/d(block output).
    pub grad_stream: TensorStats,
    /// a·FF(.), the feed-forward branch as it is added to the stream.
    pub ff_branch: TensorStats,
    /// a·Attn(.), the attention branch as it is added (blocks with attention).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attn_branch: Option<TensorStats>,
    /// Unbiased std of the attention logits scale·q·k over every sequence,
    /// head, query and unmasked key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attn_logits_std: Option<f64>,
    /// Per head: the softmax's entropy in nats, mean over queries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attn_entropy: Option<Vec<f64>>,
    /// log(seq_len): the entropy of uniform attention over a whole sequence
    /// (the maximum; causal queries see fewer keys).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attn_entropy_max: Option<f64>,
    /// √Σ‖∇‖² over the attention module's parameters (in_proj, out_proj).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attn_grad_norm: Option<f64>,
    /// √Σ‖∇‖² over the feed-forward module's parameters (fc1, fc2), in
    /// blocks with attention (seed 001's two panels).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ff_grad_norm: Option<f64>,
}

/// One parameter's entry in a run (`tensors[]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct TensorRecord {
    /// The export key, e.g. `blocks.3.fc1.weight`.
    pub name: String,
    /// (out, in) for a weight, (len) for a vector.
    pub shape: Vec<usize>,
    pub value: TensorStats,
    pub grad: TensorStats,
}

/// Per-run summary and diagnosis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct RunSummary {
    #[serde(deserialize_with = "nan_if_null")]
    pub loss: f64,
    /// Std of the input batch.
    #[serde(deserialize_with = "nan_if_null")]
    pub input_std: f64,
    #[serde(deserialize_with = "nan_if_null")]
    pub final_act_std: f64,
    /// Mean over layers of ‖dW‖_F.
    #[serde(deserialize_with = "nan_if_null")]
    pub mean_grad_norm: f64,
    /// max/min over layers of ‖dW‖_F (inf when a layer's gradient norm is 0).
    #[serde(deserialize_with = "nan_if_null")]
    pub grad_norm_ratio: f64,
    /// Largest zero fraction of any hidden layer's activation.
    #[serde(deserialize_with = "nan_if_null")]
    pub max_dead_fraction: f64,
    /// Largest dead-unit fraction of any layer (units zero on every row of
    /// the batch); absent in documents written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_dead_unit_fraction: Option<f64>,
    /// Largest saturated fraction of any hidden layer's activation.
    #[serde(deserialize_with = "nan_if_null")]
    pub max_saturated_fraction: f64,
    pub nan_count: u64,
    pub inf_count: u64,
    /// Human-readable findings ("vanishing activations", ...); empty when healthy.
    pub diagnosis: Vec<String>,
}

/// Wall-clock timings of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Timing {
    pub init_ms: f64,
    pub step_ms: f64,
    pub total_ms: f64,
    /// Steps 1.. of training, records included (runs with `train`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_ms: Option<f64>,
}

/// One run's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    pub id: String,
    pub label: String,
    /// The arm (label without the repeat index); repeats share it.
    pub group: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    pub params: serde_json::Map<String, serde_json::Value>,
    pub seed: u64,
    pub repeat: u32,
    /// Hash of the resolved run configuration (used by `--resume`).
    pub config_hash: String,
    /// The resolved configuration of this run.
    pub config: serde_json::Value,
    pub layers: Vec<LayerRecord>,
    /// Residual stacks: one entry per block.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blocks: Vec<BlockRecord>,
    /// Residual stacks: every parameter's value and gradient statistics.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tensors: Vec<TensorRecord>,
    pub summary: RunSummary,
    /// Closed-form predictions, where a theory applies (none for mixtures,
    /// from_file or LSUV: no number is invented).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub theory: Option<Prediction>,
    /// Training steps (runs with a `train` block).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train: Option<TrainRecord>,
    /// Residual stacks: the stream-variance recursion, where it applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_theory: Option<BlockPrediction>,
    /// Residual stacks: the stream entering block 0 (the input or its projection).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_in: Option<TensorStats>,
    pub timing_ms: Timing,
    /// The adapter this run ran on. Absent in documents written before
    /// shards existed: there the document's `adapter` ran every run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adapter: Option<AdapterRecord>,
    /// The input-output Jacobian's spectrum, when the run asks (`jacobian`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jacobian: Option<jacobian::JacobianRecord>,
}

/// The adapter a result was produced on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct AdapterRecord {
    pub name: String,
    pub backend: String,
    pub device_type: String,
    pub driver: String,
}

/// The tool that wrote the document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolRecord {
    pub name: String,
    pub version: String,
}

impl Default for ToolRecord {
    fn default() -> Self {
        ToolRecord {
            name: "initscope".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }
}

/// The whole `results.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultsDoc {
    pub schema_version: u32,
    pub tool: ToolRecord,
    pub adapter: AdapterRecord,
    /// The manifest as given (before variant and sweep expansion).
    pub manifest: serde_json::Value,
    /// Hash of the whole plan (see `Plan::hash`): the same for a sweep run
    /// in one process, in shards, and merged. Absent in older documents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_hash: Option<String>,
    /// Present when the folder holds one shard of the plan (`run --shard K/N`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardRecord>,
    pub runs: Vec<RunResult>,
}

/// Mean-field predictions for a residual stack, one entry per block (see
/// `theory/residual.rs`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct BlockPrediction {
    /// `"mean_field"`.
    pub method: String,
    /// Predicted std of the stream entering block 0.
    pub stream_in_std: f64,
    /// Predicted std of each block's output stream.
    pub stream_std: Vec<f64>,
    /// Predicted std of each block's a·FF(.).
    pub branch_std: Vec<f64>,
}

/// Which part of a plan a shard folder holds, and the whole plan, so that
/// `merge` can check coverage and name the shard of every missing run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardRecord {
    /// K of `--shard K/N` (1-based).
    pub index: usize,
    /// N of `--shard K/N`.
    pub count: usize,
    /// Every run of the whole plan, in plan order.
    pub plan: Vec<PlanEntry>,
}

/// One run of a plan as a shard record lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanEntry {
    pub id: String,
    pub config_hash: String,
    /// The shard (1-based) this run is assigned to.
    pub shard: usize,
}

/// Closed-form predictions for one run (see `theory.rs`), one entry per layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Prediction {
    /// `"linear_exact"` for identity stacks, `"mean_field"` otherwise.
    pub method: String,
    /// Predicted variance of each layer's pre-activation, q^l.
    pub preact_var: Vec<f64>,
    /// Predicted std of each layer's post-activation output.
    pub act_std: Vec<f64>,
    /// Predicted |mean| of each layer's post-activation output.
    pub act_mean_abs: Vec<f64>,
    /// Gradient factor χ₁ = σ_w²·E[φ'(√q z)²] of each layer.
    pub chi1: Vec<f64>,
    /// Predicted ‖dL/da_l‖ relative to the last layer's (the product of χ factors,
    /// with the fan ratios), per layer.
    pub grad_act_norm_rel: Vec<f64>,
    /// Depth scale ξ = −1/ln χ₁ at the last layer's q, when χ₁ ≠ 1 (∞ at criticality → None).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depth_scale: Option<f64>,
    /// Linear Gaussian stacks: mean of log(‖x_l‖²/E‖x_l‖²) per layer (finite width).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_norm_mean: Option<Vec<f64>>,
    /// Linear stacks: variance of log‖x_l‖² per layer (0 for orthogonal weights).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_norm_var: Option<Vec<f64>>,
}
