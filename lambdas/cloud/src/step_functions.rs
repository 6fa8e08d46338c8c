//! The Step Functions adapter of the [`Workflow`] port: one Standard execution per order, named
//! by the order id, on the registration state machine; one per cancelled event on the
//! cancellation state machine.
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
use ticket_core::cancellation::PageInput;
use ticket_core::registration::RegistrationRequest;
use ticket_core::workflow::{cancellation_execution_name, execution_name};
use ticket_core::{EventId, Started, Workflow, WorkflowError};

use crate::sdk_error::{SdkFailure, classify};

/// Error codes that a retry, later, may get past.
const TRANSIENT_CODES: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "TooManyRequestsException",
    "ServiceUnavailable",
    "InternalServerError",
];

/// Starts registrations on one state machine and, when given one, cancellations on another.
#[derive(Debug, Clone)]
pub struct StepFunctionsWorkflow {
    client: Client,
    state_machine_arn: Option<String>,
    cancellation_arn: Option<String>,
}

impl StepFunctionsWorkflow {
    pub fn new(client: Client, state_machine_arn: impl Into<String>) -> Self {
        Self {
            client,
            state_machine_arn: Some(state_machine_arn.into()),
            cancellation_arn: None,
        }
    }

    /// The registration state machine (empty when only cancellations are started).
    pub fn state_machine_arn(&self) -> &str {
        self.state_machine_arn.as_deref().unwrap_or_default()
    }

    /// Starts only cancellations, on the state machine `cancellation_arn`.
    pub fn cancellations(client: Client, cancellation_arn: impl Into<String>) -> Self {
        Self {
            client,
            state_machine_arn: None,
            cancellation_arn: Some(cancellation_arn.into()),
        }
    }

    /// Also starts cancellations, on the state machine `cancellation_arn`.
    pub fn with_cancellations(self, cancellation_arn: impl Into<String>) -> Self {
        Self {
            cancellation_arn: Some(cancellation_arn.into()),
            ..self
        }
    }

    /// Starts execution `name` of `machine` with `input`: a repeat of the same start is
    /// `Started::Existing`, another input under the name `AlreadyExists`.
    async fn start(
        &self,
        machine: Option<&str>,
        name: &str,
        input: Value,
    ) -> Result<Started, WorkflowError> {
        let machine = machine.ok_or_else(|| {
            WorkflowError::Internal("this function was given no such state machine".into())
        })?;
        let started = self
            .client
            .start_execution()
            .state_machine_arn(machine)
            .name(name)
            .input(input.to_string())
            .send()
            .await;
        match started {
            Ok(_) => Ok(Started::New),
            Err(error) if error.code() == Some("ExecutionAlreadyExists") => {
                if self.started_with(machine, name, &input).await? {
                    Ok(Started::Existing)
                } else {
                    Err(WorkflowError::AlreadyExists(name.to_owned()))
                }
            }
            Err(error) => Err(workflow_error("StartExecution", error)),
        }
    }

    /// `arn:...:stateMachine:<machine>` → `arn:...:execution:<machine>:<name>`.
    fn execution_arn(machine_arn: &str, name: &str) -> Result<String, WorkflowError> {
        let (prefix, machine) = machine_arn.split_once(":stateMachine:").ok_or_else(|| {
            WorkflowError::Internal(format!("{machine_arn} is not a state machine ARN"))
        })?;
        Ok(format!("{prefix}:execution:{machine}:{name}"))
    }

    /// Whether the execution `name` of `machine` was started with `input`.
    async fn started_with(
        &self,
        machine: &str,
        name: &str,
        input: &Value,
    ) -> Result<bool, WorkflowError> {
        let described = self
            .client
            .describe_execution()
            .execution_arn(Self::execution_arn(machine, name)?)
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
        let input = serde_json::to_value(request)
            .map_err(|error| WorkflowError::Internal(format!("registration input: {error}")))?;
        let name = execution_name(&request.order_id);
        self.start(self.state_machine_arn.as_deref(), &name, input)
            .await
    }

    async fn start_cancellation(&self, event_id: EventId) -> Result<Started, WorkflowError> {
        let input = serde_json::to_value(PageInput::first(event_id))
            .map_err(|error| WorkflowError::Internal(format!("cancellation input: {error}")))?;
        let name = cancellation_execution_name(event_id);
        self.start(self.cancellation_arn.as_deref(), &name, input)
            .await
    }
}
