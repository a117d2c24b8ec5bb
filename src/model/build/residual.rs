//! Residual stacks: an optional input projection, `depth` blocks of
//! (norm, fc1, activation, fc2, scale, add) in pre- or post-norm order, and
//! an optional final norm. Parameters are named by their export keys (the
//! equivalent torch module's `state_dict`), resolved against the defaults,
//! the preset and the user's `overrides`, and drawn from per-module Philox
//! streams (`rng::module`).

use super::Builder;
use super::block::block;
use super::params::{Kind, declare, resolve_inits};
use crate::activation::Activation;
use crate::init::{InitError, Shape, sampler};
use crate::model::residual::*;
use crate::model::*;
use crate::rng::Role;
use std::path::Path;

/// Checks `spec`'s overrides against the network's export keys without
/// drawing anything: the first entry that matches nothing, or gives a
/// matrix-only scheme to a vector, is the error (its message starts with the
/// entry's path, e.g. `overrides[1].match: `).
pub fn check_overrides(spec: &ResidualSpec) -> Result<(), InitError> {
    resolve_inits(spec, &declare(spec)).map(|_| ())
}

/// The model of a residual stack. Relative `from_file` paths resolve against
/// `base_dir`. Override patterns that match nothing are errors naming their
/// JSON path and similar keys.
pub fn build_residual(spec: &ResidualSpec, base_dir: Option<&Path>) -> Result<Model, InitError> {
    let decls = declare(spec);
    let inits = resolve_inits(spec, &decls)?;
    let mut b = Builder::default();
    let mut ids = Vec::with_capacity(decls.len());
    for (d, (init, scale)) in decls.iter().zip(inits) {
        let shape = Shape {
            rows: d.rows,
            cols: d.cols,
            fan_in: d.fan_in,
            fan_out: d.fan_out,
        };
        let s = sampler(&init, shape, d.act, base_dir)
            .map_err(|e| InitError(format!("{}: {}", d.name, e.0)))?;
        let p = Param {
            name: d.name.clone(),
            label: d.name.clone(),
            grad_label: format!("grad {}", d.name),
            rows: d.rows,
            cols: d.cols,
            fan_in: d.fan_in,
            fan_out: d.fan_out,
            sampler: s,
            layer: d.layer,
            role: if matches!(d.kind, Kind::Weight | Kind::NormWeight) {
                Role::Weight
            } else {
                Role::Bias
            },
            lsuv: init.lsuv(),
            theory: init.has_theory(),
            scale,
            parts: Vec::new(),
        };
        match &d.pack {
            Some(pack) => pack_part(&mut b, &mut ids, pack, p)?,
            None => ids.push(b.param(p)),
        }
    }
    for id in &ids {
        b.stat(
            StatKey::Tensor(*id, TensorField::Value),
            StatSource::Param(*id),
            false,
            false,
        );
        let grad = StatSource::ParamGrad(*id);
        b.stat(StatKey::Tensor(*id, TensorField::Grad), grad, false, false);
    }
    wire(spec, b, base_dir)
}

/// Appends `part` to the packed parameter `pack` (created by its first
/// part): the parts are its row blocks, in order.
fn pack_part(
    b: &mut Builder,
    ids: &mut Vec<ParamId>,
    pack: &str,
    part: Param,
) -> Result<(), InitError> {
    if part.lsuv.is_some() {
        return Err(InitError(format!(
            "{}: LSUV rescales whole layers; it cannot initialize one third of {pack}",
            part.name
        )));
    }
    if let Some(id) = pid(b, pack) {
        let p = &mut b.params[id.0];
        p.rows += part.rows;
        p.fan_out += part.fan_out;
        p.theory &= part.theory;
        p.parts.push(part);
        return Ok(());
    }
    let id = b.param(Param {
        name: pack.to_string(),
        label: pack.to_string(),
        grad_label: format!("grad {pack}"),
        rows: part.rows,
        cols: part.cols,
        fan_in: part.fan_in,
        fan_out: part.fan_out,
        // Never drawn: every part draws its own rows.
        sampler: crate::init::Sampler::Values(Vec::new()),
        layer: part.layer,
        role: part.role,
        lsuv: None,
        scale: None,
        theory: part.theory,
        parts: vec![part],
    });
    ids.push(id);
    Ok(())
}

/// The id of the parameter exported as `name`, if the network has it.
pub(super) fn pid(b: &Builder, name: &str) -> Option<ParamId> {
    b.params.iter().position(|p| p.name == name).map(ParamId)
}

/// The row tensors, ops and statistics around the declared parameters.
fn wire(spec: &ResidualSpec, mut b: Builder, base_dir: Option<&Path>) -> Result<Model, InitError> {
    let input = b.act(
        "input".into(),
        String::new(),
        spec.input_dim,
        GradStore::None,
    );
    b.stat(StatKey::Input, StatSource::Act(input), false, false);
    let (input_sampler, embedding) = input_source(spec, base_dir)?;
    let mut x = input;
    if let Some(w) = pid(&b, "input_proj.weight") {
        let y = b.act(
            "stream_in".into(),
            "grad stream_in".into(),
            spec.width,
            GradStore::Full,
        );
        let bias = pid(&b, "input_proj.bias");
        b.ops.push(Op::Linear { x, y, w, b: bias });
        x = y;
    }
    let stream_in = x;
    b.stat(StatKey::StreamIn, StatSource::Act(x), false, false);
    let position = spec.effective_position();
    let scales = spec.residual_scale.scales(spec.depth);
    let mut blocks = Vec::with_capacity(spec.depth);
    for i in 0..spec.depth {
        let info = block(&mut b, spec, i, x, position, scales)?;
        x = info.stream;
        blocks.push(info);
    }
    if let Some(w) = pid(&b, "final_norm.weight") {
        let y = b.act(
            "final_norm".into(),
            "grad final_norm".into(),
            spec.width,
            GradStore::Full,
        );
        let bias = pid(&b, "final_norm.bias");
        norm_op(&mut b, spec, "final_norm", x, y, w, bias);
        x = y;
    }
    b.stat(StatKey::Output(false), StatSource::Act(x), false, false);
    b.stat(StatKey::Output(true), StatSource::Grad(x), false, false);
    Ok(Model {
        batch: spec.batch,
        acts: b.acts,
        params: b.params,
        ops: b.ops,
        input,
        input_sampler,
        output: x,
        loss: spec.loss,
        stats: b.stats,
        saturation_threshold: spec.saturation_threshold,
        histogram_bins: spec.histogram_bins,
        layers: Vec::new(),
        jacobian: None,
        residual: Some(Residual {
            width: spec.width,
            ff_width: spec.ff_width,
            activation: spec.activation,
            norm: spec.norm,
            position,
            scales,
            final_norm: spec.final_norm && spec.norm.is_some(),
            attention: spec.attention,
            stream_in,
            blocks,
        }),
        embedding,
        train: None,
    })
}

/// The input's sampler and, for token input, the resolved embedding. With
/// an embedding the sampler is never drawn (kept for the theory's moments).
fn input_source(
    spec: &ResidualSpec,
    base_dir: Option<&Path>,
) -> Result<(crate::init::Sampler, Option<Embedding>), InitError> {
    let shape = Shape {
        rows: spec.batch,
        cols: spec.input_dim,
        fan_in: spec.input_dim,
        fan_out: spec.input_dim,
    };
    let input = sampler(&spec.input, shape, Activation::Identity, base_dir)
        .map_err(|e| InitError(format!("input.dist: {}", e.0)))?;
    let Some(e) = &spec.embedding else {
        return Ok((input, None));
    };
    // nn.Embedding's weight is (vocab, dim): torch's fans are (dim, vocab).
    let table = Shape {
        rows: e.vocab,
        cols: spec.input_dim,
        fan_in: spec.input_dim,
        fan_out: e.vocab,
    };
    let table = sampler(&e.init, table, Activation::Identity, base_dir)
        .map_err(|err| InitError(format!("input.embedding.init: {}", err.0)))?;
    Ok((
        input,
        Some(Embedding {
            vocab: e.vocab,
            table,
            positions: e.positions,
        }),
    ))
}

/// Adds a norm op writing `y` (with the per-row statistics it saves).
pub(super) fn norm_op(
    b: &mut Builder,
    spec: &ResidualSpec,
    name: &str,
    x: ActId,
    y: ActId,
    w: ParamId,
    bias: Option<ParamId>,
) {
    let saved = b.act(
        format!("{name} row stats"),
        String::new(),
        2,
        GradStore::None,
    );
    b.ops.push(Op::Norm {
        x,
        y,
        w,
        b: bias,
        saved,
        kind: spec.norm.unwrap_or(NormKind::LayerNorm),
        eps: spec.eps as f32,
    });
}
