//! RenderTicket: draws the PDF ticket with its signed QR code and stores it in the bucket.
//! Needs the table (read), the bucket (write) and the signing key (possibly from Secrets Manager).

use ticket_core::registration::render_ticket;

ticket_functions::step_binary!(RenderTicket);

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let (config, aws) = ticket_functions::cold_start().await;
    let store = &config.store(&aws)?;
    let files = &config.files(&aws)?;
    let signer = &config.signer(&aws).await?;
    let renderer = &ticket_functions::renderer();
    ticket_functions::run_step(STEP, move |payload| async move {
        render_ticket(store, files, renderer, signer, &payload.request).await
    })
    .await
}
