//! The database subcommands against a real PostgreSQL, each test in a database of its own.
//!
//! Run with `scripts/test-db.sh run -- cargo test -p plant-cli`. Without `DATABASE_URL` each
//! test prints a skip note and passes, except under `CI=true`, where it fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use plant_core::audit::{
    CheckpointSigner, DEFAULT_ORIGIN, MerkleTree, NoteSigner, NoteVerifier, SigType, TreeHead,
    open_checkpoint,
};
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
    let line: Value = serde_json::from_str(lines[1]).expect("a checkpoint per line");
    let log =
        NoteVerifier::from_public_hex(DEFAULT_ORIGIN, SigType::Ed25519, &signer.public_key_hex())
            .unwrap();
    let cp = open_checkpoint(line["note"].as_str().unwrap(), &log)
        .expect("a C2SP checkpoint signed by the key")
        .head;

    let mut conn = db.connect().await;
    let (seq, stored): (i64, i64) = sqlx::query_as(
        "select (select seq from audit_head), (select count(*) from audit_tree_checkpoint)",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    drop(conn);
    assert_eq!(cp.size, seq as u64);
    assert_eq!(stored, 1, "the same checkpoint twice is stored once");

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
    let public = signer.public_key_hex();
    let log = NoteVerifier::from_public_hex(DEFAULT_ORIGIN, SigType::Ed25519, &public).unwrap();
    let cp = open_checkpoint(&stdout(&out), &log)
        .expect("the note is printed")
        .head;
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
    assert_eq!(report["first_break"]["seq"], cp.size);
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

#[tokio::test]
async fn an_export_from_postgresql_verifies_offline_without_a_database() {
    let Some(db) = TestDb::create("verify_offline").await else {
        return;
    };
    migrate_and_seed(&db);
    let secret = CheckpointSigner::generate().unwrap().secret_hex();
    let origin = "plant.example.com/audit";
    let log = NoteSigner::from_secret_hex(origin, SigType::Ed25519, &secret).unwrap();
    let vkey = log.verifier().to_string();
    let dir = scratch_dir();
    let export = dir.join("export.json");
    let checkpoints = dir.join("checkpoints.jsonl");
    let out = run(db
        .cli(&["checkpoint", "--out", checkpoints.to_str().unwrap()])
        .env("PLANT_SIGNING_KEY", &secret)
        .env("PLANT_LOG_ORIGIN", origin));
    assert_exit(&out, 0);
    assert_exit(
        &run(&mut db.cli(&["export", "--out", export.to_str().unwrap()])),
        0,
    );
    db.drop_db().await;

    // No DATABASE_URL from here on: the database is gone.
    let offline = |extra: &[&str]| {
        let mut args = vec!["verify", "--offline", export.to_str().unwrap()];
        args.extend_from_slice(extra);
        run(&mut support::cli(&args))
    };
    let out = offline(&["--log-key", &vkey]);
    assert_exit(&out, 0);
    assert!(stdout(&out).contains("intact offline"), "{}", stdout(&out));
    // The same with the checkpoint file, and with the hex key under the origin.
    let public = log.verifier().public_key_hex();
    let out = offline(&[
        "--checkpoint",
        checkpoints.to_str().unwrap(),
        "--trusted-key",
        &public,
        "--origin",
        origin,
    ]);
    assert_exit(&out, 0);

    // An older checkpoint of the same log: the newer one must extend it.
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&export).unwrap()).unwrap();
    let hashes: Vec<[u8; 32]> = doc["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let hex = e["hash"].as_str().unwrap();
            let mut b = [0u8; 32];
            for (i, byte) in b.iter_mut().enumerate() {
                *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap();
            }
            b
        })
        .collect();
    let half = hashes.len() / 2;
    let older = |leaves: &[[u8; 32]]| {
        TreeHead {
            origin: origin.into(),
            size: half as u64,
            root: MerkleTree::from_leaf_data(leaves.iter().map(|h| &h[..])).root(),
        }
        .sign(&log)
    };
    let older_file = dir.join("older.note");
    std::fs::write(&older_file, older(&hashes[..half])).unwrap();
    let out = offline(&[
        "--log-key",
        &vkey,
        "--older-checkpoint",
        older_file.to_str().unwrap(),
    ]);
    assert_exit(&out, 0);
    // A signed older head of another history (a fork): refused.
    let mut forked = hashes[..half].to_vec();
    forked[3][0] ^= 1;
    std::fs::write(&older_file, older(&forked)).unwrap();
    let out = offline(&[
        "--log-key",
        &vkey,
        "--older-checkpoint",
        older_file.to_str().unwrap(),
    ]);
    assert_exit(&out, 1);
    assert!(
        stdout(&out).contains(&format!("first bad seq {half}")),
        "{}",
        stdout(&out)
    );

    // A changed payload in the document is named by its seq.
    let mut tampered = doc.clone();
    tampered["entries"][3]["payload"] = Value::String(format!(
        "{} ",
        tampered["entries"][3]["payload"].as_str().unwrap()
    ));
    std::fs::write(&export, serde_json::to_string(&tampered).unwrap()).unwrap();
    let out = offline(&["--log-key", &vkey]);
    assert_exit(&out, 1);
    assert!(stdout(&out).contains("first bad seq 4"), "{}", stdout(&out));

    // Without the log's key there is nothing to trust the checkpoint with.
    let out = offline(&[]);
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("needs the log's public key"),
        "{}",
        stderr(&out)
    );
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test]
async fn earlier_seq_hash_checkpoints_in_a_file_keep_verifying_beside_c2sp_ones() {
    let Some(db) = TestDb::create("legacy_checkpoints").await else {
        return;
    };
    migrate_and_seed(&db);
    let signer = CheckpointSigner::generate().unwrap();
    let dir = scratch_dir();
    let file = dir.join("checkpoints.jsonl");
    let file_str = file.to_str().unwrap();
    let mut conn = db.connect().await;
    let (seq, hash): (i64, Vec<u8>) =
        sqlx::query_as("select seq, hash from audit_log where seq = 7")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    drop(conn);
    let mut bytes = [0u8; 32];
    bytes.copy_from_slice(&hash);
    let head = plant_core::audit::Head {
        seq: seq as u64,
        hash: plant_core::audit::Hash(bytes),
    };
    // A checkpoint in the earlier format, as `checkpoint` used to append it.
    let legacy = signer.sign(head, plant_core::Timestamp::now());
    std::fs::write(
        &file,
        format!("{}\n", serde_json::to_string(&legacy).unwrap()),
    )
    .unwrap();
    let out = run(db
        .cli(&["checkpoint", "--out", file_str])
        .env("PLANT_SIGNING_KEY", signer.secret_hex()));
    assert_exit(&out, 0);
    let public = signer.public_key_hex();
    let verify = [
        "verify",
        "--json",
        "--checkpoint-file",
        file_str,
        "--trusted-key",
        &public,
    ];
    let out = run(&mut db.cli(&verify));
    assert_exit(&out, 0);
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert!(
        report["checkpoints_checked"].as_u64().unwrap() >= 3,
        "{report}"
    );

    // The earlier checkpoint with another hash: named at its seq.
    let mut forged = legacy.clone();
    forged.hash.0[0] ^= 1;
    let forged = CheckpointSigner::from_hex(&signer.secret_hex())
        .unwrap()
        .sign(forged.head(), forged.signed_at);
    std::fs::write(
        &file,
        format!("{}\n", serde_json::to_string(&forged).unwrap()),
    )
    .unwrap();
    let out = run(&mut db.cli(&verify));
    assert_exit(&out, 1);
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["first_break"]["seq"], 7);
    assert_eq!(
        report["first_break"]["reason"]["kind"],
        "checkpoint_mismatch"
    );
    std::fs::remove_dir_all(dir).ok();
    db.drop_db().await;
}
