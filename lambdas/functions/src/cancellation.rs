//! The cancellation state machine's task functions: each binary serves one
//! [`CancellationStep`] with the table, and Stripe where the function was given a key (only
//! `refund-cancelled-order` is).

use std::sync::Arc;

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;
use ticket_core::cancellation::{CancellationStep, CancellationSteps};
use ticket_core::{Payments, SystemClock};

use crate::route::NotGiven;

/// The `main` of a cancellation step's binary: serves `CancellationStep::$step`. A binary whose
/// file name is not that step's binary name does not build.
#[macro_export]
macro_rules! cancellation_step_main {
    ($step:ident) => {
        const STEP: $crate::CancellationStep = $crate::CancellationStep::$step;
        const _: () = assert!(
            $crate::same_str(STEP.binary_name(), env!("CARGO_BIN_NAME")),
            "this binary's name is not the binary name of the step it runs"
        );

        #[tokio::main]
        async fn main() -> Result<(), lambda_runtime::Error> {
            $crate::run_cancellation_step(STEP).await
        }
    };
}

/// Serves `step`: each invocation's payload to [`CancellationSteps::run`], a failure as the
/// Lambda error whose type the state machine's Retry and Catch match.
pub async fn run_cancellation_step(step: CancellationStep) -> Result<(), lambda_runtime::Error> {
    let (config, aws) = crate::cold_start().await;
    let payments: Arc<dyn Payments> = match config.stripe_secret_key {
        Some(_) => Arc::new(config.payments(&aws).await?),
        None => Arc::new(NotGiven("Stripe")),
    };
    let steps = &CancellationSteps {
        store: Arc::new(config.store(&aws)?),
        payments,
        clock: Arc::new(SystemClock),
    };
    let state = step.state_name();
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        match steps.run(step, event.payload).await {
            Ok(result) => {
                tracing::info!(step = state, result = %result, "step done");
                Ok(result)
            }
            Err(failure) => {
                tracing::warn!(step = state, error = failure.error, cause = %failure.cause, "step failed");
                Err(crate::diagnostic(failure))
            }
        }
    }))
    .await
}
