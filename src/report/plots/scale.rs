//! Axis ranges, tick positions and tick labels. Log axes are drawn on a
//! linear coordinate holding log10 of the value, so that every tick and
//! every grid line is chosen here rather than by plotters.

/// One axis: its range (in plot coordinates), major ticks (labelled, bold
/// grid) and minor ticks (light grid).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Axis {
    pub lo: f64,
    pub hi: f64,
    pub major: Vec<f64>,
    pub minor: Vec<f64>,
    /// Plot coordinates are log10 of the value.
    pub log: bool,
    /// Category names: tick `i + 0.5` is labelled `names[i]`.
    pub names: Vec<String>,
}

impl Axis {
    /// A log axis spanning `log_values` (already in log10), padded; robust to
    /// no values (one decade around 1) and to all-equal values.
    pub fn log_fit(log_values: impl IntoIterator<Item = f64>) -> Axis {
        let (lo, hi) = padded_extent(log_values, 0.06, 0.15, (-1.0, 1.0));
        let (major, minor) = log_ticks(lo, hi);
        Axis {
            lo,
            hi,
            major,
            minor,
            log: true,
            names: Vec::new(),
        }
    }

    /// A linear axis over `[lo, hi]` with about 6 nice ticks.
    pub fn linear(lo: f64, hi: f64) -> Axis {
        Axis::linear_n(lo, hi, 6)
    }

    /// A linear axis over `[lo, hi]` with about `n` nice ticks.
    pub fn linear_n(lo: f64, hi: f64, n: usize) -> Axis {
        let (lo, hi) = if hi - lo > 1e-300 && lo.is_finite() && hi.is_finite() {
            (lo, hi)
        } else if lo.is_finite() {
            (lo - 0.5, lo + 0.5)
        } else {
            (0.0, 1.0)
        };
        let major = linear_ticks(lo, hi, n);
        Axis {
            lo,
            hi,
            major,
            minor: Vec::new(),
            log: false,
            names: Vec::new(),
        }
    }

    /// A linear axis fitted to `values`, padded, with about `n` ticks.
    pub fn linear_fit(values: impl IntoIterator<Item = f64>, n: usize) -> Axis {
        let (lo, hi) = padded_extent(values, 0.05, 0.0, (0.0, 1.0));
        Axis::linear_n(lo, hi, n)
    }

    /// A log axis over exactly `[lo, hi]` (in log10), e.g. a colour bar.
    pub fn log_exact(lo: f64, hi: f64) -> Axis {
        let (major, minor) = log_ticks(lo, hi);
        Axis {
            lo,
            hi,
            major,
            minor,
            log: true,
            names: Vec::new(),
        }
    }

    /// Equal-width categories `names`, one per unit, labelled at their centres.
    pub fn categories(names: Vec<String>) -> Axis {
        let major = (0..names.len()).map(|i| i as f64 + 0.5).collect();
        Axis {
            lo: 0.0,
            hi: names.len().max(1) as f64,
            major,
            minor: Vec::new(),
            log: false,
            names,
        }
    }

    /// 0–100 %, with a little room so that lines at 0 and 100 stay visible.
    pub fn percent() -> Axis {
        let major = (0..=5).map(|i| 20.0 * i as f64).collect();
        Axis {
            lo: -3.0,
            hi: 103.0,
            major,
            minor: Vec::new(),
            log: false,
            names: Vec::new(),
        }
    }

    /// The layer axis: integer ticks from `first` to `last`.
    pub fn layers(first: usize, last: usize) -> Axis {
        let (a, b) = (first as f64, last.max(first) as f64);
        let pad = if b > a { 0.03 * (b - a) + 0.2 } else { 0.5 };
        let step = nice_int_step(b - a, 12);
        let start = (a / step).ceil() * step;
        let major = (0..)
            .map(|i| start + i as f64 * step)
            .take_while(|v| *v <= b + 1e-9)
            .collect();
        Axis {
            lo: a - pad,
            hi: b + pad,
            major,
            minor: Vec::new(),
            log: false,
            names: Vec::new(),
        }
    }

    /// Value → plot coordinate; `None` when the value cannot be placed (≤ 0 on
    /// a log axis, NaN or ±Inf).
    pub fn to_plot(&self, v: f64) -> Option<f64> {
        if !v.is_finite() {
            None
        } else if self.log {
            (v > 0.0).then(|| v.log10())
        } else {
            Some(v)
        }
    }

    /// The label of a tick at plot coordinate `p`.
    pub fn label(&self, p: f64) -> String {
        if !self.names.is_empty() {
            let i = p.floor().max(0.0) as usize;
            self.names.get(i).cloned().unwrap_or_default()
        } else if self.log {
            let k = p.round();
            if (p - k).abs() < 1e-9 && self.hi - self.lo >= NARROW_LOG {
                decade_label(k as i32)
            } else {
                fmt_num(10f64.powf(p))
            }
        } else {
            fmt_num(p)
        }
    }

    /// A point just inside the bottom of the axis (where values below the
    /// range, such as 0 on a log axis, are shown).
    pub fn floor(&self) -> f64 {
        self.lo + 0.025 * (self.hi - self.lo)
    }

    /// A point just inside the top of the axis (where NaN/Inf are shown).
    pub fn ceiling(&self) -> f64 {
        self.hi - 0.025 * (self.hi - self.lo)
    }

    /// Clamps a plot coordinate into the axis range.
    pub fn clamp(&self, p: f64) -> f64 {
        p.clamp(self.lo, self.hi)
    }
}

/// min/max of the finite values, padded by `frac` of the span (at least `min_pad`);
/// all-equal values get ±`max(min_pad, 0.5)` (or ±10% of the value when linear).
fn padded_extent(
    values: impl IntoIterator<Item = f64>,
    frac: f64,
    min_pad: f64,
    empty: (f64, f64),
) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.into_iter().filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if lo > hi {
        return empty;
    }
    let span = hi - lo;
    if span <= 1e-12 * lo.abs().max(hi.abs()).max(1e-300) {
        let pad = if min_pad > 0.0 {
            min_pad.max(0.5)
        } else {
            (0.1 * lo.abs()).max(0.5)
        };
        return (lo - pad, hi + pad);
    }
    let pad = (frac * span).max(min_pad);
    (lo - pad, hi + pad)
}

/// Below this many decades a log axis is labelled 0.2, 0.5, 1, 2 … rather than 10ⁿ.
const NARROW_LOG: f64 = 2.5;

/// Major and minor ticks (in log10) for a log axis over `[lo, hi]`.
fn log_ticks(lo: f64, hi: f64) -> (Vec<f64>, Vec<f64>) {
    let (ilo, ihi) = (lo.ceil() as i64, hi.floor() as i64);
    let decades = ihi - ilo + 1;
    if decades >= 2 && hi - lo >= NARROW_LOG {
        let step = [1, 2, 3, 5, 10, 20, 25, 50, 100, 200, 500, 1000]
            .into_iter()
            .find(|s| decades / s <= 8)
            .unwrap_or(1000);
        let first = ilo.div_euclid(step) * step;
        let first = if first < ilo { first + step } else { first };
        let major: Vec<f64> = (0..)
            .map(|i| first + i * step)
            .take_while(|k| *k <= ihi)
            .map(|k| k as f64)
            .collect();
        let minor: Vec<f64> = if step == 1 && hi - lo <= 8.0 {
            sub_decade(lo, hi, &[2, 3, 4, 5, 6, 7, 8, 9])
        } else {
            (ilo..=ihi)
                .filter(|k| (k - first).rem_euclid(step) != 0)
                .map(|k| k as f64)
                .collect()
        };
        return (major, minor);
    }
    // Less than two decades: 1-2-5 ticks, then every digit, then linear ticks.
    for mantissas in [&[1u32, 2, 5][..], &[1, 2, 3, 4, 5, 6, 7, 8, 9][..]] {
        let major = sub_decade(lo, hi, mantissas);
        if major.len() >= 3 {
            let minor = sub_decade(lo, hi, &[1, 2, 3, 4, 5, 6, 7, 8, 9]);
            return (major, minor);
        }
    }
    let major = linear_ticks(10f64.powf(lo), 10f64.powf(hi), 5)
        .into_iter()
        .filter(|v| *v > 0.0)
        .map(f64::log10)
        .collect();
    (major, Vec::new())
}

/// log10(m·10^k) for every mantissa m and decade k inside `[lo, hi]`.
fn sub_decade(lo: f64, hi: f64, mantissas: &[u32]) -> Vec<f64> {
    let mut out = Vec::new();
    for k in (lo.floor() as i64)..=(hi.ceil() as i64) {
        for m in mantissas {
            let p = k as f64 + (*m as f64).log10();
            if p >= lo && p <= hi {
                out.push(p);
            }
        }
    }
    out
}

/// About `n` ticks at multiples of 1, 2, 2.5 or 5 × 10^k inside `[lo, hi]`.
pub(super) fn linear_ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    let span = hi - lo;
    if !(span.is_finite() && span > 0.0) {
        return vec![lo];
    }
    let raw = span / n.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let first = (lo / step).ceil();
    (0..)
        .map(|i| (first + i as f64) * step)
        .take_while(|v| *v <= hi + step * 1e-9)
        .take(50)
        .map(|v| if v.abs() < step * 1e-9 { 0.0 } else { v })
        .collect()
}

fn nice_int_step(span: f64, max_ticks: usize) -> f64 {
    let mut step = 1.0;
    for s in [
        1.0, 2.0, 5.0, 10.0, 20.0, 25.0, 50.0, 100.0, 200.0, 500.0, 1000.0,
    ] {
        step = s;
        if span / s < max_ticks as f64 {
            break;
        }
    }
    step
}

/// `10^k` written with superscript digits, e.g. "10⁻³".
pub(super) fn decade_label(k: i32) -> String {
    const SUP: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
    let mut s = String::from("10");
    if k < 0 {
        s.push('⁻');
    }
    for d in k.unsigned_abs().to_string().bytes() {
        s.push(SUP[(d - b'0') as usize]);
    }
    s
}

/// A compact number: up to 3 significant digits, scientific outside [1e-3, 1e5).
pub(super) fn fmt_num(x: f64) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "Inf".into() } else { "-Inf".into() };
    }
    if x == 0.0 {
        return "0".into();
    }
    let a = x.abs();
    if (1e-3..1e5).contains(&a) {
        let digits = (2 - a.log10().floor() as i32).clamp(0, 6) as usize;
        let s = format!("{x:.digits$}");
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    } else {
        let s = format!("{x:.2e}");
        // 1.50e-5 → 1.5e-5, 1.00e7 → 1e7
        match s.split_once('e') {
            Some((m, e)) => {
                let m = m.trim_end_matches('0').trim_end_matches('.');
                format!("{m}e{e}")
            }
            None => s,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_axis_has_few_decade_ticks() {
        let a = Axis::log_fit([-12.0, 3.0]);
        assert!(a.major.len() <= 9 && a.major.len() >= 3, "{:?}", a.major);
        assert!(a.major.iter().all(|p| p.fract() == 0.0));
        assert_eq!(a.label(-3.0), "10⁻³");
        assert_eq!(a.label(0.0), "10⁰");
    }

    #[test]
    fn narrow_and_degenerate_log_ranges_get_ticks() {
        for (lo, hi) in [(0.0, 0.0), (-0.1, 0.1), (0.2, 0.25), (5.0, 5.0)] {
            let a = Axis::log_fit([lo, hi]);
            assert!(a.hi > a.lo);
            assert!(a.major.len() >= 2, "{lo}..{hi}: {:?}", a.major);
        }
        let empty = Axis::log_fit(std::iter::empty());
        assert!(empty.hi > empty.lo);
    }

    #[test]
    fn numbers_are_compact() {
        assert_eq!(fmt_num(0.5), "0.5");
        assert_eq!(fmt_num(1.0), "1");
        assert_eq!(fmt_num(0.0123), "0.0123");
        assert_eq!(fmt_num(1.5e-5), "1.5e-5");
        assert_eq!(fmt_num(1e7), "1e7");
        assert_eq!(fmt_num(250.0), "250");
        let t = linear_ticks(0.0, 1.0, 5);
        let want = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0];
        assert_eq!(t.len(), want.len());
        assert!(
            t.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-12),
            "{t:?}"
        );
    }
}
