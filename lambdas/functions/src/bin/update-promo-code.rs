//! The route PATCH /events/{id}/promo-codes/{code}: API Gateway's event to the route's handler
//! in core.

ticket_functions::route_main!(UpdatePromoCode);
