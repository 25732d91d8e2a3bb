//! The database subcommands against a real PostgreSQL, each test in a database of its own.
//!
//! Run with `scripts/test-db.sh run -- cargo test -p plant-cli`. Without `DATABASE_URL` each
//! test prints a skip note and passes, except under `CI=true`, where it fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use plant_core::audit::{Checkpoint, CheckpointSigner};
use serde_json::Value;
use support::{TestDb, assert_exit, run, scratch_dir, stderr, stdout};

/// Migrates and seeds a fresh database.
fn migrate_and_seed(db: &TestDb) {
    assert_exit(&run(&mut db.cli(&["migrate"])), 0);
    assert_exit(&run(&mut db.cli(&["seed"])), 0);
}

#[tokio::test]
async fn migrate_twice_applies_then_reports_nothing_to_do_in_either_url_spelling() {
    let Some(db) = TestDb::create("migrate_twice").await else {
        return;
    };
    let first = run(&mut db.cli(&["migrate"]));
    assert_exit(&first, 0);
    assert!(stdout(&first).starts_with("applied "), "{}", stdout(&first));
    // The previous service's SQLAlchemy spelling of the same URL is accepted too.
    let asyncpg = db.url.replacen("postgres://", "postgresql+asyncpg://", 1);
    let second = run(db.cli(&["migrate"]).env("DATABASE_URL", &asyncpg));
    assert_exit(&second, 0);
    assert!(
        stdout(&second).contains("nothing applied"),
        "{}",
        stdout(&second)
    );
    db.drop_db().await;
}

#[tokio::test]
async fn two_concurrent_migrations_both_succeed_and_apply_each_version_once() {
    let Some(db) = TestDb::create("migrate_concurrently").await else {
        return;
    };
    let children: Vec<_> = (0..2)
        .map(|_| db.cli(&["migrate"]).spawn().expect("spawn plant-cli"))
        .collect();
    let outputs: Vec<_> = children
        .into_iter()
        .map(|c| c.wait_with_output().expect("plant-cli finishes"))
        .collect();
    for out in &outputs {
        assert_exit(out, 0);
    }
    let mut conn = db.connect().await;
    let (total, distinct): (i64, i64) = sqlx::query_as(
        "select count(*), count(distinct version) from _sqlx_migrations where success",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(total, distinct);
    assert!(total >= 1);
    drop(conn);
    db.drop_db().await;
}

fn seed_json(db: &TestDb) -> Value {
    let out = run(&mut db.cli(&["seed", "--json"]));
    assert_exit(&out, 0);
    serde_json::from_str(&stdout(&out)).expect("seed --json prints JSON")
}

#[tokio::test]
async fn seed_twice_loads_the_catalog_once_and_the_second_run_appends_nothing() {
    let Some(db) = TestDb::create("seed_twice").await else {
        return;
    };
    assert_exit(&run(&mut db.cli(&["migrate"])), 0);
    let first = seed_json(&db);
    assert!(first["audit_entries_appended"].as_u64().unwrap() > 0);
    let second = seed_json(&db);
    assert_eq!(second["audit_entries_appended"], 0, "{second}");
    assert_eq!(second["certified"], 0);
    let counts = &second["counts"];
    for (kind, n) in [
        ("Industry", 3),
        ("Skill", 19),
        ("JobRole", 10),
        ("Team", 6),
        ("Agent", 50),
    ] {
        assert_eq!(counts[kind], n, "{kind}: {second}");
    }
    let mut conn = db.connect().await;
    let seq: i64 = sqlx::query_scalar("select seq from audit_head")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        seq as u64,
        first["audit_entries_appended"].as_u64().unwrap()
    );
    drop(conn);

    let text = run(&mut db.cli(&["seed"]));
    assert_exit(&text, 0);
    assert!(
        stdout(&text).contains("audit entries appended: 0"),
        "{}",
        stdout(&text)
    );
    db.drop_db().await;
}

#[tokio::test]
async fn verify_exits_0_on_an_intact_chain_and_prints_the_report_as_json() {
    let Some(db) = TestDb::create("verify_intact").await else {
        return;
    };
    migrate_and_seed(&db);
    let out = run(&mut db.cli(&["verify"]));
    assert_exit(&out, 0);
    assert!(
        stdout(&out).contains("audit chain intact"),
        "{}",
        stdout(&out)
    );

    let out = run(&mut db.cli(&["verify", "--json"]));
    assert_exit(&out, 0);
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["ok"], true);
    assert!(report["first_break"].is_null());
    assert!(report["entries_checked"].as_u64().unwrap() > 100);
    db.drop_db().await;
}

#[tokio::test]
async fn checkpoint_stores_the_head_and_appends_it_to_the_file() {
    let Some(db) = TestDb::create("checkpoint").await else {
        return;
    };
    migrate_and_seed(&db);
    let signer = CheckpointSigner::generate().unwrap();
    let dir = scratch_dir();
    let file = dir.join("checkpoints.jsonl");
    let file_str = file.to_str().unwrap();
    for _ in 0..2 {
        let out = run(db
            .cli(&["checkpoint", "--out", file_str])
            .env("PLANT_SIGNING_KEY", signer.secret_hex()));
        assert_exit(&out, 0);
    }
    let text = std::fs::read_to_string(&file).expect("the checkpoint file exists");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "appended, not overwritten: {text}");
    let cp: Checkpoint = serde_json::from_str(lines[1]).expect("a checkpoint per line");
    assert_eq!(cp.public_key, signer.public_key_hex());
    cp.verify_signature(&[signer.public_key_hex()])
        .expect("signed by the key");

    let mut conn = db.connect().await;
    let (seq, stored): (i64, i64) = sqlx::query_as(
        "select (select seq from audit_head), (select count(*) from audit_checkpoint)",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    drop(conn);
    assert_eq!(cp.seq, seq as u64);
    assert!(stored >= 1);

    let key_file = dir.join("signing.key");
    std::fs::write(&key_file, format!("{}\n", signer.secret_hex())).unwrap();
    let out = run(&mut db.cli(&[
        "checkpoint",
        "--key-file",
        key_file.to_str().unwrap(),
        "--out",
        file_str,
    ]));
    assert_exit(&out, 0);

    let trusted = run(&mut db.cli(&["verify", "--trusted-key", &signer.public_key_hex()]));
    assert_exit(&trusted, 0);
    let other = CheckpointSigner::generate().unwrap().public_key_hex();
    let untrusted = run(&mut db.cli(&["verify", "--trusted-key", &other]));
    assert_exit(&untrusted, 1);
    std::fs::remove_dir_all(dir).ok();
    db.drop_db().await;
}

#[tokio::test]
async fn a_tampered_payload_makes_verify_exit_1_and_name_seq_5() {
    let Some(db) = TestDb::create("verify_tampered").await else {
        return;
    };
    migrate_and_seed(&db);
    db.execute(&[
        "alter table audit_log disable trigger user",
        r#"update audit_log set payload = regexp_replace(payload, '"(name|title)":"[^"]*"', '"\1":"Tampered"') where seq = 5"#,
        "alter table audit_log enable trigger user",
    ])
    .await;
    let mut conn = db.connect().await;
    let payload: String = sqlx::query_scalar("select payload from audit_log where seq = 5")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    drop(conn);
    assert!(payload.contains("Tampered"), "the edit took: {payload}");

    let out = run(&mut db.cli(&["verify"]));
    assert_exit(&out, 1);
    assert!(
        stdout(&out).contains("first bad seq 5:"),
        "stdout: {}\nstderr: {}",
        stdout(&out),
        stderr(&out)
    );

    let out = run(&mut db.cli(&["verify", "--json"]));
    assert_exit(&out, 1);
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["ok"], false);
    assert_eq!(report["first_break"]["seq"], 5, "{report}");
    db.drop_db().await;
}

#[tokio::test]
async fn embed_has_nothing_to_do_after_seeding_with_the_same_embedder() {
    let Some(db) = TestDb::create("embed_noop").await else {
        return;
    };
    migrate_and_seed(&db);
    let out = run(&mut db.cli(&["embed", "--batch", "10"]));
    assert_exit(&out, 0);
    assert!(
        stdout(&out).contains("re-embedded 0 record(s) with hashing-v1"),
        "{}",
        stdout(&out)
    );
    db.drop_db().await;
}

/// The first bad seq `verify --json` names (and checks it exits 1).
fn first_bad_seq(db: &TestDb) -> u64 {
    let out = run(&mut db.cli(&["verify", "--json"]));
    assert_exit(&out, 1);
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    report["first_break"]["seq"]
        .as_u64()
        .unwrap_or_else(|| panic!("a break is named: {report}"))
}

#[tokio::test]
async fn a_deleted_entry_is_named_by_its_seq() {
    let Some(db) = TestDb::create("verify_deleted").await else {
        return;
    };
    migrate_and_seed(&db);
    db.execute(&[
        "alter table audit_log disable trigger user",
        "delete from audit_log where seq = 7",
        "alter table audit_log enable trigger user",
    ])
    .await;
    assert_eq!(first_bad_seq(&db), 7);
    db.drop_db().await;
}

#[tokio::test]
async fn an_entity_row_edited_behind_the_store_is_named_by_its_latest_entry() {
    let Some(db) = TestDb::create("verify_row_edit").await else {
        return;
    };
    migrate_and_seed(&db);
    let mut conn = db.connect().await;
    let latest: i64 = sqlx::query_scalar(
        "select max(seq) from audit_log where entity_id = (select id from skill order by id limit 1)",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    drop(conn);
    db.execute(&[
        "update skill set description = 'edited behind the store' where id = (select id from skill order by id limit 1)",
    ])
    .await;
    assert_eq!(first_bad_seq(&db), latest as u64);
    db.drop_db().await;
}

#[tokio::test]
async fn the_checkpoint_file_catches_a_rewritten_or_emptied_chain() {
    let Some(original) = TestDb::create("checkpoint_file_original").await else {
        return;
    };
    let Some(rewritten) = TestDb::create("checkpoint_file_rewritten").await else {
        return;
    };
    let Some(emptied) = TestDb::create("checkpoint_file_emptied").await else {
        return;
    };
    migrate_and_seed(&original);
    let signer = CheckpointSigner::generate().unwrap();
    let dir = scratch_dir();
    let file = dir.join("checkpoints.jsonl");
    let file_str = file.to_str().unwrap();
    let out = run(original
        .cli(&["checkpoint", "--out", file_str])
        .env("PLANT_SIGNING_KEY", signer.secret_hex()));
    assert_exit(&out, 0);
    let cp: Checkpoint = serde_json::from_str(stdout(&out).trim()).unwrap();
    let public = signer.public_key_hex();
    let verify = [
        "verify",
        "--json",
        "--checkpoint-file",
        file_str,
        "--trusted-key",
        &public,
    ];

    assert_exit(&run(&mut original.cli(&verify)), 0);

    // The same catalog written again from scratch: every link is valid, no checkpoint is
    // stored, and only the file shows the history is not the one that was signed.
    migrate_and_seed(&rewritten);
    assert_exit(&run(&mut rewritten.cli(&["verify"])), 0);
    let out = run(&mut rewritten.cli(&verify));
    assert_exit(&out, 1);
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["first_break"]["seq"], cp.seq);
    assert_eq!(
        report["first_break"]["reason"]["kind"],
        "checkpoint_mismatch"
    );

    // An empty chain: everything after seq 0 was cut.
    assert_exit(&run(&mut emptied.cli(&["migrate"])), 0);
    let out = run(&mut emptied.cli(&verify));
    assert_exit(&out, 1);
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["first_break"]["seq"], 1);
    assert_eq!(report["first_break"]["reason"]["kind"], "truncated");

    std::fs::remove_dir_all(dir).ok();
    original.drop_db().await;
    rewritten.drop_db().await;
    emptied.drop_db().await;
}
