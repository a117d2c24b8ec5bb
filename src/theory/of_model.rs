//! The theory's inputs read off a built model: per layer, the moments of
//! the weight and bias samplers, where a closed form applies.

use super::{LayerInput, predict};
use crate::init::{Sampler, Shape};
use crate::model::Model;
use crate::results::Prediction;
use crate::rng::Role;

/// Closed-form predictions for a linear stack, where a theory applies: none
/// for mixtures, weights from files or LSUV (no number is invented).
pub fn of_model(model: &Model) -> Option<Prediction> {
    let mut inputs = Vec::with_capacity(model.layers.len());
    for l in &model.layers {
        let param = |role| {
            model
                .params
                .iter()
                .find(|p| p.layer == l.index as u32 && p.role == role)
        };
        let w = param(Role::Weight)?;
        if !w.theory {
            return None;
        }
        let (wm, wv) = w.sampler.moments(Shape::weight(l.fan_in, l.fan_out))?;
        let (bm, bv) = match param(Role::Bias) {
            Some(b) => match b.sampler {
                Sampler::Elementwise(_) | Sampler::Sparse { .. } => {
                    b.sampler.moments(Shape::bias(l.fan_in, l.fan_out))?
                }
                _ => return None,
            },
            None => (0.0, 0.0),
        };
        inputs.push(LayerInput {
            fan_in: l.fan_in,
            fan_out: l.fan_out,
            activation: l.activation,
            weight_var: wv,
            weight_mean: wm,
            bias_var: bv,
            bias_mean: bm,
            orthogonal: matches!(w.sampler, Sampler::Orthogonal { .. }),
            gaussian: w.sampler.is_gaussian(),
        });
    }
    let input_dim = model.act(model.input).cols;
    let in_shape = Shape {
        rows: model.batch,
        cols: input_dim,
        fan_in: 1,
        fan_out: 1,
    };
    let (im, iv) = model.input_sampler.moments(in_shape)?;
    predict(im, iv, model.batch, &inputs, model.loss)
}
