//! RemoveTicketFile (compensation): deletes the order's ticket file, if one was stored. Needs
//! the table (read) and the bucket (delete).

use ticket_core::registration::remove_ticket_file;

ticket_functions::step_binary!(RemoveTicketFile);

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let (config, aws) = ticket_functions::cold_start().await;
    let store = &config.store(&aws)?;
    let files = &config.files(&aws)?;
    ticket_functions::run_step(STEP, move |payload| async move {
        remove_ticket_file(store, files, &payload.request).await
    })
    .await
}
