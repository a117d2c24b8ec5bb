//! Fault injection through the real binary (`INITSCOPE_FAULT`, see
//! src/fault.rs): device lost and out-of-memory at allocation and at
//! submission, a full disk and a failing rename while writing results. Each
//! gives a clear error and exit 1, keeps the runs finished before it, leaves
//! no partial or temporary file and no lock, and the folder resumes.

#[path = "common/cli.rs"]
mod cli_support;

use cli_support::*;
use serde_json::json;

fn three_runs() -> String {
    json!({
        "name": "faults", "seed": 4,
        "network": {"input_dim": 16, "width": 16, "depth": 3, "activation": "tanh"},
        "input": {"batch": 8},
        "variants": [{"label": "a"}, {"label": "b", "init": {"scheme": "orthogonal"}},
                     {"label": "c", "init": {"scheme": "normal", "std": 0.3}}]
    })
    .to_string()
}

#[test]
fn every_injected_fault_fails_cleanly_and_keeps_finished_runs() {
    let _g = heavy();
    let t = TempDir::new("faults");
    let m = t.join("m.json");
    std::fs::write(&m, three_runs()).unwrap();
    let cases = [
        ("alloc-oom@2", 1, "GPU out of memory in"),
        ("alloc-lost@2", 1, "the GPU device was lost during"),
        ("submit-oom@3", 2, "GPU out of memory in"),
        ("submit-lost@2", 1, "the GPU device was lost during"),
        ("disk-full@2", 1, "no space left on device"),
        ("rename@3", 2, "rename failed"),
    ];
    for (i, (fault, kept, message)) in cases.iter().enumerate() {
        let out = t.join(format!("out{i}"));
        let r = command(&["run", s(&m), "--out", s(&out), "--quiet"])
            .env("INITSCOPE_FAULT", fault)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&r.stderr);
        assert_eq!(r.status.code(), Some(1), "{fault}: {stderr}");
        assert!(stderr.starts_with("Error: "), "{fault}: {stderr}");
        assert!(stderr.contains(message), "{fault}: {stderr}");
        assert!(!stderr.contains("panicked"), "{fault}: {stderr}");
        // The finished runs are whole in both files; nothing half-written.
        let doc = read_doc(&out);
        assert_eq!(doc.runs.len(), *kept, "{fault}");
        let csv = std::fs::read_to_string(out.join("summary.csv")).unwrap();
        assert_eq!(csv_records(&csv).len(), kept + 1, "{fault}");
        assert!(
            temp_files(&out).is_empty(),
            "{fault}: {:?}",
            temp_files(&out)
        );
        assert!(
            !out.join(initscope::lock::LOCK_FILE).exists(),
            "{fault}: lock left"
        );
        // Without the fault the folder resumes where it stopped.
        let again = initscope_ok(&["run", s(&m), "--out", s(&out), "--resume"]);
        assert_eq!(ran_resumed(&again.stdout), (3 - kept, *kept), "{fault}");
    }
}
