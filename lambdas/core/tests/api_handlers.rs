//! The API's handlers (`ticket_core::api`) on the in-memory store, the fake payment provider
//! and a workflow that records the registrations started: each role on every route, the
//! checks of each input, paging, and the Stripe webhook up to the start of a registration.
//! What a registration then does is tested where it runs (ticketd's `api_handlers`, the saga
//! tests).

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Value, json};
use ticket_core::api::{self, ApiPorts, ApiRequest, ApiResponse, MAX_BODY_BYTES, ROUTES};
use ticket_core::testing::api::{
    ATTENDEE, ORGANIZER, ORGANIZER_ONLY, OTHER_ATTENDEE, OTHER_ORGANIZER, Who, any_request,
    assert_error, body_text, checkout_event, request, signed_delivery,
};
use ticket_core::testing::{FakePayments, FlakyStore, MemoryStore, NoFiles, RecordingWorkflow};
use ticket_core::{
    Caller, CheckoutDiscount, CheckoutLine, CheckoutRequest, Clock, KeyId, ManualClock, Order,
    OrderId, OrderStatus, OrderedTicket, RandomIds, Store, TicketSigner,
};

const SITE: &str = "https://tickets.example.org";
const WEBHOOK_SECRET: &str = "whsec_core_handlers";

struct Stack {
    store: Arc<MemoryStore>,
    clock: Arc<ManualClock>,
    payments: Arc<FakePayments>,
    workflow: Arc<RecordingWorkflow>,
    ports: ApiPorts,
}

impl Stack {
    async fn new() -> Self {
        let clock = Arc::new(ManualClock::new(Utc::now()));
        let store = Arc::new(MemoryStore::new());
        let payments = Arc::new(FakePayments::new());
        let workflow = Arc::new(RecordingWorkflow::new());
        let signer = TicketSigner::from_seed(KeyId::new("CT").unwrap(), &[7; 32]);
        let ports = ApiPorts {
            store: store.clone(),
            files: Arc::new(NoFiles),
            payments: payments.clone(),
            workflow: workflow.clone(),
            clock: clock.clone(),
            ids: Arc::new(RandomIds),
            verifier: Arc::new(signer.verifier()),
            ticket_pdfs: None,
            webhook_secrets: vec![WEBHOOK_SECRET.to_owned()],
            site_url: SITE.into(),
            hold_minutes: api::HOLD_MINUTES,
        };
        Self {
            store,
            clock,
            payments,
            workflow,
            ports,
        }
    }

    async fn call(&self, request: ApiRequest) -> ApiResponse {
        api::handle(&self.ports, request).await
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Creates an event through the API as `caller`, and publishes it.
    async fn create_event(&self, caller: &Who, capacity: u32, price_minor: i64) -> Value {
        self.create_published(caller, &self.new_event(capacity, price_minor))
            .await
    }

    /// Creates the event `body` describes as `caller`: the draft.
    async fn create_draft(&self, caller: &Who, body: &Value) -> Value {
        let response = self
            .call(request("POST", "/events", caller).with_json(body))
            .await;
        assert_eq!(response.status, 201, "{}", body_text(&response));
        response.json_body()
    }

    /// Creates the event `body` describes as `caller`, and publishes it.
    async fn create_published(&self, caller: &Who, body: &Value) -> Value {
        let draft = self.create_draft(caller, body).await;
        let response = self
            .visibility(caller, draft["id"].as_str().unwrap(), "publish")
            .await;
        assert_eq!(response.status, 200, "{}", body_text(&response));
        response.json_body()
    }

    /// `POST /events/{id}/publish` or `/unpublish` (`action`) as `caller`.
    async fn visibility(&self, caller: &Who, event_id: &str, action: &str) -> ApiResponse {
        self.call(
            request("POST", &format!("/events/{{id}}/{action}"), caller)
                .with_path_param("id", event_id),
        )
        .await
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
        self.call(request("POST", "/events/{id}/checkout", caller).with_path_param("id", event_id))
            .await
    }

    async fn taken(&self, event_id: &str) -> u32 {
        let id = event_id.parse().unwrap();
        self.store.get_event(id).await.unwrap().unwrap().seats.taken
    }

    async fn order(&self, id: &OrderId) -> Order {
        self.store.get_order(id).await.unwrap().expect("the order")
    }

    /// A paid checkout of `who`: the checkout Stripe was asked for, and its session id.
    async fn open_checkout(&self, who: &Who, event_id: &str) -> (CheckoutRequest, OrderId) {
        let response = self.checkout(who, event_id).await;
        assert_eq!(response.status, 201, "{}", body_text(&response));
        let order_id = OrderId::from(response.json_body()["orderId"].as_str().unwrap().to_owned());
        let checkout = self.payments.checkouts().last().unwrap().clone();
        (checkout, order_id)
    }

    /// `checkout.session.<kind>` for the session, signed as Stripe signs it, now.
    fn delivery(&self, kind: &str, checkout: &CheckoutRequest, session: &OrderId) -> ApiRequest {
        let event = checkout_event(kind, checkout, session);
        self.signed(event.to_string().into_bytes(), WEBHOOK_SECRET, self.now())
    }

    fn signed(&self, body: Vec<u8>, secret: &str, at: DateTime<Utc>) -> ApiRequest {
        signed_delivery(body, secret, at)
    }

    async fn deliver(&self, request: ApiRequest) -> String {
        let response = self.call(request).await;
        assert_eq!(response.status, 200, "{}", body_text(&response));
        response.json_body()["outcome"].as_str().unwrap().to_owned()
    }

    async fn order_shown(&self, who: &Who, order: &OrderId) -> Value {
        let response = self
            .call(request("GET", "/orders/{id}", who).with_path_param("id", order.as_str()))
            .await;
        assert_eq!(response.status, 200, "{}", body_text(&response));
        response.json_body()
    }
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
            &ORGANIZER_ONLY
        };
        let message = assert_error(&stack.call(any_request(route, outsider)).await, 403);
        assert!(message.contains(group.name()), "{message}");
    }
    let mine = request("GET", "/events", &ATTENDEE).with_query("mine", "true");
    assert_error(&stack.call(mine).await, 403);
    assert_eq!(stack.payments.calls(), 0);
}

#[tokio::test]
async fn unknown_routes_are_404() {
    let stack = Stack::new().await;
    assert_error(
        &stack.call(request("DELETE", "/events", &ORGANIZER)).await,
        404,
    );
    assert_error(&stack.call(request("GET", "/admin", &ORGANIZER)).await, 404);
}

#[tokio::test]
async fn an_organizer_creates_an_event_and_everyone_sees_it() {
    let stack = Stack::new().await;
    let event = stack.create_event(&ORGANIZER, 10, 1500).await;
    assert_eq!(event["title"], "Rust Meetup");
    assert_eq!(event["priceMinor"], 1500);
    assert_eq!(event["currency"], "EUR");
    assert_eq!(event["organizedByYou"], true);
    assert_eq!(event["availability"]["remaining"], 10);
    assert_eq!(event["availability"]["status"], "OPEN");

    let id = event["id"].as_str().unwrap();
    let seen = stack
        .call(request("GET", "/events/{id}", &ATTENDEE).with_path_param("id", id))
        .await;
    assert_eq!(seen.status, 200);
    assert_eq!(seen.json_body()["title"], "Rust Meetup");
    assert_eq!(seen.json_body()["organizedByYou"], false);
    assert!(
        seen.json_body().get("organizerId").is_none(),
        "the organizer's subject stays private"
    );

    let bad = stack
        .call(request("GET", "/events/{id}", &ATTENDEE).with_path_param("id", "not-a-uuid"))
        .await;
    assert!(assert_error(&bad, 400).contains("UUID"));
    let unknown = stack
        .call(
            request("GET", "/events/{id}", &ATTENDEE)
                .with_path_param("id", uuid::Uuid::now_v7().to_string()),
        )
        .await;
    assert_error(&unknown, 404);
}

#[tokio::test]
async fn invalid_events_are_400_naming_each_field() {
    let stack = Stack::new().await;
    let post = |body: Vec<u8>| request("POST", "/events", &ORGANIZER).with_body(body);

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
    let first = stack.create_event(&ORGANIZER, 5, 0).await;
    let second = stack.create_event(&OTHER_ORGANIZER, 5, 0).await;

    let page1 = stack
        .call(request("GET", "/events", &ATTENDEE).with_query("limit", "1"))
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
            request("GET", "/events", &ATTENDEE)
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
        .call(request("GET", "/events", &ORGANIZER).with_query("mine", "true"))
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
            .call(request("GET", "/events", &ORGANIZER).with_query(name, value))
            .await;
        assert!(
            assert_error(&response, 400).contains(name),
            "{name}={value}"
        );
    }
    let twice = request("GET", "/events", &ORGANIZER)
        .with_query("limit", "1")
        .with_query("limit", "2");
    assert_error(&stack.call(twice).await, 400);
}

#[tokio::test]
async fn a_paid_checkout_opens_a_session_expiring_with_the_hold() {
    let stack = Stack::new().await;
    let event = stack.create_event(&ORGANIZER, 2, 2500).await;
    let id = event["id"].as_str().unwrap();

    let response = stack.checkout(&ATTENDEE, id).await;
    assert_eq!(response.status, 201, "{}", body_text(&response));
    let body = response.json_body();
    let order_id = body["orderId"].as_str().unwrap().to_owned();
    assert!(body["checkoutUrl"].as_str().unwrap().contains(&order_id));

    let checkouts = stack.payments.checkouts();
    assert_eq!(checkouts.len(), 1);
    let checkout = &checkouts[0];
    assert_eq!(checkout.event_id.to_string(), id);
    assert_eq!(checkout.user_id.as_str(), "attendee-1");
    assert_eq!(
        checkout.lines,
        [CheckoutLine {
            title: "Rust Meetup".into(),
            unit_price_minor: 2500,
            quantity: 1
        }]
    );
    assert_eq!(checkout.currency.code(), "EUR");
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
        .store
        .get_hold(checkout.event_id, checkout.hold_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(hold.expires_at, checkout.expires_at);

    let order = stack.order(&OrderId::from(order_id.clone())).await;
    assert_eq!(order.status, OrderStatus::Pending);
    assert_eq!(order.hold_id, checkout.hold_id);
    assert_eq!(order.amount.amount_minor, 2500);
    let shown = stack
        .call(request("GET", "/orders/{id}", &ATTENDEE).with_path_param("id", &order_id))
        .await
        .json_body();
    assert_eq!(shown["status"], "PENDING");
    assert_eq!(
        shown["tickets"],
        json!([]),
        "no ticket, so nothing to download"
    );
    assert_eq!(stack.taken(id).await, 1);
}

#[tokio::test]
async fn checkouts_that_cannot_happen_are_refused() {
    let stack = Stack::new().await;
    let event = stack.create_event(&ORGANIZER, 1, 2500).await;
    let id = event["id"].as_str().unwrap();

    // The provider fails: the seat goes back and the buyer hears 502.
    stack.payments.faults.fail_next(1);
    let message = assert_error(&stack.checkout(&ATTENDEE, id).await, 502);
    assert_eq!(message, "the payment provider is unavailable, try again");
    assert_eq!(stack.taken(id).await, 0);

    assert_eq!(stack.checkout(&ATTENDEE, id).await.status, 201);
    let calls = stack.payments.calls();
    let message = assert_error(&stack.checkout(&OTHER_ATTENDEE, id).await, 409);
    assert!(message.contains("sold out"), "{message}");
    assert_eq!(
        stack.payments.calls(),
        calls,
        "no payment for a sold-out event"
    );

    let unknown = uuid::Uuid::now_v7().to_string();
    assert_error(&stack.checkout(&ATTENDEE, &unknown).await, 404);
    assert_error(&stack.checkout(&ATTENDEE, "123").await, 400);

    let later = stack.create_event(&ORGANIZER, 5, 2500).await;
    stack.clock.advance(TimeDelta::days(8));
    let message = assert_error(
        &stack
            .checkout(&ATTENDEE, later["id"].as_str().unwrap())
            .await,
        409,
    );
    assert!(message.contains("started"), "{message}");
    assert_eq!(stack.payments.calls(), calls);
}

#[tokio::test]
async fn a_failing_store_is_a_generic_503() {
    let stack = Stack::new().await;
    let flaky = Arc::new(FlakyStore::new(stack.store.clone()));
    let ports = ApiPorts {
        store: flaky.clone() as Arc<dyn Store>,
        ..stack.ports.clone()
    };
    flaky.faults.fail_always();
    for request in [
        request("GET", "/events", &ATTENDEE),
        request("POST", "/events", &ORGANIZER).with_json(&stack.new_event(5, 0)),
        request("GET", "/me/tickets", &ATTENDEE),
    ] {
        let response = api::handle(&ports, request).await;
        let message = assert_error(&response, 503);
        assert!(!body_text(&response).contains("injected"), "{message}");
    }
}

#[tokio::test]
async fn forged_stale_or_unsigned_deliveries_are_400_and_change_nothing() {
    let stack = Stack::new().await;
    let event = stack.create_event(&ORGANIZER, 5, 2500).await;
    let (checkout, order) = stack
        .open_checkout(&ATTENDEE, event["id"].as_str().unwrap())
        .await;
    let genuine = stack.delivery("completed", &checkout, &order);
    let now = stack.now();

    let forged = stack.signed(genuine.body.clone(), "whsec_guessed", now);
    let stale = stack.signed(
        genuine.body.clone(),
        WEBHOOK_SECRET,
        now - TimeDelta::seconds(301),
    );
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
    assert!(stack.workflow.started().is_empty());
    assert_eq!(
        stack.order_shown(&ATTENDEE, &order).await["status"],
        "PENDING"
    );
    assert_eq!(stack.taken(event["id"].as_str().unwrap()).await, 1);
}

#[tokio::test]
async fn an_expired_checkout_gives_the_seat_back_and_the_buyer_sees_it() {
    let stack = Stack::new().await;
    let event = stack.create_event(&ORGANIZER, 1, 2500).await;
    let id = event["id"].as_str().unwrap();
    let (checkout, order) = stack.open_checkout(&ATTENDEE, id).await;
    assert_error(&stack.checkout(&OTHER_ATTENDEE, id).await, 409);

    let expired = stack.delivery("expired", &checkout, &order);
    assert_eq!(stack.deliver(expired.clone()).await, "seat released");
    assert_eq!(stack.deliver(expired).await, "seat already released");
    assert_eq!(stack.taken(id).await, 0);
    let shown = stack.order_shown(&ATTENDEE, &order).await;
    assert_eq!(shown["status"], "EXPIRED");
    assert_eq!(
        shown["tickets"],
        json!([]),
        "no ticket, so nothing to download"
    );
    // The seat is for sale again.
    assert_eq!(stack.checkout(&OTHER_ATTENDEE, id).await.status, 201);
}

#[tokio::test]
async fn other_events_and_unpaid_sessions_are_only_acknowledged() {
    let stack = Stack::new().await;
    let event = stack.create_event(&ORGANIZER, 5, 2500).await;
    let (checkout, order) = stack
        .open_checkout(&ATTENDEE, event["id"].as_str().unwrap())
        .await;
    let now = stack.now();
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

    assert!(stack.workflow.started().is_empty());
    assert_eq!(
        stack
            .deliver(stack.delivery("async_payment_succeeded", &checkout, &order))
            .await,
        "registration started"
    );
}

/// An event of three paid types and a free one, each with its own quota, one on sale later.
fn typed_event(now: DateTime<Utc>) -> Value {
    json!({
        "title": "Harbour Gala",
        "venue": "Pier 4",
        "startsAt": now + TimeDelta::days(7),
        "capacity": 6,
        "currency": "EUR",
        "ticketTypes": [
            {"name": "Standard", "priceMinor": 1500, "quota": 4, "maxPerOrder": 2},
            {"name": "VIP", "description": "Front rows.", "priceMinor": 4000, "quota": 1},
            {"name": "Late", "priceMinor": 2000, "quota": 2, "salesStart": now + TimeDelta::days(2)},
            {"name": "Crew", "priceMinor": 0, "quota": 1},
        ],
    })
}

#[tokio::test]
async fn a_checkout_holds_a_seat_per_ticket_of_the_chosen_types_in_the_holders_names() {
    let stack = Stack::new().await;
    let event = stack
        .create_published(&ORGANIZER, &typed_event(stack.now()))
        .await;
    let id = event["id"].as_str().unwrap().to_owned();
    let type_id = |name: &str| {
        event["ticketTypes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(event["priceMinor"], 0, "the cheapest type's price");
    assert_eq!(
        event["availability"]["ticketTypes"][2]["status"],
        "NOT_YET_ON_SALE"
    );
    let buy = |who: Who, body: Value| {
        let id = id.clone();
        let stack = &stack;
        async move {
            stack
                .call(
                    request("POST", "/events/{id}/checkout", &who)
                        .with_path_param("id", &id)
                        .with_json(&body),
                )
                .await
        }
    };

    let response = buy(
        ATTENDEE,
        json!({"tickets": [{"ticketTypeId": type_id("VIP"), "holderName": "  Carla Mendes "}]}),
    )
    .await;
    assert_eq!(response.status, 201, "{}", body_text(&response));
    let checkout = stack.payments.checkouts().last().unwrap().clone();
    let line = |title: &str, unit_price_minor, quantity| CheckoutLine {
        title: title.into(),
        unit_price_minor,
        quantity,
    };
    assert_eq!(checkout.lines, [line("Harbour Gala — VIP", 4000, 1)]);
    let ticket = |name: &str, holder: Option<&str>| OrderedTicket {
        ticket_type_id: type_id(name).parse().unwrap(),
        holder_name: holder.map(str::to_owned),
    };
    assert_eq!(checkout.tickets, [ticket("VIP", Some("Carla Mendes"))]);
    let order_of = |response: &ApiResponse| {
        OrderId::from(response.json_body()["orderId"].as_str().unwrap().to_owned())
    };
    assert_eq!(
        stack.order(&order_of(&response)).await.amount.amount_minor,
        4000
    );

    // Two tickets in one order: one line with both, each ticket with its own holder.
    let pair = buy(
        ATTENDEE,
        json!({"tickets": [
            {"ticketTypeId": type_id("Standard"), "holderName": "Ana"},
            {"ticketTypeId": type_id("Standard")},
        ]}),
    )
    .await;
    assert_eq!(pair.status, 201, "{}", body_text(&pair));
    let checkout = stack.payments.checkouts().last().unwrap().clone();
    assert_eq!(checkout.lines, [line("Harbour Gala — Standard", 1500, 2)]);
    assert_eq!(
        checkout.tickets,
        [ticket("Standard", Some("Ana")), ticket("Standard", None)]
    );
    assert_eq!(checkout.total().amount_minor, 3000);
    assert_eq!(
        stack.order(&order_of(&pair)).await.amount.amount_minor,
        3000
    );
    assert_eq!(stack.taken(&id).await, 3);

    // Each refusal says why and holds nothing.
    let calls = stack.payments.calls();
    let standard = json!({"ticketTypeId": type_id("Standard")});
    let crew = json!({"ticketTypeId": type_id("Crew")});
    let refused = [
        (
            json!({"tickets": [{"ticketTypeId": type_id("VIP")}]}),
            409,
            "the ticket type \"VIP\" is sold out",
        ),
        (
            json!({"tickets": [{"ticketTypeId": type_id("Late")}]}),
            409,
            "the ticket type \"Late\" is not on sale yet",
        ),
        (
            json!({"tickets": [{"ticketTypeId": uuid::Uuid::now_v7()}]}),
            400,
            "the event has no ticket type",
        ),
        (
            json!({"tickets": [{"ticketTypeId": "vip"}]}),
            400,
            "`tickets[0].ticketTypeId`",
        ),
        (json!({"tickets": []}), 400, "must list at least one ticket"),
        (json!({}), 400, "missing field `tickets`"),
        (
            json!({"tickets": [standard, standard, standard]}),
            400,
            "an order takes at most 2 of the ticket type \"Standard\"",
        ),
        (
            json!({"tickets": vec![crew.clone(); 11]}),
            400,
            "an order takes at most 10 tickets",
        ),
        (
            json!({"tickets": [standard, standard, crew, crew]}),
            409,
            "the event has fewer than 4 seats left",
        ),
        (
            json!({"tickets": [standard, crew, crew]}),
            409,
            "the ticket type \"Crew\" is sold out (fewer than 2 left)",
        ),
        (
            json!({"tickets": [standard, {"ticketTypeId": type_id("Late")}]}),
            409,
            "the ticket type \"Late\" is not on sale yet",
        ),
        (
            json!({"tickets": [{"ticketTypeId": type_id("Standard"), "holderName": "Ana\u{7}"}]}),
            400,
            "holderName: must be a single line",
        ),
        (
            json!({"tickets": [{"ticketTypeId": type_id("Standard"), "holderName": "x".repeat(201)}]}),
            400,
            "holderName: must be at most 200 characters",
        ),
        (
            json!({"tickets": [{"ticketTypeId": type_id("Standard"), "seat": "A1"}]}),
            400,
            "unknown field `seat`",
        ),
    ];
    for (body, status, needle) in refused {
        let message = assert_error(&buy(OTHER_ATTENDEE, body.clone()).await, status);
        assert!(message.contains(needle), "{body}: {message}");
    }
    assert_eq!(stack.taken(&id).await, 3, "nothing more was held");
    assert_eq!(stack.payments.calls(), calls, "nor paid for");
    // Without a body, an event of several types asks which.
    let message = assert_error(&stack.checkout(&OTHER_ATTENDEE, &id).await, 400);
    assert!(message.contains("choose a ticket type"), "{message}");

    // A free type skips the payment; the ticket goes to the holder named, or to the buyer.
    let free = buy(
        OTHER_ATTENDEE,
        json!({"tickets": [{"ticketTypeId": type_id("Crew"), "holderName": " "}]}),
    )
    .await;
    assert_eq!(free.status, 201, "{}", body_text(&free));
    assert_eq!(free.json_body()["checkoutUrl"], Value::Null);
    let started = stack.workflow.started();
    let registration = started.last().unwrap();
    assert_eq!(registration.tickets, [ticket("Crew", None)]);
    assert_eq!(registration.attendee.name, "Bob");

    // The sales window opens: the late type sells too, within the event's capacity.
    stack.clock.advance(TimeDelta::days(3));
    let late = buy(
        ATTENDEE,
        json!({"tickets": [{"ticketTypeId": type_id("Late")}]}),
    )
    .await;
    assert_eq!(late.status, 201, "{}", body_text(&late));
    let stats = stack
        .call(request("GET", "/events/{id}/stats", &ORGANIZER).with_path_param("id", &id))
        .await
        .json_body();
    let held: Vec<(String, u64)> = stats["ticketTypes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap().to_owned(),
                t["held"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        held,
        [
            ("Standard".into(), 2),
            ("VIP".into(), 1),
            ("Late".into(), 1),
            ("Crew".into(), 1)
        ]
    );
    assert_eq!(stats["remaining"], 1);
}

#[tokio::test]
async fn promo_codes_discount_checkouts_and_refuse_what_they_cannot() {
    let stack = Stack::new().await;
    let event = stack
        .create_published(
            &ORGANIZER,
            &json!({
                "title": "Harbour Gala",
                "venue": "Pier 4",
                "startsAt": stack.now() + TimeDelta::days(7),
                "capacity": 10,
                "currency": "EUR",
                "ticketTypes": [
                    {"name": "Standard", "priceMinor": 1500, "quota": 8, "maxPerOrder": 4},
                    {"name": "VIP", "priceMinor": 4000, "quota": 2},
                ],
            }),
        )
        .await;
    let id = event["id"].as_str().unwrap().to_owned();
    let (standard, vip) = (
        event["ticketTypes"][0]["id"].as_str().unwrap().to_owned(),
        event["ticketTypes"][1]["id"].as_str().unwrap().to_owned(),
    );
    let on_event = |method: &str, route: &str, who: &Who, body: Value| {
        request(method, route, who)
            .with_path_param("id", &id)
            .with_json(&body)
    };
    let create = |who: Who, body: Value| {
        let request = on_event("POST", "/events/{id}/promo-codes", &who, body);
        let stack = &stack;
        async move { stack.call(request).await }
    };
    let later = stack.now() + TimeDelta::days(1);
    let soon = stack.now() + TimeDelta::hours(1);
    for body in [
        json!({"code": " friends10 ", "percentOff": 10, "maxUses": 2}),
        json!({"code": "VIP-HALF", "percentOff": 50, "ticketTypeIds": [vip], "maxUses": 5}),
        json!({"code": "FIVER", "amountOffMinor": 500, "maxUses": 1, "validUntil": soon}),
        json!({"code": "LATER", "percentOff": 20, "maxUses": 1, "validFrom": later}),
        json!({"code": "ON_US", "percentOff": 100, "maxUses": 1}),
        json!({"code": "NEARLY", "amountOffMinor": 1480, "maxUses": 1}),
    ] {
        let response = create(ORGANIZER, body.clone()).await;
        assert_eq!(response.status, 201, "{body}: {}", body_text(&response));
    }
    let first = create(
        ORGANIZER,
        json!({"code": "x-y-z", "percentOff": 5, "maxUses": 1}),
    )
    .await;
    assert_eq!(first.json_body()["code"], "X-Y-Z");
    assert_eq!(first.json_body()["used"], 0);
    // Refused: a code the event has (in another case), bad fields, someone else's event.
    let message = assert_error(
        &create(
            ORGANIZER,
            json!({"code": "Friends10", "percentOff": 5, "maxUses": 1}),
        )
        .await,
        409,
    );
    assert!(
        message.contains("already has the promo code \"FRIENDS10\""),
        "{message}"
    );
    let bad = create(
        ORGANIZER,
        json!({"code": "no spaces", "percentOff": 10, "amountOffMinor": 5, "maxUses": 0}),
    )
    .await;
    assert_eq!(bad.status, 400, "{}", body_text(&bad));
    let fields = bad.json_body()["fields"].clone();
    for field in ["code", "percentOff", "maxUses"] {
        assert!(fields.get(field).is_some(), "{field} in {fields}");
    }
    assert_error(
        &create(
            OTHER_ORGANIZER,
            json!({"code": "MINE", "percentOff": 5, "maxUses": 1}),
        )
        .await,
        403,
    );
    assert_error(
        &create(
            ATTENDEE,
            json!({"code": "MINE", "percentOff": 5, "maxUses": 1}),
        )
        .await,
        403,
    );

    let quote = |body: Value| {
        let request = on_event("POST", "/events/{id}/quote", &OTHER_ATTENDEE, body);
        let stack = &stack;
        async move { stack.call(request).await }
    };
    let order_of = |code: &str| {
        json!({"tickets": [
            {"ticketTypeId": standard, "holderName": "Ana"},
            {"ticketTypeId": standard},
            {"ticketTypeId": vip},
        ], "promoCode": code})
    };
    let priced = quote(order_of("friends10")).await;
    assert_eq!(priced.status, 200, "{}", body_text(&priced));
    assert_eq!(
        priced.json_body(),
        json!({"currency": "eur", "subtotalMinor": 7000, "discountMinor": 700,
               "totalMinor": 6300, "promoCode": "FRIENDS10"})
    );
    let vip_half = quote(order_of("vip-half")).await.json_body();
    assert_eq!(
        vip_half["discountMinor"], 2000,
        "half of the VIP ticket only"
    );

    // Each refusal names the code and what is wrong with it, and holds nothing.
    let only_standard =
        |code: &str| json!({"tickets": [{"ticketTypeId": standard}], "promoCode": code});
    let refused = [
        (
            only_standard("NOPE"),
            400,
            "\"NOPE\" does not exist for this event",
        ),
        (
            only_standard("vip-half"),
            400,
            "\"VIP-HALF\" is not valid for the chosen ticket types",
        ),
        (only_standard("LATER"), 409, "\"LATER\" is not valid yet"),
        (
            only_standard("nearly"),
            409,
            "the order's total, 0.20 EUR, is below the smallest card payment, 0.50 EUR",
        ),
        (
            only_standard(&"A".repeat(33)),
            400,
            "`promoCode` must be at most 32 characters",
        ),
    ];
    let calls = stack.payments.calls();
    for (body, status, needle) in refused {
        for route in ["/events/{id}/quote", "/events/{id}/checkout"] {
            let response = stack
                .call(on_event("POST", route, &OTHER_ATTENDEE, body.clone()))
                .await;
            let message = assert_error(&response, status);
            assert!(message.contains(needle), "{route} {body}: {message}");
        }
    }
    assert_eq!(stack.taken(&id).await, 0, "nothing was held");
    assert_eq!(stack.payments.calls(), calls, "nor paid for");

    // A checkout with a code: the session carries the discount, the order the discounted
    // amount, and the code one use.
    let checkout = |who: Who, body: Value| {
        let request = on_event("POST", "/events/{id}/checkout", &who, body);
        let stack = &stack;
        async move { stack.call(request).await }
    };
    let bought = checkout(ATTENDEE, order_of(" Friends10")).await;
    assert_eq!(bought.status, 201, "{}", body_text(&bought));
    let session = stack.payments.checkouts().last().unwrap().clone();
    assert_eq!(
        session.discount,
        Some(CheckoutDiscount {
            label: "FRIENDS10 (10 % off)".into(),
            amount_minor: 700
        })
    );
    assert_eq!(session.total().amount_minor, 6300);
    let order_id = OrderId::from(bought.json_body()["orderId"].as_str().unwrap().to_owned());
    assert_eq!(stack.order(&order_id).await.amount.amount_minor, 6300);
    let uses = |code: &'static str| {
        let request =
            request("GET", "/events/{id}/promo-codes", &ORGANIZER).with_path_param("id", &id);
        let stack = &stack;
        async move {
            let listed = stack.call(request).await;
            assert_eq!(listed.status, 200, "{}", body_text(&listed));
            let codes = listed.json_body()["promoCodes"].clone();
            codes
                .as_array()
                .unwrap()
                .iter()
                .find(|promo| promo["code"] == code)
                .unwrap_or_else(|| panic!("{code} in {codes}"))["used"]
                .as_u64()
                .unwrap()
        }
    };
    assert_eq!(uses("FRIENDS10").await, 1);

    // An amount off; then the code is used up, and later expired.
    let fiver = checkout(ATTENDEE, only_standard("FIVER")).await;
    assert_eq!(fiver.status, 201, "{}", body_text(&fiver));
    assert_eq!(
        stack
            .payments
            .checkouts()
            .last()
            .unwrap()
            .total()
            .amount_minor,
        1000
    );
    let taken = stack.taken(&id).await;
    let message = assert_error(&checkout(OTHER_ATTENDEE, only_standard("FIVER")).await, 409);
    assert!(message.contains("\"FIVER\" has been used up"), "{message}");
    assert_eq!(
        stack.taken(&id).await,
        taken,
        "the refused order held nothing"
    );
    stack.clock.advance(TimeDelta::hours(2));
    let message = assert_error(&quote(only_standard("FIVER")).await, 409);
    assert!(message.contains("\"FIVER\" has expired"), "{message}");

    // 100 % off is a free order: no payment, the registration starts at once.
    let free = checkout(OTHER_ATTENDEE, only_standard("on_us")).await;
    assert_eq!(free.status, 201, "{}", body_text(&free));
    assert_eq!(free.json_body()["checkoutUrl"], Value::Null);
    assert_eq!(stack.workflow.started().last().unwrap().amount_minor, 0);

    // The organizer changes a code's limits, never below its uses.
    let change = |code: &str, body: Value| {
        request("PATCH", "/events/{id}/promo-codes/{code}", &ORGANIZER)
            .with_path_param("id", &id)
            .with_path_param("code", code)
            .with_json(&body)
    };
    let message = assert_error(
        &stack.call(change("friends10", json!({"maxUses": 0}))).await,
        400,
    );
    assert!(message.contains("maxUses"), "{message}");
    let message = assert_error(
        &stack
            .call(change("friends10", json!({"percentOff": 50})))
            .await,
        400,
    );
    assert!(message.contains("unknown field `percentOff`"), "{message}");
    assert_error(
        &stack.call(change("NOPE", json!({"maxUses": 3}))).await,
        404,
    );
    let widened = stack
        .call(change(
            "friends10",
            json!({"maxUses": 3, "validUntil": soon}),
        ))
        .await;
    assert_eq!(widened.status, 200, "{}", body_text(&widened));
    assert_eq!(
        (
            widened.json_body()["maxUses"].clone(),
            widened.json_body()["used"].clone()
        ),
        (json!(3), json!(1))
    );
    // Reopened: its window's end cleared, its limit kept.
    let reopened = stack
        .call(change("fiver", json!({"validUntil": null})))
        .await
        .json_body();
    assert_eq!(
        (reopened["validUntil"].clone(), reopened["maxUses"].clone()),
        (Value::Null, json!(1))
    );
    let message = assert_error(&quote(only_standard("FIVER")).await, 409);
    assert!(message.contains("\"FIVER\" has been used up"), "{message}");

    // An unpaid checkout that expires gives its code's use back.
    assert_eq!(
        stack
            .deliver(stack.delivery("expired", &session, &order_id))
            .await,
        "seat released"
    );
    assert_eq!(uses("FRIENDS10").await, 0);
}

/// `PUT /events/{id}` as `who`, naming `etag` in If-Match when given.
fn edit_request(who: &Who, id: &str, etag: Option<&str>, body: &Value) -> ApiRequest {
    let request = request("PUT", "/events/{id}", who)
        .with_path_param("id", id)
        .with_json(body);
    match etag {
        Some(etag) => request.with_header("If-Match", etag),
        None => request,
    }
}

/// The editable part of an event body, as the site sends it back.
fn editable(event: &Value) -> Value {
    json!({
        "title": event["title"],
        "description": event["description"],
        "venue": event["venue"],
        "startsAt": event["startsAt"],
        "endsAt": event["endsAt"],
        "timeZone": event["timeZone"],
        "capacity": event["capacity"],
        "ticketTypes": event["ticketTypes"],
    })
}

#[tokio::test]
async fn events_keep_their_venues_zone_and_answer_in_local_time() {
    let stack = Stack::new().await;
    let post = |body: &Value| request("POST", "/events", &ORGANIZER).with_json(body);
    let mut zoned = stack.new_event(10, 100);
    // 18:30 UTC in June is 20:30 in Zurich (CEST, +02:00).
    zoned["startsAt"] = json!("2030-06-01T18:30:00Z");
    zoned["endsAt"] = json!("2030-06-01T21:00:00Z");
    zoned["timeZone"] = json!("Europe/Zurich");
    let created = stack.call(post(&zoned)).await;
    assert_eq!(created.status, 201, "{}", body_text(&created));
    let event = created.json_body();
    assert_eq!(event["timeZone"], "Europe/Zurich");
    assert_eq!(event["startsAt"], "2030-06-01T18:30:00Z");
    assert_eq!(event["startsAtLocal"], "2030-06-01T20:30:00+02:00");
    assert_eq!(event["endsAtLocal"], "2030-06-01T23:00:00+02:00");

    let unzoned = stack.create_event(&ORGANIZER, 10, 100).await;
    assert_eq!(
        (&unzoned["timeZone"], &unzoned["endsAt"]),
        (&json!("UTC"), &Value::Null)
    );

    for (field, value, says) in [
        ("timeZone", json!("Europe/Atlantis"), "IANA time zone"),
        ("timeZone", json!("+02:00"), "IANA time zone"),
        ("endsAt", json!("2030-06-01T18:30:00Z"), "after startsAt"),
        ("endsAt", json!("2031-06-03T18:30:00Z"), "366 days"),
    ] {
        let mut bad = zoned.clone();
        bad[field] = value.clone();
        let response = stack.call(post(&bad)).await;
        let message = assert_error(&response, 400);
        assert!(
            response.json_body()["fields"][field].is_string() && message.contains(says),
            "{field} = {value}: {message}"
        );
    }

    // An edit is the whole event: leaving the zone out would move its local times.
    let id = event["id"].as_str().unwrap();
    let mut edit = editable(&event);
    edit.as_object_mut().unwrap().remove("timeZone");
    let response = stack
        .call(edit_request(&ORGANIZER, id, Some("\"1\""), &edit))
        .await;
    assert!(assert_error(&response, 400).contains("timeZone"));
    edit["timeZone"] = json!("America/New_York");
    edit["endsAt"] = Value::Null;
    let response = stack
        .call(edit_request(&ORGANIZER, id, Some("\"1\""), &edit))
        .await;
    assert_eq!(response.status, 200, "{}", body_text(&response));
    let edited = response.json_body();
    assert_eq!(edited["startsAtLocal"], "2030-06-01T14:30:00-04:00");
    assert_eq!(edited["endsAtLocal"], Value::Null);
}

#[tokio::test]
async fn an_organizer_edits_an_event_as_last_seen_and_buyers_pay_the_new_prices() {
    let stack = Stack::new().await;
    let created = stack
        .call(request("POST", "/events", &ORGANIZER).with_json(&typed_event(stack.now())))
        .await;
    assert_eq!(created.header("etag"), Some("\"1\""));
    let id = created.json_body()["id"].as_str().unwrap().to_owned();
    // Publishing changes no detail: the version stays.
    let published = stack.visibility(&ORGANIZER, &id, "publish").await;
    assert_eq!(published.header("etag"), Some("\"1\""));
    let event = published.json_body();
    let seen = stack
        .call(request("GET", "/events/{id}", &ATTENDEE).with_path_param("id", &id))
        .await;
    assert_eq!(seen.header("etag"), Some("\"1\""));
    assert_eq!(seen.json_body()["version"], 1);

    // One Standard ticket held: its price is fixed now, VIP's is not.
    let standard = event["ticketTypes"][0]["id"].as_str().unwrap().to_owned();
    let held = stack
        .call(
            request("POST", "/events/{id}/checkout", &ATTENDEE)
                .with_path_param("id", &id)
                .with_json(&json!({"tickets": [{"ticketTypeId": standard}]})),
        )
        .await;
    assert_eq!(held.status, 201, "{}", body_text(&held));

    let mut body = editable(&event);
    body["title"] = json!("Harbour Gala II");
    body["capacity"] = json!(8);
    body["ticketTypes"][1]["priceMinor"] = json!(4500);
    body["ticketTypes"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "Student", "priceMinor": 900, "quota": 2}));
    let edited = stack
        .call(edit_request(&ORGANIZER, &id, Some("\"1\""), &body))
        .await;
    assert_eq!(edited.status, 200, "{}", body_text(&edited));
    assert_eq!(edited.header("etag"), Some("\"2\""));
    let now_event = edited.json_body();
    assert_eq!(now_event["title"], "Harbour Gala II");
    assert_eq!(now_event["ticketTypes"][1]["priceMinor"], 4500);
    assert_eq!(now_event["ticketTypes"][4]["name"], "Student");
    assert_eq!(now_event["availability"]["held"], 1, "the hold stays");

    // A buyer sees and pays the new price.
    let vip = now_event["ticketTypes"][1]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let bought = stack
        .call(
            request("POST", "/events/{id}/checkout", &OTHER_ATTENDEE)
                .with_path_param("id", &id)
                .with_json(&json!({"tickets": [{"ticketTypeId": vip}]})),
        )
        .await;
    assert_eq!(bought.status, 201, "{}", body_text(&bought));
    let checkout = stack.payments.checkouts().last().unwrap().clone();
    assert_eq!(checkout.lines[0].unit_price_minor, 4500);
    assert_eq!(checkout.lines[0].title, "Harbour Gala II — VIP");

    // The same edit again, from version 1: someone else's change came first.
    let stale = stack
        .call(edit_request(&ORGANIZER, &id, Some("\"1\""), &body))
        .await;
    assert!(assert_error(&stale, 412).contains("version 2"));
}

#[tokio::test]
async fn edits_that_cannot_happen_are_refused_and_change_nothing() {
    let stack = Stack::new().await;
    let event = stack.create_event(&ORGANIZER, 3, 1500).await;
    let id = event["id"].as_str().unwrap().to_owned();
    for buyer in [&ATTENDEE, &OTHER_ATTENDEE] {
        let response = stack.checkout(buyer, &id).await;
        assert_eq!(response.status, 201, "{}", body_text(&response));
    }
    let body = editable(&event);
    let with = |change: &dyn Fn(&mut Value)| {
        let mut body = body.clone();
        change(&mut body);
        body
    };
    let etag = Some("\"1\"");
    let refused: Vec<(ApiRequest, u16, &str)> = vec![
        (edit_request(&ORGANIZER, &id, None, &body), 428, "If-Match"),
        (
            edit_request(&ORGANIZER, &id, Some("*"), &body),
            400,
            "If-Match",
        ),
        (
            edit_request(&ORGANIZER, &id, Some("W/\"1\""), &body),
            400,
            "If-Match",
        ),
        (
            edit_request(&ORGANIZER, &id, Some("\"7\""), &body),
            412,
            "version 7",
        ),
        (
            edit_request(&OTHER_ORGANIZER, &id, etag, &body),
            403,
            "not your event",
        ),
        (edit_request(&ATTENDEE, &id, etag, &body), 403, "organizer"),
        (
            edit_request(
                &ORGANIZER,
                &id,
                etag,
                &with(&|b| {
                    b["capacity"] = json!(1);
                    b["ticketTypes"][0]["quota"] = json!(1);
                }),
            ),
            409,
            "capacity cannot go below the 2 seats",
        ),
        (
            edit_request(
                &ORGANIZER,
                &id,
                etag,
                &with(&|b| b["ticketTypes"][0]["priceMinor"] = json!(100)),
            ),
            409,
            "priceMinor cannot change",
        ),
        (
            edit_request(
                &ORGANIZER,
                &id,
                etag,
                &with(&|b| b["ticketTypes"] = json!([])),
            ),
            400,
            "must list the type",
        ),
        (
            edit_request(
                &ORGANIZER,
                &id,
                etag,
                &with(&|b| b["ticketTypes"][0]["id"] = json!(uuid::Uuid::now_v7())),
            ),
            400,
            "the event has no type",
        ),
        (
            edit_request(
                &ORGANIZER,
                &id,
                etag,
                &with(&|b| b["ticketTypes"][0]["quota"] = json!(2)),
            ),
            400,
            "quota must equal the capacity",
        ),
        (
            edit_request(
                &ORGANIZER,
                &id,
                etag,
                &with(&|b| b["currency"] = json!("USD")),
            ),
            400,
            "currency",
        ),
        (
            edit_request(
                &ORGANIZER,
                &id,
                etag,
                &with(&|b| b["title"] = json!("\u{0007}")),
            ),
            400,
            "title",
        ),
        (
            edit_request(
                &ORGANIZER,
                &id,
                etag,
                &with(&|b| b["startsAt"] = json!(Utc::now() - TimeDelta::days(1))),
            ),
            400,
            "startsAt",
        ),
        (
            edit_request(&ORGANIZER, &id, etag, &json!({"title": 5})),
            400,
            "title",
        ),
    ];
    for (request, status, says) in refused {
        let response = stack.call(request).await;
        let message = assert_error(&response, status);
        assert!(
            message.contains(says),
            "{status} {message:?} lacks {says:?}"
        );
    }
    let stored = stack
        .store
        .get_event(id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.version, 1, "no refused edit was written");
    assert_eq!(stored.event.title, "Rust Meetup");

    // Once the event has started, nothing changes.
    stack.clock.advance(TimeDelta::days(8));
    let late = stack.call(edit_request(&ORGANIZER, &id, etag, &body)).await;
    assert!(assert_error(&late, 409).contains("started"));
}

#[tokio::test]
async fn an_organizer_profile_names_the_organizer_on_their_event_pages() {
    let stack = Stack::new().await;
    let event = stack.create_event(&ORGANIZER, 10, 1500).await;
    assert_eq!(event["organizer"], Value::Null, "no profile yet");
    let id = event["id"].as_str().unwrap().to_owned();
    let profile = || request("GET", "/me/organizer-profile", &ORGANIZER);
    assert!(assert_error(&stack.call(profile()).await, 404).contains("organizer profile"));
    let save =
        |who: &Who, body: Value| request("PUT", "/me/organizer-profile", who).with_json(&body);

    for (body, status, says) in [
        (
            json!({"displayName": " ", "contactEmail": "a@b.org"}),
            400,
            "displayName",
        ),
        (
            json!({"displayName": "Arts", "contactEmail": "nobody"}),
            400,
            "contactEmail",
        ),
        (
            json!({"displayName": "Arts", "contactEmail": "a@b.org", "logo": "x"}),
            400,
            "unknown field `logo`",
        ),
        (json!({"displayName": "Arts"}), 400, "contactEmail"),
    ] {
        let message = assert_error(&stack.call(save(&ORGANIZER, body.clone())).await, status);
        assert!(message.contains(says), "{body}: {message}");
    }
    assert_error(
        &stack
            .call(save(
                &ATTENDEE,
                json!({"displayName": "Mallory", "contactEmail": "m@evil.example"}),
            ))
            .await,
        403,
    );
    assert_error(&stack.call(profile()).await, 404);

    let saved = stack
        .call(save(
            &ORGANIZER,
            json!({"displayName": " Harbour Arts ", "contactEmail": "tickets@harbour.example"}),
        ))
        .await;
    assert_eq!(saved.status, 200, "{}", body_text(&saved));
    assert_eq!(saved.json_body()["displayName"], "Harbour Arts");
    assert_eq!(
        stack.call(profile()).await.json_body()["contactEmail"],
        "tickets@harbour.example"
    );
    // Every attendee sees who organizes the event, on its page only.
    let seen = stack
        .call(request("GET", "/events/{id}", &ATTENDEE).with_path_param("id", &id))
        .await
        .json_body();
    assert_eq!(
        seen["organizer"],
        json!({"name": "Harbour Arts", "contactEmail": "tickets@harbour.example"})
    );
    let listed = stack
        .call(request("GET", "/events", &ATTENDEE))
        .await
        .json_body();
    assert_eq!(listed["items"][0]["organizer"], Value::Null);
    // Another organizer's events are not theirs to name.
    let other = stack.create_event(&OTHER_ORGANIZER, 5, 0).await;
    assert_eq!(other["organizer"], Value::Null);
}

#[tokio::test]
async fn a_new_event_is_a_draft_only_its_organizer_sees_until_published_and_unpublishing_stops_its_sales()
 {
    let stack = Stack::new().await;
    let draft = stack.create_draft(&ORGANIZER, &stack.new_event(5, 0)).await;
    assert_eq!(draft["visibility"], "DRAFT");
    assert_eq!(draft["availability"]["status"], "NOT_ON_SALE");
    let id = draft["id"].as_str().unwrap().to_owned();
    let get = |who: &Who| request("GET", "/events/{id}", who).with_path_param("id", &id);
    let listed = |who: &Who, mine: bool| {
        let mut list = request("GET", "/events", who);
        if mine {
            list = list.with_query("mine", "true");
        }
        let stack = &stack;
        let id = id.clone();
        async move {
            let page = stack.call(list).await.json_body();
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|event| event["id"] == id.as_str())
        }
    };

    // Nobody but its organizer sees a draft, and nobody buys it.
    assert_error(&stack.call(get(&ATTENDEE)).await, 404);
    assert_error(&stack.call(get(&OTHER_ORGANIZER)).await, 404);
    assert_eq!(stack.call(get(&ORGANIZER)).await.status, 200);
    assert!(!listed(&ATTENDEE, false).await);
    assert!(
        listed(&ORGANIZER, true).await,
        "in the organizer's own list"
    );
    assert_error(&stack.checkout(&ATTENDEE, &id).await, 404);
    let own = assert_error(&stack.checkout(&ORGANIZER, &id).await, 409);
    assert!(own.contains("not on sale"), "{own}");
    assert!(
        assert_error(&stack.visibility(&ORGANIZER, &id, "unpublish").await, 409).contains("draft")
    );
    assert_error(
        &stack.visibility(&OTHER_ORGANIZER, &id, "publish").await,
        403,
    );
    assert_error(&stack.visibility(&ATTENDEE, &id, "publish").await, 403);
    assert_eq!(stack.taken(&id).await, 0);

    // Published: listed and on sale; publishing again changes nothing.
    let published = stack.visibility(&ORGANIZER, &id, "publish").await;
    assert_eq!(published.status, 200);
    let published = published.json_body();
    assert_eq!(
        (
            published["visibility"].as_str(),
            published["availability"]["status"].as_str()
        ),
        (Some("PUBLISHED"), Some("OPEN"))
    );
    let again = stack
        .visibility(&ORGANIZER, &id, "publish")
        .await
        .json_body();
    assert_eq!(again["version"], published["version"]);
    assert!(listed(&ATTENDEE, false).await);
    assert_eq!(stack.checkout(&ATTENDEE, &id).await.status, 201);
    assert_eq!(stack.taken(&id).await, 1);

    // Unpublished: out of the list and off sale; its page still opens, what was sold stays.
    let unpublished = stack
        .visibility(&ORGANIZER, &id, "unpublish")
        .await
        .json_body();
    assert_eq!(unpublished["visibility"], "UNPUBLISHED");
    assert!(!listed(&ATTENDEE, false).await);
    let seen = stack.call(get(&ATTENDEE)).await;
    assert_eq!(seen.status, 200);
    assert_eq!(seen.json_body()["availability"]["status"], "NOT_ON_SALE");
    let refused = assert_error(&stack.checkout(&OTHER_ATTENDEE, &id).await, 409);
    assert!(refused.contains("not on sale"), "{refused}");
    assert_eq!(stack.taken(&id).await, 1, "the seat sold is kept");

    // Published again: on sale again.
    stack.visibility(&ORGANIZER, &id, "publish").await;
    assert_eq!(stack.checkout(&OTHER_ATTENDEE, &id).await.status, 201);
    assert_eq!(stack.taken(&id).await, 2);
}
