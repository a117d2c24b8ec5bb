//! Recording the passes of a run: initialization, forward, loss gradient and
//! backward, each over the batch chunks of the network.

use super::Samplers;
use super::tensors::{Act, Net};
use crate::config::{Loss, RunSpec, Target};
use crate::gpu::buffers::View;
use crate::gpu::{Gpu, GpuError};
use crate::init::{Component, Sampler, Shape};
use crate::kernels::activation::encode_act;
use crate::kernels::gemm::{Gemm, encode_gemm};
use crate::kernels::init::{self as init_kernels, Fill};
use crate::kernels::loss::{EPT, LossParams, encode_loss_kernel};
use crate::rng::{Draw, Role, Stream};

/// Fills an activation-shaped tensor (input, target) chunk by chunk; the
/// values are those of one unchunked fill.
fn fill_rows(
    gpu: &Gpu,
    enc: &mut wgpu::CommandEncoder,
    net: &Net,
    t: &Act,
    parts: &[(f64, Component)],
    draw: Draw,
) -> Result<(), GpuError> {
    for (r0, rows) in net.chunks() {
        let what = Fill {
            n: (rows * t.cols) as u32,
            first: (r0 * t.cols) as u64,
            draw,
        };
        init_kernels::encode_elementwise_chunk(gpu, enc, t.rows(r0, rows), parts, what)?;
    }
    Ok(())
}

/// Records the initialization of every tensor.
pub(crate) fn encode_init(
    gpu: &Gpu,
    enc: &mut wgpu::CommandEncoder,
    spec: &RunSpec,
    net: &Net,
    s: &Samplers,
) -> Result<(), GpuError> {
    let draw = |layer: usize, role| Draw {
        seed: spec.seed,
        stream: Stream {
            layer: layer as u32,
            role,
            repeat: spec.repeat,
        },
    };
    let Sampler::Elementwise(parts) = &s.input else {
        // Validation allows only elementwise distributions for the input.
        return Err(GpuError::Device(
            "input.dist must be an elementwise distribution".into(),
        ));
    };
    fill_rows(gpu, enc, net, &net.x, parts, draw(0, Role::Input))?;
    for (l, (ws, bs)) in net.layers.iter().zip(&s.layers) {
        let (fi, fo) = (l.spec.fan_in, l.spec.fan_out);
        super::init::encode(
            gpu,
            enc,
            &l.w,
            ws,
            Shape::weight(fi, fo),
            draw(l.spec.index, Role::Weight),
        )?;
        if let (Some(b), Some(bs)) = (&l.b, bs) {
            super::init::encode(
                gpu,
                enc,
                b,
                bs,
                Shape::bias(fi, fo),
                draw(l.spec.index, Role::Bias),
            )?;
        }
    }
    if let (Some(t), Loss::Mse { target }) = (&net.target, spec.config.loss) {
        encode_target(gpu, enc, net, t, target, |role| draw(0, role))?;
    }
    Ok(())
}

fn encode_target(
    gpu: &Gpu,
    enc: &mut wgpu::CommandEncoder,
    net: &Net,
    t: &Act,
    target: Target,
    draw: impl Fn(Role) -> Draw,
) -> Result<(), GpuError> {
    let out = t.cols;
    let normal = |std| [(1.0, Component::Normal { mean: 0.0, std })];
    match target {
        Target::Gaussian => fill_rows(gpu, enc, net, t, &normal(1.0), draw(Role::Target)),
        Target::Teacher => {
            // T = X·W_tᵀ with W_t ~ N(0, 1/input_dim): a random linear teacher.
            let wt = gpu.storage("teacher weight", (out * net.input_dim * 4) as u64)?;
            let std = 1.0 / (net.input_dim as f64).sqrt();
            init_kernels::encode_elementwise(
                gpu,
                enc,
                &wt,
                &normal(std),
                (out * net.input_dim) as u32,
                draw(Role::Teacher),
            )?;
            for (r0, rows) in net.chunks() {
                let g = Gemm::forward(rows, net.input_dim, out);
                encode_gemm(
                    gpu,
                    enc,
                    &g,
                    net.x.rows(r0, rows),
                    &wt,
                    None,
                    t.rows(r0, rows),
                )?;
            }
            Ok(())
        }
    }
}

/// Records the forward pass of `layers`, each reading the previous layer's act.
pub(crate) fn encode_forward(
    gpu: &Gpu,
    enc: &mut wgpu::CommandEncoder,
    net: &Net,
    layers: std::ops::Range<usize>,
) -> Result<(), GpuError> {
    for i in layers {
        let l = &net.layers[i];
        let x = if i == 0 { &net.x } else { &net.layers[i - 1].a };
        for (r0, rows) in net.chunks() {
            let g = Gemm::forward(rows, l.spec.fan_in, l.spec.fan_out);
            let bias = l.b.as_ref().map(View::from);
            encode_gemm(
                gpu,
                enc,
                &g,
                x.rows(r0, rows),
                &l.w,
                bias,
                l.h.rows(r0, rows),
            )?;
            encode_act(
                gpu,
                enc,
                l.spec.activation,
                rows * l.spec.fan_out,
                l.h.rows(r0, rows),
                l.a.rows(r0, rows),
                None,
            )?;
        }
    }
    Ok(())
}

/// Records the loss gradient and the backward pass: per layer and chunk dH,
/// then dW and db accumulated over chunks, then dX.
pub(crate) fn encode_backward(
    gpu: &Gpu,
    enc: &mut wgpu::CommandEncoder,
    net: &Net,
    loss: Loss,
) -> Result<(), GpuError> {
    let Some(last) = net.layers.last() else {
        return Ok(());
    };
    let kind = match loss {
        Loss::Mean => 0,
        Loss::MeanSquare => 1,
        Loss::Mse { .. } => 2,
        Loss::Sum => 3,
    };
    let out = last.spec.fan_out;
    for (r0, rows) in net.chunks() {
        let n = (rows * out) as u32;
        let p = LossParams {
            n,
            kind,
            rows: 0,
            cols: 0,
            scale: 1.0,
            total: (net.batch * out) as u32,
            pad: [0; 2],
        };
        let target = net.target.as_ref().unwrap_or(&last.a);
        let b = [
            (1, last.a.rows(r0, rows)),
            (2, target.rows(r0, rows)),
            (3, last.da.rows(r0, rows)),
        ];
        encode_loss_kernel(gpu, enc, "loss_grad", p, &b, n.div_ceil(EPT))?;
    }
    for i in (0..net.layers.len()).rev() {
        backward_layer(gpu, enc, net, i)?;
    }
    Ok(())
}

fn backward_layer(
    gpu: &Gpu,
    enc: &mut wgpu::CommandEncoder,
    net: &Net,
    i: usize,
) -> Result<(), GpuError> {
    let l = &net.layers[i];
    let (fi, fo) = (l.spec.fan_in, l.spec.fan_out);
    let x = if i == 0 { &net.x } else { &net.layers[i - 1].a };
    for (c, (r0, rows)) in net.chunks().into_iter().enumerate() {
        let dh = View::elems(&net.dh, 0, (rows * fo).max(1) as u64);
        encode_act(
            gpu,
            enc,
            l.spec.activation,
            rows * fo,
            l.h.rows(r0, rows),
            dh,
            Some(l.da.rows(r0, rows)),
        )?;
        let g = Gemm {
            accumulate: u32::from(c > 0),
            ..Gemm::backward_weight(rows, fi, fo)
        };
        encode_gemm(gpu, enc, &g, dh, x.rows(r0, rows), None, &l.dw)?;
        if let Some(db) = &l.db {
            let p = LossParams {
                n: 0,
                kind: u32::from(c > 0),
                rows: rows as u32,
                cols: fo as u32,
                scale: 1.0,
                total: 0,
                pad: [0; 2],
            };
            encode_loss_kernel(
                gpu,
                enc,
                "column_sum",
                p,
                &[(1, dh), (3, db.into())],
                fo as u32,
            )?;
        }
        if i > 0 {
            let prev = &net.layers[i - 1];
            encode_gemm(
                gpu,
                enc,
                &Gemm::backward_data(rows, fi, fo),
                dh,
                &l.w,
                None,
                prev.da.rows(r0, rows),
            )?;
        }
    }
    Ok(())
}
