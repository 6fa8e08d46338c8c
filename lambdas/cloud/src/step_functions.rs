//! The Step Functions adapter of the [`Workflow`] port: one Standard execution per order, named
//! by the order id.
//!
//! Step Functions answers `StartExecution` for a name it has seen with the existing execution
//! only while that execution runs with the same input; once it has finished, or for other input,
//! it answers `ExecutionAlreadyExists`. A webhook redelivered after the registration finished
//! must still count as done, so on that error the adapter reads the execution and compares its
//! input: the same request is `Started::Existing`, another is `WorkflowError::AlreadyExists`.

use async_trait::async_trait;
use aws_sdk_sfn::Client;
use aws_sdk_sfn::error::{ProvideErrorMetadata, SdkError};
use serde_json::Value;
use ticket_core::registration::RegistrationRequest;
use ticket_core::workflow::execution_name;
use ticket_core::{Started, Workflow, WorkflowError};

use crate::sdk_error::{SdkFailure, classify};

/// Error codes that a retry, later, may get past.
const TRANSIENT_CODES: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "TooManyRequestsException",
    "ServiceUnavailable",
    "InternalServerError",
];

/// Starts registrations on one state machine.
#[derive(Debug, Clone)]
pub struct StepFunctionsWorkflow {
    client: Client,
    state_machine_arn: String,
}

impl StepFunctionsWorkflow {
    pub fn new(client: Client, state_machine_arn: impl Into<String>) -> Self {
        Self {
            client,
            state_machine_arn: state_machine_arn.into(),
        }
    }

    pub fn state_machine_arn(&self) -> &str {
        &self.state_machine_arn
    }

    /// `arn:...:stateMachine:<machine>` → `arn:...:execution:<machine>:<name>`.
    fn execution_arn(&self, name: &str) -> Result<String, WorkflowError> {
        let (prefix, machine) = self
            .state_machine_arn
            .split_once(":stateMachine:")
            .ok_or_else(|| {
                WorkflowError::Internal(format!(
                    "{} is not a state machine ARN",
                    self.state_machine_arn
                ))
            })?;
        Ok(format!("{prefix}:execution:{machine}:{name}"))
    }

    /// Whether the execution `name` was started with `input`.
    async fn started_with(&self, name: &str, input: &Value) -> Result<bool, WorkflowError> {
        let described = self
            .client
            .describe_execution()
            .execution_arn(self.execution_arn(name)?)
            .send()
            .await
            .map_err(|error| workflow_error("DescribeExecution", error))?;
        let existing: Option<Value> = described
            .input()
            .and_then(|text| serde_json::from_str(text).ok());
        Ok(existing.as_ref() == Some(input))
    }
}

/// Maps an SDK error, naming the operation and the error code only: never the SDK's debug
/// text, which can carry request details.
fn workflow_error<E, R>(operation: &str, error: SdkError<E, R>) -> WorkflowError
where
    E: ProvideErrorMetadata,
{
    match classify(&error, TRANSIENT_CODES) {
        SdkFailure::Transient(what) => WorkflowError::Unavailable(format!("{operation}: {what}")),
        SdkFailure::Service(Some(code)) => WorkflowError::Rejected(format!("{operation}: {code}")),
        SdkFailure::Service(None) => WorkflowError::Internal(format!("{operation} failed")),
        SdkFailure::Unbuildable => {
            WorkflowError::Internal(format!("{operation}: the request could not be built"))
        }
    }
}

#[async_trait]
impl Workflow for StepFunctionsWorkflow {
    async fn start_registration(
        &self,
        request: &RegistrationRequest,
    ) -> Result<Started, WorkflowError> {
        let name = &execution_name(&request.order_id);
        let input = serde_json::to_value(request)
            .map_err(|error| WorkflowError::Internal(format!("registration input: {error}")))?;
        let started = self
            .client
            .start_execution()
            .state_machine_arn(&self.state_machine_arn)
            .name(name)
            .input(input.to_string())
            .send()
            .await;
        match started {
            Ok(_) => Ok(Started::New),
            Err(error) if error.code() == Some("ExecutionAlreadyExists") => {
                if self.started_with(name, &input).await? {
                    Ok(Started::Existing)
                } else {
                    Err(WorkflowError::AlreadyExists(name.to_owned()))
                }
            }
            Err(error) => Err(workflow_error("StartExecution", error)),
        }
    }
}
