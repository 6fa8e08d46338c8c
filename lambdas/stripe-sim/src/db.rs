//! Where the simulated account lives: one SQLite file (WAL) in ticketd's data directory, so
//! sessions, payments, refunds, idempotency keys and the webhook outbox survive `kill -9`.
//! Every change runs in one `BEGIN IMMEDIATE` transaction with the outbox entries it causes.

use std::path::Path;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use rusqlite::types::Type;
use rusqlite::{Connection, Row, Transaction, TransactionBehavior};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Schema versions, applied in order; `PRAGMA user_version` records how many have run.
/// Append new migrations; never edit one that has shipped.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE sessions (
    id             TEXT PRIMARY KEY,
    created        INTEGER NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('open', 'complete', 'expired')),
    expires_at     INTEGER NOT NULL,
    -- The validated creation request (NewSession), JSON.
    request        TEXT NOT NULL,
    payment_intent TEXT UNIQUE,
    -- Who paid (Payer), JSON, once complete.
    payer          TEXT
);
CREATE INDEX open_sessions_by_expiry ON sessions (expires_at) WHERE status = 'open';

CREATE TABLE payment_intents (
    id             TEXT PRIMARY KEY,
    session_id     TEXT NOT NULL UNIQUE REFERENCES sessions (id),
    charge         TEXT NOT NULL UNIQUE,
    amount_minor   INTEGER NOT NULL,
    currency       TEXT NOT NULL,
    refunded_minor INTEGER NOT NULL DEFAULT 0,
    created        INTEGER NOT NULL,
    CHECK (0 <= refunded_minor AND refunded_minor <= amount_minor)
);

CREATE TABLE refunds (
    seq                 INTEGER PRIMARY KEY AUTOINCREMENT,
    id                  TEXT NOT NULL UNIQUE,
    payment_intent      TEXT NOT NULL REFERENCES payment_intents (id),
    charge              TEXT NOT NULL,
    balance_transaction TEXT NOT NULL,
    amount_minor        INTEGER NOT NULL,
    currency            TEXT NOT NULL,
    created             INTEGER NOT NULL,
    metadata            TEXT NOT NULL,
    reason              TEXT
);
CREATE INDEX refunds_by_payment_intent ON refunds (payment_intent, seq);

-- A key's first request and the answer to replay for it.
CREATE TABLE idempotency_keys (
    key      TEXT PRIMARY KEY,
    endpoint TEXT NOT NULL,
    params   TEXT NOT NULL,
    status   INTEGER NOT NULL,
    body     TEXT NOT NULL,
    saved_at INTEGER NOT NULL
);
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (saved_at);

-- Webhook events and how their delivery goes; times in unix ms of the simulator's clock.
CREATE TABLE outbox (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id        TEXT NOT NULL UNIQUE,
    event           TEXT NOT NULL,
    created_ms      INTEGER NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_attempt_ms INTEGER,
    next_attempt_ms INTEGER,
    last_status     INTEGER,
    last_error      TEXT,
    CHECK ((status = 'pending') = (next_attempt_ms IS NOT NULL))
);
CREATE INDEX outbox_due ON outbox (next_attempt_ms) WHERE status = 'pending';
CREATE INDEX outbox_by_age ON outbox (created_ms);
"#,
    r#"
-- Coupons (POST /v1/coupons): an amount off in one currency, or a percentage.
CREATE TABLE coupons (
    id              TEXT PRIMARY KEY,
    created         INTEGER NOT NULL,
    amount_off      INTEGER,
    currency        TEXT,
    percent_off     REAL,
    duration        TEXT NOT NULL,
    max_redemptions INTEGER,
    -- Completed sessions that used it.
    times_redeemed  INTEGER NOT NULL DEFAULT 0,
    name            TEXT,
    metadata        TEXT NOT NULL,
    CHECK ((amount_off IS NULL) <> (percent_off IS NULL)),
    CHECK ((amount_off IS NULL) = (currency IS NULL))
);

-- The discount a session was created with (SessionDiscount), JSON; fixed at creation.
ALTER TABLE sessions ADD COLUMN discount TEXT;
"#,
];

/// The simulator's connection; one transaction at a time.
pub struct Db {
    conn: Mutex<Connection>,
}

impl Db {
    /// Opens (or creates) the database file and brings its schema up to date.
    pub fn open(path: &Path) -> rusqlite::Result<Self> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // In WAL mode a commit survives the process being killed; only a power loss can take
        // back the last commits.
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        Self::init(conn)
    }

    /// A private database that lives as long as the simulator.
    pub fn in_memory() -> rusqlite::Result<Self> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(mut conn: Connection) -> rusqlite::Result<Self> {
        conn.busy_timeout(Duration::from_secs(5))?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        let applied: u32 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
        let applied = usize::try_from(applied).unwrap_or(usize::MAX);
        if applied > MIGRATIONS.len() {
            return Err(rusqlite::Error::FromSqlConversionFailure(
                0,
                Type::Integer,
                format!(
                    "schema version {applied} is newer than this ticketd knows ({})",
                    MIGRATIONS.len()
                )
                .into(),
            ));
        }
        for (index, migration) in MIGRATIONS.iter().enumerate().skip(applied) {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute_batch(migration)?;
            tx.pragma_update(
                None,
                "user_version",
                u32::try_from(index + 1).unwrap_or(u32::MAX),
            )?;
            tx.commit()?;
        }
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    /// Runs `work` in one immediate transaction: committed if it returns `Ok`, rolled back if
    /// it returns `Err`.
    pub fn transact<R, E: From<rusqlite::Error>>(
        &self,
        work: impl FnOnce(&Transaction<'_>) -> Result<R, E>,
    ) -> Result<R, E> {
        // A panic mid-transaction drops (rolls back) it: the connection stays usable.
        let mut conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let value = work(&tx)?;
        tx.commit()?;
        Ok(value)
    }

    /// Runs a read that needs no transaction (one statement sees one snapshot).
    pub fn read<R>(
        &self,
        work: impl FnOnce(&Connection) -> rusqlite::Result<R>,
    ) -> rusqlite::Result<R> {
        let conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        work(&conn)
    }
}

/// A value as a JSON column.
pub fn encode_json(value: &impl Serialize) -> String {
    serde_json::to_string(value).expect("the simulator's values serialise")
}

/// Column `index` of `row`, a JSON column, decoded.
pub fn decode_json<T: DeserializeOwned>(row: &Row<'_>, index: usize) -> rusqlite::Result<T> {
    let text: String = row.get(index)?;
    serde_json::from_str(&text)
        .map_err(|error| rusqlite::Error::FromSqlConversionFailure(index, Type::Text, error.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reopening_keeps_the_schema_and_the_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sim.sqlite3");
        let db = Db::open(&path).unwrap();
        db.transact(|tx| {
            tx.execute(
                "INSERT INTO idempotency_keys VALUES ('k', 'POST /v1/x', '[]', 200, '{}', 1)",
                [],
            )
        })
        .unwrap();
        drop(db);

        let db = Db::open(&path).unwrap();
        let count: i64 = db
            .read(|conn| conn.query_row("SELECT count(*) FROM idempotency_keys", [], |r| r.get(0)))
            .unwrap();
        assert_eq!(count, 1);
        let version: u32 = db
            .read(|conn| conn.pragma_query_value(None, "user_version", |row| row.get(0)))
            .unwrap();
        assert_eq!(version as usize, MIGRATIONS.len());
    }

    #[test]
    fn a_database_of_the_first_version_gains_coupons_and_keeps_its_sessions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sim.sqlite3");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(MIGRATIONS[0]).unwrap();
            conn.pragma_update(None, "user_version", 1u32).unwrap();
            conn.execute(
                "INSERT INTO sessions (id, created, status, expires_at, request)
                 VALUES ('cs_test_old', 1, 'open', 2, '{}')",
                [],
            )
            .unwrap();
        }

        let db = Db::open(&path).unwrap();

        let discount: Option<String> = db
            .read(|conn| {
                conn.query_row(
                    "SELECT discount FROM sessions WHERE id = 'cs_test_old'",
                    [],
                    |row| row.get(0),
                )
            })
            .unwrap();
        assert_eq!(discount, None);
        let coupons: i64 = db
            .read(|conn| conn.query_row("SELECT count(*) FROM coupons", [], |r| r.get(0)))
            .unwrap();
        assert_eq!(coupons, 0);
        let version: u32 = db
            .read(|conn| conn.pragma_query_value(None, "user_version", |row| row.get(0)))
            .unwrap();
        assert_eq!(version as usize, MIGRATIONS.len());
    }

    #[test]
    fn a_failed_transaction_leaves_nothing() {
        let db = Db::in_memory().unwrap();
        let failed: Result<(), rusqlite::Error> = db.transact(|tx| {
            tx.execute(
                "INSERT INTO idempotency_keys VALUES ('k', 'POST /v1/x', '[]', 200, '{}', 1)",
                [],
            )?;
            Err(rusqlite::Error::QueryReturnedNoRows)
        });
        assert!(failed.is_err());
        let count: i64 = db
            .read(|conn| conn.query_row("SELECT count(*) FROM idempotency_keys", [], |r| r.get(0)))
            .unwrap();
        assert_eq!(count, 0);
    }
}
