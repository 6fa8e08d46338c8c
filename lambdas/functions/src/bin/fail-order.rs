//! FailOrder (compensation): closes the order as FAILED (or REFUNDED, if it had been
//! fulfilled) with a reason the buyer can read. Needs the table only.

use ticket_core::registration::fail_order;
use ticket_core::{Clock, SystemClock};

ticket_functions::table_step_main!(FailOrder, |store, payload| fail_order(
    &*store,
    &payload.request,
    payload.error.as_ref(),
    SystemClock.now()
));
