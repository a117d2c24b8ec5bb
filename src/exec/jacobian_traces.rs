//! The Jacobian's moments from traces, and the `jacobian` results block.
//!
//! mean_sq = tr(JJᵀ)/p and var_sq = ‖JᵀJ − mean_sq·I‖²_F/p come from the
//! formed product, which is safe here (unlike its SVD) because traces are
//! dominated by the largest values: J̃_l = D_l W_l J̃_{l−1} / c_l with
//! c_l = ‖·‖_F, all on the GPU (one GEMM per layer), and ln tr(JJᵀ) = 2 Σ ln c_l
//! summed on the host in f64, so depth cannot under- or overflow anything.
//! The centred Gram form keeps var_sq of an orthogonal stack near 1e-12
//! instead of the 1e-7 of ‖G‖²/p − μ².

use super::jacobian::Factor;
use super::{ExecError, Session};
use crate::kernels::gemm::{Gemm, encode_gemm};
use crate::kernels::jacobian::{encode_renormalise, encode_row_scale};
use crate::results::jacobian::SpectrumStats;

/// Moments of s² of one Jacobian, in logs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Moments {
    pub log10_mean_sq: f64,
    /// `None` when the variance is exactly 0.
    pub log10_var_sq: Option<f64>,
    pub var_over_mean_sq2: f64,
}

impl Moments {
    /// From ln of the renormalisation (2 Σ ln c_l) and the Gram matrix G
    /// (p × p) of the renormalised product.
    fn from_gram(ln_scale: f64, g: &[f32], p: usize) -> Moments {
        let g: Vec<f64> = g.iter().map(|x| f64::from(*x)).collect();
        let mu = (0..p).map(|i| g[i * p + i]).sum::<f64>() / p as f64;
        let dev: f64 = (0..p * p)
            .map(|e| {
                let x = if e / p == e % p { g[e] - mu } else { g[e] };
                x * x
            })
            .sum::<f64>()
            / p as f64;
        let ln10 = std::f64::consts::LN_10;
        Moments {
            log10_mean_sq: (ln_scale + mu.ln()) / ln10,
            log10_var_sq: (dev > 0.0).then(|| (2.0 * ln_scale + dev.ln()) / ln10),
            var_over_mean_sq2: dev / (mu * mu),
        }
    }

    /// Replaces the spectrum's moment fields by these.
    pub fn apply(&self, s: &mut SpectrumStats) {
        let raw = |l: f64| Some(10f64.powf(l)).filter(|x| x.is_normal());
        s.log10_mean_sq = self.log10_mean_sq;
        s.mean_sq = raw(self.log10_mean_sq);
        s.log10_var_sq = self.log10_var_sq;
        s.var_sq = self.log10_var_sq.map_or(Some(0.0), raw);
        s.var_over_mean_sq2 = self.var_over_mean_sq2;
    }
}

impl Session<'_> {
    /// The moments of the Jacobians of the first `d` layers for every `d` in
    /// `depths` (each ≤ factors.len()), in one forward pass.
    pub fn jacobian_moments(
        &self,
        factors: &[Factor],
        depths: &[usize],
    ) -> Result<Vec<Moments>, ExecError> {
        let gpu = self.gpu;
        let n0 = factors.first().map_or(0, |f| f.n_in);
        let nmax = factors.iter().map(|f| f.n_out).max().unwrap_or(0).max(n0);
        let bytes = (nmax * n0 * 4) as u64;
        let hint = "(the trace route forms width × input_dim)";
        for what in ["jacobian product", "jacobian product'"] {
            gpu.check_binding(what, bytes, hint)?;
        }
        let mut x = [
            gpu.storage("jacobian product", bytes)?,
            gpu.storage("jacobian product'", bytes)?,
        ];
        let y = gpu.storage("jacobian product scratch", bytes)?;
        let norms = gpu.storage("jacobian norms", (factors.len().max(1) * 4) as u64)?;
        let eye: Vec<f32> = (0..n0 * n0)
            .map(|e| f32::from(u8::from(e / n0 == e % n0)))
            .collect();
        gpu.queue.write_buffer(&x[0], 0, bytemuck::cast_slice(&eye));
        let mut enc = gpu.device.create_command_encoder(&Default::default());
        let mut grams = Vec::new();
        for (l, f) in factors.iter().enumerate() {
            let d = gpu.storage_from("jacobian d", &f.d)?;
            let g = Gemm::new(f.n_out, n0, f.n_in, [f.n_in, 1, n0, 1]);
            encode_gemm(
                gpu,
                &mut enc,
                &g,
                self.bufs.param(f.weight),
                &x[0],
                None,
                &y,
            )?;
            encode_row_scale(gpu, &mut enc, (f.n_out, n0), &d, &y, &x[1])?;
            encode_renormalise(gpu, &mut enc, (f.n_out, n0), &x[1], &norms, l)?;
            x.swap(0, 1);
            for _ in depths.iter().filter(|&&dd| dd == l + 1) {
                // G = J̃J̃ᵀ or J̃ᵀJ̃, whichever is smaller (p × p).
                let (p, g) = if f.n_out <= n0 {
                    (f.n_out, Gemm::new(f.n_out, f.n_out, n0, [n0, 1, 1, n0]))
                } else {
                    (n0, Gemm::new(n0, n0, f.n_out, [1, n0, n0, 1]))
                };
                let buf = gpu.storage("jacobian gram", (p * p * 4) as u64)?;
                encode_gemm(gpu, &mut enc, &g, &x[0], &x[0], None, &buf)?;
                grams.push((l + 1, p, buf));
            }
        }
        gpu.submit("jacobian traces", enc)?;
        let c: Vec<f32> = gpu.read("jacobian norms", &norms, 0, factors.len())?;
        let mut out = Vec::with_capacity(depths.len());
        for &d in depths {
            let (_, p, buf) = (grams.iter())
                .find(|(dd, _, _)| *dd == d)
                .ok_or_else(|| ExecError::Config(format!("jacobian.depths: no depth {d}")))?;
            let g: Vec<f32> = gpu.read("jacobian gram", buf, 0, p * p)?;
            let ln_scale = 2.0 * c[..d].iter().map(|v| f64::from(*v).ln()).sum::<f64>();
            out.push(Moments::from_gram(ln_scale, &g, *p));
        }
        Ok(out)
    }
}

/// One depth's spectra and moments, one per input.
type PerInput = (Vec<crate::jacobian::Spectrum>, Vec<Moments>);

impl Session<'_> {
    /// The `jacobian` block of the results: the spectrum of the whole network
    /// and of each listed depth at input rows 0..inputs, with the theory.
    pub fn jacobian_record(
        &self,
        opts: &crate::config::JacobianOptions,
    ) -> Result<crate::results::jacobian::JacobianRecord, ExecError> {
        use crate::results::jacobian::JacobianRecord;
        let t0 = std::time::Instant::now();
        let depth = self.model.layers.len();
        let mut wanted: Vec<usize> = opts.depths.clone();
        // A sweep can shorten the network below a listed depth.
        if let Some(d) = wanted.iter().find(|&&d| d == 0 || d > depth) {
            return Err(ExecError::Config(format!(
                "jacobian.depths: depth {d} is beyond the network's {depth} layers; list depths from 1 to {depth}"
            )));
        }
        wanted.push(depth);
        let per = self.jacobian_inputs(opts.inputs, &wanted)?;
        let pred = crate::theory::of_model(self.model);
        let mut entries: Vec<_> = (wanted.iter().zip(&per))
            .map(|(&d, p)| self.depth_entry(d, p, pred.as_ref(), opts.values))
            .collect();
        let whole = entries
            .pop()
            .ok_or_else(|| ExecError::Config("no layers".into()))?;
        Ok(JacobianRecord {
            inputs: opts.inputs,
            depth,
            singular_values: whole.singular_values,
            histogram: whole.histogram,
            spread: whole.spread,
            theory: whole.theory,
            log10_values: whole.log10_values,
            depths: entries,
            ms: t0.elapsed().as_secs_f64() * 1e3,
        })
    }

    /// Spectra and moments of every wanted depth at input rows 0..inputs
    /// (a depth listed twice is computed once).
    fn jacobian_inputs(&self, inputs: usize, wanted: &[usize]) -> Result<Vec<PerInput>, ExecError> {
        use crate::jacobian::Spectrum;
        let mut per: Vec<PerInput> = vec![(Vec::new(), Vec::new()); wanted.len()];
        for row in 0..inputs {
            let factors = self.jacobian_factors(row)?;
            let moments = self.jacobian_moments(&factors, wanted)?;
            for (i, (&d, m)) in wanted.iter().zip(moments).enumerate() {
                let s = match wanted[..i].iter().position(|&e| e == d) {
                    Some(j) => per[j].0[row].clone(),
                    None => Spectrum::from_graded(&self.jacobian_graded(&factors[..d])?),
                };
                per[i].0.push(s);
                per[i].1.push(m);
            }
        }
        Ok(per)
    }

    /// The results entry of one depth: summaries (moments from traces),
    /// spread over inputs, pooled histogram and theory.
    fn depth_entry(
        &self,
        d: usize,
        (ss, ms): &PerInput,
        pred: Option<&crate::results::Prediction>,
        values: bool,
    ) -> crate::results::jacobian::DepthSpectrum {
        use crate::jacobian::{Spectrum, aggregate, histogram, theory};
        let stats: Vec<_> = (ss.iter().zip(ms))
            .map(|(s, m)| {
                let mut st = s.stats();
                m.apply(&mut st);
                st
            })
            .collect();
        let (singular_values, spread) = aggregate(&stats);
        let logs: Vec<Vec<f64>> = ss.iter().map(Spectrum::log10).collect();
        crate::results::jacobian::DepthSpectrum {
            depth: d,
            singular_values,
            histogram: histogram(&logs, self.model.histogram_bins),
            spread,
            theory: pred.and_then(|p| theory::predict(self.model, p, d)),
            log10_values: values.then_some(logs),
        }
    }
}
