//! The report's training table: per trained run the loss at init and at
//! the end, and the steps until the loss fell to 10% of its initial value.

use super::html::{esc, num};
use crate::results::RunResult;
use std::fmt::Write as _;

/// Per training run: the loss at init and at the end, and the learning
/// time (steps until the loss is 10% of its initial value).
pub(super) fn training_table(h: &mut String, runs: &[RunResult]) {
    let trained: Vec<(&RunResult, &crate::results::TrainRecord)> = runs
        .iter()
        .filter_map(|r| Some((r, r.train.as_ref()?)))
        .collect();
    if trained.is_empty() {
        return;
    }
    h.push_str(
        "<section id=\"training\">\n<h2>Training</h2>\n<div class=\"scroll\"><table>\n<thead><tr>\
         <th>Run</th><th>Steps</th><th>Loss at init</th><th>Final loss</th>\
         <th title=\"first recorded step with a loss at most 10% of the initial loss\">Steps to 10%</th></tr></thead>\n<tbody>\n",
    );
    for (r, t) in trained {
        let (Some(first), Some(last)) = (t.steps.first(), t.steps.last()) else {
            continue;
        };
        let learned = t
            .steps_to(0.1 * first.loss)
            .map_or_else(|| "not reached".to_string(), |k| k.to_string());
        let bad = if last.loss.is_finite() {
            ""
        } else {
            " class=\"bad\""
        };
        let _ = writeln!(
            h,
            "<tr><td class=\"label\">{}</td><td>{}</td><td>{}</td><td{bad}>{}</td><td>{learned}</td></tr>",
            esc(&r.label),
            last.step,
            num(first.loss),
            num(last.loss),
        );
    }
    h.push_str("</tbody>\n</table></div>\n</section>\n");
}
