//! VoidTicket (compensation): voids the order's ticket, if one was recorded. Needs the table
//! only.

use ticket_core::registration::void_ticket;

ticket_functions::step_binary!(VoidTicket);

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    ticket_functions::init_logging();
    let store = &ticket_functions::store_from_env().await?;
    ticket_functions::run_step(STEP, move |payload| async move {
        void_ticket(store, &payload.request).await
    })
    .await
}
