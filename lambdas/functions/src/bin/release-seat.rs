//! ReleaseSeat (compensation): gives the seat back, sold or held. Needs the table only.

use ticket_core::registration::release_seat;
use ticket_core::{Clock, SystemClock};

ticket_functions::table_step_main!(ReleaseSeat, |store, payload| release_seat(
    &*store,
    &payload.request,
    SystemClock.now()
));
