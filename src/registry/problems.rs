//! The collector of problems and the few message shapes that every check
//! shares, so that all of them read alike: what was expected, then what was
//! given.

use super::path::JPath;
use crate::suggest;
use serde_json::{Map, Value};

/// Collects problems as (path, message) pairs.
#[derive(Debug, Default)]
pub struct Checker {
    pub problems: Vec<(JPath, String)>,
}

/// A short rendering of a value for "got ..." in messages.
pub fn got(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 40 {
        format!("{}...", s.chars().take(37).collect::<String>())
    } else {
        s
    }
}

impl Checker {
    /// Records a problem at `p`.
    pub fn push(&mut self, p: &JPath, msg: impl Into<String>) {
        self.problems.push((p.clone(), msg.into()));
    }

    /// How many problems were found so far (to tell whether a check added one).
    pub fn count(&self) -> usize {
        self.problems.len()
    }

    /// The object at `p`, after reporting unknown fields (with a suggestion).
    pub fn object<'v>(
        &mut self,
        v: &'v Value,
        p: &JPath,
        what: &str,
        allowed: &[&str],
    ) -> Option<&'v Map<String, Value>> {
        let Some(m) = v.as_object() else {
            self.push(
                p,
                format!(
                    "expected {what} (an object with fields {}), got {}",
                    allowed.join(", "),
                    got(v)
                ),
            );
            return None;
        };
        for k in m.keys().filter(|k| !allowed.contains(&k.as_str())) {
            let hint = suggest::did_you_mean(k, allowed);
            self.push(
                &p.key(k),
                format!(
                    "unknown field \"{k}\" in {what}{hint}; known fields: {}",
                    allowed.join(", ")
                ),
            );
        }
        Some(m)
    }

    /// A string from `names`; `what` reads "scheme", "loss", ...
    pub fn name_in<'v>(
        &mut self,
        v: &'v Value,
        p: &JPath,
        what: &str,
        names: &[&str],
    ) -> Option<&'v str> {
        let list = names.join(", ");
        match v.as_str() {
            Some(s) if names.contains(&s) => return Some(s),
            Some(s) => {
                let hint = suggest::did_you_mean(s, names);
                self.push(
                    p,
                    format!("unknown {what} \"{s}\"{hint}; expected one of {list}"),
                )
            }
            None => self.push(
                p,
                format!("expected a {what} name (one of {list}), got {}", got(v)),
            ),
        }
        None
    }

    /// Reports a missing required field `key` of the object at `p`.
    pub fn missing(&mut self, p: &JPath, key: &str, hint: &str) {
        self.push(
            &p.key(key),
            format!("missing required field \"{key}\"; {hint}"),
        );
    }
}
