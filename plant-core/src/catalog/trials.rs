//! Trials and jobs: booking, status transitions, deliverables.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::{Catalog, check_version, now};
use crate::error::{Cause, Error, Result};
use crate::input::{JobInput, TrialInput, has_float};
use crate::model::{
    Deliverable, Description, Job, JobStatus, Kind, Name, Record, Status, TRIAL_DAYS, Trial,
    TrialStatus,
};
use crate::store::{Action, Change, ListQuery};
use crate::validate::{Violation, rules};

/// The actor recorded for changes the system makes by itself (a trial running out).
pub const SYSTEM_ACTOR: &str = "system";

/// A deliverable to add to a trial.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DeliverableInput {
    /// A short title.
    pub title: Option<String>,
    /// What it is.
    pub description: Option<String>,
    /// Where to find it.
    pub url: Option<String>,
}

/// A change to a trial: its status, and deliverables to add.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TrialPatch {
    /// The new status (`converted`, `cancelled`, `expired`).
    pub status: Option<String>,
    /// Deliverables to append.
    pub deliverables: Option<Vec<DeliverableInput>>,
}

/// A change to a job: its status and, when it ends, its output or error.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct JobPatch {
    /// The new status.
    pub status: Option<String>,
    /// Its result (no floats).
    pub output: Option<Value>,
    /// Why it failed.
    pub error: Option<String>,
}

impl Catalog {
    /// Books a seven-day trial of an active agent.
    pub async fn book_trial(&self, input: &TrialInput, actor: &str) -> Result<Trial> {
        let t = input.parse().map_err(Error::Invalid)?;
        let agent = self.get(Kind::Agent, t.agent_id).await?;
        if agent.base().is_some_and(|b| b.status != Status::Active) {
            return Err(Error::Conflict("the agent is not active".into()));
        }
        let at = now();
        let trial = Trial {
            id: Uuid::now_v7(),
            agent_id: t.agent_id,
            customer_name: t.customer_name,
            customer_email: t.customer_email,
            company: t.company,
            phone: t.phone,
            start_date: at,
            end_date: at.plus_days(TRIAL_DAYS),
            status: TrialStatus::Active,
            deliverables: Vec::new(),
            created_at: at,
            updated_at: at,
            version: 0,
            version_hash: None,
        };
        let committed = self.commit(Change::create(trial, actor)).await?;
        as_trial(committed.record)
    }

    /// A trial, as the store holds it. Reading never changes it: a trial past its end stays
    /// `active` until [`Catalog::expire_due_trials`] moves it (see [`super::spawn_trial_expiry`]),
    /// so this and [`Catalog::list_trials`] always agree.
    pub async fn get_trial(&self, id: Uuid) -> Result<Trial> {
        as_trial(self.get(Kind::Trial, id).await?)
    }

    /// Trials matching a query, and how many match in all.
    pub async fn list_trials(&self, query: &ListQuery) -> Result<(Vec<Trial>, u64)> {
        let query = ListQuery {
            kind: Some(Kind::Trial),
            ..query.clone()
        };
        let total = self.store.count(&query).await?;
        let trials = self
            .store
            .list(&query)
            .await?
            .into_iter()
            .map(as_trial)
            .collect::<Result<_>>()?;
        Ok((trials, total))
    }

    /// Changes a trial's status and/or appends deliverables.
    pub async fn update_trial(
        &self,
        id: Uuid,
        patch: &TrialPatch,
        expected_version: Option<u64>,
        actor: &str,
    ) -> Result<Trial> {
        let mut current = self.get_trial(id).await?;
        check_version(expected_version, current.version)?;
        // A change to a trial past its end applies to the expired trial: expire it first (the
        // same audited transition the background pass makes), then judge the change.
        if current.status == TrialStatus::Active && current.end_date <= now() {
            current = match self.try_expire(current).await? {
                Some(expired) => expired,
                None => self.get_trial(id).await?,
            };
        }
        let mut next = current.clone();
        let mut violations = Vec::new();
        if let Some(status) = &patch.status {
            match status.trim().parse::<TrialStatus>() {
                Ok(s) => next.status = s,
                Err(e) => violations.push(Violation::new(rules::INPUT, "status", e.to_string())),
            }
        }
        for d in patch.deliverables.iter().flatten() {
            let title = d.title.as_deref().map(Name::parse);
            let description = Description::parse(d.description.as_deref().unwrap_or(""));
            match (title, description) {
                (Some(Ok(title)), Ok(description)) => next.deliverables.push(Deliverable {
                    id: Uuid::now_v7(),
                    title,
                    description,
                    url: d
                        .url
                        .as_deref()
                        .map(str::trim)
                        .filter(|u| !u.is_empty())
                        .map(|u| u.chars().take(2048).collect()),
                    created_at: now(),
                }),
                _ => violations.push(Violation::new(
                    rules::INPUT,
                    "deliverables",
                    "each deliverable needs a title (and a description of at most 4000 characters)",
                )),
            }
        }
        if !violations.is_empty() {
            return Err(Error::Invalid(violations));
        }
        if next == current {
            return Ok(current);
        }
        if !current.status.can_become(next.status) {
            return Err(Error::Conflict(format!(
                "a trial cannot go from {} to {}",
                current.status, next.status
            )));
        }
        next.updated_at = now();
        let action = if next.status != current.status {
            Action::Trial(next.status)
        } else {
            Action::AddDeliverables
        };
        let committed = self
            .commit(Change::update(next, current.version, action, actor))
            .await?;
        as_trial(committed.record)
    }

    /// Cancels an active trial.
    pub async fn cancel_trial(&self, id: Uuid, actor: &str) -> Result<Trial> {
        let patch = TrialPatch {
            status: Some(TrialStatus::Cancelled.as_str().into()),
            deliverables: None,
        };
        self.update_trial(id, &patch, None, actor).await
    }

    /// Queues a job for an active agent.
    pub async fn create_job(&self, input: &JobInput, actor: &str) -> Result<Job> {
        let j = input.parse().map_err(Error::Invalid)?;
        let agent = self.get(Kind::Agent, j.agent_id).await?;
        if agent.base().is_some_and(|b| b.status != Status::Active) {
            return Err(Error::Conflict("the agent is not active".into()));
        }
        if let Some(trial_id) = j.trial_id {
            let trial = self.get_trial(trial_id).await?;
            if trial.agent_id != j.agent_id {
                return Err(Error::input("trial_id", "the trial is for another agent"));
            }
        }
        let at = now();
        let job = Job {
            id: Uuid::now_v7(),
            agent_id: j.agent_id,
            trial_id: j.trial_id,
            title: j.title,
            input: j.input,
            status: JobStatus::Queued,
            output: None,
            error: None,
            created_at: at,
            updated_at: at,
            started_at: None,
            finished_at: None,
            version: 0,
            version_hash: None,
        };
        let committed = self.commit(Change::create(job, actor)).await?;
        as_job(committed.record)
    }

    /// A job.
    pub async fn get_job(&self, id: Uuid) -> Result<Job> {
        as_job(self.get(Kind::Job, id).await?)
    }

    /// Moves a job along `queued → running → succeeded | failed`, or to `cancelled`.
    pub async fn update_job(
        &self,
        id: Uuid,
        patch: &JobPatch,
        expected_version: Option<u64>,
        actor: &str,
    ) -> Result<Job> {
        let current = self.get_job(id).await?;
        check_version(expected_version, current.version)?;
        let mut next = current.clone();
        let mut violations = Vec::new();
        if let Some(status) = &patch.status {
            match status.trim().parse::<JobStatus>() {
                Ok(s) => next.status = s,
                Err(e) => violations.push(Violation::new(rules::INPUT, "status", e.to_string())),
            }
        }
        if let Some(output) = &patch.output {
            if has_float(output) {
                violations.push(Violation::new(
                    rules::INPUT,
                    "output",
                    "numbers in output must be integers (it is audited)",
                ));
            }
            next.output = Some(output.clone());
        }
        if let Some(error) = &patch.error {
            next.error = Some(error.chars().take(4000).collect());
        }
        if !violations.is_empty() {
            return Err(Error::Invalid(violations));
        }
        if !current.status.can_become(next.status) {
            return Err(Error::Conflict(format!(
                "a job cannot go from {} to {}",
                current.status, next.status
            )));
        }
        if current.status.is_final() && next != current {
            return Err(Error::Conflict(format!(
                "the job is {} and can no longer change",
                current.status
            )));
        }
        if next == current {
            return Ok(current);
        }
        let at = now();
        if next.status == JobStatus::Running && current.status != JobStatus::Running {
            next.started_at = Some(at);
        }
        if next.status.is_final() {
            next.finished_at = Some(at);
        }
        next.updated_at = at;
        let action = Action::Job(next.status);
        let committed = self
            .commit(Change::update(next, current.version, action, actor))
            .await?;
        as_job(committed.record)
    }
}

pub(super) fn as_trial(r: Record) -> Result<Trial> {
    Trial::try_from(r).map_err(|_| Error::Internal(Cause::from("expected a trial")))
}

fn as_job(r: Record) -> Result<Job> {
    Job::try_from(r).map_err(|_| Error::Internal(Cause::from("expected a job")))
}
