//! RecordTicket: records the order's registration and ticket, once per order. Needs the table
//! only.

use ticket_core::registration::record_ticket;
use ticket_core::{Clock, RandomIds, SystemClock};

ticket_functions::step_binary!(RecordTicket);

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    ticket_functions::init_logging();
    let store = &ticket_functions::store_from_env().await?;
    ticket_functions::run_step(STEP, move |payload| async move {
        record_ticket(store, &RandomIds, &payload.request, SystemClock.now()).await
    })
    .await
}
