//! The conformance suite every `TicketFiles` adapter must pass: the same checks run against S3
//! (on moto) and ticketd's directory. Links are fetched over real HTTP; each adapter's test file
//! says how, with an async `fetch(url)` that returns what came back as a [`Fetched`].
//!
//! ```ignore
//! async fn fetch(url: String) -> Fetched { /* reqwest::get(url) … */ }
//! ticket_core::files_conformance_tests!(make: fresh_files(), fetch: fetch);
//! ```

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;

use crate::files::{
    DEFAULT_LINK_TTL, FileKey, FilesError, MAX_LINK_TTL, TicketFiles, content_disposition,
};
use crate::ids::{EventId, Ids, RandomIds, TicketId};

pub type SharedFiles = Arc<dyn TicketFiles>;

/// What fetching a link returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub status: u16,
    pub content_type: Option<String>,
    pub content_disposition: Option<String>,
    pub body: Vec<u8>,
}

/// Expands to one `#[tokio::test]` per conformance check. `make` is an async expression that
/// yields a fresh `Arc<dyn TicketFiles>` (with its own empty bucket or directory, and whatever
/// serves its links) for each test; `fetch` is an async `Fn(String) -> Fetched` that GETs a
/// link over HTTP.
#[macro_export]
macro_rules! files_conformance_tests {
    (make: $make:expr, fetch: $fetch:expr $(,)?) => {
        $crate::files_conformance_tests!(@each $make; $fetch;
            put_then_exists,
            download_link_serves_the_exact_pdf,
            download_links_name_the_file,
            putting_again_overwrites,
            deleting_is_idempotent,
            link_to_a_missing_file_is_not_ok,
            files_are_kept_apart,
            links_cannot_outlive_the_maximum,
            race_concurrent_puts_leave_one_whole_file
        );
    };
    (@each $make:expr; $fetch:expr; $($name:ident),+) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let files: $crate::files_conformance::SharedFiles = $make.await;
                $crate::files_conformance::$name(files, $fetch).await;
            }
        )+
    };
}

fn new_key() -> FileKey {
    FileKey::for_ticket(
        EventId::from(RandomIds.new_id()),
        TicketId::from(RandomIds.new_id()),
    )
}

/// A PDF-looking payload of `size` bytes that contains every byte value, tagged so two
/// payloads differ from their first line on.
pub fn sample_pdf(tag: &str, size: usize) -> Vec<u8> {
    let mut pdf = format!("%PDF-1.7\n% {tag}\n").into_bytes();
    let mut byte: u8 = 0;
    while pdf.len() + 6 < size {
        pdf.push(byte);
        byte = byte.wrapping_add(1);
    }
    pdf.extend_from_slice(b"%%EOF\n");
    pdf
}

async fn link(files: &SharedFiles, key: &FileKey, name: &str) -> String {
    files
        .download_url(key, name, DEFAULT_LINK_TTL)
        .await
        .expect("make a download link")
}

async fn fetch_ok<F, Fut>(fetch: &F, url: String) -> Fetched
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Fetched>,
{
    let fetched = fetch(url.clone()).await;
    assert_eq!(
        fetched.status,
        200,
        "GET {url}: {}",
        String::from_utf8_lossy(&fetched.body)
    );
    fetched
}

pub async fn put_then_exists<F, Fut>(files: SharedFiles, _fetch: F)
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Fetched>,
{
    let key = new_key();
    assert!(!files.exists(&key).await.unwrap());
    files.put_pdf(&key, sample_pdf("one", 2_000)).await.unwrap();
    assert!(files.exists(&key).await.unwrap());
    assert!(!files.exists(&new_key()).await.unwrap());
}

pub async fn download_link_serves_the_exact_pdf<F, Fut>(files: SharedFiles, fetch: F)
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Fetched>,
{
    let key = new_key();
    let pdf = sample_pdf("exact", 70_000);
    files.put_pdf(&key, pdf.clone()).await.unwrap();
    let fetched = fetch_ok(&fetch, link(&files, &key, "ticket.pdf").await).await;
    assert!(fetched.body == pdf, "the body differs from what was put");
    let content_type = fetched.content_type.expect("a Content-Type");
    assert!(
        content_type.starts_with("application/pdf"),
        "{content_type}"
    );
    // A link can be fetched more than once while it is valid.
    let again = fetch_ok(&fetch, link(&files, &key, "ticket.pdf").await).await;
    assert!(again.body == pdf);
}

pub async fn download_links_name_the_file<F, Fut>(files: SharedFiles, fetch: F)
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Fetched>,
{
    let key = new_key();
    files
        .put_pdf(&key, sample_pdf("named", 1_000))
        .await
        .unwrap();
    for name in [
        "ticket.pdf",
        "Zoë's ticket — Main hall.pdf",
        "../../etc/passwd\r\nSet-Cookie: a=b; x=\"y\".pdf",
        "   ",
    ] {
        let fetched = fetch_ok(&fetch, link(&files, &key, name).await).await;
        let disposition = fetched.content_disposition.expect("a Content-Disposition");
        assert_eq!(disposition, content_disposition(name), "{name:?}");
        assert!(disposition.starts_with("attachment; filename=\""));
    }
}

pub async fn putting_again_overwrites<F, Fut>(files: SharedFiles, fetch: F)
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Fetched>,
{
    let key = new_key();
    files
        .put_pdf(&key, sample_pdf("first, and longer", 9_000))
        .await
        .unwrap();
    let second = sample_pdf("second", 3_000);
    files.put_pdf(&key, second.clone()).await.unwrap();
    let fetched = fetch_ok(&fetch, link(&files, &key, "ticket.pdf").await).await;
    assert!(
        fetched.body == second,
        "the second put did not replace the first"
    );
}

pub async fn deleting_is_idempotent<F, Fut>(files: SharedFiles, fetch: F)
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Fetched>,
{
    let key = new_key();
    files
        .put_pdf(&key, sample_pdf("doomed", 1_000))
        .await
        .unwrap();
    let url = link(&files, &key, "ticket.pdf").await;
    files.delete(&key).await.unwrap();
    assert!(!files.exists(&key).await.unwrap());
    files.delete(&key).await.expect("deleting again");
    files
        .delete(&new_key())
        .await
        .expect("deleting what never was");
    let fetched = fetch(url).await;
    assert_ne!(fetched.status, 200, "a deleted file was served");
}

pub async fn link_to_a_missing_file_is_not_ok<F, Fut>(files: SharedFiles, fetch: F)
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Fetched>,
{
    let fetched = fetch(link(&files, &new_key(), "ticket.pdf").await).await;
    assert!(
        (400..500).contains(&fetched.status),
        "status {}",
        fetched.status
    );
}

pub async fn files_are_kept_apart<F, Fut>(files: SharedFiles, fetch: F)
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Fetched>,
{
    let event = EventId::from(RandomIds.new_id());
    let keys = [
        FileKey::for_ticket(event, TicketId::from(RandomIds.new_id())),
        FileKey::for_ticket(event, TicketId::from(RandomIds.new_id())),
        new_key(),
    ];
    for (n, key) in keys.iter().enumerate() {
        files
            .put_pdf(key, sample_pdf(&format!("file {n}"), 1_000 + n))
            .await
            .unwrap();
    }
    files.delete(&keys[0]).await.unwrap();
    assert!(!files.exists(&keys[0]).await.unwrap());
    for (n, key) in keys.iter().enumerate().skip(1) {
        assert!(files.exists(key).await.unwrap());
        let fetched = fetch_ok(&fetch, link(&files, key, "ticket.pdf").await).await;
        assert!(fetched.body == sample_pdf(&format!("file {n}"), 1_000 + n));
    }
}

pub async fn links_cannot_outlive_the_maximum<F, Fut>(files: SharedFiles, fetch: F)
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Fetched>,
{
    let key = new_key();
    files
        .put_pdf(&key, sample_pdf("long", 1_000))
        .await
        .unwrap();
    let url = files
        .download_url(&key, "ticket.pdf", MAX_LINK_TTL)
        .await
        .expect("a link for the longest lifetime");
    fetch_ok(&fetch, url).await;
    let too_long = files
        .download_url(&key, "ticket.pdf", MAX_LINK_TTL + Duration::from_secs(1))
        .await;
    assert!(
        matches!(too_long, Err(FilesError::Invalid(_))),
        "{too_long:?}"
    );
}

pub async fn race_concurrent_puts_leave_one_whole_file<F, Fut>(files: SharedFiles, fetch: F)
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Fetched>,
{
    let key = new_key();
    let payloads: Vec<Vec<u8>> = (0..8)
        .map(|n| sample_pdf(&format!("writer {n}"), 200_000))
        .collect();
    let puts = payloads.iter().map(|pdf| {
        let files = Arc::clone(&files);
        let key = key.clone();
        let pdf = pdf.clone();
        tokio::spawn(async move { files.put_pdf(&key, pdf).await })
    });
    for outcome in join_all(puts).await {
        outcome.expect("put task").expect("put");
    }
    let fetched = fetch_ok(&fetch, link(&files, &key, "ticket.pdf").await).await;
    assert!(
        payloads.contains(&fetched.body),
        "the file is not one writer's whole payload"
    );
}
