//! Precedent seeds: the list, one seed with its lineage and the active seeds close enough in
//! meaning to conflict with it, creating a seed and superseding one (genesis).

use askama::Template;
use http::StatusCode;
use plant_core::catalog::{PossibleConflict, PrecedentInput, conflict_threshold};
use plant_core::model::{PrecedentSeed, PrecedentStatus};
use plant_core::search::named_text;

use super::page::Page;
use super::{Chrome, Request, Session, first, guarded, when};
use crate::auth::Role;

/// Seeds one list page shows.
const LIST_LIMIT: u64 = 500;
/// The kinds a seed can apply to, as the form offers them.
const APPLIES_TO: &[&str] = &["Industry", "Skill", "JobRole", "Team", "Agent"];

/// A seed as a table row.
#[derive(Debug, Clone)]
pub struct SeedRow {
    pub seed_id: String,
    pub title: String,
    pub content: String,
    pub status: &'static str,
    pub applies_to: String,
    pub supersedes: String,
    pub superseded_by: String,
    pub governor: String,
    pub version: u64,
    pub updated: String,
}

impl SeedRow {
    fn of(seed: &PrecedentSeed) -> Self {
        let kinds: Vec<&str> = seed.applies_to.iter().map(|k| k.as_str()).collect();
        Self {
            seed_id: seed.seed_id.to_string(),
            title: seed.title.to_string(),
            content: seed.content.as_str().to_owned(),
            status: seed.status.as_str(),
            applies_to: kinds.join(", "),
            supersedes: seed
                .supersedes
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            superseded_by: seed
                .superseded_by
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            governor: seed.approving_governor_id.clone().unwrap_or_default(),
            version: seed.version,
            updated: when(seed.updated_at),
        }
    }
}

/// A possible conflict as the page lists it.
#[derive(Debug, Clone)]
pub struct ConflictRow {
    pub seed_id: String,
    pub title: String,
    pub score: String,
}

impl From<&PossibleConflict> for ConflictRow {
    fn from(c: &PossibleConflict) -> Self {
        Self {
            seed_id: c.seed_id.clone(),
            title: c.title.clone(),
            score: format!("{:.3}", c.score),
        }
    }
}

#[derive(Template)]
#[template(path = "console/precedents.html")]
struct ListPage {
    chrome: Chrome,
    seeds: Vec<SeedRow>,
    kinds: &'static [&'static str],
}

#[derive(Template)]
#[template(path = "console/precedent.html")]
struct SeedPage {
    chrome: Chrome,
    seed: SeedRow,
    older: Vec<SeedRow>,
    newer: Vec<SeedRow>,
    conflicts: Vec<ConflictRow>,
    threshold: String,
    notice: Option<String>,
    can_supersede: bool,
    /// Each kind a seed can apply to, and whether this one does.
    kinds: Vec<(&'static str, bool)>,
}

/// `GET /console/precedents`.
pub async fn list(request: Request) -> Page {
    guarded(request, &[], |request, session| async move {
        match request
            .state
            .catalog()
            .list_precedents(None, 0, LIST_LIMIT)
            .await
        {
            Ok(seeds) => Page::ok(&ListPage {
                chrome: Chrome::new(&session, "precedents"),
                seeds: seeds.iter().map(SeedRow::of).collect(),
                kinds: APPLIES_TO,
            }),
            Err(err) => Page::failed(err),
        }
    })
    .await
}

/// The seed of a create or supersede form.
fn input(form: &[(String, String)]) -> PrecedentInput {
    PrecedentInput {
        seed_id: first(form, "seed_id").map(str::to_owned),
        title: first(form, "title").unwrap_or("").to_owned(),
        content: first(form, "content").unwrap_or("").to_owned(),
        applies_to: form
            .iter()
            .filter(|(k, _)| k == "applies_to")
            .map(|(_, v)| v.clone())
            .collect(),
        approving_governor_id: first(form, "approving_governor_id").map(str::to_owned),
        acknowledge_conflicts: first(form, "acknowledge_conflicts").is_some(),
    }
}

/// `POST /console/precedents` (genesis): creates a seed and shows it with its possible
/// conflicts.
pub async fn create(request: Request) -> Page {
    guarded(request, &[Role::Genesis], |request, session| async move {
        let form = request.form();
        if let Err(page) = session.check_csrf(&form) {
            return page;
        }
        match request
            .state
            .catalog()
            .create_precedent(&input(&form), &session.actor())
            .await
        {
            Ok(outcome) => {
                let notice = format!(
                    "Created {} ({}).",
                    outcome.seed.seed_id, outcome.seed.status
                );
                seed_page(
                    &request,
                    &session,
                    outcome.seed,
                    Some(notice),
                    StatusCode::CREATED,
                )
                .await
                .unwrap_or_else(|page| page)
            }
            Err(err) => Page::failed(err),
        }
    })
    .await
}

/// `POST /console/precedents/{seed_id}/supersede` (genesis).
pub async fn supersede(request: Request) -> Page {
    guarded(request, &[Role::Genesis], |request, session| async move {
        let form = request.form();
        if let Err(page) = session.check_csrf(&form) {
            return page;
        }
        let old = request.path.first().cloned().unwrap_or_default();
        match request
            .state
            .catalog()
            .supersede_precedent(&old, &input(&form), &session.actor())
            .await
        {
            Ok(outcome) => {
                let notice = format!(
                    "{} now supersedes {old} ({}).",
                    outcome.seed.seed_id, outcome.seed.status
                );
                seed_page(
                    &request,
                    &session,
                    outcome.seed,
                    Some(notice),
                    StatusCode::CREATED,
                )
                .await
                .unwrap_or_else(|page| page)
            }
            Err(err) => Page::failed(err),
        }
    })
    .await
}

/// `GET /console/precedents/{seed_id}`.
pub async fn show(request: Request) -> Page {
    guarded(request, &[], |request, session| async move {
        let seed_id = request.path.first().cloned().unwrap_or_default();
        match request.state.catalog().get_precedent(&seed_id).await {
            Ok(seed) => seed_page(&request, &session, seed, None, StatusCode::OK)
                .await
                .unwrap_or_else(|page| page),
            Err(err) => Page::failed(err),
        }
    })
    .await
}

async fn seed_page(
    request: &Request,
    session: &Session,
    seed: PrecedentSeed,
    notice: Option<String>,
    status: StatusCode,
) -> Result<Page, Page> {
    let catalog = request.state.catalog();
    let lineage = catalog
        .precedent_lineage(&seed)
        .await
        .map_err(Page::failed)?;
    // The active seeds close enough in meaning to conflict, as the contradiction check sees them.
    let threshold = conflict_threshold(catalog.embedder().model_id());
    let text = named_text(seed.title.as_str(), seed.content.as_str());
    let hits = catalog
        .query_precedents(&text, Some(PrecedentStatus::Active), 10)
        .await
        .map_err(Page::failed)?;
    let conflicts = hits
        .iter()
        .filter(|h| h.seed.seed_id != seed.seed_id && h.score >= threshold)
        .map(|h| {
            ConflictRow::from(&PossibleConflict {
                seed_id: h.seed.seed_id.to_string(),
                title: h.seed.title.to_string(),
                score: h.score,
            })
        })
        .collect();
    let can_supersede = session.has(Role::Genesis)
        && matches!(
            seed.status,
            PrecedentStatus::Active | PrecedentStatus::PendingReview
        )
        && seed.superseded_by.is_none();
    Ok(Page::render(
        status,
        &SeedPage {
            chrome: Chrome::new(session, "precedents"),
            seed: SeedRow::of(&seed),
            older: lineage.older.iter().map(SeedRow::of).collect(),
            newer: lineage.newer.iter().map(SeedRow::of).collect(),
            conflicts,
            threshold: format!("{threshold:.2}"),
            notice,
            can_supersede,
            kinds: APPLIES_TO
                .iter()
                .map(|k| (*k, seed.applies_to.iter().any(|a| a.as_str() == *k)))
                .collect(),
        },
    ))
}
