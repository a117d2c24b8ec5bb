//! The manifest's field names and the tree of paths a sweep may set.
//!
//! These lists mirror the serde types in `spec.rs`; the validator uses them to
//! name unknown fields with a suggestion, and the sweep uses them to reject
//! paths that do not exist before anything is expanded.

use crate::activation::Activation;
use crate::suggest;
use serde_json::Value;

/// Fields of the manifest itself (not part of any run).
pub(crate) const MANIFEST_FIELDS: &[&str] = &[
    "name",
    "description",
    "seed",
    "repeats",
    "variants",
    "sweep",
];
/// Fields of `RunConfig`, which the top level, variants and sweeps may set.
pub(crate) const RUN_FIELDS: &[&str] = &[
    "network",
    "init",
    "bias_init",
    "layers",
    "input",
    "loss",
    "stats",
    "train",
];
pub(crate) const NETWORK_FIELDS: &[&str] = &[
    "input_dim",
    "width",
    "depth",
    "widths",
    "activation",
    "final_activation",
    "bias",
];
pub(crate) const LAYER_FIELDS: &[&str] = &["index", "range", "init", "bias_init"];
pub(crate) const INPUT_FIELDS: &[&str] = &["batch", "dist"];
pub(crate) const LOSS_FIELDS: &[&str] = &["name", "target"];
pub(crate) const TARGETS: &[&str] = &["gaussian", "teacher"];
pub(crate) const STATS_FIELDS: &[&str] = &["saturation_threshold", "histogram_bins", "diagnosis"];
pub(crate) const DIAGNOSIS_FIELDS: &[&str] = &[
    "vanishing_act_std",
    "exploding_act_std",
    "vanishing_grad_norm",
    "exploding_grad_norm",
    "dead_fraction",
    "saturated_fraction",
];
/// The union of every scheme's parameters, plus the tag.
pub(crate) const INIT_PARAMS: &[&str] = &[
    "scheme",
    "value",
    "a",
    "b",
    "mean",
    "std",
    "gain",
    "mode",
    "nonlinearity",
    "sparsity",
    "components",
    "path",
    "tensor",
    "tol",
    "max_iter",
    "pre",
];

/// What every value of a swept path must look like, checked before expansion.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Elem {
    PosInt,
    Number,
    Bool,
    Str,
    Activation,
    Gain,
    PosIntList,
    List,
    Init,
    Object,
    Loss,
}

impl Elem {
    /// Whether `v` has the right shape; ranges are checked per run later.
    pub fn accepts(self, v: &Value) -> bool {
        match self {
            Elem::PosInt => v.as_u64().is_some_and(|n| n >= 1),
            Elem::Number => v.is_number(),
            Elem::Bool => v.is_boolean(),
            Elem::Str => v.is_string(),
            Elem::Activation => serde_json::from_value::<Activation>(v.clone()).is_ok(),
            Elem::Gain => v.is_number() || v.is_string(),
            Elem::PosIntList => v
                .as_array()
                .is_some_and(|a| !a.is_empty() && a.iter().all(|x| Elem::PosInt.accepts(x))),
            Elem::List => v.is_array(),
            Elem::Init => v.as_object().is_some_and(|o| o.contains_key("scheme")),
            Elem::Object => v.is_object(),
            Elem::Loss => v.is_string() || v.is_object(),
        }
    }

    /// Why `v` cannot be a value of this kind, if it cannot.
    pub fn reject(self, v: &Value) -> Option<String> {
        if let (Elem::Activation, Err(e)) = (self, serde_json::from_value::<Activation>(v.clone()))
        {
            // The activation's own message names the closest known activation.
            return Some(format!("expected a list of activations; {e}"));
        }
        (!self.accepts(v)).then(|| {
            format!(
                "expected a list of {}, got {}",
                self.plural(),
                super::checker::got(v)
            )
        })
    }

    /// Completes "expected a list of ...".
    pub fn plural(self) -> &'static str {
        match self {
            Elem::PosInt => "positive integers",
            Elem::Number => "numbers",
            Elem::Bool => "booleans (true/false)",
            Elem::Str => "strings",
            Elem::Activation => {
                "activations such as \"tanh\" or {\"name\": \"leaky_relu\", \"slope\": 0.2}"
            }
            Elem::Gain => "gains (positive numbers or names such as \"relu\")",
            Elem::PosIntList => "non-empty lists of positive integers",
            Elem::List => "lists",
            Elem::Init => "init objects such as {\"scheme\": \"normal\", \"std\": 0.02}",
            Elem::Object => "objects",
            Elem::Loss => "losses such as \"mean\" or {\"name\": \"mse\", \"target\": \"teacher\"}",
        }
    }
}

/// A node of the schema tree that sweep paths walk.
enum Node {
    Leaf(Elem),
    Obj(&'static [(&'static str, Node)]),
    /// An `Init` object: its parameters, with `pre` an `Init` again.
    Init,
    /// A loss name, or `{name, target}`.
    Loss,
}

const NETWORK: &[(&str, Node)] = &[
    ("input_dim", Node::Leaf(Elem::PosInt)),
    ("width", Node::Leaf(Elem::PosInt)),
    ("depth", Node::Leaf(Elem::PosInt)),
    ("widths", Node::Leaf(Elem::PosIntList)),
    ("activation", Node::Leaf(Elem::Activation)),
    ("final_activation", Node::Leaf(Elem::Activation)),
    ("bias", Node::Leaf(Elem::Bool)),
];
const INPUT: &[(&str, Node)] = &[("batch", Node::Leaf(Elem::PosInt)), ("dist", Node::Init)];
const DIAGNOSIS: &[(&str, Node)] = &[
    ("vanishing_act_std", Node::Leaf(Elem::Number)),
    ("exploding_act_std", Node::Leaf(Elem::Number)),
    ("vanishing_grad_norm", Node::Leaf(Elem::Number)),
    ("exploding_grad_norm", Node::Leaf(Elem::Number)),
    ("dead_fraction", Node::Leaf(Elem::Number)),
    ("saturated_fraction", Node::Leaf(Elem::Number)),
];
const STATS: &[(&str, Node)] = &[
    ("saturation_threshold", Node::Leaf(Elem::Number)),
    ("histogram_bins", Node::Leaf(Elem::PosInt)),
    ("diagnosis", Node::Obj(DIAGNOSIS)),
];
const OPTIM: &[(&str, Node)] = &[
    ("name", Node::Leaf(Elem::Str)),
    ("lr", Node::Leaf(Elem::Number)),
    ("weight_decay", Node::Leaf(Elem::Number)),
    ("momentum", Node::Leaf(Elem::Number)),
];
const TRAIN: &[(&str, Node)] = &[
    ("steps", Node::Leaf(Elem::PosInt)),
    ("optimizer", Node::Obj(OPTIM)),
    ("parametrization", Node::Leaf(Elem::Str)),
    ("data", Node::Leaf(Elem::Str)),
];
const RUN: &[(&str, Node)] = &[
    ("train", Node::Obj(TRAIN)),
    ("network", Node::Obj(NETWORK)),
    ("init", Node::Init),
    ("bias_init", Node::Init),
    ("layers", Node::Leaf(Elem::List)),
    ("input", Node::Obj(INPUT)),
    ("loss", Node::Loss),
    ("stats", Node::Obj(STATS)),
];

fn init_param(name: &str) -> Option<Node> {
    Some(match name {
        "gain" => Node::Leaf(Elem::Gain),
        "mode" | "nonlinearity" | "path" | "tensor" | "scheme" => Node::Leaf(Elem::Str),
        "components" => Node::Leaf(Elem::List),
        "max_iter" => Node::Leaf(Elem::PosInt),
        "pre" => Node::Init,
        n if INIT_PARAMS.contains(&n) => Node::Leaf(Elem::Number),
        _ => return None,
    })
}

fn child(node: &Node, name: &str) -> Option<Node> {
    match node {
        Node::Leaf(_) => None,
        Node::Obj(fields) => fields
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, n)| shallow(n)),
        Node::Init => init_param(name),
        Node::Loss => LOSS_FIELDS.contains(&name).then_some(Node::Leaf(Elem::Str)),
    }
}

/// A copy of a node; the tree is static, so this only copies references.
fn shallow(n: &Node) -> Node {
    match n {
        Node::Leaf(e) => Node::Leaf(*e),
        Node::Obj(f) => Node::Obj(f),
        Node::Init => Node::Init,
        Node::Loss => Node::Loss,
    }
}

fn elem_of(node: &Node) -> Elem {
    match node {
        Node::Leaf(e) => *e,
        Node::Obj(_) => Elem::Object,
        Node::Init => Elem::Init,
        Node::Loss => Elem::Loss,
    }
}

/// The element kind of a dotted sweep path such as `network.depth`, or a
/// message saying that the path does not exist (with a suggestion).
pub(crate) fn sweep_elem(path: &str) -> Result<Elem, String> {
    let mut node = Node::Obj(RUN);
    for seg in path.split('.') {
        match child(&node, seg) {
            Some(n) => node = n,
            None => {
                let known = all_paths();
                let refs: Vec<&str> = known.iter().map(String::as_str).collect();
                return Err(format!(
                    "sweep path \"{path}\" does not exist{}; a path names a run field such as \
                     \"network.depth\", \"init.std\" or \"input.batch\"",
                    suggest::did_you_mean(path, &refs)
                ));
            }
        }
    }
    Ok(elem_of(&node))
}

/// Every sweepable path, for suggestions (Init nesting through `pre` once).
fn all_paths() -> Vec<String> {
    fn walk(node: &Node, prefix: &str, depth: usize, out: &mut Vec<String>) {
        let names: Vec<&str> = match node {
            Node::Leaf(_) => return,
            Node::Obj(fields) => fields.iter().map(|(k, _)| *k).collect(),
            Node::Init if depth < 3 => INIT_PARAMS.to_vec(),
            Node::Init => return,
            Node::Loss => LOSS_FIELDS.to_vec(),
        };
        for name in names {
            let path = if prefix.is_empty() {
                name.to_string()
            } else {
                format!("{prefix}.{name}")
            };
            if let Some(c) = child(node, name) {
                walk(&c, &path, depth + 1, out);
            }
            out.push(path);
        }
    }
    let mut out = Vec::new();
    walk(&Node::Obj(RUN), "", 0, &mut out);
    out
}
