//! The entity model: a shared [`Base`] of seven sections, the five catalog kinds, trials and
//! jobs, the closed sets they use and the newtypes their text is parsed into.

mod base;
mod enums;
mod job;
mod kinds;
mod record;
mod trial;
mod types;

pub use base::{Amendment, Base, Certification};
pub use enums::{
    Alignment, Category, CertificationState, JobStatus, Kind, Seniority, Status, TrialStatus,
    UnknownValue,
};
pub use job::Job;
pub use kinds::{Agent, Body, Industry, JobRole, Skill, Team};
pub use record::{Entity, Record};
pub use trial::{Deliverable, TRIAL_DAYS, Trial};
pub use types::{
    Description, Email, MAX_DESCRIPTION_CHARS, MAX_NAME_CHARS, Name, Phone, TextError,
};
