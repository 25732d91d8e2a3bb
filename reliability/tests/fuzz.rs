//! API fuzzing with schemathesis (PyPI, pinned in `reliability/fuzz-api.sh`) against the
//! running server's `/openapi.json`: no 5xx, and every response matches its documented schema.
//! Fixed seed, bounded examples per operation. Skips without python3 unless `CI=true`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

use plant_reliability::fixtures::seeded_server;
use plant_reliability::server::Options;
use plant_reliability::{in_ci, token};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_5xx_and_no_schema_violation() {
    let python = Command::new("python3").arg("--version").output();
    if !python.is_ok_and(|o| o.status.success()) {
        assert!(!in_ci(), "python3 is needed for the schemathesis run");
        eprintln!("skipping schemathesis: python3 is not installed");
        return;
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz-api.sh");
    let install = Command::new(script)
        .arg("install")
        .status()
        .expect("run fuzz-api.sh");
    if !install.success() {
        assert!(!in_ci(), "schemathesis could not be installed");
        eprintln!("skipping schemathesis: it could not be installed (is PyPI reachable?)");
        return;
    }
    let (server, db) = seeded_server(Options::memory()).await;
    let mut claims = token::claims("genesis");
    claims["roles"] = serde_json::json!(["genesis", "operator"]);
    let bearer = token::sign(&server.secret, &claims);
    let base = format!("http://{}", server.addr);
    let out = tokio::task::spawn_blocking(move || {
        Command::new(script)
            .args(["run", &base, "-H"])
            .arg(format!("Authorization: Bearer {bearer}"))
            .output()
            .expect("run schemathesis")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The closing summary: operations tested, failures, test cases generated, seed.
    let summary: String = stdout
        .rsplit_once("SUMMARY")
        .map_or("", |(_, tail)| tail)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .take(30)
        .collect::<Vec<_>>()
        .join("\n");
    eprintln!("schemathesis summary:\n{summary}");
    // The server's own account of its failures: a 5xx's cause is only in its log.
    let failures: String = server
        .logs()
        .lines()
        .filter(|l| l.contains("\"ERROR\"") || l.contains("\"WARNING\"") || l.contains("panic"))
        .take(20)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        out.status.success(),
        "schemathesis found problems (exit {:?})\n--- stdout\n{stdout}\n--- stderr\n{stderr}\n\
         --- the server's errors\n{failures}",
        out.status.code()
    );
    drop(server);
    if let Some(db) = db {
        db.drop_db().await;
    }
}
