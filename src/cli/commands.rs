//! What each subcommand does, once its arguments are parsed.

use crate::out;
use anyhow::Result;
use initscope::bench::BenchOptions;
use initscope::gpu::{self, GpuOptions};
use initscope::manifest::PlanOverrides;
use initscope::report::html::Images;
use initscope::runner::{self, RunError, RunRequest};
use std::io::Write;
use std::path::PathBuf;

pub fn run(req: &RunRequest) -> Result<()> {
    // Manifest errors are reported before the GPU is even opened.
    let o = PlanOverrides {
        seed: req.seed,
        repeats: req.repeats,
    };
    let plan = runner::load_plan(&req.manifest, &o)?;
    if let Some(s) = req.shard {
        // A shard count above the run count is refused before the GPU opens.
        initscope::shard::split(&plan, s.count).map_err(RunError::from)?;
    }
    let gpu = runner::open_gpu(&req.gpu)?;
    let mut bar = super::progress::Bar::new(req.quiet);
    let outcome = runner::execute(req, &gpu, plan, &mut bar)?;
    if !req.quiet {
        out!("{}", super::table::runs_table(&outcome.doc));
        if let Some(s) = &outcome.doc.shard {
            out!(
                "Shard {}/{}: {} of the plan's {} runs. When every shard is done: initscope merge OUT SHARD_FOLDERS...",
                s.index,
                s.count,
                outcome.doc.runs.len(),
                outcome.plan_runs
            );
        }
        out!(
            "{} on {} ({}). Results: {}",
            footer_counts(outcome.ran, outcome.skipped),
            outcome.doc.adapter.name,
            outcome.doc.adapter.backend,
            outcome.dir.join("report.html").display()
        );
    }
    Ok(())
}

/// "Ran 3 runs", or with `--resume` "Ran 1 run, kept 2 finished earlier".
fn footer_counts(ran: usize, kept: usize) -> String {
    let runs = |n: usize| {
        if n == 1 {
            "1 run".to_string()
        } else {
            format!("{n} runs")
        }
    };
    match kept {
        0 => format!("Ran {}", runs(ran)),
        k => format!("Ran {}, kept {k} finished earlier", runs(ran)),
    }
}

pub fn validate(
    path: &std::path::Path,
    seed: Option<u64>,
    repeats: Option<u32>,
    opts: &GpuOptions,
) -> Result<()> {
    let plan = runner::load_plan(path, &PlanOverrides { seed, repeats })?;
    let (m, runs) = (&plan.manifest, &plan.runs);
    out!("{}: \"{}\" — {} runs", path.display(), m.name, runs.len());
    if !m.description.is_empty() {
        out!("  {}", m.description);
    }
    let gpu = runner::open_gpu(opts).ok();
    let limit = gpu.as_ref().map(|g| g.max_binding_bytes());
    let mut bad = Vec::new();
    for run in runs {
        let r = &run.spec;
        // Without an adapter, sizes are shown for one binding of any size.
        let limits = gpu.as_ref().map_or(
            initscope::model::memory::Limits {
                binding: u64::MAX,
                max_buffer: u64::MAX,
            },
            |g| initscope::exec::limits(g),
        );
        let tensors = run.model.memory_plan(limits);
        let total: u64 = tensors.iter().map(|t| t.bytes).sum();
        let largest = tensors.iter().max_by_key(|t| t.bytes);
        let fits = match &gpu {
            Some(_) => run.model.check_fits(limits).err(),
            None => None,
        };
        let mark = if fits.is_some() { "✗" } else { "✓" };
        let state = match run.model.optimizer_state_bytes() {
            0 => String::new(),
            b => format!(", optimizer state {}", gpu::human_bytes(b)),
        };
        out!(
            "  {mark} {} {:<40} {:>10} (largest: {} {}{state}) ~{:.2} GFLOP",
            r.id,
            r.label,
            gpu::human_bytes(total),
            largest.map_or("-", |t| t.name.as_str()),
            largest.map_or(String::new(), |t| gpu::human_bytes(t.bytes)),
            // The estimate `run --shard` balances by.
            run.model.cost().total() as f64 * 1e-9
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

pub fn devices(json: bool, opts: &GpuOptions) -> Result<()> {
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

pub fn plot(results: &std::path::Path, out: Option<PathBuf>, self_contained: bool) -> Result<()> {
    let doc = initscope::results::files::read_results(results).map_err(RunError::Usage)?;
    let dir = out.unwrap_or_else(|| results.parent().map(PathBuf::from).unwrap_or_default());
    initscope::io::ensure_writable(&dir)
        .map_err(|e| RunError::Usage(format!("{}: {e}", dir.display())))?;
    initscope::results::files::write_tidy(&dir, &doc)?;
    let images = if self_contained {
        Images::Embedded
    } else {
        Images::Linked
    };
    let figures = initscope::report::render(&doc, &dir, images)?;
    out!(
        "{} figures, layers.csv and report.html written to {}",
        figures.len(),
        dir.display()
    );
    Ok(())
}

/// What `initscope bench` measures besides its fixed suite.
pub struct BenchFlags {
    pub quick: bool,
    pub tune: bool,
    pub curves: bool,
}

pub fn bench(json: Option<PathBuf>, flags: BenchFlags, opts: &GpuOptions) -> Result<()> {
    let BenchFlags {
        quick,
        tune,
        curves,
    } = flags;
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
    let report = initscope::bench::run(&gpu, BenchOptions { quick }, &mut |m| {
        let mut tp: Vec<String> = m
            .throughput
            .iter()
            .map(|(v, u)| format!("{v:.2} {u}"))
            .collect();
        tp.extend(m.dispatches.map(|d| format!("{d} dispatches/step")));
        say(format!(
            "{:<44} {:>10.3} {:>10.3} {:>10.3}  {}",
            m.name,
            m.median_ms,
            m.min_ms,
            m.max_ms,
            tp.join(", ")
        ));
    })?;
    let mut report = report;
    if curves {
        report.curves = Some(bench_curves(&gpu, quick, &say)?);
    }
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

/// Measures and prints the cost curves of `bench --curves`.
fn bench_curves(
    gpu: &initscope::gpu::Gpu,
    quick: bool,
    say: &dyn Fn(String),
) -> Result<initscope::bench::curves::Curves> {
    say(format!(
        "{:<8} {:>6} {:>6} {:>10} {:>12} {:>11}",
        "curve", "width", "depth", "step ms", "GPU memory", "dispatches"
    ));
    let c = initscope::bench::curves::run(gpu, BenchOptions { quick }, &mut |p| {
        say(format!(
            "{:<8} {:>6} {:>6} {:>10.2} {:>12} {:>11}",
            "step",
            p.width,
            p.depth,
            p.step_ms,
            gpu::human_bytes(p.gpu_bytes),
            p.dispatches
        ))
    })?;
    for k in &c.curves {
        say(format!(
            "against {}: time ~ {0}^{:.2}, memory ~ {0}^{:.2} (batch {})",
            k.against,
            k.time_exponent,
            k.memory_exponent,
            k.points.first().map_or(0, |p| p.batch)
        ));
    }
    say(format!(
        "widest stack that fits this adapter's bindings (depth 10): {}",
        c.largest_width
    ));
    Ok(c)
}
