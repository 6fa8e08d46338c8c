//! FinishCancellation: marks the cancellation finished, or asks for another pass while an order is still being registered. Needs the table.

ticket_functions::cancellation_step_main!(FinishCancellation);
