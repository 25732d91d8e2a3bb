//! The transparency log as a service: the Merkle tree kept in memory beside a [`Store`],
//! proofs for HTTP handlers, and signed C2SP checkpoints.
//!
//! The tree is derived data: its leaves are the entries' link hashes in seq order, so it is
//! rebuilt from the store (reading 32 bytes per entry) and extended as the chain grows; the write
//! path is not touched. A process keeps one [`TransparencyLog`] (about 96 bytes per entry: the
//! tree and the link hashes); a proof for a tree size it already covers needs no database round
//! trip.

use serde::{Deserialize, Serialize};
use tokio::sync::RwLock;

use super::entry::AuditEntry;
use super::hash::Hash;
use super::merkle::{MerkleTree, TreeError, leaf_hash, verify_consistency, verify_inclusion};
use super::note::{NoteSigner, NoteVerifier};
use super::tree_head::{StoredTreeCheckpoint, TreeHead};
use super::verify::{Break, BreakReason, VerifyReport};
use crate::store::{Store, StoreError};
use crate::time::Timestamp;

/// Link hashes read from the store per round trip while the tree catches up.
const SYNC_PAGE: u64 = 50_000;

/// Why a proof or checkpoint cannot be given.
#[derive(Debug, thiserror::Error)]
pub enum ProofError {
    /// The request itself is wrong: seq 0, a seq beyond the size, sizes in the wrong order.
    /// HTTP 400.
    #[error("{0}")]
    BadRequest(String),
    /// The log does not hold a tree that large yet. HTTP 404 (not cacheable).
    #[error("tree size {size} is beyond the log's current size {log_size}")]
    BeyondLog {
        /// The size asked for.
        size: u64,
        /// The log's size.
        log_size: u64,
    },
    /// The store could not be read. HTTP 503.
    #[error("the audit log could not be read")]
    Store(#[from] StoreError),
    /// The store returned a chain with a gap or out of order. HTTP 500.
    #[error("the audit log returned seq {found} where {expected} was due")]
    Inconsistent {
        /// The seq expected next.
        expected: u64,
        /// The seq returned.
        found: u64,
    },
}

/// An RFC 9162 inclusion proof of one audit entry, as served over HTTP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InclusionProof {
    /// The entry's seq.
    pub seq: u64,
    /// Its leaf index, `seq - 1`.
    pub leaf_index: u64,
    /// The size of the tree the proof is for.
    pub tree_size: u64,
    /// The entry's link hash: the leaf's data.
    pub entry_hash: Hash,
    /// `SHA-256(0x00 || entry_hash)`.
    pub leaf_hash: Hash,
    /// The root of the tree of `tree_size` leaves (compare it with a signed checkpoint).
    pub root_hash: Hash,
    /// The audit path, from the leaf's sibling up, each hash as 64 hex digits.
    pub audit_path: Vec<Hash>,
}

impl InclusionProof {
    /// Checks that `entry` (whose link hash is recomputed from its fields) is leaf
    /// `entry.seq - 1` of the tree of `tree_size` leaves with root `root`. `root` must come from
    /// a trusted source (a verified checkpoint of size `tree_size`), not from the proof.
    pub fn verifies_entry(&self, entry: &AuditEntry, root: &Hash) -> bool {
        entry.compute_hash() == entry.hash
            && entry.seq == self.seq
            && self.leaf_index.checked_add(1) == Some(entry.seq)
            && verify_inclusion(
                &leaf_hash(&entry.hash.0),
                self.leaf_index,
                self.tree_size,
                &self.audit_path,
                root,
            )
    }
}

/// An RFC 9162 consistency proof between two tree sizes, as served over HTTP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsistencyProof {
    /// The older tree size.
    pub from: u64,
    /// The newer tree size.
    pub to: u64,
    /// The root at `from`.
    pub from_root: Hash,
    /// The root at `to`.
    pub to_root: Hash,
    /// The proof, each hash as 64 hex digits.
    pub consistency_path: Vec<Hash>,
}

impl ConsistencyProof {
    /// Checks the proof against two trusted roots (from verified checkpoints).
    pub fn verifies(&self, from_root: &Hash, to_root: &Hash) -> bool {
        verify_consistency(
            self.from,
            self.to,
            from_root,
            to_root,
            &self.consistency_path,
        )
    }
}

/// The audit log's Merkle tree, kept in memory and extended from the store on demand.
#[derive(Debug, Default)]
pub struct TransparencyLog {
    kept: RwLock<Kept>,
}

/// The tree and the link hashes it was built from (the proofs name the entry's hash).
#[derive(Debug, Default)]
struct Kept {
    tree: MerkleTree,
    links: Vec<Hash>,
}

impl TransparencyLog {
    /// An empty tree; the first request fills it from the store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Extends the tree to the store's current head and returns its size.
    pub async fn sync(&self, store: &dyn Store) -> Result<u64, ProofError> {
        let head = store.head().await?;
        self.sync_to(store, head.seq).await
    }

    /// Extends the tree to at least `size` leaves if the store has them; returns the size.
    async fn sync_to(&self, store: &dyn Store, size: u64) -> Result<u64, ProofError> {
        let held = self.kept.read().await.tree.len();
        if held >= size {
            return Ok(held);
        }
        let mut kept = self.kept.write().await;
        while kept.tree.len() < size {
            let after = kept.tree.len();
            let hashes = store
                .audit_hashes(after, SYNC_PAGE.min(size - after))
                .await?;
            if hashes.is_empty() {
                break;
            }
            for (seq, hash) in hashes {
                let expected = kept.tree.len() + 1;
                if seq != expected {
                    return Err(ProofError::Inconsistent {
                        expected,
                        found: seq,
                    });
                }
                kept.tree.push_leaf_data(&hash.0);
                kept.links.push(hash);
            }
        }
        Ok(kept.tree.len())
    }

    /// Makes sure the tree holds `size` leaves, or says the log is smaller.
    async fn ensure(&self, store: &dyn Store, size: u64) -> Result<(), ProofError> {
        let log_size = self.sync_to(store, size).await?;
        if log_size < size {
            let log_size = self.sync(store).await?;
            if log_size < size {
                return Err(ProofError::BeyondLog { size, log_size });
            }
        }
        Ok(())
    }

    /// The root of the tree of the first `size` entries.
    pub async fn root_at(&self, store: &dyn Store, size: u64) -> Result<Hash, ProofError> {
        self.ensure(store, size).await?;
        self.kept
            .read()
            .await
            .tree
            .root_at(size)
            .map_err(tree_error)
    }

    /// The inclusion proof of entry `seq` in the tree of `size` entries
    /// (`GET /api/v1/audit/proof/inclusion?seq=&size=`).
    pub async fn inclusion_proof(
        &self,
        store: &dyn Store,
        seq: u64,
        size: u64,
    ) -> Result<InclusionProof, ProofError> {
        if seq == 0 || seq > size {
            return Err(ProofError::BadRequest(format!(
                "seq must be between 1 and size ({size}), not {seq}"
            )));
        }
        self.ensure(store, size).await?;
        let kept = self.kept.read().await;
        let tree = &kept.tree;
        let index = seq - 1;
        let audit_path = tree.inclusion_proof(index, size).map_err(tree_error)?;
        let beyond = ProofError::BeyondLog {
            size,
            log_size: tree.len(),
        };
        let leaf = tree.leaf(index).ok_or(beyond)?;
        let entry_hash = usize::try_from(index)
            .ok()
            .and_then(|i| kept.links.get(i))
            .copied()
            .ok_or(ProofError::BeyondLog {
                size,
                log_size: tree.len(),
            })?;
        Ok(InclusionProof {
            seq,
            leaf_index: index,
            tree_size: size,
            entry_hash,
            leaf_hash: leaf,
            root_hash: tree.root_at(size).map_err(tree_error)?,
            audit_path,
        })
    }

    /// The consistency proof between the trees of `from` and `to` entries
    /// (`GET /api/v1/audit/proof/consistency?from=&to=`).
    pub async fn consistency_proof(
        &self,
        store: &dyn Store,
        from: u64,
        to: u64,
    ) -> Result<ConsistencyProof, ProofError> {
        if from > to {
            return Err(ProofError::BadRequest(format!(
                "from ({from}) must not exceed to ({to})"
            )));
        }
        self.ensure(store, to).await?;
        let tree = &self.kept.read().await.tree;
        Ok(ConsistencyProof {
            from,
            to,
            from_root: tree.root_at(from).map_err(tree_error)?,
            to_root: tree.root_at(to).map_err(tree_error)?,
            consistency_path: tree.consistency_proof(from, to).map_err(tree_error)?,
        })
    }

    /// Signs the tree at the store's head as a C2SP checkpoint with the log's key (whose name
    /// is the origin), stores it and returns it.
    pub async fn checkpoint(
        &self,
        store: &dyn Store,
        log: &NoteSigner,
        at: Timestamp,
    ) -> Result<StoredTreeCheckpoint, ProofError> {
        let size = self.sync(store).await?;
        let root = self
            .kept
            .read()
            .await
            .tree
            .root_at(size)
            .map_err(tree_error)?;
        let head = TreeHead {
            origin: log.name().to_owned(),
            size,
            root,
        };
        let stored = StoredTreeCheckpoint {
            tree_size: size,
            root,
            note: head.sign(log),
            signed_at: at,
        };
        store.add_tree_checkpoint(stored.clone()).await?;
        Ok(stored)
    }
}

impl TransparencyLog {
    /// Checks a C2SP checkpoint against the store's chain (see
    /// [`super::offline::check_tree_checkpoint`]): the outer error is a store failure, the inner
    /// one what is wrong with the checkpoint.
    pub async fn check_checkpoint(
        &self,
        store: &dyn Store,
        text: &str,
        logs: &[NoteVerifier],
    ) -> Result<Result<TreeHead, Break>, ProofError> {
        self.sync(store).await?;
        let kept = self.kept.read().await;
        Ok(super::offline::check_tree_checkpoint(
            &kept.tree, text, logs,
        ))
    }

    /// Checks C2SP checkpoint notes (with `None`, every stored one) against the chain and folds
    /// them into a report from [`Store::verify`]: each counts as a checkpoint checked, and the
    /// lowest break is kept. What `GET /api/v1/audit/verify` and `plant-cli verify` add to the
    /// chain's own verification.
    pub async fn fold_checkpoints(
        &self,
        store: &dyn Store,
        notes: Option<&[String]>,
        logs: &[NoteVerifier],
        report: &mut VerifyReport,
    ) -> Result<(), ProofError> {
        let stored;
        let notes = match notes {
            Some(notes) => notes,
            None => {
                stored = store
                    .tree_checkpoints()
                    .await?
                    .into_iter()
                    .map(|c| c.note)
                    .collect::<Vec<_>>();
                &stored
            }
        };
        let mut record = |brk: Break| {
            if report.first_break.as_ref().is_none_or(|b| brk.seq < b.seq) {
                report.first_break = Some(brk);
            }
            report.ok = false;
        };
        for note in notes {
            report.checkpoints_checked += 1;
            match self.check_checkpoint(store, note, logs).await {
                Ok(Ok(_)) => {}
                Ok(Err(brk)) => record(brk),
                // A chain with a missing or repeated seq has no tree past that point, so no
                // checkpoint beyond it can be checked: that is a break at the seq, not a failure
                // to verify (the chain's own verification names the same seq).
                Err(ProofError::Inconsistent { expected, found }) => {
                    record(if found > expected {
                        Break {
                            seq: expected,
                            reason: BreakReason::SeqGap { expected, found },
                        }
                    } else {
                        Break {
                            seq: found,
                            reason: BreakReason::SeqRepeated { expected, found },
                        }
                    });
                    break;
                }
                Err(other) => return Err(other),
            }
        }
        Ok(())
    }
}

/// Why a cosigned checkpoint was not stored.
#[derive(Debug, thiserror::Error)]
pub enum CosignedError {
    /// The note is not a checkpoint signed by the log.
    #[error(transparent)]
    Checkpoint(#[from] super::tree_head::TreeHeadError),
    /// No cosignature by any of the trusted witnesses verifies.
    #[error("the checkpoint carries no valid cosignature by a trusted witness")]
    NoCosignature,
    /// The checkpoint does not match the log's own tree.
    #[error("the checkpoint does not match the log: {0}")]
    Mismatch(Break),
    /// The tree or the store could not be read or written.
    #[error(transparent)]
    Proof(#[from] ProofError),
}

impl TransparencyLog {
    /// Stores a checkpoint that witnesses cosigned (what `plant-cli witness` prints), so that
    /// `GET /api/v1/audit/checkpoint` serves the log's signature with the cosignatures: the log's
    /// signature must verify under `log`, at least one cosignature under `witnesses`, and the
    /// root must be the log's own at that size. Cosignatures by unknown keys are kept as they are
    /// (a client ignores keys it does not know).
    pub async fn store_cosigned(
        &self,
        store: &dyn Store,
        text: &str,
        log: &NoteVerifier,
        witnesses: &[NoteVerifier],
        at: Timestamp,
    ) -> Result<StoredTreeCheckpoint, CosignedError> {
        let opened = super::tree_head::open_checkpoint(text, log)?;
        if !witnesses.iter().any(|w| opened.note.verify(w).is_ok()) {
            return Err(CosignedError::NoCosignature);
        }
        let head = self
            .check_checkpoint(store, text, std::slice::from_ref(log))
            .await?
            .map_err(CosignedError::Mismatch)?;
        let stored = StoredTreeCheckpoint {
            tree_size: head.size,
            root: head.root,
            note: opened.note.to_string(),
            signed_at: at,
        };
        store
            .add_tree_checkpoint(stored.clone())
            .await
            .map_err(ProofError::from)?;
        Ok(stored)
    }
}

/// The text of the latest stored checkpoint (`GET /api/v1/audit/checkpoint`), `None` before the
/// first one.
pub async fn latest_checkpoint_text(store: &dyn Store) -> Result<Option<String>, StoreError> {
    Ok(store.latest_tree_checkpoint().await?.map(|c| c.note))
}

/// The tree is checked against its own length before every use, so these cannot occur; should
/// one, it is a request for a size the tree does not hold.
fn tree_error(err: TreeError) -> ProofError {
    match err {
        TreeError::BeyondTree { size, len } => ProofError::BeyondLog {
            size,
            log_size: len,
        },
        other => ProofError::BadRequest(other.to_string()),
    }
}
