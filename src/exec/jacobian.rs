//! The input-output Jacobian's spectrum on the GPU, in product form.
//!
//! J = A_L ⋯ A_1 with A_l = D_l W_l (D_l = diag φ'(h_l) at one input row) is
//! never formed: its singular values span far more decades than float32 or
//! even float64 hold. Instead (notes in `crate::jacobian`):
//! 1. a start frame Q_0 spanning J's row space (identity, or a backward QR
//!    pass from the narrowest layer when J is rank-limited inside);
//! 2. a forward QR half-sweep Q_l R_l = A_l Q_{l−1}, keeping only Q_L;
//! 3. a backward half-sweep Q_{l−1} C_l = A_lᵀ Q_l whose product
//!    C_1 ⋯ C_L has exactly J's nonzero singular values, accumulated as
//!    diag(e^ℓ)·V with V unit upper triangular (`kernels::jacobian`).
//!
//! Only V (k × k) and ℓ come back; the host finishes with a log-scaled
//! f64 Jacobi SVD. Dead units (φ' = 0 exactly) give exact zero rows of D_l,
//! so the rank k is the narrowest count of live units and the other
//! min(n_0, n_L) − k singular values are exactly 0.

use super::{ExecError, Session};
use crate::activation::Activation;
use crate::gpu::{Gpu, GpuError};
use crate::kernels::gemm::{Gemm, encode_gemm};
use crate::kernels::jacobian::{encode_ell_update, encode_form_m, encode_row_scale};
use crate::model::{ActId, Op, ParamId};

/// One layer's Jacobian factor A_l = diag(d)·W at one input row.
#[derive(Debug, Clone)]
pub struct Factor {
    /// The weight (n_out × n_in, row-major), on the GPU.
    pub weight: ParamId,
    pub n_in: usize,
    pub n_out: usize,
    /// φ'(h) at the input row (n_out values; exact zeros for dead units).
    pub d: Vec<f32>,
}

impl Factor {
    /// Units with a nonzero derivative.
    pub fn live(&self) -> usize {
        self.d.iter().filter(|x| **x != 0.0).count()
    }
}

/// What the GPU hands back for one product: J = factors[..depth].
#[derive(Debug, Clone)]
pub struct Graded {
    /// The rank bound: min(n_0, live units of every layer).
    pub k: usize,
    /// min(n_0, n_L): how many singular values J has.
    pub p: usize,
    /// V (k × k, row-major, unit upper triangular up to rounding).
    pub v: Vec<f32>,
    /// ℓ (k natural logs), summed in f64 from the GPU's (hi, lo) pair.
    pub ell: Vec<f64>,
}

/// The (weight, pre-activation, activation) of every layer of a linear stack.
fn layers(ops: &[Op]) -> Vec<(ParamId, ActId, Activation)> {
    ops.windows(2)
        .filter_map(|w| match (&w[0], &w[1]) {
            (Op::Linear { w, y, .. }, Op::Activation { x, act, .. }) if x == y => {
                Some((*w, *y, *act))
            }
            _ => None,
        })
        .collect()
}

impl Session<'_> {
    /// The Jacobian factors at input row `row` of the last step's forward
    /// pass: pre-activation rows are read back (n per layer) and φ' taken on
    /// the host in f64, the same function the oracle uses.
    pub fn jacobian_factors(&self, row: usize) -> Result<Vec<Factor>, ExecError> {
        let m = self.model;
        if row >= m.batch {
            return Err(ExecError::Config(format!(
                "jacobian.inputs: row {row} is past the batch of {}",
                m.batch
            )));
        }
        let mut out = Vec::new();
        for (w, h, act) in layers(&m.ops) {
            let p = m.param(w);
            let buf = &self.bufs.acts[h.0].buf;
            let hrow: Vec<f32> = self
                .gpu
                .read("preact row", buf, (row * p.rows) as u64, p.rows)?;
            let d = hrow
                .iter()
                .map(|x| act.derivative(f64::from(*x)) as f32)
                .collect();
            out.push(Factor {
                weight: w,
                n_in: p.cols,
                n_out: p.rows,
                d,
            });
        }
        Ok(out)
    }

    /// The product-form factorisation of J = A_depth ⋯ A_1 (`factors` from
    /// [`Session::jacobian_factors`]).
    pub fn jacobian_graded(&self, factors: &[Factor]) -> Result<Graded, ExecError> {
        let (gpu, bufs) = (self.gpu, &self.bufs);
        let n0 = factors.first().map_or(0, |f| f.n_in);
        let p = n0.min(factors.last().map_or(n0, |f| f.n_out));
        let (b, k) = narrowest(factors);
        if k == 0 {
            return Ok(Graded {
                k,
                p,
                v: Vec::new(),
                ell: Vec::new(),
            });
        }
        let nmax = factors.iter().map(|f| f.n_out).max().unwrap_or(0).max(n0);
        let w = Work::new(gpu, factors, nmax, k)?;
        let weight = |f: &Factor| bufs.param(f.weight);
        // 1. The start frame: the live units of layer b, carried down to the input.
        let start = if b == 0 {
            identity(n0, k)
        } else {
            selection(&factors[b - 1].d, k)
        };
        gpu.queue
            .write_buffer(&w.q, 0, bytemuck::cast_slice(&start));
        let mut rec = Rec::new(gpu);
        for j in (0..b).rev() {
            w.backward_z(&mut rec, j, &factors[j], weight(&factors[j]))?;
            w.qr(&mut rec, factors[j].n_in)?;
        }
        // 2. Forward half-sweep: keep Q_L only.
        for (l, f) in factors.iter().enumerate() {
            let g = Gemm::new(f.n_out, k, f.n_in, [f.n_in, 1, k, 1]);
            encode_gemm(gpu, rec.enc(), &g, weight(f), &w.q, None, &w.y)?;
            encode_row_scale(gpu, rec.enc(), (f.n_out, k), &w.d[l], &w.y, &w.z)?;
            w.qr(&mut rec, f.n_out)?;
        }
        // 3. Backward half-sweep with the graded product.
        gpu.queue
            .write_buffer(&w.v[0], 0, bytemuck::cast_slice(&identity(k, k)));
        gpu.queue
            .write_buffer(&w.ell, 0, bytemuck::cast_slice(&vec![0f32; 2 * k]));
        let mut cur = 0;
        for (l, f) in factors.iter().enumerate().rev() {
            w.backward_z(&mut rec, l, f, weight(f))?;
            w.qr(&mut rec, f.n_in)?;
            let g = Gemm::new(k, k, f.n_in, [1, k, k, 1]);
            encode_gemm(gpu, rec.enc(), &g, &w.q, &w.z, None, &w.c)?;
            encode_form_m(gpu, rec.enc(), k, &w.c, &w.ell, &w.m)?;
            let g = Gemm::new(k, k, k, [k, 1, k, 1]);
            encode_gemm(gpu, rec.enc(), &g, &w.m, &w.v[cur], None, &w.v[1 - cur])?;
            encode_ell_update(gpu, rec.enc(), k, &w.c, &w.ell)?;
            cur = 1 - cur;
        }
        rec.flush("jacobian sweeps")?;
        let v = gpu.read("jacobian V", &w.v[cur], 0, k * k)?;
        let hl: Vec<f32> = gpu.read("jacobian ell", &w.ell, 0, 2 * k)?;
        let ell = (0..k)
            .map(|a| f64::from(hl[a]) + f64::from(hl[k + a]))
            .collect();
        Ok(Graded { k, p, v, ell })
    }
}

/// (b, k): the layer whose live units bound the rank (0 = the input) and
/// that rank; the earliest such layer.
fn narrowest(factors: &[Factor]) -> (usize, usize) {
    let n0 = factors.first().map_or(0, |f| f.n_in);
    let mut best = (0, n0);
    for (l, f) in factors.iter().enumerate() {
        let r = f.live();
        if r < best.1 {
            best = (l + 1, r);
        }
    }
    best
}

/// The n × k matrix [I_k; 0], row-major.
fn identity(n: usize, k: usize) -> Vec<f32> {
    let mut q = vec![0f32; n * k];
    (0..k.min(n)).for_each(|i| q[i * k + i] = 1.0);
    q
}

/// The n × k selection of the first k live units of `d` (column j = e_i of
/// the j-th live unit i).
fn selection(d: &[f32], k: usize) -> Vec<f32> {
    let mut q = vec![0f32; d.len() * k];
    let live = d.iter().enumerate().filter(|(_, x)| **x != 0.0);
    for (j, (i, _)) in live.take(k).enumerate() {
        q[i * k + j] = 1.0;
    }
    q
}

/// A command encoder that the interim host QR flushes between steps.
struct Rec<'g> {
    gpu: &'g Gpu,
    enc: Option<wgpu::CommandEncoder>,
}

impl<'g> Rec<'g> {
    fn new(gpu: &'g Gpu) -> Rec<'g> {
        Rec { gpu, enc: None }
    }

    fn enc(&mut self) -> &mut wgpu::CommandEncoder {
        self.enc.get_or_insert_with(|| {
            self.gpu
                .device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                    label: Some("jacobian"),
                })
        })
    }

    fn flush(&mut self, what: &str) -> Result<(), GpuError> {
        match self.enc.take() {
            Some(e) => self.gpu.submit(what, e),
            None => Ok(()),
        }
    }
}

/// The sweep's GPU buffers: frame Q, scratch Y, Z (nmax × k), C, M, V×2
/// (k × k), ℓ (2k), and every layer's derivative vector.
struct Work<'g> {
    gpu: &'g Gpu,
    k: usize,
    q: wgpu::Buffer,
    y: wgpu::Buffer,
    z: wgpu::Buffer,
    c: wgpu::Buffer,
    m: wgpu::Buffer,
    v: [wgpu::Buffer; 2],
    ell: wgpu::Buffer,
    d: Vec<wgpu::Buffer>,
}

impl<'g> Work<'g> {
    fn new(gpu: &'g Gpu, factors: &[Factor], nmax: usize, k: usize) -> Result<Work<'g>, GpuError> {
        let frame = (nmax * k * 4) as u64;
        let kk = (k * k * 4) as u64;
        let buf = |label: &str, bytes: u64| {
            gpu.check_binding(label, bytes, "(the Jacobian frame is width × width)")?;
            gpu.storage(label, bytes)
        };
        let d = factors
            .iter()
            .map(|f| gpu.storage_from("jacobian d", &f.d))
            .collect::<Result<_, _>>()?;
        Ok(Work {
            gpu,
            k,
            q: buf("jacobian Q", frame)?,
            y: buf("jacobian Y", frame)?,
            z: buf("jacobian Z", frame)?,
            c: buf("jacobian C", kk)?,
            m: buf("jacobian M", kk)?,
            v: [buf("jacobian V", kk)?, buf("jacobian V'", kk)?],
            ell: buf("jacobian ell", (2 * k * 4) as u64)?,
            d,
        })
    }

    /// Z = A_lᵀ Q = Wᵀ (D_l Q) (n_in × k).
    fn backward_z(
        &self,
        rec: &mut Rec<'_>,
        l: usize,
        f: &Factor,
        w: &wgpu::Buffer,
    ) -> Result<(), GpuError> {
        let k = self.k;
        encode_row_scale(
            self.gpu,
            rec.enc(),
            (f.n_out, k),
            &self.d[l],
            &self.q,
            &self.y,
        )?;
        let g = Gemm::new(f.n_in, k, f.n_out, [1, f.n_in, k, 1]);
        encode_gemm(self.gpu, rec.enc(), &g, w, &self.y, None, &self.z)
    }

    /// Q = the orthonormal factor of Z (n × k), R with a positive diagonal.
    /// Interim: Householder QR in f64 on the host (Z read back, Q written).
    fn qr(&self, rec: &mut Rec<'_>, n: usize) -> Result<(), GpuError> {
        let k = self.k;
        rec.flush("jacobian step")?;
        let z: Vec<f32> = self.gpu.read("jacobian Z", &self.z, 0, n * k)?;
        let z: Vec<f64> = z.into_iter().map(f64::from).collect();
        let q: Vec<f32> = crate::jacobian::svd::householder_q(&z, n, k)
            .into_iter()
            .map(|x| x as f32)
            .collect();
        self.gpu
            .queue
            .write_buffer(&self.q, 0, bytemuck::cast_slice(&q));
        Ok(())
    }
}

impl Session<'_> {
    /// The `jacobian` block of the results: the spectrum of the whole network
    /// and of each listed depth at input rows 0..inputs, with the theory.
    pub fn jacobian_record(
        &self,
        opts: &crate::config::JacobianOptions,
    ) -> Result<crate::results::jacobian::JacobianRecord, ExecError> {
        use crate::jacobian::{Spectrum, aggregate, histogram, theory};
        use crate::results::jacobian::{DepthSpectrum, JacobianRecord};
        let t0 = std::time::Instant::now();
        let model = self.model;
        let depth = model.layers.len();
        let mut wanted: Vec<usize> = opts.depths.clone();
        // A sweep can shorten the network below a listed depth.
        if let Some(d) = wanted.iter().find(|&&d| d == 0 || d > depth) {
            return Err(ExecError::Config(format!(
                "jacobian.depths: depth {d} is beyond the network's {depth} layers; list depths from 1 to {depth}"
            )));
        }
        wanted.push(depth);
        // spectra[i][input]: the spectrum of wanted[i] layers at that input.
        let mut spectra: Vec<Vec<Spectrum>> = vec![Vec::new(); wanted.len()];
        for row in 0..opts.inputs {
            let factors = self.jacobian_factors(row)?;
            for (i, &d) in wanted.iter().enumerate() {
                let done = wanted[..i].iter().position(|&e| e == d);
                let s = match done {
                    Some(j) => spectra[j][row].clone(),
                    None => Spectrum::from_graded(&self.jacobian_graded(&factors[..d])?),
                };
                spectra[i].push(s);
            }
        }
        let pred = crate::theory::of_model(model);
        let bins = model.histogram_bins;
        let mut entries: Vec<DepthSpectrum> = wanted
            .iter()
            .zip(&spectra)
            .map(|(&d, ss)| {
                let stats: Vec<_> = ss.iter().map(Spectrum::stats).collect();
                let (singular_values, spread) = aggregate(&stats);
                let logs: Vec<Vec<f64>> = ss.iter().map(Spectrum::log10).collect();
                DepthSpectrum {
                    depth: d,
                    singular_values,
                    histogram: histogram(&logs, bins),
                    spread,
                    theory: pred.as_ref().and_then(|p| theory::predict(model, p, d)),
                    log10_values: opts.values.then_some(logs),
                }
            })
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
}
