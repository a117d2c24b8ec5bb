//! `initscope run` over time, through the real binary: `--resume`, a run
//! killed mid-way, output folders that cannot be written, and the
//! `--seed`/`--repeats` overrides.

#[path = "common/cli.rs"]
mod cli_support;

use cli_support::*;
use initscope::results::ResultsDoc;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

fn tiny_variants(labels: &[(&str, Value)]) -> String {
    let variants: Vec<Value> = labels
        .iter()
        .map(|(l, init)| {
            let mut v = json!({ "label": l });
            if !init.is_null() {
                v["init"] = init.clone();
            }
            v
        })
        .collect();
    json!({
        "name": "resume", "seed": 3,
        "network": {"input_dim": 16, "width": 16, "depth": 3, "activation": "tanh"},
        "input": {"batch": 8},
        "variants": variants
    })
    .to_string()
}

fn runs_by_hash(doc: &ResultsDoc) -> BTreeMap<String, Value> {
    doc.runs
        .iter()
        .map(|r| {
            let mut v = serde_json::to_value(r).unwrap();
            v.as_object_mut().unwrap().remove("id");
            (r.config_hash.clone(), v)
        })
        .collect()
}

/// Equal up to `ulps` units in the last place in every number.
fn close_json(a: &Value, b: &Value, ulps: u64, at: &str) -> Result<(), String> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            let d = (x.to_bits() as i64).abs_diff(y.to_bits() as i64);
            if x == y || (x.signum() == y.signum() && d <= ulps) {
                Ok(())
            } else {
                Err(format!("{at}: {x:e} vs {y:e}"))
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .try_for_each(|(i, (x, y))| close_json(x, y, ulps, &format!("{at}[{i}]"))),
        (Value::Object(x), Value::Object(y)) if x.len() == y.len() => {
            x.iter().try_for_each(|(k, v)| {
                let w = y.get(k).ok_or_else(|| format!("{at}.{k} missing"))?;
                close_json(v, w, ulps, &format!("{at}.{k}"))
            })
        }
        _ if a == b => Ok(()),
        _ => Err(format!("{at}: {a} vs {b}")),
    }
}

#[test]
fn resume_skips_finished_runs_and_runs_only_new_ones() {
    let dir = TempDir::new("resume");
    let m = dir.join("resume.json");
    let out = dir.join("out");
    let arms = vec![
        ("A", json!({"scheme": "normal", "std": 0.1})),
        ("B", Value::Null),
        ("C", json!({"scheme": "orthogonal"})),
    ];
    std::fs::write(&m, tiny_variants(&arms)).unwrap();
    let first = initscope_ok(&["run", s(&m), "--out", s(&out)]);
    assert_eq!(ran_resumed(&first.stdout), (3, 0), "{}", first.show());
    let before = read_doc(&out);
    let again = initscope_ok(&["run", s(&m), "--out", s(&out), "--resume"]);
    assert_eq!(ran_resumed(&again.stdout), (0, 3), "{}", again.show());
    let after = read_doc(&out);
    // Resumed runs keep their old measurements, timings included (new
    // timings would differ by far more than a few ulps).
    let (b, a) = (runs_by_hash(&before), runs_by_hash(&after));
    assert_eq!(b.keys().collect::<Vec<_>>(), a.keys().collect::<Vec<_>>());
    for (h, run) in &b {
        if let Err(e) = close_json(run, &a[h], 4, "run") {
            panic!("resumed run {h} changed: {e}");
        }
    }
    // A fourth arm in the middle: exactly one new run; ids follow the plan.
    let mut more = arms.clone();
    more.insert(1, ("D", json!({"scheme": "normal", "std": 1.0})));
    std::fs::write(&m, tiny_variants(&more)).unwrap();
    let fourth = initscope_ok(&["run", s(&m), "--out", s(&out), "--resume"]);
    assert_eq!(ran_resumed(&fourth.stdout), (1, 3), "{}", fourth.show());
    let doc = read_doc(&out);
    let labels: Vec<(&str, &str)> = doc
        .runs
        .iter()
        .map(|r| (r.id.as_str(), r.label.as_str()))
        .collect();
    assert_eq!(
        labels,
        [("r000", "A"), ("r001", "D"), ("r002", "B"), ("r003", "C")]
    );
    for r in doc.runs.iter().filter(|r| r.label != "D") {
        let old = before.runs.iter().find(|o| o.label == r.label).unwrap();
        assert_eq!(r.config_hash, old.config_hash, "{}", r.label);
        assert!(
            close_json(
                &serde_json::to_value(&r.timing_ms).unwrap(),
                &serde_json::to_value(&old.timing_ms).unwrap(),
                4,
                "timing_ms"
            )
            .is_ok(),
            "{}: timings were re-measured",
            r.label
        );
    }
    let csv = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    assert_eq!(csv_records(&csv).len(), 1 + 4, "{csv}");
}

/// `--resume` must not alter a finished run: every number is written back
/// exactly as it was read (results.json is the record of the experiment).
#[test]
fn resume_keeps_finished_results_bit_for_bit() {
    let dir = TempDir::new("resume-bits");
    let m = dir.join("resume.json");
    let out = dir.join("out");
    let arms = [
        ("A", json!({"scheme": "normal", "std": 0.1})),
        ("B", Value::Null),
        ("C", json!({"scheme": "orthogonal"})),
    ];
    std::fs::write(&m, tiny_variants(&arms)).unwrap();
    initscope_ok(&["run", s(&m), "--out", s(&out), "--quiet"]);
    let before = std::fs::read_to_string(out.join("results.json")).unwrap();
    initscope_ok(&["run", s(&m), "--out", s(&out), "--resume", "--quiet"]);
    let after = std::fs::read_to_string(out.join("results.json")).unwrap();
    let changed: Vec<String> = before
        .lines()
        .zip(after.lines())
        .enumerate()
        .filter(|(_, (b, a))| b != a)
        .take(5)
        .map(|(i, (b, a))| format!("line {}: {} -> {}", i + 1, b.trim(), a.trim()))
        .collect();
    assert!(
        before == after,
        "results.json changed on --resume (same plan, nothing re-run); first changes:\n{}",
        changed.join("\n")
    );
}

/// A resumed run takes its label, group and variant from the current
/// manifest; two arms with the same configuration stay two arms.
#[test]
fn resume_labels_runs_from_the_current_manifest() {
    let dir = TempDir::new("resume-labels");
    let m = dir.join("labels.json");
    let out = dir.join("out");
    let std01 = json!({"scheme": "normal", "std": 0.1});
    let xavier = json!({"scheme": "xavier_uniform"});
    // "Default" resolves to the same configuration as "Xavier".
    let arms = [
        ("A", std01.clone()),
        ("Xavier", xavier),
        ("Default", Value::Null),
    ];
    std::fs::write(&m, tiny_variants(&arms)).unwrap();
    initscope_ok(&["run", s(&m), "--out", s(&out), "--quiet"]);
    let renamed = [
        ("A renamed", std01),
        ("Xavier", json!({"scheme": "xavier_uniform"})),
        ("Default", Value::Null),
    ];
    std::fs::write(&m, tiny_variants(&renamed)).unwrap();
    initscope_ok(&["run", s(&m), "--out", s(&out), "--resume", "--quiet"]);
    let doc = read_doc(&out);
    let got: Vec<(&str, &str)> = doc
        .runs
        .iter()
        .map(|r| (r.label.as_str(), r.group.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("A renamed", "A renamed"),
            ("Xavier", "Xavier"),
            ("Default", "Default")
        ],
        "labels after --resume do not follow the manifest"
    );
}

// ---------------------------------------------------------- crash safety

/// 40 runs of 6 tanh layers of 512 at batch 512: seconds of work, so that
/// a kill lands between runs.
fn slow_manifest(values: usize) -> String {
    let stds: Vec<Value> = (0..values)
        .map(|i| json!(0.01 + 0.005 * i as f64))
        .collect();
    json!({
        "name": "slow", "seed": 1,
        "network": {"input_dim": 512, "width": 512, "depth": 6, "activation": "tanh"},
        "input": {"batch": 512},
        "init": {"scheme": "normal", "std": 0.05},
        "sweep": {"init.std": stds}
    })
    .to_string()
}

/// The runs of a results.json that parses, if it does.
fn finished_runs(path: &Path) -> Option<usize> {
    let text = std::fs::read_to_string(path).ok()?;
    let v: Value = serde_json::from_str(&text).ok()?;
    v["runs"].as_array().map(Vec::len)
}

/// The same sweep at width 256, trained: 20 SGD steps per run, recorded every 5.
fn slow_training_manifest(values: usize) -> String {
    let mut m: Value = serde_json::from_str(&slow_manifest(values)).unwrap();
    // Width and batch 256: 20 steps of 512 would take a minute under load.
    m["network"]["width"] = json!(256);
    m["input"]["batch"] = json!(256);
    m["loss"] = json!({"name": "mse", "target": "teacher"});
    m["train"] = json!({"steps": 20, "optimizer": {"name": "sgd", "lr": 0.01, "momentum": 0.9}, "record_every": 5});
    m.to_string()
}

#[test]
fn a_killed_run_leaves_a_complete_results_json_that_resumes() {
    killed_sweep_keeps_finished_runs("crash", slow_manifest);
}

#[test]
fn a_killed_training_sweep_keeps_its_finished_runs() {
    killed_sweep_keeps_finished_runs("crash-train", slow_training_manifest);
}

/// Kills `initscope run` on a 40-run sweep soon after its first run is
/// written: results.json is whole, holds the finished runs, and resumes.
fn killed_sweep_keeps_finished_runs(tag: &str, slow_manifest: fn(usize) -> String) {
    let _heavy = heavy();
    let dir = TempDir::new(tag);
    let m = dir.join("slow.json");
    let out = dir.join("out");
    std::fs::write(&m, slow_manifest(40)).unwrap();
    let mut child = command(&["run", s(&m), "--out", s(&out), "--quiet"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn initscope");
    let t = Instant::now();
    let json = out.join("results.json");
    let mut seen = 0;
    while t.elapsed() < Duration::from_secs(240) {
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "initscope ended ({status}) before it could be killed: make the manifest slower"
            );
        }
        if let Some(n) = finished_runs(&json).filter(|n| *n >= 1) {
            seen = n;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let first_after = t.elapsed();
    assert!(seen >= 1, "no run finished within {first_after:?}");
    // Then a further 0–400 ms, so that over many test runs the kill lands
    // anywhere in a run, a write or a rename.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let jitter = u64::from(nanos / 1000) % 400;
    std::thread::sleep(Duration::from_millis(jitter));
    let running = child.try_wait().unwrap().is_none();
    child.kill().expect("SIGKILL");
    let status = child.wait().unwrap();
    assert!(
        running,
        "initscope finished before the kill: make the manifest slower"
    );
    assert_eq!(status.code(), None, "killed by a signal, not exited");
    // Whatever instant the kill landed on, the file is whole.
    let text = std::fs::read_to_string(&json).expect("results.json survives");
    let v: Value = serde_json::from_str(&text).expect("results.json is complete JSON");
    assert_eq!(v["schema_version"], 1);
    let doc: ResultsDoc = serde_json::from_value(v).expect("a ResultsDoc");
    let n = doc.runs.len();
    assert!((1..40).contains(&n), "{n} runs recorded");
    let trains = slow_manifest(1).contains("\"train\"");
    for r in &doc.runs {
        assert_eq!(r.layers.len(), 6, "{}", r.id);
        assert!(r.timing_ms.total_ms > 0.0, "{}", r.id);
        // A finished training run is whole: every record up to the last step.
        let steps = r.train.as_ref().map(|t| t.steps.len());
        assert_eq!(steps, trains.then_some(5), "{}", r.id);
    }
    // summary.csv is written just after results.json, so it holds the same
    // runs or one fewer.
    let csv = std::fs::read_to_string(out.join("summary.csv")).expect("summary.csv");
    let rows = csv_records(&csv).len() - 1;
    assert!(rows == n || rows + 1 == n, "{rows} csv rows for {n} runs");
    // Observed: usually no temporary file; a kill during a write leaves one
    // `.results.json.tmp-PID` or `.summary.csv.tmp-PID` (never more).
    let tmps = temp_files(&out);
    eprintln!(
        "crash: first run after {first_after:.1?}, killed {jitter} ms later with {n} run(s) recorded; temp files left: {tmps:?}"
    );
    assert!(tmps.len() <= 1, "temp files left: {tmps:?}");
    for f in &tmps {
        assert!(
            f.starts_with(".results.json.tmp-") || f.starts_with(".summary.csv.tmp-"),
            "unexpected {f}"
        );
    }
    // The crashed folder resumes: the plan of the finished runs alone has
    // nothing left to run.
    std::fs::write(&m, slow_manifest(n)).unwrap();
    let r = initscope_ok(&["run", s(&m), "--out", s(&out), "--resume"]);
    assert_eq!(ran_resumed(&r.stdout), (0, n), "{}", r.show());
    assert!(out.join("report.html").is_file());
}

#[test]
fn an_unwritable_output_folder_fails_with_exit_2_before_any_run() {
    let dir = TempDir::new("unwritable");
    let m = dir.join("slow.json");
    std::fs::write(&m, slow_manifest(40)).unwrap();
    let file = dir.join("a-file");
    std::fs::write(&file, b"keep me").unwrap();
    let under_file = file.join("out");
    for out in [
        Path::new("/proc/initscope-test"),
        under_file.as_path(),
        file.as_path(),
    ] {
        let r = initscope(&["run", s(&m), "--out", s(out)]);
        // Exit 1 would mean a run was attempted and its results could not be written.
        assert_eq!(r.code, Some(2), "--out {}\n{}", out.display(), r.show());
        assert!(
            r.stderr.contains("not writable") && r.stderr.contains(s(out)),
            "{}",
            r.show()
        );
        assert!(!r.stderr.contains("panicked"), "{}", r.show());
        assert!(r.stdout.trim().is_empty(), "{}", r.show());
        assert!(r.secs < 30.0, "{}", r.show());
    }
    assert_eq!(std::fs::read(&file).unwrap(), b"keep me");
    assert!(!Path::new("/proc/initscope-test").exists());
}

#[test]
fn seed_and_repeats_flags_override_the_manifest() {
    let dir = TempDir::new("overrides");
    let m = dir.join("o.json");
    let arms = [
        ("A", json!({"scheme": "normal", "std": 0.5})),
        ("B", Value::Null),
    ];
    std::fs::write(&m, tiny_variants(&arms)).unwrap(); // seed 3, 1 repeat
    let plain = dir.join("plain");
    let flags = dir.join("flags");
    initscope_ok(&["run", s(&m), "--out", s(&plain), "--quiet"]);
    initscope_ok(&[
        "run",
        s(&m),
        "--out",
        s(&flags),
        "--seed",
        "7",
        "--repeats",
        "3",
        "--quiet",
    ]);
    let p = read_doc(&plain);
    assert_eq!(p.runs.len(), 2);
    assert!(p.runs.iter().all(|r| r.seed == 3 && r.repeat == 0));
    let f = read_doc(&flags);
    let got: Vec<(String, String, u64, u32)> = f
        .runs
        .iter()
        .map(|r| (r.label.clone(), r.group.clone(), r.seed, r.repeat))
        .collect();
    let want: Vec<(String, String, u64, u32)> = ["A", "B"]
        .iter()
        .flat_map(|g| (0..3).map(move |k| (format!("{g} #{k}"), g.to_string(), 7, k)))
        .collect();
    assert_eq!(got, want);
    // The seed is used, not just recorded: the same arm draws other weights,
    // and repeats draw other weights from each other.
    let w = |d: &ResultsDoc, i: usize| d.runs[i].layers[0].weight.mean;
    assert_ne!(w(&p, 0), w(&f, 0), "seed 7 drew the same weights as seed 3");
    assert_ne!(w(&f, 0), w(&f, 1), "repeats drew the same weights");
    let hashes: BTreeSet<&str> = p
        .runs
        .iter()
        .chain(&f.runs)
        .map(|r| r.config_hash.as_str())
        .collect();
    assert_eq!(
        hashes.len(),
        8,
        "seed and repeat are part of the config hash"
    );
}
