//! The registration saga in ticketd: `statemachines/registration.asl.json`, the file Step
//! Functions runs on AWS, run by the local executor with each `${...FunctionArn}` bound to the
//! in-process step of `ticket_core::registration`; and [`LocalWorkflow`], the `Workflow` port
//! on the local executors (registrations, and the cancellations of `crate::cancellation`).

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use ticket_core::cancellation::PageInput;
use ticket_core::registration::{RegistrationRequest, RegistrationSteps, Step};
use ticket_core::workflow::{cancellation_execution_name, execution_name};
use ticket_core::{EventId, Started, Workflow, WorkflowError};

use asl::{
    Bindings, Executor, ExecutorError, ExecutorOptions, StartError, StartOutcome, TaskFunction,
};

/// The state machine definition, built into the binary so ticketd runs the file it was built
/// with, wherever it is started.
pub const DEFINITION: &str = include_str!("../../../statemachines/registration.asl.json");

/// The executions' journal, in the data directory.
pub const EXECUTIONS_FILE: &str = "executions.sqlite3";

/// Every step bound under its substitution name; `wrap` sees each function before it is bound
/// (tests inject faults there): pass `|_, function| function` to bind them as they are.
pub fn bindings(
    steps: Arc<RegistrationSteps>,
    wrap: impl Fn(Step, Arc<dyn TaskFunction>) -> Arc<dyn TaskFunction>,
) -> Bindings {
    crate::steps::bindings(steps, wrap)
}

/// Opens the executor of the registration state machine on the journal at `journal_path`,
/// resuming the executions a previous run left running.
pub async fn open_executor(
    journal_path: &Path,
    bindings: Bindings,
    options: ExecutorOptions,
) -> Result<Arc<Executor>, ExecutorError> {
    Executor::open(journal_path, DEFINITION, bindings, options).await
}

/// The `Workflow` port on the local executors: one registration per order, named by its id;
/// one cancellation per event, when given the cancellation executor.
#[derive(Clone)]
pub struct LocalWorkflow {
    executor: Arc<Executor>,
    cancellations: Option<Arc<Executor>>,
}

impl LocalWorkflow {
    pub fn new(executor: Arc<Executor>) -> Self {
        Self {
            executor,
            cancellations: None,
        }
    }

    /// Also starts cancellations, on `executor` (of `statemachines/cancellation.asl.json`).
    pub fn with_cancellations(self, executor: Arc<Executor>) -> Self {
        Self {
            cancellations: Some(executor),
            ..self
        }
    }

    pub fn executor(&self) -> &Arc<Executor> {
        &self.executor
    }
}

#[async_trait]
impl Workflow for LocalWorkflow {
    async fn start_registration(
        &self,
        request: &RegistrationRequest,
    ) -> Result<Started, WorkflowError> {
        let input = serde_json::to_value(request)
            .map_err(|error| WorkflowError::Internal(format!("registration input: {error}")))?;
        started(
            self.executor
                .start(&execution_name(&request.order_id), input)
                .await,
        )
    }

    async fn start_cancellation(&self, event_id: EventId) -> Result<Started, WorkflowError> {
        let executor = self.cancellations.as_ref().ok_or_else(|| {
            WorkflowError::Internal("ticketd was started without cancellations".into())
        })?;
        let input = serde_json::to_value(PageInput::first(event_id))
            .map_err(|error| WorkflowError::Internal(format!("cancellation input: {error}")))?;
        started(
            executor
                .start(&cancellation_execution_name(event_id), input)
                .await,
        )
    }
}

fn started(outcome: Result<StartOutcome, StartError>) -> Result<Started, WorkflowError> {
    match outcome {
        Ok(StartOutcome::Started { .. }) => Ok(Started::New),
        Ok(StartOutcome::Existing { .. }) => Ok(Started::Existing),
        Err(StartError::AlreadyExists(name)) => Err(WorkflowError::AlreadyExists(name)),
        Err(error @ (StartError::InvalidName(_) | StartError::InvalidInput(_))) => {
            Err(WorkflowError::Rejected(error.to_string()))
        }
        Err(error) => Err(WorkflowError::Internal(error.to_string())),
    }
}
