//! The checkpoint file: one signed checkpoint per line (JSON lines), the copy kept outside the
//! database. `checkpoint` appends to it; `verify` checks the chain against it, which is what
//! catches a cut tail or a consistent rewrite even when the stored checkpoints were removed too.
//!
//! A line is either a C2SP checkpoint, `{"note": "<signed note text>"}` (what `checkpoint`
//! appends now), or an earlier `(seq, hash)` checkpoint object; both kinds are verified.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

use plant_core::audit::{Break, BreakReason, Checkpoint, CheckpointError, VerifyReport};
use plant_core::store::Store;
use serde::{Deserialize, Serialize};

use crate::error::CliError;

/// One line of the file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Line {
    /// A C2SP checkpoint note.
    Tree {
        /// The signed note, exactly as signed.
        note: String,
    },
    /// An earlier `(seq, hash)` checkpoint.
    Legacy(Checkpoint),
}

/// The checkpoints of a file, by kind, in file order.
#[derive(Debug, Default)]
pub struct Contents {
    /// The `(seq, hash)` checkpoints.
    pub legacy: Vec<Checkpoint>,
    /// The C2SP checkpoint notes.
    pub notes: Vec<String>,
}

/// Appends one line in a single write and syncs it, so a crash leaves no half line.
pub fn append(path: &Path, checkpoint: &Line) -> Result<String, CliError> {
    let line = serde_json::to_string(checkpoint)
        .map_err(|e| CliError::Output(std::io::Error::other(e)))?;
    let io = |source| CliError::Io {
        action: "append the checkpoint to",
        path: path.to_path_buf(),
        source,
    };
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(io)?;
    file.write_all(format!("{line}\n").as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)?;
    Ok(line)
}

/// Reads every checkpoint in the file; blank lines are skipped, a malformed one is an error
/// naming its line. A file holding one C2SP note as it is (a copy of
/// `GET /api/v1/audit/checkpoint`, an object in a bucket) is read as that one checkpoint.
pub fn read(path: &Path) -> Result<Contents, CliError> {
    let text = std::fs::read_to_string(path).map_err(|source| CliError::Io {
        action: "read the checkpoint file",
        path: path.to_path_buf(),
        source,
    })?;
    let mut contents = Contents::default();
    if !text.trim().is_empty() && !text.trim_start().starts_with('{') {
        contents.notes.push(text);
        return Ok(contents);
    }
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let parsed: Line = serde_json::from_str(line).map_err(|e| {
            CliError::Usage(format!(
                "{} line {}: not a checkpoint: {e}",
                path.display(),
                i + 1
            ))
        })?;
        match parsed {
            Line::Tree { note } => contents.notes.push(note),
            Line::Legacy(cp) => contents.legacy.push(cp),
        }
    }
    Ok(contents)
}

/// Reads a checkpoint note from a file holding either the note itself or checkpoint lines
/// (the newest note of the file is taken).
pub fn read_note(path: &Path) -> Result<String, CliError> {
    let text = std::fs::read_to_string(path).map_err(|source| CliError::Io {
        action: "read the checkpoint",
        path: path.to_path_buf(),
        source,
    })?;
    if !text.trim_start().starts_with('{') {
        return Ok(text);
    }
    read(path)?.notes.pop().ok_or_else(|| {
        CliError::Usage(format!(
            "{} holds no C2SP checkpoint (no line with a \"note\")",
            path.display()
        ))
    })
}

/// Checks `checkpoints` against the chain `report` describes (already verified by the store) and
/// folds the lowest break into it. Each break names the seq the library's verifier would:
/// the checkpoint's seq, or `head + 1` for a cut tail.
pub async fn check(
    store: &dyn Store,
    checkpoints: &[Checkpoint],
    trusted_keys: &[String],
    report: &mut VerifyReport,
) -> Result<(), CliError> {
    for cp in checkpoints {
        report.checkpoints_checked += 1;
        if let Some(brk) = check_one(store, cp, trusted_keys, report.head.seq).await? {
            if report.first_break.as_ref().is_none_or(|b| brk.seq < b.seq) {
                report.first_break = Some(brk);
            }
            report.ok = false;
        }
    }
    Ok(())
}

async fn check_one(
    store: &dyn Store,
    cp: &Checkpoint,
    trusted_keys: &[String],
    head_seq: u64,
) -> Result<Option<Break>, CliError> {
    let c = cp.seq;
    let brk = |seq, reason| Ok(Some(Break { seq, reason }));
    match cp.verify_signature(trusted_keys) {
        Ok(()) => {}
        Err(CheckpointError::UntrustedKey(_)) => {
            return brk(c, BreakReason::UntrustedKey { checkpoint_seq: c });
        }
        Err(_) => return brk(c, BreakReason::BadSignature { checkpoint_seq: c }),
    }
    if c == 0 {
        return Ok(None);
    }
    if c > head_seq {
        return brk(
            head_seq.saturating_add(1),
            BreakReason::Truncated {
                checkpoint_seq: c,
                head_seq,
            },
        );
    }
    let entry = store
        .audit_entries(c - 1, 1)
        .await
        .map_err(|e| CliError::catalog("cannot read the audit chain", e.into()))?;
    match entry.first() {
        Some(e) if e.seq == c && e.hash == cp.hash => Ok(None),
        _ => brk(c, BreakReason::CheckpointMismatch { checkpoint_seq: c }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str, text: &str) -> std::path::PathBuf {
        let path = std::env::temp_dir().join(format!("plant-cli-{}-{name}", uuid::Uuid::new_v4()));
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
        path
    }

    #[test]
    fn a_file_holds_lines_of_both_kinds_or_one_bare_note() {
        let note = "example.com/log\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n\u{2014} example.com/log AAAA\n";
        let legacy = r#"{"seq":1,"hash":"0000000000000000000000000000000000000000000000000000000000000000","signed_at":"2026-01-01T00:00:00.000000Z","public_key":"00","signature":"00"}"#;
        let lines = format!("{}\n\n{legacy}\n", serde_json::json!({ "note": note }));
        let path = scratch("lines", &lines);
        let contents = read(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((contents.notes.len(), contents.legacy.len()), (1, 1));
        assert_eq!(contents.notes[0], note);

        let bare = scratch("bare", note);
        let contents = read(&bare).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(contents.notes, vec![note.to_owned()]);
        assert_eq!(read_note(&bare).unwrap_or_else(|e| panic!("{e}")), note);
        assert_eq!(read_note(&path).unwrap_or_else(|e| panic!("{e}")), note);

        let bad = scratch("bad", "{\"neither\": 1}\n");
        assert!(matches!(read(&bad), Err(CliError::Usage(m)) if m.contains("line 1")));
        for p in [path, bare, bad] {
            std::fs::remove_file(p).ok();
        }
    }
}
