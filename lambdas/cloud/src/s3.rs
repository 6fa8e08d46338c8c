//! The S3 adapter of the [`TicketFiles`] port: ticket PDFs in a private bucket, encrypted at
//! rest, handed out through presigned GET URLs.
//!
//! A presigned URL carries the response overrides (`response-content-disposition`,
//! `response-content-type`) in its signed query, so S3 names the download and serves it as a
//! PDF whatever metadata the object has, and nobody can change either without breaking the
//! signature. Its lifetime is `X-Amz-Expires`, capped by S3 at 7 days and in practice by the
//! signing credentials: a link signed with a Lambda role's session credentials stops working
//! when they expire, whichever comes first.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;
use ticket_core::files::{PDF_CONTENT_TYPE, content_disposition};
use ticket_core::{FileKey, FilesError, TicketFiles};

use crate::sdk_error::{SdkFailure, classify};

/// How objects are encrypted at rest.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Encryption {
    /// SSE-S3 (`AES256`): S3-managed keys. The default.
    #[default]
    S3Managed,
    /// SSE-KMS (`aws:kms`), with this key id or ARN, or the account's `aws/s3` key when `None`.
    Kms { key_id: Option<String> },
}

/// Ticket files in one S3 bucket, keyed by [`FileKey`].
#[derive(Debug, Clone)]
pub struct S3Files {
    client: Client,
    bucket: String,
    encryption: Encryption,
}

impl S3Files {
    /// Files in `bucket`, encrypted with S3-managed keys.
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
            encryption: Encryption::default(),
        }
    }

    pub fn with_encryption(mut self, encryption: Encryption) -> Self {
        self.encryption = encryption;
        self
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }
}

/// Error codes that a retry, later, may get past.
const TRANSIENT_CODES: &[&str] = &[
    "InternalError",
    "ServiceUnavailable",
    "SlowDown",
    "RequestTimeout",
    "Throttling",
    "ThrottlingException",
];

/// Maps an SDK error to a [`FilesError`], naming the operation and the error code only: never
/// the SDK's debug text, which can carry request details.
fn files_error<E, R>(operation: &str, error: SdkError<E, R>) -> FilesError
where
    E: ProvideErrorMetadata,
{
    match classify(&error, TRANSIENT_CODES) {
        SdkFailure::Transient(what) => FilesError::Unavailable(format!("S3 {operation}: {what}")),
        SdkFailure::Service(Some(code)) => {
            FilesError::Internal(format!("S3 {operation} failed: {code}"))
        }
        SdkFailure::Service(None) => FilesError::Internal(format!("S3 {operation} failed")),
        SdkFailure::Unbuildable => {
            FilesError::Internal(format!("S3 {operation}: the request could not be built"))
        }
    }
}

#[async_trait]
impl TicketFiles for S3Files {
    async fn put_pdf(&self, key: &FileKey, pdf: Vec<u8>) -> Result<(), FilesError> {
        // One PutObject: S3 replaces an object atomically, so readers see the old or the new.
        let request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .body(ByteStream::from(pdf))
            .content_type(PDF_CONTENT_TYPE);
        let request = match &self.encryption {
            Encryption::S3Managed => request.server_side_encryption(ServerSideEncryption::Aes256),
            Encryption::Kms { key_id } => request
                .server_side_encryption(ServerSideEncryption::AwsKms)
                .set_ssekms_key_id(key_id.clone()),
        };
        request
            .send()
            .await
            .map_err(|error| files_error("PutObject", error))?;
        Ok(())
    }

    async fn download_url(
        &self,
        key: &FileKey,
        download_name: &str,
        expires_in: Duration,
    ) -> Result<String, FilesError> {
        let presigning = PresigningConfig::expires_in(expires_in)
            .map_err(|error| FilesError::Invalid(format!("link lifetime: {error}")))?;
        let presigned = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .response_content_disposition(content_disposition(download_name))
            .response_content_type(PDF_CONTENT_TYPE)
            .presigned(presigning)
            .await
            .map_err(|error| files_error("presign GetObject", error))?;
        Ok(presigned.uri().to_owned())
    }

    async fn delete(&self, key: &FileKey) -> Result<(), FilesError> {
        // DeleteObject answers 204 for a missing key too: idempotent as the port asks.
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .send()
            .await
            .map_err(|error| files_error("DeleteObject", error))?;
        Ok(())
    }

    async fn exists(&self, key: &FileKey) -> Result<bool, FilesError> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(SdkError::ServiceError(service)) if service.err().is_not_found() => Ok(false),
            Err(error) => Err(files_error("HeadObject", error)),
        }
    }
}
