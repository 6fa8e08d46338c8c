//! The S3 file store against moto: the shared conformance suite, the presigned links' parameters
//! and encryption at rest.
//!
//! moto does not check presigned signatures or expiry: it serves a presigned GET whatever its
//! `X-Amz-Signature` or `X-Amz-Expires` say. So these tests check what the links carry (the
//! lifetime, the signed headers, the response overrides) and that they fetch the right bytes;
//! expiry and tampering are tested end to end on ticketd's file store
//! (`lambdas/local/tests/local_files.rs`), whose server does check them.

use ticket_testkit::moto;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_s3::types::ServerSideEncryption;
use reqwest::Url;
use ticket_cloud::s3::{Encryption, S3Files};
use ticket_core::files::content_disposition;
use ticket_core::files_conformance::{Fetched, SharedFiles, sample_pdf};
use ticket_core::{DEFAULT_LINK_TTL, EventId, FileKey, FilesError, TicketFiles, TicketId};

ticket_core::files_conformance_tests!(make: fresh_files(), fetch: fetch);

async fn fresh_bucket() -> (aws_sdk_s3::Client, String) {
    let client = moto::s3_client().await;
    let bucket = format!("tickets-{}", uuid::Uuid::new_v4().simple());
    client
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("create bucket");
    (client, bucket)
}

async fn fresh_files() -> SharedFiles {
    let (client, bucket) = fresh_bucket().await;
    Arc::new(S3Files::new(client, bucket))
}

/// GETs a link over HTTP.
///
/// moto (5.2.1) ignores GetObject's `response-content-*` overrides, which real S3 applies: it
/// answers a presigned GET with the object's stored headers. The object is stored as
/// `application/pdf`, so Content-Type is right either way; a Content-Disposition moto leaves out
/// is filled in here from the link's `response-content-disposition`, as S3 would send it. That
/// the link carries the right value is asserted on its own below
/// (`presigned_links_carry_lifetime_signature_and_overrides`).
async fn fetch(url: String) -> Fetched {
    let response = reqwest::get(&url).await.expect("GET the link");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|value| value.to_str().expect("ASCII header").to_owned())
    };
    let status = response.status().as_u16();
    let content_type = header("content-type");
    let content_disposition = header("content-disposition").or_else(|| {
        (status == 200)
            .then(|| query(&Url::parse(&url).unwrap()))
            .and_then(|mut params| params.remove("response-content-disposition"))
    });
    Fetched {
        status,
        content_type,
        content_disposition,
        body: response.bytes().await.expect("read the body").to_vec(),
    }
}

fn key() -> FileKey {
    FileKey::for_ticket(
        EventId::from(uuid::Uuid::now_v7()),
        TicketId::from(uuid::Uuid::now_v7()),
    )
}

fn query(url: &Url) -> HashMap<String, String> {
    let mut pairs = HashMap::new();
    for (name, value) in url.query_pairs() {
        let previous = pairs.insert(name.to_string(), value.to_string());
        assert!(previous.is_none(), "{name} twice in {url}");
    }
    pairs
}

#[tokio::test]
async fn presigned_links_carry_lifetime_signature_and_overrides() {
    let (client, bucket) = fresh_bucket().await;
    let files = S3Files::new(client, &bucket);
    let key = key();
    let name = "Zoë's ticket.pdf";

    let url = files
        .download_url(&key, name, DEFAULT_LINK_TTL)
        .await
        .unwrap();
    let url = Url::parse(&url).unwrap();
    assert_eq!(
        url.path(),
        format!("/{bucket}/{key}"),
        "path-style, no escaping"
    );
    let params = query(&url);
    assert_eq!(params["X-Amz-Algorithm"], "AWS4-HMAC-SHA256");
    assert_eq!(params["X-Amz-Expires"], "900", "15 minutes by default");
    // Only the host is signed: a browser following the link sends no other header we control.
    assert_eq!(params["X-Amz-SignedHeaders"], "host");
    let credential = &params["X-Amz-Credential"];
    assert!(credential.starts_with("test/"), "{credential}");
    assert!(
        credential.ends_with("/us-east-1/s3/aws4_request"),
        "{credential}"
    );
    assert_eq!(params["X-Amz-Date"].len(), "20261101T120000Z".len());
    let signature = &params["X-Amz-Signature"];
    assert_eq!(signature.len(), 64, "{signature}");
    assert!(signature.bytes().all(|byte| byte.is_ascii_hexdigit()));
    assert_eq!(
        params["response-content-disposition"],
        content_disposition(name)
    );
    assert_eq!(params["response-content-type"], "application/pdf");
    assert!(
        !params.contains_key("X-Amz-Security-Token"),
        "static test credentials"
    );

    let short = files
        .download_url(&key, name, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(query(&Url::parse(&short).unwrap())["X-Amz-Expires"], "60");
}

#[tokio::test]
async fn objects_are_encrypted_with_s3_managed_keys_by_default() {
    let (client, bucket) = fresh_bucket().await;
    let files = S3Files::new(client.clone(), &bucket);
    let key = key();
    files.put_pdf(&key, sample_pdf("sse", 1_000)).await.unwrap();
    let head = client
        .head_object()
        .bucket(&bucket)
        .key(key.as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(
        head.server_side_encryption(),
        Some(&ServerSideEncryption::Aes256)
    );
    assert_eq!(head.content_type(), Some("application/pdf"));
    assert_eq!(head.content_length(), Some(1_000));
}

#[tokio::test]
async fn objects_can_be_encrypted_with_a_kms_key() {
    let (client, bucket) = fresh_bucket().await;
    let key_id = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555";
    let files = S3Files::new(client.clone(), &bucket).with_encryption(Encryption::Kms {
        key_id: Some(key_id.into()),
    });
    let key = key();
    files.put_pdf(&key, sample_pdf("kms", 1_000)).await.unwrap();
    let head = client
        .head_object()
        .bucket(&bucket)
        .key(key.as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(
        head.server_side_encryption(),
        Some(&ServerSideEncryption::AwsKms)
    );
    assert_eq!(head.ssekms_key_id(), Some(key_id));
}

#[tokio::test]
async fn a_missing_bucket_is_a_permanent_error() {
    let files = S3Files::new(moto::s3_client().await, "no-such-bucket-7f3a");
    let error = files
        .put_pdf(&key(), sample_pdf("x", 100))
        .await
        .unwrap_err();
    assert_eq!(
        error,
        FilesError::Internal("S3 PutObject failed: NoSuchBucket".into())
    );
    assert!(!error.is_transient());
}

#[tokio::test]
async fn an_unreachable_service_is_a_transient_error() {
    // Port 9 (discard) on loopback: nothing listens there in a test environment.
    let config = moto::s3_client()
        .await
        .config()
        .to_builder()
        .endpoint_url("http://127.0.0.1:9")
        .build();
    let files = S3Files::new(aws_sdk_s3::Client::from_conf(config), "bucket");
    let error = files.exists(&key()).await.unwrap_err();
    assert!(error.is_transient(), "{error:?}");
    assert_eq!(
        error,
        FilesError::Unavailable("S3 HeadObject: could not reach the service".into())
    );
}
