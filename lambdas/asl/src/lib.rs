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
//! Succeed, Fail and Map; InputPath, Parameters, ResultSelector, ResultPath and OutputPath with
//! `.$` paths and the `$$` context object; the definition's TimeoutSeconds.
//!
//! A Map takes its items from ItemsPath (an array), builds each iteration's input with
//! ItemSelector (where `$$.Map.Item.Index` and `$$.Map.Item.Value` are the item's), and runs
//! its ItemProcessor (a state machine of its own, whose transitions stay inside it; Maps nest)
//! once per item, up to MaxConcurrency at once, here in the execution's process. Its result is
//! the iterations' outputs in item order, then ResultSelector, ResultPath, OutputPath, Retry
//! and Catch apply as for a Task. ProcessorConfig's Mode is INLINE (the first failed iteration
//! fails the Map) or DISTRIBUTED with an ExecutionType (failed iterations are counted, and the
//! Map fails with States.ExceedToleratedFailureThreshold only past ToleratedFailureCount or
//! ToleratedFailurePercentage).
//!
//! Refused when the definition is loaded, with a message naming the state and the field:
//! Parallel, a Map's ItemReader, ItemBatcher, ResultWriter, Label, the `*Path` forms of its
//! MaxConcurrency and tolerances, its legacy Iterator and Parameters (ItemProcessor and
//! ItemSelector replace them), JSONata, intrinsic functions, variables, other integrations and
//! heartbeats. Inside an ItemProcessor a problem is named by its whole location, e.g.
//! `States.RefundOrders.ItemProcessor.States.RefundOrder.Retry`.
//!
//! Executions are named and behave like Standard workflows: starting a name twice with the
//! same input runs it once. Every transition is journaled in SQLite, so executions survive a
//! restart and resume in the state they were in, and a failed execution can be redriven.
//!
//! The transitions inside a Map's iterations are not journaled (their failures, retries and
//! catches are, as history events): an execution stays in the Map state until every iteration
//! is done. So after a restart, or a redrive of a Map that failed, the Map runs again from its
//! input, every iteration included, including those that had finished: **the functions an
//! ItemProcessor calls must be idempotent**, as they must be on AWS, where a Map's Retry and a
//! redrive repeat iterations too.

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
