//! The route GET /events/{id}/attendees: API Gateway's event to the route's handler in core.

ticket_functions::route_main!(EventAttendees);
