//! The load commands of `ticketd-bench`: seats sold per second by the store, registrations per
//! second through the saga, a flash sale over HTTP through the whole of ticketd, and the refunds
//! of a cancelled event.

pub mod cancellation;
pub mod flash_sale;
pub mod registrations;
pub mod report;
pub mod seats;
