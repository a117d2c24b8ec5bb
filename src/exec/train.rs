//! Training on the GPU: steps 0..=`steps` of forward, loss gradient and
//! backward, each but the last followed by one optimizer update per
//! parameter. Each step is one submission; only recorded steps (every
//! `record_every`, and the last) reduce statistics and read them back, so
//! nothing else leaves the GPU between records.
//!
//! Step 0 is today's single step, recorded in full (histograms included);
//! its statistics are bit-identical to a run without `train`.

use super::{ExecError, Session, StepOutput, loss};
use crate::gpu::{Gpu, GpuError};
use crate::kernels::loss::encode_scale;
use crate::kernels::optim::{encode_update, update};
use crate::kernels::reduce::{self, Item};
use crate::kernels::symmetry::{SymLayer, encode_symmetry};
use crate::model::records::{
    StepExtras, UpdateNorms, attention_records, train_attention_records, train_block_records,
    train_layer_records,
};
use crate::model::train::{TrainPlan, TrainUnit, in_train_record};
use crate::model::{ParamId, StatRequest};
use crate::results::{TrainRecord, TrainStep};
use crate::rng::{Draw, Role, Stream};
use crate::train::DataMode;
use std::time::Instant;

/// What a training run produced.
pub struct TrainOutput {
    /// Step 0 in full: today's records of the run.
    pub first: StepOutput,
    pub record: TrainRecord,
    /// Wall-clock milliseconds of steps 1.. (records included).
    pub train_ms: f64,
}

/// Norms of the recorded parameters (`Model::update_params`) before an
/// update and of the update itself, reduced on the GPU and read at the next
/// record.
struct PendingUpdate {
    before: reduce::StatsBuffers,
    delta: reduce::StatsBuffers,
}

/// Buffers of the symmetry count: per-unit signatures and one counter per unit.
struct Symmetry {
    sig: wgpu::Buffer,
    counts: wgpu::Buffer,
}

impl Session<'_> {
    /// Multiplies parameters by their init multipliers (muP's output layer),
    /// after init and LSUV.
    pub(super) fn scale_params(&self) -> Result<(), GpuError> {
        let Some(plan) = &self.model.train else {
            return Ok(());
        };
        let mut enc = self.gpu.device.create_command_encoder(&Default::default());
        for (i, m) in plan.init_mult.iter().enumerate() {
            if *m != 1.0 {
                let n = self.model.params[i].len();
                encode_scale(self.gpu, &mut enc, &self.bufs.params[i], n, *m as f32)?;
            }
        }
        self.gpu.submit("init multipliers", enc)
    }

    /// Runs the model's training: every step, an update after each but the
    /// last, and a record at the recorded steps.
    pub fn train(&self) -> Result<TrainOutput, ExecError> {
        let (gpu, model) = (self.gpu, self.model);
        let plan = model
            .train
            .as_ref()
            .ok_or_else(|| ExecError::Config("the run has no train block".into()))?;
        let cfg = &plan.config;
        let units = model.train_units();
        let moved = model.update_params();
        let sym = self.symmetry_buffers(units.len())?;
        let subset: Vec<&StatRequest> = model
            .stats
            .iter()
            .filter(|r| in_train_record(&r.key))
            .collect();
        let mut enc = gpu.device.create_command_encoder(&Default::default());
        for s in self.bufs.state.iter().flatten() {
            enc.clear_buffer(s, 0, None);
        }
        gpu.submit("optimizer state", enc)?;
        let (mut first, mut steps, mut pending) = (None, Vec::new(), None);
        let (t0, mut in_flight) = (Instant::now(), None);
        for k in 0..=cfg.steps {
            let t1 = Instant::now();
            let mut enc = gpu.device.create_command_encoder(&Default::default());
            if k > 0 && cfg.data == DataMode::Fresh {
                self.encode_data(&mut enc, k)?;
            }
            self.encode_forward(&mut enc, 0..model.ops.len())?;
            self.encode_backward(&mut enc)?;
            let record = cfg.records(k);
            let stats = match (record, k) {
                (false, _) => None,
                (true, 0) => Some(self.reduce(&mut enc)?),
                (true, _) => Some(self.reduce_requests(&mut enc, &subset, false)?),
            };
            if record {
                self.encode_symmetry(&mut enc, &units, &sym)?;
            }
            let next = if k < cfg.steps {
                self.encode_step_update(&mut enc, plan, &moved, k, cfg.records(k + 1))?
            } else {
                None
            };
            let index = gpu.submit_tracked("training step", enc)?;
            // At most two steps in flight: record the next while this one runs.
            if let Some(prev) = in_flight.replace(index) {
                gpu.wait_for(prev)?;
            }
            if let Some(stats) = stats {
                let (all, summaries) = stats.read_with_attention(gpu)?;
                let extras = StepExtras {
                    updates: read_updates(gpu, &moved, pending.take())?,
                    symmetry: self.read_symmetry(&units, &sym)?,
                };
                let lr = (k < cfg.steps).then(|| plan.optimizer.lr() * cfg.lr_factor(k));
                steps.push(TrainStep {
                    step: k,
                    loss: loss::value_of(model, &all).unwrap_or(f64::NAN),
                    lr,
                    layers: train_layer_records(model, &all, &extras),
                    blocks: train_block_records(model, &all, &extras),
                });
                if let Some(s) = steps.last_mut() {
                    train_attention_records(model, &mut s.blocks, &summaries);
                }
                if k == 0 {
                    let mut out = self.step_output(all, t1.elapsed().as_secs_f64() * 1e3)?;
                    attention_records(model, &mut out.blocks, &summaries);
                    first = Some(out);
                }
            }
            pending = next;
        }
        gpu.wait()?;
        let first = first.ok_or_else(|| ExecError::Config("step 0 was not recorded".into()))?;
        let train_ms = t0.elapsed().as_secs_f64() * 1e3 - first.step_ms;
        Ok(TrainOutput {
            first,
            record: TrainRecord { steps },
            train_ms,
        })
    }

    /// Records a fresh batch for data step `k`: the input from the Philox
    /// stream whose layer word is the step, and its target.
    fn encode_data(&self, enc: &mut wgpu::CommandEncoder, k: u32) -> Result<(), ExecError> {
        let (gpu, model) = (self.gpu, self.model);
        let crate::init::Sampler::Elementwise(parts) = &model.input_sampler else {
            return Err(ExecError::Config(
                "input.dist must be an elementwise distribution".into(),
            ));
        };
        let draw = |role: Role| Draw {
            seed: self.seed,
            stream: Stream {
                layer: k,
                role,
                repeat: self.repeat,
            },
        };
        let input = &self.bufs.acts[model.input.0];
        super::init::fill_rows(gpu, enc, &self.bufs, input, parts, draw(Role::Input))?;
        loss::encode_target_rows(gpu, enc, model, &self.bufs, &draw)?;
        Ok(())
    }

    /// Records the update from step `k` to `k + 1` of every parameter; when
    /// step `k + 1` is recorded, also the norms of the `moved` parameters
    /// before it and of their updates.
    fn encode_step_update(
        &self,
        enc: &mut wgpu::CommandEncoder,
        plan: &TrainPlan,
        moved: &[ParamId],
        k: u32,
        record_next: bool,
    ) -> Result<Option<PendingUpdate>, GpuError> {
        let before = record_next
            .then(|| self.reduce_norms(enc, moved, false))
            .transpose()?;
        let rate = plan.optimizer.lr() * plan.config.lr_factor(k);
        for (i, p) in self.model.params.iter().enumerate() {
            let u = update(&plan.optimizer, p.len(), rate * plan.lr_mult[i], k + 1);
            let b = &self.bufs;
            encode_update(
                self.gpu,
                enc,
                &u,
                &b.params[i],
                &b.param_grads[i],
                &b.state[i],
            )?;
        }
        let Some(before) = before else {
            return Ok(None);
        };
        let delta = self.reduce_norms(enc, moved, true)?;
        Ok(Some(PendingUpdate { before, delta }))
    }

    /// Records the reduction of each parameter of `moved` (or, with `delta`,
    /// of its last update, which the optimizer left in the gradient's buffer).
    fn reduce_norms(
        &self,
        enc: &mut wgpu::CommandEncoder,
        moved: &[ParamId],
        delta: bool,
    ) -> Result<reduce::StatsBuffers, GpuError> {
        let b = &self.bufs;
        let items: Vec<Item<'_>> = moved
            .iter()
            .map(|&p| {
                let buf = if delta { b.param_grad(p) } else { b.param(p) };
                Item::whole(buf, self.model.param(p).len() as u32, false)
            })
            .collect();
        reduce::encode_reduce(self.gpu, enc, &items, 1.0, 0)
    }

    fn symmetry_buffers(&self, units: usize) -> Result<Symmetry, GpuError> {
        let rows = self.model.params.iter().map(|p| p.rows).max().unwrap_or(1);
        Ok(Symmetry {
            sig: self.gpu.storage("symmetry signatures", rows as u64 * 16)?,
            counts: self
                .gpu
                .storage("symmetry counts", units.max(1) as u64 * 4)?,
        })
    }

    /// Records the count of duplicated units of every unit layer.
    fn encode_symmetry(
        &self,
        enc: &mut wgpu::CommandEncoder,
        units: &[TrainUnit],
        sym: &Symmetry,
    ) -> Result<(), GpuError> {
        enc.clear_buffer(&sym.counts, 0, None);
        for (slot, u) in units.iter().enumerate() {
            let w = self.model.param(u.weight);
            let layer = SymLayer {
                weight: self.bufs.param(u.weight),
                bias: u.bias.map(|b| self.bufs.param(b)),
                rows: w.rows,
                cols: w.cols,
                slot: slot as u32,
            };
            encode_symmetry(self.gpu, enc, &layer, &sym.sig, &sym.counts)?;
        }
        Ok(())
    }

    /// Each unit layer's fraction of duplicated units, by its weight.
    fn read_symmetry(
        &self,
        units: &[TrainUnit],
        sym: &Symmetry,
    ) -> Result<Vec<(ParamId, f64)>, GpuError> {
        let counts: Vec<u32> = self
            .gpu
            .read("symmetry counts", &sym.counts, 0, units.len())?;
        Ok(units
            .iter()
            .zip(counts)
            .map(|(u, c)| {
                let rows = self.model.param(u.weight).rows.max(1);
                (u.weight, f64::from(c) / rows as f64)
            })
            .collect())
    }
}

/// The update norms of a pending reduction (none at step 0).
fn read_updates(
    gpu: &Gpu,
    moved: &[ParamId],
    pending: Option<PendingUpdate>,
) -> Result<Vec<UpdateNorms>, GpuError> {
    let Some(p) = pending else {
        return Ok(Vec::new());
    };
    let flags = vec![false; moved.len()];
    let before = reduce::read_stats(gpu, &p.before, &flags)?;
    let delta = reduce::read_stats(gpu, &p.delta, &flags)?;
    Ok(moved
        .iter()
        .zip(before.iter().zip(&delta))
        .map(|(&param, (b, d))| UpdateNorms {
            param,
            delta: d.norm,
            before: b.norm,
        })
        .collect())
}
