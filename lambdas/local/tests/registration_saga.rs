//! The registration saga end to end on the embedded stack: `statemachines/registration.asl.json`
//! run by ticketd's executor, each task the real step over SQLite, the ticket file directory,
//! the PDF renderer and a fake payment provider. Faults are injected at every step and every
//! compensation; whatever happens, the store ends consistent.

mod support;

use std::collections::HashMap;
use std::ops::Deref;
use std::process::Command;
use std::sync::{Arc, Mutex};

use asl::{
    Bindings, ExecutionStatus, ExecutionSummary, Executor, ExecutorOptions, HistoryEvent,
    HistoryEventKind, TaskFailure, TaskFunction,
};
use async_trait::async_trait;
use serde_json::Value;
use ticket_core::registration::{
    REJECTED, RegistrationRequest, RegistrationSteps, SEAT_UNAVAILABLE, Step, TRANSIENT,
};
use ticket_core::{
    EventId, FileKey, OrderStatus, Started, SystemClock, TicketFiles, TicketStatus, Workflow,
};
use ticket_testkit::pdf::scan;
use ticketd::admin::Admin;
use ticketd::registration::{self, LocalWorkflow};
use ticketd::server::{self, AppState, Services};

use support::Adapters;

/// What an injected fault does to every call of one step.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Fault {
    /// Fail the next `times` calls with `error`, without running the step.
    Before { error: &'static str, times: u32 },
    /// Run the step, then report `error` anyway (a Lambda that timed out after its work was
    /// done): the retry runs it again.
    After { error: &'static str, times: u32 },
    /// Fail every call with `error`.
    Always { error: &'static str },
}

/// The faults in force, by step; tests change them while executions run (to mend a fault
/// before a redrive).
#[derive(Default)]
struct Faults {
    plan: Mutex<HashMap<Step, Fault>>,
    calls: Mutex<HashMap<Step, u32>>,
}

impl Faults {
    fn set(&self, step: Step, fault: Fault) {
        self.plan.lock().unwrap().insert(step, fault);
    }

    fn clear(&self) {
        self.plan.lock().unwrap().clear();
    }

    fn calls(&self, step: Step) -> u32 {
        self.calls.lock().unwrap().get(&step).copied().unwrap_or(0)
    }

    /// The error this call fails with, and whether it fails before or after running the step.
    fn next(&self, step: Step) -> Option<(&'static str, bool)> {
        *self.calls.lock().unwrap().entry(step).or_default() += 1;
        let mut plan = self.plan.lock().unwrap();
        let fault = plan.get_mut(&step)?;
        match fault {
            Fault::Always { error } => Some((*error, true)),
            Fault::Before { times: 0, .. } | Fault::After { times: 0, .. } => None,
            Fault::Before { error, times } => {
                *times -= 1;
                Some((*error, true))
            }
            Fault::After { error, times } => {
                *times -= 1;
                Some((*error, false))
            }
        }
    }
}

struct Faulty {
    step: Step,
    inner: Arc<dyn TaskFunction>,
    faults: Arc<Faults>,
}

#[async_trait]
impl TaskFunction for Faulty {
    async fn invoke(&self, payload: Value) -> Result<Value, TaskFailure> {
        let injected = |error: &str| TaskFailure::lambda_error(error, "injected fault");
        match self.faults.next(self.step) {
            None => self.inner.invoke(payload).await,
            Some((error, true)) => Err(injected(error)),
            Some((error, false)) => {
                self.inner.invoke(payload).await?;
                Err(injected(error))
            }
        }
    }
}

/// The steps of registration executions as task functions, each behind the injected faults.
fn faulty_bindings(steps: Arc<RegistrationSteps>, faults: &Arc<Faults>) -> Bindings {
    registration::bindings(steps, |step, inner| {
        Arc::new(Faulty {
            step,
            inner,
            faults: faults.clone(),
        })
    })
}

/// The embedded adapters, and ticketd's executor running the registration definition over them
/// with faults injected.
struct Stack {
    adapters: Adapters,
    faults: Arc<Faults>,
    executor: Arc<Executor>,
    workflow: LocalWorkflow,
}

impl Stack {
    async fn new() -> Self {
        let adapters = Adapters::new(Arc::new(SystemClock));
        let faults = Arc::new(Faults::default());
        let steps = Arc::new(adapters.steps(adapters.store.clone()));
        // Retries wait not at all; task timeouts are the definition's.
        let options = ExecutorOptions {
            time_scale: 0.0,
            ..ExecutorOptions::default()
        };
        let executor = registration::open_executor(
            &adapters.dir.path().join("executions.sqlite3"),
            faulty_bindings(steps, &faults),
            options,
        )
        .await
        .expect("the registration definition runs locally");
        Self {
            workflow: LocalWorkflow::new(executor.clone()),
            adapters,
            faults,
            executor,
        }
    }

    async fn run(&self, request: &RegistrationRequest) -> ExecutionSummary {
        assert_eq!(
            self.workflow.start_registration(request).await,
            Ok(Started::New)
        );
        self.executor.wait(request.order_id.as_str()).await.unwrap()
    }

    async fn history(&self, request: &RegistrationRequest) -> Vec<HistoryEvent> {
        let name = request.order_id.as_str();
        self.executor
            .history(name)
            .await
            .unwrap()
            .expect("a history")
    }

    async fn taken_and_sold(&self, event_id: EventId) -> (u32, u32) {
        let seats = self.seats(event_id).await;
        (seats.taken, seats.sold)
    }

    fn ticket_files(&self) -> Vec<std::path::PathBuf> {
        let mut found = Vec::new();
        let mut dirs = vec![self.dir.path().join(ticket_embedded::files::FILES_DIR)];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).into_iter().flatten() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else {
                    found.push(path);
                }
            }
        }
        found
    }

    /// Asserts the state a failed registration leaves: seat back in the pool, no valid ticket,
    /// no file, at most one refund (exactly one when something was paid), order FAILED with
    /// the buyer-facing reason.
    async fn assert_undone(&self, request: &RegistrationRequest, reason_mentions: &str) {
        self.assert_undone_as(request, reason_mentions, OrderStatus::Failed)
            .await;
    }

    /// [`Stack::assert_undone`] for an order that ends `status`: REFUNDED when it had been
    /// FULFILLED before the undo.
    async fn assert_undone_as(
        &self,
        request: &RegistrationRequest,
        reason_mentions: &str,
        status: OrderStatus,
    ) {
        let (taken, sold) = self.taken_and_sold(request.event_id).await;
        assert_eq!((taken, sold), (0, 0), "the seat went back");
        let order = self.order(&request.order_id).await;
        assert_eq!(order.status, status);
        let reason = order.failure_reason.expect("a reason");
        assert!(reason.contains(reason_mentions), "{reason}");
        for &ticket_id in &order.ticket_ids {
            let ticket = self.ticket(ticket_id).await;
            assert_eq!(ticket.status, TicketStatus::Void);
        }
        assert!(self.ticket_files().is_empty(), "{:?}", self.ticket_files());
        let paid = usize::from(request.payment_intent_id.is_some());
        assert_eq!(self.payments.refund_count(), paid, "refunds");
        if paid == 1 {
            let (refund, _) = &self.payments.refunds()[0];
            assert_eq!(
                refund.payment_intent_id,
                request.payment_intent_id.clone().unwrap()
            );
            assert_eq!(refund.amount, request.amount());
        }
    }
}

impl Deref for Stack {
    type Target = Adapters;

    fn deref(&self) -> &Adapters {
        &self.adapters
    }
}

fn retries_of(history: &[HistoryEvent], state: &str) -> usize {
    history
        .iter()
        .filter(|event| matches!(&event.kind, HistoryEventKind::RetryScheduled { state: s, .. } if s == state))
        .count()
}

#[tokio::test]
async fn a_paid_registration_ends_with_a_fulfilled_order_and_a_ticket_whose_qr_verifies() {
    let stack = Stack::new().await;
    let event = stack.event(10, 2500).await;
    let request = stack.request(&event, "buyer-1").await;

    let execution = stack.run(&request).await;

    assert_eq!(
        execution.status,
        ExecutionStatus::Succeeded,
        "{execution:?}"
    );
    let order = stack.order(&request.order_id).await;
    assert_eq!(order.status, OrderStatus::Fulfilled);
    let ticket_id = order.ticket_ids[0];
    assert_eq!(order.ticket_ids.len(), 1);
    let ticket = stack.ticket(ticket_id).await;
    assert_eq!(ticket.status, TicketStatus::Valid);
    assert_eq!(ticket.user_id, request.user_id);
    assert_eq!(stack.taken_and_sold(event.id).await, (1, 1));
    assert_eq!(stack.payments.refund_count(), 0);

    let key = FileKey::for_ticket(event.id, ticket_id);
    assert!(stack.files.exists(&key).await.unwrap());
    let files = stack.ticket_files();
    assert_eq!(files.len(), 1);
    // zbar's output, one code a line.
    let code = scan(&std::fs::read(&files[0]).unwrap()).join("\n");
    let verified = stack.signer.verifier().verify(&code).expect("a valid code");
    assert_eq!(
        (verified.ticket_id, verified.event_id),
        (ticket_id, event.id)
    );

    let output = execution.output.expect("output");
    assert_eq!(output["delivery"]["orderStatus"], "FULFILLED");
    assert_eq!(output["ticket"]["ticketIds"][0], ticket_id.to_string());
    assert_eq!(output["seat"]["late"], false);
}

#[tokio::test]
async fn a_free_registration_needs_no_payment() {
    let stack = Stack::new().await;
    let event = stack.event(10, 0).await;
    let request = stack.request(&event, "buyer-1").await;
    assert!(request.payment_intent_id.is_none());

    let execution = stack.run(&request).await;

    assert_eq!(
        execution.status,
        ExecutionStatus::Succeeded,
        "{execution:?}"
    );
    assert_eq!(stack.taken_and_sold(event.id).await, (1, 1));
}

#[tokio::test]
async fn transient_faults_at_every_step_are_retried_and_the_registration_completes() {
    for step in [
        Step::ConfirmSeat,
        Step::RecordTicket,
        Step::RenderTicket,
        Step::DeliverTicket,
    ] {
        for fault in [
            Fault::Before {
                error: TRANSIENT,
                times: 3,
            },
            Fault::Before {
                error: "Lambda.TooManyRequestsException",
                times: 2,
            },
            Fault::After {
                error: "Lambda.ServiceException",
                times: 2,
            },
        ] {
            let stack = Stack::new().await;
            let event = stack.event(10, 2500).await;
            let request = stack.request(&event, "buyer-1").await;
            stack.faults.set(step, fault);

            let execution = stack.run(&request).await;

            assert_eq!(
                execution.status,
                ExecutionStatus::Succeeded,
                "{step:?} {fault:?}: {execution:?}"
            );
            let history = stack.history(&request).await;
            let expected_retries = match fault {
                Fault::Before { times, .. } | Fault::After { times, .. } => times as usize,
                Fault::Always { .. } => unreachable!(),
            };
            assert_eq!(retries_of(&history, step.state_name()), expected_retries);
            let order = stack.order(&request.order_id).await;
            assert_eq!(order.status, OrderStatus::Fulfilled);
            assert_eq!(
                stack.taken_and_sold(event.id).await,
                (1, 1),
                "{step:?} {fault:?}"
            );
            assert_eq!(stack.ticket_files().len(), 1, "{step:?} {fault:?}");
            assert_eq!(stack.payments.refund_count(), 0);
        }
    }
}

#[tokio::test]
async fn a_step_that_keeps_failing_is_compensated_in_reverse_order() {
    for step in [
        Step::ConfirmSeat,
        Step::RecordTicket,
        Step::RenderTicket,
        Step::DeliverTicket,
    ] {
        // Transient errors run out of retries; a rejection is not retried at all; a fault after
        // the step did its work leaves something real to undo.
        for fault in [
            Fault::Always { error: TRANSIENT },
            Fault::Always { error: REJECTED },
            Fault::After {
                error: REJECTED,
                times: 1,
            },
        ] {
            let stack = Stack::new().await;
            let event = stack.event(10, 2500).await;
            let request = stack.request(&event, "buyer-1").await;
            stack.faults.set(step, fault);

            let execution = stack.run(&request).await;

            assert_eq!(
                execution.status,
                ExecutionStatus::Failed,
                "{step:?} {fault:?}"
            );
            assert_eq!(
                execution.failed_state.as_deref(),
                Some("RegistrationFailed"),
                "{step:?} {fault:?}"
            );
            let expected_error = match fault {
                Fault::Always { error } | Fault::After { error, .. } => error,
                Fault::Before { .. } => unreachable!(),
            };
            assert_eq!(execution.error.as_deref(), Some(expected_error));
            let attempts = stack.faults.calls(step);
            let expected_attempts = match fault {
                Fault::Always { error: TRANSIENT } => 5, // 1 + MaxAttempts 4
                _ => 1,
            };
            assert_eq!(attempts, expected_attempts, "{step:?} {fault:?}");
            // DeliverTicket's work is marking the order FULFILLED: undone, it is REFUNDED.
            let status = match (step, fault) {
                (Step::DeliverTicket, Fault::After { .. }) => OrderStatus::Refunded,
                _ => OrderStatus::Failed,
            };
            stack
                .assert_undone_as(&request, "We could not issue your ticket", status)
                .await;
            // The compensations that ran are those of the steps that had started, in reverse.
            let history = stack.history(&request).await;
            let entered: Vec<&str> = history
                .iter()
                .filter_map(|event| match &event.kind {
                    HistoryEventKind::StateEntered { name, .. } => Some(name.as_str()),
                    _ => None,
                })
                .skip_while(|name| !Step::from_state_name(name).is_some_and(Step::is_compensation))
                .collect();
            let expected: &[&str] = match step {
                Step::ConfirmSeat => &["ReleaseSeat", "RefundPayment", "FailOrder"],
                Step::RecordTicket => &["VoidTicket", "ReleaseSeat", "RefundPayment", "FailOrder"],
                _ => &[
                    "RemoveTicketFile",
                    "VoidTicket",
                    "ReleaseSeat",
                    "RefundPayment",
                    "FailOrder",
                ],
            };
            let mut expected = expected.to_vec();
            expected.push("RegistrationFailed");
            assert_eq!(entered, expected, "{step:?} {fault:?}");
        }
    }
}

#[tokio::test]
async fn a_failed_order_of_three_tickets_voids_them_all_frees_every_seat_and_refunds_once() {
    for step in [Step::RenderTicket, Step::DeliverTicket] {
        let stack = Stack::new().await;
        let event = stack.event(10, 2500).await;
        let request = stack
            .order_request(&event, "buyer-1", &["Ada", "Grace", "Edsger"])
            .await;
        assert_eq!(stack.taken_and_sold(event.id).await, (3, 0));
        // After the step did its work: three tickets recorded (and rendered) to undo.
        stack.faults.set(
            step,
            Fault::After {
                error: REJECTED,
                times: 1,
            },
        );

        let execution = stack.run(&request).await;

        assert_eq!(execution.status, ExecutionStatus::Failed, "{step:?}");
        let order = stack.order(&request.order_id).await;
        assert_eq!(order.ticket_ids.len(), 3, "{step:?}");
        let status = match step {
            Step::DeliverTicket => OrderStatus::Refunded,
            _ => OrderStatus::Failed,
        };
        // Every ticket void, every seat back, no file, one refund of the whole amount.
        stack
            .assert_undone_as(&request, "We could not issue your ticket", status)
            .await;
        assert_eq!(
            request.amount().amount_minor,
            7500,
            "the refund above was of all three"
        );
    }
}

#[tokio::test]
async fn an_order_of_three_tickets_gets_three_named_tickets_each_with_its_pdf() {
    let stack = Stack::new().await;
    let event = stack.event(10, 2500).await;
    let request = stack
        .order_request(&event, "buyer-1", &["Ada", "Grace", "Edsger"])
        .await;

    let execution = stack.run(&request).await;

    assert_eq!(
        execution.status,
        ExecutionStatus::Succeeded,
        "{execution:?}"
    );
    let order = stack.order(&request.order_id).await;
    assert_eq!(order.status, OrderStatus::Fulfilled);
    let mut names = Vec::new();
    for &ticket_id in &order.ticket_ids {
        let ticket = stack.ticket(ticket_id).await;
        assert_eq!(ticket.status, TicketStatus::Valid);
        assert_eq!(ticket.order_id, order.id);
        assert!(
            stack
                .files
                .exists(&FileKey::for_ticket(event.id, ticket_id))
                .await
                .unwrap()
        );
        names.push(ticket.attendee.name);
    }
    assert_eq!(names, ["Ada", "Grace", "Edsger"]);
    assert_eq!(stack.taken_and_sold(event.id).await, (3, 3));
    assert_eq!(stack.ticket_files().len(), 3);
    assert_eq!(stack.payments.refund_count(), 0);
    let output = execution.output.expect("output");
    let ids: Vec<String> = order.ticket_ids.iter().map(ToString::to_string).collect();
    assert_eq!(output["ticket"]["ticketIds"], serde_json::json!(ids));
    assert_eq!(output["file"]["fileKeys"].as_array().map(Vec::len), Some(3));
}

#[tokio::test]
async fn a_compensation_that_fails_a_few_times_is_retried_to_the_end() {
    for compensation in [
        Step::RemoveTicketFile,
        Step::VoidTicket,
        Step::ReleaseSeat,
        Step::RefundPayment,
        Step::FailOrder,
    ] {
        let stack = Stack::new().await;
        let event = stack.event(10, 2500).await;
        let request = stack.request(&event, "buyer-1").await;
        stack
            .faults
            .set(Step::DeliverTicket, Fault::Always { error: REJECTED });
        stack.faults.set(
            compensation,
            Fault::After {
                error: TRANSIENT,
                times: 3,
            },
        );

        let execution = stack.run(&request).await;

        assert_eq!(execution.status, ExecutionStatus::Failed);
        assert_eq!(
            execution.failed_state.as_deref(),
            Some("RegistrationFailed"),
            "{compensation:?}"
        );
        assert_eq!(stack.faults.calls(compensation), 4, "{compensation:?}");
        // RefundPayment ran four times: one refund all the same.
        stack
            .assert_undone(&request, "We could not issue your ticket")
            .await;
    }
}

#[tokio::test]
async fn a_compensation_that_keeps_failing_stops_visibly_and_a_redrive_finishes_the_undo() {
    let stack = Stack::new().await;
    let event = stack.event(10, 2500).await;
    let request = stack.request(&event, "buyer-1").await;
    stack
        .faults
        .set(Step::RenderTicket, Fault::Always { error: REJECTED });
    stack
        .faults
        .set(Step::RefundPayment, Fault::Always { error: TRANSIENT });

    let execution = stack.run(&request).await;

    // Stopped at the refund, after 1 + 8 attempts; what ran before it stays done.
    assert_eq!(execution.status, ExecutionStatus::Failed);
    assert_eq!(execution.failed_state.as_deref(), Some("RefundPayment"));
    assert_eq!(execution.error.as_deref(), Some(TRANSIENT));
    assert_eq!(stack.faults.calls(Step::RefundPayment), 9);
    assert_eq!(stack.taken_and_sold(event.id).await, (0, 0));
    assert!(stack.ticket_files().is_empty());
    // The buyer sees the order still pending; an operator sees the failed execution.
    let order = stack.order(&request.order_id).await;
    assert_eq!(order.status, OrderStatus::Pending);
    assert_eq!(stack.payments.refund_count(), 0);
    let failed = stack
        .executor
        .list(Some(ExecutionStatus::Failed), 10)
        .await
        .unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].name, request.order_id.as_str());

    // The provider is back: the redrive resumes at the refund and finishes the undo.
    stack.faults.clear();
    stack
        .executor
        .redrive(request.order_id.as_str())
        .await
        .unwrap();
    let redriven = stack
        .executor
        .wait(request.order_id.as_str())
        .await
        .unwrap();

    assert_eq!(redriven.status, ExecutionStatus::Failed);
    assert_eq!(redriven.failed_state.as_deref(), Some("RegistrationFailed"));
    assert_eq!(redriven.redrive_count, 1);
    assert_eq!(stack.faults.calls(Step::ReleaseSeat), 1, "not run again");
    stack
        .assert_undone(&request, "We could not issue your ticket")
        .await;
}

#[tokio::test]
async fn a_late_payment_takes_a_seat_that_is_left() {
    let stack = Stack::new().await;
    let event = stack.event(1, 2500).await;
    let request = stack.request(&event, "buyer-1").await;
    // The checkout expired before the payment arrived.
    stack.expire_hold(&request).await;

    let execution = stack.run(&request).await;

    assert_eq!(
        execution.status,
        ExecutionStatus::Succeeded,
        "{execution:?}"
    );
    assert_eq!(execution.output.unwrap()["seat"]["late"], true);
    assert_eq!(stack.taken_and_sold(event.id).await, (1, 1));
}

#[tokio::test]
async fn a_late_payment_for_a_sold_out_event_is_refunded_and_the_order_fails() {
    let stack = Stack::new().await;
    let event = stack.event(1, 2500).await;
    let late = stack.request(&event, "late-buyer").await;
    stack.expire_hold(&late).await;
    // Someone else bought the only seat meanwhile.
    let other = stack.request(&event, "other-buyer").await;
    assert_eq!(stack.run(&other).await.status, ExecutionStatus::Succeeded);

    let execution = stack.run(&late).await;

    assert_eq!(execution.status, ExecutionStatus::Failed);
    assert_eq!(execution.error.as_deref(), Some(SEAT_UNAVAILABLE));
    let order = stack.order(&late.order_id).await;
    assert_eq!(order.status, OrderStatus::Failed);
    assert!(
        order.failure_reason.unwrap().contains("sold out"),
        "the buyer is told why"
    );
    assert_eq!(stack.payments.refund_count(), 1);
    assert_eq!(
        stack.payments.refunds()[0].0.payment_intent_id,
        late.payment_intent_id.unwrap()
    );
    // The other buyer keeps the seat.
    assert_eq!(stack.taken_and_sold(event.id).await, (1, 1));
}

#[tokio::test]
async fn starting_the_same_registration_concurrently_runs_it_once() {
    let stack = Stack::new().await;
    let event = stack.event(10, 2500).await;
    let request = stack.request(&event, "buyer-1").await;

    let starts =
        futures::future::join_all((0..8).map(|_| stack.workflow.start_registration(&request)))
            .await;
    let new = starts.iter().filter(|s| **s == Ok(Started::New)).count();
    let existing = starts
        .iter()
        .filter(|s| **s == Ok(Started::Existing))
        .count();
    assert_eq!((new, existing), (1, 7), "{starts:?}");
    let execution = stack
        .executor
        .wait(request.order_id.as_str())
        .await
        .unwrap();
    assert_eq!(execution.status, ExecutionStatus::Succeeded);
    // Later, after it finished: still the same one.
    assert_eq!(
        stack.workflow.start_registration(&request).await,
        Ok(Started::Existing)
    );
    let mut other = request.clone();
    other.amount_minor += 1;
    assert!(stack.workflow.start_registration(&other).await.is_err());

    assert_eq!(stack.faults.calls(Step::RecordTicket), 1);
    assert_eq!(stack.taken_and_sold(event.id).await, (1, 1));
    assert_eq!(stack.ticket_files().len(), 1);
}

#[tokio::test]
async fn an_execution_interrupted_by_a_restart_resumes_and_completes() {
    let stack = Stack::new().await;
    let event = stack.event(10, 2500).await;
    let request = stack.request(&event, "buyer-1").await;
    // ticketd stops while RenderTicket keeps failing (the retries wait a long time)...
    stack.faults.set(
        Step::RenderTicket,
        Fault::Before {
            error: TRANSIENT,
            times: 1,
        },
    );
    let slow = ExecutorOptions {
        time_scale: 1000.0,
        ..ExecutorOptions::default()
    };
    let steps = Arc::new(stack.steps(stack.store.clone()));
    let journal = stack.dir.path().join("restart.sqlite3");
    let first = registration::open_executor(
        &journal,
        faulty_bindings(steps.clone(), &stack.faults),
        slow,
    )
    .await
    .unwrap();
    LocalWorkflow::new(first.clone())
        .start_registration(&request)
        .await
        .unwrap();
    while stack.faults.calls(Step::RenderTicket) == 0 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let running = first.describe(request.order_id.as_str()).await.unwrap();
    assert_eq!(running.unwrap().status, ExecutionStatus::Running);
    first.shutdown();

    // ... and starts again: the execution goes on from RenderTicket.
    let second = registration::open_executor(
        &journal,
        registration::bindings(steps, |_, inner| inner),
        ExecutorOptions {
            time_scale: 0.0,
            ..ExecutorOptions::default()
        },
    )
    .await
    .unwrap();
    let execution = second.wait(request.order_id.as_str()).await.unwrap();

    assert_eq!(
        execution.status,
        ExecutionStatus::Succeeded,
        "{execution:?}"
    );
    assert_eq!(stack.faults.calls(Step::ConfirmSeat), 1, "not run again");
    let history = second
        .history(request.order_id.as_str())
        .await
        .unwrap()
        .unwrap();
    assert!(history.iter().any(|event| matches!(
        &event.kind,
        HistoryEventKind::ExecutionResumed { state } if state == "RenderTicket"
    )));
    assert_eq!(stack.ticket_files().len(), 1);
}

/// ticketd's HTTP server over the stack, with the admin routes behind `token`.
async fn serve_admin(stack: &Stack, token: &str) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let site_dir = stack.dir.path().join("site");
    std::fs::create_dir_all(&site_dir).unwrap();
    let state = AppState {
        store: stack.store.clone(),
        site_dir,
        files: stack.files.clone(),
    };
    let services = Services {
        admin: Some(Admin::with_token(token, stack.executor.clone())),
        ..Services::default()
    };
    tokio::spawn(axum::serve(listener, server::router(state, services)).into_future());
    url
}

#[tokio::test]
async fn operators_see_executions_and_redrive_a_failed_one_through_the_admin_routes() {
    let stack = Stack::new().await;
    let event = stack.event(10, 2500).await;
    let done = stack.request(&event, "buyer-1").await;
    assert_eq!(stack.run(&done).await.status, ExecutionStatus::Succeeded);
    let other_event = stack.event(10, 2500).await;
    let stuck = stack.request(&other_event, "buyer-2").await;
    stack
        .faults
        .set(Step::RenderTicket, Fault::Always { error: REJECTED });
    stack
        .faults
        .set(Step::RefundPayment, Fault::Always { error: TRANSIENT });
    assert_eq!(stack.run(&stuck).await.status, ExecutionStatus::Failed);
    let url = serve_admin(&stack, "let-me-in").await;
    let http = reqwest::Client::new();
    let executions = format!("{url}/api/admin/executions");

    // Without the token, or with another, nothing is shown.
    for auth in [None, Some("Bearer wrong"), Some("let-me-in")] {
        let mut request = http.get(&executions);
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401, "{auth:?}");
        let body: Value = response.json().await.unwrap();
        assert!(body["error"].as_str().unwrap().contains("admin.token"));
    }

    let get = |path: String| http.get(path).bearer_auth("let-me-in").send();
    let all: Value = get(executions.clone()).await.unwrap().json().await.unwrap();
    let names: Vec<&str> = all["executions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|execution| execution["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, [stuck.order_id.as_str(), done.order_id.as_str()]);
    let failed: Value = get(format!("{executions}?status=failed"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(failed["executions"].as_array().unwrap().len(), 1);
    assert_eq!(failed["executions"][0]["failedState"], "RefundPayment");
    let bad = get(format!("{executions}?status=LOST")).await.unwrap();
    assert_eq!(bad.status(), 400);
    assert!(
        bad.text()
            .await
            .unwrap()
            .contains("unknown execution status")
    );

    let shown: Value = get(format!("{executions}/{}", stuck.order_id))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(shown["execution"]["status"], "FAILED");
    let history = shown["history"].as_array().unwrap();
    assert_eq!(history[0]["type"], "ExecutionStarted");
    assert!(
        history
            .iter()
            .any(|event| event["type"] == "RetryScheduled" && event["state"] == "RefundPayment")
    );
    assert_eq!(
        get(format!("{executions}/cs_none")).await.unwrap().status(),
        404
    );

    // A succeeded execution cannot be redriven; the failed one can, once mended.
    let redrive = |name: &str| {
        http.post(format!("{executions}/{name}/redrive"))
            .bearer_auth("let-me-in")
            .send()
    };
    assert_eq!(redrive(done.order_id.as_str()).await.unwrap().status(), 409);
    assert_eq!(redrive("cs_none").await.unwrap().status(), 404);
    stack.faults.clear();
    let accepted = redrive(stuck.order_id.as_str()).await.unwrap();
    assert_eq!(accepted.status(), 202);
    let finished = stack.executor.wait(stuck.order_id.as_str()).await.unwrap();
    assert_eq!(finished.failed_state.as_deref(), Some("RegistrationFailed"));
    let order = stack.order(&stuck.order_id).await;
    assert_eq!(order.status, OrderStatus::Failed);
    assert_eq!(stack.taken_and_sold(other_event.id).await, (0, 0));
    assert_eq!(stack.payments.refund_count(), 1);
}

#[tokio::test]
async fn ticketd_executions_lists_and_shows_a_journal_beside_the_running_executor() {
    let stack = Stack::new().await;
    let event = stack.event(10, 2500).await;
    let request = stack.request(&event, "buyer-1").await;
    assert_eq!(stack.run(&request).await.status, ExecutionStatus::Succeeded);
    let ticketd = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_ticketd"))
            .arg("executions")
            .arg("--data-dir")
            .arg(stack.dir.path())
            .args(args)
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        String::from_utf8(output.stdout).unwrap()
    };

    let listed = ticketd(&[]);
    let line = listed
        .lines()
        .find(|line| line.contains(request.order_id.as_str()))
        .expect("the execution is listed");
    assert!(line.contains("SUCCEEDED"), "{line}");
    assert!(!ticketd(&["list", "--status", "FAILED"]).contains(request.order_id.as_str()));

    let shown: Value =
        serde_json::from_str(&ticketd(&["show", request.order_id.as_str()])).unwrap();
    assert_eq!(shown["execution"]["status"], "SUCCEEDED");
    assert_eq!(
        shown["history"].as_array().unwrap().last().unwrap()["type"],
        "ExecutionSucceeded"
    );
}
