//! Verification without a database: an export document, a signed checkpoint and the log's
//! public key are enough to check every link, every record, and the tree root; one entry with
//! one inclusion proof is enough to check that entry.
//!
//! ```
//! use plant_core::audit::{
//!     Head, MerkleTree, NewEntry, NoteSigner, SigType, TreeHead, offline, InclusionProof,
//!     leaf_hash,
//! };
//! use plant_core::Timestamp;
//!
//! let mut head = Head::GENESIS;
//! let mut tree = MerkleTree::new();
//! let mut entries = Vec::new();
//! for version in 1..=5 {
//!     let entry = head.append(NewEntry {
//!         entity_id: uuid::Uuid::nil(),
//!         entity_type: "Agent".into(),
//!         entity_version: version,
//!         action: "update".into(),
//!         actor: "genesis".into(),
//!         at: Timestamp::now(),
//!         payload: format!(r#"{{"v":{version}}}"#),
//!     });
//!     head = entry.head();
//!     tree.push_leaf_data(&entry.hash.0);
//!     entries.push(entry);
//! }
//! let log = NoteSigner::new("example.com/audit", SigType::Ed25519, &[5; 32]).unwrap();
//! let checkpoint = TreeHead { origin: "example.com/audit".into(), size: 5, root: tree.root() }
//!     .sign(&log);
//!
//! // A portal holding entry 3, its proof and the checkpoint:
//! let proof = InclusionProof {
//!     seq: 3,
//!     leaf_index: 2,
//!     tree_size: 5,
//!     entry_hash: entries[2].hash,
//!     leaf_hash: leaf_hash(&entries[2].hash.0),
//!     root_hash: tree.root(),
//!     audit_path: tree.inclusion_proof(2, 5).unwrap(),
//! };
//! let head = offline::verify_entry(&entries[2], &proof, &checkpoint, &log.verifier()).unwrap();
//! assert_eq!(head.size, 5);
//! ```

use serde::{Deserialize, Serialize};

use super::entry::AuditEntry;
use super::hash::{Hash, Head};
use super::merkle::{MerkleTree, verify_consistency};
use super::note::{Note, NoteError, NoteVerifier};
use super::transparency::InclusionProof;
use super::tree_head::{TreeHead, TreeHeadError, open_checkpoint};
use super::verify::{Break, BreakReason, ChainVerifier};
use crate::catalog::CatalogExport;

/// Fields the export adds to each version's record that its audit payload leaves out: the
/// chain derives them.
const DERIVED_FIELDS: [&str; 3] = ["version_hash", "hash_chain_sha256", "amendment_history"];

/// What offline verification found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfflineReport {
    /// True when nothing disagreed.
    pub ok: bool,
    /// Entries read.
    pub entries_checked: u64,
    /// Record versions compared with their entries.
    pub records_checked: u64,
    /// The last entry read.
    pub head: Head,
    /// The root of the tree over all the entries read.
    pub root: Hash,
    /// The checkpoints checked against the tree, newest first.
    pub checkpoints: Vec<TreeHead>,
    /// The lowest seq found bad, and why.
    pub first_break: Option<Break>,
}

/// Verifies an export against a signed checkpoint (and optionally an older one) signed by one
/// of `logs` (with none, only the roots are compared): every link of the chain, every exported record version against the entry that wrote
/// it, the tree root at the checkpoint's size, and, with `older`, that the checkpoint's tree
/// extends the older one (an RFC 9162 consistency proof made from the export and checked
/// against the two signed roots).
pub fn verify_export(
    export: &CatalogExport,
    checkpoint: &str,
    older: Option<&str>,
    logs: &[NoteVerifier],
) -> OfflineReport {
    let mut verifier = ChainVerifier::new(Vec::new());
    let mut tree = MerkleTree::new();
    for entry in &export.entries {
        // The verifier keeps the first break itself.
        let _ = verifier.push(entry);
        tree.push_leaf_data(&entry.hash.0);
    }
    let mut records_checked = 0;
    for entity in &export.entities {
        for (i, version) in entity.versions.iter().enumerate() {
            records_checked += 1;
            let last = i + 1 == entity.versions.len();
            if let Err(brk) = check_version(&verifier, &export.entries, entity.id, version, last) {
                verifier.record_break(brk);
            }
        }
    }
    let mut checkpoints = Vec::new();
    let newer = check_tree_checkpoint(&tree, checkpoint, logs);
    let newer_head = match newer {
        Ok(head) => Some(head),
        Err(brk) => {
            verifier.record_break(brk);
            None
        }
    };
    if let Some(text) = older {
        match check_tree_checkpoint(&tree, text, logs) {
            Ok(old) => {
                if let Some(new) = &newer_head
                    && let Err(brk) = check_extends(&tree, &old, new)
                {
                    verifier.record_break(brk);
                }
                checkpoints.push(old);
            }
            Err(brk) => verifier.record_break(brk),
        }
    }
    checkpoints.extend(newer_head);
    checkpoints.reverse();
    let chain = verifier.finish(&[]);
    OfflineReport {
        ok: chain.first_break.is_none(),
        entries_checked: chain.entries_checked,
        records_checked,
        head: chain.head,
        root: tree.root(),
        checkpoints,
        first_break: chain.first_break,
    }
}

/// One exported version against the entry at its seq; the last version also against the
/// entity's latest entry (so no newer entry is missing from the export's versions).
fn check_version(
    verifier: &ChainVerifier,
    entries: &[AuditEntry],
    id: uuid::Uuid,
    version: &serde_json::Value,
    last: bool,
) -> Result<(), Break> {
    let row_break = |seq, detail: String| Break {
        seq,
        reason: BreakReason::RowMismatch {
            entity_id: id,
            detail,
        },
    };
    let seq = version["seq"].as_u64().unwrap_or(0);
    let number = version["version"].as_u64().unwrap_or(0);
    let entry = usize::try_from(seq.wrapping_sub(1))
        .ok()
        .and_then(|i| entries.get(i))
        .filter(|e| e.seq == seq && e.entity_id == id && e.entity_version == number)
        .ok_or_else(|| {
            row_break(
                seq,
                format!("version {number} names seq {seq}, which is not its entry"),
            )
        })?;
    if version["hash"].as_str() != Some(entry.hash.to_hex().as_str()) {
        return Err(row_break(seq, format!("version {number} has another hash")));
    }
    let mut record = version["entity"].clone();
    if let serde_json::Value::Object(map) = &mut record {
        for field in DERIVED_FIELDS {
            map.remove(field);
        }
    }
    let canonical = super::canonical::canonical_value(&record)
        .map_err(|e| row_break(seq, format!("version {number} cannot be encoded: {e}")))?;
    if AuditEntry::digest_of(&canonical) != entry.payload_digest() {
        return Err(row_break(
            seq,
            format!("version {number} differs from the payload of its entry"),
        ));
    }
    if last {
        verifier.check_row(id, number, &entry.hash, &canonical)?;
    }
    Ok(())
}

/// Checks a C2SP checkpoint against a tree: its log signature by one of `logs`, then its root
/// against the tree's root at its size. Each failure is a [`Break`] as the chain verifier names
/// them: a bad or untrusted signature at the checkpoint's size, a checkpoint beyond the tree
/// ([`BreakReason::Truncated`]), or another root ([`BreakReason::CheckpointMismatch`]).
///
/// With no `logs` the signature is not checked, only the root: that proves the tree matches the
/// note, not who signed it.
pub fn check_tree_checkpoint(
    tree: &MerkleTree,
    text: &str,
    logs: &[NoteVerifier],
) -> Result<TreeHead, Break> {
    let claimed = Note::parse(text)
        .ok()
        .and_then(|n| TreeHead::parse_body(&n.text).ok());
    let size = claimed.as_ref().map_or(0, |h| h.size);
    let sig_break = |e: &TreeHeadError| {
        let reason = match e {
            TreeHeadError::Note(NoteError::Unsigned(_)) | TreeHeadError::OriginMismatch { .. } => {
                BreakReason::UntrustedKey {
                    checkpoint_seq: size,
                }
            }
            _ => BreakReason::BadSignature {
                checkpoint_seq: size,
            },
        };
        Break { seq: size, reason }
    };
    let head = if logs.is_empty() {
        claimed.ok_or(Break {
            seq: 0,
            reason: BreakReason::BadSignature { checkpoint_seq: 0 },
        })?
    } else {
        let mut outcome = Err(sig_break(&TreeHeadError::Note(NoteError::Unsigned(
            String::new(),
        ))));
        for log in logs {
            match open_checkpoint(text, log) {
                Ok(verified) => {
                    outcome = Ok(verified.head);
                    break;
                }
                Err(e @ TreeHeadError::Note(NoteError::Unsigned(_)))
                | Err(e @ TreeHeadError::OriginMismatch { .. }) => {
                    if outcome.is_err() {
                        outcome = Err(sig_break(&e));
                    }
                }
                Err(e) => {
                    outcome = Err(sig_break(&e));
                    break;
                }
            }
        }
        outcome?
    };
    let size = head.size;
    match tree.root_at(size) {
        Err(_) => Err(Break {
            seq: tree.len().saturating_add(1),
            reason: BreakReason::Truncated {
                checkpoint_seq: size,
                head_seq: tree.len(),
            },
        }),
        Ok(root) if root != head.root => Err(Break {
            seq: size,
            reason: BreakReason::CheckpointMismatch {
                checkpoint_seq: size,
            },
        }),
        Ok(_) => Ok(head),
    }
}

/// That `new` extends `old`, by a consistency proof checked against both signed roots.
fn check_extends(tree: &MerkleTree, old: &TreeHead, new: &TreeHead) -> Result<(), Break> {
    let mismatch = Break {
        seq: old.size,
        reason: BreakReason::CheckpointMismatch {
            checkpoint_seq: old.size,
        },
    };
    let proof = tree
        .consistency_proof(old.size, new.size)
        .map_err(|_| mismatch.clone())?;
    if verify_consistency(old.size, new.size, &old.root, &new.root, &proof) {
        Ok(())
    } else {
        Err(mismatch)
    }
}

/// Why one entry could not be verified against a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryProofError {
    /// The checkpoint does not verify under the log's key.
    #[error(transparent)]
    Checkpoint(#[from] TreeHeadError),
    /// The proof is for another tree size than the checkpoint's.
    #[error("the proof is for tree size {proof}, the checkpoint for {checkpoint}")]
    SizeMismatch {
        /// The proof's size.
        proof: u64,
        /// The checkpoint's size.
        checkpoint: u64,
    },
    /// The entry's fields do not hash to its link hash, or the proof does not lead from it to
    /// the signed root.
    #[error("entry {seq} is not in the signed tree")]
    NotIncluded {
        /// The entry's seq.
        seq: u64,
    },
}

/// Checks one audit entry (say, the one that wrote the agent version a portal shows) against a
/// signed checkpoint with one inclusion proof. Returns the checkpoint's head.
pub fn verify_entry(
    entry: &AuditEntry,
    proof: &InclusionProof,
    checkpoint: &str,
    log: &NoteVerifier,
) -> Result<TreeHead, EntryProofError> {
    let head = open_checkpoint(checkpoint, log)?.head;
    if proof.tree_size != head.size {
        return Err(EntryProofError::SizeMismatch {
            proof: proof.tree_size,
            checkpoint: head.size,
        });
    }
    if !proof.verifies_entry(entry, &head.root) {
        return Err(EntryProofError::NotIncluded { seq: entry.seq });
    }
    Ok(head)
}
