//! Bad input and generated good input through the real API handlers on the SQLite store: valid
//! events (unicode text, every limit, both ends of the `startsAt` window) are created and read
//! back unchanged through every read route without a 5xx; what the API refuses is a 400 naming
//! the field, and leaves every read route working.

use ticket_testkit::event_properties as properties;

use std::sync::{Arc, LazyLock};

use chrono::{DateTime, TimeDelta, Utc};
use proptest::prelude::*;
use serde_json::{Value, json};
use ticket_core::api::{self, ApiPorts, ApiRequest};
use ticket_core::{Caller, IdentityError, stripe_webhook};
use ticket_embedded::SqliteStore;

static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
});

/// One instant for the whole run, with sub-millisecond digits, so every case knows the window.
static NOW: LazyLock<DateTime<Utc>> = LazyLock::new(Utc::now);

fn fresh_ports(now: DateTime<Utc>) -> ApiPorts {
    properties::ports(Arc::new(SqliteStore::open_in_memory().unwrap()), now)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn generated_events_read_back_unchanged_through_every_route(
        events in proptest::collection::vec(properties::event(*NOW), 1..=4),
        limit in 1usize..=3,
    ) {
        let now = *NOW;
        RUNTIME.block_on(properties::create_and_read_back(&fresh_ports(now), now, &events, limit));
    }
}

fn organizer() -> Result<Caller, IdentityError> {
    Caller::from_claims(&json!({
        "sub": "organizer-bad-input",
        "cognito:groups": "[organizer attendee]",
        "email": "o@example.org",
    }))
}

async fn create(ports: &ApiPorts, body: &Value) -> (u16, Value) {
    let response = api::handle(
        ports,
        ApiRequest::new("POST", "/events", organizer()).with_json(body),
    )
    .await;
    (response.status, response.json_body())
}

fn valid(now: DateTime<Utc>) -> Value {
    json!({
        "title": "Rust Meetup",
        "description": "Talks and pizza",
        "venue": "Hall 1",
        "startsAt": now + TimeDelta::days(7),
        "capacity": 10,
        "priceMinor": 0,
        "currency": "EUR",
    })
}

/// The organizer's list (and so their dashboard) answers 200 with `count` events.
async fn assert_list_works(ports: &ApiPorts, count: usize) {
    let response = api::handle(
        ports,
        ApiRequest::new("GET", "/events", organizer()).with_query("mine", "true"),
    )
    .await;
    assert_eq!(response.status, 200);
    assert_eq!(
        response.json_body()["items"].as_array().unwrap().len(),
        count
    );
}

#[tokio::test]
async fn starts_outside_the_window_are_a_400_naming_starts_at() {
    let now = Utc::now();
    let ports = fresh_ports(now);
    let beyond = properties::latest(now) + TimeDelta::milliseconds(1);
    for starts_at in [
        json!("+10000-01-01T00:00:00Z"),
        json!("+262142-12-31T23:59:59Z"),
        json!("9999-12-31T23:59:59Z"),
        json!(beyond),
        json!("-0001-01-01T00:00:00Z"),
        json!(now - TimeDelta::seconds(1)),
        json!("2030-06-30T23:59:60Z"),
    ] {
        let mut body = valid(now);
        body["startsAt"] = starts_at.clone();
        let (status, answer) = create(&ports, &body).await;
        assert_eq!(status, 400, "{starts_at}: {answer}");
        assert_eq!(
            answer["fields"]
                .as_object()
                .unwrap()
                .keys()
                .collect::<Vec<_>>(),
            ["startsAt"],
            "{starts_at}: {answer}"
        );
    }
    let mut body = valid(now);
    body["startsAt"] = json!("+10000-01-01T00:00:00Z");
    let (_, answer) = create(&ports, &body).await;
    assert_eq!(
        answer["fields"]["startsAt"],
        "must be at most 10 years from now"
    );
    assert_list_works(&ports, 0).await;
    // The last millisecond of the window is fine.
    body["startsAt"] = json!(properties::latest(now));
    assert_eq!(create(&ports, &body).await.0, 201);
    assert_list_works(&ports, 1).await;
}

#[tokio::test]
async fn bidi_controls_are_a_400_naming_the_field() {
    let now = Utc::now();
    let ports = fresh_ports(now);
    let controls = ('\u{202A}'..='\u{202E}').chain('\u{2066}'..='\u{2069}');
    for control in controls {
        for field in ["title", "venue", "description"] {
            let mut body = valid(now);
            body[field] = json!(format!("Meetup {control}fdp.exe"));
            let (status, answer) = create(&ports, &body).await;
            assert_eq!(status, 400, "{field} {control:?}: {answer}");
            assert_eq!(
                answer["fields"]
                    .as_object()
                    .unwrap()
                    .keys()
                    .collect::<Vec<_>>(),
                [field],
                "{field} {control:?}: {answer}"
            );
            assert!(
                answer["fields"][field]
                    .as_str()
                    .unwrap()
                    .contains("bidirectional control characters"),
                "{answer}"
            );
        }
    }
    // Line separators are refused on one line, kept in the description.
    let mut body = valid(now);
    body["title"] = json!("Meetup\u{2028}Part two");
    assert_eq!(create(&ports, &body).await.0, 400);
    body = valid(now);
    body["description"] = json!("Part one\u{2028}Part two\r\n\tThe end");
    let (status, created) = create(&ports, &body).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(
        created["description"],
        "Part one\u{2028}Part two\r\n\tThe end"
    );
    body["description"] = json!("Bell\u{7}");
    assert_eq!(create(&ports, &body).await.0, 400);
    assert_list_works(&ports, 1).await;
}

#[tokio::test]
async fn a_webhook_timestamp_at_the_ends_of_i64_is_a_400() {
    let ports = fresh_ports(Utc::now());
    for t in [i64::MIN, i64::MAX] {
        let payload = br#"{"id":"evt_1","type":"checkout.session.completed","data":{"object":{}}}"#;
        let signature = stripe_webhook::signature_header("whsec_event_properties", t, payload);
        let response = api::handle(
            &ports,
            ApiRequest::new("POST", "/stripe/webhook", Err(IdentityError::NoClaims))
                .with_header(stripe_webhook::SIGNATURE_HEADER, signature)
                .with_body(payload.to_vec()),
        )
        .await;
        assert_eq!(response.status, 400, "t={t}");
    }
}
