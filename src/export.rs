//! `--export-weights`: the exact tensors a run studied, as safetensors that
//! `safetensors.torch.load_file` reads, all f32: every parameter by its
//! export key — the equivalent torch module's `state_dict` (`layers.<i>.weight`
//! (out, in) and `layers.<i>.bias` for linear stacks; `input_proj.*`,
//! `blocks.<i>.ff_norm.*`, `blocks.<i>.fc1.*`, `blocks.<i>.fc2.*` and
//! `final_norm.*` for residual stacks) — then `input` (batch, input_dim) and,
//! when the loss has one, `target` (`mse`: batch × output width;
//! `cross_entropy`: the labels, (batch,)). Training runs export the tensors
//! at init, before any update.
//!
//! The file is laid out here rather than by `safetensors::serialize`, whose
//! `__metadata__` is a `HashMap` and comes out in a different order on every
//! call: the same run must give the same bytes (DVC, content-addressed
//! caches and git all hash outputs).

use crate::config::RunSpec;
use crate::exec::Tensors;
use crate::io::write_atomic;
use serde_json::{Map, Value, json};
use std::path::Path;

/// Writes the tensors of one run atomically.
pub fn write_safetensors(path: &Path, spec: &RunSpec, t: &Tensors) -> std::io::Result<()> {
    let mut tensors: Vec<(&str, Vec<usize>, &[f32])> = t
        .params
        .iter()
        .map(|(name, shape, v)| (name.as_str(), shape.clone(), v.as_slice()))
        .collect();
    tensors.push((
        "input",
        vec![spec.config.input.batch, spec.config.network.input_dim],
        &t.input,
    ));
    if let Some((shape, v)) = &t.target {
        tensors.push(("target", shape.clone(), v));
    }
    let meta = [
        ("format", "pt".to_string()),
        ("initscope_run", spec.id.clone()),
        ("initscope_label", spec.label.clone()),
        ("seed", spec.seed.to_string()),
        ("repeat", spec.repeat.to_string()),
    ];
    write_atomic(path, &safetensors_bytes(&tensors, &meta)?)
}

/// The safetensors encoding of f32 `tensors` (name, shape, data): an 8-byte
/// little-endian header length, the JSON header (metadata in the given
/// order, then tensors sorted by name, as the reference writer sorts them)
/// padded with spaces to a multiple of 8, then the data in header order.
pub fn safetensors_bytes(
    tensors: &[(&str, Vec<usize>, &[f32])],
    meta: &[(&str, String)],
) -> std::io::Result<Vec<u8>> {
    let mut order: Vec<&(&str, Vec<usize>, &[f32])> = tensors.iter().collect();
    order.sort_by(|a, b| a.0.cmp(b.0));
    let mut header = Map::new();
    let m: Map<String, Value> = meta
        .iter()
        .map(|(k, v)| (k.to_string(), Value::String(v.clone())))
        .collect();
    header.insert("__metadata__".into(), Value::Object(m));
    let mut offset = 0usize;
    for (name, shape, data) in &order {
        if shape.iter().product::<usize>() != data.len() {
            return Err(std::io::Error::other(format!(
                "tensor {name}: shape {shape:?} does not hold {} values",
                data.len()
            )));
        }
        let end = offset + data.len() * 4;
        header.insert(
            name.to_string(),
            json!({ "dtype": "F32", "shape": shape, "data_offsets": [offset, end] }),
        );
        offset = end;
    }
    let mut head = serde_json::to_vec(&Value::Object(header)).map_err(std::io::Error::other)?;
    head.resize(head.len().next_multiple_of(8), b' ');
    let mut out = Vec::with_capacity(8 + head.len() + offset);
    out.extend_from_slice(&(head.len() as u64).to_le_bytes());
    out.extend_from_slice(&head);
    for (_, _, data) in &order {
        for v in data.iter() {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_tensors_give_the_same_bytes_and_safetensors_reads_them() {
        let (w, b) = (vec![1.0f32, -2.0, 3.5, 0.25, 5.0, 6.0], vec![0.5f32, -0.5]);
        let tensors = [
            ("layers.0.weight", vec![2, 3], w.as_slice()),
            ("layers.0.bias", vec![2], b.as_slice()),
        ];
        let meta = [("format", "pt".to_string()), ("seed", "42".to_string())];
        let first = safetensors_bytes(&tensors, &meta).unwrap();
        for _ in 0..5 {
            assert_eq!(safetensors_bytes(&tensors, &meta).unwrap(), first);
        }
        let st = safetensors::SafeTensors::deserialize(&first).unwrap();
        let wv = st.tensor("layers.0.weight").unwrap();
        assert_eq!(wv.shape(), &[2, 3]);
        let back: Vec<f32> = bytemuck::pod_collect_to_vec(wv.data());
        assert_eq!(back, w);
        let (_, m) = safetensors::SafeTensors::read_metadata(&first).unwrap();
        let md = m.metadata().clone().unwrap();
        assert_eq!(md.get("seed").map(String::as_str), Some("42"));
        // The header is padded to 8 bytes, as the reference writer does.
        let n = u64::from_le_bytes(first[..8].try_into().unwrap()) as usize;
        assert_eq!(n % 8, 0);
        let bad = [("x", vec![4], w.as_slice())];
        assert!(safetensors_bytes(&bad, &meta).is_err());
    }
}
