//! The load commands of `ticketd-bench`: seats sold per second by the store, registrations per
//! second through the saga, and a flash sale over HTTP through the whole of ticketd.

pub mod flash_sale;
pub mod registrations;
pub mod report;
pub mod seats;
