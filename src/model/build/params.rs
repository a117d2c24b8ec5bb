//! The parameters of a residual stack: their export keys, shapes and
//! Philox streams, and each one's scheme after the defaults, the preset and
//! the user's `overrides` (globs over the keys, applied in order).

use crate::activation::Activation;
use crate::config::Init;
use crate::init::InitError;
use crate::model::NormKind;
use crate::model::glob;
use crate::model::residual::{ParamOverride, ResidualSpec};
use crate::rng::{layer_word, module};

/// What a parameter is, for its default scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Weight,
    Bias,
    NormWeight,
    NormBias,
}

/// A parameter before its scheme is resolved.
pub(super) struct Decl {
    pub name: String,
    pub rows: usize,
    pub cols: usize,
    pub fan_in: usize,
    pub fan_out: usize,
    pub kind: Kind,
    /// The activation that follows (resolves `"gain": "auto"`).
    pub act: Activation,
    pub layer: u32,
    /// The packed parameter this one is a row block of (attention's q, k and
    /// v thirds of `in_proj_weight`): overrides may match either name.
    pub pack: Option<String>,
}

impl Decl {
    /// Whether override `pattern` reaches this parameter (by its own key or
    /// the key of the parameter it is packed into).
    pub fn matches(&self, pattern: &str) -> bool {
        glob::matches(pattern, &self.name)
            || self
                .pack
                .as_ref()
                .is_some_and(|p| glob::matches(pattern, p))
    }
}

/// The virtual keys of in_proj_weight's thirds, in row order.
pub(super) const QKV: [&str; 3] = ["q_proj", "k_proj", "v_proj"];

/// Every parameter, in export order: input_proj, blocks (ff_norm, fc1,
/// fc2), final_norm.
pub(super) fn declare(spec: &ResidualSpec) -> Vec<Decl> {
    let (d, ff) = (spec.width, spec.ff_width);
    let mut v = Vec::new();
    let linear = |v: &mut Vec<Decl>, name: String, fi, fo, act, layer| {
        v.push(Decl {
            name: format!("{name}.weight"),
            rows: fo,
            cols: fi,
            fan_in: fi,
            fan_out: fo,
            kind: Kind::Weight,
            act,
            layer,
            pack: None,
        });
        if spec.bias {
            v.push(Decl {
                name: format!("{name}.bias"),
                rows: fo,
                cols: 1,
                fan_in: fi,
                fan_out: fo,
                kind: Kind::Bias,
                act,
                layer,
                pack: None,
            });
        }
    };
    let norm = |v: &mut Vec<Decl>, name: String, layer| {
        let Some(kind) = spec.norm else { return };
        let mk = |suffix: &str, k| Decl {
            name: format!("{name}.{suffix}"),
            rows: d,
            cols: 1,
            fan_in: d,
            fan_out: d,
            kind: k,
            act: Activation::Identity,
            layer,
            pack: None,
        };
        v.push(mk("weight", Kind::NormWeight));
        if spec.bias && kind == NormKind::LayerNorm {
            v.push(mk("bias", Kind::NormBias));
        }
    };
    if spec.input_dim != spec.width {
        let l = layer_word(module::INPUT_PROJ, 0);
        linear(
            &mut v,
            "input_proj".into(),
            spec.input_dim,
            d,
            Activation::Identity,
            l,
        );
    }
    for i in 0..spec.depth {
        let ix = i as u32;
        if spec.attention.is_some() {
            norm(
                &mut v,
                format!("blocks.{i}.attn_norm"),
                layer_word(module::ATTN_NORM, ix),
            );
            attention(&mut v, spec, i);
            let out = layer_word(module::ATTN_OUT, ix);
            let name = format!("blocks.{i}.attn.out_proj");
            linear(&mut v, name, d, d, Activation::Identity, out);
        }
        norm(
            &mut v,
            format!("blocks.{i}.ff_norm"),
            layer_word(module::FF_NORM, ix),
        );
        let fc1 = layer_word(module::FC1, ix);
        linear(
            &mut v,
            format!("blocks.{i}.fc1"),
            d,
            ff,
            spec.activation,
            fc1,
        );
        let fc2 = layer_word(module::FC2, ix);
        linear(
            &mut v,
            format!("blocks.{i}.fc2"),
            ff,
            d,
            Activation::Identity,
            fc2,
        );
    }
    if spec.final_norm {
        norm(
            &mut v,
            "final_norm".into(),
            layer_word(module::FINAL_NORM, 0),
        );
    }
    v
}

/// Block i's in_proj: the q, k and v thirds of `in_proj_weight` as three
/// (width × width) weights with their own streams and fans (as three
/// nn.Linear: torch's packed xavier default is xavier with gain √½ on each),
/// and `in_proj_bias` whole.
fn attention(v: &mut Vec<Decl>, spec: &ResidualSpec, i: usize) {
    let d = spec.width;
    let pack = format!("blocks.{i}.attn.in_proj_weight");
    let words = [module::ATTN_Q, module::ATTN_K, module::ATTN_V];
    for (part, m) in QKV.iter().zip(words) {
        v.push(Decl {
            name: format!("blocks.{i}.attn.{part}.weight"),
            rows: d,
            cols: d,
            fan_in: d,
            fan_out: d,
            kind: Kind::Weight,
            act: Activation::Identity,
            layer: layer_word(m, i as u32),
            pack: Some(pack.clone()),
        });
    }
    if spec.bias {
        v.push(Decl {
            name: format!("blocks.{i}.attn.in_proj_bias"),
            rows: 3 * d,
            cols: 1,
            fan_in: d,
            fan_out: d,
            kind: Kind::Bias,
            act: Activation::Identity,
            layer: layer_word(module::ATTN_Q, i as u32),
            pack: None,
        });
    }
}

/// Each parameter's scheme and post-init scale: its default, then the
/// preset's entries, then the user's overrides in order. An entry with an
/// `init` replaces the scheme and the scale (its own, or none); an entry
/// with only a `scale` keeps the scheme and replaces the scale.
pub(super) fn resolve_inits(
    spec: &ResidualSpec,
    decls: &[Decl],
) -> Result<Vec<(Init, Option<f64>)>, InitError> {
    let mut out: Vec<(Init, Option<f64>)> = decls
        .iter()
        .map(|d| match d.kind {
            Kind::Weight => (spec.init.clone(), None),
            Kind::Bias => (spec.bias_init.clone(), None),
            Kind::NormWeight => (fixed(serde_json::json!({"scheme": "ones"})), None),
            Kind::NormBias => (fixed(serde_json::json!({"scheme": "zeros"})), None),
        })
        .collect();
    let preset = spec
        .residual_scale
        .preset(spec.depth, spec.attention.is_some());
    for o in preset.iter().chain(&spec.overrides) {
        let mut hit = false;
        for (d, slot) in decls.iter().zip(&mut out) {
            if !d.matches(&o.pattern) {
                continue;
            }
            hit = true;
            match &o.init {
                Some(init) if d.cols == 1 && init.needs_matrix() => {
                    return Err(InitError(format!(
                        "{}.init: {} needs a weight matrix, but \"{}\" matches the vector {}",
                        o.path,
                        init.name(),
                        o.pattern,
                        d.name
                    )));
                }
                Some(init) => *slot = (init.clone(), o.scale),
                None => slot.1 = o.scale.or(slot.1),
            }
        }
        if !hit {
            return Err(no_match(spec, o, decls));
        }
    }
    Ok(out)
}

/// "matches no parameter", with why a likely key is absent and similar keys.
fn no_match(spec: &ResidualSpec, o: &ParamOverride, decls: &[Decl]) -> InitError {
    let p = &o.pattern;
    let mut why = Vec::new();
    if p.contains("norm") && spec.norm.is_none() {
        why.push("norm is \"none\": there are no norm parameters".to_string());
    } else if p.contains("final_norm") && !spec.final_norm {
        why.push("final_norm is false".into());
    }
    if p.contains("input_proj") && spec.input_dim == spec.width {
        why.push("input_dim equals width: there is no input_proj".into());
    }
    if p.ends_with("bias") && !spec.bias {
        why.push("bias is false".into());
    } else if p.contains("norm") && p.ends_with("bias") && spec.norm == Some(NormKind::RmsNorm) {
        why.push("RMSNorm has no bias".into());
    }
    if p.contains("attn") && spec.attention.is_none() {
        why.push("the network has no \"attention\"".into());
    }
    let mut keys: Vec<&str> = decls.iter().map(|d| d.name.as_str()).collect();
    keys.extend(decls.iter().filter_map(|d| d.pack.as_deref()));
    keys.dedup();
    let similar = glob::similar(p, &keys, 4);
    let why = if why.is_empty() {
        String::new()
    } else {
        format!(" ({})", why.join("; "))
    };
    InitError(format!(
        "{}.match: \"{p}\" matches no parameter of this network{why}; similar keys: {}",
        o.path,
        similar.join(", ")
    ))
}

/// A scheme this file names itself (torch's norm defaults); its JSON is fixed,
/// so it always parses.
fn fixed(v: serde_json::Value) -> Init {
    Init::from_json(v).unwrap_or_else(|e| unreachable!("fixed init: {e}"))
}
