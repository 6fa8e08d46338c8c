//! How DynamoDB errors become store errors, and the bounded retry of contended writes.

use std::time::Duration;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use ticket_core::StoreError;

use crate::sdk_error::{SdkFailure, classify};

/// How many times a write that lost a race (a transaction conflict, or a refusal that a fresh
/// read does not explain) is tried before the caller gets `Unavailable`.
pub(crate) const MAX_ATTEMPTS: u32 = 20;

/// Why a write did not happen.
#[derive(Debug)]
pub(crate) enum Failure {
    /// A condition did not hold, or a transaction was cancelled (a condition, or a conflict with
    /// another transaction). The caller reads the items to learn which and what to answer.
    Refused,
    /// Anything else, already mapped.
    Store(StoreError),
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Self {
        Self::Store(error)
    }
}

/// Error codes that a retry, later, may get past.
const TRANSIENT_CODES: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "ThrottlingException",
    "Throttling",
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionInProgressException",
];

/// Maps an SDK error to a [`Failure`]. Messages name the operation and the error code only:
/// never the SDK's debug text, which can carry request details.
pub(crate) fn failure<E, R>(operation: &str, error: SdkError<E, R>) -> Failure
where
    E: ProvideErrorMetadata,
{
    match classify(&error, TRANSIENT_CODES) {
        SdkFailure::Transient(what) => Failure::Store(StoreError::Unavailable(format!(
            "DynamoDB {operation}: {what}"
        ))),
        SdkFailure::Service(Some(
            "ConditionalCheckFailedException"
            | "TransactionCanceledException"
            | "TransactionConflictException",
        )) => Failure::Refused,
        SdkFailure::Service(Some(code)) => Failure::Store(StoreError::Internal(format!(
            "DynamoDB {operation} failed: {code}"
        ))),
        SdkFailure::Service(None) => {
            Failure::Store(StoreError::Internal(format!("DynamoDB {operation} failed")))
        }
        SdkFailure::Unbuildable => Failure::Store(StoreError::Internal(format!(
            "DynamoDB {operation}: the request could not be built"
        ))),
    }
}

/// For reads and other calls where a refusal cannot happen.
pub(crate) fn store_error<E, R>(operation: &str, error: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata,
{
    match failure(operation, error) {
        Failure::Store(error) => error,
        Failure::Refused => {
            StoreError::Unavailable(format!("DynamoDB {operation}: conflicting transaction"))
        }
    }
}

pub(crate) fn contended(what: &str) -> StoreError {
    StoreError::Unavailable(format!(
        "{what}: still contended after {MAX_ATTEMPTS} attempts"
    ))
}

/// Waits before the next attempt of a contended write: exponential (2 ms doubling, at most
/// 100 ms) with full jitter, so racing writers spread out.
pub(crate) async fn backoff(attempt: u32) {
    let ceiling_ms = (2u64 << attempt.min(6)).min(100);
    let jitter = uuid::Uuid::new_v4().as_u128() as u64;
    let wait = Duration::from_micros(jitter % (ceiling_ms * 1000 + 1));
    tokio::time::sleep(wait).await;
}
