//! ConfirmSeat: opens the order and sells the held seat (or a free one, for a payment that
//! arrived after its hold expired). Needs the table only.

use ticket_core::registration::confirm_seat;
use ticket_core::{Clock, SystemClock};

ticket_functions::table_step_main!(ConfirmSeat, |store, payload| confirm_seat(
    &*store,
    &payload.request,
    SystemClock.now()
));
