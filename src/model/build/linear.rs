//! Linear stacks: Linear → activation per layer.

use super::Builder;
use crate::config::{LayerSpec, RunSpec};
use crate::init::{InitError, Shape, sampler};
use crate::model::*;
use crate::rng::Role;
use std::path::Path;

/// The model of a plain stack: Linear → activation per layer. Relative
/// `from_file` paths resolve against `base_dir`.
pub fn build_linear(spec: &RunSpec, base_dir: Option<&Path>) -> Result<Model, InitError> {
    let cfg = &spec.config;
    let input_dim = cfg.network.input_dim;
    let mut b = Builder::default();
    let input = b.act("input".into(), String::new(), input_dim, GradStore::None);
    b.stat(StatKey::Input, StatSource::Act(input), false, false);
    let in_shape = Shape {
        rows: cfg.input.batch,
        cols: input_dim,
        fan_in: input_dim,
        fan_out: input_dim,
    };
    let input_sampler = sampler(&cfg.input.dist, in_shape, Activation::Identity, base_dir)
        .map_err(|e| InitError(format!("input.dist: {}", e.0)))?;
    let specs = cfg.layer_specs();
    let mut x = input;
    let mut layers = Vec::with_capacity(specs.len());
    for l in &specs {
        x = dense_layer(&mut b, l, x, base_dir)
            .map_err(|e| InitError(format!("layer {}: {}", l.index, e.0)))?;
        layers.push(LayerInfo {
            index: l.index,
            fan_in: l.fan_in,
            fan_out: l.fan_out,
            activation: l.activation,
            init: l.init.name().to_string(),
        });
    }
    Ok(Model {
        batch: cfg.input.batch,
        acts: b.acts,
        params: b.params,
        ops: b.ops,
        input,
        input_sampler,
        output: x,
        loss: cfg.loss,
        stats: b.stats,
        saturation_threshold: cfg.stats.saturation_threshold,
        histogram_bins: cfg.stats.histogram_bins,
        layers,
        residual: None,
        embedding: None,
        jacobian: cfg.jacobian.clone(),
        train: None,
    })
}

/// Adds layer `l` reading `x`; returns its activation.
fn dense_layer(
    b: &mut Builder,
    l: &LayerSpec,
    x: ActId,
    base_dir: Option<&Path>,
) -> Result<ActId, InitError> {
    let i = l.index;
    let (fi, fo) = (l.fan_in, l.fan_out);
    let shape = Shape::weight(fi, fo);
    let w = b.param(Param {
        name: format!("layers.{i}.weight"),
        label: format!("w[{i}]"),
        grad_label: format!("dw[{i}]"),
        rows: fo,
        cols: fi,
        fan_in: fi,
        fan_out: fo,
        sampler: sampler(&l.init, shape, l.activation, base_dir)?,
        layer: i as u32,
        role: Role::Weight,
        lsuv: l.init.lsuv(),
        theory: l.init.has_theory(),
        scale: None,
        parts: Vec::new(),
    });
    let bias = match &l.bias_init {
        Some(init) => Some(b.param(Param {
            name: format!("layers.{i}.bias"),
            label: format!("b[{i}]"),
            grad_label: format!("db[{i}]"),
            rows: fo,
            cols: 1,
            fan_in: fi,
            fan_out: fo,
            sampler: sampler(init, Shape::bias(fi, fo), l.activation, base_dir)?,
            layer: i as u32,
            role: Role::Bias,
            lsuv: None,
            theory: init.has_theory(),
            scale: None,
            parts: Vec::new(),
        })),
        None => None,
    };
    let scratch = "grad_preact scratch".to_string();
    let h = b.act(format!("preact[{i}]"), scratch, fo, GradStore::Scratch(0));
    let a = b.act(
        format!("act[{i}]"),
        format!("grad_act[{i}]"),
        fo,
        GradStore::Full,
    );
    b.ops.push(Op::Linear {
        x,
        y: h,
        w,
        b: bias,
    });
    b.ops.push(Op::Activation {
        x: h,
        y: a,
        act: l.activation,
    });
    let key = |f| StatKey::Layer(i, f);
    b.stat(key(LayerField::Weight), StatSource::Param(w), true, false);
    if let Some(bias) = bias {
        b.stat(key(LayerField::Bias), StatSource::Param(bias), false, false);
        let g = StatSource::ParamGrad(bias);
        b.stat(key(LayerField::GradBias), g, false, false);
    }
    b.stat(key(LayerField::Preact), StatSource::Act(h), false, false);
    b.stat(key(LayerField::Act), StatSource::Act(a), true, true);
    b.stat(
        key(LayerField::GradWeight),
        StatSource::ParamGrad(w),
        false,
        false,
    );
    b.stat(key(LayerField::GradAct), StatSource::Grad(a), false, false);
    Ok(a)
}
