//! Database outage: PostgreSQL stopped under load, then started again. While it is down,
//! database calls answer 503 problem+json within the request timeout, `/ready` is 503,
//! `/health` is 200 and the process keeps running; once it is back the same process serves
//! again within 5 s, and nothing acknowledged is lost.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use plant_reliability::client::req;
use plant_reliability::db::{TestDb, assert_consistent};
use plant_reliability::fixtures::{agent_ids, skill_body};
use plant_reliability::load::Load;
use plant_reliability::pgctl::{Cluster, RestartGuard};
use plant_reliability::server::{Options, Server};
use plant_reliability::{cli, eventually, in_ci, soak, token};

/// The server's per-request deadline in this test.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn database_outage_answers_503_quickly_and_recovers_within_5_s_without_a_restart() {
    let Some(db) = TestDb::migrated("outage").await else {
        return;
    };
    let cluster = match Cluster::find(&db.url).await {
        Ok(c) => c,
        Err(why) if !in_ci() => {
            eprintln!("skipping the outage test: the cluster cannot be controlled here: {why}");
            db.drop_db().await;
            return;
        }
        Err(why) => panic!("the outage test needs a local cluster: {why}"),
    };
    cli::seed(&db.url);
    let secret = plant_reliability::random_secret();
    let mut server = Server::start(Options::database(&db.url).secret(&secret).var(
        "PLANT_REQUEST_TIMEOUT_MS",
        &REQUEST_TIMEOUT.as_millis().to_string(),
    ));
    let addr = server.addr;
    let genesis = token::role(&secret, "genesis");
    let load = Load {
        addrs: vec![addr],
        secret: secret.clone(),
        agents: agent_ids(addr).await,
        clients: 8,
        max_ops_per_client: 50_000,
    };
    let stop = Arc::new(AtomicBool::new(false));
    let running = {
        let stop = stop.clone();
        tokio::spawn(async move { load.run(stop).await })
    };
    tokio::time::sleep(Duration::from_secs(2)).await;

    let guard = RestartGuard(cluster.clone());
    let stopping_at = Instant::now();
    cluster.stop().expect("stop PostgreSQL");
    // The database must really be unreachable, or the 503s below prove nothing.
    assert!(
        !reachable(&db.url).await,
        "PostgreSQL still accepts connections after it was stopped"
    );
    let down_for = Duration::from_secs(if soak() { 60 } else { 6 });
    let down_at = Instant::now();
    let mut probes = 0;
    let mut slowest_503 = Duration::ZERO;
    while down_at.elapsed() < down_for {
        let health = req("GET", "/health")
            .send_within(addr, Duration::from_secs(2))
            .await;
        assert_eq!(
            health.map(|r| r.status).ok(),
            Some(200),
            "/health while the database is down"
        );
        // Catalog reads are answered from the read model, which outlives the database: the
        // catalog as it was, with the model's seq.
        let read = req("GET", "/api/v1/genesis/skills")
            .send_within(addr, REQUEST_TIMEOUT + Duration::from_secs(2))
            .await
            .expect("a catalog read answers while the database is down");
        assert_eq!(
            read.status,
            200,
            "a catalog read while down: {}",
            read.brief()
        );
        assert!(
            read.header("x-plant-seq").is_some(),
            "a model's answer names its seq"
        );
        for request in [
            req("GET", "/ready"),
            req("POST", "/api/v1/genesis/skills")
                .bearer(&genesis)
                .json(&skill_body(&format!("During outage {probes}"))),
        ] {
            let started = Instant::now();
            let r = request
                .send_within(addr, REQUEST_TIMEOUT + Duration::from_secs(2))
                .await
                .expect("an answer within the request timeout while the database is down");
            slowest_503 = slowest_503.max(started.elapsed());
            assert_eq!(r.status, 503, "while down: {}", r.brief());
            assert!(r.is_problem(), "a 503 problem+json: {}", r.brief());
            probes += 1;
        }
        assert!(server.alive(), "the server exited during the outage");
    }

    cluster.start().expect("start PostgreSQL");
    let up_at = Instant::now();
    let back = eventually(Duration::from_secs(10), || async {
        reachable(&db.url).await.then_some(())
    })
    .await;
    assert!(
        back.is_some(),
        "PostgreSQL does not accept connections again"
    );
    // From the stop request to the first connection it accepted again: what clients lived with.
    let unreachable_for = stopping_at.elapsed();
    let ready = eventually(Duration::from_secs(5), || async {
        let r = req("GET", "/ready")
            .send_within(addr, Duration::from_secs(5))
            .await
            .ok()?;
        (r.status == 200).then_some(())
    })
    .await;
    assert!(
        ready.is_some(),
        "/ready is not 200 within 5 s of the database coming back"
    );
    let write = eventually(Duration::from_secs(5), || async {
        let r = req("POST", "/api/v1/genesis/skills")
            .bearer(&genesis)
            .json(&skill_body(&format!(
                "After outage {}",
                uuid::Uuid::new_v4().simple()
            )))
            .send_within(addr, Duration::from_secs(5))
            .await
            .ok()?;
        (r.status == 201).then_some(())
    })
    .await;
    assert!(
        write.is_some(),
        "writes do not work within 5 s of the database coming back"
    );
    let recovered_in = up_at.elapsed();
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Relaxed);
    let report = running.await.unwrap();
    drop(guard);

    assert!(server.alive(), "the server is still the same process");
    assert!(
        report.bad_5xx.is_empty(),
        "5xx other than 503 problem+json: {:?}",
        report.bad_5xx
    );
    assert!(
        report.slowest <= REQUEST_TIMEOUT + Duration::from_secs(2),
        "an answer took {:?}",
        report.slowest
    );
    let entries = assert_consistent(&db, &report.acked).await;
    eprintln!(
        "outage: 8 writers, {} ops ({:?}), database unreachable for {:.1} s (measured, stop to \
         first accepted connection) with {probes} probes all 503 problem+json \
         (slowest {:.2} s), serving again {:.2} s after start, {} acknowledged writes present, {entries} entries",
        report.ops,
        report.statuses,
        unreachable_for.as_secs_f64(),
        slowest_503.as_secs_f64(),
        recovered_in.as_secs_f64(),
        report.acked.len()
    );
    drop(server);
    db.drop_db().await;
}

/// Whether a new connection to the database succeeds within 2 s.
async fn reachable(url: &str) -> bool {
    use sqlx::Connection;
    matches!(
        tokio::time::timeout(Duration::from_secs(2), sqlx::PgConnection::connect(url)).await,
        Ok(Ok(_))
    )
}
