//! The API's handlers (`ticket_core::api`) on the embedded stack: SQLite store, ticket file
//! directory, a fake payment provider, and registrations run by ticketd's ASL executor. Every
//! route with each role and each class of error.

mod support;

use std::sync::{Arc, Mutex};

use asl::{ExecutionStatus, Executor, ExecutorOptions};
use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Value, json};
use ticket_core::api::{self, ApiPorts, ApiRequest, ApiResponse, MAX_BODY_BYTES, ROUTES};
use ticket_core::testing::{FakePayments, FlakyStore};
use ticket_core::{
    Caller, CheckoutRequest, CheckoutSession, Clock, EventId, IdentityError, KeyId, ManualClock,
    OrderId, OrderStatus, Payments, PaymentsError, RandomIds, Refund, RefundRequest, Store,
    TicketId, TicketSigner, TicketStatus, stripe_webhook,
};
use ticketd::registration::{self, LocalWorkflow};

use support::{Adapters, WEBHOOK_SECRET};

const SITE: &str = "https://tickets.example.org";
const ORGANIZER: &str = "organizer-1";

/// Records every checkout request, then hands it to the fake provider.
struct RecordingPayments {
    inner: Arc<FakePayments>,
    checkouts: Mutex<Vec<CheckoutRequest>>,
}

#[async_trait]
impl Payments for RecordingPayments {
    async fn create_checkout(
        &self,
        request: &CheckoutRequest,
    ) -> Result<CheckoutSession, PaymentsError> {
        self.checkouts.lock().unwrap().push(request.clone());
        self.inner.create_checkout(request).await
    }

    async fn expire_checkout(&self, session: &OrderId) -> Result<(), PaymentsError> {
        self.inner.expire_checkout(session).await
    }

    async fn get_checkout(
        &self,
        session: &OrderId,
    ) -> Result<Option<ticket_core::SessionSnapshot>, PaymentsError> {
        self.inner.get_checkout(session).await
    }

    async fn refund(&self, request: &RefundRequest) -> Result<Refund, PaymentsError> {
        self.inner.refund(request).await
    }
}

struct Stack {
    adapters: Adapters,
    clock: Arc<ManualClock>,
    executor: Arc<Executor>,
    payments: Arc<RecordingPayments>,
    ports: ApiPorts,
}

impl Stack {
    async fn new() -> Self {
        let clock = Arc::new(ManualClock::new(Utc::now()));
        let adapters = Adapters::new(clock.clone());
        let steps = Arc::new(adapters.steps(adapters.store.clone()));
        let executor = registration::open_executor(
            &adapters.dir.path().join("executions.sqlite3"),
            registration::bindings(steps, |_, function| function),
            ExecutorOptions {
                time_scale: 0.0,
                ..ExecutorOptions::default()
            },
        )
        .await
        .unwrap();
        let payments = Arc::new(RecordingPayments {
            inner: adapters.payments.clone(),
            checkouts: Mutex::default(),
        });
        let ports = ApiPorts {
            store: adapters.store.clone(),
            files: adapters.files.clone(),
            payments: payments.clone(),
            workflow: Arc::new(LocalWorkflow::new(executor.clone())),
            clock: clock.clone(),
            ids: Arc::new(RandomIds),
            verifier: Arc::new(adapters.signer.verifier()),
            webhook_secrets: vec![WEBHOOK_SECRET.to_owned()],
            site_url: SITE.into(),
            hold_minutes: api::HOLD_MINUTES,
        };
        Self {
            adapters,
            clock,
            executor,
            payments,
            ports,
        }
    }

    async fn call(&self, request: ApiRequest) -> ApiResponse {
        api::handle(&self.ports, request).await
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Creates an event through the API as `caller`.
    async fn create_event(&self, caller: &Who, capacity: u32, price_minor: i64) -> Value {
        let response = self
            .call(req("POST", "/events", caller).with_json(&self.new_event(capacity, price_minor)))
            .await;
        assert_eq!(response.status, 201, "{}", body_text(&response));
        response.json_body()
    }

    fn new_event(&self, capacity: u32, price_minor: i64) -> Value {
        json!({
            "title": "Rust Meetup",
            "description": "Talks and pizza",
            "venue": "Hall 1",
            "startsAt": self.now() + TimeDelta::days(7),
            "capacity": capacity,
            "priceMinor": price_minor,
            "currency": "EUR",
        })
    }

    async fn checkout(&self, caller: &Who, event_id: &str) -> ApiResponse {
        self.call(req("POST", "/events/{id}/checkout", caller).with_path_param("id", event_id))
            .await
    }

    /// A free checkout whose registration ran to the end: the order id and the ticket id.
    async fn free_ticket(&self, caller: &Who, event_id: &str) -> (String, TicketId) {
        let response = self.checkout(caller, event_id).await;
        assert_eq!(response.status, 201, "{}", body_text(&response));
        let order_id = response.json_body()["orderId"].as_str().unwrap().to_owned();
        let summary = self.executor.wait(&order_id).await.unwrap();
        assert_eq!(summary.status, ExecutionStatus::Succeeded, "{summary:?}");
        let order = self.adapters.order(&OrderId::from(order_id.clone())).await;
        (order_id, order.ticket_id.expect("a ticket"))
    }

    async fn taken(&self, event_id: &str) -> u32 {
        self.adapters.seats(event_id.parse().unwrap()).await.taken
    }
}

/// A caller: claims as the gateway hands them over, or none.
#[derive(Clone)]
enum Who {
    User {
        sub: &'static str,
        groups: &'static str,
        name: &'static str,
    },
    Nobody,
}

const ORG: Who = Who::User {
    sub: ORGANIZER,
    groups: "[organizer attendee]",
    name: "Olga Organizer",
};
const OTHER_ORG: Who = Who::User {
    sub: "organizer-2",
    groups: "[organizer attendee]",
    name: "Otto Other",
};
const ATTENDEE: Who = Who::User {
    sub: "attendee-1",
    groups: "[attendee]",
    name: "Zoë Ångström",
};
const OTHER_ATTENDEE: Who = Who::User {
    sub: "attendee-2",
    groups: "[attendee]",
    name: "Bob",
};
/// In the organizer group only: not allowed to buy.
const ORG_ONLY: Who = Who::User {
    sub: "organizer-3",
    groups: "[organizer]",
    name: "Ollie",
};

impl Who {
    fn caller(&self) -> Result<Caller, IdentityError> {
        match self {
            Who::Nobody => Err(IdentityError::NoClaims),
            Who::User { sub, groups, name } => Caller::from_claims(&json!({
                "sub": sub,
                "cognito:groups": groups,
                "name": name,
                "email": format!("{sub}@example.org"),
            })),
        }
    }
}

fn req(method: &str, route: &str, who: &Who) -> ApiRequest {
    ApiRequest::new(method, route, who.caller())
}

fn body_text(response: &ApiResponse) -> String {
    String::from_utf8_lossy(&response.body).into_owned()
}

/// The response is `status` with a JSON `{"error": …}` body, marked no-store.
fn assert_error(response: &ApiResponse, status: u16) -> String {
    assert_eq!(response.status, status, "{}", body_text(response));
    assert_eq!(
        response.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    assert_eq!(response.header("cache-control"), Some("no-store"));
    response.json_body()["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no error message in {}", body_text(response)))
        .to_owned()
}

/// A request for `route` with any path parameter filled with a fresh UUID.
fn any_request(route: &api::Route, who: &Who) -> ApiRequest {
    let mut request = req(route.method, route.path, who).with_body("{}");
    if route.path.contains("{id}") {
        request = request.with_path_param("id", uuid::Uuid::now_v7().to_string());
    }
    request
}

#[tokio::test]
async fn every_route_but_the_webhook_needs_a_caller() {
    let stack = Stack::new().await;
    for route in ROUTES {
        let response = stack.call(any_request(route, &Who::Nobody)).await;
        if route.access == api::Access::Public {
            // The webhook proves itself with its signature instead.
            assert_eq!(
                assert_error(&response, 400),
                "the Stripe-Signature header is missing",
                "{}",
                route.path
            );
        } else {
            assert_error(&response, 401);
        }
    }
    // No `sub` is no caller either.
    let no_sub = ApiRequest::new(
        "GET",
        "/events",
        Caller::from_claims(&json!({"email": "x"})),
    );
    assert_error(&stack.call(no_sub).await, 401);
}

#[tokio::test]
async fn group_routes_refuse_callers_outside_the_group() {
    let stack = Stack::new().await;
    for route in ROUTES {
        let api::Access::Group(group) = route.access else {
            continue;
        };
        let outsider = if group.name() == "organizer" {
            &ATTENDEE
        } else {
            &ORG_ONLY
        };
        let message = assert_error(&stack.call(any_request(route, outsider)).await, 403);
        assert!(message.contains(group.name()), "{message}");
    }
    let mine = req("GET", "/events", &ATTENDEE).with_query("mine", "true");
    assert_error(&stack.call(mine).await, 403);
    assert_eq!(stack.payments.inner.calls(), 0);
}

#[tokio::test]
async fn unknown_routes_are_404() {
    let stack = Stack::new().await;
    assert_error(&stack.call(req("DELETE", "/events", &ORG)).await, 404);
    assert_error(&stack.call(req("GET", "/admin", &ORG)).await, 404);
}

#[tokio::test]
async fn an_organizer_creates_an_event_and_everyone_sees_it() {
    let stack = Stack::new().await;
    let event = stack.create_event(&ORG, 10, 1500).await;
    assert_eq!(event["title"], "Rust Meetup");
    assert_eq!(event["priceMinor"], 1500);
    assert_eq!(event["currency"], "EUR");
    assert_eq!(event["organizedByYou"], true);
    assert_eq!(event["availability"]["remaining"], 10);
    assert_eq!(event["availability"]["status"], "OPEN");

    let id = event["id"].as_str().unwrap();
    let seen = stack
        .call(req("GET", "/events/{id}", &ATTENDEE).with_path_param("id", id))
        .await;
    assert_eq!(seen.status, 200);
    assert_eq!(seen.json_body()["title"], "Rust Meetup");
    assert_eq!(seen.json_body()["organizedByYou"], false);
    assert!(
        seen.json_body().get("organizerId").is_none(),
        "the organizer's subject stays private"
    );

    let bad = stack
        .call(req("GET", "/events/{id}", &ATTENDEE).with_path_param("id", "not-a-uuid"))
        .await;
    assert!(assert_error(&bad, 400).contains("UUID"));
    let unknown = stack
        .call(
            req("GET", "/events/{id}", &ATTENDEE)
                .with_path_param("id", uuid::Uuid::now_v7().to_string()),
        )
        .await;
    assert_error(&unknown, 404);
}

#[tokio::test]
async fn invalid_events_are_400_naming_each_field() {
    let stack = Stack::new().await;
    let post = |body: Vec<u8>| req("POST", "/events", &ORG).with_body(body);

    let mut event = stack.new_event(10, 100);
    event["title"] = json!(" ");
    event["capacity"] = json!(0);
    event["currency"] = json!("XYZ");
    let response = stack.call(post(event.to_string().into_bytes())).await;
    assert_error(&response, 400);
    let fields = response.json_body()["fields"].clone();
    let mut named: Vec<&str> = fields
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    named.sort();
    assert_eq!(named, ["capacity", "currency", "title"]);

    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"{not json".to_vec(), "not valid JSON"),
        (b"".to_vec(), "JSON object"),
        (b"[1,2]".to_vec(), "JSON object"),
        (
            {
                let mut wrong = stack.new_event(10, 100);
                wrong["capacity"] = json!("ten");
                wrong.to_string().into_bytes()
            },
            "invalid type",
        ),
        (
            {
                let mut missing = stack.new_event(10, 100);
                missing.as_object_mut().unwrap().remove("venue");
                missing.to_string().into_bytes()
            },
            "missing field `venue`",
        ),
    ];
    for (body, says) in cases {
        let message = assert_error(&stack.call(post(body.clone())).await, 400);
        assert!(
            message.contains(says),
            "{message} for {}",
            String::from_utf8_lossy(&body)
        );
    }

    // One byte over 64 KiB is refused however valid it would be; 64 KiB exactly is read.
    let mut padded = stack.new_event(10, 100);
    let size = padded.to_string().len();
    padded["description"] = json!("");
    let filler = MAX_BODY_BYTES - size + "Talks and pizza".len() + 1;
    let mut over = padded.clone();
    over["description"] = json!(" ".repeat(filler));
    assert_eq!(over.to_string().len(), MAX_BODY_BYTES + 1);
    let message = assert_error(&stack.call(post(over.to_string().into_bytes())).await, 400);
    assert!(message.contains("64 KiB"), "{message}");
    let mut at_limit = padded;
    at_limit["description"] = json!(" ".repeat(filler - 1));
    let response = stack.call(post(at_limit.to_string().into_bytes())).await;
    assert_eq!(response.status, 201, "{}", body_text(&response));
}

#[tokio::test]
async fn events_are_listed_upcoming_or_mine_and_paged() {
    let stack = Stack::new().await;
    let first = stack.create_event(&ORG, 5, 0).await;
    let second = stack.create_event(&OTHER_ORG, 5, 0).await;

    let page1 = stack
        .call(req("GET", "/events", &ATTENDEE).with_query("limit", "1"))
        .await;
    assert_eq!(page1.status, 200);
    let body1 = page1.json_body();
    assert_eq!(body1["items"].as_array().unwrap().len(), 1);
    let cursor = body1["nextCursor"]
        .as_str()
        .expect("a next page")
        .to_owned();
    let page2 = stack
        .call(
            req("GET", "/events", &ATTENDEE)
                .with_query("limit", "1")
                .with_query("cursor", cursor),
        )
        .await
        .json_body();
    let ids: Vec<&Value> = vec![&body1["items"][0]["id"], &page2["items"][0]["id"]];
    assert!(
        ids.contains(&&first["id"]) && ids.contains(&&second["id"]),
        "{ids:?}"
    );

    let mine = stack
        .call(req("GET", "/events", &ORG).with_query("mine", "true"))
        .await
        .json_body();
    let items = mine["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], first["id"]);

    for (name, value) in [
        ("limit", "0"),
        ("limit", "101"),
        ("limit", "ten"),
        ("cursor", "!!garbage"),
        ("mine", "yes"),
    ] {
        let response = stack
            .call(req("GET", "/events", &ORG).with_query(name, value))
            .await;
        assert!(
            assert_error(&response, 400).contains(name),
            "{name}={value}"
        );
    }
    let twice = req("GET", "/events", &ORG)
        .with_query("limit", "1")
        .with_query("limit", "2");
    assert_error(&stack.call(twice).await, 400);
}

#[tokio::test]
async fn stats_are_for_the_events_organizer_only() {
    let stack = Stack::new().await;
    let event = stack.create_event(&ORG, 3, 0).await;
    let id = event["id"].as_str().unwrap();
    stack.free_ticket(&ATTENDEE, id).await;
    let stats = |who: &Who| req("GET", "/events/{id}/stats", who).with_path_param("id", id);

    let response = stack.call(stats(&ORG)).await;
    assert_eq!(response.status, 200);
    assert_eq!(
        response.json_body(),
        json!({"capacity": 3, "held": 0, "sold": 1, "remaining": 2, "checkedIn": 0, "status": "OPEN"})
    );
    assert_error(&stack.call(stats(&OTHER_ORG)).await, 403);
    let unknown = req("GET", "/events/{id}/stats", &ORG)
        .with_path_param("id", uuid::Uuid::now_v7().to_string());
    assert_error(&stack.call(unknown).await, 404);
}

#[tokio::test]
async fn a_free_checkout_registers_and_the_order_links_the_ticket() {
    let stack = Stack::new().await;
    let event = stack.create_event(&ORG, 2, 0).await;
    let id = event["id"].as_str().unwrap();

    let response = stack.checkout(&ATTENDEE, id).await;
    assert_eq!(response.status, 201, "{}", body_text(&response));
    let body = response.json_body();
    assert_eq!(body["checkoutUrl"], Value::Null);
    let order_id = body["orderId"].as_str().unwrap().to_owned();
    assert!(
        order_id.starts_with("free_") && order_id.len() <= 80,
        "{order_id}"
    );
    assert_eq!(
        stack.payments.inner.calls(),
        0,
        "a free event skips payment"
    );

    let summary = stack.executor.wait(&order_id).await.unwrap();
    assert_eq!(summary.status, ExecutionStatus::Succeeded, "{summary:?}");

    let get = |who: &Who, id: &str| req("GET", "/orders/{id}", who).with_path_param("id", id);
    let order = stack.call(get(&ATTENDEE, &order_id)).await;
    assert_eq!(order.status, 200);
    assert_eq!(order.header("cache-control"), Some("no-store"));
    let order = order.json_body();
    assert_eq!(order["status"], "FULFILLED");
    assert_eq!(order["eventId"], event["id"]);
    assert_eq!(order["amountMinor"], 0);
    let url = order["download"]["url"].as_str().expect("a download link");
    assert!(
        url.starts_with("http://127.0.0.1:9/files/tickets/"),
        "{url}"
    );
    assert!(order["download"]["expiresAt"].is_string());

    let ticket = stack
        .adapters
        .ticket(order["ticketId"].as_str().unwrap().parse().unwrap())
        .await;
    assert_eq!(ticket.attendee.name, "Zoë Ångström");
    assert_eq!(ticket.attendee.email, "attendee-1@example.org");

    assert_error(&stack.call(get(&OTHER_ATTENDEE, &order_id)).await, 403);
    assert_error(&stack.call(get(&ATTENDEE, "cs_unknown")).await, 404);
    assert_error(&stack.call(get(&ATTENDEE, "../etc")).await, 400);

    // The buyer's tickets, and a fresh link for the owner only.
    let mine = stack
        .call(req("GET", "/me/tickets", &ATTENDEE))
        .await
        .json_body();
    assert_eq!(mine["items"].as_array().unwrap().len(), 1);
    assert_eq!(mine["items"][0]["ticketId"], order["ticketId"]);
    assert_eq!(mine["items"][0]["status"], "VALID");
    let others = stack
        .call(req("GET", "/me/tickets", &OTHER_ATTENDEE))
        .await
        .json_body();
    assert_eq!(others["items"], json!([]));

    let download =
        |who: &Who, id: &str| req("GET", "/tickets/{id}/download", who).with_path_param("id", id);
    let ticket_id = ticket.id.to_string();
    let link = stack.call(download(&ATTENDEE, &ticket_id)).await;
    assert_eq!(link.status, 200);
    assert!(
        link.json_body()["url"]
            .as_str()
            .unwrap()
            .contains(&ticket_id)
    );
    assert_error(
        &stack.call(download(&OTHER_ATTENDEE, &ticket_id)).await,
        403,
    );
    assert_error(&stack.call(download(&ATTENDEE, "nope")).await, 400);
    let unknown = uuid::Uuid::now_v7().to_string();
    assert_error(&stack.call(download(&ATTENDEE, &unknown)).await, 404);
}

#[tokio::test]
async fn a_paid_checkout_opens_a_session_expiring_with_the_hold() {
    let stack = Stack::new().await;
    let event = stack.create_event(&ORG, 2, 2500).await;
    let id = event["id"].as_str().unwrap();

    let response = stack.checkout(&ATTENDEE, id).await;
    assert_eq!(response.status, 201, "{}", body_text(&response));
    let body = response.json_body();
    let order_id = body["orderId"].as_str().unwrap().to_owned();
    assert!(body["checkoutUrl"].as_str().unwrap().contains(&order_id));

    let checkouts = stack.payments.checkouts.lock().unwrap().clone();
    assert_eq!(checkouts.len(), 1);
    let checkout = &checkouts[0];
    assert_eq!(checkout.event_id.to_string(), id);
    assert_eq!(checkout.user_id.as_str(), "attendee-1");
    assert_eq!(checkout.title, "Rust Meetup");
    assert_eq!(checkout.price.amount_minor, 2500);
    assert_eq!(checkout.price.currency.code(), "EUR");
    assert_eq!(
        checkout.customer_email.as_deref(),
        Some("attendee-1@example.org")
    );
    assert_eq!(
        checkout.expires_at,
        stack.now() + TimeDelta::minutes(api::HOLD_MINUTES)
    );
    assert_eq!(
        checkout.success_url,
        format!("{SITE}/?order={{CHECKOUT_SESSION_ID}}")
    );
    assert_eq!(checkout.cancel_url, format!("{SITE}/?event={id}"));
    let hold = stack
        .adapters
        .store
        .get_hold(checkout.event_id, checkout.hold_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(hold.expires_at, checkout.expires_at);

    let order = stack.adapters.order(&OrderId::from(order_id.clone())).await;
    assert_eq!(order.status, OrderStatus::Pending);
    assert_eq!(order.hold_id, checkout.hold_id);
    assert_eq!(order.amount.amount_minor, 2500);
    let shown = stack
        .call(req("GET", "/orders/{id}", &ATTENDEE).with_path_param("id", &order_id))
        .await
        .json_body();
    assert_eq!(shown["status"], "PENDING");
    assert_eq!(shown["download"], Value::Null);
    assert_eq!(stack.taken(id).await, 1);
}

#[tokio::test]
async fn checkouts_that_cannot_happen_are_refused() {
    let stack = Stack::new().await;
    let event = stack.create_event(&ORG, 1, 2500).await;
    let id = event["id"].as_str().unwrap();

    // The provider fails: the seat goes back and the buyer hears 502.
    stack.payments.inner.faults.fail_next(1);
    let message = assert_error(&stack.checkout(&ATTENDEE, id).await, 502);
    assert_eq!(message, "the payment provider is unavailable, try again");
    assert_eq!(stack.taken(id).await, 0);

    assert_eq!(stack.checkout(&ATTENDEE, id).await.status, 201);
    let calls = stack.payments.inner.calls();
    let message = assert_error(&stack.checkout(&OTHER_ATTENDEE, id).await, 409);
    assert!(message.contains("sold out"), "{message}");
    assert_eq!(
        stack.payments.inner.calls(),
        calls,
        "no payment for a sold-out event"
    );

    let unknown = uuid::Uuid::now_v7().to_string();
    assert_error(&stack.checkout(&ATTENDEE, &unknown).await, 404);
    assert_error(&stack.checkout(&ATTENDEE, "123").await, 400);

    let later = stack.create_event(&ORG, 5, 2500).await;
    stack.clock.advance(TimeDelta::days(8));
    let message = assert_error(
        &stack
            .checkout(&ATTENDEE, later["id"].as_str().unwrap())
            .await,
        409,
    );
    assert!(message.contains("started"), "{message}");
    assert_eq!(stack.payments.inner.calls(), calls);
}

#[tokio::test]
async fn a_scan_admits_once_and_only_at_the_organizers_door() {
    let stack = Stack::new().await;
    let event = stack.create_event(&ORG, 5, 0).await;
    let id = event["id"].as_str().unwrap();
    let (_, ticket_id) = stack.free_ticket(&ATTENDEE, id).await;
    let event_id: EventId = id.parse().unwrap();
    let code = stack.adapters.signer.sign(ticket_id, event_id);
    let scan =
        |who: &Who, code: &str| req("POST", "/scan", who).with_json(&json!({ "code": code }));

    let other = stack.call(scan(&OTHER_ORG, &code)).await;
    assert_eq!(other.status, 200);
    assert_eq!(other.json_body()["result"], "NOT_YOUR_EVENT");
    assert_eq!(
        stack.adapters.ticket(ticket_id).await.status,
        TicketStatus::Valid,
        "nothing redeemed"
    );

    let first = stack.call(scan(&ORG, &code)).await;
    assert_eq!(first.status, 200);
    let first = first.json_body();
    assert_eq!(first["result"], "VALID");
    assert_eq!(first["attendeeName"], "Zoë Ångström");

    stack.clock.advance(TimeDelta::minutes(1));
    let again = stack.call(scan(&ORG, &code)).await.json_body();
    assert_eq!(again["result"], "USED");
    let used_at: DateTime<Utc> = serde_json::from_value(again["usedAt"].clone()).unwrap();
    assert_eq!(used_at, stack.now() - TimeDelta::minutes(1));

    // Same key id, other key: a forgery.
    let forger = TicketSigner::from_seed(KeyId::new("RS").unwrap(), &[7; 32]);
    let forged = stack
        .call(scan(&ORG, &forger.sign(ticket_id, event_id)))
        .await;
    assert_eq!(forged.status, 200);
    assert_eq!(forged.json_body()["result"], "INVALID");
    let garbage = stack.call(scan(&ORG, "hello")).await.json_body();
    assert_eq!(garbage["result"], "INVALID");
    // Genuine signature, no such ticket.
    let ghost = stack
        .adapters
        .signer
        .sign(TicketId::from(uuid::Uuid::now_v7()), event_id);
    assert_eq!(
        stack.call(scan(&ORG, &ghost)).await.json_body()["result"],
        "INVALID"
    );

    for body in [
        json!({}),
        json!({"code": 5}),
        json!({"code": "x".repeat(1025)}),
    ] {
        assert_error(
            &stack
                .call(req("POST", "/scan", &ORG).with_json(&body))
                .await,
            400,
        );
    }
}

#[tokio::test]
async fn attendees_come_as_json_pages_or_a_defused_csv() {
    let stack = Stack::new().await;
    let event = stack.create_event(&ORG, 5, 0).await;
    let id = event["id"].as_str().unwrap();
    let tricky = [
        Who::User {
            sub: "attendee-formula",
            groups: "[attendee]",
            name: "=HYPERLINK(\"http://evil\",\"x\")",
        },
        Who::User {
            sub: "attendee-comma",
            groups: "[attendee]",
            name: "Lovelace, Ada",
        },
        Who::User {
            sub: "attendee-at",
            groups: "[attendee]",
            name: "@SUM(A1)",
        },
    ];
    for who in &tricky {
        stack.free_ticket(who, id).await;
    }
    let list = |who: &Who| req("GET", "/events/{id}/attendees", who).with_path_param("id", id);

    let page = stack.call(list(&ORG).with_query("limit", "2")).await;
    assert_eq!(page.status, 200);
    assert_eq!(page.header("cache-control"), Some("no-store"));
    let page = page.json_body();
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    assert_eq!(page["items"][1]["name"], "Lovelace, Ada");
    assert!(page["nextCursor"].is_string());

    let csv = stack
        .call(list(&ORG).with_header("Accept", "text/csv, application/json;q=0.5"))
        .await;
    assert_eq!(csv.status, 200);
    assert_eq!(csv.header("content-type"), Some("text/csv; charset=utf-8"));
    assert_eq!(csv.header("cache-control"), Some("no-store"));
    assert!(
        csv.header("content-disposition")
            .unwrap()
            .starts_with(&format!("attachment; filename=\"attendees-{id}.csv\""))
    );
    let text = body_text(&csv);
    let lines: Vec<&str> = text.split("\r\n").collect();
    assert_eq!(lines.len(), 5, "{text}");
    assert_eq!(
        lines[0],
        "name,email,status,ticketId,registeredAt,checkedInAt"
    );
    assert!(
        lines[1].starts_with(
            "\"'=HYPERLINK(\"\"http://evil\"\",\"\"x\"\")\",attendee-formula@example.org,VALID,"
        ),
        "{}",
        lines[1]
    );
    assert!(lines[2].starts_with("\"Lovelace, Ada\",attendee-comma@example.org,VALID,"));
    assert!(lines[3].starts_with("'@SUM(A1),"));
    assert_eq!(lines[4], "");

    assert_error(&stack.call(list(&OTHER_ORG)).await, 403);
    assert_error(
        &stack
            .call(list(&OTHER_ORG).with_header("accept", "text/csv"))
            .await,
        403,
    );
    assert_error(&stack.call(list(&ATTENDEE)).await, 403);
}

#[tokio::test]
async fn a_failing_store_is_a_generic_503() {
    let stack = Stack::new().await;
    let flaky = Arc::new(FlakyStore::new(stack.adapters.store.clone()));
    let ports = ApiPorts {
        store: flaky.clone() as Arc<dyn Store>,
        ..stack.ports.clone()
    };
    flaky.faults.fail_always();
    for request in [
        req("GET", "/events", &ATTENDEE),
        req("POST", "/events", &ORG).with_json(&stack.new_event(5, 0)),
        req("GET", "/me/tickets", &ATTENDEE),
    ] {
        let response = api::handle(&ports, request).await;
        let message = assert_error(&response, 503);
        assert!(!body_text(&response).contains("injected"), "{message}");
    }
}

// ---- POST /stripe/webhook

impl Stack {
    /// A paid checkout of `who` for a new event of `capacity` seats: the event id and the
    /// checkout Stripe was asked for, with the session id.
    async fn open_checkout(&self, who: &Who, event_id: &str) -> (CheckoutRequest, OrderId) {
        let response = self.checkout(who, event_id).await;
        assert_eq!(response.status, 201, "{}", body_text(&response));
        let order_id = OrderId::from(response.json_body()["orderId"].as_str().unwrap().to_owned());
        let checkout = self
            .payments
            .checkouts
            .lock()
            .unwrap()
            .last()
            .unwrap()
            .clone();
        (checkout, order_id)
    }

    /// `checkout.session.<kind>` for the session, signed as Stripe signs it, now.
    fn delivery(&self, kind: &str, checkout: &CheckoutRequest, session: &OrderId) -> ApiRequest {
        let event = json!({
            "id": format!("evt_{}", uuid::Uuid::now_v7().simple()),
            "object": "event",
            "type": format!("checkout.session.{kind}"),
            "api_version": "2026-09-30.endive",
            "data": {"object": {
                "id": session,
                "object": "checkout.session",
                "payment_status": if kind == "expired" { "unpaid" } else { "paid" },
                "payment_intent": if kind == "expired" { Value::Null } else { json!(format!("pi_{session}")) },
                "amount_total": checkout.price.amount_minor,
                "currency": checkout.price.currency.code().to_lowercase(),
                "metadata": {
                    "eventId": checkout.event_id,
                    "holdId": checkout.hold_id,
                    "userId": checkout.user_id.as_str(),
                },
                "customer_details": {"email": checkout.customer_email, "name": "Ada Lovelace"},
            }},
        });
        self.signed(
            event.to_string().into_bytes(),
            WEBHOOK_SECRET,
            self.now().timestamp(),
        )
    }

    fn signed(&self, body: Vec<u8>, secret: &str, timestamp: i64) -> ApiRequest {
        let signature = stripe_webhook::signature_header(secret, timestamp, &body);
        req("POST", "/stripe/webhook", &Who::Nobody)
            .with_header("stripe-signature", signature)
            .with_body(body)
    }

    async fn deliver(&self, request: ApiRequest) -> String {
        let response = self.call(request).await;
        assert_eq!(response.status, 200, "{}", body_text(&response));
        response.json_body()["outcome"].as_str().unwrap().to_owned()
    }

    async fn order_shown(&self, who: &Who, order: &OrderId) -> Value {
        let response = self
            .call(req("GET", "/orders/{id}", who).with_path_param("id", order.as_str()))
            .await;
        assert_eq!(response.status, 200, "{}", body_text(&response));
        response.json_body()
    }

    async fn tickets_of(&self, who: &Who) -> Vec<Value> {
        let response = self.call(req("GET", "/me/tickets", who)).await;
        response.json_body()["items"].as_array().unwrap().clone()
    }
}

#[tokio::test]
async fn a_paid_checkout_makes_one_ticket_however_often_stripe_delivers() {
    let stack = Stack::new().await;
    let event = stack.create_event(&ORG, 5, 2500).await;
    let (checkout, order) = stack
        .open_checkout(&ATTENDEE, event["id"].as_str().unwrap())
        .await;

    // Five deliveries at once (Stripe retries, several webhook endpoints), then one later.
    let outcomes = futures::future::join_all(
        (0..5).map(|_| stack.deliver(stack.delivery("completed", &checkout, &order))),
    )
    .await;
    assert!(
        outcomes.contains(&"registration started".to_owned()),
        "{outcomes:?}"
    );
    let summary = stack.executor.wait(order.as_str()).await.unwrap();
    assert_eq!(summary.status, ExecutionStatus::Succeeded, "{summary:?}");
    assert_eq!(
        stack
            .deliver(stack.delivery("completed", &checkout, &order))
            .await,
        "registration already started"
    );
    // `async_payment_succeeded` of the same session starts nothing new either.
    assert_eq!(
        stack
            .deliver(stack.delivery("async_payment_succeeded", &checkout, &order))
            .await,
        "registration already started"
    );

    let shown = stack.order_shown(&ATTENDEE, &order).await;
    assert_eq!(shown["status"], "FULFILLED");
    assert!(shown["download"]["url"].is_string());
    let tickets = stack.tickets_of(&ATTENDEE).await;
    assert_eq!(tickets.len(), 1, "{tickets:?}");
    assert_eq!(tickets[0]["attendeeName"], "Ada Lovelace");
    assert_eq!(stack.taken(event["id"].as_str().unwrap()).await, 1);
}

#[tokio::test]
async fn forged_stale_or_unsigned_deliveries_are_400_and_change_nothing() {
    let stack = Stack::new().await;
    let event = stack.create_event(&ORG, 5, 2500).await;
    let (checkout, order) = stack
        .open_checkout(&ATTENDEE, event["id"].as_str().unwrap())
        .await;
    let genuine = stack.delivery("completed", &checkout, &order);
    let now = stack.now().timestamp();

    let forged = stack.signed(genuine.body.clone(), "whsec_guessed", now);
    let stale = stack.signed(genuine.body.clone(), WEBHOOK_SECRET, now - 301);
    let mut tampered = genuine.clone();
    tampered.body = String::from_utf8(genuine.body.clone())
        .unwrap()
        .replace("2500", "1")
        .into_bytes();
    let mut unsigned = genuine.clone();
    unsigned.headers.clear();
    for (request, message) in [
        (
            forged,
            "no v1 signature in Stripe-Signature matches the payload",
        ),
        (
            tampered,
            "no v1 signature in Stripe-Signature matches the payload",
        ),
        (
            stale,
            "the Stripe-Signature timestamp is more than 300 seconds from now",
        ),
        (unsigned, "the Stripe-Signature header is missing"),
    ] {
        assert_eq!(assert_error(&stack.call(request).await, 400), message);
    }
    // Signed, but not an event, or a session without the ids a ticket needs.
    let junk = stack.signed(b"[1,2]".to_vec(), WEBHOOK_SECRET, now);
    assert_eq!(
        assert_error(&stack.call(junk).await, 400),
        "the body is not a Stripe event"
    );
    let mut broken: Value = serde_json::from_slice(&genuine.body).unwrap();
    broken["data"]["object"]["metadata"]["eventId"] = json!("not-an-id");
    let broken = stack.signed(broken.to_string().into_bytes(), WEBHOOK_SECRET, now);
    assert_eq!(
        assert_error(&stack.call(broken).await, 400),
        "the checkout session has no valid metadata.eventId"
    );

    // Nothing started, the seat is still held for the buyer.
    assert!(stack.executor.list(None, 10).await.unwrap().is_empty());
    assert_eq!(
        stack.order_shown(&ATTENDEE, &order).await["status"],
        "PENDING"
    );
    assert_eq!(stack.taken(event["id"].as_str().unwrap()).await, 1);
}

#[tokio::test]
async fn an_expired_checkout_gives_the_seat_back_and_the_buyer_sees_it() {
    let stack = Stack::new().await;
    let event = stack.create_event(&ORG, 1, 2500).await;
    let id = event["id"].as_str().unwrap();
    let (checkout, order) = stack.open_checkout(&ATTENDEE, id).await;
    assert_error(&stack.checkout(&OTHER_ATTENDEE, id).await, 409);

    let expired = stack.delivery("expired", &checkout, &order);
    assert_eq!(stack.deliver(expired.clone()).await, "seat released");
    assert_eq!(stack.deliver(expired).await, "seat already released");
    assert_eq!(stack.taken(id).await, 0);
    let shown = stack.order_shown(&ATTENDEE, &order).await;
    assert_eq!(shown["status"], "EXPIRED");
    assert_eq!(shown["download"], Value::Null);
    // The seat is for sale again.
    assert_eq!(stack.checkout(&OTHER_ATTENDEE, id).await.status, 201);
}

#[tokio::test]
async fn an_expiry_that_arrives_after_the_payment_does_no_damage() {
    let stack = Stack::new().await;
    let event = stack.create_event(&ORG, 1, 2500).await;
    let id = event["id"].as_str().unwrap();
    let (checkout, order) = stack.open_checkout(&ATTENDEE, id).await;
    stack
        .deliver(stack.delivery("completed", &checkout, &order))
        .await;
    stack.executor.wait(order.as_str()).await.unwrap();

    assert_eq!(
        stack
            .deliver(stack.delivery("expired", &checkout, &order))
            .await,
        "seat kept: it was paid"
    );
    assert_eq!(stack.taken(id).await, 1);
    assert_eq!(
        stack.order_shown(&ATTENDEE, &order).await["status"],
        "FULFILLED"
    );
    let tickets = stack.tickets_of(&ATTENDEE).await;
    assert_eq!(tickets[0]["status"], "VALID");
    assert_eq!(stack.payments.inner.refund_count(), 0);
}

#[tokio::test]
async fn a_late_payment_gets_a_seat_if_one_is_left_and_else_a_refund() {
    let stack = Stack::new().await;
    let event = stack.create_event(&ORG, 1, 2500).await;
    let id = event["id"].as_str().unwrap();

    // A's checkout expires, so B gets the only seat; then A's payment arrives after all.
    let (late, late_order) = stack.open_checkout(&ATTENDEE, id).await;
    stack
        .deliver(stack.delivery("expired", &late, &late_order))
        .await;
    let (on_time, on_time_order) = stack.open_checkout(&OTHER_ATTENDEE, id).await;
    stack
        .deliver(stack.delivery("completed", &on_time, &on_time_order))
        .await;
    stack.executor.wait(on_time_order.as_str()).await.unwrap();
    stack
        .deliver(stack.delivery("completed", &late, &late_order))
        .await;
    stack.executor.wait(late_order.as_str()).await.unwrap();

    let shown = stack.order_shown(&ATTENDEE, &late_order).await;
    assert_eq!(shown["status"], "FAILED");
    assert!(
        shown["failureReason"]
            .as_str()
            .unwrap()
            .contains("sold out"),
        "{shown}"
    );
    let refunds = stack.payments.inner.refunds();
    assert_eq!(refunds.len(), 1);
    assert_eq!(refunds[0].0.payment_intent_id, format!("pi_{late_order}"));
    assert_eq!(refunds[0].0.amount.amount_minor, 2500);
    assert_eq!(
        stack.order_shown(&OTHER_ATTENDEE, &on_time_order).await["status"],
        "FULFILLED"
    );
    assert_eq!(stack.taken(id).await, 1);

    // With a seat left, a late payment gets it.
    let roomy = stack.create_event(&ORG, 2, 2500).await;
    let (late, late_order) = stack
        .open_checkout(&ATTENDEE, roomy["id"].as_str().unwrap())
        .await;
    stack
        .deliver(stack.delivery("expired", &late, &late_order))
        .await;
    stack
        .deliver(stack.delivery("completed", &late, &late_order))
        .await;
    stack.executor.wait(late_order.as_str()).await.unwrap();
    assert_eq!(
        stack.order_shown(&ATTENDEE, &late_order).await["status"],
        "FULFILLED"
    );
    assert_eq!(stack.payments.inner.refund_count(), 1);
}

#[tokio::test]
async fn other_events_and_unpaid_sessions_are_only_acknowledged() {
    let stack = Stack::new().await;
    let event = stack.create_event(&ORG, 5, 2500).await;
    let (checkout, order) = stack
        .open_checkout(&ATTENDEE, event["id"].as_str().unwrap())
        .await;
    let now = stack.now().timestamp();
    let mut body: Value =
        serde_json::from_slice(&stack.delivery("completed", &checkout, &order).body).unwrap();

    body["type"] = json!("payment_intent.created");
    let other_type = stack.signed(body.to_string().into_bytes(), WEBHOOK_SECRET, now);
    assert_eq!(stack.deliver(other_type).await, "ignored");

    // Paid later (a bank transfer): `async_payment_succeeded` follows.
    body["type"] = json!("checkout.session.completed");
    body["data"]["object"]["payment_status"] = json!("unpaid");
    let unpaid = stack.signed(body.to_string().into_bytes(), WEBHOOK_SECRET, now);
    assert_eq!(stack.deliver(unpaid).await, "awaiting payment");

    // Another integration's session on the same Stripe account.
    body["data"]["object"]["payment_status"] = json!("paid");
    body["data"]["object"]["metadata"] = json!({});
    let foreign = stack.signed(body.to_string().into_bytes(), WEBHOOK_SECRET, now);
    assert_eq!(
        stack.deliver(foreign).await,
        "ignored: not a ticketing checkout"
    );

    assert!(stack.executor.list(None, 10).await.unwrap().is_empty());
    assert_eq!(
        stack
            .deliver(stack.delivery("async_payment_succeeded", &checkout, &order))
            .await,
        "registration started"
    );
}
