//! Validation of JSON against a [`Ty`]: every problem, each with its path,
//! what was expected and what was given. serde stops at the first error and
//! cannot say where it was; walking the table lets us say both.

use super::path::JPath;
use super::problems::{Checker, got};
use super::ty::*;
use crate::suggest;
use serde_json::{Map, Value};

/// Checks `v` (at path `p`) against `ty`, reporting into `c`.
pub fn check(c: &mut Checker, ty: &Ty, v: &Value, p: &JPath) {
    match ty {
        Ty::Bool if !v.is_boolean() => c.push(p, format!("expected true or false, got {}", got(v))),
        Ty::Bool => {}
        Ty::Int(i) => check_int(c, i, v, p),
        Ty::Num(n) => check_num(c, n, v, p),
        Ty::Str(s) if !v.as_str().is_some_and(s.valid) => {
            c.push(p, format!("expected {}, got {}", s.expect, got(v)))
        }
        Ty::Str(_) => {}
        Ty::Enum(e) => match e.names {
            Names::Any if !v.is_string() => {
                c.push(p, format!("expected a {} name, got {}", e.what, got(v)))
            }
            Names::Any => {}
            names => _ = c.name_in(v, p, e.what, &names.list()),
        },
        Ty::List(l) => check_list(c, l, v, p),
        Ty::Obj(o) => {
            if let Some(m) = c.object(v, p, o.what, &o.names()) {
                check_fields(c, o.fields, o.check, m, p);
            }
        }
        Ty::Union(u, r) => check_union(c, u, *r, v, p),
        Ty::OneOf(o) => match o.alts.iter().find(|t| t.accepts_kind(v)) {
            Some(t) => check(c, t, v, p),
            None => c.push(p, format!("expected {}, got {}", o.expect, got(v))),
        },
    }
}

fn check_int(c: &mut Checker, i: &IntTy, v: &Value, p: &JPath) {
    let n = v.as_u64();
    if n.is_some_and(|n| (i.min..=i.max).contains(&n)) {
        return;
    }
    let msg = match (n, i.msg) {
        (Some(0), IntMsg::Size(noun)) => format!("0 is not {noun}; give a positive integer"),
        (Some(n), IntMsg::Size(noun)) => {
            format!("{n} is too large for {noun}; at most {} is accepted", i.max)
        }
        (None, IntMsg::Size(_)) => format!("expected a positive integer, got {}", got(v)),
        (_, IntMsg::Expect(what)) => format!("expected {what}, got {}", got(v)),
    };
    c.push(p, msg);
}

fn check_num(c: &mut Checker, n: &NumTy, v: &Value, p: &JPath) {
    let Some(x) = v.as_f64().filter(|x| x.is_finite()) else {
        c.push(p, format!("expected a number, got {}", got(v)));
        return;
    };
    let above = |b: &Bound| x > b.value || (b.inclusive && x == b.value);
    let below = |b: &Bound| x < b.value || (b.inclusive && x == b.value);
    if n.min.as_ref().is_none_or(above) && n.max.as_ref().is_none_or(below) {
        return;
    }
    let why = if n.why.is_empty() {
        String::new()
    } else {
        format!(" ({})", n.why)
    };
    c.push(p, format!("must be {}{why}, got {}", range_text(n), got(v)));
}

/// "> 0", ">= 0", "< 1", "in [0, 1)".
pub(crate) fn range_text(n: &NumTy) -> String {
    match (n.min, n.max) {
        (Some(lo), Some(hi)) => format!(
            "in {}{}, {}{}",
            if lo.inclusive { "[" } else { "(" },
            lo.value,
            hi.value,
            if hi.inclusive { "]" } else { ")" }
        ),
        (Some(lo), None) => format!("{} {}", if lo.inclusive { ">=" } else { ">" }, lo.value),
        (None, Some(hi)) => format!("{} {}", if hi.inclusive { "<=" } else { "<" }, hi.value),
        (None, None) => "a number".into(),
    }
}

fn check_list(c: &mut Checker, l: &ListTy, v: &Value, p: &JPath) {
    // A list of fixed length ([start, end]) is wrong as a whole, not "too many".
    let fixed = |a: &&Vec<Value>| a.len() >= l.min && (l.min < l.max || a.len() == l.max);
    let Some(items) = v.as_array().filter(fixed) else {
        c.push(p, format!("expected {}, got {}", l.expect, got(v)));
        return;
    };
    if items.len() > l.max {
        let (n, max, what) = (items.len(), l.max, l.items);
        c.push(
            p,
            format!("{n} {what} is too many; at most {max} are accepted"),
        );
        return;
    }
    for (i, x) in items.iter().enumerate() {
        check(c, &l.item, x, &p.idx(i));
    }
}

/// Checks each field on its own, then the object's cross-field check.
fn check_fields(
    c: &mut Checker,
    fields: &'static [Field],
    cross: Option<CheckFn>,
    m: &Map<String, Value>,
    p: &JPath,
) {
    let mut bad = Vec::new();
    for f in fields {
        let before = c.count();
        match (m.get(f.name), f.presence) {
            (Some(x), _) => check(c, &f.ty, x, &p.key(f.name)),
            (None, Presence::Required(hint)) => c.missing(p, f.name, hint),
            (None, _) => {}
        }
        if c.count() > before {
            bad.push(f.name);
        }
    }
    if let Some(cross) = cross {
        cross(
            c,
            &View {
                path: p,
                map: m,
                fields,
                bad,
            },
        );
    }
}

fn check_union(c: &mut Checker, u: &Union, r: Option<&Restrict>, v: &Value, p: &JPath) {
    let cases = (u.cases)();
    let allowed: Vec<&str> = (cases.iter())
        .filter(|k| r.is_none_or(|r| k.uses & r.mask != 0))
        .map(|k| k.name)
        .collect();
    let (tag, tag_path, map) = match v {
        Value::String(_) if u.short => (v, p.clone(), None),
        Value::Object(m) => match m.get(u.tag) {
            Some(t) => (t, p.key(u.tag), Some(m)),
            None => return c.missing(p, u.tag, &format!("one of {}", allowed.join(", "))),
        },
        _ => return c.push(p, format!("expected {}, got {}", u.expect, got(v))),
    };
    let names: Vec<&str> = (cases.iter())
        .flat_map(|k| std::iter::once(k.name).chain(k.aliases.iter().copied()))
        .collect();
    let Some(case) = c
        .name_in(tag, &tag_path, u.what, &names)
        .and_then(|n| u.case(n))
    else {
        return;
    };
    if let Some(r) = r.filter(|r| case.uses & r.mask == 0) {
        let why = (r.why)(case.name);
        return c.push(
            &tag_path,
            format!("{why}; use one of {}", allowed.join(", ")),
        );
    }
    let Some(m) = map else {
        for f in case
            .fields
            .iter()
            .filter(|f| matches!(f.presence, Presence::Required(_)))
        {
            let name = (u.what, case.name, f.name);
            c.push(
                p,
                format!(
                    "{} \"{}\" needs \"{}\"; write it as an object",
                    name.0, name.1, name.2
                ),
            );
        }
        return;
    };
    for k in m
        .keys()
        .filter(|k| *k != u.tag && !case.fields.iter().any(|f| f.name == *k))
    {
        c.push(&p.key(k), stray_param(u, &cases, case, k));
    }
    check_fields(c, case.fields, case.check, m, p);
}

/// Why `k` is not a parameter of `case`: another case's, or unknown.
fn stray_param(u: &Union, cases: &[&Case], case: &Case, k: &str) -> String {
    let own: Vec<&str> = case.fields.iter().map(|f| f.name).collect();
    let takes = if own.is_empty() {
        "no parameters".to_string()
    } else {
        own.join(", ")
    };
    let (what, name) = (u.what, case.name);
    let owners: Vec<&str> = (cases.iter())
        .filter(|o| o.fields.iter().any(|f| f.name == k))
        .map(|o| o.name)
        .collect();
    if owners.is_empty() {
        let hint = suggest::did_you_mean(k, &own);
        format!("unknown field \"{k}\"{hint}; {what} \"{name}\" takes {takes}")
    } else {
        let owners = owners.join(", ");
        format!(
            "{what} \"{name}\" has no parameter \"{k}\"; it takes {takes} (\"{k}\" belongs to {owners})"
        )
    }
}

/// An object as a cross-field check sees it: the values given, which fields
/// failed their own checks (a check skips those), and the defaults.
pub struct View<'a> {
    /// The object's path.
    pub path: &'a JPath,
    map: &'a Map<String, Value>,
    fields: &'static [Field],
    bad: Vec<&'static str>,
}

impl View<'_> {
    /// The value given for `k`, valid or not.
    pub fn given(&self, k: &str) -> Option<&Value> {
        self.map.get(k)
    }

    /// The value given for `k` when it passed its own check.
    pub fn valid(&self, k: &str) -> Option<&Value> {
        self.map.get(k).filter(|_| !self.bad.contains(&k))
    }

    /// `k` as a number: the valid value given, else its default; `None`
    /// when it failed its check or has neither.
    pub fn num(&self, k: &str) -> Option<f64> {
        if self.bad.contains(&k) {
            return None;
        }
        match self.map.get(k) {
            Some(v) => v.as_f64(),
            None => (self.fields.iter().find(|f| f.name == k))
                .and_then(Field::default_value)
                .and_then(|v| v.as_f64()),
        }
    }

    /// The path of field `k`.
    pub fn at(&self, k: &str) -> JPath {
        self.path.key(k)
    }
}
