//! RecordTicket: records the order's registration and ticket, once per order. Needs the table
//! only.

use ticket_core::registration::record_ticket;
use ticket_core::{Clock, RandomIds, SystemClock};

ticket_functions::table_step_main!(RecordTicket, |store, payload| record_ticket(
    &*store,
    &RandomIds,
    &payload.request,
    SystemClock.now()
));
