//! `plant-cli embed`: bring every stored embedding to the configured model.

use std::io::Write;

use clap::Args;

use crate::context::catalog;
use crate::error::{CliError, Exit};
use crate::progress::note;
use crate::{DbArgs, EmbedderArgs, emit};

/// Arguments of `embed`.
#[derive(Debug, Args)]
pub struct EmbedArgs {
    #[command(flatten)]
    db: DbArgs,
    #[command(flatten)]
    embedder: EmbedderArgs,
    /// Records re-embedded per round.
    #[arg(long, env = "PLANT_EMBED_BATCH", value_name = "N", default_value_t = 100,
          value_parser = clap::value_parser!(u64).range(1..=10_000))]
    batch: u64,
}

/// Re-embeds, a batch at a time, until no record's embedding is from another model.
pub async fn run(args: EmbedArgs, out: &mut (dyn Write + Send)) -> Result<Exit, CliError> {
    let catalog = catalog(&args.db, &args.embedder, "embed").await?;
    let model = catalog.embedder().model_id().to_owned();
    note(&format!(
        "re-embedding records whose embedding is not from {model}"
    ));
    let mut total = 0usize;
    loop {
        let done = catalog
            .reembed(args.batch)
            .await
            .map_err(|e| CliError::catalog("re-embedding failed", e))?;
        // A round that did nothing means what is left (if anything) has no text to embed.
        if done == 0 {
            break;
        }
        total += done;
        note(&format!("  embedded {total} so far"));
    }
    emit(out, &format!("re-embedded {total} record(s) with {model}"))?;
    Ok(Exit::Ok)
}
