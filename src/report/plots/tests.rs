use super::synth;
use super::*;
use std::io::BufReader;

/// A fresh, empty folder for one test's output, private to this process.
pub(crate) fn out_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("initscope-report-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Removes a test's output folder unless INITSCOPE_KEEP_FIGURES is set
/// (to look at the figures: they stay in the temp dir, named by test).
pub(crate) fn done(dir: &Path) {
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
fn the_bold_face_is_really_used() {
    register_fonts().unwrap();
    let n = style::font(30)
        .box_size("Activation std per layer")
        .unwrap();
    let b = style::bold(30)
        .box_size("Activation std per layer")
        .unwrap();
    assert!(b.0 > n.0, "{n:?} {b:?}");
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
            .map(|v| super::data::show_value(&v))
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
