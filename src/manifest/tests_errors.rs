//! Malformed manifests beyond the table: lines, the error's display,
//! problems traced to sweeps and runs, from_file tensors, and the drift
//! between the validator's tables and the serde types.

use super::Manifest;
use super::Problem;
use super::tests::{patched, problems, temp_dir, write_safetensors};
use serde_json::Value;

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

/// The validator's tables mirror `spec.rs`; these tests catch drift.
#[test]
fn scheme_tables_agree_with_the_serde_types() {
    use super::checker::Checker;
    use super::init_check::{Role, check_init, needs_matrix, params};
    use super::path::JPath;
    use super::schema::INIT_PARAMS;
    use crate::config::{INIT_SCHEMES, Init};
    let sample = |k: &str| -> Value {
        match k {
            "mode" => "fan_in".into(),
            "nonlinearity" => "relu".into(),
            "path" | "tensor" => "x".into(),
            "components" => serde_json::json!([{"weight": 1, "dist": {"scheme": "zeros"}}]),
            "pre" => serde_json::json!({"scheme": "orthogonal"}),
            "max_iter" => 3.into(),
            "a" => 0.0.into(),
            "b" => 1.0.into(),
            _ => 0.5.into(),
        }
    };
    for scheme in INIT_SCHEMES {
        let (all, required) = params(scheme);
        let mut obj = serde_json::json!({"scheme": scheme});
        for k in all {
            obj[k] = sample(k);
        }
        let init: Init =
            serde_json::from_value(obj.clone()).unwrap_or_else(|e| panic!("{scheme}: {e}"));
        assert_eq!(init.needs_matrix(), needs_matrix(scheme), "{scheme}");
        let mut c = Checker::default();
        check_init(&mut c, &obj, &JPath::root(), Role::Weight);
        assert!(c.problems.is_empty(), "{scheme}: {:?}", c.problems);
        for r in required {
            let mut o = obj.clone();
            o.as_object_mut().unwrap().remove(*r);
            assert!(
                serde_json::from_value::<Init>(o).is_err(),
                "{scheme} does not require {r}"
            );
        }
        // serde ignores deny_unknown_fields on unit variants; the validator does not.
        let unit = all.is_empty();
        for k in INIT_PARAMS
            .iter()
            .filter(|k| !unit && **k != "scheme" && !all.contains(k))
        {
            let mut o = obj.clone();
            o[k] = sample(k);
            assert!(
                serde_json::from_value::<Init>(o).is_err(),
                "{scheme} accepts {k}"
            );
        }
    }
}

#[test]
fn field_tables_agree_with_the_serde_types() {
    use super::schema::*;
    let m = Manifest::from_str(
        &patched(r#"{"network": {"widths": [2], "width": null, "depth": null}}"#),
        "t.json",
    );
    let run = &m.unwrap().plan(&Default::default()).unwrap()[0];
    let v = serde_json::to_value(&run.config).unwrap();
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    let subset = |v: &Value, list: &[&str]| keys(v).iter().all(|k| list.contains(&k.as_str()));
    assert!(
        subset(&v, RUN_FIELDS)
            && subset(&v["network"], NETWORK_FIELDS)
            && subset(&v["input"], INPUT_FIELDS)
    );
    assert_eq!(keys(&v["stats"]), STATS_FIELDS);
    assert_eq!(keys(&v["stats"]["diagnosis"]), DIAGNOSIS_FIELDS);
}
