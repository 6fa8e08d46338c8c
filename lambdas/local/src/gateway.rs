//! ticketd's stand-in for API Gateway's HTTP API: the API under `/api`. It does what API Gateway
//! does before a route Lambda runs — matches the route, checks the bearer JWT the way the JWT
//! authorizer does (signature against the identity provider's keys, issuer, audience or
//! client_id, expiry) and builds the payload 2.0 event with the claims as strings — then hands
//! that event to the same translation and handlers the Lambdas use, or, in the emulated AWS
//! stack, to the route's Lambda function itself through the Invoke API.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use futures::StreamExt;
use serde_json::{Map, Value, json};
use ticket_core::api::{self, Access, ApiError, ApiPorts, MAX_BODY_BYTES};
use ticket_core::apigw;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::lambda::{InvokeError, LambdaFunctions};
use cognito_local::verifier::JwtVerifier;
use local_support::error_response;

/// Where the routes run.
#[derive(Clone)]
pub enum Backend {
    /// In this process, on these ports.
    InProcess(Arc<ApiPorts>),
    /// Each route in its Lambda function.
    Lambda(Arc<LambdaFunctions>),
}

/// The routes' backend, the authorizer's verifier and the one origin CORS lets in.
#[derive(Clone)]
pub struct Gateway {
    pub backend: Backend,
    pub verifier: JwtVerifier,
    /// The site's origin (`http://127.0.0.1:8080`): the only one a browser may call from.
    pub site_origin: HeaderValue,
}

/// `/api/openapi.json` and every API route under `/api`, with CORS for the site's origin only.
pub fn routes(gateway: Gateway) -> Router {
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::exact(gateway.site_origin.clone()))
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::PATCH])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            header::IF_MATCH,
        ])
        .expose_headers([header::ETAG]);
    Router::new()
        .route("/api/openapi.json", get(openapi))
        .route("/api/{*path}", any(dispatch))
        .with_state(gateway)
        .layer(cors)
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], api::OPENAPI).into_response()
}

async fn dispatch(State(gateway): State<Gateway>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().strip_prefix("/api").unwrap_or_default();
    let Some((route, path_params)) = api::match_path(parts.method.as_str(), path) else {
        return error_response(StatusCode::NOT_FOUND, "not found");
    };
    let Some(body) = read_body(body).await else {
        return into_axum(apigw::apigw_response(ApiError::body_too_large().into()));
    };
    // API Gateway's JWT authorizer answers 401 itself, in its own shape, and the Lambda never runs.
    let claims = match route.access {
        Access::Public => None,
        _ => match bearer_token(&parts.headers).map(|token| gateway.verifier.verify(token)) {
            Some(Ok(claims)) => Some(claims),
            Some(Err(error)) => {
                tracing::debug!(%error, "token refused");
                return unauthorized();
            }
            None => return unauthorized(),
        },
    };

    let event = payload_v2_event(&parts, &route.key(), &path_params, claims.as_ref(), &body);
    match &gateway.backend {
        Backend::InProcess(ports) => in_process(ports, event).await,
        Backend::Lambda(functions) => lambda_response(functions.route(route).invoke(&event).await),
    }
}

/// How much of a body over the limit is read and dropped so that the client, still sending,
/// hears the 400: a server that closes with unread bytes resets the connection, and the answer
/// is lost. API Gateway takes up to 10 MB; beyond this the connection just closes.
const DRAIN_BYTES: usize = 1024 * 1024;

/// The body, or `None` when it is over [`MAX_BODY_BYTES`] (or the client went away).
async fn read_body(body: Body) -> Option<Bytes> {
    let mut chunks = body.into_data_stream();
    let mut kept = Vec::new();
    let mut read = 0;
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.ok()?;
        read += chunk.len();
        if read > MAX_BODY_BYTES + DRAIN_BYTES {
            return None;
        }
        if read <= MAX_BODY_BYTES {
            kept.extend_from_slice(&chunk);
        }
    }
    (read <= MAX_BODY_BYTES).then(|| kept.into())
}

/// The event through the same translation and handler a route Lambda runs.
async fn in_process(ports: &ApiPorts, event: Value) -> Response {
    let request = match serde_json::from_value(event)
        .map_err(|error| error.to_string())
        .map(apigw::api_request)
    {
        Ok(Ok(request)) => request,
        Ok(Err(refused)) => return into_axum(apigw::apigw_response(refused)),
        Err(error) => {
            tracing::error!(%error, "the gateway built an event it cannot read");
            return error_response(StatusCode::INTERNAL_SERVER_ERROR, "internal error");
        }
    };
    into_axum(apigw::apigw_response(api::handle(ports, request).await))
}

/// A route function's answer as API Gateway turns it into a response: a function error, an
/// answer it cannot read, or a function it cannot invoke is its bare 500.
fn lambda_response(answer: Result<Value, InvokeError>) -> Response {
    let internal = || {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({ "message": "Internal Server Error" })),
        )
            .into_response()
    };
    match answer.map(serde_json::from_value) {
        Ok(Ok(response)) => into_axum(response),
        Ok(Err(error)) => {
            tracing::error!(%error, "a route function answered something that is no response");
            internal()
        }
        Err(error) => {
            tracing::error!(%error, "a route function failed");
            internal()
        }
    }
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        Json(json!({ "message": "Unauthorized" })),
    )
        .into_response()
}

/// The token of `Authorization: Bearer <token>` (or the bare token, which the authorizer also
/// takes).
fn bearer_token(headers: &axum::http::HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let token = value.strip_prefix("Bearer ").unwrap_or(value).trim();
    (!token.is_empty()).then_some(token)
}

/// Claims as API Gateway passes them to the Lambda: every value a string, arrays as
/// `[a b]`.
fn claim_strings(claims: &Map<String, Value>) -> Map<String, Value> {
    claims
        .iter()
        .map(|(name, value)| {
            let text = match value {
                Value::String(text) => text.clone(),
                Value::Array(items) => {
                    let items: Vec<String> = items
                        .iter()
                        .map(|item| {
                            item.as_str()
                                .map_or_else(|| item.to_string(), str::to_owned)
                        })
                        .collect();
                    format!("[{}]", items.join(" "))
                }
                other => other.to_string(),
            };
            (name.clone(), Value::String(text))
        })
        .collect()
}

/// The payload format 2.0 event of this request, as API Gateway builds it.
fn payload_v2_event(
    parts: &axum::http::request::Parts,
    route_key: &str,
    path_params: &[(String, String)],
    claims: Option<&Map<String, Value>>,
    body: &[u8],
) -> Value {
    let path = parts.uri.path().strip_prefix("/api").unwrap_or_default();
    let raw_query = parts.uri.query().unwrap_or_default();
    // Repeated query parameters arrive comma-joined in queryStringParameters.
    let mut query: HashMap<String, Vec<String>> = HashMap::new();
    for (name, value) in form_urlencoded::parse(raw_query.as_bytes()) {
        query
            .entry(name.into_owned())
            .or_default()
            .push(value.into_owned());
    }
    let query: Map<String, Value> = query
        .into_iter()
        .map(|(name, values)| (name, Value::String(values.join(","))))
        .collect();
    let mut headers: Map<String, Value> = Map::new();
    for (name, value) in &parts.headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        match headers.get_mut(name.as_str()) {
            Some(Value::String(joined)) => {
                joined.push(',');
                joined.push_str(&value);
            }
            _ => {
                headers.insert(name.as_str().to_owned(), Value::String(value));
            }
        }
    }
    let path_params: Map<String, Value> = path_params
        .iter()
        .map(|(name, value)| (name.clone(), Value::String(value.clone())))
        .collect();
    let (body, is_base64) = match std::str::from_utf8(body) {
        _ if body.is_empty() => (Value::Null, false),
        Ok(text) => (Value::String(text.to_owned()), false),
        Err(_) => (Value::String(STANDARD.encode(body)), true),
    };
    let now = chrono::Utc::now();
    let authorizer = claims
        .map(|claims| json!({ "jwt": { "claims": claim_strings(claims), "scopes": Value::Null } }));
    json!({
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": raw_query,
        "headers": headers,
        "queryStringParameters": query,
        "pathParameters": path_params,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "ticketd",
            "authorizer": authorizer,
            "domainName": parts.headers.get(header::HOST).and_then(|host| host.to_str().ok()),
            "http": {
                "method": parts.method.as_str(),
                "path": path,
                "protocol": format!("{:?}", parts.version),
                "sourceIp": "127.0.0.1",
                "userAgent": parts.headers.get(header::USER_AGENT).and_then(|agent| agent.to_str().ok()),
            },
            "requestId": uuid::Uuid::new_v4().to_string(),
            "routeKey": route_key,
            "stage": "$default",
            "time": now.format("%d/%b/%Y:%H:%M:%S %z").to_string(),
            "timeEpoch": now.timestamp_millis(),
        },
        "body": body,
        "isBase64Encoded": is_base64,
    })
}

/// The Lambda's answer, as API Gateway turns it into an HTTP response.
fn into_axum(response: aws_lambda_events::apigw::ApiGatewayV2httpResponse) -> Response {
    let body = match response.body {
        None => Vec::new(),
        Some(aws_lambda_events::encodings::Body::Text(text)) if response.is_base64_encoded => {
            STANDARD.decode(text).unwrap_or_default()
        }
        Some(aws_lambda_events::encodings::Body::Text(text)) => text.into_bytes(),
        Some(aws_lambda_events::encodings::Body::Binary(bytes)) => bytes,
        Some(_) => Vec::new(),
    };
    let mut out = Response::new(Body::from(body));
    *out.status_mut() =
        StatusCode::from_u16(response.status_code as u16).unwrap_or(StatusCode::BAD_GATEWAY);
    *out.headers_mut() = response.headers;
    out
}

#[cfg(test)]
mod tests {
    use serde_json::{Map, Value, json};
    use ticket_testkit::recorded::{APIGW_V2_JWT, recorded_event};

    use super::payload_v2_event;

    /// Every key of `ours` is in `recorded`, with a value of the same JSON kind (null counts as
    /// any: a field API Gateway leaves out for this request).
    fn same_shape(ours: &Value, recorded: &Value, at: &str) {
        let (Value::Object(ours), Value::Object(recorded)) = (ours, recorded) else {
            return;
        };
        for (key, value) in ours {
            let path = format!("{at}.{key}");
            let theirs = recorded
                .get(key)
                .unwrap_or_else(|| panic!("{path} is not in API Gateway's event"));
            let kind = |value: &Value| std::mem::discriminant(value);
            if !value.is_null() && !theirs.is_null() {
                assert_eq!(kind(value), kind(theirs), "{path}: {value} vs {theirs}");
            }
            // Claims and headers are free-form maps: their keys are the request's own.
            if ![
                "claims",
                "headers",
                "pathParameters",
                "queryStringParameters",
            ]
            .contains(&key.as_str())
            {
                same_shape(value, theirs, &path);
            }
        }
    }

    #[test]
    fn the_gateway_builds_the_event_api_gateway_sends() {
        let request = axum::http::Request::builder()
            .method("POST")
            .uri("/api/events/0191/checkout?limit=2&limit=3")
            .header("host", "127.0.0.1:8080")
            .header("user-agent", "test")
            .body(())
            .unwrap();
        let (parts, ()) = request.into_parts();
        let claims: Map<String, Value> =
            serde_json::from_value(json!({"sub": "u1", "cognito:groups": ["attendee"]})).unwrap();
        let ours = payload_v2_event(
            &parts,
            "POST /events/{id}/checkout",
            &[("id".into(), "0191".into())],
            Some(&claims),
            b"{}",
        );
        let recorded = recorded_event(APIGW_V2_JWT);
        same_shape(&ours, &recorded, "event");
        // And the other way round: what the recorded event has that a Lambda reads.
        for key in [
            "version",
            "routeKey",
            "rawPath",
            "rawQueryString",
            "headers",
            "queryStringParameters",
            "pathParameters",
            "body",
            "isBase64Encoded",
        ] {
            assert!(ours.get(key).is_some(), "{key} missing");
        }
        assert_eq!(ours["queryStringParameters"]["limit"], "2,3");
        assert_eq!(
            ours["requestContext"]["authorizer"]["jwt"]["claims"]["cognito:groups"], "[attendee]",
            "groups are flattened the way API Gateway does"
        );
        let typed: aws_lambda_events::apigw::ApiGatewayV2httpRequest =
            serde_json::from_value(ours).expect("the SDK's type reads it");
        assert_eq!(
            typed.route_key.as_deref(),
            Some("POST /events/{id}/checkout")
        );
    }
}
