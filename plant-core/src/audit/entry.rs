//! Audit entries and the link hash that chains them.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::hash::{Hash, Head};
use crate::time::Timestamp;

/// Domain-separation prefix of the link hash, encoding v1.
pub const LINK_DOMAIN: &[u8] = b"plant-audit-v1\n";

/// What a writer supplies for a new audit entry; [`Head::append`] adds the seq and the hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEntry {
    /// The entity (or trial, or job) the change is about.
    pub entity_id: Uuid,
    /// Its kind: `Industry`, `Skill`, `JobRole`, `Team`, `Agent`, `Trial`, `Job`, ….
    pub entity_type: String,
    /// Its version after the change: 1 for the creating entry, then 2, 3, ….
    pub entity_version: u64,
    /// What happened (`create`, `update`, `certify`, …).
    pub action: String,
    /// Who did it.
    pub actor: String,
    /// When.
    pub at: Timestamp,
    /// The record after the change, in canonical JSON v1 (see [`super::canonical`]).
    pub payload: String,
}

/// One link of the global audit chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Position in the chain, from 1, without gaps.
    pub seq: u64,
    /// The entity (or trial, or job) the change is about.
    pub entity_id: Uuid,
    /// Its kind, as the text the link hash covers. An entry is a record of what is stored, so
    /// its text fields stay text: a verifier must hash and report whatever a tampered row holds
    /// (an unknown kind or action is a broken entry found at its seq, not a row that fails to
    /// load). The write path cannot produce a wrong one: stores build entries from a typed
    /// [`crate::model::Kind`] and [`crate::store::Action`].
    pub entity_type: String,
    /// Its version after the change.
    pub entity_version: u64,
    /// What happened (text, for the reason given on `entity_type`).
    pub action: String,
    /// Who did it.
    pub actor: String,
    /// When.
    pub at: Timestamp,
    /// Canonical JSON v1 of the record after the change.
    pub payload: String,
    /// The hash of entry `seq - 1`; [`Hash::ZERO`] for seq 1.
    pub prev_hash: Hash,
    /// The link hash of this entry (see the [module documentation](super)).
    pub hash: Hash,
}

impl Head {
    /// Makes the entry that follows this head: `seq = self.seq + 1`, `prev_hash = self.hash`,
    /// and its link hash computed. The new head is [`AuditEntry::head`] of the result.
    ///
    /// ```
    /// use plant_core::audit::{Head, NewEntry, Hash};
    /// use plant_core::Timestamp;
    ///
    /// let new = |version| NewEntry {
    ///     entity_id: uuid::Uuid::nil(),
    ///     entity_type: "Skill".into(),
    ///     entity_version: version,
    ///     action: "create".into(),
    ///     actor: "genesis".into(),
    ///     at: "2026-01-01T00:00:00Z".parse::<Timestamp>().unwrap(),
    ///     payload: r#"{"name":"SEO"}"#.into(),
    /// };
    /// let first = Head::GENESIS.append(new(1));
    /// assert_eq!((first.seq, first.prev_hash), (1, Hash::ZERO));
    /// let second = first.head().append(new(2));
    /// assert_eq!((second.seq, second.prev_hash), (2, first.hash));
    /// assert_eq!(second.hash, second.compute_hash());
    /// ```
    pub fn append(&self, entry: NewEntry) -> AuditEntry {
        let mut out = AuditEntry {
            seq: self.seq.saturating_add(1),
            entity_id: entry.entity_id,
            entity_type: entry.entity_type,
            entity_version: entry.entity_version,
            action: entry.action,
            actor: entry.actor,
            at: entry.at,
            payload: entry.payload,
            prev_hash: self.hash,
            hash: Hash::ZERO,
        };
        out.hash = out.compute_hash();
        out
    }
}

impl AuditEntry {
    /// Appends this entry's JSON to `out`: the bytes `serde_json::to_vec` gives (same members,
    /// same order, same escapes), with the strings escaped by [`crate::json::escape_into`]. An
    /// export page is mostly payload text, which this writes several times faster.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        use std::io::Write as _;
        // Writing into a Vec cannot fail.
        let _ = write!(
            out,
            "{{\"seq\":{},\"entity_id\":\"{}\",\"entity_type\":",
            self.seq, self.entity_id
        );
        crate::json::escape_into(out, &self.entity_type);
        let _ = write!(
            out,
            ",\"entity_version\":{},\"action\":",
            self.entity_version
        );
        crate::json::escape_into(out, &self.action);
        out.extend_from_slice(b",\"actor\":");
        crate::json::escape_into(out, &self.actor);
        let _ = write!(out, ",\"at\":\"{}\",\"payload\":", self.at);
        crate::json::escape_into(out, &self.payload);
        out.extend_from_slice(b",\"prev_hash\":");
        write_hex(out, &self.prev_hash);
        out.extend_from_slice(b",\"hash\":");
        write_hex(out, &self.hash);
        out.push(b'}');
    }

    /// A JSON array of `entries`, as [`Self::write_json`] writes each.
    pub fn list_json(entries: &[AuditEntry]) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            2 + entries
                .iter()
                .map(|e| e.payload.len() + e.payload.len() / 8 + 400)
                .sum::<usize>(),
        );
        out.push(b'[');
        for (i, entry) in entries.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            entry.write_json(&mut out);
        }
        out.push(b']');
        out
    }

    /// Recomputes the link hash from this entry's fields (ignoring the stored `hash`).
    pub fn compute_hash(&self) -> Hash {
        self.compute_hash_with_digest(&self.payload_digest())
    }

    /// The link hash given the payload's digest, so a verifier that also needs the digest
    /// hashes the payload once.
    pub(crate) fn compute_hash_with_digest(&self, payload_digest: &Hash) -> Hash {
        let mut h = Sha256::new();
        h.update(LINK_DOMAIN);
        h.update(self.seq.to_be_bytes());
        h.update(self.prev_hash.0);
        h.update(payload_digest.0);
        h.update(self.entity_id.as_bytes());
        update_prefixed(&mut h, self.entity_type.as_bytes());
        h.update(self.entity_version.to_be_bytes());
        update_prefixed(&mut h, self.action.as_bytes());
        update_prefixed(&mut h, self.actor.as_bytes());
        match self.at.rfc3339_bytes() {
            Some(text) => update_prefixed(&mut h, &text),
            None => update_prefixed(&mut h, self.at.to_rfc3339().as_bytes()),
        }
        Hash(h.finalize().into())
    }

    /// The chain's head if this entry is the last one.
    pub fn head(&self) -> Head {
        Head {
            seq: self.seq,
            hash: self.hash,
        }
    }

    /// The payload parsed as JSON.
    pub fn payload_json(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::from_str(&self.payload)
    }

    /// SHA-256 of the payload bytes, the value the link hash commits to.
    pub fn payload_digest(&self) -> Hash {
        Self::digest_of(&self.payload)
    }

    /// SHA-256 of a canonical payload text.
    pub fn digest_of(payload: &str) -> Hash {
        Hash(Sha256::digest(payload.as_bytes()).into())
    }
}

/// A hash as a quoted hex string, without allocating.
fn write_hex(out: &mut Vec<u8>, hash: &Hash) {
    out.push(b'"');
    out.extend_from_slice(&hash.hex_bytes());
    out.push(b'"');
}

/// A variable-length field: u32 big-endian byte length, then the bytes. Fields longer than
/// `u32::MAX` bytes cannot occur in practice (the database refuses far smaller rows); should one
/// appear, its length saturates, and the bytes that follow still enter the hash.
fn update_prefixed(h: &mut Sha256, bytes: &[u8]) {
    let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    h.update(len.to_be_bytes());
    h.update(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> AuditEntry {
        Head::GENESIS.append(NewEntry {
            entity_id: Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef),
            entity_type: "Agent".into(),
            entity_version: 1,
            action: "create".into(),
            actor: "genesis".into(),
            at: "2026-03-01T12:00:00.000001Z".parse().expect("timestamp"),
            payload: r#"{"name":"Ava Flux"}"#.into(),
        })
    }

    #[test]
    fn every_field_enters_the_link_hash() {
        let base = sample();
        type Mutation = Box<dyn Fn(&mut AuditEntry)>;
        let mutations: Vec<Mutation> = vec![
            Box::new(|e| e.seq += 1),
            Box::new(|e| e.prev_hash.0[31] ^= 1),
            Box::new(|e| e.payload.push(' ')),
            Box::new(|e| e.entity_id = Uuid::nil()),
            Box::new(|e| e.entity_type.push('s')),
            Box::new(|e| e.entity_version += 1),
            Box::new(|e| e.action.push('d')),
            Box::new(|e| e.actor.push('x')),
            Box::new(|e| e.at = e.at.plus_days(1)),
        ];
        for (i, mutate) in mutations.iter().enumerate() {
            let mut e = base.clone();
            mutate(&mut e);
            assert_ne!(
                e.compute_hash(),
                base.hash,
                "mutation {i} left the hash unchanged"
            );
        }
    }

    #[test]
    fn the_fast_timestamp_text_is_the_canonical_text() {
        let samples = [
            0i64,
            1,
            999_999,
            -1,
            1_767_225_599_999_999,
            951_782_400_123_456,     // 2000-02-29
            -62_167_219_200_000_000, // 0000-01-01
            253_402_300_799_999_999, // 9999-12-31T23:59:59.999999
        ];
        for micros in samples
            .into_iter()
            .chain((0..2_000).map(|i| i * 7_919_000_013_417))
        {
            let at = Timestamp::from_micros(micros).expect("in range");
            let fast = at.rfc3339_bytes().expect("four-digit year");
            let chrono_text = at
                .as_datetime()
                .format("%Y-%m-%dT%H:%M:%S%.6fZ")
                .to_string();
            assert_eq!(std::str::from_utf8(&fast).expect("ascii"), chrono_text);
        }
        let far = Timestamp::from_micros(253_402_300_800_000_000).expect("year 10000");
        assert_eq!(far.rfc3339_bytes(), None);
        let mut e = sample();
        e.at = far;
        assert_ne!(e.compute_hash(), sample().compute_hash());
    }

    #[test]
    fn length_prefixes_keep_adjacent_fields_apart() {
        let base = sample();
        let mut a = base.clone();
        a.action = "ab".into();
        a.actor = "c".into();
        let mut b = base;
        b.action = "a".into();
        b.actor = "bc".into();
        assert_ne!(a.compute_hash(), b.compute_hash());
    }

    #[test]
    fn entries_serialize_with_hex_hashes_and_round_trip() {
        let e = sample();
        let json = serde_json::to_value(&e).expect("serializes");
        assert_eq!(json["prev_hash"], "0".repeat(64));
        assert_eq!(json["hash"], e.hash.to_hex());
        assert_eq!(json["at"], "2026-03-01T12:00:00.000001Z");
        let back: AuditEntry = serde_json::from_value(json).expect("parses");
        assert_eq!(back, e);
        assert_eq!(back.payload_json().expect("json")["name"], "Ava Flux");
    }

    proptest::proptest! {
        /// The hand-written export JSON is byte for byte what serde_json writes.
        #[test]
        fn written_json_equals_serde_json(
            seq in proptest::prelude::any::<u64>(),
            id in proptest::prelude::any::<u128>(),
            entity_type in ".{0,12}",
            version in proptest::prelude::any::<u64>(),
            action in ".{0,12}",
            actor in ".{0,20}",
            micros in -62_167_219_200_000_000_i64..400_000_000_000_000_000,
            payload in ".{0,200}",
            prev in proptest::prelude::any::<[u8; 32]>(),
            hash in proptest::prelude::any::<[u8; 32]>(),
        ) {
            let entry = AuditEntry {
                seq,
                entity_id: Uuid::from_u128(id),
                entity_type,
                entity_version: version,
                action,
                actor,
                at: Timestamp::from_micros(micros).expect("in range"),
                payload,
                prev_hash: Hash(prev),
                hash: Hash(hash),
            };
            let mut out = Vec::new();
            entry.write_json(&mut out);
            proptest::prop_assert_eq!(&out, &serde_json::to_vec(&entry).expect("serializes"));
            let list = vec![entry.clone(), sample()];
            proptest::prop_assert_eq!(
                AuditEntry::list_json(&list),
                serde_json::to_vec(&list).expect("serializes")
            );
        }
    }
}
