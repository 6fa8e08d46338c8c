//! The route POST /events/{id}/unpublish: API Gateway's event to the route's handler in core.

ticket_functions::route_main!(UnpublishEvent);
