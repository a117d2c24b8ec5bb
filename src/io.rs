//! Generic file I/O: atomic writes (temp file in the same folder, fsync,
//! rename) and the check that an output folder can be written.

use std::io::Write;
use std::path::Path;

/// Writes `bytes` to `path` atomically. On failure the temp file is removed
/// and any previous `path` is left untouched.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        if crate::fault::hit(crate::fault::Site::Write).is_some() {
            // A full disk: part of the data reaches the temp file.
            f.write_all(&bytes[..bytes.len() / 2])?;
            return Err(std::io::Error::new(
                std::io::ErrorKind::StorageFull,
                "no space left on device (injected by INITSCOPE_FAULT)",
            ));
        }
        f.write_all(bytes)?;
        f.sync_all()?;
        if crate::fault::hit(crate::fault::Site::Rename).is_some() {
            return Err(std::io::Error::other(
                "rename failed (injected by INITSCOPE_FAULT)",
            ));
        }
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Checks that `dir` can be created and written, before any GPU work.
pub fn ensure_writable(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let probe = dir.join(format!(".initscope-probe-{}", std::process::id()));
    std::fs::write(&probe, b"ok")?;
    std::fs::remove_file(&probe)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_whole_file_and_cleans_up() {
        let dir = std::env::temp_dir().join(format!("initscope-atomic-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("x.json");
        write_atomic(&p, b"first").unwrap();
        write_atomic(&p, b"second").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"second");
        let leftovers = std::fs::read_dir(&dir).unwrap().count();
        assert_eq!(leftovers, 1, "temp files left behind");
        // Writing into a missing folder fails without touching anything.
        assert!(write_atomic(&dir.join("missing/y.json"), b"z").is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
