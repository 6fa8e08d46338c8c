//! ReleaseSeat (compensation): gives the seat back, sold or held. Needs the table only.

use ticket_core::registration::release_seat;
use ticket_core::{Clock, SystemClock};

ticket_functions::step_binary!(ReleaseSeat);

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let (config, aws) = ticket_functions::cold_start().await;
    let store = &config.store(&aws)?;
    ticket_functions::run_step(STEP, move |payload| async move {
        release_seat(store, &payload.request, SystemClock.now()).await
    })
    .await
}
