//! RefundCancelledOrder: refunds one order of a cancelled event (tickets void, seats back, the payment back once). Needs the table and Stripe.

ticket_functions::cancellation_step_main!(RefundCancelledOrder);
