//! Every shipped manifest through the real binary, into temp folders:
//! results.json, summary.csv, the figures and report.html checked, then
//! re-plotted from results.json alone.

#[path = "common/cli.rs"]
mod cli_support;

use cli_support::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;

/// Everything a finished output folder must hold; returns the figure files.
fn check_report_folder(dir: &Path, runs: &[(String, String)]) -> Vec<String> {
    let html = std::fs::read_to_string(dir.join("report.html")).expect("report.html");
    let refs = page_refs(&html);
    for r in &refs {
        assert!(!is_external(r), "{}: external reference {r}", dir.display());
        if let Some(frag) = r.strip_prefix('#') {
            assert!(
                html.contains(&format!("id=\"{frag}\"")),
                "{}: dangling anchor {r}",
                dir.display()
            );
        } else {
            let file = r.split('#').next().unwrap_or_default();
            assert!(
                dir.join(file).is_file(),
                "{}: report.html references missing {r}",
                dir.display()
            );
        }
    }
    let imgs = img_srcs(&html);
    // Linear stacks' per-layer figures, or residual stacks' per-block ones.
    let has = |f: &str| imgs.iter().any(|i| i == f);
    assert!(
        (has("act_std.png") && has("grad_flow.png"))
            || (has("stream_std.png") && has("block_grad_flow.png")),
        "{}: {imgs:?}",
        dir.display()
    );
    for img in &imgs {
        let (w, h, var) = decode_png(&dir.join(img));
        assert!(w >= 1200 && h >= 800, "{}/{img}: {w}×{h}", dir.display());
        assert!(
            var > 100.0,
            "{}/{img}: blank (variance {var:.1})",
            dir.display()
        );
    }
    let mut pngs: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".png"))
        .collect();
    pngs.sort();
    let mut shown = imgs.clone();
    shown.sort();
    assert_eq!(pngs, shown, "{}: figures not in the report", dir.display());
    for (_, label) in runs {
        let cell = format!("<td class=\"label\">{}</td>", html_escape(label));
        assert!(
            html.contains(&cell),
            "{}: no row for {label}",
            dir.display()
        );
    }
    let tmps = temp_files(dir);
    assert!(
        tmps.is_empty(),
        "{}: temp files left {tmps:?}",
        dir.display()
    );
    pngs
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn check_summary_csv(dir: &Path, runs: &[(String, String)]) {
    let text = std::fs::read_to_string(dir.join("summary.csv")).expect("summary.csv");
    let rows = csv_records(&text);
    let header = &rows[0];
    assert_eq!(&header[..2], ["id", "label"], "{}", dir.display());
    assert_eq!(
        rows.len() - 1,
        runs.len(),
        "{}: one row per run",
        dir.display()
    );
    for (row, (id, label)) in rows[1..].iter().zip(runs) {
        assert_eq!(
            row.len(),
            header.len(),
            "{}: ragged row {row:?}",
            dir.display()
        );
        assert_eq!((&row[0], &row[1]), (id, label), "{}", dir.display());
    }
}

#[test]
fn every_shipped_manifest_runs_to_a_complete_report_and_replots() {
    let _heavy = heavy();
    let tmp = TempDir::new("shipped");
    let mut timings = Vec::new();
    for m in shipped_manifests() {
        let stem = m.file_stem().unwrap().to_string_lossy().into_owned();
        let manifest: Value = serde_json::from_str(&std::fs::read_to_string(&m).unwrap()).unwrap();
        let repeats_lowered = manifest["repeats"].as_u64().is_some_and(|r| r > 1);
        let mut vargs = vec!["validate", s(&m)];
        if repeats_lowered {
            vargs.extend(["--repeats", "1"]);
        }
        let planned = validate_count(&initscope_ok(&vargs).stdout);
        let out = tmp.join(&stem);
        let r = run_shipped(&m, &out);
        timings.push(format!("{stem}: {:.1} s", r.secs));
        assert_eq!(ran_resumed(&r.stdout), (planned, 0), "{stem}\n{}", r.show());
        let doc = read_doc(&out);
        assert_eq!(doc.schema_version, 1, "{stem}");
        assert_eq!(doc.tool.name, "initscope");
        assert_eq!(doc.manifest["name"], manifest["name"], "{stem}");
        assert_eq!(doc.runs.len(), planned, "{stem}");
        let ids: BTreeSet<&str> = doc.runs.iter().map(|r| r.id.as_str()).collect();
        let labels: BTreeSet<&str> = doc.runs.iter().map(|r| r.label.as_str()).collect();
        assert_eq!((ids.len(), labels.len()), (planned, planned), "{stem}");
        for run in &doc.runs {
            // Linear stacks record layers[], residual stacks blocks[] and tensors[].
            let residual = !run.blocks.is_empty() && !run.tensors.is_empty();
            assert!(!run.layers.is_empty() || residual, "{stem}/{}", run.id);
            assert!(run.summary.input_std.is_finite(), "{stem}/{}", run.id);
        }
        let runs: Vec<(String, String)> = doc
            .runs
            .iter()
            .map(|r| (r.id.clone(), r.label.clone()))
            .collect();
        let figures = check_report_folder(&out, &runs);
        check_summary_csv(&out, &runs);
        // Re-plotting from results.json alone gives the same figures.
        let replot = tmp.join(format!("{stem}-replot"));
        let p = initscope_ok(&["plot", s(&out.join("results.json")), "--out", s(&replot)]);
        let again = check_report_folder(&replot, &runs);
        assert_eq!(
            figures,
            again,
            "{stem}: plot made other figures\n{}",
            p.show()
        );
        for f in &figures {
            let (a, b) = (png_pixels(&out.join(f)), png_pixels(&replot.join(f)));
            assert!(
                (a.0, a.1) == (b.0, b.1) && a.2.data == b.2.data,
                "{stem}/{f}: the re-plotted figure differs"
            );
        }
    }
    eprintln!("shipped manifests: {}", timings.join(", "));
}
