//! Jobs: work handed to an agent.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::{JobStatus, Name};
use crate::Timestamp;
use crate::audit::Hash;

/// A job for an agent: `queued → running → succeeded | failed`, or `cancelled` before it ends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Job {
    /// Its id.
    pub id: Uuid,
    /// The agent doing it.
    pub agent_id: Uuid,
    /// The trial it belongs to, if any.
    #[serde(default)]
    pub trial_id: Option<Uuid>,
    /// A short title.
    pub title: Name,
    /// The job's input (a JSON value without floats: it is audited).
    #[serde(default)]
    pub input: Value,
    /// Where it stands.
    pub status: JobStatus,
    /// Its result, once succeeded.
    #[serde(default)]
    pub output: Option<Value>,
    /// Why it failed, if it did.
    #[serde(default)]
    pub error: Option<String>,
    /// When it was created.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: Timestamp,
    /// When it last changed.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub updated_at: Timestamp,
    /// When it started running.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub started_at: Option<Timestamp>,
    /// When it ended.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub finished_at: Option<Timestamp>,
    /// 1 on creation, one more on every change.
    pub version: u64,
    /// The hash of its latest audit entry.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub version_hash: Option<Hash>,
}
