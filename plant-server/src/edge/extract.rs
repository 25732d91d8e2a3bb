//! Typed extractors for handlers written against axum: the caller and their role, a UUID path
//! parameter, a JSON body. Each rejection is an [`ApiError`], answered as the same problem+json
//! as when a handler returns it.

use std::marker::PhantomData;

use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use http::request::Parts;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::auth::{Principal, Role};
use crate::body::{check_content_type, parse_json, read_body};
use crate::problem::ApiError;
use crate::state::AppState;

/// The caller, when a token was sent (401 when it is not valid).
#[derive(Debug)]
pub struct Caller(pub Option<Principal>);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        state.auth().prepare(&parts.headers).await;
        state.auth().authenticate(&parts.headers).map(Self)
    }
}

/// The roles an endpoint admits.
pub trait Roles {
    const ROLES: &'static [Role];
}

/// Operators, and customers (who then see only what is theirs).
#[derive(Debug)]
pub struct OperatorOrCustomer;

impl Roles for OperatorOrCustomer {
    const ROLES: &'static [Role] = &[Role::Operator, Role::Customer];
}

/// Genesis, who curates the catalog.
#[derive(Debug)]
pub struct Genesis;

impl Roles for Genesis {
    const ROLES: &'static [Role] = &[Role::Genesis];
}

/// The caller, holding one of `R::ROLES`: 401 without a valid token, 403 without the role.
#[derive(Debug)]
pub struct Authorized<R>(pub Principal, pub PhantomData<R>);

impl<R: Roles + Send + Sync> FromRequestParts<AppState> for Authorized<R> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        state.auth().prepare(&parts.headers).await;
        let who = state.auth().require(&parts.headers, R::ROLES)?;
        Ok(Self(who, PhantomData))
    }
}

/// The route's one path parameter as a UUID: 422 naming `id` when it is not one.
#[derive(Debug, Clone, Copy)]
pub struct Id(pub Uuid);

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(id) = Path::<Uuid>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::invalid_field("id", "must be a UUID"))?;
        Ok(Self(id))
    }
}

/// A JSON body of type `T`: 415 when it is not JSON, 413 over the limit, 400 when it does not
/// parse, 422 when its shape is wrong.
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        check_content_type(request.method(), request.headers())?;
        let body = read_body(request.into_body(), state.limits().body_limit).await?;
        parse_json(&body).map(Self)
    }
}
