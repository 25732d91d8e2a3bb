//! The entity model: a shared [`Base`] of seven sections, the five catalog kinds, trials,
//! jobs and precedent seeds, the closed sets they use and the newtypes their text is parsed into.

mod base;
mod enums;
mod job;
mod kinds;
mod precedent;
mod record;
mod trial;
mod types;

pub use base::{Amendment, Base, Certification};
pub use enums::{
    Alignment, Category, CertificationState, JobStatus, Kind, PrecedentStatus, Seniority, Status,
    TrialStatus, UnknownValue,
};
pub use job::Job;
pub use kinds::{Agent, Body, Industry, JobRole, Skill, Team};
pub use precedent::{PrecedentSeed, SeedId};
pub use record::{Entity, Record};
pub use trial::{Deliverable, TRIAL_DAYS, Trial};
pub use types::{
    Description, Email, MAX_DESCRIPTION_CHARS, MAX_NAME_CHARS, Name, Phone, TextError, unique_key,
};
