//! The table entries of the residual-stack fields (`network.block`, `norm`,
//! `residual_scale`, ..., `overrides[]`, `input.embedding`); the fields
//! themselves are listed in `fields.rs`, in echo order.

use super::checks::{check_embedding, check_param_override};
use super::fields::{MAX_DIM, size};
use crate::init::FOR_WEIGHT;
use crate::registry::{
    Bound, EnumTy, Field, IntTy, ListTy, Lit, Names, NumTy, Obj, OneOf,
    Presence::{Default, Optional, Required},
    StrTy, Ty,
};

static VOCAB: IntTy = size("a vocabulary size", MAX_DIM);
static SEQ_LEN: IntTy = size("a sequence length", MAX_DIM);

pub(super) static NON_NEGATIVE: NumTy = NumTy {
    min: Some(Bound {
        value: 0.0,
        inclusive: true,
    }),
    max: None,
    why: "",
};

pub(super) static BLOCK: EnumTy = EnumTy {
    what: "block",
    names: Names::Fixed(&["linear", "residual"]),
};
pub(super) static NORM: EnumTy = EnumTy {
    what: "norm",
    names: Names::Fixed(&["layernorm", "rmsnorm", "none"]),
};
pub(super) static NORM_POSITION: EnumTy = EnumTy {
    what: "norm position",
    names: Names::Fixed(&["pre", "post"]),
};
static SCALE_RULE: EnumTy = EnumTy {
    what: "residual scale",
    names: Names::Fixed(super::SCALE_RULES),
};
pub(super) static RESIDUAL_SCALE: OneOf = OneOf {
    alts: &[Ty::Num(&NON_NEGATIVE), Ty::Enum(&SCALE_RULE)],
    expect: "a number >= 0, \"1/sqrt(2L)\", \"1/sqrt(L)\" or \"deepnorm\"",
    plural: "numbers >= 0 or residual-scale names (1/sqrt(2L), 1/sqrt(L), deepnorm)",
};

pub(super) static OVERRIDES: ListTy = ListTy {
    item: Ty::Obj(&PARAM_OVERRIDE),
    min: 0,
    max: usize::MAX,
    expect: "a list of overrides such as [{\"match\": \"blocks.*.fc2.weight\", \"scale\": 0.5}]",
    items: "overrides",
};

static GLOB: StrTy = StrTy {
    valid: |s| !s.is_empty(),
    expect: "a glob over export keys such as \"blocks.*.fc2.weight\"",
    pattern: Some("."),
};

static PARAM_OVERRIDE: Obj = Obj {
    what: "an override",
    fields: &[
        Field::new(
            "match",
            Ty::Str(&GLOB),
            Required("e.g. \"match\": \"blocks.*.fc2.weight\""),
            "a glob over the export keys (`*` any run of characters, dots included; `?` one character)",
        ),
        Field::new(
            "init",
            FOR_WEIGHT,
            Optional,
            "the scheme of the matching parameters",
        ),
        Field::new(
            "scale",
            Ty::Num(&NON_NEGATIVE),
            Optional,
            "multiplies the matching parameters after init (as `weight.data *= s`)",
        ),
    ],
    check: Some(check_param_override),
};

pub(super) static EMBEDDING: Obj = Obj {
    what: "embedding",
    fields: &[
        Field::new(
            "vocab",
            Ty::Int(&VOCAB),
            Required("e.g. \"vocab\": 1000"),
            "ids are drawn uniformly from 0..vocab with Philox",
        ),
        Field::new(
            "init",
            FOR_WEIGHT,
            Default(Lit::Json(r#"{"scheme": "normal"}"#)),
            "the table's scheme (vocab × input_dim, as nn.Embedding's weight: fan_in = input_dim)",
        ),
        Field::new(
            "positions",
            Ty::Enum(&POSITIONS),
            Optional,
            "`sinusoidal`: add the positional encoding of row % seq_len",
        ),
        Field::new(
            "seq_len",
            Ty::Int(&SEQ_LEN),
            Optional,
            "tokens per sequence, with positions",
        ),
    ],
    check: Some(check_embedding),
};

static HEADS: IntTy = size("a number of heads", MAX_DIM);

static POSITIVE_SCALE: NumTy = NumTy {
    min: Some(Bound {
        value: 0.0,
        inclusive: false,
    }),
    max: None,
    why: "",
};
static ATTN_SCALE_RULE: EnumTy = EnumTy {
    what: "attention scale",
    names: Names::Fixed(super::ATTN_SCALE_RULES),
};
static ATTN_SCALE: OneOf = OneOf {
    alts: &[Ty::Num(&POSITIVE_SCALE), Ty::Enum(&ATTN_SCALE_RULE)],
    expect: "a number > 0, \"1/sqrt(d_head)\" or \"1/d_head\"",
    plural: "numbers > 0 or attention-scale names (1/sqrt(d_head), 1/d_head)",
};

pub(super) static ATTENTION: Obj = Obj {
    what: "attention",
    fields: &[
        Field::new(
            "heads",
            Ty::Int(&HEADS),
            Required("e.g. \"heads\": 8 (it must divide width)"),
            "number of heads; d_head = width / heads",
        ),
        Field::new(
            "seq_len",
            Ty::Int(&SEQ_LEN),
            Required(
                "e.g. \"seq_len\": 128 (input.batch counts token rows: a multiple of seq_len)",
            ),
            "tokens per sequence: attention runs within each run of seq_len consecutive rows, so input.batch (token rows) must be a multiple of it",
        ),
        Field::new(
            "causal",
            Ty::Bool,
            Default(Lit::Bool(false)),
            "each query sees only itself and earlier keys of its sequence",
        ),
        Field::new(
            "scale",
            Ty::OneOf(&ATTN_SCALE),
            Default(Lit::Str("1/sqrt(d_head)")),
            "the logits' scale: `1/sqrt(d_head)` (torch), `1/d_head` (μP) or a number > 0",
        ),
    ],
    check: None,
};

static POSITIONS: EnumTy = EnumTy {
    what: "positions",
    names: Names::Fixed(&["sinusoidal"]),
};
