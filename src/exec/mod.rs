//! One run of the deep stack on the GPU: initialization, optional LSUV,
//! forward, loss gradient, backward and statistics, each pass recorded into
//! one command buffer. Only the small statistic records are read back.

mod encode;
pub mod init;
pub mod lsuv;
mod tensors;

use crate::activation::Activation;
use crate::config::{Loss, RunSpec};
use crate::gpu::buffers::View;
use crate::gpu::{Gpu, GpuError, human_bytes};
use crate::init::{InitError, Sampler, Shape, sampler};
use crate::kernels::loss::{EPT, LossParams, encode_loss_kernel};
use crate::kernels::reduce::{self, Item};
use crate::results::{LayerRecord, LsuvRecord, TensorStats};
use crate::stats;
use encode::{encode_backward, encode_forward, encode_init};
use std::path::Path;
use std::time::Instant;
use tensors::{Act, Net, alloc};

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
        if l.init.needs_orthogonal_scratch() {
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

/// Refuses a run whose tensors exceed the adapter's limits, before
/// allocating. Weights must fit one storage binding; activations are bound
/// one batch chunk at a time, so they need only fit one buffer.
pub fn check_fits(gpu: &Gpu, spec: &RunSpec) -> Result<u64, StackError> {
    let plan = memory_plan(spec);
    let binding = gpu.max_binding_bytes();
    let max_buffer = gpu.limits.max_buffer_size;
    let batch = spec.config.input.batch.max(1) as u64;
    for t in &plan {
        let (limit, name, hint) = match t.driver {
            "batch" => {
                let per_row = (t.bytes / batch).max(1);
                // Chunks are multiples of 64 rows; one such chunk must fit a binding.
                if 64 * per_row > binding && t.bytes > binding {
                    (
                        binding,
                        "max_storage_buffer_binding_size",
                        format!(
                            " Rows of {} do not fit a 64-row chunk; use narrower layers.",
                            human_bytes(per_row)
                        ),
                    )
                } else {
                    (
                        max_buffer,
                        "max_buffer_size",
                        format!(" The largest batch that fits is {}.", max_buffer / per_row),
                    )
                }
            }
            _ => (
                binding,
                "max_storage_buffer_binding_size",
                format!(
                    " Weights are not chunked: fan_in × fan_out must stay below {} elements \
                     (e.g. {1}x{1}).",
                    binding / 4,
                    ((binding / 4) as f64).sqrt() as u64
                ),
            ),
        };
        if t.bytes > limit {
            return Err(StackError::Config(format!(
                "{} needs {} in one {}; this adapter allows {} ({name}).{hint}",
                t.name,
                human_bytes(t.bytes),
                if name == "max_buffer_size" {
                    "buffer"
                } else {
                    "binding"
                },
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

/// A run whose tensors are allocated and initialized (LSUV included), ready
/// to step: benchmarks time `step` alone.
pub struct Session<'s> {
    gpu: &'s Gpu,
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
        gpu: &'s Gpu,
        spec: &'s RunSpec,
        samplers: &Samplers,
    ) -> Result<Session<'s>, StackError> {
        check_fits(gpu, spec)?;
        let t0 = Instant::now();
        let net = alloc(gpu, spec)?;
        let mut enc = gpu
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("init"),
            });
        encode_init(gpu, &mut enc, spec, &net, samplers)?;
        gpu.submit("initialization", enc)?;
        let mut lsuv = vec![None; net.layers.len()];
        for (i, l) in net.layers.iter().enumerate() {
            if let Some((tol, max_iter)) = l.spec.init.lsuv() {
                lsuv[i] = Some(crate::exec::lsuv::run_layer(
                    gpu,
                    &net_view(&net),
                    i,
                    tol,
                    max_iter,
                )?);
            }
        }
        gpu.wait()?;
        Ok(Session {
            gpu,
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
        let bufs = reduce::encode_reduce(
            gpu,
            &mut enc,
            &items,
            o.saturation_threshold as f32,
            o.histogram_bins,
        )?;
        gpu.submit("forward/backward/statistics", enc)?;
        let is_act: Vec<bool> = kinds.iter().map(|k| *k == Kind::Act).collect();
        let all = reduce::read_stats(gpu, &bufs, &is_act)?;
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

impl Drop for Session<'_> {
    /// The next run of a sweep with the same shapes reuses these buffers.
    fn drop(&mut self) {
        self.gpu.recycle(std::mem::take(&mut self.net.owned));
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
        let w = sampler(
            &l.init,
            Shape::weight(l.fan_in, l.fan_out),
            l.activation,
            base_dir,
        )
        .map_err(ctx)?;
        let b = match &l.bias_init {
            Some(bi) => Some(
                sampler(bi, Shape::bias(l.fan_in, l.fan_out), l.activation, base_dir)
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
    let input = sampler(&cfg.input.dist, shape, Activation::Identity, base_dir)
        .map_err(|e| InitError(format!("input.dist: {}", e.0)))?;
    Ok(Samplers { layers, input })
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

fn act_item<'a>(net: &Net, t: &'a Act, histogram: bool) -> Item<'a> {
    let chunks = net
        .chunks()
        .into_iter()
        .map(|(r0, rows)| (t.rows(r0, rows), (rows * t.cols) as u32))
        .collect();
    Item { chunks, histogram }
}

fn stat_items(net: &Net) -> (Vec<Item<'_>>, Vec<Kind>) {
    let mut items = vec![act_item(net, &net.x, false)];
    let mut kinds = vec![Kind::Input];
    for l in &net.layers {
        let (fi, fo) = (l.spec.fan_in, l.spec.fan_out);
        let mut push = |item, k| {
            items.push(item);
            kinds.push(k);
        };
        push(Item::whole(&l.w, (fi * fo) as u32, true), Kind::Weight);
        if let (Some(b), Some(db)) = (&l.b, &l.db) {
            push(Item::whole(b, fo as u32, false), Kind::Bias);
            push(Item::whole(db, fo as u32, false), Kind::GradBias);
        }
        push(act_item(net, &l.h, false), Kind::Preact);
        push(act_item(net, &l.a, true), Kind::Act);
        push(
            Item::whole(&l.dw, (fi * fo) as u32, false),
            Kind::GradWeight,
        );
        push(act_item(net, &l.da, false), Kind::GradAct);
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
        input: gpu.read("input", &net.x.buf, 0, net.batch * net.input_dim)?,
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
    /// Layer `i`'s pre-activation as a statistics item (all its chunks).
    pub fn preact_item(&self, i: usize) -> Item<'_> {
        act_item(self.net, &self.net.layers[i].h, false)
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
            total: 0,
            pad: [0; 2],
        };
        encode_loss_kernel(
            gpu,
            enc,
            "scale_inplace",
            p,
            &[(3, View::from(buf))],
            (n as u32).div_ceil(EPT),
        )
    }
}
