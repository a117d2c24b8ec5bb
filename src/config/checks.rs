//! The run fields' cross-field checks: what no single field can say.

use crate::registry::{Checker, View};
use serde_json::Value;

/// Exactly one of `widths`, or `width` with `depth`.
pub(super) fn check_network(c: &mut Checker, v: &View) {
    let either = "give \"width\" with \"depth\", or a list \"widths\"";
    let p = v.path;
    match (v.given("widths"), v.given("width"), v.given("depth")) {
        (Some(_), None, None) | (None, Some(_), Some(_)) => {}
        (Some(_), _, _) => c.push(
            &v.at("widths"),
            "give either widths or width with depth, not both; remove one",
        ),
        (None, Some(_), None) => c.missing(
            p,
            "depth",
            &format!("width needs a number of layers; {either}"),
        ),
        (None, None, Some(_)) => {
            c.missing(p, "width", &format!("depth needs a layer width; {either}"))
        }
        (None, None, None) => c.missing(p, "width", either),
    }
}

/// Exactly one of `index` or `range`, a non-empty range, and something to set.
pub(super) fn check_override(c: &mut Checker, v: &View) {
    match (v.given("index"), v.given("range")) {
        (Some(_), Some(_)) => c.push(&v.at("range"), "give either index or range, not both"),
        (None, None) => c.missing(
            v.path,
            "index",
            "say which layers it covers with \"index\" or \"range\": [start, end]",
        ),
        _ => {}
    }
    if let Some([s, e]) = range(v.valid("range"))
        && s >= e
    {
        let msg = format!("range [{s}, {e}] is empty; start must be < end (end is excluded)");
        c.push(&v.at("range"), msg);
    }
    if v.given("init").is_none() && v.given("bias_init").is_none() {
        c.push(
            v.path,
            "this override sets neither init nor bias_init; add one or remove the override",
        );
    }
}

fn range(v: Option<&Value>) -> Option<[u64; 2]> {
    let a = v?.as_array()?;
    Some([a.first()?.as_u64()?, a.get(1)?.as_u64()?])
}

/// The run's cross-field checks.
pub(super) fn check_run(c: &mut Checker, v: &View) {
    check_layer_indices(c, v);
    check_jacobian(c, v);
}

/// The network's number of layers, when `network` is valid.
fn network_depth(v: &View) -> Option<u64> {
    let net = v.valid("network")?;
    match (net.get("widths"), net.get("depth")) {
        (Some(w), _) => Some(w.as_array().map_or(0, Vec::len) as u64),
        (None, Some(d)) => d.as_u64(),
        _ => None,
    }
}

/// Jacobian inputs within the batch and depths within the network.
fn check_jacobian(c: &mut Checker, v: &View) {
    let Some(jac) = v.valid("jacobian") else {
        return;
    };
    let p = v.at("jacobian");
    let batch = v
        .valid("input")
        .and_then(|i| i.get("batch"))
        .and_then(Value::as_u64);
    let inputs = jac.get("inputs").and_then(Value::as_u64);
    if let (Some(b), Some(n)) = (batch, inputs)
        && n > b
    {
        let msg = format!(
            "{n} input rows asked for, but input.batch is {b}; use at most {b} or raise input.batch"
        );
        c.push(&p.key("inputs"), msg);
    }
    let (Some(depth), Some(Value::Array(ds))) = (network_depth(v), jac.get("depths")) else {
        return;
    };
    for (k, d) in ds.iter().enumerate() {
        if let Some(d) = d.as_u64().filter(|d| *d > depth) {
            let msg = format!(
                "depth {d} is beyond the network's {depth} layers; list depths from 1 to {depth}"
            );
            c.push(&p.key("depths").idx(k), msg);
        }
    }
}

/// Layer overrides name layers that exist.
fn check_layer_indices(c: &mut Checker, v: &View) {
    let (Some(depth), Some(Value::Array(items))) = (network_depth(v), v.given("layers")) else {
        return;
    };
    let layers = if depth == 1 {
        "1 layer".to_string()
    } else {
        format!("{depth} layers")
    };
    for (k, o) in items.iter().enumerate() {
        let p = v.at("layers").idx(k);
        if let Some(i) = o
            .get("index")
            .and_then(Value::as_u64)
            .filter(|i| *i >= depth)
        {
            let msg = format!(
                "layer {i} does not exist; the network has {layers} (indices 0 to {})",
                depth - 1
            );
            c.push(&p.key("index"), msg);
        }
        if let Some([_, e]) = range(o.get("range")).filter(|[s, e]| s < e && *e > depth) {
            let msg = format!(
                "range end {e} is past the last layer; the network has {layers}, so end <= {depth}"
            );
            c.push(&p.key("range"), msg);
        }
    }
}
