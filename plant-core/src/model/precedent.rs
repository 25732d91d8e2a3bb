//! Precedent seeds: governance decisions that certification applies and cites.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};
use uuid::Uuid;

use super::{Description, Kind, Name, PrecedentStatus, TextError};
use crate::Timestamp;
use crate::audit::Hash;

/// The longest seed id, in characters.
const MAX_SEED_ID_CHARS: usize = 32;

/// A seed's human-readable id, such as `PS-001`: ASCII letters, digits and `-`, starting with a
/// letter, at most 32 characters, kept upper-case so that uniqueness ignores case.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SeedId(String);

impl SeedId {
    /// Trims, upper-cases and checks a seed id.
    ///
    /// ```
    /// use plant_core::model::SeedId;
    /// assert_eq!(SeedId::parse(" ps-007 ").unwrap().as_str(), "PS-007");
    /// assert!(SeedId::parse("7 seeds").is_err());
    /// ```
    pub fn parse(raw: &str) -> Result<Self, TextError> {
        let t = raw.trim();
        if t.is_empty() {
            return Err(TextError::Blank);
        }
        let got = t.chars().count();
        if got > MAX_SEED_ID_CHARS {
            return Err(TextError::TooLong {
                max: MAX_SEED_ID_CHARS,
                got,
            });
        }
        let well_formed = t.starts_with(|c: char| c.is_ascii_alphabetic())
            && t.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !well_formed {
            return Err(TextError::Form(
                "must be ASCII letters, digits and '-', starting with a letter",
            ));
        }
        Ok(Self(t.to_ascii_uppercase()))
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SeedId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for SeedId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        SeedId::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A governance decision that becomes a reusable precedent for certifying skills, job roles
/// and agents. Audited like every record, outside the catalog's `Base`.
///
/// Supersession links seeds by `seed_id`: the newer seed names the one it `supersedes`, the
/// older one names its successor in `superseded_by`. A lineage is a line, never a cycle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PrecedentSeed {
    /// Its id.
    pub id: Uuid,
    /// Its human-readable id (`PS-001`), unique.
    pub seed_id: SeedId,
    /// A short title.
    pub title: Name,
    /// The decision itself.
    pub content: Description,
    /// The kinds it applies to when they are certified.
    pub applies_to: Vec<Kind>,
    /// `pending_review → active → superseded → deprecated → archived`.
    pub status: PrecedentStatus,
    /// The seed this one replaced.
    #[serde(default)]
    pub supersedes: Option<SeedId>,
    /// The seed that replaced this one.
    #[serde(default)]
    pub superseded_by: Option<SeedId>,
    /// The governor who approved it.
    #[serde(default)]
    pub approving_governor_id: Option<String>,
    /// When it was created.
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

impl PrecedentSeed {
    /// True when it applies to certifications of `kind`.
    pub fn applies_to(&self, kind: Kind) -> bool {
        self.applies_to.contains(&kind)
    }
}
