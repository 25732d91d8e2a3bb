//! The tampering matrix: changes made in SQL behind the application's back, as the superuser
//! (which can switch the append-only trigger off). Each is detected by `plant-cli verify` and by
//! `GET /api/v1/audit/verify`, both naming the first bad seq. A cut tail and a consistent rewrite
//! of the whole chain are only visible against a signed checkpoint, which the setup stores.
//!
//! Also: the application's own role, even with every table privilege granted, cannot update,
//! delete or truncate the audit log, nor switch its trigger off.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use plant_core::audit::CheckpointSigner;
use plant_core::store::Store;
use plant_core::store::postgres::{PgConfig, PgStore};
use plant_core::testing::with_database;
use plant_reliability::client::req;
use plant_reliability::db::{TestDb, count};
use plant_reliability::fixtures::{skill_body, verify_report};
use plant_reliability::server::{Options, Server};
use plant_reliability::{cli, token};
use serde_json::json;
use sqlx::{AssertSqlSafe, Connection, PgConnection};
use uuid::Uuid;

/// The seeded, checkpointed chain every case starts from.
struct Base {
    db: TestDb,
    /// Head seq when the checkpoint was signed.
    head: u64,
    /// The last `TAIL` entries are the creations of `TAIL` industries, nothing else.
    tail_industries: Vec<Uuid>,
    trusted_key: String,
}

const TAIL: u64 = 5;

async fn base() -> Option<Base> {
    let db = TestDb::migrated("tampering").await?;
    cli::seed(&db.url);
    let secret = plant_reliability::random_secret();
    let mut tail_industries = Vec::new();
    {
        let server = Server::start(Options::database(&db.url).secret(&secret));
        let genesis = token::role(&secret, "genesis");
        for k in 0..TAIL {
            let r = req("POST", "/api/v1/industries")
                .bearer(&genesis)
                .json(&json!({ "name": format!("Tail industry {k}"), "description": "tail" }))
                .ok(server.addr)
                .await;
            assert_eq!(r.status, 201, "{}", r.text());
            tail_industries.push(Uuid::parse_str(r.json()["id"].as_str().unwrap()).unwrap());
        }
    }
    let signer = CheckpointSigner::generate().expect("a signing key");
    cli::ok(
        &db.url,
        &["checkpoint"],
        &[("PLANT_SIGNING_KEY", &signer.secret_hex())],
    );
    let mut conn = db.connect().await;
    let head = u64::try_from(count(&mut conn, "select max(seq) from audit_log").await).unwrap();
    let tail_ok = count(
        &mut conn,
        &format!(
            "select count(*) from audit_log where seq > {} and entity_type = 'Industry' and action = 'create'",
            head - TAIL
        ),
    )
    .await;
    assert_eq!(
        tail_ok,
        i64::try_from(TAIL).unwrap(),
        "the tail is the industries' creation"
    );
    conn.close().await.ok();
    let intact = cli::verify(&db.url, Some(&signer.public_key_hex()));
    assert_eq!(
        intact.code, 0,
        "the untouched chain verifies: {}",
        intact.report
    );
    assert_eq!(intact.report["checkpoints_checked"], 1);
    Some(Base {
        db,
        head,
        tail_industries,
        trusted_key: signer.public_key_hex(),
    })
}

async fn exec(conn: &mut PgConnection, sql: &str) {
    sqlx::query(AssertSqlSafe(sql.to_owned()))
        .execute(&mut *conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

async fn scalar_i64(conn: &mut PgConnection, sql: &str) -> u64 {
    u64::try_from(count(conn, sql).await).unwrap()
}

async fn edit_entity_row(conn: &mut PgConnection, _base: &Base) -> u64 {
    let (id,): (Uuid,) = sqlx::query_as("select id from skill order by id limit 1")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    exec(
        conn,
        &format!("update skill set description = description || ' (edited)' where id = '{id}'"),
    )
    .await;
    scalar_i64(
        conn,
        &format!("select max(seq) from audit_log where entity_id = '{id}'"),
    )
    .await
}

async fn edit_payload(conn: &mut PgConnection, base: &Base) -> u64 {
    let k = scalar_i64(
        conn,
        &format!(
            "select min(seq) from audit_log where entity_type = 'Skill' and seq > {}",
            base.head / 3
        ),
    )
    .await;
    exec(
        conn,
        &format!(
            "update audit_log set payload = regexp_replace(payload, '\"name\":\"([^\"]*)\"', '\"name\":\"\\1 (forged)\"') where seq = {k}"
        ),
    )
    .await;
    let changed = count(
        conn,
        &format!("select count(*) from audit_log where seq = {k} and payload like '%(forged)%'"),
    )
    .await;
    assert_eq!(changed, 1, "the payload edit took");
    k
}

async fn edit_hash(conn: &mut PgConnection, base: &Base) -> u64 {
    let k = base.head / 2;
    exec(
        conn,
        &format!("update audit_log set hash = sha256(hash) where seq = {k}"),
    )
    .await;
    k
}

/// Deletes an entry that is not its entity's latest. (Deleting an entity's latest entry is
/// caught as well, as a row whose version has no entry, but that break is reported at the
/// entity's previous entry.)
async fn delete_entry(conn: &mut PgConnection, base: &Base) -> u64 {
    let k = scalar_i64(
        conn,
        &format!(
            "select min(a.seq) from audit_log a where a.seq > {}
             and exists (select 1 from audit_log b where b.entity_id = a.entity_id and b.seq > a.seq)",
            base.head / 3
        ),
    )
    .await;
    exec(conn, &format!("delete from audit_log where seq = {k}")).await;
    k
}

async fn swap_entries(conn: &mut PgConnection, base: &Base) -> u64 {
    let (a, b) = (base.head / 3, base.head / 3 + 3);
    exec(
        conn,
        &format!("create temp table swapped as select * from audit_log where seq in ({a}, {b})"),
    )
    .await;
    exec(
        conn,
        &format!("delete from audit_log where seq in ({a}, {b})"),
    )
    .await;
    exec(
        conn,
        &format!(
            "insert into audit_log (seq, entity_id, entity_type, entity_version, action, actor, at, payload, prev_hash, hash)
             select case seq when {a} then {b} else {a} end, entity_id, entity_type, entity_version,
                    action, actor, at, payload, prev_hash, hash
             from swapped"
        ),
    )
    .await;
    a
}

/// Appends an entry with a correct link hash (the attacker knows the format): only the row
/// check can tell, since no row is at that version.
async fn insert_forged(conn: &mut PgConnection, base: &Base, url: &str) -> u64 {
    let store = PgStore::connect(&PgConfig::new(url))
        .await
        .expect("open the store");
    let last = store
        .audit_entries(base.head - 1, 1)
        .await
        .expect("read the head entry")
        .pop()
        .expect("the head entry");
    let mut forged = last.clone();
    forged.seq = last.seq + 1;
    forged.entity_version = last.entity_version + 1;
    forged.action = "update".into();
    forged.actor = "forger".into();
    forged.payload = last.payload.replace("tail", "forged");
    forged.prev_hash = last.hash;
    forged.hash = forged.compute_hash();
    sqlx::query(
        "insert into audit_log (seq, entity_id, entity_type, entity_version, action, actor, at, payload, prev_hash, hash)
         values ($1, $2, $3, $4, $5, $6, (select at from audit_log where seq = $7), $8, $9, $10)",
    )
    .bind(i64::try_from(forged.seq).unwrap())
    .bind(forged.entity_id)
    .bind(&forged.entity_type)
    .bind(i64::try_from(forged.entity_version).unwrap())
    .bind(&forged.action)
    .bind(&forged.actor)
    .bind(i64::try_from(last.seq).unwrap())
    .bind(&forged.payload)
    .bind(forged.prev_hash.0.to_vec())
    .bind(forged.hash.0.to_vec())
    .execute(&mut *conn)
    .await
    .expect("insert the forged entry");
    sqlx::query("update audit_head set seq = $1, hash = $2")
        .bind(i64::try_from(forged.seq).unwrap())
        .bind(forged.hash.0.to_vec())
        .execute(&mut *conn)
        .await
        .expect("move the head");
    forged.seq
}

/// Cuts the last `TAIL` entries and the industries they created, and moves the head back: a
/// consistent chain, shorter than the signed checkpoint.
async fn truncate_tail(conn: &mut PgConnection, base: &Base) -> u64 {
    let keep = base.head - TAIL;
    exec(conn, &format!("delete from audit_log where seq > {keep}")).await;
    for id in &base.tail_industries {
        exec(conn, &format!("delete from industry where id = '{id}'")).await;
        exec(conn, &format!("delete from base_entity where id = '{id}'")).await;
    }
    exec(
        conn,
        &format!(
            "update audit_head set seq = {keep}, hash = (select hash from audit_log where seq = {keep})"
        ),
    )
    .await;
    keep + 1
}

/// Rewrites every entry's actor and recomputes every link, the head and every row's
/// `version_hash` and hash list: self-consistent, so only the checkpoint can tell.
async fn rewrite_chain(conn: &mut PgConnection, base: &Base, url: &str) -> u64 {
    let store = PgStore::connect(&PgConfig::new(url))
        .await
        .expect("open the store");
    let entries = store
        .audit_entries(0, base.head + 10)
        .await
        .expect("read the chain");
    let mut prev = plant_core::audit::Hash::ZERO;
    for mut entry in entries {
        entry.actor = "rewritten".into();
        entry.prev_hash = prev;
        entry.hash = entry.compute_hash();
        prev = entry.hash;
        sqlx::query("update audit_log set actor = $1, prev_hash = $2, hash = $3 where seq = $4")
            .bind(&entry.actor)
            .bind(entry.prev_hash.0.to_vec())
            .bind(entry.hash.0.to_vec())
            .bind(i64::try_from(entry.seq).unwrap())
            .execute(&mut *conn)
            .await
            .expect("rewrite an entry");
    }
    exec(
        conn,
        "update audit_head set hash = (select hash from audit_log order by seq desc limit 1)",
    )
    .await;
    for table in ["base_entity", "trial", "job", "precedent_seed"] {
        exec(
            conn,
            &format!(
                "update {table} r set version_hash = a.hash from audit_log a
                 where a.entity_id = r.id and a.entity_version = r.version"
            ),
        )
        .await;
    }
    exec(
        conn,
        "update base_entity b set hash_chain_sha256 = (
            select coalesce(jsonb_agg(encode(a.hash, 'hex') order by a.seq), '[]'::jsonb)
            from audit_log a where a.entity_id = b.id)",
    )
    .await;
    base.head
}

/// The matrix.
#[derive(Debug, Clone, Copy)]
enum Case {
    EditRow,
    EditPayload,
    EditHash,
    Delete,
    Swap,
    Forge,
    Truncate,
    Rewrite,
}

impl Case {
    const ALL: [Case; 8] = [
        Case::EditRow,
        Case::EditPayload,
        Case::EditHash,
        Case::Delete,
        Case::Swap,
        Case::Forge,
        Case::Truncate,
        Case::Rewrite,
    ];

    fn name(self) -> &'static str {
        match self {
            Case::EditRow => "edit an entity row",
            Case::EditPayload => "edit an audit payload",
            Case::EditHash => "edit a stored hash",
            Case::Delete => "delete an entry",
            Case::Swap => "swap two entries",
            Case::Forge => "insert a forged entry (with a correct link hash)",
            Case::Truncate => "truncate the tail",
            Case::Rewrite => "rewrite the whole chain consistently",
        }
    }

    /// The reason verification must give (`None`: any).
    fn kind(self) -> Option<&'static str> {
        match self {
            Case::EditRow | Case::Forge => Some("row_mismatch"),
            Case::EditPayload | Case::EditHash => Some("hash_mismatch"),
            Case::Delete => Some("seq_gap"),
            Case::Swap => None,
            Case::Truncate => Some("truncated"),
            Case::Rewrite => Some("checkpoint_mismatch"),
        }
    }

    /// Tampers (the trigger is off) and returns the seq it must be caught at.
    async fn apply(self, conn: &mut PgConnection, base: &Base, url: &str) -> u64 {
        match self {
            Case::EditRow => edit_entity_row(conn, base).await,
            Case::EditPayload => edit_payload(conn, base).await,
            Case::EditHash => edit_hash(conn, base).await,
            Case::Delete => delete_entry(conn, base).await,
            Case::Swap => swap_entries(conn, base).await,
            Case::Forge => insert_forged(conn, base, url).await,
            Case::Truncate => truncate_tail(conn, base).await,
            Case::Rewrite => rewrite_chain(conn, base, url).await,
        }
    }
}

#[tokio::test(flavor = "current_thread")]
async fn every_tampering_is_detected_at_its_first_bad_seq_by_cli_and_api() {
    let Some(base) = base().await else {
        return;
    };
    let total = Case::ALL.len();
    let mut detected = 0;
    let mut failures: Vec<String> = Vec::new();
    for case in Case::ALL {
        let name = case.name();
        let copy = TestDb::copy_of(&base.db).await;
        let mut conn = copy.connect().await;
        exec(&mut conn, "alter table audit_log disable trigger user").await;
        let expected = case.apply(&mut conn, &base, &copy.url).await;
        exec(&mut conn, "alter table audit_log enable trigger user").await;
        conn.close().await.ok();

        let cli_report = cli::verify(&copy.url, Some(&base.trusted_key));
        let server = Server::start(Options::database(&copy.url));
        let api = verify_report(server.addr, &server.secret).await;
        drop(server);
        let mut wrong = Vec::new();
        if cli_report.code != 1 {
            wrong.push(format!("plant-cli verify exit {}", cli_report.code));
        }
        if cli_report.first_bad_seq() != Some(expected) {
            wrong.push(format!(
                "plant-cli verify: {}",
                cli_report.report["first_break"]
            ));
        }
        if let Some(kind) = case.kind()
            && cli_report.first_bad_kind().as_deref() != Some(kind)
        {
            wrong.push(format!("plant-cli verify gives another reason than {kind}"));
        }
        if api["ok"] != false || api["first_break"]["seq"].as_u64() != Some(expected) {
            wrong.push(format!("GET /api/v1/audit/verify: {}", api["first_break"]));
        }
        if wrong.is_empty() {
            detected += 1;
            eprintln!(
                "tampering: {name}: detected at seq {expected} ({})",
                cli_report.report["first_break"]["message"]
            );
        } else {
            failures.push(format!(
                "{name} (expected seq {expected}): {}",
                wrong.join("; ")
            ));
        }
        copy.drop_db().await;
    }
    eprintln!("tampering: {detected}/{total} detected at the right seq by both");
    base.db.drop_db().await;
    assert!(
        failures.is_empty(),
        "not detected as promised:\n{}",
        failures.join("\n")
    );
}

fn with_user(url: &str, user: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let after_at = rest.split_once('@').map_or(rest, |(_, r)| r);
    format!("{scheme}://{user}@{after_at}")
}

#[tokio::test]
async fn the_application_role_cannot_rewrite_the_audit_log() {
    let Some(db) = TestDb::migrated("app_role").await else {
        return;
    };
    let role = format!("plant_app_{}", Uuid::new_v4().simple());
    let mut admin = db.connect().await;
    for sql in [
        format!("create role {role} login"),
        format!("grant usage on schema public to {role}"),
        // Even every table privilege does not let it rewrite history.
        format!(
            "grant select, insert, update, delete, truncate on all tables in schema public to {role}"
        ),
        format!("grant usage, select on all sequences in schema public to {role}"),
    ] {
        exec(&mut admin, &sql).await;
    }
    let app_url = with_user(&db.url, &role);
    let secret = plant_reliability::random_secret();
    {
        let server = Server::start(Options::database(&app_url).secret(&secret));
        let r = req("POST", "/api/v1/genesis/skills")
            .bearer(&token::role(&secret, "genesis"))
            .json(&skill_body("Written by the app role"))
            .ok(server.addr)
            .await;
        assert_eq!(r.status, 201, "the app role can write: {}", r.text());
        let report = verify_report(server.addr, &secret).await;
        assert_eq!(report["ok"], true, "{report}");
    }
    // One C2SP checkpoint, so that the tree checkpoint table's row triggers have a row to guard,
    // and one checkpoint of the earlier (seq, hash) format, as an older plant-cli stored them.
    let signer = CheckpointSigner::generate().expect("a signing key");
    cli::ok(
        &db.url,
        &["checkpoint"],
        &[("PLANT_SIGNING_KEY", &signer.secret_hex())],
    );
    exec(
        &mut admin,
        "insert into audit_checkpoint (seq, hash, signed_at, public_key, signature) \
         select seq, hash, now(), decode(repeat('11', 32), 'hex'), decode(repeat('22', 64), 'hex') \
         from audit_log order by seq desc limit 1",
    )
    .await;
    let mut app = PgConnection::connect(&app_url)
        .await
        .expect("connect as the app role");
    let owner: String =
        sqlx::query_scalar("select tableowner::text from pg_tables where tablename = 'audit_log'")
            .fetch_one(&mut app)
            .await
            .unwrap();
    assert_ne!(owner, role, "the app role must not own the audit log");
    for sql in [
        "update audit_log set actor = 'me'",
        "delete from audit_log",
        "truncate audit_log",
        "alter table audit_log disable trigger user",
        "alter table audit_log disable trigger all",
        "drop trigger audit_log_append_only on audit_log",
        "update audit_checkpoint set seq = 0",
        "delete from audit_checkpoint",
        "truncate audit_checkpoint",
        "update audit_tree_checkpoint set tree_size = 0",
        "delete from audit_tree_checkpoint",
        "truncate audit_tree_checkpoint",
    ] {
        let result = sqlx::query(sql).execute(&mut app).await;
        assert!(result.is_err(), "the app role could run: {sql}");
    }
    let entries = count(&mut app, "select count(*) from audit_log").await;
    assert_eq!(entries, 1, "the one entry is still there");
    app.close().await.ok();
    admin.close().await.ok();
    let admin_url = std::env::var("PLANT_TEST_ADMIN_URL")
        .unwrap_or_else(|_| with_database(&db.url, "postgres"));
    db.drop_db().await;
    let mut cluster = PgConnection::connect(&admin_url).await.unwrap();
    exec(&mut cluster, &format!("drop role if exists {role}")).await;
}
