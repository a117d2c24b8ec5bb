//! The manifest's own fields: name, description, seed, repeats, and the
//! structure of `variants` and `sweep` (their values are checked per run).

use super::checker::{Checker, got};
use super::path::JPath;
use super::schema::{Elem, MANIFEST_FIELDS, RUN_FIELDS, sweep_elem};
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
    let known: Vec<&str> = MANIFEST_FIELDS.iter().chain(RUN_FIELDS).copied().collect();
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
    let base: Map<String, Value> = m
        .iter()
        .filter(|(k, _)| RUN_FIELDS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Some(Top {
        name: check_name(c, m.get("name")),
        description: check_description(c, m.get("description")),
        seed: check_seed(c, m.get("seed")),
        repeats: m
            .get("repeats")
            .and_then(|r| check_repeats(c, r, &root.key("repeats")))
            .unwrap_or(1),
        base: Value::Object(base),
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

fn check_name(c: &mut Checker, v: Option<&Value>) -> String {
    let p = JPath::root().key("name");
    let Some(v) = v else {
        c.push(&p, "missing required field \"name\"; it names the results folder, e.g. \"name\": \"init-impact\"");
        return String::new();
    };
    let ok = |s: &str| {
        !s.is_empty()
            && s != "."
            && s != ".."
            && s.chars()
                .all(|ch| ch.is_ascii_alphanumeric() || "_.-".contains(ch))
    };
    match v.as_str() {
        Some(s) if ok(s) => return s.to_string(),
        _ => c.push(
            &p,
            format!(
                "expected a name of letters, digits, '_', '.' and '-' (it names the results folder), got {}",
                got(v)
            ),
        ),
    }
    String::new()
}

fn check_description(c: &mut Checker, v: Option<&Value>) -> String {
    match v {
        None => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(x) => {
            c.push(
                &JPath::root().key("description"),
                format!("expected a string, got {}", got(x)),
            );
            String::new()
        }
    }
}

fn check_seed(c: &mut Checker, v: Option<&Value>) -> u64 {
    let Some(v) = v else { return 0 };
    v.as_u64().unwrap_or_else(|| {
        let p = JPath::root().key("seed");
        c.push(
            &p,
            format!(
                "expected an integer seed in 0..={}, got {}",
                u64::MAX,
                got(v)
            ),
        );
        0
    })
}

/// Also used for the `--repeats` override.
pub(crate) fn check_repeats(c: &mut Checker, v: &Value, p: &JPath) -> Option<u32> {
    match v.as_u64() {
        Some(0) => c.push(p, "must be at least 1, got 0"),
        Some(n) if n > u64::from(u32::MAX) => c.push(
            p,
            format!(
                "{n} is too large; a plan holds at most {} runs",
                super::MAX_RUNS
            ),
        ),
        Some(n) => return Some(n as u32),
        None => c.push(p, format!("expected a positive integer, got {}", got(v))),
    }
    None
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
    allowed.extend_from_slice(RUN_FIELDS);
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
        let overrides: Map<String, Value> = m
            .iter()
            .filter(|(k, _)| RUN_FIELDS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        out.push(Variant {
            label,
            overrides: Value::Object(overrides),
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
    let elem: Elem = match sweep_elem(key) {
        Ok(e) => e,
        Err(msg) => {
            c.push(p, msg);
            return None;
        }
    };
    let Some(list) = values.as_array().filter(|a| !a.is_empty()) else {
        c.push(
            p,
            format!(
                "expected a non-empty list of {}, got {}",
                elem.plural(),
                got(values)
            ),
        );
        return None;
    };
    let before = c.problems.len();
    for (j, msg) in list
        .iter()
        .enumerate()
        .filter_map(|(j, x)| Some((j, elem.reject(x)?)))
    {
        c.push(&p.idx(j), msg);
    }
    (c.problems.len() == before).then(|| SweepKey {
        key: key.to_string(),
        segs: key.split('.').map(str::to_string).collect(),
        values: list.clone(),
    })
}
