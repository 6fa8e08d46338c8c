//! The route POST /events/{id}/cancel: API Gateway's event to the route's handler in core.

ticket_functions::route_main!(CancelEvent);
