//! Validation of one merged run object, value by value, before serde sees it.
//!
//! serde stops at the first error and cannot say where it was; walking the
//! JSON ourselves lets us report every problem with its path.

use super::checker::{Checker, got};
use super::init_check::{Role, check_init};
use super::path::JPath;
use super::schema::*;
use crate::activation::Activation;
use crate::config::LOSS_NAMES;
use serde_json::{Map, Value};

/// Largest accepted size of any single dimension.
pub(crate) const MAX_DIM: u64 = 1 << 24;
/// Largest accepted number of layers.
pub(crate) const MAX_DEPTH: u64 = 10_000;

/// Checks a merged run object (a `RunConfig` in JSON form).
pub(crate) fn check_run(c: &mut Checker, v: &Value) {
    let root = JPath::root();
    let Some(m) = c.object(v, &root, "a run", RUN_FIELDS) else {
        return;
    };
    let depth = match m.get("network") {
        Some(n) => check_network(c, n, &root.key("network")),
        None => {
            c.missing(
                &root,
                "network",
                "e.g. \"network\": {\"input_dim\": 512, \"width\": 512, \"depth\": 10}",
            );
            None
        }
    };
    if let Some(x) = m.get("init") {
        check_init(c, x, &root.key("init"), Role::Weight);
    }
    if let Some(x) = m.get("bias_init") {
        check_init(c, x, &root.key("bias_init"), Role::Bias);
    }
    if let Some(x) = m.get("layers") {
        check_layers(c, x, &root.key("layers"), depth);
    }
    match m.get("input") {
        Some(x) => check_input(c, x, &root.key("input")),
        None => c.missing(&root, "input", "e.g. \"input\": {\"batch\": 64}"),
    }
    if let Some(x) = m.get("loss") {
        check_loss(c, x, &root.key("loss"));
    }
    if let Some(x) = m.get("stats") {
        check_stats(c, x, &root.key("stats"));
    }
}

/// Returns the number of layers when the shape is valid.
fn check_network(c: &mut Checker, v: &Value, p: &JPath) -> Option<usize> {
    let m = c.object(v, p, "network", NETWORK_FIELDS)?;
    match m.get("input_dim") {
        Some(x) => _ = c.size(x, &p.key("input_dim"), "an input dimension", MAX_DIM),
        None => c.missing(
            p,
            "input_dim",
            "give the width of the input, e.g. \"input_dim\": 512",
        ),
    }
    for key in ["activation", "final_activation"] {
        if let Some(Err(e)) = m
            .get(key)
            .map(|a| serde_json::from_value::<Activation>(a.clone()))
        {
            c.push(&p.key(key), e.to_string());
        }
    }
    if let Some(b) = m.get("bias") {
        c.boolean(b, &p.key("bias"));
    }
    layer_count(c, m, p)
}

/// Exactly one of `widths` or `width` with `depth`.
fn layer_count(c: &mut Checker, m: &Map<String, Value>, p: &JPath) -> Option<usize> {
    let width = m
        .get("width")
        .map(|w| c.size(w, &p.key("width"), "a width", MAX_DIM));
    let depth = m
        .get("depth")
        .map(|d| c.size(d, &p.key("depth"), "a depth", MAX_DEPTH));
    let either = "give \"width\" with \"depth\", or a list \"widths\"";
    match (m.get("widths"), width, depth) {
        (Some(ws), None, None) => check_widths(c, ws, &p.key("widths")),
        (Some(_), _, _) => {
            c.push(
                &p.key("widths"),
                "give either widths or width with depth, not both; remove one",
            );
            None
        }
        (None, Some(_), Some(d)) => d.map(|d| d as usize),
        (None, Some(_), None) => {
            c.missing(
                p,
                "depth",
                &format!("width needs a number of layers; {either}"),
            );
            None
        }
        (None, None, Some(_)) => {
            c.missing(p, "width", &format!("depth needs a layer width; {either}"));
            None
        }
        (None, None, None) => {
            c.missing(p, "width", either);
            None
        }
    }
}

fn check_widths(c: &mut Checker, v: &Value, p: &JPath) -> Option<usize> {
    let Some(ws) = v.as_array().filter(|a| !a.is_empty()) else {
        c.push(
            p,
            format!(
                "expected a non-empty list of positive integers, got {}",
                got(v)
            ),
        );
        return None;
    };
    if ws.len() as u64 > MAX_DEPTH {
        c.push(
            p,
            format!(
                "{} layers is too many; at most {MAX_DEPTH} are accepted",
                ws.len()
            ),
        );
        return None;
    }
    let ok = ws
        .iter()
        .enumerate()
        .all(|(i, w)| c.size(w, &p.idx(i), "a width", MAX_DIM).is_some());
    ok.then_some(ws.len())
}

fn check_layers(c: &mut Checker, v: &Value, p: &JPath, depth: Option<usize>) {
    let Some(items) = v.as_array() else {
        let eg = "[{\"index\": 0, \"init\": {\"scheme\": \"orthogonal\"}}]";
        c.push(
            p,
            format!(
                "expected a list of layer overrides such as {eg}, got {}",
                got(v)
            ),
        );
        return;
    };
    for (k, item) in items.iter().enumerate() {
        check_override(c, item, &p.idx(k), depth);
    }
}

fn check_override(c: &mut Checker, v: &Value, p: &JPath, depth: Option<usize>) {
    let Some(m) = c.object(v, p, "a layer override", LAYER_FIELDS) else {
        return;
    };
    match (m.get("index"), m.get("range")) {
        (Some(_), Some(_)) => c.push(&p.key("range"), "give either index or range, not both"),
        (None, None) => c.missing(
            p,
            "index",
            "say which layers it covers with \"index\" or \"range\": [start, end]",
        ),
        (Some(i), None) => check_index(c, i, &p.key("index"), depth),
        (None, Some(r)) => check_range(c, r, &p.key("range"), depth),
    }
    if !m.contains_key("init") && !m.contains_key("bias_init") {
        c.push(
            p,
            "this override sets neither init nor bias_init; add one or remove the override",
        );
    }
    if let Some(x) = m.get("init") {
        check_init(c, x, &p.key("init"), Role::Weight);
    }
    if let Some(x) = m.get("bias_init") {
        check_init(c, x, &p.key("bias_init"), Role::Bias);
    }
}

fn check_index(c: &mut Checker, v: &Value, p: &JPath, depth: Option<usize>) {
    let (Some(i), Some(d)) = (c.index(v, p), depth) else {
        return;
    };
    if i >= d as u64 {
        c.push(
            p,
            format!(
                "layer {i} does not exist; the network has {} (indices 0 to {})",
                count_layers(d),
                d - 1
            ),
        );
    }
}

fn check_range(c: &mut Checker, v: &Value, p: &JPath, depth: Option<usize>) {
    let pair = v
        .as_array()
        .filter(|a| a.len() == 2)
        .and_then(|a| Some((a[0].as_u64()?, a[1].as_u64()?)));
    let Some((s, e)) = pair else {
        c.push(
            p,
            format!(
                "expected [start, end] with two layer indices (end excluded), got {}",
                got(v)
            ),
        );
        return;
    };
    if s >= e {
        c.push(
            p,
            format!("range [{s}, {e}] is empty; start must be < end (end is excluded)"),
        );
    } else if let Some(d) = depth.filter(|&d| e > d as u64) {
        c.push(
            p,
            format!(
                "range end {e} is past the last layer; the network has {}, so end <= {d}",
                count_layers(d)
            ),
        );
    }
}

fn check_input(c: &mut Checker, v: &Value, p: &JPath) {
    let Some(m) = c.object(v, p, "input", INPUT_FIELDS) else {
        return;
    };
    match m.get("batch") {
        Some(b) => _ = c.size(b, &p.key("batch"), "a batch size", MAX_DIM),
        None => c.missing(
            p,
            "batch",
            "give the number of input rows, e.g. \"batch\": 64",
        ),
    }
    if let Some(d) = m.get("dist") {
        check_init(c, d, &p.key("dist"), Role::Input);
    }
}

fn check_loss(c: &mut Checker, v: &Value, p: &JPath) {
    if v.is_string() {
        c.name_in(v, p, "loss", LOSS_NAMES);
        return;
    }
    if !v.is_object() {
        let eg = "\"mean\" or {\"name\": \"mse\", \"target\": \"teacher\"}";
        c.push(p, format!("expected a loss such as {eg}, got {}", got(v)));
        return;
    }
    let Some(m) = c.object(v, p, "loss", LOSS_FIELDS) else {
        return;
    };
    let name = match m.get("name") {
        Some(n) => c.name_in(n, &p.key("name"), "loss", LOSS_NAMES),
        None => {
            c.missing(p, "name", &format!("one of {}", LOSS_NAMES.join(", ")));
            None
        }
    };
    match (m.get("target"), name) {
        (Some(t), Some("mse")) => _ = c.name_in(t, &p.key("target"), "mse target", TARGETS),
        (Some(_), Some(n)) => c.push(
            &p.key("target"),
            format!("loss \"{n}\" takes no target; only \"mse\" does"),
        ),
        _ => {}
    }
}

fn check_stats(c: &mut Checker, v: &Value, p: &JPath) {
    let Some(m) = c.object(v, p, "stats", STATS_FIELDS) else {
        return;
    };
    if let Some(x) = m.get("saturation_threshold") {
        c.positive(x, &p.key("saturation_threshold"));
    }
    if let Some(x) = m.get("histogram_bins")
        && !x.as_u64().is_some_and(|n| (1..=4096).contains(&n))
    {
        c.push(
            &p.key("histogram_bins"),
            format!("must be an integer in 1..=4096, got {}", got(x)),
        );
    }
    if let Some(d) = m.get("diagnosis") {
        let pd = p.key("diagnosis");
        if let Some(dm) = c.object(d, &pd, "diagnosis", DIAGNOSIS_FIELDS) {
            for (k, x) in dm
                .iter()
                .filter(|(k, _)| DIAGNOSIS_FIELDS.contains(&k.as_str()))
            {
                c.positive(x, &pd.key(k));
            }
        }
    }
}

fn count_layers(d: usize) -> String {
    if d == 1 {
        "1 layer".into()
    } else {
        format!("{d} layers")
    }
}
