//! `ticketd-bench seats`: how many seats per second a store sells. One operation is a
//! `hold_seat` followed by `confirm_hold`, the store work of one purchase.

use std::error::Error;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::TimeDelta;
use ticket_core::ticket_type::legacy_type_id;
use ticket_core::{
    Clock, EventId, HoldId, NewEvent, NewHold, RandomIds, Seats, Store, StoreError, SystemClock,
    UserId,
};

use ticket_embedded::SqliteStore;

use crate::report::{micros, note_debug_build, percentile};

#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Hold + confirm pairs per run, split across the run's tasks.
    #[arg(long, default_value_t = 20_000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub ops: u32,
    /// Concurrent tasks of each run, comma-separated: one run per value.
    #[arg(long, value_delimiter = ',', default_value = "1,8", value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub tasks: Vec<u32>,
    /// Put the database (bench.sqlite3) here instead of a fresh temporary directory.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

/// What one run measured.
#[derive(Debug, Clone)]
pub struct RunResult {
    pub tasks: usize,
    pub ops: u32,
    pub elapsed: Duration,
    /// Latency of one hold + confirm pair, microseconds.
    pub p50_micros: u64,
    pub p99_micros: u64,
}

impl RunResult {
    pub fn ops_per_second(&self) -> f64 {
        f64::from(self.ops) / self.elapsed.as_secs_f64()
    }
}

/// Opens a SQLite store and prints one table row per entry of `args.tasks`.
pub async fn run(args: BenchArgs) -> Result<(), Box<dyn Error + Send + Sync>> {
    // The temp dir lives until the end of this function, then is deleted with the database.
    let temp_dir;
    let dir = match &args.data_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            dir.clone()
        }
        None => {
            temp_dir = tempfile::tempdir()?;
            temp_dir.path().to_owned()
        }
    };
    // Its own file, so benchmarking in a real data dir leaves ticketd.sqlite3 alone.
    let path = dir.join("bench.sqlite3");
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path)?);

    println!(
        "store: SQLite at {}; {} hold_seat + confirm_hold pairs per run",
        path.display(),
        args.ops
    );
    note_debug_build();
    println!(
        "{:>5} {:>8} {:>8} {:>9} {:>8} {:>8}",
        "tasks", "ops", "seconds", "ops/s", "p50 us", "p99 us"
    );
    for &tasks in &args.tasks {
        let result = measure(store.clone(), tasks as usize, args.ops).await?;
        println!(
            "{:>5} {:>8} {:>8.2} {:>9.0} {:>8} {:>8}",
            result.tasks,
            result.ops,
            result.elapsed.as_secs_f64(),
            result.ops_per_second(),
            result.p50_micros,
            result.p99_micros
        );
    }
    Ok(())
}

/// Creates an event with exactly `ops` seats and sells all of them from `tasks` concurrent
/// tasks. Works against any store.
pub async fn measure(
    store: Arc<dyn Store>,
    tasks: usize,
    ops: u32,
) -> Result<RunResult, Box<dyn Error + Send + Sync>> {
    let tasks = tasks.max(1);
    let clock = SystemClock;
    let now = clock.now();
    let event = NewEvent {
        title: format!("Bench run, {tasks} tasks"),
        venue: "Benchmark".into(),
        starts_at: Some(now + TimeDelta::days(365)),
        capacity: i64::from(ops),
        price_minor: Some(0),
        currency: "EUR".into(),
        ..NewEvent::default()
    }
    .validate(
        EventId::new(&RandomIds),
        UserId::from("bench"),
        now,
        &RandomIds,
    )?;
    let event_id = event.id;
    store.create_event(&event).await?;

    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for task in 0..tasks {
        // Spread the remainder so the total is exactly `ops`.
        let share = ops / tasks as u32 + u32::from((task as u32) < ops % tasks as u32);
        let store = store.clone();
        workers.spawn(async move { sell(store.as_ref(), event_id, task, share).await });
    }
    let mut latencies = Vec::with_capacity(ops as usize);
    while let Some(joined) = workers.join_next().await {
        latencies.extend(joined??);
    }
    let elapsed = started.elapsed();

    // Every seat sold, none twice: the numbers mean nothing otherwise.
    let seats = store
        .get_event(event_id)
        .await?
        .ok_or(StoreError::NotFound("event"))?
        .seats;
    if seats.sold != ops || seats.taken != ops {
        return Err(format!("expected {ops} seats sold, the store counts {seats:?}").into());
    }

    latencies.sort_unstable();
    Ok(RunResult {
        tasks,
        ops,
        elapsed,
        p50_micros: percentile(&latencies, 50),
        p99_micros: percentile(&latencies, 99),
    })
}

/// One task's share: hold and confirm `count` seats, one after another. Returns each pair's
/// latency in microseconds.
async fn sell(
    store: &dyn Store,
    event_id: EventId,
    task: usize,
    count: u32,
) -> Result<Vec<u64>, StoreError> {
    let clock = SystemClock;
    let user_id = UserId::from(format!("bench-{task}"));
    let mut latencies = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let started = Instant::now();
        let now = clock.now();
        let hold = NewHold {
            id: HoldId::new(&RandomIds),
            seats: Seats::one(legacy_type_id(event_id)),
            promo_code: None,
            user_id: user_id.clone(),
            expires_at: now + TimeDelta::minutes(30),
            event_version: None,
        };
        let held = store.hold_seat(event_id, &hold, now).await?;
        store.confirm_hold(event_id, held.id).await?;
        latencies.push(micros(started.elapsed()));
    }
    Ok(latencies)
}
