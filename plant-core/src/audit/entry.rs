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
    /// Its kind.
    pub entity_type: String,
    /// Its version after the change.
    pub entity_version: u64,
    /// What happened.
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
        match rfc3339_fast(&self.at) {
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

/// [`Timestamp::to_rfc3339`] without the formatting machinery, which otherwise costs more than
/// the hashing. `None` (use the general path) for years outside 0000..=9999 and leap seconds.
fn rfc3339_fast(at: &Timestamp) -> Option<[u8; 27]> {
    use chrono::{Datelike, Timelike};
    let t = at.as_datetime();
    let year = u32::try_from(t.year()).ok().filter(|y| *y <= 9999)?;
    let nanos = t.nanosecond();
    if nanos >= 1_000_000_000 {
        return None;
    }
    let mut out = *b"0000-00-00T00:00:00.000000Z";
    let mut put = |start: usize, width: usize, mut value: u32| {
        for i in (start..start + width).rev() {
            out[i] = b'0' + (value % 10) as u8;
            value /= 10;
        }
    };
    put(0, 4, year);
    put(5, 2, t.month());
    put(8, 2, t.day());
    put(11, 2, t.hour());
    put(14, 2, t.minute());
    put(17, 2, t.second());
    put(20, 6, nanos / 1_000);
    Some(out)
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
            let fast = rfc3339_fast(&at).expect("four-digit year");
            assert_eq!(std::str::from_utf8(&fast).expect("ascii"), at.to_rfc3339());
        }
        let far = Timestamp::from_micros(253_402_300_800_000_000).expect("year 10000");
        assert_eq!(rfc3339_fast(&far), None);
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
}
