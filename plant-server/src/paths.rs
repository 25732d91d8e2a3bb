//! The path templates of the catalog kinds, shared by the routing table and the OpenAPI document.

use plant_core::model::Kind;

/// The five catalog kinds and the collection each lives at.
pub const CATALOG_KINDS: &[Kind] = &[
    Kind::Industry,
    Kind::Skill,
    Kind::JobRole,
    Kind::Team,
    Kind::Agent,
];

/// Path templates of one catalog kind: collection, item, history.
pub fn kind_paths(kind: Kind) -> (&'static str, &'static str, &'static str) {
    match kind {
        Kind::Industry => (
            "/api/v1/industries",
            "/api/v1/industries/{id}",
            "/api/v1/industries/{id}/history",
        ),
        Kind::Skill => (
            "/api/v1/genesis/skills",
            "/api/v1/genesis/skills/{id}",
            "/api/v1/genesis/skills/{id}/history",
        ),
        Kind::JobRole => (
            "/api/v1/genesis/job-roles",
            "/api/v1/genesis/job-roles/{id}",
            "/api/v1/genesis/job-roles/{id}/history",
        ),
        Kind::Team => (
            "/api/v1/teams",
            "/api/v1/teams/{id}",
            "/api/v1/teams/{id}/history",
        ),
        Kind::Agent | Kind::Trial | Kind::Job | Kind::PrecedentSeed => (
            "/api/v1/agents",
            "/api/v1/agents/{id}",
            "/api/v1/agents/{id}/history",
        ),
    }
}

/// Path templates of one catalog kind's versions: all of them, and version `{n}`.
pub fn version_paths(kind: Kind) -> (&'static str, &'static str) {
    match kind {
        Kind::Industry => (
            "/api/v1/industries/{id}/versions",
            "/api/v1/industries/{id}/versions/{n}",
        ),
        Kind::Skill => (
            "/api/v1/genesis/skills/{id}/versions",
            "/api/v1/genesis/skills/{id}/versions/{n}",
        ),
        Kind::JobRole => (
            "/api/v1/genesis/job-roles/{id}/versions",
            "/api/v1/genesis/job-roles/{id}/versions/{n}",
        ),
        Kind::Team => (
            "/api/v1/teams/{id}/versions",
            "/api/v1/teams/{id}/versions/{n}",
        ),
        Kind::Agent | Kind::Trial | Kind::Job | Kind::PrecedentSeed => (
            "/api/v1/agents/{id}/versions",
            "/api/v1/agents/{id}/versions/{n}",
        ),
    }
}
