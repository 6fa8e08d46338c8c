//! The route GET /me/tickets: API Gateway's event to the route's handler in core.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    ticket_functions::run_route("listMyTickets").await
}
