//! Training: the manifest's `train` block (optimizer, schedule, data,
//! recording) as typed configuration, and the host-side arithmetic that
//! drives the GPU updates (learning rate per step, Adam's bias corrections,
//! muP-style multipliers). The updates themselves run in `shaders/optim.wgsl`
//! through `exec::train`.
//!
//! Every formula follows PyTorch's `torch.optim` (single parameter group,
//! `foreach=False`, `maximize=False`, `amsgrad=False`), so a run can be
//! replayed there step for step.

pub mod mup;
pub mod schedule;

use serde::{Deserialize, Serialize};

pub use schedule::{Decay, Schedule};

/// Largest accepted number of training steps (about a day on lavapipe for
/// a small network; anything larger is a typo).
pub const MAX_STEPS: u32 = 1_000_000;

/// The optimizers, named as in `torch.optim` (lower case).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerName {
    /// `torch.optim.SGD`.
    Sgd,
    /// `torch.optim.Adam` (weight decay as L2 added to the gradient).
    #[default]
    Adam,
    /// `torch.optim.AdamW` (decoupled weight decay).
    Adamw,
}

/// Every optimizer name the manifest accepts.
pub const OPTIMIZER_NAMES: &[&str] = &["sgd", "adam", "adamw"];

impl OptimizerName {
    /// The manifest name.
    pub fn name(self) -> &'static str {
        match self {
            OptimizerName::Sgd => "sgd",
            OptimizerName::Adam => "adam",
            OptimizerName::Adamw => "adamw",
        }
    }
}

fn default_lr() -> f64 {
    1e-3
}

/// `train.optimizer` as written: unset fields take torch's defaults
/// ([`OptimizerConfig::resolve`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimizerConfig {
    #[serde(default)]
    pub name: OptimizerName,
    #[serde(default = "default_lr")]
    pub lr: f64,
    /// Adam/AdamW: (β₁, β₂), default (0.9, 0.999).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub betas: Option<[f64; 2]>,
    /// Adam/AdamW: default 1e-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eps: Option<f64>,
    /// SGD: default 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub momentum: Option<f64>,
    /// SGD: default 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dampening: Option<f64>,
    /// SGD: default false (needs momentum > 0 and dampening 0, as in torch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nesterov: Option<bool>,
    /// Default 0, except AdamW's 0.01. Applies to every parameter, biases
    /// included (torch with one parameter group).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight_decay: Option<f64>,
}

impl Default for OptimizerConfig {
    fn default() -> Self {
        OptimizerConfig {
            name: OptimizerName::Adam,
            lr: default_lr(),
            betas: None,
            eps: None,
            momentum: None,
            dampening: None,
            nesterov: None,
            weight_decay: None,
        }
    }
}

/// An optimizer with every hyperparameter resolved.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Optimizer {
    /// `SGD(lr, momentum, dampening, weight_decay, nesterov)`.
    Sgd {
        lr: f64,
        momentum: f64,
        dampening: f64,
        nesterov: bool,
        weight_decay: f64,
    },
    /// `Adam(...)` (`decoupled: false`) or `AdamW(...)` (`decoupled: true`).
    Adam {
        lr: f64,
        beta1: f64,
        beta2: f64,
        eps: f64,
        weight_decay: f64,
        decoupled: bool,
    },
}

impl OptimizerConfig {
    /// The optimizer with torch's defaults filled in.
    pub fn resolve(&self) -> Optimizer {
        match self.name {
            OptimizerName::Sgd => Optimizer::Sgd {
                lr: self.lr,
                momentum: self.momentum.unwrap_or(0.0),
                dampening: self.dampening.unwrap_or(0.0),
                nesterov: self.nesterov.unwrap_or(false),
                weight_decay: self.weight_decay.unwrap_or(0.0),
            },
            OptimizerName::Adam | OptimizerName::Adamw => {
                let decoupled = self.name == OptimizerName::Adamw;
                let [beta1, beta2] = self.betas.unwrap_or([0.9, 0.999]);
                Optimizer::Adam {
                    lr: self.lr,
                    beta1,
                    beta2,
                    eps: self.eps.unwrap_or(1e-8),
                    weight_decay: self
                        .weight_decay
                        .unwrap_or(if decoupled { 0.01 } else { 0.0 }),
                    decoupled,
                }
            }
        }
    }
}

impl Optimizer {
    /// The base learning rate.
    pub fn lr(&self) -> f64 {
        match self {
            Optimizer::Sgd { lr, .. } | Optimizer::Adam { lr, .. } => *lr,
        }
    }

    /// State tensors per parameter: SGD's momentum buffer (when momentum is
    /// not 0), Adam's first and second moments.
    pub fn state_tensors(&self) -> &'static [&'static str] {
        match self {
            Optimizer::Sgd { momentum, .. } if *momentum == 0.0 => &[],
            Optimizer::Sgd { .. } => &["momentum_buffer"],
            Optimizer::Adam { .. } => &["exp_avg", "exp_avg_sq"],
        }
    }

    /// Whether updates are Adam-like (per-coordinate normalised), which
    /// decides the muP learning-rate multipliers.
    pub fn is_adaptive(&self) -> bool {
        matches!(self, Optimizer::Adam { .. })
    }
}

/// Which batch each step sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum DataMode {
    /// One batch for every step: full-batch training.
    #[default]
    Fixed,
    /// A new Philox batch at every step (the data step is in the counter;
    /// see `rng`): step 0 sees the same batch as `fixed`.
    Fresh,
}

/// How learning rates (and the output layer's init) scale with width.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Parametrization {
    /// Every parameter uses the base learning rate and its own init.
    #[default]
    Standard,
    /// muP-style multipliers relative to `base_width` (see [`mup`]).
    Mup,
}

fn default_base_width() -> usize {
    64
}

/// The `train` block of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// Optimizer updates; the run records steps 0 (at init) to `steps`.
    pub steps: u32,
    #[serde(default)]
    pub optimizer: OptimizerConfig,
    #[serde(default)]
    pub data: DataMode,
    /// Record (read back) every this many steps, and always the last step.
    /// Default: about 100 records (`ceil(steps / 100)`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_every: Option<u32>,
    #[serde(default)]
    pub schedule: Schedule,
    #[serde(default)]
    pub parametrization: Parametrization,
    /// The width at which `mup` equals `standard`.
    #[serde(default = "default_base_width")]
    pub base_width: usize,
}

impl TrainConfig {
    /// A configuration with defaults for everything but the step count and
    /// the optimizer (tests and benchmarks).
    pub fn new(steps: u32, optimizer: OptimizerConfig) -> TrainConfig {
        TrainConfig {
            steps,
            optimizer,
            data: DataMode::Fixed,
            record_every: None,
            schedule: Schedule::default(),
            parametrization: Parametrization::Standard,
            base_width: default_base_width(),
        }
    }

    /// The recording interval actually used.
    pub fn every(&self) -> u32 {
        self.record_every
            .unwrap_or_else(|| self.steps.div_ceil(100))
            .max(1)
    }

    /// Whether step `k` is recorded: every `every()` steps and the last.
    pub fn records(&self, k: u32) -> bool {
        k.is_multiple_of(self.every()) || k == self.steps
    }

    /// The learning-rate factor of the update from step `k` to `k + 1`.
    pub fn lr_factor(&self, k: u32) -> f64 {
        self.schedule.factor(k, self.steps)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn torch_defaults() {
        let cfg: OptimizerConfig = serde_json::from_str(r#"{"name": "adamw"}"#).unwrap();
        assert_eq!(
            cfg.resolve(),
            Optimizer::Adam {
                lr: 1e-3,
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
                weight_decay: 0.01,
                decoupled: true
            }
        );
        let cfg: OptimizerConfig = serde_json::from_str(r#"{"name": "sgd", "lr": 0.1}"#).unwrap();
        assert_eq!(
            cfg.resolve(),
            Optimizer::Sgd {
                lr: 0.1,
                momentum: 0.0,
                dampening: 0.0,
                nesterov: false,
                weight_decay: 0.0
            }
        );
        assert!(cfg.resolve().state_tensors().is_empty());
        assert!(serde_json::from_str::<OptimizerConfig>(r#"{"name": "lion"}"#).is_err());
    }

    #[test]
    fn records_every_interval_and_the_last_step() {
        let mut t = TrainConfig::new(25, OptimizerConfig::default());
        t.record_every = Some(10);
        let r: Vec<u32> = (0..=25).filter(|&k| t.records(k)).collect();
        assert_eq!(r, [0, 10, 20, 25]);
        t.record_every = None;
        assert_eq!(t.every(), 1);
        t.steps = 1000;
        assert_eq!(t.every(), 10);
    }
}
