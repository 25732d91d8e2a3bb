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

/// A seeded database named `name` and three servers on it, with a genesis token; `None`
/// where the tests have no database.
async fn three_processes(name: &str) -> Option<(TestDb, Vec<Server>, String)> {
    let db = TestDb::migrated(name).await?;
    cli::seed(&db.url);
    let secret = random_secret();
    let servers: Vec<Server> = (0..3)
        .map(|_| Server::start(Options::database(&db.url).secret(&secret)))
        .collect();
    let genesis = token::role(&secret, "genesis");
    // Let every process's LISTEN connection come up.
    tokio::time::sleep(Duration::from_millis(300)).await;
    Some((db, servers, genesis))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_through_one_process_is_read_through_the_others_within_the_bound() {
    let Some((db, servers, genesis)) = three_processes("read_consistency").await else {
        return;
    };

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

/// Writers per process, and skills each writes, in the concurrent test below.
const WRITERS: usize = 10;
const EACH: usize = 12;

/// Three processes written through at once: each write's batch commits among the others', so
/// a process's own entry often comes after entries of other processes its model has not read
/// yet. The write must still answer with its record readable through its own process at once
/// (and, every few writes, in the list too, under a new tag for the list its writer read
/// before), and through the others with its token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_through_three_processes_at_once_are_each_read_back_at_once() {
    let Some((db, servers, genesis)) = three_processes("read_consistency_concurrent").await else {
        return;
    };
    let addrs: Vec<SocketAddr> = servers.iter().map(|s| s.addr).collect();

    let mut tasks = Vec::new();
    for (p, writer) in addrs.iter().copied().enumerate() {
        for w in 0..WRITERS {
            let genesis = genesis.clone();
            let other = addrs[(p + 1) % addrs.len()];
            tasks.push(tokio::spawn(async move {
                let list = "/api/v1/genesis/skills?limit=1000";
                for i in 0..EACH {
                    let check_list = i % 4 == 3;
                    let tag = if check_list {
                        let before = req("GET", list).ok(writer).await;
                        assert_eq!(before.status, 200, "{}", before.brief());
                        before.header("etag")
                    } else {
                        None
                    };
                    let (path, token_seq, _) =
                        write_skill(writer, &genesis, &format!("At once {p}-{w}-{i}")).await;
                    // Through the writer, at once: no polling.
                    let own = req("GET", &path).ok(writer).await;
                    assert_eq!(
                        own.status,
                        200,
                        "{path} through its writer: {}",
                        own.brief()
                    );
                    let Some(tag) = tag else {
                        continue;
                    };
                    let id = path.rsplit('/').next().unwrap().to_owned();
                    let listed = req("GET", list)
                        .header("if-none-match", &tag)
                        .ok(writer)
                        .await;
                    assert_eq!(
                        listed.status,
                        200,
                        "the list its writer read before {path} answered {}",
                        listed.brief()
                    );
                    let listed = listed.json();
                    let ids: Vec<&str> = listed
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|s| s["id"].as_str().unwrap())
                        .collect();
                    assert!(
                        ids.contains(&id.as_str()),
                        "{path} missing from its writer's list"
                    );
                    // Through another process, with the write's token.
                    let there = req("GET", &format!("{path}?min_seq={token_seq}"))
                        .ok(other)
                        .await;
                    assert_eq!(there.status, 200, "{}", there.brief());
                    assert!(seq(&there) >= token_seq);
                }
            }));
        }
    }
    for task in tasks {
        task.await.unwrap();
    }
    drop(servers);
    db.drop_db().await;
}
