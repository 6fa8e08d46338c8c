//! ticketd's Stripe simulator: the part of Stripe the system uses, so the real client
//! ([`ticket_cloud::StripePayments`]) runs locally against it, and the hosted page and signed
//! webhooks a buyer's payment sets off.
//!
//! Under the base URL (e.g. `http://127.0.0.1:8080/stripe`):
//! - `POST /v1/checkout/sessions`, `GET /v1/checkout/sessions/{id}`,
//!   `POST /v1/checkout/sessions/{id}/expire`, `POST /v1/refunds`, `GET /v1/refunds`: Stripe's
//!   form-encoded requests and JSON objects, authenticated with the secret key, idempotency keys
//!   honoured on every POST, errors in Stripe's shape (other `/v1` paths: Stripe's 404).
//! - `GET /checkout/{id}`: the hosted payment page (the session's `url`), which posts to
//!   `/checkout/{id}/pay` (form fields `card_number`, `card_expiry`, `card_cvc`, `name`, and
//!   `email` when the session has no `customer_email`) and `/checkout/{id}/cancel`. Card
//!   `4242 4242 4242 4242` pays, `4000 0000 0000 0002` is declined, others are refused.
//! - `GET /_sim/deliveries` (not Stripe's; same key): every webhook event and how its delivery
//!   went, as [`StripeSimulator::deliveries`] returns them.
//!
//! A completed or expired session sends `checkout.session.completed` or
//! `checkout.session.expired` to the webhook URL, signed like Stripe (`Stripe-Signature`) and
//! retried per [`DeliveryPolicy`] by the work [`StripeSimulator::start`] runs, which also
//! expires sessions whose `expires_at` has passed.
//!
//! State lives in memory: a ticketd restart forgets the simulated sessions, payments and
//! refunds (an open session's hold then expires on ticketd's side alone).

mod api;
mod checkout_page;
mod ledger;
mod webhooks;

use std::fmt;
use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::http::Uri;
use rand::distr::{Alphanumeric, SampleString};
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::MissedTickBehavior;

use crate::idp::random_token;
use ledger::Ledger;
pub use webhooks::{
    API_VERSION, DeliveryPolicy, DeliveryRecord, DeliveryStatus, MAX_CONCURRENT_DELIVERIES,
};

/// How often the background work looks for sessions past their `expires_at`.
pub const EXPIRY_SWEEP: Duration = Duration::from_secs(1);

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
    /// Session creation and expiry, event and signature timestamps.
    pub clock: Arc<dyn ticket_core::Clock>,
    pub delivery: DeliveryPolicy,
}

impl SimulatorConfig {
    /// A simulator at `base_url` delivering to `webhook_url`, with fresh random secrets, the
    /// system clock and the default delivery policy.
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
        }
    }
}

impl fmt::Debug for SimulatorConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimulatorConfig")
            .field("base_url", &self.base_url)
            .field("webhook_url", &self.webhook_url)
            .field("delivery", &self.delivery)
            .finish_non_exhaustive()
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
    ledger: Mutex<Ledger>,
    deliveries: Mutex<Vec<DeliveryRecord>>,
    /// Indexes into `deliveries` of events to deliver, taken by [`StripeSimulator::start`].
    queue: mpsc::UnboundedSender<usize>,
    queued: Mutex<Option<mpsc::UnboundedReceiver<usize>>>,
}

/// A lock that outlives a panic elsewhere: every critical section leaves consistent state.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl StripeSimulator {
    /// # Panics
    /// If `config.base_url` is not an absolute URL.
    pub fn new(config: SimulatorConfig) -> Self {
        let base_url = config.base_url.trim_end_matches('/').to_owned();
        let uri: Uri = base_url
            .parse()
            .ok()
            .filter(|uri: &Uri| uri.scheme().is_some() && uri.host().is_some())
            .unwrap_or_else(|| panic!("the simulator's base URL {base_url:?} is not absolute"));
        let mount = uri.path().trim_end_matches('/').to_owned();
        let (queue, queued) = mpsc::unbounded_channel();
        Self {
            inner: Arc::new(Inner {
                config,
                base_url,
                mount,
                ledger: Mutex::default(),
                deliveries: Mutex::default(),
                queue,
                queued: Mutex::new(Some(queued)),
            }),
        }
    }

    /// Every simulator route, mounted under the base URL's path.
    pub fn router(&self) -> Router {
        api::routes(&self.inner.mount)
            .merge(checkout_page::routes(&self.inner.mount))
            .with_state(self.clone())
    }

    /// Starts the background work: webhook deliveries (concurrent, retried) and the expiry
    /// sweep. Aborting the handle stops both, in-flight deliveries included. Call it once:
    /// events queue up until it runs, and a second call's task ends at once.
    pub fn start(&self) -> JoinHandle<()> {
        let queued = lock(&self.inner.queued).take();
        let sim = self.clone();
        tokio::spawn(async move {
            let Some(mut queued) = queued else {
                tracing::error!("the Stripe simulator's background work is already running");
                return;
            };
            let client = webhooks::WebhookClient::new(&sim.config().delivery);
            let mut deliveries = JoinSet::new();
            let mut sweep = tokio::time::interval(EXPIRY_SWEEP);
            sweep.set_missed_tick_behavior(MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    Some(index) = queued.recv() => {
                        deliveries.spawn(webhooks::deliver(sim.clone(), index, client.clone()));
                    }
                    _ = sweep.tick() => {
                        sim.expire_due_sessions();
                    }
                    Some(finished) = deliveries.join_next(), if !deliveries.is_empty() => {
                        if let Err(error) = finished {
                            tracing::error!(%error, "a webhook delivery task failed");
                        }
                    }
                }
            }
        })
    }

    /// Expires every open session whose `expires_at` has passed (what the background sweep
    /// does every [`EXPIRY_SWEEP`]); returns how many.
    pub fn expire_due_sessions(&self) -> usize {
        let now = self.now();
        self.with_ledger(|ledger| ledger.expire_due(now))
    }

    /// Every event so far and how its delivery went, oldest first.
    pub fn deliveries(&self) -> Vec<DeliveryRecord> {
        lock(&self.inner.deliveries).clone()
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

    /// Stripe's timestamps: unix seconds.
    fn now(&self) -> i64 {
        self.inner.config.clock.now().timestamp()
    }

    /// Runs `change` on the ledger under its lock, then queues the events it caused.
    fn with_ledger<R>(&self, change: impl FnOnce(&mut Ledger) -> R) -> R {
        let mut ledger = lock(&self.inner.ledger);
        let result = change(&mut ledger);
        let events = ledger.take_events();
        if !events.is_empty() {
            let created = self.now();
            let mut deliveries = lock(&self.inner.deliveries);
            for (kind, session) in events {
                deliveries.push(DeliveryRecord {
                    event: webhooks::event(kind, session.to_json(self.base_url()), created),
                    status: DeliveryStatus::Pending,
                    attempts: 0,
                    last_status: None,
                    last_error: None,
                });
                // Fails only once the background work has been stopped: nothing delivers then.
                let _ = self.inner.queue.send(deliveries.len() - 1);
            }
        }
        result
    }

    fn delivery(&self, index: usize) -> Option<DeliveryRecord> {
        lock(&self.inner.deliveries).get(index).cloned()
    }

    fn update_delivery(&self, index: usize, update: impl FnOnce(&mut DeliveryRecord)) {
        if let Some(record) = lock(&self.inner.deliveries).get_mut(index) {
            update(record);
        }
    }
}

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
        let text = crate::secret_file::load_or_create(&data_dir.join(SECRETS_FILE), || {
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
            StripeSimulator::new(SimulatorConfig::local(base, "http://h/hook"))
                .mount()
                .to_owned()
        };
        assert_eq!(mounted("http://127.0.0.1:8080/stripe/"), "/stripe");
        assert_eq!(mounted("http://127.0.0.1:8080"), "");
    }
}
