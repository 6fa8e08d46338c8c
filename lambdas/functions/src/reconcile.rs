//! The scheduled reconciliation Lambda: each invocation (an EventBridge tick, its payload
//! unused) runs one pass of [`ticket_core::reconcile::reconcile`] over the table, Stripe and the
//! registration state machine, logs what it did and returns that report as JSON.

use std::sync::Arc;

use aws_config::SdkConfig;
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde_json::Value;
use ticket_core::SystemClock;
use ticket_core::reconcile::{ReconcilePorts, reconcile};

use crate::{ConfigError, LambdaConfig};

/// The error type of a pass that could not read its indexes (the function's Errors metric, and
/// the CDK app's alarm on it, count these).
pub const PASS_FAILED: &str = "Ticketing.ReconcileFailed";

/// Builds the ports once per cold start, then runs one pass per invocation.
pub async fn run_reconcile() -> Result<(), lambda_runtime::Error> {
    let (config, aws) = crate::cold_start().await;
    let ports = &reconcile_ports(&config, &aws).await?;
    lambda_runtime::run(service_fn(move |_tick: LambdaEvent<Value>| pass(ports))).await
}

/// The table, Stripe and the state machine.
pub async fn reconcile_ports(
    config: &LambdaConfig,
    aws: &SdkConfig,
) -> Result<ReconcilePorts, ConfigError> {
    Ok(ReconcilePorts {
        store: Arc::new(config.store(aws)?),
        payments: Arc::new(config.payments(aws).await?),
        workflow: Arc::new(config.workflow(aws)?),
        clock: Arc::new(SystemClock),
    })
}

/// One pass: its report as JSON, or the store error that stopped it.
pub async fn pass(ports: &ReconcilePorts) -> Result<Value, Diagnostic> {
    match reconcile(ports).await {
        Ok(report) => {
            if report.errors.is_empty() {
                tracing::info!(report = %report, "reconcile pass done");
            } else {
                tracing::warn!(report = %report, errors = ?report.errors, "reconcile pass done; some items wait for the next pass");
            }
            serde_json::to_value(&report).map_err(|error| Diagnostic {
                error_type: PASS_FAILED.to_owned(),
                error_message: format!("the pass report is not JSON: {error}"),
            })
        }
        Err(error) => {
            tracing::error!(%error, "reconcile pass failed");
            Err(Diagnostic {
                error_type: PASS_FAILED.to_owned(),
                error_message: error.to_string(),
            })
        }
    }
}
