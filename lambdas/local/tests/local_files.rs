//! ticketd's file store over real HTTP: the shared conformance suite, then what the S3 tests
//! cannot check on moto (which ignores presigned signatures and expiry): links expire, any
//! tampering is refused, and nothing outside the files' directory is ever served.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::TimeDelta;
use hmac::{Hmac, KeyInit, Mac};
use reqwest::Url;
use sha2::Sha256;
use tempfile::TempDir;
use ticket_core::files::content_disposition;
use ticket_core::files_conformance::{Fetched, SharedFiles, sample_pdf};
use ticket_core::{
    Clock, DEFAULT_LINK_TTL, EventId, FileKey, FilesError, ManualClock, TicketFiles, TicketId,
};
use ticket_embedded::SqliteStore;
use ticket_embedded::files::{FILES_DIR, LinkError, LocalFiles, SECRET_FILE};
use ticketd::server::{self, AppState, Services};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const SECRET: &[u8] = b"secret marker 5e21: outside the files dir";

/// ticketd serving a fresh data dir (`<tmp>/data`) and its file store. `<tmp>/secret.pdf` and
/// `<tmp>/outside/a.pdf` sit outside the store.
struct Served {
    files: Arc<LocalFiles>,
    addr: SocketAddr,
    dir: TempDir,
}

impl Served {
    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn root(&self) -> PathBuf {
        self.data_dir().join(FILES_DIR)
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

async fn serve(clock: Option<Arc<dyn Clock>>) -> Served {
    let dir = tempfile::tempdir().unwrap();
    let site_dir = dir.path().join("site");
    std::fs::create_dir(&site_dir).unwrap();
    std::fs::write(site_dir.join("index.html"), "<!doctype html>").unwrap();
    std::fs::write(dir.path().join("secret.pdf"), SECRET).unwrap();
    std::fs::create_dir(dir.path().join("outside")).unwrap();
    std::fs::write(dir.path().join("outside/a.pdf"), SECRET).unwrap();

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut files = LocalFiles::open(&dir.path().join("data"), &format!("http://{addr}")).unwrap();
    if let Some(clock) = clock {
        files = files.with_clock(clock);
    }
    let files = Arc::new(files);
    let state = AppState {
        store: Arc::new(SqliteStore::open_in_memory().unwrap()),
        site_dir,
        files: Arc::clone(&files),
    };
    let services = Services::default();
    tokio::spawn(axum::serve(listener, server::router(state, services)).into_future());
    Served { files, addr, dir }
}

/// The store under conformance test, keeping its server's temp dir alive.
struct ServedFiles(Served);

#[async_trait]
impl TicketFiles for ServedFiles {
    async fn put_pdf(&self, key: &FileKey, pdf: Vec<u8>) -> Result<(), FilesError> {
        self.0.files.put_pdf(key, pdf).await
    }
    async fn download_url(
        &self,
        key: &FileKey,
        name: &str,
        expires_in: Duration,
    ) -> Result<String, FilesError> {
        self.0.files.download_url(key, name, expires_in).await
    }
    async fn delete(&self, key: &FileKey) -> Result<(), FilesError> {
        self.0.files.delete(key).await
    }
    async fn exists(&self, key: &FileKey) -> Result<bool, FilesError> {
        self.0.files.exists(key).await
    }
}

async fn fresh_files() -> SharedFiles {
    Arc::new(ServedFiles(serve(None).await))
}

async fn fetch(url: String) -> Fetched {
    let response = reqwest::get(&url).await.expect("GET the link");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|value| value.to_str().expect("ASCII header").to_owned())
    };
    Fetched {
        status: response.status().as_u16(),
        content_type: header("content-type"),
        content_disposition: header("content-disposition"),
        body: response.bytes().await.expect("read the body").to_vec(),
    }
}

ticket_core::files_conformance_tests!(make: fresh_files(), fetch: fetch);

fn key() -> FileKey {
    FileKey::for_ticket(
        EventId::from(uuid::Uuid::now_v7()),
        TicketId::from(uuid::Uuid::now_v7()),
    )
}

/// Sends `target` byte for byte: HTTP clients normalise `..` and `%2e%2e` away before sending.
async fn raw_get(addr: SocketAddr, target: &str) -> (u16, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let status = std::str::from_utf8(&response[..12.min(response.len())])
        .ok()
        .and_then(|line| line.strip_prefix("HTTP/1.1 "))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("{target}: {}", String::from_utf8_lossy(&response)));
    (status, response)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

/// A refusal: `status` with a JSON `{"error": ...}` body.
async fn assert_refused(url: &str, status: u16) -> String {
    let response = reqwest::get(url).await.unwrap();
    assert_eq!(response.status(), status, "{url}");
    let body: serde_json::Value = response.json().await.unwrap();
    body["error"]
        .as_str()
        .unwrap_or_else(|| panic!("{url}: {body}"))
        .to_owned()
}

async fn stored(served: &Served, tag: &str) -> (FileKey, Vec<u8>) {
    let key = key();
    let pdf = sample_pdf(tag, 2_000);
    served.files.put_pdf(&key, pdf.clone()).await.unwrap();
    (key, pdf)
}

#[tokio::test]
async fn files_are_served_as_private_attachments() {
    let served = serve(None).await;
    let (key, pdf) = stored(&served, "headers").await;
    let url = served
        .files
        .download_url(&key, "Zoë's ticket.pdf", DEFAULT_LINK_TTL)
        .await
        .unwrap();
    assert!(
        url.starts_with(&served.url(&format!("/files/{key}?"))),
        "{url}"
    );
    let response = reqwest::get(&url).await.unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "application/pdf");
    assert_eq!(headers["cache-control"], "private, no-store");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(
        headers["content-disposition"].to_str().unwrap(),
        content_disposition("Zoë's ticket.pdf")
    );
    assert!(response.bytes().await.unwrap() == pdf);

    let post = reqwest::Client::new().post(&url).send().await.unwrap();
    assert_eq!(post.status(), 405);
}

#[tokio::test]
async fn links_expire() {
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let served = serve(Some(clock.clone())).await;
    let (key, _) = stored(&served, "expiry").await;

    let default = served
        .files
        .download_url(&key, "t.pdf", DEFAULT_LINK_TTL)
        .await
        .unwrap();
    let expires: i64 = query(&default)["expires"].parse().unwrap();
    assert_eq!(
        expires,
        clock.now().timestamp() + 900,
        "15 minutes by default"
    );

    let url = served
        .files
        .download_url(&key, "t.pdf", Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(reqwest::get(&url).await.unwrap().status(), 200);
    clock.advance(TimeDelta::seconds(59));
    assert_eq!(reqwest::get(&url).await.unwrap().status(), 200);
    clock.advance(TimeDelta::seconds(1));
    let error = assert_refused(&url, 403).await;
    assert_eq!(error, "the download link has expired");
    // A fresh link works again.
    let fresh = served
        .files
        .download_url(&key, "t.pdf", Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(reqwest::get(&fresh).await.unwrap().status(), 200);

    let instant = served
        .files
        .download_url(&key, "t.pdf", Duration::ZERO)
        .await
        .unwrap();
    assert_refused(&instant, 403).await;
}

fn query(url: &str) -> std::collections::HashMap<String, String> {
    Url::parse(url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

/// `url` with its query replaced by `pairs`.
fn with_query(url: &str, pairs: &[(&str, &str)]) -> String {
    let mut url = Url::parse(url).unwrap();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    url.to_string()
}

#[tokio::test]
async fn tampered_links_are_refused() {
    let served = serve(None).await;
    let (key, _) = stored(&served, "tamper").await;
    let (other_key, _) = stored(&served, "other").await;
    let url = served
        .files
        .download_url(&key, "mine.pdf", DEFAULT_LINK_TTL)
        .await
        .unwrap();
    let other_url = served
        .files
        .download_url(&other_key, "mine.pdf", DEFAULT_LINK_TTL)
        .await
        .unwrap();
    assert_eq!(reqwest::get(&url).await.unwrap().status(), 200);

    let params = query(&url);
    let (expires, name, sig) = (&params["expires"], &params["name"], &params["sig"]);
    let later = (expires.parse::<i64>().unwrap() + 1).to_string();
    let earlier = (expires.parse::<i64>().unwrap() - 1).to_string();
    let padded = format!("0{expires}");
    let mut flipped = sig.clone().into_bytes();
    flipped[10] = if flipped[10] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap();
    let truncated = &sig[..sig.len() - 2];
    let other_sig = &query(&other_url)["sig"];

    let mut tampered = vec![
        // Another existing file under the same signature.
        url.replace(key.as_str(), other_key.as_str()),
        with_query(&url, &[("expires", &later), ("name", name), ("sig", sig)]),
        with_query(&url, &[("expires", &earlier), ("name", name), ("sig", sig)]),
        with_query(&url, &[("expires", &padded), ("name", name), ("sig", sig)]),
        with_query(&url, &[("expires", "+1"), ("name", name), ("sig", sig)]),
        with_query(
            &url,
            &[("expires", expires), ("name", "yours.pdf"), ("sig", sig)],
        ),
        with_query(
            &url,
            &[("expires", expires), ("name", "mine.pdf "), ("sig", sig)],
        ),
        with_query(
            &url,
            &[("expires", expires), ("name", name), ("sig", &flipped)],
        ),
        with_query(
            &url,
            &[("expires", expires), ("name", name), ("sig", truncated)],
        ),
        with_query(
            &url,
            &[("expires", expires), ("name", name), ("sig", other_sig)],
        ),
        with_query(&url, &[("expires", expires), ("name", name), ("sig", "")]),
        with_query(&url, &[("expires", expires), ("name", name), ("sig", "!!")]),
        with_query(&url, &[("name", name), ("sig", sig)]),
        with_query(&url, &[("expires", expires), ("sig", sig)]),
        with_query(&url, &[("expires", expires), ("name", name)]),
        with_query(&url, &[]),
        format!("{url}&sig={sig}"),
        format!("{url}&name=other.pdf"),
        format!("{url}&x=1"),
    ];
    // Signed with another store's secret.
    let stranger = LocalFiles::open(
        &served.dir.path().join("stranger"),
        &format!("http://{}", served.addr),
    )
    .unwrap();
    tampered.push(stranger.link(&key, "mine.pdf", DEFAULT_LINK_TTL).unwrap());

    for url in tampered {
        let error = assert_refused(&url, 403).await;
        assert_eq!(error, "the download link is not valid", "{url}");
    }
}

#[tokio::test]
async fn paths_outside_the_store_are_not_found() {
    let served = serve(None).await;
    let (key, _) = stored(&served, "traversal").await;
    let url = served
        .files
        .download_url(&key, "t.pdf", DEFAULT_LINK_TTL)
        .await
        .unwrap();
    let valid_query = Url::parse(&url).unwrap().query().unwrap().to_owned();
    // The raw client works: the real link answers 200.
    let (status, _) = raw_get(served.addr, &format!("/files/{key}?{valid_query}")).await;
    assert_eq!(status, 200);

    // A correctly signed link for a key the store would never make.
    let secret = std::fs::read(served.data_dir().join(SECRET_FILE)).unwrap();
    let signed = |key: &str| {
        let expires = (chrono::Utc::now().timestamp() + 600).to_string();
        let mut mac = Hmac::<Sha256>::new_from_slice(&secret).unwrap();
        for part in ["ticketd-file-link-v1", key, &expires, "t.pdf"] {
            mac.update(part.as_bytes());
            mac.update(b"\n");
        }
        let sig = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("expires={expires}&name=t.pdf&sig={sig}")
    };

    let long = format!("/files/{}x.pdf", "a/".repeat(130));
    for path in [
        "/files/../secret.pdf",
        "/files/../../secret.pdf",
        "/files/%2e%2e/secret.pdf",
        "/files/%2E%2E/secret.pdf",
        "/files/%2e%2e%2fsecret.pdf",
        "/files/..%2fsecret.pdf",
        "/files/tickets/..%2f..%2f..%2fsecret.pdf",
        "/files/..\\secret.pdf",
        "/files/..%5csecret.pdf",
        "/files/..%5c..%5csecret.pdf",
        "/files//etc/passwd",
        "/files/%2fetc%2fpasswd",
        "/files/%2e%2e/files-link.key",
        "/files/../files-link.key",
        "/files/./x.pdf",
        "/files/tickets/%00.pdf",
        "/files/%ff.pdf",
        "/files/C:%5csecret.pdf",
        long.as_str(),
    ] {
        for query in [String::new(), valid_query.clone(), signed("../secret.pdf")] {
            let target = format!("{path}?{query}");
            let (status, response) = raw_get(served.addr, &target).await;
            assert_eq!(status, 404, "{target}");
            assert!(!contains(&response, SECRET), "{target} leaked");
            assert!(!contains(&response, &secret), "{target} leaked the key");
        }
    }
    // A signed, valid key that names no file.
    let (status, _) = raw_get(
        served.addr,
        &format!(
            "/files/tickets/missing.pdf?{}",
            signed("tickets/missing.pdf")
        ),
    )
    .await;
    assert_eq!(status, 404);
    // Directories are not files.
    let (status, _) = raw_get(
        served.addr,
        &format!("/files/tickets?{}", signed("tickets")),
    )
    .await;
    assert_eq!(status, 404);
}

#[cfg(unix)]
#[tokio::test]
async fn symlinks_never_lead_outside_the_store() {
    use std::os::unix::fs::symlink;

    let served = serve(None).await;
    let root = served.root();
    let outside = served.dir.path().join("outside");
    std::fs::create_dir_all(root.join("tickets/evil")).unwrap();
    symlink(
        served.dir.path().join("secret.pdf"),
        root.join("tickets/evil/link.pdf"),
    )
    .unwrap();
    symlink(&outside, root.join("tickets/evildir")).unwrap();
    // A link inside the store to a file inside it is fine.
    let (inner, inner_pdf) = stored(&served, "inner").await;
    symlink(
        root.join(inner.as_str()),
        root.join("tickets/evil/inner.pdf"),
    )
    .unwrap();

    let file_link = FileKey::parse("tickets/evil/link.pdf").unwrap();
    let dir_link = FileKey::parse("tickets/evildir/a.pdf").unwrap();
    for key in [&file_link, &dir_link] {
        assert!(!served.files.exists(key).await.unwrap(), "{key}");
        let url = served
            .files
            .download_url(key, "t.pdf", DEFAULT_LINK_TTL)
            .await
            .unwrap();
        let (status, response) =
            raw_get(served.addr, url.strip_prefix(&served.url("")).unwrap()).await;
        assert_eq!(status, 404, "{key}");
        assert!(!contains(&response, SECRET), "{key} leaked");
    }
    let inner_link = FileKey::parse("tickets/evil/inner.pdf").unwrap();
    let url = served
        .files
        .download_url(&inner_link, "t.pdf", DEFAULT_LINK_TTL)
        .await
        .unwrap();
    assert!(fetch(url).await.body == inner_pdf);

    // Writes and deletes through a symlinked directory are refused, and touch nothing outside.
    let error = served
        .files
        .put_pdf(
            &FileKey::parse("tickets/evildir/b.pdf").unwrap(),
            sample_pdf("x", 100),
        )
        .await
        .unwrap_err();
    assert!(matches!(error, FilesError::Internal(_)), "{error:?}");
    assert!(!outside.join("b.pdf").exists());
    assert!(served.files.delete(&dir_link).await.is_err());
    assert_eq!(std::fs::read(outside.join("a.pdf")).unwrap(), SECRET);

    // Writing over a symlinked file replaces the link, not its target.
    let pdf = sample_pdf("replaced", 500);
    served.files.put_pdf(&file_link, pdf.clone()).await.unwrap();
    assert_eq!(
        std::fs::read(served.dir.path().join("secret.pdf")).unwrap(),
        SECRET
    );
    assert!(served.files.exists(&file_link).await.unwrap());
    let url = served
        .files
        .download_url(&file_link, "t.pdf", DEFAULT_LINK_TTL)
        .await
        .unwrap();
    assert!(fetch(url).await.body == pdf);
}

#[tokio::test]
async fn writes_leave_no_temporary_files() {
    let served = serve(None).await;
    let key = key();
    for n in 0..5 {
        served
            .files
            .put_pdf(&key, sample_pdf(&format!("v{n}"), 1_000))
            .await
            .unwrap();
    }
    let path = served.root().join(key.as_str());
    let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert_eq!(names, [path.file_name().unwrap()]);
}

#[cfg(unix)]
#[tokio::test]
async fn the_link_secret_is_private_and_survives_restarts() {
    use std::os::unix::fs::PermissionsExt;

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let first = LocalFiles::open(&data, "http://127.0.0.1:1").unwrap();
    let secret_path = data.join(SECRET_FILE);
    let metadata = std::fs::metadata(&secret_path).unwrap();
    assert_eq!(metadata.permissions().mode() & 0o777, 0o600);
    assert_eq!(metadata.len(), 32);
    assert_eq!(first.root(), data.join(FILES_DIR).canonicalize().unwrap());

    let key = key();
    let url = first.link(&key, "t.pdf", DEFAULT_LINK_TTL).unwrap();
    let query = Url::parse(&url).unwrap().query().unwrap().to_owned();

    // The same data dir: same secret, so links made before a restart still work.
    let again = LocalFiles::open(&data, "http://127.0.0.1:1").unwrap();
    assert!(again.verify_link(&key, &query).is_ok());
    // Another data dir: another secret.
    let other = LocalFiles::open(&dir.path().join("other"), "http://127.0.0.1:1").unwrap();
    assert_eq!(
        other.verify_link(&key, &query),
        Err(LinkError::BadSignature)
    );
    assert_ne!(
        std::fs::read(&secret_path).unwrap(),
        std::fs::read(dir.path().join("other").join(SECRET_FILE)).unwrap()
    );

    // A secret others can read is refused, not used.
    std::fs::set_permissions(&secret_path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let error = LocalFiles::open(&data, "http://127.0.0.1:1").unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::PermissionDenied);
}
