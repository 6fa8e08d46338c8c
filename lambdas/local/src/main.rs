//! The `ticketd` command: parses arguments, starts logging and hands over to the library.

use std::error::Error;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use ticket_core::api::ApiPorts;
use ticket_core::registration::RegistrationSteps;
use ticket_core::{Payments, RandomIds, SystemClock};
use ticketd::admin::{self, Admin};
use ticketd::bench::{self, BenchArgs};
use ticketd::executions::{self, ExecutionsArgs};
use ticketd::files::LocalFiles;
use ticketd::gateway::Gateway;
use ticketd::idp::users_cli::{self, UsersArgs};
use ticketd::idp::{self, Idp, IdpConfig};
use ticketd::keys;
use ticketd::payments::UnconfiguredPayments;
use ticketd::registration::{self, EXECUTIONS_FILE, LocalWorkflow};
use ticketd::saga_bench::{self, RegistrationBenchArgs};
use ticketd::server::{self, AppState};
use ticketd::workflow::ExecutorOptions;
use ticketd::{SqliteStore, logging};
use tracing::level_filters::LevelFilter;

/// Ticketd: the event ticketing platform on one machine.
///
/// Runs the whole system in one process: the site, the API and an embedded SQLite store,
/// with all state in one data directory. No cloud account needed.
#[derive(Debug, Parser)]
#[command(name = "ticketd", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the site and the API on one address, with state in the data directory.
    Serve(ServeArgs),
    /// Measure how fast the store sells seats (hold + confirm), alone and concurrently.
    Bench(BenchArgs),
    /// Measure registrations per second through the registration state machine, every step
    /// real (store, PDF render, file write), on a fresh temporary stack.
    BenchRegistrations(RegistrationBenchArgs),
    /// List the registration executions of a data directory, or show one with its history.
    Executions(ExecutionsArgs),
    /// Print the public key that verifies this data directory's ticket codes, for door
    /// scanners (`KEYID:<base64url key>`). Creates the signing key if there is none yet.
    PublicKey(DataDirArgs),
    /// Manage the local identity provider's users: add, promote to organizer, list.
    Users(UsersArgs),
}

#[derive(Debug, clap::Args)]
struct DataDirArgs {
    /// Directory for the state; the signing key is ticket-signing.key in it.
    #[arg(long, env = "TICKETD_DATA_DIR", default_value = ".ticketd")]
    data_dir: PathBuf,
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "TICKETD_ADDR", default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Directory for the state (created if missing); the database is ticketd.sqlite3 in it.
    #[arg(long, env = "TICKETD_DATA_DIR", default_value = ".ticketd")]
    data_dir: PathBuf,
    /// Directory of the site's static files.
    #[arg(long, env = "TICKETD_SITE_DIR", default_value_os_t = default_site_dir())]
    site_dir: PathBuf,
    /// The identity provider's app client id (the site's `clientId`).
    #[arg(long, env = "TICKETD_CLIENT_ID", default_value = idp::DEFAULT_CLIENT_ID)]
    client_id: String,
    /// A callback (and logout) URL of the app client (repeatable); default: the server's `/`
    /// and `/index.html`.
    #[arg(
        long = "callback-url",
        env = "TICKETD_CALLBACK_URLS",
        value_delimiter = ','
    )]
    callback_urls: Vec<String>,
}

/// `./frontend` when run from a checkout's root, else the frontend of the source tree this
/// binary was built from.
fn default_site_dir() -> PathBuf {
    let local = Path::new("frontend");
    if local.is_dir() {
        return local.to_owned();
    }
    let built_from = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../frontend"));
    built_from
        .canonicalize()
        .unwrap_or_else(|_| built_from.to_owned())
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // A server logs its traffic; the other commands print their results and log only trouble.
    logging::init(match cli.command {
        Command::Serve(_) => LevelFilter::INFO,
        _ => LevelFilter::WARN,
    });
    let outcome = match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Bench(args) => bench::run(args).await,
        Command::BenchRegistrations(args) => saga_bench::run(args).await,
        Command::Executions(args) => executions::run(args).await,
        Command::PublicKey(args) => print_public_key(&args.data_dir),
        Command::Users(args) => users_cli::run(args).await,
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "ticketd failed");
            eprintln!("ticketd: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(args: ServeArgs) -> Result<(), Box<dyn Error + Send + Sync>> {
    if !args.site_dir.is_dir() {
        return Err(format!(
            "site directory {} does not exist (set --site-dir)",
            args.site_dir.display()
        )
        .into());
    }
    std::fs::create_dir_all(&args.data_dir).map_err(|error| {
        format!(
            "cannot create data directory {}: {error}",
            args.data_dir.display()
        )
    })?;
    let signer = keys::load_or_create(&args.data_dir)?;
    tracing::info!(key_id = %signer.key_id(), "ticket-signing key loaded");
    let db_path = args.data_dir.join("ticketd.sqlite3");
    let store = SqliteStore::open(&db_path)
        .map_err(|error| format!("cannot open {}: {error}", db_path.display()))?;
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .map_err(|error| format!("cannot listen on {}: {error}", args.addr))?;

    let url = format!("http://{}", listener.local_addr()?);
    // Download links point here, so the file store opens once the address is known.
    let files = LocalFiles::open(&args.data_dir, &url)
        .map_err(|error| format!("cannot open the file store: {error}"))?;
    tracing::info!(
        %url,
        data_dir = %args.data_dir.display(),
        site_dir = %args.site_dir.display(),
        "ticketd listening"
    );
    // stdout too: the logs may be JSON, this line is for the person who started it.
    println!("ticketd listening on {url}");

    let store = Arc::new(store);
    let files = Arc::new(files);
    let payments: Arc<dyn Payments> = Arc::new(UnconfiguredPayments);
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
    let journal = args.data_dir.join(EXECUTIONS_FILE);
    let executor = registration::open_executor(
        &journal,
        registration::bindings(steps, |_, function| function),
        ExecutorOptions::default(),
    )
    .await
    .map_err(|error| format!("cannot start the registration workflow: {error}"))?;
    let admin = Admin::open(&args.data_dir, executor.clone())
        .map_err(|error| format!("cannot open the admin token: {error}"))?;
    tracing::info!(
        token_file = %args.data_dir.join(admin::TOKEN_FILE).display(),
        "admin routes under /api/admin"
    );

    let idp = open_idp(&args.data_dir, &url, args.client_id, args.callback_urls).await?;
    let gateway = Gateway {
        ports: Arc::new(ApiPorts {
            store: store.clone(),
            files: files.clone(),
            payments,
            workflow: Arc::new(LocalWorkflow::new(executor.clone())),
            clock: Arc::new(SystemClock),
            ids: Arc::new(RandomIds),
            verifier: ticket_verifier,
            site_url: url.clone(),
        }),
        verifier: idp.verifier().clone(),
        site_origin: url.parse()?,
    };

    let state = AppState {
        store,
        site_dir: args.site_dir,
        files,
        admin: Some(admin),
        idp: Some(idp),
        gateway: Some(gateway),
    };
    server::serve(listener, state, server::shutdown_signal()).await?;
    // Running executions stay RUNNING in the journal and resume on the next start.
    executor.shutdown();
    tracing::info!("stopped");
    Ok(())
}

/// The identity provider under `<url>/auth`, with the demo accounts on a fresh data directory.
async fn open_idp(
    data_dir: &Path,
    url: &str,
    client_id: String,
    callback_urls: Vec<String>,
) -> Result<Idp, Box<dyn Error + Send + Sync>> {
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
    let demo_file = data_dir.join(idp::DEMO_ACCOUNTS_FILE);
    match idp::ensure_demo_accounts(&idp, data_dir).await {
        // Printed once, for the person who started it; the file keeps them.
        Ok(Some(accounts)) => println!(
            "demo accounts (kept in {}):\n{accounts}",
            demo_file.display()
        ),
        Ok(None) if demo_file.exists() => {
            println!("demo accounts: see {}", demo_file.display());
        }
        Ok(None) => {}
        Err(error) => return Err(format!("cannot create the demo accounts: {error}").into()),
    }
    Ok(idp)
}

fn print_public_key(data_dir: &Path) -> Result<(), Box<dyn Error + Send + Sync>> {
    std::fs::create_dir_all(data_dir)?;
    println!("{}", keys::load_or_create(data_dir)?.public_key());
    Ok(())
}
