//! Events as AWS sends them, recorded (`recorded/`, copied from aws-lambda-rust-runtime's
//! fixtures): tests write the fields of a real request over them, so everything else keeps
//! the shape AWS gives it.

use serde_json::Value;

/// API Gateway HTTP API, payload 2.0, through a JWT authorizer.
pub const APIGW_V2_JWT: &str = "example-apigw-v2-request-jwt-authorizer.json";
/// API Gateway HTTP API, payload 2.0, with no authorizer (a public route).
pub const APIGW_V2_PUBLIC: &str = "example-apigw-v2-request-no-authorizer.json";
/// Cognito's post-confirmation trigger.
pub const COGNITO_POST_CONFIRMATION: &str = "example-cognito-event-userpools-postconfirmation.json";

/// The recorded event `name` (one of the constants above).
pub fn recorded_event(name: &str) -> Value {
    let path = format!("{}/recorded/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"));
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("{path}: {error}"))
}
