//! From database errors to [`StoreError`]: by the name of the constraint that refused the write
//! (every constraint in `migrations/` is named), then by SQLSTATE class.

use sqlx::error::DatabaseError;
use sqlx::postgres::PgDatabaseError;

use crate::error::Cause;
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

/// True for a deadlock or a serialization failure: the same change may succeed when tried again.
pub(super) fn is_retryable(err: &StoreError) -> bool {
    let StoreError::Unavailable(cause) = err else {
        return false;
    };
    std::error::Error::source(cause)
        .and_then(|source| source.downcast_ref::<sqlx::Error>())
        .and_then(|e| e.as_database_error())
        .and_then(|db| db.code())
        .is_some_and(|code| code == "40P01" || code == "40001")
}

/// What kind of failure a database error is, for [`store_error`].
enum Class {
    Unavailable,
    Invalid,
    Internal,
}

/// Maps an error that no constraint explains: unavailability, bad input, or internal. The
/// database error itself stays the source of the result (logs show it), not its text.
pub(crate) fn store_error(err: sqlx::Error) -> StoreError {
    let (class, message) = match &err {
        sqlx::Error::PoolTimedOut => (
            Class::Unavailable,
            "no database connection became free in time".to_owned(),
        ),
        sqlx::Error::PoolClosed => (Class::Unavailable, "the connection pool is closed".into()),
        sqlx::Error::Io(_) => (Class::Unavailable, "database connection failed".into()),
        sqlx::Error::Tls(_) => (Class::Unavailable, "database TLS failed".into()),
        sqlx::Error::WorkerCrashed => (
            Class::Unavailable,
            "database connection worker crashed".into(),
        ),
        sqlx::Error::Database(db) => by_sqlstate(db.as_ref()),
        _ => (Class::Internal, "database call failed".into()),
    };
    let cause = Cause::with(message, err);
    match class {
        Class::Unavailable => StoreError::Unavailable(cause),
        Class::Invalid => StoreError::InvalidChange(cause),
        Class::Internal => StoreError::Internal(cause),
    }
}

fn by_sqlstate(db: &dyn DatabaseError) -> (Class, String) {
    let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
    match code.as_str() {
        // serialization failure, deadlock: the same call may succeed when retried
        "40001" | "40P01" => (Class::Unavailable, "concurrent change, retry".into()),
        // statement timeout or cancellation
        "57014" => (Class::Unavailable, "the database took too long".into()),
        // too many connections, out of memory/disk, shutting down, cannot connect now
        c if c.starts_with("08") || c.starts_with("53") || c.starts_with("57P") => {
            (Class::Unavailable, "database unavailable".into())
        }
        // data exceptions (a NUL byte, a value out of range, text the type cannot hold): the
        // caller's input, so the database's message is the message
        c if c.starts_with("22") => (Class::Invalid, db.message().to_owned()),
        _ => (
            Class::Internal,
            format!(
                "database error {code}{}",
                db.constraint()
                    .map(|c| format!(" ({c})"))
                    .unwrap_or_default()
            ),
        ),
    }
}

fn by_constraint(constraint: &str, kind: Kind, db: &dyn DatabaseError) -> Option<StoreError> {
    use StoreError::{Duplicate, Immutable, MissingReference};
    let missing = |field, target| {
        Some(MissingReference {
            kind,
            field,
            target,
        })
    };
    match constraint {
        // A catalog record's base row and its kind's row are inserted by one statement, which
        // may meet either key first.
        "base_entity_pkey"
        | "base_entity_id_type_key"
        | "industry_pkey"
        | "skill_pkey"
        | "job_role_pkey"
        | "team_pkey"
        | "agent_pkey"
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
        "precedent_seed_no_cycle" => Some(StoreError::InvalidChange(Cause::from(
            "a precedent seed's supersession would form a cycle",
        ))),
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
        c if c.ends_with("_check") => Some(StoreError::InvalidChange(Cause::from(format!(
            "{c}: {}",
            db.message()
        )))),
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use std::error::Error as _;

    use super::*;

    #[test]
    fn a_lost_connection_is_unavailable_and_keeps_the_io_error() {
        let err = store_error(sqlx::Error::Io(std::io::Error::other("reset by peer")));
        assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
        let cause = err.source().unwrap();
        assert_eq!(cause.to_string(), "database connection failed");
        let sqlx = cause.source().unwrap();
        assert!(sqlx.to_string().contains("reset by peer"), "{sqlx}");
    }
}
