//! DeliverTicket: checks the ticket file is stored and marks the order FULFILLED. Needs the
//! table and the bucket (read).

use ticket_core::registration::deliver_ticket;
use ticket_core::{Clock, SystemClock};

ticket_functions::step_binary!(DeliverTicket);

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let (config, aws) = ticket_functions::cold_start().await;
    let store = &config.store(&aws)?;
    let files = &config.files(&aws)?;
    ticket_functions::run_step(STEP, move |payload| async move {
        deliver_ticket(store, files, &payload.request, SystemClock.now()).await
    })
    .await
}
