//! How a step fails: one of three error names the state machine retries on or catches, with a
//! cause for operators. Buyers never see a cause; [`failure_reason`] is what they read.

use std::fmt::Display;

use crate::files::FilesError;
use crate::payments::PaymentsError;
use crate::store::StoreError;

/// Worth a retry: the store, file store or payment provider could not do it now.
pub const TRANSIENT: &str = "Ticketing.Transient";
/// ConfirmSeat only: the hold was released and no seat is left. Caught straight to the refund.
pub const SEAT_UNAVAILABLE: &str = "Ticketing.SeatUnavailable";
/// Permanent: bad input, unknown hold or event, closed order, render error, store fault.
pub const REJECTED: &str = "Ticketing.Rejected";

/// Every error name a step raises (the state machine must use exactly these).
pub const ERROR_NAMES: [&str; 3] = [TRANSIENT, SEAT_UNAVAILABLE, REJECTED];

/// A failed step: `error` is one of [`ERROR_NAMES`]; `cause` is for operators only.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error}: {cause}")]
pub struct StepFailure {
    pub error: &'static str,
    pub cause: String,
}

impl StepFailure {
    pub fn transient(cause: impl Into<String>) -> Self {
        Self {
            error: TRANSIENT,
            cause: cause.into(),
        }
    }

    pub fn seat_unavailable(cause: impl Into<String>) -> Self {
        Self {
            error: SEAT_UNAVAILABLE,
            cause: cause.into(),
        }
    }

    pub fn rejected(cause: impl Into<String>) -> Self {
        Self {
            error: REJECTED,
            cause: cause.into(),
        }
    }

    pub fn is_transient(&self) -> bool {
        self.error == TRANSIENT
    }
}

/// A port error that knows whether a retry may help.
pub(crate) trait PortError: Display {
    fn is_transient(&self) -> bool;
}

impl PortError for StoreError {
    fn is_transient(&self) -> bool {
        StoreError::is_transient(self)
    }
}

impl PortError for FilesError {
    fn is_transient(&self) -> bool {
        FilesError::is_transient(self)
    }
}

impl PortError for PaymentsError {
    fn is_transient(&self) -> bool {
        PaymentsError::is_transient(self)
    }
}

/// Maps a port error met while `doing` something: transient errors are retried, the rest are
/// permanent.
pub(crate) fn port_failure<E: PortError>(doing: &'static str) -> impl FnOnce(E) -> StepFailure {
    move |error| {
        let cause = format!("{doing}: {error}");
        if error.is_transient() {
            StepFailure::transient(cause)
        } else {
            StepFailure::rejected(cause)
        }
    }
}

/// The reason a failed order shows its buyer, fixed per error name (never the cause, which may
/// say things about the system). `refunded` says whether a payment went back.
pub fn failure_reason(error: Option<&str>, refunded: bool) -> &'static str {
    match (error, refunded) {
        (Some(SEAT_UNAVAILABLE), true) => {
            "The event sold out before your payment arrived. Your payment has been refunded."
        }
        (Some(SEAT_UNAVAILABLE), false) => {
            "The event sold out before your registration could be completed."
        }
        (_, true) => "We could not issue your ticket. Your payment has been refunded.",
        (_, false) => "We could not issue your ticket.",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_fixed_per_error_name_and_payment() {
        assert_eq!(
            failure_reason(Some(SEAT_UNAVAILABLE), true),
            "The event sold out before your payment arrived. Your payment has been refunded."
        );
        assert_eq!(
            failure_reason(Some(SEAT_UNAVAILABLE), false),
            "The event sold out before your registration could be completed."
        );
        for error in [
            Some(REJECTED),
            Some(TRANSIENT),
            Some("States.Timeout"),
            None,
        ] {
            assert_eq!(
                failure_reason(error, true),
                "We could not issue your ticket. Your payment has been refunded.",
                "{error:?}"
            );
            assert!(
                !failure_reason(error, false).contains("refund"),
                "no refund wording for free orders"
            );
        }
        assert!(!failure_reason(Some(SEAT_UNAVAILABLE), false).contains("refund"));
    }

    #[test]
    fn port_errors_split_into_transient_and_rejected() {
        let failure =
            port_failure("reading the order")(StoreError::Unavailable("throttled".into()));
        assert_eq!(failure.error, TRANSIENT);
        assert_eq!(
            failure.cause,
            "reading the order: the store is unavailable: throttled"
        );
        let failure = port_failure("reading the order")(StoreError::Internal("corrupt".into()));
        assert_eq!(failure.error, REJECTED);
        assert_eq!(
            port_failure("refunding")(PaymentsError::Unavailable("503".into())).error,
            TRANSIENT
        );
        assert_eq!(
            port_failure("refunding")(PaymentsError::Rejected("no such payment".into())).error,
            REJECTED
        );
        assert_eq!(
            port_failure("storing")(FilesError::Unavailable("slow down".into())).error,
            TRANSIENT
        );
        assert_eq!(
            port_failure("storing")(FilesError::Internal("denied".into())).error,
            REJECTED
        );
    }

    #[test]
    fn error_names_are_distinct_and_namespaced() {
        for name in ERROR_NAMES {
            assert!(name.starts_with("Ticketing."), "{name}");
            assert_eq!(ERROR_NAMES.iter().filter(|n| **n == name).count(), 1);
        }
    }
}
