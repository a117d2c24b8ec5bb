//! The initscope command line: argument parsing, progress, tables and exit
//! codes. All the work is in the library.

mod cli;

use anyhow::Result;
use clap::{Parser, Subcommand};
use initscope::gpu::{BackendChoice, GpuOptions};
use initscope::runner::{RunError, RunRequest};
use initscope::shard::Shard;
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
    /// The same flags as `run` arguments (for the Slurm array tasks).
    fn to_args(&self) -> Vec<String> {
        let mut v = Vec::new();
        if let Some(b) = self.backend {
            let name = match b {
                BackendArg::Vulkan => "vulkan",
                BackendArg::Metal => "metal",
                BackendArg::Dx12 => "dx12",
                BackendArg::Gl => "gl",
            };
            v.extend(["--backend".to_string(), name.to_string()]);
        }
        if let Some(a) = &self.adapter {
            v.extend(["--adapter".to_string(), a.clone()]);
        }
        if self.fallback {
            v.push("--fallback".into());
        }
        if let Some(m) = self.max_binding_mib {
            v.extend(["--max-binding-mib".to_string(), m.to_string()]);
        }
        v
    }

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
  initscope run experiments/std-sweep.json --resume --quiet
  initscope run experiments/std-sweep.json --shard 2/4")]
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
        /// Run only the K-th of N parts of the plan, balanced by estimated cost
        /// (default folder results/<name>/shard-K-of-N/); `merge` joins them.
        #[arg(long, value_name = "K/N")]
        shard: Option<Shard>,
        /// No progress bar and no table.
        #[arg(long, short)]
        quiet: bool,
        /// Embed the figures in report.html: one file to send or attach.
        #[arg(long)]
        self_contained: bool,
        #[command(flatten)]
        adapter: AdapterArgs,
    },
    /// Merge the shard folders of one plan into OUT, as an unsharded run would have written it.
    #[command(after_help = "Examples:
  initscope merge results/std-sweep results/std-sweep/shard-*-of-4
  initscope merge /tmp/sweep /scratch/a/shard-1-of-2 /scratch/b/shard-2-of-2 --self-contained")]
    Merge {
        /// The merged folder (e.g. results/<name>).
        out: PathBuf,
        /// The shard folders (`run --shard K/N` outputs), every one of the plan.
        #[arg(required = true)]
        parts: Vec<PathBuf>,
        /// No table.
        #[arg(long, short)]
        quiet: bool,
        /// Embed the figures in report.html: one file to send or attach.
        #[arg(long)]
        self_contained: bool,
    },
    /// Write (and with --submit, submit) a Slurm job array of N shards and a merge job after it.
    #[command(after_help = "Examples:
  initscope slurm experiments/std-sweep.json --array 8
  initscope slurm experiments/std-sweep.json --array 8 --partition gpu --time 1:00:00 --submit
  initscope slurm experiments/lsuv.json --array 4 --gpus-per-task 0 --out /scratch/$USER/lsuv --submit")]
    Slurm {
        manifest: PathBuf,
        /// Number of array tasks: one shard of the plan each.
        #[arg(long, value_name = "N")]
        array: usize,
        /// Slurm partition of both jobs.
        #[arg(long)]
        partition: Option<String>,
        /// GPUs per array task; 0 requests none.
        #[arg(long, default_value_t = 1, value_name = "G")]
        gpus_per_task: u32,
        /// Slurm time limit of each job (e.g. 30, 2:00:00, 1-12:00:00).
        #[arg(long)]
        time: Option<String>,
        /// The sweep's folder (default results/<name>/): shard-K-of-N/, the merged results, slurm/.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Submit both jobs with sbatch and print their ids.
        #[arg(long)]
        submit: bool,
        /// Passed to every shard's `run`.
        #[arg(long)]
        seed: Option<u64>,
        /// Passed to every shard's `run`.
        #[arg(long)]
        repeats: Option<u32>,
        /// Passed to every shard's `run`.
        #[arg(long)]
        export_weights: bool,
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
    /// Print the manifest's JSON Schema (draft 2020-12), for editors.
    #[command(after_help = "Examples:
  initscope schema > experiments/manifest.schema.json
  initscope schema | python3 -m json.tool | less")]
    Schema,
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
            let code = e.downcast_ref::<RunError>().map_or_else(
                || {
                    e.downcast_ref::<initscope::slurm::SlurmError>()
                        .map_or(1, initscope::slurm::SlurmError::exit_code)
                },
                RunError::exit_code,
            );
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
            shard,
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
                shard,
            };
            cli::commands::run(&req)
        }
        Command::Merge {
            out,
            parts,
            quiet,
            self_contained,
        } => cli::sweep::merge(&out, &parts, quiet, self_contained),
        Command::Slurm {
            manifest,
            array,
            partition,
            gpus_per_task,
            time,
            out,
            submit,
            seed,
            repeats,
            export_weights,
            adapter,
        } => {
            let mut run_args = Vec::new();
            if let Some(s) = seed {
                run_args.extend(["--seed".to_string(), s.to_string()]);
            }
            if let Some(r) = repeats {
                run_args.extend(["--repeats".to_string(), r.to_string()]);
            }
            if export_weights {
                run_args.push("--export-weights".into());
            }
            run_args.extend(adapter.to_args());
            let a = cli::sweep::SlurmArgs {
                manifest,
                array,
                partition,
                gpus_per_task,
                time,
                out,
                submit,
                overrides: initscope::manifest::PlanOverrides { seed, repeats },
                run_args,
            };
            cli::sweep::slurm(&a)
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
        Command::Schema => {
            print!("{}", initscope::manifest::json_schema_text());
            Ok(())
        }
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
