//! The on-machine adapters of the core ports: the SQLite [`Store`](ticket_core::Store) and the
//! directory of ticket files with signed download links.

pub mod files;
pub mod sqlite;

pub use files::LocalFiles;
pub use sqlite::SqliteStore;
