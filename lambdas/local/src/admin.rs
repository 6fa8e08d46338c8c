//! The operator's JSON routes: registration executions, their history, and redrive of a failed
//! one. Guarded by a bearer token kept in `<data-dir>/admin.token` (made on first start, mode
//! 0600), so only someone who can read the data directory can use them:
//!
//! ```sh
//! curl -H "Authorization: Bearer $(cat .ticketd/admin.token)" localhost:8080/api/admin/executions
//! ```

use std::io;
use std::path::Path;
use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequestParts, Path as UrlPath, Query};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use asl::{ExecutionStatus, Executor, StartError};
use local_support::{error_response, random_token, secret_file};

/// The token's file, in the data directory.
pub const TOKEN_FILE: &str = "admin.token";

/// The most executions one listing returns.
const MAX_LIST: usize = 1000;

/// What the admin routes need: the executor, and the token that opens them.
#[derive(Clone)]
pub struct Admin {
    pub executor: Arc<Executor>,
    /// SHA-256 of the token: requests are compared digest to digest, so the comparison's
    /// timing says nothing about the token.
    token_digest: [u8; 32],
}

impl Admin {
    /// Reads `<data_dir>/admin.token`, making it on first start.
    pub fn open(data_dir: &Path, executor: Arc<Executor>) -> io::Result<Self> {
        let token = secret_file::load_or_create(&data_dir.join(TOKEN_FILE), || {
            Ok(random_token().into_bytes())
        })?;
        let token = String::from_utf8(token)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "admin.token is not text"))?;
        Ok(Self::with_token(token.trim(), executor))
    }

    pub fn with_token(token: &str, executor: Arc<Executor>) -> Self {
        Self {
            executor,
            token_digest: Sha256::digest(token.as_bytes()).into(),
        }
    }

    fn allows(&self, headers: &HeaderMap) -> bool {
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "));
        presented.is_some_and(|token| {
            <[u8; 32]>::from(Sha256::digest(token.trim().as_bytes())) == self.token_digest
        })
    }
}

/// `/api/admin/...`, each route behind the token.
pub fn routes(admin: Admin) -> Router {
    Router::new()
        .route("/api/admin/executions", get(list))
        .route("/api/admin/executions/{name}", get(show))
        .route("/api/admin/executions/{name}/redrive", post(redrive))
        .with_state(admin)
}

/// The admin state, for a request that carries the token: a handler that takes it runs only
/// then, and every other request gets a 401.
struct Authorized(Admin);

impl FromRequestParts<Admin> for Authorized {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, admin: &Admin) -> Result<Self, Response> {
        if admin.allows(&parts.headers) {
            return Ok(Self(admin.clone()));
        }
        let mut response = error_response(
            StatusCode::UNAUTHORIZED,
            "the admin routes need `Authorization: Bearer <token from admin.token>`",
        );
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        Err(response)
    }
}

fn journal_failed(error: impl std::fmt::Display) -> Response {
    tracing::error!(%error, "execution journal");
    error_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        "the execution journal failed",
    )
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    status: Option<String>,
    limit: Option<usize>,
}

/// `GET /api/admin/executions[?status=FAILED][&limit=100]`: newest first.
async fn list(
    Authorized(admin): Authorized,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Response {
    let Ok(Query(query)) = query else {
        return error_response(
            StatusCode::BAD_REQUEST,
            "query parameters are `status` and `limit` (a number)",
        );
    };
    let status = match query.status.as_deref().map(str::parse::<ExecutionStatus>) {
        None => None,
        Some(Ok(status)) => Some(status),
        Some(Err(message)) => return error_response(StatusCode::BAD_REQUEST, &message),
    };
    let limit = query.limit.unwrap_or(100).clamp(1, MAX_LIST);
    match admin.executor.list(status, limit).await {
        Ok(executions) => Json(json!({ "executions": executions })).into_response(),
        Err(error) => journal_failed(error),
    }
}

/// `GET /api/admin/executions/{name}`: the execution and its history.
async fn show(Authorized(admin): Authorized, UrlPath(name): UrlPath<String>) -> Response {
    let described = admin.executor.describe(&name).await;
    let history = admin.executor.history(&name).await;
    match (described, history) {
        (Ok(Some(execution)), Ok(Some(history))) => {
            Json(json!({ "execution": execution, "history": history })).into_response()
        }
        (Ok(None), _) | (_, Ok(None)) => {
            error_response(StatusCode::NOT_FOUND, "no execution of that name")
        }
        (Err(error), _) | (_, Err(error)) => journal_failed(error),
    }
}

/// `POST /api/admin/executions/{name}/redrive`: a FAILED execution runs again from the state
/// it failed in (once its cause is mended).
async fn redrive(Authorized(admin): Authorized, UrlPath(name): UrlPath<String>) -> Response {
    match admin.executor.redrive(&name).await {
        Ok(()) => match admin.executor.describe(&name).await {
            Ok(execution) => (
                StatusCode::ACCEPTED,
                Json(json!({ "execution": execution })),
            )
                .into_response(),
            Err(error) => journal_failed(error),
        },
        Err(StartError::DoesNotExist(_) | StartError::InvalidName(_)) => {
            error_response(StatusCode::NOT_FOUND, "no execution of that name")
        }
        Err(error @ StartError::NotRedrivable { .. }) => {
            error_response(StatusCode::CONFLICT, &error.to_string())
        }
        Err(error) => journal_failed(error),
    }
}
