//! The `Workflow` port: starts the registration saga for a paid (or free) order, and the refunds
//! of a cancelled event. Adapters: Step Functions and ticketd's local ASL executor, both running
//! `statemachines/registration.asl.json` and `statemachines/cancellation.asl.json`.

use async_trait::async_trait;
use data_encoding::HEXLOWER;
use sha2::{Digest, Sha256};

use crate::ids::{EventId, OrderId};
use crate::registration::RegistrationRequest;

/// The longest execution name Step Functions takes.
pub const MAX_EXECUTION_NAME: usize = 80;

/// The name of the execution that registers `order`, one per order: the order id itself where
/// Step Functions takes it as a name (1 to 80 characters of `A-Za-z0-9_-`, as every checkout
/// session id and free order id is today), else `sha256-` and the id's SHA-256 in hex, so a
/// longer or odder id from the provider still starts exactly one execution.
pub fn execution_name(order: &OrderId) -> String {
    let id = order.as_str();
    let usable = !id.is_empty()
        && id.len() <= MAX_EXECUTION_NAME
        && !id.starts_with("sha256-")
        && id
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-');
    if usable {
        id.to_owned()
    } else {
        format!("sha256-{}", HEXLOWER.encode(&Sha256::digest(id.as_bytes())))
    }
}

/// The name of the execution that refunds the orders of cancelled `event`: one per event.
pub fn cancellation_execution_name(event: EventId) -> String {
    format!("cancel-{event}")
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkflowError {
    /// An execution of that name exists with other input: a different order reused the name.
    #[error("execution {0} already exists with other input")]
    AlreadyExists(String),
    #[error("the workflow refused the request: {0}")]
    Rejected(String),
    /// Throttled or unreachable: worth a retry (starting is idempotent).
    #[error("the workflow service is unavailable: {0}")]
    Unavailable(String),
    #[error("the workflow service failed: {0}")]
    Internal(String),
}

impl WorkflowError {
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Started {
    /// A new execution runs now.
    New,
    /// The same request started it before (a redelivered webhook): nothing new runs.
    Existing,
}

#[async_trait]
pub trait Workflow: Send + Sync {
    /// Starts the registration named by its order id. Starting the same request again never
    /// runs it twice: it is `Started::Existing` (Step Functions answers a repeat that arrives
    /// while the first still runs like the first call, so there it may be `Started::New`).
    async fn start_registration(
        &self,
        request: &RegistrationRequest,
    ) -> Result<Started, WorkflowError>;

    /// Starts the refunds of cancelled event `event_id`, named by
    /// [`cancellation_execution_name`] with input [`PageInput::first`](crate::cancellation::PageInput::first); starting it again is
    /// `Started::Existing`.
    async fn start_cancellation(&self, event_id: EventId) -> Result<Started, WorkflowError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_order_id_step_functions_takes_names_its_execution_and_any_other_is_hashed() {
        for id in ["cs_test_a1B2c3", "free_0191abcd", &"c".repeat(80)] {
            assert_eq!(execution_name(&OrderId::from(id)), id);
        }
        let long = OrderId::from(format!("cs_live_{}", "x".repeat(200)));
        let hashed = execution_name(&long);
        assert_eq!(hashed.len(), "sha256-".len() + 64);
        assert!(hashed.len() <= MAX_EXECUTION_NAME);
        assert_eq!(
            hashed,
            execution_name(&long),
            "the same order, the same name"
        );
        for odd in ["cs test", "cs:test", "cs/1", "sha256-00"] {
            let name = execution_name(&OrderId::from(odd));
            assert!(name.starts_with("sha256-"), "{odd}: {name}");
            assert_ne!(name, execution_name(&OrderId::from("cs_test_a1B2c3")));
        }
    }
}
