//! The closed sets of the model, with their wire spellings.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Declares a closed set whose wire spelling is given per variant, with `as_str`, `Display`,
/// `FromStr` (exact wire spelling) and the list of all values. The spelling is matched as a
/// plain token (`tt`) so that derive macros reading `serde(rename)` (utoipa's) see the literal.
macro_rules! wire_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident = $wire:tt),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        pub enum $name {
            $($(#[$vm])* #[serde(rename = $wire)] $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The wire spelling.
            pub fn as_str(&self) -> &'static str {
                match self { $($name::$variant => $wire),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($wire => Ok($name::$variant),)+
                    _ => Err(UnknownValue {
                        set: stringify!($name),
                        got: s.chars().take(64).collect(),
                        allowed: vec![$($wire),+],
                    }),
                }
            }
        }
    };
}

/// A value outside a closed set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{got}' is not a valid {set}; expected one of: {}", allowed.join(", "))]
pub struct UnknownValue {
    /// The set's name.
    pub set: &'static str,
    /// What was given (at most 64 characters of it).
    pub got: String,
    /// The allowed spellings.
    pub allowed: Vec<&'static str>,
}

wire_enum! {
    /// What a record is. The five catalog kinds share the [`Base`](super::Base); trials and jobs
    /// are audited the same way but stand outside that family.
    Kind {
        /// An industry.
        Industry = "Industry",
        /// A skill.
        Skill = "Skill",
        /// A job role.
        JobRole = "JobRole",
        /// A team of agents.
        Team = "Team",
        /// An agent.
        Agent = "Agent",
        /// A customer's trial of an agent.
        Trial = "Trial",
        /// A job handed to an agent.
        Job = "Job",
        /// A governance decision that certification applies and cites.
        PrecedentSeed = "PrecedentSeed",
    }
}

impl Kind {
    /// The five kinds of the catalog (those with a `Base`).
    pub const CATALOG: &'static [Kind] = &[
        Kind::Industry,
        Kind::Skill,
        Kind::JobRole,
        Kind::Team,
        Kind::Agent,
    ];

    /// Parses the many spellings clients use: `Skill`, `skill`, `skills`, `job_role`,
    /// `JobRole`, `jobrole`, `job-role`, `job_roles`, …
    ///
    /// ```
    /// use plant_core::model::Kind;
    /// assert_eq!(Kind::parse_loose("job_role"), Ok(Kind::JobRole));
    /// assert_eq!(Kind::parse_loose("AGENTS"), Ok(Kind::Agent));
    /// ```
    pub fn parse_loose(raw: &str) -> Result<Kind, UnknownValue> {
        let folded: String = raw
            .trim()
            .chars()
            .filter(|c| !matches!(c, '_' | '-' | ' '))
            .flat_map(char::to_lowercase)
            .collect();
        let singular = folded
            .strip_suffix("ies")
            .map(|s| format!("{s}y"))
            .or_else(|| folded.strip_suffix('s').map(str::to_owned))
            .unwrap_or_else(|| folded.clone());
        Kind::ALL
            .iter()
            .copied()
            .find(|k| {
                let wire = k.as_str().to_lowercase();
                wire == folded || wire == singular
            })
            .ok_or_else(|| UnknownValue {
                set: "entity_type",
                got: raw.chars().take(64).collect(),
                allowed: Kind::ALL.iter().map(Kind::as_str).collect(),
            })
    }

    /// True for the five catalog kinds.
    pub fn is_catalog(&self) -> bool {
        Kind::CATALOG.contains(self)
    }
}

wire_enum! {
    /// Lifecycle status of a catalog entity.
    Status {
        /// In use.
        Active = "active",
        /// Retired; kept, still readable, audited.
        Archived = "archived",
        /// Marked deleted (never physically removed).
        Deleted = "deleted",
    }
}

wire_enum! {
    /// A skill's category.
    Category {
        /// Technical.
        Technical = "technical",
        /// Soft skill.
        SoftSkill = "soft_skill",
        /// Domain expertise.
        DomainExpertise = "domain_expertise",
        /// A certification.
        Certification = "certification",
    }
}

wire_enum! {
    /// A job role's seniority.
    Seniority {
        /// Junior.
        Junior = "junior",
        /// Mid-level.
        Mid = "mid",
        /// Senior.
        Senior = "senior",
    }
}

wire_enum! {
    /// Where an entity stands in certification.
    CertificationState {
        /// Not certified yet, or changed since.
        Pending = "pending_certification",
        /// Passed L0 and L1.
        Certified = "certified",
        /// Failed; the violations are recorded.
        Rejected = "rejected",
    }
}

wire_enum! {
    /// Whether an entity is aligned with the constitution it was certified under.
    Alignment {
        /// Aligned.
        Aligned = "aligned",
        /// Drifted.
        Drifted = "drifted",
        /// Changed in substance since certification; needs review.
        RequiresReview = "requires_review",
    }
}

wire_enum! {
    /// A trial's status: `active → converted | cancelled | expired`.
    TrialStatus {
        /// Running.
        Active = "active",
        /// Became a subscription.
        Converted = "converted",
        /// Cancelled by the customer or an operator.
        Cancelled = "cancelled",
        /// Ran out.
        Expired = "expired",
    }
}

impl TrialStatus {
    /// Whether a trial may move from `self` to `to`. Staying put is allowed (an update of other
    /// fields); every other move is from `active`.
    pub fn can_become(self, to: TrialStatus) -> bool {
        self == to || self == TrialStatus::Active
    }
}

wire_enum! {
    /// A precedent seed's status: `pending_review → active → superseded → deprecated →
    /// archived`. Seeds are never deleted.
    PrecedentStatus {
        /// Created with possible conflicts nobody acknowledged; not applied until approved.
        PendingReview = "pending_review",
        /// In force: certification applies it.
        Active = "active",
        /// Replaced by a newer seed (`superseded_by`).
        Superseded = "superseded",
        /// No longer applied, kept for the record.
        Deprecated = "deprecated",
        /// Retired for good.
        Archived = "archived",
    }
}

impl PrecedentStatus {
    /// Whether a seed may move from `self` to `to`. Staying put is allowed; otherwise a seed
    /// only moves forward along `pending_review → active → superseded → deprecated →
    /// archived`, and may skip steps (an active seed may be archived directly).
    ///
    /// ```
    /// use plant_core::model::PrecedentStatus::*;
    /// assert!(Active.can_become(Superseded));
    /// assert!(!Superseded.can_become(Active));
    /// ```
    pub fn can_become(self, to: PrecedentStatus) -> bool {
        self == to || (self as u8) < (to as u8)
    }
}

wire_enum! {
    /// A job's status: `queued → running → succeeded | failed`, or `cancelled` before it ends.
    JobStatus {
        /// Waiting.
        Queued = "queued",
        /// Being worked on.
        Running = "running",
        /// Done.
        Succeeded = "succeeded",
        /// Ended in error.
        Failed = "failed",
        /// Called off.
        Cancelled = "cancelled",
    }
}

impl JobStatus {
    /// Whether a job may move from `self` to `to`.
    pub fn can_become(self, to: JobStatus) -> bool {
        use JobStatus::*;
        matches!(
            (self, to),
            (Queued, Running)
                | (Queued, Cancelled)
                | (Running, Succeeded)
                | (Running, Failed)
                | (Running, Cancelled)
        ) || self == to
    }

    /// True once the job can no longer change.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            JobStatus::Succeeded | JobStatus::Failed | JobStatus::Cancelled
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn wire_spellings_round_trip() {
        for k in Kind::ALL {
            assert_eq!(k.as_str().parse::<Kind>(), Ok(*k));
            assert_eq!(
                serde_json::to_string(k).unwrap(),
                format!("\"{}\"", k.as_str())
            );
        }
        assert_eq!("soft_skill".parse::<Category>(), Ok(Category::SoftSkill));
        assert!("Soft Skill".parse::<Category>().is_err());
    }

    #[test]
    fn loose_kind_spellings() {
        for (s, k) in [
            ("Skill", Kind::Skill),
            ("skill", Kind::Skill),
            ("skills", Kind::Skill),
            ("job_role", Kind::JobRole),
            ("JobRole", Kind::JobRole),
            ("jobrole", Kind::JobRole),
            ("job-roles", Kind::JobRole),
            ("industries", Kind::Industry),
            ("Agent", Kind::Agent),
            (" team ", Kind::Team),
        ] {
            assert_eq!(Kind::parse_loose(s), Ok(k), "{s}");
        }
        assert!(Kind::parse_loose("robot").is_err());
    }

    #[test]
    fn transitions() {
        use JobStatus::*;
        assert!(Queued.can_become(Running));
        assert!(!Queued.can_become(Succeeded));
        assert!(!Succeeded.can_become(Running));
        assert!(TrialStatus::Active.can_become(TrialStatus::Converted));
        assert!(!TrialStatus::Cancelled.can_become(TrialStatus::Active));
    }

    proptest! {
        #[test]
        fn final_job_states_never_move(to in proptest::sample::select(JobStatus::ALL)) {
            for from in JobStatus::ALL.iter().filter(|s| s.is_final()) {
                prop_assert_eq!(from.can_become(to), *from == to);
            }
        }

        #[test]
        fn loose_parse_is_total(s in "\\PC{0,40}") {
            let _ = Kind::parse_loose(&s);
        }
    }
}
