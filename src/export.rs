//! `--export-weights`: the exact tensors a run studied, as safetensors that
//! `safetensors.torch.load_file` reads, all f32: every parameter by its
//! export key — the equivalent torch module's `state_dict` (`layers.<i>.weight`
//! (out, in) and `layers.<i>.bias` for linear stacks; `input_proj.*`,
//! `blocks.<i>.ff_norm.*`, `blocks.<i>.fc1.*`, `blocks.<i>.fc2.*` and
//! `final_norm.*` for residual stacks) — then `input` (batch, input_dim) and,
//! when the loss has one, `target` (`mse`: batch × output width;
//! `cross_entropy`: the labels, (batch,)). Training runs export the tensors
//! at init, before any update.

use crate::config::RunSpec;
use crate::exec::Tensors;
use crate::io::write_atomic;
use safetensors::tensor::{Dtype, TensorView};
use std::collections::HashMap;
use std::path::Path;

/// Writes the tensors of one run atomically.
pub fn write_safetensors(path: &Path, spec: &RunSpec, t: &Tensors) -> std::io::Result<()> {
    let mut owned: Vec<(String, Vec<usize>, &[f32])> = t
        .params
        .iter()
        .map(|(name, shape, v)| (name.clone(), shape.clone(), v.as_slice()))
        .collect();
    owned.push((
        "input".into(),
        vec![spec.config.input.batch, spec.config.network.input_dim],
        &t.input,
    ));
    if let Some((shape, v)) = &t.target {
        owned.push(("target".into(), shape.clone(), v));
    }
    let mut views = HashMap::new();
    for (name, shape, data) in &owned {
        let view = TensorView::new(Dtype::F32, shape.clone(), bytemuck::cast_slice(data))
            .map_err(std::io::Error::other)?;
        views.insert(name.clone(), view);
    }
    let meta: HashMap<String, String> = [
        ("format".to_string(), "pt".to_string()),
        ("initscope_run".to_string(), spec.id.clone()),
        ("initscope_label".to_string(), spec.label.clone()),
        ("seed".to_string(), spec.seed.to_string()),
        ("repeat".to_string(), spec.repeat.to_string()),
    ]
    .into_iter()
    .collect();
    let bytes = safetensors::tensor::serialize(views, Some(meta)).map_err(std::io::Error::other)?;
    write_atomic(path, &bytes)
}
