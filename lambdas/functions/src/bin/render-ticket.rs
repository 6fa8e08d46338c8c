//! RenderTicket: draws the PDF ticket with its signed QR code and stores it in the bucket.
//! Needs the table (read), the bucket (write) and the signing key (possibly from Secrets Manager).

use ticket_core::registration::render_ticket;

ticket_functions::step_binary!(RenderTicket);

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    ticket_functions::init_logging();
    let config = ticket_functions::aws_config().await;
    let store = &ticket_functions::store_from(&config)?;
    let files = &ticket_functions::files_from(&config)?;
    let signer = &ticket_functions::signer_from(&config).await?;
    let renderer = &ticket_functions::renderer();
    ticket_functions::run_step(STEP, move |payload| async move {
        render_ticket(store, files, renderer, signer, &payload.request).await
    })
    .await
}
