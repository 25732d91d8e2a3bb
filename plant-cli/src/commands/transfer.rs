//! `plant-cli export` and `plant-cli import`: the whole catalog as one JSON document, and back
//! into an empty database through the normal audited write path (ids kept).

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use plant_core::Catalog;
use plant_core::catalog::CatalogExport;
use plant_core::search::HashingEmbedder;

use crate::context::{catalog, store};
use crate::error::{CliError, Exit};
use crate::progress::note;
use crate::{DbArgs, EmbedderArgs, emit};

/// Arguments of `export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    db: DbArgs,
    /// Write the document to this file instead of standard output.
    #[arg(long, env = "PLANT_EXPORT_OUT", value_name = "PATH")]
    out: Option<PathBuf>,
}

/// Arguments of `import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    #[command(flatten)]
    db: DbArgs,
    #[command(flatten)]
    embedder: EmbedderArgs,
    /// The document `export` wrote.
    #[arg(value_name = "FILE")]
    file: PathBuf,
}

/// Writes the whole catalog: every catalog entity with all its versions and its
/// certification, and the audit chain, as one JSON document.
pub async fn run_export(args: ExportArgs, out: &mut (dyn Write + Send)) -> Result<Exit, CliError> {
    let store = store(&args.db, "export").await?;
    // Exporting embeds nothing; the embedder is only what a catalog is built with.
    let catalog = Catalog::new(Arc::new(store), Arc::new(HashingEmbedder));
    let export = catalog
        .export()
        .await
        .map_err(|e| CliError::catalog("export failed", e))?;
    let text = serde_json::to_string_pretty(&export)
        .map_err(|e| CliError::Output(std::io::Error::other(e)))?;
    match &args.out {
        Some(path) => {
            std::fs::write(path, format!("{text}\n")).map_err(|source| CliError::Io {
                action: "write the export to",
                path: path.clone(),
                source,
            })?;
            note(&format!(
                "exported {} entities and {} audit entries to {}",
                export.entities.len(),
                export.entries.len(),
                path.display()
            ));
        }
        None => emit(out, &text)?,
    }
    Ok(Exit::Ok)
}

/// Loads an export into an empty database, then embeds what search needs.
pub async fn run_import(args: ImportArgs, out: &mut (dyn Write + Send)) -> Result<Exit, CliError> {
    let text = std::fs::read_to_string(&args.file).map_err(|source| CliError::Io {
        action: "read",
        path: args.file.clone(),
        source,
    })?;
    let export: CatalogExport = serde_json::from_str(&text).map_err(|e| {
        CliError::Usage(format!(
            "{} is not a plant export: {e}",
            args.file.display()
        ))
    })?;
    let catalog = catalog(&args.db, &args.embedder, "import").await?;
    note(&format!(
        "importing {} audit entries ({} entities)",
        export.entries.len(),
        export.entities.len()
    ));
    let report = catalog
        .import(&export)
        .await
        .map_err(|e| CliError::catalog("import failed", e))?;
    let mut embedded = 0;
    loop {
        let done = catalog
            .reembed(500)
            .await
            .map_err(|e| CliError::catalog("embedding the imported records failed", e))?;
        if done == 0 {
            break;
        }
        embedded += done;
    }
    crate::context::analyze(&args.db, "import").await?;
    emit(
        out,
        &format!(
            "imported {} audit entries ({} entities), head seq {} {}; embedded {embedded} record(s)",
            report.entries, report.entities, report.head.seq, report.head.hash
        ),
    )?;
    Ok(Exit::Ok)
}
