//! Trial expiry as a state change of its own: a trial past its end moves from `active` to
//! `expired` when [`Catalog::expire_due_trials`] runs (periodically, see [`spawn_trial_expiry`]),
//! never as a side effect of someone reading it, so a list and a single read always report the
//! state the store holds.

use std::time::Duration;

use tokio::task::JoinHandle;

use super::trials::{SYSTEM_ACTOR, as_trial};
use super::{Catalog, now};
use crate::error::{Error, Result};
use crate::model::{Kind, Record, Trial, TrialStatus};
use crate::store::{Action, Change, ListQuery};

/// How many trials a pass reads at a time.
const PAGE: u64 = 500;

/// What one expiry pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExpiryReport {
    /// Trials this pass moved to `expired` (one audit entry each).
    pub expired: u64,
    /// Due trials someone else changed first (another instance's pass, a cancellation): left as
    /// they now are.
    pub lost_races: u64,
}

impl Catalog {
    /// Moves every active trial whose end has passed to `expired`, each with an `expire` audit
    /// entry by the `system` actor. Idempotent (an expired trial is not active), and safe with
    /// several instances running it at once: each expiry is a versioned update, so of two passes
    /// racing for one trial exactly one writes and the other sees a version conflict — a trial
    /// never gets two expiry entries.
    pub async fn expire_due_trials(&self) -> Result<ExpiryReport> {
        let at = now();
        let mut report = ExpiryReport::default();
        let mut query = ListQuery {
            status: Some(TrialStatus::Active.into()),
            ..ListQuery::of(Kind::Trial, PAGE)
        };
        loop {
            let page = self.store().list(&query).await?;
            let Some(last) = page.last() else {
                break;
            };
            query.after = Some((last.created_at(), last.id()));
            let full = page.len() as u64 == PAGE;
            for record in page {
                let Record::Trial(trial) = record else {
                    continue;
                };
                if trial.status != TrialStatus::Active || trial.end_date > at {
                    continue;
                }
                match self.try_expire(trial).await? {
                    Some(_) => report.expired += 1,
                    None => report.lost_races += 1,
                }
            }
            if !full {
                break;
            }
        }
        Ok(report)
    }

    /// Moves one due trial to `expired` at the version it was read; `None` when someone changed
    /// it first (the caller reads what they wrote).
    pub(super) async fn try_expire(&self, trial: Trial) -> Result<Option<Trial>> {
        let version = trial.version;
        let mut next = trial;
        next.status = TrialStatus::Expired;
        next.updated_at = now();
        match self
            .commit(Change::update(next, version, Action::Expire, SYSTEM_ACTOR))
            .await
        {
            Ok(c) => as_trial(c.record).map(Some),
            Err(Error::Precondition { .. } | Error::Conflict(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// Runs [`Catalog::expire_due_trials`] now and then every `every`, for as long as the runtime
/// lives (abort the handle to stop it). A failed pass is logged and retried on the next tick;
/// it never ends the task.
///
/// ```no_run
/// # fn demo(catalog: plant_core::catalog::Catalog) {
/// use std::time::Duration;
/// let expiry = plant_core::catalog::spawn_trial_expiry(catalog, Duration::from_secs(60));
/// // … on shutdown:
/// expiry.abort();
/// # }
/// ```
pub fn spawn_trial_expiry(catalog: Catalog, every: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            match catalog.expire_due_trials().await {
                Ok(r) if r.expired > 0 || r.lost_races > 0 => tracing::info!(
                    expired = r.expired,
                    lost_races = r.lost_races,
                    "trial expiry pass"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "trial expiry pass failed; retrying later"),
            }
        }
    })
}
