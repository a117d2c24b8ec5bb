//! The table format every registry and every manifest field is written in.
//!
//! A [`Field`] says once what a value is: its name, its type ([`Ty`], with
//! ranges and allowed names), whether it is required or has a default, and
//! a line of documentation. From that one description:
//! - [`check`] validates JSON with a message per problem (the JSON path, what
//!   was expected, what was given, "did you mean");
//! - [`normalize`] fills defaults and canonical forms before serde reads the
//!   JSON into types that have no defaults of their own;
//! - [`json_schema`] writes the JSON Schema that editors use;
//! - the manifest resolves sweep paths through the same tree ([`child`]).
//!
//! Tagged objects (an init `{"scheme": ...}`, a loss or an activation
//! `{"name": ...}`) are a [`Union`] of [`Case`]s, each with its own fields.
//! Checks that involve more than one field are functions on an [`Obj`] or a
//! [`Case`], reading the object through a [`View`].

mod check;
pub mod json_schema;
mod normalize;
mod path;
mod problems;
mod ty;

pub use check::{View, check};
pub use normalize::normalize;
pub use path::{JPath, Seg};
pub use problems::{Checker, got};
pub use ty::*;

use serde_json::Value;

/// Checks `v` against `ty`, then normalizes it: the first problem is the
/// error, written `path: message` (for serde's `custom` errors).
pub fn parse(ty: &Ty, mut v: Value) -> Result<Value, String> {
    let mut c = Checker::default();
    check(&mut c, ty, &v, &JPath::root());
    if let Some((p, m)) = c.problems.first() {
        return Err(if p.0.is_empty() {
            m.clone()
        } else {
            format!("{p}: {m}")
        });
    }
    normalize(ty, &mut v);
    Ok(v)
}

/// The type one step below `ty` along the key `seg`, for dotted sweep paths:
/// an object's field, or a parameter of any case of a union (the tag too).
/// Lists are not entered: a sweep replaces a list as a whole.
pub fn child(ty: &Ty, seg: &str) -> Vec<Ty> {
    match ty {
        Ty::Obj(o) => o.field(seg).map(|f| f.ty).into_iter().collect(),
        Ty::Union(u, _) if seg == u.tag => vec![Ty::Enum(&ANY_NAME)],
        Ty::Union(u, _) => (u.cases)()
            .iter()
            .flat_map(|c| c.fields)
            .filter(|f| f.name == seg)
            .map(|f| f.ty)
            .collect(),
        _ => Vec::new(),
    }
}

/// Any name: what a union's tag is, seen on its own.
static ANY_NAME: EnumTy = EnumTy {
    what: "name",
    names: Names::Any,
};

#[cfg(test)]
mod tests;
