//! What a user reads in the terminal keeps the conventions: every command's
//! `--help` has examples, completion scripts generate for every shell, and
//! usage errors exit 2 without touching anything.

#[path = "common/cli.rs"]
mod cli_support;

use cli_support::*;

/// Every subcommand, read off the top-level help (so new ones are checked too).
fn commands() -> Vec<String> {
    let out = command(&["--help"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let list = text
        .split("Commands:")
        .nth(1)
        .and_then(|rest| rest.split("\n\n").next())
        .unwrap_or_default();
    list.lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_string)
        .collect()
}

#[test]
fn every_command_has_help_with_examples() {
    let all = commands();
    for known in ["run", "validate", "devices", "plot", "bench", "completions"] {
        assert!(
            all.iter().any(|c| c == known),
            "{known} missing from {all:?}"
        );
    }
    for c in all.iter().map(String::as_str) {
        let out = command(&[c, "--help"]).output().unwrap();
        assert!(out.status.success(), "{c} --help failed");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("Examples:"),
            "{c} --help has no examples:\n{text}"
        );
        assert!(
            text.contains(&format!("initscope {c}")),
            "{c}: examples use the command"
        );
    }
    let top = command(&["--help"]).output().unwrap();
    let text = String::from_utf8_lossy(&top.stdout);
    assert!(
        text.contains("Exit codes") && text.contains("NO_COLOR"),
        "{text}"
    );
}

#[test]
fn completion_scripts_generate_for_every_shell() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef initscope"),
        ("fish", "complete -c initscope"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let out = command(&["completions", shell]).output().unwrap();
        assert!(
            out.status.success(),
            "{shell}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(marker), "{shell} script lacks {marker:?}");
        for c in ["run", "validate", "plot", "completions"] {
            assert!(text.contains(c), "{shell} script does not complete {c}");
        }
    }
    let bad = command(&["completions", "tcsh"]).output().unwrap();
    assert_eq!(
        bad.status.code(),
        Some(2),
        "an unknown shell is a usage error"
    );
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        vec!["frobnicate"],
        vec!["run"],
        vec!["run", "x.json", "--seed", "minus"],
    ] {
        let out = command(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            out.stdout.is_empty(),
            "{args:?}: usage errors print to stderr only"
        );
    }
}
