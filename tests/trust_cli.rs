//! Output a user can trust, through the real binary: the same manifest and
//! seed give byte-identical files, the runs table groups repeated findings,
//! the footer is plain, the Vulkan driver's XDG_RUNTIME_DIR warning never
//! shows, and `plot` names the schema version it reads.

#[path = "common/cli.rs"]
mod cli_support;

use cli_support::*;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;

fn tiny(name: &str, repeats: u32) -> String {
    json!({
        "name": name, "seed": 11, "repeats": repeats,
        "network": {"input_dim": 16, "width": 16, "depth": 3, "activation": "relu"},
        "init": {"scheme": "kaiming_normal", "nonlinearity": "relu"},
        "input": {"batch": 64},
        "variants": [
            {"label": "He"},
            {"label": "Tiny", "init": {"scheme": "normal", "std": 0.001}}
        ]
    })
    .to_string()
}

/// Every file under `dir` (relative path → bytes).
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// results.json without its wall-clock timings.
fn without_timing(bytes: &[u8]) -> Value {
    let mut v: Value = serde_json::from_slice(bytes).unwrap();
    for r in v["runs"].as_array_mut().unwrap() {
        r.as_object_mut().unwrap().remove("timing_ms");
    }
    v
}

/// summary.csv without its last three columns (init_ms, step_ms, total_ms).
fn without_timing_columns(bytes: &[u8]) -> Vec<Vec<String>> {
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    let mut rows = csv_records(&text);
    for r in &mut rows {
        assert_eq!(r[r.len() - 3..].len(), 3);
        r.truncate(r.len() - 3);
    }
    rows
}

#[test]
fn the_same_manifest_and_seed_give_byte_identical_files() {
    let _g = heavy();
    let t = TempDir::new("bytes");
    let m = t.join("m.json");
    std::fs::write(&m, tiny("bytes", 1)).unwrap();
    let (a, b) = (t.join("a"), t.join("b"));
    for out in [&a, &b] {
        initscope_ok(&["run", s(&m), "--out", s(out), "--export-weights", "--quiet"]);
    }
    let (fa, fb) = (files(&a), files(&b));
    assert_eq!(
        fa.keys().collect::<Vec<_>>(),
        fb.keys().collect::<Vec<_>>()
    );
    for ext in [".safetensors", ".png", "layers.csv", "report.html"] {
        assert!(fa.keys().any(|k| k.ends_with(ext)), "no {ext} in {:?}", fa.keys());
    }
    for (name, bytes) in &fa {
        let other = &fb[name];
        match name.as_str() {
            "results.json" => assert_eq!(without_timing(bytes), without_timing(other)),
            "summary.csv" => {
                assert_eq!(without_timing_columns(bytes), without_timing_columns(other))
            }
            _ => assert!(bytes == other, "{name} differs between two identical runs"),
        }
    }
}

#[test]
fn repeats_show_each_finding_once_with_its_count_and_a_plain_footer() {
    let _g = heavy();
    let t = TempDir::new("grouped");
    let m = t.join("m.json");
    std::fs::write(&m, tiny("grouped", 3)).unwrap();
    let r = initscope_ok(&["run", s(&m), "--out", s(&t.join("out"))]);
    let row = r
        .stdout
        .lines()
        .find(|l| l.starts_with("Tiny"))
        .unwrap_or_else(|| panic!("no Tiny row\n{}", r.show()));
    assert!(row.contains("vanishing activations (3/3)"), "{row}");
    assert_eq!(row.matches("vanishing activations").count(), 1, "{row}");
    let he = r.stdout.lines().find(|l| l.starts_with("He")).unwrap();
    assert!(he.trim_end().ends_with("healthy"), "{he}");
    let last = r.stdout.lines().last().unwrap();
    assert!(last.starts_with("Ran 6 runs on "), "{last}");
    assert_eq!(ran_resumed(&r.stdout), (6, 0));
    let again = initscope_ok(&["run", s(&m), "--out", s(&t.join("out")), "--resume"]);
    let last = again.stdout.lines().last().unwrap();
    assert!(last.starts_with("Ran 0 runs, kept 6 finished earlier on "), "{last}");
}

/// The binary with `XDG_RUNTIME_DIR` set to `value` (None: unset).
fn without_runtime_dir(args: &[&str], value: Option<&str>) -> Ran {
    let mut c = command(args);
    match value {
        Some(v) => c.env("XDG_RUNTIME_DIR", v),
        None => c.env_remove("XDG_RUNTIME_DIR"),
    };
    let out = c.output().unwrap();
    Ran {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        secs: 0.0,
    }
}

#[test]
fn no_runtime_dir_warning_without_xdg_runtime_dir() {
    let _g = heavy();
    let t = TempDir::new("xdg");
    let m = t.join("m.json");
    std::fs::write(&m, tiny("xdg", 1)).unwrap();
    let out = t.join("out");
    for value in [None, Some(""), Some("relative/dir")] {
        for args in [vec!["devices"], vec!["run", s(&m), "--out", s(&out), "--quiet"]] {
            let r = without_runtime_dir(&args, value);
            assert_eq!(r.code, Some(0), "{args:?} with {value:?}\n{}", r.show());
            assert!(
                !r.stderr.contains("XDG_RUNTIME_DIR"),
                "{args:?} with XDG_RUNTIME_DIR={value:?}\n{}",
                r.show()
            );
        }
    }
}

#[test]
fn plot_names_the_schema_version_it_reads() {
    let t = TempDir::new("newer");
    let p = t.join("results.json");
    std::fs::write(&p, json!({"schema_version": 99, "runs": [], "renamed": 1}).to_string())
        .unwrap();
    let r = initscope(&["plot", s(&p)]);
    assert_eq!(r.code, Some(2), "{}", r.show());
    let want = format!(
        "has schema_version 99, written by a newer initscope; this initscope {} reads schema_version {} and older",
        env!("CARGO_PKG_VERSION"),
        initscope::results::SCHEMA_VERSION
    );
    assert!(r.stderr.contains(&want), "{}", r.show());
    assert!(!r.stderr.contains("panicked"), "{}", r.show());
}
