//! Building a [`Model`] from a run's configuration: every scheme resolved to
//! a sampler (files read here, once per run), every tensor named, and the
//! statistics each layer or block reports. One file per architecture.

mod block;
mod linear;
mod params;
pub mod residual;
pub mod resolve;

use super::*;
use crate::config::RunSpec;
use crate::init::InitError;
use std::path::Path;

pub use linear::build_linear;

/// The model of `spec`'s network. Relative `from_file` paths resolve
/// against `base_dir`.
pub fn build(spec: &RunSpec, base_dir: Option<&Path>) -> Result<Model, InitError> {
    let mut model = match resolve::residual_spec(&spec.config)? {
        Some(r) => residual::build_residual(&r, base_dir)?,
        None => build_linear(spec, base_dir)?,
    };
    if spec.config.loss == crate::config::Loss::CrossEntropy {
        // Written by the loss kernel; the mean of its rows is the loss.
        model.acts.push(ActTensor {
            label: "loss rows".into(),
            grad_label: String::new(),
            cols: 1,
            grad: GradStore::None,
        });
        let rows = ActId(model.acts.len() - 1);
        model.stats.push(StatRequest {
            key: StatKey::Loss,
            source: StatSource::Act(rows),
            histogram: false,
            activation: false,
        });
    }
    let plan = spec.config.train.as_ref();
    model.train = plan.map(|t| super::train::TrainPlan::new(&model, t));
    Ok(model)
}

/// Collects tensors, parameters, ops and statistic requests.
#[derive(Default)]
pub(crate) struct Builder {
    pub acts: Vec<ActTensor>,
    pub params: Vec<Param>,
    pub ops: Vec<Op>,
    pub stats: Vec<StatRequest>,
}

impl Builder {
    /// A row tensor; returns its id.
    pub fn act(
        &mut self,
        label: String,
        grad_label: String,
        cols: usize,
        grad: GradStore,
    ) -> ActId {
        self.acts.push(ActTensor {
            label,
            grad_label,
            cols,
            grad,
        });
        ActId(self.acts.len() - 1)
    }

    /// A parameter; returns its id.
    pub fn param(&mut self, p: Param) -> ParamId {
        self.params.push(p);
        ParamId(self.params.len() - 1)
    }

    /// A statistic to reduce after each step.
    pub fn stat(&mut self, key: StatKey, source: StatSource, histogram: bool, activation: bool) {
        self.stats.push(StatRequest {
            key,
            source,
            histogram,
            activation,
        });
    }
}
