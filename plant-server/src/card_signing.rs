//! The key that signs A2A 1.0 agent cards, and what a signature covers.
//!
//! A2A 1.0 (`specification/a2a.proto`, `AgentCardSignature`; the specification's "Agent Card
//! Signing") signs a card with a JWS in flattened form whose payload is detached: the payload is
//! the RFC 8785 (JCS) canonical JSON of the card without its `signatures` member, and the card
//! carries only `protected` (the base64url protected header) and `signature` (base64url). The
//! signing input is `BASE64URL(protected) || "." || BASE64URL(JCS(card))` (RFC 7515 §5.1).
//!
//! Plant signs with ed25519 (`alg: EdDSA`, RFC 8037). The protected header names the key by its
//! RFC 7638 thumbprint (`kid`) and where its public half is published (`jku`, the JSON Web Key
//! Set at `/.well-known/jwks.json`), so a client can check that a card came from this server
//! unaltered.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signer as _, SigningKey};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

/// Where the JSON Web Key Set with the card key is served.
pub const JWKS_PATH: &str = "/.well-known/jwks.json";

/// The JWS algorithm of card signatures (RFC 8037 ed25519).
pub const ALG: &str = "EdDSA";

/// The 32-byte ed25519 seed that signs agent cards, and where it came from. `Debug` shows only
/// the origin.
#[derive(Clone)]
pub struct CardKey {
    seed: [u8; 32],
    origin: CardKeyOrigin,
}

/// Where a [`CardKey`] came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardKeyOrigin {
    /// `PLANT_CARD_SIGNING_KEY` or `PLANT_CARD_SIGNING_KEY_FILE`.
    Configured,
    /// Made for this process: cards it signed stop verifying once it exits.
    Generated,
}

impl std::fmt::Debug for CardKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CardKey")
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

/// A card key that cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum CardKeyError {
    #[error("the card signing key must be 64 hex digits (a 32-byte ed25519 seed)")]
    Malformed,
    #[error("the operating system's random number generator failed")]
    Randomness(#[source] getrandom::Error),
}

impl CardKey {
    /// A configured key from 64 hex digits (`openssl rand -hex 32` makes one).
    pub fn from_hex(text: &str) -> Result<Self, CardKeyError> {
        let mut seed = [0u8; 32];
        hex::decode_to_slice(text.trim(), &mut seed).map_err(|_| CardKeyError::Malformed)?;
        Ok(Self {
            seed,
            origin: CardKeyOrigin::Configured,
        })
    }

    /// A fresh key from the operating system's random number generator.
    pub fn generate() -> Result<Self, CardKeyError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(CardKeyError::Randomness)?;
        Ok(Self {
            seed,
            origin: CardKeyOrigin::Generated,
        })
    }

    /// Where the key came from.
    pub fn origin(&self) -> CardKeyOrigin {
        self.origin
    }
}

/// A card could not be put in canonical form.
#[derive(Debug, thiserror::Error)]
pub enum CanonicalError {
    /// JCS writes numbers as ECMAScript does; plant's cards carry none but integers in the range
    /// every JSON reader represents exactly.
    #[error("{0} has no canonical form here (only integers of magnitude below 2^53 have)")]
    Number(serde_json::Number),
}

/// Signs agent cards with an ed25519 key. `Debug` shows only the key id.
pub struct CardSigner {
    key: SigningKey,
    kid: String,
}

impl std::fmt::Debug for CardSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CardSigner")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl CardSigner {
    /// The signer of `key`.
    pub fn new(key: &CardKey) -> Self {
        let key = SigningKey::from_bytes(&key.seed);
        let x = URL_SAFE_NO_PAD.encode(key.verifying_key().to_bytes());
        // RFC 7638: the SHA-256 of the required members, in lexicographic order, no whitespace.
        let thumbprint = Sha256::digest(format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#));
        Self {
            key,
            kid: URL_SAFE_NO_PAD.encode(thumbprint),
        }
    }

    /// The key id: the RFC 7638 thumbprint of the public key.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as an RFC 8037 JSON Web Key.
    pub fn public_jwk(&self) -> Value {
        json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "x": URL_SAFE_NO_PAD.encode(self.key.verifying_key().to_bytes()),
            "kid": self.kid,
            "alg": ALG,
            "use": "sig",
        })
    }

    /// The JSON Web Key Set that publishes the public key.
    pub fn jwks(&self) -> Value {
        json!({ "keys": [self.public_jwk()] })
    }

    /// The `AgentCardSignature` of `card` (its `signatures` member, if any, is not covered):
    /// `{protected, signature}`, the key published at `jku`.
    pub fn sign(&self, card: &Value, jku: &str) -> Result<Value, CanonicalError> {
        let mut unsigned = card.clone();
        if let Some(map) = unsigned.as_object_mut() {
            map.remove("signatures");
        }
        let payload = canonical_json(&unsigned)?;
        let header = json!({ "alg": ALG, "typ": "JOSE", "kid": self.kid, "jku": jku });
        let protected = URL_SAFE_NO_PAD.encode(header.to_string());
        let input = format!("{protected}.{}", URL_SAFE_NO_PAD.encode(payload));
        let signature = self.key.sign(input.as_bytes());
        Ok(json!({
            "protected": protected,
            "signature": URL_SAFE_NO_PAD.encode(signature.to_bytes()),
        }))
    }
}

/// The RFC 8785 (JCS) canonical form of `value`: members sorted by the UTF-16 code units of
/// their names, no whitespace, strings with only the mandatory escapes.
pub fn canonical_json(value: &Value) -> Result<String, CanonicalError> {
    let mut out = String::new();
    write_canonical(value, &mut out)?;
    Ok(out)
}

/// Largest integer magnitude an IEEE 754 double holds exactly (RFC 8785 §3.2.2.3).
const SAFE_INTEGER: u64 = (1 << 53) - 1;

fn write_canonical(value: &Value, out: &mut String) -> Result<(), CanonicalError> {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            let exact = n.as_u64().is_some_and(|u| u <= SAFE_INTEGER)
                || n.as_i64().is_some_and(|i| i.unsigned_abs() <= SAFE_INTEGER);
            if !exact {
                return Err(CanonicalError::Number(n.clone()));
            }
            out.push_str(&n.to_string());
        }
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out)?;
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut members: Vec<_> = map.iter().collect();
            members.sort_by(|(a, _), (b, _)| a.encode_utf16().cmp(b.encode_utf16()));
            out.push('{');
            for (i, (name, item)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(name, out);
                out.push(':');
                write_canonical(item, out)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signature, Verifier as _, VerifyingKey};

    #[test]
    fn canonical_json_sorts_by_utf16_and_escapes_only_what_it_must() {
        // RFC 8785 §3.2.3's sorting example: U+1F600 (a surrogate pair, D83D) sorts before
        // U+FB33 although its code point is larger.
        let value = json!({
            "\u{fb33}": "hebrew", "\u{1f600}": "emoji", "a": [1, true, null],
            "é": "line\nbreak \"quoted\" \u{1} é", "-9007199254740991": -9_007_199_254_740_991i64,
        });
        assert_eq!(
            canonical_json(&value).unwrap(),
            "{\"-9007199254740991\":-9007199254740991,\"a\":[1,true,null],\
             \"é\":\"line\\nbreak \\\"quoted\\\" \\u0001 é\",\
             \"\u{1f600}\":\"emoji\",\"\u{fb33}\":\"hebrew\"}"
        );
        assert!(canonical_json(&json!({ "x": 1.5 })).is_err());
        assert!(canonical_json(&json!(9_007_199_254_740_992u64)).is_err());
    }

    #[test]
    fn a_signature_covers_the_canonical_card_without_its_signatures() {
        let signer = CardSigner::new(&CardKey::generate().unwrap());
        let card = json!({ "name": "A", "skills": [{ "id": "1" }] });
        let sig = signer
            .sign(&card, "https://x/.well-known/jwks.json")
            .unwrap();
        let protected = sig["protected"].as_str().unwrap();
        let header: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(protected).unwrap()).unwrap();
        assert_eq!(header["alg"], "EdDSA");
        assert_eq!(header["kid"], signer.kid());
        let payload = URL_SAFE_NO_PAD.encode(r#"{"name":"A","skills":[{"id":"1"}]}"#);
        let bytes = URL_SAFE_NO_PAD
            .decode(sig["signature"].as_str().unwrap())
            .unwrap();
        let signature = Signature::from_slice(&bytes).unwrap();
        let x = URL_SAFE_NO_PAD
            .decode(signer.public_jwk()["x"].as_str().unwrap())
            .unwrap();
        let key = VerifyingKey::from_bytes(&x.try_into().unwrap()).unwrap();
        key.verify(format!("{protected}.{payload}").as_bytes(), &signature)
            .unwrap();
        // An existing `signatures` member is not covered; a changed card is.
        let mut signed = card.clone();
        signed["signatures"] = json!([sig.clone()]);
        assert_eq!(
            signer
                .sign(&signed, "https://x/.well-known/jwks.json")
                .unwrap(),
            sig
        );
        let changed = URL_SAFE_NO_PAD.encode(r#"{"name":"B","skills":[{"id":"1"}]}"#);
        assert!(
            key.verify(format!("{protected}.{changed}").as_bytes(), &signature)
                .is_err()
        );
    }

    #[test]
    fn keys_parse_from_hex_and_the_kid_is_the_rfc_7638_thumbprint() {
        // RFC 8037 appendix A.1's key and A.3's thumbprint.
        let key =
            CardKey::from_hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
                .unwrap();
        assert_eq!(key.origin(), CardKeyOrigin::Configured);
        let signer = CardSigner::new(&key);
        assert_eq!(
            signer.public_jwk()["x"],
            "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
        );
        assert_eq!(signer.kid(), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
        assert!(CardKey::from_hex("abc").is_err());
        assert!(format!("{key:?}").contains("Configured") && !format!("{key:?}").contains("9d61"));
    }
}
