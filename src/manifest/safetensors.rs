//! A reader for the header of a safetensors file, enough to check that a
//! `from_file` tensor exists with the right dtype and shape before any run.
//!
//! Layout: an 8-byte little-endian header length N, N bytes of JSON mapping
//! each tensor name to `{dtype, shape, data_offsets}`, then the data.

use serde_json::Value;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::Path;

/// Headers larger than this are not safetensors files worth reading.
const MAX_HEADER: u64 = 100 << 20;

/// What the header says about one tensor.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TensorInfo {
    pub dtype: String,
    pub shape: Vec<u64>,
}

/// Tensor name → info, from the header of the file at `path`.
pub(crate) fn read_header(path: &Path) -> Result<BTreeMap<String, TensorInfo>, String> {
    let shown = path.display();
    let mut f = File::open(path).map_err(|e| format!("cannot open \"{shown}\": {e}"))?;
    let len = f
        .metadata()
        .map_err(|e| format!("cannot read \"{shown}\": {e}"))?
        .len();
    let not_st = |why: String| format!("\"{shown}\" is not a safetensors file: {why}");
    let mut n8 = [0u8; 8];
    f.read_exact(&mut n8)
        .map_err(|_| not_st(format!("it has only {len} bytes")))?;
    let n = u64::from_le_bytes(n8);
    if n > MAX_HEADER || n > len.saturating_sub(8) {
        return Err(not_st(format!(
            "its header length {n} does not fit in its {len} bytes"
        )));
    }
    let mut header = vec![0u8; n as usize];
    f.read_exact(&mut header)
        .map_err(|e| not_st(e.to_string()))?;
    let json: Value =
        serde_json::from_slice(&header).map_err(|e| not_st(format!("bad header JSON: {e}")))?;
    let Value::Object(entries) = json else {
        return Err(not_st("the header is not a JSON object".into()));
    };
    let data_len = len - 8 - n;
    entries
        .iter()
        .filter(|(name, _)| name.as_str() != "__metadata__")
        .map(|(name, v)| {
            parse_entry(v, data_len)
                .map(|t| (name.clone(), t))
                .map_err(|e| not_st(format!("{name}: {e}")))
        })
        .collect()
}

fn parse_entry(v: &Value, data_len: u64) -> Result<TensorInfo, String> {
    let dtype = v
        .get("dtype")
        .and_then(Value::as_str)
        .ok_or("no dtype")?
        .to_string();
    let shape = u64_list(v.get("shape")).ok_or("no valid shape")?;
    let Some([start, end]) =
        u64_list(v.get("data_offsets")).and_then(|o| <[u64; 2]>::try_from(o).ok())
    else {
        return Err("no valid data_offsets".into());
    };
    if start > end || end > data_len {
        return Err(format!(
            "data_offsets [{start}, {end}] fall outside the {data_len} data bytes"
        ));
    }
    let count = shape.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d));
    if let (Some(size), Some(count)) = (dtype_size(&dtype), count)
        && count.checked_mul(size) != Some(end - start)
    {
        return Err(format!(
            "{count} {dtype} elements do not fill {} bytes",
            end - start
        ));
    }
    Ok(TensorInfo { dtype, shape })
}

fn u64_list(v: Option<&Value>) -> Option<Vec<u64>> {
    v?.as_array()?.iter().map(Value::as_u64).collect()
}

fn dtype_size(dtype: &str) -> Option<u64> {
    Some(match dtype {
        "F64" | "I64" | "U64" => 8,
        "F32" | "I32" | "U32" => 4,
        "F16" | "BF16" | "I16" | "U16" => 2,
        "I8" | "U8" | "BOOL" | "F8_E4M3" | "F8_E5M2" => 1,
        _ => return None,
    })
}
