//! The statistics pass of a step: which tensors are reduced, the dead-unit
//! counters and attention summaries that ride along, and reading them back.

use super::{Session, ops, tensors};
use crate::gpu::{Gpu, GpuError};
use crate::kernels::reduce::{self, Item};
use crate::kernels::units;
use crate::model::records::HeadSummary;
use crate::model::{StatKey, StatRequest, StatSource};
use crate::results::TensorStats;
use tensors::Buffers;

impl Session<'_> {
    /// Records the reduction of every requested statistic.
    pub(super) fn reduce(&self, enc: &mut wgpu::CommandEncoder) -> Result<PendingStats, GpuError> {
        let all: Vec<&StatRequest> = self.model.stats.iter().collect();
        self.reduce_requests(enc, &all, true)
    }

    /// Records the reduction of `requests` (histograms only with `histograms`).
    pub(super) fn reduce_requests(
        &self,
        enc: &mut wgpu::CommandEncoder,
        requests: &[&StatRequest],
        histograms: bool,
    ) -> Result<PendingStats, GpuError> {
        let model = self.model;
        let items: Vec<Item<'_>> = requests
            .iter()
            .map(|r| self.item(r.source, r.histogram && histograms))
            .collect::<Result<_, _>>()?;
        let (sat, bins) = (model.saturation_threshold as f32, model.histogram_bins);
        let bufs = reduce::encode_reduce(self.gpu, enc, &items, sat, bins)?;
        let (dead, dead_of) = self.dead_units(enc, requests)?;
        let attention = ops::attention::encode_summaries(self.gpu, enc, model, &self.bufs)?;
        Ok(PendingStats {
            attention,
            bufs,
            keys: requests.iter().map(|r| r.key.clone()).collect(),
            activation: requests.iter().map(|r| r.activation).collect(),
            dead,
            dead_of,
        })
    }

    /// Records the dead-unit count of every activation statistic (row
    /// tensors only); returns the counters and the statistic each belongs to.
    pub(super) fn dead_units(
        &self,
        enc: &mut wgpu::CommandEncoder,
        requests: &[&StatRequest],
    ) -> Result<(units::DeadUnits, Vec<usize>), GpuError> {
        let b = &self.bufs;
        let mut items = Vec::new();
        let mut of = Vec::new();
        for (i, r) in requests.iter().enumerate() {
            if let (true, StatSource::Act(id)) = (r.activation, r.source) {
                let t = &b.acts[id.0];
                let chunks = b
                    .chunks()
                    .into_iter()
                    .map(|(r0, n)| (t.rows(r0, n), n as u32))
                    .collect();
                items.push(units::UnitItem {
                    chunks,
                    cols: t.cols as u32,
                });
                of.push(i);
            }
        }
        Ok((units::encode_dead_units(self.gpu, enc, &items)?, of))
    }

    /// A reduction item over `source` (every chunk of a row tensor).
    pub(super) fn item(&self, source: StatSource, histogram: bool) -> Result<Item<'_>, GpuError> {
        let (m, b) = (self.model, &self.bufs);
        let rows = |t| rows_item(b, t, histogram);
        Ok(match source {
            StatSource::Act(id) => rows(&b.acts[id.0]),
            StatSource::Grad(id) => match &b.grads[id.0] {
                Some(g) => rows(g),
                None => {
                    return Err(GpuError::Device(format!(
                        "internal error: {} has no stored gradient",
                        m.act(id).label
                    )));
                }
            },
            StatSource::Param(id) => Item::whole(b.param(id), m.param(id).len() as u32, histogram),
            StatSource::ParamGrad(id) => {
                Item::whole(b.param_grad(id), m.param(id).len() as u32, histogram)
            }
        })
    }
}

/// A reduction item over every chunk of row tensor `t`.
pub(super) fn rows_item<'b>(b: &Buffers, t: &'b tensors::Act, histogram: bool) -> Item<'b> {
    let chunks = b
        .chunks()
        .into_iter()
        .map(|(r0, n)| (t.rows(r0, n), (n * t.cols) as u32))
        .collect();
    Item { chunks, histogram }
}

/// Reduced statistics by where they go in the records.
type KeyedStats = Vec<(StatKey, TensorStats)>;

/// A recorded reduction waiting for its submission.
pub(super) struct PendingStats {
    bufs: reduce::StatsBuffers,
    keys: Vec<StatKey>,
    activation: Vec<bool>,
    dead: units::DeadUnits,
    /// The statistic each dead-unit counter belongs to.
    dead_of: Vec<usize>,
    attention: Option<ops::attention::PendingSummaries>,
}

impl PendingStats {
    /// The statistics by key, and the attention summaries (heads per op).
    pub(super) fn read_with_attention(
        self,
        gpu: &Gpu,
    ) -> Result<(KeyedStats, Vec<HeadSummary>), GpuError> {
        let mut all = reduce::read_stats(gpu, &self.bufs, &self.activation)?;
        for (f, i) in self.dead.read(gpu)?.into_iter().zip(self.dead_of) {
            all[i].dead_unit_fraction = Some(f);
        }
        let summaries = match &self.attention {
            Some(a) => a.read(gpu)?,
            None => Vec::new(),
        };
        Ok((self.keys.into_iter().zip(all).collect(), summaries))
    }
}
