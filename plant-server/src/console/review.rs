//! The review queue: every active entity waiting for certification (`pending_certification`) or
//! sent back to review (`requires_review`), certified one at a time or as a batch — always after
//! a dry-run preview of the verdicts, which runs every rule and records nothing.

use askama::Template;
use http::StatusCode;
use plant_core::Catalog;
use plant_core::model::{Alignment, CertificationState, Kind, Status};
use plant_core::store::{ListQuery, StatusFilter};
use uuid::Uuid;

use super::catalog::{Row, ViolationRow, href};
use super::page::Page;
use super::{Chrome, Request, Session, guarded};
use crate::auth::Role;

/// Most entities one preview or batch covers (the API's batch limit).
pub const MAX_BATCH: usize = 50;
/// Most queue rows shown: two batches' worth. The store cannot filter by certification state, so
/// the queue is found by scanning; stopping here bounds the page's cost on a large catalog.
const MAX_QUEUE: usize = 100;
/// Records read per scan step.
const SCAN_PAGE: u64 = 250;
/// The kinds that are certified, in the order their dependencies need.
const CERTIFIED_KINDS: &[Kind] = &[
    Kind::Industry,
    Kind::Skill,
    Kind::JobRole,
    Kind::Team,
    Kind::Agent,
];

/// A queue row: the entity and the value of its checkbox.
#[derive(Debug, Clone)]
pub struct QueueRow {
    pub item: String,
    pub row: Row,
}

#[derive(Template)]
#[template(path = "console/review.html")]
struct QueuePage {
    chrome: Chrome,
    rows: Vec<QueueRow>,
    truncated: bool,
    max: usize,
}

/// One verdict, previewed or recorded.
#[derive(Debug, Clone)]
pub struct Verdict {
    pub item: String,
    pub kind: &'static str,
    pub name: String,
    pub href: String,
    /// `certified`, `rejected` or `error`.
    pub outcome: &'static str,
    pub violations: Vec<ViolationRow>,
    pub error: String,
}

#[derive(Template)]
#[template(path = "console/verdicts.html")]
struct VerdictPage {
    chrome: Chrome,
    /// False for a preview (nothing recorded yet).
    committed: bool,
    verdicts: Vec<Verdict>,
    passing: usize,
}

/// `GET /console/review` (genesis, who certifies).
pub async fn queue(request: Request) -> Page {
    guarded(request, &[Role::Genesis], |request, session| async move {
        match queue_page(&request, &session).await {
            Ok(page) | Err(page) => page,
        }
    })
    .await
}

/// Whether a record waits for review.
fn waiting(record: &plant_core::model::Record) -> bool {
    record.base().is_some_and(|b| {
        b.status == Status::Active
            && (b.certification.status == CertificationState::Pending
                || b.amendment_alignment == Alignment::RequiresReview)
    })
}

async fn queue_page(request: &Request, session: &Session) -> Result<Page, Page> {
    let catalog = request.state.catalog();
    let mut rows = Vec::new();
    let mut truncated = false;
    'kinds: for &kind in CERTIFIED_KINDS {
        let mut after = None;
        loop {
            let query = ListQuery {
                kind: Some(kind),
                status: Some(StatusFilter::Catalog(Status::Active)),
                after,
                limit: SCAN_PAGE,
                ..ListQuery::default()
            };
            let records = catalog.list(&query).await.map_err(Page::failed)?;
            for record in records.iter().filter(|r| waiting(r)) {
                if rows.len() == MAX_QUEUE {
                    truncated = true;
                    break 'kinds;
                }
                if let Some(row) = Row::of(record, None) {
                    rows.push(QueueRow {
                        item: format!("{}:{}", kind.as_str(), record.id()),
                        row,
                    });
                }
            }
            match records.last() {
                Some(last) if records.len() as u64 == SCAN_PAGE => {
                    after = Some((last.created_at(), last.id()));
                }
                _ => break,
            }
        }
    }
    Ok(Page::ok(&QueuePage {
        chrome: Chrome::new(session, "review"),
        rows,
        truncated,
        max: MAX_BATCH,
    }))
}

/// The selected `item`s of a form: `Kind:uuid`, at most [`MAX_BATCH`].
fn selection(form: &[(String, String)]) -> Result<Vec<(Kind, Uuid, String)>, Page> {
    let items: Vec<&str> = form
        .iter()
        .filter(|(k, _)| k == "item")
        .map(|(_, v)| v.as_str())
        .collect();
    if items.is_empty() {
        return Err(Page::error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "select at least one entity to certify",
        ));
    }
    if items.len() > MAX_BATCH {
        return Err(Page::error(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("a batch holds at most {MAX_BATCH} entities"),
        ));
    }
    items
        .into_iter()
        .map(|item| {
            let parsed = item.split_once(':').and_then(|(k, id)| {
                let kind = Kind::parse_loose(k).ok().filter(Kind::is_catalog)?;
                Some((kind, Uuid::parse_str(id).ok()?, item.to_owned()))
            });
            parsed.ok_or_else(|| {
                Page::error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "a selected item is not an entity",
                )
            })
        })
        .collect()
}

/// Certifies each selected entity with `catalog` (the dry-run copy for a preview).
async fn verdicts(
    catalog: &Catalog,
    items: Vec<(Kind, Uuid, String)>,
    actor: &str,
) -> Vec<Verdict> {
    let mut out = Vec::with_capacity(items.len());
    for (kind, id, item) in items {
        let mut verdict = Verdict {
            item,
            kind: kind.as_str(),
            name: id.to_string(),
            href: href(kind, id),
            outcome: "error",
            violations: Vec::new(),
            error: String::new(),
        };
        match catalog.certify(kind, id, actor).await {
            Ok(done) => {
                if let Some(name) = done.record.name() {
                    verdict.name = name.as_str().to_owned();
                }
                verdict.outcome = if done.passed() {
                    "certified"
                } else {
                    "rejected"
                };
                verdict.violations = done
                    .violations
                    .iter()
                    .map(|v| ViolationRow {
                        rule: v.rule.clone(),
                        field: v.field.clone(),
                        message: v.message.clone(),
                    })
                    .collect();
            }
            Err(err) => {
                let err = crate::problem::ApiError::from(err);
                if err.status().is_server_error() {
                    tracing::error!(error = %err.cause_chain(), "console certification failed");
                    verdict.error = "the server failed; see its log".into();
                } else {
                    verdict.error = err.to_problem("", "").detail;
                }
            }
        }
        out.push(verdict);
    }
    out
}

async fn run(request: Request, session: Session, commit: bool) -> Page {
    let form = request.form();
    if let Err(page) = session.check_csrf(&form) {
        return page;
    }
    let items = match selection(&form) {
        Ok(items) => items,
        Err(page) => return page,
    };
    let catalog = if commit {
        request.state.catalog().clone()
    } else {
        request.state.catalog().dry_run()
    };
    let verdicts = verdicts(&catalog, items, &session.actor()).await;
    let passing = verdicts.iter().filter(|v| v.outcome == "certified").count();
    Page::ok(&VerdictPage {
        chrome: Chrome::new(&session, "review"),
        committed: commit,
        verdicts,
        passing,
    })
}

/// `POST /console/review/preview`: the verdicts certification would give; nothing is recorded.
pub async fn preview(request: Request) -> Page {
    guarded(request, &[Role::Genesis], |request, session| {
        run(request, session, false)
    })
    .await
}

/// `POST /console/review/certify`: certifies the selection (each passes or is recorded as
/// rejected, as `POST /genesis/certify/batch` does).
pub async fn certify(request: Request) -> Page {
    guarded(request, &[Role::Genesis], |request, session| {
        run(request, session, true)
    })
    .await
}
