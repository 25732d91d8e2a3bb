//! `plant-cli migrate`: apply the embedded migrations.

use std::io::Write;

use clap::Args;
use plant_core::store::postgres::migrate;

use crate::context::database_url;
use crate::error::{CliError, Exit};
use crate::{DbArgs, emit};

/// Arguments of `migrate`.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    #[command(flatten)]
    db: DbArgs,
}

/// Applies what is missing and prints what it applied. Concurrent runs wait for each other on an
/// advisory lock; the later ones find nothing left to do.
pub async fn run(args: MigrateArgs, out: &mut (dyn Write + Send)) -> Result<Exit, CliError> {
    let url = database_url(&args.db, "migrate")?;
    let report = migrate(&url).await?;
    let current = report
        .current
        .map_or_else(|| "none".to_owned(), |v| v.to_string());
    let line = if report.applied.is_empty() {
        format!("schema is current at version {current}; nothing applied")
    } else {
        let applied: Vec<String> = report.applied.iter().map(i64::to_string).collect();
        format!(
            "applied {} migration(s): {}; schema now at version {current}",
            applied.len(),
            applied.join(", ")
        )
    };
    emit(out, &line)?;
    Ok(Exit::Ok)
}
