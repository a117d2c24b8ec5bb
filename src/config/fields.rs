//! The run fields of a manifest, one table entry each: the validator, the
//! defaults, the sweep paths, the JSON Schema and the README all read these.
//! A new field is one entry (plus, where it involves other fields, one
//! check function below).

use super::checks::{check_network, check_override, check_run};
use super::residual_fields::{
    ATTENTION, BLOCK, EMBEDDING, NORM, NORM_POSITION, OVERRIDES, RESIDUAL_SCALE,
};
use crate::activation;
use crate::init::{FOR_BIAS, FOR_INPUT, FOR_WEIGHT};
use crate::registry::{
    Bound, Case, EnumTy, Field, IntMsg, IntTy, ListTy, Lit, Names, NumTy, Obj,
    Presence::{Default, Optional, Required},
    Ty, Union,
};

/// Largest accepted size of any single dimension.
pub const MAX_DIM: u64 = 1 << 24;
/// Largest accepted number of layers.
pub const MAX_DEPTH: u64 = 10_000;

pub(super) const fn size(noun: &'static str, max: u64) -> IntTy {
    IntTy {
        min: 1,
        max,
        msg: IntMsg::Size(noun),
    }
}
static INPUT_DIM: IntTy = size("an input dimension", MAX_DIM);
pub(super) static WIDTH: IntTy = size("a width", MAX_DIM);
static DEPTH: IntTy = size("a depth", MAX_DEPTH);
static BATCH: IntTy = size("a batch size", MAX_DIM);

static INDEX: IntTy = IntTy {
    min: 0,
    max: u64::MAX,
    msg: IntMsg::Expect("a layer index (an integer >= 0)"),
};
static BINS: IntTy = IntTy {
    min: 1,
    max: 4096,
    msg: IntMsg::Expect("an integer in 1..=4096"),
};
static POSITIVE: NumTy = NumTy {
    min: Some(Bound {
        value: 0.0,
        inclusive: false,
    }),
    max: None,
    why: "",
};

/// Every field of a run, in the order they are echoed.
pub const RUN: Ty = Ty::Obj(&RUN_FIELDS);

static RUN_FIELDS: Obj = Obj {
    what: "a run",
    fields: &[
        Field::new(
            "network",
            Ty::Obj(&NETWORK),
            Required("e.g. \"network\": {\"input_dim\": 512, \"width\": 512, \"depth\": 10}"),
            "the stack of linear layers (see Network)",
        ),
        Field::new(
            "init",
            FOR_WEIGHT,
            Default(Lit::Json(r#"{"scheme": "xavier_uniform"}"#)),
            "the scheme of every weight",
        ),
        Field::new(
            "bias_init",
            FOR_BIAS,
            Default(Lit::Json(r#"{"scheme": "zeros"}"#)),
            "the scheme of every bias",
        ),
        Field::new(
            "layers",
            Ty::List(&LAYERS),
            Default(Lit::Json("[]")),
            "per-layer overrides of `init` and `bias_init`; later entries win",
        ),
        Field::new(
            "input",
            Ty::Obj(&INPUT),
            Required("e.g. \"input\": {\"batch\": 64}"),
            "the input batch: its size and elementwise distribution",
        ),
        Field::new(
            "overrides",
            Ty::List(&OVERRIDES),
            Optional,
            "residual stacks: per-parameter overrides by glob over the export keys, in order, later entries winning",
        ),
        Field::new(
            "loss",
            LOSS_TY,
            Default(Lit::Str("mean")),
            "the loss whose gradient is backpropagated: `mean`, `mean_square`, `sum`, `cross_entropy`, or `{\"name\": \"mse\", \"target\": ...}`",
        ),
        Field::new(
            "stats",
            Ty::Obj(&STATS),
            Default(Lit::Json("{}")),
            "options of the statistics and the diagnosis",
        ),
        Field::new(
            "jacobian",
            Ty::Obj(&JACOBIAN),
            Optional,
            "the input-output Jacobian's singular value spectrum, exact in product form (see Jacobian)",
        ),
        Field::new(
            "train",
            Ty::Obj(&super::train_fields::TRAIN),
            Optional,
            "optimizer steps after the step at init (see Training); absent: the step at init only",
        ),
    ],
    check: Some(check_run),
};

static INPUTS: IntTy = size("a number of input rows", MAX_DIM);

static JACOBIAN: Obj = Obj {
    what: "jacobian",
    fields: &[
        Field::new(
            "inputs",
            Ty::Int(&INPUTS),
            Default(Lit::Int(1)),
            "input rows (the first of the batch) to take J = d x_L / d x_0 at; summaries are means over them, with their spread",
        ),
        Field::new(
            "depths",
            Ty::List(&ListTy {
                item: Ty::Int(&DEPTH),
                min: 0,
                max: MAX_DEPTH as usize,
                expect: "a list of depths such as [1, 10, 50]",
                items: "depths",
            }),
            Default(Lit::Json("[]")),
            "partial depths whose Jacobian (of the first d layers) is reported too",
        ),
        Field::new(
            "values",
            Ty::Bool,
            Default(Lit::Bool(false)),
            "also write every log10 singular value of every input",
        ),
    ],
    check: None,
};

static NETWORK: Obj = Obj {
    what: "network",
    fields: &[
        Field::new(
            "input_dim",
            Ty::Int(&INPUT_DIM),
            Required("give the width of the input, e.g. \"input_dim\": 512"),
            "features of the input (fan_in of layer 0)",
        ),
        Field::new(
            "width",
            Ty::Int(&WIDTH),
            Optional,
            "output width of every layer, with depth",
        ),
        Field::new(
            "depth",
            Ty::Int(&DEPTH),
            Optional,
            "number of layers, with width",
        ),
        Field::new(
            "widths",
            Ty::List(&ListTy {
                item: Ty::Int(&WIDTH),
                min: 1,
                max: MAX_DEPTH as usize,
                expect: "a non-empty list of positive integers",
                items: "layers",
            }),
            Optional,
            "the output width of every layer, for bottlenecks and expansions (instead of width and depth)",
        ),
        Field::new(
            "activation",
            activation::TY,
            Default(Lit::Str("tanh")),
            "after every layer but the last",
        ),
        Field::new(
            "final_activation",
            activation::TY,
            Default(Lit::Str("identity")),
            "after the last layer",
        ),
        Field::new(
            "bias",
            Ty::Bool,
            Default(Lit::Bool(true)),
            "whether layers have a bias",
        ),
        Field::new(
            "block",
            Ty::Enum(&BLOCK),
            Optional,
            "`linear` (absent: Linear → activation per layer) or `residual` (depth blocks of `x + a·FF(norm(x))`); the fields below are for residual stacks",
        ),
        Field::new(
            "ff_width",
            Ty::Int(&WIDTH),
            Optional,
            "hidden width of each block's feed-forward branch (absent: 4·width)",
        ),
        Field::new(
            "norm",
            Ty::Enum(&NORM),
            Optional,
            "`layernorm` (absent), `rmsnorm` or `none`: torch's nn.LayerNorm / nn.RMSNorm, weight 1 and bias 0",
        ),
        Field::new(
            "norm_position",
            Ty::Enum(&NORM_POSITION),
            Optional,
            "`pre` (absent): x + a·FF(norm(x)); `post`: norm(x + a·FF(x))",
        ),
        Field::new(
            "norm_eps",
            Ty::Num(&POSITIVE),
            Optional,
            "epsilon of every norm layer (absent: 1e-5)",
        ),
        Field::new(
            "residual_scale",
            Ty::OneOf(&RESIDUAL_SCALE),
            Optional,
            "the branch scale a: a number >= 0 (absent: 1), `1/sqrt(2L)`, `1/sqrt(L)` or `deepnorm` (post-norm, skip ×(2L)^¼, fc weights xavier_normal with gain (8L)^-¼)",
        ),
        Field::new(
            "final_norm",
            Ty::Bool,
            Optional,
            "a norm after the last block (absent: false)",
        ),
        Field::new(
            "attention",
            Ty::Obj(&ATTENTION),
            Optional,
            "a multi-head self-attention sublayer in every block, before the feed-forward one (torch's nn.MultiheadAttention; see Attention)",
        ),
    ],
    check: Some(check_network),
};

static LAYERS: ListTy = ListTy {
    item: Ty::Obj(&LAYER),
    min: 0,
    max: usize::MAX,
    expect: "a list of layer overrides such as [{\"index\": 0, \"init\": {\"scheme\": \"orthogonal\"}}]",
    items: "overrides",
};

static LAYER: Obj = Obj {
    what: "a layer override",
    fields: &[
        Field::new(
            "index",
            Ty::Int(&INDEX),
            Optional,
            "the layer it applies to",
        ),
        Field::new(
            "range",
            Ty::List(&ListTy {
                item: Ty::Int(&INDEX),
                min: 2,
                max: 2,
                expect: "[start, end] with two layer indices (end excluded)",
                items: "indices",
            }),
            Optional,
            "the layers it applies to: half-open [start, end)",
        ),
        Field::new("init", FOR_WEIGHT, Optional, "the scheme of these weights"),
        Field::new(
            "bias_init",
            FOR_BIAS,
            Optional,
            "the scheme of these biases",
        ),
    ],
    check: Some(check_override),
};

static INPUT: Obj = Obj {
    what: "input",
    fields: &[
        Field::new(
            "batch",
            Ty::Int(&BATCH),
            Required("give the number of input rows, e.g. \"batch\": 64"),
            "rows of the input batch",
        ),
        Field::new(
            "dist",
            FOR_INPUT,
            Default(Lit::Json(r#"{"scheme": "normal"}"#)),
            "the elementwise distribution of the input",
        ),
        Field::new(
            "embedding",
            Ty::Obj(&EMBEDDING),
            Optional,
            "residual stacks: token ids drawn from a vocabulary, looked up in an embedding table (instead of dist)",
        ),
    ],
    check: None,
};

/// A loss: a name, or `{"name": "mse", "target": ...}`.
pub const LOSS_TY: Ty = Ty::Union(&LOSS, None);

static LOSS: Union = Union {
    what: "loss",
    tag: "name",
    short: true,
    cases: || LOSSES.iter().collect(),
    expect: "a loss such as \"mean\" or {\"name\": \"mse\", \"target\": \"teacher\"}",
    plural: "losses such as \"mean\" or {\"name\": \"mse\", \"target\": \"teacher\"}",
};

static TARGET: EnumTy = EnumTy {
    what: "mse target",
    names: Names::Fixed(&["gaussian", "teacher"]),
};

static LOSSES: [Case; 5] = [
    Case::new("mean", &[], "output.mean()"),
    Case::new("mean_square", &[], "(output**2).mean()"),
    Case::new(
        "mse",
        &[Field::new(
            "target",
            Ty::Enum(&TARGET),
            Default(Lit::Str("gaussian")),
            "gaussian: i.i.d. N(0, 1); teacher: a random linear map of the input",
        )],
        "((output - target)**2).mean()",
    ),
    Case::new("sum", &[], "output.sum()"),
    Case::new(
        "cross_entropy",
        &[],
        "F.cross_entropy(output, labels), labels = argmax of a random linear teacher; classes = the output width (>= 2)",
    ),
];

static STATS: Obj = Obj {
    what: "stats",
    fields: &[
        Field::new(
            "saturation_threshold",
            Ty::Num(&POSITIVE),
            Default(Lit::Num(0.9)),
            "activations whose absolute value is above this count as saturated",
        ),
        Field::new(
            "histogram_bins",
            Ty::Int(&BINS),
            Default(Lit::Int(64)),
            "bins of the histograms",
        ),
        Field::new(
            "diagnosis",
            Ty::Obj(&DIAGNOSIS),
            Default(Lit::Json("{}")),
            "thresholds of the diagnosis",
        ),
    ],
    check: None,
};

const fn threshold(name: &'static str, default: f64, doc: &'static str) -> Field {
    Field::new(name, Ty::Num(&POSITIVE), Default(Lit::Num(default)), doc)
}

static DIAGNOSIS: Obj = Obj {
    what: "diagnosis",
    fields: &[
        threshold(
            "vanishing_act_std",
            0.1,
            "activation std below this is vanishing",
        ),
        threshold(
            "exploding_act_std",
            10.0,
            "activation std above this is exploding",
        ),
        threshold(
            "vanishing_grad_norm",
            1e-6,
            "gradient norms below this are vanishing",
        ),
        threshold(
            "exploding_grad_norm",
            10.0,
            "gradient norms above this are exploding",
        ),
        threshold(
            "dead_fraction",
            0.5,
            "a layer with more than this fraction of its units 0 for every input of the batch is dead",
        ),
        threshold(
            "saturated_fraction",
            0.3,
            "a layer with more saturated units is saturated",
        ),
    ],
    check: None,
};
