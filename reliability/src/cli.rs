//! Running `plant-cli` against a test database.

use std::process::Output;

use serde_json::Value;

use crate::bins;

/// Runs `plant-cli ARGS` with `DATABASE_URL=url` (and `extra` variables) to completion.
pub fn run(url: &str, args: &[&str], extra: &[(&str, &str)]) -> Output {
    let mut cmd = bins::clean_command(&bins::cli());
    cmd.env("DATABASE_URL", url).args(args);
    for (k, v) in extra {
        cmd.env(k, v);
    }
    cmd.output().expect("plant-cli runs")
}

/// Runs `plant-cli ARGS` and asserts exit 0.
pub fn ok(url: &str, args: &[&str], extra: &[(&str, &str)]) -> String {
    let out = run(url, args, extra);
    assert!(
        out.status.success(),
        "plant-cli {args:?} failed ({:?})\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The outcome of `plant-cli verify --json`: its exit code and report.
#[derive(Debug)]
pub struct Verify {
    /// 0 intact, 1 broken.
    pub code: i32,
    /// The report (`ok`, `entries_checked`, `head`, `checkpoints_checked`, `first_break`).
    pub report: Value,
}

impl Verify {
    /// The first bad seq, if any.
    pub fn first_bad_seq(&self) -> Option<u64> {
        self.report["first_break"]["seq"].as_u64()
    }

    /// The kind of the first break (`hash_mismatch`, `seq_gap`, …).
    pub fn first_bad_kind(&self) -> Option<String> {
        self.report["first_break"]["reason"]["kind"]
            .as_str()
            .map(str::to_owned)
    }
}

/// `plant-cli verify --json`, trusting `trusted_key` when given.
pub fn verify(url: &str, trusted_key: Option<&str>) -> Verify {
    let mut args = vec!["verify", "--json"];
    if let Some(key) = trusted_key {
        args.push("--trusted-key");
        args.push(key);
    }
    let out = run(url, &args, &[]);
    let code = out.status.code().unwrap_or(-1);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "plant-cli verify printed no JSON report ({e}, exit {code})\n--- stdout\n{stdout}\n--- stderr\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    Verify { code, report }
}

/// `plant-cli migrate`.
pub fn migrate(url: &str) {
    ok(url, &["migrate"], &[]);
}

/// `plant-cli seed` (the built-in seed catalog, hashing embedder).
pub fn seed(url: &str) {
    ok(url, &["seed"], &[]);
}
