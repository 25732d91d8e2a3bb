//! The change feed across processes: two plant-server processes on one PostgreSQL database; a
//! write through one is streamed live (SSE) by the other within a second. The feed's poll
//! fallback runs every 5 s, so an event this fast comes from the database's NOTIFY.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use plant_reliability::client::req;
use plant_reliability::db::TestDb;
use plant_reliability::fixtures::{skill_body, verified_head};
use plant_reliability::server::{Options, Server};
use plant_reliability::{cli, random_secret, token};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Opens a live feed on `addr` after `seq`; returns the reader positioned after the headers.
async fn open_feed(addr: std::net::SocketAddr, operator: &str, after: u64) -> BufReader<TcpStream> {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "GET /api/v1/audit/feed?after={after} HTTP/1.1\r\nHost: plant\r\n\
         Authorization: Bearer {operator}\r\nAccept: text/event-stream\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.expect("send");
    let mut reader = BufReader::new(stream);
    let mut status = String::new();
    reader.read_line(&mut status).await.expect("status line");
    assert!(status.contains(" 200 "), "the feed answered {status}");
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).await.expect("header");
        if line == "\r\n" || line.is_empty() {
            break;
        }
    }
    reader
}

/// The seq of the next `entry` event.
async fn next_entry(reader: &mut BufReader<TcpStream>) -> u64 {
    let mut seq = None;
    loop {
        let mut line = String::new();
        let n = reader.read_line(&mut line).await.expect("read the stream");
        assert!(n > 0, "the stream ended");
        if let Some(id) = line.strip_prefix("id: ") {
            seq = id.trim().parse().ok();
        } else if line.starts_with("event: entry")
            && let Some(seq) = seq
        {
            return seq;
        }
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_write_through_one_process_is_streamed_by_another_within_a_second() {
    let Some(db) = TestDb::migrated("feed_processes").await else {
        return;
    };
    cli::seed(&db.url);
    let secret = random_secret();
    let writer = Server::start(Options::database(&db.url).secret(&secret));
    let reader_server = Server::start(Options::database(&db.url).secret(&secret));
    let head = verified_head(writer.addr, &secret).await["seq"]
        .as_u64()
        .expect("a head seq");

    let operator = token::role(&secret, "operator");
    let mut feed = open_feed(reader_server.addr, &operator, head).await;
    // Let the other process's LISTEN connection come up before writing.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let mut latencies = Vec::new();
    for i in 0..3 {
        let started = Instant::now();
        let r = req("POST", "/api/v1/genesis/skills")
            .bearer(&token::role(&secret, "genesis"))
            .json(&skill_body(&format!("Streamed across processes {i}")))
            .ok(writer.addr)
            .await;
        assert_eq!(r.status, 201, "{}", r.text());
        let seq = tokio::time::timeout(Duration::from_secs(1), next_entry(&mut feed))
            .await
            .unwrap_or_else(|_| {
                panic!("write {i} was not streamed by the other process within 1 s")
            });
        assert_eq!(seq, head + 1 + i, "entries arrive in order, once each");
        latencies.push(started.elapsed());
    }
    eprintln!("feed across processes: write → other process's SSE client in {latencies:?}");
    drop(writer);
    drop(reader_server);
    db.drop_db().await;
}
