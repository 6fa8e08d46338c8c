//! Events as AWS sends them, recorded (`recorded/`, copied from aws-lambda-rust-runtime's
//! fixtures): tests write the fields of a real request over them, so everything else keeps
//! the shape AWS gives it.

use serde_json::{Value, json};

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

/// The recorded JWT-authorized event, made a request for `method` `template` (at `path`)
/// from the Cognito user `sub` in `groups`.
pub fn authorized(method: &str, template: &str, path: &str, sub: &str, groups: &str) -> Value {
    let mut event = recorded_event(APIGW_V2_JWT);
    let route_key = format!("{method} {template}");
    event["routeKey"] = json!(route_key);
    event["rawPath"] = json!(path);
    event["rawQueryString"] = json!("");
    event["queryStringParameters"] = json!({});
    event["pathParameters"] = json!({});
    event["body"] = Value::Null;
    event["requestContext"]["routeKey"] = json!(route_key);
    event["requestContext"]["http"]["method"] = json!(method);
    event["requestContext"]["http"]["path"] = json!(path);
    // What Cognito's ID token carries and the authorizer passes on as strings; groups come
    // as API Gateway flattens a list.
    event["requestContext"]["authorizer"]["jwt"]["claims"] = json!({
        "sub": sub,
        "cognito:groups": groups,
        "email": format!("{sub}@example.org"),
        "name": "Ada Lovelace",
        "token_use": "id",
        "iss": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_example",
    });
    event
}
