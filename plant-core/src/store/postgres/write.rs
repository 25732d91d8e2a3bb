//! The one write path: a record and its audit entry in one transaction, under the locked head.
//!
//! A transaction first writes the records (`stage`): the inserts and the optimistic updates
//! (`… where id = $1 and version = $2`; a row that no longer matches is a version conflict),
//! which take the records' row locks and meet every constraint. Only then does it take
//! `audit_head` `for update` (`lock_head`), link each record's entry after it (`Staged::link`)
//! and append them all (`group.rs`). Commits from any number of processes are thus serialised on
//! the head row for as short a time as possible and append one gap-free chain; a refused change
//! never waits for the head. Every refusal comes from a named constraint or trigger and is mapped
//! in `error.rs`.

use std::collections::{BTreeMap, HashSet};

use serde_json::Value;
use sqlx::types::Json;
use sqlx::{PgConnection, Row};
use uuid::Uuid;

use super::error::{store_error, write_error};
use super::precedent;
use super::sql;
use crate::audit::{Hash, Head, NewEntry};
use crate::error::Cause;
use crate::model::{Base, Job, Kind, Record, Trial};
use crate::store::{Change, Committed, StoreError, StoreResult, StoredEmbedding};

/// Reads and locks the chain's head for the rest of the transaction.
pub(super) async fn lock_head(conn: &mut PgConnection) -> StoreResult<Head> {
    let (seq, hash): (i64, Vec<u8>) = sqlx::query_as(sql::LOCK_HEAD)
        .fetch_one(conn)
        .await
        .map_err(store_error)?;
    Ok(Head {
        seq: to_u64(seq, "audit_head.seq")?,
        hash: to_hash(&hash, "audit_head.hash")?,
    })
}

/// A record written, waiting for its audit entry.
#[derive(Debug)]
pub(super) struct Staged {
    record: Record,
    entry: NewEntry,
}

/// Writes a change's record (and embedding) with its new version; the chain-derived columns
/// are set by [`append`].
pub(super) async fn stage(conn: &mut PgConnection, change: Change) -> StoreResult<Staged> {
    let Change {
        mut record,
        expected_version,
        action,
        actor,
        embedding,
        clear_embedding,
    } = change;
    let kind = record.kind();
    let id = record.id();
    let entry = crate::store::next_entry(&mut record, expected_version, &action, actor)?;
    let written = match expected_version {
        None => insert_record(conn, &record).await?,
        // The vector is dropped in the update itself when the text changed and none comes with
        // the change (one row version, not two).
        Some(expected) => {
            update_record(
                conn,
                &record,
                expected,
                clear_embedding && embedding.is_none(),
            )
            .await?
        }
    };
    if !written {
        return Err(missing_or_conflict(conn, kind, id, expected_version.unwrap_or(0)).await);
    }
    if let Some(embedding) = &embedding {
        put_embedding(conn, kind, id, embedding, true).await?;
    }
    Ok(Staged { record, entry })
}

impl Staged {
    /// Links the record's entry after `head` and applies it to the record (its new version
    /// hash, and for catalog kinds its history and hash chain).
    pub(super) fn link(self, head: Head) -> Committed {
        let Staged { mut record, entry } = self;
        let entry = head.append(entry);
        record.apply_entry(&entry);
        Committed { record, entry }
    }
}

/// The kind of the creations a change can be written together with ([`stage_creations`]), if
/// any: a trial with no deliverables yet (every booking), a job (every agent run), or an
/// industry, skill, team or agent with no vector (on PostgreSQL a record's vector follows its
/// commit). A job role's skills are rows of their own, so job roles are written one by one, as
/// are precedent seeds.
pub(super) fn written_together(change: &Change) -> Option<Kind> {
    if change.expected_version.is_some() || change.embedding.is_some() {
        return None;
    }
    match &change.record {
        Record::Trial(t) if t.deliverables.is_empty() => Some(Kind::Trial),
        Record::Job(_) => Some(Kind::Job),
        Record::Industry(_) | Record::Skill(_) | Record::Team(_) | Record::Agent(_) => {
            Some(change.record.kind())
        }
        _ => None,
    }
}

/// Writes creations of one kind (each [`written_together`] as `kind`) in one statement, as
/// [`stage`] writes them one by one: one round trip for them all instead of one each.
pub(super) async fn stage_creations(
    conn: &mut PgConnection,
    kind: Kind,
    changes: Vec<Change>,
) -> StoreResult<Vec<Staged>> {
    let mut staged = Vec::with_capacity(changes.len());
    for change in changes {
        if written_together(&change) != Some(kind) {
            return Err(StoreError::Internal(Cause::from(format!(
                "a {} {} among {kind} creations",
                change.record.kind(),
                change.action
            ))));
        }
        let Change {
            mut record,
            expected_version,
            action,
            actor,
            ..
        } = change;
        let entry = crate::store::next_entry(&mut record, expected_version, &action, actor)?;
        staged.push(Staged { record, entry });
    }
    let query = match kind {
        Kind::Trial => trial_columns(&staged)?,
        Kind::Job => job_columns(&staged)?,
        _ => catalog_columns(kind, &staged)?,
    };
    let done = query
        .execute(conn)
        .await
        .map_err(|e| write_error(e, kind))?;
    if done.rows_affected() != u64::try_from(staged.len()).unwrap_or(u64::MAX) {
        return Err(StoreError::Internal(Cause::from(format!(
            "{} of {} {kind} records inserted",
            done.rows_affected(),
            staged.len()
        ))));
    }
    Ok(staged)
}

type PgQuery = sqlx::query::Query<'static, sqlx::Postgres, sqlx::postgres::PgArguments>;

/// The statement that inserts catalog records of one kind (each [`written_together`] as
/// `kind`), with their columns bound as arrays (`INSERT_INDUSTRIES` and the others): id, name,
/// description, name key, the record's JSON and its version hash, then the kind's own columns.
fn catalog_columns(kind: Kind, staged: &[Staged]) -> StoreResult<PgQuery> {
    let n = staged.len();
    let mut id = Vec::with_capacity(n);
    let mut name = Vec::with_capacity(n);
    let mut description = Vec::with_capacity(n);
    let mut name_key = Vec::with_capacity(n);
    let mut json = Vec::with_capacity(n);
    let mut hash = Vec::with_capacity(n);
    // The kind's own columns: a skill's category; a team's or an agent's references.
    let mut category = Vec::new();
    let mut refs: [Vec<Option<Uuid>>; 4] = Default::default();
    for s in staged {
        let record = &s.record;
        let (record_name, record_description) = match record {
            Record::Industry(e) => (&e.body.name, &e.body.description),
            Record::Skill(e) => {
                category.push(e.body.category.as_str());
                (&e.body.name, &e.body.description)
            }
            Record::Team(e) => {
                refs[0].push(Some(e.body.job_role_id));
                refs[1].push(e.body.industry_id);
                (&e.body.name, &e.body.description)
            }
            Record::Agent(e) => {
                refs[0].push(Some(e.body.skill_id));
                refs[1].push(Some(e.body.job_role_id));
                refs[2].push(e.body.team_id);
                refs[3].push(Some(e.body.industry_id));
                (&e.body.name, &e.body.description)
            }
            other => {
                return Err(StoreError::Internal(Cause::from(format!(
                    "a {} among {kind} creations",
                    other.kind()
                ))));
            }
        };
        id.push(record.id());
        name.push(record_name.as_str().to_owned());
        description.push(record_description.as_str().to_owned());
        name_key.push(record_name.unique_key(kind));
        json.push(Json(record_json(record)?));
        hash.push(version_hash(record));
    }
    let sql = match kind {
        Kind::Industry => INSERT_INDUSTRIES,
        Kind::Skill => INSERT_SKILLS,
        Kind::Team => INSERT_TEAMS,
        _ => INSERT_AGENTS,
    };
    let query = sqlx::query(sql)
        .bind(id)
        .bind(name)
        .bind(description)
        .bind(name_key)
        .bind(json)
        .bind(hash);
    let [first, second, third, fourth] = refs;
    Ok(match kind {
        Kind::Skill => query.bind(category),
        Kind::Team => query.bind(first).bind(second),
        Kind::Agent => query.bind(first).bind(second).bind(third).bind(fourth),
        _ => query,
    })
}

/// The statement that inserts jobs (`sql::INSERT_JOBS`), with the columns `write_job` inserts
/// one by one bound as arrays.
fn job_columns(staged: &[Staged]) -> StoreResult<PgQuery> {
    let n = staged.len();
    let mut id = Vec::with_capacity(n);
    let mut agent_id = Vec::with_capacity(n);
    let mut trial_id = Vec::with_capacity(n);
    let mut title = Vec::with_capacity(n);
    let mut input = Vec::with_capacity(n);
    let mut status = Vec::with_capacity(n);
    let mut output = Vec::with_capacity(n);
    let mut error = Vec::with_capacity(n);
    let mut created_at = Vec::with_capacity(n);
    let mut updated_at = Vec::with_capacity(n);
    let mut started_at = Vec::with_capacity(n);
    let mut finished_at = Vec::with_capacity(n);
    let mut version = Vec::with_capacity(n);
    for s in staged {
        let Record::Job(j) = &s.record else {
            return Err(StoreError::Internal(Cause::from(format!(
                "a {} among job creations",
                s.record.kind()
            ))));
        };
        id.push(j.id);
        agent_id.push(j.agent_id);
        trial_id.push(j.trial_id);
        title.push(j.title.as_str().to_owned());
        input.push(Json(j.input.clone()));
        status.push(j.status.as_str());
        output.push(j.output.clone().map(Json));
        error.push(j.error.clone());
        created_at.push(j.created_at.as_datetime());
        updated_at.push(j.updated_at.as_datetime());
        started_at.push(j.started_at.map(|t| t.as_datetime()));
        finished_at.push(j.finished_at.map(|t| t.as_datetime()));
        version.push(to_i64(j.version)?);
    }
    Ok(sqlx::query(sql::INSERT_JOBS)
        .bind(id)
        .bind(agent_id)
        .bind(trial_id)
        .bind(title)
        .bind(input)
        .bind(status)
        .bind(output)
        .bind(error)
        .bind(created_at)
        .bind(updated_at)
        .bind(started_at)
        .bind(finished_at)
        .bind(version)
        .bind(Hash::ZERO.0.to_vec()))
}

/// The statement that inserts trials (`sql::INSERT_TRIALS`), with the columns `write_trial`
/// inserts one by one bound as arrays.
fn trial_columns(staged: &[Staged]) -> StoreResult<PgQuery> {
    let n = staged.len();
    let mut id = Vec::with_capacity(n);
    let mut agent_id = Vec::with_capacity(n);
    let mut customer_name = Vec::with_capacity(n);
    let mut customer_email = Vec::with_capacity(n);
    let mut company = Vec::with_capacity(n);
    let mut phone = Vec::with_capacity(n);
    let mut start_date = Vec::with_capacity(n);
    let mut end_date = Vec::with_capacity(n);
    let mut status = Vec::with_capacity(n);
    let mut created_at = Vec::with_capacity(n);
    let mut updated_at = Vec::with_capacity(n);
    let mut version = Vec::with_capacity(n);
    for s in staged {
        let Record::Trial(t) = &s.record else {
            return Err(StoreError::Internal(Cause::from(format!(
                "a {} among trial creations",
                s.record.kind()
            ))));
        };
        id.push(t.id);
        agent_id.push(t.agent_id);
        customer_name.push(t.customer_name.as_str().to_owned());
        customer_email.push(t.customer_email.as_str().to_owned());
        company.push(t.company.as_ref().map(|c| c.as_str().to_owned()));
        phone.push(t.phone.as_ref().map(|p| p.as_str().to_owned()));
        start_date.push(t.start_date.as_datetime());
        end_date.push(t.end_date.as_datetime());
        status.push(t.status.as_str());
        created_at.push(t.created_at.as_datetime());
        updated_at.push(t.updated_at.as_datetime());
        version.push(to_i64(t.version)?);
    }
    Ok(sqlx::query(sql::INSERT_TRIALS)
        .bind(id)
        .bind(agent_id)
        .bind(customer_name)
        .bind(customer_email)
        .bind(company)
        .bind(phone)
        .bind(start_date)
        .bind(end_date)
        .bind(status)
        .bind(created_at)
        .bind(updated_at)
        .bind(version)
        .bind(Hash::ZERO.0.to_vec()))
}

/// After an update matched no row: the record is gone (or of another kind), or at another version.
async fn missing_or_conflict(
    conn: &mut PgConnection,
    kind: Kind,
    id: Uuid,
    expected: u64,
) -> StoreError {
    let sql = match kind {
        Kind::Trial => "select version from trial where id = $1",
        Kind::Job => "select version from job where id = $1",
        Kind::PrecedentSeed => precedent::VERSION_OF,
        _ => "select version from base_entity where id = $1 and entity_type = $2",
    };
    let mut query = sqlx::query_scalar::<_, i64>(sql).bind(id);
    if kind.is_catalog() {
        query = query.bind(kind.as_str());
    }
    match query.fetch_optional(conn).await {
        Ok(None) => StoreError::NotFound { kind, id },
        Ok(Some(actual)) => StoreError::VersionConflict {
            kind,
            id,
            expected,
            actual: u64::try_from(actual).unwrap_or_default(),
        },
        Err(e) => store_error(e),
    }
}

/// Stores an embedding on a searched kind. `in_commit` ignores kinds that are not searched
/// (teams, trials, jobs have no embedding column); outside a commit that is an error.
pub(super) async fn put_embedding(
    conn: &mut PgConnection,
    kind: Kind,
    id: Uuid,
    embedding: &StoredEmbedding,
    in_commit: bool,
) -> StoreResult<bool> {
    let sql = match kind {
        Kind::Industry => "update industry set embedding = $2, embedding_model = $3 where id = $1",
        Kind::Skill => "update skill set embedding = $2, embedding_model = $3 where id = $1",
        Kind::JobRole => "update job_role set embedding = $2, embedding_model = $3 where id = $1",
        Kind::Agent => "update agent set embedding = $2, embedding_model = $3 where id = $1",
        Kind::PrecedentSeed => precedent::PUT_EMBEDDING,
        _ if in_commit => return Ok(true),
        _ => {
            return Err(StoreError::InvalidChange(Cause::from(format!(
                "{kind} records are not searched"
            ))));
        }
    };
    let vector = pgvector::Vector::from(embedding.vector.as_slice().to_vec());
    let done = sqlx::query(sql)
        .bind(id)
        .bind(vector)
        .bind(&embedding.model)
        .execute(conn)
        .await
        .map_err(|e| write_error(e, kind))?;
    Ok(done.rows_affected() == 1)
}

/// Stores vectors of one kind's records, each `(id, version, vector)` computed from the text of
/// `version` and stored only while the record is at that version (not after a later change,
/// whose own vector follows), in one statement. Answers the `(id, version)` pairs stored. Of two
/// vectors for one record at one version the later is written, as one statement after the other
/// would.
pub(super) async fn put_embeddings_at(
    conn: &mut PgConnection,
    kind: Kind,
    vectors: &[(Uuid, u64, &StoredEmbedding)],
) -> StoreResult<HashSet<(Uuid, u64)>> {
    let sql = match kind {
        Kind::Industry => sql::put_vectors_at!("industry"),
        Kind::Skill => sql::put_vectors_at!("skill"),
        Kind::JobRole => sql::put_vectors_at!("job_role"),
        Kind::Agent => sql::put_vectors_at!("agent"),
        _ => {
            return Err(StoreError::InvalidChange(Cause::from(format!(
                "{kind} records are not embedded after their commit"
            ))));
        }
    };
    // The last vector of each record and version (of a record's versions only the one it is
    // at matches), in the order of the ids: rows are locked in the order the appenders lock
    // them (`group::commit_batch`), so the two wait for each other rather than deadlock.
    let mut last: BTreeMap<(Uuid, u64), &StoredEmbedding> = BTreeMap::new();
    for &(id, version, embedding) in vectors {
        last.insert((id, version), embedding);
    }
    let mut ids = Vec::with_capacity(last.len());
    let mut embeddings = Vec::with_capacity(last.len());
    let mut models = Vec::with_capacity(last.len());
    let mut versions = Vec::with_capacity(last.len());
    for ((id, version), embedding) in last {
        ids.push(id);
        embeddings.push(pgvector::Vector::from(embedding.vector.as_slice().to_vec()));
        models.push(embedding.model.as_str());
        versions.push(to_i64(version)?);
    }
    // Planned on each call: a plan cached while the seeded tables held a few rows scans the
    // whole table ever after, one scan per vector (see `sql::put_vectors_at`).
    let rows = sqlx::query(sql)
        .persistent(false)
        .bind(ids)
        .bind(embeddings)
        .bind(models)
        .bind(versions)
        .fetch_all(conn)
        .await
        .map_err(|e| write_error(e, kind))?;
    rows.iter()
        .map(|row| {
            let id: Uuid = row.try_get(0).map_err(store_error)?;
            let version: i64 = row.try_get(1).map_err(store_error)?;
            Ok((id, to_u64(version, "base_entity.version")?))
        })
        .collect()
}

/// The record's JSON without the version hash, which is bound as bytes.
fn record_json(record: &Record) -> StoreResult<Value> {
    let mut value = serde_json::to_value(record)
        .map_err(|e| StoreError::InvalidChange(Cause::from(e.to_string())))?;
    if let Value::Object(map) = &mut value {
        map.remove("version_hash");
    }
    Ok(value)
}

fn version_hash(record: &Record) -> Vec<u8> {
    record.version_hash().unwrap_or(Hash::ZERO).0.to_vec()
}

/// The base row's insert, as the first part of a statement that also inserts the kind's row:
/// `$json` is the record's JSON, `$hash` its version hash (placeholders after the kind's own).
macro_rules! insert_base {
    ($json:literal, $hash:literal) => {
        concat!(
            base_insert_columns!(),
            $hash,
            base_insert_rest!(),
            "jsonb_populate_record(null::base_entity, ",
            $json,
            ") as r) "
        )
    };
}

/// The base rows' insert for records inserted together: `$5` holds their JSON, `$6` their
/// version hashes.
macro_rules! insert_bases {
    () => {
        concat!(
            base_insert_columns!(),
            "u.hash",
            base_insert_rest!(),
            "unnest($5::jsonb[], $6::bytea[]) as u(record, hash), \
             jsonb_populate_record(null::base_entity, u.record) as r) "
        )
    };
}

/// `insert_base!` and `insert_bases!` up to the version hash, which each takes from its own
/// source.
macro_rules! base_insert_columns {
    () => {
        "with base as (insert into base_entity (id, entity_type, external_id, created_at, \
            updated_at, deleted_at, status, version, version_hash, amendment_history, \
            l0_compliance_status, amendment_alignment, certification, append_only, \
            tamper_proof, hash_chain_sha256, tags, custom_attributes, governance_notes, \
            parent_id, child_ids, governance_agent_id) \
        select r.id, r.entity_type, r.external_id, r.created_at, r.updated_at, \
            r.deleted_at, r.status, r.version, "
    };
}

/// `insert_base!` and `insert_bases!` after the version hash, up to the row source `r`.
macro_rules! base_insert_rest {
    () => {
        ", r.amendment_history, r.l0_compliance_status, r.amendment_alignment, \
            r.certification, r.append_only, r.tamper_proof, r.hash_chain_sha256, r.tags, \
            r.custom_attributes, r.governance_notes, r.parent_id, r.child_ids, \
            r.governance_agent_id \
        from "
    };
}

/// The base row's optimistic update, as the first part of a statement that updates the kind's
/// row only where this matched (`… where id = $1 and exists (select from base)`): `$expected`
/// is the version the change was made from.
macro_rules! update_base {
    ($json:literal, $hash:literal, $expected:literal) => {
        concat!(
            "with base as (update base_entity as b set external_id = r.external_id, \
                created_at = r.created_at, updated_at = r.updated_at, \
                deleted_at = r.deleted_at, status = r.status, version = r.version, \
                version_hash = ",
            $hash,
            ", amendment_history = r.amendment_history, \
                l0_compliance_status = r.l0_compliance_status, \
                amendment_alignment = r.amendment_alignment, certification = r.certification, \
                append_only = r.append_only, tamper_proof = r.tamper_proof, \
                hash_chain_sha256 = r.hash_chain_sha256, tags = r.tags, \
                custom_attributes = r.custom_attributes, governance_notes = r.governance_notes, \
                parent_id = r.parent_id, child_ids = r.child_ids, \
                governance_agent_id = r.governance_agent_id \
            from jsonb_populate_record(null::base_entity, ",
            $json,
            ") as r \
            where b.id = r.id and b.entity_type = r.entity_type and b.version = ",
            $expected,
            " returning b.id) "
        )
    };
}

/// The embedding columns of a searched kind's update: dropped when `$flag` is true (the text
/// changed), else kept as they are.
macro_rules! drop_vector_if {
    ($flag:literal) => {
        concat!(
            "embedding = case when ",
            $flag,
            " then null else embedding end, ",
            "embedding_model = case when ",
            $flag,
            " then null else embedding_model end"
        )
    };
}

/// One statement per catalog kind and direction: the base row and the kind's own row together,
/// one round trip. The kind's columns come first (`$1` is the id); then the record's JSON, its
/// version hash and, for an update, the expected version and whether the record's text changed
/// (its vector is dropped).
///
/// An update writes the kind's row only when one of its columns changed or its vector is to be
/// dropped, in that one statement: most changes (a certification, a status, tags) touch only the
/// base row, and a row version written with nothing changed costs an entry in every index of
/// the table, the HNSW graph's included (milliseconds of database CPU for a vector it already
/// holds) unless PostgreSQL can make it a heap-only update. It answers how many base rows
/// matched (0: gone, or at another version).
const INSERT_INDUSTRY: &str = concat!(
    insert_base!("$5", "$6"),
    "insert into industry (id, name, description, name_key) values ($1, $2, $3, $4)"
);
const UPDATE_INDUSTRY: &str = concat!(
    update_base!("$5", "$6", "$7"),
    ", kind as (update industry set name = $2, description = $3, name_key = $4, ",
    drop_vector_if!("$8"),
    " where id = $1 and exists (select from base) \
       and ($8 or (name, description, name_key) is distinct from ($2, $3, $4))) \
     select count(*) from base"
);
const INSERT_SKILL: &str = concat!(
    insert_base!("$6", "$7"),
    "insert into skill (id, name, description, category, name_key) values ($1, $2, $3, $4, $5)"
);
const UPDATE_SKILL: &str = concat!(
    update_base!("$6", "$7", "$8"),
    ", kind as (update skill set name = $2, description = $3, category = $4, name_key = $5, ",
    drop_vector_if!("$9"),
    " where id = $1 and exists (select from base) \
       and ($9 or (name, description, category, name_key) is distinct from ($2, $3, $4, $5))) \
     select count(*) from base"
);
const INSERT_JOB_ROLE: &str = concat!(
    insert_base!("$7", "$8"),
    "insert into job_role (id, name, description, seniority_level, industry_id, name_key) \
     values ($1, $2, $3, $4, $5, $6)"
);
const UPDATE_JOB_ROLE: &str = concat!(
    update_base!("$7", "$8", "$9"),
    ", kind as (update job_role set name = $2, description = $3, seniority_level = $4, \
       industry_id = $5, name_key = $6, ",
    drop_vector_if!("$10"),
    " where id = $1 and exists (select from base) \
       and ($10 or (name, description, seniority_level, industry_id, name_key) \
         is distinct from ($2, $3, $4, $5, $6))) \
     select count(*) from base"
);
const INSERT_TEAM: &str = concat!(
    insert_base!("$7", "$8"),
    "insert into team (id, name, description, job_role_id, industry_id, name_key) \
     values ($1, $2, $3, $4, $5, $6)"
);
/// Teams are not searched: `$10` (the text changed) only makes the row written.
const UPDATE_TEAM: &str = concat!(
    update_base!("$7", "$8", "$9"),
    ", kind as (update team set name = $2, description = $3, job_role_id = $4, \
       industry_id = $5, name_key = $6 \
     where id = $1 and exists (select from base) \
       and ($10 or (name, description, job_role_id, industry_id, name_key) \
         is distinct from ($2, $3, $4, $5, $6))) \
     select count(*) from base"
);
const INSERT_AGENT: &str = concat!(
    insert_base!("$9", "$10"),
    "insert into agent (id, name, description, skill_id, job_role_id, team_id, industry_id, \
     name_key) values ($1, $2, $3, $4, $5, $6, $7, $8)"
);
/// Records of one kind created together (`stage_creations`): `$1` to `$6` as `insert_bases!`
/// reads them, then the kind's own columns, one array each.
const INSERT_INDUSTRIES: &str = concat!(
    insert_bases!(),
    "insert into industry (id, name, description, name_key) \
     select * from unnest($1::uuid[], $2::text[], $3::text[], $4::text[])"
);
const INSERT_SKILLS: &str = concat!(
    insert_bases!(),
    "insert into skill (id, name, description, category, name_key) \
     select id, name, description, category, name_key \
     from unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $7::text[]) \
       as k(id, name, description, name_key, category)"
);
const INSERT_TEAMS: &str = concat!(
    insert_bases!(),
    "insert into team (id, name, description, job_role_id, industry_id, name_key) \
     select id, name, description, job_role_id, industry_id, name_key \
     from unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $7::uuid[], $8::uuid[]) \
       as k(id, name, description, name_key, job_role_id, industry_id)"
);
const INSERT_AGENTS: &str = concat!(
    insert_bases!(),
    "insert into agent (id, name, description, skill_id, job_role_id, team_id, industry_id, \
       name_key) \
     select id, name, description, skill_id, job_role_id, team_id, industry_id, name_key \
     from unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $7::uuid[], $8::uuid[], \
       $9::uuid[], $10::uuid[]) \
       as k(id, name, description, name_key, skill_id, job_role_id, team_id, industry_id)"
);
const UPDATE_AGENT: &str = concat!(
    update_base!("$9", "$10", "$11"),
    ", kind as (update agent set name = $2, description = $3, skill_id = $4, job_role_id = $5, \
       team_id = $6, industry_id = $7, name_key = $8, ",
    drop_vector_if!("$12"),
    " where id = $1 and exists (select from base) \
       and ($12 or (name, description, skill_id, job_role_id, team_id, industry_id, name_key) \
         is distinct from ($2, $3, $4, $5, $6, $7, $8))) \
     select count(*) from base"
);

async fn insert_record(conn: &mut PgConnection, record: &Record) -> StoreResult<bool> {
    let kind = record.kind();
    if let Some(base) = record.base() {
        return write_catalog(conn, record, base, None).await;
    }
    match record {
        Record::Trial(t) => write_trial(conn, t, None).await,
        Record::Job(j) => write_job(conn, j, None).await,
        Record::PrecedentSeed(p) => precedent::write_precedent(conn, p, None).await,
        _ => Err(StoreError::Internal(Cause::from(format!(
            "{kind} has no base"
        )))),
    }
}

/// `drop_vector`: the record's text changed, so its vector goes (catalog kinds; a precedent
/// seed's vector is replaced by the change's own).
async fn update_record(
    conn: &mut PgConnection,
    record: &Record,
    expected: u64,
    drop_vector: bool,
) -> StoreResult<bool> {
    let kind = record.kind();
    if let Some(base) = record.base() {
        return write_catalog(conn, record, base, Some((expected, drop_vector))).await;
    }
    match record {
        Record::Trial(t) => write_trial(conn, t, Some(expected)).await,
        Record::Job(j) => write_job(conn, j, Some(expected)).await,
        Record::PrecedentSeed(p) => precedent::write_precedent(conn, p, Some(expected)).await,
        _ => Err(StoreError::Internal(Cause::from(format!(
            "{kind} has no base"
        )))),
    }
}

/// Writes a catalog record: its base row and its kind's row in one statement (inserted when
/// `update` is `None`, else updated from the version it names, dropping the vector when its
/// flag is set), then a job role's skills. False when an update matched no row (the record is
/// gone, or at another version).
async fn write_catalog(
    conn: &mut PgConnection,
    record: &Record,
    base: &Base,
    update: Option<(u64, bool)>,
) -> StoreResult<bool> {
    let kind = record.kind();
    let fail = |e| write_error(e, kind);
    let id = base.id;
    let create = update.is_none();
    let pick = |insert, update| if create { insert } else { update };
    let query = match record {
        Record::Industry(e) => sqlx::query(pick(INSERT_INDUSTRY, UPDATE_INDUSTRY))
            .bind(id)
            .bind(e.body.name.as_str())
            .bind(e.body.description.as_str())
            .bind(e.body.name.unique_key(kind)),
        Record::Skill(e) => sqlx::query(pick(INSERT_SKILL, UPDATE_SKILL))
            .bind(id)
            .bind(e.body.name.as_str())
            .bind(e.body.description.as_str())
            .bind(e.body.category.as_str())
            .bind(e.body.name.unique_key(kind)),
        Record::JobRole(e) => sqlx::query(pick(INSERT_JOB_ROLE, UPDATE_JOB_ROLE))
            .bind(id)
            .bind(e.body.name.as_str())
            .bind(e.body.description.as_str())
            .bind(e.body.seniority_level.as_str())
            .bind(e.body.industry_id)
            .bind(e.body.name.unique_key(kind)),
        Record::Team(e) => sqlx::query(pick(INSERT_TEAM, UPDATE_TEAM))
            .bind(id)
            .bind(e.body.name.as_str())
            .bind(e.body.description.as_str())
            .bind(e.body.job_role_id)
            .bind(e.body.industry_id)
            .bind(e.body.name.unique_key(kind)),
        Record::Agent(e) => sqlx::query(pick(INSERT_AGENT, UPDATE_AGENT))
            .bind(id)
            .bind(e.body.name.as_str())
            .bind(e.body.description.as_str())
            .bind(e.body.skill_id)
            .bind(e.body.job_role_id)
            .bind(e.body.team_id)
            .bind(e.body.industry_id)
            .bind(e.body.name.unique_key(kind)),
        Record::Trial(_) | Record::Job(_) | Record::PrecedentSeed(_) => {
            return Err(StoreError::Internal(Cause::from(format!(
                "{kind} has no base"
            ))));
        }
    };
    let query = query
        .bind(Json(record_json(record)?))
        .bind(version_hash(record));
    let written = match update {
        None => query
            .execute(&mut *conn)
            .await
            .map_err(fail)?
            .rows_affected(),
        Some((expected, drop_vector)) => {
            let matched = query
                .bind(to_i64(expected)?)
                .bind(drop_vector)
                .fetch_one(&mut *conn)
                .await
                .map_err(fail)?;
            let matched: i64 = matched.try_get(0).map_err(store_error)?;
            u64::try_from(matched).unwrap_or_default()
        }
    };
    if written != 1 {
        return Ok(false);
    }
    if let Record::JobRole(e) = record {
        if !create {
            sqlx::query("delete from job_role_skill where job_role_id = $1")
                .bind(id)
                .execute(&mut *conn)
                .await
                .map_err(fail)?;
        }
        sqlx::query(
            "insert into job_role_skill (job_role_id, position, skill_id) \
             select $1, (s.ord - 1)::int, s.skill_id \
             from unnest($2::uuid[]) with ordinality as s(skill_id, ord)",
        )
        .bind(id)
        .bind(&e.body.required_skills)
        .execute(&mut *conn)
        .await
        .map_err(fail)?;
    }
    Ok(true)
}

/// Inserts (`expected` is `None`) or updates a trial and rewrites its deliverables.
async fn write_trial(
    conn: &mut PgConnection,
    t: &Trial,
    expected: Option<u64>,
) -> StoreResult<bool> {
    let fail = |e| write_error(e, Kind::Trial);
    let sql = if expected.is_none() {
        "insert into trial (id, agent_id, customer_name, customer_email, company, phone, \
         start_date, end_date, status, created_at, updated_at, version, version_hash) \
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
    } else {
        "update trial set agent_id = $2, customer_name = $3, customer_email = $4, company = $5, \
         phone = $6, start_date = $7, end_date = $8, status = $9, created_at = $10, \
         updated_at = $11, version = $12, version_hash = $13 where id = $1 and version = $14"
    };
    let mut query = sqlx::query(sql)
        .bind(t.id)
        .bind(t.agent_id)
        .bind(t.customer_name.as_str())
        .bind(t.customer_email.as_str())
        .bind(t.company.as_ref().map(|c| c.as_str()))
        .bind(t.phone.as_ref().map(|p| p.as_str()))
        .bind(t.start_date.as_datetime())
        .bind(t.end_date.as_datetime())
        .bind(t.status.as_str())
        .bind(t.created_at.as_datetime())
        .bind(t.updated_at.as_datetime())
        .bind(to_i64(t.version)?)
        .bind(t.version_hash.unwrap_or(Hash::ZERO).0.to_vec());
    if let Some(expected) = expected {
        query = query.bind(to_i64(expected)?);
    }
    let done = query.execute(&mut *conn).await.map_err(fail)?;
    if done.rows_affected() != 1 {
        return Ok(false);
    }
    if expected.is_some() {
        sqlx::query("delete from trial_deliverable where trial_id = $1")
            .bind(t.id)
            .execute(&mut *conn)
            .await
            .map_err(fail)?;
    }
    if !t.deliverables.is_empty() {
        let deliverables = serde_json::to_value(&t.deliverables)
            .map_err(|e| StoreError::InvalidChange(Cause::from(e.to_string())))?;
        sqlx::query(
            "insert into trial_deliverable (trial_id, position, id, title, description, url, \
                 created_at) \
             select $1, (d.ord - 1)::int, r.id, r.title, r.description, r.url, r.created_at \
             from jsonb_array_elements($2) with ordinality as d(value, ord), \
                  jsonb_populate_record(null::trial_deliverable, d.value) as r",
        )
        .bind(t.id)
        .bind(Json(deliverables))
        .execute(&mut *conn)
        .await
        .map_err(fail)?;
    }
    Ok(true)
}

/// Inserts (`expected` is `None`) or updates a job.
async fn write_job(conn: &mut PgConnection, j: &Job, expected: Option<u64>) -> StoreResult<bool> {
    let sql = if expected.is_none() {
        "insert into job (id, agent_id, trial_id, title, input, status, output, error, \
         created_at, updated_at, started_at, finished_at, version, version_hash) \
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
    } else {
        "update job set agent_id = $2, trial_id = $3, title = $4, input = $5, status = $6, \
         output = $7, error = $8, created_at = $9, updated_at = $10, started_at = $11, \
         finished_at = $12, version = $13, version_hash = $14 where id = $1 and version = $15"
    };
    let mut query = sqlx::query(sql)
        .bind(j.id)
        .bind(j.agent_id)
        .bind(j.trial_id)
        .bind(j.title.as_str())
        .bind(Json(&j.input))
        .bind(j.status.as_str())
        .bind(j.output.as_ref().map(Json))
        .bind(j.error.as_deref())
        .bind(j.created_at.as_datetime())
        .bind(j.updated_at.as_datetime())
        .bind(j.started_at.map(|t| t.as_datetime()))
        .bind(j.finished_at.map(|t| t.as_datetime()))
        .bind(to_i64(j.version)?)
        .bind(j.version_hash.unwrap_or(Hash::ZERO).0.to_vec());
    if let Some(expected) = expected {
        query = query.bind(to_i64(expected)?);
    }
    let done = query
        .execute(&mut *conn)
        .await
        .map_err(|e| write_error(e, Kind::Job))?;
    Ok(done.rows_affected() == 1)
}

pub(super) fn to_i64(value: u64) -> StoreResult<i64> {
    i64::try_from(value).map_err(|_| {
        StoreError::InvalidChange(Cause::from(format!("{value} is too large to store")))
    })
}

pub(super) fn to_u64(value: i64, what: &str) -> StoreResult<u64> {
    u64::try_from(value)
        .map_err(|_| StoreError::Internal(Cause::from(format!("{what} is negative: {value}"))))
}

pub(super) fn to_hash(bytes: &[u8], what: &str) -> StoreResult<Hash> {
    <[u8; 32]>::try_from(bytes)
        .map(Hash)
        .map_err(|_| StoreError::Internal(Cause::from(format!("{what} is not 32 bytes"))))
}
