//! RecordRefundFailure: lists an order whose refund kept failing, with the reason, for the organizer. Needs the table.

ticket_functions::cancellation_step_main!(RecordRefundFailure);
