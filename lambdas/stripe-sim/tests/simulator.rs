//! ticketd's Stripe simulator over real HTTP on 127.0.0.1, driven by the real Stripe adapter
//! (`ticket_cloud::StripePayments`, async-stripe) and by a browser's requests to the hosted page,
//! with a small webhook receiver that records every delivery and answers as each test scripts.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use chrono::{TimeDelta, Utc};
use hmac::{Hmac, KeyInit, Mac};
use reqwest::header::LOCATION;
use serde_json::{Value, json};
use sha2::Sha256;
use stripe_sim::{
    DeliveryPolicy, DeliveryRecord, DeliveryStatus, STRIPE_MIN_EXPIRY, SimulatorConfig,
    StripeSimulator,
};
use tempfile::TempDir;
use ticket_cloud::StripePayments;
use ticket_core::{
    CheckoutLine, CheckoutRequest, CheckoutSession, Clock, EventId, HoldId, ManualClock, Money,
    OrderId, OrderedTicket, Payments, PaymentsError, RefundRequest, SessionStatus, TicketTypeId,
    UserId,
};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use uuid::Uuid;

const SECRET_KEY: &str = "sk_test_sim_0123456789abcdefghij";
const WEBHOOK_SECRET: &str = "whsec_simulator_test";
const PAYING_CARD: &str = "4242 4242 4242 4242";
const DECLINED_CARD: &str = "4000 0000 0000 0002";
/// Long enough for a delivery on a loaded machine; waits end as soon as it arrives.
const PATIENCE: Duration = Duration::from_secs(5);

// ---- the webhook receiver ----

/// One POST the receiver got.
#[derive(Debug)]
struct Delivery {
    signature: String,
    body: Bytes,
}

impl Delivery {
    fn event(&self) -> Value {
        serde_json::from_slice(&self.body).expect("the event is JSON")
    }

    /// Checks `Stripe-Signature` by recomputing the HMAC, as a receiver does; returns `t`.
    fn verified_timestamp(&self) -> i64 {
        let (timestamp, v1) = self
            .signature
            .strip_prefix("t=")
            .and_then(|rest| rest.split_once(",v1="))
            .unwrap_or_else(|| panic!("a Stripe-Signature header: {:?}", self.signature));
        let mut mac = Hmac::<Sha256>::new_from_slice(WEBHOOK_SECRET.as_bytes()).unwrap();
        mac.update(timestamp.as_bytes());
        mac.update(b".");
        mac.update(&self.body);
        let expected: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        assert_eq!(v1, expected, "the v1 signature matches the payload");
        timestamp.parse().unwrap()
    }
}

struct ReceiverState {
    /// Statuses to answer, in order; 200 once they run out.
    answers: Mutex<VecDeque<StatusCode>>,
    /// How long each answer takes.
    delay: Duration,
    received: mpsc::UnboundedSender<Delivery>,
}

async fn receive(
    State(state): State<Arc<ReceiverState>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let signature = headers
        .get("stripe-signature")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let _ = state.received.send(Delivery { signature, body });
    tokio::time::sleep(state.delay).await;
    let answer = state.answers.lock().unwrap().pop_front();
    answer.unwrap_or(StatusCode::OK)
}

// ---- the simulator under test ----

struct Harness {
    sim: StripeSimulator,
    /// `http://127.0.0.1:PORT/stripe`
    base_url: String,
    clock: Arc<ManualClock>,
    deliveries: mpsc::UnboundedReceiver<Delivery>,
    browser: reqwest::Client,
    /// The simulator's data directory (its SQLite state).
    data_dir: TempDir,
    webhook_url: String,
    /// The simulator's HTTP server and its background work.
    server: JoinHandle<()>,
    background: JoinHandle<()>,
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.server.abort();
        self.background.abort();
    }
}

/// The retry schedule under test, on the harness's manual clock: attempts 20 ms and then
/// 40 ms apart, none later than 100 ms after the event (three in all).
const TEST_DELIVERY: DeliveryPolicy = DeliveryPolicy {
    first_retry: Duration::from_millis(20),
    max_retry: Duration::from_millis(50),
    give_up_after: Duration::from_millis(100),
    timeout: Duration::from_secs(2),
};

/// Serves the simulator on `listener`.
fn serve_simulator(sim: &StripeSimulator, listener: TcpListener) -> JoinHandle<()> {
    let router = sim.router();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    })
}

async fn serve(router: Router) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{address}")
}

impl Harness {
    /// A simulator whose webhook receiver answers `answers` first, then 200, each after
    /// `delay`.
    async fn start_with_webhook(answers: &[StatusCode], delay: Duration) -> Self {
        let (received, deliveries) = mpsc::unbounded_channel();
        let receiver = Arc::new(ReceiverState {
            answers: Mutex::new(answers.iter().copied().collect()),
            delay,
            received,
        });
        let receiver_url = serve(
            Router::new()
                .route("/api/stripe/webhook", post(receive))
                .with_state(receiver),
        )
        .await;

        // The simulator's address is in its config, so bind before building it.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}/stripe", listener.local_addr().unwrap());
        let clock = Arc::new(ManualClock::new(Utc::now()));
        let webhook_url = format!("{receiver_url}/api/stripe/webhook");
        let data_dir = tempfile::tempdir().unwrap();
        let sim = Self::open(&base_url, &webhook_url, &clock, &data_dir);
        let server = serve_simulator(&sim, listener);
        let background = sim.start();
        let browser = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self {
            sim,
            base_url,
            clock,
            deliveries,
            browser,
            data_dir,
            webhook_url,
            server,
            background,
        }
    }

    fn open(
        base_url: &str,
        webhook_url: &str,
        clock: &Arc<ManualClock>,
        data_dir: &TempDir,
    ) -> StripeSimulator {
        let config = SimulatorConfig {
            base_url: base_url.to_owned(),
            secret_key: SECRET_KEY.to_owned(),
            webhook_secret: WEBHOOK_SECRET.to_owned(),
            webhook_url: webhook_url.to_owned(),
            clock: clock.clone(),
            delivery: TEST_DELIVERY,
            min_expiry: STRIPE_MIN_EXPIRY,
        };
        StripeSimulator::open(config, data_dir.path()).unwrap()
    }

    /// Stops the simulator as a crash would (its server and background work aborted, nothing
    /// flushed), then starts a new one on the same data directory and address.
    async fn restart(&mut self) {
        self.server.abort();
        self.background.abort();
        let _ = (&mut self.server).await;
        let _ = (&mut self.background).await;
        let address = self.base_url.trim_start_matches("http://");
        let address = address.trim_end_matches("/stripe").to_owned();
        let listener = TcpListener::bind(address).await.unwrap();
        self.sim = Self::open(
            &self.base_url,
            &self.webhook_url,
            &self.clock,
            &self.data_dir,
        );
        self.server = serve_simulator(&self.sim, listener);
        self.background = self.sim.start();
    }

    /// Waits until the first event's delivery has been attempted `attempts` times, then moves
    /// the clock on to when the next attempt is due.
    async fn after_failed_attempt(&self, attempts: u32) {
        tokio::time::timeout(PATIENCE, async {
            while self.sim.deliveries()[0].attempts < attempts {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .expect("the attempt is recorded in time");
        self.clock
            .advance(TimeDelta::from_std(TEST_DELIVERY.backoff(attempts)).unwrap());
    }

    async fn start() -> Self {
        Self::start_with_webhook(&[], Duration::ZERO).await
    }

    fn payments(&self) -> StripePayments {
        StripePayments::new(SECRET_KEY, Some(&self.base_url)).unwrap()
    }

    fn checkout_request(&self, title: &str, email: Option<&str>) -> CheckoutRequest {
        CheckoutRequest {
            event_id: EventId::from(Uuid::new_v4()),
            hold_id: HoldId::from(Uuid::new_v4()),
            user_id: UserId::from("cognito-sub-ada"),
            currency: "EUR".parse().unwrap(),
            lines: vec![CheckoutLine {
                title: title.to_owned(),
                unit_price_minor: 2500,
                quantity: 1,
            }],
            discount: None,
            tickets: vec![OrderedTicket {
                ticket_type_id: TicketTypeId::from(Uuid::new_v4()),
                holder_name: Some("Ada Lovelace".into()),
            }],
            customer_email: email.map(str::to_owned),
            // What ticketd sends: the hold's expiry.
            expires_at: self.clock.now() + TimeDelta::minutes(ticket_core::api::HOLD_MINUTES),
            success_url: "http://site.test/?order={CHECKOUT_SESSION_ID}".to_owned(),
            cancel_url: "http://site.test/?event=e1".to_owned(),
        }
    }

    /// A session for a 25.00 EUR ticket to "RustConf", bought by ada@example.com.
    async fn checkout(&self) -> (CheckoutRequest, CheckoutSession) {
        let request = self.checkout_request("RustConf", Some("ada@example.com"));
        let session = self.payments().create_checkout(&request).await.unwrap();
        (request, session)
    }

    fn api(&self, path: &str) -> String {
        format!("{}/v1{path}", self.base_url)
    }

    /// `GET /v1/checkout/sessions/{id}` with the key.
    async fn retrieve(&self, session: &str) -> Value {
        let response = self
            .browser
            .get(self.api(&format!("/checkout/sessions/{session}")))
            .bearer_auth(SECRET_KEY)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    /// A form-encoded API POST with the key and, if given, an idempotency key.
    async fn post_api(
        &self,
        path: &str,
        form: &[(&str, &str)],
        idempotency_key: Option<&str>,
    ) -> reqwest::Response {
        let mut request = self
            .browser
            .post(self.api(path))
            .bearer_auth(SECRET_KEY)
            .form(form);
        if let Some(key) = idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        request.send().await.unwrap()
    }

    /// Submits the hosted page's payment form.
    async fn pay(&self, session: &CheckoutSession, fields: &[(&str, &str)]) -> reqwest::Response {
        self.browser
            .post(format!("{}/pay", session.url))
            .form(fields)
            .send()
            .await
            .unwrap()
    }

    async fn pay_with(&self, session: &CheckoutSession, card: &str) -> reqwest::Response {
        self.pay(session, &[("card_number", card), ("name", "Ada Lovelace")])
            .await
    }

    async fn next_delivery(&mut self) -> Delivery {
        tokio::time::timeout(PATIENCE, self.deliveries.recv())
            .await
            .expect("a webhook delivery in time")
            .expect("the receiver is running")
    }

    /// Asserts that no further webhook arrives for a moment, and that the simulator sent
    /// `total` events in all.
    async fn assert_no_more_deliveries(&mut self, total: usize) {
        let late = tokio::time::timeout(Duration::from_millis(300), self.deliveries.recv()).await;
        assert!(late.is_err(), "unexpected delivery: {late:?}");
        assert_eq!(self.sim.deliveries().len(), total);
    }

    /// The delivery records once none is pending any more.
    async fn settled_deliveries(&self) -> Vec<DeliveryRecord> {
        tokio::time::timeout(PATIENCE, async {
            loop {
                let records = self.sim.deliveries();
                if records
                    .iter()
                    .all(|record| record.status != DeliveryStatus::Pending)
                {
                    return records;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .expect("every delivery settles in time")
    }

    /// Pays a fresh session with the paying card; returns it and its payment intent.
    async fn paid_session(&mut self) -> (CheckoutSession, String) {
        let (_, session) = self.checkout().await;
        let paid = self.pay_with(&session, PAYING_CARD).await;
        assert_eq!(paid.status(), StatusCode::SEE_OTHER);
        let event = self.next_delivery().await.event();
        let payment_intent = event["data"]["object"]["payment_intent"]
            .as_str()
            .unwrap()
            .to_owned();
        (session, payment_intent)
    }
}

/// `form` with the parameter `name` set to `value`, or removed.
fn with<'a>(
    form: &[(&'a str, &'a str)],
    name: &'a str,
    value: Option<&'a str>,
) -> Vec<(&'a str, &'a str)> {
    let mut changed: Vec<_> = form.iter().copied().filter(|(n, _)| *n != name).collect();
    changed.extend(value.map(|value| (name, value)));
    changed
}

async fn error_of(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    (status, body["error"].clone())
}

fn refund_request(order: &CheckoutSession, payment_intent: &str) -> RefundRequest {
    RefundRequest {
        order_id: order.id.clone(),
        payment_intent_id: payment_intent.to_owned(),
        amount: Money {
            amount_minor: 2500,
            currency: "EUR".parse().unwrap(),
        },
    }
}

// ---- paying ----

#[tokio::test]
async fn a_paid_session_completes_and_sends_a_signed_event() {
    let mut harness = Harness::start().await;
    let (request, session) = harness.checkout().await;

    assert!(
        session.id.as_str().starts_with("cs_test_"),
        "{}",
        session.id
    );
    assert_eq!(
        session.url,
        format!("{}/checkout/{}", harness.base_url, session.id)
    );
    let open = harness.retrieve(session.id.as_str()).await;
    assert_eq!(open["object"], "checkout.session");
    assert_eq!(open["status"], "open");
    assert_eq!(open["payment_status"], "unpaid");
    assert_eq!(open["amount_total"], 2500);
    assert_eq!(open["currency"], "eur");
    assert_eq!(open["customer_email"], "ada@example.com");
    assert_eq!(open["client_reference_id"], request.hold_id.to_string());
    assert_eq!(open["expires_at"], request.expires_at.timestamp());
    assert_eq!(open["livemode"], false);
    assert_eq!(open["payment_intent"], Value::Null);

    let page = harness.browser.get(&session.url).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    for shown in [
        "RustConf",
        "25.00 EUR",
        "ada@example.com",
        "name=\"card_number\"",
    ] {
        assert!(html.contains(shown), "{shown} missing from {html}");
    }

    let paid = harness.pay_with(&session, PAYING_CARD).await;
    assert_eq!(paid.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        paid.headers()[LOCATION],
        format!("http://site.test/?order={}", session.id).as_str()
    );

    let delivery = harness.next_delivery().await;
    assert_eq!(
        delivery.verified_timestamp(),
        harness.clock.now().timestamp()
    );
    let event = delivery.event();
    assert_eq!(event["object"], "event");
    assert_eq!(event["type"], "checkout.session.completed");
    assert_eq!(event["livemode"], false);
    assert!(event["id"].as_str().unwrap().starts_with("evt_"));
    let completed = &event["data"]["object"];
    assert_eq!(completed["id"], session.id.as_str());
    assert_eq!(completed["status"], "complete");
    assert_eq!(completed["payment_status"], "paid");
    assert_eq!(completed["amount_total"], 2500);
    assert!(
        completed["payment_intent"]
            .as_str()
            .unwrap()
            .starts_with("pi_")
    );
    assert_eq!(
        completed["metadata"]["eventId"],
        request.event_id.to_string()
    );
    assert_eq!(completed["metadata"]["holdId"], request.hold_id.to_string());
    assert_eq!(completed["metadata"]["userId"], "cognito-sub-ada");
    assert_eq!(completed["customer_details"]["email"], "ada@example.com");
    assert_eq!(completed["customer_details"]["name"], "Ada Lovelace");

    assert_eq!(
        harness.retrieve(session.id.as_str()).await["status"],
        "complete"
    );
    let record = &harness.settled_deliveries().await[0];
    assert_eq!(record.event_id(), event["id"].as_str().unwrap());
    assert_eq!(record.session_id(), session.id.as_str());
    assert_eq!(
        (record.status, record.attempts),
        (DeliveryStatus::Delivered, 1)
    );
    let listed: Value = harness
        .browser
        .get(format!("{}/_sim/deliveries", harness.base_url))
        .bearer_auth(SECRET_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["data"][0]["event"]["id"], event["id"]);
    assert_eq!(listed["data"][0]["status"], "delivered");
}

#[tokio::test]
async fn a_declined_or_unknown_card_leaves_the_session_open_without_an_event() {
    let mut harness = Harness::start().await;
    let (_, session) = harness.checkout().await;

    let declined = harness.pay_with(&session, DECLINED_CARD).await;
    assert_eq!(declined.status(), StatusCode::PAYMENT_REQUIRED);
    let page = declined.text().await.unwrap();
    assert!(page.contains("Your card was declined."), "{page}");
    assert!(
        page.contains("value=\"Ada Lovelace\""),
        "the name is kept: {page}"
    );

    let unknown = harness.pay_with(&session, "5555 5555 5555 4444").await;
    assert_eq!(unknown.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(unknown.text().await.unwrap().contains("Use a test card"));

    assert_eq!(
        harness.retrieve(session.id.as_str()).await["status"],
        "open"
    );
    harness.assert_no_more_deliveries(0).await;
}

#[tokio::test]
async fn a_session_without_an_email_asks_the_buyer_for_one() {
    let mut harness = Harness::start().await;
    let request = harness.checkout_request("RustConf", None);
    let session = harness.payments().create_checkout(&request).await.unwrap();

    let page = harness.browser.get(&session.url).send().await.unwrap();
    assert!(page.text().await.unwrap().contains("name=\"email\""));
    let refused = harness.pay_with(&session, PAYING_CARD).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("Enter a valid email address.")
    );

    let fields = [("card_number", PAYING_CARD), ("email", "grace@example.com")];
    assert_eq!(
        harness.pay(&session, &fields).await.status(),
        StatusCode::SEE_OTHER
    );
    let event = harness.next_delivery().await.event();
    let details = &event["data"]["object"]["customer_details"];
    assert_eq!(details["email"], "grace@example.com");
    assert_eq!(details["name"], Value::Null);
}

#[tokio::test]
async fn a_paid_session_cannot_be_paid_again_or_expired() {
    let mut harness = Harness::start().await;
    let (session, _) = harness.paid_session().await;

    let again = harness.pay_with(&session, PAYING_CARD).await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    assert!(again.text().await.unwrap().contains("already been paid"));

    let error = harness
        .payments()
        .expire_checkout(&session.id)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, PaymentsError::Rejected(text) if text.contains("complete")),
        "{error:?}"
    );
    harness.assert_no_more_deliveries(1).await;
}

#[tokio::test]
async fn cancelling_returns_to_the_cancel_url_and_leaves_the_session_open() {
    let mut harness = Harness::start().await;
    let (_, session) = harness.checkout().await;

    let cancelled = harness
        .browser
        .post(format!("{}/cancel", session.url))
        .send()
        .await
        .unwrap();

    assert_eq!(cancelled.status(), StatusCode::SEE_OTHER);
    assert_eq!(cancelled.headers()[LOCATION], "http://site.test/?event=e1");
    assert_eq!(
        harness.retrieve(session.id.as_str()).await["status"],
        "open"
    );
    harness.assert_no_more_deliveries(0).await;
}

#[tokio::test]
async fn the_hosted_page_escapes_the_title_under_a_strict_policy() {
    let harness = Harness::start().await;
    let request = harness.checkout_request("<script>alert(1)</script> & \"friends\"", None);
    let session = harness.payments().create_checkout(&request).await.unwrap();

    let page = harness.browser.get(&session.url).send().await.unwrap();

    let policy = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(policy.contains("default-src 'none'"), "{policy}");
    assert!(!policy.contains("unsafe-inline"), "{policy}");
    let html = page.text().await.unwrap();
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;friends&quot;"),
        "{html}"
    );
    assert!(!html.contains("<script"), "{html}");
    assert!(!html.contains("style="), "no inline styles: {html}");
    let stylesheet = harness
        .browser
        .get(format!("{}/checkout.css", harness.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(
        stylesheet.headers()["content-type"],
        "text/css; charset=utf-8"
    );
    let unknown = harness
        .browser
        .get(format!("{}/checkout/cs_test_unknown", harness.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
}

// ---- expiring ----

#[tokio::test]
async fn expiring_through_the_adapter_sends_one_expired_event_and_can_be_repeated() {
    let mut harness = Harness::start().await;
    let (_, session) = harness.checkout().await;
    let payments = harness.payments();

    payments.expire_checkout(&session.id).await.unwrap();

    let event = harness.next_delivery().await.event();
    assert_eq!(event["type"], "checkout.session.expired");
    assert_eq!(event["data"]["object"]["status"], "expired");
    assert_eq!(event["data"]["object"]["url"], Value::Null);
    // Stripe refuses a second expire; the adapter reads the status and is satisfied.
    payments.expire_checkout(&session.id).await.unwrap();
    let path = format!("/checkout/sessions/{}/expire", session.id);
    let (status, error) = error_of(harness.post_api(&path, &[], None).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["type"], "invalid_request_error");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("can be expired")
    );
    harness.assert_no_more_deliveries(1).await;

    let paying_late = harness.pay_with(&session, PAYING_CARD).await;
    assert_eq!(paying_late.status(), StatusCode::GONE);
    assert!(paying_late.text().await.unwrap().contains("expired"));
}

#[tokio::test]
async fn sessions_expire_when_their_time_has_passed() {
    let mut harness = Harness::start().await;
    let (_, session) = harness.checkout().await;

    harness.clock.advance(TimeDelta::minutes(32));

    // The background sweep finds it within a second.
    let delivery = harness.next_delivery().await;
    assert_eq!(
        delivery.verified_timestamp(),
        harness.clock.now().timestamp()
    );
    let event = delivery.event();
    assert_eq!(event["type"], "checkout.session.expired");
    assert_eq!(event["data"]["object"]["id"], session.id.as_str());
    let page = harness.browser.get(&session.url).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::GONE);
}

#[tokio::test]
async fn a_session_past_its_time_cannot_be_paid_before_the_sweep_runs() {
    let harness = Harness::start().await;
    harness.background.abort();
    let (_, session) = harness.checkout().await;
    harness.clock.advance(TimeDelta::minutes(32));

    let paying_late = harness.pay_with(&session, PAYING_CARD).await;

    assert_eq!(paying_late.status(), StatusCode::GONE);
    let records = harness.sim.deliveries();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].event_type(), "checkout.session.expired");
}

// ---- refunds ----

#[tokio::test]
async fn a_payment_is_refunded_once() {
    let mut harness = Harness::start().await;
    let (session, payment_intent) = harness.paid_session().await;
    let payments = harness.payments();
    let request = refund_request(&session, &payment_intent);

    let refund = payments.refund(&request).await.unwrap();
    assert!(refund.id.starts_with("re_"), "{}", refund.id);
    assert_eq!(refund.status, "succeeded");
    // The same order again: its idempotency key replays the first refund.
    assert_eq!(payments.refund(&request).await.unwrap(), refund);

    // Another key on the same payment: Stripe finds nothing left to refund...
    let (status, error) = error_of(
        harness
            .post_api(
                "/refunds",
                &[("payment_intent", &payment_intent)],
                Some("another-key"),
            )
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["code"], "charge_already_refunded");
    // ...and the adapter then answers with the refund already made.
    let other_order = CheckoutSession {
        id: OrderId::from("cs_test_other_order"),
        url: String::new(),
    };
    let found = payments
        .refund(&refund_request(&other_order, &payment_intent))
        .await
        .unwrap();
    assert_eq!(found.id, refund.id);

    let listed: Value = harness
        .browser
        .get(harness.api("/refunds"))
        .query(&[("payment_intent", payment_intent.as_str())])
        .bearer_auth(SECRET_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["object"], "list");
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    assert_eq!(listed["data"][0]["amount"], 2500);
    assert_eq!(
        listed["data"][0]["metadata"]["orderId"],
        session.id.as_str()
    );
}

#[tokio::test]
async fn refunding_an_unknown_payment_is_rejected() {
    let harness = Harness::start().await;
    let (_, session) = harness.checkout().await;

    let error = harness
        .payments()
        .refund(&refund_request(&session, "pi_unknown"))
        .await
        .unwrap_err();

    assert!(
        matches!(&error, PaymentsError::Rejected(text) if text.contains("No such payment_intent")),
        "{error:?}"
    );
    let (status, error) = error_of(
        harness
            .post_api("/refunds", &[("payment_intent", "pi_unknown")], None)
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["code"], "resource_missing");
    assert_eq!(error["param"], "payment_intent");
}

// ---- coupons and discounts ----

/// Two 9.00 EUR workshop seats (18.00 EUR in all), without an email, as raw form fields.
const WORKSHOP_SESSION: [(&str, &str); 6] = [
    ("mode", "payment"),
    ("line_items[0][price_data][currency]", "eur"),
    ("line_items[0][price_data][unit_amount]", "900"),
    ("line_items[0][price_data][product_data][name]", "Workshop"),
    ("line_items[0][quantity]", "2"),
    ("success_url", "http://site.test/ok"),
];
const DISCOUNT_COUPON: &str = "discounts[0][coupon]";

impl Harness {
    /// `POST /v1/coupons` with `form`, which must create it; the coupon.
    async fn create_coupon(&self, form: &[(&str, &str)]) -> Value {
        let created = self.post_api("/coupons", form, None).await;
        assert_eq!(created.status(), StatusCode::OK);
        created.json().await.unwrap()
    }

    /// `GET /v1/coupons/{id}` with the key.
    async fn retrieve_coupon(&self, id: &str) -> Value {
        let response = self
            .browser
            .get(self.api(&format!("/coupons/{id}")))
            .bearer_auth(SECRET_KEY)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    /// [`WORKSHOP_SESSION`] with `coupon`, which must create it; the session.
    async fn discounted_session(&self, coupon: &str) -> Value {
        let form = with(&WORKSHOP_SESSION, DISCOUNT_COUPON, Some(coupon));
        let created = self.post_api("/checkout/sessions", &form, None).await;
        assert_eq!(created.status(), StatusCode::OK);
        created.json().await.unwrap()
    }

    /// Pays a session created through the raw API on its hosted page; the session as the
    /// `checkout.session.completed` event tells of it.
    async fn pay_raw(&mut self, session: &Value) -> Value {
        let hosted = CheckoutSession {
            id: OrderId::from(session["id"].as_str().unwrap()),
            url: session["url"].as_str().unwrap().to_owned(),
        };
        let fields = [("card_number", PAYING_CARD), ("email", "ada@example.com")];
        let paid = self.pay(&hosted, &fields).await;
        assert_eq!(paid.status(), StatusCode::SEE_OTHER);
        let event = self.next_delivery().await.event();
        assert_eq!(event["type"], "checkout.session.completed");
        event["data"]["object"].clone()
    }
}

#[tokio::test]
async fn a_coupon_discounts_the_session_its_page_its_payment_its_event_and_its_refunds() {
    let mut harness = Harness::start().await;
    let coupon_form = [
        ("amount_off", "500"),
        ("currency", "eur"),
        ("duration", "once"),
        ("max_redemptions", "5"),
        ("name", "Early <bird> & 'co'"),
        ("metadata[campaign]", "spring"),
    ];

    let created = harness
        .post_api("/coupons", &coupon_form, Some("coupon-1"))
        .await;

    assert_eq!(created.status(), StatusCode::OK);
    assert!(created.headers().get("idempotent-replayed").is_none());
    let coupon: Value = created.json().await.unwrap();
    let id = coupon["id"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 8, "{id}");
    assert!(
        id.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()),
        "{id}"
    );
    assert_eq!(coupon["object"], "coupon");
    assert_eq!(coupon["amount_off"], 500);
    assert_eq!(coupon["currency"], "eur");
    assert_eq!(coupon["percent_off"], Value::Null);
    assert_eq!(coupon["duration"], "once");
    assert_eq!(coupon["max_redemptions"], 5);
    assert_eq!(coupon["times_redeemed"], 0);
    assert_eq!(coupon["name"], "Early <bird> & 'co'");
    assert_eq!(coupon["valid"], true);
    assert_eq!(coupon["livemode"], false);
    assert_eq!(coupon["created"], harness.clock.now().timestamp());
    assert_eq!(coupon["metadata"]["campaign"], "spring");
    // The same key and parameters replay the coupon; the key with others is refused.
    let replayed = harness
        .post_api("/coupons", &coupon_form, Some("coupon-1"))
        .await;
    assert_eq!(replayed.status(), StatusCode::OK);
    assert_eq!(replayed.headers()["idempotent-replayed"], "true");
    assert_eq!(replayed.json::<Value>().await.unwrap(), coupon);
    let changed = with(&coupon_form, "amount_off", Some("600"));
    let (status, error) = error_of(
        harness
            .post_api("/coupons", &changed, Some("coupon-1"))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["type"], "idempotency_error");
    assert_eq!(harness.retrieve_coupon(&id).await, coupon);

    let session = harness.discounted_session(&id).await;

    assert_eq!(session["amount_subtotal"], 1800);
    assert_eq!(session["total_details"]["amount_discount"], 500);
    assert_eq!(session["amount_total"], 1300);
    assert_eq!(
        session["discounts"],
        json!([{ "coupon": id, "promotion_code": null }])
    );
    let session_id = session["id"].as_str().unwrap();
    assert_eq!(harness.retrieve(session_id).await["amount_total"], 1300);
    let page = harness
        .browser
        .get(session["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    for shown in [
        "Pay 13.00 EUR",
        "Subtotal",
        "18.00 EUR",
        "Early &lt;bird&gt; &amp; &#39;co&#39;",
        "-5.00 EUR",
        "Total due",
    ] {
        assert!(html.contains(shown), "{shown} missing from {html}");
    }
    assert!(!html.contains("<bird>"), "{html}");

    let completed = harness.pay_raw(&session).await;

    assert_eq!(completed["id"], session_id);
    assert_eq!(completed["amount_total"], 1300);
    assert_eq!(completed["amount_subtotal"], 1800);
    assert_eq!(completed["total_details"]["amount_discount"], 500);
    assert_eq!(completed["discounts"][0]["coupon"], id.as_str());
    let redeemed = harness.retrieve_coupon(&id).await;
    assert_eq!(redeemed["times_redeemed"], 1);
    assert_eq!(redeemed["valid"], true);
    // The payment is the discounted total: no more than that can be refunded.
    let payment_intent = completed["payment_intent"].as_str().unwrap();
    let too_much = [("payment_intent", payment_intent), ("amount", "1301")];
    let (status, error) = error_of(harness.post_api("/refunds", &too_much, None).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["code"], "amount_too_large");
    let refund: Value = harness
        .post_api("/refunds", &[("payment_intent", payment_intent)], None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(refund["amount"], 1300);
}

#[tokio::test]
async fn a_coupon_unknown_used_up_in_another_currency_or_taking_everything_is_refused() {
    let mut harness = Harness::start().await;
    let once = harness
        .create_coupon(&[("percent_off", "12.5"), ("max_redemptions", "1")])
        .await;
    let once_id = once["id"].as_str().unwrap().to_owned();
    assert_eq!(once["percent_off"], 12.5);
    assert_eq!(once["amount_off"], Value::Null);
    assert_eq!(once["currency"], Value::Null);
    assert_eq!(once["duration"], "once");
    assert_eq!(once["max_redemptions"], 1);

    // 12.5 % of 25.00 is 3.125, rounded half up to 3.13.
    let one_seat = with(
        &with(
            &WORKSHOP_SESSION,
            "line_items[0][price_data][unit_amount]",
            Some("2500"),
        ),
        "line_items[0][quantity]",
        Some("1"),
    );
    let form = with(&one_seat, DISCOUNT_COUPON, Some(&once_id));
    let first: Value = harness
        .post_api("/checkout/sessions", &form, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(first["amount_subtotal"], 2500);
    assert_eq!(first["total_details"]["amount_discount"], 313);
    assert_eq!(first["amount_total"], 2187);
    assert_eq!(harness.pay_raw(&first).await["amount_total"], 2187);
    let used_up = harness.retrieve_coupon(&once_id).await;
    assert_eq!(
        (
            used_up["times_redeemed"].as_i64(),
            used_up["valid"].as_bool()
        ),
        (Some(1), Some(false))
    );

    let dollars = harness
        .create_coupon(&[("amount_off", "500"), ("currency", "usd")])
        .await;
    let everything = harness.create_coupon(&[("percent_off", "100")]).await;
    let cases = [
        (
            "NOPE",
            DISCOUNT_COUPON,
            Some("resource_missing"),
            "No such coupon: 'NOPE'",
        ),
        (
            once_id.as_str(),
            DISCOUNT_COUPON,
            Some("coupon_expired"),
            "This coupon has reached its max redemptions",
        ),
        (
            dollars["id"].as_str().unwrap(),
            DISCOUNT_COUPON,
            None,
            "usd",
        ),
        (
            everything["id"].as_str().unwrap(),
            "discounts",
            Some("amount_too_small"),
            "greater than zero",
        ),
    ];
    for (coupon, param, code, message) in cases {
        let form = with(&WORKSHOP_SESSION, DISCOUNT_COUPON, Some(coupon));
        let (status, error) =
            error_of(harness.post_api("/checkout/sessions", &form, None).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{coupon}: {error}");
        assert_eq!(error["type"], "invalid_request_error", "{error}");
        assert_eq!(error["param"], param, "{error}");
        if let Some(code) = code {
            assert_eq!(error["code"], code, "{error}");
        }
        assert!(
            error["message"].as_str().unwrap().contains(message),
            "{error}"
        );
    }
    let two = with(
        &with(&WORKSHOP_SESSION, DISCOUNT_COUPON, Some(&once_id)),
        "discounts[1][coupon]",
        Some(&once_id),
    );
    let (status, error) = error_of(harness.post_api("/checkout/sessions", &two, None).await).await;
    assert_eq!(
        (status, &error["param"]),
        (StatusCode::BAD_REQUEST, &json!("discounts"))
    );

    let (status, error) = error_of(
        harness
            .post_api(
                "/coupons",
                &[("percent_off", "10"), ("amount_off", "5")],
                None,
            )
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    let missing = harness
        .browser
        .get(harness.api("/coupons/NOPE"))
        .bearer_auth(SECRET_KEY)
        .send()
        .await
        .unwrap();
    let (status, error) = error_of(missing).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error["code"], "resource_missing");
    assert_eq!(error["message"], "No such coupon: 'NOPE'");
}

#[tokio::test]
async fn coupons_and_discounted_sessions_survive_a_crash() {
    let mut harness = Harness::start().await;
    let coupon = harness
        .create_coupon(&[
            ("id", "SPRING"),
            ("percent_off", "25"),
            ("name", "Spring sale"),
        ])
        .await;
    assert_eq!(coupon["id"], "SPRING");
    let again = [("id", "SPRING"), ("percent_off", "10")];
    let (status, error) = error_of(harness.post_api("/coupons", &again, None).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["code"], "resource_already_exists");
    let session = harness.discounted_session("SPRING").await;
    assert_eq!(session["total_details"]["amount_discount"], 450);

    harness.restart().await;

    assert_eq!(harness.retrieve_coupon("SPRING").await, coupon);
    let kept = harness.retrieve(session["id"].as_str().unwrap()).await;
    assert_eq!(kept["amount_total"], 1350);
    assert_eq!(kept["discounts"], session["discounts"]);
    let page = harness
        .browser
        .get(session["url"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Spring sale"), "{page}");
    let completed = harness.pay_raw(&session).await;
    assert_eq!(completed["amount_total"], 1350);
    assert_eq!(harness.retrieve_coupon("SPRING").await["times_redeemed"], 1);
}

// ---- idempotency, validation, authentication ----

/// The adapter's discounted checkout, end to end: its coupon shows on the session, which
/// charges the discounted total; a retry makes neither a second coupon nor a second session.
#[tokio::test]
async fn the_adapters_discount_is_a_coupon_on_the_session() {
    let harness = Harness::start().await;
    let request = CheckoutRequest {
        discount: Some(ticket_core::CheckoutDiscount {
            label: "FRIENDS10 (10 % off)".into(),
            amount_minor: 250,
        }),
        ..harness.checkout_request("RustConf", Some("ada@example.com"))
    };
    let payments = harness.payments();
    let first = payments.create_checkout(&request).await.unwrap();
    assert_eq!(payments.create_checkout(&request).await.unwrap(), first);

    let session = harness.retrieve(first.id.as_str()).await;
    assert_eq!(session["amount_subtotal"], 2500);
    assert_eq!(session["total_details"]["amount_discount"], 250);
    assert_eq!(session["amount_total"], 2250);
    let coupon = session["discounts"][0]["coupon"]
        .as_str()
        .unwrap()
        .to_owned();
    let coupon = harness.retrieve_coupon(&coupon).await;
    assert_eq!(coupon["name"], "FRIENDS10 (10 % off)");
    assert_eq!(
        (
            coupon["amount_off"].clone(),
            coupon["max_redemptions"].clone()
        ),
        (json!(250), json!(1))
    );
    let page = harness
        .browser
        .get(first.url.as_str())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("FRIENDS10 (10 % off)"), "{page}");
}

#[tokio::test]
async fn a_retried_checkout_returns_the_same_session() {
    let harness = Harness::start().await;
    let request = harness.checkout_request("RustConf", Some("ada@example.com"));
    let payments = harness.payments();

    let first = payments.create_checkout(&request).await.unwrap();
    let retried = payments.create_checkout(&request).await.unwrap();

    assert_eq!(retried, first);
    let form = [
        ("mode", "payment"),
        ("line_items[0][price_data][currency]", "eur"),
        ("line_items[0][price_data][unit_amount]", "900"),
        ("line_items[0][price_data][product_data][name]", "Workshop"),
        ("line_items[0][quantity]", "2"),
        ("success_url", "http://site.test/ok"),
    ];
    let created = harness
        .post_api("/checkout/sessions", &form, Some("k1"))
        .await;
    assert_eq!(created.status(), StatusCode::OK);
    assert!(created.headers().get("idempotent-replayed").is_none());
    let created: Value = created.json().await.unwrap();
    assert_eq!(created["amount_total"], 1800);
    let replayed = harness
        .post_api("/checkout/sessions", &form, Some("k1"))
        .await;
    assert_eq!(replayed.headers()["idempotent-replayed"], "true");
    assert_eq!(replayed.json::<Value>().await.unwrap()["id"], created["id"]);
}

#[tokio::test]
async fn an_idempotency_key_reused_with_other_parameters_is_refused() {
    let harness = Harness::start().await;
    let mut request = harness.checkout_request("RustConf", None);
    let payments = harness.payments();
    payments.create_checkout(&request).await.unwrap();

    // The same hold (so the same key) with another title.
    request.lines[0].title = "RustConf (rescheduled)".to_owned();
    let error = payments.create_checkout(&request).await.unwrap_err();

    assert!(
        matches!(&error, PaymentsError::Rejected(text) if text.contains("same parameters")),
        "{error:?}"
    );
    let key = request.idempotency_key();
    let (status, error) = error_of(
        harness
            .post_api("/refunds", &[("payment_intent", "pi_1")], Some(&key))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["type"], "idempotency_error");
    assert!(error["message"].as_str().unwrap().contains("same endpoint"));
}

#[tokio::test]
async fn invalid_sessions_are_refused_like_stripe() {
    let harness = Harness::start().await;
    let payments = harness.payments();
    let mut too_soon = harness.checkout_request("RustConf", None);
    too_soon.expires_at = harness.clock.now() + TimeDelta::minutes(10);

    let error = payments.create_checkout(&too_soon).await.unwrap_err();

    assert!(
        matches!(&error, PaymentsError::Rejected(text) if text.contains("at least 30 minutes")),
        "{error:?}"
    );
    let too_late = (harness.clock.now().timestamp() + 25 * 3600).to_string();
    let valid = [
        ("mode", "payment"),
        ("line_items[0][price_data][currency]", "eur"),
        ("line_items[0][price_data][unit_amount]", "900"),
        ("line_items[0][price_data][product_data][name]", "Workshop"),
        ("line_items[0][quantity]", "1"),
        ("success_url", "http://site.test/ok"),
    ];
    let currency = "line_items[0][price_data][currency]";
    let cases = [
        (
            with(&valid, "expires_at", Some(&too_late)),
            "expires_at",
            None,
        ),
        (
            with(&valid, "line_items[0][price_data][unit_amount]", Some("0")),
            "line_items",
            Some("amount_too_small"),
        ),
        (
            with(&valid, "success_url", None),
            "success_url",
            Some("parameter_missing"),
        ),
        (
            with(&valid, "success_url", Some("not a url")),
            "success_url",
            Some("url_invalid"),
        ),
        (with(&valid, currency, Some("xyz")), currency, None),
        (
            with(&valid, "coupon", Some("FREE")),
            "coupon",
            Some("parameter_unknown"),
        ),
        (with(&valid, "mode", Some("subscription")), "mode", None),
    ];
    for (form, param, code) in cases {
        let (status, error) =
            error_of(harness.post_api("/checkout/sessions", &form, None).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{param}: {error}");
        assert_eq!(error["type"], "invalid_request_error", "{param}");
        assert_eq!(error["param"], param, "{error}");
        if let Some(code) = code {
            assert_eq!(error["code"], code, "{error}");
        }
    }
}

#[tokio::test]
async fn a_wrong_or_missing_key_is_refused() {
    let harness = Harness::start().await;
    let request = harness.checkout_request("RustConf", None);
    let wrong =
        StripePayments::new("sk_test_sim_wrongwrongwrongwrong", Some(&harness.base_url)).unwrap();

    let error = wrong.create_checkout(&request).await.unwrap_err();

    assert!(
        matches!(&error, PaymentsError::Internal(text) if text.contains("check the API key")),
        "{error:?}"
    );
    let anonymous = harness
        .browser
        .post(harness.api("/checkout/sessions"))
        .send()
        .await
        .unwrap();
    let (status, error) = error_of(anonymous).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("did not provide an API key")
    );
}

#[tokio::test]
async fn unknown_api_routes_answer_stripes_404() {
    let harness = Harness::start().await;

    for request in [
        harness.browser.get(harness.api("/customers")),
        harness.browser.delete(harness.api("/checkout/sessions")),
    ] {
        let (status, error) = error_of(request.bearer_auth(SECRET_KEY).send().await.unwrap()).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(error["type"], "invalid_request_error");
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .starts_with("Unrecognized request URL"),
            "{error}"
        );
    }
    let missing = harness
        .browser
        .get(harness.api("/checkout/sessions/cs_test_missing"))
        .bearer_auth(SECRET_KEY)
        .send()
        .await
        .unwrap();
    let (status, error) = error_of(missing).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error["code"], "resource_missing");
}

// ---- webhook delivery ----

#[tokio::test]
async fn a_webhook_answered_500_twice_is_delivered_on_the_third_attempt() {
    let error = StatusCode::INTERNAL_SERVER_ERROR;
    let mut harness = Harness::start_with_webhook(&[error, error], Duration::ZERO).await;
    let (session, _) = harness.paid_session().await;

    harness.after_failed_attempt(1).await;
    let second = harness.next_delivery().await;
    harness.after_failed_attempt(2).await;
    let third = harness.next_delivery().await;

    assert_eq!(third.event()["id"], second.event()["id"]);
    third.verified_timestamp();
    let record = &harness.settled_deliveries().await[0];
    assert_eq!(record.session_id(), session.id.as_str());
    assert_eq!(
        (record.status, record.attempts, record.last_status),
        (DeliveryStatus::Delivered, 3, Some(200))
    );
}

#[tokio::test]
async fn a_webhook_that_keeps_failing_is_given_up_after_the_last_attempt() {
    let error = StatusCode::SERVICE_UNAVAILABLE;
    let mut harness = Harness::start_with_webhook(&[error, error, error], Duration::ZERO).await;
    harness.paid_session().await;
    harness.after_failed_attempt(1).await;
    harness.after_failed_attempt(2).await;

    let record = harness.settled_deliveries().await.remove(0);

    assert_eq!(
        (record.status, record.attempts, record.last_status),
        (DeliveryStatus::Failed, 3, Some(503))
    );
}

#[tokio::test]
async fn deliveries_run_concurrently() {
    const SESSIONS: usize = 40;
    let answer_time = Duration::from_millis(200);
    let harness = Harness::start_with_webhook(&[], answer_time).await;
    let payments = harness.payments();
    let mut sessions = Vec::new();
    for _ in 0..SESSIONS {
        let request = harness.checkout_request("Flash sale", Some("ada@example.com"));
        sessions.push(payments.create_checkout(&request).await.unwrap());
    }

    let started = std::time::Instant::now();
    let paid = futures::future::join_all(
        sessions
            .iter()
            .map(|session| harness.pay_with(session, PAYING_CARD)),
    )
    .await;
    assert!(
        paid.iter()
            .all(|paid| paid.status() == StatusCode::SEE_OTHER)
    );
    let records = harness.settled_deliveries().await;

    // One after another they would take SESSIONS × answer_time (8 s).
    let elapsed = started.elapsed();
    assert!(elapsed < answer_time * 10, "{elapsed:?}");
    let delivered: HashSet<&str> = records
        .iter()
        .filter(|record| record.status == DeliveryStatus::Delivered)
        .map(|record| record.session_id())
        .collect();
    assert_eq!(delivered.len(), SESSIONS);
}

// ---- the session as it stands (what reconciliation reads) ----

#[tokio::test]
async fn get_checkout_reads_an_open_a_paid_an_expired_and_an_unknown_session() {
    let mut harness = Harness::start().await;
    let payments = harness.payments();
    let (request, open) = harness.checkout().await;
    let (paid, payment_intent) = harness.paid_session().await;
    let (_, expired) = harness.checkout().await;
    payments.expire_checkout(&expired.id).await.unwrap();

    let open = payments.get_checkout(&open.id).await.unwrap().unwrap();
    assert_eq!(open.status, SessionStatus::Open);
    assert!(!open.is_paid());
    assert_eq!(
        open.fields.hold().unwrap(),
        (request.event_id, request.hold_id)
    );
    let paid = payments.get_checkout(&paid.id).await.unwrap().unwrap();
    assert_eq!(paid.status, SessionStatus::Complete);
    assert!(paid.is_paid());
    assert_eq!(
        paid.fields.payment_intent.as_deref(),
        Some(payment_intent.as_str())
    );
    assert_eq!(paid.fields.amount_total, Some(2500));
    assert_eq!(paid.fields.currency.as_deref(), Some("eur"));
    let expired = payments.get_checkout(&expired.id).await.unwrap().unwrap();
    assert_eq!(expired.status, SessionStatus::Expired);
    let unknown = OrderId::from("cs_test_never_created");
    assert_eq!(payments.get_checkout(&unknown).await.unwrap(), None);
}

// ---- durability: what Stripe keeps survives a crash ----

#[tokio::test]
async fn sessions_payments_and_idempotency_keys_survive_a_crash() {
    let mut harness = Harness::start().await;
    let (request, open) = harness.checkout().await;
    let (paid, payment_intent) = harness.paid_session().await;

    harness.restart().await;

    let payments = harness.payments();
    let retried = payments.create_checkout(&request).await.unwrap();
    assert_eq!(retried, open, "the idempotency key is remembered");
    assert_eq!(harness.retrieve(open.id.as_str()).await["status"], "open");
    let paid_now = harness.retrieve(paid.id.as_str()).await;
    assert_eq!(
        (
            paid_now["status"].as_str(),
            paid_now["payment_status"].as_str()
        ),
        (Some("complete"), Some("paid"))
    );
    payments
        .refund(&refund_request(&paid, &payment_intent))
        .await
        .unwrap();
    harness.restart().await;
    let listed = harness
        .browser
        .get(harness.api(&format!("/refunds?payment_intent={payment_intent}")))
        .bearer_auth(SECRET_KEY)
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(listed["data"].as_array().unwrap().len(), 1, "{listed}");
    // The open session can still be paid after both restarts.
    assert_eq!(
        harness.pay_with(&open, PAYING_CARD).await.status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn an_event_not_delivered_before_a_crash_is_delivered_after_it() {
    let error = StatusCode::SERVICE_UNAVAILABLE;
    let mut harness = Harness::start_with_webhook(&[error], Duration::ZERO).await;
    let (session, _) = harness.paid_session().await;
    harness.after_failed_attempt(1).await;
    harness.background.abort();

    harness.restart().await;

    let again = harness.next_delivery().await;
    assert_eq!(again.event()["data"]["object"]["id"], session.id.as_str());
    let record = &harness.settled_deliveries().await[0];
    assert_eq!(
        (record.status, record.attempts, record.last_status),
        (DeliveryStatus::Delivered, 2, Some(200))
    );
    harness.assert_no_more_deliveries(1).await;
}

#[tokio::test]
async fn an_open_session_still_expires_on_time_after_a_crash() {
    let mut harness = Harness::start().await;
    let (_, session) = harness.checkout().await;

    harness.restart().await;
    harness.clock.advance(TimeDelta::minutes(32));

    let event = harness.next_delivery().await.event();
    assert_eq!(event["type"], "checkout.session.expired");
    assert_eq!(event["data"]["object"]["id"], session.id.as_str());
}

#[tokio::test]
async fn flushing_the_outbox_delivers_what_is_due_and_keeps_what_fails() {
    let error = StatusCode::SERVICE_UNAVAILABLE;
    let mut harness = Harness::start_with_webhook(&[error], Duration::ZERO).await;
    // No background work: only the flush sends.
    harness.background.abort();
    let (_, first) = harness.checkout().await;
    let (_, second) = harness.checkout().await;
    for session in [&first, &second] {
        let paid = harness.pay_with(session, PAYING_CARD).await;
        assert_eq!(paid.status(), StatusCode::SEE_OTHER);
    }

    let report = harness
        .sim
        .flush_outbox(tokio::time::Instant::now() + PATIENCE)
        .await;

    assert_eq!(
        (report.attempted, report.delivered, report.pending),
        (2, 1, 1)
    );
    harness.next_delivery().await;
    harness.next_delivery().await;
    let kept: Vec<_> = harness
        .sim
        .deliveries()
        .into_iter()
        .filter(|record| record.status == DeliveryStatus::Pending)
        .collect();
    assert_eq!((kept.len(), kept[0].last_status), (1, Some(503)));
}
