//! The errors the catalog's operations return: few, and meaningful to the caller.

use std::fmt;

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
    Unavailable(#[source] Cause),
    /// A failure the caller cannot act on.
    #[error("internal error: {0}")]
    Internal(#[source] Cause),
}

/// What caused a failure: a message for people and, when another error caused it, that error,
/// kept whole as the [`std::error::Error::source`] so that logs show the full cause chain.
///
/// ```
/// use std::error::Error as _;
/// use plant_core::error::Cause;
/// let io = std::io::Error::other("connection reset");
/// let cause = Cause::with("database connection failed", io);
/// assert_eq!(cause.to_string(), "database connection failed");
/// assert_eq!(cause.source().unwrap().to_string(), "connection reset");
/// assert!(Cause::from("no source").source().is_none());
/// ```
#[derive(Debug)]
pub struct Cause {
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl Cause {
    /// A cause with only a message.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            source: None,
        }
    }

    /// A cause with a message and the error behind it.
    pub fn with(
        message: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    ) -> Self {
        Self {
            message: message.into(),
            source: Some(source.into()),
        }
    }

    /// The message (without the source's).
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Cause {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<String> for Cause {
    fn from(message: String) -> Self {
        Self::new(message)
    }
}

impl From<&str> for Cause {
    fn from(message: &str) -> Self {
        Self::new(message)
    }
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

/// Every store error names the kind it is about (a missing reference, the kind making it), so
/// the rule id of a missing reference is known, never guessed.
impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { kind, id } => Error::NotFound {
                kind,
                id: id.to_string(),
            },
            StoreError::Duplicate { kind, field } => {
                Error::Conflict(format!("a {kind} with this {field} already exists"))
            }
            StoreError::MissingReference {
                kind,
                field,
                target,
            } => Error::Invalid(vec![Violation::new(
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
            StoreError::InvalidChange(m) => Error::input("", m.message()),
            StoreError::Unavailable(m) => Error::Unavailable(m),
            StoreError::Internal(m) => Error::Internal(m),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_reference_keeps_the_rule_of_the_kind_that_made_it() {
        let cases = [
            (Kind::Team, "job_role_id", Kind::JobRole, rules::L1_TEAM_02),
            (Kind::Team, "industry_id", Kind::Industry, rules::L1_TEAM_03),
            (
                Kind::Agent,
                "job_role_id",
                Kind::JobRole,
                rules::L1_AGENT_02,
            ),
            (
                Kind::JobRole,
                "required_skills",
                Kind::Skill,
                rules::L1_JOBROLE_03,
            ),
        ];
        for (kind, field, target, rule) in cases {
            let e = Error::from(StoreError::MissingReference {
                kind,
                field,
                target,
            });
            match e {
                Error::Invalid(v) => assert_eq!(v[0].rule, rule, "{kind} {field}"),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn store_failures_keep_their_cause_as_the_source() {
        let io = std::io::Error::other("connection reset by peer");
        let store = StoreError::Unavailable(Cause::with("database connection failed", io));
        let e = Error::from(store);
        let mut chain = Vec::new();
        let mut next: Option<&dyn std::error::Error> = Some(&e);
        while let Some(err) = next {
            chain.push(err.to_string());
            next = err.source();
        }
        assert_eq!(
            chain,
            [
                "unavailable: database connection failed",
                "database connection failed",
                "connection reset by peer"
            ]
        );
    }
}
