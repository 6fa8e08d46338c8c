//! The refunds of a cancelled event in ticketd: `statemachines/cancellation.asl.json`, the file
//! Step Functions runs on AWS, run by the local executor with each `${...FunctionArn}` bound to
//! the in-process step of `ticket_core::cancellation`.

use std::path::Path;
use std::sync::Arc;

use ticket_core::cancellation::{CancellationStep, CancellationSteps};

use asl::{Bindings, Executor, ExecutorError, ExecutorOptions, TaskFunction};

/// The state machine definition, built into the binary.
pub const DEFINITION: &str = include_str!("../../../statemachines/cancellation.asl.json");

/// The cancellations' journal, in the data directory.
pub const EXECUTIONS_FILE: &str = "cancellations.sqlite3";

/// Every step bound under its substitution name; `wrap` sees each function before it is bound
/// (tests inject faults there): pass `|_, function| function` to bind them as they are.
pub fn bindings(
    steps: Arc<CancellationSteps>,
    wrap: impl Fn(CancellationStep, Arc<dyn TaskFunction>) -> Arc<dyn TaskFunction>,
) -> Bindings {
    crate::steps::bindings(steps, wrap)
}

/// Opens the executor of the cancellation state machine on the journal at `journal_path`,
/// resuming the cancellations a previous run left running.
pub async fn open_executor(
    journal_path: &Path,
    bindings: Bindings,
    options: ExecutorOptions,
) -> Result<Arc<Executor>, ExecutorError> {
    Executor::open(journal_path, DEFINITION, bindings, options).await
}
