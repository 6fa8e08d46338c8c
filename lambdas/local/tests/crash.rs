//! Crashes in the middle of a paid sale, against the real `ticketd serve` binary: buyers check
//! out concurrently and pay on the Stripe simulator's hosted page as soon as they have a
//! session (a few never pay), and midway the process is killed (`kill -9`) or told to stop
//! (SIGTERM), then started again on the same data directory. Buyers cut off go on where they
//! were once it is back. Within one (short) hold period and a reconciliation pass of the last
//! checkout, nothing may be stuck:
//! - every seat is sold with a VALID ticket or free again (held 0, capacity = sold + remaining);
//! - every paid session (as the simulator keeps it) has exactly one of a ticket or a refund, and
//!   no unpaid one has either;
//! - no order is left PENDING.
//!
//! With SIGTERM, additionally: the process exits 0 within its shutdown deadline, and every
//! request sent before the signal got its whole answer. Three rounds each, one event per round
//! on the same data directory; a round starts while the last one's holds are still running
//! out, so later crashes also strike the reconciliation of earlier ones. The seat accounting is
//! printed before and after each crash (run with `--nocapture` to see it).

mod e2e_support;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use cognito_local::{self as idp, SigningKey};
use futures::StreamExt;
use reqwest::StatusCode;
use rusqlite::{Connection, OpenFlags};
use serde_json::{Value, json};
use stripe_sim::SimulatorSecrets;

use e2e_support::{CLIENT_ID, Ticketd};

const HOLD_MINUTES: u64 = 1;
const RECONCILE_EVERY_SECONDS: u64 = 2;
const SHUTDOWN_DEADLINE_SECONDS: u64 = 10;
const CAPACITY: usize = 30;
const BUYERS: usize = 45;
const IN_FLIGHT: usize = 8;
const ROUNDS: usize = 3;
/// The crash comes once this many checkouts of the round have been answered.
const CRASH_AFTER: usize = 15;
/// Every this many-th buyer takes a seat and never pays: that hold has to run out.
const ABANDON_EVERY: usize = 6;
/// Beyond one hold and one pass: the registration a late pass starts, in a debug build.
const SLACK: Duration = Duration::from_secs(15);
const PAYS: &str = "4242 4242 4242 4242";
const PRICE_MINOR: i64 = 2500;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Crash {
    Kill,
    Term,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_kill_9_midway_through_a_paid_sale_leaves_nothing_stuck() {
    crash_rounds(Crash::Kill).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sigterm_midway_answers_every_request_sent_and_leaves_nothing_stuck() {
    crash_rounds(Crash::Term).await;
}

async fn crash_rounds(crash: Crash) {
    let hold = HOLD_MINUTES.to_string();
    let every = RECONCILE_EVERY_SECONDS.to_string();
    let deadline = SHUTDOWN_DEADLINE_SECONDS.to_string();
    let mut server = Ticketd::start_with(&[
        "--hold-minutes",
        &hold,
        "--reconcile-every",
        &every,
        "--shutdown-deadline",
        &deadline,
    ]);
    let sale = Sale::open(&server);
    let mut events = Vec::new();
    let mut last_checkout = Instant::now();
    for round in 1..=ROUNDS {
        let event_id = sale.paid_event(round).await;
        let answered = Arc::new(AtomicUsize::new(0));
        let buyers = tokio::spawn(sale.clone().run_buyers(
            round,
            event_id.clone(),
            answered.clone(),
        ));
        let waiting = Instant::now();
        while answered.load(Ordering::Relaxed) < CRASH_AFTER {
            assert!(
                waiting.elapsed() < Duration::from_secs(120),
                "round {round}: the sale got stuck before the crash; log:\n{}",
                server.log()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let before = sale.accounting(&event_id).await;
        println!("[{crash:?} round {round}] before the crash:  {before}");

        let signalled = Instant::now();
        let (status, took) = tokio::task::block_in_place(|| match crash {
            Crash::Kill => server.signal("KILL", Duration::from_secs(10)),
            Crash::Term => {
                server.signal("TERM", Duration::from_secs(SHUTDOWN_DEADLINE_SECONDS + 10))
            }
        });
        match crash {
            Crash::Kill => assert!(!status.success(), "{status}"),
            Crash::Term => {
                assert!(status.success(), "SIGTERM: ticketd exited {status}");
                assert!(
                    took < Duration::from_secs(SHUTDOWN_DEADLINE_SECONDS + 2),
                    "SIGTERM: ticketd took {took:?} to stop, over its deadline"
                );
                println!("[{crash:?} round {round}] exited 0 in {took:?}");
            }
        }
        let left = db_accounting(&sale.data_dir, &event_id);
        println!("[{crash:?} round {round}] left by the crash: {left}");
        tokio::task::block_in_place(|| server.restart());
        let resumed = server.log().matches("execution resumed").count();
        println!("[{crash:?} round {round}] restarted; executions resumed so far: {resumed}");

        let journeys = buyers.await.expect("the buyers do not panic");
        last_checkout = journeys
            .iter()
            .flat_map(|journey| &journey.requests)
            .filter(|request| request.what == "checkout")
            .map(|request| request.answered_at)
            .max()
            .unwrap_or(last_checkout)
            .max(last_checkout);
        let failed: Vec<&Sent> = journeys
            .iter()
            .flat_map(|journey| &journey.requests)
            .filter(|request| matches!(request.outcome, Ok(status) if status >= 500))
            .collect();
        assert!(failed.is_empty(), "round {round}: 5xx answers: {failed:#?}");
        if crash == Crash::Term {
            let cut: Vec<&Sent> = journeys
                .iter()
                .flat_map(|journey| &journey.requests)
                .filter(|request| request.sent_at < signalled && request.outcome.is_err())
                .collect();
            let before_signal = journeys
                .iter()
                .flat_map(|journey| &journey.requests)
                .filter(|request| request.sent_at < signalled)
                .count();
            let during = journeys
                .iter()
                .flat_map(|journey| &journey.requests)
                .filter(|request| request.sent_at < signalled && request.answered_at > signalled)
                .count();
            println!(
                "[{crash:?} round {round}] requests sent before the signal: {before_signal}, of \
                 which {during} were answered after it, {} cut off",
                cut.len()
            );
            assert!(
                cut.is_empty(),
                "round {round}: requests sent before SIGTERM got no answer: {cut:#?}"
            );
        }
        let paid = journeys.iter().filter(|journey| journey.paid).count();
        let sold_out = journeys.iter().filter(|journey| journey.sold_out).count();
        println!(
            "[{crash:?} round {round}] buyers: {paid} paid (303), {sold_out} told sold out, {} \
             abandoned or refused",
            BUYERS - paid - sold_out
        );
        events.push(event_id);
    }

    // One hold, one pass (and the registration it may start) after the last checkout.
    let bound =
        last_checkout + Duration::from_secs(HOLD_MINUTES * 60 + RECONCILE_EVERY_SECONDS) + SLACK;
    let mut settled = Vec::new();
    loop {
        settled.clear();
        for event_id in &events {
            settled.push(sale.accounting(event_id).await);
        }
        if settled.iter().all(Accounting::settled) {
            break;
        }
        if Instant::now() > bound {
            for (round, accounting) in settled.iter().enumerate() {
                println!("[{crash:?} round {}] STUCK: {accounting}", round + 1);
            }
            panic!(
                "{crash:?}: not settled {:?} after the last checkout: {settled:#?}\nlog tail:\n{}",
                last_checkout.elapsed(),
                tail(&server.log(), 60)
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let after = last_checkout.elapsed();
    for (round, accounting) in settled.iter().enumerate() {
        println!(
            "[{crash:?} round {}] settled ({after:.1?} after the last checkout): {accounting}",
            round + 1
        );
        accounting.check(&format!("{crash:?} round {}", round + 1));
    }
}

/// What every buyer and the checks share.
#[derive(Clone)]
struct Sale {
    url: String,
    data_dir: PathBuf,
    /// A new connection per request: whether a request sent before a signal is answered must
    /// not depend on an idle keep-alive connection the server closes under it.
    http: reqwest::Client,
    organizer: String,
    key: Arc<SigningKey>,
    stripe_key: String,
}

impl Sale {
    fn open(server: &Ticketd) -> Self {
        let data_dir = server.data_dir.path().to_owned();
        let key = SigningKey::load_or_create(&data_dir).expect("the identity provider's key");
        let stripe_key = SimulatorSecrets::read(&data_dir)
            .expect("the simulator's secrets")
            .secret_key;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(0)
            .no_proxy()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        let mut sale = Self {
            url: server.url.clone(),
            data_dir,
            http,
            organizer: String::new(),
            key: Arc::new(key),
            stripe_key,
        };
        sale.organizer = sale.token("crash-organizer", "organizer");
        sale
    }

    /// An access token as the identity provider issues it (minted with its key: a sign-up per
    /// buyer would hash a password each, which is not what is tested here).
    fn token(&self, sub: &str, group: &str) -> String {
        let now = Utc::now().timestamp();
        self.key
            .sign(&json!({
                "sub": sub,
                "iss": format!("{}/auth", self.url),
                "version": 2,
                "client_id": CLIENT_ID,
                "token_use": "access",
                "scope": idp::SCOPES.join(" "),
                "auth_time": now,
                "iat": now,
                "exp": now + idp::TOKEN_SECONDS,
                "jti": uuid::Uuid::new_v4().to_string(),
                "username": sub,
                "cognito:groups": [group],
            }))
            .unwrap()
    }

    async fn paid_event(&self, round: usize) -> String {
        let response = self
            .http
            .post(format!("{}/api/events", self.url))
            .bearer_auth(&self.organizer)
            .json(&json!({
                "title": format!("Crash sale, round {round}"),
                "venue": "Hall of Recovery",
                "startsAt": Utc::now() + TimeDelta::days(20),
                "capacity": CAPACITY,
                "priceMinor": PRICE_MINOR,
                "currency": "EUR",
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        let event: Value = response.json().await.unwrap();
        let id = event["id"].as_str().unwrap().to_owned();
        let published = self
            .http
            .post(format!("{}/api/events/{id}/publish", self.url))
            .bearer_auth(&self.organizer)
            .send()
            .await
            .unwrap();
        assert_eq!(published.status(), StatusCode::OK);
        id
    }

    /// The round's buyers, [`IN_FLIGHT`] at a time; `answered` counts checkouts answered.
    async fn run_buyers(
        self,
        round: usize,
        event_id: String,
        answered: Arc<AtomicUsize>,
    ) -> Vec<Journey> {
        futures::stream::iter(1..=BUYERS)
            .map(|n| {
                let sale = &self;
                let event_id = &event_id;
                let answered = &answered;
                async move {
                    let token = sale.token(&format!("crash-{round}-buyer-{n}"), "attendee");
                    sale.buy(n, &token, event_id, answered).await
                }
            })
            .buffer_unordered(IN_FLIGHT)
            .collect()
            .await
    }

    /// One buyer: check out; with a session, pay at once (unless this one abandons). A request
    /// cut off by the crash is sent again once the server is back.
    async fn buy(&self, n: usize, token: &str, event_id: &str, answered: &AtomicUsize) -> Journey {
        let mut journey = Journey::default();
        let checkout_url = loop {
            let sent = self
                .send(
                    "checkout",
                    self.http
                        .post(format!("{}/api/events/{event_id}/checkout", self.url))
                        .bearer_auth(token),
                )
                .await;
            let outcome = sent.outcome.clone();
            let body = sent.body.clone();
            journey.requests.push(sent);
            match outcome {
                Ok(201) => {
                    answered.fetch_add(1, Ordering::Relaxed);
                    let body: Value = serde_json::from_str(&body).unwrap();
                    journey.order_id = body["orderId"].as_str().map(str::to_owned);
                    break body["checkoutUrl"].as_str().unwrap().to_owned();
                }
                Ok(409) => {
                    answered.fetch_add(1, Ordering::Relaxed);
                    journey.sold_out = true;
                    return journey;
                }
                Ok(status) => panic!("buyer {n}: checkout answered {status}: {body}"),
                Err(_) => self.wait_until_up().await,
            }
        };
        if n.is_multiple_of(ABANDON_EVERY) {
            return journey;
        }
        for _ in 0..3 {
            let sent = self
                .send(
                    "pay",
                    self.http.post(format!("{checkout_url}/pay")).form(&[
                        ("email", format!("buyer{n}@example.com").as_str()),
                        ("card_number", PAYS),
                        ("card_expiry", "12 / 34"),
                        ("card_cvc", "123"),
                        ("name", &format!("Buyer {n}")),
                    ]),
                )
                .await;
            let outcome = sent.outcome.clone();
            journey.requests.push(sent);
            match outcome {
                Ok(303) => {
                    journey.paid = true;
                    return journey;
                }
                // Paid by the request the crash cut off, or expired meanwhile: the page says
                // so, and the checks find out which.
                Ok(_) => return journey,
                Err(_) => self.wait_until_up().await,
            }
        }
        journey
    }

    /// Sends a request and reads the whole answer.
    async fn send(&self, what: &'static str, request: reqwest::RequestBuilder) -> Sent {
        let sent_at = Instant::now();
        let outcome = match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                response.text().await.map(|body| (status, body))
            }
            Err(error) => Err(error),
        };
        let answered_at = Instant::now();
        match outcome {
            Ok((status, body)) => Sent {
                what,
                sent_at,
                answered_at,
                outcome: Ok(status),
                body,
            },
            Err(error) => Sent {
                what,
                sent_at,
                answered_at,
                outcome: Err(format!("{error:?}")),
                body: String::new(),
            },
        }
    }

    /// Until `/health` answers 200 again.
    async fn wait_until_up(&self) {
        let began = Instant::now();
        while began.elapsed() < Duration::from_secs(60) {
            let health = self.http.get(format!("{}/health", self.url)).send().await;
            if health.is_ok_and(|response| response.status() == StatusCode::OK) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("ticketd did not come back within a minute");
    }

    /// The simulator's API, as ticketd's Stripe client calls it.
    async fn stripe(&self, path: &str) -> Value {
        let response = self
            .http
            .get(format!("{}/stripe{path}", self.url))
            .bearer_auth(&self.stripe_key)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, StatusCode::OK, "GET /stripe{path}: {body}");
        body
    }

    /// The event's accounting from the stats route, the store and the simulator.
    async fn accounting(&self, event_id: &str) -> Accounting {
        let response = self
            .http
            .get(format!("{}/api/events/{event_id}/stats", self.url))
            .bearer_auth(&self.organizer)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let stats: Value = response.json().await.unwrap();
        let mut accounting = db_accounting(&self.data_dir, event_id);
        let count = |field: &str| stats[field].as_i64().unwrap();
        accounting.capacity = count("capacity");
        accounting.held = count("held");
        accounting.sold = count("sold");
        accounting.remaining = count("remaining");
        let sessions: Vec<(String, Value, Vec<Value>)> =
            futures::stream::iter(accounting.orders.keys().cloned())
                .map(|order_id| async move {
                    let session = self
                        .stripe(&format!("/v1/checkout/sessions/{order_id}"))
                        .await;
                    let refunds = match session["payment_intent"].as_str() {
                        Some(intent) => self
                            .stripe(&format!("/v1/refunds?payment_intent={intent}&limit=100"))
                            .await["data"]
                            .as_array()
                            .unwrap()
                            .clone(),
                        None => Vec::new(),
                    };
                    (order_id, session, refunds)
                })
                .buffer_unordered(8)
                .collect()
                .await;
        accounting.sessions = Some(
            sessions
                .into_iter()
                .map(|(order_id, session, refunds)| {
                    let paid = session["payment_status"] == "paid";
                    let refunded = refunds
                        .iter()
                        .filter_map(|refund| refund["amount"].as_i64())
                        .sum();
                    (order_id, SessionState { paid, refunded })
                })
                .collect(),
        );
        accounting
    }
}

/// One request and what came of it.
#[derive(Debug)]
struct Sent {
    what: &'static str,
    sent_at: Instant,
    answered_at: Instant,
    /// The status of the whole answer (body read), or why there was none.
    outcome: Result<u16, String>,
    body: String,
}

#[derive(Debug, Default)]
struct Journey {
    requests: Vec<Sent>,
    order_id: Option<String>,
    /// The hosted page answered the payment with its 303 back to the site.
    paid: bool,
    sold_out: bool,
}

/// Where a session stands at the simulator.
#[derive(Debug, Clone, Copy)]
struct SessionState {
    paid: bool,
    refunded: i64,
}

/// An event's seats, orders, tickets and payments.
#[derive(Debug, Default)]
struct Accounting {
    capacity: i64,
    held: i64,
    sold: i64,
    remaining: i64,
    /// Order status by order (= session) id.
    orders: HashMap<String, String>,
    /// Ticket status by order id.
    tickets: HashMap<String, String>,
    /// Each order's session at the simulator; `None` while the simulator is down.
    sessions: Option<HashMap<String, SessionState>>,
}

impl Accounting {
    fn valid_tickets(&self) -> usize {
        self.tickets
            .values()
            .filter(|status| *status == "VALID")
            .count()
    }

    fn pending(&self) -> usize {
        self.orders
            .values()
            .filter(|status| *status == "PENDING")
            .count()
    }

    fn paid(&self) -> Option<usize> {
        Some(self.sessions.as_ref()?.values().filter(|s| s.paid).count())
    }

    fn refunded(&self) -> Option<usize> {
        Some(
            self.sessions
                .as_ref()?
                .values()
                .filter(|s| s.refunded > 0)
                .count(),
        )
    }

    /// Nothing in flight any more: no hold, no pending order, and every payment ended in a
    /// ticket or a refund (the registration or its refund may still be running otherwise).
    fn settled(&self) -> bool {
        self.held == 0 && self.pending() == 0 && self.problems().is_empty()
    }

    /// What breaks the invariants.
    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.held != 0 {
            problems.push(format!("{} seats still held", self.held));
        }
        if self.capacity != self.sold + self.remaining {
            problems.push(format!(
                "capacity {} != sold {} + remaining {}",
                self.capacity, self.sold, self.remaining
            ));
        }
        if self.sold != self.valid_tickets() as i64 {
            problems.push(format!(
                "{} seats sold but {} VALID tickets",
                self.sold,
                self.valid_tickets()
            ));
        }
        for (order_id, status) in &self.orders {
            if status == "PENDING" {
                problems.push(format!("order {order_id} PENDING"));
            }
        }
        let Some(sessions) = &self.sessions else {
            return problems;
        };
        for (order_id, session) in sessions {
            let ticket = self.tickets.get(order_id).is_some_and(|s| s == "VALID");
            let refunded = session.refunded == PRICE_MINOR;
            let order = &self.orders[order_id];
            match (session.paid, ticket, refunded) {
                (true, true, false) if session.refunded == 0 && order == "FULFILLED" => {}
                (true, false, true) => {}
                (false, false, false) if session.refunded == 0 => {}
                _ => problems.push(format!(
                    "order {order_id} ({order}): paid {}, VALID ticket {ticket}, refunded {} of \
                     {PRICE_MINOR}",
                    session.paid, session.refunded
                )),
            }
        }
        problems
    }

    #[track_caller]
    fn check(&self, what: &str) {
        let problems = self.problems();
        assert!(problems.is_empty(), "{what}: {problems:#?}\n{self}");
    }
}

impl fmt::Display for Accounting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let or_dash = |count: Option<usize>| count.map_or("-".to_owned(), |n| n.to_string());
        write!(
            f,
            "capacity {}, held {}, sold {}, remaining {}; tickets {} VALID; paid sessions {}, \
             refunded {}; orders {} ({} PENDING)",
            self.capacity,
            self.held,
            self.sold,
            self.remaining,
            self.valid_tickets(),
            or_dash(self.paid()),
            or_dash(self.refunded()),
            self.orders.len(),
            self.pending(),
        )
    }
}

/// The event's seats, orders and tickets straight from the store's file (also while ticketd
/// is down); no sessions.
fn db_accounting(data_dir: &Path, event_id: &str) -> Accounting {
    let path = data_dir.join("ticketd.sqlite3");
    let db = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .or_else(|_| Connection::open(&path))
        .unwrap();
    db.busy_timeout(Duration::from_secs(5)).unwrap();
    let (capacity, taken, sold): (i64, i64, i64) = db
        .query_row(
            "SELECT capacity, taken, sold FROM events WHERE id = ?1",
            [event_id],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .unwrap_or_else(|error| panic!("event {event_id} in the store: {error}"));
    let pairs = |sql: &str| -> HashMap<String, String> {
        db.prepare(sql)
            .unwrap()
            .query_map([event_id], |row| Ok((row.get(0)?, row.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    Accounting {
        capacity,
        held: taken - sold,
        sold,
        remaining: capacity - taken,
        orders: pairs("SELECT id, status FROM orders WHERE event_id = ?1"),
        tickets: pairs("SELECT order_id, status FROM tickets WHERE event_id = ?1"),
        sessions: None,
    }
}

fn tail(log: &str, lines: usize) -> String {
    let all: Vec<&str> = log.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
