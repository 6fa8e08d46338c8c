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
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::server::{AppState, error_response};
use asl::{ExecutionStatus, Executor, StartError};
use local_support::secret_file;

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
            let mut bytes = [0u8; 32];
            getrandom::fill(&mut bytes).map_err(io::Error::other)?;
            Ok(URL_SAFE_NO_PAD.encode(bytes).into_bytes())
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

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/admin/executions", get(list))
        .route("/api/admin/executions/{name}", get(show))
        .route("/api/admin/executions/{name}/redrive", post(redrive))
}

/// Why an admin request is turned away.
enum Refusal {
    /// ticketd runs without the admin routes.
    Off,
    NoToken,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::Off => error_response(StatusCode::NOT_FOUND, "not found"),
            Refusal::NoToken => {
                let mut response = error_response(
                    StatusCode::UNAUTHORIZED,
                    "the admin routes need `Authorization: Bearer <token from admin.token>`",
                );
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, "Bearer".parse().expect("header"));
                response
            }
        }
    }
}

/// The admin part of the state if the request carries its token.
fn authorize<'a>(state: &'a AppState, headers: &HeaderMap) -> Result<&'a Admin, Refusal> {
    let admin = state.admin.as_ref().ok_or(Refusal::Off)?;
    if admin.allows(headers) {
        Ok(admin)
    } else {
        Err(Refusal::NoToken)
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
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Response {
    let admin = match authorize(&state, &headers) {
        Ok(admin) => admin,
        Err(refusal) => return refusal.into_response(),
    };
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
async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    UrlPath(name): UrlPath<String>,
) -> Response {
    let admin = match authorize(&state, &headers) {
        Ok(admin) => admin,
        Err(refusal) => return refusal.into_response(),
    };
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
async fn redrive(
    State(state): State<AppState>,
    headers: HeaderMap,
    UrlPath(name): UrlPath<String>,
) -> Response {
    let admin = match authorize(&state, &headers) {
        Ok(admin) => admin,
        Err(refusal) => return refusal.into_response(),
    };
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
