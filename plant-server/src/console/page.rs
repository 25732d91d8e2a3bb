//! What a console handler answers, and the headers every console response carries.

use askama::Template;
use axum::response::{IntoResponse, Response};
use http::{HeaderName, HeaderValue, StatusCode, header};

use crate::auth::Role;
use crate::problem::ApiError;

/// The Content-Security-Policy of every console response: scripts and styles only from the
/// console itself (no inline script, no `eval`), no plugins, no framing, forms posting only back
/// here.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; \
                       connect-src 'self'; object-src 'none'; frame-ancestors 'none'; \
                       base-uri 'none'; form-action 'self'";

/// A console answer: a rendered page, a redirect, or a static file, with the cookies it sets.
#[derive(Debug)]
pub struct Page {
    status: StatusCode,
    body: Body,
    cookies: Vec<String>,
}

#[derive(Debug)]
enum Body {
    Html(String),
    Redirect(String),
    Asset(&'static str, &'static str),
}

impl Page {
    /// `template` rendered with `status`; a template that cannot render is a 500 page.
    pub fn render(status: StatusCode, template: &impl Template) -> Self {
        match template.render() {
            Ok(html) => Self {
                status,
                body: Body::Html(html),
                cookies: Vec::new(),
            },
            Err(err) => {
                tracing::error!(error = %err, "console template failed");
                Self::error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the page could not be rendered",
                )
            }
        }
    }

    /// 200 with `template`.
    pub fn ok(template: &impl Template) -> Self {
        Self::render(StatusCode::OK, template)
    }

    /// 303 See Other to `location` (a path under `/console`).
    pub fn redirect(location: impl Into<String>) -> Self {
        Self {
            status: StatusCode::SEE_OTHER,
            body: Body::Redirect(location.into()),
            cookies: Vec::new(),
        }
    }

    /// A static file.
    pub fn asset(content_type: &'static str, body: &'static str) -> Self {
        Self {
            status: StatusCode::OK,
            body: Body::Asset(content_type, body),
            cookies: Vec::new(),
        }
    }

    /// The same answer, setting `cookie` (a whole `Set-Cookie` value).
    pub fn with_cookie(mut self, cookie: String) -> Self {
        self.cookies.push(cookie);
        self
    }

    /// The error page: `status` and a sentence for the reader.
    pub fn error(status: StatusCode, message: impl Into<String>) -> Self {
        let page = ErrorPage {
            status: status.as_u16(),
            reason: status.canonical_reason().unwrap_or("Error"),
            message: message.into(),
        };
        match page.render() {
            Ok(html) => Self {
                status,
                body: Body::Html(html),
                cookies: Vec::new(),
            },
            Err(_) => Self {
                status,
                body: Body::Html(format!("<!doctype html><title>{status}</title>")),
                cookies: Vec::new(),
            },
        }
    }

    /// The 403 page for a caller without any of `roles`.
    pub fn forbidden(roles: &[Role]) -> Self {
        let names: Vec<&str> = roles.iter().map(Role::as_str).collect();
        Self::error(
            StatusCode::FORBIDDEN,
            format!(
                "this page needs the role {}; your session does not hold it",
                names.join(" or ")
            ),
        )
    }

    /// The page for a failed catalog operation: its status and the message the API would give
    /// (internal causes are logged, never shown).
    pub fn failed(err: impl Into<ApiError>) -> Self {
        let err = err.into();
        let status = err.status();
        if status.is_server_error() {
            tracing::error!(error = %err.cause_chain(), "console request failed");
            return Self::error(status, "the request failed; the server log has the cause");
        }
        let mut message = err.to_problem("", "").detail;
        for v in err.violations() {
            message.push_str(&format!("\n{}: {} ({})", v.rule, v.message, v.field));
        }
        Self::error(status, message)
    }

    /// The status answered.
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

#[derive(Template)]
#[template(path = "console/error.html")]
struct ErrorPage {
    status: u16,
    reason: &'static str,
    message: String,
}

/// Sets the headers every console response carries.
pub fn secure(headers: &mut http::HeaderMap) {
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
}

impl IntoResponse for Page {
    fn into_response(self) -> Response {
        let mut response = match self.body {
            Body::Html(html) => (
                self.status,
                [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                html,
            )
                .into_response(),
            Body::Redirect(location) => {
                let mut response = self.status.into_response();
                if let Ok(value) = HeaderValue::from_str(&location) {
                    response.headers_mut().insert(header::LOCATION, value);
                }
                response
            }
            Body::Asset(content_type, body) => {
                let mut response =
                    (self.status, [(header::CONTENT_TYPE, content_type)], body).into_response();
                response.headers_mut().insert(
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("public, max-age=300"),
                );
                response
            }
        };
        let headers = response.headers_mut();
        secure(headers);
        headers
            .entry(header::CACHE_CONTROL)
            .or_insert(HeaderValue::from_static("no-store"));
        for cookie in self.cookies {
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                headers.append(header::SET_COOKIE, value);
            }
        }
        response
    }
}
