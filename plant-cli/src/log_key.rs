//! The transparency log's name and keys on the command line: the origin (`PLANT_LOG_ORIGIN`),
//! which is also the name of the log's note key, and the public keys checkpoints are checked
//! with, as vkeys (`PLANT_LOG_VKEY`) or as hex keys under the origin (`PLANT_TRUSTED_KEYS`).

use clap::Args;
use plant_core::audit::{DEFAULT_ORIGIN, NoteSigner, NoteVerifier, SigType};

use crate::error::CliError;

/// The log's origin.
#[derive(Debug, Clone, Args)]
pub struct OriginArgs {
    /// The log's origin: the first line of every checkpoint and the name of the log's signing
    /// key, a schema-less URL such as plant.example.com/audit.
    #[arg(long, env = "PLANT_LOG_ORIGIN", default_value = DEFAULT_ORIGIN, value_name = "ORIGIN")]
    pub origin: String,
}

/// The log's public keys as vkeys.
#[derive(Debug, Clone, Args)]
pub struct LogKeyArgs {
    /// The log's verifier key (`<origin>+<key id>+<base64>`, what `keygen` prints as
    /// PLANT_LOG_VKEY); repeat it, or separate keys with commas in the variable, for several.
    #[arg(
        long = "log-key",
        env = "PLANT_LOG_VKEY",
        value_name = "VKEY",
        value_delimiter = ','
    )]
    pub log_keys: Vec<String>,
}

impl OriginArgs {
    /// The log's note signer from a hex secret.
    pub fn signer(&self, secret_hex: &str, source: &str) -> Result<NoteSigner, CliError> {
        NoteSigner::from_secret_hex(self.origin.trim(), SigType::Ed25519, secret_hex).map_err(
            |source_err| CliError::NoteKey {
                context: format!(
                    "the signing key from {source} cannot sign as {}",
                    self.origin
                ),
                source: source_err,
            },
        )
    }

    /// The verifiers for checkpoints: each vkey, and each hex key under this origin.
    pub fn verifiers(
        &self,
        vkeys: &LogKeyArgs,
        hex_keys: &[String],
    ) -> Result<Vec<NoteVerifier>, CliError> {
        let mut out = Vec::new();
        for vkey in vkeys.log_keys.iter().filter(|k| !k.trim().is_empty()) {
            out.push(
                NoteVerifier::parse(vkey).map_err(|source| CliError::NoteKey {
                    context: "a --log-key (PLANT_LOG_VKEY) is unusable".into(),
                    source,
                })?,
            );
        }
        for key in hex_keys.iter().filter(|k| !k.trim().is_empty()) {
            out.push(
                NoteVerifier::from_public_hex(self.origin.trim(), SigType::Ed25519, key).map_err(
                    |source| CliError::NoteKey {
                        context: format!("trusted key {key:?} is unusable"),
                        source,
                    },
                )?,
            );
        }
        Ok(out)
    }
}
