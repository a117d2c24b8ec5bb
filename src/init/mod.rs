//! Initialization schemes as math: the scheme table (`schemes.rs`, one entry
//! per scheme with its parameters and sampler arm), torch's gains and fans,
//! and [`sampler`], which resolves a scheme against a tensor's shape and the
//! layer's activation into a [`Sampler`], whose moments feed the theory.
//! Sampling is the GPU's job (`kernels::init`, `kernels::orthogonal`).

mod file;
mod params;
mod sampler;
mod schemes;
mod spec;

pub use file::load_tensor;
pub use params::GAIN_TY;
pub use sampler::{Component, Sampler, Shape};
pub use schemes::{FOR_BIAS, FOR_INPUT, FOR_WEIGHT, SCHEMES, Scheme, TY, uses};
pub use spec::Init;

use crate::activation::{ACTIVATIONS, Activation, CONV_NAMES};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// A gain: a number, a nonlinearity name from torch's `calculate_gain` table,
/// or `"auto"` (the layer's own activation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Gain {
    Value(f64),
    Name(String),
}

/// Why a scheme could not be resolved for a layer.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{0}")]
pub struct InitError(pub String);

/// torch.nn.init.calculate_gain, from the activation table: `param` is the
/// activation's parameter (leaky_relu's negative slope, default 0.01).
pub fn calculate_gain(nonlinearity: &str, param: Option<f64>) -> Option<f64> {
    if CONV_NAMES.contains(&nonlinearity) {
        return Some(1.0);
    }
    let act = Activation::from_name(nonlinearity)?;
    match param {
        Some(p) => Activation::from_row(act.opcode() as usize, p)?.gain(),
        None => act.gain(),
    }
}

/// The gain of an activation, for `"gain": "auto"`.
pub fn gain_of_activation(act: Activation) -> Result<f64, InitError> {
    act.gain().ok_or_else(|| {
        let known: Vec<&str> = (ACTIVATIONS.iter())
            .filter(|a| a.gain.is_some())
            .map(|a| a.case.name)
            .collect();
        InitError(format!(
            "\"gain\": \"auto\" has no torch value for {act} (calculate_gain knows {}); give a number instead",
            known.join(", ")
        ))
    })
}

/// Resolves a gain against the layer's activation.
pub fn resolve_gain(g: &Gain, act: Activation) -> Result<f64, InitError> {
    match g {
        Gain::Value(v) => Ok(*v),
        Gain::Name(n) if n == "auto" => gain_of_activation(act),
        Gain::Name(n) => calculate_gain(n, None).ok_or_else(|| {
            InitError(format!(
                "unknown gain \"{n}\"; use a number, \"auto\" or a nonlinearity name"
            ))
        }),
    }
}

/// What a sampler arm resolves a scheme against.
#[derive(Debug, Clone, Copy)]
pub struct Ctx<'a> {
    /// The tensor's shape and fans.
    pub shape: Shape,
    /// The layer's activation (for `"gain": "auto"`).
    pub act: Activation,
    /// Where relative `from_file` paths start.
    pub base_dir: Option<&'a Path>,
}

impl Ctx<'_> {
    /// fan_in as a float.
    pub fn fi(&self) -> f64 {
        self.shape.fan_in as f64
    }
    /// fan_out as a float.
    pub fn fo(&self) -> f64 {
        self.shape.fan_out as f64
    }
}

/// Resolves `init` for a tensor of `shape` in a layer with activation `act`
/// through its scheme's sampler arm. `lsuv` resolves to its
/// pre-initialization (the rescaling happens in the executor).
pub fn sampler(
    init: &Init,
    shape: Shape,
    act: Activation,
    base_dir: Option<&Path>,
) -> Result<Sampler, InitError> {
    let ctx = Ctx {
        shape,
        act,
        base_dir,
    };
    (init.scheme().sampler)(init, &ctx)
}

/// kaiming's std: torch's gain of `nonlinearity` (with `a` as the leaky_relu
/// slope) over the square root of the chosen fan.
fn kaiming_std(i: &Init, x: &Ctx) -> Result<f64, InitError> {
    let nonlinearity = i.text("nonlinearity")?;
    let gain = calculate_gain(nonlinearity, Some(i.num("a")?))
        .ok_or_else(|| InitError(format!("unknown nonlinearity \"{nonlinearity}\"")))?;
    let fan = if i.text("mode")? == "fan_in" {
        x.fi()
    } else {
        x.fo()
    };
    Ok(gain / fan.sqrt())
}

/// mixture: each component's elementwise distribution with its weight.
fn mixture(i: &Init, x: &Ctx) -> Result<Sampler, InitError> {
    let mut parts = Vec::new();
    for c in i.list("components")? {
        let weight = c.get("weight").and_then(|w| w.as_f64());
        let dist = Init::from_json(c.get("dist").cloned().unwrap_or_default());
        let (Some(weight), Ok(dist)) = (weight, dist) else {
            return Err(InitError(format!("malformed mixture component {c}")));
        };
        match sampler(&dist, x.shape, x.act, x.base_dir)? {
            Sampler::Elementwise(v) if v.len() == 1 => parts.push((weight, v[0].1)),
            _ => {
                return Err(InitError(format!(
                    "mixture component {} is not elementwise",
                    dist.name()
                )));
            }
        }
    }
    Ok(Sampler::Elementwise(parts))
}

#[cfg(test)]
mod tests;
