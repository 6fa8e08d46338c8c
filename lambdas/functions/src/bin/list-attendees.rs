//! The route GET /events/{id}/attendees: API Gateway's event to the route's handler in core.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    ticket_functions::run_route("listAttendees").await
}
