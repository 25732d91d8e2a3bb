//! C2SP signed notes (`c2sp.org/signed-note`), the format Go's `golang.org/x/mod/sumdb/note`
//! reads: a text ending in a newline, a blank line, then one line per signature,
//! `— <key name> base64(key ID (u32 big-endian) || signature)`.
//!
//! Two signature types are supported, both ed25519:
//! - `0x01`, a log's signature over the note text;
//! - `0x04`, a witness cosignature (`c2sp.org/tlog-cosignature`, `cosignature/v1`): a u64
//!   big-endian POSIX timestamp followed by an ed25519 signature over
//!   `"cosignature/v1\ntime <timestamp>\n" || note text`.
//!
//! The key ID is `SHA-256(key name || "\n" || type || 32-byte public key)[..4]`. A verifier key
//! is written as a *vkey*, `<name>+<key ID as 8 hex digits>+base64(type || public key)`.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

/// The em dash (U+2014) and space that open a signature line.
const SIG_PREFIX: &str = "\u{2014} ";

/// How many signature lines a note may carry; the spec asks verifiers to accept at least 16.
pub const MAX_SIGNATURES: usize = 100;

/// The signature algorithms plant signs and verifies notes with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SigType {
    /// `0x01`: ed25519 over the note text (a log's own signature).
    Ed25519,
    /// `0x04`: a timestamped ed25519 witness cosignature (`cosignature/v1`).
    Cosignature,
}

impl SigType {
    /// The identifier byte of the type.
    pub fn byte(self) -> u8 {
        match self {
            SigType::Ed25519 => 0x01,
            SigType::Cosignature => 0x04,
        }
    }

    fn from_byte(byte: u8) -> Option<Self> {
        match byte {
            0x01 => Some(SigType::Ed25519),
            0x04 => Some(SigType::Cosignature),
            _ => None,
        }
    }
}

/// Why a note, a key or a signature is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// The text is not a signed note: no blank line before the signatures, a control
    /// character, a signature line of the wrong shape, too many signatures.
    #[error("malformed note: {0}")]
    Malformed(String),
    /// A key name that is empty or holds a space or a `+`.
    #[error("invalid key name {0:?}: it must be non-empty, without spaces or '+'")]
    InvalidName(String),
    /// A secret key that is not 32 bytes of hex.
    #[error("secret key is not 32 bytes of hex")]
    InvalidSecretKey,
    /// A vkey that is not `<name>+<8 hex>+<base64>` with a matching key ID.
    #[error("invalid verifier key {0:?}")]
    InvalidVerifierKey(String),
    /// A signature by a known key that does not verify.
    #[error("the signature by {0} does not verify")]
    BadSignature(String),
    /// No signature by any of the given keys.
    #[error("the note carries no signature by {0}")]
    Unsigned(String),
}

fn check_name(name: &str) -> Result<(), NoteError> {
    if name.is_empty() || name.contains('+') || name.chars().any(char::is_whitespace) {
        return Err(NoteError::InvalidName(name.to_owned()));
    }
    Ok(())
}

/// `SHA-256(name || "\n" || type || public key)[..4]` as a big-endian u32.
pub fn key_id(name: &str, sig_type: SigType, public_key: &[u8; 32]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([sig_type.byte()]);
    h.update(public_key);
    let digest: [u8; 32] = h.finalize().into();
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

/// One signature line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    /// The key name.
    pub name: String,
    /// The key ID.
    pub key_id: u32,
    /// The signature bytes after the key ID.
    pub signature: Vec<u8>,
}

impl fmt::Display for NoteSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut bytes = self.key_id.to_be_bytes().to_vec();
        bytes.extend_from_slice(&self.signature);
        writeln!(f, "{SIG_PREFIX}{} {}", self.name, B64.encode(bytes))
    }
}

/// A signed note: the text and its signature lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// The signed text, ending in a newline.
    pub text: String,
    /// The signatures, in order.
    pub signatures: Vec<NoteSignature>,
}

impl Note {
    /// Parses a signed note. Signatures are not checked here; see [`Note::verify`].
    pub fn parse(input: &str) -> Result<Self, NoteError> {
        let bad = |why: &str| Err(NoteError::Malformed(why.to_owned()));
        if input.chars().any(|c| c < ' ' && c != '\n') {
            return bad("control characters other than newline");
        }
        if !input.ends_with('\n') {
            return bad("does not end with a newline");
        }
        // The text ends at the last blank line: "\n\n" separates it from the signatures.
        let Some(split) = input.rfind("\n\n") else {
            return bad("no blank line before the signatures");
        };
        let text = &input[..=split];
        let mut signatures = Vec::new();
        for line in input[split + 2..].lines() {
            let Some(rest) = line.strip_prefix(SIG_PREFIX) else {
                return bad("a signature line does not start with an em dash and a space");
            };
            let Some((name, b64)) = rest.split_once(' ') else {
                return bad("a signature line has no signature");
            };
            check_name(name)?;
            let bytes = B64
                .decode(b64)
                .map_err(|_| NoteError::Malformed(format!("signature by {name} is not base64")))?;
            if bytes.len() < 5 {
                return bad("a signature is shorter than its key ID");
            }
            signatures.push(NoteSignature {
                name: name.to_owned(),
                key_id: u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]),
                signature: bytes[4..].to_vec(),
            });
            if signatures.len() > MAX_SIGNATURES {
                return bad("too many signatures");
            }
        }
        if signatures.is_empty() {
            return bad("no signatures");
        }
        Ok(Self {
            text: text.to_owned(),
            signatures,
        })
    }

    /// Checks the signature by `verifier`: it must be present and valid. Signatures by other
    /// keys are ignored, as the spec asks.
    pub fn verify(&self, verifier: &NoteVerifier) -> Result<VerifiedSignature, NoteError> {
        let mut found = None;
        for sig in &self.signatures {
            if sig.name != verifier.name || sig.key_id != verifier.key_id {
                continue;
            }
            match verifier.check(&self.text, &sig.signature) {
                Some(verified) => found = Some(verified),
                None => return Err(NoteError::BadSignature(verifier.name.clone())),
            }
        }
        found.ok_or_else(|| NoteError::Unsigned(verifier.name.clone()))
    }

    /// Adds a signature line, replacing an earlier one by the same key.
    pub fn add_signature(&mut self, sig: NoteSignature) {
        self.signatures
            .retain(|s| !(s.name == sig.name && s.key_id == sig.key_id));
        self.signatures.push(sig);
    }
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)?;
        f.write_str("\n")?;
        for sig in &self.signatures {
            sig.fmt(f)?;
        }
        Ok(())
    }
}

/// What a valid signature says besides "signed": a cosignature's timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifiedSignature {
    /// For a cosignature, the POSIX time it was made; `None` for a log signature.
    pub timestamp: Option<u64>,
}

/// The message a `cosignature/v1` signs.
fn cosigned_message(timestamp: u64, text: &str) -> Vec<u8> {
    format!("cosignature/v1\ntime {timestamp}\n{text}").into_bytes()
}

/// An ed25519 key that signs notes under a name. Its `Debug` shows only the public side.
pub struct NoteSigner {
    name: String,
    sig_type: SigType,
    key: SigningKey,
}

impl fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NoteSigner")
            .field("vkey", &self.verifier().to_string())
            .finish_non_exhaustive()
    }
}

impl NoteSigner {
    /// A signer named `name` from a 32-byte ed25519 seed.
    pub fn new(name: &str, sig_type: SigType, secret: &[u8; 32]) -> Result<Self, NoteError> {
        check_name(name)?;
        Ok(Self {
            name: name.to_owned(),
            sig_type,
            key: SigningKey::from_bytes(secret),
        })
    }

    /// A signer from a secret key written as 64 hex digits (what `plant-cli keygen` writes).
    pub fn from_secret_hex(
        name: &str,
        sig_type: SigType,
        secret_hex: &str,
    ) -> Result<Self, NoteError> {
        let mut secret = [0u8; 32];
        hex::decode_to_slice(secret_hex.trim(), &mut secret)
            .map_err(|_| NoteError::InvalidSecretKey)?;
        Self::new(name, sig_type, &secret)
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The verifier for this signer's signatures.
    pub fn verifier(&self) -> NoteVerifier {
        let public = self.key.verifying_key();
        NoteVerifier {
            name: self.name.clone(),
            sig_type: self.sig_type,
            key_id: key_id(&self.name, self.sig_type, public.as_bytes()),
            key: public,
        }
    }

    /// Signs `text` (a log signature) or cosigns it at `timestamp` (a cosignature; the
    /// timestamp is ignored for a log signature).
    pub fn sign(&self, text: &str, timestamp: u64) -> NoteSignature {
        let public = self.key.verifying_key();
        let signature = match self.sig_type {
            SigType::Ed25519 => self.key.sign(text.as_bytes()).to_bytes().to_vec(),
            SigType::Cosignature => {
                let sig = self.key.sign(&cosigned_message(timestamp, text));
                let mut bytes = timestamp.to_be_bytes().to_vec();
                bytes.extend_from_slice(&sig.to_bytes());
                bytes
            }
        };
        NoteSignature {
            name: self.name.clone(),
            key_id: key_id(&self.name, self.sig_type, public.as_bytes()),
            signature,
        }
    }
}

/// A public key that checks note signatures under a name, written as a vkey.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    sig_type: SigType,
    key_id: u32,
    key: VerifyingKey,
}

impl NoteVerifier {
    /// A verifier from a name and a 32-byte ed25519 public key.
    pub fn new(name: &str, sig_type: SigType, public_key: &[u8; 32]) -> Result<Self, NoteError> {
        check_name(name)?;
        let key = VerifyingKey::from_bytes(public_key)
            .map_err(|_| NoteError::InvalidVerifierKey(hex::encode(public_key)))?;
        Ok(Self {
            name: name.to_owned(),
            sig_type,
            key_id: key_id(name, sig_type, public_key),
            key,
        })
    }

    /// A verifier from a name and a public key written as 64 hex digits.
    pub fn from_public_hex(
        name: &str,
        sig_type: SigType,
        public_hex: &str,
    ) -> Result<Self, NoteError> {
        let mut public = [0u8; 32];
        hex::decode_to_slice(public_hex.trim(), &mut public)
            .map_err(|_| NoteError::InvalidVerifierKey(public_hex.to_owned()))?;
        Self::new(name, sig_type, &public)
    }

    /// Parses a vkey, `<name>+<key ID hex>+base64(type || public key)`, checking its key ID.
    pub fn parse(vkey: &str) -> Result<Self, NoteError> {
        let invalid = || NoteError::InvalidVerifierKey(vkey.to_owned());
        let vkey_trimmed = vkey.trim();
        // The name holds no '+'; the base64 may.
        let mut parts = vkey_trimmed.splitn(3, '+');
        let (Some(name), Some(id_hex), Some(b64)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid());
        };
        let bytes = B64.decode(b64).map_err(|_| invalid())?;
        let (Some(&type_byte), Ok(public)) = (bytes.first(), <[u8; 32]>::try_from(&bytes[1..]))
        else {
            return Err(invalid());
        };
        let sig_type = SigType::from_byte(type_byte).ok_or_else(invalid)?;
        let verifier = Self::new(name, sig_type, &public).map_err(|_| invalid())?;
        let id = u32::from_str_radix(id_hex, 16).map_err(|_| invalid())?;
        if id_hex.len() != 8 || id != verifier.key_id {
            return Err(invalid());
        }
        Ok(verifier)
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key ID.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The signature type.
    pub fn sig_type(&self) -> SigType {
        self.sig_type
    }

    /// The 32-byte public key as lowercase hex.
    pub fn public_key_hex(&self) -> String {
        hex::encode(self.key.as_bytes())
    }

    fn check(&self, text: &str, signature: &[u8]) -> Option<VerifiedSignature> {
        match self.sig_type {
            SigType::Ed25519 => {
                let sig = Signature::from_slice(signature).ok()?;
                self.key.verify_strict(text.as_bytes(), &sig).ok()?;
                Some(VerifiedSignature { timestamp: None })
            }
            SigType::Cosignature => {
                let (ts, sig) = signature.split_first_chunk::<8>()?;
                let timestamp = u64::from_be_bytes(*ts);
                if timestamp > i64::MAX as u64 {
                    return None;
                }
                let sig = Signature::from_slice(sig).ok()?;
                self.key
                    .verify_strict(&cosigned_message(timestamp, text), &sig)
                    .ok()?;
                Some(VerifiedSignature {
                    timestamp: Some(timestamp),
                })
            }
        }
    }
}

impl fmt::Display for NoteVerifier {
    /// The vkey.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut bytes = vec![self.sig_type.byte()];
        bytes.extend_from_slice(self.key.as_bytes());
        write!(f, "{}+{:08x}+{}", self.name, self.key_id, B64.encode(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer(sig_type: SigType) -> NoteSigner {
        NoteSigner::new("example.com/log", sig_type, &[7; 32]).expect("valid name")
    }

    fn signed(text: &str) -> Note {
        let s = signer(SigType::Ed25519);
        Note {
            text: text.to_owned(),
            signatures: vec![s.sign(text, 0)],
        }
    }

    #[test]
    fn a_note_round_trips_and_verifies() {
        let note = signed("hello\n\nworld\n");
        let text = note.to_string();
        assert!(text.starts_with("hello\n\nworld\n\n\u{2014} example.com/log "));
        let back = Note::parse(&text).expect("parses");
        assert_eq!(back, note);
        let v = signer(SigType::Ed25519).verifier();
        assert_eq!(back.verify(&v), Ok(VerifiedSignature { timestamp: None }));
        assert_eq!(NoteVerifier::parse(&v.to_string()), Ok(v));
    }

    #[test]
    fn a_changed_text_or_signature_fails_and_other_keys_are_ignored() {
        let v = signer(SigType::Ed25519).verifier();
        let mut note = signed("a\n");
        note.text = "b\n".into();
        assert_eq!(
            note.verify(&v),
            Err(NoteError::BadSignature("example.com/log".into()))
        );
        let other = NoteSigner::new("other.example/log", SigType::Ed25519, &[8; 32])
            .expect("valid name")
            .verifier();
        assert_eq!(
            signed("a\n").verify(&other),
            Err(NoteError::Unsigned("other.example/log".into()))
        );
    }

    #[test]
    fn cosignatures_carry_their_time_and_are_bound_to_it() {
        let s = signer(SigType::Cosignature);
        let mut note = signed("a\n");
        note.add_signature(s.sign("a\n", 1_700_000_000));
        let text = note.to_string();
        let parsed = Note::parse(&text).expect("parses");
        assert_eq!(
            parsed.verify(&s.verifier()),
            Ok(VerifiedSignature {
                timestamp: Some(1_700_000_000)
            })
        );
        let mut moved = parsed.clone();
        moved.signatures[1].signature[7] ^= 1;
        assert!(moved.verify(&s.verifier()).is_err());
        // The same key as a log signer has another key ID: not confused with the cosigner.
        assert_ne!(
            signer(SigType::Ed25519).verifier().key_id(),
            s.verifier().key_id()
        );
    }

    #[test]
    fn vkeys_round_trip_whatever_their_base64_holds() {
        for seed in 0u8..=255 {
            for sig_type in [SigType::Ed25519, SigType::Cosignature] {
                let v = NoteSigner::new("example.com/log", sig_type, &[seed; 32])
                    .expect("valid name")
                    .verifier();
                assert_eq!(NoteVerifier::parse(&v.to_string()), Ok(v));
            }
        }
    }

    #[test]
    fn malformed_notes_and_keys_are_refused() {
        for bad in [
            "no newline",
            "text\n",
            "text\n\n",
            "text\n\nnot a signature\n",
            "te\u{7}xt\n\n\u{2014} a AAAAAAA=\n",
            "text\n\n\u{2014} a !!!\n",
        ] {
            assert!(
                matches!(Note::parse(bad), Err(NoteError::Malformed(_))),
                "{bad:?}"
            );
        }
        assert!(NoteSigner::new("has space", SigType::Ed25519, &[1; 32]).is_err());
        assert!(NoteSigner::new("a+b", SigType::Ed25519, &[1; 32]).is_err());
        let vkey = signer(SigType::Ed25519).verifier().to_string();
        let mut chars: Vec<char> = vkey.chars().collect();
        let id_at = vkey.find('+').expect("plus") + 1;
        chars[id_at] = if chars[id_at] == '0' { '1' } else { '0' };
        let tampered: String = chars.into_iter().collect();
        assert!(NoteVerifier::parse(&tampered).is_err());
        assert!(NoteVerifier::parse("nonsense").is_err());
    }
}
