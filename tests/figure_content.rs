//! What the figures and the report show, not only that they are not blank:
//! every series' colour is drawn, the theory overlay adds ink and is dashed,
//! the report's table cells and diagnosis badges say what results.json
//! says, and every summary.csv cell parses back to its value.

#[path = "common/cli.rs"]
mod cli_support;
mod synth;

use cli_support::{TempDir, csv_records, png_pixels};
use initscope::report::html::Images;
use initscope::results::ResultsDoc;
use std::path::Path;

/// The first four series colours (Okabe–Ito blue, vermillion, bluish green,
/// reddish purple), as the style guide in src/report/plots/style.rs lists them.
const SERIES: [[u8; 3]; 4] = [[0, 114, 178], [213, 94, 0], [0, 158, 115], [204, 121, 167]];

/// Pixels of each colour in a PNG (exact matches: line cores).
fn ink(path: &Path) -> Vec<usize> {
    let (_, _, px) = png_pixels(path);
    SERIES
        .iter()
        .map(|c| {
            px.data
                .chunks(px.channels)
                .filter(|p| p[..3] == c[..])
                .count()
        })
        .collect()
}

#[test]
fn every_series_is_drawn_and_the_theory_overlay_adds_ink() {
    let doc = synth::init_impact();
    assert_eq!(doc.runs.len(), 4);
    let t = TempDir::new("ink");
    initscope::report::plots::render_all(&doc, t.path()).unwrap();
    let with = ink(&t.join("act_std.png"));
    eprintln!("act_std.png pixels per series colour: {with:?}");
    for (i, n) in with.iter().enumerate() {
        assert!(
            *n > 300,
            "series {i} ({:?}) barely drawn: {n} pixels",
            SERIES[i]
        );
    }
    for f in ["grad_flow.png", "act_mean.png"] {
        let n = ink(&t.join(f));
        assert!(n.iter().all(|n| *n > 100), "{f}: {n:?}");
    }
    let mut bare = doc.clone();
    for r in &mut bare.runs {
        r.theory = None;
    }
    let u = TempDir::new("ink-bare");
    initscope::report::plots::render_all(&bare, u.path()).unwrap();
    // The theory lines are drawn dashed in a lighter shade of each series'
    // colour: they show as pixels that differ from the figure without them.
    let (_, _, a) = png_pixels(&t.join("act_std.png"));
    let (_, _, b) = png_pixels(&u.join("act_std.png"));
    let changed = a
        .data
        .chunks(a.channels)
        .zip(b.data.chunks(b.channels))
        .filter(|(p, q)| p != q)
        .count();
    eprintln!("act_std.png: {changed} pixels change with the theory overlay");
    assert!(changed > 500, "no theory overlay: {changed} pixels differ");
}

/// The text of every `<td>` of each body row of the summary table.
fn table_rows(html: &str) -> Vec<Vec<String>> {
    let sec = &html[html.find("<section id=\"summary\">").unwrap()..];
    let body = &sec[sec.find("<tbody>").unwrap()..sec.find("</tbody>").unwrap()];
    body.split("<tr>")
        .skip(1)
        .map(|row| {
            row.split("<td")
                .skip(1)
                .map(|c| {
                    let c = &c[c.find('>').unwrap() + 1..];
                    c[..c.find("</td>").unwrap()].to_string()
                })
                .collect()
        })
        .collect()
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

fn number(cell: &str) -> f64 {
    match cell {
        "NaN" => f64::NAN,
        "∞" => f64::INFINITY,
        "−∞" => f64::NEG_INFINITY,
        c => c.parse().unwrap_or_else(|_| panic!("not a number: {c:?}")),
    }
}

fn same(shown: f64, value: f64) -> bool {
    (shown.is_nan() && value.is_nan())
        || shown == value
        || (shown - value).abs() <= 5e-3 * value.abs()
}

fn check_report(doc: &ResultsDoc) {
    let t = TempDir::new("report-cells");
    initscope::report::render(doc, t.path(), Images::Linked).unwrap();
    let html = std::fs::read_to_string(t.join("report.html")).unwrap();
    let rows = table_rows(&html);
    assert_eq!(rows.len(), doc.runs.len());
    for (r, cells) in doc.runs.iter().zip(&rows) {
        let s = &r.summary;
        assert_eq!(unescape(&cells[0]), r.label);
        for (i, v) in [
            (1, s.final_act_std),
            (2, s.mean_grad_norm),
            (3, s.grad_norm_ratio),
        ] {
            assert!(
                same(number(&cells[i]), v),
                "{}: cell {i} {:?} vs {v}",
                r.id,
                cells[i]
            );
        }
        let dead = s.max_dead_unit_fraction.unwrap_or(s.max_dead_fraction);
        assert!(
            same(number(&cells[4]) / 100.0, dead)
                || (dead * 100.0 - number(&cells[4])).abs() <= 0.05
        );
        assert_eq!(cells[6], format!("{} / {}", s.nan_count, s.inf_count));
        let badges: Vec<String> = cells[7]
            .split("<span class=\"badge ")
            .skip(1)
            .map(|b| unescape(&b[b.find('>').unwrap() + 1..b.find("</span>").unwrap()]))
            .collect();
        let want = if s.diagnosis.is_empty() {
            vec!["healthy".to_string()]
        } else {
            s.diagnosis.clone()
        };
        assert_eq!(badges, want, "{}", r.id);
    }
}

#[test]
fn report_cells_and_badges_match_results_json() {
    for doc in [
        synth::init_impact(),
        synth::pathological(),
        synth::repeats(),
    ] {
        check_report(&doc);
    }
}

#[test]
fn summary_csv_cells_equal_results_json() {
    for doc in [
        synth::init_impact(),
        synth::pathological(),
        synth::sweep_1d(),
    ] {
        let text = initscope::results::files::summary_csv(&doc.runs);
        let rows = csv_records(&text);
        let head = &rows[0];
        let col = |name: &str| head.iter().position(|h| h == name).unwrap();
        for (r, row) in doc.runs.iter().zip(&rows[1..]) {
            let s = &r.summary;
            assert_eq!(row[col("id")], r.id);
            assert_eq!(row[col("label")], r.label);
            for (name, v) in [
                ("loss", s.loss),
                ("input_std", s.input_std),
                ("final_act_std", s.final_act_std),
                ("mean_grad_norm", s.mean_grad_norm),
                ("grad_norm_ratio", s.grad_norm_ratio),
                ("max_dead_fraction", s.max_dead_fraction),
                ("max_saturated_fraction", s.max_saturated_fraction),
            ] {
                let got: f64 = row[col(name)].parse().unwrap();
                assert!(
                    got.to_bits() == v.to_bits() || (got.is_nan() && v.is_nan()),
                    "{}.{name}: {got} vs {v}",
                    r.id
                );
            }
            let dead = &row[col("max_dead_unit_fraction")];
            assert_eq!(
                dead.parse::<f64>().ok(),
                s.max_dead_unit_fraction,
                "{}",
                r.id
            );
            assert_eq!(row[col("nan_count")], s.nan_count.to_string());
            assert_eq!(row[col("diagnosis")], s.diagnosis.join("; "));
        }
    }
}

/// Columns of act_std.png where a single run's figure with its theory line
/// differs from the figure without it, as maximal runs of adjacent columns.
fn overlay_column_runs(doc: &ResultsDoc, i: usize) -> usize {
    let mut one = doc.clone();
    one.runs = vec![doc.runs[i].clone()];
    let mut bare = one.clone();
    bare.runs[0].theory = None;
    let (t, u) = (TempDir::new("dash-with"), TempDir::new("dash-bare"));
    initscope::report::plots::render_all(&one, t.path()).unwrap();
    initscope::report::plots::render_all(&bare, u.path()).unwrap();
    let (w, _, a) = png_pixels(&t.join("act_std.png"));
    let (_, _, b) = png_pixels(&u.join("act_std.png"));
    let mut changed = vec![false; w as usize];
    for (k, (p, q)) in a
        .data
        .chunks(a.channels)
        .zip(b.data.chunks(b.channels))
        .enumerate()
    {
        changed[k % w as usize] |= p != q;
    }
    changed
        .iter()
        .zip(std::iter::once(&false).chain(&changed))
        .filter(|(c, prev)| **c && !**prev)
        .count()
}

#[test]
fn the_theory_overlay_is_dashed() {
    // A dashed theory line (9 px on, 6 off over ~1300 px) leaves gaps: its
    // pixels fall in 74-113 separate column runs per series here; drawn
    // solid, 15-27 (the gaps left are where the measured line hides it).
    let doc = synth::init_impact();
    for i in 0..doc.runs.len() {
        let runs = overlay_column_runs(&doc, i);
        eprintln!(
            "{}: theory overlay in {runs} column runs",
            doc.runs[i].label
        );
        assert!(
            runs >= 45,
            "{}: the theory overlay is not dashed ({runs} column runs)",
            doc.runs[i].label
        );
    }
}
