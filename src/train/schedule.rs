//! Learning-rate schedules: a linear warmup and an optional cosine decay.
//!
//! The factor applied to the base rate for the update from step `k` to
//! `k + 1` (the `(k + 1)`-th `optimizer.step()`), with `W = warmup` and
//! `T = steps`, is exactly torch's
//!
//! ```python
//! LambdaLR(opt, lambda k: (k + 1) / W if k < W else
//!          (1.0 if decay == "none" else 0.5 * (1 + math.cos(math.pi * (k - W) / (T - W)))))
//! ```
//!
//! which equals the built-in schedulers:
//! - no warmup, no decay: constant (no scheduler);
//! - warmup only (W ≥ 2): `LinearLR(opt, start_factor=1/W, end_factor=1.0, total_iters=W-1)`;
//! - cosine only: `CosineAnnealingLR(opt, T_max=T, eta_min=0)`;
//! - both: `SequentialLR(opt, [LinearLR(opt, 1/W, 1.0, W-1),
//!   CosineAnnealingLR(opt, T_max=T-W)], milestones=[W])`.
//!
//! (The built-ins update recursively, so their floats differ from the closed
//! form in the last bits.)

use serde::{Deserialize, Serialize};

/// After the warmup: constant or cosine decay to 0 at step `steps`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Decay {
    #[default]
    None,
    Cosine,
}

/// Every decay name the manifest accepts.
pub const DECAY_NAMES: &[&str] = &["none", "cosine"];

/// `train.schedule`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// Steps of linear warmup (0: none).
    #[serde(default)]
    pub warmup: u32,
    #[serde(default)]
    pub decay: Decay,
}

impl Schedule {
    /// The factor of the update from step `k` to `k + 1` of `steps`.
    pub fn factor(&self, k: u32, steps: u32) -> f64 {
        let w = self.warmup;
        if k < w {
            return f64::from(k + 1) / f64::from(w);
        }
        match self.decay {
            Decay::None => 1.0,
            Decay::Cosine => {
                let span = f64::from(steps.saturating_sub(w).max(1));
                let t = f64::from(k - w);
                0.5 * (1.0 + (std::f64::consts::PI * t / span).cos())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warmup_is_linear_from_one_over_w() {
        let s = Schedule {
            warmup: 4,
            decay: Decay::None,
        };
        let f: Vec<f64> = (0..6).map(|k| s.factor(k, 10)).collect();
        assert_eq!(f, [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]);
    }

    #[test]
    fn cosine_matches_torch_closed_form() {
        // CosineAnnealingLR(T_max=8): lr_k = (1 + cos(pi k / 8)) / 2.
        let s = Schedule {
            warmup: 0,
            decay: Decay::Cosine,
        };
        assert_eq!(s.factor(0, 8), 1.0);
        assert!((s.factor(4, 8) - 0.5).abs() < 1e-15);
        assert!(
            (s.factor(7, 8) - 0.5 * (1.0 + (7.0 * std::f64::consts::PI / 8.0).cos())).abs() < 1e-15
        );
        let w = Schedule {
            warmup: 2,
            decay: Decay::Cosine,
        };
        // Warmup 0.5, 1.0, then the cosine restarts at 1 over T - W = 8 steps.
        assert_eq!(w.factor(1, 10), 1.0);
        assert_eq!(w.factor(2, 10), 1.0);
        assert!((w.factor(6, 10) - 0.5).abs() < 1e-15);
    }
}
