//! The initscope command line.

use anyhow::Result;
use clap::{Parser, Subcommand};
use initscope::gpu::{self, BackendChoice, GpuOptions};

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
}

impl AdapterArgs {
    fn options(&self) -> GpuOptions {
        GpuOptions {
            backend: self.backend,
            adapter: self.adapter.clone(),
            fallback: self.fallback,
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// List every adapter with its limits and optional features.
    Devices {
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        adapter: AdapterArgs,
    },
}

fn main() {
    let cli = Cli::parse();
    let code = match run(cli) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("Error: {e:#}");
            1
        }
    };
    std::process::exit(code);
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Devices { json, adapter } => devices(json, &adapter.options()),
    }
}

fn devices(json: bool, opts: &GpuOptions) -> Result<()> {
    let list = gpu::list_adapters(opts);
    if json {
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    if list.is_empty() {
        anyhow::bail!(gpu::GpuError::NoAdapter {
            wanted: "any backend".into(),
            seen: vec![]
        });
    }
    for a in &list {
        println!(
            "{} ({}, {}) driver: {} {}",
            a.name, a.backend, a.device_type, a.driver, a.driver_info
        );
        println!(
            "  storage binding {}, buffer {}, workgroup x ≤ {}, invocations ≤ {}, workgroups/dim ≤ {}",
            gpu::human_bytes(a.max_storage_buffer_binding_size),
            gpu::human_bytes(a.max_buffer_size),
            a.max_compute_workgroup_size_x,
            a.max_compute_invocations_per_workgroup,
            a.max_compute_workgroups_per_dimension
        );
        println!(
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
