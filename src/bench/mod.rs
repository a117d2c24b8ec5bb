//! `initscope bench`: a fixed suite on the chosen adapter — Philox fills, init
//! kernels, GEMM in the three orientations, and full forward + backward +
//! statistics steps of linear and residual stacks — reporting the median, min and max of N timed runs
//! after a warm-up. Kernel timings use GPU timestamp queries where the
//! adapter has them, else the wall clock around submit + wait.

mod residual;

pub use residual::{RESIDUAL_STEP, residual_flops, residual_spec};

use crate::config::{RunConfig, RunSpec};
use crate::exec::init::encode as encode_init;
use crate::exec::{self, Session};
use crate::gpu::{Gpu, GpuError};
use crate::init::{self, Shape};
use crate::kernels::gemm::{Gemm, encode_gemm};
use crate::kernels::philox::{FillMode, Geometry, RawCounter, encode_fill};
use crate::model::build::build;
use crate::results::AdapterRecord;
use crate::rng::Draw;
use crate::rng::{Role, Stream};
use serde::Serialize;

pub mod curves;

/// Options of a benchmark run.
#[derive(Debug, Clone, Copy, Default)]
pub struct BenchOptions {
    /// Smaller sizes and fewer repetitions (CI, smoke tests).
    pub quick: bool,
}

/// One measured item.
#[derive(Debug, Clone, Serialize)]
pub struct Measurement {
    pub name: String,
    pub median_ms: f64,
    pub min_ms: f64,
    pub max_ms: f64,
    pub reps: usize,
    /// Throughput at the median: (value, unit), e.g. (61.2, "GFLOP/s").
    pub throughput: Vec<(f64, String)>,
    /// GPU memory initscope allocated for this item, where meaningful.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gpu_bytes: Option<u64>,
    /// Compute dispatches recorded per item (steps: per training step).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dispatches: Option<u64>,
}

/// The whole report (`--json`).
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub adapter: AdapterRecord,
    pub gemm_variant: String,
    /// "timestamp" or "wall".
    pub kernel_timer: String,
    pub results: Vec<Measurement>,
    /// Peak resident set size of the process (VmHWM), bytes.
    pub peak_rss_bytes: Option<u64>,
    /// Time and memory against width and depth (`--curves`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub curves: Option<curves::Curves>,
}

/// Measures `reps` executions of what `record` encodes, after one warm-up.
fn time_kernel(
    gpu: &Gpu,
    reps: usize,
    record: &dyn Fn(&mut wgpu::CommandEncoder) -> Result<(), GpuError>,
) -> Result<Vec<f64>, GpuError> {
    let ts = timestamps(gpu);
    let mut out = Vec::with_capacity(reps);
    for i in 0..=reps {
        let mut enc = gpu.device.create_command_encoder(&Default::default());
        if let Some((qs, _, _)) = &ts {
            enc.write_timestamp(qs, 0);
        }
        record(&mut enc)?;
        if let Some((qs, resolve, _)) = &ts {
            enc.write_timestamp(qs, 1);
            enc.resolve_query_set(qs, 0..2, resolve, 0);
        }
        let t = std::time::Instant::now();
        gpu.submit("benchmark", enc)?;
        gpu.wait()?;
        let wall = t.elapsed().as_secs_f64() * 1e3;
        let ms = match &ts {
            Some((_, resolve, period)) => {
                let ticks: Vec<u64> = gpu.read("timestamps", resolve, 0, 2)?;
                ticks[1].saturating_sub(ticks[0]) as f64 * f64::from(*period) / 1e6
            }
            None => wall,
        };
        if i > 0 {
            out.push(ms);
        }
    }
    Ok(out)
}

type Timestamps = (wgpu::QuerySet, wgpu::Buffer, f32);

fn timestamps(gpu: &Gpu) -> Option<Timestamps> {
    let need = wgpu::Features::TIMESTAMP_QUERY | wgpu::Features::TIMESTAMP_QUERY_INSIDE_ENCODERS;
    // lavapipe writes encoder timestamps without waiting for the dispatches
    // between them (a 64 MiB fill "took" 0.05 ms): on CPU adapters only the
    // wall clock around submit + wait is trustworthy.
    if !gpu.features.contains(need) || gpu.info.device_type == wgpu::DeviceType::Cpu {
        return None;
    }
    let qs = gpu.device.create_query_set(&wgpu::QuerySetDescriptor {
        label: Some("bench timestamps"),
        ty: wgpu::QueryType::Timestamp,
        count: 2,
    });
    let resolve = gpu.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("timestamp resolve"),
        size: 16,
        usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
        mapped_at_creation: false,
    });
    Some((qs, resolve, gpu.queue.get_timestamp_period()))
}

fn summarize(
    name: String,
    times: &[f64],
    throughput: Vec<(f64, String)>,
    gpu_bytes: Option<u64>,
) -> Measurement {
    let med = crate::tune::median(times);
    let (lo, hi) = times
        .iter()
        .fold((f64::INFINITY, 0.0f64), |(a, b), &t| (a.min(t), b.max(t)));
    let scale = |(v, u): (f64, String)| (v / (med / 1e3), u);
    Measurement {
        name,
        median_ms: med,
        min_ms: lo,
        max_ms: hi,
        reps: times.len(),
        throughput: throughput.into_iter().map(scale).collect(),
        gpu_bytes,
        dispatches: None,
    }
}

fn bench_fills(gpu: &Gpu, o: BenchOptions, out: &mut Vec<Measurement>) -> Result<(), GpuError> {
    let n_blocks: u32 = if o.quick { 1 << 20 } else { 1 << 22 };
    let reps = if o.quick { 3 } else { 10 };
    let buf = gpu.storage("bench fill", u64::from(n_blocks) * 16)?;
    let ctr = RawCounter::of(
        1,
        Stream {
            layer: 0,
            role: Role::Weight,
            repeat: 0,
        },
    );
    for (mode, label) in [(FillMode::Words, "u32"), (FillMode::Normal, "normal")] {
        let t = time_kernel(gpu, reps, &|enc| {
            encode_fill(gpu, enc, &buf, ctr, n_blocks, mode, Geometry::default())
        })?;
        let values = f64::from(n_blocks) * 4.0;
        out.push(summarize(
            format!("philox fill {label} ({} M values)", values / 1e6),
            &t,
            vec![
                (values * 4.0 / 1e9, "GB/s".into()),
                (values / 1e9, "Gvalues/s".into()),
            ],
            Some(u64::from(n_blocks) * 16),
        ));
    }
    Ok(())
}

fn bench_inits(gpu: &Gpu, o: BenchOptions, out: &mut Vec<Measurement>) -> Result<(), GpuError> {
    use crate::activation::Activation;
    use crate::config::Init;
    use serde_json::json;
    let n = if o.quick { 512 } else { 2048 };
    let reps = if o.quick { 3 } else { 5 };
    let schemes = [
        json!({"scheme": "xavier_uniform"}),
        json!({"scheme": "kaiming_normal", "nonlinearity": "relu"}),
        json!({"scheme": "trunc_normal"}),
        json!({"scheme": "sparse", "sparsity": 0.5}),
    ]
    .map(|v| Init::from_json(v).map_err(GpuError::Device));
    let draw = Draw {
        seed: 1,
        stream: Stream {
            layer: 0,
            role: Role::Weight,
            repeat: 0,
        },
    };
    let buf = gpu.storage("bench init", (n * n * 4) as u64)?;
    for scheme in schemes {
        let scheme = scheme?;
        let shape = Shape::weight(n, n);
        let s = init::sampler(&scheme, shape, Activation::Tanh, None)
            .map_err(|e| GpuError::Device(e.0))?;
        let t = time_kernel(gpu, reps, &|enc| {
            encode_init(gpu, enc, &buf, &s, shape, draw)
        })?;
        let v = (n * n) as f64;
        out.push(summarize(
            format!("init {} {n}x{n}", scheme.name()),
            &t,
            vec![(v / 1e9, "Gvalues/s".into())],
            Some((n * n * 4) as u64),
        ));
    }
    let sizes: &[usize] = if o.quick {
        &[256, 1024]
    } else {
        &[256, 1024, 2048]
    };
    let buf = gpu.storage(
        "bench orthogonal",
        (sizes[sizes.len() - 1].pow(2) * 4) as u64,
    )?;
    for &m in sizes {
        let shape = Shape::weight(m, m);
        let s = init::Sampler::Orthogonal { gain: 1.0 };
        let reps = if m >= 2048 { 3 } else { 5 };
        let t = time_kernel(gpu, reps, &|enc| {
            encode_init(gpu, enc, &buf, &s, shape, draw)
        })?;
        // QR (4/3 m³ flops) plus forming Q (4/3 m³ more).
        let flops = 8.0 / 3.0 * (m as f64).powi(3);
        out.push(summarize(
            format!("init orthogonal {m}x{m}"),
            &t,
            vec![(flops / 1e9, "GFLOP/s".into())],
            Some((5 * m * m * 4) as u64),
        ));
    }
    Ok(())
}

/// The statistics reduction of one layer's worth of tensors, from the
/// storage buffer and (on CPU adapters the default) through a texture.
fn bench_reduce(gpu: &Gpu, o: BenchOptions, out: &mut Vec<Measurement>) -> Result<(), GpuError> {
    use crate::kernels::reduce::{Item, Source, encode_reduce_from};
    let n: u32 = if o.quick { 1 << 20 } else { 1 << 22 };
    let reps = if o.quick { 3 } else { 7 };
    let buf = gpu.storage("bench statistics", u64::from(n) * 4)?;
    let ctr = RawCounter::of(
        2,
        Stream {
            layer: 0,
            role: Role::Weight,
            repeat: 0,
        },
    );
    let mut enc = gpu.device.create_command_encoder(&Default::default());
    encode_fill(
        gpu,
        &mut enc,
        &buf,
        ctr,
        n / 4,
        FillMode::Normal,
        Geometry::default(),
    )?;
    gpu.submit("bench statistics data", enc)?;
    for (source, label) in [(Source::Buffer, "buffer"), (Source::Texture, "texture")] {
        let t = time_kernel(gpu, reps, &|enc| {
            let items = [Item::whole(&buf, n, false)];
            encode_reduce_from(gpu, enc, &items, 1.0, 0, source).map(|_| ())
        })?;
        out.push(summarize(
            format!("statistics of {} M values ({label})", f64::from(n) / 1e6),
            &t,
            vec![
                (f64::from(n) * 4.0 / 1e9, "GB/s".into()),
                (f64::from(n) / 1e9, "Gvalues/s".into()),
            ],
            Some(u64::from(n) * 4),
        ));
    }
    Ok(())
}

fn bench_gemm(gpu: &Gpu, o: BenchOptions, out: &mut Vec<Measurement>) -> Result<(), GpuError> {
    let sizes: &[usize] = if o.quick {
        &[256, 512, 1024]
    } else {
        &[256, 512, 1024, 2048]
    };
    for &n in sizes {
        let bufs = crate::tune::gemm_buffers(gpu, n)?;
        let reps = if o.quick || n >= 2048 { 3 } else { 7 };
        let shapes = [
            ("forward X·Wᵀ", Gemm::forward(n, n, n)),
            ("backward dH·W", Gemm::backward_data(n, n, n)),
            ("backward dHᵀ·X", Gemm::backward_weight(n, n, n)),
        ];
        for (label, g) in shapes {
            let t = time_kernel(gpu, reps, &|enc| {
                encode_gemm(gpu, enc, &g, &bufs[0], &bufs[1], None, &bufs[2])
            })?;
            out.push(summarize(
                format!("gemm {label} {n}³"),
                &t,
                vec![(g.flops() / 1e9, "GFLOP/s".into())],
                Some((3 * n * n * 4) as u64),
            ));
        }
    }
    Ok(())
}

/// The step configurations of the suite: (name, width, depth, batch).
pub const STEPS: [(&str, usize, usize, usize); 2] = [
    ("step (a) 10x512, batch 64, tanh", 512, 10, 64),
    ("step (b) 50x1024, batch 1024, tanh", 1024, 50, 1024),
];

/// A RunSpec for a tanh stack of `depth` layers of `width` at `batch`.
pub fn step_spec(width: usize, depth: usize, batch: usize) -> RunSpec {
    let cfg = serde_json::json!({
        "network": {"input_dim": width, "width": width, "depth": depth, "activation": "tanh", "bias": true},
        "init": {"scheme": "xavier_uniform"},
        "input": {"batch": batch},
        "loss": "mean"
    });
    let config: RunConfig =
        serde_json::from_value(cfg).unwrap_or_else(|e| unreachable!("fixed step config: {e}"));
    RunSpec {
        id: "bench".into(),
        label: "bench".into(),
        group: "bench".into(),
        variant: None,
        params: Default::default(),
        seed: 1,
        repeat: 0,
        config,
    }
}

fn bench_steps(gpu: &Gpu, o: BenchOptions, out: &mut Vec<Measurement>) -> Result<(), GpuError> {
    for (name, width, depth, batch) in STEPS {
        // Quick: a smoke run of the suite (about a minute on lavapipe), not
        // figures to compare with the full sizes.
        let depth = if o.quick { depth.min(10) } else { depth };
        let batch = if o.quick { batch.min(256) } else { batch };
        let spec = step_spec(width, depth, batch);
        let model = build(&spec, None).map_err(|e| GpuError::Device(e.0))?;
        let limits = exec::limits(gpu);
        let bytes = model.check_fits(limits).map_err(GpuError::Device)?;
        let to_gpu = |e: exec::ExecError| match e {
            exec::ExecError::Gpu(g) => g,
            exec::ExecError::Config(m) => GpuError::Device(m),
        };
        let session = Session::new(gpu, &model, spec.seed, spec.repeat).map_err(to_gpu)?;
        let reps = if o.quick {
            2
        } else if depth >= 50 {
            3
        } else {
            10
        };
        let mut times = Vec::new();
        let mut dispatches = 0;
        for i in 0..=reps {
            let before = gpu.dispatch_count();
            let s = session.step().map_err(to_gpu)?;
            dispatches = gpu.dispatch_count() - before;
            if i > 0 {
                times.push(s.step_ms);
            }
        }
        let flops = 6.0 * batch as f64 * (width * width) as f64 * depth as f64;
        let label = if o.quick && name.contains("(b)") {
            format!("{name} [quick: depth {depth}, batch {batch}]")
        } else {
            name.to_string()
        };
        out.push(Measurement {
            dispatches: Some(dispatches),
            ..summarize(
                label,
                &times,
                vec![(flops / 1e9, "GFLOP/s".into())],
                Some(bytes),
            )
        });
    }
    Ok(())
}

/// Peak resident set size of this process (Linux VmHWM).
pub fn peak_rss_bytes() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Runs the whole suite; `progress` is told each item's name before it runs.
pub fn run(
    gpu: &Gpu,
    o: BenchOptions,
    progress: &mut dyn FnMut(&Measurement),
) -> Result<BenchReport, GpuError> {
    let mut results = Vec::new();
    let mut emit = |r: &mut Vec<Measurement>, from: usize| {
        for m in &r[from..] {
            progress(m);
        }
    };
    bench_fills(gpu, o, &mut results)?;
    emit(&mut results, 0);
    let n = results.len();
    bench_inits(gpu, o, &mut results)?;
    emit(&mut results, n);
    let n = results.len();
    bench_reduce(gpu, o, &mut results)?;
    bench_gemm(gpu, o, &mut results)?;
    emit(&mut results, n);
    let n = results.len();
    bench_steps(gpu, o, &mut results)?;
    emit(&mut results, n);
    let n = results.len();
    residual::bench_residual(gpu, o, &mut results)?;
    emit(&mut results, n);
    Ok(BenchReport {
        adapter: gpu.adapter_record(),
        gemm_variant: gpu.gemm_variant().describe(),
        kernel_timer: if timestamps(gpu).is_some() {
            "timestamp".into()
        } else {
            "wall".into()
        },
        results,
        peak_rss_bytes: peak_rss_bytes(),
        curves: None,
    })
}
