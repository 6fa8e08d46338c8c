//! `ticketd`: the whole ticketing system on one machine. The composition root that assembles
//! the local services and adapters, the HTTP server of the site and the API, and the CLI.

pub mod admin;
pub mod app;
pub mod aws_api;
pub mod cancellation;
pub mod executions;
pub mod gateway;
pub mod keys;
pub mod lambda;
pub mod logging;
pub mod reconciler;
pub mod registration;
pub mod server;
pub mod steps;
