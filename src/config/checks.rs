//! The run fields' cross-field checks: what no single field can say.

use crate::registry::{Checker, View};
use serde_json::Value;

/// The fields only residual stacks read (refused on a linear stack).
const RESIDUAL_ONLY: [&str; 7] = [
    "ff_width",
    "norm",
    "norm_position",
    "norm_eps",
    "residual_scale",
    "final_norm",
    "attention",
];

/// Exactly one of `widths`, or `width` with `depth`; residual fields only
/// on residual stacks, which have one width and no final activation.
pub(super) fn check_network(c: &mut Checker, v: &View) {
    check_residual_network(c, v);
    if is_residual(v) && v.given("widths").is_some() {
        return;
    }
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

/// Training updates every parameter; a residual stack's token-embedding
/// input is a fixed lookup drawn at init (no gradient reaches its table),
/// so it cannot be trained as torch would train `nn.Embedding`.
fn check_trainable(c: &mut Checker, v: &View) {
    let embedding = v.valid("input").and_then(|i| i.get("embedding"));
    if embedding.is_some() && v.given("train").is_some() {
        c.push(
            &v.at("input").key("embedding"),
            "training with token-embedding input is not supported (the embedding table is a fixed lookup, not a trained parameter); use \"input\": {\"dist\": ...} or remove \"train\"",
        );
    }
}

/// Cross-entropy classifies into the output width's classes: at least 2.
fn check_classes(c: &mut Checker, v: &View) {
    let ce = v.valid("loss").is_some_and(|l| {
        l.as_str().or_else(|| l.get("name").and_then(Value::as_str)) == Some("cross_entropy")
    });
    let Some(net) = v.valid("network").filter(|_| ce) else {
        return;
    };
    let (out, field) = match (net.get("widths"), net.get("width")) {
        (Some(w), _) => (w.as_array().and_then(|a| a.last()?.as_u64()), "widths"),
        (None, Some(w)) => (w.as_u64(), "width"),
        _ => return,
    };
    if let Some(n) = out.filter(|n| *n < 2) {
        let msg = format!(
            "cross_entropy needs at least 2 classes, and the classes are the output width, here {n}; \
             make the last layer at least 2 wide (network.{field}) or use \"mse\""
        );
        c.push(&v.at("loss"), msg);
    }
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

fn is_residual(v: &View) -> bool {
    v.valid("block").and_then(Value::as_str) == Some("residual")
}

fn check_residual_network(c: &mut Checker, v: &View) {
    if !is_residual(v) {
        for k in RESIDUAL_ONLY.iter().filter(|k| v.given(k).is_some()) {
            c.push(
                &v.at(k),
                format!(
                    "{k} applies to residual stacks only; add \"block\": \"residual\" or remove it"
                ),
            );
        }
        return;
    }
    if v.given("widths").is_some() {
        c.push(
            &v.at("widths"),
            "a residual stack has one width (its stream); give \"width\" and \"depth\" (the number of blocks)",
        );
    }
    if v.given("final_activation").is_some() {
        c.push(
            &v.at("final_activation"),
            "a residual stack ends with its stream (or final_norm), not an activation; remove final_activation",
        );
    }
    check_heads(c, v);
    let norm = v
        .valid("norm")
        .and_then(Value::as_str)
        .unwrap_or("layernorm");
    if norm == "none" {
        if v.valid("final_norm") == Some(&Value::Bool(true)) {
            c.push(
                &v.at("final_norm"),
                "final_norm needs a norm, but norm is \"none\"; set norm or remove final_norm",
            );
        }
        if v.valid("residual_scale").and_then(Value::as_str) == Some("deepnorm") {
            c.push(
                &v.at("residual_scale"),
                "deepnorm is a post-norm recipe and needs a norm, but norm is \"none\"",
            );
        }
    }
}

/// Attention heads split the width evenly.
fn check_heads(c: &mut Checker, v: &View) {
    let width = v.valid("width").and_then(Value::as_u64);
    let heads = v
        .valid("attention")
        .and_then(|a| a.get("heads"))
        .and_then(Value::as_u64);
    if let (Some(w), Some(h)) = (width, heads)
        && h > 0
        && w % h != 0
    {
        let fits: Vec<String> = (1..=w.min(64))
            .filter(|d| w % d == 0)
            .rev()
            .take(4)
            .map(|d| d.to_string())
            .collect();
        c.push(
            &v.at("attention").key("heads"),
            format!(
                "{h} heads do not divide width {w} (d_head = width / heads); use heads that divide {w}, e.g. {}",
                fits.join(", ")
            ),
        );
    }
}

/// Attention runs within sequences of seq_len token rows: the batch holds
/// whole sequences, and sinusoidal positions repeat with the same period.
fn check_sequences(c: &mut Checker, v: &View, net: &Value) {
    let Some(seq) = net
        .get("attention")
        .and_then(|a| a.get("seq_len"))
        .and_then(Value::as_u64)
        .filter(|s| *s > 0)
    else {
        return;
    };
    let input = v.valid("input");
    let batch = input.and_then(|i| i.get("batch")).and_then(Value::as_u64);
    if let Some(b) = batch
        && b % seq != 0
    {
        let (lo, hi) = ((b / seq) * seq, (b / seq + 1) * seq);
        let lo = if lo == 0 {
            String::new()
        } else {
            format!("{lo} or ")
        };
        c.push(
            &v.at("input").key("batch"),
            format!(
                "input.batch counts token rows and must hold whole sequences of attention.seq_len {seq}; got {b}: use {lo}{hi} (sequences × seq_len)"
            ),
        );
    }
    let emb_seq = input
        .and_then(|i| i.get("embedding"))
        .and_then(|e| e.get("seq_len"))
        .and_then(Value::as_u64);
    if let Some(e) = emb_seq.filter(|e| *e != seq) {
        c.push(
            &v.at("input").key("embedding").key("seq_len"),
            format!(
                "positions repeat every {e} rows but attention sequences are {seq} rows; use \"seq_len\": {seq}"
            ),
        );
    }
}

/// Run-level rules: layer indices exist; jacobian fits the batch and depth
/// (linear stacks only); `layers` is for linear stacks and
/// `overrides` and `input.embedding` for residual stacks.
pub(super) fn check_run(c: &mut Checker, v: &View) {
    check_layer_indices(c, v);
    check_jacobian(c, v);
    check_classes(c, v);
    check_trainable(c, v);
    let Some(net) = v.valid("network") else {
        return;
    };
    let residual = net.get("block").and_then(Value::as_str) == Some("residual");
    if residual {
        check_sequences(c, v, net);
    }
    if residual && v.given("jacobian").is_some() {
        c.push(
            &v.at("jacobian"),
            "the Jacobian spectrum is computed for linear stacks (products of D_l W_l); residual blocks' factors (I + a*J_branch) are not built yet: remove jacobian or use a linear stack",
        );
    }
    if residual
        && v.given("layers")
            .is_some_and(|l| l.as_array().is_some_and(|a| !a.is_empty()))
    {
        c.push(
            &v.at("layers"),
            "residual stacks name their parameters by export key: use \"overrides\": [{\"match\": \"blocks.0.fc1.weight\", \"init\": ...}] instead of layers",
        );
    }
    if !residual && v.given("overrides").is_some() {
        c.push(
            &v.at("overrides"),
            "overrides match the export keys of residual stacks (\"block\": \"residual\"); a linear stack sets layers with \"layers\"",
        );
    }
    let embedding = v.valid("input").and_then(|i| i.get("embedding"));
    if !residual && embedding.is_some() {
        c.push(
            &v.at("input").key("embedding"),
            "token-embedding input feeds residual stacks only; add \"block\": \"residual\" to network or use input.dist",
        );
    }
}

/// An override sets something.
pub(super) fn check_param_override(c: &mut Checker, v: &View) {
    if v.given("init").is_none() && v.given("scale").is_none() {
        c.push(
            v.path,
            "this override sets neither init nor scale; add one or remove the override",
        );
    }
}

/// Positions come with a sequence length, and a sequence length with positions.
pub(super) fn check_embedding(c: &mut Checker, v: &View) {
    match (v.given("positions"), v.given("seq_len")) {
        (Some(_), None) => c.missing(
            v.path,
            "seq_len",
            "sinusoidal positions repeat every seq_len rows, e.g. \"seq_len\": 128",
        ),
        (None, Some(_)) => c.push(
            &v.at("seq_len"),
            "seq_len is only used with \"positions\": \"sinusoidal\"; add positions or remove it",
        ),
        _ => {}
    }
}
