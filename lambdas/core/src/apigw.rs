//! API Gateway HTTP API events (payload format 2.0) to the API's requests, and its responses
//! back (feature `apigw`). The route Lambdas receive these events from API Gateway; ticketd's
//! gateway builds the same events, so both go through this one translation.

use std::collections::HashMap;

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body;
use aws_lambda_events::http::{HeaderMap, HeaderName, HeaderValue};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::api::{ApiError, ApiRequest, ApiResponse};
use crate::identity::{Caller, IdentityError};

/// The request an event carries. The route is the template of the event's `routeKey`
/// (`GET /events/{id}` → `/events/{id}`); the caller comes from the JWT authorizer's claims,
/// which API Gateway passes as strings (`cognito:groups` as `[organizer attendee]`).
pub fn api_request(event: ApiGatewayV2httpRequest) -> Result<ApiRequest, ApiResponse> {
    let route_key = event
        .route_key
        .as_deref()
        .or(event.request_context.route_key.as_deref())
        .unwrap_or_default();
    let Some((method, route)) = route_key.split_once(' ') else {
        return Err(ApiError::not_found("route").into());
    };
    let caller = event
        .request_context
        .authorizer
        .as_ref()
        .and_then(|authorizer| authorizer.jwt.as_ref())
        .map_or(Err(IdentityError::NoClaims), |jwt| {
            Caller::from_claim_strings(&jwt.claims)
        });
    let mut query: HashMap<String, Vec<String>> = HashMap::new();
    for (name, value) in event.query_string_parameters.iter() {
        query
            .entry(name.to_owned())
            .or_default()
            .push(value.to_owned());
    }
    let body = match (event.body, event.is_base64_encoded) {
        (None, _) => Vec::new(),
        (Some(text), false) => text.into_bytes(),
        (Some(text), true) => STANDARD.decode(text).map_err(|_| {
            ApiResponse::from(ApiError::bad_request(
                "the request body is not valid base64",
            ))
        })?,
    };
    Ok(ApiRequest {
        method: method.to_owned(),
        route: route.to_owned(),
        path_params: event.path_parameters,
        query,
        headers: headers(&event.headers),
        body,
        caller,
    })
}

/// Header names in lower case; repeated headers joined with commas, as HTTP allows.
fn headers(map: &HeaderMap) -> HashMap<String, String> {
    let mut headers: HashMap<String, String> = HashMap::new();
    for (name, value) in map {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        headers
            .entry(name.as_str().to_ascii_lowercase())
            .and_modify(|joined| {
                joined.push_str(", ");
                joined.push_str(&value);
            })
            .or_insert(value);
    }
    headers
}

/// The response as API Gateway expects it back: text bodies as text, others base64.
pub fn apigw_response(response: ApiResponse) -> ApiGatewayV2httpResponse {
    let mut headers = HeaderMap::new();
    for (name, value) in &response.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::try_from(name.as_str()),
            HeaderValue::try_from(value.as_str()),
        ) {
            headers.append(name, value);
        }
    }
    let (body, is_base64_encoded) = match String::from_utf8(response.body) {
        Ok(text) if text.is_empty() => (None, false),
        Ok(text) => (Some(Body::Text(text)), false),
        Err(binary) => (Some(Body::Text(STANDARD.encode(binary.into_bytes()))), true),
    };
    let mut out = ApiGatewayV2httpResponse::default();
    out.status_code = i64::from(response.status);
    out.headers = headers;
    out.body = body;
    out.is_base64_encoded = is_base64_encoded;
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// An event as API Gateway sends it (from AWS's documentation of payload format 2.0).
    fn event(
        claims: serde_json::Value,
        body: Option<&str>,
        base64: bool,
    ) -> ApiGatewayV2httpRequest {
        serde_json::from_value(json!({
            "version": "2.0",
            "routeKey": "GET /events/{id}",
            "rawPath": "/events/0195b1f0-0000-7000-8000-000000000001",
            "rawQueryString": "limit=5&tag=a&tag=b",
            "cookies": ["a=b"],
            "headers": {"accept": "text/csv", "x-forwarded-for": "203.0.113.9"},
            "queryStringParameters": {"limit": "5", "tag": "a,b"},
            "pathParameters": {"id": "0195b1f0-0000-7000-8000-000000000001"},
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "api-id",
                "authorizer": {"jwt": {"claims": claims, "scopes": null}},
                "domainName": "id.execute-api.us-east-1.amazonaws.com",
                "domainPrefix": "id",
                "http": {
                    "method": "GET",
                    "path": "/events/0195b1f0-0000-7000-8000-000000000001",
                    "protocol": "HTTP/1.1",
                    "sourceIp": "203.0.113.9",
                    "userAgent": "agent"
                },
                "requestId": "id",
                "routeKey": "GET /events/{id}",
                "stage": "$default",
                "time": "12/Mar/2020:19:03:58 +0000",
                "timeEpoch": 1583348638390u64
            },
            "body": body,
            "isBase64Encoded": base64
        }))
        .expect("a payload 2.0 event")
    }

    #[test]
    fn an_event_becomes_the_request_of_its_route_with_the_caller_of_its_claims() {
        let claims = json!({
            "sub": "user-1",
            "email": "ada@example.com",
            "cognito:groups": "[organizer attendee]"
        });
        let request = api_request(event(claims, Some("{\"a\":1}"), false)).unwrap();

        assert_eq!(
            (request.method.as_str(), request.route.as_str()),
            ("GET", "/events/{id}")
        );
        assert_eq!(
            request.path_params["id"],
            "0195b1f0-0000-7000-8000-000000000001"
        );
        assert_eq!(request.headers["accept"], "text/csv");
        assert_eq!(request.query["limit"], ["5"]);
        assert_eq!(request.body, b"{\"a\":1}");
        let caller = request.caller.unwrap();
        assert_eq!(caller.user_id.as_str(), "user-1");
        assert!(caller.is_organizer());
    }

    #[test]
    fn base64_bodies_are_decoded_and_missing_claims_are_no_caller() {
        let request = api_request(event(json!({}), Some("aGVsbG8="), true)).unwrap();
        assert_eq!(request.body, b"hello");
        assert!(request.caller.is_err());

        let refused = api_request(event(json!({}), Some("not base64!"), true)).unwrap_err();
        assert_eq!(refused.status, 400);
    }

    #[test]
    fn responses_keep_status_headers_and_body_and_base64_binary() {
        let json_response = apigw_response(ApiResponse::json(201, &json!({"ok": true})));
        assert_eq!(json_response.status_code, 201);
        assert_eq!(
            json_response.headers["content-type"],
            "application/json; charset=utf-8"
        );
        assert!(!json_response.is_base64_encoded);
        assert_eq!(json_response.body, Some(Body::Text("{\"ok\":true}".into())));

        let binary = apigw_response(ApiResponse {
            status: 200,
            headers: vec![],
            body: vec![0xff, 0x00],
        });
        assert!(binary.is_base64_encoded);
        assert_eq!(binary.body, Some(Body::Text("/wA=".into())));
    }
}
