//! Expansion of variants × sweep into arms (one resolved config each), with
//! every problem traced back to the part of the manifest that caused it.

use super::resolved::{FileCache, check_config};
use super::top::{SweepKey, Top, Variant};
use crate::config::{RUN, RunConfig};
use crate::registry::{self, Checker, JPath, Seg};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::path::Path;

/// One variant × sweep combination, valid and resolved; repeats come later.
#[derive(Debug, Clone)]
pub(crate) struct Arm {
    pub label: String,
    pub variant: Option<String>,
    pub params: Map<String, Value>,
    pub config: RunConfig,
}

/// Objects tagged by `scheme` (an init) or `name` (a loss, an activation)
/// are replaced wholesale: merging two schemes would mix their parameters.
fn is_tagged(v: &Value) -> bool {
    v.as_object()
        .is_some_and(|o| o.contains_key("scheme") || o.contains_key("name"))
}

/// Deep-merges `over` into `into`; tagged objects, arrays and scalars replace.
pub(crate) fn merge(into: &mut Value, over: &Value) {
    match (into, over) {
        (Value::Object(a), Value::Object(b)) if !is_tagged(over) => {
            for (k, v) in b {
                match a.get_mut(k) {
                    Some(slot) => merge(slot, v),
                    None => _ = a.insert(k.clone(), v.clone()),
                }
            }
        }
        (slot, _) => *slot = over.clone(),
    }
}

/// Removes `null` object members everywhere: `null` means "unset", so that
/// a variant can, say, drop `width` and `depth` in favour of `widths`.
fn strip_nulls(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|_, x| !x.is_null());
            m.values_mut().for_each(strip_nulls);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

/// Merges `v` in at the dotted path `segs`, creating objects on the way. A
/// string on the way (`"loss": "mse"`) becomes `{"name": ...}` so that a
/// field such as `loss.target` can be set inside it. An absent object on
/// the way starts as its table default (`train.optimizer.lr` without an
/// optimizer sets the lr of the default `{"name": "adam"}`).
fn set_path(root: &mut Value, segs: &[String], v: &Value) -> Result<(), String> {
    let mut cur = root;
    let mut ty = Some(RUN);
    for (n, seg) in segs.iter().enumerate() {
        if let Value::String(s) = cur {
            *cur = Value::Object(Map::from_iter([(
                "name".to_string(),
                Value::String(s.clone()),
            )]));
        }
        let Value::Object(m) = cur else {
            let at = segs[..n].join(".");
            return Err(format!(
                "cannot set \"{seg}\" inside \"{at}\", which is not an object here"
            ));
        };
        let field = ty.and_then(|t| field_of(&t, m, seg));
        ty = field.map(|f| f.ty);
        let default = || match field.and_then(registry::Field::default_value) {
            Some(d) if n + 1 < segs.len() => d,
            _ => Value::Null,
        };
        cur = m.entry(seg.clone()).or_insert_with(default);
    }
    if cur.is_null() {
        *cur = v.clone()
    } else {
        merge(cur, v)
    }
    Ok(())
}

/// The table entry of field `seg` of the object `m` of type `ty`: an
/// object's field, or a parameter of the union case `m` names.
fn field_of(
    ty: &registry::Ty,
    m: &Map<String, Value>,
    seg: &str,
) -> Option<&'static registry::Field> {
    match ty {
        registry::Ty::Obj(o) => o.field(seg),
        registry::Ty::Union(u, _) => {
            let case = u.case(m.get(u.tag)?.as_str()?)?;
            case.fields.iter().find(|f| f.name == seg)
        }
        _ => None,
    }
}

/// A value merged into an arm: where it sits in the manifest (`origin`) and
/// where it lands in the run (`at`).
struct Source<'a> {
    origin: JPath,
    at: JPath,
    value: &'a Value,
}

/// How far `segs` reaches into `v`, and whether `v` wrote the value there
/// (reached it, or replaced an enclosing tagged object wholesale).
fn reach(v: &Value, segs: &[Seg]) -> (usize, bool) {
    let mut cur = v;
    for (n, s) in segs.iter().enumerate() {
        // Run-level sources hold only run fields, so only init, loss and
        // activation objects are tagged here.
        if is_tagged(cur) {
            return (n, true);
        }
        let next = match (s, cur) {
            (Seg::Key(k), Value::Object(m)) => m.get(k),
            (Seg::Index(i), Value::Array(a)) => a.get(*i),
            _ => None,
        };
        match next {
            Some(x) => cur = x,
            None => return (n, false),
        }
    }
    (segs.len(), true)
}

/// The manifest path responsible for a problem at run path `p`: the last
/// source that wrote the value there; for a missing value, the source that
/// reaches deepest towards it (the earliest on ties, usually the base).
fn blame(sources: &[Source], p: &JPath) -> JPath {
    let mut writer = None;
    let mut deepest: Option<(usize, usize)> = None;
    for (i, s) in sources
        .iter()
        .enumerate()
        .filter(|(_, s)| p.0.starts_with(&s.at.0))
    {
        let (depth, wrote) = reach(s.value, &p.0[s.at.0.len()..]);
        if wrote {
            writer = Some(i);
        }
        let d = s.at.0.len() + depth;
        if deepest.is_none_or(|(best, _)| d > best) {
            deepest = Some((d, i));
        }
    }
    match writer.or(deepest.map(|(_, i)| i)).map(|i| &sources[i]) {
        Some(s) => s.origin.join(&p.0[s.at.0.len()..]),
        None => p.clone(),
    }
}

/// Merges and validates one arm; problems carry manifest paths.
fn build(
    top: &Top,
    variant: Option<(usize, &Variant)>,
    picks: &[usize],
    files: &mut FileCache,
) -> Result<RunConfig, Vec<(JPath, String)>> {
    let root = JPath::root();
    let mut merged = top.base.clone();
    let mut sources = vec![Source {
        origin: root.clone(),
        at: root.clone(),
        value: &top.base,
    }];
    if let Some((i, v)) = variant {
        merge(&mut merged, &v.overrides);
        sources.push(Source {
            origin: root.key("variants").idx(i),
            at: root.clone(),
            value: &v.overrides,
        });
    }
    for (k, &j) in top.sweep.iter().zip(picks) {
        let origin = root.key("sweep").key(&k.key).idx(j);
        set_path(&mut merged, &k.segs, &k.values[j]).map_err(|m| vec![(origin.clone(), m)])?;
        sources.push(Source {
            origin,
            at: JPath::of_keys(&k.segs),
            value: &k.values[j],
        });
    }
    strip_nulls(&mut merged);
    let mut c = Checker::default();
    registry::check(&mut c, &RUN, &merged, &root);
    let found = if !c.problems.is_empty() {
        c.problems
    } else {
        match RunConfig::from_checked(merged) {
            Err(e) => vec![(root, format!("invalid run: {e}"))],
            Ok(mut cfg) => {
                let found = check_config(&mut cfg, files);
                if found.is_empty() {
                    return Ok(cfg);
                }
                found
            }
        }
    };
    Err(found
        .into_iter()
        .map(|(p, m)| (blame(&sources, &p), m))
        .collect())
}

/// The arms of a manifest, or every problem found in them.
pub(crate) fn expand(top: &Top, dir: &Path) -> Result<Vec<Arm>, Vec<(JPath, String)>> {
    let variants: Vec<Option<(usize, &Variant)>> = if top.variants.is_empty() {
        vec![None]
    } else {
        top.variants.iter().enumerate().map(Some).collect()
    };
    let combos: usize = top.sweep.iter().map(|k| k.values.len()).product();
    let shown = shown_values(&top.sweep);
    let mut files = FileCache::new(dir);
    let mut log = ProblemLog::default();
    let mut arms = Vec::new();
    let mut labels = Vec::new();
    for variant in &variants {
        for combo in 0..combos {
            let picks = decode(combo, &top.sweep);
            let (label, params) = describe(top, variant.map(|v| v.1), &picks, &shown);
            match build(top, *variant, &picks, &mut files) {
                Ok(config) => {
                    let variant = variant.map(|v| v.1.label.clone());
                    arms.push(Arm {
                        label: label.clone(),
                        variant,
                        params,
                        config,
                    })
                }
                Err(found) => log.add(labels.len(), found),
            }
            labels.push(label);
        }
    }
    if log.entries.is_empty() {
        Ok(arms)
    } else {
        Err(log.finish(&labels, top.repeats))
    }
}

/// The value index of every sweep key for combination `combo`; the first
/// key varies slowest, as the keys read in the file.
fn decode(mut combo: usize, sweep: &[SweepKey]) -> Vec<usize> {
    let mut picks = vec![0; sweep.len()];
    for (k, key) in sweep.iter().enumerate().rev() {
        picks[k] = combo % key.values.len();
        combo /= key.values.len();
    }
    picks
}

/// `key=value` text of every value of every sweep key. The key is the last
/// path segment unless two keys share it; values are a scheme or activation
/// name where that tells them apart, else compact JSON.
fn shown_values(sweep: &[SweepKey]) -> Vec<Vec<String>> {
    let last = |k: &SweepKey| k.segs.last().cloned().unwrap_or_default();
    sweep
        .iter()
        .map(|k| {
            let clash = sweep.iter().filter(|o| last(o) == last(k)).count() > 1;
            let name = if clash { k.key.clone() } else { last(k) };
            let short: Vec<String> = k.values.iter().map(short_value).collect();
            let unique = short
                .iter()
                .enumerate()
                .all(|(i, s)| !short[..i].contains(s));
            let text = |i: usize, v: &Value| {
                if unique {
                    short[i].clone()
                } else {
                    v.to_string()
                }
            };
            k.values
                .iter()
                .enumerate()
                .map(|(i, v)| format!("{name}={}", text(i, v)))
                .collect()
        })
        .collect()
}

fn short_value(v: &Value) -> String {
    let tag = v
        .get("scheme")
        .or_else(|| v.get("name"))
        .and_then(Value::as_str);
    match (v, tag) {
        (Value::String(s), _) => s.clone(),
        (_, Some(t)) => t.to_string(),
        _ => v.to_string(),
    }
}

/// The arm's label and its swept values by full path.
fn describe(
    top: &Top,
    variant: Option<&Variant>,
    picks: &[usize],
    shown: &[Vec<String>],
) -> (String, Map<String, Value>) {
    let mut parts: Vec<String> = variant.map(|v| v.label.clone()).into_iter().collect();
    let mut params = Map::new();
    if let Some(v) = variant {
        params.insert("variant".into(), Value::String(v.label.clone()));
    }
    for (k, (key, &j)) in top.sweep.iter().zip(picks).enumerate() {
        parts.push(shown[k][j].clone());
        params.insert(key.key.clone(), key.values[j].clone());
    }
    let label = if parts.is_empty() {
        top.name.clone()
    } else {
        parts.join(", ")
    };
    (label, params)
}

/// `r000`, `r001`, ...: zero-padded to the plan's size so ids sort in order.
pub(crate) fn run_id(i: usize, total: usize) -> String {
    let width = total.saturating_sub(1).to_string().len().max(3);
    format!("r{i:0width$}")
}

/// Problems of all arms, each reported once with the first arm it hit.
#[derive(Default)]
struct ProblemLog {
    entries: Vec<(JPath, String, usize, usize)>,
    index: HashMap<(JPath, String), usize>,
}

impl ProblemLog {
    fn add(&mut self, arm: usize, found: Vec<(JPath, String)>) {
        for (p, m) in found {
            match self.index.get(&(p.clone(), m.clone())) {
                Some(&e) => self.entries[e].3 += 1,
                None => {
                    self.index
                        .insert((p.clone(), m.clone()), self.entries.len());
                    self.entries.push((p, m, arm, 1));
                }
            }
        }
    }

    /// Names the run where a problem shows up unless it shows up in every run
    /// and does not come from a sweep value.
    fn finish(self, labels: &[String], repeats: u32) -> Vec<(JPath, String)> {
        let repeats = repeats.max(1) as usize;
        let total = labels.len() * repeats;
        let from_sweep = |p: &JPath| p.0.first() == Some(&Seg::Key("sweep".into()));
        self.entries
            .into_iter()
            .map(|(p, m, arm, count)| {
                if count == labels.len() && !from_sweep(&p) {
                    return (p, m);
                }
                let id = run_id(arm * repeats, total);
                let others = count * repeats - 1;
                let more = if others > 0 {
                    format!(
                        "; also {others} other run{}",
                        if others == 1 { "" } else { "s" }
                    )
                } else {
                    String::new()
                };
                let m = format!("{m} (in run {id} \"{}\"{more})", labels[arm]);
                (p, m)
            })
            .collect()
    }
}
