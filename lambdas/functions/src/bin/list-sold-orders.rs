//! ListSoldOrders: the next page (at most 1,000) of a cancelled event's sold orders. Needs the table.

ticket_functions::cancellation_step_main!(ListSoldOrders);
