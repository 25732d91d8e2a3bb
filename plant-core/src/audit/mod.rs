//! The tamper-evident audit chain.
//!
//! Every change to the catalog appends one [`AuditEntry`] to a single global chain. Each entry
//! commits to the one before it, so changing, removing, reordering or inserting an entry breaks
//! a link that [`verify_chain`] (or the streaming [`ChainVerifier`]) finds and names by seq.
//!
//! # Encoding v1
//!
//! An entry's `payload` is the record after the change in canonical JSON (see [`canonical`]):
//! UTF-8, object keys sorted by byte order, no insignificant whitespace, integers only (floats
//! are refused), strings escaped as serde_json escapes them. Timestamps inside payloads are
//! RFC 3339 UTC with six fractional digits and `Z` ([`crate::Timestamp`]).
//!
//! # The link
//!
//! ```text
//! hash = SHA-256( "plant-audit-v1\n"
//!              || seq                   u64 big-endian
//!              || prev_hash             32 bytes (32 zero bytes for seq 1)
//!              || SHA-256(payload)      32 bytes
//!              || entity_id             16 bytes (the UUID's bytes in RFC 4122 order)
//!              || len(entity_type)      u32 big-endian || entity_type UTF-8
//!              || entity_version        u64 big-endian
//!              || len(action)           u32 big-endian || action UTF-8
//!              || len(actor)            u32 big-endian || actor UTF-8
//!              || len(at)               u32 big-endian || at as RFC 3339 text, e.g.
//!                                                         "2026-11-25T18:07:34.123456Z" )
//! ```
//!
//! Fixed widths and length prefixes make the encoding injective: no two different entries hash
//! the same bytes. Golden vectors in `plant-core/tests/data/golden/` pin both the payload
//! encoding and the link; changing either is a new version (`plant-audit-v2`), not an edit.
//!
//! # The transparency log
//!
//! A Merkle tree with RFC 9162 hashing runs over the entries in seq order; leaf `i` is entry
//! `i + 1`, with the entry's link hash as leaf data ([`merkle`]). Its heads are published as
//! C2SP `tlog-checkpoint`s signed as `signed-note`s ([`TreeHead`], [`note`]); inclusion and
//! consistency proofs come from a [`TransparencyLog`] and are checked by pure functions
//! ([`verify_inclusion`], [`verify_consistency`], [`offline`]). `docs/transparency.md` gives
//! every byte layout with test vectors.
//!
//! # Checkpoints
//!
//! Two formats. The current one is the C2SP checkpoint above. The earlier [`Checkpoint`] is an
//! ed25519 signature over `"plant-checkpoint-v1\n" || seq (u64 BE) || hash (32 bytes)` of a
//! head; those already made keep being verified. Store copies outside the database.
//!
//! # What verification can and cannot detect
//!
//! Detected, at the seq named in each [`BreakReason`] variant's documentation:
//! - a changed byte in any field of an entry, payload included, or in its stored hash
//!   ([`BreakReason::HashMismatch`] at that entry);
//! - a changed `prev_hash` ([`BreakReason::PrevHashMismatch`] at that entry);
//! - a deleted entry ([`BreakReason::SeqGap`] at the missing seq, or, if later seqs were
//!   renumbered to close the gap, [`BreakReason::PrevHashMismatch`] at that same seq);
//! - two swapped entries (at the lower of the two seqs);
//! - an inserted entry: with a reused seq, [`BreakReason::SeqRepeated`] at that seq; with its
//!   own hashes forged correctly and the rest renumbered, the forged entry itself is
//!   self-consistent and the break shows at its successor ([`BreakReason::PrevHashMismatch`] at
//!   seq + 1);
//! - an entity row that disagrees with its latest entry ([`ChainVerifier::check_row`]);
//! - with signed checkpoints: a truncated tail ([`BreakReason::Truncated`]), a consistent
//!   rewrite of history up to a checkpoint ([`BreakReason::CheckpointMismatch`]), and a forged or
//!   untrusted checkpoint.
//!
//! Not detected:
//! - **truncation of the tail without a checkpoint beyond the new head** — a shortened chain is
//!   a valid chain;
//! - **a consistent rewrite of everything after the newest checkpoint** — the link uses no
//!   secret, so anyone with write access can recompute hashes; only checkpoints kept outside the
//!   database (and a database that refuses UPDATE and DELETE on the audit table) bound this;
//! - entries appended after the newest checkpoint by someone with write access.

pub mod canonical;
mod checkpoint;
mod entry;
mod hash;
pub mod merkle;
pub mod note;
pub mod offline;
mod transparency;
mod tree_head;
mod verify;

pub use canonical::{EncodeError, canonical_value, to_canonical};
pub use checkpoint::{
    CHECKPOINT_DOMAIN, Checkpoint, CheckpointError, CheckpointSigner, checkpoint_message,
};
pub use entry::{AuditEntry, LINK_DOMAIN, NewEntry};
pub use hash::{Hash, HashParseError, Head};
pub use merkle::{
    MerkleTree, TreeError, leaf_hash, node_hash, verify_consistency, verify_inclusion,
};
pub use note::{Note, NoteError, NoteSignature, NoteSigner, NoteVerifier, SigType};
pub use transparency::{
    ConsistencyProof, CosignedError, InclusionProof, ProofError, TransparencyLog,
    latest_checkpoint_text,
};
pub use tree_head::{
    DEFAULT_ORIGIN, StoredTreeCheckpoint, TreeHead, TreeHeadError, VerifiedCheckpoint,
    WitnessRefusal, open_checkpoint, witness_cosign,
};
pub use verify::{
    Break, BreakReason, ChainVerifier, VerifyReport, verify_chain, verify_entity_entries,
};
