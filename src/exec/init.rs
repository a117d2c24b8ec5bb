//! Initializing one tensor from its [`Sampler`]: each kind of sampler goes
//! to its kernel family (elementwise and sparse in `kernels::init`,
//! orthogonal in `kernels::orthogonal`, values from a file uploaded).

use super::tensors::{Act, Buffers};
use crate::gpu::{Gpu, GpuError, Warm};
use crate::init::{Component, Sampler, Shape};
use crate::kernels::embed::{EmbedRows, encode_embed, sinusoidal};
use crate::kernels::loss::{EPT, LossParams, encode_loss_kernel};
use crate::kernels::{init, orthogonal};
use crate::model::residual::Embedding;
use crate::model::{Model, Param};
use crate::rng::{Draw, Role, layer_word, module};

/// Generates one tensor on the GPU and reads it back (tests, export checks).
/// `workgroup` changes the dispatch geometry only, never the values.
pub fn generate(
    gpu: &Gpu,
    sampler: &Sampler,
    shape: Shape,
    draw: Draw,
    workgroup: u32,
) -> Result<Vec<f32>, GpuError> {
    let out = gpu.storage("generated tensor", (shape.len() * 4) as u64)?;
    let mut enc = gpu.device.create_command_encoder(&Default::default());
    match sampler {
        Sampler::Elementwise(parts) => {
            let what = init::Fill {
                n: shape.len() as u32,
                first: 0,
                draw,
            };
            init::encode_elementwise_wg(gpu, &mut enc, (&out).into(), parts, what, workgroup)?
        }
        other => encode(gpu, &mut enc, &out, other, shape, draw)?,
    }
    gpu.submit("init", enc)?;
    gpu.read("generated tensor", &out, 0, shape.len())
}

/// Records the initialization of `out` (a tensor of `shape`) into `enc`.
/// Every sampler kind goes to its kernel family.
pub fn encode(
    gpu: &Gpu,
    enc: &mut wgpu::CommandEncoder,
    out: &wgpu::Buffer,
    sampler: &Sampler,
    shape: Shape,
    draw: Draw,
) -> Result<(), GpuError> {
    match sampler {
        Sampler::Elementwise(parts) => {
            init::encode_elementwise(gpu, enc, out, parts, shape.len() as u32, draw)
        }
        Sampler::Sparse { num_zeros, std } => {
            init::encode_sparse(gpu, enc, out, *num_zeros, *std, shape, draw)
        }
        Sampler::Orthogonal { gain } => orthogonal::encode(gpu, enc, out, *gain, shape, draw),
        Sampler::Values(v) => {
            gpu.queue.write_buffer(out, 0, bytemuck::cast_slice(v));
            Ok(())
        }
    }
}

/// Fills a row tensor (input, target) chunk by chunk; the values are those
/// of one unchunked fill.
pub(crate) fn fill_rows(
    gpu: &Gpu,
    enc: &mut wgpu::CommandEncoder,
    bufs: &Buffers,
    t: &Act,
    parts: &[(f64, Component)],
    draw: Draw,
) -> Result<(), GpuError> {
    for (r0, rows) in bufs.chunks() {
        let what = init::Fill {
            n: (rows * t.cols) as u32,
            first: (r0 * t.cols) as u64,
            draw,
        };
        init::encode_elementwise_chunk(gpu, enc, t.rows(r0, rows), parts, what)?;
    }
    Ok(())
}

/// The large pipelines initializing and stepping `model` will compile, for
/// a second thread to compile ahead ([`Gpu::prewarm_while`]): the linear layers'
/// GEMM and each orthogonal shape's QR, in the order they are first needed.
pub fn warm_list(gpu: &Gpu, model: &Model) -> Vec<Warm> {
    let params = model
        .params
        .iter()
        .flat_map(|p| std::iter::once(p).chain(&p.parts));
    let qrs = params
        .filter(|p| matches!(p.sampler, Sampler::Orthogonal { .. }))
        .flat_map(|p| {
            crate::kernels::qr::Qr::warm_list(gpu, p.rows.max(p.cols), p.rows.min(p.cols))
        });
    qrs.chain(gpu.gemm_variant().warm(&[('r', 'n')])).collect()
}

/// Records the initialization of the input and of every parameter.
pub(crate) fn encode_model(
    gpu: &Gpu,
    enc: &mut wgpu::CommandEncoder,
    model: &Model,
    bufs: &Buffers,
    stream: &dyn Fn(u32, Role) -> Draw,
) -> Result<(), GpuError> {
    if let Some(e) = &model.embedding {
        encode_embedding(gpu, enc, model, bufs, e, stream)?;
    } else {
        let Sampler::Elementwise(parts) = &model.input_sampler else {
            // Validation allows only elementwise distributions for the input.
            return Err(GpuError::Device(
                "input.dist must be an elementwise distribution".into(),
            ));
        };
        let input = &bufs.acts[model.input.0];
        fill_rows(gpu, enc, bufs, input, parts, stream(0, Role::Input))?;
    }
    // Orthogonal parameters of one shape are drawn two at a time (their
    // QR panels share a dispatch); the values are those of one at a time.
    let mut pending: Option<usize> = None;
    for (i, p) in model.params.iter().enumerate() {
        if !p.parts.is_empty() {
            encode_parts(gpu, enc, &bufs.params[i], p, stream)?;
            continue;
        }
        if !matches!(p.sampler, Sampler::Orthogonal { .. }) {
            encode_param(gpu, enc, &bufs.params[i], p, stream)?;
            continue;
        }
        match pending.take() {
            Some(j) if model.params[j].init_shape() == p.init_shape() => {
                encode_orthogonal_pair(gpu, enc, bufs, model, [j, i], stream)?;
            }
            Some(j) => {
                encode_param(gpu, enc, &bufs.params[j], &model.params[j], stream)?;
                pending = Some(i);
            }
            None => pending = Some(i),
        }
    }
    if let Some(j) = pending {
        encode_param(gpu, enc, &bufs.params[j], &model.params[j], stream)?;
    }
    Ok(())
}

/// Records two orthogonal parameters of one shape ([`orthogonal::encode_pair`]),
/// then their override scales.
fn encode_orthogonal_pair(
    gpu: &Gpu,
    enc: &mut wgpu::CommandEncoder,
    bufs: &Buffers,
    model: &Model,
    ids: [usize; 2],
    stream: &dyn Fn(u32, Role) -> Draw,
) -> Result<(), GpuError> {
    let ps = ids.map(|i| &model.params[i]);
    let gains = ps.map(|p| match p.sampler {
        Sampler::Orthogonal { gain } => gain,
        _ => 1.0,
    });
    let outs = ids.map(|i| &bufs.params[i]);
    let draws = ps.map(|p| stream(p.layer, p.role));
    orthogonal::encode_pair(gpu, enc, outs, gains, ps[0].init_shape(), draws)?;
    for (k, p) in ps.iter().enumerate() {
        if let Some(s) = p.scale {
            scale_inplace(gpu, enc, outs[k], p.len(), s as f32)?;
        }
    }
    Ok(())
}

/// Records the draw of parameter `p` into `out` (then its override scale).
fn encode_param(
    gpu: &Gpu,
    enc: &mut wgpu::CommandEncoder,
    out: &wgpu::Buffer,
    p: &Param,
    stream: &dyn Fn(u32, Role) -> Draw,
) -> Result<(), GpuError> {
    encode(
        gpu,
        enc,
        out,
        &p.sampler,
        p.init_shape(),
        stream(p.layer, p.role),
    )?;
    if let Some(s) = p.scale {
        scale_inplace(gpu, enc, out, p.len(), s as f32)?;
    }
    Ok(())
}

/// Records the draw of a packed parameter: each part drawn whole into a
/// scratch buffer (any sampler, orthogonal included, draws whole tensors)
/// and copied to its rows. Commands run in order, so one scratch serves
/// every part.
fn encode_parts(
    gpu: &Gpu,
    enc: &mut wgpu::CommandEncoder,
    out: &wgpu::Buffer,
    p: &Param,
    stream: &dyn Fn(u32, Role) -> Draw,
) -> Result<(), GpuError> {
    let most = p.parts.iter().map(Param::len).max().unwrap_or(0);
    let scratch = gpu.storage("packed part", (most.max(1) * 4) as u64)?;
    let mut offset = 0u64;
    for part in &p.parts {
        encode_param(gpu, enc, &scratch, part, stream)?;
        let bytes = (part.len() * 4) as u64;
        enc.copy_buffer_to_buffer(&scratch, 0, out, offset, bytes);
        offset += bytes;
    }
    Ok(())
}

/// Records buf[..n] *= s (an override's `scale`, after the draw).
pub(crate) fn scale_inplace(
    gpu: &Gpu,
    enc: &mut wgpu::CommandEncoder,
    buf: &wgpu::Buffer,
    n: usize,
    s: f32,
) -> Result<(), GpuError> {
    let p = LossParams {
        n: n as u32,
        kind: 0,
        rows: 0,
        cols: 0,
        scale: s,
        total: 0,
        pad: [0; 2],
    };
    let bind = [(3, buf.into())];
    encode_loss_kernel(
        gpu,
        enc,
        "scale_inplace",
        p,
        &bind,
        (n as u32).div_ceil(EPT),
    )
}

/// Records the embedding input: the table drawn from its scheme, the
/// positions uploaded, then every chunk of rows gathered.
fn encode_embedding(
    gpu: &Gpu,
    enc: &mut wgpu::CommandEncoder,
    model: &Model,
    bufs: &Buffers,
    e: &Embedding,
    stream: &dyn Fn(u32, Role) -> Draw,
) -> Result<(), GpuError> {
    let dim = model.act(model.input).cols;
    let word = layer_word(module::EMBEDDING, 0);
    let table = gpu.storage("embedding table", (e.vocab * dim * 4) as u64)?;
    let shape = Shape {
        rows: e.vocab,
        cols: dim,
        fan_in: dim,
        fan_out: e.vocab,
    };
    encode(
        gpu,
        enc,
        &table,
        &e.table,
        shape,
        stream(word, Role::Weight),
    )?;
    let positions = match e.positions {
        Some(seq) => Some((gpu.storage_from("positions", &sinusoidal(seq, dim))?, seq)),
        None => None,
    };
    for (row0, rows) in bufs.chunks() {
        let rows_of = EmbedRows {
            ids: stream(word, Role::Input),
            vocab: e.vocab,
            table: &table,
            positions: positions.as_ref().map(|(b, s)| (b, *s)),
            row0,
            rows,
            cols: dim,
            out: bufs.act(model.input, (row0, rows)),
        };
        encode_embed(gpu, enc, &rows_of)?;
    }
    Ok(())
}
