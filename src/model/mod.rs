//! The network of one run as data: row tensors (batch × features), parameters
//! with their samplers, a sequence of ops over them, and the statistics each
//! op emits. Built once per run by the plan (`build`), with no GPU; the
//! executor (`exec`) allocates and runs it, and `records` turns the reduced
//! statistics back into the results schema.
//!
//! An op reads row tensors and parameters and writes one row tensor; its
//! backward pass reads the gradient of that output and writes (or adds to)
//! the gradients of its inputs and parameters. New architectures add ops and
//! the builder that wires them, not a new executor.

pub mod build;
pub mod cost;
pub mod glob;
pub mod memory;
pub mod records;
pub mod residual;
pub mod train;

use crate::activation::Activation;
use crate::config::Loss;
use crate::init::Sampler;
use crate::rng::Role;

/// A row tensor of the model (an activation: batch rows × `cols`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ActId(pub usize);

/// A parameter of the model (a weight matrix or a vector).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ParamId(pub usize);

/// Where the gradient of a row tensor lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GradStore {
    /// No gradient (the input batch).
    None,
    /// A tensor of its own, the whole batch (recorded, or read later).
    Full,
    /// A shared per-chunk scratch slot: written by the op that consumes the
    /// tensor's producer and read at once by that producer's backward. An op
    /// reads its output's gradient and writes its input's, so the two must
    /// sit in different slots (builders alternate 0 and 1 along a chain).
    Scratch(u8),
}

/// A row tensor: its GPU label, width and gradient storage.
#[derive(Debug, Clone, PartialEq)]
pub struct ActTensor {
    /// The buffer label, e.g. `preact[3]` (validation messages name it).
    pub label: String,
    /// The label of its gradient buffer when stored, e.g. `grad_act[3]`.
    pub grad_label: String,
    pub cols: usize,
    pub grad: GradStore,
}

/// A parameter: its export key, shape, initialization and Philox stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    /// The export key (the equivalent torch module's state_dict name).
    pub name: String,
    /// The buffer label, e.g. `w[3]`; its gradient's is `grad_label`.
    pub label: String,
    pub grad_label: String,
    /// Rows and columns: (out, in) for a weight, (len, 1) for a vector.
    pub rows: usize,
    pub cols: usize,
    /// The fans the scheme was resolved with (a bias uses its layer's).
    pub fan_in: usize,
    pub fan_out: usize,
    pub sampler: Sampler,
    /// The Philox stream: (layer index, role); the repeat comes from the run.
    pub layer: u32,
    pub role: Role,
    /// LSUV's (tol, max_iter) when the weight is rescaled after `sampler`.
    pub lsuv: Option<(f64, u32)>,
    /// Multiplies the tensor after it was drawn (`overrides[].scale`), as
    /// `weight.data *= scale` does in torch.
    pub scale: Option<f64>,
    /// Whether the scheme's moments feed the theory (not for mixtures,
    /// tensors from files or LSUV: no number is invented).
    pub theory: bool,
    /// A packed parameter (attention's `in_proj_weight`): its row blocks in
    /// order, each drawn with its own scheme, stream and scale (their fans
    /// are those of one block); empty for an ordinary parameter, which is
    /// drawn whole from `sampler`.
    pub parts: Vec<Param>,
}

impl Param {
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.rows * self.cols
    }

    /// The shape its sampler draws (rows, columns and the resolved fans).
    pub fn init_shape(&self) -> crate::init::Shape {
        crate::init::Shape {
            rows: self.rows,
            cols: self.cols,
            fan_in: self.fan_in,
            fan_out: self.fan_out,
        }
    }

    /// The export shape: `[rows]` for a vector, `[rows, cols]` for a matrix.
    pub fn shape(&self) -> Vec<usize> {
        if self.cols == 1 {
            vec![self.rows]
        } else {
            vec![self.rows, self.cols]
        }
    }

    /// True when the parameter has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One step of the network.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// y = x·Wᵀ (+ b), W of shape (out, in).
    Linear {
        x: ActId,
        y: ActId,
        w: ParamId,
        b: Option<ParamId>,
    },
    /// y = φ(x), elementwise.
    Activation { x: ActId, y: ActId, act: Activation },
    /// Per-row normalization over the columns (torch's `nn.LayerNorm` or
    /// `nn.RMSNorm` with elementwise affine): y = x̂·w (+ b). `saved` (2
    /// columns) keeps each row's mean and 1/σ for the backward pass.
    Norm {
        x: ActId,
        y: ActId,
        w: ParamId,
        b: Option<ParamId>,
        saved: ActId,
        kind: NormKind,
        eps: f32,
    },
    /// y = factor·x (the residual branch scale a, before the add).
    Scale { x: ActId, y: ActId, factor: f32 },
    /// y = skip_scale·skip + branch (the residual add).
    Add {
        skip: ActId,
        branch: ActId,
        y: ActId,
        skip_scale: f32,
    },
    /// Multi-head scaled dot-product self-attention within each sequence of
    /// `seq` consecutive rows: `qkv` holds [q | k | v] (3·width columns, the
    /// in_proj output), `y` the heads' outputs side by side (width columns,
    /// before out_proj). `probs` (heads·seq columns) keeps each query's
    /// softmax over the keys for the backward pass; its gradient slot is the
    /// backward's workspace. `stats` (3·heads columns) keeps each query's
    /// (mean, M2, entropy) of its logits, per head, for the records.
    Attention {
        qkv: ActId,
        y: ActId,
        probs: ActId,
        stats: ActId,
        heads: usize,
        seq: usize,
        causal: bool,
        scale: f32,
    },
}

/// Which normalization a [`Op::Norm`] computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NormKind {
    /// x̂ = (x − mean)/√(var + eps), var biased (torch's `nn.LayerNorm`).
    LayerNorm,
    /// x̂ = x/√(mean(x²) + eps) (torch's `nn.RMSNorm`).
    RmsNorm,
}

impl Op {
    /// The row tensor this op writes.
    pub fn output(&self) -> ActId {
        match self {
            Op::Linear { y, .. }
            | Op::Activation { y, .. }
            | Op::Norm { y, .. }
            | Op::Scale { y, .. }
            | Op::Add { y, .. }
            | Op::Attention { y, .. } => *y,
        }
    }

    /// The row tensors this op reads (whose gradients its backward writes).
    pub fn inputs(&self) -> Vec<ActId> {
        match self {
            Op::Linear { x, .. }
            | Op::Activation { x, .. }
            | Op::Norm { x, .. }
            | Op::Scale { x, .. } => vec![*x],
            Op::Add { skip, branch, .. } => vec![*skip, *branch],
            Op::Attention { qkv, .. } => vec![*qkv],
        }
    }
}

/// Which field of a linear stack's layer record a statistic fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LayerField {
    Weight,
    Bias,
    Preact,
    Act,
    GradWeight,
    GradBias,
    GradAct,
}

/// Which field of a residual block's record a statistic fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BlockField {
    /// The block's output (the residual stream after the block).
    Stream,
    /// dLoss/d(block output).
    GradStream,
    /// a·FF(.) before the add.
    FfBranch,
    /// a·Attn(.) before the add.
    AttnBranch,
}

/// Which field of a parameter's `tensors[]` record a statistic fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TensorField {
    Value,
    Grad,
}

/// Where a reduced statistic goes in the results.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum StatKey {
    /// The input batch.
    Input,
    /// A field of layer `i` of a linear stack.
    Layer(usize, LayerField),
    /// The per-row loss (cross-entropy): its mean is the loss.
    Loss,
    /// A field of residual block `i`.
    Block(usize, BlockField),
    /// The value or gradient of a parameter (`tensors[]`).
    Tensor(ParamId, TensorField),
    /// The network's output (`false`) or its gradient (`true`): the loss and
    /// the summary of stacks that have no `layers[]`.
    Output(bool),
    /// The residual stream entering block 0.
    StreamIn,
}

/// What a statistic is reduced from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatSource {
    Act(ActId),
    Grad(ActId),
    Param(ParamId),
    ParamGrad(ParamId),
}

/// One statistic to reduce after a step.
#[derive(Debug, Clone, PartialEq)]
pub struct StatRequest {
    pub key: StatKey,
    pub source: StatSource,
    pub histogram: bool,
    /// Report zero and saturated fractions (activations).
    pub activation: bool,
}

/// A layer of a linear stack, as its record names it.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerInfo {
    pub index: usize,
    pub fan_in: usize,
    pub fan_out: usize,
    pub activation: Activation,
    /// The weight's init scheme name.
    pub init: String,
}

/// The network of one run.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    /// Rows of every row tensor (the batch).
    pub batch: usize,
    pub acts: Vec<ActTensor>,
    pub params: Vec<Param>,
    pub ops: Vec<Op>,
    /// The input batch and how it is drawn.
    pub input: ActId,
    pub input_sampler: Sampler,
    /// The network's output, whose gradient the loss seeds.
    pub output: ActId,
    pub loss: Loss,
    pub stats: Vec<StatRequest>,
    /// |a| above this counts as saturated.
    pub saturation_threshold: f64,
    /// Bins of the requested histograms.
    pub histogram_bins: u32,
    /// The layers of a linear stack, for the records and the theory.
    pub layers: Vec<LayerInfo>,
    /// Optimizer steps after step 0 (`None`: today's single step).
    pub train: Option<train::TrainPlan>,
    /// The architecture and blocks of a residual stack (`None`: linear).
    pub residual: Option<residual::Residual>,
    /// The input drawn as token embeddings instead of from `input_sampler`.
    pub embedding: Option<residual::Embedding>,
    /// The Jacobian spectra to compute after the step, if asked for.
    pub jacobian: Option<crate::config::JacobianOptions>,
}

impl Model {
    /// The row tensor `id`.
    pub fn act(&self, id: ActId) -> &ActTensor {
        &self.acts[id.0]
    }

    /// The parameter `id`.
    pub fn param(&self, id: ParamId) -> &Param {
        &self.params[id.0]
    }

    /// Rows every chunk boundary falls on: 64 (256-byte binding offsets),
    /// and whole attention sequences.
    pub fn row_granule(&self) -> usize {
        let seq = self
            .residual
            .as_ref()
            .and_then(|r| r.attention)
            .map_or(1, |a| a.seq_len.max(1));
        64 / gcd(64, seq) * seq
    }

    /// The widest row tensor (chunking is sized by it).
    pub fn max_cols(&self) -> usize {
        self.acts.iter().map(|a| a.cols).max().unwrap_or(1)
    }

    /// The widest row tensor whose gradient lives in scratch slot 0.
    pub fn max_scratch_cols(&self) -> usize {
        self.scratch_cols(0).unwrap_or(1)
    }

    /// The widest row tensor whose gradient lives in scratch `slot`; `None`
    /// when the slot is unused.
    pub fn scratch_cols(&self, slot: u8) -> Option<usize> {
        self.acts
            .iter()
            .filter(|a| a.grad == GradStore::Scratch(slot))
            .map(|a| a.cols)
            .max()
    }

    /// How many scratch slots the model uses (at least 1: slot 0 is always
    /// allocated, as it always was).
    pub fn scratch_slots(&self) -> usize {
        let top = self.acts.iter().filter_map(|a| match a.grad {
            GradStore::Scratch(s) => Some(usize::from(s) + 1),
            _ => None,
        });
        top.max().unwrap_or(1).max(1)
    }

    /// Index of the op that uses `w` as its weight.
    pub fn op_of_weight(&self, w: ParamId) -> Option<usize> {
        self.ops
            .iter()
            .position(|op| matches!(op, Op::Linear { w: x, .. } if *x == w))
    }
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 { a } else { gcd(b, a % b) }
}
