//! The command line's pieces beside the clap types in `main.rs`: the
//! subcommands, the progress bar and the runs table.

pub mod commands;
pub mod progress;
pub mod sweep;
pub mod table;

/// Prints a line to stdout; a closed pipe (`| head`) is not an error.
#[macro_export]
macro_rules! out {
    ($($t:tt)*) => {{
        let _ = writeln!(std::io::stdout().lock(), $($t)*);
    }};
}
