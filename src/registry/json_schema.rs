//! JSON Schema (draft 2020-12) of a [`Ty`], written from the same tables
//! the validator walks. Unions become `$defs`: one per case, one per union
//! (and per restriction), so editors show each scheme with its parameters.
//!
//! The schema is a guide for editors, looser than the validator where JSON
//! Schema cannot say it (cross-field checks such as `a < b`), never stricter.

use super::ty::*;
use serde_json::{Map, Value, json};

/// Collects the `$defs` while types are written.
#[derive(Debug, Default)]
pub struct Writer {
    /// Definitions by name, in the order first met.
    pub defs: Map<String, Value>,
}

impl Writer {
    /// The schema of `ty`. With `partial`, objects reached by deep merging
    /// (the run fields of the manifest and of a variant) require nothing and
    /// accept `null` (which unsets a field), since the merge completes them.
    pub fn ty(&mut self, ty: &Ty, partial: bool) -> Value {
        match ty {
            Ty::Bool => json!({"type": "boolean"}),
            Ty::Int(i) => json!({"type": "integer", "minimum": i.min, "maximum": i.max}),
            Ty::Num(n) => number(n),
            Ty::Str(s) => match s.pattern {
                Some(p) => json!({"type": "string", "pattern": p}),
                None => json!({"type": "string"}),
            },
            Ty::Enum(e) => match e.names {
                Names::Any => json!({"type": "string"}),
                n => json!({"enum": n.list()}),
            },
            Ty::List(l) => {
                let mut s = json!({"type": "array", "items": self.ty(&l.item, false)});
                s["minItems"] = l.min.into();
                if l.max < usize::MAX {
                    s["maxItems"] = l.max.into();
                }
                s
            }
            Ty::Obj(o) => self.object(o.fields, partial, None),
            Ty::Union(u, r) => self.union(u, *r),
            Ty::OneOf(o) => {
                let alts: Vec<Value> = o.alts.iter().map(|t| self.ty(t, false)).collect();
                json!({"anyOf": alts})
            }
        }
    }

    /// A field's schema with its description and default.
    pub fn field(&mut self, f: &Field, partial: bool) -> Value {
        let mut s = self.ty(&f.ty, partial);
        if partial && !matches!(f.presence, Presence::Required(_)) {
            s = json!({"anyOf": [s, {"type": "null"}]});
        }
        if let Value::Object(m) = &mut s {
            m.insert("description".into(), Value::from(f.doc));
            if let Some(d) = f.default_value() {
                m.insert("default".into(), d);
            }
        }
        s
    }

    /// An object of `fields`; `tag` adds a first property fixed to a name.
    pub fn object(&mut self, fields: &[Field], partial: bool, tag: Option<(&str, Value)>) -> Value {
        let mut props = Map::new();
        let mut required = Vec::new();
        if let Some((name, value)) = tag {
            props.insert(name.into(), value);
            required.push(name.to_string());
        }
        for f in fields {
            props.insert(f.name.into(), self.field(f, partial));
            if matches!(f.presence, Presence::Required(_)) && !partial {
                required.push(f.name.to_string());
            }
        }
        let mut s = json!({"type": "object", "properties": props, "additionalProperties": false});
        if !required.is_empty() {
            s["required"] = required.into();
        }
        s
    }

    fn union(&mut self, u: &Union, r: Option<&Restrict>) -> Value {
        let name = match r {
            Some(r) => format!("{}_for_{}", u.what, r.name),
            None => u.what.to_string(),
        };
        if !self.defs.contains_key(&name) {
            // Reserve the name first: a case may refer back to its union (lsuv's pre).
            self.defs.insert(name.clone(), Value::Null);
            let mut alts = Vec::new();
            let cases = (u.cases)();
            if u.short {
                let names: Vec<&str> = (cases.iter())
                    .flat_map(|c| std::iter::once(c.name).chain(c.aliases.iter().copied()))
                    .collect();
                alts.push(json!({"type": "string", "enum": names}));
            }
            for c in cases
                .iter()
                .filter(|c| r.is_none_or(|r| c.uses & r.mask != 0))
            {
                alts.push(self.case(u, c));
            }
            let def = json!({"description": u.expect, "oneOf": alts});
            self.defs.insert(name.clone(), def);
        }
        json!({"$ref": format!("#/$defs/{name}")})
    }

    fn case(&mut self, u: &Union, c: &Case) -> Value {
        let name = format!("{}_{}", u.what, c.name);
        if !self.defs.contains_key(&name) {
            self.defs.insert(name.clone(), Value::Null);
            let tag = if c.aliases.is_empty() {
                json!({"const": c.name})
            } else {
                let mut all = vec![c.name];
                all.extend_from_slice(c.aliases);
                json!({"enum": all})
            };
            let mut s = self.object(c.fields, false, Some((u.tag, tag)));
            s["description"] = Value::from(c.doc);
            self.defs.insert(name.clone(), s);
        }
        json!({"$ref": format!("#/$defs/{name}")})
    }
}

fn number(n: &NumTy) -> Value {
    let mut s = json!({"type": "number"});
    if let Some(b) = n.min {
        let k = if b.inclusive {
            "minimum"
        } else {
            "exclusiveMinimum"
        };
        s[k] = b.value.into();
    }
    if let Some(b) = n.max {
        let k = if b.inclusive {
            "maximum"
        } else {
            "exclusiveMaximum"
        };
        s[k] = b.value.into();
    }
    s
}
