//! PNG figures of a results document, drawn with plotters' bitmap backend
//! and the embedded DejaVu Sans (no system fonts needed).
//!
//! Every figure is at least 1200×800, has a title, labelled axes, a legend
//! outside the data, an Okabe–Ito (or viridis / RdBu) palette, and shows
//! values a log axis cannot hold (0, NaN, Inf) as explicit markers with a
//! note, never by dropping them.

mod attention;
mod attention_sweep;
mod blocks;
mod data;
mod heatmap;
mod hist;
mod jacobian;
mod layers;
mod layout;
mod lines;
mod panels;
mod scale;
mod scaling;
mod style;
mod sweep;
mod train_attention;
mod training;

use crate::results::ResultsDoc;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

/// A rendered figure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Figure {
    /// File name inside the output folder, e.g. `act_std.png`.
    pub file: String,
    pub title: String,
    /// One line: what to look for.
    pub caption: String,
}

/// A figure that could not be written; names the file.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    #[error("cannot create the output folder {}: {source}", dir.display())]
    CreateDir {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("{file}: cannot write the figure: {source}")]
    Io {
        file: String,
        source: std::io::Error,
    },
    #[error("{file}: drawing failed: {source}")]
    Draw { file: String, source: DrawError },
    #[error("{file}: the plotting library panicked: {message}")]
    Panic { file: String, message: String },
    #[error("cannot load the embedded font: {0}")]
    Font(String),
}

/// Any error of the drawing code (plotters' errors are generic over the backend).
pub type DrawError = Box<dyn std::error::Error + Send + Sync>;

/// A drawing area in pixel coordinates.
type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;

/// A figure to draw: its description, its size and the drawing code.
struct Job<'a> {
    figure: Figure,
    size: (u32, u32),
    draw: Box<DrawFn<'a>>,
}

/// The drawing code of a figure.
type DrawFn<'a> = dyn Fn(&Area) -> Result<(), DrawError> + 'a;

impl<'a> Job<'a> {
    fn new(
        file: &str,
        title: &str,
        caption: &str,
        size: (u32, u32),
        draw: impl Fn(&Area) -> Result<(), DrawError> + 'a,
    ) -> Job<'a> {
        let figure = Figure {
            file: file.into(),
            title: title.into(),
            caption: caption.into(),
        };
        Job {
            figure,
            size: (size.0.max(1200), size.1.max(800)),
            draw: Box::new(draw),
        }
    }
}

/// Renders every applicable figure of `doc` into `dir`; returns what it
/// wrote, in display order (headline figures of sweeps first).
pub fn render_all(doc: &ResultsDoc, dir: &Path) -> Result<Vec<Figure>, PlotError> {
    register_fonts()?;
    std::fs::create_dir_all(dir).map_err(|source| PlotError::CreateDir {
        dir: dir.to_path_buf(),
        source,
    })?;
    if doc.runs.is_empty() {
        return Ok(Vec::new());
    }
    let ctx = data::Ctx::new(doc);
    let mut jobs = Vec::new();
    // Training runs: what the network learned comes first.
    jobs.extend(training::jobs(&ctx));
    jobs.extend(train_attention::jobs(&ctx));
    jobs.extend(scaling::jobs(&ctx));
    jobs.extend(sweep::jobs(&ctx));
    jobs.extend(attention_sweep::jobs(&ctx));
    jobs.extend(panels::job(&ctx));
    jobs.extend(blocks::jobs(&ctx));
    jobs.extend(layers::jobs(&ctx));
    jobs.extend(hist::jobs(&ctx));
    jobs.extend(jacobian::jobs(&ctx));
    let mut written = Vec::with_capacity(jobs.len());
    for job in jobs {
        render(&job, dir)?;
        written.push(job.figure);
    }
    Ok(written)
}

/// Draws one job into a hidden temporary PNG next to the target, then
/// renames it into place, so a reader never sees a half-written figure.
fn render(job: &Job, dir: &Path) -> Result<(), PlotError> {
    let file = job.figure.file.clone();
    let tmp = dir.join(format!(".tmp-{file}"));
    let outcome =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| -> Result<(), DrawError> {
            let root = BitMapBackend::new(&tmp, job.size).into_drawing_area();
            (job.draw)(&root)?;
            root.present()?;
            Ok(())
        }));
    let result = match outcome {
        Ok(Ok(())) => std::fs::rename(&tmp, dir.join(&file)).map_err(|source| PlotError::Io {
            file: file.clone(),
            source,
        }),
        Ok(Err(source)) => Err(PlotError::Draw {
            file: file.clone(),
            source,
        }),
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(PlotError::Panic {
                file: file.clone(),
                message,
            })
        }
    };
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Registers DejaVu Sans (regular and bold) as plotters' "sans-serif", once.
pub(crate) fn register_fonts() -> Result<(), PlotError> {
    static FONTS: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    FONTS
        .get_or_init(|| {
            use plotters::style::{FontStyle, register_font};
            register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular())
                .and_then(|_| register_font("sans-serif", FontStyle::Bold, dejavu::sans::bold()))
                .map_err(|_| "DejaVu Sans could not be parsed".to_string())
        })
        .clone()
        .map_err(PlotError::Font)
}
