//! The activation × init grid (`panels.png`): one panel per activation,
//! one line per init, as in the classic "Xavier vs He per activation" figure.

use super::data::short_key;
use super::data::{Ctx, Series, layer_series, max_layer, param, show_value, theory_series};
use super::layers::{ACT_STD_METRIC, push_marker_keys};
use super::layout::{Key, LEGEND_W, frame, legend, notes};
use super::lines::{Drawn, Panel, draw_panel, fit_y};
use super::scale::Axis;
use super::style::SeriesStyle;
use super::{Area, DrawError, Job};
use crate::results::RunResult;

/// The activation × init grid: one panel per activation, one line per init.
pub(super) fn job<'a>(ctx: &'a Ctx<'a>) -> Option<Job<'a>> {
    let grid = ActInitGrid::detect(ctx)?;
    let rows = grid.acts.len().min(MAX_PANELS).div_ceil(grid.cols());
    let height = (rows as u32 * 470 + 150).max(900);
    Some(Job::new(
        "panels.png",
        "Activation std per layer, by activation and init",
        "Each panel is one activation: the init whose line stays flat near 1 suits it (e.g. Xavier for tanh, He for ReLU); dashed: theory.",
        (1800, height),
        move |root| grid.draw(ctx, root),
    ))
}

const MAX_PANELS: usize = 9;

struct ActInitGrid<'a> {
    act_key: String,
    /// Display name of the init dimension ("variant" or the param key).
    init_name: String,
    acts: Vec<String>,
    inits: Vec<String>,
    /// (activation, init, run) for every run that has both.
    cells: Vec<(usize, usize, &'a RunResult)>,
}

impl<'a> ActInitGrid<'a> {
    fn detect(ctx: &'a Ctx<'a>) -> Option<ActInitGrid<'a>> {
        let act = ctx
            .varying
            .iter()
            .find(|p| p.key.ends_with("activation") && !p.numeric)?;
        let strict = |k: &str| {
            k == "init" || k.ends_with(".init") || k == "init.scheme" || k.ends_with(".init.scheme")
        };
        let loose = |k: &str| k.ends_with("init") || k.ends_with("init.scheme");
        let init_param = ctx.varying.iter().find(|p| strict(&p.key)).or_else(|| {
            ctx.varying
                .iter()
                .find(|p| loose(&p.key) && p.key != act.key)
        });
        let init_of = |r: &RunResult| -> Option<String> {
            match init_param {
                Some(p) => param(r, &p.key).map(show_value),
                None => r.variant.clone(),
            }
        };
        let mut acts: Vec<String> = Vec::new();
        let mut inits: Vec<String> = Vec::new();
        let mut cells = Vec::new();
        for run in &ctx.doc.runs {
            let (Some(a), Some(i)) = (param(run, &act.key).map(show_value), init_of(run)) else {
                continue;
            };
            let ai = index_of(&mut acts, a);
            let ii = index_of(&mut inits, i);
            cells.push((ai, ii, run));
        }
        if acts.len() < 2 || inits.len() < 2 {
            return None;
        }
        let init_name = init_param
            .map(|p| p.key.clone())
            .unwrap_or_else(|| "variant".into());
        Some(ActInitGrid {
            act_key: act.key.clone(),
            init_name,
            acts,
            inits,
            cells,
        })
    }

    fn cols(&self) -> usize {
        match self.acts.len().min(MAX_PANELS) {
            n if n <= 3 => n,
            4 => 2,
            _ => 3,
        }
    }

    fn draw(&self, ctx: &Ctx, root: &Area) -> Result<(), DrawError> {
        let title = "Activation std per layer: init × activation";
        let f = frame(root, title, &ctx.subtitle, LEGEND_W)?;
        let shown = self.acts.len().min(MAX_PANELS);
        let cols = self.cols();
        let areas = f.body.split_evenly((shown.div_ceil(cols), cols));
        let styles: Vec<SeriesStyle> = self
            .inits
            .iter()
            .enumerate()
            .map(|(i, l)| SeriesStyle::categorical(i, l.clone()))
            .collect();
        let mut all: Vec<Vec<Series>> = Vec::new();
        let mut repeats = false;
        for ai in 0..shown {
            let mut row = Vec::new();
            for (ii, style) in styles.iter().enumerate() {
                let runs: Vec<&RunResult> = self
                    .cells
                    .iter()
                    .filter(|c| c.0 == ai && c.1 == ii)
                    .map(|c| c.2)
                    .collect();
                if runs.is_empty() {
                    continue;
                }
                repeats |= runs.len() > 1;
                let mut s = layer_series(style.clone(), &runs, ACT_STD_METRIC, true);
                s.theory = theory_series(&runs, |p| &p.act_std, 1.0);
                row.push(s);
            }
            all.push(row);
        }
        let flat: Vec<Series> = all.iter().flatten().cloned().collect();
        let y = fit_y(&flat, true, &[1.0]);
        let runs: Vec<&RunResult> = self.cells.iter().map(|c| c.2).collect();
        let x = Axis::layers(0, max_layer(&runs));
        let mut bad = Drawn::default();
        for (ai, (series, area)) in all.iter().zip(&areas).enumerate() {
            let panel = Panel {
                title: format!("{} = {}", short_key(&self.act_key), self.acts[ai]),
                x_desc: "layer".into(),
                y_desc: "activation std (log scale)".into(),
                x: x.clone(),
                y: y.clone(),
                series,
                reference: Some(1.0),
                shade: None,
            };
            bad.add(draw_panel(area, &panel)?);
        }
        let mut keys = vec![Key::Heading(short_key(&self.init_name).into())];
        keys.extend(styles.into_iter().map(Key::Series));
        keys.push(Key::Heading(String::new()));
        if bad.theory {
            keys.push(Key::Theory);
        }
        if repeats {
            keys.push(Key::Band("±1 std over runs".into()));
        }
        keys.push(Key::Reference("reference: 1".into()));
        push_marker_keys(&mut keys, bad);
        legend(&f.legend, &keys, 12)?;
        let mut info = Vec::new();
        if self.acts.len() > MAX_PANELS {
            info.push(format!(
                "showing {MAX_PANELS} of {} activations",
                self.acts.len()
            ));
        }
        notes(&f.footer, &bad.notes(), &info)
    }
}

fn index_of(list: &mut Vec<String>, v: String) -> usize {
    match list.iter().position(|x| *x == v) {
        Some(i) => i,
        None => {
            list.push(v);
            list.len() - 1
        }
    }
}
