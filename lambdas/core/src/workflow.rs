//! The `Workflow` port: starts the registration saga for a paid (or free) order. Adapters: Step
//! Functions and ticketd's local ASL executor, both running `statemachines/registration.asl.json`.

use async_trait::async_trait;

use crate::registration::RegistrationRequest;

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
}
