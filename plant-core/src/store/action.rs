//! What a change's audit entry says happened: a closed set, spelled once.

use std::fmt;

use crate::model::{JobStatus, TrialStatus};

/// What happened, as the audit entry records it (its `action`). The spelling is part of the
/// entry's hash, so each variant's text is fixed: `create`, `update`, `trial_converted`, …
///
/// ```
/// use plant_core::model::TrialStatus;
/// use plant_core::store::Action;
/// assert_eq!(Action::AssignTeam.to_string(), "assign_team");
/// assert_eq!(Action::Trial(TrialStatus::Converted).to_string(), "trial_converted");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Action {
    /// A record is created.
    Create,
    /// A catalog entity is evolved (PATCH).
    Update,
    /// Certification passed.
    Certify,
    /// Certification failed.
    Reject,
    /// A catalog entity is archived.
    Archive,
    /// An archived catalog entity is deleted.
    Delete,
    /// An agent joins a team.
    AssignTeam,
    /// Revalidation sent a certified entity back to review.
    Revalidate,
    /// A child is appended to the entity's `child_ids`.
    AddChild,
    /// A child is taken out of the entity's `child_ids`.
    RemoveChild,
    /// A trial moves to a status (`trial_converted`, `trial_cancelled`, `trial_expired`).
    Trial(TrialStatus),
    /// Deliverables are added to a trial.
    AddDeliverables,
    /// A trial past its end is expired by the background pass.
    Expire,
    /// A job moves to a status (`job_running`, `job_succeeded`, …).
    Job(JobStatus),
    /// A precedent seed is approved.
    Approve,
    /// A precedent seed is superseded by a newer one.
    Supersede,
    /// An entry replayed as it was recorded elsewhere (an imported chain keeps its actions,
    /// whatever their text).
    Replayed(String),
}

impl Action {
    /// The spelling of the variants that have one fixed text (all but trial and job moves).
    fn fixed(&self) -> Option<&str> {
        Some(match self {
            Self::Create => "create",
            Self::Update => "update",
            Self::Certify => "certify",
            Self::Reject => "reject",
            Self::Archive => "archive",
            Self::Delete => "delete",
            Self::AssignTeam => "assign_team",
            Self::Revalidate => "revalidate",
            Self::AddChild => "add_child",
            Self::RemoveChild => "remove_child",
            Self::AddDeliverables => "add_deliverables",
            Self::Expire => "expire",
            Self::Approve => "approve",
            Self::Supersede => "supersede",
            Self::Replayed(text) => text,
            Self::Trial(_) | Self::Job(_) => return None,
        })
    }

    /// Whether an audit entry's `action` text records this action.
    pub fn is(&self, text: &str) -> bool {
        match self {
            Self::Trial(s) => text.strip_prefix("trial_") == Some(s.as_str()),
            Self::Job(s) => text.strip_prefix("job_") == Some(s.as_str()),
            other => other.fixed() == Some(text),
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Trial(s) => write!(f, "trial_{s}"),
            Self::Job(s) => write!(f, "job_{s}"),
            other => f.write_str(other.fixed().unwrap_or_default()),
        }
    }
}

impl PartialEq<Action> for String {
    fn eq(&self, action: &Action) -> bool {
        action.is(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_are_the_ones_the_chain_already_holds() {
        let pinned = [
            (Action::Create, "create"),
            (Action::Update, "update"),
            (Action::Certify, "certify"),
            (Action::Reject, "reject"),
            (Action::Archive, "archive"),
            (Action::Delete, "delete"),
            (Action::AssignTeam, "assign_team"),
            (Action::Revalidate, "revalidate"),
            (Action::AddChild, "add_child"),
            (Action::RemoveChild, "remove_child"),
            (Action::Trial(TrialStatus::Cancelled), "trial_cancelled"),
            (Action::AddDeliverables, "add_deliverables"),
            (Action::Expire, "expire"),
            (Action::Job(JobStatus::Running), "job_running"),
            (Action::Approve, "approve"),
            (Action::Supersede, "supersede"),
            (Action::Replayed("anything".into()), "anything"),
        ];
        for (action, text) in pinned {
            assert_eq!(action.to_string(), text);
            assert!(action.is(text), "{action:?}");
            assert!(!action.is("trial_"), "{action:?}");
        }
        assert!(!Action::Trial(TrialStatus::Expired).is("job_expired"));
    }
}
