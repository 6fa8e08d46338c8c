//! Webhook events: the envelope Stripe sends, the durable outbox they wait in, and their
//! delivery: signed, POSTed to the webhook URL, retried on Stripe's schedule ([`DeliveryPolicy`])
//! until answered 2xx or the schedule runs out. Every attempt is recorded in the outbox, so a
//! restart resumes the deliveries that were due.

use std::error::Error as _;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::header;
use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};
use serde::Serialize;
use serde_json::{Value, json};
use ticket_core::stripe_webhook::{SIGNATURE_HEADER, signature_header};
use tokio::sync::Semaphore;

use super::db::{decode_json, encode_json};
use super::ledger::SessionEvent;
use super::{StripeSimulator, random_id};

/// The API version the events are written in: the one async-stripe 1.0.0-rc.10 speaks.
pub const API_VERSION: &str = "2026-09-30.endive";
/// Stripe's webhook user agent, which some receivers log or filter on.
const USER_AGENT: &str = "Stripe/1.0 (+https://stripe.com/docs/webhooks)";
/// At most this many POSTs in flight: a flash sale completes thousands of sessions at once.
pub const MAX_CONCURRENT_DELIVERIES: usize = 64;
/// How long a settled event stays listed: Stripe lists events for 30 days.
pub const EVENT_RETENTION: Duration = Duration::from_secs(30 * 24 * 3600);

/// When an event's delivery is attempted: the first attempt at once, then after every failure
/// a wait that doubles from `first_retry` up to `max_retry`, for as long as the next attempt
/// falls within `give_up_after` of the event's creation. The one place the schedule lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryPolicy {
    /// The wait after the first failed attempt.
    pub first_retry: Duration,
    /// The longest wait between two attempts.
    pub max_retry: Duration,
    /// No attempt is made later than this after the event was created.
    pub give_up_after: Duration,
    /// How long one attempt may take, connecting included.
    pub timeout: Duration,
}

impl Default for DeliveryPolicy {
    /// Stripe's live mode: exponential backoff for up to three days. Stripe does not publish
    /// its intervals; these are 1 min, 2, 4, ... up to 12 h apart (15 attempts in all).
    fn default() -> Self {
        Self {
            first_retry: Duration::from_secs(60),
            max_retry: Duration::from_secs(12 * 3600),
            give_up_after: Duration::from_secs(3 * 24 * 3600),
            timeout: Duration::from_secs(10),
        }
    }
}

impl DeliveryPolicy {
    /// The wait after failed attempt number `attempt` (1-based).
    pub fn backoff(&self, attempt: u32) -> Duration {
        let doubled = self
            .first_retry
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)));
        doubled.min(self.max_retry)
    }

    /// When (unix ms) to make the next attempt of an event created at `created_ms` whose
    /// attempt number `attempts` failed at `failed_ms`; `None` once the schedule is over.
    pub fn next_attempt_ms(&self, created_ms: i64, attempts: u32, failed_ms: i64) -> Option<i64> {
        let next = failed_ms.saturating_add(millis(self.backoff(attempts)));
        (next <= created_ms.saturating_add(millis(self.give_up_after))).then_some(next)
    }

    /// When every attempt comes, from the first, for a receiver that fails each one at once.
    pub fn schedule(&self) -> Vec<Duration> {
        let mut offsets = vec![0i64];
        while let Some(next) =
            self.next_attempt_ms(0, offsets.len() as u32, *offsets.last().unwrap_or(&0))
        {
            offsets.push(next);
        }
        offsets
            .into_iter()
            .map(|ms| Duration::from_millis(ms.unsigned_abs()))
            .collect()
    }
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Queued, being attempted or waiting for a retry.
    Pending,
    Delivered,
    /// Every attempt the schedule allows failed.
    Failed,
}

impl DeliveryStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "pending" => Some(Self::Pending),
            "delivered" => Some(Self::Delivered),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

/// One event and how its delivery went, as the outbox keeps it.
#[derive(Debug, Clone, Serialize)]
pub struct DeliveryRecord {
    /// The event as sent (`evt_...`, `type`, `data.object` the session).
    pub event: Value,
    pub status: DeliveryStatus,
    pub attempts: u32,
    /// When the event was created (unix ms, the simulator's clock).
    pub created_at_ms: i64,
    /// When the last attempt ended, if there was one.
    pub last_attempt_at_ms: Option<i64>,
    /// When the next attempt is due, while pending.
    pub next_attempt_at_ms: Option<i64>,
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

// ---- the outbox ----

/// Queues `event` for delivery now, in the transaction that made it.
pub fn enqueue(tx: &Transaction<'_>, event: &Value, now_ms: i64) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO outbox (event_id, event, created_ms, status, attempts, next_attempt_ms)
         VALUES (?1, ?2, ?3, 'pending', 0, ?3)",
        params![
            event["id"].as_str().unwrap_or_default(),
            encode_json(event),
            now_ms
        ],
    )?;
    Ok(())
}

const RECORD_COLUMNS: &str = "event, status, attempts, created_ms, last_attempt_ms, \
     next_attempt_ms, last_status, last_error";

fn record_from_row(row: &Row<'_>) -> rusqlite::Result<DeliveryRecord> {
    let status: String = row.get(1)?;
    Ok(DeliveryRecord {
        event: decode_json(row, 0)?,
        status: DeliveryStatus::parse(&status).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                1,
                rusqlite::types::Type::Text,
                format!("delivery status {status:?}").into(),
            )
        })?,
        attempts: row.get(2)?,
        created_at_ms: row.get(3)?,
        last_attempt_at_ms: row.get(4)?,
        next_attempt_at_ms: row.get(5)?,
        last_status: row.get(6)?,
        last_error: row.get(7)?,
    })
}

/// Every event still kept, oldest first.
pub fn all(conn: &Connection) -> rusqlite::Result<Vec<DeliveryRecord>> {
    let mut statement =
        conn.prepare_cached(&format!("SELECT {RECORD_COLUMNS} FROM outbox ORDER BY seq"))?;
    statement
        .query_map([], record_from_row)?
        .collect::<rusqlite::Result<_>>()
}

/// The outbox entries due at `now_ms`, soonest first, at most `limit` of them.
pub fn due(conn: &Connection, now_ms: i64, limit: usize) -> rusqlite::Result<Vec<i64>> {
    let mut statement = conn.prepare_cached(
        "SELECT seq FROM outbox WHERE status = 'pending' AND next_attempt_ms <= ?1
         ORDER BY next_attempt_ms, seq LIMIT ?2",
    )?;
    statement
        .query_map(
            params![now_ms, i64::try_from(limit).unwrap_or(i64::MAX)],
            |row| row.get(0),
        )?
        .collect()
}

/// The event body of entry `seq` while it is pending.
pub fn payload(conn: &Connection, seq: i64) -> rusqlite::Result<Option<Bytes>> {
    conn.prepare_cached("SELECT event FROM outbox WHERE seq = ?1 AND status = 'pending'")?
        .query_row([seq], |row| row.get::<_, String>(0))
        .optional()
        .map(|event| event.map(Bytes::from))
}

/// How many entries are still pending.
pub fn pending(conn: &Connection) -> rusqlite::Result<usize> {
    let count: i64 = conn.query_row(
        "SELECT count(*) FROM outbox WHERE status = 'pending'",
        [],
        |row| row.get(0),
    )?;
    Ok(usize::try_from(count).unwrap_or_default())
}

/// Records the outcome of an attempt of entry `seq` that ended at `now_ms`, scheduling the
/// next one if the policy allows; the record as it now stands.
pub fn record_attempt(
    tx: &Transaction<'_>,
    seq: i64,
    outcome: &Result<u16, String>,
    now_ms: i64,
    policy: &DeliveryPolicy,
) -> rusqlite::Result<Option<DeliveryRecord>> {
    let Some((attempts, created_ms)) = tx
        .query_row(
            "SELECT attempts, created_ms FROM outbox WHERE seq = ?1 AND status = 'pending'",
            [seq],
            |row| Ok((row.get::<_, u32>(0)?, row.get::<_, i64>(1)?)),
        )
        .optional()?
    else {
        return Ok(None);
    };
    let attempts = attempts + 1;
    let delivered = matches!(outcome, Ok(status) if (200..300).contains(status));
    let next = (!delivered)
        .then(|| policy.next_attempt_ms(created_ms, attempts, now_ms))
        .flatten();
    let status = match (delivered, next) {
        (true, _) => DeliveryStatus::Delivered,
        (false, Some(_)) => DeliveryStatus::Pending,
        (false, None) => DeliveryStatus::Failed,
    };
    tx.execute(
        "UPDATE outbox SET status = ?2, attempts = ?3, last_attempt_ms = ?4,
             next_attempt_ms = ?5, last_status = ?6, last_error = ?7
         WHERE seq = ?1",
        params![
            seq,
            status.as_str(),
            attempts,
            now_ms,
            next,
            outcome.as_ref().ok(),
            outcome.as_ref().err(),
        ],
    )?;
    tx.query_row(
        &format!("SELECT {RECORD_COLUMNS} FROM outbox WHERE seq = ?1"),
        [seq],
        record_from_row,
    )
    .map(Some)
}

/// Forgets settled events created before `before_ms`.
pub fn prune(tx: &Transaction<'_>, before_ms: i64) -> rusqlite::Result<usize> {
    tx.execute(
        "DELETE FROM outbox WHERE status != 'pending' AND created_ms < ?1",
        [before_ms],
    )
}

// ---- sending ----

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

/// One attempt at delivering outbox entry `seq`, recorded in the outbox. A permit of the
/// simulator's cap is held while the POST is in flight.
pub async fn attempt(sim: &StripeSimulator, seq: i64, payload: Bytes) -> Option<DeliveryRecord> {
    let client = sim.webhook_client();
    let outcome = {
        let _permit = client
            .in_flight
            .acquire()
            .await
            .expect("the semaphore is never closed");
        post(sim, &client.http, payload).await
    };
    let record = sim.record_attempt(seq, &outcome)?;
    let event = record.event_id();
    let problem = match &outcome {
        Ok(status) => format!("answered HTTP {status}"),
        Err(error) => error.clone(),
    };
    match record.status {
        DeliveryStatus::Delivered => {}
        DeliveryStatus::Pending => {
            tracing::warn!(%event, attempt = record.attempts, %problem, next_attempt_at_ms = ?record.next_attempt_at_ms, "webhook delivery failed");
        }
        DeliveryStatus::Failed => {
            tracing::error!(%event, attempts = record.attempts, %problem, "webhook delivery failed, giving up");
        }
    }
    Some(record)
}

/// One signed POST; the answer's HTTP status, or why there was none.
async fn post(
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
        let policy = DeliveryPolicy {
            first_retry: Duration::from_secs(1),
            max_retry: Duration::from_secs(30),
            ..DeliveryPolicy::default()
        };
        let waits: Vec<u64> = (1..=7).map(|n| policy.backoff(n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 30, 30]);
        assert_eq!(policy.backoff(u32::MAX), policy.max_retry);
    }

    #[test]
    fn stripes_schedule_backs_off_exponentially_for_three_days() {
        let schedule = DeliveryPolicy::default().schedule();
        let minutes: Vec<u64> = schedule.iter().map(|at| at.as_secs() / 60).collect();
        assert_eq!(
            minutes,
            [
                0, 1, 3, 7, 15, 31, 63, 127, 255, 511, 1023, 1743, 2463, 3183, 3903
            ]
        );
        let three_days = Duration::from_secs(3 * 24 * 3600);
        assert!(schedule.iter().all(|at| *at <= three_days));
        // One more wait would pass the three days.
        assert!(*schedule.last().unwrap() + Duration::from_secs(12 * 3600) > three_days);
    }

    #[test]
    fn the_next_attempt_counts_from_the_failure_and_stops_at_the_cut_off() {
        let policy = DeliveryPolicy {
            first_retry: Duration::from_secs(1),
            max_retry: Duration::from_secs(4),
            give_up_after: Duration::from_secs(10),
            ..DeliveryPolicy::default()
        };
        assert_eq!(policy.next_attempt_ms(0, 1, 500), Some(1_500));
        assert_eq!(policy.next_attempt_ms(0, 3, 6_000), Some(10_000));
        assert_eq!(policy.next_attempt_ms(0, 3, 6_001), None);
        assert_eq!(
            policy.schedule(),
            [0, 1, 3, 7].map(Duration::from_secs).to_vec()
        );
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
