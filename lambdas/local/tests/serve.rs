//! The server over real HTTP: health, the site, API 404s and path traversal; and the CLI help.

use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tempfile::TempDir;
use ticket_core::{
    EventId, EventView, Hold, HoldId, NewHold, NewTickets, Order, OrderId, OrderStatus, Page,
    PageRequest, PromoCode, PromoCodeView, Recorded, Redemption, ReleaseOutcome, ReleaseScope,
    Store, StoreError, Ticket, TicketId, UserId,
};
use ticket_embedded::SqliteStore;
use ticket_embedded::files::LocalFiles;
use ticketd::server::{self, AppState, Services};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const INDEX: &str = "<!doctype html><title>Test site</title><p>index marker 7f3a</p>";
const SECRET: &str = "secret marker 91cd: outside the site dir";

/// A running server and the temp dir it serves from (removed on drop).
struct TestServer {
    addr: SocketAddr,
    _dir: TempDir,
}

impl TestServer {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

/// `<tmp>/site` is the site; `<tmp>/Cargo.toml` and `<tmp>/secret.txt` sit just outside it.
async fn start() -> TestServer {
    start_with(Arc::new(SqliteStore::open_in_memory().unwrap())).await
}

async fn start_with(store: Arc<dyn Store>) -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let site_dir = dir.path().join("site");
    std::fs::create_dir(&site_dir).unwrap();
    std::fs::write(site_dir.join("index.html"), INDEX).unwrap();
    std::fs::write(site_dir.join("site.css"), "body { margin: 0 }").unwrap();
    std::fs::write(dir.path().join("Cargo.toml"), SECRET).unwrap();
    std::fs::write(dir.path().join("secret.txt"), SECRET).unwrap();

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let files = LocalFiles::open(&dir.path().join("data"), &format!("http://{addr}")).unwrap();
    let state = AppState {
        store,
        site_dir,
        files: Arc::new(files),
    };
    let services = Services::default();
    tokio::spawn(axum::serve(listener, server::router(state, services)).into_future());
    TestServer { addr, _dir: dir }
}

/// Sends `target` byte for byte. HTTP clients normalise `..` and `%2e%2e` away before
/// sending, which would hide exactly what these tests are about.
async fn raw_get(addr: SocketAddr, target: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
}

#[tokio::test]
async fn health_is_ok_when_the_store_answers() {
    let server = start().await;
    let response = reqwest::get(server.url("/health")).await.unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body, serde_json::json!({ "status": "ok" }));
}

#[tokio::test]
async fn health_is_503_without_details_when_the_store_fails() {
    let server = start_with(Arc::new(BrokenStore)).await;
    let response = reqwest::get(server.url("/health")).await.unwrap();
    assert_eq!(response.status(), 503);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body, serde_json::json!({ "error": "store unavailable" }));
}

#[tokio::test]
async fn the_root_serves_the_sites_index() {
    let server = start().await;
    let response = reqwest::get(server.url("/")).await.unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    // No framing (clickjacking), no sniffing, no full URLs (order ids) in referrers.
    let headers = response.headers();
    assert_eq!(headers["content-security-policy"], "frame-ancestors 'none'");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(
        headers["referrer-policy"],
        "strict-origin-when-cross-origin"
    );
    assert_eq!(response.text().await.unwrap(), INDEX);
}

#[tokio::test]
async fn stylesheets_are_served_as_css() {
    let server = start().await;
    let response = reqwest::get(server.url("/site.css")).await.unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap();
    assert!(content_type.starts_with("text/css"), "{content_type}");
}

#[tokio::test]
async fn unknown_api_paths_are_json_404s() {
    let server = start().await;
    for path in ["/api/nope", "/api", "/api/events/123/nope"] {
        let response = reqwest::get(server.url(path)).await.unwrap();
        assert_eq!(response.status(), 404, "{path}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body, serde_json::json!({ "error": "not found" }), "{path}");
    }
}

#[tokio::test]
async fn missing_site_files_are_404() {
    let server = start().await;
    let response = reqwest::get(server.url("/nope.html")).await.unwrap();
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn nothing_outside_the_site_dir_is_served() {
    let server = start().await;
    // The raw client itself works: a file inside the site dir comes back.
    assert!(
        raw_get(server.addr, "/site.css")
            .await
            .starts_with("HTTP/1.1 200 ")
    );
    for target in [
        "/../Cargo.toml",
        "/%2e%2e/Cargo.toml",
        "/%2E%2E/secret.txt",
        "/..%2fsecret.txt",
        "/%2e%2e%2fsecret.txt",
        "/site/../../secret.txt",
        "/..\\secret.txt",
        "/....//secret.txt",
    ] {
        let response = raw_get(server.addr, target).await;
        let status_line = response.lines().next().unwrap_or_default();
        assert!(!response.contains(SECRET), "{target} leaked: {response}");
        assert!(
            !status_line.contains(" 200 "),
            "{target} answered {status_line}"
        );
    }
}

#[test]
fn help_lists_each_subcommand_with_its_description() {
    let help = run_ticketd(&["--help"]);
    assert!(help.contains("Ticketd"), "{help}");
    for (name, description) in [
        ("serve", "Serve the site and the API"),
        ("executions", "List the registration executions"),
        ("public-key", "Print the public key that verifies"),
    ] {
        let line = help
            .lines()
            .find(|line| line.trim_start().starts_with(name))
            .unwrap_or_else(|| panic!("no {name} in:\n{help}"));
        assert!(line.contains(description), "{line}");
    }

    let serve_help = run_ticketd(&["serve", "--help"]);
    for flag in [
        "--addr",
        "--data-dir",
        "--site-dir",
        "127.0.0.1:8080",
        "TICKETD_ADDR",
    ] {
        assert!(serve_help.contains(flag), "no {flag} in:\n{serve_help}");
    }
}

#[test]
fn public_key_is_stable_per_data_dir_and_verifies_its_codes() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_str().unwrap();
    let printed = run_ticketd(&["public-key", "--data-dir", data_dir]);
    assert_eq!(
        run_ticketd(&["public-key", "--data-dir", data_dir]),
        printed
    );
    let public: ticket_core::TicketPublicKey = printed.trim().parse().expect("a public key");
    let signer = ticketd::keys::load_or_create(dir.path()).unwrap();
    let (ticket, event) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
    let code = signer.sign(TicketId::from(ticket), EventId::from(event));
    let verified = ticket_core::TicketVerifier::new()
        .with_public_key(public)
        .verify(&code)
        .expect("the printed key verifies the data dir's codes");
    assert_eq!(*verified.ticket_id.as_uuid(), ticket);
}

fn run_ticketd(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_ticketd"))
        .args(args)
        .env_remove("TICKETD_ADDR")
        .output()
        .unwrap();
    assert!(output.status.success(), "ticketd {args:?}: {output:?}");
    String::from_utf8(output.stdout).unwrap()
}

/// A store whose backend is gone: every call fails with a detail no client should see.
struct BrokenStore;

fn broken<T>() -> Result<T, StoreError> {
    Err(StoreError::Unavailable(
        "disk I/O error in /var/secret/db".into(),
    ))
}

#[async_trait]
impl Store for BrokenStore {
    async fn create_event(&self, _: &ticket_core::Event) -> Result<(), StoreError> {
        broken()
    }
    async fn get_event(&self, _: EventId) -> Result<Option<EventView>, StoreError> {
        broken()
    }
    async fn update_event(&self, _: &ticket_core::EventUpdate) -> Result<EventView, StoreError> {
        broken()
    }
    async fn set_visibility(
        &self,
        _: EventId,
        _: ticket_core::Visibility,
    ) -> Result<EventView, StoreError> {
        broken()
    }
    async fn cancel_event(&self, _: EventId, _: DateTime<Utc>) -> Result<EventView, StoreError> {
        broken()
    }
    async fn sold_orders_of_event(
        &self,
        _: EventId,
        _: Option<&str>,
        _: usize,
    ) -> Result<Page<OrderId>, StoreError> {
        broken()
    }
    async fn record_cancellation_failure(
        &self,
        _: &ticket_core::cancellation::CancellationFailure,
    ) -> Result<(), StoreError> {
        broken()
    }
    async fn cancellation_failures(
        &self,
        _: EventId,
    ) -> Result<Vec<ticket_core::cancellation::CancellationFailure>, StoreError> {
        broken()
    }
    async fn cancellations_due(
        &self,
        _: DateTime<Utc>,
        _: usize,
    ) -> Result<Vec<EventId>, StoreError> {
        broken()
    }
    async fn finish_cancellation(&self, _: EventId, _: DateTime<Utc>) -> Result<(), StoreError> {
        broken()
    }
    async fn get_organizer_profile(
        &self,
        _: &UserId,
    ) -> Result<Option<ticket_core::OrganizerProfile>, StoreError> {
        broken()
    }
    async fn put_organizer_profile(
        &self,
        _: &ticket_core::OrganizerProfile,
    ) -> Result<(), StoreError> {
        broken()
    }
    async fn list_organizer_events(
        &self,
        _: &UserId,
        _: &PageRequest,
    ) -> Result<Page<EventView>, StoreError> {
        broken()
    }
    async fn list_upcoming_events(
        &self,
        _: DateTime<Utc>,
        _: &PageRequest,
    ) -> Result<Page<EventView>, StoreError> {
        broken()
    }
    async fn hold_seat(
        &self,
        _: EventId,
        _: &NewHold,
        _: DateTime<Utc>,
    ) -> Result<Hold, StoreError> {
        broken()
    }
    async fn get_hold(&self, _: EventId, _: HoldId) -> Result<Option<Hold>, StoreError> {
        broken()
    }
    async fn confirm_hold(&self, _: EventId, _: HoldId) -> Result<Hold, StoreError> {
        broken()
    }
    async fn release_hold(
        &self,
        _: EventId,
        _: HoldId,
        _: ReleaseScope,
        _: DateTime<Utc>,
    ) -> Result<ReleaseOutcome, StoreError> {
        broken()
    }
    async fn take_seat_late(&self, _: EventId, _: HoldId) -> Result<Hold, StoreError> {
        broken()
    }
    async fn record_tickets(&self, _: &NewTickets) -> Result<Recorded, StoreError> {
        broken()
    }
    async fn create_order(&self, _: &Order) -> Result<Order, StoreError> {
        broken()
    }
    async fn get_order(&self, _: &OrderId) -> Result<Option<Order>, StoreError> {
        broken()
    }
    async fn transition_order(
        &self,
        _: &OrderId,
        _: OrderStatus,
        _: Option<&str>,
        _: DateTime<Utc>,
    ) -> Result<Order, StoreError> {
        broken()
    }
    async fn get_ticket(&self, _: TicketId) -> Result<Option<Ticket>, StoreError> {
        broken()
    }
    async fn void_ticket(&self, _: TicketId) -> Result<Ticket, StoreError> {
        broken()
    }
    async fn redeem_ticket(
        &self,
        _: TicketId,
        _: &UserId,
        _: DateTime<Utc>,
    ) -> Result<Redemption, StoreError> {
        broken()
    }
    async fn tickets_of_user(
        &self,
        _: &UserId,
        _: &PageRequest,
    ) -> Result<Page<Ticket>, StoreError> {
        broken()
    }
    async fn attendees_of_event(
        &self,
        _: EventId,
        _: &PageRequest,
    ) -> Result<Page<Ticket>, StoreError> {
        broken()
    }
    async fn expired_holds(&self, _: DateTime<Utc>, _: usize) -> Result<Vec<Hold>, StoreError> {
        broken()
    }
    async fn orders_due(&self, _: DateTime<Utc>, _: usize) -> Result<Vec<Order>, StoreError> {
        broken()
    }
    async fn defer_order_check(&self, _: &OrderId, _: DateTime<Utc>) -> Result<(), StoreError> {
        broken()
    }

    async fn rename_ticket(&self, _: TicketId, _: &str) -> Result<Ticket, StoreError> {
        broken()
    }

    async fn create_promo_code(&self, _: &PromoCode) -> Result<(), StoreError> {
        broken()
    }

    async fn update_promo_code(&self, _: &PromoCode) -> Result<PromoCodeView, StoreError> {
        broken()
    }

    async fn get_promo_code(
        &self,
        _: EventId,
        _: &str,
    ) -> Result<Option<PromoCodeView>, StoreError> {
        broken()
    }

    async fn promo_codes_of_event(&self, _: EventId) -> Result<Vec<PromoCodeView>, StoreError> {
        broken()
    }
}
