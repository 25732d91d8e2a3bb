//! `plant-cli checkpoint`: sign the chain's head, store the checkpoint, keep a copy in a file.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;
use plant_core::Catalog;
use plant_core::audit::CheckpointSigner;
use plant_core::search::HashingEmbedder;
use plant_core::store::Store;

use crate::checkpoint_file;
use crate::context::store;
use crate::error::{CliError, Exit};
use crate::progress::note;
use crate::{DbArgs, emit};

/// Arguments of `checkpoint`.
#[derive(Debug, Args)]
pub struct CheckpointArgs {
    #[command(flatten)]
    db: DbArgs,
    /// The ed25519 signing key as 64 hex characters (`plant-cli keygen` makes one).
    #[arg(
        long,
        env = "PLANT_SIGNING_KEY",
        hide_env_values = true,
        value_name = "HEX",
        conflicts_with = "key_file"
    )]
    signing_key: Option<String>,
    /// A file holding the signing key as hex (what `plant-cli keygen --out` writes).
    #[arg(long, env = "PLANT_SIGNING_KEY_FILE", value_name = "PATH")]
    key_file: Option<PathBuf>,
    /// A JSON-lines file the checkpoint is appended to: the copy kept outside the database,
    /// which is what detects a truncated or rewritten chain.
    #[arg(long, env = "PLANT_CHECKPOINT_FILE", value_name = "PATH")]
    out: Option<PathBuf>,
}

/// The signer from the key option or the key file.
fn signer(args: &CheckpointArgs) -> Result<CheckpointSigner, CliError> {
    let (hex, source) = match (&args.signing_key, &args.key_file) {
        (Some(hex), _) => (hex.clone(), "PLANT_SIGNING_KEY".to_owned()),
        (None, Some(path)) => (read_key_file(path)?, path.display().to_string()),
        (None, None) => {
            return Err(CliError::Usage(
                "no signing key: set PLANT_SIGNING_KEY or pass --key-file (create one with `plant-cli keygen --out PATH`)"
                    .into(),
            ));
        }
    };
    CheckpointSigner::from_hex(hex.trim()).map_err(|source_err| CliError::Key {
        context: format!("the signing key from {source} is unusable"),
        source: source_err,
    })
}

fn read_key_file(path: &Path) -> Result<String, CliError> {
    #[cfg(unix)]
    if let Ok(meta) = std::fs::metadata(path) {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o077 != 0 {
            note(&format!(
                "warning: {} is readable by other users; restrict it with chmod 600",
                path.display()
            ));
        }
    }
    std::fs::read_to_string(path).map_err(|source| CliError::Io {
        action: "read the key file",
        path: path.to_path_buf(),
        source,
    })
}

/// Signs the head, stores the checkpoint, prints it as JSON and appends it to `--out`.
pub async fn run(args: CheckpointArgs, out: &mut (dyn Write + Send)) -> Result<Exit, CliError> {
    let signer = signer(&args)?;
    let store = store(&args.db, "checkpoint").await?;
    let head = store
        .head()
        .await
        .map_err(|e| CliError::catalog("cannot read the chain's head", e.into()))?;
    if head.seq == 0 {
        return Err(CliError::Usage(
            "the audit chain is empty: there is nothing to sign yet".into(),
        ));
    }
    // Checkpointing embeds nothing; the catalog needs an embedder all the same.
    let catalog = Catalog::new(Arc::new(store), Arc::new(HashingEmbedder));
    let checkpoint = catalog
        .checkpoint(&signer)
        .await
        .map_err(|e| CliError::catalog("cannot store the checkpoint", e))?;
    let line = serde_json::to_string(&checkpoint)
        .map_err(|e| CliError::Output(std::io::Error::other(e)))?;
    emit(out, &line)?;
    match &args.out {
        Some(path) => {
            checkpoint_file::append(path, &checkpoint)?;
            note(&format!(
                "checkpoint at seq {} stored and appended to {}",
                checkpoint.seq,
                path.display()
            ));
        }
        None => note(&format!(
            "checkpoint at seq {} stored; no --out given: keep the line above outside the database",
            checkpoint.seq
        )),
    }
    Ok(Exit::Ok)
}
