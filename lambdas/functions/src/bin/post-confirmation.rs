//! Cognito's post-confirmation trigger: every user who confirms their sign-up joins `attendee`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    ticket_functions::run_post_confirmation().await
}
