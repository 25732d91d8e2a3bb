//! Verification: recompute every link, check rows and checkpoints, name the first bad seq.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde::{Deserialize, Serialize, Serializer};
use uuid::Uuid;

use super::checkpoint::{Checkpoint, CheckpointError};
use super::entry::AuditEntry;
use super::hash::{Hash, Head};

/// The first place where the chain (or a row, or a checkpoint) disagrees, and why.
///
/// Serialized as `{"seq": 17, "reason": {"kind": "prev_hash_mismatch"}, "message": "seq 17: …"}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Break {
    /// The first seq that cannot be vouched for; see [`BreakReason`] for which seq each kind names.
    pub seq: u64,
    /// What is wrong there.
    pub reason: BreakReason,
}

/// Why verification failed. Each variant documents which seq its [`Break`] names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BreakReason {
    /// Entry `expected` is missing: the next entry present has seq `found` (> `expected`).
    /// Names `expected`. A deleted entry, or the first of two swapped entries.
    SeqGap {
        /// The seq that should have come next.
        expected: u64,
        /// The seq that came instead.
        found: u64,
    },
    /// An entry's seq is not above its predecessor's: seq `found` appears where `expected` was
    /// due. Names `found`. An inserted entry that reuses a seq, or a reordering.
    SeqRepeated {
        /// The seq that should have come next.
        expected: u64,
        /// The seq that came instead (≤ the previous one).
        found: u64,
    },
    /// The entry's `prev_hash` is not the stored hash of the entry before it (not zero for
    /// seq 1). Names the entry. A changed `prev_hash`, or an entry inserted before it.
    PrevHashMismatch,
    /// The entry's stored hash is not the hash of its fields. Names the entry. A changed byte in
    /// any field, payload included, or in the stored hash itself.
    HashMismatch,
    /// The entity's versions do not go 1, 2, 3, … in chain order. Names the entry.
    VersionOutOfOrder {
        /// The entity.
        entity_id: Uuid,
        /// The version that should have come next.
        expected: u64,
        /// The version that came.
        found: u64,
    },
    /// In one entity's entries, an entry belongs to another entity. Names the entry.
    ForeignEntity {
        /// The entity whose entries these should be.
        expected: Uuid,
        /// The entity this entry is about.
        found: Uuid,
    },
    /// In one entity's entries, seqs do not strictly increase. Names the entry.
    SeqNotIncreasing {
        /// The seq of the entry before.
        previous: u64,
    },
    /// An entity's stored row disagrees with its latest audit entry. Names that entry, or 0 when
    /// the entity has no entry at all.
    RowMismatch {
        /// The entity.
        entity_id: Uuid,
        /// What differs.
        detail: String,
    },
    /// The chain's hash at the checkpoint's seq differs from the signed one: history up to that
    /// seq was rewritten (even consistently). Names the checkpoint's seq.
    CheckpointMismatch {
        /// The checkpoint's seq.
        checkpoint_seq: u64,
    },
    /// The chain ends before a signed checkpoint: the tail was cut. Names `head_seq + 1`, the
    /// first missing entry.
    Truncated {
        /// The checkpoint's seq.
        checkpoint_seq: u64,
        /// The last seq present.
        head_seq: u64,
    },
    /// A checkpoint's signature (or its key or signature encoding) is invalid. Names the
    /// checkpoint's seq.
    BadSignature {
        /// The checkpoint's seq.
        checkpoint_seq: u64,
    },
    /// A checkpoint is signed by a key outside the trusted list. Names the checkpoint's seq.
    UntrustedKey {
        /// The checkpoint's seq.
        checkpoint_seq: u64,
    },
    /// A checkpoint passed to [`ChainVerifier::finish`] was not registered with
    /// [`ChainVerifier::with_checkpoints`], so the hash at its seq was not kept. A caller error,
    /// not tampering. Names the checkpoint's seq.
    CheckpointNotRecorded {
        /// The checkpoint's seq.
        checkpoint_seq: u64,
    },
}

impl BreakReason {
    fn describe(&self, seq: u64, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BreakReason::SeqGap { found, .. } => {
                write!(
                    f,
                    "entry is missing (the next entry present has seq {found})"
                )
            }
            BreakReason::SeqRepeated { expected, .. } => write!(
                f,
                "seq appears again where seq {expected} was due (an inserted or reordered entry)"
            ),
            BreakReason::PrevHashMismatch if seq == 1 => {
                write!(f, "prev_hash is not 32 zero bytes")
            }
            BreakReason::PrevHashMismatch => write!(
                f,
                "prev_hash does not match the hash of seq {}",
                seq.saturating_sub(1)
            ),
            other => fmt::Display::fmt(other, f),
        }
    }
}

impl fmt::Display for BreakReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BreakReason::SeqGap { expected, found } => {
                write!(
                    f,
                    "seq {expected} is missing; the next entry present has seq {found}"
                )
            }
            BreakReason::SeqRepeated { expected, found } => {
                write!(f, "seq {found} appears where seq {expected} was due")
            }
            BreakReason::PrevHashMismatch => {
                write!(f, "prev_hash does not match the hash of the previous entry")
            }
            BreakReason::HashMismatch => write!(
                f,
                "stored hash does not match the hash recomputed from the entry's fields"
            ),
            BreakReason::VersionOutOfOrder {
                entity_id,
                expected,
                found,
            } => write!(
                f,
                "entity {entity_id} is at version {found} where version {expected} was due"
            ),
            BreakReason::ForeignEntity { expected, found } => {
                write!(f, "entry is about entity {found}, not {expected}")
            }
            BreakReason::SeqNotIncreasing { previous } => {
                write!(f, "seq does not increase after seq {previous}")
            }
            BreakReason::RowMismatch { entity_id, detail } => write!(
                f,
                "the stored row of entity {entity_id} disagrees with its latest audit entry: {detail}"
            ),
            BreakReason::CheckpointMismatch { checkpoint_seq } => write!(
                f,
                "hash differs from the signed checkpoint at seq {checkpoint_seq}: history was rewritten"
            ),
            BreakReason::Truncated {
                checkpoint_seq,
                head_seq,
            } => write!(
                f,
                "the chain ends at seq {head_seq} but a signed checkpoint covers seq {checkpoint_seq}: the tail was truncated"
            ),
            BreakReason::BadSignature { checkpoint_seq } => {
                write!(
                    f,
                    "the checkpoint at seq {checkpoint_seq} has an invalid signature"
                )
            }
            BreakReason::UntrustedKey { checkpoint_seq } => write!(
                f,
                "the checkpoint at seq {checkpoint_seq} is signed by a key that is not trusted"
            ),
            BreakReason::CheckpointNotRecorded { checkpoint_seq } => write!(
                f,
                "the checkpoint at seq {checkpoint_seq} was not registered before verification, so the hash at its seq was not kept"
            ),
        }
    }
}

impl fmt::Display for Break {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "seq {}: ", self.seq)?;
        self.reason.describe(self.seq, f)
    }
}

impl std::error::Error for Break {}

impl Serialize for Break {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Wire<'a> {
            seq: u64,
            reason: &'a BreakReason,
            message: String,
        }
        Wire {
            seq: self.seq,
            reason: &self.reason,
            message: self.to_string(),
        }
        .serialize(serializer)
    }
}

/// The outcome of verifying a chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyReport {
    /// True when nothing disagreed.
    pub ok: bool,
    /// How many entries were read.
    pub entries_checked: u64,
    /// The last entry read (as stored), or [`Head::GENESIS`] for an empty chain.
    pub head: Head,
    /// How many checkpoints were examined.
    pub checkpoints_checked: usize,
    /// The lowest seq found bad, and why; `None` when `ok`.
    pub first_break: Option<Break>,
}

#[derive(Debug, Clone, Copy)]
struct Latest {
    seq: u64,
    version: u64,
    hash: Hash,
    payload_digest: Hash,
}

#[derive(Debug)]
enum Recorded {
    /// The hash of every in-place entry, index `seq - 1`.
    All(Vec<Hash>),
    /// Only the hashes at registered checkpoint seqs.
    Only(BTreeMap<u64, Option<Hash>>),
}

/// A streaming verifier: feed it the entries in seq order with [`push`](Self::push), check rows
/// with [`check_row`](Self::check_row), then [`finish`](Self::finish) with the checkpoints.
///
/// It keeps, per entity, its latest entry's seq, version, hash and payload digest (about 100
/// bytes) and, when made with [`new`](Self::new), every entry's hash (32 bytes) so that any
/// checkpoint can be checked at the end; [`with_checkpoints`](Self::with_checkpoints) keeps only
/// the hashes the given checkpoints need.
#[derive(Debug)]
pub struct ChainVerifier {
    trusted_public_keys: Vec<String>,
    head: Head,
    entries_checked: u64,
    latest: HashMap<Uuid, Latest>,
    recorded: Recorded,
    registered: Vec<Checkpoint>,
    first_break: Option<Break>,
}

impl ChainVerifier {
    /// A verifier that trusts checkpoints signed by any of `trusted_public_keys` (hex); with an
    /// empty list, each checkpoint's embedded key is trusted.
    pub fn new(trusted_public_keys: Vec<String>) -> Self {
        Self {
            trusted_public_keys,
            head: Head::GENESIS,
            entries_checked: 0,
            latest: HashMap::new(),
            recorded: Recorded::All(Vec::new()),
            registered: Vec::new(),
            first_break: None,
        }
    }

    /// A verifier that already knows the checkpoints it will check, and so keeps only the hashes
    /// at their seqs. [`finish`](Self::finish) checks these plus any it is given.
    pub fn with_checkpoints(trusted_public_keys: Vec<String>, checkpoints: &[Checkpoint]) -> Self {
        let mut v = Self::new(trusted_public_keys);
        v.recorded = Recorded::Only(checkpoints.iter().map(|c| (c.seq, None)).collect());
        v.registered = checkpoints.to_vec();
        v
    }

    /// Checks the next entry against the one before it. Returns the problem with this entry, if
    /// any; the report keeps the first. Entries after a break are still checked against their
    /// stored predecessor, so one tampered entry yields one break, not a cascade.
    pub fn push(&mut self, entry: &AuditEntry) -> Result<(), Break> {
        let result = self.check_link(entry);
        if let Err(brk) = &result {
            self.record_break(brk.clone());
        }
        self.entries_checked += 1;
        self.head = entry.head();
        result
    }

    fn check_link(&mut self, entry: &AuditEntry) -> Result<(), Break> {
        let expected = self.head.seq.saturating_add(1);
        let in_place = entry.seq == expected;
        let digest = entry.payload_digest();
        if in_place {
            match &mut self.recorded {
                Recorded::All(hashes) => {
                    if hashes.len() as u64 + 1 == entry.seq {
                        hashes.push(entry.hash);
                    }
                }
                Recorded::Only(wanted) => {
                    if let Some(slot @ None) = wanted.get_mut(&entry.seq) {
                        *slot = Some(entry.hash);
                    }
                }
            }
        }
        let previous = self.latest.insert(
            entry.entity_id,
            Latest {
                seq: entry.seq,
                version: entry.entity_version,
                hash: entry.hash,
                payload_digest: digest,
            },
        );

        let fail = |seq, reason| Err(Break { seq, reason });
        if entry.seq > expected {
            return fail(
                expected,
                BreakReason::SeqGap {
                    expected,
                    found: entry.seq,
                },
            );
        }
        if entry.seq < expected {
            return fail(
                entry.seq,
                BreakReason::SeqRepeated {
                    expected,
                    found: entry.seq,
                },
            );
        }
        if entry.prev_hash != self.head.hash {
            return fail(entry.seq, BreakReason::PrevHashMismatch);
        }
        if entry.compute_hash_with_digest(&digest) != entry.hash {
            return fail(entry.seq, BreakReason::HashMismatch);
        }
        let expected_version = previous.map_or(1, |p| p.version.saturating_add(1));
        if entry.entity_version != expected_version {
            return fail(
                entry.seq,
                BreakReason::VersionOutOfOrder {
                    entity_id: entry.entity_id,
                    expected: expected_version,
                    found: entry.entity_version,
                },
            );
        }
        Ok(())
    }

    /// Compares an entity's current stored row with its latest entry seen so far: the row's
    /// `version` must be the entry's `entity_version`, its `version_hash` the entry's hash, and
    /// its canonical encoding the entry's payload. Call it after pushing the whole chain. The
    /// result is returned, not recorded; pass it to [`record_break`](Self::record_break) to have
    /// the report include it.
    pub fn check_row(
        &self,
        entity_id: Uuid,
        version: u64,
        version_hash: &Hash,
        canonical_payload: &str,
    ) -> Result<(), Break> {
        let row_break = |seq, detail: String| Break {
            seq,
            reason: BreakReason::RowMismatch { entity_id, detail },
        };
        let Some(latest) = self.latest.get(&entity_id) else {
            return Err(row_break(0, "the entity has no audit entry".to_owned()));
        };
        if version != latest.version {
            return Err(row_break(
                latest.seq,
                format!(
                    "the row is at version {version}, its latest entry at version {}",
                    latest.version
                ),
            ));
        }
        if *version_hash != latest.hash {
            return Err(row_break(
                latest.seq,
                format!(
                    "the row's version_hash {version_hash} is not its latest entry's hash {}",
                    latest.hash
                ),
            ));
        }
        if AuditEntry::digest_of(canonical_payload) != latest.payload_digest {
            return Err(row_break(
                latest.seq,
                "the row's content differs from its latest entry's payload".to_owned(),
            ));
        }
        Ok(())
    }

    /// Adds a break found outside [`push`](Self::push) (a row check, say) to the report, which
    /// keeps the one with the lowest seq (the earlier one on a tie).
    pub fn record_break(&mut self, brk: Break) {
        match &self.first_break {
            Some(first) if first.seq <= brk.seq => {}
            _ => self.first_break = Some(brk),
        }
    }

    /// The head as read so far.
    pub fn head(&self) -> Head {
        self.head
    }

    /// Checks `checkpoints` (and any registered with
    /// [`with_checkpoints`](Self::with_checkpoints)) and returns the report.
    ///
    /// For each checkpoint: its signature and key; then a checkpoint beyond the head means the
    /// tail was truncated, and one whose hash differs from the chain's at its seq means history
    /// was rewritten. Without checkpoints, a truncated tail cannot be detected.
    pub fn finish(mut self, checkpoints: &[Checkpoint]) -> VerifyReport {
        let registered = std::mem::take(&mut self.registered);
        let mut checked = 0;
        for cp in registered.iter().chain(checkpoints) {
            checked += 1;
            if let Err(brk) = self.check_checkpoint(cp) {
                self.record_break(brk);
            }
        }
        VerifyReport {
            ok: self.first_break.is_none(),
            entries_checked: self.entries_checked,
            head: self.head,
            checkpoints_checked: checked,
            first_break: self.first_break,
        }
    }

    fn check_checkpoint(&self, cp: &Checkpoint) -> Result<(), Break> {
        let c = cp.seq;
        let fail = |seq, reason| Err(Break { seq, reason });
        match cp.verify_signature(&self.trusted_public_keys) {
            Ok(()) => {}
            Err(CheckpointError::UntrustedKey(_)) => {
                return fail(c, BreakReason::UntrustedKey { checkpoint_seq: c });
            }
            Err(_) => return fail(c, BreakReason::BadSignature { checkpoint_seq: c }),
        }
        if c > self.head.seq {
            let head_seq = self.head.seq;
            return fail(
                head_seq.saturating_add(1),
                BreakReason::Truncated {
                    checkpoint_seq: c,
                    head_seq,
                },
            );
        }
        let at_seq = if c == 0 {
            Some(Hash::ZERO)
        } else {
            match &self.recorded {
                Recorded::All(hashes) => usize::try_from(c - 1)
                    .ok()
                    .and_then(|i| hashes.get(i))
                    .copied(),
                Recorded::Only(wanted) => match wanted.get(&c) {
                    Some(slot) => *slot,
                    None => {
                        return fail(c, BreakReason::CheckpointNotRecorded { checkpoint_seq: c });
                    }
                },
            }
        };
        // A missing hash means no entry sat in place at that seq: the chain already broke below
        // it, and that earlier break is the one reported.
        if at_seq != Some(cp.hash) {
            return fail(c, BreakReason::CheckpointMismatch { checkpoint_seq: c });
        }
        Ok(())
    }
}

/// Verifies a whole chain, in seq order, against signed checkpoints.
///
/// ```
/// use plant_core::audit::{verify_chain, CheckpointSigner, Head, NewEntry, BreakReason};
/// use plant_core::Timestamp;
///
/// let mut head = Head::GENESIS;
/// let mut chain = Vec::new();
/// for version in 1..=3 {
///     let entry = head.append(NewEntry {
///         entity_id: uuid::Uuid::nil(),
///         entity_type: "Industry".into(),
///         entity_version: version,
///         action: "update".into(),
///         actor: "genesis".into(),
///         at: Timestamp::now(),
///         payload: format!(r#"{{"version":{version}}}"#),
///     });
///     head = entry.head();
///     chain.push(entry);
/// }
/// let signer = CheckpointSigner::generate().unwrap();
/// let checkpoint = signer.sign(head, Timestamp::now());
/// let trusted = [signer.public_key_hex()];
///
/// let report = verify_chain(&chain, &[checkpoint.clone()], &trusted);
/// assert!(report.ok);
/// assert_eq!(report.entries_checked, 3);
///
/// chain[1].payload = r#"{"version":20}"#.into();
/// let report = verify_chain(&chain, &[checkpoint.clone()], &trusted);
/// let first = report.first_break.unwrap();
/// assert_eq!((first.seq, first.reason), (2, BreakReason::HashMismatch));
///
/// chain.truncate(1);
/// let report = verify_chain(&chain, &[checkpoint], &trusted);
/// assert!(matches!(report.first_break.unwrap().reason, BreakReason::Truncated { .. }));
/// ```
pub fn verify_chain<'a>(
    entries: impl IntoIterator<Item = &'a AuditEntry>,
    checkpoints: &[Checkpoint],
    trusted_public_keys: &[String],
) -> VerifyReport {
    let mut verifier = ChainVerifier::with_checkpoints(trusted_public_keys.to_vec(), checkpoints);
    for entry in entries {
        // The verifier records the first break itself.
        let _ = verifier.push(entry);
    }
    verifier.finish(&[])
}

/// Verifies one entity's own entries, oldest first. They are not contiguous in the global chain,
/// so links to predecessors cannot be checked here; what can: each hash recomputes from its
/// fields, versions run 1..=n in order, seqs strictly increase, and all share one entity id
/// (the first entry's). The error names the first bad entry's seq.
pub fn verify_entity_entries(entries: &[AuditEntry]) -> Result<(), Break> {
    let Some(first) = entries.first() else {
        return Ok(());
    };
    let mut previous_seq: Option<u64> = None;
    for (i, entry) in entries.iter().enumerate() {
        let fail = |reason| {
            Err(Break {
                seq: entry.seq,
                reason,
            })
        };
        if entry.entity_id != first.entity_id {
            return fail(BreakReason::ForeignEntity {
                expected: first.entity_id,
                found: entry.entity_id,
            });
        }
        if let Some(previous) = previous_seq.filter(|p| entry.seq <= *p) {
            return fail(BreakReason::SeqNotIncreasing { previous });
        }
        if entry.compute_hash() != entry.hash {
            return fail(BreakReason::HashMismatch);
        }
        let expected = i as u64 + 1;
        if entry.entity_version != expected {
            return fail(BreakReason::VersionOutOfOrder {
                entity_id: entry.entity_id,
                expected,
                found: entry.entity_version,
            });
        }
        previous_seq = Some(entry.seq);
    }
    Ok(())
}
