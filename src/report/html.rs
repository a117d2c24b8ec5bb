//! The offline HTML report: one self-contained page (inline CSS, no
//! scripts, no network) that references the figures by relative file name.

use super::training_table::training_table;
use crate::report::plots::Figure;
use crate::results::{ResultsDoc, RunResult};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Files the page links to when they are present in the output folder.
const DATA_FILES: [(&str, &str); 6] = [
    ("results.json", "all statistics (schema in the README)"),
    ("summary.csv", "one row per run"),
    (
        "layers.csv",
        "every per-layer statistic in long format, for pandas and seaborn",
    ),
    (
        "blocks.csv",
        "every per-block statistic of residual stacks in long format",
    ),
    (
        "tensors.csv",
        "every parameter's value and gradient statistics (residual stacks)",
    ),
    (
        "steps.csv",
        "every recorded training value (loss, per-layer statistics, updates) by step, long format",
    ),
];

/// How the page holds its figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Images {
    /// By relative file name: the page lives in the output folder.
    #[default]
    Linked,
    /// Inline as base64 PNG data: one file to send or attach.
    Embedded,
}

/// One offline page (no CDN, no external JS/CSS; inline CSS; the figures
/// linked by relative file name, or embedded), written to `dir/report.html`
/// through a temporary file and a rename.
pub fn write_report(
    doc: &ResultsDoc,
    figures: &[Figure],
    dir: &Path,
    images: Images,
) -> Result<PathBuf, std::io::Error> {
    std::fs::create_dir_all(dir)?;
    let present: Vec<&str> = DATA_FILES
        .iter()
        .map(|f| f.0)
        .filter(|f| images == Images::Linked && dir.join(f).is_file())
        .collect();
    let sources = match images {
        Images::Linked => figures.iter().map(|f| esc(&f.file)).collect(),
        Images::Embedded => embedded(figures, dir)?,
    };
    let page = render(doc, figures, &sources, &present);
    let path = dir.join("report.html");
    let tmp = dir.join(".tmp-report.html");
    if let Err(e) = std::fs::write(&tmp, page).and_then(|_| std::fs::rename(&tmp, &path)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(path)
}

/// Each figure as a `data:` URI of its PNG bytes.
fn embedded(figures: &[Figure], dir: &Path) -> Result<Vec<String>, std::io::Error> {
    use base64::Engine as _;
    figures
        .iter()
        .map(|f| {
            let bytes = std::fs::read(dir.join(&f.file))?;
            let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
            Ok(format!("data:image/png;base64,{b64}"))
        })
        .collect()
}

/// The page; `sources[i]` is figure i's `src` (escaped), `present` lists
/// the data files that exist next to it.
fn render(doc: &ResultsDoc, figures: &[Figure], sources: &[String], present: &[&str]) -> String {
    let name = doc
        .manifest
        .get("name")
        .and_then(|v| v.as_str())
        .unwrap_or("initscope results");
    let mut h = String::with_capacity(16 * 1024);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{} · initscope</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n",
        esc(name)
    );
    let _ = writeln!(h, "<header>\n<h1>{}</h1>", esc(name));
    if let Some(d) = doc.manifest.get("description").and_then(|v| v.as_str()) {
        let _ = writeln!(h, "<p class=\"lead\">{}</p>", esc(d));
    }
    header_facts(&mut h, doc);
    adapters_note(&mut h, doc);
    h.push_str("</header>\n");
    if !figures.is_empty() {
        h.push_str("<nav><strong>Figures:</strong> ");
        for (i, f) in figures.iter().enumerate() {
            let sep = if i == 0 { "" } else { " · " };
            let _ = write!(
                h,
                "{sep}<a href=\"#{}\">{}</a>",
                esc(&anchor(&f.file)),
                esc(&f.title)
            );
        }
        h.push_str(
            " · <a href=\"#summary\">Summary</a> · <a href=\"#manifest\">Manifest</a></nav>\n",
        );
    }
    summary_table(&mut h, &doc.runs);
    training_table(&mut h, &doc.runs);
    for (f, src) in figures.iter().zip(sources) {
        // An embedded image is not linked: the link would double the page.
        let img = format!("<img src=\"{src}\" alt=\"{}\">", esc(&f.title));
        let img = if src.starts_with("data:") {
            img
        } else {
            format!("<a href=\"{src}\">{img}</a>")
        };
        let _ = writeln!(
            h,
            "<figure id=\"{id}\">\n<h2>{title}</h2>\n{img}\n<figcaption>{cap}</figcaption>\n</figure>",
            id = esc(&anchor(&f.file)),
            title = esc(&f.title),
            cap = esc(&f.caption)
        );
    }
    data_links(&mut h, present);
    let manifest = serde_json::to_string_pretty(&doc.manifest)
        .unwrap_or_else(|e| format!("(unprintable: {e})"));
    let _ = writeln!(
        h,
        "<section id=\"manifest\">\n<h2>Manifest</h2>\n<pre>{}</pre>\n</section>",
        esc(&manifest)
    );
    let _ = writeln!(
        h,
        "<footer>Written by {} {} · results schema v{}</footer>\n</main>\n</body>\n</html>",
        esc(&doc.tool.name),
        esc(&doc.tool.version),
        doc.schema_version
    );
    h
}

fn header_facts(h: &mut String, doc: &ResultsDoc) {
    let a = &doc.adapter;
    let or_unknown = |s: &str| {
        if s.trim().is_empty() {
            "unknown".to_string()
        } else {
            esc(s)
        }
    };
    let _ = writeln!(
        h,
        "<dl class=\"facts\"><div><dt>Adapter</dt><dd>{}</dd></div><div><dt>Backend</dt><dd>{}</dd></div>\
         <div><dt>Device type</dt><dd>{}</dd></div><div><dt>Driver</dt><dd>{}</dd></div>\
         <div><dt>Runs</dt><dd>{}</dd></div></dl>",
        or_unknown(&a.name),
        or_unknown(&a.backend),
        or_unknown(&a.device_type),
        or_unknown(&a.driver),
        doc.runs.len()
    );
}

/// A percentage of a linear stack's activations; residual stacks do not
/// record their branch activations' fractions, so they show "—".
fn dead_or_dash(r: &RunResult, f: f64) -> String {
    if r.layers.is_empty() && !r.blocks.is_empty() {
        "—".into()
    } else {
        pct(f)
    }
}

/// When the runs came from more than one adapter (a merged sweep whose
/// shards ran on different machines), says which ran where and what that
/// means for comparing them.
fn adapters_note(h: &mut String, doc: &ResultsDoc) {
    let mut seen: Vec<(&crate::results::AdapterRecord, Vec<&str>)> = Vec::new();
    for r in &doc.runs {
        let a = r.adapter.as_ref().unwrap_or(&doc.adapter);
        match seen.iter_mut().find(|(b, _)| *b == a) {
            Some((_, ids)) => ids.push(&r.id),
            None => seen.push((a, vec![&r.id])),
        }
    }
    if seen.len() < 2 {
        return;
    }
    let _ = write!(
        h,
        "<div class=\"note\" id=\"adapters\"><strong>These runs came from {} different adapters.</strong> \
         Uniform draws are bit-identical on every adapter; normal draws, activations and reductions \
         can differ in the last bits, so compare runs across adapters with a tolerance.<ul>",
        seen.len()
    );
    for (a, ids) in &seen {
        let shown: Vec<&str> = ids.iter().take(12).copied().collect();
        let more = if ids.len() > shown.len() { ", …" } else { "" };
        let _ = write!(
            h,
            "<li>{} ({}, {}, {}): {} run(s): {}{more}</li>",
            esc(&a.name),
            esc(&a.backend),
            esc(&a.device_type),
            esc(&a.driver),
            ids.len(),
            esc(&shown.join(", "))
        );
    }
    h.push_str("</ul></div>\n");
}

fn summary_table(h: &mut String, runs: &[RunResult]) {
    h.push_str("<section id=\"summary\">\n<h2>Summary</h2>\n");
    if runs.is_empty() {
        h.push_str("<p>No runs were recorded.</p>\n</section>\n");
        return;
    }
    h.push_str(
        "<div class=\"scroll\"><table>\n<thead><tr><th>Run</th><th title=\"std of the network's output (the last layer, or the last block and final norm)\">Final act std</th>\
         <th title=\"mean over layers of ‖dW‖_F (residual stacks: over blocks of √Σ‖grad‖²)\">Mean grad norm</th><th title=\"max/min of the same norms\">Grad norm ratio</th>\
         <th title=\"largest share of a layer's units that are 0 for every input\">Dead units %</th><th>Saturated %</th><th>NaN / Inf</th><th>Diagnosis</th></tr></thead>\n<tbody>\n",
    );
    for r in runs {
        let s = &r.summary;
        let act_class = if s.final_act_std.is_finite() && (0.1..=10.0).contains(&s.final_act_std) {
            ""
        } else {
            " class=\"bad\""
        };
        let nonfinite = s.nan_count + s.inf_count;
        let _ = writeln!(
            h,
            "<tr><td class=\"label\">{}</td><td{act_class}>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td{}>{} / {}</td><td>{}</td></tr>",
            esc(&r.label),
            num(s.final_act_std),
            num(s.mean_grad_norm),
            num(s.grad_norm_ratio),
            // Older documents have only the zero fraction.
            dead_or_dash(r, s.max_dead_unit_fraction.unwrap_or(s.max_dead_fraction)),
            dead_or_dash(r, s.max_saturated_fraction),
            if nonfinite > 0 { " class=\"bad\"" } else { "" },
            s.nan_count,
            s.inf_count,
            badges(&s.diagnosis)
        );
    }
    h.push_str("</tbody>\n</table></div>\n</section>\n");
}

/// Diagnosis badges: red for explosions and NaN/Inf, amber for the rest of
/// the known failure modes, grey for anything else, green when healthy.
fn badges(diagnosis: &[String]) -> String {
    if diagnosis.is_empty() {
        return "<span class=\"badge ok\">healthy</span>".into();
    }
    diagnosis
        .iter()
        .map(|d| {
            let l = d.to_lowercase();
            let class = if ["explod", "nan", "inf"].iter().any(|k| l.contains(k)) {
                "bad"
            } else if ["vanish", "satur", "dead", "collapse"]
                .iter()
                .any(|k| l.contains(k))
            {
                "warn"
            } else {
                "info"
            };
            format!("<span class=\"badge {class}\">{}</span>", esc(d))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn data_links(h: &mut String, present: &[&str]) {
    h.push_str("<section id=\"data\">\n<h2>Data</h2>\n<ul>\n");
    for (file, what) in DATA_FILES {
        if present.contains(&file) {
            let _ = writeln!(
                h,
                "<li><a href=\"{file}\"><code>{file}</code></a>: {what}</li>"
            );
        } else {
            let _ = writeln!(
                h,
                "<li><code>{file}</code>: {what} (not in this folder)</li>"
            );
        }
    }
    h.push_str("</ul>\n</section>\n");
}

/// An element id from a file name: `act_std.png` → `fig-act_std`.
fn anchor(file: &str) -> String {
    let stem = file.rsplit_once('.').map_or(file, |(s, _)| s);
    let clean: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("fig-{clean}")
}

/// Escapes text for HTML content and attribute values.
pub(super) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// 3 significant digits; scientific outside [1e-3, 1e5); NaN and Inf spelled out.
pub(super) fn num(x: f64) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 {
            "∞".into()
        } else {
            "−∞".into()
        };
    }
    if x == 0.0 {
        return "0".into();
    }
    if (1e-3..1e5).contains(&x.abs()) {
        let digits = (2 - x.abs().log10().floor() as i32).clamp(0, 6) as usize;
        format!("{x:.digits$}")
    } else {
        format!("{x:.2e}")
    }
}

fn pct(f: f64) -> String {
    if f.is_finite() {
        format!("{:.1}", 100.0 * f)
    } else {
        num(f)
    }
}

const CSS: &str = r#"
:root{--ink:#222;--muted:#666;--line:#ddd;--bg:#fff;--soft:#f6f7f9;--accent:#0072b2}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font:16px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1280px;margin:0 auto;padding:32px 24px 64px}
h1{font-size:2rem;margin:0 0 .25em}
h2{font-size:1.3rem;margin:2.2em 0 .6em;padding-bottom:.25em;border-bottom:1px solid var(--line)}
.lead{font-size:1.1rem;color:#444;margin:.2em 0 1em}
a{color:var(--accent)}
nav{background:var(--soft);border:1px solid var(--line);border-radius:8px;padding:10px 14px;margin:1.2em 0;font-size:.95rem}
.facts{display:flex;flex-wrap:wrap;gap:8px 28px;margin:0;font-size:.95rem}
.facts div{display:flex;gap:6px}.facts dt{color:var(--muted)}.facts dd{margin:0;font-weight:600}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:.93rem;font-variant-numeric:tabular-nums}
th,td{padding:7px 10px;border-bottom:1px solid var(--line);text-align:right;vertical-align:top}
th{background:var(--soft);font-weight:600;white-space:nowrap}
th:first-child,td.label,th:last-child,td:last-child{text-align:left}
tbody tr:hover{background:#fafbfc}
td.bad{color:#b2182b;font-weight:600}
.badge{display:inline-block;padding:1px 9px;margin:1px 2px;border-radius:999px;font-size:.82rem;font-weight:600;white-space:normal;max-width:100%;border:1px solid}
.badge.ok{background:#e6f4ea;color:#0b6b3a;border-color:#9fd3b4}
.badge.warn{background:#fff4e0;color:#8a5300;border-color:#f0c674}
.badge.bad{background:#fde8e8;color:#a40e26;border-color:#f2a7a7}
.badge.info{background:#eef1f5;color:#3b4a5a;border-color:#c9d2dc}
figure{margin:0 0 1em}
figure img{display:block;max-width:100%;height:auto;border:1px solid var(--line);border-radius:6px}
figcaption{color:#444;margin-top:.5em;max-width:72em}
pre{background:var(--soft);border:1px solid var(--line);border-radius:6px;padding:14px;overflow:auto;font-size:.85rem;line-height:1.4}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.note{background:#fff8e6;border:1px solid #f0c674;border-radius:8px;padding:10px 14px;margin:1em 0;font-size:.95rem}
.note ul{margin:.4em 0 0;padding-left:1.4em}
footer{margin-top:3em;color:var(--muted);font-size:.85rem}
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn badges_are_coloured_by_severity() {
        assert!(badges(&[]).contains("badge ok"));
        assert!(badges(&["exploding activations".into()]).contains("badge bad"));
        assert!(badges(&["NaN/Inf values".into()]).contains("badge bad"));
        assert!(badges(&["vanishing gradients".into()]).contains("badge warn"));
        assert!(badges(&["<odd>".into()]).contains("&lt;odd&gt;"));
    }
}
