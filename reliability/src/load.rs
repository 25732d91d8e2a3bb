//! A write load for the failure scenarios: clients creating skills, booking trials and moving
//! jobs along until told to stop, remembering every acknowledged write.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use uuid::Uuid;

use crate::client::req;
use crate::fixtures::{skill_body, trial_body};
use crate::token;

/// What the clients saw.
#[derive(Debug, Default)]
pub struct LoadReport {
    /// Requests sent.
    pub ops: usize,
    /// `(entity id, version)` of every 2xx write.
    pub acked: Vec<(Uuid, i64)>,
    /// Answers by status.
    pub statuses: BTreeMap<u16, usize>,
    /// Answers that were 5xx but not a 503 problem+json, and 503s that took too long.
    pub bad_5xx: Vec<String>,
    /// Transport errors (connection refused or reset, no answer in time).
    pub transport_errors: Vec<String>,
    /// The slowest answer.
    pub slowest: Duration,
}

impl LoadReport {
    fn merge(&mut self, other: LoadReport) {
        self.ops += other.ops;
        self.acked.extend(other.acked);
        for (s, c) in other.statuses {
            *self.statuses.entry(s).or_default() += c;
        }
        self.bad_5xx.extend(other.bad_5xx);
        self.transport_errors.extend(other.transport_errors);
        self.slowest = self.slowest.max(other.slowest);
    }

    /// Requests a kill cut: sent on an open connection and never answered (connections refused
    /// after the kill do not count).
    pub fn cut_by_kill(&self) -> usize {
        self.transport_errors
            .iter()
            .filter(|e| !e.starts_with("connect:"))
            .count()
    }

    /// Answers with a 5xx status.
    pub fn count_5xx(&self) -> usize {
        self.statuses
            .iter()
            .filter(|(s, _)| **s >= 500)
            .map(|(_, c)| c)
            .sum()
    }
}

/// The load's targets and credentials.
#[derive(Debug, Clone)]
pub struct Load {
    /// Servers, used round-robin.
    pub addrs: Vec<SocketAddr>,
    /// Their shared HS256 secret.
    pub secret: String,
    /// Active agents to book trials with and give jobs to.
    pub agents: Vec<String>,
    /// Concurrent clients.
    pub clients: usize,
    /// Upper bound on operations per client.
    pub max_ops_per_client: usize,
}

impl Load {
    /// Runs until `stop` is set (or every client reached its bound); returns what was seen.
    pub async fn run(&self, stop: Arc<AtomicBool>) -> LoadReport {
        let handles: Vec<_> = (0..self.clients)
            .map(|n| {
                let load = self.clone();
                let stop = stop.clone();
                tokio::spawn(async move { load.client(n, &stop).await })
            })
            .collect();
        let mut total = LoadReport::default();
        for h in handles {
            total.merge(h.await.expect("load client"));
        }
        total
    }

    async fn client(&self, n: usize, stop: &AtomicBool) -> LoadReport {
        let mut report = LoadReport::default();
        let genesis = token::role(&self.secret, "genesis");
        let operator = token::role(&self.secret, "operator");
        let mut i = 0;
        while !stop.load(Ordering::Relaxed) && i < self.max_ops_per_client {
            i += 1;
            let addr = self.addrs[(n + i) % self.addrs.len()];
            let agent = &self.agents[(n + i) % self.agents.len()];
            let request = match (n + i) % 3 {
                0 => req("POST", "/api/v1/genesis/skills")
                    .bearer(&genesis)
                    .json(&skill_body(&format!(
                        "Load {n}-{i}-{}",
                        &Uuid::new_v4().simple().to_string()[..8]
                    ))),
                1 => req("POST", "/api/v1/trials")
                    .header(
                        "x-forwarded-for",
                        &format!("10.{n}.{}.{}", i / 250, i % 250),
                    )
                    .json(&trial_body(agent, &format!("load-{n}-{i}@example.com"))),
                _ => req("POST", "/api/v1/jobs")
                    .bearer(&operator)
                    .json(&json!({ "agent_id": agent, "title": "Load job" })),
            };
            report.ops += 1;
            let started = Instant::now();
            match request.send(addr).await {
                Ok(r) => {
                    let took = started.elapsed();
                    report.slowest = report.slowest.max(took);
                    *report.statuses.entry(r.status).or_default() += 1;
                    if (200..300).contains(&r.status) {
                        record(&mut report, &r.json());
                    } else if r.status >= 500 && (r.status != 503 || !r.is_problem()) {
                        report.bad_5xx.push(format!("{} {}", r.status, r.brief()));
                    }
                }
                Err(e) => {
                    report.transport_errors.push(e);
                    // A refused connection comes back at once; do not spin.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
        report
    }
}

fn record(report: &mut LoadReport, body: &Value) {
    if let (Some(id), Some(v)) = (
        body["id"].as_str().and_then(|s| Uuid::parse_str(s).ok()),
        body["version"].as_i64(),
    ) {
        report.acked.push((id, v));
    }
}
