//! The route Lambdas answering events in the shape API Gateway sends them: the recorded
//! payload 2.0 events of `ticket_testkit::recorded` (copied from aws-lambda-rust-runtime), with the fields
//! a real request to this API sets written over them (route key, path, parameters, the
//! Cognito claims the JWT authorizer passes on, the body). The ports are core's in-memory
//! doubles; what is under test is the event in and the response out.

use std::sync::Arc;

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{TimeDelta, Utc};
use serde_json::{Value, json};
use ticket_core::api::{self, ApiPorts};
use ticket_core::testing::{FakePayments, MemoryStore, NoFiles, RecordingWorkflow};
use ticket_core::{KeyId, ManualClock, RandomIds, TicketSigner, stripe_webhook};
use ticket_functions::{Handler, answer};
use ticket_testkit::recorded::{APIGW_V2_JWT, APIGW_V2_PUBLIC, authorized, recorded_event};

const WEBHOOK_SECRET: &str = "whsec_recorded_events";

fn parse(event: Value) -> ApiGatewayV2httpRequest {
    serde_json::from_value(event).expect("the event has API Gateway's shape")
}

fn body(response: &ApiGatewayV2httpResponse) -> Value {
    let text = match response.body.as_ref().expect("a body") {
        aws_lambda_events::encodings::Body::Text(text) => text.clone(),
        other => panic!("a text body, not {other:?}"),
    };
    serde_json::from_str(&text).expect("a JSON body")
}

fn ports() -> ApiPorts {
    let signer = TicketSigner::from_seed(KeyId::new("RE").unwrap(), &[5; 32]);
    ApiPorts {
        store: Arc::new(MemoryStore::new()),
        files: Arc::new(NoFiles),
        payments: Arc::new(FakePayments::new()),
        workflow: Arc::new(RecordingWorkflow::new()),
        clock: Arc::new(ManualClock::new(Utc::now())),
        ids: Arc::new(RandomIds),
        verifier: Arc::new(signer.verifier()),
        ticket_pdfs: None,
        webhook_secrets: vec![WEBHOOK_SECRET.to_owned()],
        site_url: "https://tickets.example.org".into(),
        hold_minutes: api::HOLD_MINUTES,
    }
}

#[test]
fn the_recorded_events_have_the_shape_the_lambdas_read() {
    for name in [APIGW_V2_JWT, APIGW_V2_PUBLIC] {
        let event = parse(recorded_event(name));
        assert_eq!(event.version.as_deref(), Some("2.0"), "{name}");
    }
    let jwt = parse(recorded_event(APIGW_V2_JWT));
    let claims = &jwt
        .request_context
        .authorizer
        .as_ref()
        .and_then(|authorizer| authorizer.jwt.as_ref())
        .expect("a JWT authorizer")
        .claims;
    assert_eq!(claims.get("claim1").map(String::as_str), Some("value1"));
}

#[tokio::test]
async fn an_organizer_creates_an_event_and_an_attendee_reads_it() {
    let ports = ports();
    let mut create = authorized(
        "POST",
        "/events",
        "/events",
        "org-1",
        "[organizer attendee]",
    );
    let starts = ports.clock.now() + TimeDelta::days(9);
    create["body"] = json!(
        json!({
            "title": "Recorded Night",
            "description": "",
            "venue": "Hall 2",
            "startsAt": starts,
            "capacity": 40,
            "priceMinor": 1200,
            "currency": "EUR",
        })
        .to_string()
    );
    create["headers"]["content-type"] = json!("application/json");
    let created = answer(&ports, Handler::CreateEvent, parse(create)).await;
    assert_eq!(created.status_code, 201, "{:?}", created.body);
    let event = body(&created);
    assert_eq!(event["organizedByYou"], true);
    let id = event["id"].as_str().unwrap().to_owned();
    // A draft until published: others see it from then on.
    let publish_path = format!("/events/{id}/publish");
    let mut publish = authorized(
        "POST",
        "/events/{id}/publish",
        &publish_path,
        "org-1",
        "[organizer attendee]",
    );
    publish["pathParameters"] = json!({ "id": id });
    let published = answer(&ports, Handler::PublishEvent, parse(publish)).await;
    assert_eq!(published.status_code, 200, "{:?}", published.body);

    let path = format!("/events/{id}");
    let mut get = authorized("GET", "/events/{id}", &path, "att-1", "[attendee]");
    get["pathParameters"] = json!({ "id": id });
    let read = answer(&ports, Handler::GetEvent, parse(get)).await;
    assert_eq!(read.status_code, 200);
    assert_eq!(
        read.headers.get("cache-control").unwrap(),
        "no-store",
        "answers carry their headers"
    );
    let shown = body(&read);
    assert_eq!(shown["title"], "Recorded Night");
    assert_eq!(shown["organizedByYou"], false);
    assert_eq!(shown["availability"]["remaining"], 40);
}

#[tokio::test]
async fn group_and_route_are_checked_on_the_events_claims() {
    let ports = ports();
    // The attendee group may not create events.
    let attendee = authorized("POST", "/events", "/events", "att-1", "[attendee]");
    let refused = answer(&ports, Handler::CreateEvent, parse(attendee)).await;
    assert_eq!(refused.status_code, 403);
    assert!(
        body(&refused)["error"]
            .as_str()
            .unwrap()
            .contains("organizer")
    );

    // Claims without a subject (the recorded ones) are no caller.
    let mut anonymous = recorded_event(APIGW_V2_JWT);
    anonymous["routeKey"] = json!("GET /events");
    let refused = answer(&ports, Handler::ListEvents, parse(anonymous)).await;
    assert_eq!(refused.status_code, 401);

    // An event for another route, or the recorded `$default` route, is not this function's.
    let other = authorized("GET", "/me/tickets", "/me/tickets", "att-1", "[attendee]");
    assert_eq!(
        answer(&ports, Handler::ListEvents, parse(other))
            .await
            .status_code,
        404
    );
    let default = recorded_event(APIGW_V2_JWT);
    assert_eq!(
        answer(&ports, Handler::ListEvents, parse(default))
            .await
            .status_code,
        404
    );
}

/// The recorded unauthorized event made a Stripe webhook delivery of `payload`, its body
/// base64-encoded if `base64` (API Gateway does so for bodies it does not treat as text).
fn webhook(payload: &[u8], signature: &str, base64: bool) -> Value {
    let mut event = recorded_event(APIGW_V2_PUBLIC);
    event["routeKey"] = json!("POST /stripe/webhook");
    event["rawPath"] = json!("/stripe/webhook");
    event["requestContext"]["http"]["method"] = json!("POST");
    event["requestContext"]["http"]["path"] = json!("/stripe/webhook");
    event["headers"]["content-type"] = json!("application/json; charset=utf-8");
    event["headers"]["content-length"] = json!(payload.len().to_string());
    event["headers"]["stripe-signature"] = json!(signature);
    event["isBase64Encoded"] = json!(base64);
    event["body"] = if base64 {
        json!(STANDARD.encode(payload))
    } else {
        json!(String::from_utf8(payload.to_vec()).unwrap())
    };
    event
}

#[tokio::test]
async fn the_webhook_verifies_the_signature_over_the_body_as_sent_plain_or_base64() {
    let ports = ports();
    let payload = json!({
        "id": "evt_recorded",
        "object": "event",
        "type": "customer.created",
        "data": {"object": {"id": "cus_1", "object": "customer"}},
    })
    .to_string();
    let now = ports.clock.now().timestamp();
    let signature = stripe_webhook::signature_header(WEBHOOK_SECRET, now, payload.as_bytes());
    for base64 in [false, true] {
        let event = parse(webhook(payload.as_bytes(), &signature, base64));
        let answered = answer(&ports, Handler::StripeWebhook, event).await;
        assert_eq!(answered.status_code, 200, "base64 {base64}");
        assert_eq!(
            body(&answered),
            json!({"received": true, "outcome": "ignored"})
        );
    }
    let forged = stripe_webhook::signature_header("whsec_guess", now, payload.as_bytes());
    let refused = answer(
        &ports,
        Handler::StripeWebhook,
        parse(webhook(payload.as_bytes(), &forged, false)),
    )
    .await;
    assert_eq!(refused.status_code, 400);
}
