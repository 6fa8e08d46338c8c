//! The whole system assembled in one process: store, ticket files, signing keys, payments (real
//! Stripe or the simulator), the registration executor, the operator's routes, the identity
//! provider and the API gateway. `ticketd serve` runs it; a benchmark or a test starts the same
//! stack in-process with [`start`].

use std::error::Error;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use ticket_cloud::StripePayments;
use ticket_core::api::ApiPorts;
use ticket_core::registration::RegistrationSteps;
use ticket_core::{Payments, RandomIds, SystemClock};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::admin::{self, Admin};
use crate::files::LocalFiles;
use crate::gateway::Gateway;
use crate::idp::{self, Idp, IdpConfig};
use crate::registration::{self, EXECUTIONS_FILE, LocalWorkflow};
use crate::server::{self, AppState};
use crate::stripe_sim::{SimulatorConfig, SimulatorSecrets, StripeSimulator};
use crate::workflow::{Executor, ExecutorOptions};
use crate::{SqliteStore, keys};

type BoxError = Box<dyn Error + Send + Sync>;

/// What to start.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The state (created if missing): database, keys, ticket files, journal, users.
    pub data_dir: PathBuf,
    /// The site's static files.
    pub site_dir: PathBuf,
    /// The identity provider's app client id.
    pub client_id: String,
    /// The app client's callback and logout URLs; empty: the server's `/` and `/index.html`.
    pub callback_urls: Vec<String>,
    /// Real Stripe; `None`: the built-in simulator under `/stripe`.
    pub stripe: Option<StripeAccount>,
    /// Make the demo organizer and attendee on a fresh data directory.
    pub demo_accounts: bool,
}

impl ServeOptions {
    /// `ticketd serve`'s defaults for these directories.
    pub fn new(data_dir: impl Into<PathBuf>, site_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            site_dir: site_dir.into(),
            client_id: idp::DEFAULT_CLIENT_ID.to_owned(),
            callback_urls: Vec::new(),
            stripe: None,
            demo_accounts: true,
        }
    }
}

/// A real Stripe account's keys.
#[derive(Clone)]
pub struct StripeAccount {
    /// `sk_test_...` (or live).
    pub secret_key: String,
    /// What `/api/stripe/webhook` accepts signatures from (`whsec_...`, several while rotating).
    pub webhook_secrets: Vec<String>,
}

impl std::fmt::Debug for StripeAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StripeAccount { .. }")
    }
}

/// What became of the demo accounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DemoAccounts {
    /// Made just now: their credentials, also kept in `file`.
    Created { file: PathBuf, text: String },
    /// The data directory had users already; `file` holds the accounts made back then.
    Kept { file: PathBuf },
    /// None were made (not asked for, or the directory had users but no demo file).
    None,
}

/// The stack, started but not yet serving: [`RunningApp::serve`] answers on its listener.
pub struct RunningApp {
    /// `http://<address>`: the site, `/api`, `/auth`, `/stripe`.
    pub url: String,
    pub state: AppState,
    /// The registration executor, whose executions the payment webhooks start.
    pub executor: Arc<Executor>,
    /// The Stripe simulator, unless real Stripe is configured.
    pub simulator: Option<StripeSimulator>,
    pub demo_accounts: DemoAccounts,
    listener: TcpListener,
    /// The simulator's webhook deliveries and expiry sweep.
    simulator_work: Option<JoinHandle<()>>,
}

impl RunningApp {
    /// Every route: what [`Self::serve`] answers with.
    pub fn router(&self) -> Router {
        server::router(self.state.clone())
    }

    /// Serves [`Self::router`] until `shutdown` resolves, then stops.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let router = self.router();
        self.serve_router(router, shutdown).await
    }

    /// Serves `router` (this app's, maybe with layers added) until `shutdown` resolves, lets
    /// in-flight requests finish, then stops the executor and the simulator's work. Executions
    /// still running stay RUNNING in the journal and resume on the next start.
    pub async fn serve_router(
        self,
        router: Router,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let served = axum::serve(self.listener, router)
            .with_graceful_shutdown(shutdown)
            .await;
        self.executor.shutdown();
        if let Some(work) = self.simulator_work {
            work.abort();
        }
        served
    }
}

/// Opens everything in `options.data_dir` for a server on `listener`, whose address the
/// download links, the token issuer and the Stripe redirects name.
pub async fn start(options: ServeOptions, listener: TcpListener) -> Result<RunningApp, BoxError> {
    let ServeOptions {
        data_dir,
        site_dir,
        client_id,
        callback_urls,
        stripe,
        demo_accounts,
    } = options;
    if !site_dir.is_dir() {
        return Err(format!(
            "site directory {} does not exist (set --site-dir)",
            site_dir.display()
        )
        .into());
    }
    std::fs::create_dir_all(&data_dir).map_err(|error| {
        format!(
            "cannot create data directory {}: {error}",
            data_dir.display()
        )
    })?;
    let signer = keys::load_or_create(&data_dir)?;
    tracing::info!(key_id = %signer.key_id(), "ticket-signing key loaded");
    let db_path = data_dir.join("ticketd.sqlite3");
    let store = SqliteStore::open(&db_path)
        .map_err(|error| format!("cannot open {}: {error}", db_path.display()))?;

    let url = format!("http://{}", listener.local_addr()?);
    // Download links point here, so the file store opens once the address is known.
    let files = LocalFiles::open(&data_dir, &url)
        .map_err(|error| format!("cannot open the file store: {error}"))?;
    tracing::info!(
        %url,
        data_dir = %data_dir.display(),
        site_dir = %site_dir.display(),
        "ticketd listening"
    );

    let store = Arc::new(store);
    let files = Arc::new(files);
    let PaymentsSetup {
        payments,
        webhook_secrets,
        simulator,
    } = payments_setup(stripe, &url, &data_dir)?;
    // Its webhooks wait until the server answers; deliveries retry meanwhile.
    let simulator_work = simulator.as_ref().map(StripeSimulator::start);
    let ticket_verifier = Arc::new(signer.verifier());

    // The registration saga: executions left running by the last stop resume here.
    let steps = Arc::new(RegistrationSteps {
        store: store.clone(),
        files: files.clone(),
        payments: payments.clone(),
        renderer: Arc::new(ticket_render::PdfRenderer),
        signer: Arc::new(signer),
        clock: Arc::new(SystemClock),
        ids: Arc::new(RandomIds),
    });
    let executor = registration::open_executor(
        &data_dir.join(EXECUTIONS_FILE),
        registration::bindings(steps, |_, function| function),
        ExecutorOptions::default(),
    )
    .await
    .map_err(|error| format!("cannot start the registration workflow: {error}"))?;
    let admin = Admin::open(&data_dir, executor.clone())
        .map_err(|error| format!("cannot open the admin token: {error}"))?;
    tracing::info!(
        token_file = %data_dir.join(admin::TOKEN_FILE).display(),
        "admin routes under /api/admin"
    );

    let idp = open_idp(&data_dir, &url, client_id, callback_urls)?;
    let demo_accounts = if demo_accounts {
        ensure_demo_accounts(&idp, &data_dir).await?
    } else {
        DemoAccounts::None
    };
    let gateway = Gateway {
        ports: Arc::new(ApiPorts {
            store: store.clone(),
            files: files.clone(),
            payments,
            workflow: Arc::new(LocalWorkflow::new(executor.clone())),
            clock: Arc::new(SystemClock),
            ids: Arc::new(RandomIds),
            verifier: ticket_verifier,
            webhook_secrets,
            site_url: url.clone(),
        }),
        verifier: idp.verifier().clone(),
        site_origin: url.parse()?,
    };

    let state = AppState {
        store,
        site_dir,
        files,
        admin: Some(admin),
        idp: Some(idp),
        gateway: Some(gateway),
        stripe_sim: simulator.clone(),
    };
    Ok(RunningApp {
        url,
        state,
        executor,
        simulator,
        demo_accounts,
        listener,
        simulator_work,
    })
}

/// How ticketd takes payments.
struct PaymentsSetup {
    payments: Arc<dyn Payments>,
    /// What `/api/stripe/webhook` accepts signatures from.
    webhook_secrets: Vec<String>,
    /// Under `/stripe`, unless real Stripe is configured.
    simulator: Option<StripeSimulator>,
}

/// Real Stripe when an account is given; else the built-in simulator at `<url>/stripe`, driven
/// by the same Stripe client and delivering its webhooks to this server's API.
fn payments_setup(
    stripe: Option<StripeAccount>,
    url: &str,
    data_dir: &Path,
) -> Result<PaymentsSetup, BoxError> {
    if let Some(account) = stripe {
        tracing::info!("payments: Stripe (STRIPE_SECRET_KEY is set)");
        return Ok(PaymentsSetup {
            payments: Arc::new(StripePayments::new(account.secret_key.trim(), None)?),
            webhook_secrets: account.webhook_secrets,
            simulator: None,
        });
    }
    let secrets = SimulatorSecrets::load_or_create(data_dir)
        .map_err(|error| format!("cannot open the Stripe simulator's secrets: {error}"))?;
    let config = SimulatorConfig::with_secrets(
        &format!("{url}/stripe"),
        &format!("{url}/api/stripe/webhook"),
        secrets,
    );
    let payments = StripePayments::new(&config.secret_key, Some(&config.base_url))?;
    tracing::info!(base_url = %config.base_url, "payments: the Stripe simulator");
    Ok(PaymentsSetup {
        payments: Arc::new(payments),
        webhook_secrets: vec![config.webhook_secret.clone()],
        simulator: Some(StripeSimulator::new(config)),
    })
}

/// The identity provider under `<url>/auth`.
fn open_idp(
    data_dir: &Path,
    url: &str,
    client_id: String,
    callback_urls: Vec<String>,
) -> Result<Idp, BoxError> {
    let mut config = IdpConfig::local(url);
    config.client.id = client_id;
    if !callback_urls.is_empty() {
        config.client.logout_urls = callback_urls.clone();
        config.client.callback_urls = callback_urls;
    }
    let idp = Idp::open(data_dir, config, Arc::new(SystemClock))
        .map_err(|error| format!("cannot open the identity provider: {error}"))?;
    tracing::info!(
        issuer = %idp.issuer(),
        client_id = %idp.config().client.id,
        "identity provider under /auth"
    );
    Ok(idp)
}

async fn ensure_demo_accounts(idp: &Idp, data_dir: &Path) -> Result<DemoAccounts, BoxError> {
    let file = data_dir.join(idp::DEMO_ACCOUNTS_FILE);
    match idp::ensure_demo_accounts(idp, data_dir).await {
        Ok(Some(text)) => Ok(DemoAccounts::Created { file, text }),
        Ok(None) if file.exists() => Ok(DemoAccounts::Kept { file }),
        Ok(None) => Ok(DemoAccounts::None),
        Err(error) => Err(format!("cannot create the demo accounts: {error}").into()),
    }
}
