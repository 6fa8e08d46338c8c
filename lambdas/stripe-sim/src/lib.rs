//! ticketd's Stripe simulator: the part of Stripe the system uses, so the real client
//! ([`ticket_cloud::StripePayments`]) runs locally against it, and the hosted page and signed
//! webhooks a buyer's payment sets off.
//!
//! Under the base URL (e.g. `http://127.0.0.1:8080/stripe`):
//! - `POST /v1/checkout/sessions`, `GET /v1/checkout/sessions/{id}`,
//!   `POST /v1/checkout/sessions/{id}/expire`, `POST /v1/refunds`, `GET /v1/refunds`,
//!   `POST /v1/coupons`, `GET /v1/coupons/{id}`: Stripe's form-encoded requests and JSON
//!   objects, authenticated with the secret key, idempotency keys honoured on every POST, errors
//!   in Stripe's shape (other `/v1` paths: Stripe's 404).
//! - Coupons (`amount_off` with `currency`, or `percent_off`; duration `once`) apply to a
//!   session with `discounts[0][coupon]`: its `amount_total` (what is charged, and so what can
//!   be refunded) is the subtotal less the discount, which `total_details.amount_discount`
//!   shows; a coupon is redeemed when a session with it completes, up to `max_redemptions`.
//! - `GET /checkout/{id}`: the hosted payment page (the session's `url`), which posts to
//!   `/checkout/{id}/pay` (form fields `card_number`, `card_expiry`, `card_cvc`, `name`, and
//!   `email` when the session has no `customer_email`) and `/checkout/{id}/cancel`. Card
//!   `4242 4242 4242 4242` pays, `4000 0000 0000 0002` is declined, others are refused.
//! - `GET /_sim/deliveries` (not Stripe's; same key): every webhook event and how its delivery
//!   went, as [`StripeSimulator::deliveries`] returns them.
//!
//! A completed or expired session sends `checkout.session.completed` or
//! `checkout.session.expired` to the webhook URL, signed like Stripe (`Stripe-Signature`) and
//! retried on Stripe's schedule ([`DeliveryPolicy`]) by the work [`StripeSimulator::start`]
//! runs, which also expires sessions whose `expires_at` has passed.
//!
//! State is kept as Stripe keeps it: [`StripeSimulator::open`] keeps coupons, sessions, payment
//! intents, refunds, idempotency keys and the webhook outbox in one SQLite file in the data
//! directory ([`STATE_FILE`]). A change and the event it causes commit together, so after a
//! crash (`kill -9` included) and a restart, open sessions still expire on time, paid ones
//! stay paid, and every event not yet delivered is delivered when it is due.

mod api;
mod checkout_page;
mod db;
mod error;
mod ledger;
mod webhooks;

use std::collections::HashSet;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::http::Uri;
use rand::distr::{Alphanumeric, SampleString};
use tokio::sync::Notify;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::{Instant, MissedTickBehavior};

pub use api::STRIPE_MIN_EXPIRY;
use db::Db;
use ledger::{Failure, Ledger};
use local_support::random_token;
pub use webhooks::{
    API_VERSION, DeliveryPolicy, DeliveryRecord, DeliveryStatus, EVENT_RETENTION,
    MAX_CONCURRENT_DELIVERIES,
};

/// How often the background work expires sessions past their `expires_at` and looks for
/// retries that have come due (new events are sent at once).
pub const SWEEP_EVERY: Duration = Duration::from_millis(200);

/// Where [`StripeSimulator::open`] keeps the account in the data directory.
pub const STATE_FILE: &str = "stripe-simulator.sqlite3";

/// The floor on `expires_at` for a local hold of `hold`: one minute less, as ticketd asks for
/// its hold's expiry when it creates the session a moment later, and never above Stripe's.
pub fn min_expiry_for_hold(hold: Duration) -> Duration {
    hold.saturating_sub(Duration::from_secs(60))
        .min(STRIPE_MIN_EXPIRY)
}

#[derive(Clone)]
pub struct SimulatorConfig {
    /// Public base URL of the simulator, e.g. `http://127.0.0.1:8080/stripe`: the API is at
    /// `{base_url}/v1/...`, hosted pages under `{base_url}/checkout/...`.
    pub base_url: String,
    /// The `sk_test_...` key clients must present (Bearer, or Basic user name).
    pub secret_key: String,
    /// The `whsec_...` secret that signs webhook deliveries.
    pub webhook_secret: String,
    /// Where events are POSTed (ticketd's `/api/stripe/webhook`); plain `http://` only.
    pub webhook_url: String,
    /// Session creation and expiry, event and signature timestamps, the delivery schedule.
    pub clock: Arc<dyn ticket_core::Clock>,
    pub delivery: DeliveryPolicy,
    /// How far ahead a session's `expires_at` must be: Stripe's 30 minutes
    /// ([`STRIPE_MIN_EXPIRY`]) unless a local run asks for shorter holds
    /// ([`min_expiry_for_hold`]).
    pub min_expiry: Duration,
}

impl SimulatorConfig {
    /// A simulator at `base_url` delivering to `webhook_url`, with fresh random secrets, the
    /// system clock, Stripe's delivery schedule and Stripe's expiry floor.
    pub fn local(base_url: &str, webhook_url: &str) -> Self {
        Self::with_secrets(base_url, webhook_url, SimulatorSecrets::fresh())
    }

    /// [`Self::local`] with the given secrets (ticketd's, from its data directory).
    pub fn with_secrets(base_url: &str, webhook_url: &str, secrets: SimulatorSecrets) -> Self {
        Self {
            base_url: base_url.to_owned(),
            secret_key: secrets.secret_key,
            webhook_secret: secrets.webhook_secret,
            webhook_url: webhook_url.to_owned(),
            clock: Arc::new(ticket_core::SystemClock),
            delivery: DeliveryPolicy::default(),
            min_expiry: STRIPE_MIN_EXPIRY,
        }
    }
}

impl fmt::Debug for SimulatorConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimulatorConfig")
            .field("base_url", &self.base_url)
            .field("webhook_url", &self.webhook_url)
            .field("delivery", &self.delivery)
            .field("min_expiry", &self.min_expiry)
            .finish_non_exhaustive()
    }
}

/// The simulator's state file could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("cannot open the Stripe simulator's state {}: {source}", path.display())]
pub struct OpenError {
    path: PathBuf,
    #[source]
    source: rusqlite::Error,
}

/// What [`StripeSimulator::flush_outbox`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct FlushReport {
    /// Attempts the flush made (each due event once).
    pub attempted: usize,
    /// Of those, how many were answered 2xx.
    pub delivered: usize,
    /// Events still pending afterwards, kept for the next start.
    pub pending: usize,
}

impl fmt::Display for FlushReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "webhook outbox flushed: {} attempted, {} delivered, {} left pending",
            self.attempted, self.delivered, self.pending
        )
    }
}

/// The simulated Stripe account; clones share it.
#[derive(Clone)]
pub struct StripeSimulator {
    inner: Arc<Inner>,
}

struct Inner {
    config: SimulatorConfig,
    /// `config.base_url` without a trailing slash.
    base_url: String,
    /// The base URL's path, where the routes are mounted (`/stripe`, or empty).
    mount: String,
    db: Db,
    client: webhooks::WebhookClient,
    /// Told when a transaction queued events, so they go out at once.
    wake: Notify,
    /// Outbox entries being attempted now (by the background work or a flush), never twice
    /// at once. Memory only: after a crash nothing is in flight.
    in_flight: Mutex<HashSet<i64>>,
    started: AtomicBool,
}

/// A lock that outlives a panic elsewhere: every critical section leaves consistent state.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// An outbox entry taken for one attempt; given back when dropped (attempted or abandoned).
struct Claim {
    sim: StripeSimulator,
    seq: i64,
}

impl Drop for Claim {
    fn drop(&mut self) {
        lock(&self.sim.inner.in_flight).remove(&self.seq);
    }
}

impl StripeSimulator {
    /// The account kept in `data_dir` ([`STATE_FILE`], created if missing): what a previous
    /// run left, open sessions and undelivered events included, resumes with [`Self::start`].
    ///
    /// # Panics
    /// If `config.base_url` is not an absolute URL.
    pub fn open(config: SimulatorConfig, data_dir: &Path) -> Result<Self, OpenError> {
        let path = data_dir.join(STATE_FILE);
        let db = Db::open(&path).map_err(|source| OpenError { path, source })?;
        Ok(Self::with_db(config, db))
    }

    /// An account that lives in memory, as long as the simulator (for tests and benchmarks).
    ///
    /// # Panics
    /// If `config.base_url` is not an absolute URL.
    pub fn in_memory(config: SimulatorConfig) -> Self {
        let db = Db::in_memory().expect("an in-memory SQLite database opens");
        Self::with_db(config, db)
    }

    fn with_db(config: SimulatorConfig, db: Db) -> Self {
        let base_url = config.base_url.trim_end_matches('/').to_owned();
        let uri: Uri = base_url
            .parse()
            .ok()
            .filter(|uri: &Uri| uri.scheme().is_some() && uri.host().is_some())
            .unwrap_or_else(|| panic!("the simulator's base URL {base_url:?} is not absolute"));
        let mount = uri.path().trim_end_matches('/').to_owned();
        let client = webhooks::WebhookClient::new(&config.delivery);
        Self {
            inner: Arc::new(Inner {
                config,
                base_url,
                mount,
                db,
                client,
                wake: Notify::new(),
                in_flight: Mutex::default(),
                started: AtomicBool::new(false),
            }),
        }
    }

    /// Every simulator route, mounted under the base URL's path.
    pub fn router(&self) -> Router {
        api::routes(&self.inner.mount)
            .merge(checkout_page::routes(&self.inner.mount))
            .with_state(self.clone())
    }

    /// Starts the background work: webhook deliveries (concurrent, each attempt when it is
    /// due) and the expiry sweep, every [`SWEEP_EVERY`]. What was due while the simulator was
    /// down goes first. Aborting the handle stops both, in-flight deliveries included (they
    /// stay due in the outbox). Call it once: a second call's task ends at once.
    pub fn start(&self) -> JoinHandle<()> {
        let first = !self.inner.started.swap(true, Ordering::SeqCst);
        let sim = self.clone();
        tokio::spawn(async move {
            if !first {
                tracing::error!("the Stripe simulator's background work is already running");
                return;
            }
            let mut attempts = JoinSet::new();
            let mut sweep = tokio::time::interval(SWEEP_EVERY);
            sweep.set_missed_tick_behavior(MissedTickBehavior::Delay);
            loop {
                let room = MAX_CONCURRENT_DELIVERIES.saturating_sub(attempts.len());
                for (claim, payload) in sim.claim_due(room, &HashSet::new()) {
                    let sim = sim.clone();
                    attempts.spawn(async move {
                        webhooks::attempt(&sim, claim.seq, payload).await;
                        drop(claim);
                    });
                }
                tokio::select! {
                    () = sim.inner.wake.notified() => {}
                    _ = sweep.tick() => {
                        sim.expire_due_sessions();
                    }
                    Some(finished) = attempts.join_next(), if !attempts.is_empty() => {
                        if let Err(error) = finished {
                            tracing::error!(%error, "a webhook delivery task failed");
                        }
                    }
                }
            }
        })
    }

    /// Attempts every due webhook delivery once (those the background work is attempting are
    /// waited for), until none is left or `deadline` passes; for a graceful shutdown, while
    /// the webhook receiver still answers. Whatever is not delivered by then stays in the
    /// outbox for the next start, an attempt cut off by the deadline included.
    pub async fn flush_outbox(&self, deadline: impl Into<Instant>) -> FlushReport {
        let mut report = FlushReport::default();
        let mut tried = HashSet::new();
        let flushing = async {
            loop {
                let due = self.claim_due(FLUSH_BATCH, &tried);
                if due.is_empty() {
                    let others = lock(&self.inner.in_flight)
                        .iter()
                        .any(|seq| !tried.contains(seq));
                    if !others {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
                let round = due.into_iter().map(|(claim, payload)| {
                    tried.insert(claim.seq);
                    async move {
                        let record = webhooks::attempt(self, claim.seq, payload).await;
                        drop(claim);
                        record
                    }
                });
                for record in futures::future::join_all(round).await {
                    report.attempted += 1;
                    if record.is_some_and(|record| record.status == DeliveryStatus::Delivered) {
                        report.delivered += 1;
                    }
                }
            }
        };
        let _ = tokio::time::timeout_at(deadline.into(), flushing).await;
        report.pending = self
            .inner
            .db
            .read(webhooks::pending)
            .unwrap_or_else(|error| {
                tracing::error!(%error, "cannot count the pending webhook deliveries");
                0
            });
        report
    }

    /// Expires every open session whose `expires_at` has passed (what the background sweep
    /// does every [`SWEEP_EVERY`]); returns how many.
    pub fn expire_due_sessions(&self) -> usize {
        self.with_ledger(|ledger| ledger.expire_due())
            .unwrap_or_else(|failure| {
                tracing::error!(?failure, "cannot expire the sessions past their time");
                0
            })
    }

    /// Every event kept (the last [`EVENT_RETENTION`]) and how its delivery went, oldest
    /// first; empty, with the error logged, if the database cannot be read.
    pub fn deliveries(&self) -> Vec<DeliveryRecord> {
        self.try_deliveries().unwrap_or_else(|error| {
            tracing::error!(%error, "cannot read the webhook outbox");
            Vec::new()
        })
    }

    fn try_deliveries(&self) -> rusqlite::Result<Vec<DeliveryRecord>> {
        self.inner.db.read(webhooks::all)
    }

    pub fn config(&self) -> &SimulatorConfig {
        &self.inner.config
    }

    fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    fn mount(&self) -> &str {
        &self.inner.mount
    }

    fn now_ms(&self) -> i64 {
        self.inner.config.clock.now().timestamp_millis()
    }

    fn webhook_client(&self) -> webhooks::WebhookClient {
        self.inner.client.clone()
    }

    /// Runs `change` on the ledger in one transaction (rolled back if it fails), then wakes
    /// the deliveries if it queued events.
    fn with_ledger<R>(
        &self,
        change: impl FnOnce(&mut Ledger<'_>) -> Result<R, Failure>,
    ) -> Result<R, Failure> {
        let now_ms = self.now_ms();
        let (result, events) = self.inner.db.transact(|tx| {
            let mut ledger = Ledger::new(tx, &self.inner.base_url, now_ms);
            let result = change(&mut ledger)?;
            Ok::<_, Failure>((result, ledger.events()))
        })?;
        if events > 0 {
            self.inner.wake.notify_one();
        }
        Ok(result)
    }

    /// Takes up to `limit` due outbox entries that nobody is attempting and `skip` leaves out.
    fn claim_due(&self, limit: usize, skip: &HashSet<i64>) -> Vec<(Claim, Bytes)> {
        if limit == 0 {
            return Vec::new();
        }
        let now_ms = self.now_ms();
        let mut in_flight = lock(&self.inner.in_flight);
        let taken = self.inner.db.read(|conn| {
            let candidates = webhooks::due(
                conn,
                now_ms,
                limit
                    .saturating_add(in_flight.len())
                    .saturating_add(skip.len()),
            )?;
            let mut taken = Vec::new();
            for seq in candidates {
                if taken.len() == limit {
                    break;
                }
                if in_flight.contains(&seq) || skip.contains(&seq) {
                    continue;
                }
                if let Some(payload) = webhooks::payload(conn, seq)? {
                    taken.push((seq, payload));
                }
            }
            Ok(taken)
        });
        match taken {
            Ok(taken) => taken
                .into_iter()
                .map(|(seq, payload)| {
                    in_flight.insert(seq);
                    let claim = Claim {
                        sim: self.clone(),
                        seq,
                    };
                    (claim, payload)
                })
                .collect(),
            Err(error) => {
                tracing::error!(%error, "cannot read the webhook outbox");
                Vec::new()
            }
        }
    }

    /// Records how an attempt of outbox entry `seq` went; the record as it now stands.
    fn record_attempt(&self, seq: i64, outcome: &Result<u16, String>) -> Option<DeliveryRecord> {
        let now_ms = self.now_ms();
        let policy = &self.inner.config.delivery;
        self.inner
            .db
            .transact(|tx| webhooks::record_attempt(tx, seq, outcome, now_ms, policy))
            .unwrap_or_else(|error| {
                // The entry stays due: it is attempted again.
                tracing::error!(%error, seq, "cannot record a webhook delivery attempt");
                None
            })
    }
}

/// At most this many attempts in one round of a flush (the cap on POSTs in flight applies).
const FLUSH_BATCH: usize = 1024;

/// The simulator's secret key and webhook signing secret, kept in the data directory
/// ([`SECRETS_FILE`], mode 0600) so webhooks queued before a restart still verify after it, and
/// so tools and tests can call the simulator and sign events as it does.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SimulatorSecrets {
    pub secret_key: String,
    pub webhook_secret: String,
}

/// Where [`SimulatorSecrets`] live in the data directory.
pub const SECRETS_FILE: &str = "stripe-simulator.json";

impl SimulatorSecrets {
    /// Random test-mode secrets (256 bits each): `sk_test_sim_...`, `whsec_...`.
    pub fn fresh() -> Self {
        Self {
            secret_key: format!("sk_test_sim_{}", random_token()),
            webhook_secret: format!("whsec_{}", random_token()),
        }
    }

    /// The data directory's secrets, made on first use.
    pub fn load_or_create(data_dir: &Path) -> io::Result<Self> {
        let text =
            local_support::secret_file::load_or_create(&data_dir.join(SECRETS_FILE), || {
                Ok(serde_json::to_vec_pretty(&Self::fresh()).expect("secrets serialise"))
            })?;
        serde_json::from_slice(&text).map_err(|error| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{SECRETS_FILE} is not valid: {error}"),
            )
        })
    }

    /// The data directory's secrets, if ticketd made them.
    pub fn read(data_dir: &Path) -> io::Result<Self> {
        let text = std::fs::read(data_dir.join(SECRETS_FILE))?;
        serde_json::from_slice(&text)
            .map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error))
    }
}

/// A Stripe-style id: `prefix` and `length` random letters and digits.
fn random_id(prefix: &str, length: usize) -> String {
    format!(
        "{prefix}{}",
        Alphanumeric.sample_string(&mut rand::rng(), length)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_local_config_has_fresh_test_mode_secrets() {
        let config = SimulatorConfig::local("http://127.0.0.1:8080/stripe", "http://h/hook");
        assert!(config.secret_key.starts_with("sk_test_sim_"));
        assert!(config.webhook_secret.starts_with("whsec_"));
        let other = SimulatorConfig::local("http://127.0.0.1:8080/stripe", "http://h/hook");
        assert_ne!(config.secret_key, other.secret_key);
        assert!(!format!("{config:?}").contains(&config.secret_key));
    }

    #[test]
    fn routes_mount_under_the_base_urls_path() {
        let mounted = |base: &str| {
            StripeSimulator::in_memory(SimulatorConfig::local(base, "http://h/hook"))
                .mount()
                .to_owned()
        };
        assert_eq!(mounted("http://127.0.0.1:8080/stripe/"), "/stripe");
        assert_eq!(mounted("http://127.0.0.1:8080"), "");
    }

    #[test]
    fn a_local_hold_lowers_the_expiry_floor_but_never_above_stripes() {
        let minutes = |n: u64| Duration::from_secs(n * 60);
        assert_eq!(min_expiry_for_hold(minutes(5)), minutes(4));
        assert_eq!(min_expiry_for_hold(minutes(1)), Duration::ZERO);
        assert_eq!(min_expiry_for_hold(minutes(31)), STRIPE_MIN_EXPIRY);
        assert_eq!(min_expiry_for_hold(minutes(120)), STRIPE_MIN_EXPIRY);
        let config = SimulatorConfig::local("http://127.0.0.1:8080/stripe", "http://h/hook");
        assert_eq!(config.min_expiry, STRIPE_MIN_EXPIRY);
    }
}
