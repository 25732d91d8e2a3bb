//! Trials and jobs for operators: a list by status and one record with every field and its
//! history. Customer data, so `operator` only (as the API's operator views).

use askama::Template;
use http::StatusCode;
use plant_core::model::{JobStatus, Kind, Record, TrialStatus};
use plant_core::store::{ListQuery, StatusFilter};

use super::catalog::{Choice, Field, VersionRow, fields, version_rows};
use super::page::Page;
use super::{Chrome, Request, Session, guarded, uuid_at, when};
use crate::auth::Role;

/// Rows one list page shows.
const PAGE_SIZE: u64 = 100;

/// A trial or job as a table row.
#[derive(Debug, Clone)]
pub struct OpRow {
    pub href: String,
    pub title: String,
    pub detail: String,
    pub status: &'static str,
    pub agent: String,
    pub created: String,
    pub updated: String,
}

fn row(record: &Record) -> Option<OpRow> {
    match record {
        Record::Trial(t) => Some(OpRow {
            href: format!("/console/trials/{}", t.id),
            title: t.customer_name.to_string(),
            detail: t
                .company
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            status: t.status.as_str(),
            agent: t.agent_id.to_string(),
            created: when(t.created_at),
            updated: when(t.updated_at),
        }),
        Record::Job(j) => Some(OpRow {
            href: format!("/console/jobs/{}", j.id),
            title: j.title.to_string(),
            detail: j.trial_id.map(|t| format!("trial {t}")).unwrap_or_default(),
            status: j.status.as_str(),
            agent: j.agent_id.to_string(),
            created: when(j.created_at),
            updated: when(j.updated_at),
        }),
        _ => None,
    }
}

#[derive(Template)]
#[template(path = "console/operations.html")]
struct ListPage {
    chrome: Chrome,
    label: &'static str,
    base: &'static str,
    statuses: Vec<Choice>,
    rows: Vec<OpRow>,
    total: Option<u64>,
}

#[derive(Template)]
#[template(path = "console/operation.html")]
struct OnePage {
    chrome: Chrome,
    label: &'static str,
    base: &'static str,
    row: OpRow,
    fields: Vec<Field>,
    versions: Vec<VersionRow>,
}

/// How each of the two kinds is shown.
struct Shape {
    kind: Kind,
    label: &'static str,
    base: &'static str,
    section: &'static str,
    statuses: &'static [&'static str],
}

const TRIALS: Shape = Shape {
    kind: Kind::Trial,
    label: "Trials",
    base: "/console/trials",
    section: "trials",
    statuses: &["active", "converted", "cancelled", "expired"],
};

const JOBS: Shape = Shape {
    kind: Kind::Job,
    label: "Jobs",
    base: "/console/jobs",
    section: "jobs",
    statuses: &["queued", "running", "succeeded", "failed", "cancelled"],
};

/// `GET /console/trials?status=`.
pub async fn trials(request: Request) -> Page {
    list(request, &TRIALS).await
}

/// `GET /console/jobs?status=`.
pub async fn jobs(request: Request) -> Page {
    list(request, &JOBS).await
}

/// `GET /console/trials/{id}`.
pub async fn trial(request: Request) -> Page {
    one(request, &TRIALS).await
}

/// `GET /console/jobs/{id}`.
pub async fn job(request: Request) -> Page {
    one(request, &JOBS).await
}

async fn list(request: Request, shape: &'static Shape) -> Page {
    guarded(request, &[Role::Operator], |request, session| async move {
        match list_page(&request, &session, shape).await {
            Ok(page) | Err(page) => page,
        }
    })
    .await
}

async fn list_page(request: &Request, session: &Session, shape: &Shape) -> Result<Page, Page> {
    let status = request
        .param("status")
        .map(|s| {
            StatusFilter::parse(shape.kind, s)
                .map_err(|e| Page::error(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))
        })
        .transpose()?;
    let query = ListQuery {
        kind: Some(shape.kind),
        status,
        limit: PAGE_SIZE,
        ..ListQuery::default()
    };
    let catalog = request.state.catalog();
    let (records, total) = if shape.kind == Kind::Trial {
        let (trials, total) = catalog.list_trials(&query).await.map_err(Page::failed)?;
        (trials.into_iter().map(Record::Trial).collect(), Some(total))
    } else {
        (catalog.list(&query).await.map_err(Page::failed)?, None)
    };
    let selected = request.param("status");
    Ok(Page::ok(&ListPage {
        chrome: Chrome::new(session, shape.section),
        label: shape.label,
        base: shape.base,
        statuses: shape
            .statuses
            .iter()
            .map(|s| Choice {
                value: (*s).to_owned(),
                label: (*s).to_owned(),
                selected: selected == Some(*s),
            })
            .collect(),
        rows: records.iter().filter_map(row).collect(),
        total,
    }))
}

async fn one(request: Request, shape: &'static Shape) -> Page {
    guarded(request, &[Role::Operator], |request, session| async move {
        match one_page(&request, &session, shape).await {
            Ok(page) | Err(page) => page,
        }
    })
    .await
}

async fn one_page(request: &Request, session: &Session, shape: &Shape) -> Result<Page, Page> {
    let id = uuid_at(request, 0)?;
    let catalog = request.state.catalog();
    let record = catalog.get(shape.kind, id).await.map_err(Page::failed)?;
    let infos = catalog
        .versions(shape.kind, id)
        .await
        .map_err(Page::failed)?;
    let value = serde_json::to_value(&record)
        .map_err(|e| Page::failed(crate::problem::ApiError::internal(e)))?;
    let row = row(&record).ok_or_else(|| Page::error(StatusCode::NOT_FOUND, "no such record"))?;
    Ok(Page::ok(&OnePage {
        chrome: Chrome::new(session, shape.section),
        label: shape.label,
        base: shape.base,
        row,
        fields: fields(&value),
        versions: version_rows(&infos),
    }))
}

// The statuses listed above are the model's own sets; keep them in step.
const _: () = {
    assert!(TRIALS.statuses.len() == TrialStatus::ALL.len());
    assert!(JOBS.statuses.len() == JobStatus::ALL.len());
};
