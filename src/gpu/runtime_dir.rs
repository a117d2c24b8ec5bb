//! A private `XDG_RUNTIME_DIR` for the Vulkan driver when the environment
//! has none. Mesa prints "error: XDG_RUNTIME_DIR is invalid or not set in
//! the environment." several times per process on headless servers and in
//! containers; the run is fine, but the lines read as a failure.

use std::path::{Path, PathBuf};
use std::sync::Once;

/// Points `XDG_RUNTIME_DIR` at a private folder (mode 0700, owned by this
/// user) when it is unset, empty, relative or not a directory. Runs once per
/// process, before the first GPU instance; the binary calls it first thing
/// in `main`, while it is still single-threaded.
pub fn ensure_runtime_dir() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let current = std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from);
        if current.as_deref().is_some_and(usable) {
            return;
        }
        if let Some(dir) = private_dir() {
            // SAFETY: called once, before any GPU instance (whose driver
            // threads read the environment) exists; the binary calls this
            // before it starts any thread.
            unsafe { std::env::set_var("XDG_RUNTIME_DIR", dir) };
        }
    });
}

/// What the driver accepts: an absolute path to an existing directory.
fn usable(p: &Path) -> bool {
    p.is_absolute() && p.is_dir()
}

/// `<tmp>/initscope-runtime-<uid>`, created 0700; a folder of that name
/// that another user owns or others can enter is not used.
#[cfg(unix)]
fn private_dir() -> Option<PathBuf> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    // SAFETY: geteuid has no preconditions and cannot fail.
    let uid = unsafe { libc::geteuid() };
    let dir = std::env::temp_dir().join(format!("initscope-runtime-{uid}"));
    let _ = std::fs::DirBuilder::new().mode(0o700).create(&dir);
    let meta = std::fs::symlink_metadata(&dir).ok()?;
    let private = meta.is_dir() && meta.uid() == uid && meta.permissions().mode() & 0o077 == 0;
    private.then_some(dir)
}

#[cfg(not(unix))]
fn private_dir() -> Option<PathBuf> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unusable_values_are_recognised() {
        assert!(!usable(Path::new("relative/dir")));
        assert!(!usable(Path::new("/nonexistent/initscope-xdg")));
        assert!(usable(&std::env::temp_dir()));
    }

    #[cfg(unix)]
    #[test]
    fn the_private_folder_is_ours_and_closed_to_others() {
        use std::os::unix::fs::PermissionsExt;
        let dir = private_dir().expect("a private runtime folder");
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700, "{}", dir.display());
    }
}
