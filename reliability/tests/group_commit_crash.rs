//! Group commit under SIGKILL: the server groups commits with a long wait
//! (`PLANT_GROUP_COMMIT_WAIT_US` and `…_QUIET_US` 200 ms, up to 64 changes), so that at almost any moment a batch
//! of several writers' changes is gathering or committing; 32 writers load it and it is killed.
//! The kill must cut several requests at once (a batch in flight, never answered), every
//! acknowledged write must survive with its entry, nothing unacknowledged may leave an orphan,
//! and the chain must verify. Then a new process writes on the same database. Three cycles.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use plant_reliability::db::{TestDb, assert_consistent};
use plant_reliability::fixtures::agent_ids;
use plant_reliability::load::Load;
use plant_reliability::server::{Options, Server};
use plant_reliability::{cli, restart_and_write};

fn grouped(url: &str, secret: &str) -> Options {
    Options::database(url)
        .secret(secret)
        .var("PLANT_GROUP_COMMIT_WAIT_US", "200000")
        .var("PLANT_GROUP_COMMIT_QUIET_US", "200000")
        .var("PLANT_GROUP_COMMIT_MAX", "64")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_with_a_batch_in_flight_loses_nothing_acknowledged() {
    let Some(db) = TestDb::migrated("group_commit_crash").await else {
        return;
    };
    cli::seed(&db.url);
    let secret = plant_reliability::random_secret();
    let mut acked = Vec::new();
    for cycle in 0..3 {
        let mut server = Server::start(grouped(&db.url, &secret));
        let agents = agent_ids(server.addr).await;
        let load = Load {
            addrs: vec![server.addr],
            secret: secret.clone(),
            agents,
            clients: 32,
            max_ops_per_client: 50_000,
        };
        let stop = Arc::new(AtomicBool::new(false));
        let running = {
            let stop = stop.clone();
            tokio::spawn(async move { load.run(stop).await })
        };
        // Past the first batches, then at a moment that is not a batch boundary by design.
        tokio::time::sleep(Duration::from_millis(2_000 + 37 * cycle)).await;
        server.signal("KILL");
        assert!(
            server.wait_exit(Duration::from_secs(10)).await.is_some(),
            "cycle {cycle}: SIGKILL did not end the server"
        );
        stop.store(true, Ordering::Relaxed);
        let report = running.await.expect("load");
        assert!(
            report.count_5xx() == 0 && !report.acked.is_empty(),
            "cycle {cycle}: 5xx answers, or nothing written: {:?}",
            report.statuses
        );
        let cut = report.cut_by_kill();
        // With a 200 ms gathering window most of the 32 writers wait in a batch at any moment.
        assert!(
            cut >= 2,
            "cycle {cycle}: the kill cut {cut} request(s); a batch in flight cuts several"
        );
        acked.extend(report.acked);
        let entries = assert_consistent(&db, &acked).await;

        restart_and_write(
            grouped(&db.url, &secret),
            &secret,
            &format!("grouped crash {cycle}"),
        )
        .await;
        eprintln!(
            "group commit crash cycle {cycle}: {} ops, {} acknowledged so far, {cut} cut by the kill, chain {entries} entries",
            report.ops,
            acked.len()
        );
    }
    assert_consistent(&db, &acked).await;
    db.drop_db().await;
}
