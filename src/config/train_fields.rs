//! The `train` block of a run as table entries: steps, optimizer (torch's
//! names, parameters and defaults), schedule, data, recording and
//! parametrization. The whole block is Optional in [`super::fields::RUN`],
//! so runs without it echo (and hash) exactly as before.

use crate::registry::{
    Bound, Case, Checker, EnumTy, Field, IntMsg, IntTy, ListTy, Lit, Names, NumTy, Obj,
    Presence::{Default, Optional, Required},
    Ty, Union, View,
};
use crate::train::MAX_STEPS;
use serde_json::Value;

static STEPS: IntTy = IntTy {
    min: 1,
    max: MAX_STEPS as u64,
    msg: IntMsg::Size("a number of training steps"),
};
static RECORD_EVERY: IntTy = IntTy {
    min: 1,
    max: MAX_STEPS as u64,
    msg: IntMsg::Size("a recording interval"),
};
static WARMUP: IntTy = IntTy {
    min: 0,
    max: MAX_STEPS as u64,
    msg: IntMsg::Expect("a number of warmup steps (an integer >= 0)"),
};
static BASE_WIDTH: IntTy = IntTy {
    min: 1,
    max: super::MAX_DIM,
    msg: IntMsg::Size("a base width"),
};

const fn at_least(value: f64, inclusive: bool, why: &'static str) -> NumTy {
    NumTy {
        min: Some(Bound { value, inclusive }),
        max: None,
        why,
    }
}
static LR: NumTy = at_least(0.0, false, "a learning rate of 0 or less never learns");
static NON_NEGATIVE: NumTy = at_least(0.0, true, "as torch.optim requires");
static UNIT: NumTy = NumTy {
    min: Some(Bound {
        value: 0.0,
        inclusive: true,
    }),
    max: Some(Bound {
        value: 1.0,
        inclusive: true,
    }),
    why: "",
};
static BETA: NumTy = NumTy {
    min: Some(Bound {
        value: 0.0,
        inclusive: true,
    }),
    max: Some(Bound {
        value: 1.0,
        inclusive: false,
    }),
    why: "each beta is a decay rate: torch requires 0 <= beta < 1",
};

/// `train`: present only for runs that train.
pub static TRAIN: Obj = Obj {
    what: "train",
    fields: &[
        Field::new(
            "steps",
            Ty::Int(&STEPS),
            Required("give the number of optimizer updates, e.g. \"steps\": 200"),
            "optimizer updates after the step at init (records steps 0 to `steps`)",
        ),
        Field::new(
            "optimizer",
            Ty::Union(&OPTIMIZER, None),
            Default(Lit::Json(r#"{"name": "adam"}"#)),
            "`sgd`, `adam` or `adamw` with torch.optim's parameters and defaults",
        ),
        Field::new(
            "data",
            Ty::Enum(&DATA),
            Default(Lit::Str("fixed")),
            "`fixed`: one batch (full-batch training); `fresh`: a new Philox batch every step",
        ),
        Field::new(
            "record_every",
            Ty::Int(&RECORD_EVERY),
            Optional,
            "read back every this many steps, and the last (absent: about 100 records, ceil(steps/100))",
        ),
        Field::new(
            "schedule",
            Ty::Obj(&SCHEDULE),
            Default(Lit::Json("{}")),
            "the learning-rate schedule: linear warmup, then constant or cosine decay",
        ),
        Field::new(
            "parametrization",
            Ty::Enum(&PARAMETRIZATION),
            Default(Lit::Str("standard")),
            "`standard`, or `mup`: muP-style learning-rate and output multipliers relative to `base_width`",
        ),
        Field::new(
            "base_width",
            Ty::Int(&BASE_WIDTH),
            Default(Lit::Int(64)),
            "the width at which `mup` equals `standard`",
        ),
    ],
    check: Some(check_train),
};

static DATA: EnumTy = EnumTy {
    what: "data mode",
    names: Names::Fixed(&["fixed", "fresh"]),
};
static PARAMETRIZATION: EnumTy = EnumTy {
    what: "parametrization",
    names: Names::Fixed(&["standard", "mup"]),
};
static DECAY: EnumTy = EnumTy {
    what: "decay",
    names: Names::Fixed(&["none", "cosine"]),
};

static SCHEDULE: Obj = Obj {
    what: "schedule",
    fields: &[
        Field::new(
            "warmup",
            Ty::Int(&WARMUP),
            Default(Lit::Int(0)),
            "steps of linear warmup: update k uses lr·(k+1)/warmup while k < warmup",
        ),
        Field::new(
            "decay",
            Ty::Enum(&DECAY),
            Default(Lit::Str("none")),
            "after the warmup: `none` (constant) or `cosine` (to 0 at the last step)",
        ),
    ],
    check: None,
};

static OPTIMIZER: Union = Union {
    what: "optimizer",
    tag: "name",
    short: true,
    cases: || OPTIMIZERS.iter().collect(),
    expect: "an optimizer such as \"adam\" or {\"name\": \"sgd\", \"lr\": 0.1}",
    plural: "optimizers such as \"adam\" or {\"name\": \"sgd\", \"lr\": 0.1}",
};

const fn lr() -> Field {
    Field::new(
        "lr",
        Ty::Num(&LR),
        Default(Lit::Num(1e-3)),
        "the base learning rate",
    )
}
const fn weight_decay(default: f64, doc: &'static str) -> Field {
    Field::new(
        "weight_decay",
        Ty::Num(&NON_NEGATIVE),
        Default(Lit::Num(default)),
        doc,
    )
}
static BETAS: ListTy = ListTy {
    item: Ty::Num(&BETA),
    min: 2,
    max: 2,
    expect: "[beta1, beta2], two numbers in [0, 1)",
    items: "betas",
};
const fn adam_fields(wd: f64, wd_doc: &'static str) -> [Field; 4] {
    [
        lr(),
        Field::new(
            "betas",
            Ty::List(&BETAS),
            Default(Lit::Json("[0.9, 0.999]")),
            "decay rates of the two moment estimates",
        ),
        Field::new(
            "eps",
            Ty::Num(&NON_NEGATIVE),
            Default(Lit::Num(1e-8)),
            "added to the denominator",
        ),
        weight_decay(wd, wd_doc),
    ]
}
static ADAM: [Field; 4] = adam_fields(0.0, "L2 penalty added to the gradient, biases included");
static ADAMW: [Field; 4] = adam_fields(0.01, "decoupled decay of every weight, biases included");
static SGD: [Field; 5] = [
    lr(),
    Field::new(
        "momentum",
        Ty::Num(&NON_NEGATIVE),
        Default(Lit::Num(0.0)),
        "momentum factor (0: plain SGD, no buffer)",
    ),
    Field::new(
        "dampening",
        Ty::Num(&UNIT),
        Default(Lit::Num(0.0)),
        "dampening of the momentum",
    ),
    Field::new(
        "nesterov",
        Ty::Bool,
        Default(Lit::Bool(false)),
        "Nesterov momentum (needs momentum > 0 and dampening 0)",
    ),
    weight_decay(0.0, "L2 penalty added to the gradient, biases included"),
];

/// The optimizers, as torch.optim names them (the README's table).
pub static OPTIMIZERS: [Case; 3] = [
    Case {
        check: Some(check_nesterov),
        ..Case::new("sgd", &SGD, "torch.optim.SGD")
    },
    Case::new("adam", &ADAM, "torch.optim.Adam"),
    Case::new("adamw", &ADAMW, "torch.optim.AdamW"),
];

/// torch refuses Nesterov momentum without momentum or with dampening.
fn check_nesterov(c: &mut Checker, v: &View) {
    if v.valid("nesterov") != Some(&Value::Bool(true)) {
        return;
    }
    if v.num("momentum").is_some_and(|m| m <= 0.0) {
        let msg = "Nesterov momentum needs momentum > 0; set e.g. \"momentum\": 0.9";
        c.push(&v.at("nesterov"), msg);
    }
    if v.num("dampening").is_some_and(|d| d != 0.0) {
        let msg = "Nesterov momentum needs dampening 0; remove \"dampening\"";
        c.push(&v.at("dampening"), msg);
    }
}

/// Records and the warmup lie within the run's steps.
fn check_train(c: &mut Checker, v: &View) {
    let Some(steps) = v.valid("steps").and_then(Value::as_u64) else {
        return;
    };
    if let Some(r) = v.valid("record_every").and_then(Value::as_u64)
        && r > steps
    {
        let msg = format!(
            "record_every {r} is more than the {steps} steps, so only steps 0 and {steps} \
             would be recorded; give at most {steps}"
        );
        c.push(&v.at("record_every"), msg);
    }
    let warmup = v.valid("schedule").and_then(|s| s.get("warmup"));
    if let Some(w) = warmup.and_then(Value::as_u64).filter(|w| *w > steps) {
        let msg =
            format!("a warmup of {w} steps is longer than the {steps} steps; give at most {steps}");
        c.push(&v.at("schedule").key("warmup"), msg);
    }
}
