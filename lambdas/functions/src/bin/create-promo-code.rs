//! The route POST /events/{id}/promo-codes: API Gateway's event to the route's handler in core.

ticket_functions::route_main!(CreatePromoCode);
