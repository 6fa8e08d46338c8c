//! The whole system assembled in one process: store, ticket files, signing keys, payments (real
//! Stripe or the simulator), the registration executor, the operator's routes, the identity
//! provider and the API gateway. `ticketd serve` runs it; a benchmark or a test starts the same
//! stack in-process with [`start`].

use std::error::Error;
use std::future::{Future, IntoFuture};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use ticket_cloud::StripePayments;
use ticket_core::api::{ApiPorts, HOLD_MINUTES, TicketPdfs};
use ticket_core::cancellation::CancellationSteps;
use ticket_core::reconcile::ReconcilePorts;
use ticket_core::registration::RegistrationSteps;
use ticket_core::{Payments, RandomIds, SystemClock};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::admin::{self, Admin};
use crate::aws_api::AwsApis;
use crate::cancellation;
use crate::gateway::{Backend, Gateway};
use crate::keys;
use crate::lambda::{LambdaFunctions, PostConfirmationFunction};
use crate::reconciler::{self, Pass, Reconciler};
use crate::registration::{self, EXECUTIONS_FILE, LocalWorkflow};
use crate::server::{self, AppState, Services};
use asl::{Executor, ExecutorOptions};
use cognito_local::{self as idp, Idp, IdpConfig};
use stripe_sim::{SimulatorConfig, SimulatorSecrets, StripeSimulator};
use ticket_embedded::SqliteStore;
use ticket_embedded::files::LocalFiles;

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
    /// How long a checkout holds its seat; below [`HOLD_MINUTES`] only with the simulator
    /// (Stripe's sessions last at least 30 minutes).
    pub hold_minutes: i64,
    /// The pause between two reconciliation passes (the first runs on start).
    pub reconcile_every: Duration,
    /// How long a shutdown may take to finish requests, executions and webhook deliveries.
    pub shutdown_deadline: Duration,
    /// The emulated AWS stack's functions file: the routes, steps, trigger and reconciliation
    /// then run in those Lambda functions instead of in this process.
    pub lambda_functions: Option<PathBuf>,
}

/// `ticketd serve`'s default for `--shutdown-deadline`.
pub const DEFAULT_SHUTDOWN_DEADLINE: Duration = Duration::from_secs(10);
/// The longest hold: Stripe's sessions expire within 24 hours of their creation, which comes a
/// moment after the hold's.
pub const MAX_HOLD_MINUTES: i64 = 24 * 60 - 1;

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
            hold_minutes: HOLD_MINUTES,
            reconcile_every: reconciler::DEFAULT_EVERY,
            shutdown_deadline: DEFAULT_SHUTDOWN_DEADLINE,
            lambda_functions: None,
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
    /// The identity provider under `/auth`.
    pub idp: Idp,
    admin: Admin,
    gateway: Gateway,
    /// The registration executor, whose executions the payment webhooks start.
    pub executor: Arc<Executor>,
    /// The cancellation executor, whose executions cancelling an event starts.
    pub cancellations: Arc<Executor>,
    /// The Stripe simulator, unless real Stripe is configured.
    pub simulator: Option<StripeSimulator>,
    pub demo_accounts: DemoAccounts,
    listener: TcpListener,
    /// The simulator's side door, a loopback port of its own: ticketd's Stripe client and the
    /// simulator's webhooks go through it, so both keep working while a shutdown has already
    /// closed `listener` to the world.
    internal: Option<TcpListener>,
    /// The simulator's webhook deliveries and expiry sweep.
    simulator_work: Option<JoinHandle<()>>,
    reconcile: Pass,
    /// The emulated AWS stack's APIs, when the work runs in Lambda functions.
    aws_apis: Option<AwsApis>,
    reconcile_every: Duration,
    shutdown_deadline: Duration,
}

impl RunningApp {
    /// Every route: what [`Self::serve`] answers with.
    pub fn router(&self) -> Router {
        let services = Services {
            admin: Some(self.admin.clone()),
            idp: Some(self.idp.clone()),
            gateway: Some(self.gateway.clone()),
            stripe_sim: self.simulator.clone(),
            aws_apis: self.aws_apis.clone(),
        };
        server::router(self.state.clone(), services)
    }

    /// Serves [`Self::router`] until `shutdown` resolves, then stops.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let router = self.router();
        self.serve_router(router, shutdown).await
    }

    /// Serves `router` (this app's, maybe with layers added), with the reconciliation loop
    /// running, until `shutdown` resolves. Then, within the shutdown deadline: accepts no new
    /// connection and answers every request already sent (see [`server::serve_draining`]),
    /// lets the reconciliation pass under way end and starts none, delivers the simulator's
    /// queued webhooks, lets the registration executions finish, and stops. What the deadline
    /// cuts short is durable and resumes on the next start: executions stay RUNNING in the
    /// journal at the state they last entered, undelivered webhooks stay in the outbox, and
    /// an interrupted pass is redone by the next.
    pub async fn serve_router(
        self,
        router: Router,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let Self {
            executor,
            cancellations,
            simulator,
            listener,
            internal,
            simulator_work,
            reconcile,
            reconcile_every,
            shutdown_deadline,
            ..
        } = self;
        let (stop, stopped) = watch::channel(false);
        let mut public = tokio::spawn(server::serve_draining(listener, router.clone(), stopped));
        let (close_internal, internal_closed) = watch::channel(false);
        let internal = internal.map(|listener| {
            tokio::spawn(
                axum::serve(listener, router)
                    .with_graceful_shutdown(turned_true(internal_closed))
                    .into_future(),
            )
        });
        let reconciler = Reconciler::spawn(reconcile, reconcile_every);

        let ended_early = tokio::select! {
            () = shutdown => None,
            // The server does not stop by itself; should its task die, stop the rest too.
            served = &mut public => Some(served),
        };
        let deadline = Instant::now() + shutdown_deadline;
        tracing::info!(
            deadline_seconds = shutdown_deadline.as_secs_f64(),
            "shutting down: no new connections; finishing requests, executions and webhooks"
        );
        let _ = stop.send(true);
        let (served, pass_ended) = tokio::join!(
            async {
                match ended_early {
                    Some(served) => Some(served),
                    None => tokio::time::timeout_at(deadline, &mut public).await.ok(),
                }
            },
            reconciler.stop(deadline),
        );
        let served = match served {
            Some(Ok(served)) => served,
            Some(Err(error)) => Err(std::io::Error::other(format!("the server failed: {error}"))),
            None => {
                tracing::warn!("requests still unanswered at the shutdown deadline are cut off");
                public.abort();
                Ok(())
            }
        };
        if !pass_ended {
            tracing::warn!("the reconciliation pass under way was stopped at the deadline");
        }
        // Deliveries may start registrations: before the executions are waited for.
        if let Some(simulator) = &simulator {
            let flushed = simulator.flush_outbox(deadline).await;
            if flushed.pending > 0 {
                tracing::warn!(%flushed, "undelivered webhooks are sent after the next start");
            } else {
                tracing::info!(%flushed);
            }
        }
        let running = executions_settled(&executor, deadline).await
            + executions_settled(&cancellations, deadline).await;
        if running > 0 {
            tracing::warn!(
                running,
                "executions still running at the deadline resume on the next start"
            );
        }
        executor.shutdown();
        cancellations.shutdown();
        let _ = close_internal.send(true);
        if let Some(internal) = internal {
            // Only ticketd's own calls use it, and those have ended; a stuck one is cut.
            let last = deadline.max(Instant::now() + Duration::from_millis(500));
            if tokio::time::timeout_at(last, internal).await.is_err() {
                tracing::warn!(
                    "calls to the Stripe simulator still open at the deadline are cut off"
                );
            }
        }
        if let Some(work) = simulator_work {
            work.abort();
        }
        served
    }
}

/// Resolves once `flag` is true (or its sender is gone).
async fn turned_true(mut flag: watch::Receiver<bool>) {
    let _ = flag.wait_for(|flag| *flag).await;
}

/// Waits until no execution runs or `deadline` passes; how many still run.
async fn executions_settled(executor: &Executor, deadline: Instant) -> usize {
    loop {
        let running = executor.running_count();
        if running == 0 || Instant::now() >= deadline {
            return running;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
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
        hold_minutes,
        reconcile_every,
        shutdown_deadline,
        lambda_functions,
    } = options;
    let functions = match lambda_functions {
        Some(path) => Some(Arc::new(LambdaFunctions::load(&path)?)),
        None => None,
    };
    let shortest_hold = if stripe.is_some() { HOLD_MINUTES } else { 1 };
    if !(shortest_hold..=MAX_HOLD_MINUTES).contains(&hold_minutes) {
        return Err(format!(
            "a hold of {hold_minutes} minutes is out of range: {shortest_hold} to \
             {MAX_HOLD_MINUTES}{}",
            if stripe.is_some() {
                " with Stripe, whose checkout sessions last at least 30 minutes"
            } else {
                ""
            }
        )
        .into());
    }
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
    // The simulator's side door (see `RunningApp::internal`); real Stripe needs none.
    let internal = match stripe {
        Some(_) => None,
        None => Some(
            TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0))
                .await
                .map_err(|error| format!("cannot listen for the Stripe simulator: {error}"))?,
        ),
    };
    let internal_url = match &internal {
        Some(listener) => Some(format!("http://{}", listener.local_addr()?)),
        None => None,
    };
    let PaymentsSetup {
        payments,
        webhook_secrets,
        simulator,
    } = payments_setup(
        stripe,
        &url,
        internal_url.as_deref(),
        &data_dir,
        hold_minutes,
    )?;
    // Its webhooks wait until the server answers; deliveries retry meanwhile.
    let simulator_work = simulator.as_ref().map(StripeSimulator::start);
    let ticket_verifier = Arc::new(signer.verifier());
    let ticket_pdfs = TicketPdfs {
        renderer: Arc::new(ticket_render::PdfRenderer),
        signer: Arc::new(signer),
    };

    // The registration saga: executions left running by the last stop resume here.
    let steps = Arc::new(RegistrationSteps {
        store: store.clone(),
        files: files.clone(),
        payments: payments.clone(),
        renderer: ticket_pdfs.renderer.clone(),
        signer: ticket_pdfs.signer.clone(),
        clock: Arc::new(SystemClock),
        ids: Arc::new(RandomIds),
    });
    let bindings = match &functions {
        Some(functions) => functions.step_bindings(),
        None => registration::bindings(steps, |_, function| function),
    };
    let executor = registration::open_executor(
        &data_dir.join(EXECUTIONS_FILE),
        bindings,
        ExecutorOptions::default(),
    )
    .await
    .map_err(|error| format!("cannot start the registration workflow: {error}"))?;
    // The refunds of cancelled events, likewise resumed.
    let cancellation_steps = Arc::new(CancellationSteps {
        store: store.clone(),
        payments: payments.clone(),
        clock: Arc::new(SystemClock),
    });
    let cancellations = cancellation::open_executor(
        &data_dir.join(cancellation::EXECUTIONS_FILE),
        match &functions {
            Some(functions) => functions.cancellation_bindings(),
            None => cancellation::bindings(cancellation_steps, |_, function| function),
        },
        ExecutorOptions::default(),
    )
    .await
    .map_err(|error| format!("cannot start the cancellation workflow: {error}"))?;
    let admin = Admin::open(&data_dir, executor.clone())
        .map_err(|error| format!("cannot open the admin token: {error}"))?;
    tracing::info!(
        token_file = %data_dir.join(admin::TOKEN_FILE).display(),
        "admin routes under /api/admin"
    );

    let mut idp = open_idp(&data_dir, &url, client_id, callback_urls)?;
    if let Some(functions) = &functions {
        idp = idp.with_post_confirmation(Arc::new(PostConfirmationFunction {
            function: functions.post_confirmation.clone(),
            user_pool_id: functions.user_pool_id.clone(),
        }));
    }
    let demo_accounts = if demo_accounts {
        ensure_demo_accounts(&idp, &data_dir).await?
    } else {
        DemoAccounts::None
    };
    let workflow =
        Arc::new(LocalWorkflow::new(executor.clone()).with_cancellations(cancellations.clone()));
    let reconcile = match &functions {
        Some(functions) => Pass::Function(functions.reconcile.clone()),
        None => Pass::InProcess(ReconcilePorts {
            store: store.clone(),
            payments: payments.clone(),
            workflow: workflow.clone(),
            clock: Arc::new(SystemClock),
        }),
    };
    let in_process = Backend::InProcess(Arc::new(ApiPorts {
        store: store.clone(),
        files: files.clone(),
        payments,
        workflow,
        clock: Arc::new(SystemClock),
        ids: Arc::new(RandomIds),
        verifier: ticket_verifier,
        ticket_pdfs: Some(ticket_pdfs),
        webhook_secrets,
        site_url: url.clone(),
        hold_minutes,
    }));
    let aws_apis = functions.as_ref().map(|functions| AwsApis {
        functions: functions.clone(),
        executor: executor.clone(),
        cancellations: cancellations.clone(),
        idp: idp.clone(),
    });
    let gateway = Gateway {
        backend: functions.map_or(in_process, Backend::Lambda),
        verifier: idp.verifier().clone(),
        site_origin: url.parse()?,
    };

    let state = AppState {
        store,
        site_dir,
        files,
    };
    Ok(RunningApp {
        url,
        state,
        idp,
        admin,
        gateway,
        executor,
        cancellations,
        simulator,
        demo_accounts,
        listener,
        internal,
        simulator_work,
        reconcile,
        aws_apis,
        reconcile_every,
        shutdown_deadline,
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

/// Real Stripe when an account is given; else the built-in simulator at `<url>/stripe` (where
/// its hosted pages are), which ticketd's Stripe client calls, and which delivers its webhooks
/// to this server's API, both through the side door at `internal_url`. Its sessions may then
/// expire as soon as a hold of `hold_minutes`.
fn payments_setup(
    stripe: Option<StripeAccount>,
    url: &str,
    internal_url: Option<&str>,
    data_dir: &Path,
    hold_minutes: i64,
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
    let internal_url = internal_url.unwrap_or(url);
    let mut config = SimulatorConfig::with_secrets(
        &format!("{url}/stripe"),
        &format!("{internal_url}/api/stripe/webhook"),
        secrets,
    );
    let hold = Duration::from_secs(u64::try_from(hold_minutes).unwrap_or(0) * 60);
    config.min_expiry = stripe_sim::min_expiry_for_hold(hold);
    let api_url = format!("{internal_url}/stripe");
    let payments = StripePayments::new(&config.secret_key, Some(&api_url))?;
    tracing::info!(base_url = %config.base_url, %api_url, hold_minutes, "payments: the Stripe simulator");
    Ok(PaymentsSetup {
        payments: Arc::new(payments),
        webhook_secrets: vec![config.webhook_secret.clone()],
        // Sessions, payments, refunds and undelivered webhooks survive a restart.
        simulator: Some(StripeSimulator::open(config, data_dir)?),
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
