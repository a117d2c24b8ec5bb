//! `initscope slurm --submit` on a real single-node Slurm (Debian's
//! slurmctld, slurmd, slurm-client and munge, started by the test in a temp
//! folder): the job array of shards and the merge job that depends on it
//! give the same per-run records as one unsharded run; a failed array task
//! blocks the merge (DependencyNeverSatisfied) until it is resubmitted alone
//! with the command `slurm --submit` printed; a GPU request on a node
//! without GPUs is refused at submission. Every daemon is stopped at the end,
//! also when an assertion fails.
//!
//! Without root or Slurm the test says so loudly on stderr and passes,
//! unless INITSCOPE_REQUIRE_SLURM is set (`.ci/run` sets it), when it fails.

#[path = "common/cli.rs"]
mod cli_support;
#[path = "common/slurm_cluster.rs"]
mod slurm_cluster;

use cli_support::*;
use serde_json::Value;
use slurm_cluster::Cluster;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

const MANIFEST: &str = r#"{
  "name": "slurm-sweep", "seed": 11,
  "network": {"input_dim": 32, "width": 32, "depth": 3, "activation": "tanh"},
  "input": {"batch": 16},
  "variants": [{"label": "xavier", "init": {"scheme": "xavier_uniform"}},
               {"label": "orthogonal", "init": {"scheme": "orthogonal"}},
               {"label": "small", "init": {"scheme": "normal", "std": 0.05}}],
  "sweep": {"network.width": [16, 48]}
}"#;

/// How the wait for the cluster's jobs ended.
#[derive(Debug, PartialEq)]
enum Waited {
    /// No job is pending or running.
    Done,
    /// These pending jobs wait on a dependency that can no longer be met.
    NeverSatisfied(Vec<String>),
}

/// Polls squeue until no job is pending or running, or one can never start.
fn wait_jobs(c: &Cluster, limit: Duration) -> Waited {
    let t = Instant::now();
    let mut last = String::new();
    while t.elapsed() < limit {
        let out = c
            .client("squeue")
            .args(["-h", "-o", "%i %T %r"])
            .output()
            .expect("squeue");
        assert!(out.status.success(), "squeue: {out:?}\n{}", c.logs());
        last = String::from_utf8_lossy(&out.stdout).into_owned();
        if last.trim().is_empty() {
            return Waited::Done;
        }
        let stuck: Vec<String> = last
            .lines()
            .filter(|l| l.ends_with(" PENDING DependencyNeverSatisfied"))
            .filter_map(|l| l.split_whitespace().next().map(str::to_string))
            .collect();
        if !stuck.is_empty() {
            return Waited::NeverSatisfied(stuck);
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    panic!("jobs still queued after {limit:?}:\n{last}\n{}", c.logs());
}

/// (JobState, ExitCode) of a job, one entry per array task.
fn job_states(c: &Cluster, id: &str) -> Vec<(String, String)> {
    let out = c
        .client("scontrol")
        .args(["-o", "show", "job", id])
        .output()
        .expect("scontrol");
    let field = |line: &str, key: &str| {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(key))
            .unwrap_or("?")
            .to_string()
    };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| (field(l, "JobState="), field(l, "ExitCode=")))
        .collect()
}

/// The number after `word` in `text` ("... array job 12 ...").
fn job_id(text: &str, word: &str) -> String {
    let rest = text
        .split_once(word)
        .unwrap_or_else(|| panic!("no {word:?} in {text}"))
        .1;
    rest.trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect()
}

/// `initscope slurm` against the cluster.
fn slurm(c: &Cluster, args: &[&str]) -> Ran {
    let t = Instant::now();
    let mut cmd = command(&[&["slurm"], args].concat());
    c.env(&mut cmd);
    let out = cmd.output().expect("initscope slurm");
    Ran {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        secs: t.elapsed().as_secs_f64(),
    }
}

/// The per-run records of a results folder, timing aside.
fn runs_without_timing(dir: &Path) -> (Value, Value) {
    let text = std::fs::read_to_string(dir.join("results.json"))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut doc: Value = serde_json::from_str(&text).expect("results.json");
    let mut runs = doc["runs"].take();
    for r in runs.as_array_mut().expect("runs") {
        r.as_object_mut().expect("run").remove("timing_ms");
    }
    (runs, doc["plan_hash"].take())
}

fn assert_same_runs(merged: &Path, single: &Path, c: &Cluster) {
    let (a, ha) = runs_without_timing(merged);
    let (b, hb) = runs_without_timing(single);
    assert_eq!(ha, hb, "plan hash");
    assert_eq!(a.as_array().map(Vec::len), Some(6), "{a}");
    assert!(
        a == b,
        "merged runs differ from the unsharded run\n{}",
        c.logs()
    );
    for f in ["summary.csv", "report.html", "act_std.png"] {
        assert!(
            merged.join(f).is_file(),
            "{f} missing in {}",
            merged.display()
        );
    }
}

/// Skips loudly (on the real stderr, past the test harness's capture)
/// unless INITSCOPE_REQUIRE_SLURM is set.
fn skip_or_fail(why: &str) {
    let line = "!".repeat(78);
    let _ = writeln!(
        std::io::stderr(),
        "\n{line}\nSLURM TEST NOT RUN: {why}.\nIt needs root and Debian's Slurm: \
         `apt-get install -y --no-install-recommends slurmctld slurmd slurm-client munge` \
         (.ci/run installs it and sets INITSCOPE_REQUIRE_SLURM=1).\n{line}"
    );
    assert!(
        std::env::var_os("INITSCOPE_REQUIRE_SLURM").is_none(),
        "INITSCOPE_REQUIRE_SLURM is set, but {why}"
    );
}

/// A sweep's paths: the manifest, the unsharded reference run, the temp root.
struct Sweep<'a> {
    manifest: &'a Path,
    single: &'a Path,
    root: &'a Path,
}

/// The flags every submission here uses (no GPU line: the node has none).
const SUBMIT: [&str; 7] = [
    "--array",
    "3",
    "--gpus-per-task",
    "0",
    "--time",
    "5",
    "--submit",
];

/// `initscope slurm --submit` into `out`; insists on exit 0.
fn submit(c: &Cluster, sw: &Sweep, out: &Path) -> Ran {
    let r = slurm(
        c,
        &[&[s(sw.manifest), "--out", s(out)][..], &SUBMIT].concat(),
    );
    assert_eq!(r.code, Some(0), "{}", r.show());
    r
}

/// A GPU request on a node without GPUs: refused at submission, exit 2.
fn gpu_request_is_refused(c: &Cluster, sw: &Sweep) {
    let out = sw.root.join("gpu");
    let r = slurm(
        c,
        &[s(sw.manifest), "--array", "3", "--out", s(&out), "--submit"],
    );
    assert_eq!(r.code, Some(2), "{}", r.show());
    assert!(
        r.stderr.contains("sbatch refused the array job"),
        "{}",
        r.show()
    );
}

/// The array and its merge job complete; the merge equals the unsharded run.
fn array_and_merge_complete(c: &Cluster, sw: &Sweep) {
    let sweep = sw.root.join("sweep");
    let r = submit(c, sw, &sweep);
    let (array, merge) = (
        job_id(&r.stdout, "array job"),
        job_id(&r.stdout, "merge job"),
    );
    assert_eq!(wait_jobs(c, Duration::from_secs(90)), Waited::Done);
    let states = job_states(c, &array);
    assert_eq!(states.len(), 3, "{states:?}");
    for (state, exit) in states.iter().chain(&job_states(c, &merge)) {
        assert_eq!(
            (state.as_str(), exit.as_str()),
            ("COMPLETED", "0:0"),
            "{}",
            c.logs()
        );
    }
    assert_same_runs(&sweep, sw.single, c);
}

/// Task 2 fails (its output folder is a file in the way): the merge never
/// starts, until task 2 is resubmitted alone with the printed command.
fn failed_task_is_resubmitted_alone(c: &Cluster, sw: &Sweep) {
    let sweep = sw.root.join("sweep2");
    std::fs::create_dir_all(&sweep).expect("sweep2");
    std::fs::write(sweep.join("shard-2-of-3"), "in the way").expect("blocker");
    let r = submit(c, sw, &sweep);
    let merge = job_id(&r.stdout, "merge job");
    let stuck = wait_jobs(c, Duration::from_secs(90));
    assert_eq!(stuck, Waited::NeverSatisfied(vec![merge.clone()]));
    let failed = job_states(c, &job_id(&r.stdout, "array job"));
    assert_eq!(
        failed.iter().filter(|s| s.0 == "FAILED").count(),
        1,
        "{failed:?}"
    );
    assert!(!sweep.join("results.json").exists(), "the merge ran");
    std::fs::remove_file(sweep.join("shard-2-of-3")).expect("unblock");
    let resubmit = r
        .stdout
        .lines()
        .find(|l| l.contains("sbatch --parsable --array=K"))
        .unwrap_or_else(|| panic!("no resubmit command in\n{}", r.stdout))
        .replace("--array=K", "--array=2");
    let mut bash = std::process::Command::new("bash");
    bash.args(["-c", resubmit.trim()]);
    c.env(&mut bash);
    let status = bash.status().expect("bash");
    assert!(status.success(), "{resubmit}: {status}");
    assert_eq!(wait_jobs(c, Duration::from_secs(90)), Waited::Done);
    let done = job_states(c, &merge);
    assert_eq!(
        done,
        vec![("COMPLETED".into(), "0:0".into())],
        "{}",
        c.logs()
    );
    assert_same_runs(&sweep, sw.single, c);
}

/// After `stop`: no process names the cluster's folder, no port answers.
fn nothing_is_left(c: &mut Cluster) {
    c.stop();
    let left = c.leftovers();
    assert!(left.is_empty(), "processes left after stop: {left:#?}");
    for port in [c.ports.0, c.ports.1] {
        let open = std::net::TcpStream::connect(("127.0.0.1", port)).is_ok();
        assert!(!open, "port {port} still open");
    }
}

#[test]
fn slurm_array_and_merge_equal_one_unsharded_run() {
    if let Some(why) = slurm_cluster::unavailable() {
        return skip_or_fail(&why);
    }
    let t0 = Instant::now();
    let tmp = TempDir::new("slurm");
    let manifest = tmp.join("sweep.json");
    std::fs::write(&manifest, MANIFEST).expect("manifest");
    let single = tmp.join("single");
    initscope_ok(&["run", s(&manifest), "--out", s(&single), "--quiet"]);
    let sw = Sweep {
        manifest: &manifest,
        single: &single,
        root: tmp.path(),
    };
    // The cluster's files share the folder, so that `leftovers` also finds
    // job processes (their command lines name the sweep folders). 4 CPUs:
    // the three array tasks run at once (config_overrides allows it).
    let mut c = Cluster::start(tmp.path(), 4);
    let t_up = t0.elapsed();
    gpu_request_is_refused(&c, &sw);
    array_and_merge_complete(&c, &sw);
    let t_array = t0.elapsed();
    failed_task_is_resubmitted_alone(&c, &sw);
    let t_resubmit = t0.elapsed();
    nothing_is_left(&mut c);
    eprintln!(
        "slurm test: reference run + cluster up {t_up:.1?}, array + merge done {t_array:.1?}, \
         failure + resubmit done {t_resubmit:.1?}, all stopped {:.1?}",
        t0.elapsed()
    );
}
