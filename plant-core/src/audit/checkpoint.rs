//! Signed checkpoints: an ed25519 signature over a chain head `(seq, hash)`.
//!
//! A checkpoint kept outside the database is what makes truncation of the tail and a consistent
//! rewrite of the whole chain detectable: the chain alone cannot tell a shortened or recomputed
//! history from a genuine one.
//!
//! The signed message is `"plant-checkpoint-v1\n" || seq (u64 big-endian) || hash (32 bytes)`.
//! `signed_at` is informational and not covered by the signature.

use std::fmt;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use super::hash::{Hash, Head};
use crate::time::Timestamp;

/// Domain-separation prefix of the signed checkpoint message, version 1.
pub const CHECKPOINT_DOMAIN: &[u8] = b"plant-checkpoint-v1\n";

/// A signed statement that the chain's entry `seq` had hash `hash`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The seq of the head that was signed.
    pub seq: u64,
    /// The hash of that entry.
    pub hash: Hash,
    /// When the checkpoint was made (not signed).
    pub signed_at: Timestamp,
    /// The signer's ed25519 public key, 32 bytes as lowercase hex.
    pub public_key: String,
    /// The ed25519 signature over [`checkpoint_message`], 64 bytes as lowercase hex.
    pub signature: String,
}

/// Why a checkpoint or a key is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    /// A secret key that is not 32 bytes of hex.
    #[error("secret key is not 32 bytes of hex")]
    InvalidSecretKey,
    /// A public key that is not 32 bytes of hex or not a valid curve point.
    #[error("public key {0:?} is not a valid ed25519 key")]
    InvalidPublicKey(String),
    /// A signature that is not 64 bytes of hex.
    #[error("signature is not 64 bytes of hex")]
    InvalidSignatureEncoding,
    /// The checkpoint was signed by a key that is not in the trusted list.
    #[error("checkpoint was signed by {0}, which is not a trusted key")]
    UntrustedKey(String),
    /// The signature does not match `(seq, hash)` under the checkpoint's key.
    #[error("signature does not match the checkpoint's seq and hash")]
    BadSignature,
    /// The operating system's random number generator failed.
    #[error("no randomness from the operating system: {0}")]
    Randomness(String),
}

/// The exact bytes a checkpoint signs.
pub fn checkpoint_message(head: Head) -> [u8; 60] {
    let mut msg = [0u8; 60];
    msg[..20].copy_from_slice(CHECKPOINT_DOMAIN);
    msg[20..28].copy_from_slice(&head.seq.to_be_bytes());
    msg[28..].copy_from_slice(&head.hash.0);
    msg
}

impl Checkpoint {
    /// The head this checkpoint vouches for.
    pub fn head(&self) -> Head {
        Head {
            seq: self.seq,
            hash: self.hash,
        }
    }

    /// Checks the signature and, unless `trusted_public_keys` is empty, that the embedded key is
    /// one of them (hex compared case-insensitively). With an empty list the embedded key is
    /// trusted, which proves only that the checkpoint was not altered after signing.
    pub fn verify_signature(&self, trusted_public_keys: &[String]) -> Result<(), CheckpointError> {
        let key_bytes = decode_array::<32>(&self.public_key)
            .ok_or_else(|| CheckpointError::InvalidPublicKey(self.public_key.clone()))?;
        if !trusted_public_keys.is_empty()
            && !trusted_public_keys
                .iter()
                .any(|k| decode_array::<32>(k) == Some(key_bytes))
        {
            return Err(CheckpointError::UntrustedKey(self.public_key.clone()));
        }
        let key = VerifyingKey::from_bytes(&key_bytes)
            .map_err(|_| CheckpointError::InvalidPublicKey(self.public_key.clone()))?;
        let sig_bytes =
            decode_array::<64>(&self.signature).ok_or(CheckpointError::InvalidSignatureEncoding)?;
        let signature = Signature::from_bytes(&sig_bytes);
        key.verify_strict(&checkpoint_message(self.head()), &signature)
            .map_err(|_| CheckpointError::BadSignature)
    }
}

fn decode_array<const N: usize>(text: &str) -> Option<[u8; N]> {
    let mut out = [0u8; N];
    hex::decode_to_slice(text.trim(), &mut out).ok()?;
    Some(out)
}

/// An ed25519 key that signs checkpoints. Its `Debug` shows only the public key.
pub struct CheckpointSigner {
    key: SigningKey,
}

impl fmt::Debug for CheckpointSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CheckpointSigner")
            .field("public_key", &self.public_key_hex())
            .finish_non_exhaustive()
    }
}

impl CheckpointSigner {
    /// A signer from a 32-byte ed25519 secret key (seed).
    pub fn from_bytes(secret: &[u8; 32]) -> Self {
        Self {
            key: SigningKey::from_bytes(secret),
        }
    }

    /// A signer from 64 hex digits, as [`secret_hex`](Self::secret_hex) writes them.
    pub fn from_hex(secret_hex: &str) -> Result<Self, CheckpointError> {
        let secret = decode_array::<32>(secret_hex).ok_or(CheckpointError::InvalidSecretKey)?;
        Ok(Self::from_bytes(&secret))
    }

    /// A fresh key from the operating system's random number generator.
    pub fn generate() -> Result<Self, CheckpointError> {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).map_err(|e| CheckpointError::Randomness(e.to_string()))?;
        Ok(Self::from_bytes(&secret))
    }

    /// The secret key as 64 lowercase hex digits. Keep it out of logs and repositories.
    pub fn secret_hex(&self) -> String {
        hex::encode(self.key.to_bytes())
    }

    /// The public key as 64 lowercase hex digits: what verifiers list as trusted.
    pub fn public_key_hex(&self) -> String {
        hex::encode(self.key.verifying_key().to_bytes())
    }

    /// Signs `head` and stamps the checkpoint with `at`.
    pub fn sign(&self, head: Head, at: Timestamp) -> Checkpoint {
        let signature = self.key.sign(&checkpoint_message(head));
        Checkpoint {
            seq: head.seq,
            hash: head.hash,
            signed_at: at,
            public_key: self.public_key_hex(),
            signature: hex::encode(signature.to_bytes()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head() -> Head {
        Head {
            seq: 42,
            hash: Hash([7; 32]),
        }
    }

    fn signer() -> CheckpointSigner {
        CheckpointSigner::generate().expect("os rng")
    }

    #[test]
    fn a_signed_checkpoint_verifies_with_its_key_trusted_or_embedded() {
        let s = signer();
        let cp = s.sign(head(), Timestamp::now());
        assert_eq!((cp.seq, cp.hash), (42, Hash([7; 32])));
        assert_eq!(cp.verify_signature(&[]), Ok(()));
        assert_eq!(cp.verify_signature(&[s.public_key_hex()]), Ok(()));
        assert_eq!(
            cp.verify_signature(&[s.public_key_hex().to_uppercase()]),
            Ok(())
        );
    }

    #[test]
    fn a_key_that_is_not_trusted_is_refused() {
        let cp = signer().sign(head(), Timestamp::now());
        let other = signer();
        assert_eq!(
            cp.verify_signature(&[other.public_key_hex()]),
            Err(CheckpointError::UntrustedKey(cp.public_key.clone()))
        );
    }

    #[test]
    fn tampered_seq_hash_or_signature_fails_verification() {
        let s = signer();
        let cp = s.sign(head(), Timestamp::now());
        let trusted = [s.public_key_hex()];

        let mut seq = cp.clone();
        seq.seq += 1;
        assert_eq!(
            seq.verify_signature(&trusted),
            Err(CheckpointError::BadSignature)
        );

        let mut hash = cp.clone();
        hash.hash.0[0] ^= 1;
        assert_eq!(
            hash.verify_signature(&trusted),
            Err(CheckpointError::BadSignature)
        );

        let mut sig = cp.clone();
        let mut bytes = hex::decode(&sig.signature).expect("hex");
        bytes[10] ^= 0x40;
        sig.signature = hex::encode(bytes);
        assert_eq!(
            sig.verify_signature(&trusted),
            Err(CheckpointError::BadSignature)
        );

        let mut short = cp.clone();
        short.signature.truncate(100);
        assert_eq!(
            short.verify_signature(&trusted),
            Err(CheckpointError::InvalidSignatureEncoding)
        );

        // Re-signing with another key and swapping in that key is caught by the trusted list.
        let forger = signer();
        let mut forged = forger.sign(Head { seq: 43, ..head() }, Timestamp::now());
        assert_eq!(forged.verify_signature(&[]), Ok(()));
        assert!(matches!(
            forged.verify_signature(&trusted),
            Err(CheckpointError::UntrustedKey(_))
        ));
        forged.public_key = s.public_key_hex();
        assert_eq!(
            forged.verify_signature(&trusted),
            Err(CheckpointError::BadSignature)
        );
    }

    #[test]
    fn signed_at_is_not_signed() {
        let s = signer();
        let mut cp = s.sign(head(), Timestamp::now());
        cp.signed_at = cp.signed_at.plus_days(-1);
        assert_eq!(cp.verify_signature(&[]), Ok(()));
    }

    #[test]
    fn keys_round_trip_through_hex_and_bytes_and_debug_hides_the_secret() {
        let s = signer();
        let again = CheckpointSigner::from_hex(&s.secret_hex()).expect("hex");
        assert_eq!(again.public_key_hex(), s.public_key_hex());
        let fixed = CheckpointSigner::from_bytes(&[9; 32]);
        assert_eq!(fixed.secret_hex(), "09".repeat(32));
        assert_eq!(
            CheckpointSigner::from_bytes(&[9; 32])
                .sign(head(), Timestamp::now())
                .signature,
            fixed.sign(head(), Timestamp::now()).signature,
            "ed25519 signatures are deterministic"
        );
        assert!(!format!("{s:?}").contains(&s.secret_hex()));
        assert_eq!(
            CheckpointSigner::from_hex("nothex").map(|_| ()),
            Err(CheckpointError::InvalidSecretKey)
        );
    }

    #[test]
    fn a_malformed_public_key_is_reported() {
        let mut cp = signer().sign(head(), Timestamp::now());
        cp.public_key = "abc".into();
        assert!(matches!(
            cp.verify_signature(&[]),
            Err(CheckpointError::InvalidPublicKey(_))
        ));
    }

    #[test]
    fn the_message_is_domain_seq_and_hash() {
        let msg = checkpoint_message(head());
        assert_eq!(&msg[..20], b"plant-checkpoint-v1\n");
        assert_eq!(&msg[20..28], &42u64.to_be_bytes());
        assert_eq!(&msg[28..], &[7; 32]);
    }
}
