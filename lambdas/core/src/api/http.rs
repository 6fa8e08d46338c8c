//! The framework-free request and response, the error every handler answers with, and the
//! parsing of the parts of a request that every handler shares (ids, paging, JSON bodies).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Display;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use uuid::Uuid;

use super::bodies::ErrorBody;
use crate::files::FilesError;
use crate::identity::{Caller, IdentityError};
use crate::page::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, PageRequest};
use crate::payments::PaymentsError;
use crate::store::StoreError;
use crate::validation::ValidationErrors;
use crate::workflow::WorkflowError;

/// The largest request body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The longest paging cursor accepted (the adapters' cursors are far shorter).
const MAX_CURSOR_CHARS: usize = 1024;

/// One request, as the gateway matched it.
#[derive(Debug, Clone)]
pub struct ApiRequest {
    pub method: String,
    /// The matched path template, e.g. `/events/{id}`.
    pub route: String,
    pub path_params: HashMap<String, String>,
    /// Query parameters, each with every value given (in order).
    pub query: HashMap<String, Vec<String>>,
    /// Header names in lower case.
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
    /// From `requestContext.authorizer.jwt.claims` through [`Caller::from_claims`].
    pub caller: Result<Caller, IdentityError>,
}

impl ApiRequest {
    /// A request with no parameters, headers or body.
    pub fn new(method: &str, route: &str, caller: Result<Caller, IdentityError>) -> Self {
        Self {
            method: method.to_owned(),
            route: route.to_owned(),
            path_params: HashMap::new(),
            query: HashMap::new(),
            headers: HashMap::new(),
            body: Vec::new(),
            caller,
        }
    }

    pub fn with_path_param(mut self, name: &str, value: impl Into<String>) -> Self {
        self.path_params.insert(name.to_owned(), value.into());
        self
    }

    pub fn with_query(mut self, name: &str, value: impl Into<String>) -> Self {
        self.query
            .entry(name.to_owned())
            .or_default()
            .push(value.into());
        self
    }

    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.insert(name.to_ascii_lowercase(), value.into());
        self
    }

    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    pub fn with_json(self, body: &Value) -> Self {
        self.with_body(body.to_string())
    }

    /// The signed-in caller, or 401.
    pub(crate) fn caller(&self) -> Result<&Caller, ApiError> {
        self.caller.as_ref().map_err(|error| {
            tracing::debug!(%error, "request without a usable caller");
            ApiError::new(401, "sign in first: the request carries no valid token")
        })
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    /// The one value of a query parameter; 400 if it is given more than once.
    pub(crate) fn query_value(&self, name: &str) -> Result<Option<&str>, ApiError> {
        match self.query.get(name).map(Vec::as_slice) {
            None | Some([]) => Ok(None),
            Some([one]) => Ok(Some(one)),
            Some(_) => Err(ApiError::bad_request(format!(
                "query parameter `{name}` is given more than once"
            ))),
        }
    }

    /// A UUID path parameter (`{id}`), or 400.
    pub(crate) fn uuid_param<T: From<Uuid>>(&self, name: &str) -> Result<T, ApiError> {
        let text = self.path_params.get(name).map(String::as_str).unwrap_or("");
        Uuid::try_parse(text)
            .map(T::from)
            .map_err(|_| ApiError::bad_request(format!("`{name}` must be a UUID")))
    }

    /// `?limit=&cursor=`.
    pub(crate) fn page(&self) -> Result<PageRequest, ApiError> {
        let limit = match self.query_value("limit")? {
            None => None,
            Some(text) => match text.parse::<u32>() {
                Ok(limit @ 1..=MAX_PAGE_SIZE) => Some(limit),
                _ => {
                    return Err(ApiError::bad_request(format!(
                        "`limit` must be a whole number from 1 to {MAX_PAGE_SIZE}"
                    )));
                }
            },
        };
        let cursor = self.query_value("cursor")?;
        if let Some(cursor) = cursor
            && (cursor.is_empty() || cursor.len() > MAX_CURSOR_CHARS)
        {
            return Err(ApiError::bad_request(
                "`cursor` is not a valid paging cursor",
            ));
        }
        let limit = limit.unwrap_or(DEFAULT_PAGE_SIZE);
        Ok(match cursor {
            Some(cursor) => PageRequest::after(limit, cursor),
            None => PageRequest::first(limit),
        })
    }

    /// The body as JSON of type `T`, or 400 naming what is wrong.
    pub(crate) fn json<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::bad_request(
                "the request body must be a JSON object",
            ));
        }
        let value: Value = serde_json::from_slice(&self.body).map_err(|error| {
            ApiError::bad_request(format!("the request body is not valid JSON: {error}"))
        })?;
        if !value.is_object() {
            return Err(ApiError::bad_request(
                "the request body must be a JSON object",
            ));
        }
        // serde's messages name the expected type and hold nothing internal; the path names the
        // field (`capacity: invalid type: string "ten", expected u32`).
        serde_path_to_error::deserialize(value).map_err(|error| {
            let path = error.path().to_string();
            let error = error.into_inner();
            if path == "." {
                ApiError::bad_request(format!("invalid request body: {error}"))
            } else {
                ApiError::bad_request(format!("invalid request body: `{path}`: {error}"))
            }
        })
    }
}

/// One response. Header names are lower case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl ApiResponse {
    /// A JSON response. Every API response is `no-store`: most carry personal data, and the
    /// rest (availability) goes stale within seconds.
    pub fn json(status: u16, body: &impl Serialize) -> Self {
        Self {
            status,
            headers: vec![
                (
                    "content-type".into(),
                    "application/json; charset=utf-8".into(),
                ),
                ("cache-control".into(), "no-store".into()),
            ],
            body: serde_json::to_vec(body).expect("response bodies serialise"),
        }
    }

    /// The response with one more header (`name` lower case).
    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The body parsed as JSON (`null` if it is not JSON).
    pub fn json_body(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// A client-facing failure: `{"error": message}` plus, for validation, `fields` naming each
/// field at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub message: String,
    pub fields: Option<BTreeMap<String, String>>,
}

impl ApiError {
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            fields: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, message)
    }

    /// The one answer to a body over [`MAX_BODY_BYTES`]: the handlers' and ticketd's gateway's.
    pub fn body_too_large() -> Self {
        Self::bad_request(format!(
            "the request body is larger than {MAX_BODY_BYTES} bytes ({} KiB)",
            MAX_BODY_BYTES / 1024
        ))
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(403, message)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(404, format!("no such {what}"))
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(409, message)
    }

    pub fn invalid_fields(errors: &ValidationErrors) -> Self {
        let fields = errors
            .0
            .iter()
            .map(|error| (error.field.to_owned(), error.message.clone()))
            .collect();
        Self {
            status: 400,
            message: format!("invalid fields: {errors}"),
            fields: Some(fields),
        }
    }

    /// A store failure the client did not cause: the cause goes to the log only.
    pub fn store(error: StoreError) -> Self {
        match error {
            StoreError::InvalidCursor => Self::bad_request("`cursor` is not a valid paging cursor"),
            StoreError::Unavailable(_) => {
                unavailable("store", &error, 503, "the service is busy, try again")
            }
            other => unavailable("store", &other, 500, "something went wrong on our side"),
        }
    }

    pub fn files(error: FilesError) -> Self {
        let status = if error.is_transient() { 503 } else { 500 };
        unavailable(
            "files",
            &error,
            status,
            "the ticket file store failed, try again",
        )
    }

    pub fn payments(error: PaymentsError) -> Self {
        unavailable(
            "payments",
            &error,
            502,
            "the payment provider is unavailable, try again",
        )
    }

    pub fn workflow(error: WorkflowError) -> Self {
        let status = if error.is_transient() { 503 } else { 500 };
        unavailable(
            "workflow",
            &error,
            status,
            "registration could not start, try again",
        )
    }
}

fn unavailable(port: &str, cause: &dyn Display, status: u16, message: &str) -> ApiError {
    tracing::error!(port, %cause, status, "a port failed while answering a request");
    ApiError::new(status, message)
}

impl From<ApiError> for ApiResponse {
    fn from(error: ApiError) -> Self {
        let body = ErrorBody {
            error: error.message,
            fields: error.fields,
        };
        ApiResponse::json(error.status, &body)
    }
}
