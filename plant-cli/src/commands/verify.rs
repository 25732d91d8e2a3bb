//! `plant-cli verify`: recompute the audit chain and compare rows and checkpoints with it.

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Args;
use plant_core::store::Store;

use crate::checkpoint_file;
use crate::context::store;
use crate::error::{CliError, Exit};
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
    /// A checkpoint file (JSON lines, what `checkpoint --out` appends to) to check the chain
    /// against, besides the checkpoints stored in the database.
    #[arg(long, env = "PLANT_CHECKPOINT_FILE", value_name = "PATH")]
    checkpoint_file: Option<PathBuf>,
}

/// Verifies and prints the outcome: exit 0 when intact, 1 with the first bad seq and why.
pub async fn run(args: VerifyArgs, out: &mut (dyn Write + Send)) -> Result<Exit, CliError> {
    let from_file = match &args.checkpoint_file {
        Some(path) => checkpoint_file::read(path)?,
        None => Vec::new(),
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
    let trusted: Vec<String> = args
        .trusted_keys
        .iter()
        .map(|k| k.trim().to_ascii_lowercase())
        .filter(|k| !k.is_empty())
        .collect();
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
    checkpoint_file::check(&store, &from_file, &trusted, &mut report).await?;
    note(&format!(
        "checked {} entries in {:.1} s",
        report.entries_checked,
        started.elapsed().as_secs_f64()
    ));
    if trusted.is_empty() && report.checkpoints_checked > 0 {
        note("no --trusted-key given: checkpoints were checked against the keys they carry");
    }
    if args.json {
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
