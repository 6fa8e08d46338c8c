//! The API's handlers (`ticket_core::api`) on the embedded stack: SQLite store, ticket file
//! directory, a fake payment provider, and registrations run by ticketd's ASL executor: what a
//! checkout or a payment leads to once its registration ran (tickets, orders, scans, the
//! attendee list). Core's own `api_handlers` tests cover each route's checks on the in-memory
//! store.

mod support;

use std::sync::Arc;

use asl::{ExecutionStatus, Executor, ExecutorOptions};
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Value, json};
use ticket_core::Workflow;
use ticket_core::api::{self, ApiPorts, ApiRequest, ApiResponse, TicketPdfs};
use ticket_core::testing::FakePayments;
use ticket_core::testing::api::{
    ATTENDEE, ORGANIZER, OTHER_ATTENDEE, OTHER_ORGANIZER, Who, assert_error, body_text,
    checkout_event, request, signed_delivery,
};
use ticket_core::{
    CheckoutRequest, Clock, EventId, FileKey, KeyId, ManualClock, OrderId, OrderStatus, RandomIds,
    Store, TicketId, TicketSigner, TicketStatus,
};
use ticket_testkit::pdf::{scan, text};
use ticketd::cancellation;
use ticketd::registration::{self, LocalWorkflow};

use support::{Adapters, WEBHOOK_SECRET};

const SITE: &str = "https://tickets.example.org";

struct Stack {
    adapters: Adapters,
    clock: Arc<ManualClock>,
    executor: Arc<Executor>,
    cancellations: Arc<Executor>,
    payments: Arc<FakePayments>,
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
        let cancellations = cancellation::open_executor(
            &adapters.dir.path().join("cancellations.sqlite3"),
            cancellation::bindings(Arc::new(adapters.cancellation_steps()), |_, function| {
                function
            }),
            ExecutorOptions {
                time_scale: 0.0,
                ..ExecutorOptions::default()
            },
        )
        .await
        .unwrap();
        let payments = adapters.payments.clone();
        let ports = ApiPorts {
            store: adapters.store.clone(),
            files: adapters.files.clone(),
            payments: payments.clone(),
            workflow: Arc::new(
                LocalWorkflow::new(executor.clone()).with_cancellations(cancellations.clone()),
            ),
            clock: clock.clone(),
            ids: Arc::new(RandomIds),
            verifier: Arc::new(adapters.signer.verifier()),
            ticket_pdfs: Some(TicketPdfs {
                renderer: Arc::new(ticket_render::PdfRenderer),
                signer: adapters.signer.clone(),
            }),
            webhook_secrets: vec![WEBHOOK_SECRET.to_owned()],
            site_url: SITE.into(),
            hold_minutes: api::HOLD_MINUTES,
        };
        Self {
            adapters,
            clock,
            executor,
            cancellations,
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

    /// Creates an event through the API as `caller`, and publishes it.
    async fn create_event(&self, caller: &Who, capacity: u32, price_minor: i64) -> Value {
        self.create_published(caller, &self.new_event(capacity, price_minor))
            .await
    }

    /// Creates the event `body` describes as `caller`, and publishes it.
    async fn create_published(&self, caller: &Who, body: &Value) -> Value {
        let response = self
            .call(request("POST", "/events", caller).with_json(body))
            .await;
        assert_eq!(response.status, 201, "{}", body_text(&response));
        let id = response.json_body()["id"].as_str().unwrap().to_owned();
        let published = self
            .call(request("POST", "/events/{id}/publish", caller).with_path_param("id", &id))
            .await;
        assert_eq!(published.status, 200, "{}", body_text(&published));
        published.json_body()
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

    /// A free checkout whose registration ran to the end: the order id and the ticket id.
    async fn free_ticket(&self, caller: &Who, event_id: &str) -> (String, TicketId) {
        let response = self.checkout(caller, event_id).await;
        assert_eq!(response.status, 201, "{}", body_text(&response));
        let order_id = response.json_body()["orderId"].as_str().unwrap().to_owned();
        let summary = self.executor.wait(&order_id).await.unwrap();
        assert_eq!(summary.status, ExecutionStatus::Succeeded, "{summary:?}");
        let order = self.adapters.order(&OrderId::from(order_id.clone())).await;
        (order_id, *order.ticket_ids.first().expect("a ticket"))
    }

    async fn taken(&self, event_id: &str) -> u32 {
        self.adapters.seats(event_id.parse().unwrap()).await.taken
    }
}

#[tokio::test]
async fn stats_are_for_the_events_organizer_only() {
    let stack = Stack::new().await;
    let event = stack.create_event(&ORGANIZER, 3, 0).await;
    let id = event["id"].as_str().unwrap();
    stack.free_ticket(&ATTENDEE, id).await;
    let stats = |who: &Who| request("GET", "/events/{id}/stats", who).with_path_param("id", id);

    let response = stack.call(stats(&ORGANIZER)).await;
    assert_eq!(response.status, 200);
    let type_id = &event["ticketTypes"][0]["id"];
    assert_eq!(
        response.json_body(),
        json!({"capacity": 3, "held": 0, "sold": 1, "remaining": 2, "checkedIn": 0, "status": "OPEN",
               "ticketTypes": [{"ticketTypeId": type_id, "name": "General admission", "quota": 3,
                                "held": 0, "sold": 1, "remaining": 2, "checkedIn": 0,
                                "status": "ON_SALE"}]})
    );
    assert_error(&stack.call(stats(&OTHER_ORGANIZER)).await, 403);
    let unknown = request("GET", "/events/{id}/stats", &ORGANIZER)
        .with_path_param("id", uuid::Uuid::now_v7().to_string());
    assert_error(&stack.call(unknown).await, 404);
}

#[tokio::test]
async fn a_free_checkout_registers_and_the_order_links_the_ticket() {
    let stack = Stack::new().await;
    let event = stack.create_event(&ORGANIZER, 2, 0).await;
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
    assert_eq!(stack.payments.calls(), 0, "a free event skips payment");

    let summary = stack.executor.wait(&order_id).await.unwrap();
    assert_eq!(summary.status, ExecutionStatus::Succeeded, "{summary:?}");

    let get = |who: &Who, id: &str| request("GET", "/orders/{id}", who).with_path_param("id", id);
    let order = stack.call(get(&ATTENDEE, &order_id)).await;
    assert_eq!(order.status, 200);
    assert_eq!(order.header("cache-control"), Some("no-store"));
    let order = order.json_body();
    assert_eq!(order["status"], "FULFILLED");
    assert_eq!(order["eventId"], event["id"]);
    assert_eq!(order["amountMinor"], 0);
    let url = order["tickets"][0]["download"]["url"]
        .as_str()
        .expect("a download link");
    assert!(
        url.starts_with("http://127.0.0.1:9/files/tickets/"),
        "{url}"
    );
    assert!(order["tickets"][0]["download"]["expiresAt"].is_string());

    let ticket = stack
        .adapters
        .ticket(
            order["tickets"][0]["ticketId"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap(),
        )
        .await;
    assert_eq!(ticket.attendee.name, "Zoë Ångström");
    assert_eq!(ticket.attendee.email, "attendee-1@example.org");

    assert_error(&stack.call(get(&OTHER_ATTENDEE, &order_id)).await, 403);
    assert_error(&stack.call(get(&ATTENDEE, "cs_unknown")).await, 404);
    assert_error(&stack.call(get(&ATTENDEE, "../etc")).await, 400);

    // The buyer's tickets, and a fresh link for the owner only.
    let mine = stack
        .call(request("GET", "/me/tickets", &ATTENDEE))
        .await
        .json_body();
    assert_eq!(mine["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        mine["items"][0]["ticketId"],
        order["tickets"][0]["ticketId"]
    );
    assert_eq!(mine["items"][0]["status"], "VALID");
    let others = stack
        .call(request("GET", "/me/tickets", &OTHER_ATTENDEE))
        .await
        .json_body();
    assert_eq!(others["items"], json!([]));

    let download = |who: &Who, id: &str| {
        request("GET", "/tickets/{id}/download", who).with_path_param("id", id)
    };
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
async fn a_scan_admits_once_and_only_at_the_organizers_door() {
    let stack = Stack::new().await;
    let event = stack.create_event(&ORGANIZER, 5, 0).await;
    let id = event["id"].as_str().unwrap();
    let (_, ticket_id) = stack.free_ticket(&ATTENDEE, id).await;
    let event_id: EventId = id.parse().unwrap();
    let code = stack.adapters.signer.sign(ticket_id, event_id);
    let scan =
        |who: &Who, code: &str| request("POST", "/scan", who).with_json(&json!({ "code": code }));

    let other = stack.call(scan(&OTHER_ORGANIZER, &code)).await;
    assert_eq!(other.status, 200);
    assert_eq!(other.json_body()["result"], "NOT_YOUR_EVENT");
    assert_eq!(
        stack.adapters.ticket(ticket_id).await.status,
        TicketStatus::Valid,
        "nothing redeemed"
    );

    let first = stack.call(scan(&ORGANIZER, &code)).await;
    assert_eq!(first.status, 200);
    let first = first.json_body();
    assert_eq!(first["result"], "VALID");
    assert_eq!(first["attendeeName"], "Zoë Ångström");

    stack.clock.advance(TimeDelta::minutes(1));
    let again = stack.call(scan(&ORGANIZER, &code)).await.json_body();
    assert_eq!(again["result"], "USED");
    let used_at: DateTime<Utc> = serde_json::from_value(again["usedAt"].clone()).unwrap();
    assert_eq!(used_at, stack.now() - TimeDelta::minutes(1));

    // Same key id, other key: a forgery.
    let forger = TicketSigner::from_seed(KeyId::new("RS").unwrap(), &[7; 32]);
    let forged = stack
        .call(scan(&ORGANIZER, &forger.sign(ticket_id, event_id)))
        .await;
    assert_eq!(forged.status, 200);
    assert_eq!(forged.json_body()["result"], "INVALID");
    let garbage = stack.call(scan(&ORGANIZER, "hello")).await.json_body();
    assert_eq!(garbage["result"], "INVALID");
    // Genuine signature, no such ticket.
    let ghost = stack
        .adapters
        .signer
        .sign(TicketId::from(uuid::Uuid::now_v7()), event_id);
    assert_eq!(
        stack.call(scan(&ORGANIZER, &ghost)).await.json_body()["result"],
        "INVALID"
    );

    for body in [
        json!({}),
        json!({"code": 5}),
        json!({"code": "x".repeat(1025)}),
    ] {
        assert_error(
            &stack
                .call(request("POST", "/scan", &ORGANIZER).with_json(&body))
                .await,
            400,
        );
    }
}

#[tokio::test]
async fn a_void_ticket_scans_as_void_with_the_reason_and_admits_nobody() {
    let stack = Stack::new().await;
    let event = stack.create_event(&ORGANIZER, 5, 0).await;
    let id = event["id"].as_str().unwrap();
    let (_, ticket_id) = stack.free_ticket(&ATTENDEE, id).await;
    let code = stack.adapters.signer.sign(ticket_id, id.parse().unwrap());
    let scan = || request("POST", "/scan", &ORGANIZER).with_json(&json!({ "code": code }));
    let store = &stack.adapters.store;

    store.void_ticket(ticket_id).await.unwrap();
    let voided = stack.call(scan()).await;
    assert_eq!(voided.status, 200);
    let voided = voided.json_body();
    assert_eq!(voided["result"], "VOID", "{voided}");
    assert_eq!(voided["reason"], "the ticket was voided");
    assert_eq!(voided["attendeeName"], "Zoë Ångström");
    assert_eq!(voided["ticketId"], ticket_id.to_string());

    // Once its order is refunded the door says so, and still admits nobody.
    let order_id = stack.adapters.ticket(ticket_id).await.order_id;
    store
        .transition_order(&order_id, OrderStatus::Refunded, None, stack.now())
        .await
        .unwrap();
    let refunded = stack.call(scan()).await.json_body();
    assert_eq!(refunded["result"], "VOID");
    assert_eq!(refunded["reason"], "the order was refunded");
    let ticket = stack.adapters.ticket(ticket_id).await;
    assert_eq!(ticket.status, TicketStatus::Void);
    assert_eq!(ticket.used_at, None, "never admitted");
}

#[tokio::test]
async fn attendees_come_as_json_pages_or_a_defused_csv() {
    let stack = Stack::new().await;
    let event = stack.create_event(&ORGANIZER, 5, 0).await;
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
    let list = |who: &Who| request("GET", "/events/{id}/attendees", who).with_path_param("id", id);

    let page = stack.call(list(&ORGANIZER).with_query("limit", "2")).await;
    assert_eq!(page.status, 200);
    assert_eq!(page.header("cache-control"), Some("no-store"));
    let page = page.json_body();
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    assert_eq!(page["items"][1]["name"], "Lovelace, Ada");
    assert!(page["nextCursor"].is_string());

    let csv = stack
        .call(list(&ORGANIZER).with_header("Accept", "text/csv, application/json;q=0.5"))
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
        "name,email,ticketType,status,ticketId,registeredAt,checkedInAt"
    );
    assert!(
        lines[1].starts_with(
            "\"'=HYPERLINK(\"\"http://evil\"\",\"\"x\"\")\",attendee-formula@example.org,General admission,VALID,"
        ),
        "{}",
        lines[1]
    );
    assert!(
        lines[2]
            .starts_with("\"Lovelace, Ada\",attendee-comma@example.org,General admission,VALID,")
    );
    assert!(lines[3].starts_with("'@SUM(A1),"));
    assert_eq!(lines[4], "");

    assert_error(&stack.call(list(&OTHER_ORGANIZER)).await, 403);
    assert_error(
        &stack
            .call(list(&OTHER_ORGANIZER).with_header("accept", "text/csv"))
            .await,
        403,
    );
    assert_error(&stack.call(list(&ATTENDEE)).await, 403);
}

// ---- POST /stripe/webhook

impl Stack {
    /// A paid checkout of `who` for a new event of `capacity` seats: the event id and the
    /// checkout Stripe was asked for, with the session id.
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
        signed_delivery(event.to_string().into_bytes(), WEBHOOK_SECRET, self.now())
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

    async fn tickets_of(&self, who: &Who) -> Vec<Value> {
        let response = self.call(request("GET", "/me/tickets", who)).await;
        response.json_body()["items"].as_array().unwrap().clone()
    }
}

#[tokio::test]
async fn a_paid_checkout_makes_one_ticket_however_often_stripe_delivers() {
    let stack = Stack::new().await;
    let event = stack.create_event(&ORGANIZER, 5, 2500).await;
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
    assert!(shown["tickets"][0]["download"]["url"].is_string());
    let tickets = stack.tickets_of(&ATTENDEE).await;
    assert_eq!(tickets.len(), 1, "{tickets:?}");
    assert_eq!(tickets[0]["attendeeName"], "Ada Lovelace");
    assert_eq!(stack.taken(event["id"].as_str().unwrap()).await, 1);
}

#[tokio::test]
async fn an_expiry_that_arrives_after_the_payment_does_no_damage() {
    let stack = Stack::new().await;
    let event = stack.create_event(&ORGANIZER, 1, 2500).await;
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
    assert_eq!(stack.payments.refund_count(), 0);
}

#[tokio::test]
async fn a_late_payment_gets_a_seat_if_one_is_left_and_else_a_refund() {
    let stack = Stack::new().await;
    let event = stack.create_event(&ORGANIZER, 1, 2500).await;
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
    let refunds = stack.payments.refunds();
    assert_eq!(refunds.len(), 1);
    assert_eq!(refunds[0].0.payment_intent_id, format!("pi_{late_order}"));
    assert_eq!(refunds[0].0.amount.amount_minor, 2500);
    assert_eq!(
        stack.order_shown(&OTHER_ATTENDEE, &on_time_order).await["status"],
        "FULFILLED"
    );
    assert_eq!(stack.taken(id).await, 1);

    // With a seat left, a late payment gets it.
    let roomy = stack.create_event(&ORGANIZER, 2, 2500).await;
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
    assert_eq!(stack.payments.refund_count(), 1);
}

#[tokio::test]
async fn a_buyer_renames_a_holder_until_the_event_starts_and_the_pdf_is_drawn_again() {
    let stack = Stack::new().await;
    let event = stack.create_event(&ORGANIZER, 3, 0).await;
    let event_id = event["id"].as_str().unwrap();
    let (_, ticket_id) = stack.free_ticket(&ATTENDEE, event_id).await;
    let key = FileKey::for_ticket(event_id.parse().unwrap(), ticket_id);
    let pdf_before = stack.adapters.files.read(&key).await.unwrap().unwrap();
    let rename = |who: &Who, id: &str, body: Value| {
        request("PATCH", "/tickets/{id}", who)
            .with_path_param("id", id)
            .with_json(&body)
    };
    let id = ticket_id.to_string();

    // Refused, with nothing changed: someone else's ticket, names that cannot go on a ticket.
    assert_error(
        &stack
            .call(rename(
                &OTHER_ATTENDEE,
                &id,
                json!({"holderName": "Mallory"}),
            ))
            .await,
        403,
    );
    for (body, needle) in [
        (json!({"holderName": "Ana\u{7}"}), "holderName"),
        (
            json!({"holderName": "x".repeat(201)}),
            "at most 200 characters",
        ),
        (json!({"holderName": "   "}), "holderName"),
        (
            json!({"holderName": "Ana", "email": "a@b"}),
            "unknown field `email`",
        ),
        (json!({}), "missing field `holderName`"),
    ] {
        let message = assert_error(&stack.call(rename(&ATTENDEE, &id, body.clone())).await, 400);
        assert!(message.contains(needle), "{body}: {message}");
    }
    let unknown = uuid::Uuid::now_v7().to_string();
    assert_error(
        &stack
            .call(rename(&ATTENDEE, &unknown, json!({"holderName": "Ana"})))
            .await,
        404,
    );
    assert_eq!(
        stack.adapters.ticket(ticket_id).await.attendee.name,
        "Zoë Ångström"
    );

    let renamed = stack
        .call(rename(
            &ATTENDEE,
            &id,
            json!({"holderName": " Zoë Ångström-Nuñez "}),
        ))
        .await;
    assert_eq!(renamed.status, 200, "{}", body_text(&renamed));
    assert_eq!(renamed.json_body()["attendeeName"], "Zoë Ångström-Nuñez");
    // The PDF says the new name and carries the same signed code.
    let pdf = stack.adapters.files.read(&key).await.unwrap().unwrap();
    assert!(text(&pdf).contains("Zoë Ångström-Nuñez"), "{}", text(&pdf));
    assert_eq!(scan(&pdf), scan(&pdf_before));
    // The door shows the new name, and a used ticket keeps it.
    let code = scan(&pdf).remove(0);
    let scanned = stack
        .call(request("POST", "/scan", &ORGANIZER).with_json(&json!({"code": code})))
        .await
        .json_body();
    assert_eq!(
        (scanned["result"].as_str(), scanned["attendeeName"].as_str()),
        (Some("VALID"), Some("Zoë Ångström-Nuñez"))
    );
    let message = assert_error(
        &stack
            .call(rename(&ATTENDEE, &id, json!({"holderName": "Too Late"})))
            .await,
        409,
    );
    assert!(message.contains("has been used"), "{message}");

    // Once the event has started, names stay as they are.
    let (_, other) = stack.free_ticket(&OTHER_ATTENDEE, event_id).await;
    stack.clock.advance(TimeDelta::days(8));
    let message = assert_error(
        &stack
            .call(rename(
                &OTHER_ATTENDEE,
                &other.to_string(),
                json!({"holderName": "Ana"}),
            ))
            .await,
        409,
    );
    assert!(message.contains("the event has started"), "{message}");
}

#[tokio::test]
async fn a_ticket_downloaded_after_an_edit_shows_the_new_details_with_the_same_code() {
    let stack = Stack::new().await;
    let event = stack.create_event(&ORGANIZER, 3, 0).await;
    let event_id = event["id"].as_str().unwrap();
    let (_, ticket_id) = stack.free_ticket(&ATTENDEE, event_id).await;
    let first = FileKey::for_ticket(event_id.parse().unwrap(), ticket_id);
    let pdf_before = stack.adapters.files.read(&first).await.unwrap().unwrap();
    assert!(
        text(&pdf_before).contains("Hall 1"),
        "{}",
        text(&pdf_before)
    );

    let edit = json!({
        "title": "Rust Meetup, moved",
        "description": event["description"],
        "venue": "Harbour Hall 9",
        "startsAt": event["startsAt"],
        "timeZone": event["timeZone"],
        "capacity": event["capacity"],
        "ticketTypes": event["ticketTypes"],
    });
    let edited = stack
        .call(
            request("PUT", "/events/{id}", &ORGANIZER)
                .with_path_param("id", event_id)
                .with_header("If-Match", "\"1\"")
                .with_json(&edit),
        )
        .await;
    assert_eq!(edited.status, 200, "{}", body_text(&edited));

    // The download is drawn again from the event as it is now, with the same signed code; the
    // registration's file is left as it was.
    let link = stack
        .call(
            request("GET", "/tickets/{id}/download", &ATTENDEE)
                .with_path_param("id", ticket_id.to_string()),
        )
        .await;
    assert_eq!(link.status, 200, "{}", body_text(&link));
    let second = FileKey::for_ticket_version(event_id.parse().unwrap(), ticket_id, 2);
    assert!(
        link.json_body()["url"]
            .as_str()
            .unwrap()
            .contains(second.as_str()),
        "{}",
        body_text(&link)
    );
    let pdf = stack.adapters.files.read(&second).await.unwrap().unwrap();
    let words = text(&pdf);
    // The title may wrap; the old venue is gone.
    assert!(words.contains("moved"), "{words}");
    assert!(words.contains("Harbour Hall 9"), "{words}");
    assert!(
        !words.lines().any(|line| line.trim() == "Hall 1"),
        "{words}"
    );
    assert_eq!(scan(&pdf), scan(&pdf_before), "the same signed code");
    assert_eq!(
        stack.adapters.files.read(&first).await.unwrap().unwrap(),
        pdf_before
    );

    // The order's own link is to the same drawing; the door still admits the ticket.
    let order_id = stack.adapters.ticket(ticket_id).await.order_id;
    let order = stack
        .call(request("GET", "/orders/{id}", &ATTENDEE).with_path_param("id", order_id.as_str()))
        .await
        .json_body();
    assert!(
        order["tickets"][0]["download"]["url"]
            .as_str()
            .unwrap()
            .contains(second.as_str())
    );
    let scanned = stack
        .call(request("POST", "/scan", &ORGANIZER).with_json(&json!({"code": scan(&pdf)[0]})))
        .await
        .json_body();
    assert_eq!(scanned["result"], "VALID");
}

#[tokio::test]
async fn tickets_name_the_organizer_their_profile_names() {
    let stack = Stack::new().await;
    let event = stack.create_event(&ORGANIZER, 3, 0).await;
    let event_id = event["id"].as_str().unwrap();
    let (_, before) = stack.free_ticket(&ATTENDEE, event_id).await;
    let first = FileKey::for_ticket(event_id.parse().unwrap(), before);
    let pdf = stack.adapters.files.read(&first).await.unwrap().unwrap();
    assert!(
        text(&pdf).contains("TICKETD"),
        "no profile: the platform issues it"
    );

    let saved = stack
        .call(
            request("PUT", "/me/organizer-profile", &ORGANIZER).with_json(
                &json!({"displayName": "Harbour Arts", "contactEmail": "tickets@harbour.example"}),
            ),
        )
        .await;
    assert_eq!(saved.status, 200, "{}", body_text(&saved));
    let (_, after) = stack.free_ticket(&OTHER_ATTENDEE, event_id).await;
    let key = FileKey::for_ticket(event_id.parse().unwrap(), after);
    let words = text(&stack.adapters.files.read(&key).await.unwrap().unwrap());
    assert!(words.contains("HARBOUR ARTS"), "{words}");
    assert!(!words.contains("TICKETD"), "{words}");
}

impl Stack {
    /// A paid order of `who` run through the registration to FULFILLED.
    async fn paid_order(&self, who: &Who, event_id: &str) -> OrderId {
        let (checkout, order) = self.open_checkout(who, event_id).await;
        self.payments.pay(&order).unwrap();
        self.deliver(self.delivery("completed", &checkout, &order))
            .await;
        let summary = self.executor.wait(order.as_str()).await.unwrap();
        assert_eq!(summary.status, ExecutionStatus::Succeeded, "{summary:?}");
        order
    }

    async fn refund(&self, who: &Who, order: &str) -> ApiResponse {
        self.call(request("POST", "/orders/{id}/refund", who).with_path_param("id", order))
            .await
    }
}

#[tokio::test]
async fn an_organizer_refunds_one_order_once_and_its_seat_goes_back_on_sale() {
    let stack = Stack::new().await;
    let event = stack.create_event(&ORGANIZER, 2, 2500).await;
    let event_id = event["id"].as_str().unwrap();
    let order = stack.paid_order(&ATTENDEE, event_id).await;
    let ticket_id = stack.adapters.order(&order).await.ticket_ids[0];
    assert_eq!(stack.taken(event_id).await, 1);

    // Only the event's organizer; an unknown or malformed order is 404 / 400.
    assert_error(&stack.refund(&OTHER_ORGANIZER, order.as_str()).await, 403);
    assert_error(&stack.refund(&ATTENDEE, order.as_str()).await, 403);
    assert_error(&stack.refund(&ORGANIZER, "cs_unknown").await, 404);
    assert_error(&stack.refund(&ORGANIZER, "not an id").await, 400);
    assert_eq!(stack.payments.refund_count(), 0, "nothing refunded yet");

    // Five at once (a double click, two tabs): one refund.
    let answers =
        futures::future::join_all((0..5).map(|_| stack.refund(&ORGANIZER, order.as_str()))).await;
    for answer in &answers {
        assert_eq!(answer.status, 200, "{}", body_text(answer));
        assert_eq!(answer.json_body()["status"], "REFUNDED");
        assert_eq!(answer.json_body()["tickets"][0]["status"], "VOID");
    }
    let refunds = stack.payments.refunds();
    assert_eq!(refunds.len(), 1);
    assert_eq!(refunds[0].0.amount.amount_minor, 2500);
    assert_eq!(stack.taken(event_id).await, 0, "the seat is back on sale");

    // The buyer sees it, cannot download the ticket, and the door turns it away.
    let shown = stack.order_shown(&ATTENDEE, &order).await;
    assert_eq!(shown["status"], "REFUNDED");
    assert_eq!(shown["failureReason"], "The organizer refunded this order.");
    assert!(shown["tickets"][0]["download"].is_null());
    let download = request("GET", "/tickets/{id}/download", &ATTENDEE)
        .with_path_param("id", ticket_id.to_string());
    assert_error(&stack.call(download).await, 409);
    let code = stack
        .adapters
        .signer
        .sign(ticket_id, event_id.parse().unwrap());
    let scan = stack
        .call(request("POST", "/scan", &ORGANIZER).with_json(&json!({ "code": code })))
        .await
        .json_body();
    assert_eq!(
        (scan["result"].as_str(), scan["reason"].as_str()),
        (Some("VOID"), Some("the order was refunded"))
    );

    // Asking again refunds nothing more; the attendee list names the order to refund.
    let again = stack.refund(&ORGANIZER, order.as_str()).await;
    assert_eq!(again.status, 200);
    assert_eq!(stack.payments.refund_count(), 1);
    let attendees = stack
        .call(request("GET", "/events/{id}/attendees", &ORGANIZER).with_path_param("id", event_id))
        .await
        .json_body();
    assert_eq!(attendees["items"][0]["orderId"], order.as_str());
}

#[tokio::test]
async fn orders_that_cannot_be_refunded_are_409_and_change_nothing() {
    let stack = Stack::new().await;
    let event = stack.create_event(&ORGANIZER, 3, 2500).await;
    let event_id = event["id"].as_str().unwrap();

    // Not paid yet.
    let (_, pending) = stack.open_checkout(&ATTENDEE, event_id).await;
    let refused = assert_error(&stack.refund(&ORGANIZER, pending.as_str()).await, 409);
    assert!(refused.contains("PENDING"), "{refused}");

    // Its ticket admitted someone already.
    let order = stack.paid_order(&OTHER_ATTENDEE, event_id).await;
    let ticket_id = stack.adapters.order(&order).await.ticket_ids[0];
    let code = stack
        .adapters
        .signer
        .sign(ticket_id, event_id.parse().unwrap());
    let scan = request("POST", "/scan", &ORGANIZER).with_json(&json!({ "code": code }));
    assert_eq!(stack.call(scan).await.json_body()["result"], "VALID");
    let refused = assert_error(&stack.refund(&ORGANIZER, order.as_str()).await, 409);
    assert!(refused.contains(&ticket_id.to_string()), "{refused}");
    assert_eq!(
        stack.adapters.order(&order).await.status,
        OrderStatus::Fulfilled
    );
    assert_eq!(stack.payments.refund_count(), 0);
    assert_eq!(stack.taken(event_id).await, 2, "both seats still taken");
}

#[tokio::test]
async fn a_buyer_cancels_their_order_until_the_cut_off_the_organizer_set() {
    let stack = Stack::new().await;
    let cancel = |who: &Who, order: &OrderId| {
        request("POST", "/orders/{id}/cancel", who).with_path_param("id", order.as_str())
    };
    // The event starts in 7 days; buyers may cancel until 48 hours before.
    let mut body = stack.new_event(3, 2500);
    body["cancellationCutoffHours"] = json!(48);
    let event = stack.create_published(&ORGANIZER, &body).await;
    let event_id = event["id"].as_str().unwrap();
    assert_eq!(event["cancellationCutoffHours"], 48);
    let order = stack.paid_order(&ATTENDEE, event_id).await;

    // Only the buyer.
    assert_error(&stack.call(cancel(&OTHER_ATTENDEE, &order)).await, 403);
    assert_error(&stack.call(cancel(&ORGANIZER, &order)).await, 403);
    let cancelled = stack.call(cancel(&ATTENDEE, &order)).await;
    assert_eq!(cancelled.status, 200, "{}", body_text(&cancelled));
    let cancelled = cancelled.json_body();
    assert_eq!(cancelled["status"], "REFUNDED");
    assert_eq!(cancelled["failureReason"], "You cancelled this order.");
    assert_eq!(cancelled["tickets"][0]["status"], "VOID");
    assert_eq!(stack.payments.refund_count(), 1);
    assert_eq!(stack.taken(event_id).await, 0, "the seat is back on sale");
    // Again: the same answer, no second refund.
    assert_eq!(stack.call(cancel(&ATTENDEE, &order)).await.status, 200);
    assert_eq!(stack.payments.refund_count(), 1);

    // Past the cut-off: refused, nothing changed.
    let late = stack.paid_order(&ATTENDEE, event_id).await;
    stack
        .clock
        .advance(TimeDelta::days(5) + TimeDelta::minutes(1));
    let refused = assert_error(&stack.call(cancel(&ATTENDEE, &late)).await, 409);
    assert!(
        refused.contains("until 48 hours before the start"),
        "{refused}"
    );
    assert_eq!(
        stack.adapters.order(&late).await.status,
        OrderStatus::Fulfilled
    );
    assert_eq!(stack.payments.refund_count(), 1);
}

#[tokio::test]
async fn buyers_cannot_cancel_unless_the_organizer_lets_them() {
    let stack = Stack::new().await;
    let event = stack.create_event(&ORGANIZER, 3, 2500).await;
    let event_id = event["id"].as_str().unwrap();
    assert!(event["cancellationCutoffHours"].is_null(), "off by default");
    let order = stack.paid_order(&ATTENDEE, event_id).await;
    let refused = assert_error(
        &stack
            .call(
                request("POST", "/orders/{id}/cancel", &ATTENDEE)
                    .with_path_param("id", order.as_str()),
            )
            .await,
        409,
    );
    assert!(refused.contains("does not let buyers cancel"), "{refused}");
    assert_eq!(
        stack.adapters.order(&order).await.status,
        OrderStatus::Fulfilled
    );
    assert_eq!(stack.payments.refund_count(), 0);
}

// ---- POST /events/{id}/cancel, GET /events/{id}/cancellation

impl Stack {
    async fn cancel_event(&self, who: &Who, event_id: &str) -> ApiResponse {
        self.call(request("POST", "/events/{id}/cancel", who).with_path_param("id", event_id))
            .await
    }

    async fn cancellation(&self, who: &Who, event_id: &str) -> ApiResponse {
        self.call(request("GET", "/events/{id}/cancellation", who).with_path_param("id", event_id))
            .await
    }

    /// The refunds of cancelled `event_id`, once they ended.
    async fn refunds_ended(&self, event_id: &str) -> asl::ExecutionSummary {
        let name = ticket_core::workflow::cancellation_execution_name(event_id.parse().unwrap());
        self.cancellations.wait(&name).await.unwrap()
    }

    /// What the door says of the first ticket of `order`.
    async fn scan_first_ticket(&self, order: &OrderId, event_id: &str) -> Value {
        let ticket_id = self.adapters.order(order).await.ticket_ids[0];
        let code = self
            .adapters
            .signer
            .sign(ticket_id, event_id.parse().unwrap());
        self.call(request("POST", "/scan", &ORGANIZER).with_json(&json!({ "code": code })))
            .await
            .json_body()
    }
}

#[tokio::test]
async fn cancelling_an_event_stops_sales_at_once_and_refunds_every_order_once() {
    let stack = Stack::new().await;
    let event = stack.create_event(&ORGANIZER, 10, 2500).await;
    let event_id = event["id"].as_str().unwrap();
    let mut buyers = Vec::new();
    for who in [&ATTENDEE, &OTHER_ATTENDEE, &ATTENDEE] {
        buyers.push((who, stack.paid_order(who, event_id).await));
    }
    let orders: Vec<OrderId> = buyers.iter().map(|(_, order)| order.clone()).collect();
    // Someone is on Stripe's page when the event is cancelled.
    let (paying, paying_order) = stack.open_checkout(&OTHER_ATTENDEE, event_id).await;

    assert_error(&stack.cancel_event(&OTHER_ORGANIZER, event_id).await, 403);
    assert_error(&stack.cancel_event(&ATTENDEE, event_id).await, 403);
    assert_error(&stack.cancel_event(&ORGANIZER, "not-an-id").await, 400);
    let unknown = uuid::Uuid::now_v7().to_string();
    assert_error(&stack.cancel_event(&ORGANIZER, &unknown).await, 404);
    assert_error(&stack.cancellation(&ORGANIZER, event_id).await, 404);
    assert_eq!(stack.payments.refund_count(), 0, "nothing refunded yet");

    let answer = stack.cancel_event(&ORGANIZER, event_id).await;
    assert_eq!(answer.status, 202, "{}", body_text(&answer));
    assert_eq!(answer.json_body()["ticketsSold"], 3);
    // No sale once the request has returned.
    let refused = assert_error(&stack.checkout(&ATTENDEE, event_id).await, 409);
    assert!(refused.contains("cancelled"), "{refused}");
    // The buyer who was paying pays now: no ticket, the money goes back.
    stack.payments.pay(&paying_order).unwrap();
    stack
        .deliver(stack.delivery("completed", &paying, &paying_order))
        .await;
    stack.executor.wait(paying_order.as_str()).await.unwrap();
    let paid_late = stack.adapters.order(&paying_order).await;
    assert_eq!(paid_late.status, OrderStatus::Failed);
    assert!(paid_late.ticket_ids.is_empty());

    let run = stack.refunds_ended(event_id).await;
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{run:?}");
    for (who, order) in &buyers {
        let shown = stack.order_shown(who, order).await;
        assert_eq!(shown["status"], "REFUNDED", "{shown}");
        assert_eq!(shown["failureReason"], "The event was cancelled.");
        assert_eq!(shown["tickets"][0]["status"], "VOID");
    }
    let refunded: std::collections::BTreeSet<String> = stack
        .payments
        .refunds()
        .iter()
        .map(|(request, _)| request.order_id.to_string())
        .collect();
    assert_eq!(stack.payments.refund_count(), 4, "each order once");
    assert_eq!(refunded.len(), 4);
    assert!(orders.iter().all(|order| refunded.contains(order.as_str())));

    let progress = stack.cancellation(&ORGANIZER, event_id).await;
    assert_eq!(progress.status, 200);
    let progress = progress.json_body();
    assert_eq!(progress["ticketsSold"], 3);
    assert_eq!(progress["ticketsRefunded"], 3);
    assert_eq!(progress["failures"], json!([]));
    assert!(progress["finishedAt"].is_string(), "{progress}");
    assert_error(&stack.cancellation(&OTHER_ORGANIZER, event_id).await, 403);
    let stats = stack
        .call(request("GET", "/events/{id}/stats", &ORGANIZER).with_path_param("id", event_id))
        .await
        .json_body();
    assert_eq!(
        (stats["status"].as_str(), stats["sold"].as_i64()),
        (Some("CANCELLED"), Some(0))
    );
    let scan = stack.scan_first_ticket(&orders[0], event_id).await;
    assert_eq!(
        (scan["result"].as_str(), scan["reason"].as_str()),
        (Some("VOID"), Some("the event was cancelled"))
    );

    // Cancelling twice changes nothing; an edit is refused.
    let again = stack.cancel_event(&ORGANIZER, event_id).await;
    assert_eq!(again.status, 202);
    assert_eq!(again.json_body()["finishedAt"], progress["finishedAt"]);
    assert_eq!(stack.payments.refund_count(), 4);
    let current = stack
        .call(request("GET", "/events/{id}", &ORGANIZER).with_path_param("id", event_id))
        .await;
    let etag = current.header("etag").unwrap().to_owned();
    let mut edit = current.json_body();
    edit["title"] = json!("Back on");
    let edited = stack
        .call(
            request("PUT", "/events/{id}", &ORGANIZER)
                .with_path_param("id", event_id)
                .with_header("if-match", &etag)
                .with_json(&edit),
        )
        .await;
    assert!(assert_error(&edited, 409).contains("cancelled"));
}

#[tokio::test]
async fn refunds_that_keep_failing_are_listed_and_the_others_go_on() {
    let stack = Stack::new().await;
    let event = stack.create_event(&ORGANIZER, 10, 2500).await;
    let event_id = event["id"].as_str().unwrap();
    let mut orders = Vec::new();
    for _ in 0..4 {
        orders.push(stack.paid_order(&ATTENDEE, event_id).await);
    }
    // Stripe refuses two of the payments' refunds, however often it is asked.
    stack.payments.fail_refunds_of(&orders[1]);
    stack.payments.fail_refunds_of(&orders[3]);

    assert_eq!(stack.cancel_event(&ORGANIZER, event_id).await.status, 202);
    let run = stack.refunds_ended(event_id).await;
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{run:?}");

    let mut statuses = Vec::new();
    for order in &orders {
        statuses.push(stack.adapters.order(order).await.status);
    }
    use OrderStatus::{Refunded, Refunding};
    assert_eq!(statuses, [Refunded, Refunding, Refunded, Refunding]);
    let progress = stack.cancellation(&ORGANIZER, event_id).await.json_body();
    assert_eq!(progress["ticketsSold"], 4);
    assert_eq!(progress["ticketsRefunded"], 2);
    assert!(progress["finishedAt"].is_string());
    let failures = progress["failures"].as_array().unwrap();
    let listed: Vec<&str> = failures
        .iter()
        .map(|failure| failure["orderId"].as_str().unwrap())
        .collect();
    let mut expected = vec![orders[1].as_str(), orders[3].as_str()];
    expected.sort_unstable();
    assert_eq!(listed, expected);
    for failure in failures {
        let reason = failure["reason"].as_str().unwrap();
        assert!(reason.contains("refunding the payment"), "{reason}");
    }
    // Its tickets admit nobody all the same.
    let scan = stack.scan_first_ticket(&orders[1], event_id).await;
    assert_eq!(scan["result"], "VOID");

    // Stripe recovers: the reconciliation pass finishes them and the list empties.
    stack.payments.recover_refunds();
    let pass = ticket_core::reconcile::reconcile(&ticket_core::reconcile::ReconcilePorts {
        store: stack.adapters.store.clone(),
        payments: stack.payments.clone(),
        workflow: stack.ports.workflow.clone(),
        clock: stack.clock.clone(),
    })
    .await
    .unwrap();
    assert_eq!(pass.refunds_finished, 2, "{pass:?}");
    let progress = stack.cancellation(&ORGANIZER, event_id).await.json_body();
    assert_eq!(progress["ticketsRefunded"], 4);
    assert_eq!(progress["failures"], json!([]));
    assert_eq!(stack.payments.refund_count(), 4);
}

#[tokio::test]
async fn an_order_being_registered_when_the_event_is_cancelled_is_refunded_once_it_is_done() {
    let stack = Stack::new().await;
    let event = stack.create_event(&ORGANIZER, 10, 2500).await;
    let event_id = event["id"].as_str().unwrap();
    let done = stack.paid_order(&ATTENDEE, event_id).await;
    // A payment whose registration has sold its seat but not yet made its ticket.
    let (checkout, in_flight) = stack.open_checkout(&OTHER_ATTENDEE, event_id).await;
    stack.payments.pay(&in_flight).unwrap();
    let request = ticket_core::RegistrationRequest {
        order_id: in_flight.clone(),
        event_id: checkout.event_id,
        hold_id: checkout.hold_id,
        ticket_type_id: None,
        tickets: checkout.tickets.clone(),
        user_id: checkout.user_id.clone(),
        payment_intent_id: Some(FakePayments::payment_intent_of(&in_flight)),
        amount_minor: checkout.total().amount_minor,
        currency: checkout.currency,
        attendee: ticket_core::Attendee {
            name: "Bob".into(),
            email: "bob@example.com".into(),
        },
    };
    ticket_core::registration::confirm_seat(&*stack.adapters.store, &request, stack.now())
        .await
        .unwrap();
    assert_eq!(
        stack.adapters.order(&in_flight).await.status,
        OrderStatus::Pending
    );

    assert_eq!(stack.cancel_event(&ORGANIZER, event_id).await.status, 202);
    // The cancellation waits for it (listed while it is being registered, then again)...
    loop {
        let progress = stack.cancellation(&ORGANIZER, event_id).await.json_body();
        if !progress["failures"].as_array().unwrap().is_empty() {
            assert!(
                progress["finishedAt"].is_null(),
                "not finished while one is in flight"
            );
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    // ... the registration ends with a ticket ...
    stack
        .deliver(stack.delivery("completed", &checkout, &in_flight))
        .await;
    let registered = stack.executor.wait(in_flight.as_str()).await.unwrap();
    assert_eq!(
        registered.status,
        ExecutionStatus::Succeeded,
        "{registered:?}"
    );

    // ... and the next pass refunds it.
    let run = stack.refunds_ended(event_id).await;
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{run:?}");
    for order in [&done, &in_flight] {
        let order = stack.adapters.order(order).await;
        assert_eq!(order.status, OrderStatus::Refunded, "{order:?}");
        assert_eq!(
            order.failure_reason.as_deref(),
            Some("The event was cancelled.")
        );
    }
    assert_eq!(stack.payments.refund_count(), 2);
}

#[tokio::test]
async fn a_cancellation_cut_short_by_a_restart_resumes_and_refunds_each_order_once() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use ticket_core::cancellation::CancellationStep;

    let stack = Stack::new().await;
    let event = stack.create_event(&ORGANIZER, 10, 2500).await;
    let event_id: EventId = event["id"].as_str().unwrap().parse().unwrap();
    let mut orders = Vec::new();
    for _ in 0..6 {
        orders.push(stack.paid_order(&ATTENDEE, &event_id.to_string()).await);
    }
    // The first run refunds two orders, then hangs in the others until ticketd stops.
    struct Hangs {
        inner: Arc<dyn asl::TaskFunction>,
        calls: Arc<AtomicUsize>,
    }
    #[async_trait::async_trait]
    impl asl::TaskFunction for Hangs {
        async fn invoke(&self, payload: Value) -> Result<Value, asl::TaskFailure> {
            if self.calls.fetch_add(1, Ordering::SeqCst) < 2 {
                self.inner.invoke(payload).await
            } else {
                std::future::pending().await
            }
        }
    }
    let calls = Arc::new(AtomicUsize::new(0));
    let journal = stack.adapters.dir.path().join("cancel-restart.sqlite3");
    let steps = Arc::new(stack.adapters.cancellation_steps());
    let first = cancellation::open_executor(
        &journal,
        cancellation::bindings(steps.clone(), |step, inner| match step {
            CancellationStep::RefundCancelledOrder => Arc::new(Hangs {
                inner,
                calls: calls.clone(),
            }),
            _ => inner,
        }),
        ExecutorOptions::default(),
    )
    .await
    .unwrap();
    stack
        .adapters
        .store
        .cancel_event(event_id, stack.now())
        .await
        .unwrap();
    LocalWorkflow::new(stack.executor.clone())
        .with_cancellations(first.clone())
        .start_cancellation(event_id)
        .await
        .unwrap();
    while calls.load(Ordering::SeqCst) < 6 || stack.payments.refund_count() < 2 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let name = ticket_core::workflow::cancellation_execution_name(event_id);
    let running = first.describe(&name).await.unwrap().unwrap();
    assert_eq!(running.status, ExecutionStatus::Running);
    first.shutdown();
    assert_eq!(
        stack.payments.refund_count(),
        2,
        "cut short after two refunds"
    );

    // ticketd starts again: the cancellation goes on where it was and ends.
    let second = cancellation::open_executor(
        &journal,
        cancellation::bindings(steps, |_, inner| inner),
        ExecutorOptions::default(),
    )
    .await
    .unwrap();
    let run = second.wait(&name).await.unwrap();
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{run:?}");
    for order in &orders {
        assert_eq!(
            stack.adapters.order(order).await.status,
            OrderStatus::Refunded
        );
    }
    assert_eq!(stack.payments.refund_count(), 6, "each order refunded once");
    let history = second.history(&name).await.unwrap().unwrap();
    assert!(history.iter().any(|event| matches!(
        &event.kind,
        asl::HistoryEventKind::ExecutionResumed { state } if state == "RefundOrders"
    )));
}

#[tokio::test]
async fn a_cancellation_whose_refunds_never_started_is_started_by_the_reconciliation_pass() {
    let stack = Stack::new().await;
    let event = stack.create_event(&ORGANIZER, 10, 2500).await;
    let event_id = event["id"].as_str().unwrap();
    let order = stack.paid_order(&ATTENDEE, event_id).await;
    // The process stops between the cancellation and the start of its refunds.
    stack
        .adapters
        .store
        .cancel_event(event_id.parse().unwrap(), stack.now())
        .await
        .unwrap();
    let pass = || async {
        ticket_core::reconcile::reconcile(&ticket_core::reconcile::ReconcilePorts {
            store: stack.adapters.store.clone(),
            payments: stack.payments.clone(),
            workflow: stack.ports.workflow.clone(),
            clock: stack.clock.clone(),
        })
        .await
        .unwrap()
    };
    // The request itself would start them: a pass leaves them a minute.
    assert_eq!(pass().await.cancellations_started, 0);
    stack.clock.advance(TimeDelta::minutes(2));
    assert_eq!(pass().await.cancellations_started, 1);
    let run = stack.refunds_ended(event_id).await;
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{run:?}");
    assert_eq!(
        stack.adapters.order(&order).await.status,
        OrderStatus::Refunded
    );
    // Finished: out of the index, nothing more to start.
    assert_eq!(pass().await.cancellations_started, 0);
    assert_eq!(stack.payments.refund_count(), 1);
}
