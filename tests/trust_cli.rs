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
    assert_eq!(fa.keys().collect::<Vec<_>>(), fb.keys().collect::<Vec<_>>());
    for ext in [".safetensors", ".png", "layers.csv", "report.html"] {
        assert!(
            fa.keys().any(|k| k.ends_with(ext)),
            "no {ext} in {:?}",
            fa.keys()
        );
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
    // One repeat without the finding: the count is of the runs that had it
    // (the table of a resumed folder is read back from results.json).
    let path = t.join("out").join("results.json");
    let mut doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let first_tiny = doc["runs"]
        .as_array()
        .unwrap()
        .iter()
        .position(|r| r["group"] == "Tiny")
        .unwrap();
    doc["runs"][first_tiny]["summary"]["diagnosis"] = json!([]);
    std::fs::write(&path, doc.to_string()).unwrap();
    let again = initscope_ok(&["run", s(&m), "--out", s(&t.join("out")), "--resume"]);
    let last = again.stdout.lines().last().unwrap();
    assert!(
        last.starts_with("Ran 0 runs, kept 6 finished earlier on "),
        "{last}"
    );
    let row = again
        .stdout
        .lines()
        .find(|l| l.starts_with("Tiny"))
        .unwrap();
    assert!(row.contains("vanishing activations (2/3)"), "{row}");
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
        for args in [
            vec!["devices"],
            vec!["run", s(&m), "--out", s(&out), "--quiet"],
        ] {
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
    std::fs::write(
        &p,
        json!({"schema_version": 99, "runs": [], "renamed": 1}).to_string(),
    )
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

/// A sweep slow enough (seconds on lavapipe) to be caught mid-way.
fn slow(name: &str) -> String {
    let stds: Vec<Value> = (0..40).map(|i| json!(0.02 + 0.001 * i as f64)).collect();
    json!({
        "name": name, "seed": 1,
        "network": {"input_dim": 256, "width": 256, "depth": 6, "activation": "tanh"},
        "input": {"batch": 256},
        "init": {"scheme": "normal", "std": 0.05},
        "sweep": {"init.std": stds}
    })
    .to_string()
}

#[test]
fn a_second_run_into_a_folder_in_use_is_refused_and_a_dead_lock_taken_over() {
    let _g = heavy();
    let t = TempDir::new("lock");
    let (m, small) = (t.join("slow.json"), t.join("tiny.json"));
    std::fs::write(&m, slow("lock")).unwrap();
    std::fs::write(&small, tiny("lock", 1)).unwrap();
    let out = t.join("out");
    let mut child = command(&["run", s(&m), "--out", s(&out), "--quiet"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let lock = out.join(initscope::lock::LOCK_FILE);
    let start = std::time::Instant::now();
    while !lock.exists() && start.elapsed().as_secs() < 120 {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let second = initscope(&["run", s(&small), "--out", s(&out)]);
    let still_running = child.try_wait().unwrap().is_none();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        still_running,
        "the slow run ended before the second started"
    );
    assert_eq!(second.code, Some(2), "{}", second.show());
    let pid = format!("pid {} on ", child.id());
    for want in [s(&out), pid.as_str(), "is in use by initscope process"] {
        assert!(second.stderr.contains(want), "{want:?}\n{}", second.show());
    }
    // The killed run left its lock: the next run takes it over and says so.
    assert!(lock.exists());
    let third = initscope_ok(&["run", s(&small), "--out", s(&out), "--quiet"]);
    assert!(
        third.stderr.contains("note: took over the lock of") && third.stderr.contains(&pid),
        "{}",
        third.show()
    );
    assert!(!lock.exists(), "the lock outlived its run");
}

fn tensor_file(path: &Path, scale: f32) {
    let w: Vec<f32> = (0..256)
        .map(|i| scale * ((i % 17) as f32 - 8.0) / 16.0)
        .collect();
    let bytes = initscope::export::safetensors_bytes(&[("w", vec![16, 16], &w)], &[]).unwrap();
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn resume_reruns_a_run_whose_from_file_tensor_changed() {
    let _g = heavy();
    let t = TempDir::new("fromfile");
    tensor_file(&t.join("w.safetensors"), 1.0);
    let m = t.join("m.json");
    let manifest = json!({
        "name": "fromfile", "seed": 2,
        "network": {"input_dim": 16, "width": 16, "depth": 2, "activation": "tanh"},
        "input": {"batch": 8},
        "layers": [{"index": 0, "init": {"scheme": "from_file", "path": "w.safetensors", "tensor": "w"}}],
        "variants": [{"label": "file"}, {"label": "other", "init": {"scheme": "orthogonal"}}]
    });
    std::fs::write(&m, manifest.to_string()).unwrap();
    let out = t.join("out");
    let run = |args: &[&str]| {
        let mut a = vec!["run", s(&m), "--out", s(&out)];
        a.extend(args);
        ran_resumed(&initscope_ok(&a).stdout)
    };
    assert_eq!(run(&[]), (2, 0));
    assert_eq!(run(&["--resume"]), (0, 2));
    let before = read_doc(&out).runs[0].clone();
    // The same path, other bytes: both runs read the file (layer 0), so both rerun.
    tensor_file(&t.join("w.safetensors"), 2.0);
    assert_eq!(run(&["--resume"]), (2, 0));
    let after = read_doc(&out).runs[0].clone();
    assert_ne!(before.config_hash, after.config_hash);
    assert_ne!(before.layers[0].weight.std, after.layers[0].weight.std);
    assert_eq!(run(&["--resume"]), (0, 2));
}
