//! RefundPayment (compensation): refunds the payment once per order. Needs Stripe only (its
//! key, possibly from Secrets Manager), no table and no bucket.

use ticket_core::registration::refund_payment;

ticket_functions::step_binary!(RefundPayment);

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let (config, aws) = ticket_functions::cold_start().await;
    let payments = &config.payments(&aws).await?;
    ticket_functions::run_step(STEP, move |payload| async move {
        refund_payment(payments, &payload.request).await
    })
    .await
}
