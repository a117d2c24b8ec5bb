//! `run --shard K/N` and `merge`, through the real binary and without
//! Slurm: three shards merged equal one unsharded run (per-run records bit
//! for bit, timing aside), a shard resumes on its own, the Slurm scripts run
//! under plain bash, runs from different adapters are noted in the report,
//! and bad shards or parts exit 2 without writing or overwriting anything.

#[path = "common/cli.rs"]
mod cli_support;

use cli_support::*;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Seven runs of different widths, depths and schemes (orthogonal is the
/// expensive init), so the cost-balanced shards differ in size.
fn manifest(seed: u64) -> String {
    json!({
        "name": "sharded", "seed": seed,
        "network": {"input_dim": 24, "width": 24, "depth": 3, "activation": "tanh"},
        "input": {"batch": 16},
        "variants": [
            {"label": "xavier", "init": {"scheme": "xavier_uniform"}},
            {"label": "orthogonal", "init": {"scheme": "orthogonal"}},
            {"label": "deep", "network": {"depth": 6}},
            {"label": "wide", "network": {"width": 96}},
            {"label": "mixed", "init": {"scheme": "normal", "std": 0.1},
             "layers": [{"index": 0, "init": {"scheme": "kaiming_uniform"}}]},
            {"label": "narrow", "network": {"width": 8}},
            {"label": "relu", "network": {"activation": "relu"}}
        ]
    })
    .to_string()
}

/// results.json as JSON, with every run's timing removed.
fn doc_without_timing(dir: &Path) -> Value {
    let text = std::fs::read_to_string(dir.join("results.json"))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut doc: Value = serde_json::from_str(&text).expect("results.json");
    for r in doc["runs"].as_array_mut().expect("runs") {
        r.as_object_mut().expect("run").remove("timing_ms");
    }
    doc
}

/// Every file name in `dir` that is a file.
fn files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .expect("dir")
        .flatten()
        .filter(|e| e.path().is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// summary.csv without the three timing columns at the end.
fn csv_without_timing(dir: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(dir.join("summary.csv")).expect("summary.csv");
    let mut rows = csv_records(&text);
    for r in &mut rows {
        r.truncate(r.len() - 3);
    }
    rows
}

/// The binary with its working directory set to `cwd`.
fn initscope_in(cwd: &Path, args: &[&str]) -> Ran {
    let t = std::time::Instant::now();
    let out = command(args).current_dir(cwd).output().expect("initscope");
    let ran = Ran {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        secs: t.elapsed().as_secs_f64(),
    };
    assert_eq!(ran.code, Some(0), "initscope {args:?}\n{}", ran.show());
    ran
}

#[test]
fn three_shards_merged_equal_one_run() {
    let _heavy = heavy();
    let dir = TempDir::new("shards");
    let m = dir.join("m.json");
    std::fs::write(&m, manifest(7)).unwrap();
    let single = dir.join("single");
    initscope_ok(&["run", s(&m), "--out", s(&single), "--quiet"]);
    // Shards into their default folders, results/<name>/shard-K-of-3.
    let sweep = dir.join("results/sharded");
    let mut ids = Vec::new();
    for k in 1..=3 {
        let r = initscope_in(dir.path(), &["run", "m.json", "--shard", &format!("{k}/3")]);
        assert!(r.stdout.contains(&format!("Shard {k}/3: ")), "{}", r.show());
        let part = read_doc(&sweep.join(format!("shard-{k}-of-3")));
        let shard = part.shard.as_ref().expect("shard record");
        assert_eq!((shard.index, shard.count, shard.plan.len()), (k, 3, 7));
        assert!(!part.runs.is_empty(), "shard {k} is empty");
        ids.extend(part.runs.iter().map(|r| r.id.clone()));
    }
    ids.sort();
    let all: Vec<String> = (0..7).map(|i| format!("r{i:03}")).collect();
    assert_eq!(ids, all, "the shards partition the plan");

    let parts: Vec<String> = (1..=3)
        .map(|k| format!("results/sharded/shard-{k}-of-3"))
        .collect();
    let mut args = vec!["merge", "results/sharded"];
    args.extend(parts.iter().map(String::as_str));
    initscope_in(dir.path(), &args);
    let (a, b) = (doc_without_timing(&sweep), doc_without_timing(&single));
    assert_eq!(a["plan_hash"], b["plan_hash"]);
    assert!(a["runs"] == b["runs"], "merged runs differ from one run's");
    assert_eq!(a["manifest"], b["manifest"]);
    assert!(a.get("shard").is_none(), "a merged folder is not a shard");
    assert_eq!(csv_without_timing(&sweep), csv_without_timing(&single));
    assert_eq!(files(&sweep), files(&single), "the same files as one run");
    assert!(
        !std::fs::read_to_string(sweep.join("report.html"))
            .unwrap()
            .contains("different adapters")
    );

    // --resume per shard: nothing to run again, the records unchanged.
    let part2 = sweep.join("shard-2-of-3");
    let before = doc_without_timing(&part2);
    let r = initscope_in(dir.path(), &["run", "m.json", "--shard", "2/3", "--resume"]);
    let n = before["runs"].as_array().unwrap().len();
    assert_eq!(ran_resumed(&r.stdout), (0, n), "{}", r.show());
    assert!(doc_without_timing(&part2) == before);
}

/// Copies a shard folder's results.json, as if it ran on another adapter.
fn as_if_on(src: &Path, dst: &Path, adapter: &str) {
    std::fs::create_dir_all(dst).unwrap();
    let mut doc: Value =
        serde_json::from_str(&std::fs::read_to_string(src.join("results.json")).unwrap()).unwrap();
    doc["adapter"]["name"] = json!(adapter);
    for r in doc["runs"].as_array_mut().unwrap() {
        r["adapter"]["name"] = json!(adapter);
    }
    std::fs::write(dst.join("results.json"), doc.to_string()).unwrap();
}

/// `slurm` without `--submit`: both scripts, by absolute path, with a GPU
/// line only when asked for.
fn check_scripts(dir: &TempDir, m: &Path, sweep: &Path) {
    let args = ["slurm", s(m), "--array", "2", "--gpus-per-task", "0"];
    let r = initscope_ok(&[&args[..], &["--out", s(sweep)]].concat());
    assert!(r.stdout.contains("sbatch --parsable"), "{}", r.show());
    let array = std::fs::read_to_string(sweep.join("slurm/array.sbatch")).unwrap();
    assert!(array.contains("#SBATCH --array=1-2\n"), "{array}");
    let exec = format!("exec '{}' run '{}'", bin(), s(m));
    assert!(array.contains(&exec), "{array}");
    assert!(
        !array.contains("gpus"),
        "--gpus-per-task 0 wrote a GPU line:\n{array}"
    );
    let gpu_dir = dir.join("g");
    initscope_ok(&[&args[..4], &["--out", s(&gpu_dir)]].concat());
    let g = std::fs::read_to_string(gpu_dir.join("slurm/array.sbatch")).unwrap();
    assert!(g.contains("#SBATCH --gpus-per-task=1\n"), "{g}");
}

/// What the nodes would do: each array task, then the merge job.
fn run_scripts_with_bash(dir: &TempDir, sweep: &Path) {
    let bash = |script: &str, task: Option<usize>| {
        let mut c = Command::new("bash");
        c.arg(sweep.join("slurm").join(script))
            .env("NO_COLOR", "1")
            .env("INITSCOPE_CACHE_DIR", dir.join("no-cache"))
            .env("XDG_RUNTIME_DIR", std::env::temp_dir());
        if let Some(k) = task {
            c.env("SLURM_ARRAY_TASK_ID", k.to_string());
        }
        let out = c.output().expect("bash");
        assert!(out.status.success(), "{script} {task:?}: {out:?}");
    };
    bash("array.sbatch", Some(1));
    bash("array.sbatch", Some(2));
    bash("merge.sbatch", None);
}

#[test]
fn slurm_scripts_run_under_bash_and_mixed_adapters_are_noted() {
    let _heavy = heavy();
    let dir = TempDir::new("scripts");
    let m = dir.join("m.json");
    std::fs::write(&m, manifest(8)).unwrap();
    let sweep = dir.join("sweep");
    check_scripts(&dir, &m, &sweep);
    run_scripts_with_bash(&dir, &sweep);
    let merged = read_doc(&sweep);
    assert_eq!(merged.runs.len(), 7);
    let same = |r: &initscope::results::RunResult| r.adapter.as_ref() == Some(&merged.adapter);
    assert!(merged.runs.iter().all(same));

    // The same shards, one of them from "another adapter".
    let mixed = dir.join("mixed");
    as_if_on(&sweep.join("shard-2-of-2"), &mixed.join("b"), "Other GPU");
    let (p1, p2) = (sweep.join("shard-1-of-2"), mixed.join("b"));
    let r = initscope_ok(&["merge", s(&mixed), s(&p1), s(&p2)]);
    assert!(r.stdout.contains("2 different adapters"), "{}", r.show());
    let html = std::fs::read_to_string(mixed.join("report.html")).unwrap();
    assert!(
        html.contains("came from 2 different adapters"),
        "no note in the report"
    );
    assert!(html.contains("Other GPU"));
}

/// Runs `args`, expects exit 2 with every `says` in stderr and no panic.
fn refused(args: &[&str], says: &[&str]) {
    let r = initscope(args);
    assert_eq!(r.code, Some(2), "{args:?}\n{}", r.show());
    assert!(!r.stderr.contains("panicked"), "{}", r.show());
    for s in says {
        let ok = r.stderr.contains(s);
        assert!(ok, "{args:?}: stderr lacks {s:?}\n{}", r.show());
    }
}

#[test]
fn bad_shards_exit_2_and_write_nothing() {
    let dir = TempDir::new("bad-shards");
    let m = dir.join("m.json");
    std::fs::write(&m, manifest(9)).unwrap();
    let out = dir.join("never");
    for (k, says) in [
        ("0/3", "between 1 and N"),
        ("4/3", "between 1 and N"),
        ("1/0", "between 1 and N"),
        ("two/3", "K/N"),
        ("8/8", "only 7 run(s)"),
    ] {
        refused(&["run", s(&m), "--shard", k, "--out", s(&out)], &[says]);
    }
    let slurm = ["slurm", s(&m), "--array", "8", "--out", s(&out)];
    refused(&slurm, &["only 7 run(s)"]);
    assert!(!out.exists(), "a refused shard wrote {}", out.display());
}

/// Shard `k` of 3 of manifest `m` into `dir/name`.
fn part(dir: &TempDir, m: &Path, k: usize, name: &str) -> PathBuf {
    let p = dir.join(name);
    let shard = format!("{k}/3");
    initscope_ok(&["run", s(m), "--shard", &shard, "--out", s(&p), "-q"]);
    p
}

#[test]
fn bad_parts_exit_2_and_overwrite_nothing() {
    let _heavy = heavy();
    let dir = TempDir::new("bad-parts");
    let (m, m2) = (dir.join("m.json"), dir.join("m2.json"));
    std::fs::write(&m, manifest(9)).unwrap();
    std::fs::write(&m2, manifest(10)).unwrap();
    let (p1, p2, p3) = (
        part(&dir, &m, 1, "p1"),
        part(&dir, &m, 2, "p2"),
        part(&dir, &m, 3, "p3"),
    );
    let other = part(&dir, &m2, 2, "other-2");
    let (empty, single, copy) = (dir.join("empty"), dir.join("single"), dir.join("copy"));
    std::fs::create_dir_all(&empty).unwrap();
    initscope_ok(&["run", s(&m), "--out", s(&single), "-q"]);
    // A copy of a shard under another name: its runs are duplicates.
    as_if_on(&p2, &copy, "same");
    let target = dir.join("merged");
    std::fs::create_dir_all(&target).unwrap();
    std::fs::write(target.join("results.json"), "sentinel").unwrap();
    let t = s(&target);
    let (p1, p2, p3) = (s(&p1), s(&p2), s(&p3));
    for (args, says) in [
        (
            vec![t, p1, s(&other), p3],
            &["different plans", "other-2"][..],
        ),
        (vec![t, p1, s(&empty), p3], &["empty has no results.json"]),
        (vec![t, p1, s(&dir.join("nope")), p3], &["does not exist"]),
        (vec![t, p1, p3], &["missing", "shard 2/3", "no folder"]),
        (vec![t, p1, p2, p3, p2], &["given twice"]),
        (vec![t, p1, p2, s(&copy), p3], &["given twice: r0"]),
        (vec![t, s(&single)], &["not a shard"]),
        (vec![p1, p1, p2, p3], &["also a part"]),
    ] {
        refused(&[&["merge"][..], &args].concat(), says);
    }
    let kept = std::fs::read_to_string(target.join("results.json")).unwrap();
    assert_eq!(kept, "sentinel");
    assert_eq!(files(&target), vec!["results.json".to_string()]);
    initscope_ok(&["merge", t, p1, p2, p3]);
    assert_eq!(read_doc(&target).runs.len(), 7);
}
