//! The access log: one line per request naming it, and the request's correlation id on every
//! line written inside it. A test binary of its own: it installs a subscriber for its thread,
//! and tests on other threads of one process would race it for tracing's per-callsite interest.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use common::{Options, req, start_with};
use plant_server::problem::ApiError;
use plant_server::problem::HandlerResult;
use plant_server::state::AppState;

async fn fails() -> HandlerResult {
    Err(ApiError::internal(std::io::Error::other(
        "the disk is on fire",
    )))
}

/// Log lines written while the test's own thread runs the server.
#[derive(Clone, Default)]
struct Lines(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Lines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Lines {
    type Writer = Lines;
    fn make_writer(&'a self) -> Lines {
        self.clone()
    }
}

impl Lines {
    fn of(&self, correlation_id: &str) -> Vec<serde_json::Value> {
        let text = String::from_utf8(self.0.lock().unwrap().clone()).unwrap();
        text.lines()
            .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
            .filter(|line| line["correlation_id"] == correlation_id)
            .collect()
    }
}

#[tokio::test]
async fn each_request_ends_with_one_line_naming_it_and_every_line_names_its_correlation_id() {
    use tracing_subscriber::layer::SubscriberExt;
    let lines = Lines::default();
    // A current-thread runtime: the server's tasks run on this thread, under this subscriber.
    let _guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(
        plant_server::logging::CloudLoggingLayer::new(lines.clone(), None),
    ));
    let s = start_with(Options {
        extra_routes: Some(Box::new(|router: Router<AppState>| {
            router.route("/t/fail", get(fails))
        })),
        ..Options::default()
    })
    .await;

    let r = req("GET", "/api/v1/genesis/skills?limit=2")
        .header("x-correlation-id", "log-ok")
        .send(&s)
        .await;
    assert_eq!(r.status, 200);
    let ok = lines.of("log-ok");
    assert_eq!(ok.len(), 1, "{ok:?}");
    assert_eq!(ok[0]["severity"], "INFO");
    assert_eq!(ok[0]["message"], "request completed");
    assert_eq!(ok[0]["method"], "GET");
    assert_eq!(ok[0]["path"], "/api/v1/genesis/skills");
    assert_eq!(ok[0]["route"], "/api/v1/genesis/skills");
    assert_eq!(ok[0]["status"], 200);
    assert!(ok[0]["latency_ms"].is_u64(), "{}", ok[0]);

    req("GET", "/t/fail")
        .header("x-correlation-id", "log-fail")
        .send(&s)
        .await
        .problem(500);
    let failed = lines.of("log-fail");
    assert!(
        failed.len() >= 2,
        "the error and the completion: {failed:?}"
    );
    let last = failed.last().unwrap();
    assert_eq!(last["severity"], "WARNING");
    assert_eq!(last["message"], "request failed");
    assert_eq!(last["route"], "/t/fail");
    assert_eq!(last["status"], 500);
    // The line the error wrote inside the request names the request too.
    assert!(
        failed[..failed.len() - 1]
            .iter()
            .all(|l| l["status"].is_null())
    );

    req("GET", "/nowhere")
        .header("x-correlation-id", "log-404")
        .send(&s)
        .await
        .problem(404);
    let missing = lines.of("log-404");
    let [refused, completed] = missing.as_slice() else {
        panic!("the refusal and the completion: {missing:?}");
    };
    assert_eq!(refused["message"], "request refused");
    assert_eq!(completed["path"], "/nowhere");
    assert_eq!(completed["status"], 404);
    assert!(completed.get("route").is_none(), "{completed}");

    let health = req("GET", "/health")
        .header("x-correlation-id", "log-probe")
        .send(&s)
        .await;
    assert_eq!(health.status, 200);
    let probe = lines.of("log-probe");
    assert_eq!(probe.len(), 1, "{probe:?}");
    assert_eq!(
        probe[0]["severity"], "DEBUG",
        "probes log below the default level"
    );
}
