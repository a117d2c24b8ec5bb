//! One run of the deep stack on the GPU: initialization, optional LSUV,
//! forward, loss gradient, backward and statistics, each pass recorded into
//! one command buffer. Only the small statistic records are read back.

use crate::activation::Activation;
use crate::gemm::{Gemm, encode_gemm};
use crate::gpu::{Gpu, GpuError, Shader, human_bytes};
use crate::init::{self, Component, Draw, InitError, Sampler, Shape};
use crate::record::{LayerRecord, LsuvRecord, TensorStats};
use crate::rng::{Role, Stream};
use crate::spec::{Init, LayerSpec, Loss, RunSpec, Target};
use crate::stats::{self, Item};
use std::path::Path;
use std::time::Instant;

/// Why a run could not be done.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    /// The configuration cannot be run (a user error: nothing was allocated).
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    Gpu(#[from] GpuError),
}

impl From<InitError> for StackError {
    fn from(e: InitError) -> Self {
        StackError::Config(e.0)
    }
}

/// A tensor's name and size, for the memory plan.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorSize {
    pub name: String,
    pub bytes: u64,
    /// Which dimension drives the size: "batch" for activations, "width" for weights.
    pub driver: &'static str,
}

/// Every GPU tensor of a run and the total.
pub fn memory_plan(spec: &RunSpec) -> Vec<TensorSize> {
    let b = spec.config.input.batch as u64;
    let layers = spec.config.layer_specs();
    let t = |name: String, elems: u64, driver| TensorSize {
        name,
        bytes: elems * 4,
        driver,
    };
    let mut v = vec![t(
        "input".into(),
        b * spec.config.network.input_dim as u64,
        "batch",
    )];
    let max_w = layers.iter().map(|l| l.fan_out).max().unwrap_or(0) as u64;
    for l in &layers {
        let (fi, fo) = (l.fan_in as u64, l.fan_out as u64);
        v.push(t(format!("w[{}]", l.index), fi * fo, "width"));
        v.push(t(format!("dw[{}]", l.index), fi * fo, "width"));
        for name in ["preact", "act", "grad_act"] {
            v.push(t(format!("{name}[{}]", l.index), b * fo, "batch"));
        }
        if l.bias_init.is_some() {
            v.push(t(format!("b[{}]", l.index), fo, "width"));
            v.push(t(format!("db[{}]", l.index), fo, "width"));
        }
        if matches!(l.init, Init::Orthogonal { .. } | Init::Lsuv { .. }) {
            v.push(t(
                format!("orthogonal scratch[{}]", l.index),
                2 * fi * fo,
                "width",
            ));
        }
    }
    v.push(t("grad_preact scratch".into(), b * max_w, "batch"));
    if let Loss::Mse { .. } = spec.config.loss {
        v.push(t(
            "target".into(),
            b * layers.last().map_or(0, |l| l.fan_out) as u64,
            "batch",
        ));
    }
    v
}

/// Refuses a run whose tensors exceed the adapter's limits, before allocating.
pub fn check_fits(gpu: &Gpu, spec: &RunSpec) -> Result<u64, StackError> {
    let plan = memory_plan(spec);
    let limit = gpu.max_binding_bytes();
    for t in &plan {
        if t.bytes > limit {
            let hint = match t.driver {
                "batch" => {
                    let per_row = t.bytes / spec.config.input.batch.max(1) as u64;
                    format!(
                        " The largest batch that fits is {}.",
                        limit / per_row.max(1)
                    )
                }
                _ => format!(
                    " The largest square width that fits is {}.",
                    ((limit / 4) as f64).sqrt() as u64
                ),
            };
            return Err(StackError::Config(format!(
                "{} needs {} in one binding; this adapter allows {} (max_storage_buffer_binding_size).{hint}",
                t.name,
                human_bytes(t.bytes),
                human_bytes(limit)
            )));
        }
    }
    Ok(plan.iter().map(|t| t.bytes).sum())
}

/// Options of one run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions<'a> {
    /// Read the weights, biases and input back for `--export-weights`.
    pub keep_tensors: bool,
    /// Directory that relative `from_file` paths resolve against.
    pub base_dir: Option<&'a Path>,
}

/// Tensors read back for export: per layer (weight, bias), and the input.
#[derive(Debug, Clone, Default)]
pub struct Tensors {
    pub layers: Vec<(Vec<f32>, Option<Vec<f32>>)>,
    pub input: Vec<f32>,
}

/// What one run produced.
#[derive(Debug, Clone)]
pub struct RunOutput {
    pub layers: Vec<LayerRecord>,
    pub input: TensorStats,
    pub loss: f64,
    pub init_ms: f64,
    pub step_ms: f64,
    pub tensors: Option<Tensors>,
}

struct LayerBufs {
    spec: LayerSpec,
    w: wgpu::Buffer,
    b: Option<wgpu::Buffer>,
    h: wgpu::Buffer,
    a: wgpu::Buffer,
    da: wgpu::Buffer,
    dw: wgpu::Buffer,
    db: Option<wgpu::Buffer>,
}

/// Everything allocated for one run.
struct Net {
    batch: usize,
    input_dim: usize,
    x: wgpu::Buffer,
    layers: Vec<LayerBufs>,
    dh: wgpu::Buffer,
    target: Option<wgpu::Buffer>,
}

const WG: u32 = 64;

fn alloc(gpu: &Gpu, spec: &RunSpec) -> Result<Net, GpuError> {
    let batch = spec.config.input.batch;
    let f = |n: usize| (n * 4) as u64;
    let layer_specs = spec.config.layer_specs();
    let max_w = layer_specs.iter().map(|l| l.fan_out).max().unwrap_or(1);
    let mut layers = Vec::new();
    for l in layer_specs {
        let i = l.index;
        let (fi, fo) = (l.fan_in, l.fan_out);
        layers.push(LayerBufs {
            w: gpu.storage(&format!("w[{i}]"), f(fi * fo))?,
            b: l.bias_init
                .as_ref()
                .map(|_| gpu.storage(&format!("b[{i}]"), f(fo)))
                .transpose()?,
            h: gpu.storage(&format!("preact[{i}]"), f(batch * fo))?,
            a: gpu.storage(&format!("act[{i}]"), f(batch * fo))?,
            da: gpu.storage(&format!("grad_act[{i}]"), f(batch * fo))?,
            dw: gpu.storage(&format!("dw[{i}]"), f(fi * fo))?,
            db: l
                .bias_init
                .as_ref()
                .map(|_| gpu.storage(&format!("db[{i}]"), f(fo)))
                .transpose()?,
            spec: l,
        });
    }
    let out = layers.last().map_or(1, |l| l.spec.fan_out);
    let target = matches!(spec.config.loss, Loss::Mse { .. })
        .then(|| gpu.storage("target", f(batch * out)))
        .transpose()?;
    Ok(Net {
        batch,
        input_dim: spec.config.network.input_dim,
        x: gpu.storage("input", f(batch * spec.config.network.input_dim))?,
        dh: gpu.storage("grad_preact scratch", f(batch * max_w))?,
        layers,
        target,
    })
}

/// A run whose tensors are allocated and initialized (LSUV included), ready
/// to step: benchmarks time `step` alone.
pub struct Session<'s> {
    spec: &'s RunSpec,
    net: Net,
    lsuv: Vec<Option<LsuvRecord>>,
    /// Wall-clock milliseconds of allocation, initialization and LSUV.
    pub init_ms: f64,
}

/// The statistics of one step.
pub struct StepOutput {
    pub input: TensorStats,
    pub layers: Vec<LayerRecord>,
    pub loss: f64,
    pub step_ms: f64,
}

impl<'s> Session<'s> {
    /// Checks sizes, allocates and initializes every tensor of `spec`.
    pub fn new(
        gpu: &Gpu,
        spec: &'s RunSpec,
        samplers: &Samplers,
    ) -> Result<Session<'s>, StackError> {
        check_fits(gpu, spec)?;
        let t0 = Instant::now();
        let net = alloc(gpu, spec)?;
        encode_and_submit_init(gpu, spec, &net, samplers)?;
        let mut lsuv = vec![None; net.layers.len()];
        for (i, l) in net.layers.iter().enumerate() {
            if let Init::Lsuv { tol, max_iter, .. } = &l.spec.init {
                lsuv[i] = Some(crate::lsuv::run_layer(
                    gpu,
                    &net_view(&net),
                    i,
                    *tol,
                    *max_iter,
                )?);
            }
        }
        gpu.wait()?;
        Ok(Session {
            spec,
            net,
            lsuv,
            init_ms: t0.elapsed().as_secs_f64() * 1e3,
        })
    }

    /// Forward, loss gradient, backward and statistics in one submission;
    /// reads back only the statistic records.
    pub fn step(&self, gpu: &Gpu) -> Result<StepOutput, StackError> {
        let t1 = Instant::now();
        let net = &self.net;
        let mut enc = gpu
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("step"),
            });
        encode_forward(gpu, &mut enc, net, 0..net.layers.len())?;
        encode_backward(gpu, &mut enc, net, self.spec.config.loss)?;
        let (items, kinds) = stat_items(net);
        let o = &self.spec.config.stats;
        let bufs = stats::encode_reduce(
            gpu,
            &mut enc,
            &items,
            o.saturation_threshold as f32,
            o.histogram_bins,
        )?;
        gpu.submit("forward/backward/statistics", enc)?;
        let is_act: Vec<bool> = kinds.iter().map(|k| *k == Kind::Act).collect();
        let all = stats::read_stats(gpu, &bufs, &is_act)?;
        let step_ms = t1.elapsed().as_secs_f64() * 1e3;
        let (input, layers) = assemble(net, &kinds, all, self.lsuv.clone());
        let last = layers
            .last()
            .ok_or_else(|| StackError::Config("the network has no layers".into()))?;
        let loss = stats::loss_value(self.spec.config.loss, &last.act, &last.grad_act);
        Ok(StepOutput {
            input,
            layers,
            loss,
            step_ms,
        })
    }

    /// Reads the weights, biases and input back (for `--export-weights`).
    pub fn tensors(&self, gpu: &Gpu) -> Result<Tensors, GpuError> {
        read_tensors(gpu, &self.net)
    }
}

/// Runs one fully resolved run on `gpu`.
pub fn run(gpu: &Gpu, spec: &RunSpec, opts: &RunOptions<'_>) -> Result<RunOutput, StackError> {
    let samplers = resolve_samplers(spec, opts.base_dir)?;
    let session = Session::new(gpu, spec, &samplers)?;
    let out = session.step(gpu)?;
    let tensors = if opts.keep_tensors {
        Some(session.tensors(gpu)?)
    } else {
        None
    };
    Ok(RunOutput {
        layers: out.layers,
        input: out.input,
        loss: out.loss,
        init_ms: session.init_ms,
        step_ms: out.step_ms,
        tensors,
    })
}

/// Per layer: (weight sampler, bias sampler); plus the input's.
pub struct Samplers {
    pub layers: Vec<(Sampler, Option<Sampler>)>,
    pub input: Sampler,
}

/// Resolves every scheme of a run (errors here are configuration errors).
pub fn resolve_samplers(spec: &RunSpec, base_dir: Option<&Path>) -> Result<Samplers, InitError> {
    let cfg = &spec.config;
    let mut layers = Vec::new();
    for l in cfg.layer_specs() {
        let ctx = |e: InitError| InitError(format!("layer {}: {}", l.index, e.0));
        let w = init::sampler(
            &l.init,
            Shape::weight(l.fan_in, l.fan_out),
            l.activation,
            base_dir,
        )
        .map_err(ctx)?;
        let b = match &l.bias_init {
            Some(bi) => Some(
                init::sampler(bi, Shape::bias(l.fan_in, l.fan_out), l.activation, base_dir)
                    .map_err(ctx)?,
            ),
            None => None,
        };
        layers.push((w, b));
    }
    let shape = Shape {
        rows: cfg.input.batch,
        cols: cfg.network.input_dim,
        fan_in: cfg.network.input_dim,
        fan_out: cfg.network.input_dim,
    };
    let input = init::sampler(&cfg.input.dist, shape, Activation::Identity, base_dir)
        .map_err(|e| InitError(format!("input.dist: {}", e.0)))?;
    Ok(Samplers { layers, input })
}

fn encode_and_submit_init(
    gpu: &Gpu,
    spec: &RunSpec,
    net: &Net,
    s: &Samplers,
) -> Result<(), GpuError> {
    let mut enc = gpu
        .device
        .create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("init"),
        });
    let draw = |layer: usize, role| Draw {
        seed: spec.seed,
        stream: Stream {
            layer: layer as u32,
            role,
            repeat: spec.repeat,
        },
    };
    let in_shape = Shape {
        rows: net.batch,
        cols: net.input_dim,
        fan_in: net.input_dim,
        fan_out: net.input_dim,
    };
    init::encode(
        gpu,
        &mut enc,
        &net.x,
        &s.input,
        in_shape,
        draw(0, Role::Input),
    )?;
    for (l, (ws, bs)) in net.layers.iter().zip(&s.layers) {
        let (fi, fo) = (l.spec.fan_in, l.spec.fan_out);
        init::encode(
            gpu,
            &mut enc,
            &l.w,
            ws,
            Shape::weight(fi, fo),
            draw(l.spec.index, Role::Weight),
        )?;
        if let (Some(b), Some(bs)) = (&l.b, bs) {
            init::encode(
                gpu,
                &mut enc,
                b,
                bs,
                Shape::bias(fi, fo),
                draw(l.spec.index, Role::Bias),
            )?;
        }
    }
    if let (Some(t), Loss::Mse { target }) = (&net.target, spec.config.loss) {
        encode_target(gpu, &mut enc, net, t, target, |role| draw(0, role))?;
    }
    gpu.submit("initialization", enc)
}

fn encode_target(
    gpu: &Gpu,
    enc: &mut wgpu::CommandEncoder,
    net: &Net,
    t: &wgpu::Buffer,
    target: Target,
    draw: impl Fn(Role) -> Draw,
) -> Result<(), GpuError> {
    let out = net.layers.last().map_or(0, |l| l.spec.fan_out);
    let std1 = |std| [(1.0, Component::Normal { mean: 0.0, std })];
    match target {
        Target::Gaussian => init::encode_elementwise(
            gpu,
            enc,
            t,
            &std1(1.0),
            (net.batch * out) as u32,
            draw(Role::Target),
        ),
        Target::Teacher => {
            // T = X·W_tᵀ with W_t ~ N(0, 1/input_dim): a random linear teacher.
            let wt = gpu.storage("teacher weight", (out * net.input_dim * 4) as u64)?;
            let std = 1.0 / (net.input_dim as f64).sqrt();
            init::encode_elementwise(
                gpu,
                enc,
                &wt,
                &std1(std),
                (out * net.input_dim) as u32,
                draw(Role::Teacher),
            )?;
            let g = Gemm::forward(net.batch, net.input_dim, out);
            encode_gemm(gpu, enc, &g, &net.x, &wt, None, t)
        }
    }
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct ActParams {
    n: u32,
    op: u32,
    param: f32,
    pad: u32,
}

fn encode_act(
    gpu: &Gpu,
    enc: &mut wgpu::CommandEncoder,
    act: Activation,
    n: usize,
    src: &wgpu::Buffer,
    dst: &wgpu::Buffer,
    grad: Option<&wgpu::Buffer>,
) -> Result<(), GpuError> {
    let (op, param) = act.gpu_code();
    let entry = if grad.is_some() {
        "act_backward"
    } else {
        "act_forward"
    };
    let pipe = gpu.pipeline(Shader::Activation, entry, &[("WG", WG as f64)], false)?;
    let u = gpu.uniform(
        "activation params",
        &ActParams {
            n: n as u32,
            op,
            param,
            pad: 0,
        },
    );
    let mut res = vec![
        (0, u.as_entire_binding()),
        (1, src.as_entire_binding()),
        (2, dst.as_entire_binding()),
    ];
    if let Some(g) = grad {
        res.push((3, g.as_entire_binding()));
    }
    let group = gpu.bind_at(&pipe, entry, &res);
    let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
        label: Some(entry),
        timestamp_writes: None,
    });
    gpu.dispatch(&mut pass, &pipe, &group, (n as u32).div_ceil(WG));
    Ok(())
}

/// Records the forward pass of `layers` (each reads the previous layer's act).
fn encode_forward(
    gpu: &Gpu,
    enc: &mut wgpu::CommandEncoder,
    net: &Net,
    layers: std::ops::Range<usize>,
) -> Result<(), GpuError> {
    for i in layers {
        let l = &net.layers[i];
        let x = if i == 0 { &net.x } else { &net.layers[i - 1].a };
        let g = Gemm::forward(net.batch, l.spec.fan_in, l.spec.fan_out);
        encode_gemm(gpu, enc, &g, x, &l.w, l.b.as_ref(), &l.h)?;
        encode_act(
            gpu,
            enc,
            l.spec.activation,
            net.batch * l.spec.fan_out,
            &l.h,
            &l.a,
            None,
        )?;
    }
    Ok(())
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct LossParams {
    n: u32,
    kind: u32,
    rows: u32,
    cols: u32,
    scale: f32,
    pad: [u32; 3],
}

fn encode_loss_kernel(
    gpu: &Gpu,
    enc: &mut wgpu::CommandEncoder,
    entry: &str,
    p: LossParams,
    bindings: &[(u32, &wgpu::Buffer)],
    threads: u32,
) -> Result<(), GpuError> {
    let pipe = gpu.pipeline(Shader::Loss, entry, &[("WG", WG as f64)], false)?;
    let u = gpu.uniform("loss params", &p);
    let mut res = vec![(0, u.as_entire_binding())];
    res.extend(bindings.iter().map(|(i, b)| (*i, b.as_entire_binding())));
    let group = gpu.bind_at(&pipe, entry, &res);
    let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
        label: Some(entry),
        timestamp_writes: None,
    });
    gpu.dispatch(&mut pass, &pipe, &group, threads.div_ceil(WG));
    Ok(())
}

/// Records loss gradient and backward pass: dH, dW, db and dX per layer.
fn encode_backward(
    gpu: &Gpu,
    enc: &mut wgpu::CommandEncoder,
    net: &Net,
    loss: Loss,
) -> Result<(), GpuError> {
    let Some(last) = net.layers.last() else {
        return Ok(());
    };
    let n_out = (net.batch * last.spec.fan_out) as u32;
    let kind = match loss {
        Loss::Mean => 0,
        Loss::MeanSquare => 1,
        Loss::Mse { .. } => 2,
        Loss::Sum => 3,
    };
    let p = LossParams {
        n: n_out,
        kind,
        rows: 0,
        cols: 0,
        scale: 1.0,
        pad: [0; 3],
    };
    let target = net.target.as_ref().unwrap_or(&last.a);
    encode_loss_kernel(
        gpu,
        enc,
        "loss_grad",
        p,
        &[(1, &last.a), (2, target), (3, &last.da)],
        n_out,
    )?;
    for i in (0..net.layers.len()).rev() {
        let l = &net.layers[i];
        let (fi, fo) = (l.spec.fan_in, l.spec.fan_out);
        encode_act(
            gpu,
            enc,
            l.spec.activation,
            net.batch * fo,
            &l.h,
            &net.dh,
            Some(&l.da),
        )?;
        let x = if i == 0 { &net.x } else { &net.layers[i - 1].a };
        encode_gemm(
            gpu,
            enc,
            &Gemm::backward_weight(net.batch, fi, fo),
            &net.dh,
            x,
            None,
            &l.dw,
        )?;
        if let Some(db) = &l.db {
            let p = LossParams {
                n: 0,
                kind: 0,
                rows: net.batch as u32,
                cols: fo as u32,
                scale: 1.0,
                pad: [0; 3],
            };
            encode_loss_kernel(
                gpu,
                enc,
                "column_sum",
                p,
                &[(1, &net.dh), (3, db)],
                fo as u32,
            )?;
        }
        if i > 0 {
            let prev = &net.layers[i - 1];
            encode_gemm(
                gpu,
                enc,
                &Gemm::backward_data(net.batch, fi, fo),
                &net.dh,
                &l.w,
                None,
                &prev.da,
            )?;
        }
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Input,
    Weight,
    Bias,
    Preact,
    Act,
    GradWeight,
    GradBias,
    GradAct,
}

fn stat_items(net: &Net) -> (Vec<Item<'_>>, Vec<Kind>) {
    let mut items = vec![Item {
        buffer: &net.x,
        n: (net.batch * net.input_dim) as u32,
        histogram: false,
    }];
    let mut kinds = vec![Kind::Input];
    for l in &net.layers {
        let (fi, fo) = (l.spec.fan_in, l.spec.fan_out);
        let mut push = |buffer, n: usize, histogram, k| {
            items.push(Item {
                buffer,
                n: n as u32,
                histogram,
            });
            kinds.push(k);
        };
        push(&l.w, fi * fo, true, Kind::Weight);
        if let (Some(b), Some(db)) = (&l.b, &l.db) {
            push(b, fo, false, Kind::Bias);
            push(db, fo, false, Kind::GradBias);
        }
        push(&l.h, net.batch * fo, false, Kind::Preact);
        push(&l.a, net.batch * fo, true, Kind::Act);
        push(&l.dw, fi * fo, false, Kind::GradWeight);
        push(&l.da, net.batch * fo, false, Kind::GradAct);
    }
    (items, kinds)
}

fn assemble(
    net: &Net,
    kinds: &[Kind],
    all: Vec<TensorStats>,
    mut lsuv: Vec<Option<LsuvRecord>>,
) -> (TensorStats, Vec<LayerRecord>) {
    let mut it = kinds.iter().zip(all);
    let input = it.next().map(|(_, s)| s).unwrap_or_default();
    let mut layers = Vec::new();
    let mut cur: Option<LayerRecord> = None;
    let mut li = 0;
    for (k, s) in it {
        if *k == Kind::Weight {
            if let Some(done) = cur.take() {
                layers.push(done);
            }
            let l = &net.layers[li];
            cur = Some(LayerRecord {
                index: l.spec.index,
                fan_in: l.spec.fan_in,
                fan_out: l.spec.fan_out,
                activation: l.spec.activation.to_string(),
                init: l.spec.init.name().to_string(),
                weight: s,
                bias: None,
                preact: TensorStats::default(),
                act: TensorStats::default(),
                grad_weight: TensorStats::default(),
                grad_bias: None,
                grad_act: TensorStats::default(),
                lsuv: lsuv[li].take(),
            });
            li += 1;
            continue;
        }
        let Some(r) = cur.as_mut() else { continue };
        match k {
            Kind::Bias => r.bias = Some(s),
            Kind::GradBias => r.grad_bias = Some(s),
            Kind::Preact => r.preact = s,
            Kind::Act => r.act = s,
            Kind::GradWeight => r.grad_weight = s,
            Kind::GradAct => r.grad_act = s,
            Kind::Input | Kind::Weight => {}
        }
    }
    layers.extend(cur);
    (input, layers)
}

fn read_tensors(gpu: &Gpu, net: &Net) -> Result<Tensors, GpuError> {
    let mut layers = Vec::new();
    for l in &net.layers {
        let (fi, fo) = (l.spec.fan_in, l.spec.fan_out);
        let w = gpu.read(&format!("w[{}]", l.spec.index), &l.w, 0, fi * fo)?;
        let b =
            l.b.as_ref()
                .map(|b| gpu.read(&format!("b[{}]", l.spec.index), b, 0, fo))
                .transpose()?;
        layers.push((w, b));
    }
    Ok(Tensors {
        layers,
        input: gpu.read("input", &net.x, 0, net.batch * net.input_dim)?,
    })
}

/// What LSUV needs of the network: one layer's forward pass and its buffers.
pub struct NetView<'a> {
    net: &'a Net,
}

fn net_view(net: &Net) -> NetView<'_> {
    NetView { net }
}

impl NetView<'_> {
    /// Records layer `i`'s forward pass.
    pub fn encode_layer(
        &self,
        gpu: &Gpu,
        enc: &mut wgpu::CommandEncoder,
        i: usize,
    ) -> Result<(), GpuError> {
        encode_forward(gpu, enc, self.net, i..i + 1)
    }
    /// Layer `i`'s weight buffer and element count.
    pub fn weight(&self, i: usize) -> (&wgpu::Buffer, usize) {
        let l = &self.net.layers[i];
        (&l.w, l.spec.fan_in * l.spec.fan_out)
    }
    /// Layer `i`'s pre-activation buffer and element count.
    pub fn preact(&self, i: usize) -> (&wgpu::Buffer, usize) {
        let l = &self.net.layers[i];
        (&l.h, self.net.batch * l.spec.fan_out)
    }
    /// Records `buf[..n] *= scale`.
    pub fn encode_scale(
        &self,
        gpu: &Gpu,
        enc: &mut wgpu::CommandEncoder,
        buf: &wgpu::Buffer,
        n: usize,
        scale: f32,
    ) -> Result<(), GpuError> {
        let p = LossParams {
            n: n as u32,
            kind: 0,
            rows: 0,
            cols: 0,
            scale,
            pad: [0; 3],
        };
        encode_loss_kernel(gpu, enc, "scale_inplace", p, &[(3, buf)], n as u32)
    }
}
