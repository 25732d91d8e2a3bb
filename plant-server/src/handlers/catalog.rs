//! The five catalog kinds: create, list, read, evolve (PATCH), archive (DELETE), history.

use bytes::Bytes;
use http::{HeaderMap, StatusCode, Uri, header};
use plant_core::Catalog;
use plant_core::input::{IndustryInput, JobRoleInput, SkillInput, TeamInput};
use plant_core::model::{Category, Kind, Record, Seniority, Status};
use plant_core::store::{ListQuery, SearchFilter, SearchMode};
use serde::Deserialize;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::auth::Principal;
use crate::bodies::Form;
use crate::body::from_value;
use crate::conditional;
use crate::headers::{IfMatch, etag, next_link};
use crate::pages::{Key, Page};
use crate::problem::{ApiError, HandlerResult};
use crate::query::{Paging, keyword, parse_mode, uuid_opt};
use crate::response::{json_bytes_response, json_response};
use crate::state::AppState;
use crate::wire::{self, created_response, cursor_of, entity_response, history_json};

/// Where each catalog kind lives under `/api/v1`.
pub fn collection(kind: Kind) -> &'static str {
    match kind {
        Kind::Industry => "/api/v1/industries",
        Kind::Skill => "/api/v1/genesis/skills",
        Kind::JobRole => "/api/v1/genesis/job-roles",
        Kind::Team => "/api/v1/teams",
        Kind::Agent => "/api/v1/agents",
        Kind::Trial => "/api/v1/trials",
        Kind::Job => "/api/v1/jobs",
        Kind::PrecedentSeed => "/api/v1/precedents",
    }
}

/// The catalog a write goes through: under a dry run, the copy that checks and writes nothing
/// ([`Catalog::dry_run`]), so the answer is the would-be result or the real write's problem.
pub(crate) fn writer(state: &AppState, dry: bool) -> Catalog {
    if dry {
        state.catalog().dry_run()
    } else {
        state.catalog().clone()
    }
}

/// The answer to a dry run: 200 with the record as it would be (no ETag, no Location: nothing
/// was stored).
pub(crate) async fn would_be(catalog: &Catalog, record: Record) -> HandlerResult {
    let mut names = wire::Names::default();
    let body = wire::record_out(catalog, &record, &mut names).await?;
    Ok(json_response(StatusCode::OK, &body))
}

/// `POST` on a kind's collection (genesis): 201 with the entity; with `?dry_run=true`, 200 with
/// the entity it would create (nothing is written).
pub async fn create(
    state: AppState,
    who: Principal,
    kind: Kind,
    dry: bool,
    input: Value,
) -> HandlerResult {
    let catalog = state.catalog();
    if dry {
        let record = catalog.create_json(kind, input, &who.subject, true).await?;
        return would_be(catalog, record).await;
    }
    let record: Record = match kind {
        Kind::Industry => catalog
            .create_industry(&from_value::<IndustryInput>(input)?, &who.subject)
            .await?
            .into(),
        Kind::Skill => catalog
            .create_skill(&from_value::<SkillInput>(input)?, &who.subject)
            .await?
            .into(),
        Kind::JobRole => catalog
            .create_job_role(&from_value::<JobRoleInput>(input)?, &who.subject)
            .await?
            .into(),
        Kind::Team => catalog
            .create_team(&from_value::<TeamInput>(input)?, &who.subject)
            .await?
            .into(),
        // Through the JSON path, which also takes the platform portal's `industry` (a name or
        // an id) for `industry_id`.
        Kind::Agent => {
            catalog
                .create_json(kind, input, &who.subject, false)
                .await?
        }
        Kind::Trial | Kind::Job | Kind::PrecedentSeed => {
            return Err(ApiError::NotFound("no such collection".into()));
        }
    };
    created_response(catalog, &record, collection(kind)).await
}

/// The query of a kind's list, beside paging (decoded by [`crate::extract::Query`]: empty
/// values are absent, the first of repeated keys wins).
#[derive(Debug, Default, Deserialize)]
pub struct ListParams {
    status: Option<String>,
    industry_id: Option<String>,
    job_role_id: Option<String>,
    skill_id: Option<String>,
    team_id: Option<String>,
    after: Option<String>,
    /// Skills only.
    category: Option<String>,
    /// Job roles only.
    seniority_level: Option<String>,
    /// An industry by name, in any case.
    industry: Option<String>,
    /// Agents only: rank by this text.
    q: Option<String>,
    mode: Option<String>,
    full: Option<String>,
}

/// Filters a kind's list accepts, beside paging.
fn list_query(p: &ListParams, kind: Kind, paging: Paging) -> Result<ListQuery, ApiError> {
    let mut query = ListQuery {
        kind: Some(kind),
        status: keyword::<Status>("status", p.status.as_deref())?.map(Into::into),
        industry_id: uuid_opt("industry_id", p.industry_id.as_deref())?,
        job_role_id: uuid_opt("job_role_id", p.job_role_id.as_deref())?,
        skill_id: uuid_opt("skill_id", p.skill_id.as_deref())?,
        team_id: uuid_opt("team_id", p.team_id.as_deref())?,
        offset: paging.offset,
        limit: u64::from(paging.limit),
        after: p.after.as_deref().map(wire::parse_cursor).transpose()?,
        ..ListQuery::default()
    };
    if kind == Kind::Skill {
        query.category = keyword::<Category>("category", p.category.as_deref())?;
    }
    if kind == Kind::JobRole {
        query.seniority_level =
            keyword::<Seniority>("seniority_level", p.seniority_level.as_deref())?;
    }
    Ok(query)
}

/// `GET` on a kind's collection: a JSON array in `(created_at, id)` order, with `Link: rel=next`
/// when the page is full. Items are lean unless `?full=true` (see [`crate::bodies`]); the
/// answer carries a weak ETag of the model's seq and the query, and `If-None-Match` with it
/// answers 304 before anything is read. The same request at the same seq is given the bytes
/// built for it the first time (see [`crate::pages`]).
pub async fn list(
    state: AppState,
    kind: Kind,
    paging: Paging,
    params: ListParams,
    uri: Uri,
    headers: HeaderMap,
) -> HandlerResult {
    let query = list_query(&params, kind, paging)?;
    let form = Form::of_list(params.full.as_deref())?;
    let tag = match conditional::list_tag_or_304(state.model_seq(), &uri, &headers).await {
        Ok(tag) => tag,
        Err(not_modified) => return Ok(not_modified),
    };
    if kind == Kind::Agent
        && let Some(text) = &params.q
    {
        // Ranked by vectors, which follow the commit: not a function of the seq alone.
        let mode = parse_mode(params.mode.as_deref())?;
        let mut query = query;
        if !named_industry(&state, &params, &mut query).await? {
            let empty = Page::empty_list().into_response();
            return Ok(conditional::tagged(empty, tag.as_ref()));
        }
        return ranked_agents(&state, text, mode, &query, form).await;
    }
    let page = state
        .pages()
        .get_or_build(
            tag.as_ref().map(Key::list),
            build_page(&state, &params, query, form, &uri),
        )
        .await?;
    Ok(conditional::tagged(page.into_response(), tag.as_ref()))
}

/// The body and `Link` of a list (see [`list`]).
async fn build_page(
    state: &AppState,
    params: &ListParams,
    mut query: ListQuery,
    form: Form,
    uri: &Uri,
) -> Result<Page, ApiError> {
    if !named_industry(state, params, &mut query).await? {
        return Ok(Page::empty_list());
    }
    let catalog = state.catalog();
    // Shared, not copied: the read model hands out the records it holds.
    let records = catalog.list_shared(&query).await?;
    let body = state.bodies().list(catalog, &records, form).await?;
    let next = if records.len() == usize::try_from(query.limit).unwrap_or(usize::MAX)
        && let Some(last) = records.last()
    {
        next_link(
            uri.path(),
            uri.query(),
            &[("after", cursor_of(last)), ("offset", "0".into())],
        )
    } else {
        None
    };
    Ok(Page {
        body: Bytes::from(body),
        link: next,
        etag: None,
    })
}

/// Narrows `query` to the industry `?industry=` names, in any case (the customer portal filters
/// by name); false when no industry has that name, so that nothing matches.
async fn named_industry(
    state: &AppState,
    params: &ListParams,
    query: &mut ListQuery,
) -> Result<bool, ApiError> {
    let Some(name) = &params.industry else {
        return Ok(true);
    };
    let industry = state
        .catalog()
        .store()
        .get_by_name(Kind::Industry, name.trim())
        .await
        .map_err(plant_core::Error::from)?;
    Ok(match industry {
        Some(industry) => {
            query.industry_id = Some(industry.id());
            true
        }
        None => false,
    })
}

/// Agents best matching `text` in `mode`, best first, each with its `score`; the other filters
/// still apply. Items are in the list's `form` (lean unless `?full=true`).
async fn ranked_agents(
    state: &AppState,
    text: &str,
    mode: SearchMode,
    query: &ListQuery,
    form: Form,
) -> HandlerResult {
    let catalog = state.catalog();
    let filter = SearchFilter {
        kinds: vec![Kind::Agent],
        status: query.status,
        industry_id: query.industry_id,
    };
    let wanted = usize::try_from(query.limit + query.offset).unwrap_or(usize::MAX);
    let hits = catalog.search_mode(text, mode, &filter, wanted).await?;
    let mut records = Vec::new();
    let mut scores = Vec::new();
    for hit in hits {
        let Some(Record::Agent(agent)) = catalog
            .store()
            .get(Some(Kind::Agent), hit.id)
            .await
            .map_err(plant_core::Error::from)?
        else {
            continue;
        };
        let keep = query
            .job_role_id
            .is_none_or(|id| agent.body.job_role_id == id)
            && query.skill_id.is_none_or(|id| agent.body.skill_id == id)
            && query
                .team_id
                .is_none_or(|id| agent.body.team_id == Some(id));
        if keep {
            records.push(Record::Agent(agent));
            scores.push(hit.score);
        }
    }
    let skip = usize::try_from(query.offset).unwrap_or(usize::MAX);
    let records = records.get(skip..).unwrap_or_default();
    let scores = scores.get(skip..).unwrap_or_default();
    let body = state
        .bodies()
        .ranked(catalog, records, scores, form)
        .await?;
    Ok(json_bytes_response(StatusCode::OK, body))
}

/// `GET` one entity, with its ETag (`"v<version>"`, the one `If-Match` takes): its full form,
/// serialised once per version.
pub async fn get(state: AppState, id: Uuid, kind: Kind) -> HandlerResult {
    // Read before the entity is: a kept answer is at this seq or newer (see [`crate::pages`]).
    let key = state
        .model_seq()
        .now()
        .await
        .map(|seq| Key::entity(seq, state.model_seq().ahead(), kind, id));
    let page = state
        .pages()
        .get_or_build(key, async {
            let catalog = state.catalog();
            let record = catalog.get(kind, id).await?;
            let body = state.bodies().item(catalog, &record, Form::Full).await?;
            Ok::<_, ApiError>(Page {
                body: Bytes::from(body),
                link: None,
                etag: Some(etag(record.version())),
            })
        })
        .await?;
    Ok(page.into_response())
}

/// The version an `If-Match` names, resolving `*` to the current one.
async fn expected_version(
    catalog: &Catalog,
    kind: Kind,
    id: Uuid,
    if_match: &IfMatch,
) -> Result<u64, ApiError> {
    let current = catalog.get(kind, id).await?.version();
    if_match.check(current)?;
    Ok(if_match.expected_version().unwrap_or(current))
}

/// `PATCH` one entity (genesis, `If-Match` required): a JSON merge patch of its fields;
/// `?dry_run=true` answers the entity as it would become and writes nothing.
pub async fn patch(
    state: AppState,
    who: Principal,
    kind: Kind,
    id: Uuid,
    dry: bool,
    headers: &HeaderMap,
    patch: Map<String, Value>,
) -> HandlerResult {
    let if_match = IfMatch::require(headers)?;
    let catalog = state.catalog();
    let expected = expected_version(catalog, kind, id, &if_match).await?;
    if dry {
        let record = catalog.evolve_dry_run(kind, id, &patch, expected).await?;
        return would_be(catalog, record).await;
    }
    let record = catalog
        .evolve(kind, id, &patch, expected, &who.subject)
        .await?;
    entity_response(catalog, &record, StatusCode::OK).await
}

/// `DELETE` one entity (genesis): archives an active entity (409 while active entities depend
/// on it); deletes an archived one (`status: deleted`, `deleted_at` set). `If-Match` pins the
/// version either way; `?dry_run=true` answers the entity as it would become.
pub async fn archive(
    state: AppState,
    who: Principal,
    id: Uuid,
    headers: &HeaderMap,
    kind: Kind,
    dry: bool,
) -> HandlerResult {
    let catalog = state.catalog();
    let expected = match headers.get(header::IF_MATCH) {
        Some(_) => Some(expected_version(catalog, kind, id, &IfMatch::require(headers)?).await?),
        None => None,
    };
    let writer = writer(&state, dry);
    let record = writer.retire(kind, id, expected, &who.subject).await?;
    if dry {
        return would_be(catalog, record).await;
    }
    entity_response(catalog, &record, StatusCode::OK).await
}

/// `GET …/{id}/history`: the entity's audit entries, oldest first, tagged like a list.
pub async fn history(
    state: AppState,
    id: Uuid,
    kind: Kind,
    uri: Uri,
    headers: HeaderMap,
) -> HandlerResult {
    let tag = match conditional::list_tag_or_304(state.model_seq(), &uri, &headers).await {
        Ok(tag) => tag,
        Err(not_modified) => return Ok(not_modified),
    };
    let entries = state.catalog().history(kind, id).await?;
    let body: Vec<Value> = entries.iter().map(history_json).collect();
    Ok(conditional::tagged(
        json_response(StatusCode::OK, &body),
        tag.as_ref(),
    ))
}
