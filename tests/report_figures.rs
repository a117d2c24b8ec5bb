//! The PNG figures and the HTML report of synthetic results documents
//! (small stacks simulated in f64): sizes, non-blank content, files
//! referenced by the page, escaping, and edge cases (NaN, Inf, zeros, empty).

mod synth;

use initscope::report::html::{Images, write_report};
use initscope::report::plots::{Figure, PlotError, render_all};
use initscope::results::ResultsDoc;
use std::io::BufReader;
use std::path::{Path, PathBuf};

/// A fresh, empty folder for one test's output, private to this process.
fn out_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("initscope-report-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Removes a test's output folder unless INITSCOPE_KEEP_FIGURES is set
/// (to look at the figures: they stay in the temp dir, named by test).
fn done(dir: &Path) {
    if std::env::var_os("INITSCOPE_KEEP_FIGURES").is_none() {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// Decodes a PNG; returns (width, height, variance of the luminance).
fn decode(path: &Path) -> (u32, u32, f64) {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut reader = png::Decoder::new(BufReader::new(file))
        .read_info()
        .expect("png header");
    let mut buf = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut buf).expect("png data");
    let px = info.color_type.samples();
    let lum: Vec<f64> = buf[..info.buffer_size()]
        .chunks(px)
        .map(|c| c.iter().take(3).map(|v| *v as f64).sum::<f64>() / 3.0)
        .collect();
    let mean = lum.iter().sum::<f64>() / lum.len() as f64;
    let var = lum.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / lum.len() as f64;
    (info.width, info.height, var)
}

fn render_checked(name: &str, doc: &ResultsDoc) -> Vec<Figure> {
    let dir = out_dir(name);
    let figs = render_all(doc, &dir).unwrap_or_else(|e| panic!("{name}: {e}"));
    for f in &figs {
        let (w, h, var) = decode(&dir.join(&f.file));
        assert!(w >= 1200 && h >= 800, "{name}/{}: {w}×{h}", f.file);
        assert!(
            var > 100.0,
            "{name}/{}: looks blank (variance {var})",
            f.file
        );
        assert!(!f.title.is_empty() && !f.caption.is_empty());
    }
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{name}: temporary files left behind");
    done(&dir);
    figs
}

fn files(figs: &[Figure]) -> Vec<&str> {
    figs.iter().map(|f| f.file.as_str()).collect()
}

#[test]
fn init_impact_has_the_per_layer_figures() {
    let figs = render_checked("init_impact", &synth::init_impact());
    let f = files(&figs);
    for want in [
        "act_std.png",
        "act_mean.png",
        "grad_flow.png",
        "weight_hist.png",
        "act_hist.png",
        "dead_saturated.png",
    ] {
        assert!(f.contains(&want), "missing {want} in {f:?}");
    }
    assert!(
        !f.contains(&"sweep.png") && !f.contains(&"heatmap.png") && !f.contains(&"panels.png"),
        "{f:?}"
    );
}

#[test]
fn one_swept_number_gives_a_sweep_figure() {
    let figs = render_checked("sweep_1d", &synth::sweep_1d());
    assert_eq!(figs[0].file, "sweep.png", "{:?}", files(&figs));
    assert!(!files(&figs).contains(&"heatmap.png"));
}

/// Attention records over one swept number add `attention_sweep.png`;
/// without attention there is none.
#[test]
fn attention_over_a_sweep_gives_its_figure() {
    assert!(
        !files(&render_checked("sweep_plain", &synth::sweep_1d())).contains(&"attention_sweep.png")
    );
    let mut doc = synth::sweep_1d();
    for (k, run) in doc.runs.iter_mut().enumerate() {
        let x = 1.0 + k as f64;
        run.blocks = vec![initscope::results::BlockRecord {
            attn_logits_std: Some(x),
            attn_entropy: Some(vec![4.0 / x, 3.5 / x]),
            attn_entropy_max: Some(64f64.ln()),
            ..Default::default()
        }];
    }
    let figs = render_checked("attention_sweep", &doc);
    assert!(
        files(&figs).contains(&"attention_sweep.png"),
        "{:?}",
        files(&figs)
    );
}

#[test]
fn two_swept_numbers_give_a_heatmap() {
    let figs = render_checked("sweep_2d", &synth::sweep_2d());
    assert_eq!(figs[0].file, "heatmap.png", "{:?}", files(&figs));
    assert!(!files(&figs).contains(&"sweep.png"));
}

#[test]
fn repeats_render() {
    render_checked("repeats", &synth::repeats());
}

#[test]
fn activation_by_init_gives_panels() {
    let figs = render_checked("act_init", &synth::act_init());
    assert!(files(&figs).contains(&"panels.png"), "{:?}", files(&figs));
}

#[test]
fn zeros_nan_and_inf_render() {
    render_checked("pathological", &synth::pathological());
}

#[test]
fn single_run_and_single_layer_render() {
    render_checked("single_run", &synth::single_run());
    let figs = render_checked("single_layer", &synth::single_layer());
    assert!(
        !files(&figs).contains(&"act_hist.png"),
        "no histograms were recorded"
    );
}

#[test]
fn an_empty_document_renders_nothing() {
    let mut doc = synth::single_run();
    doc.runs.clear();
    assert!(render_checked("empty", &doc).is_empty());
}

#[test]
fn an_unwritable_folder_is_an_error_not_a_panic() {
    let dir = out_dir("unwritable");
    let file = dir.join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    let err = render_all(&synth::single_run(), &file).unwrap_err();
    assert!(matches!(err, PlotError::CreateDir { .. }), "{err}");
    done(&dir);
}

#[test]
fn a_sweep_with_variants_draws_one_line_per_variant() {
    let mut doc = synth::sweep_1d();
    let mut more = Vec::new();
    for run in &mut doc.runs {
        let mut b = run.clone();
        run.variant = Some("tanh".into());
        b.variant = Some("tanh, ×3 gain".into());
        b.group = format!("{} ×3", b.group);
        b.summary.final_act_std *= 3.0;
        b.summary.mean_grad_norm *= 9.0;
        more.push(b);
    }
    doc.runs.extend(more);
    let figs = render_checked("sweep_variants", &doc);
    assert_eq!(figs[0].file, "sweep.png");
}

#[test]
fn heatmap_cells_can_be_nan_zero_inf_or_missing() {
    let mut doc = synth::sweep_2d();
    doc.runs[0].summary.final_act_std = f64::NAN;
    doc.runs[1].summary.final_act_std = 0.0;
    doc.runs[2].summary.final_act_std = f64::INFINITY;
    doc.runs.remove(5);
    let figs = render_checked("heatmap_special", &doc);
    assert_eq!(figs[0].file, "heatmap.png");
}

#[test]
fn many_unordered_arms_fit_the_legend() {
    let base = synth::init_impact();
    let mut doc = base.clone();
    doc.runs.clear();
    for i in 0..30 {
        let mut r = base.runs[i % 4].clone();
        r.group = format!("arm number {i} with a rather long label that will not fit");
        r.label = r.group.clone();
        doc.runs.push(r);
    }
    render_checked("many_arms", &doc);
}

#[test]
fn activation_by_variant_gives_panels() {
    let mut doc = synth::act_init();
    for r in &mut doc.runs {
        let init = r
            .params
            .remove("init")
            .map(|v| {
                let scheme = v.get("scheme").unwrap_or(&v);
                scheme.as_str().unwrap_or_default().to_string()
            })
            .unwrap_or_default();
        r.variant = Some(if init.starts_with("xavier") {
            "Xavier".into()
        } else {
            "He".into()
        });
    }
    let figs = render_checked("act_variant", &doc);
    assert!(files(&figs).contains(&"panels.png"));
}

/// Relative `src="…"` and `href="…"` targets (fragments and URLs excluded).
fn relative_refs(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    for attr in ["src=\"", "href=\""] {
        for (i, _) in html.match_indices(attr) {
            let rest = &html[i + attr.len()..];
            let Some(end) = rest.find('"') else { continue };
            let target = &rest[..end];
            assert!(
                !target.contains("://") && !target.starts_with("//"),
                "external reference {target}"
            );
            if !target.starts_with('#') {
                out.push(target.replace("&amp;", "&"));
            }
        }
    }
    out
}

#[test]
fn the_page_references_only_files_that_exist_and_escapes_text() {
    let dir = out_dir("html");
    let doc = synth::init_impact();
    let figs = render_all(&doc, &dir).unwrap();
    std::fs::write(dir.join("results.json"), serde_json::to_vec(&doc).unwrap()).unwrap();
    let path = write_report(&doc, &figs, &dir, Images::Linked).unwrap();
    assert_eq!(path, dir.join("report.html"));
    let html = std::fs::read_to_string(&path).unwrap();
    let refs = relative_refs(&html);
    assert!(
        refs.contains(&"act_std.png".to_string()) && refs.contains(&"results.json".to_string()),
        "{refs:?}"
    );
    for r in &refs {
        assert!(dir.join(r).is_file(), "report.html references missing {r}");
    }
    assert!(
        !html.contains("href=\"summary.csv\""),
        "summary.csv is absent, so it must not be linked"
    );
    assert!(
        html.contains("&lt;b&gt;&amp;&lt;/b&gt; &quot;quotes&quot;"),
        "description not escaped"
    );
    assert!(!html.contains("<b>&</b>"));
    assert!(
        !html.contains("<script") && !html.contains("<link"),
        "must be self-contained"
    );
    assert!(html.contains("badge ok") || html.contains("badge warn"));
    assert!(!dir.join(".tmp-report.html").exists());
    done(&dir);
}

#[test]
fn pathological_and_empty_documents_give_a_page() {
    let doc = synth::pathological();
    let dir = out_dir("html_pathological");
    let html =
        std::fs::read_to_string(write_report(&doc, &[], &dir, Images::Linked).unwrap()).unwrap();
    assert!(html.contains("NaN") && html.contains("∞"));
    let mut empty = doc.clone();
    empty.runs.clear();
    empty.manifest = serde_json::json!({});
    let page =
        std::fs::read_to_string(write_report(&empty, &[], &dir, Images::Linked).unwrap()).unwrap();
    assert!(page.contains("No runs were recorded"));
    done(&dir);
}

#[test]
fn training_runs_have_the_training_figures() {
    let figs = render_checked("loss_by_init", &synth::train::loss_by_init());
    let f = files(&figs);
    for want in [
        "loss_curves.png",
        "train_layers.png",
        "symmetry.png",
        "act_std.png",
    ] {
        assert!(f.contains(&want), "missing {want} in {f:?}");
    }
    // Training figures come first: the loss is the headline.
    assert_eq!(f[0], "loss_curves.png");
    assert!(!f.contains(&"coord_check.png") && !f.contains(&"learning_time.png"));
    assert!(!f.contains(&"attention_training.png"), "{f:?}");
    let figs = render_checked("attention_training", &synth::train::attention_training());
    assert!(files(&figs).contains(&"attention_training.png"));
    let figs = render_checked("coord_check", &synth::train::coord_check());
    assert!(files(&figs).contains(&"coord_check.png"));
    // No constant init: no symmetry figure.
    assert!(!files(&figs).contains(&"symmetry.png"));
    let figs = render_checked("saxe", &synth::train::saxe());
    assert!(files(&figs).contains(&"learning_time.png"));
    // Step-0 documents have none of them.
    let figs = render_checked("no_training", &synth::init_impact());
    assert!(
        !files(&figs)
            .iter()
            .any(|f| f.contains("loss") || f.contains("train"))
    );
}
