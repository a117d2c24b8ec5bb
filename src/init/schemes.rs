//! The scheme table. Adding a scheme is one entry here: its name, its
//! parameters (kind, default, range, doc), where it may be used, its
//! formula for the README, and its sampler arm (what it resolves to for one
//! tensor). Validation, defaults, sweep paths, the JSON Schema and the README
//! table all read the entry.

use super::params::*;
use super::sampler::{Component, Sampler};
use super::{Ctx, Init, InitError, kaiming_std, load_tensor, resolve_gain};
use crate::registry::{Case, Restrict, Ty, Union};

/// Where a scheme may be used: bits of [`Case::uses`].
pub mod uses {
    /// A weight matrix.
    pub const WEIGHT: u8 = 1;
    /// A bias vector.
    pub const BIAS: u8 = 2;
    /// The input batch.
    pub const INPUT: u8 = 4;
    /// A mixture component (elementwise, independent of the shape).
    pub const COMPONENT: u8 = 8;
    /// lsuv's pre-initialization.
    pub const PRE: u8 = 16;
    /// An elementwise distribution: anywhere.
    pub const ELEMENTWISE: u8 = WEIGHT | BIAS | INPUT | COMPONENT | PRE;
    /// Needs the weight's shape (fans, columns).
    pub const MATRIX: u8 = WEIGHT | PRE;
}

/// One initialization scheme.
#[derive(Debug)]
pub struct Scheme {
    /// Name, documentation, parameters, cross-field check and uses.
    pub case: Case,
    /// The distribution, for the README.
    pub formula: &'static str,
    /// Whether the closed-form theory applies (moments of the sampler).
    pub theory: bool,
    /// Whether the memory plan reserves an orthogonal scratch buffer.
    pub orthogonal_scratch: bool,
    /// The sampler arm: what the scheme is for one tensor.
    pub sampler: fn(&Init, &Ctx) -> Result<Sampler, InitError>,
}

impl Scheme {
    /// Needs a matrix shape and cannot fill a bias vector or an input batch.
    pub fn needs_matrix(&self) -> bool {
        self.case.uses & uses::BIAS == 0
    }

    /// Fills each element independently of the tensor's shape.
    pub fn is_elementwise(&self) -> bool {
        self.case.uses & uses::COMPONENT != 0
    }
}

/// A plain scheme: usable where `uses` says, with the theory.
const fn row(
    case: Case,
    formula: &'static str,
    sampler: fn(&Init, &Ctx) -> Result<Sampler, InitError>,
) -> Scheme {
    Scheme {
        case,
        formula,
        theory: true,
        orthogonal_scratch: false,
        sampler,
    }
}

/// A case usable where `uses` says, with an optional cross-field check.
const fn case(
    name: &'static str,
    uses: u8,
    fields: &'static [crate::registry::Field],
    doc: &'static str,
) -> Case {
    Case {
        uses,
        ..Case::new(name, fields, doc)
    }
}

fn one(c: Component) -> Sampler {
    Sampler::Elementwise(vec![(1.0, c)])
}
fn uni(bound: f64) -> Sampler {
    one(Component::Uniform {
        lo: -bound,
        hi: bound,
    })
}
fn nor(std: f64) -> Sampler {
    one(Component::Normal { mean: 0.0, std })
}

/// Every scheme, in the order of the README and of error messages.
pub static SCHEMES: &[Scheme] = &[
    row(
        case("zeros", uses::ELEMENTWISE & !uses::PRE, &[], "all zeros"),
        "0",
        |_, _| Ok(one(Component::Constant(0.0))),
    ),
    row(
        case("ones", uses::ELEMENTWISE, &[], "all ones"),
        "1",
        |_, _| Ok(one(Component::Constant(1.0))),
    ),
    row(
        case("constant", uses::ELEMENTWISE, VALUE, "one value everywhere"),
        "value",
        |i, _| Ok(one(Component::Constant(i.num("value")?))),
    ),
    row(
        Case {
            check: Some(check_interval),
            ..case("uniform", uses::ELEMENTWISE, UNIFORM, "uniform on [a, b)")
        },
        "U(a, b)",
        |i, _| {
            Ok(one(Component::Uniform {
                lo: i.num("a")?,
                hi: i.num("b")?,
            }))
        },
    ),
    row(
        case("normal", uses::ELEMENTWISE, NORMAL, "normal"),
        "N(mean, std²)",
        |i, _| {
            Ok(one(Component::Normal {
                mean: i.num("mean")?,
                std: i.num("std")?,
            }))
        },
    ),
    row(
        Case {
            check: Some(check_trunc_normal),
            ..case(
                "trunc_normal",
                uses::ELEMENTWISE,
                TRUNC_NORMAL,
                "normal truncated to [a, b]",
            )
        },
        "torch's inverse-CDF truncated normal on [a, b]",
        |i, _| {
            Ok(one(Component::TruncNormal {
                mean: i.num("mean")?,
                std: i.num("std")?,
                a: i.num("a")?,
                b: i.num("b")?,
            }))
        },
    ),
    row(
        case(
            "xavier_uniform",
            uses::MATRIX,
            GAIN,
            "Glorot & Bengio, uniform",
        ),
        "U(±gain·√(6/(fan_in+fan_out)))",
        |i, x| {
            Ok(uni(
                resolve_gain(&i.gain("gain")?, x.act)? * (6.0 / (x.fi() + x.fo())).sqrt()
            ))
        },
    ),
    row(
        case(
            "xavier_normal",
            uses::MATRIX,
            GAIN,
            "Glorot & Bengio, normal",
        ),
        "N(0, gain²·2/(fan_in+fan_out))",
        |i, x| {
            Ok(nor(
                resolve_gain(&i.gain("gain")?, x.act)? * (2.0 / (x.fi() + x.fo())).sqrt()
            ))
        },
    ),
    row(
        case(
            "kaiming_uniform",
            uses::MATRIX,
            KAIMING,
            "He et al., uniform",
        ),
        "U(±√3·gain/√fan)",
        |i, x| Ok(uni(3f64.sqrt() * kaiming_std(i, x)?)),
    ),
    row(
        case("kaiming_normal", uses::MATRIX, KAIMING, "He et al., normal"),
        "N(0, gain²/fan)",
        |i, x| Ok(nor(kaiming_std(i, x)?)),
    ),
    row(
        case("lecun_uniform", uses::MATRIX, &[], "LeCun, uniform"),
        "U(±√(3/fan_in))",
        |_, x| Ok(uni((3.0 / x.fi()).sqrt())),
    ),
    row(
        case("lecun_normal", uses::MATRIX, &[], "LeCun, normal"),
        "N(0, 1/fan_in)",
        |_, x| Ok(nor((1.0 / x.fi()).sqrt())),
    ),
    row(
        case(
            "scaled_normal",
            uses::MATRIX,
            &[],
            "normal scaled by the fan-in",
        ),
        "N(0, 1/fan_in)",
        |_, x| Ok(nor((1.0 / x.fi()).sqrt())),
    ),
    Scheme {
        orthogonal_scratch: true,
        ..row(
            case(
                "orthogonal",
                uses::MATRIX,
                GAIN,
                "Saxe et al., Haar-orthogonal",
            ),
            "Haar-orthogonal rows (out ≤ in) or columns (out > in), times gain",
            |i, x| {
                Ok(Sampler::Orthogonal {
                    gain: resolve_gain(&i.gain("gain")?, x.act)?,
                })
            },
        )
    },
    row(
        case("sparse", uses::MATRIX, SPARSE, "torch's sparse_"),
        "⌈sparsity·out⌉ zeros per column, the rest N(0, std²)",
        |i, x| {
            let num_zeros = (i.num("sparsity")? * x.shape.rows as f64).ceil() as u32;
            Ok(Sampler::Sparse {
                num_zeros,
                std: i.num("std")?,
            })
        },
    ),
    row(
        case(
            "torch_default",
            uses::MATRIX | uses::BIAS,
            &[],
            "nn.Linear's default, for weights and biases",
        ),
        "U(±1/√fan_in)",
        |_, x| Ok(uni(1.0 / x.fi().sqrt())),
    ),
    Scheme {
        theory: false,
        ..row(
            Case {
                check: Some(check_mixture),
                ..case(
                    "mixture",
                    uses::WEIGHT | uses::BIAS | uses::INPUT,
                    MIXTURE,
                    "a weighted mixture of elementwise schemes",
                )
            },
            "each element from component k with probability weight_k",
            super::mixture,
        )
    },
    Scheme {
        theory: false,
        ..row(
            case(
                "from_file",
                uses::ELEMENTWISE & !uses::COMPONENT,
                FROM_FILE,
                "an F32 tensor from a safetensors file (shape checked)",
            ),
            "the file's values",
            |i, x| {
                let path = i.resolved_path(x.base_dir)?;
                Ok(Sampler::Values(load_tensor(
                    &path,
                    i.text("tensor")?,
                    x.shape,
                )?))
            },
        )
    },
    Scheme {
        theory: false,
        orthogonal_scratch: true,
        ..row(
            case(
                "lsuv",
                uses::WEIGHT,
                LSUV,
                "layer-sequential unit variance (Mishkin & Matas)",
            ),
            "`pre`, then each layer rescaled on the GPU until its output std is 1 ± tol",
            |i, x| super::sampler(&i.init("pre")?, x.shape, x.act, x.base_dir),
        )
    },
];

/// Any scheme (a scheme on its own, e.g. [`Init::from_json`]).
pub const TY: Ty = Ty::Union(&UNION, None);
/// A weight's scheme.
pub const FOR_WEIGHT: Ty = Ty::Union(&UNION, Some(&WEIGHT));
/// A bias's scheme.
pub const FOR_BIAS: Ty = Ty::Union(&UNION, Some(&BIAS));
/// The input batch's distribution.
pub const FOR_INPUT: Ty = Ty::Union(&UNION, Some(&INPUT));
/// A mixture component's distribution.
pub(super) const FOR_COMPONENT: Ty = Ty::Union(&UNION, Some(&COMPONENT));
/// lsuv's pre-initialization.
pub(super) const FOR_PRE: Ty = Ty::Union(&UNION, Some(&PRE));

static UNION: Union = Union {
    what: "scheme",
    tag: "scheme",
    short: false,
    cases: || SCHEMES.iter().map(|s| &s.case).collect(),
    expect: "an init object such as {\"scheme\": \"normal\", \"std\": 0.02}",
    plural: "init objects such as {\"scheme\": \"normal\", \"std\": 0.02}",
};

static WEIGHT: Restrict = Restrict {
    name: "weight",
    mask: uses::WEIGHT,
    why: |s| format!("\"{s}\" is not allowed here"),
};
static BIAS: Restrict = Restrict {
    name: "bias",
    mask: uses::BIAS,
    why: |s| format!("\"{s}\" needs a weight matrix and cannot fill a bias vector"),
};
static INPUT: Restrict = Restrict {
    name: "input",
    mask: uses::INPUT,
    why: |s| format!("\"{s}\" cannot fill the input batch"),
};
static COMPONENT: Restrict = Restrict {
    name: "component",
    mask: uses::COMPONENT,
    why: |_| "mixture components must be elementwise distributions (no nesting)".into(),
};
static PRE: Restrict = Restrict {
    name: "pre",
    mask: uses::PRE,
    // LSUV divides by the output std, which all-zero weights leave at 0.
    why: |s| format!("lsuv's pre-initialization cannot be \"{s}\""),
};
