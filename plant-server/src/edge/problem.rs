//! The HTTP edge's one error type and its RFC 9457 `application/problem+json` rendering.
//!
//! Clients see a stable `type` URI, a title, and a safe `detail`; the cause chain of an internal
//! error goes to the log, never to the response. Rule violations (422) carry a `type` containing
//! `constitutional`, which the platform portal's client relies on; plain input errors do not.

use std::error::Error as StdError;
use std::sync::Arc;

use axum::response::IntoResponse;

use http::{HeaderValue, StatusCode, header};
use serde::Serialize;
use utoipa::ToSchema;

use crate::correlation::CorrelationId;
use crate::response::{Response, json_response_with_type};

/// Prefix of every problem `type` URI.
pub const TYPE_BASE: &str = "https://plant.dev/problems/";

pub use crate::response::PROBLEM_JSON;

/// What a handler returns: its response, or the error the edge renders as problem+json.
pub type HandlerResult = Result<Response, ApiError>;

/// One failed rule or invalid input field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Violation {
    /// Rule id (`L0-01`, `L1-SKILL-02`, …) or `INPUT` for a malformed field.
    pub rule: String,
    /// The field at fault.
    pub field: String,
    /// What is wrong, for a human.
    pub message: String,
}

impl Violation {
    /// The one-line form in a problem's `violations`: rule, field and message
    /// (`L1-AGENT-03 team_id: the team has another job role`).
    pub fn line(&self) -> String {
        format!("{} {}: {}", self.rule, self.field, self.message)
    }

    /// An input violation: a field that could not be parsed.
    pub fn input(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            rule: plant_core::validate::rules::INPUT.into(),
            field: field.into(),
            message: message.into(),
        }
    }
}

/// One entry of a problem's `errors`: where in the request (RFC 6901 `pointer`) and what
/// (`detail`), with the rule, field and message it was made from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ProblemError {
    /// JSON pointer to the field in the request body (`/team_id`, `/skills/0`; `""` for the
    /// body as a whole).
    pub pointer: String,
    /// The message, for a human.
    pub detail: String,
    pub rule: String,
    pub field: String,
    pub message: String,
}

impl From<&Violation> for ProblemError {
    fn from(v: &Violation) -> Self {
        Self {
            pointer: json_pointer(&v.field),
            detail: v.message.clone(),
            rule: v.rule.clone(),
            field: v.field.clone(),
            message: v.message.clone(),
        }
    }
}

/// `skills[0].name` -> `/skills/0/name`; `body` (the whole body) -> `""`.
fn json_pointer(field: &str) -> String {
    if field.is_empty() || field == "body" {
        return String::new();
    }
    let mut pointer = String::with_capacity(field.len() + 1);
    for segment in field.split(['.', '[']) {
        let segment = segment.trim_end_matches(']');
        if segment.is_empty() {
            continue;
        }
        pointer.push('/');
        pointer.push_str(&segment.replace('~', "~0").replace('/', "~1"));
    }
    pointer
}

/// The body of every error response.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub type_uri: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    pub instance: String,
    pub correlation_id: String,
    /// For 422: each violation as one line naming rule, field and message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub violations: Option<Vec<String>>,
    /// For 422: the same violations, structured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<ProblemError>>,
}

/// Why an error happened at the edge; each variant maps to one status and one problem type.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("malformed JSON: {0}")]
    BadJson(String),
    #[error("authentication required: {0}")]
    Unauthorized(String),
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("method not allowed")]
    MethodNotAllowed { allow: Vec<http::Method> },
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("precondition failed: {0}")]
    PreconditionFailed(String),
    #[error("body larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("unsupported media type: {0}")]
    UnsupportedMediaType(String),
    #[error("invalid input: {detail}")]
    Invalid {
        detail: String,
        violations: Vec<Violation>,
    },
    #[error("constitutional rules failed")]
    RuleViolation {
        detail: String,
        violations: Vec<Violation>,
    },
    #[error("precondition required: {0}")]
    PreconditionRequired(String),
    #[error("too many requests")]
    TooManyRequests { retry_after_secs: u64 },
    #[error("service unavailable")]
    Unavailable(#[source] Option<Box<dyn StdError + Send + Sync>>),
    #[error("request timed out")]
    Timeout,
    /// A `min_seq` read the read model did not reach within the wait.
    #[error("the read model is at seq {at}, behind the min_seq {wanted} asked for")]
    ModelBehind { at: u64, wanted: u64 },
    #[error("internal error")]
    Internal(#[source] Box<dyn StdError + Send + Sync>),
}

impl From<plant_core::validate::Violation> for Violation {
    fn from(v: plant_core::validate::Violation) -> Self {
        Self {
            rule: v.rule,
            field: v.field,
            message: v.message,
        }
    }
}

impl ApiError {
    /// An internal error from any cause; the cause is logged, never shown.
    pub fn internal(source: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self::Internal(source.into())
    }

    /// A 422 for one malformed input field.
    pub fn invalid_field(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        Self::Invalid {
            detail: format!("{field}: {message}"),
            violations: vec![Violation::input(field, message)],
        }
    }

    /// The rule and input violations of a 422; empty for every other error.
    pub fn violations(&self) -> &[Violation] {
        match self {
            Self::Invalid { violations, .. } | Self::RuleViolation { violations, .. } => violations,
            _ => &[],
        }
    }

    /// The status code this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) | Self::BadJson(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Invalid { .. } | Self::RuleViolation { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::PreconditionRequired(_) => StatusCode::PRECONDITION_REQUIRED,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) | Self::Timeout | Self::ModelBehind { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The problem type's slug and its title.
    pub fn slug_and_title(&self) -> (&'static str, &'static str) {
        match self {
            Self::BadRequest(_) => ("bad-request", "Bad request"),
            Self::BadJson(_) => ("malformed-json", "Malformed JSON"),
            Self::Unauthorized(_) => ("unauthorized", "Authentication required"),
            Self::Forbidden(_) => ("forbidden", "Forbidden"),
            Self::NotFound(_) => ("not-found", "Not found"),
            Self::MethodNotAllowed { .. } => ("method-not-allowed", "Method not allowed"),
            Self::Conflict(_) => ("conflict", "Conflict"),
            Self::PreconditionFailed(_) => ("precondition-failed", "Precondition failed"),
            Self::PayloadTooLarge { .. } => ("payload-too-large", "Payload too large"),
            Self::UnsupportedMediaType(_) => ("unsupported-media-type", "Unsupported media type"),
            Self::Invalid { .. } => ("invalid-input", "Invalid input"),
            Self::RuleViolation { .. } => {
                ("constitutional-violation", "Constitutional rule violation")
            }
            Self::PreconditionRequired(_) => ("precondition-required", "Precondition required"),
            Self::TooManyRequests { .. } => ("too-many-requests", "Too many requests"),
            Self::Unavailable(_) | Self::ModelBehind { .. } => {
                ("service-unavailable", "Service unavailable")
            }
            Self::Timeout => ("timeout", "Request timed out"),
            Self::Internal(_) => ("internal", "Internal server error"),
        }
    }

    /// The text shown to the client: the safe part only.
    /// What the client is told: safe to show, never a cause's text for a 5xx.
    pub fn detail(&self) -> String {
        match self {
            Self::BadRequest(d)
            | Self::BadJson(d)
            | Self::Unauthorized(d)
            | Self::Forbidden(d)
            | Self::NotFound(d)
            | Self::Conflict(d)
            | Self::PreconditionFailed(d)
            | Self::UnsupportedMediaType(d)
            | Self::PreconditionRequired(d) => d.clone(),
            Self::Invalid { detail, .. } | Self::RuleViolation { detail, .. } => detail.clone(),
            Self::MethodNotAllowed { allow } => {
                let names: Vec<&str> = allow.iter().map(http::Method::as_str).collect();
                format!("allowed methods: {}", names.join(", "))
            }
            Self::PayloadTooLarge { limit } => {
                format!("the request body exceeds the limit of {limit} bytes")
            }
            Self::TooManyRequests { retry_after_secs } => {
                format!("try again in {retry_after_secs} s")
            }
            Self::Unavailable(_) => {
                "the service cannot reach its database; try again shortly".into()
            }
            Self::Timeout => "the request did not finish in time; try again shortly".into(),
            Self::ModelBehind { at, wanted } => format!(
                "this instance has not caught up with min_seq {wanted} yet (it is at seq {at}); \
                 try again shortly"
            ),
            Self::Internal(_) => {
                "an unexpected error occurred; quote the correlation id when reporting it".into()
            }
        }
    }

    /// The full cause chain, for the log.
    pub fn cause_chain(&self) -> String {
        cause_chain(self)
    }

    /// Renders the problem for the request at `instance`.
    pub fn to_problem(&self, instance: &str, correlation_id: &str) -> Problem {
        let (slug, title) = self.slug_and_title();
        let found = self.violations();
        let (violations, errors) =
            if matches!(self, Self::Invalid { .. } | Self::RuleViolation { .. }) {
                (
                    Some(found.iter().map(Violation::line).collect()),
                    Some(found.iter().map(ProblemError::from).collect()),
                )
            } else {
                (None, None)
            };
        Problem {
            type_uri: format!("{TYPE_BASE}{slug}"),
            title: title.into(),
            status: self.status().as_u16(),
            detail: self.detail(),
            instance: instance.into(),
            correlation_id: correlation_id.into(),
            violations,
            errors,
        }
    }

    /// The complete response: status, problem+json body, and the headers the status calls for.
    pub fn render(&self, instance: &str, correlation_id: &str) -> Response {
        let status = self.status();
        let problem = self.to_problem(instance, correlation_id);
        let mut response = json_response_with_type(status, &problem, PROBLEM_JSON);
        let headers = response.headers_mut();
        match self {
            Self::MethodNotAllowed { allow } => {
                headers.insert(header::ALLOW, allow_value(allow));
            }
            Self::Unauthorized(_) => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(r#"Bearer realm="plant", error="invalid_token""#),
                );
            }
            Self::TooManyRequests { retry_after_secs } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            }
            Self::Unavailable(_) | Self::Timeout | Self::ModelBehind { .. } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            _ => {}
        }
        response
    }
}

/// An error returned by an axum handler or extractor, carried on its response until the edge,
/// which knows the request's path and correlation id, renders it.
#[derive(Debug, Clone)]
pub struct Unrendered(pub Arc<ApiError>);

impl IntoResponse for ApiError {
    fn into_response(self) -> axum::response::Response {
        let mut response = self.status().into_response();
        response.extensions_mut().insert(Unrendered(Arc::new(self)));
        response
    }
}

impl From<plant_core::Error> for ApiError {
    fn from(err: plant_core::Error) -> Self {
        use plant_core::Error as E;
        let constitutional = err.is_constitutional();
        match err {
            E::NotFound { kind, id } => {
                let id: String = id.chars().take(100).collect();
                Self::NotFound(format!("no {kind} with id {id}"))
            }
            E::Conflict(message) => Self::Conflict(message),
            E::Precondition { actual, .. } => Self::PreconditionFailed(format!(
                "the entity has changed; its current ETag is \"v{actual}\""
            )),
            E::Invalid(violations) => {
                let violations: Vec<Violation> =
                    violations.into_iter().map(Violation::from).collect();
                let detail = summary(&violations);
                if constitutional {
                    Self::RuleViolation { detail, violations }
                } else {
                    Self::Invalid { detail, violations }
                }
            }
            E::Unavailable(message) => Self::Unavailable(Some(message.into())),
            E::Internal(message) => Self::Internal(message.into()),
        }
    }
}

/// `Allow`'s value for `methods`.
pub fn allow_value(methods: &[http::Method]) -> HeaderValue {
    let names: Vec<&str> = methods.iter().map(http::Method::as_str).collect();
    HeaderValue::from_str(&names.join(", ")).unwrap_or(HeaderValue::from_static("OPTIONS"))
}

/// The problem response for `err` at `path`, logged by its severity.
pub fn render(err: &ApiError, path: &str, correlation_id: &CorrelationId) -> Response {
    if err.status().is_server_error() {
        tracing::error!(error = %err.cause_chain(), "request failed");
    } else {
        tracing::info!(error = %err, "request refused");
    }
    err.render(path, correlation_id.as_str())
}

/// An error and its causes, one after the other (for the log, never the client).
pub fn cause_chain(err: &dyn StdError) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// "2 violations: name must not be blank; …", for the problem's detail.
fn summary(violations: &[Violation]) -> String {
    let messages: Vec<&str> = violations
        .iter()
        .take(5)
        .map(|v| v.message.as_str())
        .collect();
    let more = violations.len().saturating_sub(5);
    let mut text = format!(
        "{} violation{}: {}",
        violations.len(),
        if violations.len() == 1 { "" } else { "s" },
        messages.join("; ")
    );
    if more > 0 {
        text.push_str(&format!("; and {more} more"));
    }
    text
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn rule_violations_are_constitutional_and_input_errors_are_not() {
        let rule = ApiError::RuleViolation {
            detail: "2 rules failed".into(),
            violations: vec![Violation {
                rule: "L0-01".into(),
                field: "f".into(),
                message: "m".into(),
            }],
        }
        .to_problem("/x", "c");
        assert_eq!(rule.status, 422);
        assert!(rule.type_uri.contains("constitutional"));
        assert_eq!(rule.violations, Some(vec!["L0-01 f: m".to_owned()]));
        let errors = rule.errors.unwrap();
        assert_eq!(
            (errors[0].pointer.as_str(), errors[0].rule.as_str()),
            ("/f", "L0-01")
        );

        let input = ApiError::invalid_field("limit", "must be at most 1000").to_problem("/x", "c");
        assert_eq!(input.status, 422);
        assert!(!input.type_uri.contains("constitutional"));
    }

    #[test]
    fn fields_become_json_pointers() {
        assert_eq!(json_pointer("team_id"), "/team_id");
        assert_eq!(json_pointer("skills[0].name"), "/skills/0/name");
        assert_eq!(json_pointer("a/b~c"), "/a~1b~0c");
        assert_eq!(json_pointer("body"), "");
    }

    #[test]
    fn internal_errors_never_show_their_cause() {
        let err = ApiError::internal(std::io::Error::other("connection refused to 10.0.0.3"));
        let problem = err.to_problem("/x", "c");
        assert!(!problem.detail.contains("10.0.0.3"));
        assert!(err.cause_chain().contains("10.0.0.3"));
    }
}
