//! Graceful stop: SIGTERM under load. A request in flight (its body half sent) still gets its
//! answer, new connections are refused, nothing answers 5xx, and the process exits 0 within 10 s.
//! On PostgreSQL the in-flight write is then in the database with its audit entry: answered
//! means written.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use plant_reliability::db::{TestDb, count};
use plant_reliability::fixtures::{agent_ids, skill_body};
use plant_reliability::load::Load;
use plant_reliability::server::{Options, Server};
use plant_reliability::{cli, token};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_under_load_finishes_in_flight_refuses_new_and_exits_within_10_s() {
    sigterm_under_load(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_under_load_on_postgres_keeps_the_in_flight_write() {
    let Some(db) = TestDb::migrated("graceful").await else {
        return;
    };
    cli::seed(&db.url);
    sigterm_under_load(Some(&db)).await;
    db.drop_db().await;
}

async fn sigterm_under_load(db: Option<&TestDb>) {
    let options = db.map_or_else(Options::memory, |db| Options::database(&db.url));
    let mut server = Server::start(options);
    let addr = server.addr;
    let genesis = token::role(&server.secret, "genesis");
    let load = Load {
        addrs: vec![addr],
        secret: server.secret.clone(),
        agents: agent_ids(addr).await,
        clients: 16,
        max_ops_per_client: 50_000,
    };
    let stop = Arc::new(AtomicBool::new(false));
    let running = {
        let stop = stop.clone();
        tokio::spawn(async move { load.run(stop).await })
    };

    // A request in flight: its head and half its body are sent before SIGTERM.
    let name = format!("In flight {}", uuid::Uuid::new_v4().simple());
    let body = skill_body(&name).to_string();
    let (first, second) = body.as_bytes().split_at(body.len() / 2);
    let mut slow = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /api/v1/genesis/skills HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {genesis}\r\n\
         content-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    slow.write_all(head.as_bytes()).await.unwrap();
    slow.write_all(first).await.unwrap();

    tokio::time::sleep(Duration::from_secs(2)).await;
    let term = Instant::now();
    server.signal("TERM");

    // New connections are refused once the listener is closed.
    let refused = plant_reliability::eventually(Duration::from_secs(3), || async {
        TcpStream::connect(addr).await.is_err().then_some(())
    })
    .await;
    assert!(
        refused.is_some(),
        "new connections are still accepted 3 s after SIGTERM"
    );
    let refused_after = term.elapsed();

    // The in-flight request completes.
    tokio::time::sleep(Duration::from_millis(500)).await;
    slow.write_all(second).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(9), slow.read_to_end(&mut answer))
        .await
        .expect("the in-flight request is answered before the drain deadline")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 201"),
        "the in-flight request got: {}",
        answer.chars().take(300).collect::<String>()
    );

    let status = server
        .wait_exit(Duration::from_secs(10).saturating_sub(term.elapsed()))
        .await;
    let exited_after = term.elapsed();
    stop.store(true, Ordering::Relaxed);
    let report = running.await.unwrap();
    let status = status.expect("the server exits within 10 s of SIGTERM");
    assert!(status.success(), "exit status after SIGTERM: {status}");
    assert_eq!(
        report.count_5xx(),
        0,
        "5xx during the drain: {:?}",
        report.statuses
    );
    assert!(report.ops > 0);
    eprintln!(
        "graceful: 16 writers, {} ops, statuses {:?}; refused new connections {:.2} s and exited {:.2} s after SIGTERM",
        report.ops,
        report.statuses,
        refused_after.as_secs_f64(),
        exited_after.as_secs_f64()
    );
    assert!(
        server.logs().contains("SIGTERM"),
        "the log records the signal"
    );
    if let Some(db) = db {
        let mut conn = db.connect().await;
        let rows = count(
            &mut conn,
            &format!("select count(*) from skill where name = '{name}'"),
        )
        .await;
        let entries = count(
            &mut conn,
            &format!(
                "select count(*) from audit_log a join skill s on s.id = a.entity_id \
                 where s.name = '{name}'"
            ),
        )
        .await;
        assert_eq!(
            (rows, entries),
            (1, 1),
            "the answered in-flight write is in the database with its audit entry"
        );
    }
}
