//! The webhook variables (`PLANT_WEBHOOK_*`): how deliveries are made, retried and leased.
//! The target policy and the transport that use them are in [`crate::webhooks`].

use std::time::Duration;

use plant_core::webhooks::{RetrySchedule, WorkerOptions};

use super::{ConfigError, invalid, millis};

/// How webhooks are delivered (`PLANT_WEBHOOK_*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSettings {
    /// `PLANT_WEBHOOK_ALLOW_HTTP_LOOPBACK=1`: plain `http` and loopback addresses are allowed
    /// (development and tests only; `http` then reaches loopback only).
    pub allow_http_loopback: bool,
    /// `PLANT_WEBHOOK_ALLOWED_HOSTS`: when set, the only hosts targets may name (comma-separated;
    /// `.example.com` admits its subdomains). The address checks still apply.
    pub allowed_hosts: Option<Vec<String>>,
    /// `PLANT_WEBHOOK_TIMEOUT_MS`: the whole request, connection included (default 10 s).
    pub timeout: Duration,
    /// `PLANT_WEBHOOK_RETRY_BASE_MS` (10 s), `PLANT_WEBHOOK_RETRY_CAP_MS` (4 h),
    /// `PLANT_WEBHOOK_MAX_ATTEMPTS` (12).
    pub schedule: RetrySchedule,
    /// `PLANT_WEBHOOK_LEASE_MS` (60 s): how soon another process takes over a crashed one's
    /// subscriptions.
    pub lease: Duration,
    /// `PLANT_WEBHOOK_POLL_MS` (1 s): the look for due retries and missed notifications.
    pub poll: Duration,
    /// `PLANT_WEBHOOK_ROTATION_OVERLAP_S` (24 h): how long the old secret still signs.
    pub rotation_overlap: Duration,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        let worker = WorkerOptions::default();
        Self {
            allow_http_loopback: false,
            allowed_hosts: None,
            timeout: Duration::from_secs(10),
            schedule: worker.schedule,
            lease: worker.lease,
            poll: worker.poll,
            rotation_overlap: Duration::from_secs(24 * 3600),
        }
    }
}

impl WebhookSettings {
    /// The settings named by the environment (through `get`).
    pub fn from_lookup(get: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let d = Self::default();
        let allow_http_loopback = match get("PLANT_WEBHOOK_ALLOW_HTTP_LOOPBACK").as_deref() {
            None | Some("0" | "false") => false,
            Some("1" | "true") => true,
            Some(other) => {
                return Err(invalid(
                    "PLANT_WEBHOOK_ALLOW_HTTP_LOOPBACK",
                    "1 or 0",
                    other,
                ));
            }
        };
        let allowed_hosts = get("PLANT_WEBHOOK_ALLOWED_HOSTS").map(|v| {
            v.split(',')
                .map(|h| h.trim().trim_end_matches('.').to_ascii_lowercase())
                .filter(|h| !h.is_empty())
                .collect()
        });
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        let max_attempts =
            match get("PLANT_WEBHOOK_MAX_ATTEMPTS") {
                None => d.schedule.max_attempts,
                Some(v) => v.parse::<u32>().ok().filter(|n| *n >= 1).ok_or_else(|| {
                    invalid("PLANT_WEBHOOK_MAX_ATTEMPTS", "a positive integer", &v)
                })?,
            };
        Ok(Self {
            allow_http_loopback,
            allowed_hosts,
            timeout: millis(
                get("PLANT_WEBHOOK_TIMEOUT_MS"),
                "PLANT_WEBHOOK_TIMEOUT_MS",
                ms(d.timeout),
            )?,
            schedule: RetrySchedule {
                base: millis(
                    get("PLANT_WEBHOOK_RETRY_BASE_MS"),
                    "PLANT_WEBHOOK_RETRY_BASE_MS",
                    ms(d.schedule.base),
                )?,
                cap: millis(
                    get("PLANT_WEBHOOK_RETRY_CAP_MS"),
                    "PLANT_WEBHOOK_RETRY_CAP_MS",
                    ms(d.schedule.cap),
                )?,
                max_attempts,
            },
            lease: millis(
                get("PLANT_WEBHOOK_LEASE_MS"),
                "PLANT_WEBHOOK_LEASE_MS",
                ms(d.lease),
            )?,
            poll: millis(
                get("PLANT_WEBHOOK_POLL_MS"),
                "PLANT_WEBHOOK_POLL_MS",
                ms(d.poll),
            )?,
            rotation_overlap: millis(
                get("PLANT_WEBHOOK_ROTATION_OVERLAP_S").map(|s| format!("{s}000")),
                "PLANT_WEBHOOK_ROTATION_OVERLAP_S",
                ms(d.rotation_overlap),
            )?,
        })
    }

    /// The core worker's options: the schedule, the lease (at least twice the request timeout)
    /// and the poll interval.
    pub(crate) fn worker_options(&self) -> WorkerOptions {
        WorkerOptions {
            schedule: self.schedule,
            // A lease shorter than a request could let a second process start on the same
            // subscription while the first still waits for its answer.
            lease: self.lease.max(self.timeout * 2),
            poll: self.poll,
            ..WorkerOptions::default()
        }
    }
}
