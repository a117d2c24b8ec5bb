//! The types of the table format. Everything is `const`-constructible, so
//! tables are plain `static` data that the validator, the normalizer and the
//! JSON Schema writer walk.

use super::check::View;
use super::problems::Checker;
use serde_json::Value;

/// One field of an object (or one parameter of a scheme or activation).
#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub name: &'static str,
    pub ty: Ty,
    pub presence: Presence,
    /// One line for the README and the JSON Schema's `description`.
    pub doc: &'static str,
}

impl Field {
    /// A field in table order: name, type, presence, documentation.
    pub const fn new(name: &'static str, ty: Ty, presence: Presence, doc: &'static str) -> Field {
        Field {
            name,
            ty,
            presence,
            doc,
        }
    }

    /// The default as JSON, when the field has one.
    pub fn default_value(&self) -> Option<Value> {
        match self.presence {
            Presence::Default(lit) => Some(lit.value()),
            _ => None,
        }
    }
}

/// Whether a field must be given.
#[derive(Debug, Clone, Copy)]
pub enum Presence {
    /// Must be given; the text completes "missing required field \"x\"; ...".
    Required(&'static str),
    /// Filled with this value when absent.
    Default(Lit),
    /// May be absent, and then stays absent (an `Option` in the serde type).
    Optional,
}

/// A default value, written as a literal in the table.
#[derive(Debug, Clone, Copy)]
pub enum Lit {
    Bool(bool),
    Int(u64),
    Num(f64),
    Str(&'static str),
    /// Any JSON (an object or a list); normalized like a given value.
    Json(&'static str),
}

impl Lit {
    /// The literal as JSON. `Json` literals are tested to parse.
    pub fn value(self) -> Value {
        match self {
            Lit::Bool(b) => Value::Bool(b),
            Lit::Int(n) => Value::from(n),
            Lit::Num(x) => Value::from(x),
            Lit::Str(s) => Value::from(s),
            Lit::Json(j) => serde_json::from_str(j).unwrap_or(Value::Null),
        }
    }
}

/// What a value is.
#[derive(Debug, Clone, Copy)]
pub enum Ty {
    /// `true` or `false`.
    Bool,
    /// A non-negative integer in a range.
    Int(&'static IntTy),
    /// A finite number in a range.
    Num(&'static NumTy),
    /// A string with a rule.
    Str(&'static StrTy),
    /// One of a set of names.
    Enum(&'static EnumTy),
    /// A list of values of one type.
    List(&'static ListTy),
    /// An object with named fields.
    Obj(&'static Obj),
    /// A tagged object, one of several cases; restricted to the cases
    /// whose `uses` meet the mask, when a restriction is given.
    Union(&'static Union, Option<&'static Restrict>),
    /// One of several types, told apart by the JSON kind (number or name).
    OneOf(&'static OneOf),
}

/// An integer in `min..=max`.
#[derive(Debug, Clone, Copy)]
pub struct IntTy {
    pub min: u64,
    pub max: u64,
    pub msg: IntMsg,
}

/// How integer problems read.
#[derive(Debug, Clone, Copy)]
pub enum IntMsg {
    /// A size: "0 is not a width; give a positive integer", "... is too
    /// large for a width; at most N is accepted". `min` is 1.
    Size(&'static str),
    /// Anything else: "expected an integer in 1..=4096, got 0".
    Expect(&'static str),
}

/// A finite number with optional bounds; `why` explains the range.
#[derive(Debug, Clone, Copy)]
pub struct NumTy {
    pub min: Option<Bound>,
    pub max: Option<Bound>,
    pub why: &'static str,
}

/// One end of a range.
#[derive(Debug, Clone, Copy)]
pub struct Bound {
    pub value: f64,
    pub inclusive: bool,
}

/// A string accepted by `valid`; `expect` completes "expected ...".
#[derive(Debug, Clone, Copy)]
pub struct StrTy {
    pub valid: fn(&str) -> bool,
    pub expect: &'static str,
    /// The same rule as a JSON Schema `pattern`, where one exists.
    pub pattern: Option<&'static str>,
}

/// One of a set of names; `what` reads "mode", "nonlinearity", ...
#[derive(Debug, Clone, Copy)]
pub struct EnumTy {
    pub what: &'static str,
    pub names: Names,
}

/// Where the names of an [`EnumTy`] come from.
#[derive(Debug, Clone, Copy)]
pub enum Names {
    Fixed(&'static [&'static str]),
    /// Computed from another table (e.g. the activations with a torch gain).
    Computed(fn() -> Vec<&'static str>),
    /// Any string (a union's tag seen alone).
    Any,
}

impl Names {
    /// The names, in table order.
    pub fn list(&self) -> Vec<&'static str> {
        match self {
            Names::Fixed(n) => n.to_vec(),
            Names::Computed(f) => f(),
            Names::Any => Vec::new(),
        }
    }
}

/// A list of `min..=max` items.
#[derive(Debug, Clone, Copy)]
pub struct ListTy {
    pub item: Ty,
    pub min: usize,
    pub max: usize,
    /// Completes "expected ..." when the value is not such a list.
    pub expect: &'static str,
    /// What the items are, plural, for "N layers is too many".
    pub items: &'static str,
}

/// A cross-field check: it reads the object through a [`View`], after every
/// field was checked on its own, and reports into the checker.
pub type CheckFn = fn(&mut Checker, &View);

/// An object with named fields, in the order they are echoed.
#[derive(Debug, Clone, Copy)]
pub struct Obj {
    /// Reads "network", "a layer override", ...
    pub what: &'static str,
    pub fields: &'static [Field],
    pub check: Option<CheckFn>,
}

impl Obj {
    /// The field called `name`.
    pub fn field(&self, name: &str) -> Option<&'static Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// Every field name, in table order.
    pub fn names(&self) -> Vec<&'static str> {
        self.fields.iter().map(|f| f.name).collect()
    }
}

/// A tagged object: `{"scheme": "normal", "std": 0.1}`, or with `short`,
/// also the bare name `"tanh"` for `{"name": "tanh"}`.
#[derive(Debug, Clone, Copy)]
pub struct Union {
    /// The noun of a case: "scheme", "activation", "loss".
    pub what: &'static str,
    /// The tag field: "scheme" or "name".
    pub tag: &'static str,
    pub short: bool,
    /// The cases, in table order (a function, so that a registry elsewhere
    /// can supply them).
    pub cases: fn() -> Vec<&'static Case>,
    /// Completes "expected ..." for a value of the wrong kind.
    pub expect: &'static str,
    /// Completes "expected a list of ..." in sweeps.
    pub plural: &'static str,
}

impl Union {
    /// The case named `name` or one of its aliases.
    pub fn case(&self, name: &str) -> Option<&'static Case> {
        (self.cases)()
            .into_iter()
            .find(|c| c.name == name || c.aliases.contains(&name))
    }
}

/// One case of a union: an init scheme, an activation, a loss.
#[derive(Debug, Clone, Copy)]
pub struct Case {
    pub name: &'static str,
    /// Other names accepted for it (normalized to `name`).
    pub aliases: &'static [&'static str],
    pub doc: &'static str,
    /// Its parameters, in the order they are echoed.
    pub fields: &'static [Field],
    pub check: Option<CheckFn>,
    /// Bits of the places it may be used (see [`Restrict`]).
    pub uses: u8,
}

impl Case {
    /// A case with no aliases, no cross-field check, usable anywhere.
    pub const fn new(name: &'static str, fields: &'static [Field], doc: &'static str) -> Case {
        Case {
            name,
            aliases: &[],
            doc,
            fields,
            check: None,
            uses: u8::MAX,
        }
    }
}

/// Where a union is used: only cases with a bit of `mask` are allowed.
#[derive(Debug, Clone, Copy)]
pub struct Restrict {
    /// Names the place in the JSON Schema's `$defs` ("bias", "input", ...).
    pub name: &'static str,
    pub mask: u8,
    /// Why a case is refused here (given its name); the allowed list follows.
    pub why: fn(&str) -> String,
}

/// A value of one of several types, told apart by its JSON kind.
#[derive(Debug, Clone, Copy)]
pub struct OneOf {
    pub alts: &'static [Ty],
    pub expect: &'static str,
    pub plural: &'static str,
}

impl Ty {
    /// Whether `v` is of the right JSON kind (ranges aside).
    pub fn accepts_kind(&self, v: &Value) -> bool {
        match self {
            Ty::Bool => v.is_boolean(),
            Ty::Int(_) => v.is_u64(),
            Ty::Num(_) => v.is_number(),
            Ty::Str(_) | Ty::Enum(_) => v.is_string(),
            Ty::List(_) => v.is_array(),
            Ty::Obj(_) => v.is_object(),
            Ty::Union(u, _) => v.is_object() || (u.short && v.is_string()),
            Ty::OneOf(o) => o.alts.iter().any(|t| t.accepts_kind(v)),
        }
    }

    /// Completes "expected a list of ..." (sweep values).
    pub fn plural(&self) -> String {
        match self {
            Ty::Bool => "booleans (true/false)".into(),
            Ty::Int(i) if i.min >= 1 => "positive integers".into(),
            Ty::Int(_) => "integers >= 0".into(),
            Ty::Num(_) => "numbers".into(),
            Ty::Str(_) => "strings".into(),
            Ty::Enum(e) => match e.names {
                Names::Any => format!("{} names", e.what),
                n => format!("{} names (one of {})", e.what, n.list().join(", ")),
            },
            Ty::List(l) if l.min >= 1 => format!("non-empty lists of {}", l.item.plural()),
            Ty::List(l) => format!("lists of {}", l.item.plural()),
            Ty::Obj(_) => "objects".into(),
            Ty::Union(u, _) => u.plural.into(),
            Ty::OneOf(o) => o.plural.into(),
        }
    }
}
