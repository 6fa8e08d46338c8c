//! The scheduled reconciliation pass (EventBridge, every minute): expired holds go back, PENDING
//! orders are settled with Stripe. Needs the table, the Stripe key and the state machine.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    ticket_functions::run_reconcile().await
}
