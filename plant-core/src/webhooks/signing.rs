//! Standard Webhooks signatures: `webhook-signature: v1,<base64 HMAC-SHA256(id.timestamp.body)>`
//! under a secret written `whsec_<base64 key>`, so that consumers verify with an off-the-shelf
//! library (<https://www.standardwebhooks.com/>).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// The prefix of a secret's text form.
pub const SECRET_PREFIX: &str = "whsec_";

/// Bytes of key in a generated secret (the specification asks for 24 to 64).
const KEY_BYTES: usize = 32;

/// Why a secret could not be made or read.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The operating system gave no randomness.
    #[error("no randomness for a webhook secret")]
    Randomness(#[source] getrandom::Error),
    /// The text is not `whsec_` followed by standard base64.
    #[error("a webhook secret is `whsec_` followed by base64")]
    Malformed,
}

/// A signing secret, `whsec_<base64>`. `Debug` does not show it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct WebhookSecret {
    key: Vec<u8>,
}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}

impl WebhookSecret {
    /// A new random secret.
    pub fn generate() -> Result<Self, SecretError> {
        let mut key = vec![0_u8; KEY_BYTES];
        getrandom::fill(&mut key).map_err(SecretError::Randomness)?;
        Ok(Self { key })
    }

    /// Reads the text form.
    ///
    /// ```
    /// use plant_core::webhooks::WebhookSecret;
    /// let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    /// assert_eq!(secret.expose(), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    /// assert!(WebhookSecret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Self, SecretError> {
        let encoded = text
            .strip_prefix(SECRET_PREFIX)
            .ok_or(SecretError::Malformed)?;
        let key = STANDARD
            .decode(encoded)
            .map_err(|_| SecretError::Malformed)?;
        if key.is_empty() {
            return Err(SecretError::Malformed);
        }
        Ok(Self { key })
    }

    /// The text form, `whsec_<base64>`: what the subscriber is shown once.
    pub fn expose(&self) -> String {
        format!("{SECRET_PREFIX}{}", STANDARD.encode(&self.key))
    }

    /// The `v1,<base64>` signature of one delivery.
    pub fn sign(&self, message_id: &str, timestamp: i64, body: &[u8]) -> String {
        // A key of any length is accepted by HMAC, so this never fails.
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable_hmac());
        mac.update(message_id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

#[allow(clippy::panic)]
fn unreachable_hmac() -> Hmac<Sha256> {
    // HMAC takes keys of every length (RFC 2104); `new_from_slice` only fails for fixed-size keys.
    panic!("HMAC-SHA256 refused a key")
}

impl TryFrom<String> for WebhookSecret {
    type Error = SecretError;

    fn try_from(text: String) -> Result<Self, SecretError> {
        Self::parse(&text)
    }
}

impl From<WebhookSecret> for String {
    fn from(secret: WebhookSecret) -> Self {
        secret.expose()
    }
}

/// The `webhook-signature` header value: one `v1,…` per secret, space-separated (during a
/// rotation's overlap both the new and the old secret sign).
///
/// ```
/// use plant_core::webhooks::{WebhookSecret, signature_header};
/// // The Standard Webhooks specification's test vector.
/// let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
/// let body = br#"{"test": 2432232314}"#;
/// assert_eq!(
///     signature_header(&[&secret], "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
///     "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
/// );
/// ```
pub fn signature_header(
    secrets: &[&WebhookSecret],
    message_id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    secrets
        .iter()
        .map(|s| s.sign(message_id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_generated_secret_round_trips_and_signs_differently_from_another() {
        let a = WebhookSecret::generate().unwrap();
        let b = WebhookSecret::generate().unwrap();
        assert_eq!(WebhookSecret::parse(&a.expose()).unwrap(), a);
        assert_ne!(a.sign("m", 1, b"x"), b.sign("m", 1, b"x"));
        assert_ne!(a.sign("m", 1, b"x"), a.sign("m", 2, b"x"));
        assert!(!format!("{a:?}").contains(&a.expose()));
    }

    #[test]
    fn two_secrets_give_two_space_separated_signatures() {
        let a = WebhookSecret::generate().unwrap();
        let b = WebhookSecret::generate().unwrap();
        let header = signature_header(&[&a, &b], "m", 5, b"{}");
        let parts: Vec<&str> = header.split(' ').collect();
        assert_eq!(parts, vec![a.sign("m", 5, b"{}"), b.sign("m", 5, b"{}")]);
    }
}
