//! Layer-sequential unit variance (Mishkin & Matas, 2016), on the GPU.
//!
//! After the `pre` initialization, weight by weight in network order: run
//! the network forward up to the op that uses the weight, measure the
//! variance of that op's output with the GPU reduction, and rescale W by
//! 1/√Var until |Var − 1| < tol or `max_iter` rescales. Only one statistics
//! record per iteration is read back.

use super::Session;
use crate::gpu::GpuError;
use crate::kernels::loss::{EPT, LossParams, encode_loss_kernel};
use crate::kernels::reduce;
use crate::model::{Op, ParamId};
use crate::results::LsuvRecord;

impl Session<'_> {
    /// Runs LSUV on every weight that asks for it; returns the outcome per
    /// layer index (None where a layer has no LSUV).
    pub(super) fn run_lsuv(&self) -> Result<Vec<Option<LsuvRecord>>, GpuError> {
        let mut out = vec![None; self.model.layers.len()];
        let mut done = 0;
        for (i, p) in self.model.params.iter().enumerate() {
            let Some((tol, max_iter)) = p.lsuv else {
                continue;
            };
            let Some(k) = self.model.op_of_weight(ParamId(i)) else {
                continue;
            };
            // Everything before op k must be final before k is measured.
            if done < k {
                let mut enc = self.gpu.device.create_command_encoder(&Default::default());
                self.encode_forward(&mut enc, done..k)?;
                self.gpu.submit("lsuv forward", enc)?;
            }
            let rec = self.lsuv_op(k, ParamId(i), tol, max_iter)?;
            done = k + 1;
            if let Some(slot) = out.get_mut(p.layer as usize) {
                *slot = Some(rec);
            }
        }
        Ok(out)
    }

    /// The variance of op `k`'s output after running op `k` forward.
    fn measure(&self, k: usize) -> Result<f64, GpuError> {
        let mut enc = self.gpu.device.create_command_encoder(&Default::default());
        self.encode_forward(&mut enc, k..k + 1)?;
        let y = self.model.ops[k].output();
        let item = self.item(crate::model::StatSource::Act(y), false)?;
        let bufs = reduce::encode_reduce(self.gpu, &mut enc, &[item], 1.0, 1)?;
        self.gpu.submit("lsuv forward", enc)?;
        let s = reduce::read_stats(self.gpu, &bufs, &[false])?;
        Ok(s.first().map_or(f64::NAN, |s| s.std * s.std))
    }

    fn lsuv_op(
        &self,
        k: usize,
        w: ParamId,
        tol: f64,
        max_iter: u32,
    ) -> Result<LsuvRecord, GpuError> {
        debug_assert!(matches!(self.model.ops[k], Op::Linear { .. }));
        let mut variances = Vec::new();
        let mut iterations = 0;
        loop {
            let var = self.measure(k)?;
            variances.push(var);
            let converged = (var - 1.0).abs() < tol;
            if converged || iterations >= max_iter || !(var.is_finite() && var > 0.0) {
                return Ok(LsuvRecord {
                    iterations,
                    final_variance: var,
                    variances,
                    converged,
                });
            }
            let mut enc = self.gpu.device.create_command_encoder(&Default::default());
            let n = self.model.param(w).len();
            let p = LossParams {
                n: n as u32,
                kind: 0,
                rows: 0,
                cols: 0,
                scale: (1.0 / var.sqrt()) as f32,
                total: 0,
                pad: [0; 2],
            };
            let bind = [(3, self.bufs.param(w).into())];
            let threads = (n as u32).div_ceil(EPT);
            encode_loss_kernel(self.gpu, &mut enc, "scale_inplace", p, &bind, threads)?;
            self.gpu.submit("lsuv rescale", enc)?;
            iterations += 1;
        }
    }
}
