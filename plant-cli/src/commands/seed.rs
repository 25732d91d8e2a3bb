//! `plant-cli seed`: load the seed catalog through the catalog's operations.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use plant_core::model::Kind;
use plant_core::seed::{self, SeedCatalog, SeedReport};
use plant_core::store::ListQuery;
use serde::Serialize;

use crate::context::catalog;
use crate::error::{CliError, Exit};
use crate::progress::{Progress, note};
use crate::{DbArgs, EmbedderArgs, emit};

/// Arguments of `seed`.
#[derive(Debug, Args)]
pub struct SeedArgs {
    #[command(flatten)]
    db: DbArgs,
    #[command(flatten)]
    embedder: EmbedderArgs,
    /// The seed file (JSON, the format of seeds/catalog.json). Default: the seed built into
    /// this binary.
    #[arg(long, env = "PLANT_SEED_FILE", value_name = "PATH")]
    file: Option<PathBuf>,
    /// Print the result as JSON.
    #[arg(long, env = "PLANT_SEED_JSON")]
    json: bool,
}

/// What `seed` prints with `--json`.
#[derive(Debug, Serialize)]
pub struct SeedOutput {
    /// What this run did.
    #[serde(flatten)]
    pub report: SeedReport,
    /// Audit entries this run appended (0 when the catalog was already seeded).
    pub audit_entries_appended: u64,
    /// Active records of each catalog kind in the database after the run.
    pub counts: BTreeMap<String, u64>,
}

/// Loads the seed: creates what is missing, certifies what is not certified. A second run
/// changes nothing and appends no audit entry.
pub async fn run(args: SeedArgs, out: &mut (dyn Write + Send)) -> Result<Exit, CliError> {
    let seed = match &args.file {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|source| CliError::Io {
                action: "read the seed file",
                path: path.clone(),
                source,
            })?;
            SeedCatalog::parse(&text).map_err(|e| {
                let why = match e {
                    plant_core::Error::Invalid(violations) => violations
                        .into_iter()
                        .map(|v| v.message)
                        .collect::<Vec<_>>()
                        .join("; "),
                    other => other.to_string(),
                };
                CliError::Usage(format!("{}: {why}", path.display()))
            })
        }
        None => SeedCatalog::builtin()
            .map_err(|e| CliError::catalog("the built-in seed does not parse", e)),
    }?;
    let catalog = catalog(&args.db, &args.embedder, "seed").await?;
    note("seeding the catalog");
    let mut progress = Progress::new();
    let report = seed::load(&catalog, &seed, &mut |p| {
        progress.update(p.step, p.done, p.total)
    })
    .await
    .map_err(|e| CliError::catalog("seeding failed", e))?;
    progress.finish();
    crate::context::analyze(&args.db, "seed").await?;

    let mut counts = BTreeMap::new();
    for kind in Kind::CATALOG {
        let query = ListQuery {
            status: Some(plant_core::model::Status::Active.into()),
            ..ListQuery::of(*kind, 0)
        };
        let n = catalog
            .store()
            .count(&query)
            .await
            .map_err(|e| CliError::catalog(format!("cannot count {kind} records"), e.into()))?;
        counts.insert(kind.as_str().to_owned(), n);
    }
    let output = SeedOutput {
        audit_entries_appended: report.changes(),
        report,
        counts,
    };
    if args.json {
        let json = serde_json::to_string_pretty(&output)
            .map_err(|e| CliError::Output(std::io::Error::other(e)))?;
        emit(out, &json)?;
    } else {
        for kind in Kind::CATALOG {
            let name = kind.as_str();
            let get = |m: &BTreeMap<String, u64>| m.get(name).copied().unwrap_or(0);
            emit(
                out,
                &format!(
                    "{name}: {} in the catalog ({} created, {} already there)",
                    get(&output.counts),
                    get(&output.report.created),
                    get(&output.report.existing)
                ),
            )?;
        }
        emit(
            out,
            &format!(
                "certified: {}, rejected: {}",
                output.report.certified, output.report.rejected
            ),
        )?;
        emit(
            out,
            &format!("audit entries appended: {}", output.audit_entries_appended),
        )?;
    }
    if output.report.rejected > 0 {
        note("some seed entities failed certification; run the audit report to see why");
    }
    Ok(Exit::Ok)
}
