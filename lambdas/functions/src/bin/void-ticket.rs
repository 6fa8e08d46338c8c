//! VoidTicket (compensation): voids the order's ticket, if one was recorded. Needs the table
//! only.

use ticket_core::registration::void_ticket;

ticket_functions::table_step_main!(VoidTicket, |store, payload| void_ticket(
    &*store,
    &payload.request
));
