//! Shared harness of the reliability and security suite.
//!
//! The tests drive the real binaries: [`server::Server`] runs `plant-server` as a child process
//! (so it can be killed, stopped and restarted), [`cli`] runs `plant-cli`, [`db::TestDb`] gives
//! each test a database of its own, [`client`] speaks HTTP/1.1 to 127.0.0.1 (well-formed through
//! hyper, or raw bytes for hostile input), and [`token`] mints bearer tokens with a secret each
//! test generates.
//!
//! Binaries: the ones `cargo test --workspace` builds next to the test executable
//! (`target/<profile>/plant-server`, `plant-cli`); when one is missing or older than a source it
//! is built from, the harness builds them once with `cargo build -p plant-server -p plant-cli`.
#![forbid(unsafe_code)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod bins;
pub mod cli;
pub mod client;
pub mod db;
pub mod fixtures;
pub mod load;
pub mod pgctl;
pub mod server;
pub mod token;

use std::time::Duration;

/// True when the environment asks for the long soak variants (`PLANT_SOAK=1`).
pub fn soak() -> bool {
    std::env::var("PLANT_SOAK").is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
}

/// True under CI (`CI=true`), where a test that cannot run fails instead of skipping.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// The load phase's length: ~20 s by default, 5 minutes with `PLANT_SOAK=1`, or
/// `PLANT_LOAD_SECS` seconds.
pub fn load_duration() -> Duration {
    if let Some(secs) = std::env::var("PLANT_LOAD_SECS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        return Duration::from_secs(secs.clamp(1, 3600));
    }
    if soak() {
        Duration::from_secs(300)
    } else {
        Duration::from_secs(20)
    }
}

/// A random secret of 64 hex characters (for HS256 tokens).
pub fn random_secret() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// Polls `check` every 50 ms until it returns `Some`, or gives up after `within`.
pub async fn eventually<T, F, Fut>(within: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(v) = check().await {
            return Some(v);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// After a crash: starts a new `plant-server` with `options`, waits until it is ready and
/// creates a skill through it (a genesis token from `secret`), asserting the 201; returns it.
pub async fn restart_and_write(
    options: server::Options,
    secret: &str,
    what: &str,
) -> server::Server {
    let server = server::Server::start(options);
    let ready = eventually(Duration::from_secs(10), || async {
        let r = client::req("GET", "/ready").send(server.addr).await.ok()?;
        (r.status == 200).then_some(())
    })
    .await;
    assert!(ready.is_some(), "{what}: the restarted server is not ready");
    let r = client::req("POST", "/api/v1/genesis/skills")
        .bearer(&token::role(secret, "genesis"))
        .json(&fixtures::skill_body(&format!(
            "After {what} {}",
            uuid::Uuid::new_v4().simple()
        )))
        .ok(server.addr)
        .await;
    assert_eq!(r.status, 201, "{what}: {}", r.text());
    server
}
