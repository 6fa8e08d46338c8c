//! End to end over HTTP against the real `ticketd serve`: users sign up and in through the
//! identity provider, an organizer is promoted with the CLI, and every API route is called with
//! each kind of caller and each kind of mistake. Every answer is also checked for what all
//! answers keep (no 5xx, `{"error": ...}`, no internal text: see `e2e_support`).

mod e2e_support;
mod support;

use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use cognito_local::SigningKey;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use ticket_core::api::{MAX_BODY_BYTES, ROUTES};

use e2e_support::{Ticketd, User};

/// The server with its demo organizer, a second organizer and two attendees.
struct Scene {
    server: Ticketd,
    organizer: User,
    rival: User,
    attendee: User,
    stranger: User,
}

impl Scene {
    async fn start() -> Self {
        let server = Ticketd::start();
        let organizer = server
            .sign_in(
                "organizer@example.com",
                &server.demo_password("organizer@example.com"),
            )
            .await;
        let rival = server
            .organizer("rival@example.org", "Rival Organizer")
            .await;
        let attendee = server
            .sign_up("zoe@example.org", "Zo\u{eb} \u{c5}ngstr\u{f6}m")
            .await;
        let stranger = server.sign_up("stranger@example.org", "Stranger").await;
        Self {
            server,
            organizer,
            rival,
            attendee,
            stranger,
        }
    }

    /// A free event of `organizer`'s in 30 days with `capacity` seats, published.
    async fn free_event(&self, organizer: &User, title: &str, capacity: u32) -> Value {
        let draft = self
            .server
            .post("/events")
            .user(organizer)
            .json(&new_event(title, 30, capacity))
            .send()
            .await
            .expect(201);
        assert_eq!(draft["visibility"], "DRAFT");
        self.server
            .post(&format!("/events/{}/publish", id(&draft, "id")))
            .user(organizer)
            .send()
            .await
            .expect(200)
    }

    /// `buyer` checks out the free event and waits for the order to be fulfilled: the
    /// checkout's answer and the fulfilled order.
    async fn register(&self, buyer: &User, event_id: &str) -> (Value, Value) {
        let started = self
            .server
            .post(&format!("/events/{event_id}/checkout"))
            .user(buyer)
            .send()
            .await
            .expect(201);
        let order_id = id(&started, "orderId");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let order = self
                .server
                .get(&format!("/orders/{order_id}"))
                .user(buyer)
                .send()
                .await
                .expect(200);
            match order["status"].as_str() {
                Some("FULFILLED") => return (started, order),
                Some("PENDING") if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                _ => panic!("order {order_id} did not get fulfilled: {order}"),
            }
        }
    }
}

/// An event body starting `days` from now.
fn new_event(title: &str, days: i64, capacity: u32) -> Value {
    json!({
        "title": title,
        "description": "Doors at seven.",
        "venue": "Hall 7",
        "startsAt": Utc::now() + TimeDelta::days(days),
        "capacity": capacity,
        "priceMinor": 0,
        "currency": "EUR",
    })
}

/// The item of a page (`{"items": [...]}`) whose `field` is `value`.
fn item(page: &Value, field: &str, value: &str) -> Value {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item[field] == value)
        .unwrap_or_else(|| panic!("no item with {field} {value} in {page}"))
        .clone()
}

fn id(value: &Value, field: &str) -> String {
    value[field]
        .as_str()
        .unwrap_or_else(|| panic!("no {field} in {value}"))
        .to_owned()
}

#[tokio::test]
async fn sign_up_makes_an_attendee_and_a_cli_promotion_shows_in_the_next_token() {
    let server = Ticketd::start();
    let user = server.sign_up("ada@example.org", "Ada Lovelace").await;
    let claims = user.claims();
    assert_eq!(claims["email"], "ada@example.org");
    assert_eq!(claims["name"], "Ada Lovelace");
    assert_eq!(claims["cognito:groups"], json!(["attendee"]));
    server
        .post("/events")
        .user(&user)
        .json(&new_event("Too early", 30, 10))
        .send()
        .await
        .expect_error(403, "organizer group");

    // While the server runs, on the same data directory.
    let printed = server.users_cli(&["promote", "ada@example.org"]);
    assert!(
        printed.contains("ada@example.org is an organizer"),
        "{printed}"
    );

    // The token in hand keeps the groups it was issued with.
    server
        .post("/events")
        .user(&user)
        .json(&new_event("Still too early", 30, 10))
        .send()
        .await
        .expect_error(403, "organizer group");
    let again = server.sign_in(&user.email, &user.password).await;
    assert_eq!(
        again.claims()["cognito:groups"],
        json!(["organizer", "attendee"])
    );
    let event = server
        .post("/events")
        .user(&again)
        .json(&new_event("Promoted", 30, 10))
        .send()
        .await
        .expect(201);
    assert_eq!(event["organizedByYou"], true);
    assert!(
        server
            .users_cli(&["list"])
            .contains("ada@example.org\tAda Lovelace\torganizer,attendee")
    );
}

#[tokio::test]
async fn a_free_registration_goes_from_checkout_to_a_ticket_scanned_once() {
    let scene = Scene::start().await;
    let Scene {
        server,
        organizer,
        rival,
        attendee,
        ..
    } = &scene;
    let event = scene.free_event(organizer, "Saga Night", 50).await;
    let event_id = id(&event, "id");
    assert_eq!(event["title"], "Saga Night");
    assert_eq!(event["priceMinor"], 0);
    assert_eq!(event["organizedByYou"], true);
    let open = json!({"capacity": 50, "held": 0, "sold": 0, "remaining": 50, "checkedIn": 0,
                      "status": "OPEN", "ticketTypes": [{
                          "ticketTypeId": event["ticketTypes"][0]["id"], "name": "General admission",
                          "quota": 50, "held": 0, "sold": 0, "remaining": 50, "checkedIn": 0,
                          "status": "ON_SALE"}]});
    assert_eq!(event["availability"], open);

    // Attendees see it among upcoming events, with availability; the organizer among theirs.
    let upcoming = server
        .get("/events")
        .user(attendee)
        .send()
        .await
        .expect(200);
    let listed = item(&upcoming, "id", &event_id);
    assert_eq!(listed["organizedByYou"], false);
    assert_eq!(listed["availability"], open);
    let mine = server
        .get("/events?mine=true")
        .user(organizer)
        .send()
        .await
        .expect(200);
    assert_eq!(mine["items"][0]["id"], event_id.as_str());
    let fetched = server
        .get(&format!("/events/{event_id}"))
        .user(attendee)
        .send()
        .await
        .expect(200);
    assert_eq!(fetched["venue"], "Hall 7");
    let stats_path = format!("/events/{event_id}/stats");
    let stats = server
        .get(&stats_path)
        .user(organizer)
        .send()
        .await
        .expect(200);
    assert_eq!(stats, open);

    // Free checkout: no payment, an order that the registration fulfils.
    let (started, order) = scene.register(attendee, &event_id).await;
    assert_eq!(started["checkoutUrl"], Value::Null);
    assert!(id(&started, "orderId").starts_with("free_"), "{started}");
    assert_eq!(order["orderId"], started["orderId"]);
    assert_eq!(order["eventId"], event_id.as_str());
    assert_eq!(order["amountMinor"], 0);
    assert!(
        order["tickets"][0]["download"]["url"].is_string(),
        "{order}"
    );
    let stats = server
        .get(&stats_path)
        .user(organizer)
        .send()
        .await
        .expect(200);
    assert_eq!(
        stats,
        json!({"capacity": 50, "held": 0, "sold": 1, "remaining": 49, "checkedIn": 0,
               "status": "OPEN", "ticketTypes": [{
                   "ticketTypeId": event["ticketTypes"][0]["id"], "name": "General admission",
                   "quota": 50, "held": 0, "sold": 1, "remaining": 49, "checkedIn": 0,
                   "status": "ON_SALE"}]})
    );

    let tickets = server
        .get("/me/tickets")
        .user(attendee)
        .send()
        .await
        .expect(200);
    let ticket = item(&tickets, "orderId", &id(&order, "orderId"));
    let ticket_id = id(&ticket, "ticketId");
    assert_eq!(ticket["status"], "VALID");
    assert_eq!(ticket["attendeeName"], "Zo\u{eb} \u{c5}ngstr\u{f6}m");
    assert_eq!(ticket["ticketId"], order["tickets"][0]["ticketId"]);

    // The download link serves the PDF; its QR carries the ticket code.
    let link = server
        .get(&format!("/tickets/{ticket_id}/download"))
        .user(attendee)
        .send()
        .await
        .expect(200);
    let file = server
        .raw(Method::GET, link["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(file.status(), StatusCode::OK);
    assert_eq!(file.headers()["content-type"], "application/pdf");
    let pdf = file.bytes().await.unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    let text = ticket_testkit::pdf::text(&pdf);
    assert!(text.contains("Saga Night"), "{text}");
    assert!(text.contains("Zo\u{eb} \u{c5}ngstr\u{f6}m"), "{text}");
    let codes = ticket_testkit::pdf::scan(&pdf);
    assert_eq!(codes.len(), 1, "{codes:?}");
    let code = json!({ "code": codes[0] });

    // At the door: another organizer's scanner redeems nothing; the first scan admits, the
    // second says when; garbage is invalid.
    let scanned = server
        .post("/scan")
        .user(rival)
        .json(&code)
        .send()
        .await
        .expect(200);
    assert_eq!(
        scanned,
        json!({"result": "NOT_YOUR_EVENT", "eventId": event_id})
    );
    let scanned = server
        .post("/scan")
        .user(organizer)
        .json(&code)
        .send()
        .await
        .expect(200);
    assert_eq!(scanned["result"], "VALID");
    assert_eq!(scanned["attendeeName"], "Zo\u{eb} \u{c5}ngstr\u{f6}m");
    assert_eq!(scanned["ticketId"], ticket_id.as_str());
    assert_eq!(scanned["eventTitle"], "Saga Night");
    let rescanned = server
        .post("/scan")
        .user(organizer)
        .json(&code)
        .send()
        .await
        .expect(200);
    assert_eq!(rescanned["result"], "USED");
    assert!(rescanned["usedAt"].is_string(), "{rescanned}");
    let garbage = server
        .post("/scan")
        .user(organizer)
        .json(&json!({"code": "T1.NOPE.AAAA"}))
        .send()
        .await
        .expect(200);
    assert_eq!(garbage["result"], "INVALID");
    assert!(garbage["reason"].is_string(), "{garbage}");
    let stats = server
        .get(&stats_path)
        .user(organizer)
        .send()
        .await
        .expect(200);
    assert_eq!(stats["checkedIn"], 1);

    // The attendee list, as JSON and as CSV.
    let attendees_path = format!("/events/{event_id}/attendees");
    let attendees = server
        .get(&attendees_path)
        .user(organizer)
        .send()
        .await
        .expect(200);
    let row = item(&attendees, "ticketId", &ticket_id);
    assert_eq!(row["name"], "Zo\u{eb} \u{c5}ngstr\u{f6}m");
    assert_eq!(row["email"], "zoe@example.org");
    assert_eq!(row["status"], "USED");
    assert_eq!(row["checkedInAt"], rescanned["usedAt"]);
    let csv = server
        .get(&attendees_path)
        .user(organizer)
        .header("accept", "text/csv")
        .send()
        .await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv.header("content-type").starts_with("text/csv"));
    assert!(csv.header("content-disposition").starts_with("attachment"));
    let csv = csv.text();
    let mut lines = csv.split("\r\n");
    assert_eq!(
        lines.next(),
        Some("name,email,ticketType,status,ticketId,registeredAt,checkedInAt")
    );
    let line = lines
        .find(|line| line.contains(&ticket_id))
        .unwrap_or_else(|| panic!("the ticket's row in {csv}"));
    assert!(
        line.starts_with(&format!(
            "Zo\u{eb} \u{c5}ngstr\u{f6}m,zoe@example.org,General admission,USED,{ticket_id},"
        )),
        "{line}"
    );

    let tickets = server
        .get("/me/tickets")
        .user(attendee)
        .send()
        .await
        .expect(200);
    let used = item(&tickets, "ticketId", &ticket_id);
    assert_eq!(used["status"], "USED");
    assert_eq!(used["usedAt"], rescanned["usedAt"]);
}

/// What a role gets from a route: the status, and for an error a part of its message.
type Expected = (u16, &'static str);

#[tokio::test]
async fn every_route_answers_each_kind_of_caller_as_its_access_says() {
    let scene = Scene::start().await;
    let Scene {
        server,
        organizer,
        rival,
        attendee,
        stranger,
    } = &scene;
    let event = scene.free_event(organizer, "Access Night", 100).await;
    let event_id = id(&event, "id");
    let (_, order) = scene.register(attendee, &event_id).await;
    let order_id = id(&order, "orderId");
    let ticket_id = id(&order["tickets"][0], "ticketId");
    // Another buyer's order, for the refund: the attendee's ticket stays valid for the rest.
    let (_, refundable) = scene.register(stranger, &event_id).await;
    let refundable_id = id(&refundable, "orderId");
    // An event of its own to cancel: the others go on selling.
    let doomed = scene.free_event(organizer, "Access Cancelled", 10).await;
    let doomed_id = id(&doomed, "id");

    const GROUP: &str = "organizer group";
    const NOT_YOURS: &str = "not your";
    for route in ROUTES {
        let (method, path, body, expected): (Method, String, Option<Value>, [Expected; 4]) =
            match route.operation_id {
                // By caller: attendee (the buyer), organizer (of the event), rival (another
                // organizer), stranger (another attendee).
                "createEvent" => (
                    Method::POST,
                    "/events".into(),
                    Some(new_event("Access check", 30, 5)),
                    [(403, GROUP), (201, ""), (201, ""), (403, GROUP)],
                ),
                "listEvents" => (Method::GET, "/events".into(), None, [(200, ""); 4]),
                "getEvent" => (
                    Method::GET,
                    format!("/events/{event_id}"),
                    None,
                    [(200, ""); 4],
                ),
                // The event as it is, renamed: only its organizer may, naming version 1.
                "updateEvent" => (
                    Method::PUT,
                    format!("/events/{event_id}"),
                    Some(json!({
                        "title": "Access Night, edited",
                        "venue": event["venue"],
                        "startsAt": event["startsAt"],
                        "timeZone": event["timeZone"],
                        "capacity": event["capacity"],
                        "ticketTypes": event["ticketTypes"],
                    })),
                    [(403, GROUP), (200, ""), (403, NOT_YOURS), (403, GROUP)],
                ),
                "publishEvent" => (
                    Method::POST,
                    format!("/events/{event_id}/publish"),
                    None,
                    [(403, GROUP), (200, ""), (403, NOT_YOURS), (403, GROUP)],
                ),
                // The event to cancel below: the others go on selling.
                "unpublishEvent" => (
                    Method::POST,
                    format!("/events/{doomed_id}/unpublish"),
                    None,
                    [(403, GROUP), (200, ""), (403, NOT_YOURS), (403, GROUP)],
                ),
                "cancelEvent" => (
                    Method::POST,
                    format!("/events/{doomed_id}/cancel"),
                    None,
                    [(403, GROUP), (202, ""), (403, NOT_YOURS), (403, GROUP)],
                ),
                // Listed after the cancellation above.
                "getEventCancellation" => (
                    Method::GET,
                    format!("/events/{doomed_id}/cancellation"),
                    None,
                    [(403, GROUP), (200, ""), (403, NOT_YOURS), (403, GROUP)],
                ),
                "getEventStats" => (
                    Method::GET,
                    format!("/events/{event_id}/stats"),
                    None,
                    [(403, GROUP), (200, ""), (403, NOT_YOURS), (403, GROUP)],
                ),
                // Every user is an attendee, organizers too.
                "checkout" => (
                    Method::POST,
                    format!("/events/{event_id}/checkout"),
                    None,
                    [(201, ""); 4],
                ),
                "quoteOrder" => (
                    Method::POST,
                    format!("/events/{event_id}/quote"),
                    None,
                    [(200, ""); 4],
                ),
                "createPromoCode" => (
                    Method::POST,
                    format!("/events/{event_id}/promo-codes"),
                    Some(json!({"code": "ACCESS-100", "percentOff": 100, "maxUses": 1})),
                    [(403, GROUP), (201, ""), (403, NOT_YOURS), (403, GROUP)],
                ),
                "updatePromoCode" => (
                    Method::PATCH,
                    format!("/events/{event_id}/promo-codes/access-100"),
                    Some(json!({"maxUses": 2})),
                    [(403, GROUP), (200, ""), (403, NOT_YOURS), (403, GROUP)],
                ),
                "listPromoCodes" => (
                    Method::GET,
                    format!("/events/{event_id}/promo-codes"),
                    None,
                    [(403, GROUP), (200, ""), (403, NOT_YOURS), (403, GROUP)],
                ),
                "listAttendees" => (
                    Method::GET,
                    format!("/events/{event_id}/attendees"),
                    None,
                    [(403, GROUP), (200, ""), (403, NOT_YOURS), (403, GROUP)],
                ),
                "getOrder" => (
                    Method::GET,
                    format!("/orders/{order_id}"),
                    None,
                    [
                        (200, ""),
                        (403, NOT_YOURS),
                        (403, NOT_YOURS),
                        (403, NOT_YOURS),
                    ],
                ),
                // Only the event's organizer; refunding is asked of the organizer first.
                "refundOrder" => (
                    Method::POST,
                    format!("/orders/{refundable_id}/refund"),
                    None,
                    [
                        (403, GROUP),
                        (200, ""),
                        (403, "not for one of your events"),
                        (403, GROUP),
                    ],
                ),
                // The buyer's own order; this event does not let buyers cancel.
                "cancelOrder" => (
                    Method::POST,
                    format!("/orders/{order_id}/cancel"),
                    None,
                    [
                        (409, "does not let buyers cancel"),
                        (403, NOT_YOURS),
                        (403, NOT_YOURS),
                        (403, NOT_YOURS),
                    ],
                ),
                "listMyTickets" => (Method::GET, "/me/tickets".into(), None, [(200, ""); 4]),
                // Listed before the PUT: no organizer has saved one yet.
                "getOrganizerProfile" => (
                    Method::GET,
                    "/me/organizer-profile".into(),
                    None,
                    [
                        (403, GROUP),
                        (404, "organizer profile"),
                        (404, "organizer profile"),
                        (403, GROUP),
                    ],
                ),
                "putOrganizerProfile" => (
                    Method::PUT,
                    "/me/organizer-profile".into(),
                    Some(json!({"displayName": "Access Arts", "contactEmail": "a@access.example"})),
                    [(403, GROUP), (200, ""), (200, ""), (403, GROUP)],
                ),
                "downloadTicket" => (
                    Method::GET,
                    format!("/tickets/{ticket_id}/download"),
                    None,
                    [
                        (200, ""),
                        (403, NOT_YOURS),
                        (403, NOT_YOURS),
                        (403, NOT_YOURS),
                    ],
                ),
                // The buyer's ticket, renamed to the name it has: everyone else is refused.
                "renameTicketHolder" => (
                    Method::PATCH,
                    format!("/tickets/{ticket_id}"),
                    Some(json!({"holderName": "Access Holder"})),
                    [
                        (200, ""),
                        (403, NOT_YOURS),
                        (403, NOT_YOURS),
                        (403, NOT_YOURS),
                    ],
                ),
                "scanTicket" => (
                    Method::POST,
                    "/scan".into(),
                    Some(json!({"code": "not a ticket"})),
                    [(403, GROUP), (200, ""), (200, ""), (403, GROUP)],
                ),
                // Public: Stripe's signature, not a token, admits it.
                "stripeWebhook" => continue,
                other => panic!("route {other} is not covered by this test"),
            };
        let version = format!("\"{}\"", event["version"]);
        let call = |user: Option<&User>| {
            // Only an edit reads If-Match: the version the event was published at, until its
            // organizer's edit.
            let mut call = server
                .api(method.clone(), &path)
                .header("If-Match", &version);
            if let Some(user) = user {
                call = call.user(user);
            }
            if let Some(body) = &body {
                call = call.json(body);
            }
            call.send()
        };
        let anonymous = call(None).await;
        assert_eq!(
            anonymous.status,
            StatusCode::UNAUTHORIZED,
            "{method} {path}"
        );
        assert_eq!(anonymous.json(), json!({"message": "Unauthorized"}));
        let callers = [attendee, organizer, rival, stranger];
        for (caller, (status, needle)) in callers.into_iter().zip(expected) {
            let answer = call(Some(caller)).await;
            assert_eq!(
                answer.status.as_u16(),
                status,
                "{method} {path} as {}: {}",
                caller.email,
                answer.text()
            );
            assert!(
                answer.error().contains(needle),
                "{method} {path} as {}: `{needle}` not in {}",
                caller.email,
                answer.text()
            );
        }
    }
}

#[tokio::test]
async fn expired_forged_and_foreign_tokens_are_refused_like_no_token() {
    let scene = Scene::start().await;
    let server = &scene.server;
    let organizer = &scene.organizer;
    server
        .get("/events")
        .user(organizer)
        .send()
        .await
        .expect(200);

    let key = SigningKey::load_or_create(server.data_dir.path()).unwrap();
    let claims = organizer.claims();
    let now = Utc::now().timestamp();
    let with = |changes: Value| {
        let mut claims = claims.clone();
        for (name, value) in changes.as_object().unwrap() {
            claims[name] = value.clone();
        }
        claims
    };
    let (header, _, signature) = {
        let mut parts = organizer.token.split('.');
        (
            parts.next().unwrap().to_owned(),
            parts.next().unwrap().to_owned(),
            parts.next().unwrap().to_owned(),
        )
    };
    let b64 = |value: &Value| {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string())
    };
    let refused = [
        (
            "expired",
            key.sign(&with(json!({"iat": now - 7200, "exp": now - 3600})))
                .unwrap(),
        ),
        (
            "another audience",
            key.sign(&with(json!({"aud": "someone-else"}))).unwrap(),
        ),
        (
            "another issuer",
            key.sign(&with(json!({"iss": "http://127.0.0.1:1/auth"})))
                .unwrap(),
        ),
        ("another key", SigningKey::generate().sign(&claims).unwrap()),
        (
            "a changed payload",
            format!(
                "{header}.{}.{signature}",
                b64(&with(json!({"sub": "someone-else"})))
            ),
        ),
        (
            "no signature",
            format!(
                "{}.{}.",
                b64(&json!({"alg": "none", "typ": "JWT"})),
                b64(&claims)
            ),
        ),
        ("garbage", "not-a-jwt".to_owned()),
    ];
    for (what, token) in refused {
        let answer = server.get("/events").token(&token).send().await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{what}");
        assert_eq!(answer.json(), json!({"message": "Unauthorized"}), "{what}");
    }
}

#[tokio::test]
async fn malformed_requests_are_400s_that_name_the_problem() {
    let scene = Scene::start().await;
    let Scene {
        server, organizer, ..
    } = &scene;
    let event = scene.free_event(organizer, "Strict Night", 10).await;
    let event_id = id(&event, "id");
    let create = |body: Vec<u8>| server.post("/events").user(organizer).body(body).send();

    create(b"{\"title\": ".to_vec())
        .await
        .expect_error(400, "not valid JSON");
    create(b"[1, 2]".to_vec())
        .await
        .expect_error(400, "must be a JSON object");
    create(Vec::new())
        .await
        .expect_error(400, "must be a JSON object");
    let mut wrong_type = new_event("Typed", 30, 10);
    wrong_type["capacity"] = json!("ten");
    create(wrong_type.to_string().into_bytes())
        .await
        .expect_error(400, "`capacity`: invalid type: string \"ten\"");
    let mut missing = new_event("Incomplete", 30, 10);
    missing.as_object_mut().unwrap().remove("venue");
    create(missing.to_string().into_bytes())
        .await
        .expect_error(400, "missing field `venue`");
    let mut unreadable_time = new_event("Whenever", 30, 10);
    unreadable_time["startsAt"] = json!("next tuesday");
    create(unreadable_time.to_string().into_bytes())
        .await
        .expect_error(400, "invalid request body");

    // Every invalid field is named in `fields`.
    let invalid = json!({"title": " ", "venue": "Hall\n7", "startsAt": Utc::now() - TimeDelta::days(1),
                         "capacity": 0, "priceMinor": -1, "currency": "EURO"});
    let answer = create(invalid.to_string().into_bytes()).await;
    answer.expect_error(400, "invalid fields");
    let mut fields: Vec<String> = answer.json()["fields"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    fields.sort();
    assert_eq!(
        fields,
        [
            "capacity",
            "currency",
            "priceMinor",
            "startsAt",
            "title",
            "venue"
        ]
    );

    // Over 64 KiB, on any route.
    let just_over = vec![b' '; MAX_BODY_BYTES + 1];
    let mut huge = new_event("Huge", 30, 10);
    huge["description"] = json!("x".repeat(2 * MAX_BODY_BYTES));
    for (method, path) in [
        (Method::POST, "/events".to_owned()),
        (Method::POST, "/scan".to_owned()),
        (Method::POST, format!("/events/{event_id}/checkout")),
    ] {
        server
            .api(method.clone(), &path)
            .user(organizer)
            .body(just_over.clone())
            .send()
            .await
            .expect_error(400, "larger than 65536 bytes");
        server
            .api(method, &path)
            .user(organizer)
            .json(&huge)
            .send()
            .await
            .expect_error(400, "larger than 65536 bytes");
    }

    // Scan bodies.
    let scan = |body: Value| server.post("/scan").user(organizer).json(&body).send();
    scan(json!({}))
        .await
        .expect_error(400, "missing field `code`");
    scan(json!({"code": 7}))
        .await
        .expect_error(400, "`code`: invalid type: integer `7`");
    scan(json!({"code": "T1", "door": 3}))
        .await
        .expect_error(400, "unknown field `door`");
    scan(json!({"code": "T".repeat(1025)}))
        .await
        .expect_error(400, "at most 1024 characters");

    // Ids that cannot be ids.
    for (method, path) in [
        (Method::GET, "/events/not-a-uuid"),
        (Method::GET, "/events/1234/stats"),
        (Method::GET, "/events/%20/attendees"),
        (
            Method::POST,
            "/events/0191c0de-0000-7000-8000-00000000000g/checkout",
        ),
        (Method::GET, "/tickets/ticket-1/download"),
    ] {
        server
            .api(method, path)
            .user(organizer)
            .send()
            .await
            .expect_error(400, "`id` must be a UUID");
    }
    for order in ["bad!id", "%E2%82%AC", &"x".repeat(300)] {
        server
            .get(&format!("/orders/{order}"))
            .user(organizer)
            .send()
            .await
            .expect_error(400, "`id` must be an order id");
    }

    // Query parameters.
    let attendees = format!("/events/{event_id}/attendees");
    for (path, needle) in [
        ("/events?limit=0", "`limit` must be"),
        ("/events?limit=101", "`limit` must be"),
        ("/events?limit=ten", "`limit` must be"),
        ("/events?limit=1&limit=2", "given more than once"),
        ("/events?mine=yes", "`mine` must be true or false"),
        (
            "/events?cursor=not-a-cursor",
            "`cursor` is not a valid paging cursor",
        ),
        (
            "/events?mine=true&cursor=%00",
            "`cursor` is not a valid paging cursor",
        ),
        ("/me/tickets?limit=-1", "`limit` must be"),
        (
            "/me/tickets?cursor=zzz",
            "`cursor` is not a valid paging cursor",
        ),
        (&format!("{attendees}?limit=1000"), "`limit` must be"),
        (
            &format!("{attendees}?cursor=zzz"),
            "`cursor` is not a valid paging cursor",
        ),
    ] {
        server
            .get(path)
            .user(organizer)
            .send()
            .await
            .expect_error(400, needle);
    }
    server
        .get("/events?mine=true")
        .user(&scene.attendee)
        .send()
        .await
        .expect_error(403, "needs the organizer group");
}

#[tokio::test]
async fn unknown_resources_are_404s_and_a_full_event_is_409() {
    let scene = Scene::start().await;
    let Scene {
        server,
        organizer,
        attendee,
        stranger,
        ..
    } = &scene;
    let nobody = uuid::Uuid::now_v7();
    for (method, path, needle) in [
        (Method::GET, format!("/events/{nobody}"), "no such event"),
        (
            Method::GET,
            format!("/events/{nobody}/stats"),
            "no such event",
        ),
        (
            Method::GET,
            format!("/events/{nobody}/attendees"),
            "no such event",
        ),
        (
            Method::POST,
            format!("/events/{nobody}/checkout"),
            "no such event",
        ),
        (
            Method::GET,
            format!("/tickets/{nobody}/download"),
            "no such ticket",
        ),
        (
            Method::GET,
            "/orders/cs_test_nobody".to_owned(),
            "no such order",
        ),
        (
            Method::GET,
            format!("/orders/free_{}", nobody.simple()),
            "no such order",
        ),
    ] {
        server
            .api(method, &path)
            .user(organizer)
            .send()
            .await
            .expect_error(404, needle);
    }
    for path in ["/nope", "/events/a/b/c", "/me"] {
        server
            .get(path)
            .user(organizer)
            .send()
            .await
            .expect_error(404, "not found");
    }

    let event = scene.free_event(organizer, "One Seat", 1).await;
    let checkout = format!("/events/{}/checkout", id(&event, "id"));
    server
        .post(&checkout)
        .user(attendee)
        .send()
        .await
        .expect(201);
    server
        .post(&checkout)
        .user(stranger)
        .send()
        .await
        .expect_error(409, "sold out");
}

#[tokio::test]
async fn listings_page_with_the_cursor_they_hand_out() {
    let scene = Scene::start().await;
    let Scene {
        server,
        organizer,
        attendee,
        ..
    } = &scene;
    let mut created = Vec::new();
    for days in [9, 3, 6] {
        let event = server
            .post("/events")
            .user(organizer)
            .json(&new_event(&format!("In {days} days"), days, 10))
            .send()
            .await
            .expect(201);
        server
            .post(&format!("/events/{}/publish", id(&event, "id")))
            .user(organizer)
            .send()
            .await
            .expect(200);
        created.push((days, id(&event, "id")));
    }
    created.sort();
    let soonest_first: Vec<String> = created.into_iter().map(|(_, id)| id).collect();

    for (user, listing) in [
        (attendee, "/events?limit=2"),
        (organizer, "/events?mine=true&limit=2"),
    ] {
        let first = server.get(listing).user(user).send().await.expect(200);
        assert_eq!(first["items"].as_array().unwrap().len(), 2, "{first}");
        let cursor = first["nextCursor"].as_str().expect("a cursor");
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("cursor", cursor)
            .finish();
        let second = server
            .get(&format!("{listing}&{query}"))
            .user(user)
            .send()
            .await
            .expect(200);
        assert_eq!(second["nextCursor"], Value::Null, "{second}");
        let ids: Vec<String> = [&first, &second]
            .iter()
            .flat_map(|page| page["items"].as_array().unwrap().iter())
            .map(|item| id(item, "id"))
            .collect();
        assert_eq!(ids, soonest_first, "{listing}");
    }
}

#[tokio::test]
async fn cors_lets_in_the_sites_origin_only() {
    let server = Ticketd::start();
    let preflight = |origin: &str| {
        server
            .raw(Method::OPTIONS, &format!("{}/api/events", server.url))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization,content-type",
            )
            .send()
    };
    let allowed = preflight(&server.url).await.unwrap();
    assert!(allowed.status().is_success(), "{}", allowed.status());
    let headers = allowed.headers();
    assert_eq!(headers["access-control-allow-origin"], server.url.as_str());
    let methods = headers["access-control-allow-methods"].to_str().unwrap();
    assert!(methods.contains("POST"), "{methods}");
    let allowed_headers = headers["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(
        allowed_headers.contains("authorization"),
        "{allowed_headers}"
    );
    assert!(
        allowed_headers.contains("content-type"),
        "{allowed_headers}"
    );

    // tower-http names the one allowed origin whatever the request's; a browser calling from
    // anywhere else finds its origin missing and refuses.
    let foreign = "https://evil.example";
    let allowed_for = |headers: &reqwest::header::HeaderMap| {
        headers
            .get("access-control-allow-origin")
            .map(|value| value.to_str().unwrap().to_owned())
    };
    let refused = preflight(foreign).await.unwrap();
    let answer = allowed_for(refused.headers());
    assert!(
        answer.as_deref() != Some(foreign) && answer.as_deref() != Some("*"),
        "{answer:?}"
    );
    let simple = server
        .raw(Method::GET, &format!("{}/api/events", server.url))
        .header("origin", foreign)
        .send()
        .await
        .unwrap();
    let answer = allowed_for(simple.headers());
    assert!(
        answer.as_deref() != Some(foreign) && answer.as_deref() != Some("*"),
        "{answer:?}"
    );
}
