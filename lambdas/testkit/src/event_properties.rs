//! Generated valid events, each created through the real API handlers and read back through
//! every read route: no answer may be a 5xx, and every route must show the fields as created.
//! Shared by the SQLite test (`lambdas/embedded/tests/event_properties.rs`, many cases) and the
//! DynamoDB-on-moto one (`lambdas/cloud/tests/dynamodb_event_properties.rs`, a handful).

use std::sync::Arc;

use chrono::{DateTime, FixedOffset, Months, SecondsFormat, TimeDelta, Utc};
use proptest::prelude::*;
use serde_json::{Value, json};
use ticket_core::api::{self, ApiPorts, ApiRequest, ApiResponse};
use ticket_core::event::{
    MAX_CAPACITY, MAX_DESCRIPTION_CHARS, MAX_TITLE_CHARS, MAX_VENUE_CHARS, MAX_YEARS_AHEAD,
};
use ticket_core::money::MAX_AMOUNT_MINOR;
use ticket_core::testing::{FakePayments, NoFiles, RecordingWorkflow};
use ticket_core::time::to_millis;
use ticket_core::{Caller, KeyId, ManualClock, RandomIds, Store, TicketSigner};

/// One event as posted, in the loose form the API takes.
#[derive(Debug, Clone)]
pub struct Posted {
    pub title: String,
    pub description: String,
    pub venue: String,
    /// The instant, and the UTC offset (seconds) it is written in.
    pub starts_at: DateTime<Utc>,
    pub offset_seconds: i32,
    pub capacity: i64,
    pub price_minor: i64,
    pub currency: String,
}

impl Posted {
    fn body(&self) -> Value {
        let offset = FixedOffset::east_opt(self.offset_seconds).expect("a valid offset");
        json!({
            "title": self.title,
            "description": self.description,
            "venue": self.venue,
            "startsAt": self
                .starts_at
                .with_timezone(&offset)
                .to_rfc3339_opts(SecondsFormat::AutoSi, true),
            "capacity": self.capacity,
            "priceMinor": self.price_minor,
            "currency": self.currency,
        })
    }
}

/// Single-line text: no control characters and no line or paragraph separators (the
/// generator's `\PC` leaves out the bidi controls, which are format characters).
fn line(max: usize) -> impl Strategy<Value = String> {
    let fixed = proptest::sample::select(vec![
        "Rust Meetup",
        "Zoë Ångström’s Café — Ünïcödé",
        "\u{5E1}\u{5D3}\u{5E0}\u{5EA} Rust 2030 (\u{5D2}\u{5F3})",
        "\u{645}\u{644}\u{62A}\u{642}\u{649} \u{661}\u{662}\u{663}",
        "東京 ミートアップ 🦀🎟️",
        "👩🏽‍💻 e\u{301} \u{1F1FA}\u{1F1E6}",
        "a\u{200F}b\u{200E}c\u{61C}d",
        "<script>alert(1)</script> & \"quotes\" 'single' \\back",
        "=1+2 @SUM(A1)",
    ]);
    prop_oneof![
        4 => proptest::string::string_regex(&format!(
            "[^\\p{{C}}\\p{{Zl}}\\p{{Zp}}]{{1,{}}}",
            max.min(60)
        ))
        .unwrap()
        .prop_filter("has a visible character", |text| !text.trim().is_empty()),
        1 => fixed.prop_map(str::to_owned),
        // Exactly at the limit, astral characters and all, with spaces that are trimmed off.
        1 => proptest::string::string_regex(&format!("[^\\p{{C}}\\p{{Z}}]{{{max}}}"))
            .unwrap()
            .prop_map(|text| format!("  {text}\t ")),
    ]
}

/// Multi-line text: line breaks and tabs, no other control characters.
fn paragraph(max: usize) -> impl Strategy<Value = String> {
    prop_oneof![
        1 => Just(String::new()),
        4 => proptest::string::string_regex("([^\\p{C}]|\n|\r\n|\t){0,300}").unwrap(),
        1 => proptest::string::string_regex(&format!("[^\\p{{C}}\\p{{Z}}]{{{max}}}")).unwrap(),
        1 => Just({
            let start = "Doors at 7.\r\n\r\n\tTalks:\n";
            format!("{start}{}", "x".repeat(max - start.chars().count()))
        }),
    ]
}

/// The last instant the API takes for `now`.
pub fn latest(now: DateTime<Utc>) -> DateTime<Utc> {
    now.checked_add_months(Months::new(12 * MAX_YEARS_AHEAD))
        .expect("in range")
}

/// A start inside the window, often at one of its ends, at any sub-millisecond precision.
fn starts_at(now: DateTime<Utc>) -> impl Strategy<Value = DateTime<Utc>> {
    let base = to_millis(now);
    let last = to_millis(latest(now));
    let span_ms = (last - base).num_milliseconds();
    prop_oneof![
        // The first millisecond that is still in the future once stored.
        1 => Just(base + TimeDelta::milliseconds(1)),
        1 => Just(last),
        1 => (1..=5i64, 0..1_000_000i64).prop_map(move |(ms, ns)| {
            base + TimeDelta::milliseconds(ms) + TimeDelta::nanoseconds(ns)
        }),
        1 => (1..=5i64).prop_map(move |ms| last - TimeDelta::milliseconds(ms)),
        4 => (1..span_ms, 0..1_000_000i64).prop_map(move |(ms, ns)| {
            base + TimeDelta::milliseconds(ms) + TimeDelta::nanoseconds(ns)
        }),
    ]
}

fn offset_seconds() -> impl Strategy<Value = i32> {
    proptest::sample::select(vec![0, 19_800, -28_800, 50_400, -43_200, 3_600])
}

pub fn event(now: DateTime<Utc>) -> impl Strategy<Value = Posted> {
    let capacity = prop_oneof![Just(1), Just(MAX_CAPACITY), 1..=MAX_CAPACITY];
    let price = prop_oneof![Just(0), Just(MAX_AMOUNT_MINOR), 1..=MAX_AMOUNT_MINOR];
    let currency = proptest::sample::select(vec!["EUR", "usd", "JPY", "kwd", "Gbp", " chf "]);
    (
        line(MAX_TITLE_CHARS),
        paragraph(MAX_DESCRIPTION_CHARS),
        line(MAX_VENUE_CHARS),
        starts_at(now),
        offset_seconds(),
        capacity,
        price,
        currency,
    )
        .prop_map(
            |(title, description, venue, starts_at, offset_seconds, capacity, price, currency)| {
                Posted {
                    title,
                    description,
                    venue,
                    starts_at,
                    offset_seconds,
                    capacity,
                    price_minor: price,
                    currency: currency.to_owned(),
                }
            },
        )
}

/// The API's ports over `store` at the instant `now`.
pub fn ports(store: Arc<dyn Store>, now: DateTime<Utc>) -> ApiPorts {
    ApiPorts {
        store,
        files: Arc::new(NoFiles),
        payments: Arc::new(FakePayments::new()),
        workflow: Arc::new(RecordingWorkflow::new()),
        clock: Arc::new(ManualClock::new(now)),
        ids: Arc::new(RandomIds),
        verifier: Arc::new(TicketSigner::from_seed(KeyId::new("EP").unwrap(), &[7; 32]).verifier()),
        ticket_pdfs: None,
        webhook_secrets: vec!["whsec_event_properties".into()],
        site_url: "https://tickets.example.org".into(),
        hold_minutes: api::HOLD_MINUTES,
    }
}

const ORGANIZER: &str = "organizer-props";
const BUYER: &str = "attendee-props";

fn caller(sub: &str, groups: &str) -> Result<Caller, ticket_core::IdentityError> {
    Caller::from_claims(&json!({
        "sub": sub,
        "cognito:groups": groups,
        "name": "Zoë Ångström",
        "email": format!("{sub}@example.org"),
    }))
}

fn as_organizer(method: &str, route: &str) -> ApiRequest {
    ApiRequest::new(method, route, caller(ORGANIZER, "[organizer attendee]"))
}

fn as_buyer(method: &str, route: &str) -> ApiRequest {
    ApiRequest::new(method, route, caller(BUYER, "[attendee]"))
}

/// Calls a route: never a 5xx, and `want` exactly.
async fn call(ports: &ApiPorts, request: ApiRequest, want: u16) -> Value {
    let what = format!("{} {} {:?}", request.method, request.route, request.query);
    let response: ApiResponse = api::handle(ports, request).await;
    let body = String::from_utf8_lossy(&response.body).into_owned();
    assert!(response.status < 500, "{what}: {} {body}", response.status);
    assert_eq!(response.status, want, "{what}: {body}");
    response.json_body()
}

fn instant(value: &Value) -> DateTime<Utc> {
    serde_json::from_value(value.clone()).unwrap_or_else(|_| panic!("not an instant: {value}"))
}

/// The fields of `shown` (an event as any route shows it) are those `posted` asked for.
fn assert_shows(shown: &Value, posted: &Posted, id: &str, now: DateTime<Utc>, by_organizer: bool) {
    assert_eq!(shown["id"], id);
    assert_eq!(shown["title"], posted.title.trim());
    assert_eq!(shown["description"], posted.description.trim());
    assert_eq!(shown["venue"], posted.venue.trim());
    assert_eq!(instant(&shown["startsAt"]), to_millis(posted.starts_at));
    assert_eq!(shown["capacity"], posted.capacity);
    assert_eq!(shown["priceMinor"], posted.price_minor);
    assert_eq!(
        shown["currency"],
        posted.currency.trim().to_ascii_uppercase()
    );
    assert_eq!(instant(&shown["createdAt"]), to_millis(now));
    assert_eq!(shown["organizedByYou"], by_organizer);
}

fn assert_stats(stats: &Value, capacity: i64, held: i64) {
    let remaining = capacity - held;
    assert_eq!(stats["capacity"], capacity);
    assert_eq!(stats["held"], held);
    assert_eq!(stats["sold"], 0);
    assert_eq!(stats["remaining"], remaining);
    assert_eq!(stats["checkedIn"], 0);
    assert_eq!(
        stats["status"],
        if remaining == 0 { "SOLD_OUT" } else { "OPEN" }
    );
}

/// Every page of a list, followed by its cursors, `limit` at a time.
async fn all_pages(ports: &ApiPorts, mine: bool, limit: usize) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut request = if mine {
            as_organizer("GET", "/events").with_query("mine", "true")
        } else {
            as_buyer("GET", "/events")
        };
        request = request.with_query("limit", limit.to_string());
        if let Some(cursor) = &cursor {
            request = request.with_query("cursor", cursor.clone());
        }
        let page = call(ports, request, 200).await;
        let got = page["items"].as_array().unwrap();
        assert!(got.len() <= limit);
        items.extend(got.iter().cloned());
        match page["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return items,
        }
        assert!(items.len() <= 100, "the cursors do not end");
    }
}

/// Creates `events` on a store that has none, then reads each back through every read route,
/// checks out a seat of each and reads again.
pub async fn create_and_read_back(
    ports: &ApiPorts,
    now: DateTime<Utc>,
    events: &[Posted],
    limit: usize,
) {
    let mut ids = Vec::new();
    for posted in events {
        let created = call(
            ports,
            as_organizer("POST", "/events").with_json(&posted.body()),
            201,
        )
        .await;
        let id = created["id"].as_str().unwrap().to_owned();
        assert_eq!(created["visibility"], "DRAFT");
        // Published, as an organizer does before selling: the upcoming list shows it then.
        let published = call(
            ports,
            as_organizer("POST", "/events/{id}/publish").with_path_param("id", id.clone()),
            200,
        )
        .await;
        assert_shows(&published, posted, &id, now, true);
        ids.push(id);
    }
    // Both lists go by start time, then id.
    let mut order: Vec<usize> = (0..events.len()).collect();
    order.sort_by_key(|&i| (to_millis(events[i].starts_at), ids[i].clone()));
    for mine in [true, false] {
        let listed = all_pages(ports, mine, limit).await;
        assert_eq!(listed.len(), events.len(), "mine={mine}");
        for (shown, &i) in listed.iter().zip(&order) {
            assert_shows(shown, &events[i], &ids[i], now, mine);
        }
    }
    for (posted, id) in events.iter().zip(&ids) {
        let get = |request: ApiRequest| request.with_path_param("id", id.clone());
        let shown = call(ports, get(as_buyer("GET", "/events/{id}")), 200).await;
        assert_shows(&shown, posted, id, now, false);
        assert_stats(&shown["availability"], posted.capacity, 0);
        let stats = call(ports, get(as_organizer("GET", "/events/{id}/stats")), 200).await;
        assert_stats(&stats, posted.capacity, 0);
        let attendees = call(
            ports,
            get(as_organizer("GET", "/events/{id}/attendees")),
            200,
        )
        .await;
        assert_eq!(attendees["items"], json!([]));

        let checkout = call(ports, get(as_buyer("POST", "/events/{id}/checkout")), 201).await;
        assert_eq!(checkout["checkoutUrl"].is_null(), posted.price_minor == 0);
        let order_id = checkout["orderId"].as_str().unwrap().to_owned();
        let order = call(
            ports,
            as_buyer("GET", "/orders/{id}").with_path_param("id", order_id.clone()),
            200,
        )
        .await;
        assert_eq!(order["orderId"], order_id);
        assert_eq!(order["eventId"], id.as_str());
        assert_eq!(order["status"], "PENDING");
        assert_eq!(order["amountMinor"], posted.price_minor);
        assert_eq!(
            order["currency"],
            posted.currency.trim().to_ascii_uppercase()
        );

        let stats = call(ports, get(as_organizer("GET", "/events/{id}/stats")), 200).await;
        assert_stats(&stats, posted.capacity, 1);
        let shown = call(ports, get(as_buyer("GET", "/events/{id}")), 200).await;
        assert_shows(&shown, posted, id, now, false);
        assert_stats(&shown["availability"], posted.capacity, 1);
        if posted.capacity == 1 {
            let again = call(ports, get(as_buyer("POST", "/events/{id}/checkout")), 409).await;
            assert_eq!(again["error"], "the event is sold out");
        }
    }
    // Still listed, with the seat taken.
    let listed = all_pages(ports, true, limit).await;
    assert_eq!(listed.len(), events.len());
    for (shown, &i) in listed.iter().zip(&order) {
        assert_shows(shown, &events[i], &ids[i], now, true);
        assert_stats(&shown["availability"], events[i].capacity, 1);
    }
}
