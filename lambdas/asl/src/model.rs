//! The executor's public types: functions and their bindings, options, what an execution looks
//! like from outside, and errors.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::str::FromStr;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

/// One Lambda function as the executor calls it: the in-process handler bound to a `${...}`
/// substitution of the definition.
#[async_trait]
pub trait TaskFunction: Send + Sync {
    async fn invoke(&self, payload: Value) -> Result<Value, TaskFailure>;
}

/// A function error as Step Functions sees it: `error` is the Lambda's errorType (e.g.
/// `Ticketing.Transient`), which Retry and Catch match; `cause` becomes the state's Cause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskFailure {
    pub error: String,
    pub cause: String,
}

impl TaskFailure {
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> Self {
        Self {
            error: error.into(),
            cause: cause.into(),
        }
    }

    /// The failure as AWS reports a Lambda function error to Step Functions: the Cause is the
    /// function's error object as JSON (`{"errorType": ..., "errorMessage": ...}`), so a Catch
    /// that hands `$.Cause` on sees the same text here as in the cloud.
    pub fn lambda_error(error_type: impl Into<String>, message: impl Into<String>) -> Self {
        let error = error_type.into();
        let cause = serde_json::json!({"errorType": error, "errorMessage": message.into()});
        Self {
            cause: cause.to_string(),
            error,
        }
    }
}

impl fmt::Display for TaskFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.error, self.cause)
    }
}

impl std::error::Error for TaskFailure {}

/// A [`TaskFunction`] made of an async closure.
pub struct FnTask<F>(pub F);

#[async_trait]
impl<F, Fut> TaskFunction for FnTask<F>
where
    F: Fn(Value) -> Fut + Send + Sync,
    Fut: Future<Output = Result<Value, TaskFailure>> + Send,
{
    async fn invoke(&self, payload: Value) -> Result<Value, TaskFailure> {
        (self.0)(payload).await
    }
}

/// Which function each `${Name}` of the definition calls, e.g. `ConfirmSeatFunctionArn`.
#[derive(Clone, Default)]
pub struct Bindings(pub(crate) HashMap<String, Arc<dyn TaskFunction>>);

impl Bindings {
    pub fn new() -> Self {
        Self::default()
    }

    /// Binds `${name}` (give the name without `${}`) to `function`.
    pub fn bind(mut self, name: impl Into<String>, function: Arc<dyn TaskFunction>) -> Self {
        self.0.insert(name.into(), function);
        self
    }

    /// Binds `${name}` to an async closure.
    pub fn bind_fn<F, Fut>(self, name: impl Into<String>, function: F) -> Self
    where
        F: Fn(Value) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Value, TaskFailure>> + Send + 'static,
    {
        self.bind(name, Arc::new(FnTask(function)))
    }

    /// The bound names, sorted.
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.0.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }
}

impl fmt::Debug for Bindings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Bindings").field(&self.names()).finish()
    }
}

/// How the executor runs.
#[derive(Debug, Clone)]
pub struct ExecutorOptions {
    /// Multiplies every wait: Wait states and retry intervals. `0.0` waits not at all (tests),
    /// `1.0` waits as long as on AWS.
    pub time_scale: f64,
    /// Multiplies every timeout: a Task's and the execution's TimeoutSeconds. Must be above 0;
    /// tests use a small one so a timeout takes milliseconds.
    pub timeout_scale: f64,
    /// The state machine's ARN, as `$$.StateMachine.Id` shows it; executions get ARNs under it
    /// the way AWS forms them (`...:execution:<machine name>:<execution name>`).
    pub state_machine_arn: String,
}

impl Default for ExecutorOptions {
    fn default() -> Self {
        Self {
            time_scale: 1.0,
            timeout_scale: 1.0,
            state_machine_arn: "arn:aws:states:local:000000000000:stateMachine:local".into(),
        }
    }
}

/// Where an execution stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExecutionStatus {
    Running,
    Succeeded,
    Failed,
    /// The definition's TimeoutSeconds ran out (error States.Timeout), as on AWS.
    TimedOut,
}

impl ExecutionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ExecutionStatus::Running => "RUNNING",
            ExecutionStatus::Succeeded => "SUCCEEDED",
            ExecutionStatus::Failed => "FAILED",
            ExecutionStatus::TimedOut => "TIMED_OUT",
        }
    }
}

impl fmt::Display for ExecutionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ExecutionStatus {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text.to_ascii_uppercase().as_str() {
            "RUNNING" => Ok(ExecutionStatus::Running),
            "SUCCEEDED" => Ok(ExecutionStatus::Succeeded),
            "FAILED" => Ok(ExecutionStatus::Failed),
            "TIMED_OUT" => Ok(ExecutionStatus::TimedOut),
            _ => Err(format!(
                "unknown execution status `{text}` (RUNNING, SUCCEEDED, FAILED or TIMED_OUT)"
            )),
        }
    }
}

/// One execution, as DescribeExecution shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionSummary {
    pub name: String,
    pub execution_arn: String,
    pub status: ExecutionStatus,
    pub input: Value,
    /// Set once SUCCEEDED.
    pub output: Option<Value>,
    pub error: Option<String>,
    pub cause: Option<String>,
    /// The state it is in, while RUNNING.
    pub current_state: Option<String>,
    /// The state it failed or timed out in: a redrive starts there again.
    pub failed_state: Option<String>,
    pub start_date: DateTime<Utc>,
    pub stop_date: Option<DateTime<Utc>>,
    pub redrive_count: u32,
    pub redrive_date: Option<DateTime<Utc>>,
}

/// What `start` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartOutcome {
    /// A new execution runs.
    Started { execution_arn: String },
    /// An execution of that name and the same input exists already (in any status); nothing
    /// new runs.
    Existing {
        execution_arn: String,
        status: ExecutionStatus,
    },
}

/// One entry of an execution's history.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEvent {
    /// Position in the history, from 0.
    pub id: u64,
    pub timestamp: DateTime<Utc>,
    #[serde(flatten)]
    pub kind: HistoryEventKind,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all_fields = "camelCase")]
pub enum HistoryEventKind {
    ExecutionStarted {
        input: Value,
    },
    /// The process restarted and the execution goes on in `state`, which runs again with the
    /// input it entered with.
    ExecutionResumed {
        state: String,
    },
    /// A redrive restarted the failed execution at `state`.
    ExecutionRedriven {
        state: String,
        redrive_count: u32,
    },
    StateEntered {
        name: String,
        input: Value,
    },
    StateExited {
        name: String,
        output: Value,
    },
    /// One attempt of a Task failed (`attempt` counts from 1). A Map state's failed attempt
    /// (its Retry runs every iteration again) is one too.
    ///
    /// This and the two events below also tell of the states inside a Map's iterations,
    /// named `<Map>[<item index>]/<state>` (e.g. `RefundOrders[3]/RefundOrder`).
    TaskFailed {
        state: String,
        error: String,
        cause: String,
        attempt: u32,
    },
    /// A retrier matched: retry number `retry` (from 1) after `delay_seconds` (the definition's
    /// seconds, before `time_scale`).
    RetryScheduled {
        state: String,
        retrier: u32,
        retry: u32,
        delay_seconds: f64,
    },
    /// A catcher matched and the execution goes on at `next`.
    ErrorCaught {
        state: String,
        error: String,
        next: String,
    },
    ExecutionSucceeded {
        output: Value,
    },
    ExecutionFailed {
        state: Option<String>,
        error: Option<String>,
        cause: Option<String>,
    },
    ExecutionTimedOut {
        state: Option<String>,
        error: String,
        cause: String,
    },
}

/// Opening the executor or reading its journal failed.
#[derive(Debug, thiserror::Error)]
pub enum ExecutorError {
    /// The definition uses something the executor does not run, or is wrong; every problem
    /// found is listed, each naming where (`States.<state>.<field>: ...`).
    #[error("the state machine definition cannot run locally: {}", .0.join("; "))]
    Definition(Vec<String>),
    #[error("invalid executor options: {0}")]
    Options(String),
    #[error("execution journal: {0}")]
    Journal(String),
    #[error("the executor is shut down")]
    ShutDown,
}

/// Why `start` or `redrive` refused.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(
        "InvalidName: execution name `{0}` must be 1 to 80 characters of A-Z, a-z, 0-9, _ and -"
    )]
    InvalidName(String),
    #[error("InvalidExecutionInput: {0}")]
    InvalidInput(String),
    #[error("ExecutionAlreadyExists: execution `{0}` already exists with another input")]
    AlreadyExists(String),
    #[error("ExecutionDoesNotExist: no execution named `{0}`")]
    DoesNotExist(String),
    #[error("ExecutionNotRedrivable: execution `{name}` is {status}: {reason}")]
    NotRedrivable {
        name: String,
        status: ExecutionStatus,
        reason: String,
    },
    #[error("execution journal: {0}")]
    Journal(String),
    #[error("the executor is shut down")]
    ShutDown,
}

/// `arn:aws:states:R:A:stateMachine:M` → (`arn:aws:states:R:A:execution:M:`, `M`).
pub(crate) fn execution_arn_prefix(machine: &str) -> Result<(String, String), ExecutorError> {
    let parts: Vec<&str> = machine.split(':').collect();
    match parts.as_slice() {
        [
            "arn",
            partition,
            "states",
            region,
            account,
            "stateMachine",
            name,
        ] if !name.is_empty() => Ok((
            format!("arn:{partition}:states:{region}:{account}:execution:{name}:"),
            (*name).to_owned(),
        )),
        _ => Err(ExecutorError::Options(format!(
            "state_machine_arn `{machine}` is not arn:aws:states:<region>:<account>:stateMachine:<name>"
        ))),
    }
}
