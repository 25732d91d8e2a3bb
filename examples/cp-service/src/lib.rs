//! A customer-portal-style service over plant-core: open a store, list the agents of an
//! industry with their role and skill, book a trial. `main.rs` wires these into a program; the
//! tests run them on the in-memory store.
#![forbid(unsafe_code)]

use std::error::Error;
use std::sync::Arc;

use plant_core::Catalog;
use plant_core::input::TrialInput;
use plant_core::model::{Kind, Record, Status, Trial};
use plant_core::search::HashingEmbedder;
use plant_core::seed::{self, SeedCatalog};
use plant_core::store::postgres::{PgConfig, PgStore};
use plant_core::store::{ListQuery, MemoryStore, Store};
use serde::Serialize;
use uuid::Uuid;

/// Errors are boxed here to keep the example short; a real service maps
/// [`plant_core::Error`] variants to its own responses (404, 409, 422, 503).
pub type BoxError = Box<dyn Error + Send + Sync>;

/// An agent as the portal shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgentCard {
    /// The agent's id (what a booking names).
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its job role's name.
    pub role: String,
    /// Its skill's name.
    pub skill: String,
}

/// Opens the catalog: PostgreSQL when a URL is given (already migrated and seeded with
/// `plant-cli migrate` and `plant-cli seed`), otherwise an in-memory store loaded from the seed
/// built into plant-core.
pub async fn open_catalog(database_url: Option<&str>) -> Result<Catalog, BoxError> {
    // The lexical embedder needs no model files; production passes MiniLM instead.
    let embedder = Arc::new(HashingEmbedder);
    let Some(url) = database_url else {
        let catalog = Catalog::new(Arc::new(MemoryStore::new()), embedder);
        seed::load(&catalog, &SeedCatalog::builtin()?, &mut |_| {}).await?;
        return Ok(catalog);
    };
    let store: Arc<dyn Store> = Arc::new(PgStore::connect(&PgConfig::new(url)).await?);
    Ok(Catalog::new(store, embedder))
}

/// The active agents of the industry named `industry` (any case), oldest first.
pub async fn agents_of(catalog: &Catalog, industry: &str) -> Result<Vec<AgentCard>, BoxError> {
    let industry = catalog
        .store()
        .get_by_name(Kind::Industry, industry)
        .await?
        .ok_or_else(|| format!("no industry named {industry:?}"))?;
    let query = ListQuery {
        industry_id: Some(industry.id()),
        status: Some(Status::Active.into()),
        ..ListQuery::of(Kind::Agent, 100)
    };
    let mut cards = Vec::new();
    for record in catalog.list(&query).await? {
        let Record::Agent(agent) = record else {
            continue;
        };
        cards.push(AgentCard {
            id: agent.base.id.to_string(),
            name: agent.body.name.to_string(),
            role: name_of(catalog, Kind::JobRole, agent.body.job_role_id).await?,
            skill: name_of(catalog, Kind::Skill, agent.body.skill_id).await?,
        });
    }
    Ok(cards)
}

async fn name_of(catalog: &Catalog, kind: Kind, id: Uuid) -> Result<String, BoxError> {
    let record = catalog.get(kind, id).await?;
    Ok(record.name().map(ToString::to_string).unwrap_or_default())
}

/// Books a seven-day trial of `agent` for a customer. The catalog validates the input, checks
/// the agent is active, and appends the booking to the audit chain.
pub async fn book_trial(
    catalog: &Catalog,
    agent: &AgentCard,
    customer_name: &str,
    customer_email: &str,
) -> Result<Trial, BoxError> {
    let input = TrialInput {
        agent_id: Some(agent.id.clone()),
        customer_name: Some(customer_name.into()),
        customer_email: Some(customer_email.into()),
        ..TrialInput::default()
    };
    Ok(catalog.book_trial(&input, "cp-service").await?)
}
