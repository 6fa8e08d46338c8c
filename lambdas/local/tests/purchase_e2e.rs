//! Buying a ticket over HTTP against the real `ticketd serve`: checkout through the API, payment
//! on the Stripe simulator's hosted page (the real async-stripe client made the session), the
//! signed webhook the simulator sends, the registration saga, the PDF. Then what Stripe may do
//! to a webhook endpoint: redeliver, reorder, deliver late; and what an attacker may: forge.

mod e2e_support;
mod support;

use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use e2e_support::{Ticketd, User};
use reqwest::StatusCode;
use serde_json::{Value, json};
use stripe_sim::SimulatorSecrets;
use ticket_core::stripe_webhook;

const PAYS: &str = "4242 4242 4242 4242";
const DECLINED: &str = "4000 0000 0000 0002";

struct Shop {
    server: Ticketd,
    organizer: User,
    secrets: SimulatorSecrets,
    http: reqwest::Client,
}

impl Shop {
    async fn open() -> Self {
        let server = Ticketd::start();
        let organizer = server
            .sign_in(
                "organizer@example.com",
                &server.demo_password("organizer@example.com"),
            )
            .await;
        let secrets =
            SimulatorSecrets::read(server.data_dir.path()).expect("the simulator's secrets");
        Self {
            server,
            organizer,
            secrets,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        }
    }

    async fn paid_event(&self, capacity: u32) -> String {
        let event = self
            .server
            .post("/events")
            .user(&self.organizer)
            .json(&json!({
                "title": "Jazz by the River",
                "venue": "Riverside Hall",
                "startsAt": Utc::now() + TimeDelta::days(20),
                "capacity": capacity,
                "priceMinor": 2500,
                "currency": "EUR",
            }))
            .send()
            .await
            .expect(201);
        let id = event["id"].as_str().unwrap().to_owned();
        self.server
            .post(&format!("/events/{id}/publish"))
            .user(&self.organizer)
            .send()
            .await
            .expect(200);
        id
    }

    /// The buyer's checkout: the order (session) id and the hosted page's URL.
    async fn checkout(&self, buyer: &User, event_id: &str) -> (String, String) {
        let started = self
            .server
            .post(&format!("/events/{event_id}/checkout"))
            .user(buyer)
            .send()
            .await
            .expect(201);
        (
            started["orderId"].as_str().unwrap().to_owned(),
            started["checkoutUrl"].as_str().unwrap().to_owned(),
        )
    }

    /// Submits the hosted page's form with `card`.
    async fn pay(&self, checkout_url: &str, card: &str) -> reqwest::Response {
        let page = self.http.get(checkout_url).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        assert!(page.text().await.unwrap().contains("Jazz by the River"));
        self.http
            .post(format!("{checkout_url}/pay"))
            .form(&[
                ("card_number", card),
                ("card_expiry", "12 / 34"),
                ("card_cvc", "123"),
                ("name", "Björn Åkesson"),
            ])
            .send()
            .await
            .unwrap()
    }

    async fn order(&self, buyer: &User, order_id: &str) -> Value {
        self.server
            .get(&format!("/orders/{order_id}"))
            .user(buyer)
            .send()
            .await
            .expect(200)
    }

    /// Polls the order until its status is no longer `from`.
    async fn order_after(&self, buyer: &User, order_id: &str, from: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let order = self.order(buyer, order_id).await;
            if order["status"] != from || Instant::now() > deadline {
                return order;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn seats_left(&self, event_id: &str) -> i64 {
        let event = self
            .server
            .get(&format!("/events/{event_id}"))
            .user(&self.organizer)
            .send()
            .await
            .expect(200);
        event["availability"]["remaining"].as_i64().unwrap()
    }

    async fn tickets(&self, buyer: &User) -> Vec<Value> {
        let page = self
            .server
            .get("/me/tickets")
            .user(buyer)
            .send()
            .await
            .expect(200);
        page["items"].as_array().unwrap().clone()
    }

    /// The simulator's API, as the Stripe client calls it.
    fn stripe(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}/stripe{path}", self.server.url))
            .bearer_auth(&self.secrets.secret_key)
    }

    /// Every webhook event the simulator sent, as JSON.
    async fn deliveries(&self) -> Vec<Value> {
        let answer: Value = self
            .stripe(reqwest::Method::GET, "/_sim/deliveries")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        answer["data"].as_array().unwrap().clone()
    }

    /// The event the simulator sent for the session, waiting for it to be sent.
    async fn delivered(&self, kind: &str, session: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let found = self.deliveries().await.into_iter().find(|record| {
                record["event"]["type"] == kind
                    && record["event"]["data"]["object"]["id"] == session
            });
            match found {
                Some(record) => return record["event"].clone(),
                None if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                None => panic!("no {kind} event for {session}"),
            }
        }
    }

    /// Posts `event` to the webhook endpoint signed with `secret` at `timestamp`.
    async fn post_webhook(
        &self,
        event: &Value,
        secret: &str,
        timestamp: i64,
    ) -> e2e_support::Answer {
        let body = event.to_string();
        let signature = stripe_webhook::signature_header(secret, timestamp, body.as_bytes());
        self.server
            .post("/stripe/webhook")
            .header("stripe-signature", &signature)
            .body(body)
            .send()
            .await
    }

    /// Releases the session's hold while the session stays payable: an expiry notice for it,
    /// signed as Stripe signs, arriving early. What the webhook did.
    async fn expire_hold_early(&self, session_id: &str) -> String {
        let session: Value = self
            .stripe(
                reqwest::Method::GET,
                &format!("/v1/checkout/sessions/{session_id}"),
            )
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let notice = json!({
            "id": format!("evt_early_{session_id}"),
            "object": "event",
            "type": "checkout.session.expired",
            "data": {"object": session},
        });
        let answer = self.redeliver(&notice).await.expect(200);
        answer["outcome"].as_str().unwrap().to_owned()
    }

    async fn redeliver(&self, event: &Value) -> e2e_support::Answer {
        self.post_webhook(event, &self.secrets.webhook_secret, Utc::now().timestamp())
            .await
    }
}

#[tokio::test]
async fn a_buyer_pays_on_the_hosted_page_and_downloads_the_ticket() {
    let shop = Shop::open().await;
    let buyer = shop
        .server
        .sign_up("bjorn@example.org", "Björn Åkesson")
        .await;
    let event_id = shop.paid_event(2).await;

    let (order_id, checkout_url) = shop.checkout(&buyer, &event_id).await;
    assert!(order_id.starts_with("cs_test_"), "{order_id}");
    assert_eq!(shop.order(&buyer, &order_id).await["status"], "PENDING");
    assert_eq!(shop.seats_left(&event_id).await, 1);

    // Back to the site's order page, with the session id Stripe filled in.
    let paid = shop.pay(&checkout_url, PAYS).await;
    assert_eq!(paid.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        paid.headers()["location"],
        format!("{}/?order={order_id}", shop.server.url).as_str()
    );

    let order = shop.order_after(&buyer, &order_id, "PENDING").await;
    assert_eq!(order["status"], "FULFILLED", "{order}");
    assert_eq!(order["amountMinor"], 2500);
    let pdf = shop
        .http
        .get(order["tickets"][0]["download"]["url"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    assert!(ticket_testkit::pdf::text(&pdf).contains("Jazz by the River"));
    let codes = ticket_testkit::pdf::scan(&pdf);
    assert_eq!(codes.len(), 1, "{codes:?}");
    let scanned = shop
        .server
        .post("/scan")
        .user(&shop.organizer)
        .json(&json!({ "code": codes[0] }))
        .send()
        .await
        .expect(200);
    assert_eq!(scanned["result"], "VALID");
    assert_eq!(scanned["attendeeName"], "Björn Åkesson");

    // The webhook the simulator delivered was signed and accepted.
    let delivered = shop
        .delivered("checkout.session.completed", &order_id)
        .await;
    assert_eq!(delivered["data"]["object"]["payment_status"], "paid");
    assert_eq!(shop.seats_left(&event_id).await, 1);
}

/// The largest order there is: ten tickets, each named with the longest name a ticket takes,
/// in scripts Stripe's metadata counts by character. It goes through the simulator's limits
/// (500 characters a value, 50 keys), comes back in the webhook, and becomes ten tickets
/// with their names, in order, under one payment.
#[tokio::test]
async fn an_order_of_ten_tickets_with_the_longest_names_becomes_ten_named_tickets() {
    let shop = Shop::open().await;
    let buyer = shop
        .server
        .sign_up("bjorn@example.org", "Björn Åkesson")
        .await;
    let event_id = shop.paid_event(12).await;
    let names: Vec<String> = (0..10)
        .map(|n| {
            let filler = ["ü", "\"", "名", "🎫", "\\"][n % 5];
            format!("{n} {}", filler.repeat(198 - n.to_string().len()))
        })
        .collect();
    let event = shop
        .server
        .get(&format!("/events/{event_id}"))
        .user(&buyer)
        .send()
        .await
        .expect(200);
    let type_id = event["ticketTypes"][0]["id"].clone();
    let tickets: Vec<Value> = names
        .iter()
        .map(|name| json!({"ticketTypeId": type_id, "holderName": name}))
        .collect();
    let started = shop
        .server
        .post(&format!("/events/{event_id}/checkout"))
        .user(&buyer)
        .json(&json!({ "tickets": tickets }))
        .send()
        .await
        .expect(201);
    assert_eq!(shop.seats_left(&event_id).await, 2);
    let order_id = started["orderId"].as_str().unwrap();
    let paid = shop
        .pay(started["checkoutUrl"].as_str().unwrap(), PAYS)
        .await;
    assert_eq!(paid.status(), StatusCode::SEE_OTHER);

    let order = shop.order_after(&buyer, order_id, "PENDING").await;
    assert_eq!(order["status"], "FULFILLED", "{order}");
    assert_eq!(order["amountMinor"], 25_000, "ten tickets of 25.00");
    let holders: Vec<&str> = order["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|ticket| ticket["holderName"].as_str().unwrap())
        .collect();
    assert_eq!(holders, names);
    assert!(
        order["tickets"]
            .as_array()
            .unwrap()
            .iter()
            .all(|ticket| ticket["download"]["url"].is_string()),
        "{order}"
    );
}

#[tokio::test]
async fn a_declined_card_keeps_the_seat_until_the_checkout_expires() {
    let shop = Shop::open().await;
    let buyer = shop.server.sign_up("dee@example.org", "Dee Clined").await;
    let event_id = shop.paid_event(1).await;
    let (order_id, checkout_url) = shop.checkout(&buyer, &event_id).await;

    let declined = shop.pay(&checkout_url, DECLINED).await;
    assert_eq!(declined.status(), StatusCode::PAYMENT_REQUIRED);
    assert!(declined.text().await.unwrap().contains("declined"));
    assert_eq!(shop.order(&buyer, &order_id).await["status"], "PENDING");
    assert_eq!(shop.seats_left(&event_id).await, 0);

    // The session runs out (here: expired through Stripe's API, which sends the same event).
    let expired = shop
        .stripe(
            reqwest::Method::POST,
            &format!("/v1/checkout/sessions/{order_id}/expire"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(expired.status(), StatusCode::OK);
    let order = shop.order_after(&buyer, &order_id, "PENDING").await;
    assert_eq!(order["status"], "EXPIRED", "{order}");
    assert_eq!(shop.seats_left(&event_id).await, 1);
    assert!(shop.tickets(&buyer).await.is_empty());
}

#[tokio::test]
async fn redelivered_reordered_and_forged_webhooks_do_no_harm() {
    let shop = Shop::open().await;
    let buyer = shop
        .server
        .sign_up("rita@example.org", "Rita Redeliver")
        .await;
    let event_id = shop.paid_event(3).await;
    let (order_id, checkout_url) = shop.checkout(&buyer, &event_id).await;
    shop.pay(&checkout_url, PAYS).await;
    assert_eq!(
        shop.order_after(&buyer, &order_id, "PENDING").await["status"],
        "FULFILLED"
    );
    let completed = shop
        .delivered("checkout.session.completed", &order_id)
        .await;

    // The same event five times at once, then once more later: one ticket.
    let answers = futures::future::join_all((0..5).map(|_| shop.redeliver(&completed))).await;
    for answer in &answers {
        assert_eq!(
            answer.expect(200)["outcome"],
            "registration already started"
        );
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    shop.redeliver(&completed).await.expect(200);
    assert_eq!(shop.tickets(&buyer).await.len(), 1);

    // An expiry notice after the payment: the sold seat is kept.
    let mut expired = completed.clone();
    expired["id"] = json!("evt_out_of_order");
    expired["type"] = json!("checkout.session.expired");
    expired["data"]["object"]["status"] = json!("expired");
    assert_eq!(
        shop.redeliver(&expired).await.expect(200)["outcome"],
        "seat kept: it was paid"
    );
    assert_eq!(shop.seats_left(&event_id).await, 2);
    assert_eq!(shop.tickets(&buyer).await[0]["status"], "VALID");
    assert_eq!(shop.order(&buyer, &order_id).await["status"], "FULFILLED");

    // Forged and stale deliveries of an expiry are refused and change nothing.
    let now = Utc::now().timestamp();
    shop.post_webhook(&expired, "whsec_guessed", now)
        .await
        .expect_error(400, "no v1 signature");
    shop.post_webhook(&expired, &shop.secrets.webhook_secret, now - 301)
        .await
        .expect_error(400, "300 seconds");
    shop.server
        .post("/stripe/webhook")
        .body(expired.to_string())
        .send()
        .await
        .expect_error(400, "header is missing");
    assert_eq!(shop.seats_left(&event_id).await, 2);
    assert_eq!(shop.tickets(&buyer).await.len(), 1);
}

#[tokio::test]
async fn a_payment_after_the_hold_expired_gets_a_seat_if_one_is_left_else_a_refund() {
    let shop = Shop::open().await;
    let late = shop.server.sign_up("lars@example.org", "Lars Late").await;
    let prompt = shop.server.sign_up("pia@example.org", "Pia Prompt").await;
    let event_id = shop.paid_event(1).await;

    // Lars's hold expires while his session is still payable, so Pia gets the only seat.
    let (late_order, late_url) = shop.checkout(&late, &event_id).await;
    assert_eq!(shop.expire_hold_early(&late_order).await, "seat released");
    assert_eq!(shop.order(&late, &late_order).await["status"], "EXPIRED");
    let (prompt_order, prompt_url) = shop.checkout(&prompt, &event_id).await;
    shop.pay(&prompt_url, PAYS).await;
    assert_eq!(
        shop.order_after(&prompt, &prompt_order, "PENDING").await["status"],
        "FULFILLED"
    );

    // Then Lars pays after all: no seat is left, so his money goes back.
    assert_eq!(
        shop.pay(&late_url, PAYS).await.status(),
        StatusCode::SEE_OTHER
    );
    let order = shop.order_after(&late, &late_order, "EXPIRED").await;
    assert_eq!(order["status"], "FAILED", "{order}");
    assert!(
        order["failureReason"]
            .as_str()
            .unwrap()
            .contains("sold out"),
        "{order}"
    );
    let refunds: Value = shop
        .stripe(reqwest::Method::GET, "/v1/refunds")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let refunds = refunds["data"].as_array().unwrap();
    assert_eq!(refunds.len(), 1, "{refunds:?}");
    assert_eq!(refunds[0]["amount"], 2500);
    assert!(shop.tickets(&late).await.is_empty());
    assert_eq!(shop.tickets(&prompt).await.len(), 1);

    // With a seat left, a late payment gets it.
    let roomy = shop.paid_event(2).await;
    let (order_id, url) = shop.checkout(&late, &roomy).await;
    assert_eq!(shop.expire_hold_early(&order_id).await, "seat released");
    shop.pay(&url, PAYS).await;
    let order = shop.order_after(&late, &order_id, "EXPIRED").await;
    assert_eq!(order["status"], "FULFILLED", "{order}");
}
