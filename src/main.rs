//! The initscope command line: argument parsing, progress, tables and exit
//! codes. All the work is in the library.

mod cli;

use anyhow::Result;
use clap::{Parser, Subcommand};
use initscope::gpu::{BackendChoice, GpuOptions};
use initscope::runner::{RunError, RunRequest};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "initscope",
    version,
    about = "Weight-initialization and gradient-flow experiments on the GPU",
    after_help = "Exit codes: 0 success; 2 usage or manifest error (nothing was run); \
1 failure while running (finished runs are kept).
Environment: NO_COLOR disables colour; WGPU_BACKEND and WGPU_ADAPTER_NAME pick the adapter.
Start with: initscope run experiments/quickstart.json"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// `--backend`: the wgpu backend to use.
#[derive(Clone, Copy, clap::ValueEnum)]
enum BackendArg {
    Vulkan,
    Metal,
    Dx12,
    Gl,
}

impl BackendArg {
    fn choice(self) -> BackendChoice {
        match self {
            BackendArg::Vulkan => BackendChoice::Vulkan,
            BackendArg::Metal => BackendChoice::Metal,
            BackendArg::Dx12 => BackendChoice::Dx12,
            BackendArg::Gl => BackendChoice::Gl,
        }
    }
}

#[derive(clap::Args, Clone, Default)]
struct AdapterArgs {
    /// Backend to use (default: all, or WGPU_BACKEND).
    #[arg(long, value_enum)]
    backend: Option<BackendArg>,
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
            backend: self.backend.map(BackendArg::choice),
            adapter: self.adapter.clone(),
            fallback: self.fallback,
            max_binding_bytes: self.max_binding_mib.map(|m| m << 20),
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Run a manifest: every run on the GPU, then results.json, summary.csv, figures and report.html.
    #[command(after_help = "Examples:
  initscope run experiments/quickstart.json
  initscope run experiments/init-impact.json --out /tmp/ii --seed 7 --repeats 3
  initscope run experiments/lsuv.json --export-weights --self-contained
  initscope run experiments/std-sweep.json --resume --quiet")]
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
        /// Embed the figures in report.html: one file to send or attach.
        #[arg(long)]
        self_contained: bool,
        #[command(flatten)]
        adapter: AdapterArgs,
    },
    /// Check a manifest and print the expanded plan with memory against the adapter's limits.
    #[command(after_help = "Examples:
  initscope validate experiments/std-sweep.json
  initscope validate experiments/init-impact.json --repeats 5 --max-binding-mib 64")]
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
    #[command(after_help = "Examples:
  initscope devices
  initscope devices --json --backend vulkan")]
    Devices {
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        adapter: AdapterArgs,
    },
    /// Benchmark fills, init kernels, GEMM and full steps on the chosen adapter.
    #[command(after_help = "Examples:
  initscope bench --quick
  initscope bench --tune --json bench.json
  initscope bench --json - > bench.json")]
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
    /// Regenerate every figure, layers.csv and report.html from a results.json alone.
    #[command(after_help = "Examples:
  initscope plot results/init-impact/results.json
  initscope plot results/init-impact/results.json --out /tmp/figs --self-contained")]
    Plot {
        results: PathBuf,
        /// Output folder (default: the folder of results.json).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Embed the figures in report.html: one file to send or attach.
        #[arg(long)]
        self_contained: bool,
    },
    /// Print a shell completion script.
    #[command(after_help = "Examples:
  initscope completions bash > ~/.local/share/bash-completion/completions/initscope
  initscope completions zsh > ~/.zfunc/_initscope
  initscope completions fish > ~/.config/fish/completions/initscope.fish
  initscope completions powershell >> $PROFILE")]
    Completions {
        /// The shell: bash, zsh, fish or powershell (also elvish).
        shell: clap_complete::Shell,
    },
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
            self_contained,
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
                self_contained,
                gpu: adapter.options(),
            };
            cli::commands::run(&req)
        }
        Command::Validate {
            manifest,
            seed,
            repeats,
            adapter,
        } => cli::commands::validate(&manifest, seed, repeats, &adapter.options()),
        Command::Devices { json, adapter } => cli::commands::devices(json, &adapter.options()),
        Command::Plot {
            results,
            out,
            self_contained,
        } => cli::commands::plot(&results, out, self_contained),
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "initscope", &mut std::io::stdout());
            Ok(())
        }
        Command::Bench {
            json,
            quick,
            tune,
            adapter,
        } => cli::commands::bench(json, quick, tune, &adapter.options()),
    }
}
