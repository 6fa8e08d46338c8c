//! The simulator's answers in Stripe's shape: JSON with a request id, and errors as
//! `{"error": {"type", "message", "param", "code", ...}}`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::random_id;

/// An error answer in Stripe's shape: `{"error": {"type", "message", "param", "code", ...}}`.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub(super) status: StatusCode,
    pub(super) kind: &'static str,
    pub(super) message: String,
    pub(super) param: Option<String>,
    pub(super) code: Option<&'static str>,
}

impl ApiError {
    /// 400 `invalid_request_error`.
    pub fn invalid(param: Option<&str>, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            kind: "invalid_request_error",
            message: message.into(),
            param: param.map(str::to_owned),
            code: None,
        }
    }

    pub fn with_code(mut self, code: &'static str) -> Self {
        self.code = Some(code);
        self
    }

    pub(super) fn missing(param: &str) -> Self {
        Self::invalid(Some(param), format!("Missing required param: {param}."))
            .with_code("parameter_missing")
    }

    pub(super) fn unknown_param(param: &str) -> Self {
        Self::invalid(Some(param), format!("Received unknown parameter: {param}"))
            .with_code("parameter_unknown")
    }

    pub(super) fn invalid_integer(param: &str, value: &str) -> Self {
        Self::invalid(Some(param), format!("Invalid integer: {value}"))
            .with_code("parameter_invalid_integer")
    }

    /// `resource_missing`: 404 for the object in the path, 400 for one named by a parameter.
    pub fn no_such(status: StatusCode, object: &str, id: &str, param: Option<&str>) -> Self {
        Self {
            status,
            ..Self::invalid(param, format!("No such {object}: '{id}'"))
                .with_code("resource_missing")
        }
    }

    /// 500 `api_error`: the simulator's own trouble (its database), not the request's.
    pub(super) fn internal() -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            kind: "api_error",
            message: "An error occurred with our connection to Stripe's simulator: its state \
                      could not be read or written. The request was not carried out."
                .to_owned(),
            param: None,
            code: None,
        }
    }

    pub(super) fn unauthorized(message: String) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            ..Self::invalid(None, message)
        }
    }

    pub(super) fn body(&self) -> Value {
        let mut error = json!({ "type": self.kind, "message": self.message });
        if let Some(param) = &self.param {
            error["param"] = json!(param);
        }
        if let Some(code) = self.code {
            error["code"] = json!(code);
            error["doc_url"] = json!(format!("https://stripe.com/docs/error-codes/{code}"));
        }
        json!({ "error": error })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = answer(self.status, &self.body());
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"Stripe\""),
            );
        }
        response
    }
}

/// Every API answer: JSON with a request id, as Stripe sends.
pub(super) fn answer(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, axum::Json(body)).into_response();
    if let Ok(id) = HeaderValue::from_str(&random_id("req_", 14)) {
        response.headers_mut().insert("request-id", id);
    }
    response
}
