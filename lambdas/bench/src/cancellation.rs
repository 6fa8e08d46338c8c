//! `ticketd-bench cancellation`: how long the refunds of a cancelled event take, through the
//! cancellation state machine on the local executor: an event of N fulfilled orders on SQLite is
//! cancelled, and the run is timed from the cancellation to SUCCEEDED. The payment provider
//! answers each refund after `--refund-latency-ms` (Stripe's own latency, which the Map's
//! concurrency hides) and counts refunds per order, so a double refund fails the run.

use std::collections::HashMap;
use std::error::Error;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use ticket_core::cancellation::{CancellationSteps, PageInput};
use ticket_core::registration::{confirm_seat, record_ticket};
use ticket_core::{
    CheckoutRequest, CheckoutSession, Clock, OrderId, OrderStatus, Payments, PaymentsError,
    RandomIds, Refund, RefundRequest, Store, SystemClock,
};

use crate::registrations::paid_seats;
use crate::report::note_debug_build;
use asl::{ExecutionStatus, ExecutorOptions};
use ticket_embedded::SqliteStore;
use ticketd::cancellation;

#[derive(Debug, Clone, clap::Args)]
pub struct CancellationBenchArgs {
    /// Paid orders of the cancelled event (one ticket each).
    #[arg(long, default_value_t = 5_000, value_parser = clap::value_parser!(u32).range(1..=200_000))]
    pub orders: u32,
    /// How long the payment provider takes to answer a refund, in milliseconds.
    #[arg(long, value_delimiter = ',', default_value = "0,250")]
    pub refund_latency_ms: Vec<u64>,
}

pub async fn run(args: CancellationBenchArgs) -> Result<(), Box<dyn Error + Send + Sync>> {
    println!(
        "event cancellation on the embedded stack: {} fulfilled orders refunded through the \
         cancellation state machine (SQLite store, execution journal, Distributed Map)",
        args.orders
    );
    note_debug_build();
    for &latency in &args.refund_latency_ms {
        measure(args.orders, Duration::from_millis(latency)).await?;
    }
    Ok(())
}

async fn measure(orders: u32, latency: Duration) -> Result<(), Box<dyn Error + Send + Sync>> {
    let dir = tempfile::tempdir()?;
    let store = Arc::new(SqliteStore::open(&dir.path().join("ticketd.sqlite3"))?);
    let order_ids = fulfilled_orders(store.as_ref(), orders).await?;
    let event_id = store
        .get_order(&order_ids[0])
        .await?
        .ok_or("the first order is gone")?
        .event_id;
    let payments = Arc::new(SlowRefunds {
        latency,
        refunds: Mutex::default(),
    });
    let steps = Arc::new(CancellationSteps {
        store: store.clone(),
        payments: payments.clone(),
        clock: Arc::new(SystemClock),
    });
    let cancellations = cancellation::open_executor(
        &dir.path().join("cancellations.sqlite3"),
        cancellation::bindings(steps, |_, function| function),
        ExecutorOptions::default(),
    )
    .await?;
    let started = Instant::now();
    store.cancel_event(event_id, SystemClock.now()).await?;
    let name = ticket_core::workflow::cancellation_execution_name(event_id);
    cancellations
        .start(&name, serde_json::to_value(PageInput::first(event_id))?)
        .await?;
    let run = cancellations.wait(&name).await?;
    let elapsed = started.elapsed();
    cancellations.shutdown();
    if run.status != ExecutionStatus::Succeeded {
        return Err(format!("the cancellation ended {run:?}").into());
    }
    // Every order refunded, each once, every seat back: the figures mean nothing otherwise.
    let refunds = payments.refunds.lock().expect("refunds lock").clone();
    if refunds.len() != order_ids.len() || refunds.values().any(|&count| count != 1) {
        return Err(format!(
            "{} orders, {} refunded, some more than once: {}",
            order_ids.len(),
            refunds.len(),
            refunds.values().any(|&count| count != 1)
        )
        .into());
    }
    for id in &order_ids {
        let status = store.get_order(id).await?.map(|order| order.status);
        if status != Some(OrderStatus::Refunded) {
            return Err(format!("order {id} is {status:?}").into());
        }
    }
    let view = store
        .get_event(event_id)
        .await?
        .ok_or("the event is gone")?;
    if view.seats.sold != 0 {
        return Err(format!("{} seats still sold", view.seats.sold).into());
    }
    println!(
        "\nrefund latency {} ms: {orders} orders refunded in {:.2} s = {:.0} refunds/s",
        latency.as_millis(),
        elapsed.as_secs_f64(),
        f64::from(orders) / elapsed.as_secs_f64(),
    );
    Ok(())
}

/// An event of `count` one-ticket orders, each FULFILLED as the registration leaves it (its
/// ticket file aside: a cancellation never reads it).
async fn fulfilled_orders(
    store: &dyn Store,
    count: u32,
) -> Result<Vec<OrderId>, Box<dyn Error + Send + Sync>> {
    let now = SystemClock.now();
    let mut ids = Vec::with_capacity(count as usize);
    for request in paid_seats(store, count).await? {
        confirm_seat(store, &request, now).await?;
        record_ticket(store, &RandomIds, &request, now).await?;
        store
            .transition_order(&request.order_id, OrderStatus::Fulfilled, None, now)
            .await?;
        ids.push(request.order_id);
    }
    Ok(ids)
}

/// Refunds after a delay, counting them by idempotency key (as Stripe keys them).
struct SlowRefunds {
    latency: Duration,
    refunds: Mutex<HashMap<String, u32>>,
}

const ONLY_REFUNDS: &str = "the cancellation bench only refunds";

#[async_trait]
impl Payments for SlowRefunds {
    async fn create_checkout(&self, _: &CheckoutRequest) -> Result<CheckoutSession, PaymentsError> {
        Err(PaymentsError::Rejected(ONLY_REFUNDS.into()))
    }

    async fn expire_checkout(&self, _: &OrderId) -> Result<(), PaymentsError> {
        Err(PaymentsError::Rejected(ONLY_REFUNDS.into()))
    }

    async fn get_checkout(
        &self,
        _: &OrderId,
    ) -> Result<Option<ticket_core::SessionSnapshot>, PaymentsError> {
        Err(PaymentsError::Rejected(ONLY_REFUNDS.into()))
    }

    async fn refund(&self, request: &RefundRequest) -> Result<Refund, PaymentsError> {
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
        *self
            .refunds
            .lock()
            .expect("refunds lock")
            .entry(request.idempotency_key())
            .or_default() += 1;
        Ok(Refund {
            id: format!("re_{}", request.order_id),
            status: "succeeded".into(),
        })
    }
}
