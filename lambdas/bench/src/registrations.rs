//! `ticketd-bench registrations`: registrations per second through the local executor, on the
//! embedded stack: the registration state machine with every step real (SQLite store, PDF
//! render, ticket file written and synced to disk), timed from start to SUCCEEDED.

use std::collections::HashMap;
use std::error::Error;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::TimeDelta;
use serde_json::Value;
use ticket_core::registration::{RegistrationRequest, RegistrationSteps, Step};
use ticket_core::{
    Attendee, CheckoutRequest, CheckoutSession, Clock, EventId, HoldId, NewEvent, NewHold, OrderId,
    OrderedTicket, Payments, PaymentsError, RandomIds, Refund, RefundRequest, Seats, Store,
    SystemClock, TicketSigner, UserId, Workflow,
};
use tokio::sync::Semaphore;

use crate::report::{latency_summary, micros, note_debug_build};
use asl::{ExecutionStatus, ExecutorOptions, TaskFailure, TaskFunction};
use ticket_embedded::SqliteStore;
use ticket_embedded::files::LocalFiles;
use ticketd::registration::{self, LocalWorkflow};

#[derive(Debug, Clone, clap::Args)]
pub struct RegistrationBenchArgs {
    /// Registrations per run (each a paid seat of one event with that many seats).
    #[arg(long, default_value_t = 5_000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub count: u32,
    /// Registrations in flight at once, comma-separated: one run per value.
    #[arg(long, value_delimiter = ',', default_value = "1,64", value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub concurrency: Vec<u32>,
    /// Keep each run's state under this directory instead of a temporary one.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

/// Time spent inside each step, summed over a run.
#[derive(Default)]
struct StepTimes(Mutex<HashMap<Step, Duration>>);

struct Timed {
    step: Step,
    inner: Arc<dyn TaskFunction>,
    times: Arc<StepTimes>,
}

#[async_trait]
impl TaskFunction for Timed {
    async fn invoke(&self, payload: Value) -> Result<Value, TaskFailure> {
        let started = Instant::now();
        let result = self.inner.invoke(payload).await;
        *self
            .times
            .0
            .lock()
            .expect("step times lock")
            .entry(self.step)
            .or_default() += started.elapsed();
        result
    }
}

pub async fn run(args: RegistrationBenchArgs) -> Result<(), Box<dyn Error + Send + Sync>> {
    println!(
        "registration saga on the embedded stack: {} paid registrations per run \
         (store, PDF render, file write + fsync, execution journal)",
        args.count
    );
    note_debug_build();
    ticket_render::warm_up();
    for &concurrency in &args.concurrency {
        let temp_dir;
        let dir = match &args.data_dir {
            Some(dir) => {
                let dir = dir.join(format!("registrations-{concurrency}"));
                std::fs::create_dir_all(&dir)?;
                dir
            }
            None => {
                temp_dir = tempfile::tempdir()?;
                temp_dir.path().to_owned()
            }
        };
        measure(&dir, args.count, concurrency as usize).await?;
    }
    Ok(())
}

async fn measure(
    dir: &std::path::Path,
    count: u32,
    concurrency: usize,
) -> Result<(), Box<dyn Error + Send + Sync>> {
    let store = Arc::new(SqliteStore::open(&dir.join("ticketd.sqlite3"))?);
    let files = Arc::new(LocalFiles::open(dir, "http://127.0.0.1:8080")?);
    let steps = Arc::new(RegistrationSteps {
        store: store.clone(),
        files,
        payments: Arc::new(UnconfiguredPayments),
        renderer: Arc::new(ticket_render::PdfRenderer),
        signer: Arc::new(TicketSigner::generate_with_derived_id()),
        clock: Arc::new(SystemClock),
        ids: Arc::new(RandomIds),
    });
    let times = Arc::new(StepTimes::default());
    let bindings = registration::bindings(steps, |step, inner| {
        Arc::new(Timed {
            step,
            inner,
            times: times.clone(),
        })
    });
    let executor = registration::open_executor(
        &dir.join("executions.sqlite3"),
        bindings,
        ExecutorOptions::default(),
    )
    .await?;
    let workflow = LocalWorkflow::new(executor.clone());
    let requests = paid_seats(store.as_ref(), count).await?;
    let event_id = requests[0].event_id;

    let gate = Arc::new(Semaphore::new(concurrency));
    let started = Instant::now();
    let mut runs = tokio::task::JoinSet::new();
    for request in requests {
        let (gate, workflow) = (gate.clone(), workflow.clone());
        runs.spawn(async move {
            let _permit = gate.acquire().await.expect("the gate stays open");
            let began = Instant::now();
            workflow.start_registration(&request).await?;
            let execution = workflow.executor().wait(request.order_id.as_str()).await?;
            if execution.status != ExecutionStatus::Succeeded {
                return Err(format!("{} ended {execution:?}", request.order_id).into());
            }
            Ok::<_, Box<dyn Error + Send + Sync>>(began.elapsed())
        });
    }
    let mut latencies = Vec::with_capacity(count as usize);
    while let Some(run) = runs.join_next().await {
        latencies.push(micros(run??));
    }
    let elapsed = started.elapsed();
    executor.shutdown();
    // Every seat sold once: the figures mean nothing otherwise.
    let seats = store
        .get_event(event_id)
        .await?
        .ok_or("the event is gone")?
        .seats;
    if (seats.taken, seats.sold) != (count, count) {
        return Err(format!("expected {count} seats sold, the store counts {seats:?}").into());
    }
    latencies.sort_unstable();

    println!(
        "\nconcurrency {concurrency}: {count} registrations in {:.2} s = {:.0}/s; \
         latency {}",
        elapsed.as_secs_f64(),
        f64::from(count) / elapsed.as_secs_f64(),
        latency_summary(&latencies),
    );
    println!(
        "  time inside each step, per registration (the rest is executor, journal, queueing):"
    );
    let times = times.0.lock().expect("step times lock");
    for step in Step::ALL {
        if let Some(total) = times.get(&step) {
            println!(
                "    {:<14} {:>8.3} ms",
                step.state_name(),
                total.as_secs_f64() * 1000.0 / f64::from(count)
            );
        }
    }
    Ok(())
}

/// An event of `count` paid seats, every seat held, and the registration request of each hold
/// (what the payment webhook would start).
pub(crate) async fn paid_seats(
    store: &dyn Store,
    count: u32,
) -> Result<Vec<RegistrationRequest>, Box<dyn Error + Send + Sync>> {
    let now = SystemClock.now();
    let event = NewEvent {
        title: "Registration benchmark".into(),
        venue: "Benchmark hall".into(),
        starts_at: Some(now + TimeDelta::days(365)),
        capacity: i64::from(count),
        price_minor: Some(2500),
        currency: "EUR".into(),
        ..NewEvent::default()
    }
    .validate(
        EventId::new(&RandomIds),
        UserId::from("bench"),
        now,
        &RandomIds,
    )?;
    let ticket_type = &event.ticket_types[0];
    store.create_event(&event).await?;
    let mut requests = Vec::with_capacity(count as usize);
    for n in 0..count {
        let hold = NewHold {
            id: HoldId::new(&RandomIds),
            seats: Seats::one(ticket_type.id),
            promo_code: None,
            user_id: UserId::from(format!("buyer-{n}")),
            expires_at: now + TimeDelta::minutes(30),
            event_version: None,
        };
        store.hold_seat(event.id, &hold, now).await?;
        requests.push(RegistrationRequest {
            order_id: format!("cs_bench_{}", hold.id.as_uuid().simple()).into(),
            event_id: event.id,
            hold_id: hold.id,
            ticket_type_id: None,
            tickets: vec![OrderedTicket {
                ticket_type_id: ticket_type.id,
                holder_name: None,
            }],
            user_id: hold.user_id,
            payment_intent_id: Some(format!("pi_bench_{n}")),
            amount_minor: ticket_type.price_minor,
            currency: event.currency,
            attendee: Attendee {
                name: format!("Buyer {n}"),
                email: format!("buyer{n}@example.com"),
            },
        });
    }
    Ok(requests)
}

/// The bench's registrations never need a payment provider (no step fails, so nothing is
/// refunded): one that did would fail loudly here.
#[derive(Debug, Clone, Copy, Default)]
pub struct UnconfiguredPayments;

const NOT_CONFIGURED: &str = "no payment provider is configured";

#[async_trait]
impl Payments for UnconfiguredPayments {
    async fn create_checkout(
        &self,
        _request: &CheckoutRequest,
    ) -> Result<CheckoutSession, PaymentsError> {
        Err(PaymentsError::Rejected(NOT_CONFIGURED.into()))
    }

    async fn expire_checkout(&self, _session: &OrderId) -> Result<(), PaymentsError> {
        Err(PaymentsError::Rejected(NOT_CONFIGURED.into()))
    }

    async fn get_checkout(
        &self,
        _session: &OrderId,
    ) -> Result<Option<ticket_core::SessionSnapshot>, PaymentsError> {
        Err(PaymentsError::Rejected(NOT_CONFIGURED.into()))
    }

    async fn refund(&self, _request: &RefundRequest) -> Result<Refund, PaymentsError> {
        Err(PaymentsError::Rejected(NOT_CONFIGURED.into()))
    }
}
