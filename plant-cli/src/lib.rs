//! The operator's command line for the Plant catalog.
//!
//! Every subcommand is a function in [`commands`] over the library's [`Catalog`] and
//! PostgreSQL store; this crate adds only the command line: options (each also readable from an
//! environment variable), progress on standard error, results on standard output, and exit
//! codes ([`Exit`]).
//!
//! [`Catalog`]: plant_core::Catalog
#![forbid(unsafe_code)]

mod checkpoint_file;
pub mod commands;
mod context;
mod error;
mod log_key;
mod progress;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

pub use error::{CliError, Exit, chain};

const AFTER_HELP: &str = "\
Exit codes:
  0  success
  1  verification failed: the audit chain, a row or a checkpoint does not verify;
     `witness`: the checkpoint was refused (not signed by the log, or not consistent);
     `revalidate --dry-run`: a certified entity no longer passes the current rule set
  2  usage or configuration error (bad option, missing DATABASE_URL, bad key, short secret)
  3  database unavailable (unreachable, login refused, PostgreSQL < 14, pgvector missing)
  4  the operation failed (a migration, a seed entry, embedding, minting a token)
  5  a local file could not be read or written

Every option can also be set through the environment variable shown next to it.
Secrets are best passed that way: command-line arguments are visible in the process list.";

/// The Plant catalog's operator command line.
#[derive(Debug, Parser)]
#[command(name = "plant-cli", version, about, after_help = AFTER_HELP)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply the embedded database migrations (idempotent; safe to run from several places at
    /// once).
    Migrate(commands::migrate::MigrateArgs),
    /// Load the seed catalog into the database (idempotent: a second run changes nothing).
    Seed(commands::seed::SeedArgs),
    /// Verify the audit chain, every record against its latest entry, and the checkpoints.
    Verify(commands::verify::VerifyArgs),
    /// Sign the audit log's Merkle tree as a C2SP checkpoint, store it and append it to a file.
    Checkpoint(commands::checkpoint::CheckpointArgs),
    /// Cosign a new checkpoint after checking it extends the last one accepted, or refuse.
    Witness(commands::witness::WitnessArgs),
    /// Mint an HS256 bearer token for local use with plant-server.
    Token(commands::token::TokenArgs),
    /// Generate an ed25519 key for signing checkpoints.
    Keygen(commands::keygen::KeygenArgs),
    /// Write the whole catalog (entities, their versions, certifications, the audit chain) as
    /// one JSON document.
    Export(commands::transfer::ExportArgs),
    /// Load an export into an empty database through the audited write path (ids kept).
    Import(commands::transfer::ImportArgs),
    /// Re-check every certified entity against the current rule set; send failures to review.
    Revalidate(commands::revalidate::RevalidateArgs),
    /// Re-embed every record whose embedding was made by another model than the configured one.
    Embed(commands::embed::EmbedArgs),
}

/// The database connection, for the subcommands that need one.
#[derive(Debug, Clone, Args)]
pub struct DbArgs {
    /// PostgreSQL connection URL: postgres://, postgresql://, postgresql+asyncpg://, or a Cloud
    /// SQL socket (postgres://user:password@/db?host=/cloudsql/PROJECT:REGION:INSTANCE).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, value_name = "URL")]
    pub database_url: Option<String>,
}

/// Which embedder computes search vectors.
#[derive(Debug, Clone, Args)]
pub struct EmbedderArgs {
    /// Directory holding the all-MiniLM-L6-v2 model (model.safetensors, tokenizer.json,
    /// config.json; scripts/fetch-model.sh fetches it). Unset: the lexical hashing embedder.
    #[arg(long, env = "PLANT_EMBED_MODEL_DIR", value_name = "DIR")]
    pub embed_model_dir: Option<PathBuf>,
}

/// Runs a parsed command line, writing results to `out`; progress and notes go to standard
/// error. Returns the exit code for an outcome that is not an error (such as a failed
/// verification).
pub async fn run(cli: Cli, out: &mut (dyn Write + Send)) -> Result<Exit, CliError> {
    match cli.command {
        Command::Migrate(args) => commands::migrate::run(args, out).await,
        Command::Seed(args) => commands::seed::run(args, out).await,
        Command::Verify(args) => commands::verify::run(args, out).await,
        Command::Checkpoint(args) => commands::checkpoint::run(args, out).await,
        Command::Token(args) => commands::token::run(args, out),
        Command::Keygen(args) => commands::keygen::run(args, out),
        Command::Witness(args) => commands::witness::run(args, out),
        Command::Embed(args) => commands::embed::run(args, out).await,
        Command::Revalidate(args) => commands::revalidate::run(args, out).await,
        Command::Export(args) => commands::transfer::run_export(args, out).await,
        Command::Import(args) => commands::transfer::run_import(args, out).await,
    }
}

/// The whole program: parses the process's arguments (clap prints help and usage errors
/// itself, exiting 0 or 2), runs, prints an error as one line with its causes, and returns the
/// exit code.
pub fn main_from_env() -> ExitCode {
    let cli = Cli::parse();
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)
        .and_then(|runtime| {
            let mut stdout = std::io::stdout();
            runtime.block_on(run(cli, &mut stdout))
        });
    match result {
        Ok(exit) => exit.into(),
        Err(err) => {
            progress::note(&format!("error: {}", err.report()));
            err.exit().into()
        }
    }
}

/// Writes one line of output.
pub(crate) fn emit(out: &mut (dyn Write + Send), line: &str) -> Result<(), CliError> {
    writeln!(out, "{line}")
        .and_then(|()| out.flush())
        .map_err(CliError::Output)
}
