//! `plant-cli checkpoint`: sign the log's Merkle tree at the chain's head as a C2SP checkpoint,
//! store it, keep a copy in a file.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;
use plant_core::Timestamp;
use plant_core::audit::{CheckpointSigner, NoteSigner, TransparencyLog};
use plant_core::store::Store;

use crate::DbArgs;
use crate::checkpoint_file::{self, Line};
use crate::context::store;
use crate::error::{CliError, Exit};
use crate::log_key::OriginArgs;
use crate::progress::note;

/// Arguments of `checkpoint`.
#[derive(Debug, Args)]
pub struct CheckpointArgs {
    #[command(flatten)]
    db: DbArgs,
    #[command(flatten)]
    origin: OriginArgs,
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

/// The log's note signer (named after the origin) from the key option or the key file.
fn signer(args: &CheckpointArgs) -> Result<NoteSigner, CliError> {
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
    })?;
    args.origin.signer(&hex, &source)
}

pub(crate) fn read_key_file(path: &Path) -> Result<String, CliError> {
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

/// Signs the tree at the head, stores the checkpoint, prints the note and appends it to `--out`.
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
    let checkpoint = TransparencyLog::new()
        .checkpoint(&store, &signer, Timestamp::now())
        .await
        .map_err(|source| CliError::Proof {
            context: "cannot sign and store the checkpoint",
            source,
        })?;
    out.write_all(checkpoint.note.as_bytes())
        .and_then(|()| out.flush())
        .map_err(CliError::Output)?;
    match &args.out {
        Some(path) => {
            checkpoint_file::append(
                path,
                &Line::Tree {
                    note: checkpoint.note.clone(),
                },
            )?;
            note(&format!(
                "checkpoint of tree size {} stored and appended to {}",
                checkpoint.tree_size,
                path.display()
            ));
        }
        None => note(&format!(
            "checkpoint of tree size {} stored; no --out given: keep the note above outside the database",
            checkpoint.tree_size
        )),
    }
    Ok(Exit::Ok)
}
