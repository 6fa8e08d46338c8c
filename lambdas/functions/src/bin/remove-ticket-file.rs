//! RemoveTicketFile (compensation): deletes the order's ticket file, if one was stored. Needs
//! the table (read) and the bucket (delete).

use ticket_core::registration::remove_ticket_file;

ticket_functions::step_binary!(RemoveTicketFile);

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    ticket_functions::init_logging();
    let config = ticket_functions::aws_config().await;
    let store = &ticket_functions::store_from(&config)?;
    let files = &ticket_functions::files_from(&config)?;
    ticket_functions::run_step(STEP, move |payload| async move {
        remove_ticket_file(store, files, &payload.request).await
    })
    .await
}
