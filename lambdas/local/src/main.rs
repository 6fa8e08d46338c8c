//! The `ticketd` command: parses arguments, starts logging and hands over to the library.

use std::error::Error;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use cognito_local as idp;
use cognito_local::users_cli::{self, UsersArgs};
use ticket_core::api::HOLD_MINUTES;
use ticket_core::stripe_webhook;
use ticketd::app::{self, DemoAccounts, ServeOptions, StripeAccount};
use ticketd::executions::{self, ExecutionsArgs};
use ticketd::{keys, logging, reconciler, server};
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
    /// A Stripe secret key (`sk_test_...`): ticketd then talks to real Stripe instead of its
    /// built-in simulator. Needs the webhook secret too.
    #[arg(
        long,
        env = "STRIPE_SECRET_KEY",
        hide_env_values = true,
        requires = "stripe_webhook_secret"
    )]
    stripe_secret_key: Option<String>,
    /// The signing secret of the webhook endpoint that forwards to `/api/stripe/webhook`
    /// (`whsec_...`, as `stripe listen` prints it; several separated by commas while rotating).
    #[arg(
        long,
        env = "STRIPE_WEBHOOK_SECRET",
        hide_env_values = true,
        requires = "stripe_secret_key"
    )]
    stripe_webhook_secret: Option<String>,
    /// Minutes a checkout holds its seat while the buyer pays. Shorter than the default only
    /// with the built-in simulator: Stripe's checkout sessions last at least 30 minutes.
    #[arg(
        long,
        env = "TICKETD_HOLD_MINUTES",
        default_value_t = HOLD_MINUTES,
        value_parser = clap::value_parser!(i64).range(1..=app::MAX_HOLD_MINUTES)
    )]
    hold_minutes: i64,
    /// Seconds between two reconciliation passes, which release holds past their expiry and
    /// settle payments whose webhook never arrived; the first pass runs on start.
    #[arg(
        long,
        env = "TICKETD_RECONCILE_EVERY",
        default_value_t = reconciler::DEFAULT_EVERY.as_secs(),
        value_parser = clap::value_parser!(u64).range(1..=86_400)
    )]
    reconcile_every: u64,
    /// Seconds a shutdown (SIGTERM, Ctrl-C) may take to answer the requests already sent, let
    /// registrations finish and deliver queued webhooks; what is left then resumes on the
    /// next start.
    #[arg(
        long,
        env = "TICKETD_SHUTDOWN_DEADLINE",
        default_value_t = app::DEFAULT_SHUTDOWN_DEADLINE.as_secs(),
        value_parser = clap::value_parser!(u64).range(1..=3_600)
    )]
    shutdown_deadline: u64,
    /// The emulated AWS stack's functions file (written by `scripts/aws-stack`): the API's
    /// routes, the saga's steps, the post-confirmation trigger and the reconciliation pass then
    /// run in those Lambda functions, called through the Lambda Invoke API.
    #[arg(long, env = "TICKETD_LAMBDA_FUNCTIONS")]
    lambda_functions: Option<PathBuf>,
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
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .map_err(|error| format!("cannot listen on {}: {error}", args.addr))?;
    let stripe =
        args.stripe_secret_key
            .zip(args.stripe_webhook_secret)
            .map(|(secret_key, secrets)| StripeAccount {
                secret_key,
                webhook_secrets: stripe_webhook::secrets_from(&secrets),
            });
    let options = ServeOptions {
        client_id: args.client_id,
        callback_urls: args.callback_urls,
        stripe,
        hold_minutes: args.hold_minutes,
        reconcile_every: Duration::from_secs(args.reconcile_every),
        shutdown_deadline: Duration::from_secs(args.shutdown_deadline),
        lambda_functions: args.lambda_functions,
        ..ServeOptions::new(args.data_dir, args.site_dir)
    };
    let app = app::start(options, listener).await?;
    // stdout too: the logs may be JSON, these lines are for the person who started it.
    println!("ticketd listening on {}", app.url);
    match &app.demo_accounts {
        // Printed once; the file keeps them.
        DemoAccounts::Created { file, text } => {
            println!("demo accounts (kept in {}):\n{text}", file.display());
        }
        DemoAccounts::Kept { file } => println!("demo accounts: see {}", file.display()),
        DemoAccounts::None => {}
    }
    app.serve(server::shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

fn print_public_key(data_dir: &Path) -> Result<(), Box<dyn Error + Send + Sync>> {
    std::fs::create_dir_all(data_dir)?;
    println!("{}", keys::load_or_create(data_dir)?.public_key());
    Ok(())
}
