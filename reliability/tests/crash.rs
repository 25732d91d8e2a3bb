//! Crash: SIGKILL the server in the middle of a write load, restart it on the same database,
//! and find the chain verifying, seq gap-free, every acknowledged write present with its entry,
//! and no entity without its entry nor any entry without its entity. Three cycles (ten with
//! `PLANT_SOAK=1`). Each cycle must have cut at least one request in flight (sent on an open
//! connection, never answered): a kill between requests would prove nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use plant_reliability::db::{TestDb, assert_consistent};
use plant_reliability::fixtures::agent_ids;
use plant_reliability::load::Load;
use plant_reliability::server::{Options, Server};
use plant_reliability::{cli, restart_and_write, soak};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_mid_write_load_loses_nothing_acknowledged_and_leaves_no_orphan() {
    let Some(db) = TestDb::migrated("crash").await else {
        return;
    };
    cli::seed(&db.url);
    let secret = plant_reliability::random_secret();
    let cycles = if soak() { 10 } else { 3 };
    let load_for = Duration::from_secs(if soak() { 20 } else { 3 });
    let mut acked = Vec::new();
    let mut ops = 0;
    let mut cut = 0;
    for cycle in 0..cycles {
        let mut server = Server::start(Options::database(&db.url).secret(&secret));
        let agents = agent_ids(server.addr).await;
        let load = Load {
            addrs: vec![server.addr],
            secret: secret.clone(),
            agents,
            clients: 16,
            max_ops_per_client: 50_000,
        };
        let stop = Arc::new(AtomicBool::new(false));
        let running = {
            let stop = stop.clone();
            tokio::spawn(async move { load.run(stop).await })
        };
        tokio::time::sleep(load_for).await;
        server.signal("KILL");
        let status = server.wait_exit(Duration::from_secs(10)).await;
        assert!(
            status.is_some(),
            "cycle {cycle}: SIGKILL did not end the server"
        );
        stop.store(true, Ordering::Relaxed);
        let report = running.await.expect("load");
        assert!(
            report.bad_5xx.is_empty(),
            "cycle {cycle}: {:?}",
            report.bad_5xx
        );
        assert_eq!(
            report.count_5xx(),
            0,
            "cycle {cycle}: {:?}",
            report.statuses
        );
        assert!(
            !report.acked.is_empty(),
            "cycle {cycle}: the load wrote nothing"
        );
        // Connections refused after the kill do not count; requests the kill cut do.
        let cut_now = report.cut_by_kill();
        assert!(
            cut_now > 0,
            "cycle {cycle}: the kill cut no request in flight (transport errors: {:?})",
            report.transport_errors.iter().take(5).collect::<Vec<_>>()
        );
        ops += report.ops;
        cut += cut_now;
        acked.extend(report.acked);

        // Everything acknowledged so far survives the kill.
        let entries = assert_consistent(&db, &acked).await;

        // A new process serves and writes again on the same database.
        restart_and_write(
            Options::database(&db.url).secret(&secret),
            &secret,
            &format!("crash {cycle}"),
        )
        .await;
        eprintln!(
            "crash cycle {cycle}: {} ops, {} acknowledged, {cut_now} cut by the kill, {} refused after it, chain {entries} entries",
            report.ops,
            acked.len(),
            report.transport_errors.len() - cut_now
        );
    }
    let entries = assert_consistent(&db, &acked).await;
    eprintln!(
        "crash: {cycles} SIGKILLs under 16 writers, {ops} operations, {} acknowledged writes all present, \
         {cut} requests cut, {entries} entries verify",
        acked.len()
    );
    db.drop_db().await;
}
