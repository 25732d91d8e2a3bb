//! PgStore against a real PostgreSQL: round trips of every kind, typed refusals, the
//! append-only audit table, search. Each test runs in a database of its own.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod pg_support;

use pg_support::TestDb;
use plant_core::Timestamp;
use plant_core::model::{
    Agent, Category, Deliverable, Description, Email, Entity, Industry, Job, JobRole, JobStatus,
    Kind, Name, Phone, Record, Seniority, Skill, Status, Trial, TrialStatus,
};
use plant_core::search::{Embedder, HashingEmbedder};
use plant_core::store::postgres::{PgStore, server_info};
use plant_core::store::{
    Action, Change, ListQuery, SearchFilter, Store, StoreError, StoredEmbedding,
};
use serde_json::json;
use uuid::Uuid;

fn name(s: &str) -> Name {
    Name::parse(s).unwrap()
}

fn desc(s: &str) -> Description {
    Description::parse(s).unwrap()
}

fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

/// A small catalog: one of each kind, committed.
struct Catalog {
    industry: Entity<Industry>,
    skill: Entity<Skill>,
    role: Entity<JobRole>,
    agent: Entity<Agent>,
}

async fn commit<R: Into<Record>>(store: &PgStore, r: R) -> Record {
    store
        .commit(Change::create(r, "test"))
        .await
        .unwrap()
        .record
}

async fn catalog(store: &PgStore) -> Catalog {
    let t = at("2026-01-01T00:00:00.000001Z");
    let mut industry = Entity::new(
        Industry {
            name: name("Marketing"),
            description: desc("Growth"),
        },
        t,
    );
    industry.base.tags = vec!["b2b".into(), "growth".into()];
    industry.base.custom_attributes =
        json!({"tier": 2, "regions": ["eu", "us"], "big": 18446744073709551615u64})
            .as_object()
            .unwrap()
            .clone();
    industry.base.governance_agent_id = Some("genesis-governor".into());
    industry.base.child_ids = vec![Uuid::now_v7()];
    industry.base.external_id = Some("ind-1".into());
    industry
        .base
        .l0_compliance_status
        .insert("l0_01".into(), true);
    let industry: Entity<Industry> = commit(store, industry).await.try_into().unwrap();
    let skill = Entity::new(
        Skill {
            name: name("Content Marketing"),
            description: desc("Writes"),
            category: Category::Technical,
        },
        t,
    );
    let skill: Entity<Skill> = commit(store, skill).await.try_into().unwrap();
    let skill2 = Entity::new(
        Skill {
            name: name("Brand Strategy"),
            description: desc(""),
            category: Category::DomainExpertise,
        },
        t,
    );
    let skill2: Entity<Skill> = commit(store, skill2).await.try_into().unwrap();
    let role = Entity::new(
        JobRole {
            name: name("Content Strategist"),
            description: desc("Plans content"),
            required_skills: vec![skill2.base.id, skill.base.id, skill2.base.id],
            seniority_level: Seniority::Senior,
            industry_id: Some(industry.base.id),
        },
        t,
    );
    let role: Entity<JobRole> = commit(store, role).await.try_into().unwrap();
    let agent = Entity::new(
        Agent {
            name: name("Ava Flux"),
            description: desc("Writes blog posts"),
            skill_id: skill.base.id,
            job_role_id: role.base.id,
            team_id: None,
            industry_id: industry.base.id,
        },
        t,
    );
    let agent: Entity<Agent> = commit(store, agent).await.try_into().unwrap();
    Catalog {
        industry,
        skill,
        role,
        agent,
    }
}

fn trial(agent_id: Uuid) -> Trial {
    let start = at("2026-02-01T10:00:00.123456Z");
    Trial {
        id: Uuid::now_v7(),
        agent_id,
        customer_name: name("Ada Customer"),
        customer_email: Email::parse("ada@example.com").unwrap(),
        company: Some(name("Example Ltd")),
        phone: Some(Phone::parse("+1 (555) 010-2000").unwrap()),
        start_date: start,
        end_date: start.plus_days(7),
        status: TrialStatus::Active,
        deliverables: vec![Deliverable {
            id: Uuid::now_v7(),
            title: name("First draft"),
            description: desc("A blog post"),
            url: None,
            created_at: start,
        }],
        created_at: start,
        updated_at: start,
        version: 0,
        version_hash: None,
    }
}

fn job(agent_id: Uuid, trial_id: Option<Uuid>) -> Job {
    let t = at("2026-02-02T00:00:00Z");
    Job {
        id: Uuid::now_v7(),
        agent_id,
        trial_id,
        title: name("Write a post"),
        input: json!({"topic": "pgvector", "words": 800, "tags": ["a", "b"], "nested": {"x": null}}),
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

#[tokio::test]
async fn every_kind_reads_back_exactly_as_committed_and_the_chain_verifies() {
    let Some(db) = TestDb::new("every_kind_reads_back").await else {
        return;
    };
    let store = db.store().await;
    let c = catalog(&store).await;
    let t = commit(&store, trial(c.agent.base.id)).await;
    let j = commit(&store, job(c.agent.base.id, Some(t.id()))).await;

    let committed: Vec<Record> = vec![
        c.industry.clone().into(),
        c.skill.clone().into(),
        c.role.clone().into(),
        c.agent.clone().into(),
        t,
        j,
    ];
    for record in &committed {
        let by_kind = store.get(Some(record.kind()), record.id()).await.unwrap();
        assert_eq!(
            by_kind.as_ref(),
            Some(record),
            "{} reads back by id",
            record.kind()
        );
        let any_kind = store.get(None, record.id()).await.unwrap();
        assert_eq!(
            any_kind.as_ref(),
            Some(record),
            "{} reads back without a kind",
            record.kind()
        );
        assert_eq!(
            record.audit_payload().unwrap(),
            store.entity_entries(record.id()).await.unwrap()[0].payload,
            "the row's payload is the entry's"
        );
    }
    let by_name = store.get_by_name(Kind::Agent, "  ava FLUX ").await.unwrap();
    assert_eq!(by_name.map(|r| r.id()), Some(c.agent.base.id));
    assert_eq!(
        store.get(Some(Kind::Skill), c.agent.base.id).await.unwrap(),
        None
    );
    assert_eq!(store.get(None, Uuid::now_v7()).await.unwrap(), None);

    let head = store.head().await.unwrap();
    assert_eq!(head.seq, 7);
    let report = store.verify(&[]).await.unwrap();
    assert!(report.ok, "{report:?}");
    db.drop_db().await;
}

#[tokio::test]
async fn updates_bump_the_version_and_stale_ones_fail_typed_and_write_nothing() {
    let Some(db) = TestDb::new("updates_bump_the_version").await else {
        return;
    };
    let store = db.store().await;
    let c = catalog(&store).await;
    let mut skill = c.skill.clone();
    skill.body.description = desc("Writes better");
    skill.base.updated_at = Timestamp::now();
    let v2 = store
        .commit(Change::update(skill.clone(), 1, Action::Update, "test"))
        .await
        .unwrap();
    assert_eq!(v2.record.version(), 2);
    assert_eq!(v2.record.version_hash(), Some(v2.entry.hash));
    assert_eq!(
        store.get(Some(Kind::Skill), skill.base.id).await.unwrap(),
        Some(v2.record.clone())
    );

    let head = store.head().await.unwrap();
    match store
        .commit(Change::update(skill.clone(), 1, Action::Update, "test"))
        .await
    {
        Err(StoreError::VersionConflict {
            expected: 1,
            actual: 2,
            ..
        }) => {}
        other => panic!("expected a version conflict, got {other:?}"),
    }
    match store
        .commit(Change::update(
            c.industry.clone(),
            1,
            Action::Update,
            "test",
        ))
        .await
    {
        Ok(_) => {}
        other => panic!("industry update: {other:?}"),
    }
    // An update of an id that is not of this kind, or not there, is not found.
    let mut ghost = c.skill.clone();
    ghost.base.id = c.agent.base.id;
    assert!(matches!(
        store
            .commit(Change::update(ghost, 1, Action::Update, "test"))
            .await,
        Err(StoreError::NotFound {
            kind: Kind::Skill,
            ..
        })
    ));
    assert_eq!(
        store.head().await.unwrap().seq,
        head.seq + 1,
        "only the good update was appended"
    );
    assert!(store.verify(&[]).await.unwrap().ok);
    db.drop_db().await;
}

/// Where a skill's row is (its row version): moves whenever the row is written.
async fn row_version(db: &TestDb, id: Uuid) -> (String, bool) {
    let mut conn = db.superuser().await;
    sqlx::query_as("select ctid::text, embedding is not null from skill where id = $1")
        .bind(id)
        .fetch_one(&mut conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn an_update_writes_the_kinds_row_only_when_its_columns_change() {
    let Some(db) = TestDb::new("kind_row_only_when_changed").await else {
        return;
    };
    let store = db.store().await;
    let c = catalog(&store).await;
    let embedder = HashingEmbedder;
    let id = c.skill.base.id;
    let vector = embedder.embed(&["content marketing"]).unwrap().remove(0);
    let embedding = StoredEmbedding {
        model: embedder.model_id().to_owned(),
        vector,
    };
    store
        .put_embedding(Kind::Skill, id, embedding.clone())
        .await
        .unwrap();
    let (at_start, with_vector) = row_version(&db, id).await;
    assert!(with_vector);

    // A change of the base only (a certification, a status, tags): the skill's row, and so
    // its vector's entry in the HNSW graph, is not written again.
    let mut skill = c.skill.clone();
    skill.base.tags = vec!["certified-by-test".into()];
    let v2 = store
        .commit(Change::update(skill, 1, Action::Certify, "test"))
        .await
        .unwrap();
    assert_eq!(row_version(&db, id).await, (at_start.clone(), true));
    assert_eq!(
        store.get(Some(Kind::Skill), id).await.unwrap(),
        Some(v2.record.clone())
    );

    // A column of the kind's own that is not its text: written, the vector kept.
    let mut skill: Entity<Skill> = v2.record.try_into().unwrap();
    skill.body.category = Category::DomainExpertise;
    let v3 = store
        .commit(Change::update(skill, 2, Action::Update, "test"))
        .await
        .unwrap();
    let (after_category, with_vector) = row_version(&db, id).await;
    assert_ne!(after_category, at_start, "the new category is written");
    assert!(with_vector, "the text is the same, so is the vector");

    // The text: written, and the vector dropped in the same statement.
    let mut skill: Entity<Skill> = v3.record.try_into().unwrap();
    skill.body.description = desc("Writes long-form content");
    let v4 = store
        .commit(Change::update(skill, 3, Action::Update, "test").clearing_embedding())
        .await
        .unwrap();
    let (after_text, with_vector) = row_version(&db, id).await;
    assert_ne!(after_text, after_category);
    assert!(!with_vector, "a vector of the old text is dropped");
    assert_eq!(
        store.get(Some(Kind::Skill), id).await.unwrap(),
        Some(v4.record)
    );
    // Dropping the vector alone writes the row even when no column changed.
    store
        .put_embedding(Kind::Skill, id, embedding)
        .await
        .unwrap();
    let current: Entity<Skill> = store
        .get(Some(Kind::Skill), id)
        .await
        .unwrap()
        .unwrap()
        .try_into()
        .unwrap();
    store
        .commit(Change::update(current, 4, Action::Update, "test").clearing_embedding())
        .await
        .unwrap();
    assert!(!row_version(&db, id).await.1);
    assert!(store.verify(&[]).await.unwrap().ok);
    db.drop_db().await;
}

#[tokio::test]
async fn refusals_come_from_named_constraints_as_typed_errors() {
    let Some(db) = TestDb::new("refusals_are_typed").await else {
        return;
    };
    let store = db.store().await;
    let c = catalog(&store).await;
    let head = store.head().await.unwrap();
    let t = at("2026-03-01T00:00:00Z");

    let dup = Entity::new(
        Skill {
            name: name("content MARKETING"),
            description: desc(""),
            category: Category::Technical,
        },
        t,
    );
    assert!(matches!(
        store.commit(Change::create(dup, "t")).await,
        Err(StoreError::Duplicate {
            kind: Kind::Skill,
            field: "name"
        })
    ));
    let mut ext = Entity::new(
        Industry {
            name: name("Other"),
            description: desc(""),
        },
        t,
    );
    ext.base.external_id = Some("ind-1".into());
    assert!(matches!(
        store.commit(Change::create(ext, "t")).await,
        Err(StoreError::Duplicate {
            field: "external_id",
            ..
        })
    ));
    assert!(matches!(
        store.commit(Change::create(c.skill.clone(), "t")).await,
        Err(StoreError::Duplicate { field: "id", .. })
    ));
    let orphan = Entity::new(
        JobRole {
            name: name("Orphan"),
            description: desc(""),
            required_skills: vec![Uuid::now_v7()],
            seniority_level: Seniority::Junior,
            industry_id: None,
        },
        t,
    );
    assert!(matches!(
        store.commit(Change::create(orphan, "t")).await,
        Err(StoreError::MissingReference {
            kind: Kind::JobRole,
            field: "required_skills",
            target: Kind::Skill
        })
    ));
    // A skill's id where an industry is expected is a missing industry.
    let mut wrong = c.agent.clone();
    wrong.base.id = Uuid::now_v7();
    wrong.body.name = name("Other agent");
    wrong.body.industry_id = c.skill.base.id;
    assert!(matches!(
        store.commit(Change::create(wrong, "t")).await,
        Err(StoreError::MissingReference {
            kind: Kind::Agent,
            field: "industry_id",
            target: Kind::Industry
        })
    ));

    let other = Entity::new(
        Industry {
            name: name("Finance"),
            description: desc(""),
        },
        t,
    );
    let other = commit(&store, other).await;
    let mut moved = c.agent.clone();
    moved.body.industry_id = other.id();
    assert!(matches!(
        store
            .commit(Change::update(moved, 1, Action::Update, "t"))
            .await,
        Err(StoreError::Immutable {
            field: "industry_id"
        })
    ));

    let tr = commit(&store, trial(c.agent.base.id)).await;
    let Record::Trial(mut tr) = tr else {
        unreachable!()
    };
    tr.status = TrialStatus::Cancelled;
    let tr = store
        .commit(Change::update(tr, 1, Action::Update, "t"))
        .await
        .unwrap()
        .record;
    let Record::Trial(mut tr) = tr else {
        unreachable!()
    };
    tr.status = TrialStatus::Active;
    match store
        .commit(Change::update(tr, 2, Action::Update, "t"))
        .await
    {
        Err(StoreError::InvalidTransition {
            kind: Kind::Trial,
            from,
            to,
        }) => {
            assert_eq!((from.as_str(), to.as_str()), ("cancelled", "active"));
        }
        other => panic!("expected an invalid transition, got {other:?}"),
    }
    let jb = commit(&store, job(c.agent.base.id, None)).await;
    let Record::Job(mut jb) = jb else {
        unreachable!()
    };
    jb.status = JobStatus::Succeeded;
    assert!(matches!(
        store
            .commit(Change::update(jb, 1, Action::Update, "t"))
            .await,
        Err(StoreError::InvalidTransition {
            kind: Kind::Job,
            ..
        })
    ));
    // Four changes went through (an industry, a trial, its cancellation, a job); no refusal
    // appended anything.
    assert_eq!(store.head().await.unwrap().seq, head.seq + 4);
    assert!(store.verify(&[]).await.unwrap().ok);
    db.drop_db().await;
}

#[tokio::test]
async fn commit_all_writes_everything_or_nothing() {
    let Some(db) = TestDb::new("commit_all").await else {
        return;
    };
    let store = db.store().await;
    let t = at("2026-03-01T00:00:00Z");
    let a = Entity::new(
        Industry {
            name: name("A"),
            description: desc(""),
        },
        t,
    );
    let b = Entity::new(
        Industry {
            name: name("B"),
            description: desc(""),
        },
        t,
    );
    let a_again = Entity::new(
        Industry {
            name: name("a"),
            description: desc(""),
        },
        t,
    );
    let err = store
        .commit_all(vec![
            Change::create(a.clone(), "t"),
            Change::create(b.clone(), "t"),
            Change::create(a_again, "t"),
        ])
        .await;
    assert!(matches!(
        err,
        Err(StoreError::Duplicate { field: "name", .. })
    ));
    assert_eq!(store.head().await.unwrap().seq, 0);
    assert_eq!(
        store
            .count(&ListQuery::of(Kind::Industry, 10))
            .await
            .unwrap(),
        0
    );
    let done = store
        .commit_all(vec![Change::create(a, "t"), Change::create(b, "t")])
        .await
        .unwrap();
    assert_eq!(
        done.iter().map(|c| c.entry.seq).collect::<Vec<_>>(),
        vec![1, 2]
    );
    assert_eq!(done[1].entry.prev_hash, done[0].entry.hash);
    assert!(store.verify(&[]).await.unwrap().ok);
    db.drop_db().await;
}

#[tokio::test]
async fn lists_filter_and_page_by_created_at_then_id() {
    let Some(db) = TestDb::new("lists_filter_and_page").await else {
        return;
    };
    let store = db.store().await;
    let c = catalog(&store).await;
    let q = ListQuery {
        industry_id: Some(c.industry.base.id),
        ..ListQuery::of(Kind::Agent, 10)
    };
    assert_eq!(store.list(&q).await.unwrap().len(), 1);
    let q = ListQuery {
        skill_id: Some(c.skill.base.id),
        ..ListQuery::of(Kind::JobRole, 10)
    };
    assert_eq!(
        store.list(&q).await.unwrap().first().map(Record::id),
        Some(c.role.base.id)
    );
    let q = ListQuery {
        category: Some(Category::Technical),
        ..ListQuery::of(Kind::Skill, 10)
    };
    assert_eq!(store.count(&q).await.unwrap(), 1);
    let q = ListQuery {
        status: Some(Status::Archived.into()),
        ..ListQuery::of(Kind::Skill, 10)
    };
    assert_eq!(store.count(&q).await.unwrap(), 0);

    let all = store.list(&ListQuery::of(Kind::Skill, 10)).await.unwrap();
    assert_eq!(all.len(), 2);
    let first = store.list(&ListQuery::of(Kind::Skill, 1)).await.unwrap();
    let after = first[0].clone();
    let next = ListQuery {
        after: Some((after.created_at(), after.id())),
        ..ListQuery::of(Kind::Skill, 1)
    };
    let second = store.list(&next).await.unwrap();
    assert_eq!(
        vec![first[0].id(), second[0].id()],
        all.iter().map(Record::id).collect::<Vec<_>>()
    );
    let offset = ListQuery {
        offset: 1,
        ..ListQuery::of(Kind::Skill, 5)
    };
    assert_eq!(store.list(&offset).await.unwrap()[0].id(), second[0].id());

    let everything = ListQuery {
        limit: 100,
        ..ListQuery::default()
    };
    assert_eq!(store.list(&everything).await.unwrap().len(), 5);
    assert_eq!(store.count(&everything).await.unwrap(), 5);
    db.drop_db().await;
}

#[tokio::test]
async fn search_ranks_by_cosine_and_tracks_stale_embeddings() {
    let Some(db) = TestDb::new("search_ranks").await else {
        return;
    };
    let store = db.store().await;
    let c = catalog(&store).await;
    let embedder = HashingEmbedder;
    let model = embedder.model_id().to_owned();
    assert_eq!(store.stale_embeddings(&model, 10).await.unwrap().len(), 5);
    for (kind, id, text) in [
        (Kind::Industry, c.industry.base.id, "marketing growth"),
        (Kind::Skill, c.skill.base.id, "content marketing blog posts"),
        (
            Kind::JobRole,
            c.role.base.id,
            "content strategist plans content",
        ),
        (
            Kind::Agent,
            c.agent.base.id,
            "ava writes blog posts for b2b software",
        ),
    ] {
        let vector = embedder.embed(&[text]).unwrap().remove(0);
        store
            .put_embedding(
                kind,
                id,
                StoredEmbedding {
                    model: model.clone(),
                    vector,
                },
            )
            .await
            .unwrap();
    }
    let stale = store.stale_embeddings(&model, 10).await.unwrap();
    assert_eq!(stale.len(), 1, "the second skill has none: {stale:?}");
    let query = embedder.embed(&["blog posts"]).unwrap().remove(0);
    let hits = store
        .search(&query, &SearchFilter::default(), 3)
        .await
        .unwrap();
    assert_eq!(hits.len(), 3);
    assert!(
        hits.windows(2).all(|w| w[0].score >= w[1].score),
        "{hits:?}"
    );
    let agents = SearchFilter {
        kinds: vec![Kind::Agent],
        industry_id: Some(c.industry.base.id),
        ..SearchFilter::default()
    };
    let hits = store.search(&query, &agents, 5).await.unwrap();
    assert_eq!(
        hits.iter().map(|h| h.id).collect::<Vec<_>>(),
        vec![c.agent.base.id]
    );
    assert!(matches!(
        store
            .put_embedding(
                Kind::Skill,
                Uuid::now_v7(),
                StoredEmbedding {
                    model,
                    vector: query
                }
            )
            .await,
        Err(StoreError::NotFound { .. })
    ));
    db.drop_db().await;
}

#[tokio::test]
async fn the_audit_table_refuses_update_delete_and_truncate() {
    let Some(db) = TestDb::new("audit_table_refuses").await else {
        return;
    };
    let store = db.store().await;
    catalog(&store).await;
    let mut conn = db.superuser().await;
    for sql in [
        "update audit_log set actor = 'mallory'",
        "delete from audit_log where seq = 1",
        "truncate audit_log",
    ] {
        let err = sqlx::query(sql).execute(&mut conn).await.expect_err(sql);
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    let info = server_info(&mut conn).await.unwrap();
    assert!(
        info.version_num >= 140_000 && info.vector_installed,
        "{info:?}"
    );
    assert!(store.verify(&[]).await.unwrap().ok);
    db.drop_db().await;
}

/// Whether the server still holds a database of that name.
async fn database_exists(conn: &mut sqlx::PgConnection, name: &str) -> bool {
    sqlx::query_scalar("select exists (select 1 from pg_database where datname = $1)")
        .bind(name)
        .fetch_one(conn)
        .await
        .unwrap()
}

/// A test's database leaves the server with its handle, also when the test never dropped it
/// (a failed assertion unwinds past `drop_db`) and a connection to it is still open: a suite of
/// hundreds of tests leaves nothing behind to fill the disk.
#[tokio::test]
async fn a_scratch_database_is_dropped_with_its_handle() {
    use plant_core::testing::ScratchDatabase;
    let Some(witness) = ScratchDatabase::create("scratch_drop", "plant_test").await else {
        return;
    };
    let scratch = ScratchDatabase::create("scratch_drop", "plant_test")
        .await
        .unwrap();
    let name = scratch.name.clone();
    let mut conn = witness.connect().await;
    let mut held = scratch.connect().await;
    sqlx::query("select 1").execute(&mut held).await.unwrap();
    assert!(database_exists(&mut conn, &name).await);

    drop(scratch);
    assert!(!database_exists(&mut conn, &name).await, "{name} is left");
    assert!(
        sqlx::query("select 1").execute(&mut held).await.is_err(),
        "the open connection was closed with it"
    );
}
