//! `plant-cli verify`: recompute the audit chain and compare rows and checkpoints with it —
//! from the database, or `--offline` from an export document with no database at all.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::Args;
use plant_core::audit::offline::{OfflineReport, verify_export};
use plant_core::audit::{TransparencyLog, VerifyReport};
use plant_core::catalog::CatalogExport;
use plant_core::store::Store;

use crate::checkpoint_file;
use crate::context::store;
use crate::error::{CliError, Exit};
use crate::log_key::{LogKeyArgs, OriginArgs};
use crate::progress::note;
use crate::{DbArgs, emit};

/// How often a long verification reports that it is still running.
const TICK: Duration = Duration::from_secs(5);

/// Arguments of `verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    db: DbArgs,
    /// Print the full verification report as JSON.
    #[arg(long, env = "PLANT_VERIFY_JSON")]
    json: bool,
    /// An ed25519 public key (hex) whose checkpoints are trusted; repeat it (or separate keys
    /// with commas in the variable) for several. Without any, each checkpoint is checked
    /// against the key it carries, which proves integrity but not who signed.
    #[arg(
        long = "trusted-key",
        env = "PLANT_TRUSTED_KEYS",
        value_name = "HEX",
        value_delimiter = ','
    )]
    trusted_keys: Vec<String>,
    /// A checkpoint file (JSON lines, what `checkpoint --out` appends to, or one C2SP note as
    /// served) to check the chain against, besides the checkpoints stored in the database.
    #[arg(long, env = "PLANT_CHECKPOINT_FILE", value_name = "PATH")]
    checkpoint_file: Option<PathBuf>,
    #[command(flatten)]
    origin: OriginArgs,
    #[command(flatten)]
    log_keys: LogKeyArgs,
    /// Verify this export document (what `plant-cli export` writes) without a database: every
    /// link, every record version, and the tree root against a signed checkpoint. Needs the
    /// log's key (--log-key, or --trusted-key with the log's --origin).
    #[arg(long, value_name = "FILE")]
    offline: Option<PathBuf>,
    /// With --offline: the signed checkpoint to check against (a note, or a checkpoint file
    /// whose newest note is taken). Default: the checkpoint the export carries.
    #[arg(
        long,
        env = "PLANT_VERIFY_CHECKPOINT",
        value_name = "PATH",
        requires = "offline"
    )]
    checkpoint: Option<PathBuf>,
    /// With --offline: an older signed checkpoint the newer one must extend (checked with a
    /// consistency proof against both signed roots).
    #[arg(long, value_name = "PATH", requires = "offline")]
    older_checkpoint: Option<PathBuf>,
}

/// Verifies and prints the outcome: exit 0 when intact, 1 with the first bad seq and why.
pub async fn run(args: VerifyArgs, out: &mut (dyn Write + Send)) -> Result<Exit, CliError> {
    if let Some(path) = &args.offline {
        return run_offline(&args, path, out);
    }
    let from_file = match &args.checkpoint_file {
        Some(path) => checkpoint_file::read(path)?,
        None => checkpoint_file::Contents::default(),
    };
    let store = store(&args.db, "verify").await?;
    let head = store
        .head()
        .await
        .map_err(|e| CliError::catalog("cannot read the chain's head", e.into()))?;
    note(&format!(
        "verifying {} audit entries, every record and the checkpoints",
        head.seq
    ));
    let started = Instant::now();
    let trusted = trusted_keys(&args);
    let logs = args.origin.verifiers(&args.log_keys, &trusted)?;
    // The store verifies in one call; on a long chain a ticker shows it is still working.
    let ticker = tokio::spawn(async move {
        let mut interval = tokio::time::interval(TICK);
        interval.tick().await;
        loop {
            interval.tick().await;
            note(&format!(
                "still verifying ({} s)",
                started.elapsed().as_secs()
            ));
        }
    });
    let result = store.verify(&trusted).await;
    ticker.abort();
    let mut report =
        result.map_err(|e| CliError::catalog("verification could not run", e.into()))?;
    checkpoint_file::check(&store, &from_file.legacy, &trusted, &mut report).await?;
    let mut notes: Vec<String> = store
        .tree_checkpoints()
        .await
        .map_err(|e| CliError::catalog("cannot read the stored checkpoints", e.into()))?
        .into_iter()
        .map(|c| c.note)
        .collect();
    notes.extend(from_file.notes);
    if !notes.is_empty() {
        TransparencyLog::new()
            .fold_checkpoints(&store, Some(&notes), &logs, &mut report)
            .await
            .map_err(|source| CliError::Proof {
                context: "cannot check the C2SP checkpoints against the log's Merkle tree",
                source,
            })?;
        if logs.is_empty() {
            note(
                "no --trusted-key or --log-key given: the C2SP checkpoints' roots were compared, their signatures not checked",
            );
        }
    }
    note(&format!(
        "checked {} entries in {:.1} s",
        report.entries_checked,
        started.elapsed().as_secs_f64()
    ));
    if trusted.is_empty() && report.checkpoints_checked > 0 {
        note("no --trusted-key given: checkpoints were checked against the keys they carry");
    }
    print_report(args.json, &report, out)
}

fn trusted_keys(args: &VerifyArgs) -> Vec<String> {
    args.trusted_keys
        .iter()
        .map(|k| k.trim().to_ascii_lowercase())
        .filter(|k| !k.is_empty())
        .collect()
}

fn print_report(
    json: bool,
    report: &VerifyReport,
    out: &mut (dyn Write + Send),
) -> Result<Exit, CliError> {
    if json {
        let json = serde_json::to_string_pretty(&report)
            .map_err(|e| CliError::Output(std::io::Error::other(e)))?;
        emit(out, &json)?;
    } else if let Some(brk) = &report.first_break {
        emit(
            out,
            &format!(
                "audit chain BROKEN: first bad seq {}: {}",
                brk.seq, brk.reason
            ),
        )?;
    } else {
        emit(
            out,
            &format!(
                "audit chain intact: {} entries, head seq {} hash {}, {} checkpoint(s) verified",
                report.entries_checked,
                report.head.seq,
                report.head.hash,
                report.checkpoints_checked
            ),
        )?;
    }
    Ok(if report.ok {
        Exit::Ok
    } else {
        Exit::VerificationFailed
    })
}

/// `verify --offline FILE`: the export, a checkpoint and the log's key; no database.
fn run_offline(
    args: &VerifyArgs,
    path: &Path,
    out: &mut (dyn Write + Send),
) -> Result<Exit, CliError> {
    let logs = args.origin.verifiers(&args.log_keys, &trusted_keys(args))?;
    if logs.is_empty() {
        return Err(CliError::Usage(
            "offline verification needs the log's public key: pass --log-key VKEY (PLANT_LOG_VKEY) or --trusted-key HEX with the log's --origin".into(),
        ));
    }
    let started = Instant::now();
    let text = std::fs::read_to_string(path).map_err(|source| CliError::Io {
        action: "read",
        path: path.to_path_buf(),
        source,
    })?;
    let export: CatalogExport = serde_json::from_str(&text)
        .map_err(|e| CliError::Usage(format!("{} is not a plant export: {e}", path.display())))?;
    let checkpoint = match (&args.checkpoint, &export.checkpoint) {
        (Some(file), _) => checkpoint_file::read_note(file)?,
        (None, Some(carried)) => carried.clone(),
        (None, None) => {
            return Err(CliError::Usage(format!(
                "{} carries no checkpoint: pass --checkpoint PATH (a note, or the file `checkpoint --out` appends to)",
                path.display()
            )));
        }
    };
    let older = match &args.older_checkpoint {
        Some(file) => Some(checkpoint_file::read_note(file)?),
        None => None,
    };
    let report: OfflineReport = verify_export(&export, &checkpoint, older.as_deref(), &logs);
    note(&format!(
        "checked {} entries and {} record versions offline in {:.1} s",
        report.entries_checked,
        report.records_checked,
        started.elapsed().as_secs_f64()
    ));
    if args.json {
        let json = serde_json::to_string_pretty(&report)
            .map_err(|e| CliError::Output(std::io::Error::other(e)))?;
        emit(out, &json)?;
    } else if let Some(brk) = &report.first_break {
        emit(
            out,
            &format!(
                "audit log BROKEN: first bad seq {}: {}",
                brk.seq, brk.reason
            ),
        )?;
    } else {
        let sizes: Vec<String> = report
            .checkpoints
            .iter()
            .map(|c| c.size.to_string())
            .collect();
        emit(
            out,
            &format!(
                "audit log intact offline: {} entries, {} record versions, tree root {} matches the signed checkpoint(s) at tree size {}",
                report.entries_checked,
                report.records_checked,
                report.root,
                sizes.join(" and ")
            ),
        )?;
    }
    Ok(if report.ok {
        Exit::Ok
    } else {
        Exit::VerificationFailed
    })
}
