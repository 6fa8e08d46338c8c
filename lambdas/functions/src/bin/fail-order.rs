//! FailOrder (compensation): closes the order as FAILED (or REFUNDED, if it had been
//! fulfilled) with a reason the buyer can read. Needs the table only.

use ticket_core::registration::fail_order;
use ticket_core::{Clock, SystemClock};

ticket_functions::step_binary!(FailOrder);

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let (config, aws) = ticket_functions::cold_start().await;
    let store = &config.store(&aws)?;
    ticket_functions::run_step(STEP, move |payload| async move {
        fail_order(
            store,
            &payload.request,
            payload.error.as_ref(),
            SystemClock.now(),
        )
        .await
    })
    .await
}
