//! Reconciliation: the pass that makes sure nothing stays stuck when a webhook is lost or a
//! process dies midway. Both stacks run it on a schedule (ticketd every `--reconcile-every`,
//! AWS from an EventBridge rule), over the same ports.
//!
//! A pass reads three indexes, never a scan:
//! - orders still `PENDING` whose check is due ([`Store::orders_due`]): it asks the payment
//!   provider for the session's truth and acts on it — paid: start the registration (idempotent
//!   by name); still open past the hold: expire it at the provider first, then give the seat
//!   back; expired or unknown to the provider: give the seat back and close the order
//!   `EXPIRED`; still being paid or registered: look again later;
//! - orders `REFUNDING` (the same index): an organizer's refund cut short by a crash or a
//!   failing provider, finished ([`crate::refund::finish_refund`]);
//! - holds still `HELD` past their expiry that never got an order ([`Store::expired_holds`]):
//!   their checkout died before it handed out a payment page, so the seat simply goes back;
//! - cancelled events whose refunds have not finished ([`Store::cancellations_due`]): the
//!   cancellation's execution is started, which finds it if it runs already.
//!
//! Every action is idempotent and conditional in the store, so a webhook racing the pass, or
//! two passes at once, change nothing twice.

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use futures::StreamExt;
use serde::Serialize;

use crate::clock::Clock;
use crate::ids::{EventId, HoldId, OrderId};
use crate::order::{Hold, HoldStatus, Order, OrderStatus};
use crate::payments::{Payments, PaymentsError, SessionSnapshot, SessionStatus};
use crate::refund::finish_refund;
use crate::store::{FIRST_ORDER_CHECK, ReleaseOutcome, ReleaseScope, Store, StoreError};
use crate::workflow::{Started, Workflow, WorkflowError};

/// The most orders, and the most holds, one pass takes on; the rest wait for the next pass.
pub const PASS_LIMIT: usize = 200;

/// How many items a pass settles at once (each may call the payment provider).
const CONCURRENCY: usize = 8;
/// How long after a cancellation a pass makes sure its refunds run: the request starts them
/// itself within this.
pub const CANCELLATION_START_GRACE: TimeDelta = TimeDelta::minutes(1);

/// What a pass runs on.
#[derive(Clone)]
pub struct ReconcilePorts {
    pub store: Arc<dyn Store>,
    pub payments: Arc<dyn Payments>,
    pub workflow: Arc<dyn Workflow>,
    pub clock: Arc<dyn Clock>,
}

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PassReport {
    /// Expired holds whose checkout never opened an order, given back.
    pub holds_released: usize,
    /// Orders whose checkout ended unpaid: seat back, order `EXPIRED`.
    pub orders_expired: usize,
    /// Paid orders whose registration was started (or found started).
    pub registrations_started: usize,
    /// Orders still being paid or registered: looked at again later.
    pub orders_deferred: usize,
    /// Refunds an organizer asked for that were cut short, finished.
    pub refunds_finished: usize,
    /// Cancelled events whose refunds had not started (the process stopped in between),
    /// started.
    pub cancellations_started: usize,
    /// Items that could not be settled now, and why; a later pass tries again.
    pub errors: Vec<String>,
}

impl PassReport {
    /// Whether the pass changed or tried anything worth a log line.
    pub fn did_something(&self) -> bool {
        self.holds_released
            + self.orders_expired
            + self.registrations_started
            + self.refunds_finished
            + self.cancellations_started
            > 0
            || !self.errors.is_empty()
    }

    fn count(&mut self, settled: Settled) {
        match settled {
            Settled::HoldReleased => self.holds_released += 1,
            Settled::Expired => self.orders_expired += 1,
            Settled::Started => self.registrations_started += 1,
            Settled::Deferred => self.orders_deferred += 1,
            Settled::Refunded => self.refunds_finished += 1,
            Settled::Unchanged => {}
        }
    }
}

impl fmt::Display for PassReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} holds released, {} orders expired, {} registrations started, {} orders deferred, {} refunds finished, {} cancellations started, {} errors",
            self.holds_released,
            self.orders_expired,
            self.registrations_started,
            self.orders_deferred,
            self.refunds_finished,
            self.cancellations_started,
            self.errors.len()
        )
    }
}

/// What settling one item came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Settled {
    HoldReleased,
    Expired,
    Started,
    Deferred,
    Refunded,
    Unchanged,
}

/// One pass. `Err` only when an index cannot be read; a single item that cannot be settled is
/// reported in [`PassReport::errors`] and left for the next pass.
pub async fn reconcile(ports: &ReconcilePorts) -> Result<PassReport, StoreError> {
    let now = ports.clock.now();
    let mut report = PassReport::default();
    // Orders first: an expired hold that belongs to an order is settled through it.
    let orders = ports.store.orders_due(now, PASS_LIMIT).await?;
    let mut settled = futures::stream::iter(orders)
        .map(|order| async move {
            let outcome = settle_order(ports, &order, now).await;
            (order, outcome)
        })
        .buffer_unordered(CONCURRENCY);
    while let Some((order, outcome)) = settled.next().await {
        match outcome {
            Ok(settled) => report.count(settled),
            Err(problem) => {
                tracing::warn!(order = %order.id, %problem, "reconcile: order not settled");
                // A broken item must not take every pass's attention: look again later.
                if let Err(error) = defer(ports, &order, now).await {
                    tracing::warn!(order = %order.id, %error, "reconcile: could not defer");
                }
                report.errors.push(format!("order {}: {problem}", order.id));
            }
        }
    }
    drop(settled);
    let holds = ports.store.expired_holds(now, PASS_LIMIT).await?;
    let mut released = futures::stream::iter(holds)
        .map(|hold| async move {
            let outcome = release_orphan(&*ports.store, &hold, now).await;
            (hold, outcome)
        })
        .buffer_unordered(CONCURRENCY);
    while let Some((hold, outcome)) = released.next().await {
        match outcome {
            Ok(settled) => report.count(settled),
            Err(error) => report.errors.push(format!("hold {}: {error}", hold.id)),
        }
    }
    drop(released);
    // A cancellation request starts its refunds itself; one that was cut short in between is
    // started here. Starting one that runs (or ran) finds it and starts nothing.
    let cancelled = ports
        .store
        .cancellations_due(now - CANCELLATION_START_GRACE, PASS_LIMIT)
        .await?;
    for event_id in cancelled {
        match ports.workflow.start_cancellation(event_id).await {
            Ok(Started::New) => {
                tracing::info!(event = %event_id, "reconcile: started the refunds of a cancelled event");
                report.cancellations_started += 1;
            }
            Ok(Started::Existing) => {}
            Err(error) => report
                .errors
                .push(format!("cancellation of event {event_id}: {error}")),
        }
    }
    Ok(report)
}

/// An expired hold whose checkout never opened an order: nobody can pay for it, so the seat
/// goes back (a sold one is kept).
async fn release_orphan(
    store: &dyn Store,
    hold: &Hold,
    now: DateTime<Utc>,
) -> Result<Settled, StoreError> {
    match store
        .release_hold(hold.event_id, hold.id, ReleaseScope::Unpaid, now)
        .await
    {
        Ok(ReleaseOutcome::Released { .. }) => {
            tracing::info!(hold = %hold.id, event = %hold.event_id, "reconcile: released an expired hold that had no order");
            Ok(Settled::HoldReleased)
        }
        Ok(_) | Err(StoreError::NotFound(_)) => Ok(Settled::Unchanged),
        Err(error) => Err(error),
    }
}

async fn settle_order(
    ports: &ReconcilePorts,
    order: &Order,
    now: DateTime<Utc>,
) -> Result<Settled, String> {
    match order.status {
        OrderStatus::Pending => {}
        OrderStatus::Refunding => {
            return finish_refund(&*ports.store, &*ports.payments, order, now)
                .await
                .map(|_| Settled::Refunded)
                .map_err(|error| error.to_string());
        }
        _ => return Ok(Settled::Unchanged),
    }
    let hold = ports
        .store
        .get_hold(order.event_id, order.hold_id)
        .await
        .map_err(|error| error.to_string())?;
    let hold_over = hold.as_ref().is_none_or(|hold| hold.expires_at <= now);
    if order.amount.is_free() {
        return settle_free_order(ports, order, hold.as_ref(), hold_over, now).await;
    }
    let session = ports
        .payments
        .get_checkout(&order.id)
        .await
        .map_err(|error| error.to_string())?;
    let Some(session) = session else {
        // The provider never made it (or lost it): it can never be paid.
        return close(
            ports,
            order,
            now,
            "the payment provider has no such session",
        )
        .await;
    };
    match session.status {
        _ if session.is_paid() => start(ports, order, &session, now).await,
        // A delayed payment method is under way; its outcome arrives as a webhook, and a later
        // check asks again.
        SessionStatus::Complete => deferred(ports, order, now).await,
        SessionStatus::Open if !hold_over => {
            let until = hold.map_or(now, |hold| hold.expires_at);
            deferred_until(ports, order, until).await
        }
        SessionStatus::Open => expire_then_close(ports, order, now).await,
        SessionStatus::Expired => close(ports, order, now, "the checkout expired").await,
    }
}

/// A free order has no session: its registration was started in the request that made it.
async fn settle_free_order(
    ports: &ReconcilePorts,
    order: &Order,
    hold: Option<&Hold>,
    hold_over: bool,
    now: DateTime<Utc>,
) -> Result<Settled, String> {
    match hold.map(|hold| hold.status) {
        // The registration's first step sells the seat: past the hold, it never started.
        Some(HoldStatus::Held) if hold_over => {
            close(ports, order, now, "the registration never started").await
        }
        Some(HoldStatus::Held) => {
            let until = hold.map_or(now, |hold| hold.expires_at);
            deferred_until(ports, order, until).await
        }
        // Sold: the registration runs; released: its compensation runs. It closes the order.
        _ => deferred(ports, order, now).await,
    }
}

/// The session is open but its hold is over: expire it at the provider first, so nobody can
/// pay for a seat we give back. A payment that won the race is registered instead.
async fn expire_then_close(
    ports: &ReconcilePorts,
    order: &Order,
    now: DateTime<Utc>,
) -> Result<Settled, String> {
    match ports.payments.expire_checkout(&order.id).await {
        Ok(()) => close(ports, order, now, "the hold ran out before payment").await,
        Err(PaymentsError::Rejected(refusal)) => {
            let session = ports
                .payments
                .get_checkout(&order.id)
                .await
                .map_err(|error| error.to_string())?;
            match session {
                Some(session) if session.is_paid() => start(ports, order, &session, now).await,
                Some(session) if session.status == SessionStatus::Complete => {
                    deferred(ports, order, now).await
                }
                _ => Err(format!("the session could not be expired: {refusal}")),
            }
        }
        Err(error) => Err(error.to_string()),
    }
}

/// The session was paid: start its registration (the webhook may have done so already; the
/// execution is named by the order, so it runs once).
async fn start(
    ports: &ReconcilePorts,
    order: &Order,
    session: &SessionSnapshot,
    now: DateTime<Utc>,
) -> Result<Settled, String> {
    let registration = session.fields.registration()?;
    if registration.order_id != order.id {
        return Err(format!(
            "the provider answered for session {}",
            registration.order_id
        ));
    }
    match ports.workflow.start_registration(&registration).await {
        Ok(_) | Err(WorkflowError::AlreadyExists(_)) => {}
        Err(error) => return Err(error.to_string()),
    }
    tracing::info!(order = %order.id, "reconcile: started the registration of a paid order");
    // The registration closes the order; check again in case it cannot.
    defer(ports, order, now)
        .await
        .map_err(|error| error.to_string())?;
    Ok(Settled::Started)
}

async fn close(
    ports: &ReconcilePorts,
    order: &Order,
    now: DateTime<Utc>,
    why: &str,
) -> Result<Settled, String> {
    let closed = close_unpaid(&*ports.store, order.event_id, order.hold_id, &order.id, now)
        .await
        .map_err(|error| error.to_string())?;
    if closed == ReleaseOutcome::KeptSold {
        // A payment sold the seat after all: its registration closes the order.
        return deferred(ports, order, now).await;
    }
    tracing::info!(order = %order.id, why, "reconcile: closed an unpaid order");
    Ok(Settled::Expired)
}

/// A checkout that ended unpaid: its seat goes back (unless a payment sold it) and its order
/// closes `EXPIRED`. Shared by the reconciliation pass and the Stripe webhook; safe to repeat
/// and to race either of them.
pub async fn close_unpaid(
    store: &dyn Store,
    event_id: EventId,
    hold_id: HoldId,
    order_id: &OrderId,
    now: DateTime<Utc>,
) -> Result<ReleaseOutcome, StoreError> {
    let released = match store
        .release_hold(event_id, hold_id, ReleaseScope::Unpaid, now)
        .await
    {
        Ok(ReleaseOutcome::KeptSold) => return Ok(ReleaseOutcome::KeptSold),
        Ok(outcome) => outcome,
        // No hold (or event) left: nothing to give back, the order still closes.
        Err(StoreError::NotFound(_)) => ReleaseOutcome::AlreadyReleased,
        Err(error) => return Err(error),
    };
    match store
        .transition_order(order_id, OrderStatus::Expired, None, now)
        .await
    {
        // No order (a checkout that crashed before opening one), or one that moved on.
        Ok(_) | Err(StoreError::NotFound(_) | StoreError::InvalidTransition { .. }) => Ok(released),
        Err(error) => Err(error),
    }
}

/// The next check of an order still in progress: as long from now as the order is old (at
/// least [`FIRST_ORDER_CHECK`]), so a long-running one costs a handful of checks, not one per
/// pass.
fn next_check(order: &Order, now: DateTime<Utc>) -> DateTime<Utc> {
    let age = (now - order.created_at).max(TimeDelta::zero());
    now + age.max(FIRST_ORDER_CHECK)
}

async fn defer(
    ports: &ReconcilePorts,
    order: &Order,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    ports
        .store
        .defer_order_check(&order.id, next_check(order, now))
        .await
}

async fn deferred(
    ports: &ReconcilePorts,
    order: &Order,
    now: DateTime<Utc>,
) -> Result<Settled, String> {
    defer(ports, order, now)
        .await
        .map_err(|error| error.to_string())?;
    Ok(Settled::Deferred)
}

async fn deferred_until(
    ports: &ReconcilePorts,
    order: &Order,
    until: DateTime<Utc>,
) -> Result<Settled, String> {
    ports
        .store
        .defer_order_check(&order.id, until)
        .await
        .map_err(|error| error.to_string())?;
    Ok(Settled::Deferred)
}
