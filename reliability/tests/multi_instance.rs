//! Three plant-server processes on one database, 32 concurrent clients for a bounded time
//! (~20 s; `PLANT_SOAK=1` for 5 minutes) mixing creates, PATCH with If-Match (fresh and
//! deliberately stale), certifications, trial bookings and job transitions. Afterwards the chain
//! verifies, seq has no gap, every acknowledged write is there with its audit entry, every stale
//! If-Match got 412 and changed nothing, and nothing answered 5xx.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Instant;

use plant_reliability::client::req;
use plant_reliability::db::{TestDb, chain_shape, orphans};
use plant_reliability::fixtures::{agent_ids, skill_body, trial_body, verify_report};
use plant_reliability::server::{Options, Server};
use plant_reliability::{cli, load_duration, token};
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

const INSTANCES: usize = 3;
const CLIENTS: usize = 32;
const SHARED_SKILLS: usize = 4;
/// Upper bound on operations per client, whatever the duration.
const MAX_OPS_PER_CLIENT: usize = 20_000;

/// What one client saw.
#[derive(Debug, Default)]
struct Tally {
    ops: usize,
    /// `(entity id, version)` of every 2xx write.
    acked: Vec<(Uuid, i64)>,
    /// Descriptions written by acknowledged PATCHes: each must be in the chain.
    landed: Vec<String>,
    /// Descriptions sent with a stale If-Match or refused with 412: none may be anywhere.
    refused: Vec<String>,
    stale_sent: usize,
    races_lost: usize,
    statuses: BTreeMap<u16, usize>,
    failures: Vec<String>,
}

impl Tally {
    fn saw(&mut self, status: u16) {
        *self.statuses.entry(status).or_default() += 1;
    }

    fn ack(&mut self, body: &serde_json::Value) {
        let id = body["id"].as_str().and_then(|s| Uuid::parse_str(s).ok());
        let version = body["version"].as_i64();
        match (id, version) {
            (Some(id), Some(v)) => self.acked.push((id, v)),
            _ => self
                .failures
                .push(format!("a 2xx without id/version: {body}")),
        }
    }
}

struct Ctx {
    addrs: Vec<SocketAddr>,
    secret: String,
    agents: Vec<String>,
    shared: Vec<String>,
    deadline: Instant,
}

async fn client(ctx: std::sync::Arc<Ctx>, n: usize) -> Tally {
    let mut t = Tally::default();
    let genesis = token::role(&ctx.secret, "genesis");
    let operator = token::role(&ctx.secret, "operator");
    let mut mine: Vec<String> = Vec::new();
    let mut i = 0;
    while Instant::now() < ctx.deadline && i < MAX_OPS_PER_CLIENT {
        let addr = ctx.addrs[(n + i) % ctx.addrs.len()];
        t.ops += 1;
        let step = (n + i) % 6;
        i += 1;
        let result = match step {
            0 => create_skill(&mut t, addr, &genesis, n, i, &mut mine).await,
            // Fresh and stale PATCHes of one round go to the same shared skill.
            1 | 2 => patch_shared(&mut t, &ctx, addr, &genesis, step == 2, n + i / 6).await,
            3 => certify(&mut t, addr, &genesis, &mine).await,
            4 => book_trial(&mut t, &ctx, addr, n, i).await,
            _ => job_lifecycle(&mut t, &ctx, addr, &operator, n + i).await,
        };
        if let Err(e) = result {
            t.failures.push(e);
        }
    }
    t
}

type Step = Result<(), String>;

async fn create_skill(
    t: &mut Tally,
    addr: SocketAddr,
    genesis: &str,
    n: usize,
    i: usize,
    mine: &mut Vec<String>,
) -> Step {
    let name = format!("Load {n}-{i}-{}", &Uuid::new_v4().simple().to_string()[..8]);
    let r = req("POST", "/api/v1/genesis/skills")
        .bearer(genesis)
        .json(&skill_body(&name))
        .send(addr)
        .await?;
    t.saw(r.status);
    if r.status != 201 {
        return Err(format!("create skill: {} {}", r.status, r.text()));
    }
    let body = r.json();
    t.ack(&body);
    mine.push(body["id"].as_str().unwrap_or_default().to_owned());
    Ok(())
}

async fn patch_shared(
    t: &mut Tally,
    ctx: &Ctx,
    addr: SocketAddr,
    genesis: &str,
    stale: bool,
    pick: usize,
) -> Step {
    let id = &ctx.shared[pick % ctx.shared.len()];
    let path = format!("/api/v1/genesis/skills/{id}");
    let current = req("GET", &path).send(addr).await?;
    t.saw(current.status);
    if current.status != 200 {
        return Err(format!("read shared skill: {}", current.status));
    }
    let etag = current.header("etag").unwrap_or_default();
    let version: u64 = etag
        .trim_matches('"')
        .trim_start_matches('v')
        .parse()
        .map_err(|_| format!("the shared skill's ETag is not \"v<version>\": {etag:?}"))?;
    if stale && version < 2 {
        return Ok(());
    }
    let tag = if stale {
        format!("\"v{}\"", version - 1)
    } else {
        etag
    };
    let marker = format!("marker-{}", Uuid::new_v4().simple());
    let r = req("PATCH", &path)
        .bearer(genesis)
        .header("if-match", &tag)
        .json(&json!({ "description": format!("Shared skill, {marker}") }))
        .send(addr)
        .await?;
    t.saw(r.status);
    match (stale, r.status) {
        (true, 412) => {
            t.stale_sent += 1;
            t.refused.push(marker);
            Ok(())
        }
        (true, other) => Err(format!("a stale If-Match got {other}: {}", r.text())),
        (false, 200) => {
            t.ack(&r.json());
            t.landed.push(marker);
            Ok(())
        }
        (false, 412) => {
            // Another client won the race between the read and the write.
            t.races_lost += 1;
            t.refused.push(marker);
            Ok(())
        }
        (false, other) => Err(format!(
            "PATCH with a fresh If-Match got {other}: {}",
            r.text()
        )),
    }
}

async fn certify(t: &mut Tally, addr: SocketAddr, genesis: &str, mine: &[String]) -> Step {
    let Some(id) = mine.last() else {
        return Ok(());
    };
    let r = req("POST", &format!("/api/v1/genesis/skills/{id}/certify"))
        .bearer(genesis)
        .send(addr)
        .await?;
    t.saw(r.status);
    match r.status {
        200 => {
            t.ack(&r.json());
            Ok(())
        }
        other => Err(format!("certify: {other} {}", r.text())),
    }
}

async fn book_trial(t: &mut Tally, ctx: &Ctx, addr: SocketAddr, n: usize, i: usize) -> Step {
    let agent = &ctx.agents[(n + i) % ctx.agents.len()];
    let email = format!("load-{n}-{i}@example.com");
    // Each booking looks like its own client to the per-client throttle.
    let r = req("POST", "/api/v1/trials")
        .header(
            "x-forwarded-for",
            &format!("10.{n}.{}.{}", i / 250, i % 250),
        )
        .json(&trial_body(agent, &email))
        .send(addr)
        .await?;
    t.saw(r.status);
    if r.status != 201 {
        return Err(format!("book trial: {} {}", r.status, r.text()));
    }
    t.ack(&r.json());
    Ok(())
}

async fn job_lifecycle(
    t: &mut Tally,
    ctx: &Ctx,
    addr: SocketAddr,
    operator: &str,
    pick: usize,
) -> Step {
    let agent = &ctx.agents[pick % ctx.agents.len()];
    let r = req("POST", "/api/v1/jobs")
        .bearer(operator)
        .json(&json!({ "agent_id": agent, "title": "Load job", "input": { "n": pick } }))
        .send(addr)
        .await?;
    t.saw(r.status);
    if r.status != 201 {
        return Err(format!("create job: {} {}", r.status, r.text()));
    }
    let job = r.json();
    t.ack(&job);
    let path = format!("/api/v1/jobs/{}", job["id"].as_str().unwrap_or_default());
    let agent_token = token::agent(&ctx.secret, agent);
    let mut etag = r.header("etag").unwrap_or_default();
    for status in ["running", "succeeded"] {
        let r = req("PATCH", &path)
            .bearer(&agent_token)
            .header("if-match", &etag)
            .json(&json!({ "status": status, "output": { "ok": true } }))
            .send(addr)
            .await?;
        t.saw(r.status);
        if r.status != 200 {
            return Err(format!("job → {status}: {} {}", r.status, r.text()));
        }
        t.ack(&r.json());
        etag = r.header("etag").unwrap_or_default();
    }
    Ok(())
}

async fn missing(conn: &mut PgConnection, sql: &str, ids: &[Uuid], versions: &[i64]) -> i64 {
    sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.to_owned()))
        .bind(ids)
        .bind(versions)
        .fetch_one(conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

async fn markers_in_chain(conn: &mut PgConnection, markers: &[String]) -> i64 {
    sqlx::query_scalar::<_, i64>(
        "select count(*) from unnest($1::text[]) m
         where exists (select 1 from audit_log a where strpos(a.payload, m) > 0)
            or exists (select 1 from skill s where strpos(s.description, m) > 0)",
    )
    .bind(markers)
    .fetch_one(conn)
    .await
    .expect("look for markers")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_instances_and_32_clients_keep_one_gap_free_chain_and_every_acknowledged_write() {
    let Some(db) = TestDb::migrated("multi_instance").await else {
        return;
    };
    cli::seed(&db.url);
    let secret = plant_reliability::random_secret();
    let servers: Vec<Server> = (0..INSTANCES)
        .map(|_| {
            Server::start(
                Options::database(&db.url)
                    .secret(&secret)
                    .var("PLANT_DB_POOL_SIZE", "12"),
            )
        })
        .collect();
    let addrs: Vec<SocketAddr> = servers.iter().map(|s| s.addr).collect();
    let agents = agent_ids(addrs[0]).await;
    assert!(!agents.is_empty(), "the seed has agents");
    let genesis = token::role(&secret, "genesis");
    let mut shared = Vec::new();
    let mut created_at = 0_u64;
    for k in 0..SHARED_SKILLS {
        let r = req("POST", "/api/v1/genesis/skills")
            .bearer(&genesis)
            .json(&skill_body(&format!(
                "Shared {k} {}",
                Uuid::new_v4().simple()
            )))
            .ok(addrs[k % INSTANCES])
            .await;
        assert_eq!(r.status, 201, "{}", r.text());
        let seq = r.header("x-plant-seq").and_then(|s| s.parse().ok());
        created_at = created_at.max(seq.expect("a write answers with its X-Plant-Seq"));
        shared.push(r.json()["id"].as_str().unwrap().to_owned());
    }
    // Each instance learns the others' writes by following the chain (milliseconds behind):
    // the load starts once every one has folded the shared skills, as a client would ask with
    // the write's consistency token.
    for &addr in &addrs {
        let r = req("GET", &format!("/health?min_seq={created_at}"))
            .ok(addr)
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
    }

    let duration = load_duration();
    let started = Instant::now();
    let ctx = std::sync::Arc::new(Ctx {
        addrs: addrs.clone(),
        secret: secret.clone(),
        agents,
        shared,
        deadline: started + duration,
    });
    let handles: Vec<_> = (0..CLIENTS)
        .map(|n| tokio::spawn(client(ctx.clone(), n)))
        .collect();
    let mut total = Tally::default();
    for h in handles {
        let t = h.await.expect("client task");
        total.ops += t.ops;
        total.acked.extend(t.acked);
        total.landed.extend(t.landed);
        total.refused.extend(t.refused);
        total.stale_sent += t.stale_sent;
        total.races_lost += t.races_lost;
        for (s, c) in t.statuses {
            *total.statuses.entry(s).or_default() += c;
        }
        total.failures.extend(t.failures);
    }
    let elapsed = started.elapsed();
    eprintln!(
        "multi-instance load: {} ops, {} acknowledged, {} PATCHes landed, {} stale sent, {} races lost, statuses {:?}",
        total.ops,
        total.acked.len(),
        total.landed.len(),
        total.stale_sent,
        total.races_lost,
        total.statuses
    );

    let server_errors: usize = total
        .statuses
        .iter()
        .filter(|(s, _)| **s >= 500)
        .map(|(_, c)| c)
        .sum();
    assert_eq!(server_errors, 0, "5xx answers: {:?}", total.statuses);
    assert!(
        total.failures.is_empty(),
        "{} failed operations, first: {:?}",
        total.failures.len(),
        &total.failures[..total.failures.len().min(5)]
    );
    assert!(total.stale_sent > 0, "the load sent stale If-Match headers");

    let verify = cli::verify(&db.url, None);
    assert_eq!(verify.code, 0, "plant-cli verify: {}", verify.report);
    assert_eq!(verify.report["ok"], true);
    for addr in &addrs {
        let report = verify_report(*addr, &secret).await;
        assert_eq!(report["ok"], true, "GET /api/v1/audit/verify: {report}");
    }

    let mut conn = db.connect().await;
    let (count, min, max) = chain_shape(&mut conn).await;
    assert_eq!(
        (min, max),
        (1, count),
        "seq has a gap: {count} entries, {min}..{max}"
    );
    let ids: Vec<Uuid> = total.acked.iter().map(|(id, _)| *id).collect();
    let versions: Vec<i64> = total.acked.iter().map(|(_, v)| *v).collect();
    let without_entry = missing(
        &mut conn,
        "select count(*) from unnest($1::uuid[], $2::bigint[]) as t(id, v)
         where not exists (select 1 from audit_log a
                           where a.entity_id = t.id and a.entity_version = t.v)",
        &ids,
        &versions,
    )
    .await;
    assert_eq!(
        without_entry, 0,
        "acknowledged writes without their audit entry"
    );
    let without_row = missing(
        &mut conn,
        "select count(*) from unnest($1::uuid[], $2::bigint[]) as t(id, v)
         where not exists (select 1 from (select id, version from base_entity
                                          union all select id, version from trial
                                          union all select id, version from job
                                          union all select id, version from precedent_seed) r
                           where r.id = t.id and r.version >= t.v)",
        &ids,
        &versions,
    )
    .await;
    assert_eq!(
        without_row, 0,
        "acknowledged writes whose row is missing or older"
    );
    let landed = markers_in_chain(&mut conn, &total.landed).await;
    assert_eq!(
        landed,
        i64::try_from(total.landed.len()).unwrap(),
        "an acknowledged PATCH is not in the chain"
    );
    assert_eq!(
        markers_in_chain(&mut conn, &total.refused).await,
        0,
        "a PATCH refused with 412 changed something"
    );
    assert_eq!(
        orphans(&mut conn).await,
        (0, 0),
        "rows without entries or entries without rows"
    );

    eprintln!(
        "multi-instance: {INSTANCES} instances, {CLIENTS} clients, {:.1} s, {} operations, \
         {} acknowledged writes, {} audit entries, {} stale If-Match → 412, {} races lost → 412, \
         statuses {:?}",
        elapsed.as_secs_f64(),
        total.ops,
        total.acked.len(),
        count,
        total.stale_sent,
        total.races_lost,
        total.statuses
    );
    drop(conn);
    drop(servers);
    db.drop_db().await;
}
