//! `plant-cli witness`: cosign a new checkpoint of the log after checking that it extends the
//! last one this witness accepted (C2SP tlog-witness semantics), or refuse and say why.
//!
//! The witness keeps its state in one file, the last checkpoint it accepted; on success the
//! cosigned checkpoint replaces it (written to a temporary file, synced, then renamed).

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;
use plant_core::audit::{
    ConsistencyProof, NoteSigner, NoteVerifier, SigType, open_checkpoint, witness_cosign,
};

use crate::commands::checkpoint::read_key_file;
use crate::error::{CliError, Exit};
use crate::progress::note;

/// Arguments of `witness`.
#[derive(Debug, Args)]
pub struct WitnessArgs {
    /// The new checkpoint to cosign (the note, as `GET /api/v1/audit/checkpoint` serves it).
    #[arg(value_name = "CHECKPOINT")]
    checkpoint: PathBuf,
    /// The log's verifier key (`<origin>+<key id>+<base64>`).
    #[arg(long = "log-key", env = "PLANT_LOG_VKEY", value_name = "VKEY")]
    log_key: String,
    /// The witness's name: the key name of its cosignatures, a schema-less URL.
    #[arg(long, env = "PLANT_WITNESS_NAME", value_name = "NAME")]
    name: String,
    /// A file holding the witness's ed25519 secret key as hex (`plant-cli keygen --out`).
    #[arg(long, env = "PLANT_WITNESS_KEY_FILE", value_name = "PATH")]
    key_file: PathBuf,
    /// The witness's state: the last checkpoint it accepted for this log. Absent on first
    /// contact (the previous tree is then the empty one); replaced by the cosigned checkpoint
    /// on success.
    #[arg(long, env = "PLANT_WITNESS_STATE", value_name = "PATH")]
    state: PathBuf,
    /// The consistency proof from the accepted tree size to the new one, as
    /// `GET /api/v1/audit/proof/consistency?from=&to=` serves it (JSON). Not needed on first
    /// contact or when the size did not change.
    #[arg(long, value_name = "PATH")]
    proof: Option<PathBuf>,
}

fn read(path: &Path, what: &'static str) -> Result<String, CliError> {
    std::fs::read_to_string(path).map_err(|source| CliError::Io {
        action: what,
        path: path.to_path_buf(),
        source,
    })
}

/// Cosigns and prints the cosigned checkpoint (exit 0), or prints why not (exit 1).
pub fn run(args: WitnessArgs, out: &mut (dyn Write + Send)) -> Result<Exit, CliError> {
    let log = NoteVerifier::parse(&args.log_key).map_err(|source| CliError::NoteKey {
        context: "the log key (--log-key, PLANT_LOG_VKEY) is unusable".into(),
        source,
    })?;
    let secret = read_key_file(&args.key_file)?;
    let witness = NoteSigner::from_secret_hex(&args.name, SigType::Cosignature, &secret).map_err(
        |source| CliError::NoteKey {
            context: format!("the witness key in {} is unusable", args.key_file.display()),
            source,
        },
    )?;
    let new = read(&args.checkpoint, "read the checkpoint")?;
    let previous = match std::fs::read_to_string(&args.state) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(source) => {
            return Err(CliError::Io {
                action: "read the witness state",
                path: args.state.clone(),
                source,
            });
        }
    };
    let proof = match &args.proof {
        Some(path) => {
            let parsed: ConsistencyProof = serde_json::from_str(&read(path, "read the proof")?)
                .map_err(|e| {
                    CliError::Usage(format!(
                        "{} is not a consistency proof: {e}",
                        path.display()
                    ))
                })?;
            check_proof_sizes(&parsed, previous.as_deref(), &new, &log)?;
            parsed.consistency_path
        }
        None => Vec::new(),
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    match witness_cosign(previous.as_deref(), &new, &proof, &log, &witness, now) {
        Ok(cosigned) => {
            write_state(&args.state, &cosigned)?;
            out.write_all(cosigned.as_bytes())
                .and_then(|()| out.flush())
                .map_err(CliError::Output)?;
            note(&format!(
                "cosigned as {}; {} now holds the accepted checkpoint",
                witness.verifier(),
                args.state.display()
            ));
            Ok(Exit::Ok)
        }
        Err(refusal) => {
            crate::emit(out, &format!("refused: {}", crate::error::chain(&refusal)))?;
            Ok(Exit::VerificationFailed)
        }
    }
}

/// A proof for other sizes than the two checkpoints' would be refused anyway; saying which
/// sizes differ is more useful than "does not verify".
fn check_proof_sizes(
    proof: &ConsistencyProof,
    previous: Option<&str>,
    new: &str,
    log: &NoteVerifier,
) -> Result<(), CliError> {
    let size = |text: &str| open_checkpoint(text, log).map(|c| c.head.size).ok();
    let from = previous.and_then(size).unwrap_or(0);
    if let Some(to) = size(new)
        && (proof.from, proof.to) != (from, to)
    {
        return Err(CliError::Usage(format!(
            "the proof is from tree size {} to {}, but the accepted checkpoint has size {from} and the new one {to}",
            proof.from, proof.to
        )));
    }
    Ok(())
}

fn write_state(path: &Path, note_text: &str) -> Result<(), CliError> {
    let io = |source| CliError::Io {
        action: "write the witness state",
        path: path.to_path_buf(),
        source,
    };
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::File::create(&tmp).map_err(io)?;
    file.write_all(note_text.as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}
