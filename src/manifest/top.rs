//! The manifest's own fields: name, description, seed, repeats, and the
//! structure of `variants` and `sweep` (their values are checked per run).

use super::fields::{MANIFEST_FIELDS, run_names, sweep_types, top_names};
use crate::registry::{self, Checker, JPath, got};
use crate::suggest;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// A named arm: its label and the run fields it overrides.
#[derive(Debug, Clone)]
pub(crate) struct Variant {
    pub label: String,
    pub overrides: Value,
}

/// One swept path and its values.
#[derive(Debug, Clone)]
pub(crate) struct SweepKey {
    /// The dotted path as written, e.g. `network.depth`.
    pub key: String,
    pub segs: Vec<String>,
    pub values: Vec<Value>,
}

/// The manifest-level fields, checked, plus the pieces to expand.
#[derive(Debug, Clone, Default)]
pub(crate) struct Top {
    pub name: String,
    pub description: String,
    pub seed: u64,
    pub repeats: u32,
    /// The run fields given at the top level.
    pub base: Value,
    pub variants: Vec<Variant>,
    pub sweep: Vec<SweepKey>,
}

/// Checks the top level. Problems are reported into `c`; the result holds
/// what is usable (bad variants or sweep keys are left out of it).
pub(crate) fn check_top(c: &mut Checker, v: &Value) -> Option<Top> {
    let root = JPath::root();
    let Some(m) = v.as_object() else {
        c.push(
            &root,
            format!(
                "a manifest must be a JSON object with a name, a network and an input, got {}",
                got(v)
            ),
        );
        return None;
    };
    let known = top_names();
    for k in m.keys().filter(|k| !known.contains(&k.as_str())) {
        let hint = suggest::did_you_mean(k, &known);
        c.push(
            &root.key(k),
            format!(
                "unknown field \"{k}\"{hint}; known fields: {}",
                known.join(", ")
            ),
        );
    }
    let own = manifest_fields(c, m);
    let text = |k: &str| {
        own.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let int = |k: &str| own.get(k).and_then(Value::as_u64);
    Some(Top {
        name: text("name"),
        description: text("description"),
        seed: int("seed").unwrap_or(0),
        repeats: int("repeats").map_or(1, |n| n as u32),
        base: Value::Object(run_fields(m)),
        variants: m
            .get("variants")
            .map(|x| check_variants(c, x))
            .unwrap_or_default(),
        sweep: m
            .get("sweep")
            .map(|x| check_sweep(c, x))
            .unwrap_or_default(),
    })
}

/// The manifest's own fields, checked against their table, defaults filled;
/// a field with a problem is left out.
fn manifest_fields(c: &mut Checker, m: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for f in MANIFEST_FIELDS {
        let p = JPath::root().key(f.name);
        let value = match (m.get(f.name), f.presence) {
            (Some(x), _) => Some(x.clone()),
            (None, registry::Presence::Required(hint)) => {
                c.missing(&JPath::root(), f.name, hint);
                None
            }
            (None, _) => f.default_value(),
        };
        let before = c.count();
        if let Some(x) = value {
            registry::check(c, &f.ty, &x, &p);
            if c.count() == before {
                out.insert(f.name.to_string(), x);
            }
        }
    }
    out
}

/// The run fields among `m`'s.
fn run_fields(m: &Map<String, Value>) -> Map<String, Value> {
    let run = run_names();
    m.iter()
        .filter(|(k, _)| run.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn check_variants(c: &mut Checker, v: &Value) -> Vec<Variant> {
    let p = JPath::root().key("variants");
    let Some(items) = v.as_array() else {
        let eg = "[{\"label\": \"Xavier\", \"init\": {\"scheme\": \"xavier_uniform\"}}]";
        c.push(
            &p,
            format!("expected a list of variants such as {eg}, got {}", got(v)),
        );
        return Vec::new();
    };
    let mut allowed = vec!["label"];
    allowed.extend(run_names());
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let pi = p.idx(i);
        let Some(m) = c.object(item, &pi, "a variant", &allowed) else {
            continue;
        };
        let label = match m.get("label") {
            Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
            Some(x) => {
                c.push(
                    &pi.key("label"),
                    format!("expected a non-empty string, got {}", got(x)),
                );
                continue;
            }
            None => {
                c.missing(
                    &pi,
                    "label",
                    "it names the arm in legends, e.g. \"label\": \"Xavier\"",
                );
                continue;
            }
        };
        if let Some(first) = seen.insert(label.clone(), i) {
            let msg = format!(
                "duplicate label \"{label}\" (also variants[{first}]); labels must be unique"
            );
            c.push(&pi.key("label"), msg);
            continue;
        }
        out.push(Variant {
            label,
            overrides: Value::Object(run_fields(m)),
        });
    }
    out
}

fn check_sweep(c: &mut Checker, v: &Value) -> Vec<SweepKey> {
    let p = JPath::root().key("sweep");
    let Some(m) = v.as_object() else {
        let eg = "{\"network.depth\": [5, 10, 20]}";
        c.push(
            &p,
            format!(
                "expected an object of dotted paths to lists, such as {eg}, got {}",
                got(v)
            ),
        );
        return Vec::new();
    };
    m.iter()
        .filter_map(|(key, values)| check_sweep_key(c, key, values, &p.key(key)))
        .collect()
}

fn check_sweep_key(c: &mut Checker, key: &str, values: &Value, p: &JPath) -> Option<SweepKey> {
    let tys = match sweep_types(key) {
        Ok(t) => t,
        Err(msg) => {
            c.push(p, msg);
            return None;
        }
    };
    let plural = tys[0].plural();
    let Some(list) = values.as_array().filter(|a| !a.is_empty()) else {
        let msg = format!("expected a non-empty list of {plural}, got {}", got(values));
        c.push(p, msg);
        return None;
    };
    let before = c.count();
    for (j, x) in list.iter().enumerate() {
        if !tys.iter().any(|t| t.accepts_kind(x)) {
            c.push(
                &p.idx(j),
                format!("expected a list of {plural}, got {}", got(x)),
            );
        } else if let [ty] = tys.as_slice() {
            // One meaning: check it fully now. A parameter several schemes
            // share is checked in each run, against the scheme it lands in.
            registry::check(c, ty, x, &p.idx(j));
        }
    }
    (c.count() == before).then(|| SweepKey {
        key: key.to_string(),
        segs: key.split('.').map(str::to_string).collect(),
        values: list.clone(),
    })
}
