//! Synthetic training records: loss curves that decay at a rate set per
//! arm, per-layer statistics that drift with step, update ratios, and the
//! symmetry of a constant init. Shapes, not physics: enough for the tidy
//! CSV and the figures.

use super::{Init, Net, TANH, doc, run, stats};
use initscope::activation::Activation;
use initscope::results::*;
use serde_json::{Value, json};

/// A training record of `depth` layers over `steps` updates recorded every
/// `every`: loss `l0·exp(−k/tau)` (NaN from `diverge_at` on), act std
/// drifting from `act0`, update ratios around 1e-3, `symmetry` everywhere.
pub struct Curve {
    pub steps: u32,
    pub every: u32,
    pub l0: f64,
    pub tau: f64,
    pub act0: f64,
    pub symmetry: f64,
    pub diverge_at: Option<u32>,
}

impl Curve {
    pub fn new(tau: f64) -> Curve {
        Curve {
            steps: 40,
            every: 2,
            l0: 1.0,
            tau,
            act0: 0.5,
            symmetry: 0.0,
            diverge_at: None,
        }
    }

    pub fn record(&self, depth: usize, seed: u64) -> TrainRecord {
        let jitter = 1.0 + 0.05 * ((seed % 7) as f64 - 3.0) / 3.0;
        let steps = (0..=self.steps)
            .filter(|k| k % self.every == 0 || *k == self.steps)
            .map(|k| {
                let t = f64::from(k);
                let loss = match self.diverge_at {
                    Some(d) if k >= d => f64::NAN,
                    _ => self.l0 * jitter * (-t / self.tau).exp(),
                };
                let layers = (0..depth)
                    .map(|i| {
                        let act: Vec<f64> = (0..64)
                            .map(|j| {
                                self.act0 * (1.0 + 0.02 * t) * ((j as f64 * 0.37 + i as f64).sin())
                            })
                            .collect();
                        let ratio = if k == 0 {
                            0.0
                        } else {
                            1e-3 * (1.0 + i as f64) / (1.0 + 0.05 * t)
                        };
                        TrainLayerRecord {
                            index: i,
                            act: stats(&act, true, false),
                            grad_weight: stats(
                                &act.iter().map(|a| a * 1e-2).collect::<Vec<_>>(),
                                false,
                                false,
                            ),
                            grad_act: stats(
                                &act.iter().map(|a| a * 1e-3).collect::<Vec<_>>(),
                                false,
                                false,
                            ),
                            update: UpdateRecord {
                                norm: ratio * 8.0,
                                ratio,
                            },
                            symmetry: if i + 1 < depth { self.symmetry } else { 0.0 },
                        }
                    })
                    .collect();
                TrainStep {
                    step: k,
                    loss,
                    lr: (k < self.steps).then_some(1e-3),
                    layers,
                    blocks: Vec::new(),
                }
            })
            .collect();
        TrainRecord { steps }
    }
}

/// A training run: a simulated step-0 network plus a synthetic record.
fn train_run(
    id: usize,
    label: &str,
    group: &str,
    params: Value,
    net: &Net,
    curve: &Curve,
) -> RunResult {
    let mut r = run(id, label, group, Some(group), params, net);
    r.train = Some(curve.record(net.depth, net.seed));
    r.timing_ms.train_ms = Some(10.0);
    r
}

/// Seed 002's arms, 3 repeats each: zero init stays symmetric and flat.
pub fn loss_by_init() -> ResultsDoc {
    let arms = [("Zero", 1e9, 1.0), ("Xavier", 10.0, 0.0), ("He", 6.0, 0.0)];
    let mut runs = Vec::new();
    for (label, tau, symmetry) in arms {
        for r in 0..3u32 {
            let mut net = Net::new(TANH, Init::Xavier);
            (net.depth, net.seed) = (4, 10 + u64::from(r));
            let curve = Curve {
                symmetry,
                ..Curve::new(tau)
            };
            let mut run = train_run(
                runs.len(),
                &format!("{label} #{r}"),
                label,
                json!({}),
                &net,
                &curve,
            );
            run.repeat = r;
            runs.push(run);
        }
    }
    doc("loss-by-init", "Training loss by init", runs)
}

/// Widths 64..512 (as `network.widths` lists) × standard / muP.
pub fn coord_check() -> ResultsDoc {
    let mut runs = Vec::new();
    for (variant, growth) in [("standard", 1.0), ("muP", 0.0)] {
        for w in [64usize, 128, 256, 512] {
            let mut net = Net::new(TANH, Init::Kaiming);
            (net.depth, net.width) = (3, w);
            let curve = Curve {
                steps: 4,
                every: 1,
                act0: 0.5 * (w as f64 / 64.0).powf(growth),
                ..Curve::new(5.0)
            };
            let params = json!({"variant": variant, "network.widths": [w, w, 10]});
            let label = format!("{variant}, widths=[{w}, {w}, 10]");
            runs.push(train_run(runs.len(), &label, &label, params, &net, &curve));
        }
    }
    doc("coord-check", "Coordinate check", runs)
}

/// Depths 2..16 × two learning rates × two inits; the Gaussian arm fails
/// to learn at depth 16 and diverges at the large rate.
pub fn saxe() -> ResultsDoc {
    let mut runs = Vec::new();
    for (variant, slope) in [("Orthogonal", 0.0), ("Scaled Gaussian", 1.0)] {
        for depth in [2usize, 4, 8, 16] {
            for lr in [0.01, 0.1] {
                let mut net = Net::new(Activation::Identity, Init::Kaiming);
                net.depth = depth;
                let mut curve = Curve::new(
                    5.0 * (depth as f64).powf(slope) * if lr > 0.05 { 1.0 } else { 3.0 },
                );
                if slope > 0.0 && depth == 16 {
                    curve.tau = 1e9;
                    curve.diverge_at = (lr > 0.05).then_some(6);
                }
                let params =
                    json!({"variant": variant, "network.depth": depth, "train.optimizer.lr": lr});
                let label = format!("{variant}, depth={depth}, lr={lr}");
                runs.push(train_run(runs.len(), &label, &label, params, &net, &curve));
            }
        }
    }
    doc("saxe-depth", "Learning time against depth", runs)
}

/// A residual stack with attention trained: `loss_by_init`'s runs with
/// `blocks[]` (2 blocks, 4 heads) in every recorded step instead of `layers[]`.
pub fn attention_training() -> ResultsDoc {
    let mut d = loss_by_init();
    d.runs.truncate(2);
    for run in &mut d.runs {
        for s in &mut run.train.as_mut().unwrap().steps {
            let t = f64::from(s.step);
            s.layers.clear();
            s.blocks = (0..2).map(|i| train_block(i, t)).collect();
        }
    }
    d
}

fn train_block(i: usize, t: f64) -> TrainBlockRecord {
    let v = |scale: f64| -> Vec<f64> {
        (0..48)
            .map(|j| scale * (1.0 + 0.01 * t) * ((j as f64 * 0.41 + i as f64).cos()))
            .collect()
    };
    let weight = |scale: f64, symmetry: f64| TrainWeightRecord {
        grad_weight: stats(&v(scale), false, false),
        update: UpdateRecord {
            norm: scale * t,
            ratio: 1e-3 * t,
        },
        symmetry,
    };
    TrainBlockRecord {
        index: i,
        stream: stats(&v(1.0), false, false),
        grad_stream: stats(&v(1e-2), false, false),
        ff_branch: stats(&v(0.3), false, false),
        update: UpdateRecord {
            norm: 0.1 * t,
            ratio: 2e-3 * t,
        },
        fc1: weight(1e-2, 0.0),
        fc2: weight(2e-2, 0.0),
        attn_branch: Some(stats(&v(0.2), false, false)),
        in_proj: Some(weight(3e-2, if t == 0.0 { 1.0 / 3.0 } else { 0.0 })),
        out_proj: Some(weight(4e-2, 0.0)),
        attn_logits_std: Some(0.1 * t),
        attn_entropy: Some((0..4).map(|h| 2.7 - 0.01 * t * (h as f64 + 1.0)).collect()),
    }
}
