//! The embedded `Store`: one SQLite file (WAL) in ticketd's data directory.
//!
//! Every operation runs in one `BEGIN IMMEDIATE` transaction, which takes SQLite's write lock
//! up front: the checks and writes of an operation see no interleaving writer, so seats cannot
//! be oversold and a ticket cannot be admitted twice.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::path::Path;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::types::{Type, ValueRef};
use rusqlite::{
    Connection, ErrorCode, OptionalExtension, Row, Transaction, TransactionBehavior, params,
};
use ticket_core::cancellation::CancellationFailure;
use ticket_core::event::{Cancellation, Visibility};
use ticket_core::page::{decode_cursor, encode_cursor};
use ticket_core::time::{from_key, to_key};
use ticket_core::{
    Attendee, Discount, Event, EventId, EventUpdate, EventView, FIRST_ORDER_CHECK, Hold, HoldId,
    HoldStatus, Money, NewHold, NewTickets, Order, OrderId, OrderStatus, OrganizerProfile, Page,
    PageRequest, PromoCode, PromoCodeView, Recorded, Redemption, ReleaseOutcome, ReleaseScope,
    SeatCounts, Seats, Store, StoreError, Ticket, TicketId, TicketStatus, TicketType, UserId,
};

/// Schema versions, applied in order; `PRAGMA user_version` records how many have run.
/// Append new migrations; never edit one that has shipped.
pub const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE events (
    id           TEXT PRIMARY KEY,
    organizer_id TEXT NOT NULL,
    title        TEXT NOT NULL,
    description  TEXT NOT NULL,
    venue        TEXT NOT NULL,
    starts_at    TEXT NOT NULL,
    capacity     INTEGER NOT NULL CHECK (capacity > 0),
    price_minor  INTEGER NOT NULL CHECK (price_minor >= 0),
    currency     TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    taken        INTEGER NOT NULL DEFAULT 0,
    sold         INTEGER NOT NULL DEFAULT 0,
    checked_in   INTEGER NOT NULL DEFAULT 0,
    CHECK (0 <= sold AND sold <= taken AND taken <= capacity)
);
CREATE INDEX events_by_organizer ON events (organizer_id, starts_at, id);
CREATE INDEX events_by_start ON events (starts_at, id);

CREATE TABLE holds (
    id         TEXT PRIMARY KEY,
    event_id   TEXT NOT NULL REFERENCES events (id),
    user_id    TEXT NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('HELD', 'SOLD', 'RELEASED')),
    expires_at TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE orders (
    id                TEXT PRIMARY KEY,
    event_id          TEXT NOT NULL,
    hold_id           TEXT NOT NULL,
    user_id           TEXT NOT NULL,
    payment_intent_id TEXT,
    amount_minor      INTEGER NOT NULL,
    currency          TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('PENDING', 'FULFILLED', 'FAILED', 'REFUNDED')),
    ticket_id         TEXT UNIQUE,
    failure_reason    TEXT,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL
);

-- A ticket row is also its registration: one attendee, one ticket.
CREATE TABLE tickets (
    id              TEXT PRIMARY KEY,
    event_id        TEXT NOT NULL REFERENCES events (id),
    order_id        TEXT NOT NULL UNIQUE REFERENCES orders (id),
    registration_id TEXT NOT NULL UNIQUE,
    user_id         TEXT NOT NULL,
    attendee_name   TEXT NOT NULL,
    attendee_email  TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('VALID', 'USED', 'VOID')),
    used_at         TEXT,
    used_by         TEXT,
    pdf_key         TEXT,
    created_at      TEXT NOT NULL
);
CREATE INDEX tickets_by_user ON tickets (user_id, created_at, id);
CREATE INDEX tickets_by_event ON tickets (event_id, registration_id);
"#,
    r#"
-- Reconciliation: orders close as EXPIRED; a pending order carries when it is next checked
-- (`check_after`), a hold the order that took it over (`order_id`). Both indexes are partial,
-- so they hold only what a pass may have to act on.
CREATE TABLE orders_v2 (
    id                TEXT PRIMARY KEY,
    event_id          TEXT NOT NULL,
    hold_id           TEXT NOT NULL,
    user_id           TEXT NOT NULL,
    payment_intent_id TEXT,
    amount_minor      INTEGER NOT NULL,
    currency          TEXT NOT NULL,
    status            TEXT NOT NULL
                      CHECK (status IN ('PENDING', 'FULFILLED', 'FAILED', 'REFUNDED', 'EXPIRED')),
    ticket_id         TEXT UNIQUE,
    failure_reason    TEXT,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    check_after       TEXT CHECK (check_after IS NULL OR status = 'PENDING')
);
INSERT INTO orders_v2
    SELECT *, CASE WHEN status = 'PENDING' THEN created_at END FROM orders;
DROP TABLE orders;
ALTER TABLE orders_v2 RENAME TO orders;
CREATE INDEX orders_due ON orders (check_after, id) WHERE check_after IS NOT NULL;

ALTER TABLE holds ADD COLUMN order_id TEXT;
UPDATE holds SET order_id = (SELECT id FROM orders WHERE orders.hold_id = holds.id LIMIT 1);
CREATE INDEX holds_expiring ON holds (expires_at, id) WHERE status = 'HELD' AND order_id IS NULL;
"#,
    r#"
-- Ticket types, each with its own counters under the event's. Every event made before them
-- becomes one type named by the event's own id, carrying its price, capacity and counts; its
-- holds and tickets are of that type. `events.price_minor` is kept as the lowest price.
CREATE TABLE ticket_types (
    event_id      TEXT NOT NULL REFERENCES events (id),
    id            TEXT NOT NULL,
    position      INTEGER NOT NULL,
    name          TEXT NOT NULL,
    description   TEXT NOT NULL,
    price_minor   INTEGER NOT NULL CHECK (price_minor >= 0),
    quota         INTEGER NOT NULL CHECK (quota > 0),
    sales_start   TEXT,
    sales_end     TEXT,
    max_per_order INTEGER NOT NULL CHECK (max_per_order > 0),
    taken         INTEGER NOT NULL DEFAULT 0,
    sold          INTEGER NOT NULL DEFAULT 0,
    checked_in    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (event_id, id),
    CHECK (0 <= sold AND sold <= taken AND taken <= quota)
);
INSERT INTO ticket_types
    SELECT id, id, 0, 'General admission', '', price_minor, capacity, NULL, NULL, 10,
           taken, sold, checked_in
    FROM events;
ALTER TABLE holds ADD COLUMN ticket_type_id TEXT NOT NULL DEFAULT '';
UPDATE holds SET ticket_type_id = event_id;
ALTER TABLE tickets ADD COLUMN ticket_type_id TEXT NOT NULL DEFAULT '';
UPDATE tickets SET ticket_type_id = event_id;
"#,
    r#"
-- Holds of several seats: a hold's seats as JSON, `{"<type id>": <count>, ...}`. A hold made
-- before keeps NULL and is one seat of its `ticket_type_id` (which a new hold sets to its
-- first type).
ALTER TABLE holds ADD COLUMN seats TEXT;
"#,
    r#"
-- Orders of several tickets: an order's tickets as a JSON array of ids in the buyer's order;
-- `ticket_id` stays its first.
ALTER TABLE orders ADD COLUMN ticket_ids TEXT;
UPDATE orders SET ticket_ids = json_array(ticket_id) WHERE ticket_id IS NOT NULL;
-- An order has several tickets now: `tickets.order_id` loses its UNIQUE (which SQLite can only
-- drop by rebuilding the table) and gets a plain index.
CREATE TABLE tickets_v2 (
    id              TEXT PRIMARY KEY,
    event_id        TEXT NOT NULL REFERENCES events (id),
    order_id        TEXT NOT NULL REFERENCES orders (id),
    registration_id TEXT NOT NULL UNIQUE,
    user_id         TEXT NOT NULL,
    attendee_name   TEXT NOT NULL,
    attendee_email  TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('VALID', 'USED', 'VOID')),
    used_at         TEXT,
    used_by         TEXT,
    pdf_key         TEXT,
    created_at      TEXT NOT NULL,
    ticket_type_id  TEXT NOT NULL DEFAULT ''
);
INSERT INTO tickets_v2 SELECT * FROM tickets;
DROP TABLE tickets;
ALTER TABLE tickets_v2 RENAME TO tickets;
CREATE INDEX tickets_by_user ON tickets (user_id, created_at, id);
CREATE INDEX tickets_by_event ON tickets (event_id, registration_id);
CREATE INDEX tickets_by_order ON tickets (order_id);
"#,
    r#"
-- Promo codes: one row per event and code, `used` counting the orders that hold or bought with
-- it; the CHECK refuses a use beyond `max_uses`. A hold names the code it used.
CREATE TABLE promo_codes (
    event_id         TEXT NOT NULL REFERENCES events (id),
    code             TEXT NOT NULL,
    percent_off      INTEGER CHECK (percent_off BETWEEN 1 AND 100),
    amount_off_minor INTEGER CHECK (amount_off_minor > 0),
    ticket_type_ids  TEXT NOT NULL,
    max_uses         INTEGER NOT NULL CHECK (max_uses > 0),
    used             INTEGER NOT NULL DEFAULT 0 CHECK (used BETWEEN 0 AND max_uses),
    valid_from       TEXT,
    valid_until      TEXT,
    created_at       TEXT NOT NULL,
    PRIMARY KEY (event_id, code),
    CHECK ((percent_off IS NULL) <> (amount_off_minor IS NULL))
);
ALTER TABLE holds ADD COLUMN promo_code TEXT;
"#,
    r#"
-- Events change after they are made: `version` counts the edits, and an edit or a hold names
-- the version it was judged against.
ALTER TABLE events ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
"#,
    r#"
-- Organizers' public profiles: the name on their tickets and event pages, and a contact.
CREATE TABLE organizers (
    user_id       TEXT PRIMARY KEY,
    display_name  TEXT NOT NULL,
    contact_email TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
"#,
    r#"
-- Venue time zones (IANA names) and end times. Existing events are shown in UTC, as before.
ALTER TABLE events ADD COLUMN time_zone TEXT NOT NULL DEFAULT 'UTC';
ALTER TABLE events ADD COLUMN ends_at TEXT;
"#,
    r#"
-- Refunds an organizer asks for: an order is REFUNDING until its refund is done, and due for
-- checks meanwhile (a pass finishes a refund cut short). SQLite changes a CHECK only by
-- rebuilding the table; the columns keep their order.
CREATE TABLE orders_v3 (
    id                TEXT PRIMARY KEY,
    event_id          TEXT NOT NULL,
    hold_id           TEXT NOT NULL,
    user_id           TEXT NOT NULL,
    payment_intent_id TEXT,
    amount_minor      INTEGER NOT NULL,
    currency          TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN
                      ('PENDING', 'FULFILLED', 'FAILED', 'REFUNDING', 'REFUNDED', 'EXPIRED')),
    ticket_id         TEXT UNIQUE,
    failure_reason    TEXT,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    check_after       TEXT CHECK (check_after IS NULL OR status IN ('PENDING', 'REFUNDING')),
    ticket_ids        TEXT
);
INSERT INTO orders_v3 SELECT * FROM orders;
DROP TABLE orders;
ALTER TABLE orders_v3 RENAME TO orders;
CREATE INDEX orders_due ON orders (check_after, id) WHERE check_after IS NOT NULL;
"#,
    r#"
-- Buyers cancelling their own orders, until so many hours before the start; NULL: they cannot.
ALTER TABLE events ADD COLUMN cancellation_cutoff_hours INTEGER
    CHECK (cancellation_cutoff_hours >= 0);
"#,
    r#"
-- Cancelled events: when the organizer cancelled, the tickets sold then, when every order was
-- refunded or listed as a failure; the orders whose refund failed; the sold holds a
-- cancellation pages through.
ALTER TABLE events ADD COLUMN cancelled_at TEXT;
ALTER TABLE events ADD COLUMN sold_when_cancelled INTEGER;
ALTER TABLE events ADD COLUMN cancellation_finished_at TEXT;
CREATE TABLE cancellation_failures (
    event_id TEXT NOT NULL REFERENCES events (id),
    order_id TEXT NOT NULL,
    reason   TEXT NOT NULL,
    at       TEXT NOT NULL,
    PRIMARY KEY (event_id, order_id)
) WITHOUT ROWID;
CREATE INDEX holds_sold ON holds (event_id, id) WHERE status = 'SOLD' AND order_id IS NOT NULL;
CREATE INDEX events_cancelling ON events (cancelled_at, id)
    WHERE cancelled_at IS NOT NULL AND cancellation_finished_at IS NULL;
"#,
    r#"
-- Drafts and published events: every event before this was on sale, so it stays published;
-- new ones start as drafts. The upcoming listing reads published events only.
ALTER TABLE events ADD COLUMN visibility TEXT NOT NULL DEFAULT 'PUBLISHED'
    CHECK (visibility IN ('DRAFT', 'PUBLISHED', 'UNPUBLISHED'));
DROP INDEX events_by_start;
CREATE INDEX events_published_by_start ON events (starts_at, id) WHERE visibility = 'PUBLISHED';
"#,
];

const EVENT_COLUMNS: &str = "id, organizer_id, title, description, venue, starts_at, capacity, \
     price_minor, currency, created_at, taken, sold, checked_in, version, time_zone, ends_at, \
     cancellation_cutoff_hours, cancelled_at, sold_when_cancelled, cancellation_finished_at, \
     visibility";
const TYPE_COLUMNS: &str = "id, name, description, price_minor, quota, sales_start, sales_end, \
     max_per_order, taken, sold, checked_in";
const HOLD_COLUMNS: &str =
    "id, event_id, user_id, status, expires_at, created_at, ticket_type_id, seats, promo_code";
const PROMO_COLUMNS: &str = "event_id, code, percent_off, amount_off_minor, ticket_type_ids, \
     max_uses, used, valid_from, valid_until, created_at";
const ORDER_COLUMNS: &str = "id, event_id, hold_id, user_id, payment_intent_id, amount_minor, \
     currency, status, ticket_id, failure_reason, created_at, updated_at, ticket_ids";
const TICKET_COLUMNS: &str = "id, event_id, order_id, registration_id, user_id, attendee_name, \
     attendee_email, status, used_at, used_by, pdf_key, created_at, ticket_type_id";

pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
}

impl SqliteStore {
    /// Opens (or creates) the database file and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path).map_err(store_error)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(store_error)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(store_error)?;
        Self::init(conn)
    }

    /// A private database that lives as long as the store (for tests and benchmarks).
    pub fn open_in_memory() -> Result<Self, StoreError> {
        Self::init(Connection::open_in_memory().map_err(store_error)?)
    }

    fn init(mut conn: Connection) -> Result<Self, StoreError> {
        conn.busy_timeout(Duration::from_secs(5))
            .map_err(store_error)?;
        migrate(&mut conn)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<u32, StoreError> {
        let conn = self.conn.lock().expect("sqlite connection lock");
        conn.pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(store_error)
    }

    /// Runs `work` in one immediate transaction, committing on success.
    async fn write<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        self.with_connection(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(store_error)?;
            let value = work(&tx)?;
            tx.commit().map_err(store_error)?;
            Ok(value)
        })
        .await
    }

    /// Runs a read that needs no transaction (one statement sees one snapshot).
    async fn read<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.with_connection(move |conn| work(conn)).await
    }

    /// SQLite calls block, so they run on tokio's blocking pool.
    async fn with_connection<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || work(&mut conn.lock().expect("sqlite connection lock")))
            .await
            .map_err(|error| StoreError::Internal(format!("sqlite task failed: {error}")))?
    }
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    // A migration may rebuild a table others refer to: SQLite's documented way is with
    // foreign keys off, checking them before the commit.
    conn.pragma_update(None, "foreign_keys", "OFF")
        .map_err(store_error)?;
    migrate_schema(conn)?;
    conn.pragma_update(None, "foreign_keys", "ON")
        .map_err(store_error)
}

fn migrate_schema(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(store_error)?;
    let version: u32 = tx
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(store_error)?;
    let version = version as usize;
    if version > MIGRATIONS.len() {
        return Err(StoreError::Internal(format!(
            "the database has schema version {version}, newer than this ticketd knows ({})",
            MIGRATIONS.len()
        )));
    }
    for migration in &MIGRATIONS[version..] {
        tx.execute_batch(migration).map_err(store_error)?;
    }
    let broken: Option<String> = tx
        .query_row("PRAGMA foreign_key_check", [], |row| row.get(0))
        .optional()
        .map_err(store_error)?;
    if let Some(table) = broken {
        return Err(StoreError::Internal(format!(
            "migrating left a broken reference in table {table}"
        )));
    }
    tx.pragma_update(None, "user_version", MIGRATIONS.len() as u32)
        .map_err(store_error)?;
    tx.commit().map_err(store_error)
}

fn store_error(error: rusqlite::Error) -> StoreError {
    match error.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
            StoreError::Unavailable(error.to_string())
        }
        _ => StoreError::Internal(error.to_string()),
    }
}

fn is_unique_violation(error: &rusqlite::Error) -> bool {
    error.sqlite_error_code() == Some(ErrorCode::ConstraintViolation)
}

// ---- row mapping -------------------------------------------------------------------------

fn parsed<T>(row: &Row<'_>, index: usize) -> rusqlite::Result<T>
where
    T: FromStr,
    T::Err: Display,
{
    let text: String = row.get(index)?;
    text.parse().map_err(|error: T::Err| {
        rusqlite::Error::FromSqlConversionFailure(index, Type::Text, error.to_string().into())
    })
}

fn instant(row: &Row<'_>, index: usize) -> rusqlite::Result<DateTime<Utc>> {
    let text: String = row.get(index)?;
    from_key(&text).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(index, Type::Text, "bad timestamp".into())
    })
}

fn optional_instant(row: &Row<'_>, index: usize) -> rusqlite::Result<Option<DateTime<Utc>>> {
    let text: Option<String> = row.get(index)?;
    text.map(|_| instant(row, index)).transpose()
}

fn event_view(row: &Row<'_>) -> rusqlite::Result<EventView> {
    Ok(EventView {
        event: Event {
            id: parsed(row, 0)?,
            organizer_id: UserId::from(row.get::<_, String>(1)?),
            title: row.get(2)?,
            description: row.get(3)?,
            venue: row.get(4)?,
            starts_at: instant(row, 5)?,
            ends_at: optional_instant(row, 15)?,
            time_zone: parsed(row, 14)?,
            cancellation_cutoff_hours: row.get(16)?,
            capacity: row.get(6)?,
            currency: parsed(row, 8)?,
            // Read from their own table by `with_types`.
            ticket_types: Vec::new(),
            created_at: instant(row, 9)?,
        },
        version: row.get(13)?,
        seats: SeatCounts {
            taken: row.get(10)?,
            sold: row.get(11)?,
            checked_in: row.get(12)?,
        },
        type_seats: BTreeMap::new(),
        cancellation: match optional_instant(row, 17)? {
            Some(requested_at) => Some(Cancellation {
                requested_at,
                sold_then: row.get(18)?,
                finished_at: optional_instant(row, 19)?,
            }),
            None => None,
        },
        visibility: parsed(row, 20)?,
    })
}

fn ticket_type(row: &Row<'_>) -> rusqlite::Result<(TicketType, SeatCounts)> {
    Ok((
        TicketType {
            id: parsed(row, 0)?,
            name: row.get(1)?,
            description: row.get(2)?,
            price_minor: row.get(3)?,
            quota: row.get(4)?,
            sales_start: optional_instant(row, 5)?,
            sales_end: optional_instant(row, 6)?,
            max_per_order: row.get(7)?,
        },
        SeatCounts {
            taken: row.get(8)?,
            sold: row.get(9)?,
            checked_in: row.get(10)?,
        },
    ))
}

/// The event with its ticket types and their counters.
fn with_types(conn: &Connection, mut view: EventView) -> Result<EventView, StoreError> {
    let types = rows_of(
        conn,
        &format!("SELECT {TYPE_COLUMNS} FROM ticket_types WHERE event_id = ?1 ORDER BY position"),
        [view.event.id.to_string()],
        ticket_type,
    )?;
    for (ticket_type, counts) in types {
        view.type_seats.insert(ticket_type.id, counts);
        view.event.ticket_types.push(ticket_type);
    }
    Ok(view)
}

fn with_types_all(conn: &Connection, page: Page<EventView>) -> Result<Page<EventView>, StoreError> {
    Ok(Page {
        items: page
            .items
            .into_iter()
            .map(|view| with_types(conn, view))
            .collect::<Result<_, _>>()?,
        next_cursor: page.next_cursor,
    })
}

fn hold(row: &Row<'_>) -> rusqlite::Result<Hold> {
    Ok(Hold {
        id: parsed(row, 0)?,
        event_id: parsed(row, 1)?,
        user_id: UserId::from(row.get::<_, String>(2)?),
        status: parsed(row, 3)?,
        expires_at: instant(row, 4)?,
        created_at: instant(row, 5)?,
        seats: match row.get::<_, Option<String>>(7)? {
            None => Seats::one(parsed(row, 6)?),
            Some(json) => serde_json::from_str(&json).map_err(|error| {
                rusqlite::Error::FromSqlConversionFailure(7, Type::Text, error.into())
            })?,
        },
        promo_code: row.get(8)?,
    })
}

fn promo_code(row: &Row<'_>) -> rusqlite::Result<PromoCodeView> {
    let discount = match (row.get::<_, Option<u32>>(2)?, row.get::<_, Option<i64>>(3)?) {
        (Some(percent), _) => Discount::Percent(percent),
        (None, Some(amount)) => Discount::AmountOff(amount),
        (None, None) => {
            return Err(rusqlite::Error::FromSqlConversionFailure(
                2,
                Type::Null,
                "a promo code without a discount".into(),
            ));
        }
    };
    let types: String = row.get(4)?;
    Ok(PromoCodeView {
        promo: PromoCode {
            event_id: parsed(row, 0)?,
            code: row.get(1)?,
            discount,
            ticket_type_ids: serde_json::from_str(&types).map_err(|error| {
                rusqlite::Error::FromSqlConversionFailure(4, Type::Text, error.into())
            })?,
            max_uses: row.get(5)?,
            valid_from: optional_instant(row, 7)?,
            valid_until: optional_instant(row, 8)?,
            created_at: instant(row, 9)?,
        },
        used: row.get(6)?,
    })
}

fn order(row: &Row<'_>) -> rusqlite::Result<Order> {
    let ticket_ids: Option<String> = row.get(12)?;
    Ok(Order {
        id: OrderId::from(row.get::<_, String>(0)?),
        event_id: parsed(row, 1)?,
        hold_id: parsed(row, 2)?,
        user_id: UserId::from(row.get::<_, String>(3)?),
        payment_intent_id: row.get(4)?,
        amount: Money {
            amount_minor: row.get(5)?,
            currency: parsed(row, 6)?,
        },
        status: parsed(row, 7)?,
        ticket_ids: match ticket_ids {
            None => Vec::new(),
            Some(json) => serde_json::from_str(&json).map_err(|error| {
                rusqlite::Error::FromSqlConversionFailure(12, Type::Text, error.into())
            })?,
        },
        failure_reason: row.get(9)?,
        created_at: instant(row, 10)?,
        updated_at: instant(row, 11)?,
    })
}

fn ticket(row: &Row<'_>) -> rusqlite::Result<Ticket> {
    let used_by: Option<String> = row.get(9)?;
    Ok(Ticket {
        id: parsed(row, 0)?,
        event_id: parsed(row, 1)?,
        order_id: OrderId::from(row.get::<_, String>(2)?),
        registration_id: parsed(row, 3)?,
        user_id: UserId::from(row.get::<_, String>(4)?),
        attendee: Attendee {
            name: row.get(5)?,
            email: row.get(6)?,
        },
        status: parsed(row, 7)?,
        used_at: optional_instant(row, 8)?,
        used_by: used_by.map(UserId::from),
        pdf_key: row.get(10)?,
        created_at: instant(row, 11)?,
        ticket_type_id: parsed(row, 12)?,
    })
}

// ---- reads shared by several operations ---------------------------------------------------

/// Writes every type of `event` as it is now, in its order: new ones with no seat taken, the
/// others keeping their counters.
fn write_types(tx: &Connection, event: &Event) -> Result<(), StoreError> {
    for (position, ticket_type) in event.ticket_types.iter().enumerate() {
        tx.execute(
            "INSERT INTO ticket_types (event_id, id, position, name, description, \
             price_minor, quota, sales_start, sales_end, max_per_order) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) \
             ON CONFLICT (event_id, id) DO UPDATE SET position = excluded.position, \
             name = excluded.name, description = excluded.description, \
             price_minor = excluded.price_minor, quota = excluded.quota, \
             sales_start = excluded.sales_start, sales_end = excluded.sales_end, \
             max_per_order = excluded.max_per_order",
            params![
                event.id.to_string(),
                ticket_type.id.to_string(),
                position as i64,
                ticket_type.name,
                ticket_type.description,
                ticket_type.price_minor,
                ticket_type.quota,
                ticket_type.sales_start.map(to_key),
                ticket_type.sales_end.map(to_key),
                ticket_type.max_per_order,
            ],
        )
        .map_err(store_error)?;
    }
    Ok(())
}

fn read_event(tx: &Connection, id: EventId) -> Result<Option<EventView>, StoreError> {
    tx.query_row(
        &format!("SELECT {EVENT_COLUMNS} FROM events WHERE id = ?1"),
        [id.to_string()],
        event_view,
    )
    .optional()
    .map_err(|error| read_error("events", &id.to_string(), error))?
    .map(|view| with_types(tx, view))
    .transpose()
}

fn read_hold(tx: &Connection, event_id: EventId, id: HoldId) -> Result<Option<Hold>, StoreError> {
    tx.query_row(
        &format!("SELECT {HOLD_COLUMNS} FROM holds WHERE id = ?1 AND event_id = ?2"),
        [id.to_string(), event_id.to_string()],
        hold,
    )
    .optional()
    .map_err(|error| read_error("holds", &id.to_string(), error))
}

/// Whether the organizer cancelled the event (an unknown event is not).
fn is_cancelled(tx: &Connection, event_id: EventId) -> Result<bool, StoreError> {
    tx.query_row(
        "SELECT cancelled_at IS NOT NULL FROM events WHERE id = ?1",
        [event_id.to_string()],
        |row| row.get(0),
    )
    .optional()
    .map(|cancelled| cancelled.unwrap_or(false))
    .map_err(store_error)
}

fn existing_hold(tx: &Connection, event_id: EventId, id: HoldId) -> Result<Hold, StoreError> {
    read_hold(tx, event_id, id)?.ok_or(StoreError::NotFound("hold"))
}

fn read_order(tx: &Connection, id: &OrderId) -> Result<Option<Order>, StoreError> {
    tx.query_row(
        &format!("SELECT {ORDER_COLUMNS} FROM orders WHERE id = ?1"),
        [id.as_str()],
        order,
    )
    .optional()
    .map_err(|error| read_error("orders", id.as_str(), error))
}

fn read_ticket(tx: &Connection, id: TicketId) -> Result<Option<Ticket>, StoreError> {
    tx.query_row(
        &format!("SELECT {TICKET_COLUMNS} FROM tickets WHERE id = ?1"),
        [id.to_string()],
        ticket,
    )
    .optional()
    .map_err(|error| read_error("tickets", &id.to_string(), error))
}

fn set_hold_status(tx: &Connection, hold: &Hold, status: HoldStatus) -> Result<Hold, StoreError> {
    tx.execute(
        "UPDATE holds SET status = ?1 WHERE id = ?2",
        params![status.as_str(), hold.id.to_string()],
    )
    .map_err(store_error)?;
    Ok(Hold {
        status,
        ..hold.clone()
    })
}

/// Adds `taken` and `sold` per seat of the hold to its event's counters and to its types'; the
/// tables' CHECKs refuse any result outside the capacity or a quota.
fn add_seats(tx: &Connection, hold: &Hold, taken: i64, sold: i64) -> Result<(), StoreError> {
    let total = i64::from(hold.seats.total());
    tx.execute(
        "UPDATE events SET taken = taken + ?1, sold = sold + ?2 WHERE id = ?3",
        params![taken * total, sold * total, hold.event_id.to_string()],
    )
    .map_err(store_error)?;
    for (type_id, count) in hold.seats.iter() {
        let count = i64::from(count);
        tx.execute(
            "UPDATE ticket_types SET taken = taken + ?1, sold = sold + ?2 \
             WHERE event_id = ?3 AND id = ?4",
            params![
                taken * count,
                sold * count,
                hold.event_id.to_string(),
                type_id.to_string()
            ],
        )
        .map_err(store_error)?;
    }
    Ok(())
}

/// Takes the hold's seats again (each sold too if `sold`), if the event's capacity and each
/// type's quota have room: `SoldOut` or `TypeSoldOut` otherwise (the caller's transaction then
/// rolls back).
fn take_free_seats(tx: &Connection, hold: &Hold, sold: bool) -> Result<(), StoreError> {
    let event_id = hold.event_id.to_string();
    let total = i64::from(hold.seats.total());
    let taken = tx
        .execute(
            "UPDATE events SET taken = taken + ?1, sold = sold + ?2 \
             WHERE id = ?3 AND taken + ?1 <= capacity",
            params![total, i64::from(sold) * total, event_id],
        )
        .map_err(store_error)?;
    if taken == 0 {
        return Err(StoreError::SoldOut);
    }
    for (type_id, count) in hold.seats.iter() {
        let count = i64::from(count);
        let taken = tx
            .execute(
                "UPDATE ticket_types SET taken = taken + ?1, sold = sold + ?2 \
                 WHERE event_id = ?3 AND id = ?4 AND taken + ?1 <= quota",
                params![
                    count,
                    i64::from(sold) * count,
                    event_id,
                    type_id.to_string()
                ],
            )
            .map_err(store_error)?;
        if taken == 0 {
            return Err(StoreError::TypeSoldOut(type_id));
        }
    }
    Ok(())
}

/// Counts `delta` uses of the hold's promo code (nothing without one): `PromoCodeUsedUp` when a
/// use would pass its limit, `NotFound` for a code the event does not have.
fn use_promo_code(tx: &Connection, hold: &Hold, delta: i64) -> Result<(), StoreError> {
    let Some(code) = &hold.promo_code else {
        return Ok(());
    };
    let changed = tx
        .execute(
            "UPDATE promo_codes SET used = used + ?1 \
             WHERE event_id = ?2 AND code = ?3 AND used + ?1 BETWEEN 0 AND max_uses",
            params![delta, hold.event_id.to_string(), code],
        )
        .map_err(store_error)?;
    if changed == 1 {
        return Ok(());
    }
    let exists: bool = tx
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM promo_codes WHERE event_id = ?1 AND code = ?2)",
            params![hold.event_id.to_string(), code],
            |row| row.get(0),
        )
        .map_err(store_error)?;
    match (exists, delta > 0) {
        (false, _) => Err(StoreError::NotFound("promo code")),
        (true, true) => Err(StoreError::PromoCodeUsedUp(code.clone())),
        (true, false) => Err(StoreError::Internal(format!(
            "the promo code {code} has no use to give back"
        ))),
    }
}

/// Runs a paged query: fetches one row more than the page to learn whether more follow.
fn page_of<T>(
    tx: &Connection,
    sql: &str,
    params: &[&dyn rusqlite::ToSql],
    limit: u32,
    map: fn(&Row<'_>) -> rusqlite::Result<T>,
    position: impl Fn(&T) -> serde_json::Value,
) -> Result<Page<T>, StoreError> {
    let mut statement = tx.prepare_cached(sql).map_err(store_error)?;
    let rows = statement.query(params).map_err(store_error)?;
    let mut items = decodable(table_of(sql), rows, map, limit as usize + 1)?;
    // The cursor is the last item returned: rows skipped after it are read (and skipped)
    // again by the next page, so none that can be read is ever lost.
    let next_cursor = if items.len() > limit as usize {
        items.truncate(limit as usize);
        items.last().map(|last| encode_cursor(&position(last)))
    } else {
        None
    };
    Ok(Page { items, next_cursor })
}

/// Every row a query returns.
fn rows_of<T>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    map: fn(&Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>, StoreError> {
    let mut statement = conn.prepare_cached(sql).map_err(store_error)?;
    let rows = statement.query(params).map_err(store_error)?;
    decodable(table_of(sql), rows, map, usize::MAX)
}

// ---- rows that cannot be read ---------------------------------------------------------------

/// Whether reading a row's values failed (a value of the wrong type, a malformed timestamp or
/// id, text that is not UTF-8), not the query itself.
fn is_undecodable(error: &rusqlite::Error) -> bool {
    matches!(
        error,
        rusqlite::Error::FromSqlConversionFailure(..)
            | rusqlite::Error::InvalidColumnType(..)
            | rusqlite::Error::IntegralValueOutOfRange(..)
            | rusqlite::Error::Utf8Error(..)
    )
}

/// The row's key (its first column, `id` in every table) as text, for the log.
fn row_key(row: &Row<'_>) -> String {
    match row.get_ref(0) {
        Ok(ValueRef::Text(text)) => String::from_utf8_lossy(text).into_owned(),
        Ok(ValueRef::Integer(number)) => number.to_string(),
        Ok(other) => format!("{other:?}"),
        Err(error) => format!("<{error}>"),
    }
}

/// The table a `SELECT … FROM <table> …` reads, for the log.
fn table_of(sql: &str) -> &str {
    sql.split_once(" FROM ")
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .unwrap_or("?")
}

/// The error of a single read: a row that cannot be read is logged with its table and key and
/// is an `Internal` error naming them (the caller asked for that row: it gets a clear failure,
/// and nothing else is affected).
fn read_error(table: &str, key: &str, error: rusqlite::Error) -> StoreError {
    if is_undecodable(&error) {
        tracing::error!(table, key, %error, "a stored row cannot be read");
        StoreError::Internal(format!("the {table} row {key} cannot be read: {error}"))
    } else {
        store_error(error)
    }
}

/// Up to `limit` rows that can be read: a row that cannot is logged with its table and key and
/// skipped, so one bad row never takes a whole list down.
fn decodable<T>(
    table: &str,
    mut rows: rusqlite::Rows<'_>,
    map: fn(&Row<'_>) -> rusqlite::Result<T>,
    limit: usize,
) -> Result<Vec<T>, StoreError> {
    let mut items = Vec::new();
    while items.len() < limit
        && let Some(row) = rows.next().map_err(store_error)?
    {
        match map(row) {
            Ok(item) => items.push(item),
            Err(error) if is_undecodable(&error) => {
                let key = row_key(row);
                tracing::error!(table, key, %error, "skipped a stored row that cannot be read");
            }
            Err(error) => return Err(store_error(error)),
        }
    }
    Ok(items)
}

/// A (sort key, id) position after which a page starts; before the first row when absent.
fn start_after(page: &PageRequest, first: (&str, &str)) -> Result<(String, String), StoreError> {
    match &page.cursor {
        Some(cursor) => Ok(decode_cursor(cursor)?),
        None => Ok((first.0.to_owned(), first.1.to_owned())),
    }
}

fn event_position(view: &EventView) -> serde_json::Value {
    serde_json::json!([to_key(view.event.starts_at), view.event.id.to_string()])
}

#[async_trait]
impl Store for SqliteStore {
    async fn create_event(&self, event: &Event) -> Result<(), StoreError> {
        let event = event.clone();
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO events (id, organizer_id, title, description, venue, starts_at, \
                 capacity, price_minor, currency, created_at, time_zone, ends_at, \
                 cancellation_cutoff_hours, visibility) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, 'DRAFT')",
                params![
                    event.id.to_string(),
                    event.organizer_id.as_str(),
                    event.title,
                    event.description,
                    event.venue,
                    to_key(event.starts_at),
                    event.capacity,
                    event.lowest_price().amount_minor,
                    event.currency.code(),
                    to_key(event.created_at),
                    event.time_zone.name(),
                    event.ends_at.map(to_key),
                    event.cancellation_cutoff_hours,
                ],
            )
            .map_err(|error| match is_unique_violation(&error) {
                true => StoreError::AlreadyExists("event"),
                false => store_error(error),
            })?;
            write_types(tx, &event)
        })
        .await
    }

    async fn get_event(&self, id: EventId) -> Result<Option<EventView>, StoreError> {
        self.read(move |conn| read_event(conn, id)).await
    }

    async fn get_organizer_profile(
        &self,
        user: &UserId,
    ) -> Result<Option<OrganizerProfile>, StoreError> {
        let user = user.clone();
        self.read(move |conn| {
            conn.query_row(
                "SELECT user_id, display_name, contact_email, updated_at FROM organizers \
                 WHERE user_id = ?1",
                [user.as_str()],
                |row| {
                    Ok(OrganizerProfile {
                        user_id: UserId::from(row.get::<_, String>(0)?),
                        display_name: row.get(1)?,
                        contact_email: row.get(2)?,
                        updated_at: instant(row, 3)?,
                    })
                },
            )
            .optional()
            .map_err(|error| read_error("organizers", user.as_str(), error))
        })
        .await
    }

    async fn put_organizer_profile(&self, profile: &OrganizerProfile) -> Result<(), StoreError> {
        let profile = profile.clone();
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO organizers (user_id, display_name, contact_email, updated_at) \
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT (user_id) DO UPDATE SET \
                 display_name = excluded.display_name, contact_email = excluded.contact_email, \
                 updated_at = excluded.updated_at",
                params![
                    profile.user_id.as_str(),
                    profile.display_name,
                    profile.contact_email,
                    to_key(profile.updated_at),
                ],
            )
            .map_err(store_error)?;
            Ok(())
        })
        .await
    }

    async fn update_event(&self, update: &EventUpdate) -> Result<EventView, StoreError> {
        let update = update.clone();
        self.write(move |tx| {
            let event = &update.event;
            let view = read_event(tx, event.id)?.ok_or(StoreError::NotFound("event"))?;
            if view.version != update.expected_version {
                return Err(StoreError::EventChanged);
            }
            if !update.seats_fit(&view) {
                return Err(StoreError::SeatsTaken);
            }
            tx.execute(
                "UPDATE events SET title = ?2, description = ?3, venue = ?4, starts_at = ?5, \
                 capacity = ?6, price_minor = ?7, time_zone = ?8, ends_at = ?9, \
                 cancellation_cutoff_hours = ?10, version = version + 1 WHERE id = ?1",
                params![
                    event.id.to_string(),
                    event.title,
                    event.description,
                    event.venue,
                    to_key(event.starts_at),
                    event.capacity,
                    event.lowest_price().amount_minor,
                    event.time_zone.name(),
                    event.ends_at.map(to_key),
                    event.cancellation_cutoff_hours,
                ],
            )
            .map_err(store_error)?;
            write_types(tx, event)?;
            read_event(tx, event.id)?.ok_or(StoreError::NotFound("event"))
        })
        .await
    }

    async fn set_visibility(
        &self,
        id: EventId,
        visibility: Visibility,
    ) -> Result<EventView, StoreError> {
        self.write(move |tx| {
            let changed = tx
                .execute(
                    "UPDATE events SET visibility = ?2 WHERE id = ?1",
                    params![id.to_string(), visibility.as_str()],
                )
                .map_err(store_error)?;
            if changed == 0 {
                return Err(StoreError::NotFound("event"));
            }
            read_event(tx, id)?.ok_or(StoreError::NotFound("event"))
        })
        .await
    }

    async fn cancel_event(&self, id: EventId, now: DateTime<Utc>) -> Result<EventView, StoreError> {
        self.write(move |tx| {
            let view = read_event(tx, id)?.ok_or(StoreError::NotFound("event"))?;
            if view.is_cancelled() {
                return Ok(view);
            }
            if now >= view.event.starts_at {
                return Err(StoreError::EventEnded);
            }
            // The version moves on, so a checkout or edit judged before is judged again.
            tx.execute(
                "UPDATE events SET cancelled_at = ?2, sold_when_cancelled = sold, \
                 version = version + 1 WHERE id = ?1",
                params![id.to_string(), to_key(now)],
            )
            .map_err(store_error)?;
            read_event(tx, id)?.ok_or(StoreError::NotFound("event"))
        })
        .await
    }

    async fn sold_orders_of_event(
        &self,
        id: EventId,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<OrderId>, StoreError> {
        let after: String = match cursor {
            Some(cursor) => decode_cursor(cursor)?,
            None => String::new(),
        };
        self.read(move |conn| {
            let mut statement = conn
                .prepare_cached(
                    "SELECT id, order_id FROM holds WHERE event_id = ?1 AND id > ?2 \
                     AND status = 'SOLD' AND order_id IS NOT NULL ORDER BY id LIMIT ?3",
                )
                .map_err(store_error)?;
            let rows: Vec<(String, String)> = statement
                .query_map(params![id.to_string(), after, limit as i64 + 1], |row| {
                    Ok((row.get(0)?, row.get(1)?))
                })
                .and_then(Iterator::collect)
                .map_err(store_error)?;
            let more = rows.len() > limit;
            let rows = &rows[..rows.len().min(limit)];
            Ok(Page {
                next_cursor: more
                    .then(|| rows.last().map(|(hold, _)| encode_cursor(hold)))
                    .flatten(),
                items: rows
                    .iter()
                    .map(|(_, order)| OrderId::from(order.as_str()))
                    .collect(),
            })
        })
        .await
    }

    async fn record_cancellation_failure(
        &self,
        failure: &CancellationFailure,
    ) -> Result<(), StoreError> {
        let failure = failure.clone();
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO cancellation_failures (event_id, order_id, reason, at) \
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT (event_id, order_id) DO UPDATE SET \
                 reason = excluded.reason, at = excluded.at",
                params![
                    failure.event_id.to_string(),
                    failure.order_id.as_str(),
                    failure.reason,
                    to_key(failure.at),
                ],
            )
            .map_err(store_error)?;
            Ok(())
        })
        .await
    }

    async fn cancellation_failures(
        &self,
        id: EventId,
    ) -> Result<Vec<CancellationFailure>, StoreError> {
        self.read(move |conn| {
            let mut statement = conn
                .prepare_cached(
                    "SELECT order_id, reason, at FROM cancellation_failures \
                     WHERE event_id = ?1 ORDER BY order_id",
                )
                .map_err(store_error)?;
            statement
                .query_map([id.to_string()], |row| {
                    Ok(CancellationFailure {
                        event_id: id,
                        order_id: OrderId::from(row.get::<_, String>(0)?),
                        reason: row.get(1)?,
                        at: instant(row, 2)?,
                    })
                })
                .and_then(Iterator::collect)
                .map_err(store_error)
        })
        .await
    }

    async fn cancellations_due(
        &self,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<EventId>, StoreError> {
        self.read(move |conn| {
            let mut statement = conn
                .prepare_cached(
                    "SELECT id FROM events WHERE cancelled_at IS NOT NULL \
                     AND cancellation_finished_at IS NULL AND cancelled_at <= ?1 \
                     ORDER BY cancelled_at, id LIMIT ?2",
                )
                .map_err(store_error)?;
            let ids: Vec<String> = statement
                .query_map(params![to_key(before), limit as i64], |row| row.get(0))
                .and_then(Iterator::collect)
                .map_err(store_error)?;
            ids.iter()
                .map(|id| {
                    id.parse()
                        .map_err(|_| StoreError::Internal(format!("event id {id} is not a UUID")))
                })
                .collect()
        })
        .await
    }

    async fn finish_cancellation(&self, id: EventId, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.write(move |tx| {
            tx.execute(
                "UPDATE events SET cancellation_finished_at = ?2 \
                 WHERE id = ?1 AND cancelled_at IS NOT NULL AND cancellation_finished_at IS NULL",
                params![id.to_string(), to_key(now)],
            )
            .map_err(store_error)?;
            Ok(())
        })
        .await
    }

    async fn list_organizer_events(
        &self,
        organizer: &UserId,
        page: &PageRequest,
    ) -> Result<Page<EventView>, StoreError> {
        let (after_start, after_id) = start_after(page, ("", ""))?;
        let (organizer, limit) = (organizer.clone(), page.limit());
        self.read(move |conn| {
            page_of(
                conn,
                &format!(
                    "SELECT {EVENT_COLUMNS} FROM events WHERE organizer_id = ?1 \
                     AND (starts_at, id) > (?2, ?3) ORDER BY starts_at, id"
                ),
                &[&organizer.as_str(), &after_start, &after_id],
                limit,
                event_view,
                event_position,
            )
            .and_then(|page| with_types_all(conn, page))
        })
        .await
    }

    async fn list_upcoming_events(
        &self,
        now: DateTime<Utc>,
        page: &PageRequest,
    ) -> Result<Page<EventView>, StoreError> {
        let (after_start, after_id) = start_after(page, ("", ""))?;
        let limit = page.limit();
        self.read(move |conn| {
            page_of(
                conn,
                &format!(
                    "SELECT {EVENT_COLUMNS} FROM events WHERE visibility = 'PUBLISHED' \
                     AND starts_at > ?1 AND (starts_at, id) > (?2, ?3) ORDER BY starts_at, id"
                ),
                &[&to_key(now), &after_start, &after_id],
                limit,
                event_view,
                event_position,
            )
            .and_then(|page| with_types_all(conn, page))
        })
        .await
    }

    async fn hold_seat(
        &self,
        event_id: EventId,
        new_hold: &NewHold,
        now: DateTime<Utc>,
    ) -> Result<Hold, StoreError> {
        let hold = Hold {
            id: new_hold.id,
            event_id,
            seats: new_hold.seats.clone(),
            promo_code: new_hold.promo_code.clone(),
            user_id: new_hold.user_id.clone(),
            status: HoldStatus::Held,
            expires_at: new_hold.expires_at,
            created_at: now,
        };
        let event_version = new_hold.event_version;
        self.write(move |tx| {
            // An open event that sells every type; otherwise the event says what is wrong.
            let Some(view) = read_event(tx, event_id)? else {
                return Err(StoreError::NotFound("event"));
            };
            if view.is_cancelled() {
                return Err(StoreError::EventCancelled);
            }
            if now >= view.event.starts_at {
                return Err(StoreError::EventEnded);
            }
            if event_version.is_some_and(|version| version != view.version) {
                return Err(StoreError::EventChanged);
            }
            let Some((first_type, _)) = hold.seats.iter().next() else {
                return Err(StoreError::Internal("a hold of no seat".into()));
            };
            if hold
                .seats
                .iter()
                .any(|(type_id, _)| view.event.ticket_type(type_id).is_none())
            {
                return Err(StoreError::NotFound("ticket type"));
            }
            take_free_seats(tx, &hold, false)?;
            use_promo_code(tx, &hold, 1)?;
            let seats = serde_json::to_string(&hold.seats).map_err(|error| {
                StoreError::Internal(format!("could not encode a hold's seats: {error}"))
            })?;
            tx.execute(
                &format!(
                    "INSERT INTO holds ({HOLD_COLUMNS}, order_id) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, NULL)"
                ),
                params![
                    hold.id.to_string(),
                    event_id.to_string(),
                    hold.user_id.as_str(),
                    hold.status.as_str(),
                    to_key(hold.expires_at),
                    to_key(hold.created_at),
                    first_type.to_string(),
                    seats,
                    hold.promo_code,
                ],
            )
            .map_err(|error| match is_unique_violation(&error) {
                true => StoreError::AlreadyExists("hold"),
                false => store_error(error),
            })?;
            Ok(hold)
        })
        .await
    }

    async fn get_hold(
        &self,
        event_id: EventId,
        hold_id: HoldId,
    ) -> Result<Option<Hold>, StoreError> {
        self.read(move |conn| read_hold(conn, event_id, hold_id))
            .await
    }

    async fn confirm_hold(&self, event_id: EventId, hold_id: HoldId) -> Result<Hold, StoreError> {
        self.write(move |tx| {
            let hold = existing_hold(tx, event_id, hold_id)?;
            match hold.status {
                HoldStatus::Sold => Ok(hold),
                _ if is_cancelled(tx, event_id)? => Err(StoreError::EventCancelled),
                HoldStatus::Released => Err(StoreError::HoldReleased),
                HoldStatus::Held => {
                    add_seats(tx, &hold, 0, 1)?;
                    set_hold_status(tx, &hold, HoldStatus::Sold)
                }
            }
        })
        .await
    }

    async fn release_hold(
        &self,
        event_id: EventId,
        hold_id: HoldId,
        scope: ReleaseScope,
        _now: DateTime<Utc>,
    ) -> Result<ReleaseOutcome, StoreError> {
        self.write(move |tx| {
            let hold = existing_hold(tx, event_id, hold_id)?;
            let sold = match (hold.status, scope) {
                (HoldStatus::Released, _) => return Ok(ReleaseOutcome::AlreadyReleased),
                (HoldStatus::Sold, ReleaseScope::Unpaid) => return Ok(ReleaseOutcome::KeptSold),
                (HoldStatus::Sold, ReleaseScope::Any) => 1,
                (HoldStatus::Held, _) => 0,
            };
            add_seats(tx, &hold, -1, -sold)?;
            use_promo_code(tx, &hold, -1)?;
            set_hold_status(tx, &hold, HoldStatus::Released)?;
            Ok(ReleaseOutcome::Released { was: hold.status })
        })
        .await
    }

    async fn take_seat_late(&self, event_id: EventId, hold_id: HoldId) -> Result<Hold, StoreError> {
        self.write(move |tx| {
            let hold = existing_hold(tx, event_id, hold_id)?;
            match hold.status {
                HoldStatus::Sold => return Ok(hold),
                _ if is_cancelled(tx, event_id)? => return Err(StoreError::EventCancelled),
                HoldStatus::Held => add_seats(tx, &hold, 0, 1)?,
                HoldStatus::Released => {
                    take_free_seats(tx, &hold, true)?;
                    use_promo_code(tx, &hold, 1)?;
                }
            }
            set_hold_status(tx, &hold, HoldStatus::Sold)
        })
        .await
    }

    async fn record_tickets(&self, request: &NewTickets) -> Result<Recorded, StoreError> {
        let request = request.clone();
        self.write(move |tx| {
            let order = match read_order(tx, &request.order.id)? {
                Some(existing) => existing,
                None => insert_order(tx, &request.order)?,
            };
            if !order.ticket_ids.is_empty() {
                let tickets = order
                    .ticket_ids
                    .iter()
                    .map(|&id| {
                        read_ticket(tx, id)?.ok_or_else(|| {
                            StoreError::Internal(format!("order names a missing ticket {id}"))
                        })
                    })
                    .collect::<Result<_, _>>()?;
                return Ok(Recorded { order, tickets });
            }
            if !order.status.takes_a_ticket() {
                return Err(StoreError::OrderClosed(order.status));
            }
            let tickets = request.tickets();
            let Some(first) = tickets.first() else {
                return Err(StoreError::Internal("an order of no ticket".into()));
            };
            for ticket in &tickets {
                tx.execute(
                    &format!(
                        "INSERT INTO tickets ({TICKET_COLUMNS}) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, NULL, NULL, NULL, ?9, ?10)"
                    ),
                    params![
                        ticket.id.to_string(),
                        ticket.event_id.to_string(),
                        ticket.order_id.as_str(),
                        ticket.registration_id.to_string(),
                        ticket.user_id.as_str(),
                        ticket.attendee.name,
                        ticket.attendee.email,
                        ticket.status.as_str(),
                        to_key(ticket.created_at),
                        ticket.ticket_type_id.to_string(),
                    ],
                )
                .map_err(store_error)?;
            }
            let order = Order {
                ticket_ids: tickets.iter().map(|ticket| ticket.id).collect(),
                ..order
            };
            let ticket_ids = serde_json::to_string(&order.ticket_ids).map_err(|error| {
                StoreError::Internal(format!("could not encode ticket ids: {error}"))
            })?;
            tx.execute(
                "UPDATE orders SET ticket_id = ?1, ticket_ids = ?2 WHERE id = ?3",
                params![first.id.to_string(), ticket_ids, order.id.as_str()],
            )
            .map_err(store_error)?;
            Ok(Recorded { order, tickets })
        })
        .await
    }

    async fn create_order(&self, order: &Order) -> Result<Order, StoreError> {
        let order = order.clone();
        self.write(move |tx| match read_order(tx, &order.id)? {
            Some(existing) => Ok(existing),
            None => insert_order(tx, &order),
        })
        .await
    }

    async fn get_order(&self, id: &OrderId) -> Result<Option<Order>, StoreError> {
        let id = id.clone();
        self.read(move |conn| read_order(conn, &id)).await
    }

    async fn transition_order(
        &self,
        id: &OrderId,
        to: OrderStatus,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Order, StoreError> {
        let (id, reason) = (id.clone(), reason.map(str::to_owned));
        self.write(move |tx| {
            let order = read_order(tx, &id)?.ok_or(StoreError::NotFound("order"))?;
            if order.status == to {
                return Ok(order);
            }
            if !to.allowed_from().contains(&order.status) {
                return Err(StoreError::InvalidTransition {
                    from: order.status,
                    to,
                });
            }
            tx.execute(
                // Due at once while a refund is under way (see `Store::transition_order`).
                "UPDATE orders SET status = ?1, updated_at = ?2, check_after = ?5, \
                 failure_reason = COALESCE(?3, failure_reason) WHERE id = ?4",
                params![
                    to.as_str(),
                    to_key(now),
                    reason,
                    id.as_str(),
                    to.is_checked().then(|| to_key(now))
                ],
            )
            .map_err(store_error)?;
            Ok(Order {
                status: to,
                updated_at: now,
                failure_reason: reason.or(order.failure_reason),
                ..order
            })
        })
        .await
    }

    async fn get_ticket(&self, id: TicketId) -> Result<Option<Ticket>, StoreError> {
        self.read(move |conn| read_ticket(conn, id)).await
    }

    async fn void_ticket(&self, id: TicketId) -> Result<Ticket, StoreError> {
        self.write(move |tx| {
            let ticket = read_ticket(tx, id)?.ok_or(StoreError::NotFound("ticket"))?;
            match ticket.status {
                TicketStatus::Void => Ok(ticket),
                TicketStatus::Used => Err(StoreError::TicketUsed),
                TicketStatus::Valid => {
                    tx.execute(
                        "UPDATE tickets SET status = 'VOID' WHERE id = ?1",
                        [id.to_string()],
                    )
                    .map_err(store_error)?;
                    Ok(Ticket {
                        status: TicketStatus::Void,
                        ..ticket
                    })
                }
            }
        })
        .await
    }

    async fn rename_ticket(&self, id: TicketId, holder_name: &str) -> Result<Ticket, StoreError> {
        let holder_name = holder_name.to_owned();
        self.write(move |tx| {
            let ticket = read_ticket(tx, id)?.ok_or(StoreError::NotFound("ticket"))?;
            match ticket.status {
                TicketStatus::Used => Err(StoreError::TicketUsed),
                TicketStatus::Void => Err(StoreError::TicketVoid),
                TicketStatus::Valid => {
                    tx.execute(
                        "UPDATE tickets SET attendee_name = ?1 WHERE id = ?2",
                        params![holder_name, id.to_string()],
                    )
                    .map_err(store_error)?;
                    let mut ticket = ticket;
                    ticket.attendee.name = holder_name;
                    Ok(ticket)
                }
            }
        })
        .await
    }

    async fn redeem_ticket(
        &self,
        id: TicketId,
        by: &UserId,
        now: DateTime<Utc>,
    ) -> Result<Redemption, StoreError> {
        let by = by.clone();
        self.write(move |tx| {
            let Some(ticket) = read_ticket(tx, id)? else {
                return Ok(Redemption::Unknown);
            };
            match ticket.status {
                TicketStatus::Used => Ok(Redemption::AlreadyUsed(ticket)),
                TicketStatus::Void => Ok(Redemption::Void(ticket)),
                TicketStatus::Valid => {
                    tx.execute(
                        "UPDATE tickets SET status = 'USED', used_at = ?1, used_by = ?2 \
                         WHERE id = ?3",
                        params![to_key(now), by.as_str(), id.to_string()],
                    )
                    .map_err(store_error)?;
                    tx.execute(
                        "UPDATE events SET checked_in = checked_in + 1 WHERE id = ?1",
                        [ticket.event_id.to_string()],
                    )
                    .map_err(store_error)?;
                    tx.execute(
                        "UPDATE ticket_types SET checked_in = checked_in + 1 \
                         WHERE event_id = ?1 AND id = ?2",
                        params![
                            ticket.event_id.to_string(),
                            ticket.ticket_type_id.to_string()
                        ],
                    )
                    .map_err(store_error)?;
                    Ok(Redemption::Admitted(Ticket {
                        status: TicketStatus::Used,
                        used_at: Some(now),
                        used_by: Some(by),
                        ..ticket
                    }))
                }
            }
        })
        .await
    }

    async fn tickets_of_user(
        &self,
        user: &UserId,
        page: &PageRequest,
    ) -> Result<Page<Ticket>, StoreError> {
        // Newest first: start before a position later than any real one.
        let (before_created, before_id) = start_after(page, ("9999", ""))?;
        let (user, limit) = (user.clone(), page.limit());
        self.read(move |conn| {
            page_of(
                conn,
                &format!(
                    "SELECT {TICKET_COLUMNS} FROM tickets WHERE user_id = ?1 \
                     AND (created_at, id) < (?2, ?3) ORDER BY created_at DESC, id DESC"
                ),
                &[&user.as_str(), &before_created, &before_id],
                limit,
                ticket,
                |ticket| serde_json::json!([to_key(ticket.created_at), ticket.id.to_string()]),
            )
        })
        .await
    }

    async fn expired_holds(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Hold>, StoreError> {
        self.read(move |conn| {
            rows_of(
                conn,
                &format!(
                    "SELECT {HOLD_COLUMNS} FROM holds \
                     WHERE status = 'HELD' AND order_id IS NULL AND expires_at <= ?1 \
                     ORDER BY expires_at, id LIMIT ?2"
                ),
                params![to_key(now), limit as i64],
                hold,
            )
        })
        .await
    }

    async fn orders_due(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Order>, StoreError> {
        self.read(move |conn| {
            rows_of(
                conn,
                &format!(
                    "SELECT {ORDER_COLUMNS} FROM orders \
                     WHERE check_after IS NOT NULL AND check_after <= ?1 \
                     ORDER BY check_after, id LIMIT ?2"
                ),
                params![to_key(now), limit as i64],
                order,
            )
        })
        .await
    }

    async fn defer_order_check(
        &self,
        id: &OrderId,
        until: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let id = id.clone();
        self.write(move |tx| {
            tx.execute(
                "UPDATE orders SET check_after = ?1 WHERE id = ?2 AND check_after IS NOT NULL",
                params![to_key(until), id.as_str()],
            )
            .map_err(store_error)?;
            Ok(())
        })
        .await
    }

    async fn create_promo_code(&self, promo: &PromoCode) -> Result<(), StoreError> {
        let promo = promo.clone();
        self.write(move |tx| {
            let (percent, amount) = match promo.discount {
                Discount::Percent(percent) => (Some(percent), None),
                Discount::AmountOff(amount) => (None, Some(amount)),
            };
            let types = serde_json::to_string(&promo.ticket_type_ids).map_err(|error| {
                StoreError::Internal(format!("could not encode a code's types: {error}"))
            })?;
            tx.execute(
                &format!(
                    "INSERT INTO promo_codes ({PROMO_COLUMNS}) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, ?7, ?8, ?9)"
                ),
                params![
                    promo.event_id.to_string(),
                    promo.code,
                    percent,
                    amount,
                    types,
                    promo.max_uses,
                    promo.valid_from.map(to_key),
                    promo.valid_until.map(to_key),
                    to_key(promo.created_at),
                ],
            )
            .map_err(|error| match is_unique_violation(&error) {
                true => StoreError::AlreadyExists("promo code"),
                false => store_error(error),
            })?;
            Ok(())
        })
        .await
    }

    async fn update_promo_code(&self, promo: &PromoCode) -> Result<PromoCodeView, StoreError> {
        let promo = promo.clone();
        self.write(move |tx| {
            let (event_id, code) = (promo.event_id.to_string(), promo.code.clone());
            let read = |tx: &Connection| {
                tx.query_row(
                    &format!(
                        "SELECT {PROMO_COLUMNS} FROM promo_codes WHERE event_id = ?1 AND code = ?2"
                    ),
                    params![event_id, code],
                    promo_code,
                )
                .optional()
                .map_err(|error| read_error("promo_codes", &code, error))?
                .ok_or(StoreError::NotFound("promo code"))
            };
            let before = read(tx)?;
            if before.used > promo.max_uses {
                return Err(StoreError::PromoCodeUsed(before.used));
            }
            tx.execute(
                "UPDATE promo_codes SET max_uses = ?1, valid_from = ?2, valid_until = ?3 \
                 WHERE event_id = ?4 AND code = ?5",
                params![
                    promo.max_uses,
                    promo.valid_from.map(to_key),
                    promo.valid_until.map(to_key),
                    event_id,
                    code,
                ],
            )
            .map_err(store_error)?;
            read(tx)
        })
        .await
    }

    async fn get_promo_code(
        &self,
        event_id: EventId,
        code: &str,
    ) -> Result<Option<PromoCodeView>, StoreError> {
        let code = code.to_owned();
        self.read(move |conn| {
            conn.query_row(
                &format!(
                    "SELECT {PROMO_COLUMNS} FROM promo_codes WHERE event_id = ?1 AND code = ?2"
                ),
                params![event_id.to_string(), code],
                promo_code,
            )
            .optional()
            .map_err(|error| read_error("promo_codes", &code, error))
        })
        .await
    }

    async fn promo_codes_of_event(
        &self,
        event_id: EventId,
    ) -> Result<Vec<PromoCodeView>, StoreError> {
        self.read(move |conn| {
            let mut statement = conn
                .prepare(&format!(
                    "SELECT {PROMO_COLUMNS} FROM promo_codes WHERE event_id = ?1 \
                     ORDER BY created_at, code"
                ))
                .map_err(store_error)?;
            statement
                .query_map([event_id.to_string()], promo_code)
                .map_err(store_error)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(|error| read_error("promo_codes", &event_id.to_string(), error))
        })
        .await
    }

    async fn attendees_of_event(
        &self,
        event_id: EventId,
        page: &PageRequest,
    ) -> Result<Page<Ticket>, StoreError> {
        let after: String = match &page.cursor {
            Some(cursor) => decode_cursor(cursor)?,
            None => String::new(),
        };
        let limit = page.limit();
        self.read(move |conn| {
            page_of(
                conn,
                &format!(
                    "SELECT {TICKET_COLUMNS} FROM tickets WHERE event_id = ?1 \
                     AND registration_id > ?2 ORDER BY registration_id"
                ),
                &[&event_id.to_string(), &after],
                limit,
                ticket,
                |ticket| serde_json::json!(ticket.registration_id.to_string()),
            )
        })
        .await
    }
}

fn insert_order(tx: &Connection, order: &Order) -> Result<Order, StoreError> {
    let order = Order {
        status: OrderStatus::Pending,
        ticket_ids: Vec::new(),
        failure_reason: None,
        ..order.clone()
    };
    tx.execute(
        &format!(
            "INSERT INTO orders ({ORDER_COLUMNS}, check_after) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, NULL, NULL, ?9, ?10, NULL, ?11)"
        ),
        params![
            order.id.as_str(),
            order.event_id.to_string(),
            order.hold_id.to_string(),
            order.user_id.as_str(),
            order.payment_intent_id,
            order.amount.amount_minor,
            order.amount.currency.code(),
            order.status.as_str(),
            to_key(order.created_at),
            to_key(order.updated_at),
            to_key(order.created_at + FIRST_ORDER_CHECK),
        ],
    )
    .map_err(store_error)?;
    // The hold's fate is its order's from now on.
    tx.execute(
        "UPDATE holds SET order_id = ?1 WHERE id = ?2 AND event_id = ?3 AND order_id IS NULL",
        params![
            order.id.as_str(),
            order.hold_id.to_string(),
            order.event_id.to_string()
        ],
    )
    .map_err(store_error)?;
    Ok(order)
}
