//! The 32-byte SHA-256 value that links the chain, and the chain's head.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A SHA-256 digest. Written as 64 lowercase hex digits in text and JSON.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Hash(pub [u8; 32]);

impl Hash {
    /// Thirty-two zero bytes: the `prev_hash` of seq 1 and the hash of the empty chain's head.
    pub const ZERO: Hash = Hash([0; 32]);

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lowercase hex, 64 characters.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// [`Self::to_hex`] on the stack: lists and exports write thousands of hashes per response.
    pub fn hex_bytes(&self) -> [u8; 64] {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = [0u8; 64];
        for (pair, byte) in out.chunks_exact_mut(2).zip(self.0) {
            pair[0] = HEX[usize::from(byte >> 4)];
            pair[1] = HEX[usize::from(byte & 0x0f)];
        }
        out
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_hex())
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// Why a text is not a hash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a SHA-256 hash (64 hex digits): {0:?}")]
pub struct HashParseError(String);

impl FromStr for Hash {
    type Err = HashParseError;

    /// Accepts 64 hex digits in either case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(s, &mut bytes).map_err(|_| HashParseError(s.to_owned()))?;
        Ok(Hash(bytes))
    }
}

impl Serialize for Hash {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let hex = self.hex_bytes();
        serializer.serialize_str(std::str::from_utf8(&hex).map_err(serde::ser::Error::custom)?)
    }
}

impl<'de> Deserialize<'de> for Hash {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct HexVisitor;
        impl serde::de::Visitor<'_> for HexVisitor {
            type Value = Hash;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("64 hex digits")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Hash, E> {
                text.parse().map_err(E::custom)
            }
        }
        // Borrowed when the input allows it, so no string is allocated per hash.
        deserializer.deserialize_str(HexVisitor)
    }
}

/// The last link of a chain: its seq and hash. The next entry gets `seq + 1` and
/// `prev_hash = hash`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Head {
    /// The seq of the last entry; 0 for the empty chain.
    pub seq: u64,
    /// The hash of the last entry; [`Hash::ZERO`] for the empty chain.
    pub hash: Hash,
}

impl Head {
    /// The head of the empty chain: seq 0, hash zero.
    pub const GENESIS: Head = Head {
        seq: 0,
        hash: Hash::ZERO,
    };
}

impl Default for Head {
    fn default() -> Self {
        Head::GENESIS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_text_and_json_are_lowercase_hex_and_round_trip() {
        let hash = Hash([0xAB; 32]);
        let text = hash.to_string();
        assert_eq!(text, "ab".repeat(32));
        assert_eq!(text.to_uppercase().parse::<Hash>().expect("parses"), hash);
        let json = serde_json::to_string(&hash).expect("serializes");
        assert_eq!(json, format!("\"{text}\""));
        assert_eq!(serde_json::from_str::<Hash>(&json).expect("parses"), hash);
        assert_eq!(format!("{hash:?}"), format!("Hash({text})"));
    }

    proptest::proptest! {
        /// The stack form is the hex crate's lowercase text for any 32 bytes.
        #[test]
        fn hex_bytes_equal_the_hex_crate(bytes in proptest::prelude::any::<[u8; 32]>()) {
            let hash = Hash(bytes);
            proptest::prop_assert_eq!(hash.hex_bytes().to_vec(), hex::encode(bytes).into_bytes());
        }
    }

    #[test]
    fn short_long_or_non_hex_text_is_refused() {
        assert!("ab".parse::<Hash>().is_err());
        assert!("ab".repeat(33).parse::<Hash>().is_err());
        assert!("zz".repeat(32).parse::<Hash>().is_err());
    }
}
