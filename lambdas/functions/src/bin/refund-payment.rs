//! RefundPayment (compensation): refunds the payment once per order. Needs Stripe only (its
//! key, possibly from Secrets Manager), no table and no bucket.

use ticket_core::registration::refund_payment;

ticket_functions::step_binary!(RefundPayment);

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    ticket_functions::init_logging();
    let config = ticket_functions::aws_config().await;
    let payments = &ticket_functions::payments_from(&config).await?;
    ticket_functions::run_step(STEP, move |payload| async move {
        refund_payment(payments, &payload.request).await
    })
    .await
}
