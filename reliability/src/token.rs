//! Bearer tokens for tests, signed with a secret the test generated.

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

/// Seconds since the epoch.
pub fn now() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock after 1970")
            .as_secs(),
    )
    .expect("time fits")
}

/// Signs `claims` with HS256 and `secret`.
pub fn sign(secret: &str, claims: &Value) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("sign a token")
}

/// The claims of a valid token for `role`, for an hour.
pub fn claims(role: &str) -> Value {
    let now = now();
    json!({ "sub": format!("test-{role}"), "role": role, "roles": [role],
            "iat": now, "nbf": now, "exp": now + 3600 })
}

/// A valid token for `role`.
pub fn role(secret: &str, role: &str) -> String {
    sign(secret, &claims(role))
}

/// A valid agent token speaking for `agent_id`.
pub fn agent(secret: &str, agent_id: &str) -> String {
    let mut c = claims("agent");
    c["agent_id"] = json!(agent_id);
    c["sub"] = json!(agent_id);
    sign(secret, &c)
}

/// A valid customer token for `email`.
pub fn customer(secret: &str, email: &str) -> String {
    let mut c = claims("customer");
    c["email"] = json!(email);
    c["sub"] = json!(email);
    sign(secret, &c)
}

/// An unsigned `alg: none` token with the given claims.
pub fn alg_none(claims: &Value) -> String {
    use base64_lite::encode;
    format!(
        "{}.{}.",
        encode(br#"{"alg":"none","typ":"JWT"}"#),
        encode(claims.to_string().as_bytes())
    )
}

/// Unpadded base64url, enough for hand-made tokens.
mod base64_lite {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    pub fn encode(input: &[u8]) -> String {
        let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
        for chunk in input.chunks(3) {
            let b = [
                chunk[0],
                chunk.get(1).copied().unwrap_or(0),
                chunk.get(2).copied().unwrap_or(0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            let chars = chunk.len() + 1;
            for i in 0..chars {
                let idx = (n >> (18 - 6 * i)) & 0x3f;
                out.push(char::from(ALPHABET[idx as usize]));
            }
        }
        out
    }
}
