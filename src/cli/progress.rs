//! The progress bar of `run`.

use initscope::runner::Progress;
use std::io::IsTerminal;

/// A progress bar over runs, hidden when stdout is not a terminal, with
/// `--quiet`, or without colour when NO_COLOR is set.
pub struct Bar(Option<indicatif::ProgressBar>);

impl Bar {
    pub fn new(quiet: bool) -> Bar {
        let show = !quiet && std::io::stdout().is_terminal();
        Bar(show.then(indicatif::ProgressBar::hidden))
    }
}

impl Progress for Bar {
    fn start(&mut self, total: usize) {
        if let Some(b) = &self.0 {
            let color = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
            let tpl = if color {
                "{spinner:.cyan} [{bar:30.cyan/blue}] {pos}/{len} {elapsed_precise} {msg}"
            } else {
                "{spinner} [{bar:30}] {pos}/{len} {elapsed_precise} {msg}"
            };
            b.set_length(total as u64);
            if let Ok(style) = indicatif::ProgressStyle::with_template(tpl) {
                b.set_style(style.progress_chars("=> "));
            }
            b.set_draw_target(indicatif::ProgressDrawTarget::stdout());
        }
    }
    fn run_started(&mut self, _: usize, label: &str) {
        if let Some(b) = &self.0 {
            b.set_message(label.to_string());
        }
    }
    fn run_finished(&mut self, _: usize, _: bool) {
        if let Some(b) = &self.0 {
            b.inc(1);
        }
    }
    fn note(&mut self, message: &str) {
        eprintln!("note: {message}");
    }

    fn finish(&mut self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
}
