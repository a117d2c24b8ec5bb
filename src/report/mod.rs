//! Everything written to the output folder: results (JSON/CSV), PNG figures
//! and the HTML report. Re-plotting reads `results.json` only.

pub mod html;
pub mod plots;
mod training_table;

use crate::results::ResultsDoc;
use std::path::Path;

/// Why the report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Plot(#[from] plots::PlotError),
    #[error("writing the HTML report: {0}")]
    Html(#[from] std::io::Error),
}

/// Renders every figure and `report.html` into `dir`.
pub fn render(
    doc: &ResultsDoc,
    dir: &Path,
    images: html::Images,
) -> Result<Vec<plots::Figure>, ReportError> {
    let figures = plots::render_all(doc, dir)?;
    html::write_report(doc, &figures, dir, images)?;
    Ok(figures)
}
