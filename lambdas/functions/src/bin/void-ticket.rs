//! VoidTicket (compensation): voids the order's ticket, if one was recorded. Needs the table
//! only.

use ticket_core::registration::void_ticket;

ticket_functions::step_binary!(VoidTicket);

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let (config, aws) = ticket_functions::cold_start().await;
    let store = &config.store(&aws)?;
    ticket_functions::run_step(STEP, move |payload| async move {
        void_ticket(store, &payload.request).await
    })
    .await
}
