//! ConfirmSeat: opens the order and sells the held seat (or a free one, for a payment that
//! arrived after its hold expired). Needs the table only.

use ticket_core::registration::confirm_seat;
use ticket_core::{Clock, SystemClock};

ticket_functions::step_binary!(ConfirmSeat);

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let (config, aws) = ticket_functions::cold_start().await;
    let store = &config.store(&aws)?;
    ticket_functions::run_step(STEP, move |payload| async move {
        confirm_seat(store, &payload.request, SystemClock.now()).await
    })
    .await
}
