//! The errors the catalog's operations return: few, and meaningful to the caller.

use crate::model::Kind;
use crate::store::StoreError;
use crate::validate::{Violation, rules};

/// What went wrong in a catalog operation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The record does not exist.
    #[error("{kind} {id} not found")]
    NotFound {
        /// What was looked for.
        kind: Kind,
        /// Its id (or name) as given.
        id: String,
    },
    /// The change conflicts with the catalog's state: a duplicate name, a dependent that is
    /// still active, a status change that is not allowed.
    #[error("{0}")]
    Conflict(String),
    /// The record changed since the version the caller read.
    #[error("the record is at version {actual}, not {expected}")]
    Precondition {
        /// The version the caller had.
        expected: u64,
        /// The version it is at.
        actual: u64,
    },
    /// The input or the entity breaks rules; every violation is listed.
    #[error("{} rule violation(s): {}", .0.len(), .0.iter().map(|v| v.message.as_str()).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<Violation>),
    /// The store (or the embedder) cannot serve now; the same call may succeed later.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// A failure the caller cannot act on.
    #[error("internal error: {0}")]
    Internal(String),
}

/// A catalog result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// One input violation.
    pub fn input(field: &str, message: impl Into<String>) -> Self {
        Error::Invalid(vec![Violation::new(rules::INPUT, field, message)])
    }

    /// True when every violation is a constitutional rule (the client shows them as such).
    pub fn is_constitutional(&self) -> bool {
        matches!(self, Error::Invalid(v) if !v.is_empty() && v.iter().any(Violation::is_constitutional))
    }
}

/// The rule a missing reference breaks, by the referencing kind and field.
fn reference_rule(kind: Kind, field: &str) -> &'static str {
    match (kind, field) {
        (Kind::JobRole, "required_skills") => rules::L1_JOBROLE_03,
        (Kind::JobRole, _) => rules::L1_JOBROLE_05,
        (Kind::Team, "job_role_id") => rules::L1_TEAM_02,
        (Kind::Team, _) => rules::L1_TEAM_03,
        (Kind::Agent, "skill_id") => rules::L1_AGENT_01,
        (Kind::Agent, "job_role_id") => rules::L1_AGENT_02,
        (Kind::Agent, "industry_id") => rules::L1_AGENT_03,
        (Kind::Agent, _) => rules::L1_AGENT_05,
        _ => rules::INPUT,
    }
}

impl Error {
    /// Maps a store error for a change to a record of `kind`.
    pub fn from_store(kind: Kind, e: StoreError) -> Self {
        match e {
            StoreError::NotFound { kind, id } => Error::NotFound {
                kind,
                id: id.to_string(),
            },
            StoreError::Duplicate { kind, field } => {
                Error::Conflict(format!("a {kind} with this {field} already exists"))
            }
            StoreError::MissingReference { field, target } => Error::Invalid(vec![Violation::new(
                reference_rule(kind, field),
                field,
                format!("{field} refers to a {target} that does not exist"),
            )]),
            StoreError::VersionConflict {
                expected, actual, ..
            } => Error::Precondition { expected, actual },
            StoreError::Immutable { field } => Error::Invalid(vec![Violation::new(
                rules::INPUT,
                field,
                format!("{field} cannot change once set"),
            )]),
            e @ StoreError::InvalidTransition { .. } => Error::Conflict(e.to_string()),
            StoreError::InvalidChange(m) => Error::input("", m),
            StoreError::Unavailable(m) => Error::Unavailable(m),
            StoreError::Internal(m) => Error::Internal(m),
        }
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::MissingReference { .. } => Error::from_store(Kind::Agent, e),
            other => Error::from_store(Kind::Industry, other),
        }
    }
}
