//! The HTML report in a real browser: every shipped experiment is run
//! through the CLI, and its report.html is opened in headless Chromium with
//! a probe that waits for every image and records script and console
//! errors. Negative controls (a broken image, a console error and an
//! uncaught exception) prove that the probe catches what it looks for.
//!
//! Needs Debian's `chromium` (`apt-get install -y chromium`; `.ci/run`
//! installs it), or another Chromium named by INITSCOPE_CHROMIUM. Without
//! one the test fails: it never passes silently.

#[path = "common/cli.rs"]
mod cli_support;

use cli_support::*;
use serde_json::Value;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long one page may take before Chromium is killed.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(60);

/// Injected before `</body>`: after `load`, scrolls every image that has
/// not loaded yet into view (the report's images are `loading="lazy"`),
/// waits for each to load or fail (at most 5 s), then writes a JSON verdict
/// into the DOM between two markers. The markers are joined at run time so
/// that the script's own text never contains them.
const PROBE: &str = r#"<script>
(function () {
  var errors = [];
  window.addEventListener('error', function (e) {
    var t = e.target;
    if (t && t !== window && (t.src || t.href)) {
      errors.push('resource failed: ' + (t.src || t.href));
    } else {
      errors.push('uncaught: ' + (e.message || String(e)));
    }
  }, true);
  window.addEventListener('unhandledrejection', function (e) {
    errors.push('unhandled rejection: ' + String(e.reason));
  });
  var original = console.error;
  console.error = function () {
    errors.push('console.error: ' + Array.prototype.map.call(arguments, String).join(' '));
    return original.apply(console, arguments);
  };
  function verdict() {
    var images = Array.prototype.map.call(document.images, function (i) {
      return { src: i.getAttribute('src'), complete: i.complete,
               naturalWidth: i.naturalWidth, naturalHeight: i.naturalHeight };
    });
    var pre = document.createElement('pre');
    pre.id = 'initscope-verdict';
    pre.textContent = 'INITSCOPE-VERDICT' + '-BEGIN' +
      JSON.stringify({ images: images, errors: errors }) + 'INITSCOPE-VERDICT' + '-END';
    document.body.appendChild(pre);
  }
  window.addEventListener('load', function () {
    var waits = Array.prototype.filter.call(document.images, function (i) {
      return !(i.complete && i.naturalWidth > 0);
    }).map(function (i) {
      return new Promise(function (done) {
        i.addEventListener('load', done);
        i.addEventListener('error', done);
        i.scrollIntoView();
        if (i.complete) { done(); }
      });
    });
    var timeout = new Promise(function (done) { setTimeout(done, 5000); });
    Promise.race([Promise.all(waits), timeout]).then(verdict);
  });
})();
</script>
"#;

/// Debian's Chromium (or the browser named by INITSCOPE_CHROMIUM); a clear
/// failure when it is missing.
fn chromium() -> PathBuf {
    if let Some(p) = std::env::var_os("INITSCOPE_CHROMIUM") {
        let p = PathBuf::from(p);
        assert!(
            p.is_file(),
            "INITSCOPE_CHROMIUM={} does not exist; unset it to use Debian's \
             /usr/bin/chromium (`apt-get install -y chromium`)",
            p.display()
        );
        return p;
    }
    let debian = Path::new("/usr/bin/chromium");
    if debian.is_file() {
        return debian.to_path_buf();
    }
    let on_path = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("chromium"))
            .find(|c| c.is_file())
    });
    on_path.unwrap_or_else(|| {
        panic!(
            "this test opens report.html in a real browser and needs Chromium, \
             which is not installed (no /usr/bin/chromium, none on PATH): \
             run `apt-get install -y chromium` (.ci/run does this)"
        )
    })
}

/// What Chromium saw on one page.
struct Seen {
    /// The probe's verdict, absent when the page never finished loading.
    verdict: Option<Value>,
    /// Console and resource lines from Chromium's log.
    console: Vec<String>,
    stderr: String,
}

/// Opens `page` in headless Chromium and returns the probe's verdict.
/// Chromium runs in its own process group, killed whole after the timeout.
fn open_in_chromium(browser: &Path, page: &Path, work: &Path) -> Seen {
    let tag = page.file_stem().unwrap().to_string_lossy().into_owned();
    let profile = work.join(format!("profile-{tag}"));
    let (out_path, err_path) = (
        work.join(format!("{tag}.dom")),
        work.join(format!("{tag}.log")),
    );
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            &format!("--user-data-dir={}", s(&profile)),
            "--allow-file-access-from-files",
            "--virtual-time-budget=10000",
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
            &format!("file://{}", s(page)),
        ])
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", browser.display()));
    let t = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if t.elapsed() > BROWSER_TIMEOUT {
            // The whole group: the browser and the renderers it started.
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .status();
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "Chromium did not finish {} within {BROWSER_TIMEOUT:?}; its log:\n{}",
                page.display(),
                std::fs::read_to_string(&err_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let dom = std::fs::read_to_string(&out_path).unwrap_or_default();
    let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
    let verdict = dom
        .split_once("INITSCOPE-VERDICT-BEGIN")
        .and_then(|(_, rest)| rest.split_once("INITSCOPE-VERDICT-END"))
        .map(|(json, _)| {
            let json = json
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&amp;", "&");
            serde_json::from_str(&json).unwrap_or_else(|e| panic!("verdict {json}: {e}"))
        });
    let console = stderr
        .lines()
        .filter(|l| l.contains("CONSOLE") || l.contains("Failed to load resource"))
        .map(str::to_string)
        .collect();
    let _ = std::fs::remove_dir_all(&profile);
    Seen {
        verdict,
        console,
        stderr,
    }
}

/// Everything wrong with a page as Chromium saw it; `expected` is the
/// number of `<img>` in the page's source.
fn problems(seen: &Seen, expected: usize) -> Vec<String> {
    let mut out = Vec::new();
    let Some(v) = &seen.verdict else {
        return vec![format!(
            "no verdict: the page never finished loading; Chromium's log:\n{}",
            seen.stderr
        )];
    };
    let images = v["images"].as_array().cloned().unwrap_or_default();
    if images.len() != expected {
        out.push(format!(
            "{} images loaded, the page has {expected}",
            images.len()
        ));
    }
    for i in &images {
        let ok = i["complete"] == true && i["naturalWidth"].as_u64().unwrap_or(0) > 0;
        if !ok {
            out.push(format!("image not loaded: {i}"));
        }
    }
    for e in v["errors"].as_array().into_iter().flatten() {
        out.push(format!("page error: {}", e.as_str().unwrap_or_default()));
    }
    for l in &seen.console {
        let bad = ["ERROR", "Uncaught", "Failed to load resource", "rror:"]
            .iter()
            .any(|k| l.contains(k));
        if bad {
            out.push(format!("console: {l}"));
        }
    }
    out
}

/// `report.html` with the probe (and `extra` before it) as `NAME.html`.
fn probe_page(dir: &Path, name: &str, edit: impl Fn(String) -> String, extra: &str) -> PathBuf {
    let html = std::fs::read_to_string(dir.join("report.html")).expect("report.html");
    assert_eq!(
        html.matches("</body>").count(),
        1,
        "{}: one </body>",
        dir.display()
    );
    let page = edit(html).replace("</body>", &format!("{PROBE}{extra}</body>"));
    let path = dir.join(format!("{name}.html"));
    std::fs::write(&path, page).unwrap();
    path
}

#[test]
fn every_shipped_report_loads_all_images_without_errors_in_chromium() {
    // Fail fast, before minutes of GPU work, when there is no browser.
    let browser = chromium();
    let _heavy = heavy();
    let tmp = TempDir::new("browser");
    let mut failures = Vec::new();
    let mut checked = Vec::new();
    for m in shipped_manifests() {
        let stem = m.file_stem().unwrap().to_string_lossy().into_owned();
        let out = tmp.join(&stem);
        run_shipped(&m, &out);
        let html = std::fs::read_to_string(out.join("report.html")).unwrap();
        let n = img_srcs(&html).len();
        // Linear reports have 5 or more figures; residual reports 3 or 4.
        assert!(n >= 3, "{stem}: only {n} images in report.html");
        let page = probe_page(&out, "probe", |h| h, "");
        let seen = open_in_chromium(&browser, &page, tmp.path());
        let p = problems(&seen, n);
        if p.is_empty() {
            checked.push(format!("{stem} ({n} images)"));
        } else {
            failures.push(format!(
                "{stem}:\n  {}\n  console lines:\n  {}",
                p.join("\n  "),
                seen.console.join("\n  ")
            ));
        }
        if stem == "init-impact" {
            negative_controls(&browser, &out, tmp.path(), n);
            self_contained_alone(&browser, &out, tmp.path(), n);
        }
    }
    assert!(
        failures.is_empty(),
        "reports that failed in Chromium:\n{}",
        failures.join("\n")
    );
    assert!(
        checked.iter().any(|c| c.starts_with("init-impact")),
        "init-impact was not checked"
    );
    eprintln!("checked in Chromium: {}", checked.join(", "));
}

/// The probe must flag a broken image, a console error and an uncaught
/// exception; otherwise a passing verdict would prove nothing.
fn negative_controls(browser: &Path, dir: &Path, work: &Path, n: usize) {
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    let first = img_srcs(&html)[0].clone();
    let broken = probe_page(
        dir,
        "broken-image",
        |h| h.replacen(&format!("src=\"{first}\""), "src=\"missing-figure.png\"", 1),
        "",
    );
    let seen = open_in_chromium(browser, &broken, work);
    let p = problems(&seen, n);
    assert!(
        p.iter()
            .any(|l| l.contains("image not loaded") && l.contains("missing-figure.png")),
        "the probe missed a broken image: {p:?}"
    );
    assert!(
        p.iter().any(|l| l.contains("resource failed")),
        "the probe missed the failed request: {p:?}"
    );
    let noisy = probe_page(
        dir,
        "console-error",
        |h| h,
        "<script>console.error('negative control');</script>\n\
         <script>window.initscopeNoSuchFunction();</script>\n",
    );
    let seen = open_in_chromium(browser, &noisy, work);
    let p = problems(&seen, n);
    assert!(
        p.iter()
            .any(|l| l.contains("console.error: negative control")),
        "the probe missed console.error: {p:?}"
    );
    assert!(
        p.iter().any(|l| l.contains("uncaught:")),
        "the probe missed an uncaught exception: {p:?}"
    );
    assert!(
        !p.iter().any(|l| l.contains("image not loaded")),
        "the images of an intact page failed: {p:?}"
    );
}

/// `plot --self-contained` gives a report.html that works alone: copied
/// into an empty folder, every image loads from the page itself and
/// nothing else is requested. The linked report copied alone must fail the
/// same check, or the check would prove nothing.
fn self_contained_alone(browser: &Path, dir: &Path, work: &Path, n: usize) {
    let embedded = work.join("self-contained");
    let results = dir.join("results.json");
    initscope_ok(&[
        "plot",
        s(&results),
        "--out",
        s(&embedded),
        "--self-contained",
    ]);
    let html = std::fs::read_to_string(embedded.join("report.html")).unwrap();
    let srcs = img_srcs(&html);
    assert_eq!(srcs.len(), n, "the self-contained page has every figure");
    assert!(
        srcs.iter().all(|s| s.starts_with("data:image/png;base64,")),
        "every image is embedded"
    );
    for (name, page, expect_ok) in [
        ("alone-embedded", embedded.join("report.html"), true),
        ("alone-linked", dir.join("report.html"), false),
    ] {
        let alone = work.join(name);
        std::fs::create_dir_all(&alone).unwrap();
        std::fs::copy(&page, alone.join("report.html")).unwrap();
        let probe = probe_page(&alone, name, |h| h, "");
        let p = problems(&open_in_chromium(browser, &probe, work), n);
        if expect_ok {
            assert!(p.is_empty(), "the self-contained report alone: {p:?}");
        } else {
            assert!(
                p.iter().any(|l| l.contains("image not loaded")),
                "a linked report copied alone must lose its images: {p:?}"
            );
        }
    }
}
