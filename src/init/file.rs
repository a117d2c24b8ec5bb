//! Weights from a safetensors file (`from_file`).

use super::{InitError, Shape};
use std::path::Path;

/// Loads `tensor` from a safetensors file and checks its shape and dtype.
pub fn load_tensor(path: &Path, tensor: &str, shape: Shape) -> Result<Vec<f32>, InitError> {
    let bytes = std::fs::read(path)
        .map_err(|e| InitError(format!("cannot read {}: {e}", path.display())))?;
    let st = safetensors::SafeTensors::deserialize(&bytes)
        .map_err(|e| InitError(format!("{} is not a safetensors file: {e}", path.display())))?;
    let view = st.tensor(tensor).map_err(|_| {
        let names: Vec<String> = st.names().into_iter().map(|s| s.to_string()).collect();
        let refs: Vec<&str> = names.iter().map(|s| s.as_str()).collect();
        InitError(format!(
            "{} has no tensor \"{tensor}\"{}; it holds: {}",
            path.display(),
            crate::suggest::did_you_mean(tensor, &refs),
            names.join(", ")
        ))
    })?;
    if view.dtype() != safetensors::Dtype::F32 {
        return Err(InitError(format!(
            "tensor \"{tensor}\" is {:?}; initscope loads F32 tensors",
            view.dtype()
        )));
    }
    let want: Vec<usize> = if shape.cols == 1 {
        vec![shape.rows]
    } else {
        vec![shape.rows, shape.cols]
    };
    if view.shape() != want.as_slice() {
        return Err(InitError(format!(
            "tensor \"{tensor}\" in {} has shape {:?}, but this layer needs {:?} (out, in)",
            path.display(),
            view.shape(),
            want
        )));
    }
    Ok(view
        .data()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}
