//! Timestamps as the Plant stores and hashes them: UTC, microsecond precision.
//!
//! PostgreSQL's `timestamptz` keeps microseconds, so every timestamp is truncated to
//! microseconds when it is made; a value read back from the database is then equal to the one
//! that was hashed into the audit chain.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, SubsecRound, Timelike, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A UTC instant with microsecond precision, written as RFC 3339 with six fractional digits
/// and a `Z` (`2026-11-25T18:07:34.123456Z`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(DateTime<Utc>);

impl Timestamp {
    /// The current time, truncated to microseconds.
    pub fn now() -> Self {
        Self::from_datetime(Utc::now())
    }

    /// Wraps a chrono value, truncating it to microseconds.
    pub fn from_datetime(at: DateTime<Utc>) -> Self {
        Self(at.trunc_subsecs(6))
    }

    /// Microseconds since the Unix epoch.
    pub fn from_micros(micros: i64) -> Option<Self> {
        DateTime::<Utc>::from_timestamp_micros(micros).map(Self)
    }

    /// Microseconds since the Unix epoch.
    pub fn micros(&self) -> i64 {
        self.0.timestamp_micros()
    }

    /// The chrono value.
    pub fn as_datetime(&self) -> DateTime<Utc> {
        self.0
    }

    /// This instant plus a number of whole days.
    pub fn plus_days(&self, days: i64) -> Self {
        Self(self.0 + chrono::Duration::days(days))
    }

    /// The canonical text form: RFC 3339, UTC, exactly six fractional digits, `Z`.
    pub fn to_rfc3339(&self) -> String {
        self.to_string()
    }

    /// [`Self::to_rfc3339`] written into a fixed buffer, without a format string or allocation:
    /// every response and audit payload carries several timestamps. `None` for years outside
    /// 0..=9999, which chrono writes with a sign and more digits.
    pub(crate) fn rfc3339_bytes(&self) -> Option<[u8; RFC3339_LEN]> {
        let at = &self.0;
        let year = u32::try_from(at.year()).ok().filter(|y| *y <= 9999)?;
        let mut out = *b"0000-00-00T00:00:00.000000Z";
        let mut put = |at: usize, digits: usize, mut value: u32| {
            for i in (at..at + digits).rev() {
                out[i] = b'0' + (value % 10) as u8;
                value /= 10;
            }
        };
        put(0, 4, year);
        put(5, 2, at.month());
        put(8, 2, at.day());
        put(11, 2, at.hour());
        put(14, 2, at.minute());
        // A leap second is kept in the nanoseconds (>= 1e9), as chrono's %S and %.6f show it.
        let nanos = at.nanosecond();
        put(17, 2, at.second() + nanos / 1_000_000_000);
        put(20, 6, (nanos % 1_000_000_000) / 1_000);
        Some(out)
    }
}

impl From<DateTime<Utc>> for Timestamp {
    fn from(at: DateTime<Utc>) -> Self {
        Self::from_datetime(at)
    }
}

const RFC3339_MICROS: &str = "%Y-%m-%dT%H:%M:%S%.6fZ";
const RFC3339_LEN: usize = 27;

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.rfc3339_bytes() {
            Some(bytes) => f.write_str(std::str::from_utf8(&bytes).map_err(|_| fmt::Error)?),
            None => write!(f, "{}", self.0.format(RFC3339_MICROS)),
        }
    }
}

/// Why a text is not a timestamp.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an RFC 3339 timestamp: {0}")]
pub struct TimestampError(String);

impl FromStr for Timestamp {
    type Err = TimestampError;

    /// Accepts any RFC 3339 offset and converts it to UTC.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DateTime::parse_from_rfc3339(s)
            .map(|at| Self::from_datetime(at.with_timezone(&Utc)))
            .map_err(|e| TimestampError(e.to_string()))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.rfc3339_bytes() {
            Some(bytes) => serializer
                .serialize_str(std::str::from_utf8(&bytes).map_err(serde::ser::Error::custom)?),
            None => serializer.collect_str(&self.0.format(RFC3339_MICROS)),
        }
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_form_has_six_digits_and_z_and_round_trips() {
        let at: Timestamp = "2026-11-25T19:07:34.1234567+01:00".parse().expect("parses");
        assert_eq!(at.to_rfc3339(), "2026-11-25T18:07:34.123456Z");
        assert_eq!(at.to_rfc3339().parse::<Timestamp>().expect("parses"), at);
    }

    proptest::proptest! {
        /// The hand-written form equals chrono's format string for every instant, including
        /// years chrono writes with a sign or five digits.
        #[test]
        fn fast_text_form_equals_chronos(micros in -70_000_000_000_000_000_i64..400_000_000_000_000_000) {
            let at = Timestamp::from_micros(micros).expect("in chrono's range");
            let expected = at.0.format(RFC3339_MICROS).to_string();
            proptest::prop_assert_eq!(at.to_rfc3339(), expected.clone());
            proptest::prop_assert_eq!(at.to_string(), expected.clone());
            proptest::prop_assert_eq!(serde_json::to_string(&at).expect("serialises"), format!("\"{expected}\""));
        }
    }

    #[test]
    fn garbage_is_refused() {
        assert!("yesterday".parse::<Timestamp>().is_err());
    }
}
