//! RecordTicket: records the order's registration and ticket, once per order. Needs the table
//! only.

use ticket_core::registration::record_ticket;
use ticket_core::{Clock, RandomIds, SystemClock};

ticket_functions::step_binary!(RecordTicket);

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let (config, aws) = ticket_functions::cold_start().await;
    let store = &config.store(&aws)?;
    ticket_functions::run_step(STEP, move |payload| async move {
        record_ticket(store, &RandomIds, &payload.request, SystemClock.now()).await
    })
    .await
}
