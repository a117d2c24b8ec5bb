//! JSON paths as users read them: `variants[2].init.std`,
//! `sweep["network.depth"][1]`.

use std::fmt;

/// One step of a path: an object key or an array index.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// A path into a JSON document; the empty path is the document itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct JPath(pub Vec<Seg>);

impl JPath {
    /// The document itself.
    pub fn root() -> JPath {
        JPath(Vec::new())
    }

    /// This path followed by the object key `k`.
    pub fn key(&self, k: &str) -> JPath {
        let mut p = self.clone();
        p.0.push(Seg::Key(k.to_string()));
        p
    }

    /// This path followed by the list index `i`.
    pub fn idx(&self, i: usize) -> JPath {
        let mut p = self.clone();
        p.0.push(Seg::Index(i));
        p
    }

    /// `self` followed by every segment of `tail`.
    pub fn join(&self, tail: &[Seg]) -> JPath {
        let mut p = self.clone();
        p.0.extend_from_slice(tail);
        p
    }

    /// A path of object keys, e.g. from the dotted sweep path `init.std`.
    pub fn of_keys<S: AsRef<str>>(keys: &[S]) -> JPath {
        JPath(
            keys.iter()
                .map(|k| Seg::Key(k.as_ref().to_string()))
                .collect(),
        )
    }
}

/// Keys that read unambiguously after a dot; others are written `["a.b"]`.
fn is_plain(k: &str) -> bool {
    !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl fmt::Display for JPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Sweep keys are dotted paths, so they are always quoted for clarity.
        let in_sweep = self.0.first() == Some(&Seg::Key("sweep".into()));
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Key(k) if is_plain(k) && i == 0 => f.write_str(k)?,
                Seg::Key(k) if is_plain(k) && !(in_sweep && i == 1) => write!(f, ".{k}")?,
                Seg::Key(k) => write!(f, "[{}]", serde_json::Value::String(k.clone()))?,
                Seg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}
