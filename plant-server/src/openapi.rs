//! The OpenAPI document's frame: its description, shared schemas, the bearer scheme, and the
//! operations of the five catalog kinds (which share one set of handlers, so their paths are
//! generated here from the routing table's templates). Every other operation is added by the
//! routing table as it routes the handler ([`crate::routes`]).

use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{
    AllOfBuilder, ArrayBuilder, KnownFormat, ObjectBuilder, SchemaFormat, Type,
};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{Ref, Required};
use utoipa::{Modify, OpenApi};

use plant_core::model::Kind;

use crate::handlers::{agents, certify, ops, precedents, trials, validate};

use crate::paths::{CATALOG_KINDS, kind_paths, version_paths};
use crate::problem::{Problem, Violation};

/// The API description served at `/openapi.json` and snapshot-tested.
#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "Plant",
        description = "The catalog behind the agent marketplace: industries, skills, job roles, teams, agents, \
                       certification, trials, jobs and a verifiable audit chain. Every error is \
                       application/problem+json (RFC 9457).",
        version = "1"
    ),
    components(schemas(Problem, Violation, ops::ProbeStatus, certify::CertifyRequest, certify::BatchResult,
        plant_core::model::Base, plant_core::model::Industry, plant_core::model::Skill,
        plant_core::model::JobRole, plant_core::model::Team, plant_core::model::Agent,
        plant_core::model::Trial, plant_core::model::Job, plant_core::model::PrecedentSeed,
        crate::wire::TeamMember,
        agents::AssignTeam, trials::TrialPage, precedents::PrecedentRequest,
        precedents::QueryRequest, validate::ValidateRequest)),
    modifiers(&BearerAuth, &CatalogPaths),
    tags(
        (name = "operations", description = "liveness, readiness, this document"),
        (name = "catalog", description = "industries, skills, job roles, teams, agents"),
        (name = "certification", description = "constitutional certification (L0 + L1)"),
        (name = "agents", description = "agent-specific operations"),
        (name = "trials", description = "seven-day trials of an agent"),
        (name = "jobs", description = "work handed to agents"),
        (name = "audit", description = "the tamper-evident audit chain"),
        (name = "search", description = "search by meaning"),
        (name = "precedents", description = "precedent seeds: lineage, contradiction check, query by meaning"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// Generates the shared operations of the five catalog kinds.
#[derive(Debug)]
pub struct CatalogPaths;

fn label(kind: Kind) -> &'static str {
    match kind {
        Kind::Industry => "industry",
        Kind::Skill => "skill",
        Kind::JobRole => "job role",
        Kind::Team => "team",
        Kind::Agent => "agent",
        Kind::Trial => "trial",
        Kind::Job => "job",
        Kind::PrecedentSeed => "precedent seed",
    }
}

fn problem(description: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/problem+json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
        .build()
}

fn json(description: &str) -> utoipa::openapi::Response {
    json_of(description, ObjectBuilder::new().build().into())
}

/// A JSON response of `schema`.
fn json_of(
    description: &str,
    schema: utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new().schema(Some(schema)).build(),
        )
        .build()
}

/// A JSON response whose body is an array of `items`.
fn array_of(
    description: &str,
    items: impl Into<utoipa::openapi::schema::ArrayItems>,
) -> utoipa::openapi::Response {
    json_of(description, ArrayBuilder::new().items(items).build().into())
}

/// The schema name of a catalog kind's entity as responses show it.
fn entity_schema(kind: Kind) -> &'static str {
    match kind {
        Kind::Industry => "IndustryEntity",
        Kind::Skill => "SkillEntity",
        Kind::JobRole => "JobRoleEntity",
        Kind::Team => "TeamEntity",
        _ => "AgentEntity",
    }
}

/// A response whose body is one entity of `kind`.
fn entity(kind: Kind, description: &str) -> utoipa::openapi::Response {
    json_of(
        description,
        Ref::from_schema_name(entity_schema(kind)).into(),
    )
}

/// A response whose body is an array of entities of `kind`.
fn entities(kind: Kind, description: &str) -> utoipa::openapi::Response {
    array_of(description, Ref::from_schema_name(entity_schema(kind)))
}

/// The entity schemas: the seven base sections, the kind's fields, and what its responses add.
fn entity_schemas(components: &mut utoipa::openapi::Components) {
    let added = |name: &str, schema: utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>| {
        ObjectBuilder::new()
            .property(name, schema)
            .required(name)
            .build()
    };
    let industry = added(
        "industry",
        ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::SchemaType::from_iter([
                Type::String,
                Type::Null,
            ]))
            .description(Some("the industry's name, lowercase"))
            .into(),
    );
    let members = added(
        "agents",
        ArrayBuilder::new()
            .items(Ref::from_schema_name("TeamMember"))
            .description(Some("every agent whose team_id is this team"))
            .into(),
    );
    for (kind, body, extra) in [
        (Kind::Industry, "Industry", None),
        (Kind::Skill, "Skill", None),
        (Kind::JobRole, "JobRole", None),
        (Kind::Team, "Team", Some(members)),
        (Kind::Agent, "Agent", Some(industry)),
    ] {
        let mut all = AllOfBuilder::new()
            .item(Ref::from_schema_name("Base"))
            .item(Ref::from_schema_name(body));
        if let Some(extra) = extra {
            all = all.item(extra);
        }
        components.schemas.insert(
            entity_schema(kind).to_owned(),
            utoipa::openapi::RefOr::T(utoipa::openapi::schema::Schema::AllOf(all.build())),
        );
    }
}

/// A 200 whose body is a JSON array of objects.
fn json_array(description: &str) -> utoipa::openapi::Response {
    array_of(description, ObjectBuilder::new().build())
}

fn id_param() -> utoipa::openapi::path::Parameter {
    ParameterBuilder::new()
        .name("id")
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid))),
        ))
        .build()
}

fn query_param(name: &str, description: &str) -> utoipa::openapi::path::Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Query)
        .required(Required::False)
        .description(Some(description))
        .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
        .build()
}

fn json_body(description: &str) -> Option<utoipa::openapi::request_body::RequestBody> {
    Some(
        RequestBodyBuilder::new()
            .description(Some(description))
            .required(Some(Required::True))
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(ObjectBuilder::new().build()))
                    .build(),
            )
            .build(),
    )
}

fn filters(kind: Kind) -> Vec<(&'static str, &'static str)> {
    let mut f = vec![
        ("limit", "1 to 1000 (default 100)"),
        ("offset", "skip this many"),
        ("after", "keyset cursor from the Link header"),
        ("status", "active, archived or deleted"),
    ];
    match kind {
        Kind::Skill => f.push((
            "category",
            "technical, soft_skill, domain_expertise or certification",
        )),
        Kind::JobRole => {
            f.push(("seniority_level", "junior, mid or senior"));
            f.push(("industry_id", "industry id"));
            f.push(("skill_id", "a required skill"));
        }
        Kind::Team => {
            f.push(("industry_id", "industry id"));
            f.push(("industry", "industry name, any case"));
            f.push(("job_role_id", "job role id"));
        }
        Kind::Agent => {
            f.push(("industry_id", "industry id"));
            f.push(("industry", "industry name, any case"));
            f.push(("job_role_id", "job role id"));
            f.push(("skill_id", "skill id"));
            f.push(("team_id", "team id"));
            f.push((
                "q",
                "text to rank agents by, best first; each item (lean unless `full=true`) adds `score` (see `mode`)",
            ));
            f.push((
                "mode",
                "with `q`: `hybrid` (default; full text and meaning fused by reciprocal rank fusion), \
                 `semantic` (meaning; `score` = cosine) or `lexical` (full text; `score` = ts_rank); other values: 422",
            ));
        }
        _ => {}
    }
    f
}

impl Modify for CatalogPaths {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let bearer = || SecurityRequirement::new("bearer", Vec::<String>::new());
        entity_schemas(openapi.components.get_or_insert_with(Default::default));
        for &kind in CATALOG_KINDS {
            let (items, item, history) = kind_paths(kind);
            let name = label(kind);
            let mut list = OperationBuilder::new()
                .tag("catalog")
                .operation_id(Some(format!("list_{}", name.replace(' ', "_"))))
                .summary(Some(format!("List {name}s in (created_at, id) order")))
                .response(
                    "200",
                    entities(
                        kind,
                        "a JSON array; `Link: <…>; rel=\"next\"` when the page is full",
                    ),
                )
                .response("422", problem("a filter or paging value is invalid"));
            for (param, description) in filters(kind) {
                list = list.parameter(query_param(param, description));
            }
            openapi
                .paths
                .add_path_operation(items, vec![HttpMethod::Get], list.build());

            let create = OperationBuilder::new()
                .tag("catalog")
                .operation_id(Some(format!("create_{}", name.replace(' ', "_"))))
                .summary(Some(format!("Create a {name} (genesis)")))
                .parameter(query_param(
                    "dry_run",
                    "true: check everything, write nothing, answer 200",
                ))
                .request_body(json_body(&format!("the new {name}")))
                .response("201", entity(kind, &format!("the {name}, with ETag and Location")))
                .response("401", problem("no valid token"))
                .response("403", problem("not a genesis token"))
                .response("409", problem("the name is taken"))
                .response(
                    "422",
                    problem("rule or input violations: `violations` (one line each), `errors` (structured)"),
                )
                .security(bearer())
                .build();
            openapi
                .paths
                .add_path_operation(items, vec![HttpMethod::Post], create);

            let get = OperationBuilder::new()
                .tag("catalog")
                .operation_id(Some(format!("get_{}", name.replace(' ', "_"))))
                .summary(Some(format!("Read a {name}")))
                .parameter(id_param())
                .response("200", entity(kind, &format!("the {name}, with its ETag")))
                .response("404", problem("no such entity"))
                .response("422", problem("the id is not a UUID"))
                .build();
            openapi
                .paths
                .add_path_operation(item, vec![HttpMethod::Get], get);

            let patch = OperationBuilder::new()
                .tag("catalog")
                .operation_id(Some(format!("evolve_{}", name.replace(' ', "_"))))
                .summary(Some(format!(
                    "Evolve a {name} (genesis; If-Match required)"
                )))
                .parameter(id_param())
                .parameter(query_param(
                    "dry_run",
                    "true: check everything, write nothing",
                ))
                .parameter(
                    ParameterBuilder::new()
                        .name("If-Match")
                        .parameter_in(ParameterIn::Header)
                        .required(Required::True)
                        .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                        .build(),
                )
                .request_body(json_body("a JSON merge patch of the entity's fields"))
                .response("200", entity(kind, &format!("the {name}, one version on")))
                .response("412", problem("the ETag is stale"))
                .response("428", problem("If-Match is missing"))
                .response("422", problem("rule or input violations"))
                .security(bearer())
                .build();
            openapi
                .paths
                .add_path_operation(item, vec![HttpMethod::Patch], patch);

            let delete = OperationBuilder::new()
                .tag("catalog")
                .operation_id(Some(format!("archive_{}", name.replace(' ', "_"))))
                .summary(Some(format!(
                    "Archive a {name}, or delete it when it is archived (genesis)"
                )))
                .parameter(id_param())
                .parameter(query_param(
                    "dry_run",
                    "true: the entity as it would become; nothing is written",
                ))
                .response(
                    "200",
                    entity(
                        kind,
                        &format!(
                            "the {name}, archived (or deleted, with `deleted_at`, when it was archived)"
                        ),
                    ),
                )
                .response("412", problem("If-Match names another version"))
                .response(
                    "409",
                    problem("active entities depend on it, or it is already deleted"),
                )
                .security(bearer())
                .build();
            openapi
                .paths
                .add_path_operation(item, vec![HttpMethod::Delete], delete);

            let hist = OperationBuilder::new()
                .tag("catalog")
                .operation_id(Some(format!("history_{}", name.replace(' ', "_"))))
                .summary(Some(format!("The {name}'s audit entries, oldest first")))
                .parameter(id_param())
                .response(
                    "200",
                    json_array("`[{seq, version, action, actor, at, hash, prev_hash}]`"),
                )
                .response("404", problem("no such entity"))
                .build();
            openapi
                .paths
                .add_path_operation(history, vec![HttpMethod::Get], hist);

            let (all_versions, one_version) = version_paths(kind);
            let versions = OperationBuilder::new()
                .tag("catalog")
                .operation_id(Some(format!("versions_{}", name.replace(' ', "_"))))
                .summary(Some(format!(
                    "Every version of a {name}, oldest first, with its per-entity lineage hash"
                )))
                .parameter(id_param())
                .response(
                    "200",
                    json_array(
                        "`[{version, seq, hash, prev_hash, lineage_hash, hash_verified, action, actor, at}]`; \
                         lineage_hash = SHA-256(\"plant-lineage-v1\\n\" || previous version's lineage_hash \
                         (32 zero bytes for version 1) || this version's entry hash)",
                    ),
                )
                .response("404", problem("no such entity"))
                .response("422", problem("the id is not a UUID"))
                .build();
            openapi
                .paths
                .add_path_operation(all_versions, vec![HttpMethod::Get], versions);
            let version = OperationBuilder::new()
                .tag("catalog")
                .operation_id(Some(format!("version_{}", name.replace(' ', "_"))))
                .summary(Some(format!(
                    "A {name} exactly as it was at version n, rebuilt from its audit entries"
                )))
                .parameter(id_param())
                .parameter(
                    ParameterBuilder::new()
                        .name("n")
                        .parameter_in(ParameterIn::Path)
                        .required(Required::True)
                        .description(Some("the version, 1, 2, …"))
                        .schema(Some(
                            ObjectBuilder::new()
                                .schema_type(Type::Integer)
                                .minimum(Some(1)),
                        ))
                        .build(),
                )
                .response(
                    "200",
                    json(
                        "`{version, seq, hash, prev_hash, lineage_hash, hash_verified, action, actor, at, entity}`",
                    ),
                )
                .response("404", problem("no such entity, or no such version"))
                .response(
                    "422",
                    problem("the id is not a UUID, or n is not a positive integer"),
                )
                .build();
            openapi
                .paths
                .add_path_operation(one_version, vec![HttpMethod::Get], version);

            if matches!(kind, Kind::Skill | Kind::JobRole) {
                let certify = OperationBuilder::new()
                    .tag("certification")
                    .operation_id(Some(format!("certify_{}", name.replace(' ', "_"))))
                    .summary(Some(format!("Certify a {name} (genesis)")))
                    .parameter(id_param())
                    .parameter(query_param(
                        "dry_run",
                        "true: the answer the certification would give; nothing is recorded",
                    ))
                    .response("200", entity(kind, &format!("the certified {name}")))
                    .response("422", problem("rejected (and recorded): `constitutional-violation` with every violation"))
                    .security(bearer())
                    .build();
                openapi.paths.add_path_operation(
                    format!("{item}/certify"),
                    vec![HttpMethod::Post],
                    certify,
                );
            }
        }
    }
}
