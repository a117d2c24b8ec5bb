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
pub mod memory;
pub mod records;
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
    /// The shared per-chunk scratch: written by the op that consumes the
    /// tensor's producer and read at once by that producer's backward.
    Scratch,
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
    /// Whether the scheme's moments feed the theory (not for mixtures,
    /// tensors from files or LSUV: no number is invented).
    pub theory: bool,
}

impl Param {
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.rows * self.cols
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
}

impl Op {
    /// The row tensor this op writes.
    pub fn output(&self) -> ActId {
        match self {
            Op::Linear { y, .. } | Op::Activation { y, .. } => *y,
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

/// Where a reduced statistic goes in the results.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum StatKey {
    /// The input batch.
    Input,
    /// A field of layer `i` of a linear stack.
    Layer(usize, LayerField),
    /// The per-row loss (cross-entropy): its mean is the loss.
    Loss,
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

    /// The widest row tensor (chunking is sized by it).
    pub fn max_cols(&self) -> usize {
        self.acts.iter().map(|a| a.cols).max().unwrap_or(1)
    }

    /// The widest row tensor whose gradient lives in the scratch.
    pub fn max_scratch_cols(&self) -> usize {
        self.acts
            .iter()
            .filter(|a| a.grad == GradStore::Scratch)
            .map(|a| a.cols)
            .max()
            .unwrap_or(1)
    }

    /// Index of the op that uses `w` as its weight.
    pub fn op_of_weight(&self, w: ParamId) -> Option<usize> {
        self.ops
            .iter()
            .position(|op| matches!(op, Op::Linear { w: x, .. } if *x == w))
    }
}
