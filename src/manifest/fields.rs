//! The manifest's own fields (not part of any run) and the dotted paths a
//! sweep may set, both from the tables: a sweep path walks the run fields
//! of `config::RUN` and the parameters of every scheme, loss and activation.

use crate::config::RUN;
use crate::registry::{
    self, Field, IntMsg, IntTy, Lit,
    Presence::{Default, Optional, Required},
    StrTy, Ty,
};
use crate::suggest;

static ANY_TEXT: StrTy = StrTy {
    valid: |_| true,
    expect: "a string",
    pattern: None,
};
static NAME: StrTy = StrTy {
    valid: |s| {
        !s.is_empty()
            && s != "."
            && s != ".."
            && s.chars()
                .all(|ch| ch.is_ascii_alphanumeric() || "_.-".contains(ch))
    },
    expect: "a name of letters, digits, '_', '.' and '-' (it names the results folder)",
    pattern: Some("^[A-Za-z0-9_.-]+$"),
};
static SEED: IntTy = IntTy {
    min: 0,
    max: u64::MAX,
    msg: IntMsg::Expect("an integer seed in 0..=18446744073709551615"),
};
static REPEATS: IntTy = IntTy {
    min: 1,
    max: u32::MAX as u64,
    msg: IntMsg::Size("a repeat count"),
};

/// The manifest's scalar fields, in the order of the README.
pub const MANIFEST_FIELDS: &[Field] = &[
    Field::new(
        "name",
        Ty::Str(&NAME),
        Required("it names the results folder, e.g. \"name\": \"init-impact\""),
        "names the results folder `results/<name>/` (letters, digits, `_`, `.` and `-`)",
    ),
    Field::new(
        "description",
        Ty::Str(&ANY_TEXT),
        Default(Lit::Str("")),
        "what the experiment shows (shown in the report)",
    ),
    Field::new(
        "seed",
        Ty::Int(&SEED),
        Default(Lit::Int(0)),
        "the 64-bit Philox key of every run",
    ),
    Field::new(
        "repeats",
        Ty::Int(&REPEATS),
        Default(Lit::Int(1)),
        "independent repeats of every arm (the repeat index is part of the Philox counter)",
    ),
    Field::new(
        "$schema",
        Ty::Str(&ANY_TEXT),
        Optional,
        "the JSON Schema of manifests, for editors; initscope ignores it",
    ),
];

/// What `variants` is, for the README and the JSON Schema.
pub const VARIANTS_DOC: &str = "named arms, each with a unique label and any run fields it overrides (deep-merged into the base)";
/// What `sweep` is, for the README and the JSON Schema.
pub const SWEEP_DOC: &str = "dotted paths of run fields, each with a list of values; \
     the plan is variants × sweep (first key slowest) × repeats";
/// What a variant's `label` is.
pub const LABEL_DOC: &str = "the arm's name in legends and tables; unique";

/// Every top-level field name: the manifest's own, then the run fields.
pub(crate) fn top_names() -> Vec<&'static str> {
    let mut names: Vec<&str> = MANIFEST_FIELDS
        .iter()
        .map(|f| f.name)
        .filter(|n| *n != "$schema")
        .collect();
    names.extend(["variants", "sweep"]);
    names.extend(run_names());
    names.push("$schema");
    names
}

/// The run fields' names.
pub(crate) fn run_names() -> Vec<&'static str> {
    match RUN {
        Ty::Obj(o) => o.names(),
        _ => Vec::new(),
    }
}

/// The types a value at the dotted sweep `path` may have (more than one
/// when schemes share a parameter name), or why the path does not exist.
pub(crate) fn sweep_types(path: &str) -> Result<Vec<Ty>, String> {
    let mut tys = vec![RUN];
    for seg in path.split('.') {
        tys = tys.iter().flat_map(|t| registry::child(t, seg)).collect();
        if tys.is_empty() {
            let known = sweep_paths();
            let refs: Vec<&str> = known.iter().map(|(p, _)| p.as_str()).collect();
            return Err(format!(
                "sweep path \"{path}\" does not exist{}; a path names a run field such as \
                 \"network.depth\", \"init.std\" or \"input.batch\"",
                suggest::did_you_mean(path, &refs)
            ));
        }
    }
    Ok(tys)
}

/// Every sweepable path with its types, parents before children; unions
/// are entered twice at most (an init's `pre` and its parameters).
pub(crate) fn sweep_paths() -> Vec<(String, Vec<Ty>)> {
    fn walk(tys: &[Ty], prefix: &str, unions: usize, out: &mut Vec<(String, Vec<Ty>)>) {
        let unions = unions + usize::from(tys.iter().any(|t| matches!(t, Ty::Union(..))));
        if unions > 2 {
            return;
        }
        let mut names: Vec<&str> = Vec::new();
        for t in tys {
            match t {
                Ty::Obj(o) => names.extend(o.names()),
                Ty::Union(u, _) => {
                    names.push(u.tag);
                    names.extend(
                        (u.cases)()
                            .iter()
                            .flat_map(|c| c.fields.iter().map(|f| f.name)),
                    );
                }
                _ => {}
            }
        }
        let mut seen = Vec::new();
        for name in names {
            if seen.contains(&name) {
                continue;
            }
            seen.push(name);
            let path = if prefix.is_empty() {
                name.to_string()
            } else {
                format!("{prefix}.{name}")
            };
            let child: Vec<Ty> = tys.iter().flat_map(|t| registry::child(t, name)).collect();
            out.push((path.clone(), child.clone()));
            walk(&child, &path, unions, out);
        }
    }
    let mut out = Vec::new();
    walk(&[RUN], "", 0, &mut out);
    out
}
