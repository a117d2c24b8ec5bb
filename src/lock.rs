//! The output-folder lock: two runs writing into one folder at once would
//! interleave their results. A run holds `<dir>/.initscope.lock` (the
//! holder's pid and host) from before its first write until it ends; a
//! second run is refused, naming the folder and the holder. A lock left by
//! a process that no longer runs (killed, crashed) is taken over with a note.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The lock file's name inside an output folder.
pub const LOCK_FILE: &str = ".initscope.lock";

/// A held folder lock; dropping it removes the lock file.
#[derive(Debug)]
pub struct FolderLock {
    path: PathBuf,
    /// The stale holder this lock replaced, for the caller's note.
    pub took_over: Option<String>,
}

/// Why a folder could not be locked.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "output folder {dir} is in use by initscope process {holder} (lock file {file}); \
         wait for it to finish or choose another --out"
    )]
    InUse {
        dir: String,
        holder: String,
        file: String,
    },
    #[error("cannot lock output folder {dir}: {source}")]
    Io { dir: String, source: std::io::Error },
}

impl FolderLock {
    /// Locks `dir` (which must exist) for this process.
    pub fn acquire(dir: &Path) -> Result<FolderLock, LockError> {
        let path = dir.join(LOCK_FILE);
        let io = |source| LockError::Io {
            dir: dir.display().to_string(),
            source,
        };
        let me = format!("pid {} on {}", std::process::id(), host());
        let mut took_over = None;
        // Twice at most: once more after removing a stale lock.
        for _ in 0..2 {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut f) => {
                    f.write_all(me.as_bytes()).map_err(io)?;
                    return Ok(FolderLock { path, took_over });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let holder = std::fs::read_to_string(&path).unwrap_or_default();
                    if holder_alive(&holder) {
                        return Err(LockError::InUse {
                            dir: dir.display().to_string(),
                            holder: holder.trim().to_string(),
                            file: path.display().to_string(),
                        });
                    }
                    // Stale: its process is gone. Remove it only if it still
                    // names that process (another run may have just taken it).
                    if std::fs::read_to_string(&path).unwrap_or_default() == holder {
                        let _ = std::fs::remove_file(&path);
                    }
                    took_over = Some(holder.trim().to_string());
                }
                Err(e) => return Err(io(e)),
            }
        }
        Err(LockError::InUse {
            dir: dir.display().to_string(),
            holder: "another process".into(),
            file: path.display().to_string(),
        })
    }
}

impl Drop for FolderLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// This machine's host name (lock files on shared folders name their host).
fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "this host".into())
}

/// Whether the lock's holder ("pid N on HOST") may still run. A holder on
/// another host cannot be checked from here and counts as alive; so does
/// any other non-empty text.
fn holder_alive(holder: &str) -> bool {
    let Some((pid, h)) = holder
        .strip_prefix("pid ")
        .and_then(|r| r.split_once(" on "))
    else {
        return !holder.is_empty();
    };
    let Ok(pid) = pid.parse::<i32>() else {
        return true;
    };
    if h.trim() != host() {
        return true;
    }
    process_alive(pid)
}

#[cfg(unix)]
fn process_alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

#[cfg(not(unix))]
fn process_alive(_pid: i32) -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_and_a_stale_one_taken_over() {
        let dir = std::env::temp_dir().join(format!("initscope-lock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let first = FolderLock::acquire(&dir).unwrap();
        assert!(first.took_over.is_none());
        let e = FolderLock::acquire(&dir).unwrap_err().to_string();
        assert!(e.contains(&dir.display().to_string()), "{e}");
        assert!(e.contains(&format!("pid {}", std::process::id())), "{e}");
        drop(first);
        assert!(!dir.join(LOCK_FILE).exists());
        // A pid that cannot exist (above the kernel's pid_max).
        let stale = format!("pid 2147483000 on {}", host());
        std::fs::write(dir.join(LOCK_FILE), &stale).unwrap();
        let taken = FolderLock::acquire(&dir).unwrap();
        assert_eq!(taken.took_over.as_deref(), Some(stale.as_str()));
        drop(taken);
        // An empty lock file names no process: it is taken over too (a
        // holder caught between create and write has written by the time
        // the content is compared again, and keeps its lock).
        std::fs::write(dir.join(LOCK_FILE), "").unwrap();
        assert!(FolderLock::acquire(&dir).is_ok());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
