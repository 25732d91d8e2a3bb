//! Reads across processes: three plant-server processes on one database, each serving the
//! catalog from its own read model. A skill written through one process becomes visible
//! through the others within a bound (the model's fallback poll is 1 s; a notification brings
//! it in milliseconds), and a read carrying the write's `X-Plant-Seq` as `min_seq` is never
//! answered from an older model, whichever process answers it. Prints the staleness
//! (write answered → first visible through another process), p50 and p99, for the writer
//! itself and for the other processes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use plant_reliability::client::req;
use plant_reliability::db::TestDb;
use plant_reliability::fixtures::skill_body;
use plant_reliability::server::{Options, Server};
use plant_reliability::{cli, random_secret, token};

const WRITES: usize = 40;
/// The bound a write must be visible everywhere within: well above a notification's
/// milliseconds, and above the 1 s fallback poll that covers a lost one.
const BOUND: Duration = Duration::from_secs(3);

fn seq(r: &plant_reliability::client::Response) -> u64 {
    r.header("x-plant-seq")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no X-Plant-Seq: {}", r.brief()))
}

/// Polls `path` on `addr` until it answers 200; how long that took.
async fn first_visible(addr: SocketAddr, path: &str, since: Instant) -> Duration {
    loop {
        let r = req("GET", path).ok(addr).await;
        if r.status == 200 {
            return since.elapsed();
        }
        assert_eq!(r.status, 404, "{}", r.brief());
        assert!(
            since.elapsed() < BOUND,
            "{path} not visible through {addr} within {BOUND:?}"
        );
    }
}

/// Creates a skill through `addr`: its path, the answer's `X-Plant-Seq`, and when it answered.
async fn write_skill(addr: SocketAddr, genesis: &str, name: &str) -> (String, u64, Instant) {
    let r = req("POST", "/api/v1/genesis/skills")
        .bearer(genesis)
        .json(&skill_body(name))
        .ok(addr)
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let answered = Instant::now();
    let path = format!(
        "/api/v1/genesis/skills/{}",
        r.json()["id"].as_str().unwrap()
    );
    (path, seq(&r), answered)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_through_one_process_is_read_through_the_others_within_the_bound() {
    let Some(db) = TestDb::migrated("read_consistency").await else {
        return;
    };
    cli::seed(&db.url);
    let secret = random_secret();
    let servers: Vec<Server> = (0..3)
        .map(|_| Server::start(Options::database(&db.url).secret(&secret)))
        .collect();
    let genesis = token::role(&secret, "genesis");
    // Let every process's LISTEN connection come up.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let mut own = Vec::new();
    let mut others = Vec::new();
    for i in 0..WRITES {
        let writer = servers[i % servers.len()].addr;
        let (path, token_seq, written) =
            write_skill(writer, &genesis, &format!("Read across processes {i}")).await;
        // The writer answers from its own model: the write is there at once.
        own.push(first_visible(writer, &path, written).await);
        for (j, other) in servers.iter().enumerate() {
            if j == i % servers.len() {
                continue;
            }
            // With the token, never older than the write (waiting if need be).
            let with_token = req("GET", &format!("{path}?min_seq={token_seq}"))
                .ok(other.addr)
                .await;
            assert_eq!(with_token.status, 200, "{}", with_token.brief());
            assert!(seq(&with_token) >= token_seq);
            assert_eq!(with_token.json()["version"], 1);
        }
        // Without it, the next write's staleness is measured from its answer.
        let other = servers[(i + 1) % servers.len()].addr;
        let (path, _, written) =
            write_skill(writer, &genesis, &format!("Read across processes {i} bis")).await;
        others.push(first_visible(other, &path, written).await);
    }
    own.sort();
    others.sort();
    eprintln!(
        "staleness, {WRITES} writes each: same process p50 {:?} p99 {:?}; another of 3 processes p50 {:?} p99 {:?} (max {:?})",
        percentile(&own, 0.5),
        percentile(&own, 0.99),
        percentile(&others, 0.5),
        percentile(&others, 0.99),
        others.last().unwrap(),
    );
    drop(servers);
    db.drop_db().await;
}
