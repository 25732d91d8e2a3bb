//! The command line's errors, each with its exit code, printed as one line with the cause chain.

use std::error::Error as StdError;
use std::path::PathBuf;
use std::process::ExitCode;

use plant_core::audit::{CheckpointError, NoteError};
use plant_core::store::postgres::ConnectError;

/// The process exit codes (also listed in `--help`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Success.
    Ok = 0,
    /// `verify` found the audit chain broken.
    VerificationFailed = 1,
    /// Bad usage or configuration: a missing or invalid option, variable, key or file.
    Usage = 2,
    /// The database cannot be reached or cannot serve (down, refused login, too old, no pgvector).
    DatabaseUnavailable = 3,
    /// The operation itself failed: a migration, a seed entry, an embedding, minting a token.
    Failed = 4,
    /// Reading or writing a local file failed.
    Io = 5,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit as u8)
    }
}

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A missing or invalid option or setting.
    #[error("{0}")]
    Usage(String),
    /// `DATABASE_URL` is needed and missing.
    #[error(
        "DATABASE_URL is not set: `{command}` needs the database (set DATABASE_URL or pass --database-url, e.g. postgres://user:password@host:5432/plant)"
    )]
    MissingDatabaseUrl {
        /// The subcommand that needs it.
        command: &'static str,
    },
    /// Connecting to or migrating the database failed.
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// A catalog operation failed.
    #[error("{context}")]
    Catalog {
        /// What was being done.
        context: String,
        /// Why it failed.
        #[source]
        source: plant_core::Error,
    },
    /// A signing key is malformed or unusable.
    #[error("{context}")]
    Key {
        /// Where the key came from.
        context: String,
        /// What is wrong with it.
        #[source]
        source: CheckpointError,
    },
    /// A note key (the log's or a witness's) is malformed or unusable.
    #[error("{context}")]
    NoteKey {
        /// Where the key came from.
        context: String,
        /// What is wrong with it.
        #[source]
        source: NoteError,
    },
    /// The transparency log's tree or proofs could not be made.
    #[error("{context}")]
    Proof {
        /// What was being done.
        context: &'static str,
        /// Why it failed.
        #[source]
        source: plant_core::audit::ProofError,
    },
    /// Minting a token failed.
    #[error("cannot mint the token")]
    Token(#[source] jsonwebtoken::errors::Error),
    /// A local file could not be read or written.
    #[error("cannot {action} {}", path.display())]
    Io {
        /// What was being done (`read`, `write`, …).
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },
    /// Writing to standard output failed (a closed pipe, a full disk).
    #[error("cannot write the output")]
    Output(#[source] std::io::Error),
    /// The async runtime could not start.
    #[error("cannot start the async runtime")]
    Runtime(#[source] std::io::Error),
}

impl CliError {
    /// A catalog error with what was being done.
    pub fn catalog(context: impl Into<String>, source: plant_core::Error) -> Self {
        Self::Catalog {
            context: context.into(),
            source,
        }
    }

    /// The exit code this error ends the process with.
    pub fn exit(&self) -> Exit {
        match self {
            Self::Usage(_)
            | Self::MissingDatabaseUrl { .. }
            | Self::Key { .. }
            | Self::NoteKey { .. } => Exit::Usage,
            Self::Connect(e) => match e {
                ConnectError::Url(_) => Exit::Usage,
                ConnectError::Migrate(_) | ConnectError::NameCollision { .. } => Exit::Failed,
                ConnectError::Unreachable(_)
                | ConnectError::ServerTooOld { .. }
                | ConnectError::MissingVector
                | ConnectError::VectorNotInstalled
                | ConnectError::Query(_) => Exit::DatabaseUnavailable,
            },
            Self::Catalog { source, .. } => match source {
                plant_core::Error::Unavailable(_) => Exit::DatabaseUnavailable,
                _ => Exit::Failed,
            },
            Self::Proof { source, .. } => match source {
                plant_core::audit::ProofError::Store(_) => Exit::DatabaseUnavailable,
                _ => Exit::Failed,
            },
            Self::Token(_) | Self::Runtime(_) => Exit::Failed,
            Self::Io { .. } | Self::Output(_) => Exit::Io,
        }
    }

    /// The message and its causes on one line, each cause once: `a: b: c`.
    pub fn report(&self) -> String {
        chain(self)
    }
}

/// Joins an error and its sources with `: `, skipping a source whose text the line already
/// holds (wrappers that print their source inline would otherwise repeat it).
pub fn chain(err: &(dyn StdError + 'static)) -> String {
    let mut line = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !text.is_empty() && !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        source = cause.source();
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_lists_each_cause_once() {
        let err = CliError::Io {
            action: "read",
            path: PathBuf::from("/nope"),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        };
        assert_eq!(err.report(), "cannot read /nope: no such file");
        assert_eq!(err.exit(), Exit::Io);
    }

    #[test]
    fn inline_sources_are_not_repeated() {
        let err = CliError::catalog(
            "seeding failed",
            plant_core::Error::Unavailable("pool timed out".into()),
        );
        assert_eq!(err.report(), "seeding failed: unavailable: pool timed out");
        assert_eq!(err.exit(), Exit::DatabaseUnavailable);
    }
}
