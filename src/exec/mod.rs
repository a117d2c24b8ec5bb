//! The GPU executor: allocates a [`Model`]'s tensors, initializes them
//! (LSUV included), and runs steps — forward, loss gradient, backward and
//! statistics, each step recorded into one command buffer — reading back
//! only the small statistic records.

pub mod init;
pub mod jacobian;
pub mod jacobian_traces;
pub mod loss;
pub mod lsuv;
mod ops;
mod stats;
mod tensors;
pub mod train;

use crate::config::RunSpec;
use crate::gpu::{Gpu, GpuError};
use crate::init::InitError;
use crate::model::memory::Limits;
use crate::model::{ActId, Model, ParamId, StatKey};
use crate::results::{
    BlockRecord, LayerRecord, LsuvRecord, TensorRecord, TensorStats, TrainRecord,
};
use crate::rng::{Draw, Role, Stream};
use ops::{Backward, Cx};
use std::path::Path;
use std::time::Instant;
use tensors::{Buffers, alloc};

/// Why a run could not be done.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The configuration cannot be run (a user error: nothing was allocated).
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    Gpu(#[from] GpuError),
}

impl From<InitError> for ExecError {
    fn from(e: InitError) -> Self {
        ExecError::Config(e.0)
    }
}

/// The limits a run must fit on `gpu`.
pub fn limits(gpu: &Gpu) -> Limits {
    Limits {
        binding: gpu.max_binding_bytes(),
        max_buffer: gpu.limits.max_buffer_size,
    }
}

/// Options of one run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions<'a> {
    /// Read the parameters and input back for `--export-weights`.
    pub keep_tensors: bool,
    /// Directory that relative `from_file` paths resolve against.
    pub base_dir: Option<&'a Path>,
}

/// A tensor read back: (export key, shape, values).
pub type NamedTensor = (String, Vec<usize>, Vec<f32>);

/// Tensors read back for export: each parameter by its export key, in
/// model order, then the input.
#[derive(Debug, Clone, Default)]
pub struct Tensors {
    pub params: Vec<NamedTensor>,
    pub input: Vec<f32>,
    /// The loss's target (shape, values): the regression target, or the
    /// cross-entropy class labels (as f32, shape (batch,)).
    pub target: Option<(Vec<usize>, Vec<f32>)>,
}

impl Tensors {
    /// The values of the parameter exported as `name`.
    pub fn get(&self, name: &str) -> Option<&[f32]> {
        self.params
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, _, v)| v.as_slice())
    }
}

/// What one run produced.
#[derive(Debug, Clone)]
pub struct RunOutput {
    pub layers: Vec<LayerRecord>,
    /// Residual stacks: per-block records.
    pub blocks: Vec<BlockRecord>,
    /// Residual stacks: per-parameter records.
    pub tensors_stats: Vec<TensorRecord>,
    pub input: TensorStats,
    /// The network's output and its gradient (residual stacks).
    pub output: Option<(TensorStats, TensorStats)>,
    /// The stream entering block 0 (residual stacks).
    pub stream_in: Option<TensorStats>,
    pub loss: f64,
    pub init_ms: f64,
    pub step_ms: f64,
    pub tensors: Option<Tensors>,
    /// The Jacobian spectrum, when the run asks for it.
    pub jacobian: Option<crate::results::jacobian::JacobianRecord>,
    /// The recorded training steps (runs with `train`).
    pub train: Option<TrainRecord>,
    pub train_ms: Option<f64>,
}

/// The statistics of one step.
pub struct StepOutput {
    pub input: TensorStats,
    pub layers: Vec<LayerRecord>,
    pub blocks: Vec<BlockRecord>,
    pub tensors: Vec<TensorRecord>,
    pub output: Option<(TensorStats, TensorStats)>,
    pub stream_in: Option<TensorStats>,
    pub loss: f64,
    pub step_ms: f64,
}

/// A run whose tensors are allocated and initialized (LSUV included), ready
/// to step: benchmarks time `step` alone.
pub struct Session<'s> {
    gpu: &'s Gpu,
    model: &'s Model,
    bufs: Buffers,
    lsuv: Vec<Option<LsuvRecord>>,
    /// The Philox key and repeat (fresh training batches draw from them).
    seed: u64,
    repeat: u32,
    /// Wall-clock milliseconds of allocation, initialization and LSUV.
    pub init_ms: f64,
}

impl<'s> Session<'s> {
    /// Allocates and initializes every tensor of `model` with the Philox
    /// streams of (`seed`, `repeat`). The model's sizes must have been
    /// checked against the adapter (`Model::check_fits`, done once by the
    /// plan); allocation failures are still typed errors, never panics.
    pub fn new(
        gpu: &'s Gpu,
        model: &'s Model,
        seed: u64,
        repeat: u32,
    ) -> Result<Session<'s>, ExecError> {
        let t0 = Instant::now();
        let bufs = alloc(gpu, model, loss::has_target(model.loss))?;
        let draw = |layer: u32, role: Role| Draw {
            seed,
            stream: Stream {
                layer,
                role,
                repeat,
            },
        };
        let mut enc = gpu
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("init"),
            });
        init::encode_model(gpu, &mut enc, model, &bufs, &draw)?;
        loss::encode_target(gpu, &mut enc, model, &bufs, &|role| draw(0, role))?;
        gpu.submit("initialization", enc)?;
        let mut session = Session {
            gpu,
            model,
            bufs,
            lsuv: Vec::new(),
            seed,
            repeat,
            init_ms: 0.0,
        };
        session.lsuv = session.run_lsuv()?;
        session.scale_params()?;
        gpu.wait()?;
        session.init_ms = t0.elapsed().as_secs_f64() * 1e3;
        Ok(session)
    }

    fn cx<'c>(&'c self, enc: &'c mut wgpu::CommandEncoder) -> Cx<'c> {
        Cx {
            gpu: self.gpu,
            enc,
            model: self.model,
            bufs: &self.bufs,
        }
    }

    /// Records the forward pass of ops `range` over every chunk.
    fn encode_forward(
        &self,
        enc: &mut wgpu::CommandEncoder,
        range: std::ops::Range<usize>,
    ) -> Result<(), GpuError> {
        let mut cx = self.cx(enc);
        for c in self.bufs.chunks() {
            for op in &self.model.ops[range.clone()] {
                ops::forward(&mut cx, op, c)?;
            }
        }
        Ok(())
    }

    /// Records the loss gradient and the backward pass over every chunk.
    fn encode_backward(&self, enc: &mut wgpu::CommandEncoder) -> Result<(), GpuError> {
        let model = self.model;
        for (k, c) in self.bufs.chunks().into_iter().enumerate() {
            loss::encode_grad(self.gpu, enc, model, &self.bufs, c)?;
            let how = Backward {
                first_chunk: k == 0,
            };
            // Which gradients this chunk has written: a second writer adds.
            let mut written = vec![false; model.acts.len()];
            written[model.output.0] = true;
            let mut cx = self.cx(enc);
            for op in model.ops.iter().rev() {
                let seen = written.clone();
                ops::backward(&mut cx, op, c, how, &|x: ActId| seen[x.0])?;
                for x in op.inputs() {
                    written[x.0] = true;
                }
            }
        }
        Ok(())
    }

    /// Forward, loss gradient, backward and statistics in one submission;
    /// reads back only the statistic records.
    pub fn step(&self) -> Result<StepOutput, ExecError> {
        let gpu = self.gpu;
        let t1 = Instant::now();
        let mut enc = gpu
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("step"),
            });
        self.encode_forward(&mut enc, 0..self.model.ops.len())?;
        self.encode_backward(&mut enc)?;
        let stats = self.reduce(&mut enc)?;
        gpu.submit("forward/backward/statistics", enc)?;
        let (all, summaries) = stats.read_with_attention(gpu)?;
        let step_ms = t1.elapsed().as_secs_f64() * 1e3;
        let mut out = self.step_output(all, step_ms)?;
        crate::model::records::attention_records(self.model, &mut out.blocks, &summaries);
        Ok(out)
    }

    /// The records of a step whose every statistic was reduced.
    fn step_output(
        &self,
        all: Vec<(StatKey, TensorStats)>,
        step_ms: f64,
    ) -> Result<StepOutput, ExecError> {
        let loss = loss::value_of(self.model, &all)
            .ok_or_else(|| ExecError::Config("the network has no output statistics".into()))?;
        let r = crate::model::records::collect(self.model, all, self.lsuv.clone());
        Ok(StepOutput {
            input: r.input,
            layers: r.layers,
            blocks: r.blocks,
            tensors: r.tensors,
            output: r.output,
            stream_in: r.stream_in,
            loss,
            step_ms,
        })
    }

    /// Reads every parameter (or, with `grads`, its gradient) back by
    /// export key: (key, shape, values).
    fn read_params(&self, grads: bool) -> Result<Vec<NamedTensor>, GpuError> {
        let (gpu, m) = (self.gpu, self.model);
        let mut params = Vec::with_capacity(m.params.len());
        for (i, p) in m.params.iter().enumerate() {
            let (label, buf) = if grads {
                (&p.grad_label, &self.bufs.param_grads[i])
            } else {
                (&p.label, &self.bufs.params[i])
            };
            params.push((p.name.clone(), p.shape(), gpu.read(label, buf, 0, p.len())?));
        }
        Ok(params)
    }

    /// Reads the parameter gradients of the last step back by export key
    /// (after `train`, the gradients at the last step, which no update follows).
    pub fn gradients(&self) -> Result<Vec<NamedTensor>, GpuError> {
        self.read_params(true)
    }

    /// Reads the parameters, the input and the target back (for `--export-weights`).
    pub fn tensors(&self) -> Result<Tensors, GpuError> {
        let (gpu, m) = (self.gpu, self.model);
        let params = self.read_params(false)?;
        let n = m.batch * m.act(m.input).cols;
        let input = gpu.read("input", &self.bufs.acts[m.input.0].buf, 0, n)?;
        let cols = self.bufs.target.as_ref().map_or(0, |t| t.cols);
        let target = (self.read_target()?).map(|v| loss::export_target(m.loss, m.batch, cols, v));
        Ok(Tensors {
            params,
            input,
            target,
        })
    }

    /// Reads row tensor `id` back (batch × cols, row-major), as the last
    /// forward pass left it.
    pub fn read_act(&self, id: ActId) -> Result<Vec<f32>, GpuError> {
        let t = self.model.act(id);
        let n = self.model.batch * t.cols;
        self.gpu.read(&t.label, &self.bufs.acts[id.0].buf, 0, n)
    }

    /// Reads the stored gradient of row tensor `id` back; `None` when it has
    /// none of its own (no gradient, or one kept only per chunk).
    pub fn read_grad(&self, id: ActId) -> Result<Option<Vec<f32>>, GpuError> {
        let t = self.model.act(id);
        let Some(g) = &self.bufs.grads[id.0] else {
            return Ok(None);
        };
        let n = self.model.batch * t.cols;
        self.gpu.read(&t.grad_label, &g.buf, 0, n).map(Some)
    }

    /// Reads parameter `id`'s gradient back.
    pub fn read_param_grad(&self, id: ParamId) -> Result<Vec<f32>, GpuError> {
        let p = self.model.param(id);
        self.gpu
            .read(&p.grad_label, self.bufs.param_grad(id), 0, p.len())
    }

    /// Reads the loss's target rows back (cross-entropy: the teacher's
    /// logits, whose argmax are the labels); `None` for losses without one.
    pub fn read_target(&self) -> Result<Option<Vec<f32>>, GpuError> {
        let Some(t) = &self.bufs.target else {
            return Ok(None);
        };
        let n = self.model.batch * t.cols;
        self.gpu.read("target", &t.buf, 0, n).map(Some)
    }
}

impl Drop for Session<'_> {
    /// The next run of a sweep with the same shapes reuses these buffers.
    fn drop(&mut self) {
        self.gpu.recycle(std::mem::take(&mut self.bufs.owned));
    }
}

/// Builds `spec`'s model, checks it against the adapter and runs it:
/// initialization and one step.
pub fn run(gpu: &Gpu, spec: &RunSpec, opts: &RunOptions<'_>) -> Result<RunOutput, ExecError> {
    let model = crate::model::build::build(spec, opts.base_dir)?;
    model.check_fits(limits(gpu)).map_err(ExecError::Config)?;
    run_model(gpu, &model, spec, opts.keep_tensors)
}

/// Runs a built model whose sizes were checked: initialization and one step.
pub fn run_model(
    gpu: &Gpu,
    model: &Model,
    spec: &RunSpec,
    keep_tensors: bool,
) -> Result<RunOutput, ExecError> {
    let session = Session::new(gpu, model, spec.seed, spec.repeat)?;
    // The Jacobian reads the step's pre-activations at init, so it comes
    // before any update (a training run then repeats that step: same weights,
    // same records).
    let jacobian = match &model.jacobian {
        Some(opts) => {
            session.step()?;
            Some(session.jacobian_record(opts)?)
        }
        None => None,
    };
    // The initial tensors, before any update.
    let tensors = if keep_tensors {
        Some(session.tensors()?)
    } else {
        None
    };
    let (out, train, train_ms) = if model.train.is_some() {
        let t = session.train()?;
        (t.first, Some(t.record), Some(t.train_ms))
    } else {
        (session.step()?, None, None)
    };
    Ok(RunOutput {
        layers: out.layers,
        blocks: out.blocks,
        tensors_stats: out.tensors,
        input: out.input,
        output: out.output,
        stream_in: out.stream_in,
        loss: out.loss,
        init_ms: session.init_ms,
        step_ms: out.step_ms,
        tensors,
        jacobian,
        train,
        train_ms,
    })
}
