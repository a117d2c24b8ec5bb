//! The README's tables of manifest fields, activations and schemes are
//! rendered from the registries; this test checks the README holds them
//! verbatim. `UPDATE_README=1 cargo test --release --test readme` rewrites
//! the generated sections in place.

use initscope::activation::ACTIVATIONS;
use initscope::config::{OPTIMIZERS, RUN};
use initscope::init::{SCHEMES, uses};
use initscope::manifest::{MANIFEST_FIELDS, SWEEP_DOC, VARIANTS_DOC};
use initscope::registry::{Field, Presence, Ty};
use serde_json::Value;

/// A default as the README shows it: numbers plain, names in backticks, an
/// init object by its scheme.
fn show(v: &Value) -> String {
    match v {
        Value::String(s) if s.is_empty() => "`\"\"`".into(),
        Value::String(s) => format!("`{s}`"),
        Value::Object(m) if m.is_empty() => "defaults".into(),
        Value::Object(m) => match m.get("scheme").or_else(|| m.get("name")) {
            Some(Value::String(s)) => format!("`{s}`"),
            _ => format!("`{v}`"),
        },
        Value::Array(a) if a.is_empty() => "none".into(),
        other => other.to_string(),
    }
}

fn default_of(f: &Field) -> String {
    match f.presence {
        Presence::Required(_) => "required".into(),
        Presence::Optional => "none".into(),
        Presence::Default(_) => f.default_value().map(|v| show(&v)).unwrap_or_default(),
    }
}

fn fields_table() -> String {
    let mut out = String::from("| field | meaning | default |\n|---|---|---|\n");
    let mut row = |name: &str, doc: &str, default: String| {
        out.push_str(&format!("| `{name}` | {doc} | {default} |\n"));
    };
    let (own, schema): (Vec<&Field>, Vec<&Field>) =
        MANIFEST_FIELDS.iter().partition(|f| f.name != "$schema");
    for f in own {
        row(f.name, f.doc, default_of(f));
    }
    row("variants", VARIANTS_DOC, "one arm".into());
    row("sweep", SWEEP_DOC, "none".into());
    // Run fields, then the fields of plain objects inside them (dotted).
    fn nested(prefix: &str, fields: &[Field], row: &mut dyn FnMut(&str, &str, String)) {
        for f in fields {
            let name = format!("{prefix}{}", f.name);
            row(&name, f.doc, default_of(f));
            match f.ty {
                Ty::Obj(o) => nested(&format!("{name}."), o.fields, row),
                Ty::List(l) => {
                    if let Ty::Obj(o) = l.item {
                        nested(&format!("{name}[]."), o.fields, row)
                    }
                }
                _ => {}
            }
        }
    }
    if let Ty::Obj(run) = RUN {
        nested("", run.fields, &mut row);
    }
    for f in schema {
        row(f.name, f.doc, default_of(f));
    }
    out
}

/// A number with at most 4 decimals, trailing zeros dropped.
fn short(x: f64) -> String {
    let s = format!("{x:.4}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn params(fields: &[Field]) -> String {
    let one = |f: &Field| format!("`{}` ({})", f.name, default_of(f));
    fields.iter().map(one).collect::<Vec<_>>().join(", ")
}

fn activations_table() -> String {
    let mut out = String::from(
        "| activation | φ(x) | parameter (default) | torch gain | saturates |\n|---|---|---|---|---|\n",
    );
    for a in ACTIVATIONS {
        let c = &a.case;
        let mut name = format!("`{}`", c.name);
        for alias in c.aliases {
            name.push_str(&format!(" (`{alias}`)"));
        }
        let p = c.fields.first().and_then(|f| f.default_value()?.as_f64());
        let gain = match (a.gain, c.fields.first()) {
            (None, _) => "none".to_string(),
            (Some(g), Some(f)) => format!(
                "{} ({} {})",
                short(g(p.unwrap_or(0.0))),
                f.name,
                show(&p.into())
            ),
            (Some(g), None) => short(g(0.0)),
        };
        let sat = if a.saturates { "yes" } else { "" };
        out.push_str(&format!(
            "| {name} | {} | {} | {gain} | {sat} |\n",
            c.doc,
            params(c.fields)
        ));
    }
    out
}

fn schemes_table() -> String {
    let mut out = String::from(
        "| scheme | parameters (defaults) | distribution | for |\n|---|---|---|---|\n",
    );
    let places = [
        (uses::WEIGHT, "weight"),
        (uses::BIAS, "bias"),
        (uses::INPUT, "input"),
        (uses::COMPONENT, "mixture component"),
        (uses::PRE, "lsuv pre"),
    ];
    for s in SCHEMES {
        let c = &s.case;
        let used: Vec<&str> = (places.iter())
            .filter(|(bit, _)| c.uses & bit != 0)
            .map(|(_, name)| *name)
            .collect();
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            c.name,
            params(c.fields),
            s.formula,
            used.join(", ")
        ));
    }
    out
}

fn optimizers_table() -> String {
    let mut out = String::from("| optimizer | parameters (defaults) | torch |\n|---|---|---|\n");
    for c in OPTIMIZERS.iter() {
        out.push_str(&format!(
            "| `{}` | {} | `{}` |\n",
            c.name,
            params(c.fields),
            c.doc
        ));
    }
    out
}

/// Replaces the text between `<!-- generated: NAME ... -->` and
/// `<!-- end generated: NAME -->`; `None` when the markers are missing.
fn with_section(readme: &str, name: &str, body: &str) -> Option<String> {
    let start = readme.find(&format!("<!-- generated: {name} "))?;
    let open_end = start + readme[start..].find("-->\n")? + 4;
    let end = readme.find(&format!("<!-- end generated: {name} -->"))?;
    (open_end <= end).then(|| format!("{}{body}{}", &readme[..open_end], &readme[end..]))
}

#[test]
fn the_readme_tables_are_the_registries() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    let readme = std::fs::read_to_string(&path).expect("README.md");
    let sections = [
        ("manifest fields", fields_table()),
        ("activations", activations_table()),
        ("schemes", schemes_table()),
        ("optimizers", optimizers_table()),
    ];
    let mut updated = readme.clone();
    for (name, table) in &sections {
        updated = with_section(&updated, name, table)
            .unwrap_or_else(|| panic!("README.md has no generated section \"{name}\""));
    }
    if updated == readme {
        return;
    }
    if std::env::var_os("UPDATE_README").is_some() {
        std::fs::write(&path, updated).expect("write README.md");
        return;
    }
    panic!(
        "README.md's generated tables differ from the registries; regenerate them with\n    \
         UPDATE_README=1 cargo test --release --test readme"
    );
}
