//! The HTTP side of `ticketd`: health check, ticket files, the operator's routes, the API, the
//! identity provider, the site and its run-time configuration.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderValue, StatusCode, Version, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::serve::Listener;
use axum::{Json, Router};
use serde_json::json;
use ticket_core::files::{PDF_CONTENT_TYPE, content_disposition};
use ticket_core::{FileKey, PageRequest, Store};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tower_http::LatencyUnit;
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::admin::{self, Admin};
use crate::aws_api::{self, AwsApis};
use crate::gateway::{self, Gateway};
use cognito_local::{self as idp, Idp};
use local_support::error_response;
use stripe_sim::StripeSimulator;
use ticket_embedded::files::LocalFiles;

/// What the server's own routes need: health check, ticket files, the site.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    /// The site's static files; `/` serves its `index.html`.
    pub site_dir: PathBuf,
    /// Ticket files, downloaded through the signed links it makes (`/files/...`).
    pub files: Arc<LocalFiles>,
}

/// The services mounted beside the server's own routes, each a router with its own state. One
/// left out is not mounted: its paths answer 404.
#[derive(Clone, Default)]
pub struct Services {
    /// The operator's routes under `/api/admin`.
    pub admin: Option<Admin>,
    /// The identity provider under `/auth`.
    pub idp: Option<Idp>,
    /// The API under `/api`.
    pub gateway: Option<Gateway>,
    /// The Stripe simulator under `/stripe` (absent: real Stripe, or no payments).
    pub stripe_sim: Option<StripeSimulator>,
    /// The emulated AWS stack's Step Functions and Cognito APIs under `/aws`.
    pub aws_apis: Option<AwsApis>,
}

/// `/health`, ticket files, the services, and the site for every other path.
pub fn router(state: AppState, services: Services) -> Router {
    // ServeDir refuses `..` components (also percent-encoded ones), so nothing outside
    // the site dir is reachable; it answers 404 for missing files and 405 for non-GET.
    let site = Router::new()
        .fallback_service(ServeDir::new(&state.site_dir))
        // The page's own CSP is a meta tag (the same file works behind CloudFront, which adds
        // its headers); framing can only be refused by a header.
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("frame-ancestors 'none'"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("strict-origin-when-cross-origin"),
        ));
    let mut app = Router::new()
        .route("/health", get(health))
        .route("/files/{*key}", get(download_file))
        .with_state(state)
        // Unknown API paths answer JSON like the rest of the API, not the site's 404.
        .route("/api", any(api_not_found));
    if let (Some(idp), Some(gateway)) = (&services.idp, &services.gateway) {
        let config = site_config(idp, gateway);
        app = app.route(
            "/config.json",
            get(move || async move { ([(header::CACHE_CONTROL, "no-store")], config) }),
        );
    }
    app = match services.gateway {
        Some(gateway) => app.merge(gateway::routes(gateway)),
        None => app.route("/api/{*path}", any(api_not_found)),
    };
    if let Some(admin) = services.admin {
        app = app.merge(admin::routes(admin));
    }
    if let Some(idp) = services.idp {
        app = app.merge(idp::routes(idp));
    }
    if let Some(stripe_sim) = &services.stripe_sim {
        app = app.merge(stripe_sim.router());
    }
    if let Some(apis) = services.aws_apis {
        app = app.merge(aws_api::routes(apis));
    }
    // One span and one "finished processing request" line per request, at info, so a default
    // run shows its traffic.
    app.fallback_service(site).layer(
        TraceLayer::new_for_http()
            .make_span_with(DefaultMakeSpan::new().level(Level::INFO))
            .on_response(
                DefaultOnResponse::new()
                    .level(Level::INFO)
                    .latency_unit(LatencyUnit::Micros),
            ),
    )
}

/// How long after the stop a connection may still hand over a request it had already sent.
/// hyper closes a connection at once when told to shut down while it has not read a request
/// yet, which drops a request that is still in the socket buffer, or a connection the kernel
/// accepted a moment before the stop; after this grace every such request is being served and
/// is let finish.
pub const REQUEST_GRACE: Duration = Duration::from_millis(500);

/// Serves `router` on `listener` until `stop` turns true; then accepts nothing new (the
/// connections the kernel had already queued are taken and served, the socket is closed, so
/// later connects are refused), answers what the open connections send within
/// [`REQUEST_GRACE`] with `Connection: close`, and returns once every request has been
/// answered. Bound the wait by dropping the future: the connections' tasks are not its own.
pub async fn serve_draining(
    listener: TcpListener,
    router: Router,
    stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let closing = stop.clone();
    let router = router.layer(middleware::from_fn(move |request: Request, next: Next| {
        let closing = *closing.borrow();
        async move {
            let http1 = request.version() <= Version::HTTP_11;
            let mut response = next.run(request).await;
            // Tells a keep-alive client not to send its next request on this connection.
            if closing && http1 {
                response
                    .headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            response
        }
    }));
    let mut stopped = stop.clone();
    let listener = DrainingListener {
        listener: Some(listener),
        queued: VecDeque::new(),
        stop,
    };
    axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            let _ = stopped.wait_for(|stop| *stop).await;
            tokio::time::sleep(REQUEST_GRACE).await;
        })
        .await
}

/// A listener that, once `stop` turns true, hands out the connections the kernel had queued
/// and closes its socket.
struct DrainingListener {
    listener: Option<TcpListener>,
    queued: VecDeque<(TcpStream, SocketAddr)>,
    stop: watch::Receiver<bool>,
}

impl DrainingListener {
    /// Takes every connection already waiting in the backlog, then closes the socket. Through
    /// the standard library's non-blocking accept, which asks the kernel rather than the
    /// reactor's possibly stale readiness.
    fn drain(&mut self) {
        let Some(listener) = self.listener.take() else {
            return;
        };
        let listener = match listener.into_std() {
            Ok(listener) => listener,
            Err(error) => {
                tracing::error!(%error, "cannot take the queued connections");
                return;
            }
        };
        loop {
            match listener.accept() {
                Ok((stream, addr)) => {
                    let stream = stream
                        .set_nonblocking(true)
                        .and_then(|()| TcpStream::from_std(stream));
                    match stream {
                        Ok(stream) => self.queued.push_back((stream, addr)),
                        Err(error) => tracing::warn!(%error, "cannot serve a queued connection"),
                    }
                }
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
                Err(error) => {
                    tracing::warn!(%error, "accepting the queued connections stopped");
                    break;
                }
            }
        }
        tracing::info!(
            queued = self.queued.len(),
            "no longer accepting connections"
        );
    }
}

impl Listener for DrainingListener {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (TcpStream, SocketAddr) {
        loop {
            if let Some(connection) = self.queued.pop_front() {
                return connection;
            }
            let Some(listener) = self.listener.as_mut() else {
                // Closed: axum stops asking once the grace is over.
                return std::future::pending().await;
            };
            let accepted = tokio::select! {
                biased;
                _ = self.stop.wait_for(|stop| *stop) => None,
                connection = Listener::accept(listener) => Some(connection),
            };
            match accepted {
                Some(connection) => return connection,
                None => self.drain(),
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        match &self.listener {
            Some(listener) => listener.local_addr(),
            None => Err(std::io::Error::other("the listener is closed")),
        }
    }
}

/// Resolves on Ctrl-C or, on Unix, SIGTERM (what `kill`, systemd and container runtimes send).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut sigterm) => {
                sigterm.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("shutting down");
}

/// 200 when the store answers a cheap query, 503 when it does not. The cause is logged, never
/// sent: clients learn nothing about the internals.
async fn health(State(state): State<AppState>) -> Response {
    let now = chrono::Utc::now();
    match state
        .store
        .list_upcoming_events(now, &PageRequest::first(1))
        .await
    {
        Ok(_) => Json(json!({ "status": "ok" })).into_response(),
        Err(error) => {
            tracing::error!(%error, "health check: store unavailable");
            error_response(StatusCode::SERVICE_UNAVAILABLE, "store unavailable")
        }
    }
}

/// A ticket file, through a link made by [`LocalFiles`]: 404 for a key that is not a valid file
/// key (whatever the link, so `..`, encoded or not, backslashes and absolute paths never reach
/// the disk), 403 for a link that is tampered with or expired, 404 for a missing file.
async fn download_file(
    State(state): State<AppState>,
    key: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Response {
    let Some(key) = key.ok().and_then(|Path(key)| FileKey::parse(&key).ok()) else {
        return error_response(StatusCode::NOT_FOUND, "not found");
    };
    let link = match state
        .files
        .verify_link(&key, query.as_deref().unwrap_or_default())
    {
        Ok(link) => link,
        Err(error) => return error_response(StatusCode::FORBIDDEN, error.message()),
    };
    match state.files.read(&key).await {
        Ok(Some(pdf)) => (
            [
                (header::CONTENT_TYPE, PDF_CONTENT_TYPE.to_owned()),
                (header::CONTENT_DISPOSITION, content_disposition(&link.name)),
                (header::CACHE_CONTROL, "private, no-store".to_owned()),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
            ],
            pdf,
        )
            .into_response(),
        Ok(None) => error_response(StatusCode::NOT_FOUND, "not found"),
        Err(error) => {
            tracing::error!(%error, %key, "cannot read a ticket file");
            error_response(StatusCode::INTERNAL_SERVER_ERROR, "cannot read the file")
        }
    }
}

/// The site's run-time configuration: the keys the CDK app writes to `config.json` on AWS, here
/// naming ticketd's own API and identity provider (whose base is the hosted UI's).
fn site_config(idp: &Idp, gateway: &Gateway) -> Json<serde_json::Value> {
    Json(json!({
        "apiUrl": format!("{}/api", gateway.site_origin.to_str().unwrap_or_default()),
        "cognitoDomain": idp.issuer(),
        "clientId": idp.config().client.id,
        "region": "local",
    }))
}

async fn api_not_found() -> Response {
    error_response(StatusCode::NOT_FOUND, "not found")
}
