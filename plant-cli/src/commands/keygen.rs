//! `plant-cli keygen`: a new ed25519 key for signing checkpoints.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use plant_core::audit::CheckpointSigner;

use crate::emit;
use crate::error::{CliError, Exit};
use crate::progress::note;

/// Arguments of `keygen`.
#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Write the secret key (hex) to this new file, mode 0600; it must not exist yet. Without
    /// it, the secret is printed on standard output.
    #[arg(long, env = "PLANT_KEYGEN_OUT", value_name = "PATH")]
    out: Option<PathBuf>,
}

/// Generates a key. Prints `PLANT_SIGNING_KEY=<secret hex>` (unless written to `--out`) and
/// `PLANT_TRUSTED_KEYS=<public hex>`, a form a shell or an env file reads directly.
pub fn run(args: KeygenArgs, out: &mut (dyn Write + Send)) -> Result<Exit, CliError> {
    let signer = CheckpointSigner::generate().map_err(|source| CliError::Key {
        context: "cannot generate a key".into(),
        source,
    })?;
    match &args.out {
        Some(path) => {
            write_secret(path, &signer.secret_hex())?;
            note(&format!(
                "wrote the secret key to {} (mode 0600); use it with --key-file or PLANT_SIGNING_KEY_FILE",
                path.display()
            ));
        }
        None => emit(out, &format!("PLANT_SIGNING_KEY={}", signer.secret_hex()))?,
    }
    emit(
        out,
        &format!("PLANT_TRUSTED_KEYS={}", signer.public_key_hex()),
    )?;
    Ok(Exit::Ok)
}

/// Creates the file with owner-only permissions from the start (never a window where others
/// could read it) and refuses to overwrite an existing key.
fn write_secret(path: &PathBuf, secret: &str) -> Result<(), CliError> {
    let io = |source| CliError::Io {
        action: "create the key file",
        path: path.clone(),
        source,
    };
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(io)?;
    file.write_all(format!("{secret}\n").as_bytes())
        .map_err(io)?;
    file.sync_all().map_err(io)
}
