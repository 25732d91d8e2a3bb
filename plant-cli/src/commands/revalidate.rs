//! `plant-cli revalidate`: re-check every certified entity against the current rule set.

use std::io::Write;
use std::sync::Arc;

use clap::Args;
use plant_core::Catalog;
use plant_core::search::HashingEmbedder;
use serde_json::json;

use crate::context::store;
use crate::error::{CliError, Exit};
use crate::progress::note;
use crate::{DbArgs, emit};

/// Arguments of `revalidate`.
#[derive(Debug, Args)]
pub struct RevalidateArgs {
    #[command(flatten)]
    db: DbArgs,
    /// Only report what would be sent to review; write and append nothing. Exits 1 when any
    /// certified entity no longer passes.
    #[arg(long, env = "PLANT_REVALIDATE_DRY_RUN")]
    dry_run: bool,
    /// Who the audit entries name as the actor.
    #[arg(
        long,
        env = "PLANT_REVALIDATE_ACTOR",
        value_name = "NAME",
        default_value = "plant-cli"
    )]
    actor: String,
    /// Print the report as JSON.
    #[arg(long, env = "PLANT_REVALIDATE_JSON")]
    json: bool,
}

/// Re-checks every certified entity (L0, L1 and the certification prerequisites of the
/// current rule set); those that fail go back to `pending_certification` with
/// `amendment_alignment: requires_review`, one audit entry each (action `revalidate`).
pub async fn run(args: RevalidateArgs, out: &mut (dyn Write + Send)) -> Result<Exit, CliError> {
    if args.actor.trim().is_empty() {
        return Err(CliError::Usage("--actor must not be blank".into()));
    }
    let store = store(&args.db, "revalidate").await?;
    // Revalidation embeds nothing; the embedder is only what a catalog is built with.
    let catalog = Catalog::new(Arc::new(store), Arc::new(HashingEmbedder));
    note(if args.dry_run {
        "re-checking every certified entity (dry run: nothing is written)"
    } else {
        "re-checking every certified entity"
    });
    let report = if args.dry_run {
        catalog.revalidate_dry_run().await
    } else {
        catalog.revalidate(args.actor.trim()).await
    }
    .map_err(|e| CliError::catalog("revalidation failed", e))?;
    let failing = report.sent_to_review.len();
    if args.json {
        let entities: Vec<_> = report
            .sent_to_review
            .iter()
            .map(|(kind, id, violations)| {
                json!({ "entity_type": kind, "id": id, "violations": violations })
            })
            .collect();
        let body = json!({
            "rule_set": report.rule_set,
            "dry_run": args.dry_run,
            "checked": report.checked,
            "still_certified": report.still_certified,
            "sent_to_review": failing,
            "entities": entities,
        });
        let text = serde_json::to_string_pretty(&body)
            .map_err(|e| CliError::Output(std::io::Error::other(e)))?;
        emit(out, &text)?;
    } else {
        for (kind, id, violations) in &report.sent_to_review {
            let rules: Vec<&str> = violations.iter().map(|v| v.rule.as_str()).collect();
            emit(out, &format!("{kind} {id}: {}", rules.join(", ")))?;
        }
        let verb = if args.dry_run {
            "would be sent to review"
        } else {
            "sent to review"
        };
        emit(
            out,
            &format!(
                "rule set {}: checked {}, still certified {}, {verb} {failing}",
                report.rule_set, report.checked, report.still_certified
            ),
        )?;
    }
    Ok(if args.dry_run && failing > 0 {
        Exit::VerificationFailed
    } else {
        Exit::Ok
    })
}
