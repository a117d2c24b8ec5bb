//! muP-style width scaling (Yang et al., Tensor Programs V, Table 3, with
//! the base shapes of its Table 8): per-parameter learning-rate multipliers
//! and an init multiplier for the output layer, all relative to a base width
//! at which nothing changes.
//!
//! With `m = fan_in / base_width` (`fan_out / base_width` for input weights
//! and vectors):
//!
//! | parameter                 | init ×  | Adam/AdamW lr × | SGD lr × |
//! |---------------------------|---------|-----------------|----------|
//! | input weights, all biases | 1       | 1               | m        |
//! | hidden weights            | 1       | 1/m             | 1        |
//! | output weights            | 1/m     | 1/m             | 1/m      |
//!
//! Inits are the manifest's own (use a 1/fan_in variance, e.g.
//! `kaiming_normal` with gain 1 or `scaled_normal`, for hidden layers);
//! muP's 1/fan_out input variance is not imposed since the input width does
//! not change in a width sweep.

/// Where a parameter sits, which decides its muP multipliers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    /// A matrix reading the network's input.
    InputWeight,
    /// A matrix between two hidden widths.
    HiddenWeight,
    /// The matrix producing the network's output.
    OutputWeight,
    /// A bias or another vector (norm weights).
    Vector,
}

/// (learning-rate multiplier, init multiplier) of a parameter of `kind`
/// with fans `(fan_in, fan_out)`, relative to `base_width`.
pub fn multipliers(
    kind: ParamKind,
    fan_in: usize,
    fan_out: usize,
    base_width: usize,
    adaptive: bool,
) -> (f64, f64) {
    let base = base_width.max(1) as f64;
    let m_in = fan_in.max(1) as f64 / base;
    let m_out = fan_out.max(1) as f64 / base;
    match (kind, adaptive) {
        (ParamKind::InputWeight | ParamKind::Vector, true) => (1.0, 1.0),
        (ParamKind::InputWeight | ParamKind::Vector, false) => (m_out, 1.0),
        (ParamKind::HiddenWeight, true) => (1.0 / m_in, 1.0),
        (ParamKind::HiddenWeight, false) => (1.0, 1.0),
        (ParamKind::OutputWeight, _) => (1.0 / m_in, 1.0 / m_in),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_width_changes_nothing() {
        for kind in [
            ParamKind::InputWeight,
            ParamKind::HiddenWeight,
            ParamKind::OutputWeight,
            ParamKind::Vector,
        ] {
            for adaptive in [true, false] {
                assert_eq!(multipliers(kind, 64, 64, 64, adaptive), (1.0, 1.0));
            }
        }
    }

    #[test]
    fn adam_hidden_and_output_rates_shrink_with_width() {
        assert_eq!(
            multipliers(ParamKind::HiddenWeight, 256, 256, 64, true),
            (0.25, 1.0)
        );
        assert_eq!(
            multipliers(ParamKind::OutputWeight, 256, 10, 64, true),
            (0.25, 0.25)
        );
        assert_eq!(
            multipliers(ParamKind::InputWeight, 32, 256, 64, false),
            (4.0, 1.0)
        );
    }
}
