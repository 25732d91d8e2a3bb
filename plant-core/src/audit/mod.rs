//! The tamper-evident audit chain (provisional interface; the full module replaces this file).
#![allow(missing_docs, clippy::unwrap_used)]

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::Timestamp;

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct Hash(pub [u8; 32]);
impl Hash {
    pub const ZERO: Hash = Hash([0; 32]);
}
impl std::fmt::Display for Hash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}
impl std::str::FromStr for Hash {
    type Err = hex::FromHexError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out)?;
        Ok(Hash(out))
    }
}
impl Serialize for Hash {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}
impl<'de> Deserialize<'de> for Hash {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Head {
    pub seq: u64,
    pub hash: Hash,
}
impl Head {
    pub const GENESIS: Head = Head { seq: 0, hash: Hash::ZERO };
    pub fn append(&self, e: NewEntry) -> AuditEntry {
        let mut entry = AuditEntry {
            seq: self.seq + 1,
            entity_id: e.entity_id,
            entity_type: e.entity_type,
            entity_version: e.entity_version,
            action: e.action,
            actor: e.actor,
            at: e.at,
            payload: e.payload,
            prev_hash: self.hash,
            hash: Hash::ZERO,
        };
        entry.hash = entry.compute_hash();
        entry
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewEntry {
    pub entity_id: Uuid,
    pub entity_type: String,
    pub entity_version: u64,
    pub action: String,
    pub actor: String,
    pub at: Timestamp,
    pub payload: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub seq: u64,
    pub entity_id: Uuid,
    pub entity_type: String,
    pub entity_version: u64,
    pub action: String,
    pub actor: String,
    pub at: Timestamp,
    pub payload: String,
    pub prev_hash: Hash,
    pub hash: Hash,
}
impl AuditEntry {
    pub fn compute_hash(&self) -> Hash {
        let mut h = Sha256::new();
        h.update(b"plant-audit-v1\n");
        h.update(self.seq.to_be_bytes());
        h.update(self.prev_hash.0);
        h.update(Sha256::digest(self.payload.as_bytes()));
        h.update(self.entity_id.as_bytes());
        for s in [&self.entity_type] {
            h.update((s.len() as u32).to_be_bytes());
            h.update(s.as_bytes());
        }
        h.update(self.entity_version.to_be_bytes());
        let at = self.at.to_rfc3339();
        for s in [&self.action, &self.actor, &at] {
            h.update((s.len() as u32).to_be_bytes());
            h.update(s.as_bytes());
        }
        Hash(h.finalize().into())
    }
    pub fn head(&self) -> Head {
        Head { seq: self.seq, hash: self.hash }
    }
}

pub mod canonical {
    use serde::Serialize;
    use serde_json::Value;
    #[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
    pub enum EncodeError {
        #[error("floats are not allowed in audited payloads (at {path})")]
        Float { path: String },
        #[error("cannot encode: {0}")]
        Serialize(String),
    }
    pub fn to_canonical<T: Serialize + ?Sized>(value: &T) -> Result<String, EncodeError> {
        let v = serde_json::to_value(value).map_err(|e| EncodeError::Serialize(e.to_string()))?;
        canonical_value(&v)
    }
    pub fn canonical_value(value: &Value) -> Result<String, EncodeError> {
        check(value, "$")?;
        serde_json::to_string(value).map_err(|e| EncodeError::Serialize(e.to_string()))
    }
    fn check(v: &Value, path: &str) -> Result<(), EncodeError> {
        match v {
            Value::Number(n) if n.is_f64() => Err(EncodeError::Float { path: path.into() }),
            Value::Array(a) => a.iter().enumerate().try_for_each(|(i, x)| check(x, &format!("{path}[{i}]"))),
            Value::Object(o) => o.iter().try_for_each(|(k, x)| check(x, &format!("{path}.{k}"))),
            _ => Ok(()),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub seq: u64,
    pub hash: Hash,
    pub signed_at: Timestamp,
    pub public_key: String,
    pub signature: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Break {
    pub seq: u64,
    pub reason: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct VerifyReport {
    pub ok: bool,
    pub entries_checked: u64,
    pub head: Head,
    pub checkpoints_checked: usize,
    pub first_break: Option<Break>,
}

#[derive(Debug)]
pub struct ChainVerifier {
    head: Head,
    n: u64,
    brk: Option<Break>,
    latest: std::collections::HashMap<Uuid, (u64, u64, Hash, String)>,
}
impl ChainVerifier {
    pub fn new(_keys: Vec<String>) -> Self {
        Self { head: Head::GENESIS, n: 0, brk: None, latest: Default::default() }
    }
    pub fn push(&mut self, e: &AuditEntry) -> Result<(), Break> {
        if let Some(b) = &self.brk {
            return Err(b.clone());
        }
        let bad = |r: &str| Break { seq: e.seq, reason: r.into() };
        let res = if e.seq != self.head.seq + 1 {
            Err(bad("gap"))
        } else if e.prev_hash != self.head.hash {
            Err(bad("prev"))
        } else if e.compute_hash() != e.hash {
            Err(bad("hash"))
        } else {
            Ok(())
        };
        match res {
            Ok(()) => {
                self.head = e.head();
                self.n += 1;
                self.latest.insert(e.entity_id, (e.seq, e.entity_version, e.hash, e.payload.clone()));
                Ok(())
            }
            Err(b) => {
                self.brk = Some(b.clone());
                Err(b)
            }
        }
    }
    pub fn check_row(&self, id: Uuid, version: u64, vh: &Hash, payload: &str) -> Result<(), Break> {
        match self.latest.get(&id) {
            Some((seq, v, h, p)) if *v == version && h == vh && p == payload => {
                let _ = seq;
                Ok(())
            }
            Some((seq, ..)) => Err(Break { seq: *seq, reason: "row".into() }),
            None => Err(Break { seq: self.head.seq + 1, reason: "row without entry".into() }),
        }
    }
    pub fn finish(self, checkpoints: &[Checkpoint]) -> VerifyReport {
        VerifyReport {
            ok: self.brk.is_none(),
            entries_checked: self.n,
            head: self.head,
            checkpoints_checked: checkpoints.len(),
            first_break: self.brk,
        }
    }
}

pub fn verify_entity_entries(entries: &[AuditEntry]) -> Result<(), Break> {
    for (i, e) in entries.iter().enumerate() {
        if e.compute_hash() != e.hash || e.entity_version != i as u64 + 1 {
            return Err(Break { seq: e.seq, reason: "entity chain".into() });
        }
    }
    Ok(())
}
