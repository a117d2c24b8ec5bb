//! Colours, line styles, markers and fonts shared by every figure.

use plotters::style::{FontDesc, FontStyle, IntoFont, RGBColor};

/// Okabe–Ito, reordered so that the first colours are the most distinct on
/// white; its yellow is left out because it vanishes on a white background.
pub(super) const PALETTE: [RGBColor; 7] = [
    RGBColor(0, 114, 178),   // blue
    RGBColor(213, 94, 0),    // vermillion
    RGBColor(0, 158, 115),   // bluish green
    RGBColor(204, 121, 167), // reddish purple
    RGBColor(230, 159, 0),   // orange
    RGBColor(86, 180, 233),  // sky blue
    RGBColor(0, 0, 0),       // black
];

pub(super) const INK: RGBColor = RGBColor(33, 33, 33);
pub(super) const MUTED: RGBColor = RGBColor(110, 110, 110);
pub(super) const REFERENCE: RGBColor = RGBColor(150, 150, 150);
pub(super) const GRID_BOLD: RGBColor = RGBColor(215, 215, 215);
pub(super) const GRID_LIGHT: RGBColor = RGBColor(238, 238, 238);
pub(super) const HEALTHY: RGBColor = RGBColor(0, 158, 115);
pub(super) const WARN: RGBColor = RGBColor(200, 30, 30);

/// How a series' line is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Dash {
    Solid,
    Dashed,
    Dotted,
}

/// The marker drawn at each data point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Marker {
    None,
    Circle,
    Square,
    Triangle,
    Diamond,
}

/// Everything that tells one series apart from the others.
#[derive(Debug, Clone)]
pub(super) struct SeriesStyle {
    pub label: String,
    pub color: RGBColor,
    pub dash: Dash,
    pub marker: Marker,
}

impl SeriesStyle {
    /// The `i`-th categorical style: colours first, then (past 7 series)
    /// line dashes and marker shapes, so that no two of 84 series look alike.
    pub fn categorical(i: usize, label: String) -> SeriesStyle {
        let cycle = i / PALETTE.len();
        SeriesStyle {
            label,
            color: PALETTE[i % PALETTE.len()],
            dash: [Dash::Solid, Dash::Dashed, Dash::Dotted][cycle % 3],
            marker: [
                Marker::Circle,
                Marker::Square,
                Marker::Triangle,
                Marker::Diamond,
            ][cycle % 4],
        }
    }
}

/// Viridis (perceptually uniform, colour-blind safe), t in [0, 1].
pub(super) fn viridis(t: f64) -> RGBColor {
    const STOPS: [(u8, u8, u8); 9] = [
        (68, 1, 84),
        (71, 44, 122),
        (59, 81, 139),
        (44, 113, 142),
        (33, 144, 141),
        (39, 173, 129),
        (92, 200, 99),
        (170, 220, 50),
        (253, 231, 37),
    ];
    interpolate(&STOPS, t)
}

/// A blue–white–red diverging map (ColorBrewer RdBu, reversed), t in [0, 1],
/// white at 0.5. Readable by the common colour-vision deficiencies.
pub(super) fn diverging(t: f64) -> RGBColor {
    const STOPS: [(u8, u8, u8); 9] = [
        (33, 102, 172),
        (67, 147, 195),
        (146, 197, 222),
        (209, 229, 240),
        (247, 247, 247),
        (253, 219, 199),
        (244, 165, 130),
        (214, 96, 77),
        (178, 24, 43),
    ];
    interpolate(&STOPS, t)
}

fn interpolate(stops: &[(u8, u8, u8)], t: f64) -> RGBColor {
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.5
    };
    let pos = t * (stops.len() - 1) as f64;
    let i = (pos.floor() as usize).min(stops.len() - 2);
    let f = pos - i as f64;
    let mix = |a: u8, b: u8| (a as f64 + (b as f64 - a as f64) * f).round() as u8;
    let (a, b) = (stops[i], stops[i + 1]);
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// Whether black text is more legible than white on `c`.
pub(super) fn is_light(c: RGBColor) -> bool {
    0.299 * c.0 as f64 + 0.587 * c.1 as f64 + 0.114 * c.2 as f64 > 150.0
}

/// The embedded DejaVu Sans at `size` pixels.
pub(super) fn font(size: u32) -> FontDesc<'static> {
    ("sans-serif", size as f64).into_font()
}

/// The embedded DejaVu Sans Bold at `size` pixels. (Built in one step:
/// plotters' `FontDesc::style` keeps the regular face's glyphs.)
pub(super) fn bold(size: u32) -> FontDesc<'static> {
    ("sans-serif", size as f64, FontStyle::Bold).into_font()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bold_face_is_really_used() {
        crate::report::plots::register_fonts().unwrap();
        let n = font(30).box_size("Activation std per layer").unwrap();
        let b = bold(30).box_size("Activation std per layer").unwrap();
        assert!(b.0 > n.0, "{n:?} {b:?}");
    }
}
