//! The catalog: a table per kind with hybrid search, filters and keyset paging; one entity with
//! every field, its certification, its versions (with lineage hashes), a field-by-field diff
//! between any two versions, and its history.

use std::collections::BTreeSet;

use askama::Template;
use http::StatusCode;
use plant_core::model::{Kind, Record, Status};
use plant_core::store::{ListQuery, SearchFilter, SearchMode, StatusFilter};
use serde_json::Value;
use uuid::Uuid;

use super::page::Page;
use super::{Chrome, Request, Session, guarded, uuid_at, when};

/// Rows on one page of a table.
pub const PAGE_SIZE: u64 = 50;

/// The kinds the catalog shows, by the path segment naming each.
pub const KINDS: &[(&str, Kind, &str)] = &[
    ("agents", Kind::Agent, "Agents"),
    ("skills", Kind::Skill, "Skills"),
    ("job-roles", Kind::JobRole, "Job roles"),
    ("teams", Kind::Team, "Teams"),
    ("industries", Kind::Industry, "Industries"),
];

/// The path segment of a catalog kind.
pub fn slug(kind: Kind) -> &'static str {
    KINDS
        .iter()
        .find(|(_, k, _)| *k == kind)
        .map_or("agents", |(s, _, _)| s)
}

fn kind_of(slug: &str) -> Option<(Kind, &'static str)> {
    KINDS
        .iter()
        .find(|(s, _, _)| *s == slug)
        .map(|(_, k, label)| (*k, *label))
}

/// The link to a record's page.
pub fn href(kind: Kind, id: Uuid) -> String {
    format!("/console/catalog/{}/{id}", slug(kind))
}

/// A choice in a filter's drop-down.
#[derive(Debug, Clone)]
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// A tab naming one kind.
#[derive(Debug, Clone)]
pub struct Tab {
    pub href: String,
    pub label: &'static str,
    pub current: bool,
}

/// One row of a catalog table.
#[derive(Debug, Clone)]
pub struct Row {
    pub href: String,
    pub name: String,
    pub kind: &'static str,
    pub status: &'static str,
    pub certification: &'static str,
    pub alignment: &'static str,
    pub version: u64,
    pub updated: String,
    pub score: Option<String>,
}

impl Row {
    /// The row of a catalog record (`None` for trials, jobs and seeds).
    pub fn of(record: &Record, score: Option<f32>) -> Option<Self> {
        let base = record.base()?;
        Some(Self {
            href: href(record.kind(), record.id()),
            name: record
                .name()
                .map(|n| n.as_str().to_owned())
                .unwrap_or_default(),
            kind: record.kind().as_str(),
            status: base.status.as_str(),
            certification: base.certification.status.as_str(),
            alignment: base.amendment_alignment.as_str(),
            version: base.version,
            updated: when(base.updated_at),
            score: score.map(|s| format!("{s:.4}")),
        })
    }
}

#[derive(Template)]
#[template(path = "console/catalog.html")]
struct CatalogPage {
    chrome: Chrome,
    label: &'static str,
    slug: &'static str,
    tabs: Vec<Tab>,
    q: String,
    industries: Vec<Choice>,
    statuses: Vec<Choice>,
    roles: Vec<Choice>,
    by_industry: bool,
    by_role: bool,
    rows: Vec<Row>,
    next: Option<String>,
    searched: bool,
}

/// `GET /console`: the catalog's agents.
pub async fn home(request: Request) -> Page {
    guarded(request, &[], |_, _| async {
        Page::redirect("/console/catalog/agents")
    })
    .await
}

/// `GET /console/catalog/{kind}?q=&industry=&status=&role=&after=`.
pub async fn list(request: Request) -> Page {
    guarded(request, &[], |request, session| async move {
        match list_page(&request, &session).await {
            Ok(page) => page,
            Err(page) => page,
        }
    })
    .await
}

fn choices(
    options: impl IntoIterator<Item = (String, String)>,
    selected: Option<&str>,
) -> Vec<Choice> {
    options
        .into_iter()
        .map(|(value, label)| Choice {
            selected: selected == Some(value.as_str()),
            value,
            label,
        })
        .collect()
}

/// Names and ids of every active record of `kind` (for a filter's drop-down).
async fn names(request: &Request, kind: Kind) -> Result<Vec<(String, String)>, Page> {
    let query = ListQuery {
        kind: Some(kind),
        status: Some(StatusFilter::Catalog(Status::Active)),
        limit: 1000,
        ..ListQuery::default()
    };
    let records = request
        .state
        .catalog()
        .list(&query)
        .await
        .map_err(Page::failed)?;
    let mut out: Vec<(String, String)> = records
        .iter()
        .map(|r| {
            (
                r.id().to_string(),
                r.name().map(|n| n.as_str().to_owned()).unwrap_or_default(),
            )
        })
        .collect();
    out.sort_by_key(|a| a.1.to_lowercase());
    Ok(out)
}

fn uuid_param(request: &Request, name: &str) -> Result<Option<Uuid>, Page> {
    request
        .param(name)
        .map(|v| {
            Uuid::parse_str(v).map_err(|_| {
                Page::error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    format!("{name} must be an id from the list"),
                )
            })
        })
        .transpose()
}

fn parse_cursor(text: &str) -> Option<(plant_core::Timestamp, Uuid)> {
    let (micros, id) = text.split_once('_')?;
    let at = plant_core::Timestamp::from_micros(micros.parse().ok()?)?;
    Some((at, Uuid::parse_str(id).ok()?))
}

async fn list_page(request: &Request, session: &Session) -> Result<Page, Page> {
    let segment = request.path.first().map(String::as_str).unwrap_or("");
    let Some((kind, label)) = kind_of(segment) else {
        return Err(Page::error(StatusCode::NOT_FOUND, "no such catalog kind"));
    };
    let catalog = request.state.catalog();
    let by_industry = matches!(kind, Kind::Agent | Kind::Team | Kind::JobRole);
    let by_role = matches!(kind, Kind::Agent | Kind::Team);
    let industry = if by_industry {
        uuid_param(request, "industry")?
    } else {
        None
    };
    let role = if by_role {
        uuid_param(request, "role")?
    } else {
        None
    };
    let status = request
        .param("status")
        .map(|s| {
            s.parse::<Status>()
                .map_err(|e| Page::error(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))
        })
        .transpose()?;
    let q = request.param("q").unwrap_or("").to_owned();
    let searched = !q.is_empty() && kind != Kind::Team;
    let mut next = None;
    let rows: Vec<Row> = if searched {
        let filter = SearchFilter {
            kinds: vec![kind],
            status: status.map(StatusFilter::Catalog),
            industry_id: industry,
        };
        let hits = catalog
            .search_mode(&q, SearchMode::Hybrid, &filter, PAGE_SIZE as usize)
            .await
            .map_err(Page::failed)?;
        // The hits' records are read at once: one round trip of latency, not one per hit.
        let hits: Vec<_> = hits.into_iter().filter(|h| h.kind == kind).collect();
        let records =
            futures_util::future::join_all(hits.iter().map(|h| catalog.get(kind, h.id))).await;
        hits.iter()
            .zip(records)
            .filter_map(|(hit, record)| record.ok().map(|r| (hit, r)))
            .filter(|(_, record)| role.is_none() || job_role_of(record) == role)
            .filter_map(|(hit, record)| Row::of(&record, Some(hit.score)))
            .collect()
    } else {
        let after = match request.param("after") {
            Some(text) => Some(parse_cursor(text).ok_or_else(|| {
                Page::error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "after must be a cursor from a Next link",
                )
            })?),
            None => None,
        };
        let query = ListQuery {
            kind: Some(kind),
            status: status.map(StatusFilter::Catalog),
            industry_id: industry,
            job_role_id: role,
            after,
            limit: PAGE_SIZE,
            ..ListQuery::default()
        };
        let records = catalog.list(&query).await.map_err(Page::failed)?;
        let needle = q.to_lowercase();
        if records.len() as u64 == PAGE_SIZE
            && let Some(last) = records.last()
        {
            let cursor = format!("{}_{}", last.created_at().micros(), last.id());
            next = Some(next_url(request, segment, &cursor));
        }
        records
            .iter()
            .filter(|r| {
                needle.is_empty()
                    || r.name()
                        .is_some_and(|n| n.as_str().to_lowercase().contains(&needle))
            })
            .filter_map(|r| Row::of(r, None))
            .collect()
    };
    let industries = if by_industry {
        choices(
            names(request, Kind::Industry).await?,
            request.param("industry"),
        )
    } else {
        Vec::new()
    };
    let roles = if by_role {
        choices(names(request, Kind::JobRole).await?, request.param("role"))
    } else {
        Vec::new()
    };
    let statuses = choices(
        Status::ALL
            .iter()
            .map(|s| (s.as_str().to_owned(), s.as_str().to_owned())),
        request.param("status"),
    );
    let tabs = KINDS
        .iter()
        .map(|(s, _, l)| Tab {
            href: format!("/console/catalog/{s}"),
            label: l,
            current: *s == segment,
        })
        .collect();
    Ok(Page::ok(&CatalogPage {
        chrome: Chrome::new(session, "catalog"),
        label,
        slug: slug(kind),
        tabs,
        q,
        industries,
        statuses,
        roles,
        by_industry,
        by_role,
        rows,
        next,
        searched,
    }))
}

fn job_role_of(record: &Record) -> Option<Uuid> {
    match record {
        Record::Agent(a) => Some(a.body.job_role_id),
        Record::Team(t) => Some(t.body.job_role_id),
        _ => None,
    }
}

/// The same list's next page.
fn next_url(request: &Request, segment: &str, cursor: &str) -> String {
    let mut url = form_urlencoded::Serializer::new(String::new());
    for (k, v) in &request.query {
        if k != "after" {
            url.append_pair(k, v);
        }
    }
    url.append_pair("after", cursor);
    format!("/console/catalog/{segment}?{}", url.finish())
}

/// A field and its value as text.
#[derive(Debug, Clone)]
pub struct Field {
    pub name: String,
    pub value: String,
}

/// A violation as the page lists it.
#[derive(Debug, Clone)]
pub struct ViolationRow {
    pub rule: String,
    pub field: String,
    pub message: String,
}

/// One version of a record.
#[derive(Debug, Clone)]
pub struct VersionRow {
    pub version: u64,
    pub seq: u64,
    pub action: String,
    pub actor: String,
    pub at: String,
    pub hash: String,
    pub prev_hash: String,
    pub lineage_hash: String,
    pub verified: bool,
}

/// A field that differs between two versions.
#[derive(Debug, Clone)]
pub struct DiffRow {
    pub field: String,
    pub change: &'static str,
    pub from: String,
    pub to: String,
}

#[derive(Template)]
#[template(path = "console/entity.html")]
struct EntityPage {
    chrome: Chrome,
    kind: &'static str,
    slug: &'static str,
    id: String,
    name: String,
    row: Row,
    fields: Vec<Field>,
    certified_at: String,
    certified_by: String,
    rule_set: String,
    violations: Vec<ViolationRow>,
    precedents: Vec<String>,
    versions: Vec<VersionRow>,
    numbers: Vec<(u64, bool, bool)>,
    diff: Option<(u64, u64, Vec<DiffRow>)>,
}

/// A JSON value as one line of text (strings without their quotes).
pub fn text(value: &Value) -> String {
    let text = match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    if text.chars().count() > 600 {
        let cut: String = text.chars().take(600).collect();
        format!("{cut}…")
    } else {
        text
    }
}

/// Every top-level field of a JSON object, in name order.
pub fn fields(value: &Value) -> Vec<Field> {
    match value {
        Value::Object(map) => {
            let mut out: Vec<Field> = map
                .iter()
                .map(|(k, v)| Field {
                    name: k.clone(),
                    value: text(v),
                })
                .collect();
            out.sort_by(|a, b| a.name.cmp(&b.name));
            out
        }
        other => vec![Field {
            name: "value".into(),
            value: text(other),
        }],
    }
}

/// The fields that differ between `from` and `to`, by name.
pub fn diff(from: &Value, to: &Value) -> Vec<DiffRow> {
    let empty = serde_json::Map::new();
    let a = from.as_object().unwrap_or(&empty);
    let b = to.as_object().unwrap_or(&empty);
    let names: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    names
        .into_iter()
        .filter_map(|name| {
            let (x, y) = (a.get(name), b.get(name));
            let change = match (x, y) {
                (Some(x), Some(y)) if x == y => return None,
                (Some(_), Some(_)) => "changed",
                (None, Some(_)) => "added",
                (Some(_), None) => "removed",
                (None, None) => return None,
            };
            Some(DiffRow {
                field: name.clone(),
                change,
                from: x.map(text).unwrap_or_default(),
                to: y.map(text).unwrap_or_default(),
            })
        })
        .collect()
}

/// The version rows of `infos`.
pub fn version_rows(infos: &[plant_core::catalog::VersionInfo]) -> Vec<VersionRow> {
    infos
        .iter()
        .map(|v| VersionRow {
            version: v.version,
            seq: v.seq,
            action: v.action.clone(),
            actor: v.actor.clone(),
            at: when(v.at),
            hash: v.hash.to_string(),
            prev_hash: v.prev_hash.to_string(),
            lineage_hash: v.lineage_hash.to_string(),
            verified: v.hash_verified,
        })
        .collect()
}

/// `GET /console/catalog/{kind}/{id}?from=&to=`.
pub async fn entity(request: Request) -> Page {
    guarded(request, &[], |request, session| async move {
        match entity_page(&request, &session).await {
            Ok(page) | Err(page) => page,
        }
    })
    .await
}

async fn entity_page(request: &Request, session: &Session) -> Result<Page, Page> {
    let segment = request.path.first().map(String::as_str).unwrap_or("");
    let Some((kind, _)) = kind_of(segment) else {
        return Err(Page::error(StatusCode::NOT_FOUND, "no such catalog kind"));
    };
    let id = uuid_at(request, 1)?;
    let catalog = request.state.catalog();
    let record = catalog.get(kind, id).await.map_err(Page::failed)?;
    let infos = catalog.versions(kind, id).await.map_err(Page::failed)?;
    let value = serde_json::to_value(&record)
        .map_err(|e| Page::failed(crate::problem::ApiError::internal(e)))?;
    let Some(row) = Row::of(&record, None) else {
        return Err(Page::error(StatusCode::NOT_FOUND, "not a catalog record"));
    };
    let Some(base) = record.base() else {
        return Err(Page::error(StatusCode::NOT_FOUND, "not a catalog record"));
    };
    let certification = &base.certification;
    let latest = infos.last().map_or(1, |v| v.version);
    let number = |name: &str, default: u64| -> u64 {
        request
            .param(name)
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let from = number("from", latest.saturating_sub(1).max(1));
    let to = number("to", latest);
    let diff = if request.param("from").is_some() || request.param("to").is_some() {
        let a = catalog
            .version(kind, id, from)
            .await
            .map_err(Page::failed)?;
        let b = catalog.version(kind, id, to).await.map_err(Page::failed)?;
        Some((from, to, diff(&a.record, &b.record)))
    } else {
        None
    };
    let numbers = infos
        .iter()
        .map(|v| (v.version, v.version == from, v.version == to))
        .collect();
    Ok(Page::ok(&EntityPage {
        chrome: Chrome::new(session, "catalog"),
        kind: kind.as_str(),
        slug: slug(kind),
        id: id.to_string(),
        name: row.name.clone(),
        row,
        fields: fields(&value),
        certified_at: certification.certified_at.map(when).unwrap_or_default(),
        certified_by: certification.certified_by.clone().unwrap_or_default(),
        rule_set: certification.rule_set.clone().unwrap_or_default(),
        violations: certification
            .violations
            .iter()
            .map(|v| ViolationRow {
                rule: v.rule.clone(),
                field: v.field.clone(),
                message: v.message.clone(),
            })
            .collect(),
        precedents: certification.precedents.clone(),
        versions: version_rows(&infos),
        numbers,
        diff,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_diff_names_changed_added_and_removed_fields_only() {
        let a = json!({"name": "a", "version": 1, "gone": true, "same": [1]});
        let b = json!({"name": "b", "version": 2, "new": "x", "same": [1]});
        let rows = diff(&a, &b);
        let names: Vec<(&str, &str)> = rows.iter().map(|r| (r.field.as_str(), r.change)).collect();
        assert_eq!(
            names,
            vec![
                ("gone", "removed"),
                ("name", "changed"),
                ("new", "added"),
                ("version", "changed")
            ]
        );
        assert_eq!(rows[1].from, "a");
        assert_eq!(rows[1].to, "b");
    }
}
