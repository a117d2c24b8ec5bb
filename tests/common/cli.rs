//! Helpers for the tests that drive the `initscope` binary: temp folders,
//! running the CLI, the shipped manifests, PNG decoding, the report's links
//! and a small CSV reader.
//!
//! Included with `#[path = "common/cli.rs"] mod cli_support;` so that the
//! GPU tests' `common/mod.rs` stays as it is.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

/// The binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_initscope")
}

/// The repository root (for `experiments/`).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fresh folder under the system temp dir, unique per process and call,
/// removed when dropped (set INITSCOPE_KEEP_TEST_DIRS to keep it).
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let dir =
            std::env::temp_dir().join(format!("initscope-it-{}-{n}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn join(&self, p: impl AsRef<Path>) -> PathBuf {
        self.0.join(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::env::var_os("INITSCOPE_KEEP_TEST_DIRS").is_none() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// Serialises the tests that keep the (CPU) adapter busy for seconds, so
/// that two of them never halve each other's speed or skew a timing.
pub fn heavy() -> MutexGuard<'static, ()> {
    static HEAVY: Mutex<()> = Mutex::new(());
    HEAVY.lock().unwrap_or_else(|e| e.into_inner())
}

/// A `Command` for the binary with a quiet, colourless environment.
pub fn command(args: &[&str]) -> Command {
    let mut c = Command::new(bin());
    c.args(args).env("NO_COLOR", "1");
    // No GEMM choice from the user's tuning cache (`bench --tune`): the
    // tests run the adapter's default kernels. The folder is never created.
    let no_cache =
        std::env::temp_dir().join(format!("initscope-it-no-cache-{}", std::process::id()));
    c.env("INITSCOPE_CACHE_DIR", no_cache);
    if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
        // Only silences Mesa's warning about a missing runtime directory.
        c.env("XDG_RUNTIME_DIR", std::env::temp_dir());
    }
    c
}

/// What one invocation produced.
pub struct Ran {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub secs: f64,
}

impl Ran {
    /// A one-paragraph account for assertion messages.
    pub fn show(&self) -> String {
        format!(
            "exit {:?} after {:.1} s\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.secs, self.stdout, self.stderr
        )
    }
}

/// Runs the binary to completion.
pub fn initscope(args: &[&str]) -> Ran {
    let t = std::time::Instant::now();
    let out: Output = command(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin()));
    Ran {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        secs: t.elapsed().as_secs_f64(),
    }
}

/// Runs the binary and insists on exit 0.
pub fn initscope_ok(args: &[&str]) -> Ran {
    let r = initscope(args);
    assert_eq!(r.code, Some(0), "initscope {args:?}\n{}", r.show());
    assert!(!r.stderr.contains("panicked"), "{}", r.show());
    r
}

/// A path as &str (temp paths are UTF-8 here).
pub fn s(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

/// Every shipped manifest, sorted by file name (the JSON Schema beside
/// them, `manifest.schema.json`, is not a manifest).
pub fn shipped_manifests() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(repo().join("experiments"))
        .expect("experiments/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .filter(|p| !p.to_string_lossy().ends_with(".schema.json"))
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no manifests in experiments/");
    v
}

/// Token rows of residual experiments when the tests run them.
const CI_TOKENS: u64 = 128;

/// Runs a shipped manifest into `out` with `--repeats 1` when it has
/// repeats, and residual experiments with [`CI_TOKENS`] token rows (whole
/// attention sequences: a multiple of seq_len, at least one; widths, depths
/// and seq_len are never changed); returns the run.
pub fn run_shipped(manifest: &Path, out: &Path) -> Ran {
    let text = std::fs::read_to_string(manifest).expect("manifest");
    let mut m: serde_json::Value = serde_json::from_str(&text).expect("manifest JSON");
    // Residual experiments study 1024 tokens; the whole pipeline is the
    // same with 128, at an eighth of CI's time (the full size is what
    // `initscope bench` step (c) and the README figures measure).
    let shrunk = out.with_extension("manifest.json");
    let manifest = if m["network"]["block"] == "residual"
        && m["input"]["batch"].as_u64().is_some_and(|b| b > CI_TOKENS)
    {
        // Attention runs within sequences: keep whole ones (at least one).
        let seq = m["network"]["attention"]["seq_len"].as_u64().unwrap_or(1);
        m["input"]["batch"] = (CI_TOKENS / seq * seq).max(seq).into();
        std::fs::create_dir_all(out.parent().expect("parent")).expect("temp dir");
        std::fs::write(&shrunk, serde_json::to_string_pretty(&m).unwrap()).expect("write");
        shrunk.as_path()
    } else {
        manifest
    };
    let mut args = vec!["run", s(manifest), "--out", s(out)];
    if m.get("repeats")
        .and_then(|r| r.as_u64())
        .is_some_and(|r| r > 1)
    {
        args.extend(["--repeats", "1"]);
    }
    initscope_ok(&args)
}

/// The run count printed by `validate` ("…: "name" — N runs").
pub fn validate_count(stdout: &str) -> usize {
    let first = stdout.lines().next().unwrap_or_default();
    let n = first
        .rsplit_once(" — ")
        .and_then(|(_, t)| t.strip_suffix(" runs"))
        .and_then(|n| n.trim().parse().ok());
    n.unwrap_or_else(|| panic!("no run count in validate's first line: {first:?}"))
}

/// Width, height and luminance variance of a PNG.
pub fn decode_png(path: &Path) -> (u32, u32, f64) {
    let (w, h, px) = png_pixels(path);
    // Grey (and grey + alpha) images have one colour sample, RGB(A) three.
    let colour = if px.channels >= 3 { 3 } else { 1 };
    let lum: Vec<f64> = px
        .data
        .chunks(px.channels)
        .map(|c| c[..colour].iter().map(|v| f64::from(*v)).sum::<f64>() / colour as f64)
        .collect();
    let mean = lum.iter().sum::<f64>() / lum.len() as f64;
    let var = lum.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / lum.len() as f64;
    (w, h, var)
}

/// Decoded 8-bit samples of a PNG.
pub struct Pixels {
    pub channels: usize,
    pub data: Vec<u8>,
}

/// Decodes a PNG to 8-bit samples; panics with the file name on failure.
pub fn png_pixels(path: &Path) -> (u32, u32, Pixels) {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut dec = png::Decoder::new(std::io::BufReader::new(file));
    dec.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = dec
        .read_info()
        .unwrap_or_else(|e| panic!("{}: not a PNG: {e}", path.display()));
    let mut buf = vec![0; reader.output_buffer_size().expect("PNG size")];
    let info = reader
        .next_frame(&mut buf)
        .unwrap_or_else(|e| panic!("{}: PNG data: {e}", path.display()));
    buf.truncate(info.buffer_size());
    let channels = info.color_type.samples();
    (
        info.width,
        info.height,
        Pixels {
            channels,
            data: buf,
        },
    )
}

/// Every `src="…"` and `href="…"` target of a page, entities decoded.
pub fn page_refs(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    for attr in ["src=\"", "href=\""] {
        for (i, _) in html.match_indices(attr) {
            let rest = &html[i + attr.len()..];
            if let Some(end) = rest.find('"') {
                out.push(rest[..end].replace("&amp;", "&"));
            }
        }
    }
    out
}

/// The `src` of every `<img>` of a page.
pub fn img_srcs(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, _) in html.match_indices("<img") {
        let tag = &html[i..i + html[i..].find('>').unwrap_or(html.len() - i)];
        if let Some(j) = tag.find("src=\"") {
            let rest = &tag[j + 5..];
            if let Some(end) = rest.find('"') {
                out.push(rest[..end].replace("&amp;", "&"));
            }
        }
    }
    out
}

/// A reference that leaves the folder (a URL or an absolute path).
pub fn is_external(r: &str) -> bool {
    r.contains("://") || r.starts_with("//") || r.starts_with('/') || r.starts_with("data:")
}

/// Records of an RFC 4180 CSV text (quotes, doubled quotes, quoted newlines).
pub fn csv_records(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let (mut row, mut field) = (Vec::new(), String::new());
    let (mut quoted, mut chars) = (false, text.chars().peekable());
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, '\r') => {}
            (false, c) => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

/// Names in `dir` that look like temporary files of an atomic write.
pub fn temp_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.contains(".tmp") || n.starts_with(".initscope-probe"))
                .collect()
        })
        .unwrap_or_default()
}

/// Deep-merges `patch` into `base`; `null` in the patch removes the key.
pub fn merge(base: &mut serde_json::Value, patch: &serde_json::Value) {
    use serde_json::Value;
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    b.remove(k);
                } else if let Some(slot) = b.get_mut(k) {
                    merge(slot, v);
                } else {
                    b.insert(k.clone(), v.clone());
                }
            }
        }
        (b, p) => *b = p.clone(),
    }
}

/// (ran, kept) from `run`'s last line: "Ran N run(s)[, kept M finished earlier] on …".
pub fn ran_resumed(stdout: &str) -> (usize, usize) {
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with("Ran "))
        .unwrap_or_else(|| panic!("no run count in {stdout:?}"));
    let num = |s: &str| {
        s.split_whitespace()
            .next()
            .and_then(|n| n.parse::<usize>().ok())
    };
    let ran = num(&line[4..]).expect("Ran N");
    let kept = line
        .split_once(", kept ")
        .map_or(0, |(_, t)| num(t).expect("kept M"));
    (ran, kept)
}

/// results.json of an output folder, as the library's type.
pub fn read_doc(dir: &Path) -> initscope::results::ResultsDoc {
    let text = std::fs::read_to_string(dir.join("results.json")).expect("results.json");
    serde_json::from_str(&text).expect("results.json parses into ResultsDoc")
}
