//! Group commit: concurrent changes share one transaction, and a change refused inside it fails
//! alone.
//!
//! Thirteen changes are sent at once to a store whose single appender waits for a full batch:
//! eight industry creates, an industry whose name is taken, an update of a skill at a stale
//! version, an atomic pair (`commit_all`) that commits, and an atomic pair whose second change
//! takes a name already taken (so the pair as a whole is refused). The refused ones get their
//! own errors and leave nothing behind; the others commit in one transaction (their entries
//! share one `xmin`), with consecutive seqs right after the head, and the chain verifies.
//!
//! Creations of one kind grouped into one batch (bookings, jobs, industries, skills, teams,
//! agents) are inserted by one statement (counted by statement-level triggers the tests add),
//! and one refused among them still fails alone.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod pg_support;

use std::time::Duration;

use pg_support::TestDb;
use plant_core::Timestamp;
use plant_core::model::{
    Agent, Category, Description, Email, Entity, Industry, Job, JobRole, JobStatus, Kind, Name,
    Record, Seniority, Skill, Team, Trial, TrialStatus,
};
use plant_core::store::postgres::{GroupCommit, PgConfig, PgStore};
use plant_core::store::{Action, Change, Committed, Store, StoreError, StoreResult};
use uuid::Uuid;

fn industry(name: &str) -> Entity<Industry> {
    Entity::new(
        Industry {
            name: Name::parse(name).unwrap(),
            description: Description::parse("grouped").unwrap(),
        },
        Timestamp::now(),
    )
}

/// What each concurrent caller sent, to check its answer against.
#[derive(Debug)]
enum Sent {
    Create(Uuid),
    TakenName(Uuid),
    Stale,
    Pair(Uuid, Uuid),
    RefusedPair(Uuid),
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refused_change_fails_alone_and_the_batch_commits_with_consecutive_seqs() {
    let Some(db) = TestDb::new("group_commit_refusal").await else {
        return;
    };
    let setup = db.store().await;
    setup
        .commit(Change::create(industry("Taken"), "setup"))
        .await
        .unwrap();
    let skill = Entity::new(
        Skill {
            name: Name::parse("Shared").unwrap(),
            description: Description::parse("v1").unwrap(),
            category: Category::Technical,
        },
        Timestamp::now(),
    );
    let committed = setup.commit(Change::create(skill, "setup")).await.unwrap();
    let mut updated = committed.record.clone();
    let plant_core::model::Record::Skill(s) = &mut updated else {
        panic!("a skill")
    };
    s.body.description = Description::parse("v2").unwrap();
    let v2 = setup
        .commit(Change::update(updated.clone(), 1, Action::Update, "setup"))
        .await
        .unwrap();
    assert_eq!(v2.record.version(), 2);
    let before = setup.head().await.unwrap();

    // One appender that waits long enough for all fourteen changes (twelve units, two of them
    // pairs) to queue: a batch closes once it holds `max_changes`, so a smaller bound would
    // leave whichever unit came last to a second transaction.
    let mut config = PgConfig::new(&db.url);
    config.max_connections = 4;
    config.group_commit = GroupCommit {
        max_changes: 14,
        max_wait: Duration::from_secs(5),
        quiet: Duration::from_secs(5),
        appenders: 1,
    };
    let store = PgStore::connect(&config).await.unwrap();

    let mut calls = Vec::new();
    let mut spawn = |sent: Sent, changes: Vec<Change>| {
        let store = store.clone();
        calls.push((
            sent,
            tokio::spawn(async move { store.commit_all(changes).await }),
        ));
    };
    for i in 0..8 {
        let e = industry(&format!("Grouped {i}"));
        spawn(Sent::Create(e.base.id), vec![Change::create(e, "writer")]);
    }
    let taken = industry("taken");
    spawn(
        Sent::TakenName(taken.base.id),
        vec![Change::create(taken, "writer")],
    );
    // Version 1 was read before the update that made version 2.
    spawn(
        Sent::Stale,
        vec![Change::update(updated, 1, Action::Update, "writer")],
    );
    let (a, b) = (industry("Pair A"), industry("Pair B"));
    spawn(
        Sent::Pair(a.base.id, b.base.id),
        vec![Change::create(a, "writer"), Change::create(b, "writer")],
    );
    let (c, d) = (industry("Pair C"), industry("TAKEN"));
    spawn(
        Sent::RefusedPair(c.base.id),
        vec![Change::create(c, "writer"), Change::create(d, "writer")],
    );

    let mut seqs = Vec::new();
    let mut committed_ids = Vec::new();
    for (sent, call) in calls {
        let answer: StoreResult<Vec<Committed>> = call.await.unwrap();
        match (sent, answer) {
            (Sent::Create(id), Ok(done)) => {
                assert_eq!(done.len(), 1);
                assert_eq!(done[0].record.id(), id);
                seqs.push(done[0].entry.seq);
                committed_ids.push(id);
            }
            (Sent::Pair(a, b), Ok(done)) => {
                assert_eq!(
                    done.iter().map(|c| c.record.id()).collect::<Vec<_>>(),
                    [a, b]
                );
                // An atomic unit's entries are adjacent.
                assert_eq!(done[1].entry.seq, done[0].entry.seq + 1);
                seqs.extend(done.iter().map(|c| c.entry.seq));
                committed_ids.extend([a, b]);
            }
            (Sent::TakenName(id), Err(StoreError::Duplicate { kind, field })) => {
                assert_eq!((kind, field), (Kind::Industry, "name"));
                assert!(setup.get(Some(Kind::Industry), id).await.unwrap().is_none());
            }
            (
                Sent::Stale,
                Err(StoreError::VersionConflict {
                    expected, actual, ..
                }),
            ) => assert_eq!((expected, actual), (1, 2)),
            (Sent::RefusedPair(c), Err(StoreError::Duplicate { .. })) => {
                // Atomic: the pair's first change went with its second.
                assert!(setup.get(Some(Kind::Industry), c).await.unwrap().is_none());
            }
            (sent, answer) => panic!("{sent:?} was answered {answer:?}"),
        }
    }

    // Ten changes committed, with the ten seqs right after the head, none twice.
    seqs.sort_unstable();
    assert_eq!(seqs, (before.seq + 1..=before.seq + 10).collect::<Vec<_>>());
    let head = setup.head().await.unwrap();
    assert_eq!(head.seq, before.seq + 10, "refused changes append nothing");
    for id in committed_ids {
        assert!(setup.get(Some(Kind::Industry), id).await.unwrap().is_some());
    }
    // One transaction wrote all ten entries.
    let mut conn = db.superuser().await;
    let transactions: i64 =
        sqlx::query_scalar("select count(distinct xmin::text) from audit_log where seq > $1")
            .bind(i64::try_from(before.seq).unwrap())
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!(transactions, 1, "the ten changes were committed together");
    // The refused update left the skill where it was.
    let skill = setup
        .get(Some(Kind::Skill), v2.record.id())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(skill.version(), 2);

    let report = setup.verify(&[]).await.unwrap();
    assert!(report.ok, "{report:?}");
    drop(conn);
    db.drop_db().await;
}

/// The ids of a small catalog: an agent to book, with what it names.
struct Ids {
    industry: Uuid,
    skill: Uuid,
    role: Uuid,
    agent: Uuid,
}

fn skill(name: &str) -> Entity<Skill> {
    Entity::new(
        Skill {
            name: Name::parse(name).unwrap(),
            description: Description::parse("grouped").unwrap(),
            category: Category::Technical,
        },
        Timestamp::now(),
    )
}

fn team(name: &str, ids: &Ids) -> Entity<Team> {
    Entity::new(
        Team {
            name: Name::parse(name).unwrap(),
            description: Description::parse("grouped").unwrap(),
            job_role_id: ids.role,
            industry_id: Some(ids.industry),
        },
        Timestamp::now(),
    )
}

fn agent(name: &str, ids: &Ids, team_id: Option<Uuid>) -> Entity<Agent> {
    Entity::new(
        Agent {
            name: Name::parse(name).unwrap(),
            description: Description::parse("grouped").unwrap(),
            skill_id: ids.skill,
            job_role_id: ids.role,
            team_id,
            industry_id: ids.industry,
        },
        Timestamp::now(),
    )
}

async fn small_catalog(store: &PgStore) -> Ids {
    let create = |record: Record| store.commit(Change::create(record, "setup"));
    let industry = create(industry("Bookings").into()).await.unwrap();
    let skill = create(skill("Booked skill").into()).await.unwrap();
    let role = Entity::new(
        JobRole {
            name: Name::parse("Booked role").unwrap(),
            description: Description::parse("booked").unwrap(),
            required_skills: vec![skill.record.id()],
            seniority_level: Seniority::Mid,
            industry_id: Some(industry.record.id()),
        },
        Timestamp::now(),
    );
    let role = create(role.into()).await.unwrap();
    let mut ids = Ids {
        industry: industry.record.id(),
        skill: skill.record.id(),
        role: role.record.id(),
        agent: Uuid::nil(),
    };
    ids.agent = create(agent("Booked agent", &ids, None).into())
        .await
        .unwrap()
        .record
        .id();
    ids
}

fn booking(agent_id: Uuid, i: usize) -> Trial {
    let t = Timestamp::now();
    Trial {
        id: Uuid::now_v7(),
        agent_id,
        customer_name: Name::parse(&format!("Customer {i}")).unwrap(),
        customer_email: Email::parse(&format!("c{i}@example.com")).unwrap(),
        company: i
            .is_multiple_of(2)
            .then(|| Name::parse("Example Ltd").unwrap()),
        phone: None,
        start_date: t,
        end_date: t.plus_days(7),
        status: TrialStatus::Active,
        deliverables: Vec::new(),
        created_at: t,
        updated_at: t,
        version: 0,
        version_hash: None,
    }
}

fn job(agent_id: Uuid, trial_id: Option<Uuid>, i: usize) -> Job {
    let t = Timestamp::now();
    Job {
        id: Uuid::now_v7(),
        agent_id,
        trial_id,
        title: Name::parse(&format!("Run {i}")).unwrap(),
        input: serde_json::json!({"run": i, "topic": "grouped", "tags": ["a", "b"]}),
        status: JobStatus::Queued,
        output: None,
        error: None,
        created_at: t,
        updated_at: t,
        started_at: None,
        finished_at: None,
        version: 0,
        version_hash: None,
    }
}

/// Sends the creations of `records` at once to a store whose single appender waits for all of
/// them, and returns each one's answer, in the order sent.
async fn create_together(url: &str, records: Vec<Record>) -> Vec<StoreResult<Committed>> {
    let mut config = PgConfig::new(url);
    config.max_connections = 2;
    config.group_commit = GroupCommit {
        max_changes: records.len(),
        max_wait: Duration::from_secs(5),
        quiet: Duration::from_secs(5),
        appenders: 1,
    };
    let store = PgStore::connect(&config).await.unwrap();
    let calls: Vec<_> = records
        .into_iter()
        .map(|record| {
            let store = store.clone();
            tokio::spawn(async move { store.commit(Change::create(record, "writer")).await })
        })
        .collect();
    let mut answers = Vec::new();
    for call in calls {
        answers.push(call.await.unwrap());
    }
    store.close().await;
    answers
}

/// Counts the statements that insert into these tables from here on (statement-level triggers
/// of the test's own), in `inserts`.
async fn count_inserts(conn: &mut sqlx::PgConnection, tables: &[&str]) {
    let mut sql = String::from(
        "create table inserts (into_table text not null); \
         create function count_insert() returns trigger language plpgsql as $$ \
           begin insert into inserts values (tg_table_name); return null; end $$;",
    );
    for table in tables {
        sql.push_str(&format!(
            " create trigger count_inserts after insert on {table} \
               for each statement execute function count_insert();"
        ));
    }
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(conn)
        .await
        .unwrap();
}

/// `(transactions, insert statements)` that wrote the rows of `table` with these ids, counting
/// the statements since the last call. A catalog record's transaction is its base row's: the
/// kind's row may have been written again since, when its vector was stored.
async fn written_by(conn: &mut sqlx::PgConnection, table: &str, ids: &[Uuid]) -> (i64, i64) {
    let rows = match table {
        "trial" | "job" => table,
        _ => "base_entity",
    };
    let transactions = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "select count(distinct xmin::text) from {rows} where id = any($1)"
    )))
    .bind(ids)
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    let statements = sqlx::query_scalar(
        "with gone as (delete from inserts where into_table = $1 returning 1) \
         select count(*) from gone",
    )
    .bind(table)
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    (transactions, statements)
}

/// Bookings (every `POST /trials`) grouped into one batch are inserted by one statement, each
/// as it would be alone; a booking refused among them (its agent does not exist) fails alone,
/// and the others commit together with consecutive seqs. Jobs (every agent run) likewise.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bookings_and_jobs_in_a_batch_are_one_insert_and_a_refused_one_fails_alone() {
    let Some(db) = TestDb::new("group_commit_bookings").await else {
        return;
    };
    let setup = db.store().await;
    let agent = small_catalog(&setup).await.agent;
    let mut conn = db.superuser().await;
    count_inserts(&mut conn, &["trial", "job"]).await;

    let before = setup.head().await.unwrap();
    let sent: Vec<Trial> = (0..8).map(|i| booking(agent, i)).collect();
    let answers = create_together(&db.url, sent.iter().cloned().map(Into::into).collect()).await;
    let mut seqs = Vec::new();
    for (trial, answer) in sent.iter().zip(answers) {
        let done = answer.unwrap();
        seqs.push(done.entry.seq);
        // What the store reads back is what was committed: the columns written in one
        // statement, the version hash set by the append.
        let stored = setup
            .get(Some(Kind::Trial), trial.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored, done.record);
        let Record::Trial(stored) = stored else {
            panic!("a trial")
        };
        assert_eq!(
            (stored.version, &stored.customer_email, &stored.company),
            (1, &trial.customer_email, &trial.company)
        );
        assert!(
            stored
                .version_hash
                .is_some_and(|h| h != plant_core::audit::Hash::ZERO)
        );
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (before.seq + 1..=before.seq + 8).collect::<Vec<_>>());
    let ids: Vec<Uuid> = sent.iter().map(|t| t.id).collect();
    assert_eq!(
        written_by(&mut conn, "trial", &ids).await,
        (1, 1),
        "one transaction, one insert statement"
    );

    // The fourth booking names an agent that does not exist.
    let before = setup.head().await.unwrap();
    let mut sent: Vec<Trial> = (8..16).map(|i| booking(agent, i)).collect();
    sent[3].agent_id = Uuid::now_v7();
    let answers = create_together(&db.url, sent.iter().cloned().map(Into::into).collect()).await;
    let mut seqs = Vec::new();
    let mut ids = Vec::new();
    for (i, (trial, answer)) in sent.iter().zip(answers).enumerate() {
        if i == 3 {
            assert!(
                matches!(
                    answer,
                    Err(StoreError::MissingReference {
                        kind: Kind::Trial,
                        field: "agent_id",
                        target: Kind::Agent,
                    })
                ),
                "{answer:?}"
            );
            assert!(
                setup
                    .get(Some(Kind::Trial), trial.id)
                    .await
                    .unwrap()
                    .is_none()
            );
        } else {
            seqs.push(answer.unwrap().entry.seq);
            ids.push(trial.id);
        }
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (before.seq + 1..=before.seq + 7).collect::<Vec<_>>());
    assert_eq!(setup.head().await.unwrap().seq, before.seq + 7);
    // Refused inside the insert of all eight, the batch was written again booking by booking.
    assert_eq!(
        written_by(&mut conn, "trial", &ids).await,
        (1, 7),
        "one transaction, an insert per booking"
    );

    // Jobs, some within a trial booked above.
    let sent: Vec<Job> = (0..6_usize)
        .map(|i| job(agent, i.is_multiple_of(2).then_some(ids[0]), i))
        .collect();
    let answers = create_together(&db.url, sent.iter().cloned().map(Into::into).collect()).await;
    for (job, answer) in sent.iter().zip(answers) {
        let done = answer.unwrap();
        let stored = setup.get(Some(Kind::Job), job.id).await.unwrap().unwrap();
        assert_eq!(stored, done.record);
        let Record::Job(stored) = stored else {
            panic!("a job")
        };
        assert_eq!((&stored.input, stored.trial_id), (&job.input, job.trial_id));
    }
    let ids: Vec<Uuid> = sent.iter().map(|j| j.id).collect();
    assert_eq!(
        written_by(&mut conn, "job", &ids).await,
        (1, 1),
        "jobs: one transaction, one insert statement"
    );

    let report = setup.verify(&[]).await.unwrap();
    assert!(report.ok, "{report:?}");
    drop(conn);
    db.drop_db().await;
}

/// Makes the `i`th record of a kind, naming the catalog's records and a team.
type MakeRecord = fn(usize, &Ids, Uuid) -> Record;

/// Industries, skills, teams and agents created in one batch are inserted by one statement per
/// kind (base rows and the kind's rows together), each read back as committed; a skill whose
/// name is taken fails alone among them.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn catalog_creations_in_a_batch_are_one_insert_and_a_refused_one_fails_alone() {
    let Some(db) = TestDb::new("group_commit_catalog").await else {
        return;
    };
    let setup = db.store().await;
    let ids = small_catalog(&setup).await;
    let team_id = setup
        .commit(Change::create(team("Existing team", &ids), "setup"))
        .await
        .unwrap()
        .record
        .id();
    let mut conn = db.superuser().await;
    count_inserts(
        &mut conn,
        &["base_entity", "industry", "skill", "team", "agent"],
    )
    .await;

    let kinds: [(&str, MakeRecord); 4] = [
        ("industry", |i, _, _| {
            industry(&format!("Industry {i}")).into()
        }),
        ("skill", |i, _, _| skill(&format!("Skill {i}")).into()),
        ("team", |i, ids, _| team(&format!("Team {i}"), ids).into()),
        ("agent", |i, ids, team| {
            agent(
                &format!("Agent {i}"),
                ids,
                i.is_multiple_of(2).then_some(team),
            )
            .into()
        }),
    ];
    for (table, make) in kinds {
        let before = setup.head().await.unwrap();
        let sent: Vec<Record> = (0..6).map(|i| make(i, &ids, team_id)).collect();
        let answers = create_together(&db.url, sent.clone()).await;
        let mut seqs = Vec::new();
        for (record, answer) in sent.iter().zip(answers) {
            let done = answer.unwrap();
            seqs.push(done.entry.seq);
            let stored = setup
                .get(Some(record.kind()), record.id())
                .await
                .unwrap()
                .unwrap();
            assert_eq!(stored, done.record, "{table}");
        }
        seqs.sort_unstable();
        assert_eq!(seqs, (before.seq + 1..=before.seq + 6).collect::<Vec<_>>());
        let written: Vec<Uuid> = sent.iter().map(Record::id).collect();
        assert_eq!(
            written_by(&mut conn, table, &written).await,
            (1, 1),
            "{table}: one transaction, one insert statement"
        );
        assert_eq!(written_by(&mut conn, "base_entity", &written).await, (1, 1));
    }

    // The third skill takes the name of one created above.
    let before = setup.head().await.unwrap();
    let mut sent: Vec<Record> = (10..16)
        .map(|i| skill(&format!("Skill {i}")).into())
        .collect();
    sent[2] = skill("SKILL 1").into();
    let answers = create_together(&db.url, sent.clone()).await;
    let mut committed = Vec::new();
    for (i, (record, answer)) in sent.iter().zip(answers).enumerate() {
        if i == 2 {
            assert!(
                matches!(
                    answer,
                    Err(StoreError::Duplicate {
                        kind: Kind::Skill,
                        field: "name"
                    })
                ),
                "{answer:?}"
            );
            assert!(
                setup
                    .get(Some(Kind::Skill), record.id())
                    .await
                    .unwrap()
                    .is_none()
            );
        } else {
            answer.unwrap();
            committed.push(record.id());
        }
    }
    assert_eq!(setup.head().await.unwrap().seq, before.seq + 5);
    assert_eq!(
        written_by(&mut conn, "skill", &committed).await,
        (1, 5),
        "one transaction, an insert per skill"
    );

    let report = setup.verify(&[]).await.unwrap();
    assert!(report.ok, "{report:?}");
    drop(conn);
    db.drop_db().await;
}

/// A batch's append travels as SQL text, its values written as literals: records whose text SQL
/// treats specially (quotes, backslashes, dollar quotes, escapes, control characters escaped in
/// JSON), and instants from year 1 to 9999, are stored, read back and chained exactly as they
/// were committed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn text_sql_treats_specially_is_appended_exactly() {
    let Some(db) = TestDb::new("group_commit_literals").await else {
        return;
    };
    let setup = db.store().await;
    let ids = small_catalog(&setup).await;
    let tricky = [
        "it's",
        r"back\slash",
        r"\x41 \' \\ E'\n' ''",
        "'); drop table audit_log; --",
        "$$ dollar $tag$ quotes",
        "naïve — ü 😀 \u{2028}",
    ];
    let mut records: Vec<Record> = Vec::new();
    for (i, text) in tricky.iter().enumerate() {
        let mut s = skill(&format!("Tricky {i}"));
        s.body.description = Description::parse(text).unwrap();
        records.push(s.into());
        let mut j = job(ids.agent, None, i);
        j.input =
            serde_json::json!({"text": text, "control": "a\u{1}b\tc", "nested": {"q": "\"'\\"}});
        records.push(j.into());
    }
    // Instants go as text too: from the first year the store takes (the record's columns refuse
    // year 0) to the last RFC 3339 allows, and a leap day.
    for at in [
        "0004-02-29T23:59:59.999999Z",
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59.000001Z",
    ] {
        let body = industry("unused").body;
        let body = Industry {
            name: Name::parse(&format!("Founded {at}")).unwrap(),
            ..body
        };
        records.push(Entity::new(body, at.parse::<Timestamp>().unwrap()).into());
    }
    let before = setup.head().await.unwrap();
    let answers = create_together(&db.url, records).await;
    let mut seqs = Vec::new();
    for answer in answers {
        let committed = answer.unwrap();
        seqs.push(committed.entry.seq);
        let record = &committed.record;
        let stored = setup
            .get(Some(record.kind()), record.id())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&stored, record);
        let entries = setup.entity_entries(record.id()).await.unwrap();
        assert_eq!(entries, vec![committed.entry.clone()]);
    }
    seqs.sort_unstable();
    let expected: Vec<u64> = (before.seq + 1..=before.seq + 15).collect();
    assert_eq!(seqs, expected, "one batch, consecutive seqs");
    let report = setup.verify(&[]).await.unwrap();
    assert!(report.ok, "{report:?}");
    db.drop_db().await;
}

/// An append the database refuses (a trigger of the test's own raises on every insert into
/// `audit_log`) fails its whole batch and leaves nothing: no record, no entry, the head where it
/// was. The appender's connection is rolled back, not returned inside the failed transaction:
/// once the trigger is gone, the next batches on it commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refused_append_leaves_nothing_and_the_next_batch_commits() {
    let Some(db) = TestDb::new("group_commit_refused_append").await else {
        return;
    };
    let mut config = PgConfig::new(&db.url);
    config.max_connections = 2;
    config.group_commit = GroupCommit {
        appenders: 1,
        ..GroupCommit::default()
    };
    let store = PgStore::connect(&config).await.unwrap();
    store
        .commit(Change::create(industry("Before"), "setup"))
        .await
        .unwrap();
    let before = store.head().await.unwrap();
    let mut conn = db.superuser().await;
    sqlx::raw_sql(
        "create function refuse_append() returns trigger language plpgsql as $$ \
         begin raise exception 'appends refused by the test'; end $$; \
         create trigger refuse_append before insert on audit_log \
         for each row execute function refuse_append();",
    )
    .execute(&mut conn)
    .await
    .unwrap();

    let refused: Vec<Entity<Industry>> =
        (0..3).map(|i| industry(&format!("Refused {i}"))).collect();
    for record in &refused {
        let answer = store.commit(Change::create(record.clone(), "writer")).await;
        assert!(answer.is_err(), "{answer:?}");
        assert!(
            store
                .get(Some(Kind::Industry), record.id())
                .await
                .unwrap()
                .is_none()
        );
    }
    assert_eq!(store.head().await.unwrap(), before);

    sqlx::raw_sql("drop trigger refuse_append on audit_log")
        .execute(&mut conn)
        .await
        .unwrap();
    for i in 0..3u64 {
        let committed = store
            .commit(Change::create(industry(&format!("After {i}")), "writer"))
            .await
            .unwrap();
        assert_eq!(committed.entry.seq, before.seq + 1 + i);
    }
    let report = store.verify(&[]).await.unwrap();
    assert!(report.ok, "{report:?}");
    store.close().await;
    drop(conn);
    db.drop_db().await;
}

/// The appenders run on a thread of their own: a store goes on committing after the runtime
/// that made its first commit has gone (a caller's short-lived runtime), and `close` stops them
/// like the store's other connections.
#[test]
fn the_appenders_outlive_the_first_commits_runtime_and_stop_on_close() {
    let runtime = || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    };
    let outer = runtime();
    let Some(db) = outer.block_on(TestDb::new("group_commit_thread")) else {
        return;
    };
    let first = runtime();
    let store = first.block_on(async {
        let store = db.store().await;
        store
            .commit(Change::create(industry("First"), "test"))
            .await
            .unwrap();
        store
    });
    drop(first);
    let after = outer
        .block_on(store.commit(Change::create(industry("After"), "test")))
        .expect("commits after the first commit's runtime is gone");
    assert_eq!(after.record.name().map(|n| n.as_str()), Some("After"));

    outer.block_on(async {
        let store = db.store().await;
        let before = store
            .commit(Change::create(industry("Before close"), "test"))
            .await
            .unwrap();
        assert_eq!(before.entry.seq, after.entry.seq + 1);
        store.close().await;
        let closed = store
            .commit(Change::create(industry("After close"), "test"))
            .await;
        assert!(
            matches!(closed, Err(StoreError::Unavailable(_))),
            "{closed:?}"
        );
        db.drop_db().await;
    });
}
