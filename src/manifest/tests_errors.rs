//! Malformed manifests beyond the table: lines, the error's display,
//! problems traced to sweeps and runs, from_file tensors, and the drift
//! between the validator's tables and the serde types.

use super::Manifest;
use super::Problem;
use super::tests::{patched, problems, temp_dir, write_safetensors};

fn only(text: &str) -> Problem {
    let mut found = problems(text);
    assert_eq!(found.len(), 1, "{found:#?}");
    found.remove(0)
}

#[test]
fn lines_point_at_the_offending_value() {
    let p = only("{\n  \"name\": \"x\",\n}");
    assert_eq!(p.line, Some(3));
    let text = "{\n  \"name\": \"t\",\n  \"network\": {\n    \"input_dim\": 4,\n    \"width\": 0,\n    \"depth\": 3\n  },\n  \"input\": {\"batch\": 2}\n}";
    let p = only(text);
    assert_eq!((p.path.as_str(), p.line), ("network.width", Some(5)));
    let text = "{\"name\": \"t\", \"input\": {\"batch\": 2},\n \"network\": {\"input_dim\": 4, \"width\": 4, \"depth\": 2},\n \"variants\": [\n  {\"label\": \"a\"},\n  {\"label\": \"b\",\n   \"init\": {\"scheme\": \"normal\", \"std\": -2}}]}";
    let p = only(text);
    assert_eq!((p.path.as_str(), p.line), ("variants[1].init.std", Some(6)));
    let text = "{\"name\": \"t\", \"input\": {\"batch\": 2},\n \"network\": {\"input_dim\": 4, \"width\": 4, \"depth\": 2},\n \"sweep\": {\n   \"network.depth\": [1,\n   0]}}";
    let p = only(text);
    assert_eq!(
        (p.path.as_str(), p.line),
        ("sweep[\"network.depth\"][1]", Some(5))
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = patched(
        r#"{"seed": "x", "network": {"width": 0, "activation": "foo"},
            "init": {"scheme": "normal", "std": 0}, "stats": {"histogram_bins": 9999}}"#,
    );
    let paths: Vec<String> = problems(&text).into_iter().map(|p| p.path).collect();
    for want in [
        "seed",
        "network.width",
        "network.activation",
        "init.std",
        "stats.histogram_bins",
    ] {
        assert!(
            paths.iter().any(|p| p == want),
            "{want} missing from {paths:?}"
        );
    }
}

#[test]
fn error_display_reads_source_line_path_message() {
    let e = Manifest::from_str(&patched(r#"{"network": {"depth": 0}}"#), "exp.json").unwrap_err();
    let shown = e.to_string();
    assert!(shown.starts_with("exp.json:"), "{shown}");
    assert!(
        shown.contains(": network.depth: 0 is not a depth"),
        "{shown}"
    );
    let line = e.problems[0].line.unwrap();
    assert!(
        shown.starts_with(&format!("exp.json:{line}: network.depth:")),
        "{shown}"
    );
}

#[test]
fn a_swept_value_that_breaks_a_run_names_the_sweep_and_the_run() {
    let text = patched(
        r#"{"variants": [{"label": "N", "init": {"scheme": "normal"}}, {"label": "X"}],
            "sweep": {"init.std": [0.5, 1]}}"#,
    );
    let found = problems(&text);
    let p = found
        .iter()
        .find(|p| p.path == "sweep[\"init.std\"][0]")
        .expect("sweep problem");
    assert!(
        p.message.contains("in run r002 \"X, std=0.5\""),
        "{}",
        p.message
    );
    assert!(
        found.iter().all(|p| p.path.starts_with("sweep")),
        "{found:#?}"
    );
}

#[test]
fn from_file_tensors_are_checked_against_the_layers() {
    let dir = temp_dir("from-file");
    write_safetensors(
        &dir.join("w.safetensors"),
        &[("w", "F32", &[8, 5]), ("h", "F16", &[8, 4])],
    );
    let m = |tensor: &str| {
        let init = format!(
            r#"{{"init": {{"scheme": "from_file", "path": "w.safetensors", "tensor": "{tensor}"}}}}"#
        );
        let text = patched(&init);
        let source = dir.join("exp.json").display().to_string();
        Manifest::from_str(&text, &source).map_err(|e| e.problems)
    };
    let shape = m("w").unwrap_err();
    assert_eq!(shape[0].path, "init.tensor");
    assert!(
        shape[0]
            .message
            .contains("has shape [8, 5] but layer 0's weight"),
        "{shape:#?}"
    );
    let dtype = m("h").unwrap_err();
    assert!(dtype[0].message.contains("only F32"), "{dtype:#?}");
    let name = m("ww").unwrap_err();
    assert!(name[0].message.contains("did you mean \"w\""), "{name:#?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn truncated_or_garbled_safetensors_are_refused() {
    let dir = temp_dir("garbled");
    std::fs::write(dir.join("short.safetensors"), [1u8, 2]).unwrap();
    let mut bad = 1000u64.to_le_bytes().to_vec();
    bad.extend_from_slice(b"{}");
    std::fs::write(dir.join("bad.safetensors"), bad).unwrap();
    for file in ["short", "bad"] {
        let init = format!(
            r#"{{"init": {{"scheme": "from_file", "path": "{file}.safetensors", "tensor": "w"}}}}"#
        );
        let text = patched(&init);
        let found = Manifest::from_str(&text, &dir.join("e.json").display().to_string())
            .unwrap_err()
            .problems;
        assert_eq!(found[0].path, "init.path");
        assert!(
            found[0].message.contains("is not a safetensors file"),
            "{found:#?}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn duplicate_keys_and_oversized_plans_are_refused() {
    let text = "{\"name\": \"t\", \"name\": \"u\", \"network\": {\"input_dim\": 4, \"width\": 4, \"depth\": 2}, \"input\": {\"batch\": 1}}";
    assert!(only(text).message.contains("duplicate key"));
    let many: Vec<u32> = (1..=400).collect();
    let sweep =
        serde_json::json!({"sweep": {"network.depth": many, "network.width": many}}).to_string();
    let p = only(&patched(&sweep));
    assert_eq!(p.path, "sweep");
    assert!(p.message.contains("160000 runs"), "{}", p.message);
}

/// Every default in the tables is a value its own field accepts, so a
/// default can never be what the validator would refuse.
#[test]
fn every_default_in_the_tables_passes_its_own_check() {
    use crate::config::RUN;
    use crate::registry::{Checker, Ty, check};
    fn walk(ty: &Ty, at: &str, seen: &mut Vec<String>) {
        let fields: Vec<&crate::registry::Field> = match ty {
            Ty::Obj(o) => o.fields.iter().collect(),
            Ty::Union(u, _) => (u.cases)().iter().flat_map(|c| c.fields.iter()).collect(),
            Ty::List(l) => return walk(&l.item, &format!("{at}[]"), seen),
            _ => return,
        };
        for f in fields {
            let path = format!("{at}.{}", f.name);
            // An init nests inits (pre, components): two levels cover them all.
            if seen.contains(&path) || path.matches('.').count() > 6 {
                continue;
            }
            seen.push(path.clone());
            if let Some(d) = f.default_value() {
                let mut c = Checker::default();
                check(&mut c, &f.ty, &d, &super::JPath::root());
                assert!(
                    c.problems.is_empty(),
                    "{path}: default {d} refused: {:?}",
                    c.problems
                );
            }
            walk(&f.ty, &path, seen);
        }
    }
    let mut seen = Vec::new();
    walk(&RUN, "", &mut seen);
    assert!(seen.iter().any(|p| p == ".init.pre.gain"), "{seen:?}");
}
