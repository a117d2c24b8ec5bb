//! Validation of one `Init` object: the scheme name, where the scheme may be
//! used, its parameters and their ranges.

use super::checker::{Checker, got};
use super::path::JPath;
use super::schema::INIT_PARAMS;
use crate::activation::erfc;
use crate::config::INIT_SCHEMES;
use crate::suggest;
use serde_json::{Map, Value};

/// Nonlinearity names of torch's `calculate_gain` (and `kaiming_*`'s `nonlinearity`).
pub(crate) const GAIN_NAMES: &[&str] = &[
    "linear",
    "identity",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "sigmoid",
    "tanh",
    "relu",
    "leaky_relu",
    "selu",
];
/// Distributions that fill each element independently of the tensor's shape.
const ELEMENTWISE: &[&str] = &[
    "zeros",
    "ones",
    "constant",
    "uniform",
    "normal",
    "trunc_normal",
];
const FAN_MODES: &[&str] = &["fan_in", "fan_out"];
/// Smallest accepted probability mass of a truncated normal's interval: below
/// it, rejection sampling would practically never accept.
const MIN_TRUNC_MASS: f64 = 1e-6;

/// Where an init is used, which decides the schemes it may name.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Role {
    Weight,
    Bias,
    Input,
    Component,
    /// The `pre` scheme of `lsuv`.
    Pre,
}

impl Role {
    fn allowed(self) -> Vec<&'static str> {
        let vector = |s: &&str| !needs_matrix(s);
        match self {
            Role::Weight => INIT_SCHEMES.to_vec(),
            Role::Bias => INIT_SCHEMES.iter().copied().filter(vector).collect(),
            Role::Input => INIT_SCHEMES
                .iter()
                .copied()
                .filter(|s| vector(s) && *s != "torch_default")
                .collect(),
            Role::Component => ELEMENTWISE.to_vec(),
            Role::Pre => INIT_SCHEMES
                .iter()
                .copied()
                // LSUV divides by the output std, which all-zero weights leave at 0.
                .filter(|s| !["lsuv", "mixture", "zeros"].contains(s))
                .collect(),
        }
    }

    /// Why a scheme is refused here, followed by what is allowed.
    fn refusal(self, scheme: &str) -> String {
        let why = match self {
            Role::Bias => {
                format!("\"{scheme}\" needs a weight matrix and cannot fill a bias vector")
            }
            Role::Input => format!("\"{scheme}\" cannot fill the input batch"),
            Role::Component => {
                "mixture components must be elementwise distributions (no nesting)".into()
            }
            Role::Pre => format!("lsuv's pre-initialization cannot be \"{scheme}\""),
            Role::Weight => format!("\"{scheme}\" is not allowed here"),
        };
        format!("{why}; use one of {}", self.allowed().join(", "))
    }
}

/// Mirrors `Init::needs_matrix` on scheme names.
pub(crate) fn needs_matrix(scheme: &str) -> bool {
    scheme.starts_with("xavier_")
        || scheme.starts_with("kaiming_")
        || scheme.starts_with("lecun_")
        || ["scaled_normal", "orthogonal", "sparse", "lsuv"].contains(&scheme)
}

/// (all parameters, required parameters) of a scheme.
pub(crate) fn params(scheme: &str) -> (&'static [&'static str], &'static [&'static str]) {
    match scheme {
        "constant" => (&["value"], &["value"]),
        "uniform" => (&["a", "b"], &[]),
        "normal" => (&["mean", "std"], &[]),
        "trunc_normal" => (&["mean", "std", "a", "b"], &[]),
        "xavier_uniform" | "xavier_normal" | "orthogonal" => (&["gain"], &[]),
        "kaiming_uniform" | "kaiming_normal" => (&["a", "mode", "nonlinearity"], &[]),
        "sparse" => (&["sparsity", "std"], &["sparsity"]),
        "mixture" => (&["components"], &["components"]),
        "from_file" => (&["path", "tensor"], &["path", "tensor"]),
        "lsuv" => (&["tol", "max_iter", "pre"], &[]),
        _ => (&[], &[]),
    }
}

/// Checks an init object used in `role`.
pub(crate) fn check_init(c: &mut Checker, v: &Value, p: &JPath, role: Role) {
    let Some(m) = v.as_object() else {
        let eg = "{\"scheme\": \"normal\", \"std\": 0.02}";
        c.push(
            p,
            format!("expected an init object such as {eg}, got {}", got(v)),
        );
        return;
    };
    let Some(sv) = m.get("scheme") else {
        c.missing(
            p,
            "scheme",
            &format!("one of {}", role.allowed().join(", ")),
        );
        return;
    };
    let Some(scheme) = c.name_in(sv, &p.key("scheme"), "scheme", INIT_SCHEMES) else {
        return;
    };
    if !role.allowed().contains(&scheme) {
        c.push(&p.key("scheme"), role.refusal(scheme));
        return;
    }
    let (all, required) = params(scheme);
    let takes = if all.is_empty() {
        "no parameters".to_string()
    } else {
        all.join(", ")
    };
    for k in m
        .keys()
        .filter(|k| *k != "scheme" && !all.contains(&k.as_str()))
    {
        let msg = if INIT_PARAMS.contains(&k.as_str()) {
            format!("scheme \"{scheme}\" has no parameter \"{k}\"; it takes {takes}")
        } else {
            let hint = suggest::did_you_mean(k, all);
            format!("unknown field \"{k}\"{hint}; scheme \"{scheme}\" takes {takes}")
        };
        c.push(&p.key(k), msg);
    }
    for r in required.iter().filter(|r| !m.contains_key(**r)) {
        c.missing(p, r, &format!("scheme \"{scheme}\" requires it"));
    }
    check_params(c, scheme, m, p);
}

fn check_params(c: &mut Checker, scheme: &str, m: &Map<String, Value>, p: &JPath) {
    let at = |k: &str| p.key(k);
    match scheme {
        "constant" => _ = m.get("value").map(|x| c.number(x, &at("value"))),
        "uniform" => _ = interval(c, m, p, (0.0, 1.0)),
        "normal" => {
            opt(c, m, p, "mean", 0.0, false);
            opt(c, m, p, "std", 1.0, true);
        }
        "trunc_normal" => check_trunc_normal(c, m, p),
        "xavier_uniform" | "xavier_normal" | "orthogonal" => check_gain(c, m, p),
        "kaiming_uniform" | "kaiming_normal" => check_kaiming(c, m, p),
        "sparse" => {
            if let Some(s) = m.get("sparsity").and_then(|x| c.number(x, &at("sparsity")))
                && !(0.0..1.0).contains(&s)
            {
                c.push(
                    &at("sparsity"),
                    format!("must be in [0, 1) (the fraction of zeros per column), got {s}"),
                );
            }
            opt(c, m, p, "std", 0.01, true);
        }
        "mixture" => check_mixture(c, m, p),
        "from_file" => {
            for k in ["path", "tensor"] {
                if let Some(x) = m.get(k).filter(|x| x.as_str().is_none_or(|s| s.is_empty())) {
                    c.push(
                        &at(k),
                        format!("expected a non-empty string, got {}", got(x)),
                    );
                }
            }
        }
        "lsuv" => check_lsuv(c, m, p),
        _ => {}
    }
}

/// An optional number with its default; `positive` demands > 0.
fn opt(
    c: &mut Checker,
    m: &Map<String, Value>,
    p: &JPath,
    k: &str,
    default: f64,
    positive: bool,
) -> Option<f64> {
    match m.get(k) {
        None => Some(default),
        Some(x) if positive => c.positive(x, &p.key(k)),
        Some(x) => c.number(x, &p.key(k)),
    }
}

/// `a` < `b` with their defaults; the problem goes to whichever was given.
fn interval(
    c: &mut Checker,
    m: &Map<String, Value>,
    p: &JPath,
    defaults: (f64, f64),
) -> Option<(f64, f64)> {
    let a = opt(c, m, p, "a", defaults.0, false);
    let b = opt(c, m, p, "b", defaults.1, false);
    let (a, b) = (a?, b?);
    if a >= b {
        let at = if m.contains_key("b") { "b" } else { "a" };
        c.push(
            &p.key(at),
            format!("needs a < b, got a = {a}, b = {b}; swap them or widen the interval"),
        );
        return None;
    }
    Some((a, b))
}

fn check_trunc_normal(c: &mut Checker, m: &Map<String, Value>, p: &JPath) {
    let mean = opt(c, m, p, "mean", 0.0, false);
    let std = opt(c, m, p, "std", 1.0, true);
    let ab = interval(c, m, p, (-2.0, 2.0));
    let (Some(mean), Some(std), Some((a, b))) = (mean, std, ab) else {
        return;
    };
    let mass = normal_mass((a - mean) / std, (b - mean) / std);
    if mass <= MIN_TRUNC_MASS {
        c.push(
            p,
            format!(
                "the interval [{a}, {b}] holds only {mass:.1e} of N({mean}, {std}^2), too little to sample; \
                 a and b are absolute bounds, so put them within a few std of the mean"
            ),
        );
    }
}

/// Φ(β) − Φ(α), computed on the near tail so that far tails do not cancel to 0.
fn normal_mass(alpha: f64, beta: f64) -> f64 {
    let q = |x: f64| 0.5 * erfc(x / std::f64::consts::SQRT_2);
    if alpha >= 0.0 {
        q(alpha) - q(beta)
    } else if beta <= 0.0 {
        q(-beta) - q(-alpha)
    } else {
        1.0 - q(beta) - q(-alpha)
    }
}

fn check_gain(c: &mut Checker, m: &Map<String, Value>, p: &JPath) {
    let Some(g) = m.get("gain") else { return };
    let pg = p.key("gain");
    if g.is_number() {
        c.positive(g, &pg);
    } else if g.is_string() {
        let mut names = GAIN_NAMES.to_vec();
        names.push("auto");
        c.name_in(g, &pg, "gain", &names);
    } else {
        let eg = "a positive number, a nonlinearity name such as \"relu\", or \"auto\"";
        c.push(&pg, format!("expected a gain: {eg}, got {}", got(g)));
    }
}

fn check_kaiming(c: &mut Checker, m: &Map<String, Value>, p: &JPath) {
    if let Some(a) = opt(c, m, p, "a", 0.0, false).filter(|a| *a < 0.0) {
        c.push(
            &p.key("a"),
            format!("must be >= 0 (the negative slope of leaky_relu), got {a}"),
        );
    }
    if let Some(x) = m.get("mode") {
        c.name_in(x, &p.key("mode"), "mode", FAN_MODES);
    }
    if let Some(x) = m.get("nonlinearity") {
        c.name_in(x, &p.key("nonlinearity"), "nonlinearity", GAIN_NAMES);
    }
}

fn check_mixture(c: &mut Checker, m: &Map<String, Value>, p: &JPath) {
    let Some(v) = m.get("components") else { return };
    let pc = p.key("components");
    let Some(items) = v.as_array().filter(|a| !a.is_empty()) else {
        let eg = "[{\"weight\": 0.9, \"dist\": {\"scheme\": \"zeros\"}}, ...]";
        c.push(
            &pc,
            format!(
                "expected a non-empty list of components such as {eg}, got {}",
                got(v)
            ),
        );
        return;
    };
    let mut sum = Some(0.0);
    for (i, item) in items.iter().enumerate() {
        let pi = pc.idx(i);
        let Some(cm) = c.object(item, &pi, "a mixture component", &["weight", "dist"]) else {
            sum = None;
            continue;
        };
        let w = match cm.get("weight") {
            Some(w) => c.positive(w, &pi.key("weight")),
            None => {
                c.missing(
                    &pi,
                    "weight",
                    "give the component's probability, e.g. \"weight\": 0.5",
                );
                None
            }
        };
        sum = sum.zip(w).map(|(s, w)| s + w);
        match cm.get("dist") {
            Some(d) => check_init(c, d, &pi.key("dist"), Role::Component),
            None => c.missing(
                &pi,
                "dist",
                "give the component's distribution, e.g. {\"scheme\": \"normal\"}",
            ),
        }
    }
    if let Some(s) = sum.filter(|s| (s - 1.0).abs() > 1e-6) {
        c.push(
            &pc,
            format!("component weights sum to {s}; they must sum to 1 (within 1e-6)"),
        );
    }
}

fn check_lsuv(c: &mut Checker, m: &Map<String, Value>, p: &JPath) {
    opt(c, m, p, "tol", 0.1, true);
    if let Some(x) = m.get("max_iter")
        && !x
            .as_u64()
            .is_some_and(|n| (1..=u64::from(u32::MAX)).contains(&n))
    {
        c.push(
            &p.key("max_iter"),
            format!("expected a positive integer (iterations), got {}", got(x)),
        );
    }
    if let Some(x) = m.get("pre") {
        check_init(c, x, &p.key("pre"), Role::Pre);
    }
}
