//! `palisade flags eval|lint`, run as the real binary on files it writes.

#![allow(missing_docs)]
// The helpers below are test code too: a failed spawn should fail loudly.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap()
    }
}

fn palisade(args: &[&str]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(args)
        .output()
        .unwrap();
    Run {
        code: output.status.code().unwrap(),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

/// A file in a directory of this test process, removed on drop.
struct File(PathBuf);

impl File {
    fn new(name: &str, text: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("palisade-cli-flags-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        Self(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for File {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

const FLAGS: &str = r#"{
  "flags": [
    { "key": "new-ui", "kind": "boolean", "enabled": false },
    {
      "key": "beta",
      "kind": "boolean",
      "strategies": [
        { "constraints": [{ "field": "environment", "operator": "IN", "values": ["staging"] }] }
      ]
    }
  ]
}"#;

#[test]
fn eval_prints_the_evaluation_for_the_context() {
    let file = File::new("eval.json", FLAGS);
    let staging = palisade(&[
        "flags",
        "eval",
        "--file",
        file.path(),
        "--flag",
        "beta",
        "--context",
        r#"{"userId":"u1","environment":"staging"}"#,
    ]);
    assert_eq!(staging.code, 0, "{}", staging.stderr);
    let answer = staging.json();
    assert_eq!(answer["flag"], "beta");
    assert_eq!(answer["value"], true);
    assert_eq!(answer["reason"], "TARGETING_MATCH");

    let production = palisade(&[
        "flags",
        "eval",
        "--file",
        file.path(),
        "--flag",
        "beta",
        "--context",
        r#"{"environment":"production"}"#,
    ]);
    assert_eq!(production.code, 0, "{}", production.stderr);
    assert_eq!(production.json()["value"], false);

    let off = palisade(&["flags", "eval", "--file", file.path(), "--flag", "new-ui"]);
    assert_eq!(off.json()["value"], false);
    assert_eq!(off.json()["reason"], "DISABLED");
}

#[test]
fn an_unknown_flag_is_an_error_answer_and_exit_1() {
    let file = File::new("unknown.json", FLAGS);
    let run = palisade(&["flags", "eval", "--file", file.path(), "--flag", "nope"]);
    assert_eq!(run.code, 1);
    assert_eq!(run.json()["error_code"], "FLAG_NOT_FOUND");
    assert_eq!(run.json()["reason"], "ERROR");
}

#[test]
fn eval_reads_unleash_json() {
    let file = File::new(
        "unleash.json",
        r#"{"version":2,"features":[{"name":"everyone","enabled":true,"strategies":[{"name":"default"}]}]}"#,
    );
    let run = palisade(&[
        "flags",
        "eval",
        "--unleash",
        "--file",
        file.path(),
        "--flag",
        "everyone",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["value"], true);
}

#[test]
fn lint_accepts_a_valid_file() {
    let file = File::new("valid.json", FLAGS);
    let run = palisade(&["flags", "lint", "--file", file.path()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("2 flags"), "{}", run.stdout);
}

#[test]
fn lint_reports_a_syntax_error_with_its_line_and_exits_1() {
    let file = File::new(
        "broken.json",
        "{\n  \"flags\": [\n    { \"key\": \"x\", \"kind\": \"sometimes\" }\n  ]\n}\n",
    );
    let run = palisade(&["flags", "lint", "--file", file.path()]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("broken.json:3:"), "{}", run.stderr);
    assert!(
        run.stderr.contains("    3 |     { \"key\""),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains('^'), "{}", run.stderr);
    assert!(run.stdout.is_empty());
}

#[test]
fn lint_names_the_flags_of_a_dependency_cycle() {
    let file = File::new(
        "cycle.yaml",
        "flags:\n  - key: a\n    kind: boolean\n    dependencies: [{ flag: b }]\n  - key: b\n    kind: boolean\n    dependencies: [{ flag: a }]\n",
    );
    let run = palisade(&["flags", "lint", "--file", file.path()]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("cycle"), "{}", run.stderr);
    assert!(
        run.stderr.contains('a') && run.stderr.contains('b'),
        "{}",
        run.stderr
    );
}

#[test]
fn usage_errors_exit_2_with_one_line() {
    let file = File::new("usage.json", FLAGS);
    let bad_context = palisade(&[
        "flags",
        "eval",
        "--file",
        file.path(),
        "--flag",
        "beta",
        "--context",
        "{not json",
    ]);
    assert_eq!(bad_context.code, 2);
    assert_eq!(
        bad_context.stderr.lines().count(),
        1,
        "{}",
        bad_context.stderr
    );
    let missing = palisade(&["flags", "lint", "--file", "/nonexistent/flags.json"]);
    assert_eq!(missing.code, 2);
    assert!(
        missing.stderr.starts_with("error: cannot read"),
        "{}",
        missing.stderr
    );
}
