//! `ticketd`: the whole ticketing system on one machine. Embedded adapters (SQLite store) and
//! the HTTP server that serves the site and the API.

pub mod bench;
pub mod files;
pub mod keys;
pub mod logging;
pub mod server;
pub mod sqlite;

pub use sqlite::SqliteStore;
