//! From database errors to [`StoreError`]: by the name of the constraint that refused the write
//! (every constraint in `migrations/` is named), then by SQLSTATE class.

use sqlx::error::DatabaseError;
use sqlx::postgres::PgDatabaseError;

use crate::model::Kind;
use crate::store::StoreError;

/// Maps an error raised while writing a record of `kind`.
pub(super) fn write_error(err: sqlx::Error, kind: Kind) -> StoreError {
    if let Some(db) = err.as_database_error()
        && let Some(mapped) = db.constraint().and_then(|c| by_constraint(c, kind, db))
    {
        return mapped;
    }
    store_error(err)
}

/// Maps an error that no constraint explains: unavailability, bad input, or internal.
pub(super) fn store_error(err: sqlx::Error) -> StoreError {
    match &err {
        sqlx::Error::PoolTimedOut => {
            StoreError::Unavailable("no database connection became free in time".into())
        }
        sqlx::Error::PoolClosed => StoreError::Unavailable("the connection pool is closed".into()),
        sqlx::Error::Io(e) => StoreError::Unavailable(format!("database connection failed: {e}")),
        sqlx::Error::Tls(e) => StoreError::Unavailable(format!("database TLS failed: {e}")),
        sqlx::Error::WorkerCrashed => {
            StoreError::Unavailable("database connection worker crashed".into())
        }
        sqlx::Error::Database(db) => by_sqlstate(db.as_ref()),
        other => StoreError::Internal(format!("database: {other}")),
    }
}

fn by_sqlstate(db: &dyn DatabaseError) -> StoreError {
    let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
    let message = db.message();
    match code.as_str() {
        // serialization failure, deadlock: the same call may succeed when retried
        "40001" | "40P01" => {
            StoreError::Unavailable(format!("concurrent change, retry: {message}"))
        }
        // statement timeout or cancellation
        "57014" => StoreError::Unavailable(format!("the database took too long: {message}")),
        // too many connections, out of memory/disk, shutting down, cannot connect now
        c if c.starts_with("08") || c.starts_with("53") || c.starts_with("57P") => {
            StoreError::Unavailable(format!("database unavailable: {message}"))
        }
        // data exceptions: a NUL byte, a value out of range, text the type cannot hold
        c if c.starts_with("22") => StoreError::InvalidChange(message.to_owned()),
        _ => StoreError::Internal(format!(
            "database error {code}{}: {message}",
            db.constraint()
                .map(|c| format!(" ({c})"))
                .unwrap_or_default()
        )),
    }
}

fn by_constraint(constraint: &str, kind: Kind, db: &dyn DatabaseError) -> Option<StoreError> {
    use StoreError::{Duplicate, Immutable, MissingReference};
    let missing = |field, target| Some(MissingReference { field, target });
    match constraint {
        "base_entity_pkey"
        | "trial_pkey"
        | "job_pkey"
        | "precedent_seed_pkey"
        | "audit_log_entity_version_key" => Some(Duplicate { kind, field: "id" }),
        "industry_name_key"
        | "skill_name_key"
        | "job_role_name_key"
        | "team_name_key"
        | "agent_name_key"
        | "industry_name_fold_key"
        | "skill_name_fold_key"
        | "job_role_name_fold_key"
        | "team_name_fold_key"
        | "agent_name_fold_key" => Some(Duplicate {
            kind,
            field: "name",
        }),
        "precedent_seed_seed_id_key" => Some(Duplicate {
            kind,
            field: "seed_id",
        }),
        "precedent_seed_supersedes_fk" => missing("supersedes", Kind::PrecedentSeed),
        "precedent_seed_superseded_by_fk" => missing("superseded_by", Kind::PrecedentSeed),
        "precedent_seed_no_cycle" => Some(StoreError::InvalidChange(
            "a precedent seed's supersession would form a cycle".into(),
        )),
        "base_entity_external_id_key" => Some(Duplicate {
            kind,
            field: "external_id",
        }),
        "job_role_skill_skill_fk" => missing("required_skills", Kind::Skill),
        "job_role_industry_fk" | "team_industry_fk" | "agent_industry_fk" => {
            missing("industry_id", Kind::Industry)
        }
        "team_job_role_fk" | "agent_job_role_fk" => missing("job_role_id", Kind::JobRole),
        "agent_skill_fk" => missing("skill_id", Kind::Skill),
        "agent_team_fk" => missing("team_id", Kind::Team),
        "trial_agent_fk" | "job_agent_fk" => missing("agent_id", Kind::Agent),
        "job_trial_fk" => missing("trial_id", Kind::Trial),
        "agent_industry_locked" => Some(Immutable {
            field: "industry_id",
        }),
        "trial_status_transition"
        | "job_status_transition"
        | "precedent_seed_status_transition" => {
            // The trigger puts the old status in DETAIL and the new one in HINT.
            let pg = db.try_downcast_ref::<PgDatabaseError>();
            Some(StoreError::InvalidTransition {
                kind,
                from: pg
                    .and_then(PgDatabaseError::detail)
                    .unwrap_or("?")
                    .to_owned(),
                to: pg.and_then(PgDatabaseError::hint).unwrap_or("?").to_owned(),
            })
        }
        c if c.ends_with("_check") => {
            Some(StoreError::InvalidChange(format!("{c}: {}", db.message())))
        }
        _ => None,
    }
}
