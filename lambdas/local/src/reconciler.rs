//! ticketd's reconciliation loop: [`ticket_core::reconcile::reconcile`] once on start, then
//! every `--reconcile-every`, so a hold past its expiry or a payment whose webhook never came
//! is settled without anybody asking (on AWS a scheduled Lambda runs the same pass; in the
//! emulated AWS stack this loop invokes that Lambda, as the schedule rule does).
//!
//! One task runs the passes one after another, so two never overlap in one process (the pass
//! is safe against a concurrent one anyway, e.g. another process on the same data).

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use futures::FutureExt;
use ticket_core::reconcile::{self, ReconcilePorts};

use crate::lambda::{self, LambdaFunction};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// `ticketd serve`'s default for `--reconcile-every`.
pub const DEFAULT_EVERY: Duration = Duration::from_secs(60);

/// What a pass runs.
pub enum Pass {
    /// The pass itself, in this process.
    InProcess(ReconcilePorts),
    /// The reconcile function, invoked with EventBridge's scheduled event.
    Function(LambdaFunction),
}

/// The running loop; [`Reconciler::stop`] ends it.
pub struct Reconciler {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Reconciler {
    /// Starts the loop: a pass now, then one `every` after the end of the previous one.
    pub fn spawn(pass: Pass, every: Duration) -> Self {
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(run(pass, every, stopped));
        Self { stop, task }
    }

    /// Starts no further pass and waits for the one under way, until `deadline`; a pass still
    /// running then is dropped where it is (each of its steps is idempotent and conditional, so
    /// the next pass, after a restart, finishes the job). Whether it ended in time.
    pub async fn stop(self, deadline: Instant) -> bool {
        let _ = self.stop.send(true);
        let mut task = self.task;
        match tokio::time::timeout_at(deadline, &mut task).await {
            Ok(_) => true,
            Err(_) => {
                task.abort();
                false
            }
        }
    }
}

async fn run(pass: Pass, every: Duration, mut stop: watch::Receiver<bool>) {
    loop {
        if *stop.borrow() {
            return;
        }
        match &pass {
            Pass::InProcess(ports) => pass_in_process(ports, every).await,
            Pass::Function(function) => invoke_pass(function, every).await,
        }
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            _ = stop.wait_for(|stop| *stop) => return,
        }
    }
}

/// The reconcile function's pass; its report is in the function's log.
async fn invoke_pass(function: &LambdaFunction, every: Duration) {
    match function.invoke(&lambda::scheduled_event()).await {
        Ok(report) => tracing::debug!(%report, "reconciliation pass (reconcile function)"),
        Err(error) => tracing::error!(%error, retry_in = ?every, "reconciliation pass failed"),
    }
}

/// One pass, logged when it did something; a failed pass waits for the next tick.
async fn pass_in_process(ports: &ReconcilePorts, every: Duration) {
    let began = std::time::Instant::now();
    // A panic in one pass must not end reconciliation for the life of the process.
    match AssertUnwindSafe(reconcile::reconcile(ports))
        .catch_unwind()
        .await
    {
        Ok(Ok(report)) if report.did_something() => {
            tracing::info!(
                %report,
                millis = began.elapsed().as_millis() as u64,
                "reconciliation pass"
            );
        }
        Ok(Ok(report)) => tracing::debug!(%report, "reconciliation pass: nothing to do"),
        Ok(Err(error)) => {
            tracing::error!(%error, retry_in = ?every, "reconciliation pass failed");
        }
        Err(_) => tracing::error!(retry_in = ?every, "reconciliation pass panicked"),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use async_trait::async_trait;
    use chrono::{TimeDelta, Utc};
    use ticket_core::registration::RegistrationRequest;
    use ticket_core::testing::{FakePayments, FlakyStore};
    use ticket_core::{
        EventId, HoldId, HoldStatus, NewEvent, NewHold, RandomIds, Seats, Started, Store,
        SystemClock, UserId, Workflow, WorkflowError,
    };

    use super::*;
    use ticket_embedded::SqliteStore;

    const TICK: Duration = Duration::from_millis(50);

    /// No orders in these tests, so nothing starts a registration.
    struct NoWorkflow;

    #[async_trait]
    impl Workflow for NoWorkflow {
        async fn start_registration(
            &self,
            _: &RegistrationRequest,
        ) -> Result<Started, WorkflowError> {
            Err(WorkflowError::Internal("not in this test".into()))
        }

        async fn start_cancellation(&self, _: EventId) -> Result<Started, WorkflowError> {
            Err(WorkflowError::Internal("not in this test".into()))
        }
    }

    fn ports(store: Arc<dyn Store>) -> ReconcilePorts {
        ReconcilePorts {
            store,
            payments: Arc::new(FakePayments::new()),
            workflow: Arc::new(NoWorkflow),
            clock: Arc::new(SystemClock),
        }
    }

    async fn event(store: &dyn Store) -> EventId {
        let now = Utc::now();
        let event = NewEvent {
            title: "Reconciled".into(),
            venue: "Hall".into(),
            starts_at: Some(now + TimeDelta::days(10)),
            capacity: 5,
            price_minor: Some(0),
            currency: "EUR".into(),
            ..NewEvent::default()
        }
        .validate(
            EventId::new(&RandomIds),
            UserId::from("organizer"),
            now,
            &RandomIds,
        )
        .unwrap();
        store.create_event(&event).await.unwrap();
        event.id
    }

    /// A hold whose checkout died before it opened an order, expired a second ago.
    async fn expired_hold(store: &dyn Store, event_id: EventId) -> HoldId {
        let now = Utc::now();
        let hold = NewHold {
            id: HoldId::new(&RandomIds),
            seats: Seats::one(ticket_core::ticket_type::legacy_type_id(event_id)),
            promo_code: None,
            user_id: UserId::from("buyer"),
            expires_at: now - TimeDelta::seconds(1),
            event_version: None,
        };
        store.hold_seat(event_id, &hold, now).await.unwrap();
        hold.id
    }

    async fn status(store: &dyn Store, event_id: EventId, hold: HoldId) -> HoldStatus {
        store
            .get_hold(event_id, hold)
            .await
            .unwrap()
            .unwrap()
            .status
    }

    async fn released_within(store: &dyn Store, event_id: EventId, hold: HoldId) -> bool {
        let began = Instant::now();
        while began.elapsed() < Duration::from_secs(5) {
            if status(store, event_id, hold).await == HoldStatus::Released {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    }

    #[tokio::test]
    async fn passes_run_on_start_and_on_every_tick() {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().unwrap());
        let event_id = event(&*store).await;
        let first = expired_hold(&*store, event_id).await;
        let reconciler = Reconciler::spawn(Pass::InProcess(ports(store.clone())), TICK);
        assert!(released_within(&*store, event_id, first).await);

        let later = expired_hold(&*store, event_id).await;
        assert!(released_within(&*store, event_id, later).await);
        assert!(
            reconciler
                .stop(Instant::now() + Duration::from_secs(5))
                .await
        );
    }

    #[tokio::test]
    async fn a_failing_pass_is_tried_again_on_the_next_tick() {
        let inner: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().unwrap());
        let event_id = event(&*inner).await;
        let hold = expired_hold(&*inner, event_id).await;
        let flaky = Arc::new(FlakyStore::new(inner.clone()));
        flaky.faults.fail_always();
        let reconciler = Reconciler::spawn(Pass::InProcess(ports(flaky.clone())), TICK);

        // Several ticks with the store unavailable: the loop keeps going, the hold stays.
        tokio::time::sleep(TICK * 6).await;
        assert_eq!(status(&*inner, event_id, hold).await, HoldStatus::Held);
        flaky.faults.recover();
        assert!(released_within(&*inner, event_id, hold).await);
        assert!(
            reconciler
                .stop(Instant::now() + Duration::from_secs(5))
                .await
        );
    }

    #[tokio::test]
    async fn once_stopped_no_pass_runs() {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().unwrap());
        let event_id = event(&*store).await;
        let reconciler = Reconciler::spawn(Pass::InProcess(ports(store.clone())), TICK);
        tokio::time::sleep(TICK).await;
        let began = Instant::now();
        assert!(reconciler.stop(began + Duration::from_secs(5)).await);
        assert!(
            began.elapsed() < Duration::from_secs(1),
            "{:?}",
            began.elapsed()
        );

        let hold = expired_hold(&*store, event_id).await;
        tokio::time::sleep(TICK * 4).await;
        assert_eq!(status(&*store, event_id, hold).await, HoldStatus::Held);
    }
}
