//! The Stripe adapter against a stub Stripe: an axum server on 127.0.0.1 that records every
//! request and answers with objects and errors shaped as in Stripe's API reference. Checks what
//! the adapter sends (form fields, idempotency keys, credentials) and how it reads the answers.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use chrono::{TimeZone, Utc};
use serde_json::{Value, json};
use ticket_cloud::StripePayments;
use ticket_core::{
    CheckoutDiscount, CheckoutLine, CheckoutRequest, CheckoutSession, EventId, HoldId, Money,
    OrderId, OrderedTicket, Payments, PaymentsError, Refund, RefundRequest, TicketTypeId, UserId,
};
use uuid::Uuid;

const SECRET: &str = "sk_test_4eC39HqLyjWDarjtT1zdp7dc";
const STANDARD: &str = "0190c5a0-0000-7000-8000-000000000003";
const VIP: &str = "0190c5a0-0000-7000-8000-000000000004";
const SESSION_ID: &str = "cs_test_a11YYufWQzNY63zpQ6QSNRQhkUpVph4WRmzW0zWJO2znZKdVujZ0N0S22u";
const SESSION_URL: &str = "https://checkout.stripe.com/c/pay/cs_test_a11YYufWQzNY63zpQ6QSNRQhkUpVph4WRmzW0zWJO2znZKdVujZ0N0S22u";
const PAYMENT_INTENT: &str = "pi_1GszsK2eZvKYlo2CfhZyoZLp";
const REFUND_ID: &str = "re_1Nispe2eZvKYlo2Cd31jOCgZ";

// ---- the stub ----

/// One request as the stub saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: Method,
    path: String,
    query: Option<String>,
    headers: HeaderMap,
    form: Vec<(String, String)>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .map(|value| value.to_str().expect("ASCII header"))
    }

    fn field(&self, name: &str) -> Option<&str> {
        let mut values = self.form.iter().filter(|(key, _)| key == name);
        let value = values.next().map(|(_, value)| value.as_str());
        assert!(values.next().is_none(), "{name} sent twice");
        value
    }

    /// Asserts the request's method and path, and that it carries the secret key.
    fn assert_sent_to(&self, method: Method, path: &str) {
        assert_eq!(self.method, method);
        assert_eq!(self.path, path);
        assert_eq!(
            self.header("authorization"),
            Some(&*format!("Bearer {SECRET}"))
        );
    }

    fn field_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.form.iter().map(|(key, _)| key.as_str()).collect();
        names.sort_unstable();
        names
    }
}

type Answer = (StatusCode, String);
type Answerer = dyn Fn(&Seen) -> Answer + Send + Sync;

struct StubState {
    seen: Mutex<Vec<Seen>>,
    answer: Box<Answerer>,
    delay: Duration,
}

struct Stub {
    url: String,
    state: Arc<StubState>,
}

impl Stub {
    async fn start(answer: impl Fn(&Seen) -> Answer + Send + Sync + 'static) -> Self {
        Self::start_slow(Duration::ZERO, answer).await
    }

    /// A stub that waits `delay` before answering.
    async fn start_slow(
        delay: Duration,
        answer: impl Fn(&Seen) -> Answer + Send + Sync + 'static,
    ) -> Self {
        let state = Arc::new(StubState {
            seen: Mutex::new(Vec::new()),
            answer: Box::new(answer),
            delay,
        });
        let app = Router::new().fallback(record).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the stub");
        let url = format!("http://{}", listener.local_addr().expect("stub address"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, state }
    }

    fn payments(&self) -> StripePayments {
        StripePayments::new(SECRET, Some(&self.url)).expect("client")
    }

    fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().expect("stub lock").clone()
    }

    /// This test's checkout (without an email), through the adapter.
    async fn checkout(&self) -> Result<CheckoutSession, PaymentsError> {
        self.payments()
            .create_checkout(&checkout_request(None))
            .await
    }

    /// Expiring this test's session, through the adapter.
    async fn expire(&self) -> Result<(), PaymentsError> {
        self.payments()
            .expire_checkout(&OrderId::from(SESSION_ID))
            .await
    }

    /// This test's refund, through the adapter.
    async fn refund(&self) -> Result<Refund, PaymentsError> {
        self.payments().refund(&refund_request()).await
    }

    fn only_request(&self) -> Seen {
        let seen = self.seen();
        assert_eq!(seen.len(), 1, "exactly one request: {seen:#?}");
        seen.into_iter().next().expect("one request")
    }
}

async fn record(
    State(state): State<Arc<StubState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let seen = Seen {
        method,
        path: uri.path().to_owned(),
        query: uri.query().map(str::to_owned),
        headers,
        form: form_urlencoded::parse(&body).into_owned().collect(),
    };
    let (status, body) = (state.answer)(&seen);
    state.seen.lock().expect("stub lock").push(seen);
    tokio::time::sleep(state.delay).await;
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// Always the same answer.
fn answer(status: StatusCode, body: Value) -> impl Fn(&Seen) -> Answer + Send + Sync + 'static {
    let body = body.to_string();
    move |_| (status, body.clone())
}

// ---- Stripe-shaped answers (API reference examples, with our values) ----

/// A checkout.session as Stripe's API reference shows it, with this test's values.
const SESSION_OBJECT: &str = r#"{
  "id": "cs_test_a11YYufWQzNY63zpQ6QSNRQhkUpVph4WRmzW0zWJO2znZKdVujZ0N0S22u",
  "object": "checkout.session",
  "after_expiration": null,
  "allow_promotion_codes": null,
  "amount_subtotal": 2500,
  "amount_total": 2500,
  "automatic_tax": { "enabled": false, "liability": null, "status": null },
  "billing_address_collection": null,
  "cancel_url": "https://tickets.example/events/e1?checkout=cancelled",
  "client_reference_id": "0190c5a0-0000-7000-8000-000000000002",
  "consent": null,
  "consent_collection": null,
  "created": 1735689600,
  "currency": "eur",
  "custom_fields": [],
  "custom_text": { "shipping_address": null, "submit": null },
  "customer": null,
  "customer_creation": "if_required",
  "customer_details": null,
  "customer_email": "ada@example.com",
  "expires_at": 1735691400,
  "invoice": null,
  "invoice_creation": {
    "enabled": false,
    "invoice_data": {
      "account_tax_ids": null,
      "custom_fields": null,
      "description": null,
      "footer": null,
      "issuer": null,
      "metadata": {},
      "rendering_options": null
    }
  },
  "livemode": false,
  "locale": null,
  "metadata": {
    "eventId": "0190c5a0-0000-7000-8000-000000000001",
    "holdId": "0190c5a0-0000-7000-8000-000000000002",
    "userId": "cognito-sub-123"
  },
  "mode": "payment",
  "payment_intent": null,
  "payment_link": null,
  "payment_method_collection": "if_required",
  "payment_method_options": {},
  "payment_method_types": ["card"],
  "payment_status": "unpaid",
  "phone_number_collection": { "enabled": false },
  "recovered_from": null,
  "setup_intent": null,
  "shipping_address_collection": null,
  "shipping_cost": null,
  "shipping_details": null,
  "shipping_options": [],
  "status": "open",
  "submit_type": null,
  "subscription": null,
  "success_url": "https://tickets.example/orders?session={CHECKOUT_SESSION_ID}",
  "total_details": { "amount_discount": 0, "amount_shipping": 0, "amount_tax": 0 },
  "url": null
}"#;

/// The session as Stripe returns it on creation.
fn open_session() -> Value {
    session_object("open", Some(SESSION_URL))
}

fn session_object(status: &str, url: Option<&str>) -> Value {
    let mut session: Value = serde_json::from_str(SESSION_OBJECT).expect("session JSON");
    session["status"] = json!(status);
    session["url"] = json!(url);
    if status == "complete" {
        session["payment_status"] = json!("paid");
        session["payment_intent"] = json!(PAYMENT_INTENT);
    }
    session
}

fn refund_object(id: &str, order_id: &str) -> Value {
    json!({
        "id": id,
        "object": "refund",
        "amount": 2500,
        "balance_transaction": "txn_1Nispe2eZvKYlo2CYezqFhEx",
        "charge": "ch_1NirD82eZvKYlo2CIvbtLWuY",
        "created": 1_692_942_318,
        "currency": "eur",
        "destination_details": {
            "card": {
                "reference": "123456789012",
                "reference_status": "available",
                "reference_type": "acquirer_reference_number",
                "type": "refund"
            },
            "type": "card"
        },
        "metadata": { "orderId": order_id },
        "payment_intent": PAYMENT_INTENT,
        "reason": null,
        "receipt_number": null,
        "source_transfer_reversal": null,
        "status": "succeeded",
        "transfer_reversal": null
    })
}

fn stripe_error(kind: &str, code: Option<&str>, message: &str) -> Value {
    let mut error = json!({
        "message": message,
        "request_log_url": "https://dashboard.stripe.com/test/logs/req_9mQ4YoOb3RXK1m",
        "type": kind
    });
    if let Some(code) = code {
        error["code"] = json!(code);
        error["doc_url"] = json!(format!("https://stripe.com/docs/error-codes/{code}"));
    }
    json!({ "error": error })
}

fn card_declined() -> Value {
    let mut error = stripe_error(
        "card_error",
        Some("card_declined"),
        "Your card was declined.",
    );
    error["error"]["decline_code"] = json!("generic_decline");
    error
}

// ---- requests ----

fn checkout_request(customer_email: Option<&str>) -> CheckoutRequest {
    CheckoutRequest {
        event_id: EventId::from(Uuid::parse_str("0190c5a0-0000-7000-8000-000000000001").unwrap()),
        hold_id: HoldId::from(Uuid::parse_str("0190c5a0-0000-7000-8000-000000000002").unwrap()),
        user_id: UserId::from("cognito-sub-123"),
        currency: "EUR".parse().unwrap(),
        // Two standard tickets (one named) and a VIP one.
        lines: vec![
            CheckoutLine {
                title: "RustConf & Friends 2026 — Standard".to_owned(),
                unit_price_minor: 2500,
                quantity: 2,
            },
            CheckoutLine {
                title: "RustConf & Friends 2026 — VIP".to_owned(),
                unit_price_minor: 9000,
                quantity: 1,
            },
        ],
        discount: None,
        tickets: [
            (STANDARD, Some("Grace Hopper")),
            (STANDARD, None),
            (VIP, Some("Ada")),
        ]
        .into_iter()
        .map(|(type_id, holder)| OrderedTicket {
            ticket_type_id: TicketTypeId::from(Uuid::parse_str(type_id).unwrap()),
            holder_name: holder.map(str::to_owned),
        })
        .collect(),
        customer_email: customer_email.map(str::to_owned),
        expires_at: Utc.timestamp_opt(1_735_691_400, 0).unwrap(),
        success_url: "https://tickets.example/orders?session={CHECKOUT_SESSION_ID}".to_owned(),
        cancel_url: "https://tickets.example/events/e1?checkout=cancelled".to_owned(),
    }
}

fn refund_request() -> RefundRequest {
    RefundRequest {
        order_id: OrderId::from(SESSION_ID),
        payment_intent_id: PAYMENT_INTENT.to_owned(),
        amount: Money {
            amount_minor: 2500,
            currency: "EUR".parse().unwrap(),
        },
    }
}

// ---- checkout sessions ----

#[tokio::test]
async fn create_checkout_posts_one_payment_session_for_the_hold() {
    let stub = Stub::start(answer(StatusCode::OK, open_session())).await;
    let request = checkout_request(Some("ada@example.com"));

    let session = stub.payments().create_checkout(&request).await.unwrap();

    assert_eq!(
        session,
        CheckoutSession {
            id: OrderId::from(SESSION_ID),
            url: SESSION_URL.to_owned()
        }
    );
    let sent = stub.only_request();
    sent.assert_sent_to(Method::POST, "/v1/checkout/sessions");
    assert_eq!(
        sent.header("idempotency-key"),
        Some("checkout-0190c5a0-0000-7000-8000-000000000002")
    );
    assert_eq!(
        sent.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    let expected = [
        (
            "cancel_url",
            "https://tickets.example/events/e1?checkout=cancelled",
        ),
        (
            "client_reference_id",
            "0190c5a0-0000-7000-8000-000000000002",
        ),
        ("customer_email", "ada@example.com"),
        ("expires_at", "1735691400"),
        ("line_items[0][price_data][currency]", "eur"),
        (
            "line_items[0][price_data][product_data][name]",
            "RustConf & Friends 2026 — Standard",
        ),
        ("line_items[0][price_data][unit_amount]", "2500"),
        ("line_items[0][quantity]", "2"),
        ("line_items[1][price_data][currency]", "eur"),
        (
            "line_items[1][price_data][product_data][name]",
            "RustConf & Friends 2026 — VIP",
        ),
        ("line_items[1][price_data][unit_amount]", "9000"),
        ("line_items[1][quantity]", "1"),
        ("metadata[eventId]", "0190c5a0-0000-7000-8000-000000000001"),
        ("metadata[holdId]", "0190c5a0-0000-7000-8000-000000000002"),
        ("metadata[ticket1Holder]", "Grace Hopper"),
        ("metadata[ticket1Type]", STANDARD),
        ("metadata[ticket2Type]", STANDARD),
        ("metadata[ticket3Holder]", "Ada"),
        ("metadata[ticket3Type]", VIP),
        ("metadata[userId]", "cognito-sub-123"),
        ("mode", "payment"),
        (
            "success_url",
            "https://tickets.example/orders?session={CHECKOUT_SESSION_ID}",
        ),
    ];
    for (name, value) in expected {
        assert_eq!(sent.field(name), Some(value), "{name}");
    }
    assert_eq!(
        sent.field_names(),
        expected.map(|(name, _)| name),
        "no other fields"
    );
}

#[tokio::test]
async fn a_retried_checkout_sends_the_same_idempotency_key() {
    let stub = Stub::start(answer(StatusCode::OK, open_session())).await;
    let payments = stub.payments();
    let request = checkout_request(None);

    payments.create_checkout(&request).await.unwrap();
    payments.create_checkout(&request).await.unwrap();

    let keys: Vec<_> = stub
        .seen()
        .iter()
        .map(|seen| seen.header("idempotency-key").map(str::to_owned))
        .collect();
    let expected = Some(request.idempotency_key());
    assert_eq!(keys, vec![expected.clone(), expected]);
}

#[tokio::test]
async fn a_checkout_without_an_email_leaves_customer_email_out() {
    let stub = Stub::start(answer(StatusCode::OK, open_session())).await;

    stub.checkout().await.unwrap();

    let sent = stub.only_request();
    assert_eq!(sent.field("customer_email"), None);
    assert_eq!(sent.field("mode"), Some("payment"));
}

#[tokio::test]
async fn a_session_without_a_url_is_internal() {
    let stub = Stub::start(answer(StatusCode::OK, session_object("open", None))).await;

    let error = stub.checkout().await.unwrap_err();

    assert!(
        matches!(&error, PaymentsError::Internal(text) if text.contains(SESSION_ID)),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_base_url_with_a_path_keeps_it() {
    let stub = Stub::start(answer(StatusCode::OK, open_session())).await;
    let payments = StripePayments::new(SECRET, Some(&format!("{}/stripe", stub.url))).unwrap();

    payments
        .create_checkout(&checkout_request(None))
        .await
        .unwrap();

    assert_eq!(stub.only_request().path, "/stripe/v1/checkout/sessions");
}

#[test]
fn an_unusable_base_url_is_internal_without_the_key() {
    let error = StripePayments::new(SECRET, Some("http://not a host/")).unwrap_err();

    assert!(matches!(error, PaymentsError::Internal(_)), "{error:?}");
    assert!(!error.to_string().contains(SECRET));
}

// ---- expiring ----

#[tokio::test]
async fn expiring_an_open_session_posts_expire_once() {
    let stub = Stub::start(answer(StatusCode::OK, session_object("expired", None))).await;

    stub.expire().await.unwrap();

    let sent = stub.only_request();
    sent.assert_sent_to(
        Method::POST,
        &format!("/v1/checkout/sessions/{SESSION_ID}/expire"),
    );
}

/// Stripe answers expiring a session that is not open with this error.
fn not_open() -> Value {
    stripe_error(
        "invalid_request_error",
        None,
        "Only Checkout Sessions with a status in [\"open\"] can be expired.",
    )
}

/// Refuses every expire, and answers reads with a session in `status`.
fn refuses_expire(status: &'static str) -> impl Fn(&Seen) -> Answer + Send + Sync + 'static {
    move |seen| {
        if seen.method == Method::POST {
            (StatusCode::BAD_REQUEST, not_open().to_string())
        } else {
            (StatusCode::OK, session_object(status, None).to_string())
        }
    }
}

#[tokio::test]
async fn expiring_an_expired_session_is_ok() {
    let stub = Stub::start(refuses_expire("expired")).await;

    stub.expire().await.unwrap();

    let seen: Vec<_> = stub
        .seen()
        .into_iter()
        .map(|seen| (seen.method, seen.path))
        .collect();
    assert_eq!(
        seen,
        vec![
            (
                Method::POST,
                format!("/v1/checkout/sessions/{SESSION_ID}/expire")
            ),
            (Method::GET, format!("/v1/checkout/sessions/{SESSION_ID}")),
        ]
    );
}

#[tokio::test]
async fn expiring_a_paid_session_is_rejected() {
    let stub = Stub::start(refuses_expire("complete")).await;

    let error = stub.expire().await.unwrap_err();

    assert!(
        matches!(&error, PaymentsError::Rejected(text) if text.contains("complete")),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_refused_expire_of_a_still_open_session_keeps_stripes_message() {
    let stub = Stub::start(refuses_expire("open")).await;

    let error = stub.expire().await.unwrap_err();

    assert!(
        matches!(&error, PaymentsError::Rejected(text) if text.contains("can be expired")),
        "{error:?}"
    );
}

#[tokio::test]
async fn expiring_during_an_outage_is_unavailable_without_a_second_look() {
    let stub = Stub::start(answer(
        StatusCode::SERVICE_UNAVAILABLE,
        stripe_error("api_error", None, "An unknown error occurred"),
    ))
    .await;

    let error = stub.expire().await.unwrap_err();

    assert!(error.is_transient(), "{error:?}");
    stub.only_request();
}

#[tokio::test]
async fn a_session_id_that_is_not_an_id_is_rejected_unsent() {
    let stub = Stub::start(answer(StatusCode::OK, session_object("expired", None))).await;

    let error = stub
        .payments()
        .expire_checkout(&OrderId::from("../../refunds"))
        .await
        .unwrap_err();

    assert!(matches!(error, PaymentsError::Rejected(_)), "{error:?}");
    assert!(stub.seen().is_empty());
}

// ---- refunds ----

#[tokio::test]
async fn refund_posts_the_payment_amount_and_order_with_the_orders_key() {
    let stub = Stub::start(answer(StatusCode::OK, refund_object(REFUND_ID, SESSION_ID))).await;

    let refund = stub.refund().await.unwrap();

    assert_eq!(
        refund,
        Refund {
            id: REFUND_ID.to_owned(),
            status: "succeeded".to_owned()
        }
    );
    let sent = stub.only_request();
    sent.assert_sent_to(Method::POST, "/v1/refunds");
    assert_eq!(
        sent.header("idempotency-key"),
        Some(&*format!("refund-{SESSION_ID}"))
    );
    assert_eq!(sent.field("payment_intent"), Some(PAYMENT_INTENT));
    assert_eq!(sent.field("amount"), Some("2500"));
    assert_eq!(sent.field("metadata[orderId]"), Some(SESSION_ID));
    assert_eq!(
        sent.field_names(),
        ["amount", "metadata[orderId]", "payment_intent"]
    );
}

/// Refuses every refund as already made, and lists `refunds` for the payment.
fn already_refunded(refunds: Vec<Value>) -> impl Fn(&Seen) -> Answer + Send + Sync + 'static {
    let list = json!({
        "object": "list",
        "url": "/v1/refunds",
        "has_more": false,
        "data": refunds
    })
    .to_string();
    move |seen| {
        if seen.method == Method::POST {
            let error = stripe_error(
                "invalid_request_error",
                Some("charge_already_refunded"),
                "Charge ch_1NirD82eZvKYlo2CIvbtLWuY has already been refunded.",
            );
            (StatusCode::BAD_REQUEST, error.to_string())
        } else {
            (StatusCode::OK, list.clone())
        }
    }
}

#[tokio::test]
async fn a_payment_refunded_long_ago_returns_the_orders_refund() {
    let stub = Stub::start(already_refunded(vec![
        refund_object("re_someone_else", "cs_test_other"),
        refund_object(REFUND_ID, SESSION_ID),
    ]))
    .await;

    let refund = stub.refund().await.unwrap();

    assert_eq!(refund.id, REFUND_ID);
    let seen = stub.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(
        (&seen[1].method, seen[1].path.as_str()),
        (&Method::GET, "/v1/refunds")
    );
    let query: Vec<(String, String)> =
        form_urlencoded::parse(seen[1].query.as_deref().unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    assert!(
        query.contains(&("payment_intent".to_owned(), PAYMENT_INTENT.to_owned())),
        "{query:?}"
    );
}

#[tokio::test]
async fn already_refunded_with_no_refund_to_show_stays_rejected() {
    let stub = Stub::start(already_refunded(vec![])).await;

    let error = stub.refund().await.unwrap_err();

    assert!(
        matches!(&error, PaymentsError::Rejected(text) if text.contains("has already been refunded")),
        "{error:?}"
    );
}

// ---- error mapping ----

async fn checkout_error(status: StatusCode, body: Value) -> (PaymentsError, Stub) {
    let stub = Stub::start(answer(status, body)).await;
    let error = stub.checkout().await.unwrap_err();
    (error, stub)
}

#[tokio::test]
async fn a_card_error_is_rejected_with_stripes_message() {
    let stub = Stub::start(answer(StatusCode::PAYMENT_REQUIRED, card_declined())).await;

    let error = stub.refund().await.unwrap_err();

    assert_eq!(
        error,
        PaymentsError::Rejected(
            "Stripe create refund: Your card was declined. (card_declined)".to_owned()
        )
    );
}

#[tokio::test]
async fn an_invalid_request_is_rejected_with_stripes_message() {
    let (error, _) = checkout_error(
        StatusCode::BAD_REQUEST,
        stripe_error(
            "invalid_request_error",
            Some("parameter_invalid_integer"),
            "The Checkout Session's expires_at must be at least 30 minutes after creation.",
        ),
    )
    .await;

    assert!(
        matches!(&error, PaymentsError::Rejected(text)
            if text.contains("must be at least 30 minutes") && text.contains("parameter_invalid_integer")),
        "{error:?}"
    );
}

#[tokio::test]
async fn rate_limiting_is_unavailable_and_not_retried_here() {
    let (error, stub) = checkout_error(
        StatusCode::TOO_MANY_REQUESTS,
        stripe_error(
            "invalid_request_error",
            Some("rate_limit"),
            "Too many requests hit the API too quickly. We recommend an exponential backoff of your requests.",
        ),
    )
    .await;

    assert!(matches!(error, PaymentsError::Unavailable(_)), "{error:?}");
    stub.only_request();
}

#[tokio::test]
async fn a_server_error_is_unavailable_and_not_retried_here() {
    let (error, stub) = checkout_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        stripe_error("api_error", None, "An unknown error occurred"),
    )
    .await;

    assert!(
        matches!(&error, PaymentsError::Unavailable(text) if text.contains("500")),
        "{error:?}"
    );
    stub.only_request();
}

#[tokio::test]
async fn a_concurrent_request_with_the_same_key_is_unavailable() {
    let (error, _) = checkout_error(
        StatusCode::CONFLICT,
        stripe_error(
            "idempotency_error",
            None,
            "There is currently another in-progress request using this Stripe-Idempotency-Key.",
        ),
    )
    .await;

    assert!(error.is_transient(), "{error:?}");
}

#[tokio::test]
async fn a_refused_key_is_internal_and_never_shows_the_key() {
    // A server that echoes the whole key (Stripe itself masks it).
    let (error, _) = checkout_error(
        StatusCode::UNAUTHORIZED,
        stripe_error(
            "invalid_request_error",
            None,
            &format!("Invalid API Key provided: {SECRET}"),
        ),
    )
    .await;

    assert!(matches!(error, PaymentsError::Internal(_)), "{error:?}");
    let text = error.to_string();
    assert!(
        text.contains("Invalid API Key provided: [redacted]"),
        "{text}"
    );
    assert!(!text.contains(SECRET), "{text}");
}

#[tokio::test]
async fn an_unreadable_answer_is_internal() {
    let stub =
        Stub::start(|_: &Seen| (StatusCode::OK, "{\"id\": \"cs_test_1\", ".to_owned())).await;

    let error = stub.checkout().await.unwrap_err();

    assert!(matches!(error, PaymentsError::Internal(_)), "{error:?}");
}

#[tokio::test]
async fn an_unreadable_error_answer_is_internal() {
    // async-stripe reports an error body it cannot parse without its status.
    let stub = Stub::start(|_: &Seen| {
        (
            StatusCode::BAD_GATEWAY,
            "<html><body>502 Bad Gateway</body></html>".to_owned(),
        )
    })
    .await;

    let error = stub.refund().await.unwrap_err();

    assert!(matches!(error, PaymentsError::Internal(_)), "{error:?}");
}

#[tokio::test]
async fn a_refused_connection_is_unavailable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let payments = StripePayments::new(SECRET, Some(&url)).unwrap();

    let error = payments
        .create_checkout(&checkout_request(None))
        .await
        .unwrap_err();

    assert!(matches!(error, PaymentsError::Unavailable(_)), "{error:?}");
    assert!(!error.to_string().contains(SECRET));
}

#[tokio::test]
async fn a_slow_answer_times_out_as_unavailable() {
    let stub = Stub::start_slow(
        Duration::from_secs(5),
        answer(StatusCode::OK, refund_object(REFUND_ID, SESSION_ID)),
    )
    .await;
    let payments = stub.payments().with_timeout(Duration::from_millis(200));

    let started = std::time::Instant::now();
    let error = payments.refund(&refund_request()).await.unwrap_err();

    assert!(
        matches!(&error, PaymentsError::Unavailable(text) if text.contains("timed out")),
        "{error:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn a_discounted_checkout_makes_a_one_off_coupon_and_applies_it() {
    let stub = Stub::start(|seen: &Seen| {
        if seen.path == "/v1/coupons" {
            let coupon = json!({"id": "Z4OV52SU", "object": "coupon", "amount_off": 1250,
                "currency": "eur", "duration": "once", "livemode": false, "valid": true,
                "created": 1735689600, "times_redeemed": 0, "metadata": {}});
            answer(StatusCode::OK, coupon)(seen)
        } else {
            answer(StatusCode::OK, open_session())(seen)
        }
    })
    .await;
    let request = CheckoutRequest {
        discount: Some(CheckoutDiscount {
            label: "A-VERY-LONG-PARTNER-CODE-2026 (12.50 EUR off)".into(),
            amount_minor: 1250,
        }),
        ..checkout_request(None)
    };

    stub.payments().create_checkout(&request).await.unwrap();

    let [coupon, session] = &stub.seen()[..] else {
        panic!("two requests: {:?}", stub.seen());
    };
    coupon.assert_sent_to(Method::POST, "/v1/coupons");
    assert_eq!(
        coupon.header("idempotency-key"),
        Some("coupon-0190c5a0-0000-7000-8000-000000000002")
    );
    let expected = [
        ("amount_off", "1250"),
        ("currency", "eur"),
        ("duration", "once"),
        ("max_redemptions", "1"),
        ("metadata[holdId]", "0190c5a0-0000-7000-8000-000000000002"),
        // Stripe's names are at most 40 characters.
        ("name", "A-VERY-LONG-PARTNER-CODE-2026 (12.50 EUR"),
    ];
    for (name, value) in expected {
        assert_eq!(coupon.field(name), Some(value), "{name}");
    }
    assert_eq!(coupon.field_names(), expected.map(|(name, _)| name));
    session.assert_sent_to(Method::POST, "/v1/checkout/sessions");
    assert_eq!(session.field("discounts[0][coupon]"), Some("Z4OV52SU"));
    assert_eq!(request.total().amount_minor, 5000 + 9000 - 1250);
}
