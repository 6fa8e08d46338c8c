//! The route PUT /events/{id}: API Gateway's event to the route's handler in core.

ticket_functions::route_main!(UpdateEvent);
