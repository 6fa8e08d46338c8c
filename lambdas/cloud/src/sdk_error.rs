//! How an AWS SDK call failed, sorted the one way every adapter needs before it maps the failure
//! to its port's errors. Only the operation and the error code are ever kept: the SDK's debug
//! text can carry request details.

// Every aws-sdk-* crate re-exports the same smithy types; any crate's path names them.
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

pub(crate) enum SdkFailure<'a> {
    /// Timed out, unreachable, an unreadable answer, or a service code the caller counts as
    /// transient: worth a retry. Says which, for the message.
    Transient(&'a str),
    /// The service refused with this code (none if it sent none).
    Service(Option<&'a str>),
    /// The request could not be built: a bug, not the service.
    Unbuildable,
}

/// Sorts `error`; service codes in `transient` (throttling, outages) count as [`SdkFailure::Transient`].
pub(crate) fn classify<'a, E, R>(error: &'a SdkError<E, R>, transient: &[&str]) -> SdkFailure<'a>
where
    E: ProvideErrorMetadata,
{
    match error {
        SdkError::TimeoutError(_) => SdkFailure::Transient("timed out"),
        SdkError::DispatchFailure(_) => SdkFailure::Transient("could not reach the service"),
        SdkError::ResponseError(_) => SdkFailure::Transient("unreadable response"),
        SdkError::ServiceError(_) => match error.code() {
            Some(code) if transient.contains(&code) => SdkFailure::Transient(code),
            code => SdkFailure::Service(code),
        },
        _ => SdkFailure::Unbuildable,
    }
}
