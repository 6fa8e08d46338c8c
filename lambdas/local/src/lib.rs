//! `ticketd`: the whole ticketing system on one machine. Embedded adapters (SQLite store) and
//! the HTTP server that serves the site and the API.

pub mod admin;
pub mod app;
pub mod bench;
pub mod executions;
pub mod files;
pub mod flash_sale;
pub mod gateway;
pub mod keys;
pub mod logging;
pub mod reconciler;
pub mod registration;
pub mod saga_bench;
pub mod server;
pub mod sqlite;

pub use sqlite::SqliteStore;
