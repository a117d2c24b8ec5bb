//! [`Init`]: a scheme of the table and its parameters, every default filled.
//! It is what a manifest's `{"scheme": ...}` object deserialises into and
//! what the run's config echoes (scheme first, then the parameters in table
//! order, so the echo and the config hash are stable).

use super::schemes::{SCHEMES, Scheme, TY};
use super::{Gain, InitError};
use crate::registry;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use std::fmt;
use std::path::{Path, PathBuf};

/// An initialization scheme, named and parameterised as in `torch.nn.init`.
#[derive(Clone)]
pub struct Init {
    scheme: &'static Scheme,
    /// Every parameter of the scheme, normalized, in table order.
    params: Map<String, Value>,
}

impl Init {
    /// An init from its manifest form, e.g. `{"scheme": "normal", "std": 0.1}`:
    /// checked against the scheme table, defaults filled.
    pub fn from_json(v: Value) -> Result<Init, String> {
        let v = registry::parse(&TY, v)?;
        Init::from_normalized(v).ok_or_else(|| "not an init object".to_string())
    }

    /// An init from JSON that [`registry::parse`] already accepted.
    fn from_normalized(v: Value) -> Option<Init> {
        let Value::Object(mut params) = v else {
            return None;
        };
        let name = params.shift_remove("scheme")?;
        let scheme = SCHEMES
            .iter()
            .find(|s| Some(s.case.name) == name.as_str())?;
        Some(Init { scheme, params })
    }

    /// The scheme's row of the table.
    pub fn scheme(&self) -> &'static Scheme {
        self.scheme
    }

    /// The scheme's snake_case name.
    pub fn name(&self) -> &'static str {
        self.scheme.case.name
    }

    /// A parameter's JSON value (every parameter is present).
    pub fn param(&self, k: &str) -> Option<&Value> {
        self.params.get(k)
    }

    fn missing(&self, k: &str, kind: &str) -> InitError {
        InitError(format!(
            "scheme \"{}\" has no {kind} parameter \"{k}\"",
            self.name()
        ))
    }

    /// A number parameter.
    pub fn num(&self, k: &str) -> Result<f64, InitError> {
        self.param(k)
            .and_then(Value::as_f64)
            .ok_or_else(|| self.missing(k, "number"))
    }

    /// An integer parameter.
    pub fn int(&self, k: &str) -> Result<u64, InitError> {
        self.param(k)
            .and_then(Value::as_u64)
            .ok_or_else(|| self.missing(k, "integer"))
    }

    /// A string parameter (a name or a path).
    pub fn text(&self, k: &str) -> Result<&str, InitError> {
        self.param(k)
            .and_then(Value::as_str)
            .ok_or_else(|| self.missing(k, "string"))
    }

    /// A gain parameter: a number or a nonlinearity name.
    pub fn gain(&self, k: &str) -> Result<Gain, InitError> {
        match self.param(k) {
            Some(Value::String(s)) => Ok(Gain::Name(s.clone())),
            Some(v) => v
                .as_f64()
                .map(Gain::Value)
                .ok_or_else(|| self.missing(k, "gain")),
            None => Err(self.missing(k, "gain")),
        }
    }

    /// A nested init parameter (lsuv's `pre`).
    pub fn init(&self, k: &str) -> Result<Init, InitError> {
        (self.param(k).cloned())
            .and_then(Init::from_normalized)
            .ok_or_else(|| self.missing(k, "init"))
    }

    /// A list parameter (mixture's `components`).
    pub fn list(&self, k: &str) -> Result<&[Value], InitError> {
        (self.param(k).and_then(Value::as_array))
            .map(Vec::as_slice)
            .ok_or_else(|| self.missing(k, "list"))
    }

    /// LSUV's `(tol, max_iter)` when this scheme is `lsuv` (the weight is
    /// rescaled on the GPU after its `pre` initialization), else `None`.
    pub fn lsuv(&self) -> Option<(f64, u32)> {
        let max_iter = |i: &Init| u32::try_from(i.int("max_iter").ok()?).ok();
        (self.name() == "lsuv")
            .then(|| Some((self.num("tol").ok()?, max_iter(self)?)))
            .flatten()
    }

    /// Whether the memory plan reserves an orthogonal scratch buffer
    /// (2·fan_in·fan_out floats) for this weight.
    pub fn needs_orthogonal_scratch(&self) -> bool {
        self.scheme.orthogonal_scratch
    }

    /// Whether the closed-form theory applies: false for `mixture`,
    /// `from_file` and `lsuv`, whose weights no moment formula describes.
    pub fn has_theory(&self) -> bool {
        self.scheme.theory
    }

    /// Schemes that need a matrix shape (fans, columns) and cannot fill a
    /// bias vector or an input batch.
    pub fn needs_matrix(&self) -> bool {
        self.scheme.needs_matrix()
    }

    /// The `(path, tensor)` this scheme reads, looking through `lsuv`'s
    /// `pre`; `None` when it reads no file.
    pub fn file_tensor(&self) -> Option<(&Path, &str)> {
        match self.name() {
            "from_file" => Some((
                Path::new(self.text("path").ok()?),
                self.text("tensor").ok()?,
            )),
            "lsuv" => {
                let pre = self.params.get("pre")?;
                let (p, t) = (pre.get("path")?.as_str()?, pre.get("tensor")?.as_str()?);
                Some((Path::new(p), t))
            }
            _ => None,
        }
    }

    /// Replaces the path that [`Init::file_tensor`] names.
    pub fn set_file_path(&mut self, path: &Path) {
        let at = match self.name() {
            "lsuv" => self.params.get_mut("pre").and_then(Value::as_object_mut),
            _ => Some(&mut self.params),
        };
        if let Some(m) = at.filter(|m| m.contains_key("path")) {
            m.insert("path".into(), path.to_string_lossy().into_owned().into());
        }
    }

    /// The path of a `from_file` init, relative ones against `base_dir`.
    pub(crate) fn resolved_path(&self, base_dir: Option<&Path>) -> Result<PathBuf, InitError> {
        let path = PathBuf::from(self.text("path")?);
        Ok(match base_dir {
            Some(d) if path.is_relative() => d.join(path),
            _ => path,
        })
    }

    /// The manifest form: `{"scheme": name, ...parameters}`.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("scheme".into(), self.name().into());
        m.extend(self.params.clone());
        Value::Object(m)
    }
}

impl PartialEq for Init {
    fn eq(&self, other: &Init) -> bool {
        self.name() == other.name() && self.params == other.params
    }
}

impl fmt::Debug for Init {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Init({})", self.to_json())
    }
}

impl Serialize for Init {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Init {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Init::from_json(Value::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}
