//! The parameters of the schemes, as table fields (kind, default, range,
//! doc), and the checks that involve more than one of them.

use super::schemes::{FOR_COMPONENT, FOR_PRE};
use crate::activation::{erfc, gain_names};
use crate::registry::{
    Bound, Checker, EnumTy, Field, IntMsg, IntTy, ListTy, Lit, Names, NumTy, Obj, OneOf,
    Presence::{Default, Required},
    StrTy, Ty, View,
};

const fn num(min: Option<Bound>, max: Option<Bound>, why: &'static str) -> NumTy {
    NumTy { min, max, why }
}
const fn above(value: f64, inclusive: bool) -> Option<Bound> {
    Some(Bound { value, inclusive })
}

static ANY: NumTy = num(None, None, "");
static POSITIVE: NumTy = num(above(0.0, false), None, "");
static SLOPE: NumTy = num(above(0.0, true), None, "the negative slope of leaky_relu");
static FRACTION: NumTy = num(
    above(0.0, true),
    Some(Bound {
        value: 1.0,
        inclusive: false,
    }),
    "the fraction of zeros per column",
);
static NON_EMPTY: StrTy = StrTy {
    valid: |s| !s.is_empty(),
    expect: "a non-empty string",
    pattern: Some("."),
};
static ITERATIONS: IntTy = IntTy {
    min: 1,
    max: u32::MAX as u64,
    msg: IntMsg::Size("a number of iterations"),
};
static MODE: EnumTy = EnumTy {
    what: "mode",
    names: Names::Fixed(&["fan_in", "fan_out"]),
};
static NONLINEARITY: EnumTy = EnumTy {
    what: "nonlinearity",
    names: Names::Computed(gain_names),
};
static GAIN_NAME: EnumTy = EnumTy {
    what: "gain",
    names: Names::Computed(|| {
        let mut n = gain_names();
        n.push("auto");
        n
    }),
};

/// A gain: a positive number, a nonlinearity name, or `"auto"`.
pub const GAIN_TY: Ty = Ty::OneOf(&GAIN_ONE_OF);
static GAIN_ONE_OF: OneOf = OneOf {
    alts: &[Ty::Num(&POSITIVE), Ty::Enum(&GAIN_NAME)],
    expect: "a gain: a positive number, a nonlinearity name such as \"relu\", or \"auto\"",
    plural: "gains (positive numbers or names such as \"relu\")",
};

pub const VALUE: &[Field] = &[Field::new(
    "value",
    Ty::Num(&ANY),
    Required("give the constant, e.g. \"value\": 0.5"),
    "the value of every element",
)];
pub const UNIFORM: &[Field] = &[
    Field::new("a", Ty::Num(&ANY), Default(Lit::Num(0.0)), "lower bound"),
    Field::new("b", Ty::Num(&ANY), Default(Lit::Num(1.0)), "upper bound"),
];
const MEAN: Field = Field::new("mean", Ty::Num(&ANY), Default(Lit::Num(0.0)), "mean");
const STD: Field = Field::new(
    "std",
    Ty::Num(&POSITIVE),
    Default(Lit::Num(1.0)),
    "standard deviation",
);
pub const NORMAL: &[Field] = &[MEAN, STD];
pub const TRUNC_NORMAL: &[Field] = &[
    MEAN,
    STD,
    Field::new(
        "a",
        Ty::Num(&ANY),
        Default(Lit::Num(-2.0)),
        "lower bound (absolute, not in std units)",
    ),
    Field::new(
        "b",
        Ty::Num(&ANY),
        Default(Lit::Num(2.0)),
        "upper bound (absolute)",
    ),
];
pub const GAIN: &[Field] = &[Field::new(
    "gain",
    GAIN_TY,
    Default(Lit::Num(1.0)),
    "a number, a nonlinearity name from torch's calculate_gain, or \"auto\" (the layer's activation)",
)];
pub const KAIMING: &[Field] = &[
    Field::new(
        "a",
        Ty::Num(&SLOPE),
        Default(Lit::Num(0.0)),
        "the leaky_relu slope passed to calculate_gain",
    ),
    Field::new(
        "mode",
        Ty::Enum(&MODE),
        Default(Lit::Str("fan_in")),
        "which fan scales the variance",
    ),
    Field::new(
        "nonlinearity",
        Ty::Enum(&NONLINEARITY),
        Default(Lit::Str("leaky_relu")),
        "the nonlinearity whose torch gain is used",
    ),
];
pub const SPARSE: &[Field] = &[
    Field::new(
        "sparsity",
        Ty::Num(&FRACTION),
        Required("give the fraction of zeros per column, e.g. \"sparsity\": 0.9"),
        "the fraction of zeros per column",
    ),
    Field::new(
        "std",
        Ty::Num(&POSITIVE),
        Default(Lit::Num(0.01)),
        "std of the non-zero elements",
    ),
];
static COMPONENT: Obj = Obj {
    what: "a mixture component",
    fields: &[
        Field::new(
            "weight",
            Ty::Num(&POSITIVE),
            Required("give the component's probability, e.g. \"weight\": 0.5"),
            "the probability of this component",
        ),
        Field::new(
            "dist",
            FOR_COMPONENT,
            Required("give the component's distribution, e.g. {\"scheme\": \"normal\"}"),
            "an elementwise scheme",
        ),
    ],
    check: None,
};
static COMPONENTS: ListTy = ListTy {
    item: Ty::Obj(&COMPONENT),
    min: 1,
    max: usize::MAX,
    expect: "a non-empty list of components such as [{\"weight\": 0.9, \"dist\": {\"scheme\": \"zeros\"}}, ...]",
    items: "components",
};
pub const MIXTURE: &[Field] = &[Field::new(
    "components",
    Ty::List(&COMPONENTS),
    Required("e.g. [{\"weight\": 0.5, \"dist\": {\"scheme\": \"zeros\"}}, ...]"),
    "the components; their weights sum to 1",
)];
pub const FROM_FILE: &[Field] = &[
    Field::new(
        "path",
        Ty::Str(&NON_EMPTY),
        Required("give the safetensors file, e.g. \"path\": \"weights.safetensors\""),
        "a safetensors file; relative paths start at the manifest's folder",
    ),
    Field::new(
        "tensor",
        Ty::Str(&NON_EMPTY),
        Required("give the tensor's name in the file, e.g. \"tensor\": \"layers.0.weight\""),
        "the tensor's name in the file",
    ),
];
pub const LSUV: &[Field] = &[
    Field::new(
        "tol",
        Ty::Num(&POSITIVE),
        Default(Lit::Num(0.1)),
        "tolerance on the output std",
    ),
    Field::new(
        "max_iter",
        Ty::Int(&ITERATIONS),
        Default(Lit::Int(10)),
        "rescaling iterations at most",
    ),
    Field::new(
        "pre",
        FOR_PRE,
        Default(Lit::Json(r#"{"scheme": "orthogonal"}"#)),
        "the initialization LSUV starts from",
    ),
];

/// Smallest accepted probability mass of a truncated normal's interval: below
/// it, rejection sampling would practically never accept.
const MIN_TRUNC_MASS: f64 = 1e-6;

/// `a` < `b` (given or default); the problem goes to whichever was given.
fn interval(c: &mut Checker, v: &View) -> Option<(f64, f64)> {
    let (a, b) = (v.num("a")?, v.num("b")?);
    if a >= b {
        let at = if v.given("b").is_some() { "b" } else { "a" };
        c.push(
            &v.at(at),
            format!("needs a < b, got a = {a}, b = {b}; swap them or widen the interval"),
        );
        return None;
    }
    Some((a, b))
}

/// uniform: a < b.
pub fn check_interval(c: &mut Checker, v: &View) {
    interval(c, v);
}

/// trunc_normal: a < b, and enough mass between them to sample.
pub fn check_trunc_normal(c: &mut Checker, v: &View) {
    let ab = interval(c, v);
    let (Some(mean), Some(std), Some((a, b))) = (v.num("mean"), v.num("std"), ab) else {
        return;
    };
    let mass = normal_mass((a - mean) / std, (b - mean) / std);
    if mass <= MIN_TRUNC_MASS {
        c.push(
            v.path,
            format!(
                "the interval [{a}, {b}] holds only {mass:.1e} of N({mean}, {std}^2), too little to sample; \
                 a and b are absolute bounds, so put them within a few std of the mean"
            ),
        );
    }
}

/// Φ(β) − Φ(α), computed on the near tail so that far tails do not cancel to 0.
fn normal_mass(alpha: f64, beta: f64) -> f64 {
    let q = |x: f64| 0.5 * erfc(x / std::f64::consts::SQRT_2);
    if alpha >= 0.0 {
        q(alpha) - q(beta)
    } else if beta <= 0.0 {
        q(-beta) - q(-alpha)
    } else {
        1.0 - q(beta) - q(-alpha)
    }
}

/// mixture: the weights sum to 1 (when every weight is a valid number).
pub fn check_mixture(c: &mut Checker, v: &View) {
    let Some(items) = v.given("components").and_then(|x| x.as_array()) else {
        return;
    };
    let most = crate::kernels::init::MAX_COMPONENTS;
    if items.len() > most {
        c.push(
            &v.at("components"),
            format!(
                "{} components; a mixture has at most {most} (merge components of the same distribution)",
                items.len()
            ),
        );
    }
    let weight = |x: &serde_json::Value| x.get("weight")?.as_f64().filter(|w| *w > 0.0);
    let sum: Option<f64> = items.iter().map(weight).sum();
    if let Some(s) = sum.filter(|s| (s - 1.0).abs() > 1e-6) {
        c.push(
            &v.at("components"),
            format!("component weights sum to {s}; they must sum to 1 (within 1e-6)"),
        );
    }
}
