//! What the test binaries of several crates share, so none of them includes another crate's
//! test files by path. Dev-only: no production crate depends on it.
//!
//! - [`moto`] (feature `aws`): one moto server per test process and SDK clients on it.
//! - [`pdf`]: poppler and zbar on a rendered PDF (its text, its QR codes).
//! - [`recorded`]: events as AWS sends them (API Gateway payload 2.0, Cognito triggers).
//! - [`bad_rows`], [`event_properties`]: the suites every `Store` adapter runs on rows it
//!   cannot read and on events created through the API.

pub mod bad_rows;
pub mod event_properties;
#[cfg(feature = "aws")]
pub mod moto;
pub mod pdf;
pub mod recorded;
