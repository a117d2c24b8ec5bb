//! Fault injection for the test suite only: `INITSCOPE_FAULT=KIND@RUN`
//! makes the first matching operation during run RUN (1-based, in the
//! order `run` executes them) fail as a real fault would, so the tests can
//! check that every failure gives a clear error, exit 1, the finished runs
//! kept and no partial file. Unset (always, outside tests), nothing changes.
//!
//! KIND is one of `alloc-oom`, `alloc-lost` (the first GPU buffer a run
//! asks for), `submit-oom`, `submit-lost` (its first submission),
//! `disk-full` (the first file written after the run: half the bytes, then
//! ENOSPC) and `rename` (that file's final rename fails).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Where a fault can be injected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Site {
    Alloc,
    Submit,
    Write,
    Rename,
}

/// What an injected fault looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    OutOfMemory,
    DeviceLost,
    DiskFull,
    RenameFailed,
}

static RUN: AtomicUsize = AtomicUsize::new(0);
static FIRED: AtomicBool = AtomicBool::new(false);

fn armed() -> Option<(Site, Fault, usize)> {
    static ARMED: OnceLock<Option<(Site, Fault, usize)>> = OnceLock::new();
    *ARMED.get_or_init(|| {
        let v = std::env::var("INITSCOPE_FAULT").ok()?;
        let (kind, run) = v.split_once('@')?;
        let (site, fault) = match kind {
            "alloc-oom" => (Site::Alloc, Fault::OutOfMemory),
            "alloc-lost" => (Site::Alloc, Fault::DeviceLost),
            "submit-oom" => (Site::Submit, Fault::OutOfMemory),
            "submit-lost" => (Site::Submit, Fault::DeviceLost),
            "disk-full" => (Site::Write, Fault::DiskFull),
            "rename" => (Site::Rename, Fault::RenameFailed),
            _ => return None,
        };
        Some((site, fault, run.parse().ok()?))
    })
}

/// The runner says which run (1-based) is under way.
pub fn set_run(run: usize) {
    RUN.store(run, Ordering::SeqCst);
}

/// The fault to inject at `site` now, once per process.
pub fn hit(site: Site) -> Option<Fault> {
    let (s, fault, run) = armed()?;
    if s != site || RUN.load(Ordering::SeqCst) != run {
        return None;
    }
    (!FIRED.swap(true, Ordering::SeqCst)).then_some(fault)
}

/// The GPU error an injected fault at an allocation or a submission gives.
pub fn gpu_error(fault: Fault, what: &str) -> crate::gpu::GpuError {
    let what = what.to_string();
    let detail = "injected by INITSCOPE_FAULT".to_string();
    match fault {
        Fault::DeviceLost => crate::gpu::GpuError::DeviceLost { what, detail },
        _ => crate::gpu::GpuError::OutOfMemory { what, detail },
    }
}
