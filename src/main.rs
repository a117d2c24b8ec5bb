//! The initscope command line: argument parsing, progress, tables and exit
//! codes. All the work is in the library.

mod cli_table;

use anyhow::Result;
use clap::{Parser, Subcommand};
use initscope::gpu::{self, BackendChoice, GpuOptions};
use initscope::manifest::PlanOverrides;
use initscope::runner::{self, Progress, RunError, RunRequest};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "initscope",
    version,
    about = "Weight-initialization and gradient-flow experiments on the GPU"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args, Clone, Default)]
struct AdapterArgs {
    /// Backend to use (default: all, or WGPU_BACKEND).
    #[arg(long, value_enum)]
    backend: Option<BackendChoice>,
    /// Substring of the adapter name (default: WGPU_ADAPTER_NAME).
    #[arg(long)]
    adapter: Option<String>,
    /// Force the software fallback adapter.
    #[arg(long)]
    fallback: bool,
    /// Pretend the adapter's largest storage binding is this many MiB (tests batch chunking).
    #[arg(long, value_name = "MIB")]
    max_binding_mib: Option<u64>,
}

impl AdapterArgs {
    fn options(&self) -> GpuOptions {
        GpuOptions {
            backend: self.backend,
            adapter: self.adapter.clone(),
            fallback: self.fallback,
            max_binding_bytes: self.max_binding_mib.map(|m| m << 20),
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Run a manifest: every run on the GPU, then results.json, summary.csv, figures and report.html.
    Run {
        manifest: PathBuf,
        /// Output folder (default results/<name>/).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Override the manifest's seed.
        #[arg(long)]
        seed: Option<u64>,
        /// Override the manifest's repeats.
        #[arg(long)]
        repeats: Option<u32>,
        /// Also write weights/<run-id>.safetensors with the exact tensors studied.
        #[arg(long)]
        export_weights: bool,
        /// Skip runs whose results are already in the output folder (same resolved configuration).
        #[arg(long)]
        resume: bool,
        /// No progress bar and no table.
        #[arg(long, short)]
        quiet: bool,
        #[command(flatten)]
        adapter: AdapterArgs,
    },
    /// Check a manifest and print the expanded plan with memory against the adapter's limits.
    Validate {
        manifest: PathBuf,
        #[arg(long)]
        seed: Option<u64>,
        #[arg(long)]
        repeats: Option<u32>,
        #[command(flatten)]
        adapter: AdapterArgs,
    },
    /// List every adapter with its limits and optional features.
    Devices {
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        adapter: AdapterArgs,
    },
    /// Benchmark fills, init kernels, GEMM and full steps on the chosen adapter.
    Bench {
        /// Also write the report as JSON ("-" for stdout).
        #[arg(long)]
        json: Option<PathBuf>,
        /// Smaller sizes and fewer repetitions.
        #[arg(long)]
        quick: bool,
        /// First time every GEMM variant on this adapter and cache the fastest.
        #[arg(long)]
        tune: bool,
        #[command(flatten)]
        adapter: AdapterArgs,
    },
    /// Print the manifest's JSON Schema (draft 2020-12), for editors:
    /// `initscope schema > experiments/manifest.schema.json`.
    Schema,
    /// Regenerate every figure and report.html from a results.json alone.
    Plot {
        results: PathBuf,
        /// Output folder (default: the folder of results.json).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// Prints a line to stdout; a closed pipe (`| head`) is not an error.
macro_rules! out {
    ($($t:tt)*) => {{
        let _ = writeln!(std::io::stdout().lock(), $($t)*);
    }};
}

fn main() {
    let cli = Cli::parse();
    let code = match dispatch(cli) {
        Ok(()) => 0,
        Err(e) => {
            let code = e.downcast_ref::<RunError>().map_or(1, RunError::exit_code);
            eprintln!("Error: {e:#}");
            code
        }
    };
    std::process::exit(code);
}

fn dispatch(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Run {
            manifest,
            out,
            seed,
            repeats,
            export_weights,
            resume,
            quiet,
            adapter,
        } => {
            let req = RunRequest {
                manifest,
                out,
                seed,
                repeats,
                export_weights,
                resume,
                quiet,
                gpu: adapter.options(),
            };
            run(&req)
        }
        Command::Validate {
            manifest,
            seed,
            repeats,
            adapter,
        } => validate(&manifest, seed, repeats, &adapter.options()),
        Command::Devices { json, adapter } => devices(json, &adapter.options()),
        Command::Plot { results, out } => plot(&results, out),
        Command::Schema => {
            print!("{}", initscope::manifest::json_schema_text());
            Ok(())
        }
        Command::Bench {
            json,
            quick,
            tune,
            adapter,
        } => bench(json, quick, tune, &adapter.options()),
    }
}

/// A progress bar over runs, hidden when stdout is not a terminal, with
/// `--quiet`, or without colour when NO_COLOR is set.
struct Bar(Option<indicatif::ProgressBar>);

impl Bar {
    fn new(quiet: bool) -> Bar {
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
    fn finish(&mut self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
}

fn run(req: &RunRequest) -> Result<()> {
    // Manifest errors are reported before the GPU is even opened.
    let o = PlanOverrides {
        seed: req.seed,
        repeats: req.repeats,
    };
    let plan = runner::load_plan(&req.manifest, &o)?;
    let gpu = runner::open_gpu(&req.gpu)?;
    let mut bar = Bar::new(req.quiet);
    let outcome = runner::execute(req, &gpu, plan, &mut bar)?;
    if !req.quiet {
        out!("{}", cli_table::runs_table(&outcome.doc));
        out!(
            "{} runs ({} run, {} resumed) on {} ({}). Results: {}",
            outcome.doc.runs.len(),
            outcome.ran,
            outcome.skipped,
            outcome.doc.adapter.name,
            outcome.doc.adapter.backend,
            outcome.dir.join("report.html").display()
        );
    }
    Ok(())
}

fn validate(
    path: &std::path::Path,
    seed: Option<u64>,
    repeats: Option<u32>,
    opts: &GpuOptions,
) -> Result<()> {
    let runner::Plan {
        manifest: m, runs, ..
    } = runner::load_plan(path, &PlanOverrides { seed, repeats })?;
    out!("{}: \"{}\" — {} runs", path.display(), m.name, runs.len());
    if !m.description.is_empty() {
        out!("  {}", m.description);
    }
    let gpu = runner::open_gpu(opts).ok();
    let limit = gpu.as_ref().map(|g| g.max_binding_bytes());
    let mut bad = Vec::new();
    for r in &runs {
        let plan = initscope::exec::memory_plan(r);
        let total: u64 = plan.iter().map(|t| t.bytes).sum();
        let largest = plan.iter().max_by_key(|t| t.bytes);
        let fits = match (&gpu, largest) {
            (Some(g), Some(_)) => initscope::exec::check_fits(g, r)
                .err()
                .map(|e| e.to_string()),
            _ => None,
        };
        let mark = if fits.is_some() { "✗" } else { "✓" };
        out!(
            "  {mark} {} {:<40} {:>10} (largest: {} {})",
            r.id,
            r.label,
            gpu::human_bytes(total),
            largest.map_or("-", |t| t.name.as_str()),
            largest.map_or(String::new(), |t| gpu::human_bytes(t.bytes))
        );
        if let Some(e) = fits {
            bad.push(format!("{} ({}): {e}", r.id, r.label));
        }
    }
    match (&gpu, limit) {
        (Some(g), Some(l)) => out!(
            "Adapter: {} — largest binding {}",
            g.info.name,
            gpu::human_bytes(l)
        ),
        _ => out!("No adapter found: sizes were not checked against limits."),
    }
    if !bad.is_empty() {
        return Err(RunError::Usage(format!(
            "{} run(s) cannot fit this adapter:\n  {}",
            bad.len(),
            bad.join("\n  ")
        ))
        .into());
    }
    Ok(())
}

fn devices(json: bool, opts: &GpuOptions) -> Result<()> {
    let list = gpu::list_adapters(opts);
    if json {
        out!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    if list.is_empty() {
        anyhow::bail!(gpu::GpuError::NoAdapter {
            wanted: "any backend".into(),
            seen: vec![]
        });
    }
    for a in &list {
        out!(
            "{} ({}, {}) driver: {} {}",
            a.name,
            a.backend,
            a.device_type,
            a.driver,
            a.driver_info
        );
        out!(
            "  storage binding {}, buffer {}, workgroup x ≤ {}, invocations ≤ {}, workgroups/dim ≤ {}",
            gpu::human_bytes(a.max_storage_buffer_binding_size),
            gpu::human_bytes(a.max_buffer_size),
            a.max_compute_workgroup_size_x,
            a.max_compute_invocations_per_workgroup,
            a.max_compute_workgroups_per_dimension
        );
        out!(
            "  features: {}",
            if a.features.is_empty() {
                "none".into()
            } else {
                a.features.join(", ")
            }
        );
    }
    Ok(())
}

fn plot(results: &std::path::Path, out: Option<PathBuf>) -> Result<()> {
    let doc = initscope::results::files::read_results(results).map_err(RunError::Usage)?;
    let dir = out.unwrap_or_else(|| results.parent().map(PathBuf::from).unwrap_or_default());
    initscope::io::ensure_writable(&dir)
        .map_err(|e| RunError::Usage(format!("{}: {e}", dir.display())))?;
    let figures = initscope::report::render(&doc, &dir)?;
    out!(
        "{} figures and report.html written to {}",
        figures.len(),
        dir.display()
    );
    Ok(())
}

fn bench(json: Option<PathBuf>, quick: bool, tune: bool, opts: &GpuOptions) -> Result<()> {
    let gpu = runner::open_gpu(opts)?;
    let to_stdout = json.as_deref() == Some(std::path::Path::new("-"));
    let say = |s: String| {
        if to_stdout {
            eprintln!("{s}");
        } else {
            out!("{s}");
        }
    };
    say(format!(
        "Adapter: {} ({:?}, {:?})",
        gpu.info.name, gpu.info.backend, gpu.info.device_type
    ));
    if tune {
        let size = if quick { 512 } else { 1024 };
        let entry = initscope::tune::tune(&gpu, size, if quick { 2 } else { 5 })?;
        for (name, gflops) in &entry.candidates {
            say(format!(
                "  tune {name:<24} {gflops:>8.1} GFLOP/s at {size}³"
            ));
        }
        say(format!(
            "  chosen: {} (cached for this adapter and driver)",
            entry.variant.describe()
        ));
    }
    say(format!("GEMM kernel: {}", gpu.gemm_variant().describe()));
    say(format!(
        "{:<44} {:>10} {:>10} {:>10}  throughput",
        "benchmark", "median ms", "min ms", "max ms"
    ));
    let report = initscope::bench::run(&gpu, initscope::bench::BenchOptions { quick }, &mut |m| {
        let tp: Vec<String> = m
            .throughput
            .iter()
            .map(|(v, u)| format!("{v:.2} {u}"))
            .collect();
        say(format!(
            "{:<44} {:>10.3} {:>10.3} {:>10.3}  {}",
            m.name,
            m.median_ms,
            m.min_ms,
            m.max_ms,
            tp.join(", ")
        ));
    })?;
    if let Some(rss) = report.peak_rss_bytes {
        say(format!("peak process RSS: {}", gpu::human_bytes(rss)));
    }
    if let Some(path) = json {
        let text = serde_json::to_string_pretty(&report)?;
        if to_stdout {
            out!("{text}");
        } else {
            runner::write_file(&path, text.as_bytes())?;
        }
    }
    Ok(())
}
