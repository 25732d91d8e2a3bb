//! C2SP `tlog-checkpoint`s of the audit log's Merkle tree, signed as [`Note`]s, and the
//! witness's decision to cosign one (`c2sp.org/tlog-witness` semantics).
//!
//! A checkpoint body is three lines, each ending in a newline:
//!
//! ```text
//! <origin>                      the log's name, e.g. plant.example.com/audit
//! <tree size>                   ASCII decimal, no leading zeros: the number of entries
//! <root hash>                   standard base64 (with padding) of the 32-byte tree root
//! ```
//!
//! The log signs the body with an ed25519 note signature whose key name is the origin; a
//! witness adds a `cosignature/v1` line. These checkpoints supersede the older
//! `(seq, head hash)` [`super::Checkpoint`]s, which stay valid and keep being verified.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use super::hash::Hash;
use super::merkle::verify_consistency;
use super::note::{Note, NoteError, NoteSigner, NoteVerifier};

/// The origin used when none is configured.
pub const DEFAULT_ORIGIN: &str = "localhost/plant-audit";

/// The first three lines of a checkpoint: which log, how many entries, which root.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TreeHead {
    /// The log's origin line.
    pub origin: String,
    /// The number of entries (leaves) the tree holds.
    pub size: u64,
    /// The root hash of the tree of that size.
    pub root: Hash,
}

/// Why a checkpoint is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TreeHeadError {
    /// Not a signed note.
    #[error(transparent)]
    Note(#[from] NoteError),
    /// The note's text is not a checkpoint body.
    #[error("not a tlog checkpoint: {0}")]
    Malformed(String),
    /// The checkpoint names another log than the key expects.
    #[error("the checkpoint's origin {found:?} is not the expected {expected:?}")]
    OriginMismatch {
        /// The origin the key belongs to.
        expected: String,
        /// The origin line found.
        found: String,
    },
}

impl TreeHead {
    /// The checkpoint body: origin, size and base64 root, each line ending in a newline.
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root.0)
        )
    }

    /// Parses a checkpoint body; extension lines after the third are allowed and ignored.
    pub fn parse_body(text: &str) -> Result<Self, TreeHeadError> {
        let bad = |why: &str| Err(TreeHeadError::Malformed(why.to_owned()));
        let mut lines = text.split('\n');
        let (Some(origin), Some(size), Some(root)) = (lines.next(), lines.next(), lines.next())
        else {
            return bad("fewer than three lines");
        };
        if origin.is_empty() {
            return bad("empty origin line");
        }
        if size.is_empty()
            || !size.bytes().all(|b| b.is_ascii_digit())
            || (size.len() > 1 && size.starts_with('0'))
        {
            return bad("the tree size is not a decimal without leading zeros");
        }
        let size: u64 = match size.parse() {
            Ok(size) => size,
            Err(_) => return bad("the tree size does not fit 64 bits"),
        };
        let root = match B64
            .decode(root)
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
        {
            Some(bytes) => Hash(bytes),
            None => return bad("the root hash is not 32 bytes of base64"),
        };
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
        })
    }

    /// Signs this head as a checkpoint note with the log's key (whose name should be the
    /// origin) and returns the note text.
    pub fn sign(&self, log: &NoteSigner) -> String {
        let body = self.body();
        let sig = log.sign(&body, 0);
        Note {
            text: body,
            signatures: vec![sig],
        }
        .to_string()
    }
}

/// A signed checkpoint as the store keeps it: the note text, with its size and root for lookup.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StoredTreeCheckpoint {
    /// The tree size it signs.
    pub tree_size: u64,
    /// The root it signs.
    pub root: Hash,
    /// The signed note, exactly as signed (served as `text/plain`).
    pub note: String,
    /// When it was made (not signed).
    pub signed_at: crate::time::Timestamp,
}

/// A checkpoint whose log signature verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedCheckpoint {
    /// Its head.
    pub head: TreeHead,
    /// The note, with every signature line it carries (the log's, and any cosignatures).
    pub note: Note,
}

/// Parses a checkpoint note and checks the log's signature; the origin must be the key's name.
///
/// ```
/// use plant_core::audit::{open_checkpoint, Hash, NoteSigner, SigType, TreeHead};
///
/// let log = NoteSigner::new("example.com/audit", SigType::Ed25519, &[1; 32]).unwrap();
/// let head = TreeHead { origin: "example.com/audit".into(), size: 3, root: Hash([9; 32]) };
/// let text = head.sign(&log);
/// assert_eq!(open_checkpoint(&text, &log.verifier()).unwrap().head, head);
/// assert!(open_checkpoint(&text.replace("\n3\n", "\n4\n"), &log.verifier()).is_err());
/// ```
pub fn open_checkpoint(
    text: &str,
    log: &NoteVerifier,
) -> Result<VerifiedCheckpoint, TreeHeadError> {
    let note = Note::parse(text)?;
    note.verify(log)?;
    let head = TreeHead::parse_body(&note.text)?;
    if head.origin != log.name() {
        return Err(TreeHeadError::OriginMismatch {
            expected: log.name().to_owned(),
            found: head.origin,
        });
    }
    Ok(VerifiedCheckpoint { head, note })
}

/// Why a witness refuses to cosign a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WitnessRefusal {
    /// The new checkpoint is not a valid checkpoint signed by the log.
    #[error("the new checkpoint is not validly signed by the log: {0}")]
    BadCheckpoint(#[source] TreeHeadError),
    /// The previously accepted checkpoint does not verify (wrong state file or key).
    #[error("the previously accepted checkpoint does not verify: {0}")]
    BadPrevious(#[source] TreeHeadError),
    /// The new checkpoint is smaller than the one accepted before: the log went back.
    #[error("the log went back: tree size {new} is smaller than the accepted {old}")]
    Rollback {
        /// The accepted size.
        old: u64,
        /// The offered size.
        new: u64,
    },
    /// Two different roots for the same size: two different logs under one name.
    #[error("the log forked: tree size {size} has root {new}, but {old} was accepted")]
    Fork {
        /// The size.
        size: u64,
        /// The accepted root.
        old: Hash,
        /// The offered root.
        new: Hash,
    },
    /// The consistency proof does not show that the new tree extends the accepted one: an
    /// entry at or below the accepted size differs (a fork), or the proof is wrong.
    #[error(
        "the consistency proof from tree size {old} to {new} does not verify: the new tree does not extend the accepted one"
    )]
    Inconsistent {
        /// The accepted size.
        old: u64,
        /// The offered size.
        new: u64,
    },
}

/// The witness's decision: cosign `new` if it is signed by `log` and consistent with
/// `previous` (the last checkpoint this witness accepted for the log; `None` on first
/// contact, which is treated as the empty tree), by `proof` (an RFC 9162 consistency proof
/// from the previous size to the new one). Returns the new note with the witness's
/// cosignature added, timestamped `now` (POSIX seconds).
///
/// Re-offering the accepted checkpoint is cosigned again (same size, same root, empty proof).
pub fn witness_cosign(
    previous: Option<&str>,
    new: &str,
    proof: &[Hash],
    log: &NoteVerifier,
    witness: &NoteSigner,
    now: u64,
) -> Result<String, WitnessRefusal> {
    let offered = open_checkpoint(new, log).map_err(WitnessRefusal::BadCheckpoint)?;
    let (old_size, old_root) = match previous {
        Some(text) => {
            let accepted = open_checkpoint(text, log).map_err(WitnessRefusal::BadPrevious)?;
            (accepted.head.size, accepted.head.root)
        }
        None => (0, super::merkle::empty_root()),
    };
    let new_head = &offered.head;
    if new_head.size < old_size {
        return Err(WitnessRefusal::Rollback {
            old: old_size,
            new: new_head.size,
        });
    }
    if new_head.size == old_size && new_head.root != old_root {
        return Err(WitnessRefusal::Fork {
            size: old_size,
            old: old_root,
            new: new_head.root,
        });
    }
    if !verify_consistency(old_size, new_head.size, &old_root, &new_head.root, proof) {
        return Err(WitnessRefusal::Inconsistent {
            old: old_size,
            new: new_head.size,
        });
    }
    let mut note = offered.note;
    note.add_signature(witness.sign(&note.text, now));
    Ok(note.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::SigType;

    fn log() -> NoteSigner {
        NoteSigner::new("example.com/audit", SigType::Ed25519, &[3; 32]).expect("name")
    }

    #[test]
    fn the_body_is_three_lines_with_a_base64_root() {
        let head = TreeHead {
            origin: "example.com/audit".into(),
            size: 20852163,
            root: Hash([0xAB; 32]),
        };
        assert_eq!(
            head.body(),
            "example.com/audit\n20852163\nq6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=\n"
        );
        assert_eq!(TreeHead::parse_body(&head.body()), Ok(head.clone()));
        let with_extension = format!("{}extension\n", head.body());
        assert_eq!(TreeHead::parse_body(&with_extension), Ok(head));
    }

    #[test]
    fn malformed_bodies_are_refused() {
        let root = B64.encode([1u8; 32]);
        for body in [
            format!("\n1\n{root}\n"),
            format!("o\n01\n{root}\n"),
            format!("o\n-1\n{root}\n"),
            format!("o\n1\n{}\n", B64.encode([1u8; 31])),
            "o\n1\n".to_owned(),
        ] {
            assert!(TreeHead::parse_body(&body).is_err(), "{body:?}");
        }
    }

    #[test]
    fn a_checkpoint_for_another_origin_is_refused() {
        let head = TreeHead {
            origin: "elsewhere.example/log".into(),
            size: 1,
            root: Hash([1; 32]),
        };
        let text = head.sign(&log());
        assert!(matches!(
            open_checkpoint(&text, &log().verifier()),
            Err(TreeHeadError::OriginMismatch { .. })
        ));
    }
}
