//! `plant-cli keygen`: a new ed25519 key for signing checkpoints.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use plant_core::audit::{CheckpointSigner, NoteSigner, SigType};

use crate::emit;
use crate::error::{CliError, Exit};
use crate::log_key::OriginArgs;
use crate::progress::note;

/// Arguments of `keygen`.
#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Write the secret key (hex) to this new file, mode 0600; it must not exist yet. Without
    /// it, the secret is printed on standard output.
    #[arg(long, env = "PLANT_KEYGEN_OUT", value_name = "PATH")]
    out: Option<PathBuf>,
    #[command(flatten)]
    origin: OriginArgs,
    /// Make a witness key: print its cosigner verifier key (signature type 0x04) under
    /// --witness-name instead of the log's.
    #[arg(long, env = "PLANT_WITNESS_NAME", value_name = "NAME")]
    witness_name: Option<String>,
}

/// Generates a key. Prints `PLANT_SIGNING_KEY=<secret hex>` (unless written to `--out`),
/// `PLANT_TRUSTED_KEYS=<public hex>` and the verifier key of the log's checkpoints,
/// `PLANT_LOG_VKEY=<origin>+<key id>+<base64>` (for a witness key, `PLANT_WITNESS_VKEY=…`),
/// a form a shell or an env file reads directly.
pub fn run(args: KeygenArgs, out: &mut (dyn Write + Send)) -> Result<Exit, CliError> {
    let signer = CheckpointSigner::generate().map_err(|source| CliError::Key {
        context: "cannot generate a key".into(),
        source,
    })?;
    // The name is checked before the secret is written anywhere.
    let (variable, name, sig_type) = match &args.witness_name {
        Some(name) => ("PLANT_WITNESS_VKEY", name.as_str(), SigType::Cosignature),
        None => (
            "PLANT_LOG_VKEY",
            args.origin.origin.as_str(),
            SigType::Ed25519,
        ),
    };
    let note_signer = NoteSigner::from_secret_hex(name.trim(), sig_type, &signer.secret_hex())
        .map_err(|source| CliError::NoteKey {
            context: format!("{name:?} cannot name a key"),
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
    emit(out, &format!("{variable}={}", note_signer.verifier()))?;
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
