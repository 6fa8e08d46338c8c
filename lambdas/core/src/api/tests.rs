//! The route table and the OpenAPI document must describe the same API.

use std::collections::BTreeSet;

use serde_json::Value;

use super::bodies::response_schemas;
use super::*;

fn document() -> Value {
    serde_json::from_str(OPENAPI).expect("the OpenAPI document is JSON")
}

fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut found = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("a path item") {
            if ["get", "put", "post", "delete", "patch", "head", "options"]
                .contains(&method.as_str())
            {
                found.push((method.to_ascii_uppercase(), path.clone(), operation.clone()));
            }
        }
    }
    found
}

#[test]
fn the_document_and_the_route_table_list_the_same_routes() {
    let doc = document();
    assert_eq!(doc["openapi"], "3.1.0");
    let documented: BTreeSet<(String, String)> = operations(&doc)
        .into_iter()
        .map(|(method, path, _)| (method, path))
        .collect();
    let routed: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|route| (route.method.to_owned(), route.path.to_owned()))
        .collect();
    assert_eq!(documented, routed);
    assert_eq!(routed.len(), ROUTES.len(), "a route is listed twice");
}

#[test]
fn each_operation_has_the_routes_security_id_and_path_parameters() {
    let doc = document();
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["cognito"]["scheme"], "bearer");
    for (method, path, operation) in operations(&doc) {
        let route = find_route(&method, &path).expect("checked above");
        let context = format!("{method} {path}");
        assert_eq!(operation["operationId"], route.operation_id, "{context}");
        // The operation's own `security` wins over the document's default; require it spelled out.
        let security = operation["security"]
            .as_array()
            .unwrap_or_else(|| panic!("{context}: no security"));
        let group = operation.get("x-required-group").and_then(Value::as_str);
        match route.access {
            Access::Public => {
                assert!(security.is_empty(), "{context} must be public");
                assert_eq!(group, None, "{context}");
            }
            Access::SignedIn | Access::Group(_) => {
                assert_eq!(security.len(), 1, "{context}");
                assert!(
                    security[0].get("cognito").is_some(),
                    "{context} needs the bearer JWT"
                );
                let wanted = match route.access {
                    Access::Group(group) => Some(group.name()),
                    _ => None,
                };
                assert_eq!(group, wanted, "{context}: x-required-group");
            }
        }
        let in_template: BTreeSet<&str> = route
            .path
            .split('/')
            .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
            .collect();
        let declared: BTreeSet<&str> = operation["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|parameter| parameter["in"] == "path")
            .map(|parameter| parameter["name"].as_str().expect("a name"))
            .collect();
        assert_eq!(declared, in_template, "{context}: path parameters");
        let responses = operation["responses"].as_object().expect("responses");
        if route.access != Access::Public {
            assert!(responses.contains_key("401"), "{context}: 401");
        }
        if matches!(route.access, Access::Group(_)) {
            assert!(responses.contains_key("403"), "{context}: 403");
        }
    }
}

#[test]
fn every_reference_resolves() {
    let doc = document();
    fn walk(value: &Value, doc: &Value) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(target)) = map.get("$ref") {
                    let pointer = target.strip_prefix('#').expect("a local reference");
                    assert!(doc.pointer(pointer).is_some(), "dangling {target}");
                }
                map.values().for_each(|value| walk(value, doc));
            }
            Value::Array(items) => items.iter().for_each(|value| walk(value, doc)),
            _ => {}
        }
    }
    walk(&doc, &doc);
}

#[test]
fn the_documented_limits_are_the_validations() {
    use crate::event::{
        MAX_CAPACITY, MAX_DESCRIPTION_CHARS, MAX_TITLE_CHARS, MAX_VENUE_CHARS, MAX_YEARS_AHEAD,
    };
    use crate::money::MAX_AMOUNT_MINOR;
    let doc = document();
    let new_event = &doc["components"]["schemas"]["NewEvent"]["properties"];
    assert_eq!(new_event["title"]["maxLength"], MAX_TITLE_CHARS);
    assert_eq!(new_event["venue"]["maxLength"], MAX_VENUE_CHARS);
    assert_eq!(new_event["description"]["maxLength"], MAX_DESCRIPTION_CHARS);
    assert_eq!(new_event["capacity"]["maximum"], MAX_CAPACITY);
    assert_eq!(new_event["priceMinor"]["maximum"], MAX_AMOUNT_MINOR);
    assert_eq!(new_event["startsAt"]["x-max-years-ahead"], MAX_YEARS_AHEAD);
    let starts_at = new_event["startsAt"]["description"].as_str().unwrap();
    assert!(starts_at.contains(&format!("at most {MAX_YEARS_AHEAD} years from now")));
    let code = &doc["components"]["schemas"]["ScanRequest"]["properties"]["code"];
    assert_eq!(code["maxLength"], scan::MAX_SCAN_CHARS);
    let limit = doc["paths"]["/me/tickets"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|parameter| parameter["name"] == "limit")
        .unwrap()
        .clone();
    assert_eq!(limit["schema"]["maximum"], crate::page::MAX_PAGE_SIZE);
}

#[test]
fn concrete_paths_match_their_templates() {
    let (route, params) = match_path("GET", "/events/abc/stats").unwrap();
    assert_eq!(route.path, "/events/{id}/stats");
    assert_eq!(params, vec![("id".to_owned(), "abc".to_owned())]);
    assert_eq!(match_path("get", "/events/").unwrap().0.path, "/events");
    assert_eq!(
        match_path("POST", "/events/x/checkout").unwrap().0.handler,
        Handler::Checkout
    );
    assert!(match_path("DELETE", "/events").is_none());
    assert!(match_path("GET", "/events//stats").is_none());
    assert!(match_path("GET", "/events/a/b/stats").is_none());
    assert!(find_route("GET", "/events/{id}").is_some());
    assert!(find_route("GET", "/nope").is_none());
}

#[test]
fn the_stripe_webhook_is_the_only_public_route() {
    let public: Vec<_> = ROUTES
        .iter()
        .filter(|route| route.access == Access::Public)
        .map(|route| route.handler)
        .collect();
    assert_eq!(public, [Handler::StripeWebhook]);
}

/// The schema each operation's success answer refers to, by `operationId`.
const SUCCESS_BODIES: &[(&str, &str)] = &[
    ("createEvent", "Event"),
    ("listEvents", "EventPage"),
    ("getEvent", "Event"),
    ("updateEvent", "Event"),
    ("publishEvent", "Event"),
    ("unpublishEvent", "Event"),
    ("cancelEvent", "CancellationProgress"),
    ("getEventCancellation", "CancellationProgress"),
    ("getEventStats", "EventStats"),
    ("checkout", "CheckoutStarted"),
    ("quoteOrder", "Quote"),
    ("createPromoCode", "PromoCode"),
    ("listPromoCodes", "PromoCodeList"),
    ("updatePromoCode", "PromoCode"),
    ("listAttendees", "AttendeePage"),
    ("getOrder", "Order"),
    ("refundOrder", "Order"),
    ("cancelOrder", "Order"),
    ("listMyTickets", "TicketPage"),
    ("getOrganizerProfile", "OrganizerProfile"),
    ("putOrganizerProfile", "OrganizerProfile"),
    ("downloadTicket", "DownloadLink"),
    ("renameTicketHolder", "Ticket"),
    ("scanTicket", "ScanResult"),
    ("stripeWebhook", "WebhookReceived"),
];

#[test]
fn the_documents_response_schemas_are_the_ones_derived_from_the_body_types() {
    let doc = document();
    let documented = &doc["components"]["schemas"];
    for (name, derived) in response_schemas() {
        assert!(
            documented[&name] == derived,
            "components/schemas/{name} differs from its Rust type; the derived schema is:\n{}",
            serde_json::to_string_pretty(&derived).expect("a schema prints")
        );
    }
}

#[test]
fn each_success_answer_refers_to_a_body_type_and_each_error_to_the_error_body() {
    let doc = document();
    let derived = response_schemas();
    assert_eq!(SUCCESS_BODIES.len(), ROUTES.len());
    for (method, path, operation) in operations(&doc) {
        let id = operation["operationId"].as_str().expect("an operationId");
        let (_, body) = SUCCESS_BODIES
            .iter()
            .find(|(operation_id, _)| *operation_id == id)
            .unwrap_or_else(|| panic!("{id} has no success body listed"));
        assert!(derived.contains_key(*body), "{body} is not a body type");
        let responses = operation["responses"].as_object().expect("responses");
        for (status, response) in responses {
            let response = match response.get("$ref").and_then(Value::as_str) {
                Some(shared) => {
                    &doc["components"]["responses"]
                        [shared.trim_start_matches("#/components/responses/")]
                }
                None => response,
            };
            let schema = &response["content"]["application/json"]["schema"]["$ref"];
            let wanted = match status.as_str() {
                success if success.starts_with('2') => format!("#/components/schemas/{body}"),
                // API Gateway's JWT authorizer answers 401 itself, in its own shape.
                "401" => "#/components/schemas/AuthorizerRefusal".to_owned(),
                _ => "#/components/schemas/Error".to_owned(),
            };
            assert_eq!(schema, &wanted, "{method} {path} {status}");
        }
    }
}
