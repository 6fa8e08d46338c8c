//! DeliverTicket: checks the ticket file is stored and marks the order FULFILLED. Needs the
//! table and the bucket (read).

use ticket_core::registration::deliver_ticket;
use ticket_core::{Clock, SystemClock};

ticket_functions::step_binary!(DeliverTicket);

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    ticket_functions::init_logging();
    let config = ticket_functions::aws_config().await;
    let store = &ticket_functions::store_from(&config)?;
    let files = &ticket_functions::files_from(&config)?;
    ticket_functions::run_step(STEP, move |payload| async move {
        deliver_ticket(store, files, &payload.request, SystemClock.now()).await
    })
    .await
}
