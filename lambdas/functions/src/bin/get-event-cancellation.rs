//! The route GET /events/{id}/cancellation: API Gateway's event to the route's handler in core.

ticket_functions::route_main!(EventCancellation);
