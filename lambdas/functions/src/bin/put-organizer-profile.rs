//! The route PUT /me/organizer-profile: API Gateway's event to the route's handler in core.

ticket_functions::route_main!(PutOrganizerProfile);
