//! Activation functions: one table row per activation (`table.rs`) gives its
//! name, aliases, parameter, torch gain, saturation and exact f64 forward and
//! derivative. The WGSL opcodes are the rows' indices, handed to the shader as
//! generated constants (`const ACT_TANH: u32 = 1u;`), so the shader and the
//! Rust side cannot drift apart.

mod math;

pub use math::{SELU_ALPHA, SELU_SCALE, erf, erfc, norm_cdf, norm_pdf, sigmoid};

use crate::registry::{self, Case, Field, Lit, NumTy, Presence, Ty, Union};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use std::fmt;

/// Everything initscope knows about one activation.
#[derive(Debug, Clone, Copy)]
pub struct ActivationDef {
    /// Name, aliases, documentation and the parameter (at most one).
    pub case: Case,
    /// torch.nn.init.calculate_gain for it, given its parameter; `None`
    /// where torch has no value (then `"gain": "auto"` is refused).
    pub gain: Option<fn(f64) -> f64>,
    /// Outputs are bounded, so "saturation" (|a| near the bound) means something.
    pub saturates: bool,
    /// φ(x, parameter) in f64.
    pub forward: fn(f64, f64) -> f64,
    /// φ'(x, parameter) in f64 (torch's convention at kinks).
    pub derivative: fn(f64, f64) -> f64,
}

impl ActivationDef {
    /// The name of the generated WGSL constant, e.g. `ACT_LEAKY_RELU`.
    pub fn wgsl_const(&self) -> String {
        format!("ACT_{}", self.case.name.to_uppercase())
    }

    /// The default of its parameter (0 when it has none).
    fn default_param(&self) -> f64 {
        (self.case.fields.first())
            .and_then(Field::default_value)
            .and_then(|v| v.as_f64())
            .unwrap_or(0.0)
    }
}

/// An activation's one numeric parameter, as a table field.
pub struct Param(Field);

/// Any finite number.
static ANY_NUMBER: NumTy = NumTy {
    min: None,
    max: None,
    why: "",
};

impl Param {
    /// A parameter called `name` with its default.
    pub const fn new(name: &'static str, default: f64, doc: &'static str) -> Param {
        let ty = Ty::Num(&ANY_NUMBER);
        Param(Field::new(
            name,
            ty,
            Presence::Default(Lit::Num(default)),
            doc,
        ))
    }

    /// The parameter as the case's field list.
    pub const fn fields(&'static self) -> &'static [Field] {
        std::slice::from_ref(&self.0)
    }
}

/// Writes the [`Activation`] enum (one variant per row, with `{ param }`
/// where the row has one), the table `ACTIVATIONS` in the same order, and
/// the index/parameter plumbing between them.
macro_rules! activation_table {
    ($( $(#[$doc:meta])* $var:ident $({ $p:ident })? => $row:expr, )*) => {
        /// An elementwise nonlinearity applied after a linear layer: one
        /// variant per row of [`ACTIVATIONS`].
        #[derive(Debug, Clone, Copy, PartialEq)]
        pub enum Activation { $( $(#[$doc])* $var $({ $p: f64 })?, )* }

        /// Row indices, which are the WGSL opcodes.
        #[derive(Clone, Copy)]
        enum Op { $($var,)* }

        /// The activations, one row each, in opcode order.
        pub static ACTIVATIONS: &[ActivationDef] = &[$($row,)*];

        impl Activation {
            /// The index of its row in [`ACTIVATIONS`], which is its opcode.
            pub fn opcode(&self) -> u32 {
                match self { $( Activation::$var { .. } => Op::$var as u32, )* }
            }

            /// Its parameter (0 when the row has none).
            pub fn param(&self) -> f64 {
                match *self { $( Activation::$var $({ $p })? => or_zero!($($p)?), )* }
            }

            /// The activation of row `op` with parameter `value` (ignored
            /// when the row has none).
            pub fn from_row(op: usize, value: f64) -> Option<Activation> {
                $( if op == Op::$var as usize {
                    return Some(Activation::$var $({ $p: value })?);
                } )*
                None
            }
        }
    };
}

macro_rules! or_zero {
    () => {
        0.0
    };
    ($p:ident) => {
        $p
    };
}

mod table;

pub use table::{ACTIVATIONS, Activation};

/// The manifest's activation: a name, or `{"name": ..., <parameter>: ...}`.
pub const TY: Ty = Ty::Union(&UNION, None);

static UNION: Union = Union {
    what: "activation",
    tag: "name",
    short: true,
    cases: || ACTIVATIONS.iter().map(|a| &a.case).collect(),
    expect: "an activation name such as \"tanh\", or {\"name\": \"leaky_relu\", \"slope\": 0.2}",
    plural: "activations such as \"tanh\" or {\"name\": \"leaky_relu\", \"slope\": 0.2}",
};

impl Activation {
    /// Its row of the table.
    pub fn def(&self) -> &'static ActivationDef {
        &ACTIVATIONS[self.opcode() as usize]
    }

    /// One of every activation, with default parameters, in opcode order
    /// (for tests that must cover them all).
    pub fn all() -> Vec<Activation> {
        (0..ACTIVATIONS.len())
            .filter_map(|i| Activation::from_row(i, ACTIVATIONS[i].default_param()))
            .collect()
    }

    /// Parses a name or alias with the default parameter.
    pub fn from_name(name: &str) -> Option<Activation> {
        let i = ACTIVATIONS
            .iter()
            .position(|a| a.case.name == name || a.case.aliases.contains(&name))?;
        Activation::from_row(i, ACTIVATIONS[i].default_param())
    }

    /// The canonical snake_case name.
    pub fn name(&self) -> &'static str {
        self.def().case.name
    }

    /// The opcode used by `shaders/activation.wgsl` and its one f32 parameter.
    pub fn gpu_code(&self) -> (u32, f32) {
        (self.opcode(), self.param() as f32)
    }

    /// φ(x) in f64.
    pub fn forward(&self, x: f64) -> f64 {
        (self.def().forward)(x, self.param())
    }

    /// φ'(x) in f64. At kinks it takes torch's convention (relu'(0) = 0).
    pub fn derivative(&self, x: f64) -> f64 {
        (self.def().derivative)(x, self.param())
    }

    /// True where outputs are bounded and "saturation" (|a| near the bound) is meaningful.
    pub fn saturates(&self) -> bool {
        self.def().saturates
    }

    /// torch's `calculate_gain` for this activation, if torch has one.
    pub fn gain(&self) -> Option<f64> {
        self.def().gain.map(|g| g(self.param()))
    }

    /// The name of its parameter, if it has one.
    fn param_name(&self) -> Option<&'static str> {
        self.def().case.fields.first().map(|f| f.name)
    }
}

/// The names torch's `calculate_gain` knows: every activation with a gain
/// (and its aliases), then the convolutions, which are linear.
pub fn gain_names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = (ACTIVATIONS.iter())
        .filter(|a| a.gain.is_some())
        .flat_map(|a| std::iter::once(a.case.name).chain(a.case.aliases.iter().copied()))
        .collect();
    names.extend(CONV_NAMES);
    names
}

/// Layers that `calculate_gain` treats as linear (gain 1).
pub const CONV_NAMES: &[&str] = &[
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
];

/// The WGSL constants of every opcode, prepended to `shaders/activation.wgsl`.
pub fn wgsl_constants() -> String {
    ACTIVATIONS
        .iter()
        .enumerate()
        .map(|(i, a)| format!("const {}: u32 = {i}u;\n", a.wgsl_const()))
        .collect()
}

impl fmt::Display for Activation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.param_name() {
            Some(_) => write!(f, "{}({})", self.name(), self.param()),
            None => f.write_str(self.name()),
        }
    }
}

impl Serialize for Activation {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.param_name() {
            Some(p) => {
                let mut m = serde_json::Map::new();
                m.insert("name".into(), self.name().into());
                m.insert(p.into(), self.param().into());
                m.serialize(s)
            }
            None => s.serialize_str(self.name()),
        }
    }
}

impl<'de> Deserialize<'de> for Activation {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let v = registry::parse(&TY, Value::deserialize(d)?).map_err(D::Error::custom)?;
        let name = v["name"].as_str().unwrap_or_default();
        let act = Activation::from_name(name)
            .ok_or_else(|| D::Error::custom(format!("unknown activation \"{name}\"")))?;
        let value = act.param_name().and_then(|p| v[p].as_f64());
        Ok(match value {
            Some(x) => Activation::from_row(act.opcode() as usize, x).unwrap_or(act),
            None => act,
        })
    }
}

#[cfg(test)]
mod tests;
