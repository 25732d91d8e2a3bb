//! Runs a Python script of a test's own (a second implementation, an SDK's checker) with a JSON
//! document on its standard input and reads the JSON document it prints.

use std::ffi::OsStr;
use std::io::Write;
use std::process::{Command, Stdio};

/// Runs `python script`, writes `input` to its standard input and returns what it printed as
/// JSON; panics (the test's report) with the script's standard error when it fails.
pub fn run_json_script(
    python: impl AsRef<OsStr>,
    script: &str,
    input: &serde_json::Value,
) -> serde_json::Value {
    let mut child = Command::new(python)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {script}: {e}"));
    child
        .stdin
        .take()
        .expect("a piped standard input")
        .write_all(input.to_string().as_bytes())
        .unwrap_or_else(|e| panic!("cannot write to {script}: {e}"));
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("{script} did not finish: {e}"));
    assert!(
        out.status.success(),
        "{script} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{script} printed no JSON document: {e}"))
}
