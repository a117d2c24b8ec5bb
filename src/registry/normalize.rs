//! Normalization of checked JSON: defaults filled from the table, short
//! forms written out (`"tanh"` → `{"name": "tanh"}`), aliases replaced by
//! their name, numbers of number fields made floats, and object fields put
//! in table order. serde then reads types that have no defaults of their
//! own, so every default lives in one place: the table.

use super::ty::*;
use serde_json::{Map, Value};

/// Normalizes `v`, which [`super::check`] accepted against `ty`.
pub fn normalize(ty: &Ty, v: &mut Value) {
    match ty {
        Ty::Num(_) => {
            // Whole numbers stay floats once echoed: `"std": 1` reads back as 1.0.
            if let Some(x) = v.as_f64() {
                *v = Value::from(x);
            }
        }
        Ty::List(l) => {
            if let Value::Array(items) = v {
                items.iter_mut().for_each(|x| normalize(&l.item, x));
            }
        }
        Ty::Obj(o) => {
            if let Value::Object(m) = v {
                fill(o.fields, m);
            }
        }
        Ty::Union(u, _) => normalize_case(u, v),
        Ty::OneOf(o) => {
            if let Some(t) = o.alts.iter().find(|t| t.accepts_kind(v)) {
                normalize(t, v);
            }
        }
        Ty::Bool | Ty::Int(_) | Ty::Str(_) | Ty::Enum(_) => {}
    }
}

/// Rebuilds `m` in table order, defaults filled, each value normalized.
fn fill(fields: &[Field], m: &mut Map<String, Value>) {
    let mut given = std::mem::take(m);
    for f in fields {
        if let Some(mut x) = given.remove(f.name).or_else(|| f.default_value()) {
            normalize(&f.ty, &mut x);
            m.insert(f.name.to_string(), x);
        }
    }
    // A checked value has no other fields; keep any so nothing is lost silently.
    m.extend(given);
}

fn normalize_case(u: &Union, v: &mut Value) {
    let name = match v {
        Value::String(s) => s.clone(),
        Value::Object(m) => match m.get(u.tag).and_then(Value::as_str) {
            Some(s) => s.to_string(),
            None => return,
        },
        _ => return,
    };
    let Some(case) = u.case(&name) else { return };
    let mut m = match std::mem::take(v) {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    m.shift_remove(u.tag);
    fill(case.fields, &mut m);
    let mut out = Map::new();
    out.insert(u.tag.to_string(), Value::from(case.name));
    out.extend(m);
    *v = Value::Object(out);
}
