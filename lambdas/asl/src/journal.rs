//! The execution journal: one SQLite file (WAL, `synchronous=NORMAL`) with a row per execution
//! and its history.
//!
//! One writer thread owns the writing connection. Executions hand it operations through a
//! channel and do not wait; woken by one, it lets more gather for a few milliseconds, then
//! applies everything pending in one transaction and commits (group commit), so a thousand
//! state transitions cost one commit, not a thousand. The operations that must be durable
//! before the caller goes on (a start, a redrive, the end of an execution) carry an
//! acknowledgement that is answered after the commit. Checkpoints run on a thread of their
//! own, so no commit waits for their fsync. Reads use a connection of their own, which WAL
//! lets run beside the writer.
//!
//! A transition is one history row, not two: an `Entered` row stands for StateExited of the
//! state left and StateEntered of the next, with the data (the output of one, the input of the
//! other) stored once; `Started` is ExecutionStarted and the first StateEntered, `Succeeded`
//! the last StateExited and ExecutionSucceeded, `Redriven` ExecutionRedriven and the state
//! entered again. Reading a history expands the rows into events. Execution input and output
//! live only in the execution row.

use std::path::Path;
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, TransactionBehavior, params};
use serde_json::Value;
use tokio::sync::oneshot;

use super::model::{
    ExecutionStatus, ExecutionSummary, ExecutorError, HistoryEvent, HistoryEventKind,
};

/// Schema versions, applied in order; `PRAGMA user_version` records how many have run.
/// Append new migrations; never edit one that has shipped.
const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE executions (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    input         TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT')),
    output        TEXT,
    error         TEXT,
    cause         TEXT,
    started_at    INTEGER NOT NULL,
    stopped_at    INTEGER,
    redrive_count INTEGER NOT NULL DEFAULT 0,
    redriven_at   INTEGER
);
CREATE INDEX executions_by_status ON executions (status, id);

CREATE TABLE history (
    execution_id INTEGER NOT NULL REFERENCES executions (id),
    seq          INTEGER NOT NULL,
    at           INTEGER NOT NULL,
    kind         TEXT NOT NULL,
    state        TEXT,
    exited       TEXT,
    data         TEXT,
    error        TEXT,
    cause        TEXT,
    count        INTEGER,
    extra        INTEGER,
    delay        REAL,
    target       TEXT,
    PRIMARY KEY (execution_id, seq)
) WITHOUT ROWID;
"#];

/// Most operations applied in one transaction.
const MAX_BATCH: usize = 4096;
/// How long the writer lets operations gather after the first one before it commits. Waking
/// the writer and committing per operation cost more CPU than the operations themselves; this
/// costs a start (and the end of an execution) up to this much latency, transitions nothing.
const GROUP_COMMIT_WINDOW: Duration = Duration::from_millis(3);
/// How often the WAL is checkpointed.
const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(250);
/// WAL length (pages) from which a checkpoint rewinds it.
const RESTART_AFTER_FRAMES: i64 = 4096;

/// The kinds of history rows (the `kind` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// ExecutionStarted + StateEntered `state` (input: the execution's).
    Started,
    /// StateExited `exited` (if any) + StateEntered `state`, both with `data`.
    Entered,
    /// StateExited `exited` + ExecutionSucceeded (output: the execution's).
    Succeeded,
    /// ExecutionRedriven + StateEntered `state` with `data` (`None`: the execution's input).
    Redriven,
    Resumed,
    TaskFailed,
    RetryScheduled,
    ErrorCaught,
    Failed,
    TimedOut,
}

const KINDS: [(Kind, &str); 10] = [
    (Kind::Started, "Started"),
    (Kind::Entered, "Entered"),
    (Kind::Succeeded, "Succeeded"),
    (Kind::Redriven, "Redriven"),
    (Kind::Resumed, "Resumed"),
    (Kind::TaskFailed, "TaskFailed"),
    (Kind::RetryScheduled, "RetryScheduled"),
    (Kind::ErrorCaught, "ErrorCaught"),
    (Kind::Failed, "Failed"),
    (Kind::TimedOut, "TimedOut"),
];

/// The row kinds after which an execution is in `state` with `data` as its input.
const ENTERING: &str = "kind IN ('Started', 'Entered', 'Redriven')";

impl Kind {
    fn as_str(self) -> &'static str {
        KINDS.iter().find(|(kind, _)| *kind == self).unwrap().1
    }

    fn parse(text: &str) -> Option<Kind> {
        KINDS
            .iter()
            .find_map(|(kind, name)| (*name == text).then_some(*kind))
    }
}

/// One history row as written.
#[derive(Debug)]
pub(crate) struct EventRecord {
    pub seq: i64,
    pub at: i64,
    pub kind: Kind,
    pub state: Option<Arc<str>>,
    /// The state left (Entered, Succeeded).
    pub exited: Option<Arc<str>>,
    /// JSON text: the input of the state entered (Entered, Redriven).
    pub data: Option<String>,
    pub error: Option<String>,
    pub cause: Option<String>,
    /// TaskFailed: attempt; RetryScheduled: retry; ExecutionRedriven: redrive count.
    pub count: Option<i64>,
    /// RetryScheduled: the retrier's index.
    pub extra: Option<i64>,
    pub delay: Option<f64>,
    /// ErrorCaught: the next state.
    pub target: Option<Arc<str>>,
}

impl EventRecord {
    pub(crate) fn new(seq: i64, at: i64, kind: Kind, state: Option<Arc<str>>) -> Self {
        Self {
            seq,
            at,
            kind,
            state,
            exited: None,
            data: None,
            error: None,
            cause: None,
            count: None,
            extra: None,
            delay: None,
            target: None,
        }
    }
}

/// How an execution ended.
#[derive(Debug)]
pub(crate) struct End {
    pub status: ExecutionStatus,
    pub output: Option<String>,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub at: i64,
}

pub(crate) enum StartReply {
    Started {
        id: i64,
    },
    Existing {
        input: String,
        status: ExecutionStatus,
    },
}

pub(crate) enum RedriveReply {
    Redriven(Resume),
    Missing,
    NotRedrivable(ExecutionStatus),
}

/// Where an execution goes on: after a restart, or after a redrive.
#[derive(Debug, Clone)]
pub(crate) struct Resume {
    pub id: i64,
    pub name: String,
    /// The execution's input (JSON text).
    pub input: String,
    pub started_at: i64,
    pub redriven_at: Option<i64>,
    pub redrive_count: u32,
    /// The state it was in and the input that state entered with (`None`: the execution's).
    pub state: Option<String>,
    pub state_input: Option<String>,
    pub entered_at: i64,
    pub next_seq: i64,
}

type Ack<T> = oneshot::Sender<Result<T, String>>;

enum Op {
    Start {
        name: String,
        input: String,
        at: i64,
        first_state: Arc<str>,
        ack: Ack<StartReply>,
    },
    Append {
        execution: i64,
        events: Vec<EventRecord>,
    },
    Finish {
        execution: i64,
        end: End,
        events: Vec<EventRecord>,
        ack: Option<Ack<()>>,
    },
    Redrive {
        name: String,
        at: i64,
        ack: Ack<RedriveReply>,
    },
    Shutdown,
}

pub(crate) struct Journal {
    sender: mpsc::Sender<Op>,
    writer: Mutex<Option<JoinHandle<()>>>,
    /// Dropping the sender stops the checkpointer.
    checkpointer: Mutex<Option<(mpsc::Sender<()>, JoinHandle<()>)>>,
    log: ExecutionLog,
}

/// Reading a journal: what the executor answers describe, list and history with, and what an
/// operator's command opens read-only beside a running ticketd.
pub struct ExecutionLog {
    reader: Arc<Mutex<Connection>>,
    arn_prefix: String,
}

impl Journal {
    /// Opens (creates) the file, brings its schema up to date and starts the writer.
    /// Blocking: call from a blocking context.
    pub(crate) fn open(path: &Path, arn_prefix: String) -> Result<Self, String> {
        let mut conn = connect(path)?;
        migrate(&mut conn)?;
        // Checkpoints (which fsync) run on a thread of their own, so commits never wait for one.
        conn.pragma_update(None, "wal_autocheckpoint", 0)
            .map_err(sql)?;
        // A rewound WAL file is cut back to this size.
        conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)
            .map_err(sql)?;
        let checkpointing = connect(path)?;
        let reader = connect(path)?;
        let (sender, receiver) = mpsc::channel();
        let writer = std::thread::Builder::new()
            .name("asl-journal".into())
            .spawn(move || write_loop(conn, receiver))
            .map_err(|error| format!("cannot start the journal writer: {error}"))?;
        let (stop, stopped) = mpsc::channel();
        let checkpointer = std::thread::Builder::new()
            .name("asl-checkpoint".into())
            .spawn(move || checkpoint_loop(checkpointing, stopped))
            .map_err(|error| format!("cannot start the journal checkpointer: {error}"))?;
        Ok(Self {
            sender,
            writer: Mutex::new(Some(writer)),
            checkpointer: Mutex::new(Some((stop, checkpointer))),
            log: ExecutionLog {
                reader: Arc::new(Mutex::new(reader)),
                arn_prefix,
            },
        })
    }

    /// Stops the writer once everything queued so far is committed; waits for it.
    pub(crate) fn close(&self) {
        let _ = self.sender.send(Op::Shutdown);
        if let Some(writer) = self.writer.lock().expect("journal writer lock").take() {
            let _ = writer.join();
        }
        let checkpointer = self.checkpointer.lock().expect("checkpointer lock").take();
        if let Some((stop, checkpointer)) = checkpointer {
            drop(stop);
            let _ = checkpointer.join();
        }
    }

    pub(crate) async fn start(
        &self,
        name: String,
        input: String,
        at: i64,
        first_state: Arc<str>,
    ) -> Result<StartReply, String> {
        let (ack, reply) = oneshot::channel();
        self.send(Op::Start {
            name,
            input,
            at,
            first_state,
            ack,
        })?;
        reply.await.map_err(|_| closed())?
    }

    /// Queues history rows; they are committed with the next batch.
    pub(crate) fn append(&self, execution: i64, events: Vec<EventRecord>) {
        let _ = self.send(Op::Append { execution, events });
    }

    /// Records the end of an execution and waits until it is committed.
    pub(crate) async fn finish(
        &self,
        execution: i64,
        end: End,
        events: Vec<EventRecord>,
    ) -> Result<(), String> {
        let (ack, reply) = oneshot::channel();
        self.send(Op::Finish {
            execution,
            end,
            events,
            ack: Some(ack),
        })?;
        reply.await.map_err(|_| closed())?
    }

    pub(crate) async fn redrive(&self, name: String, at: i64) -> Result<RedriveReply, String> {
        let (ack, reply) = oneshot::channel();
        self.send(Op::Redrive { name, at, ack })?;
        reply.await.map_err(|_| closed())?
    }

    fn send(&self, op: Op) -> Result<(), String> {
        self.sender.send(op).map_err(|_| closed())
    }

    /// Every execution left RUNNING, with where it was. Blocking.
    pub(crate) fn running(&self) -> Result<Vec<Resume>, String> {
        let conn = self.log.reader.lock().expect("journal reader lock");
        let mut statement = conn
            .prepare("SELECT id FROM executions WHERE status = 'RUNNING' ORDER BY id")
            .map_err(sql)?;
        let ids = statement
            .query_map([], |row| row.get::<_, i64>(0))
            .map_err(sql)?
            .collect::<Result<Vec<i64>, _>>()
            .map_err(sql)?;
        ids.into_iter()
            .map(|id| resume_point(&conn, id).map_err(sql))
            .collect()
    }

    pub(crate) async fn describe(&self, name: &str) -> Result<Option<ExecutionSummary>, String> {
        self.log.describe_raw(name).await
    }

    pub(crate) async fn list(
        &self,
        status: Option<ExecutionStatus>,
        limit: usize,
    ) -> Result<Vec<ExecutionSummary>, String> {
        self.log.list_raw(status, limit).await
    }

    pub(crate) async fn history(&self, name: &str) -> Result<Option<Vec<HistoryEvent>>, String> {
        self.log.history_raw(name).await
    }
}

impl ExecutionLog {
    /// Opens the journal at `path` read-only. `state_machine_arn` forms the execution ARNs, as
    /// [`ExecutorOptions::state_machine_arn`](super::ExecutorOptions) does.
    pub fn open(path: &Path, state_machine_arn: &str) -> Result<Self, ExecutorError> {
        let (arn_prefix, _) = super::model::execution_arn_prefix(state_machine_arn)?;
        let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(
            |error| ExecutorError::Journal(format!("cannot open {}: {error}", path.display())),
        )?;
        conn.busy_timeout(Duration::from_secs(5))
            .map_err(|error| ExecutorError::Journal(sql(error)))?;
        Ok(Self {
            reader: Arc::new(Mutex::new(conn)),
            arn_prefix,
        })
    }

    pub async fn describe(&self, name: &str) -> Result<Option<ExecutionSummary>, ExecutorError> {
        self.describe_raw(name)
            .await
            .map_err(ExecutorError::Journal)
    }

    /// Newest first; only those of `status` if given.
    pub async fn list(
        &self,
        status: Option<ExecutionStatus>,
        limit: usize,
    ) -> Result<Vec<ExecutionSummary>, ExecutorError> {
        self.list_raw(status, limit)
            .await
            .map_err(ExecutorError::Journal)
    }

    pub async fn history(&self, name: &str) -> Result<Option<Vec<HistoryEvent>>, ExecutorError> {
        self.history_raw(name).await.map_err(ExecutorError::Journal)
    }

    /// Runs a read on the reading connection, off the async threads.
    async fn read<T, F>(&self, work: F) -> Result<T, String>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, String> + Send + 'static,
    {
        let reader = self.reader.clone();
        tokio::task::spawn_blocking(move || work(&reader.lock().expect("journal reader lock")))
            .await
            .map_err(|error| format!("journal read failed: {error}"))?
    }

    async fn describe_raw(&self, name: &str) -> Result<Option<ExecutionSummary>, String> {
        let name = name.to_owned();
        let prefix = self.arn_prefix.clone();
        self.read(move |conn| {
            let sql_text = format!("{SUMMARY_SELECT} WHERE e.name = ?1");
            conn.prepare_cached(&sql_text)
                .map_err(sql)?
                .query_row([name], |row| summary_row(row, &prefix))
                .optional()
                .map_err(sql)?
                .transpose()
        })
        .await
    }

    async fn list_raw(
        &self,
        status: Option<ExecutionStatus>,
        limit: usize,
    ) -> Result<Vec<ExecutionSummary>, String> {
        let prefix = self.arn_prefix.clone();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(move |conn| {
            let rows: Vec<Result<ExecutionSummary, String>> = match status {
                Some(status) => {
                    let text =
                        format!("{SUMMARY_SELECT} WHERE e.status = ?1 ORDER BY e.id DESC LIMIT ?2");
                    let mut statement = conn.prepare_cached(&text).map_err(sql)?;
                    statement
                        .query_map(params![status.as_str(), limit], |row| {
                            summary_row(row, &prefix)
                        })
                        .map_err(sql)?
                        .collect::<Result<_, _>>()
                        .map_err(sql)?
                }
                None => {
                    let text = format!("{SUMMARY_SELECT} ORDER BY e.id DESC LIMIT ?1");
                    let mut statement = conn.prepare_cached(&text).map_err(sql)?;
                    statement
                        .query_map([limit], |row| summary_row(row, &prefix))
                        .map_err(sql)?
                        .collect::<Result<_, _>>()
                        .map_err(sql)?
                }
            };
            rows.into_iter().collect()
        })
        .await
    }

    async fn history_raw(&self, name: &str) -> Result<Option<Vec<HistoryEvent>>, String> {
        let name = name.to_owned();
        self.read(move |conn| read_history(conn, &name)).await
    }
}

fn closed() -> String {
    "the journal is closed (executor shut down)".into()
}

fn sql(error: rusqlite::Error) -> String {
    error.to_string()
}

fn connect(path: &Path) -> Result<Connection, String> {
    let conn = Connection::open(path)
        .map_err(|error| format!("cannot open {}: {error}", path.display()))?;
    conn.busy_timeout(Duration::from_secs(5)).map_err(sql)?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(sql)?;
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(sql)?;
    Ok(conn)
}

fn migrate(conn: &mut Connection) -> Result<(), String> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sql)?;
    let version: u32 = tx
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(sql)?;
    let version = version as usize;
    if version > MIGRATIONS.len() {
        return Err(format!(
            "the journal has schema version {version}, newer than this executor knows ({})",
            MIGRATIONS.len()
        ));
    }
    for migration in &MIGRATIONS[version..] {
        tx.execute_batch(migration).map_err(sql)?;
    }
    tx.pragma_update(None, "user_version", MIGRATIONS.len() as u32)
        .map_err(sql)?;
    tx.commit().map_err(sql)
}

pub(crate) fn micros(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

pub(crate) fn from_micros(at: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(at).unwrap_or_default()
}

/// Copies the WAL back into the database now and then. A PASSIVE checkpoint never blocks the
/// writer, but while the writer keeps appending the WAL never starts over; so once it is long,
/// a RESTART checkpoint (which holds the writer back for the little left to copy) rewinds it.
fn checkpoint_loop(conn: Connection, stop: mpsc::Receiver<()>) {
    while let Err(mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(CHECKPOINT_INTERVAL) {
        let passive = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
            row.get::<_, i64>(1)
        });
        let result = match passive {
            Ok(frames) if frames >= RESTART_AFTER_FRAMES => conn
                .query_row("PRAGMA wal_checkpoint(RESTART)", [], |_| Ok(()))
                .map(drop),
            other => other.map(drop),
        };
        if let Err(error) = result {
            tracing::warn!(%error, "execution journal checkpoint failed");
        }
    }
}

// ---- the writer ----------------------------------------------------------------------------

/// What an operation answers once its batch is committed.
enum Answer {
    Start(Result<StartReply, String>),
    Finish(Result<(), String>),
    Redrive(Result<RedriveReply, String>),
    Nothing,
}

impl Op {
    fn answer(self, answer: Answer) {
        // A caller that stopped waiting (its task was aborted) needs no answer.
        match (self, answer) {
            (Op::Start { ack, .. }, Answer::Start(result)) => drop(ack.send(result)),
            (Op::Finish { ack: Some(ack), .. }, Answer::Finish(result)) => drop(ack.send(result)),
            (Op::Redrive { ack, .. }, Answer::Redrive(result)) => drop(ack.send(result)),
            _ => {}
        }
    }

    /// The commit failed: nothing of the batch happened.
    fn fail(self, error: &str) {
        let error = error.to_owned();
        match self {
            Op::Start { ack, .. } => drop(ack.send(Err(error))),
            Op::Finish { ack: Some(ack), .. } => drop(ack.send(Err(error))),
            Op::Redrive { ack, .. } => drop(ack.send(Err(error))),
            _ => {}
        }
    }
}

fn write_loop(mut conn: Connection, receiver: mpsc::Receiver<Op>) {
    let mut batch = Vec::new();
    loop {
        let Ok(first) = receiver.recv() else {
            return;
        };
        // Sleeping (rather than waiting on the channel) lets senders queue without waking us.
        if !matches!(first, Op::Shutdown) {
            std::thread::sleep(GROUP_COMMIT_WINDOW);
        }
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(op) => batch.push(op),
                Err(_) => break,
            }
        }
        // Everything queued before a shutdown is still written; nothing after it.
        let stop = batch.iter().position(|op| matches!(op, Op::Shutdown));
        if let Some(at) = stop {
            batch.truncate(at);
        }
        write_batch(&mut conn, &mut batch);
        if stop.is_some() {
            return;
        }
    }
}

fn write_batch(conn: &mut Connection, batch: &mut Vec<Op>) {
    // Normally the whole batch goes in one transaction. Should an operation fail, the batch
    // runs again with a savepoint around each operation, so the bad one loses only itself
    // (savepoints cost two more statements per operation, so only then).
    let result = run_batch(conn, batch, false).or_else(|_| run_batch(conn, batch, true));
    match result {
        Ok(answers) => {
            for (op, answer) in batch.drain(..).zip(answers) {
                op.answer(answer);
            }
        }
        Err(error) => {
            let error = format!("journal commit failed: {error}");
            tracing::error!(%error, "execution journal batch lost");
            batch.drain(..).for_each(|op| op.fail(&error));
        }
    }
}

fn run_batch(conn: &mut Connection, batch: &[Op], isolate: bool) -> rusqlite::Result<Vec<Answer>> {
    let mut tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut answers = Vec::with_capacity(batch.len());
    for op in batch {
        if isolate {
            let savepoint = tx.savepoint()?;
            let result = apply(&savepoint, op);
            match &result {
                Ok(_) => savepoint.commit()?,
                Err(error) => {
                    tracing::error!(%error, "cannot record an execution operation");
                    drop(savepoint);
                }
            }
            answers.push(result.unwrap_or_else(|error| op.refusal(error)));
        } else {
            answers.push(apply(&tx, op)?);
        }
    }
    tx.commit()?;
    Ok(answers)
}

impl Op {
    /// The answer of an operation that failed on its own.
    fn refusal(&self, error: rusqlite::Error) -> Answer {
        let error = sql(error);
        match self {
            Op::Start { .. } => Answer::Start(Err(error)),
            Op::Finish { .. } => Answer::Finish(Err(error)),
            Op::Redrive { .. } => Answer::Redrive(Err(error)),
            _ => Answer::Nothing,
        }
    }
}

fn apply(conn: &Connection, op: &Op) -> rusqlite::Result<Answer> {
    Ok(match op {
        Op::Start {
            name,
            input,
            at,
            first_state,
            ..
        } => Answer::Start(Ok(start(conn, name, input, *at, first_state)?)),
        Op::Append { execution, events } => {
            insert_events(conn, *execution, events)?;
            Answer::Nothing
        }
        Op::Finish {
            execution,
            end,
            events,
            ..
        } => {
            finish(conn, *execution, end, events)?;
            Answer::Finish(Ok(()))
        }
        Op::Redrive { name, at, .. } => Answer::Redrive(Ok(redrive(conn, name, *at)?)),
        Op::Shutdown => Answer::Nothing,
    })
}

fn start(
    conn: &Connection,
    name: &str,
    input: &str,
    at: i64,
    first_state: &Arc<str>,
) -> rusqlite::Result<StartReply> {
    let inserted = conn
        .prepare_cached(
            "INSERT INTO executions (name, input, status, started_at) VALUES (?1, ?2, 'RUNNING', ?3)
             ON CONFLICT (name) DO NOTHING",
        )?
        .execute(params![name, input, at])?;
    if inserted == 0 {
        let (input, status): (String, String) = conn
            .prepare_cached("SELECT input, status FROM executions WHERE name = ?1")?
            .query_row([name], |row| Ok((row.get(0)?, row.get(1)?)))?;
        return Ok(StartReply::Existing {
            input,
            status: parse_status(&status)?,
        });
    }
    let id = conn.last_insert_rowid();
    let started = EventRecord::new(0, at, Kind::Started, Some(first_state.clone()));
    insert_events(conn, id, &[started])?;
    Ok(StartReply::Started { id })
}

fn insert_events(
    conn: &Connection,
    execution: i64,
    events: &[EventRecord],
) -> rusqlite::Result<()> {
    let mut statement = conn.prepare_cached(
        "INSERT INTO history (execution_id, seq, at, kind, state, exited, data, error, cause, \
         count, extra, delay, target) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )?;
    for event in events {
        statement.execute(params![
            execution,
            event.seq,
            event.at,
            event.kind.as_str(),
            event.state.as_deref(),
            event.exited.as_deref(),
            event.data,
            event.error,
            event.cause,
            event.count,
            event.extra,
            event.delay,
            event.target.as_deref(),
        ])?;
    }
    Ok(())
}

fn finish(
    conn: &Connection,
    execution: i64,
    end: &End,
    events: &[EventRecord],
) -> rusqlite::Result<()> {
    insert_events(conn, execution, events)?;
    conn.prepare_cached(
        "UPDATE executions SET status = ?2, output = ?3, error = ?4, cause = ?5, stopped_at = ?6
         WHERE id = ?1",
    )?
    .execute(params![
        execution,
        end.status.as_str(),
        end.output,
        end.error,
        end.cause,
        end.at
    ])?;
    Ok(())
}

fn redrive(conn: &Connection, name: &str, at: i64) -> rusqlite::Result<RedriveReply> {
    let changed = conn
        .prepare_cached(
            "UPDATE executions SET status = 'RUNNING', output = NULL, error = NULL, cause = NULL,
             stopped_at = NULL, redrive_count = redrive_count + 1, redriven_at = ?2
             WHERE name = ?1 AND status IN ('FAILED', 'TIMED_OUT')",
        )?
        .execute(params![name, at])?;
    if changed == 0 {
        let status: Option<String> = conn
            .prepare_cached("SELECT status FROM executions WHERE name = ?1")?
            .query_row([name], |row| row.get(0))
            .optional()?;
        return Ok(match status {
            None => RedriveReply::Missing,
            Some(status) => RedriveReply::NotRedrivable(parse_status(&status)?),
        });
    }
    let id: i64 = conn
        .prepare_cached("SELECT id FROM executions WHERE name = ?1")?
        .query_row([name], |row| row.get(0))?;
    let mut resume = resume_point(conn, id)?;
    let mut redriven = EventRecord::new(
        resume.next_seq,
        at,
        Kind::Redriven,
        resume.state.as_deref().map(Arc::from),
    );
    redriven.count = Some(i64::from(resume.redrive_count));
    redriven.data = resume.state_input.clone();
    insert_events(conn, id, &[redriven])?;
    resume.next_seq += 1;
    resume.entered_at = at;
    Ok(RedriveReply::Redriven(resume))
}

/// Where execution `id` is: the state it last entered.
fn resume_point(conn: &Connection, id: i64) -> rusqlite::Result<Resume> {
    type Execution = (String, String, i64, Option<i64>, u32);
    let (name, input, started_at, redriven_at, redrive_count): Execution = conn
        .prepare_cached(
            "SELECT name, input, started_at, redriven_at, redrive_count FROM executions WHERE id = ?1",
        )?
        .query_row([id], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?))
        })?;
    let entered: Option<(String, Option<String>, i64)> = conn
        .prepare_cached(&format!(
            "SELECT state, data, at FROM history WHERE execution_id = ?1 AND {ENTERING}
             ORDER BY seq DESC LIMIT 1"
        ))?
        .query_row([id], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
        .optional()?;
    let last_seq: Option<i64> = conn
        .prepare_cached("SELECT MAX(seq) FROM history WHERE execution_id = ?1")?
        .query_row([id], |row| row.get(0))?;
    let (state, state_input, entered_at) = match entered {
        Some((state, data, at)) => (Some(state), data, at),
        None => (None, None, started_at),
    };
    Ok(Resume {
        id,
        name,
        input,
        started_at,
        redriven_at,
        redrive_count,
        state,
        state_input,
        entered_at,
        next_seq: last_seq.map_or(0, |seq| seq + 1),
    })
}

// ---- reading --------------------------------------------------------------------------------

const SUMMARY_SELECT: &str = "SELECT e.name, e.status, e.input, e.output, e.error, e.cause,
    e.started_at, e.stopped_at, e.redrive_count, e.redriven_at,
    CASE WHEN e.status = 'SUCCEEDED' THEN NULL ELSE
        (SELECT h.state FROM history h WHERE h.execution_id = e.id
         AND h.kind IN ('Started', 'Entered', 'Redriven') ORDER BY h.seq DESC LIMIT 1) END
    FROM executions e";

fn parse_status(text: &str) -> rusqlite::Result<ExecutionStatus> {
    text.parse().map_err(|error: String| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, error.into())
    })
}

fn parse_json(text: &str) -> Result<Value, String> {
    serde_json::from_str(text).map_err(|error| format!("corrupt JSON in the journal: {error}"))
}

/// The summary of the row; the inner result carries JSON that does not parse.
fn summary_row(row: &Row<'_>, prefix: &str) -> rusqlite::Result<Result<ExecutionSummary, String>> {
    let name: String = row.get(0)?;
    let status = parse_status(&row.get::<_, String>(1)?)?;
    let input: String = row.get(2)?;
    let output: Option<String> = row.get(3)?;
    let state: Option<String> = row.get(10)?;
    let build = || -> Result<ExecutionSummary, String> {
        Ok(ExecutionSummary {
            execution_arn: format!("{prefix}{name}"),
            status,
            input: parse_json(&input)?,
            output: output.as_deref().map(parse_json).transpose()?,
            error: row.get(4).map_err(sql)?,
            cause: row.get(5).map_err(sql)?,
            current_state: state.clone().filter(|_| status == ExecutionStatus::Running),
            failed_state: state
                .clone()
                .filter(|_| matches!(status, ExecutionStatus::Failed | ExecutionStatus::TimedOut)),
            start_date: from_micros(row.get(6).map_err(sql)?),
            stop_date: row.get::<_, Option<i64>>(7).map_err(sql)?.map(from_micros),
            redrive_count: row.get(8).map_err(sql)?,
            redrive_date: row.get::<_, Option<i64>>(9).map_err(sql)?.map(from_micros),
            name: name.clone(),
        })
    };
    Ok(build())
}

struct HistoryRow {
    at: i64,
    kind: String,
    state: Option<String>,
    exited: Option<String>,
    data: Option<String>,
    error: Option<String>,
    cause: Option<String>,
    count: Option<i64>,
    extra: Option<i64>,
    delay: Option<f64>,
    target: Option<String>,
}

fn read_history(conn: &Connection, name: &str) -> Result<Option<Vec<HistoryEvent>>, String> {
    let execution: Option<(i64, String, Option<String>)> = conn
        .prepare_cached("SELECT id, input, output FROM executions WHERE name = ?1")
        .map_err(sql)?
        .query_row([name], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
        .optional()
        .map_err(sql)?;
    let Some((id, input, output)) = execution else {
        return Ok(None);
    };
    let input = parse_json(&input)?;
    let output = output
        .as_deref()
        .map(parse_json)
        .transpose()?
        .unwrap_or(Value::Null);
    let rows = conn
        .prepare_cached(
            "SELECT at, kind, state, exited, data, error, cause, count, extra, delay, target
             FROM history WHERE execution_id = ?1 ORDER BY seq",
        )
        .map_err(sql)?
        .query_map([id], |row| {
            Ok(HistoryRow {
                at: row.get(0)?,
                kind: row.get(1)?,
                state: row.get(2)?,
                exited: row.get(3)?,
                data: row.get(4)?,
                error: row.get(5)?,
                cause: row.get(6)?,
                count: row.get(7)?,
                extra: row.get(8)?,
                delay: row.get(9)?,
                target: row.get(10)?,
            })
        })
        .map_err(sql)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(sql)?;

    let mut events = Vec::with_capacity(rows.len() * 2);
    for row in rows {
        let timestamp = from_micros(row.at);
        let mut push = |kind: HistoryEventKind| {
            events.push(HistoryEvent {
                id: events.len() as u64,
                timestamp,
                kind,
            });
        };
        let kind = Kind::parse(&row.kind)
            .ok_or_else(|| format!("unknown history row `{}` in the journal", row.kind))?;
        let state = row.state.unwrap_or_default();
        let number = |value: Option<i64>| u32::try_from(value.unwrap_or(0)).unwrap_or(0);
        let data = match &row.data {
            Some(data) => parse_json(data)?,
            None => input.clone(),
        };
        match kind {
            Kind::Started => {
                push(HistoryEventKind::ExecutionStarted {
                    input: input.clone(),
                });
                push(HistoryEventKind::StateEntered {
                    name: state,
                    input: data,
                });
            }
            Kind::Entered => {
                if let Some(exited) = row.exited {
                    push(HistoryEventKind::StateExited {
                        name: exited,
                        output: data.clone(),
                    });
                }
                push(HistoryEventKind::StateEntered {
                    name: state,
                    input: data,
                });
            }
            Kind::Succeeded => {
                push(HistoryEventKind::StateExited {
                    name: row.exited.unwrap_or_default(),
                    output: output.clone(),
                });
                push(HistoryEventKind::ExecutionSucceeded {
                    output: output.clone(),
                });
            }
            Kind::Redriven => {
                push(HistoryEventKind::ExecutionRedriven {
                    state: state.clone(),
                    redrive_count: number(row.count),
                });
                push(HistoryEventKind::StateEntered {
                    name: state,
                    input: data,
                });
            }
            Kind::Resumed => push(HistoryEventKind::ExecutionResumed { state }),
            Kind::TaskFailed => push(HistoryEventKind::TaskFailed {
                state,
                error: row.error.unwrap_or_default(),
                cause: row.cause.unwrap_or_default(),
                attempt: number(row.count),
            }),
            Kind::RetryScheduled => push(HistoryEventKind::RetryScheduled {
                state,
                retrier: number(row.extra),
                retry: number(row.count),
                delay_seconds: row.delay.unwrap_or(0.0),
            }),
            Kind::ErrorCaught => push(HistoryEventKind::ErrorCaught {
                state,
                error: row.error.unwrap_or_default(),
                next: row.target.unwrap_or_default(),
            }),
            Kind::Failed => push(HistoryEventKind::ExecutionFailed {
                state: Some(state).filter(|s| !s.is_empty()),
                error: row.error,
                cause: row.cause,
            }),
            Kind::TimedOut => push(HistoryEventKind::ExecutionTimedOut {
                state: Some(state).filter(|s| !s.is_empty()),
                error: row.error.unwrap_or_default(),
                cause: row.cause.unwrap_or_default(),
            }),
        }
    }
    Ok(Some(events))
}
