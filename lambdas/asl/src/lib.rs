//! A local executor for the Amazon States Language (JSONPath query language), so the state
//! machine definition that Step Functions runs on AWS runs on one machine too.
//!
//! ```text
//! let bindings = Bindings::new().bind("ConfirmSeatFunctionArn", confirm_seat);
//! let executor = Executor::open(&journal, &definition, bindings, ExecutorOptions::default()).await?;
//! executor.start("cs_test_123", json!({"sessionId": "cs_test_123"})).await?;
//! ```
//!
//! What runs: Task (the `arn:aws:states:::lambda:invoke` integration, with Retry, Catch and
//! TimeoutSeconds), Pass, Choice (every JSONPath comparison operator, And/Or/Not), Wait,
//! Succeed and Fail; InputPath, Parameters, ResultSelector, ResultPath and OutputPath with
//! `.$` paths and the `$$` context object; the definition's TimeoutSeconds. Anything else (Map,
//! Parallel, JSONata, intrinsic functions, variables, other integrations, heartbeats) is
//! refused when the definition is loaded, with a message naming the state and the field.
//!
//! Executions are named and behave like Standard workflows: starting a name twice with the
//! same input runs it once. Every transition is journaled in SQLite, so executions survive a
//! restart and resume in the state they were in, and a failed execution can be redriven.

mod choice;
mod definition;
mod engine;
mod journal;
mod model;
mod path;
mod retry;
mod template;

pub use engine::{Executor, MAX_PAYLOAD_BYTES};
pub use journal::ExecutionLog;
pub use model::{
    Bindings, ExecutionStatus, ExecutionSummary, ExecutorError, ExecutorOptions, FnTask,
    HistoryEvent, HistoryEventKind, StartError, StartOutcome, TaskFailure, TaskFunction,
};
pub use retry::{JitterStrategy, MAX_DELAY_SECONDS, retry_delay_seconds, scaled};
