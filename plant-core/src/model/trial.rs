//! Trials: a customer tries an agent for seven days.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Description, Email, Name, Phone, TrialStatus};
use crate::Timestamp;
use crate::audit::Hash;

/// How long a trial runs.
pub const TRIAL_DAYS: i64 = 7;

/// Something an agent delivered during a trial.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Deliverable {
    /// Its id.
    pub id: Uuid,
    /// A short title.
    pub title: Name,
    /// What it is.
    #[serde(default)]
    pub description: Description,
    /// Where to find it.
    #[serde(default)]
    pub url: Option<String>,
    /// When it was delivered.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: Timestamp,
}

/// A customer's trial of an agent. Audited like every entity, outside the catalog's `Base`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Trial {
    /// Its id.
    pub id: Uuid,
    /// The agent tried.
    pub agent_id: Uuid,
    /// The customer's name.
    pub customer_name: Name,
    /// The customer's e-mail (lowercased); the customer's token must carry it to read the trial.
    pub customer_email: Email,
    /// The customer's company.
    #[serde(default)]
    pub company: Option<Name>,
    /// The customer's phone.
    #[serde(default)]
    pub phone: Option<Phone>,
    /// When it started.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub start_date: Timestamp,
    /// When it ends: seven days after the start.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub end_date: Timestamp,
    /// `active → converted | cancelled | expired`.
    pub status: TrialStatus,
    /// What the agent delivered.
    #[serde(default)]
    pub deliverables: Vec<Deliverable>,
    /// When it was booked.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: Timestamp,
    /// When it last changed.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub updated_at: Timestamp,
    /// 1 on creation, one more on every change.
    pub version: u64,
    /// The hash of its latest audit entry.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub version_hash: Option<Hash>,
}

impl Trial {
    /// Whole days left at `now` (0 once ended or no longer active).
    pub fn days_remaining(&self, now: Timestamp) -> i64 {
        if self.status != TrialStatus::Active {
            return 0;
        }
        let left = self.end_date.micros() - now.micros();
        if left <= 0 {
            0
        } else {
            (left + 86_399_999_999) / 86_400_000_000
        }
    }
}
