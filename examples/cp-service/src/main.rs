//! `cp-service [INDUSTRY]`: lists the industry's agents (default Education) with their role and
//! skill, books a trial of the first one, and prints the trial as JSON. Uses PostgreSQL when
//! `DATABASE_URL` is set, an in-memory seeded catalog otherwise.

use std::io::Write;
use std::process::ExitCode;

use cp_service::{BoxError, agents_of, book_trial, open_catalog};

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("cp-service: error: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), BoxError> {
    let industry = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "Education".into());
    let database_url = std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty());
    let catalog = open_catalog(database_url.as_deref()).await?;

    // Writing through a handle turns a closed pipe into an error instead of a panic.
    let mut out = std::io::stdout().lock();
    let agents = agents_of(&catalog, &industry).await?;
    writeln!(out, "{} agents in {industry}:", agents.len())?;
    for agent in &agents {
        writeln!(
            out,
            "  {} ({}; skill: {})",
            agent.name, agent.role, agent.skill
        )?;
    }

    let first = agents
        .first()
        .ok_or_else(|| format!("{industry} has no active agent to try"))?;
    let trial = book_trial(&catalog, first, "Example Customer", "customer@example.com").await?;
    writeln!(out, "{}", serde_json::to_string_pretty(&trial)?)?;
    Ok(())
}
