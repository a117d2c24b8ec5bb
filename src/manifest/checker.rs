//! The collector of problems and the small typed checks every validator
//! uses: each reports with the value's path and says what was expected.

use super::path::JPath;
use crate::suggest;
use serde_json::{Map, Value};

/// Collects problems as (path, message) pairs.
#[derive(Debug, Default)]
pub(crate) struct Checker {
    pub problems: Vec<(JPath, String)>,
}

/// A short rendering of a value for "got ..." in messages.
pub(crate) fn got(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 40 {
        format!("{}...", s.chars().take(37).collect::<String>())
    } else {
        s
    }
}

impl Checker {
    pub fn push(&mut self, p: &JPath, msg: impl Into<String>) {
        self.problems.push((p.clone(), msg.into()));
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

    /// A positive integer no larger than `max`; `noun` reads "a width".
    pub fn size(&mut self, v: &Value, p: &JPath, noun: &str, max: u64) -> Option<u64> {
        match v.as_u64() {
            Some(0) => self.push(p, format!("0 is not {noun}; give a positive integer")),
            Some(n) if n > max => self.push(
                p,
                format!("{n} is too large for {noun}; at most {max} is accepted"),
            ),
            Some(n) => return Some(n),
            None => self.push(p, format!("expected a positive integer, got {}", got(v))),
        }
        None
    }

    /// A non-negative integer (a layer index).
    pub fn index(&mut self, v: &Value, p: &JPath) -> Option<u64> {
        let n = v.as_u64();
        if n.is_none() {
            self.push(
                p,
                format!("expected a layer index (an integer >= 0), got {}", got(v)),
            );
        }
        n
    }

    pub fn number(&mut self, v: &Value, p: &JPath) -> Option<f64> {
        let x = v.as_f64().filter(|x| x.is_finite());
        if x.is_none() {
            self.push(p, format!("expected a number, got {}", got(v)));
        }
        x
    }

    /// A finite number > 0.
    pub fn positive(&mut self, v: &Value, p: &JPath) -> Option<f64> {
        let x = self.number(v, p)?;
        if x <= 0.0 {
            self.push(p, format!("must be > 0, got {}", got(v)));
            return None;
        }
        Some(x)
    }

    pub fn boolean(&mut self, v: &Value, p: &JPath) {
        if !v.is_boolean() {
            self.push(p, format!("expected true or false, got {}", got(v)));
        }
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
