//! Start-up shared by the Lambda binaries (one per route and saga step, Cognito's
//! post-confirmation trigger and the scheduled reconciliation pass, under `src/bin/`): read
//! the configuration ([`LambdaConfig`]) from the environment, build the adapters once per cold
//! start, and hand events to core. No business logic lives here.

mod cancellation;
mod config;
mod post_confirmation;
mod reconcile;
mod route;

use std::future::Future;
use std::sync::Arc;

use aws_config::SdkConfig;
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde::Serialize;
use serde_json::Value;
use ticket_cloud::DynamoStore;
use ticket_core::registration::{StepFailure, StepPayload, output};
use tracing::level_filters::LevelFilter;
use tracing_subscriber::EnvFilter;

pub use cancellation::run_cancellation_step;
pub use config::{
    ConfigError, LambdaConfig, Secret, SecretsManagerSecret, Var, is_placeholder,
    payments_from_secret,
};
pub use post_confirmation::{post_confirmation, run_post_confirmation};
pub use reconcile::{PASS_FAILED, pass, reconcile_ports, run_reconcile};
pub use route::{answer, run_route, serves};
pub use ticket_core::api::Handler;
pub use ticket_core::cancellation::CancellationStep;
pub use ticket_core::registration::Step;

/// Whether two strings are equal, at build time.
pub const fn same_str(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Names the step a saga-step binary runs, as `STEP`. A binary whose file name is not that
/// step's binary name does not build, so the function the state machine invokes for a step
/// runs that step.
#[macro_export]
macro_rules! step_binary {
    ($step:ident) => {
        const STEP: $crate::Step = $crate::Step::$step;
        const _: () = assert!(
            $crate::same_str(STEP.binary_name(), env!("CARGO_BIN_NAME")),
            "this binary's name is not the binary name of the step it runs"
        );
    };
}

/// JSON log lines (one object per event, fields at the top level) at `RUST_LOG`'s level,
/// `info` by default. CloudWatch keeps them with the invocation's request id, which the
/// runtime's span adds.
pub fn init_logging() {
    // Lossy: a typo in RUST_LOG drops that directive instead of silencing every log.
    let filter = EnvFilter::builder()
        .with_default_directive(LevelFilter::INFO.into())
        .from_env_lossy();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .json()
        .flatten_event(true)
        .with_span_list(false)
        .with_target(false)
        .init();
}

/// The AWS configuration of the Lambda (its role's credentials, its region). Load it once and
/// build every AWS adapter from it.
pub async fn aws_config() -> SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

/// The `main` of a saga step that needs the table only (most of them): `$body` runs each
/// invocation with the store (an `Arc<DynamoStore>`) and the payload bound to the names given.
/// Checked like [`step_binary!`].
#[macro_export]
macro_rules! table_step_main {
    ($step:ident, |$store:ident, $payload:ident| $body:expr) => {
        $crate::step_binary!($step);

        #[tokio::main]
        async fn main() -> Result<(), lambda_runtime::Error> {
            $crate::run_table_step(STEP, |$store, $payload| async move { $body.await }).await
        }
    };
}

/// Serves `step` with the table as its only port, built once per cold start.
pub async fn run_table_step<F, Fut, O>(step: Step, handler: F) -> Result<(), lambda_runtime::Error>
where
    F: Fn(Arc<DynamoStore>, StepPayload) -> Fut,
    Fut: Future<Output = Result<O, StepFailure>>,
    O: Serialize,
{
    let (config, aws) = cold_start().await;
    let store = Arc::new(config.store(&aws)?);
    run_step(step, move |payload| handler(store.clone(), payload)).await
}

/// What every binary does first: logging on, its environment read, the AWS configuration of
/// the Lambda (its role's credentials, its region) loaded. Build every adapter from these two.
pub async fn cold_start() -> (LambdaConfig, SdkConfig) {
    init_logging();
    (LambdaConfig::from_env(), aws_config().await)
}

/// The PDF renderer, warmed up (fonts parsed) during the cold start rather than in the first
/// invocation.
pub fn renderer() -> ticket_render::PdfRenderer {
    ticket_render::warm_up();
    ticket_render::PdfRenderer
}

/// Serves one registration step: each invocation's payload (the execution input plus what
/// earlier steps added) is parsed and handed to `handler`, whose output becomes the task's
/// result. A [`StepFailure`] becomes the Lambda error whose type Step Functions matches in its
/// `Retry` and `Catch` (`Ticketing.Transient`, ...).
pub async fn run_step<F, Fut, O>(step: Step, handler: F) -> Result<(), lambda_runtime::Error>
where
    F: Fn(StepPayload) -> Fut,
    Fut: Future<Output = Result<O, StepFailure>>,
    O: Serialize,
{
    let handler = &handler;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        handle(step, handler, event.payload)
    }))
    .await
}

async fn handle<F, Fut, O>(step: Step, handler: &F, payload: Value) -> Result<Value, Diagnostic>
where
    F: Fn(StepPayload) -> Fut,
    Fut: Future<Output = Result<O, StepFailure>>,
    O: Serialize,
{
    let state = step.state_name();
    let payload = StepPayload::parse(&payload).map_err(|failure| {
        tracing::error!(step = state, error = failure.error, cause = %failure.cause, "unreadable payload");
        diagnostic(failure)
    })?;
    let order = payload.request.order_id.clone();
    match handler(payload).await.and_then(output) {
        Ok(result) => {
            tracing::info!(step = state, order = %order, result = %result, "step done");
            Ok(result)
        }
        Err(failure) => {
            if failure.is_transient() {
                tracing::warn!(step = state, order = %order, error = failure.error, cause = %failure.cause, "step failed; worth a retry");
            } else {
                tracing::error!(step = state, order = %order, error = failure.error, cause = %failure.cause, "step failed");
            }
            Err(diagnostic(failure))
        }
    }
}

/// What Step Functions sees: the error name as the error type, the cause as the message.
pub(crate) fn diagnostic(failure: StepFailure) -> Diagnostic {
    Diagnostic {
        error_type: failure.error.to_owned(),
        error_message: failure.cause,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> Value {
        serde_json::json!({
            "orderId": "cs_test_1",
            "eventId": "00000000-0000-0000-0000-000000000001",
            "holdId": "00000000-0000-0000-0000-000000000002",
            "userId": "buyer",
            "amountMinor": 0,
            "currency": "EUR",
            "attendee": {"name": "Ada", "email": "ada@example.org"},
            "seat": {"holdStatus": "SOLD", "late": false}
        })
    }

    #[tokio::test]
    async fn a_step_failure_becomes_the_error_type_step_functions_matches() {
        let failing = |payload: StepPayload| async move {
            Err::<Value, _>(StepFailure::transient(format!(
                "store busy for {}",
                payload.request.order_id
            )))
        };
        let diagnostic = handle(Step::ConfirmSeat, &failing, request())
            .await
            .unwrap_err();
        assert_eq!(diagnostic.error_type, "Ticketing.Transient");
        assert_eq!(diagnostic.error_message, "store busy for cs_test_1");

        let unreadable = handle(Step::ConfirmSeat, &failing, serde_json::json!({"x": 1}))
            .await
            .unwrap_err();
        assert_eq!(unreadable.error_type, "Ticketing.Rejected");
    }

    #[tokio::test]
    async fn a_step_result_is_its_camel_case_json() {
        let done = |payload: StepPayload| async move {
            Ok(ticket_core::registration::Undone {
                reason: Some(payload.request.attendee.name),
                ..ticket_core::registration::Undone::new(
                    ticket_core::registration::Outcome::NothingToRelease,
                )
            })
        };
        let result = handle(Step::ReleaseSeat, &done, request()).await.unwrap();
        assert_eq!(
            result,
            serde_json::json!({"outcome": "nothing-to-release", "reason": "Ada"})
        );
    }

    #[test]
    fn every_step_has_its_binary() {
        // What each binary runs is checked when it builds (`step_binary!`).
        let bins = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/bin");
        for step in Step::ALL {
            let source = bins.join(format!("{}.rs", step.binary_name()));
            assert!(source.is_file(), "{step:?} needs {}", source.display());
        }
        assert!(same_str("confirm-seat", Step::ConfirmSeat.binary_name()));
        assert!(!same_str("confirm-seats", Step::ConfirmSeat.binary_name()));
    }

    /// Step Functions' `lambda:invoke` with `"Payload.$": "$"` hands the function the state's
    /// input as it is: the execution input (the registration request) plus the results the
    /// earlier states added. That is the payload [`handle`] reads, so each task must pass it so.
    #[tokio::test]
    async fn each_task_invokes_its_function_with_the_states_input_as_the_payload() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../statemachines/registration.asl.json"
        );
        let definition: Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        for step in Step::ALL {
            let state = &definition["States"][step.state_name()];
            assert_eq!(
                state["Resource"], "arn:aws:states:::lambda:invoke",
                "{step:?}"
            );
            assert_eq!(
                state["Parameters"],
                serde_json::json!({
                    "FunctionName": format!("${{{}}}", step.substitution()),
                    "Payload.$": "$",
                }),
                "{step:?}"
            );
        }
        // A compensation's input, as the state machine builds it: the request, the forward
        // results so far and the Catch's error.
        let mut payload = request();
        payload["ticket"] = serde_json::json!({"ticketId": "00000000-0000-0000-0000-000000000003"});
        payload["error"] = serde_json::json!({"Error": "Ticketing.Rejected", "Cause": "no"});
        let echo = |payload: StepPayload| async move {
            Ok::<_, StepFailure>(serde_json::json!({"order": payload.request.order_id}))
        };
        assert_eq!(
            handle(Step::VoidTicket, &echo, payload).await.unwrap(),
            serde_json::json!({"order": "cs_test_1"})
        );
    }
}
