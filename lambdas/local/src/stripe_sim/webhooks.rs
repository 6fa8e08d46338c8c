//! Webhook events: the envelope Stripe sends, signed with the endpoint's secret, POSTed to the
//! webhook URL and retried with backoff until it is answered 2xx or the attempts run out.

use std::error::Error as _;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::header;
use serde::Serialize;
use serde_json::{Value, json};
use ticket_core::stripe_webhook::{SIGNATURE_HEADER, signature_header};
use tokio::sync::Semaphore;

use super::ledger::SessionEvent;
use super::{StripeSimulator, random_id};

/// The API version the events are written in: the one async-stripe 1.0.0-rc.10 speaks.
pub const API_VERSION: &str = "2026-09-30.endive";
/// Stripe's webhook user agent, which some receivers log or filter on.
const USER_AGENT: &str = "Stripe/1.0 (+https://stripe.com/docs/webhooks)";
/// At most this many POSTs in flight: a flash sale completes thousands of sessions at once.
pub const MAX_CONCURRENT_DELIVERIES: usize = 64;

/// How persistently an event is delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryPolicy {
    /// Attempts per event, the first included.
    pub attempts: u32,
    /// The wait before the first retry; it doubles after every failed retry.
    pub first_retry: Duration,
    /// The longest wait between two attempts.
    pub max_retry: Duration,
    /// How long one attempt may take, connecting included.
    pub timeout: Duration,
}

impl Default for DeliveryPolicy {
    /// Six attempts over about half a minute (1, 2, 4, 8, 16 s apart): enough to ride out a
    /// ticketd restart. Stripe itself keeps trying for three days.
    fn default() -> Self {
        Self {
            attempts: 6,
            first_retry: Duration::from_secs(1),
            max_retry: Duration::from_secs(30),
            timeout: Duration::from_secs(10),
        }
    }
}

impl DeliveryPolicy {
    /// The wait after failed attempt number `attempt` (1-based).
    fn backoff(&self, attempt: u32) -> Duration {
        let doubled = self
            .first_retry
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)));
        doubled.min(self.max_retry)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Queued, being attempted or waiting for a retry.
    Pending,
    Delivered,
    /// Every attempt failed.
    Failed,
}

/// One event and how its delivery went.
#[derive(Debug, Clone, Serialize)]
pub struct DeliveryRecord {
    /// The event as sent (`evt_...`, `type`, `data.object` the session).
    pub event: Value,
    pub status: DeliveryStatus,
    pub attempts: u32,
    /// The HTTP status of the last answer, if there was one.
    pub last_status: Option<u16>,
    /// Why the last attempt failed, if it did.
    pub last_error: Option<String>,
}

impl DeliveryRecord {
    pub fn event_id(&self) -> &str {
        self.event["id"].as_str().unwrap_or_default()
    }

    pub fn event_type(&self) -> &str {
        self.event["type"].as_str().unwrap_or_default()
    }

    /// The id of the session the event is about.
    pub fn session_id(&self) -> &str {
        self.event["data"]["object"]["id"]
            .as_str()
            .unwrap_or_default()
    }
}

/// Stripe's event envelope around `object`.
pub fn event(kind: SessionEvent, object: Value, created: i64) -> Value {
    json!({
        "id": random_id("evt_", 24),
        "object": "event",
        "api_version": API_VERSION,
        "created": created,
        "data": { "object": object },
        "livemode": false,
        "pending_webhooks": 1,
        "request": { "id": null, "idempotency_key": null },
        "type": kind.as_str(),
    })
}

/// What sends one simulator's webhooks: one HTTP client, so deliveries reuse connections, and
/// the cap on POSTs in flight. Clones share both.
#[derive(Clone)]
pub struct WebhookClient {
    http: reqwest::Client,
    in_flight: Arc<Semaphore>,
}

impl WebhookClient {
    pub fn new(policy: &DeliveryPolicy) -> Self {
        let http = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .connect_timeout(policy.timeout)
            .timeout(policy.timeout)
            // Stripe counts a redirect as a failed delivery; it never follows one.
            .redirect(reqwest::redirect::Policy::none())
            // The receiver is ticketd's own route: a proxy from the environment has no business
            // in between.
            .no_proxy()
            .build()
            .expect("a plain-HTTP client needs no TLS set-up");
        Self {
            http,
            in_flight: Arc::new(Semaphore::new(MAX_CONCURRENT_DELIVERIES)),
        }
    }
}

/// Delivers the event of record `index`, retrying per the policy, and keeps the record up to
/// date. A permit of `client`'s cap is held per attempt, not while waiting for a retry.
pub async fn deliver(sim: StripeSimulator, index: usize, client: WebhookClient) {
    let Some(record) = sim.delivery(index) else {
        return;
    };
    let payload = Bytes::from(serde_json::to_vec(&record.event).expect("JSON values serialize"));
    let event_id = record.event_id().to_owned();
    let policy = sim.config().delivery;
    let attempts = policy.attempts.max(1);
    for attempt in 1..=attempts {
        let outcome = {
            let _permit = client
                .in_flight
                .acquire()
                .await
                .expect("the semaphore is never closed");
            attempt_delivery(&sim, &client.http, payload.clone()).await
        };
        let delivered = matches!(outcome, Ok(status) if (200..300).contains(&status));
        let last = attempt == attempts;
        sim.update_delivery(index, |record| {
            record.attempts = attempt;
            record.last_status = outcome.as_ref().ok().copied();
            record.last_error = outcome.as_ref().err().cloned();
            record.status = match (delivered, last) {
                (true, _) => DeliveryStatus::Delivered,
                (false, true) => DeliveryStatus::Failed,
                (false, false) => DeliveryStatus::Pending,
            };
        });
        if delivered {
            return;
        }
        let problem = match &outcome {
            Ok(status) => format!("answered HTTP {status}"),
            Err(error) => error.clone(),
        };
        if last {
            tracing::error!(event = %event_id, attempts, %problem, "webhook delivery failed, giving up");
            return;
        }
        let wait = policy.backoff(attempt);
        tracing::warn!(event = %event_id, attempt, %problem, retry_in = ?wait, "webhook delivery failed");
        tokio::time::sleep(wait).await;
    }
}

/// One signed POST; the answer's HTTP status, or why there was none.
async fn attempt_delivery(
    sim: &StripeSimulator,
    http: &reqwest::Client,
    payload: Bytes,
) -> Result<u16, String> {
    let config = sim.config();
    let url = &config.webhook_url;
    // Without TLS in the build, say so plainly rather than with reqwest's scheme error.
    if !url.starts_with("http://") {
        return Err(format!(
            "{url}: the simulator delivers to http:// URLs only"
        ));
    }
    let signature = signature_header(
        &config.webhook_secret,
        config.clock.now().timestamp(),
        &payload,
    );
    let response = http
        .post(url)
        .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
        .header(SIGNATURE_HEADER, signature)
        .body(payload)
        .send()
        .await
        .map_err(|error| describe(url, &error, config.delivery.timeout))?;
    let status = response.status().as_u16();
    // Read to the end so the connection goes back to the pool; the status is the answer.
    let _ = response.bytes().await;
    Ok(status)
}

/// Why a POST got no answer, with the causes reqwest keeps in its error's sources.
fn describe(url: &str, error: &reqwest::Error, timeout: Duration) -> String {
    if error.is_timeout() {
        return format!("{url}: no answer within {timeout:?}");
    }
    let mut text = format!(
        "{url}: {}",
        if error.is_connect() {
            "cannot connect"
        } else {
            "request failed"
        }
    );
    let mut cause = error.source();
    while let Some(error) = cause {
        let _ = write!(text, ": {error}");
        cause = error.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let policy = DeliveryPolicy::default();
        let waits: Vec<u64> = (1..=7).map(|n| policy.backoff(n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 30, 30]);
        assert_eq!(policy.backoff(u32::MAX), policy.max_retry);
    }

    #[tokio::test]
    async fn a_refused_connection_is_described_with_its_cause() {
        let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", closed.local_addr().unwrap());
        drop(closed);
        let policy = DeliveryPolicy::default();
        let client = WebhookClient::new(&policy);

        let error = client.http.post(&url).send().await.unwrap_err();

        let text = describe(&url, &error, policy.timeout);
        assert!(
            text.starts_with(&format!("{url}: cannot connect: ")),
            "{text}"
        );
        assert!(text.to_lowercase().contains("refused"), "{text}");
    }
}
