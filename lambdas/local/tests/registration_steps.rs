//! The registration saga's steps against the embedded adapters (SQLite store, directory file
//! store, the PDF renderer) and the fake payment provider, run through `RegistrationSteps` the way
//! ticketd's executor runs them. The payload grows as in `registration.asl.json`: forward results
//! under `seat`, `ticket`, `file`, `delivery`, a Catch's error under `error`, compensation results
//! under `undo.*`.

mod support;

use std::ops::Deref;
use std::sync::Arc;

use chrono::TimeDelta;
use serde_json::{Value, json};
use ticket_core::registration::{
    REJECTED, SEAT_UNAVAILABLE, TRANSIENT, TicketsRecorded, TicketsRendered, failure_reason,
};
use ticket_core::testing::FlakyStore;
use ticket_core::{
    Discount, FileKey, HoldId, HoldStatus, ManualClock, NewHold, OrderId, OrderStatus, PageRequest,
    PromoCode, Redemption, RegistrationRequest, RegistrationSteps, SeatCounts, Seats, Step,
    StepFailure, Store, TicketFiles, TicketStatus,
};
use ticket_testkit::pdf::{scan, text};
use uuid::Uuid;

use support::{Adapters, request_for};

/// The embedded adapters behind one `RegistrationSteps`. The steps see the SQLite store through
/// a `FlakyStore`, so a test can make store calls fail; the checks read the SQLite store
/// directly.
struct World {
    adapters: Adapters,
    steps: RegistrationSteps,
    flaky: Arc<FlakyStore>,
}

impl World {
    fn new() -> Self {
        let clock =
            ManualClock::new(ticket_core::time::from_key("2030-03-01T10:00:00.000Z").unwrap());
        let adapters = Adapters::new(Arc::new(clock));
        let flaky = Arc::new(FlakyStore::new(adapters.store.clone()));
        Self {
            steps: adapters.steps(flaky.clone()),
            flaky,
            adapters,
        }
    }

    async fn order_status(&self, order: &OrderId) -> Option<OrderStatus> {
        self.store
            .get_order(order)
            .await
            .unwrap()
            .map(|order| order.status)
    }
}

impl Deref for World {
    type Target = Adapters;

    fn deref(&self) -> &Adapters {
        &self.adapters
    }
}

/// The seats of an event after one registration.
const ONE_SOLD: SeatCounts = SeatCounts {
    taken: 1,
    sold: 1,
    checked_in: 0,
};

/// Where the state machine puts each step's result.
fn result_path(step: Step) -> &'static [&'static str] {
    match step {
        Step::ConfirmSeat => &["seat"],
        Step::RecordTicket => &["ticket"],
        Step::RenderTicket => &["file"],
        Step::DeliverTicket => &["delivery"],
        Step::RemoveTicketFile => &["undo", "file"],
        Step::VoidTicket => &["undo", "ticket"],
        Step::ReleaseSeat => &["undo", "seat"],
        Step::RefundPayment => &["undo", "refund"],
        Step::FailOrder => &["undo", "order"],
    }
}

/// One execution's payload as it grows.
struct Execution<'w> {
    world: &'w World,
    payload: Value,
}

impl<'w> Execution<'w> {
    fn new(world: &'w World, request: &RegistrationRequest) -> Self {
        Self {
            world,
            payload: serde_json::to_value(request).unwrap(),
        }
    }

    /// Runs a step on the current payload; its result is added under the state's result path.
    async fn run(&mut self, step: Step) -> Result<Value, StepFailure> {
        let result = self.world.steps.run(step, self.payload.clone()).await?;
        let mut at = &mut self.payload;
        for key in result_path(step) {
            if at.get(*key).is_none() {
                at[*key] = json!({});
            }
            at = &mut at[*key];
        }
        *at = result.clone();
        Ok(result)
    }

    async fn ok(&mut self, step: Step) -> Value {
        self.run(step)
            .await
            .unwrap_or_else(|failure| panic!("{step:?} failed: {failure}"))
    }

    async fn fails(&mut self, step: Step) -> StepFailure {
        let failure = match self.run(step).await {
            Ok(result) => panic!("{step:?} should fail, gave {result}"),
            Err(failure) => failure,
        };
        // What a Catch with `ResultPath: "$.error"` records.
        self.payload["error"] = json!({"Error": failure.error, "Cause": failure.cause});
        failure
    }

    /// Records a caught error as if `error` had stopped a step.
    fn caught(&mut self, error: &str) {
        self.payload["error"] = json!({"Error": error, "Cause": "the step gave up"});
    }

    async fn forward(&mut self) {
        for step in [
            Step::ConfirmSeat,
            Step::RecordTicket,
            Step::RenderTicket,
            Step::DeliverTicket,
        ] {
            self.ok(step).await;
        }
    }

    /// The compensation chain from `first` to FailOrder; the outcomes in order.
    async fn compensate_from(&mut self, first: Step) -> Vec<String> {
        let chain = [
            Step::RemoveTicketFile,
            Step::VoidTicket,
            Step::ReleaseSeat,
            Step::RefundPayment,
            Step::FailOrder,
        ];
        let start = chain.iter().position(|step| *step == first).unwrap();
        let mut outcomes = Vec::new();
        for step in &chain[start..] {
            outcomes.push(outcome(&self.ok(*step).await));
        }
        outcomes
    }
}

fn outcome(result: &Value) -> String {
    result["outcome"]
        .as_str()
        .unwrap_or_else(|| panic!("no outcome in {result}"))
        .to_owned()
}

#[tokio::test]
async fn the_happy_path_fulfils_the_order_with_a_valid_ticket_and_a_scannable_pdf() {
    let world = World::new();
    let event = world.event(5, 2500).await;
    let request = world.request(&event, "buyer-1").await;
    let mut execution = Execution::new(&world, &request);

    let seat = execution.ok(Step::ConfirmSeat).await;
    assert_eq!(seat, json!({"holdStatus": "SOLD", "late": false}));
    let recorded: TicketsRecorded =
        serde_json::from_value(execution.ok(Step::RecordTicket).await).unwrap();
    let rendered: TicketsRendered =
        serde_json::from_value(execution.ok(Step::RenderTicket).await).unwrap();
    let delivered = execution.ok(Step::DeliverTicket).await;
    assert_eq!(delivered, json!({"orderStatus": "FULFILLED"}));

    let order = world.order(&request.order_id).await;
    assert_eq!(order.status, OrderStatus::Fulfilled);
    assert_eq!(order.ticket_ids, recorded.ticket_ids);
    let [ticket_id] = recorded.ticket_ids[..] else {
        panic!("one ticket: {:?}", recorded.ticket_ids);
    };
    assert_eq!(order.amount, request.amount());
    assert_eq!(order.payment_intent_id, request.payment_intent_id);
    let ticket = world.ticket(ticket_id).await;
    assert_eq!(ticket.status, TicketStatus::Valid);
    assert_eq!(ticket.attendee, request.attendee);
    assert_eq!(world.seats(event.id).await, ONE_SOLD);

    let key = FileKey::for_ticket(event.id, ticket.id);
    assert_eq!(
        rendered.file_keys,
        [format!("tickets/{}/{}.pdf", event.id, ticket.id)]
    );
    let pdf = world
        .files
        .read(&key)
        .await
        .unwrap()
        .expect("the PDF is stored");
    assert_eq!(pdf.len(), rendered.bytes);
    let codes = scan(&pdf);
    assert_eq!(codes, [world.signer.sign(ticket.id, event.id)]);
    let verified = world.signer.verifier().verify(&codes[0]).unwrap();
    assert_eq!(
        (verified.ticket_id, verified.event_id),
        (ticket.id, event.id)
    );
    let text = text(&pdf);
    for shown in [
        "Saga Night",
        "Hall 7",
        "Zo\u{eb} \u{c5}ngstr\u{f6}m",
        "TICKETD",
    ] {
        assert!(text.contains(shown), "{shown:?} on the ticket:\n{text}");
    }
    assert_eq!(world.payments.refund_count(), 0);
}

#[tokio::test]
async fn each_forward_step_run_twice_gives_the_same_result() {
    let world = World::new();
    let event = world.event(5, 2500).await;
    let request = world.request(&event, "buyer-1").await;
    let mut execution = Execution::new(&world, &request);

    for step in [
        Step::ConfirmSeat,
        Step::RecordTicket,
        Step::RenderTicket,
        Step::DeliverTicket,
    ] {
        let first = execution.ok(step).await;
        let again = execution.ok(step).await;
        assert_eq!(first, again, "{step:?}");
    }
    assert_eq!(world.seats(event.id).await, ONE_SOLD);
    let attendees = world
        .store
        .attendees_of_event(event.id, &PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(attendees.items.len(), 1, "one ticket for one order");
    assert_eq!(
        world.order_status(&request.order_id).await,
        Some(OrderStatus::Fulfilled)
    );
}

#[tokio::test]
async fn compensations_with_nothing_to_undo_succeed_with_their_nothing_outcome() {
    let world = World::new();
    let event = world.event(5, 2500).await;
    // Nothing ran for this order, and its hold does not exist.
    let request = RegistrationRequest {
        payment_intent_id: None,
        amount_minor: 0,
        ..request_for(&event, HoldId::from(Uuid::now_v7()), "buyer-1")
    };
    let mut execution = Execution::new(&world, &request);
    execution.caught(REJECTED);
    let outcomes = execution.compensate_from(Step::RemoveTicketFile).await;
    assert_eq!(
        outcomes,
        [
            "nothing-to-remove",
            "no-ticket",
            "nothing-to-release",
            "no-payment",
            "failed"
        ]
    );
    let order = world.order(&request.order_id).await;
    assert_eq!(order.status, OrderStatus::Failed);
    assert_eq!(
        order.failure_reason.as_deref(),
        Some("We could not issue your ticket.")
    );
    assert_eq!(world.payments.calls(), 0, "a free order calls no provider");
    assert_eq!(world.seats(event.id).await, SeatCounts::default());
}

#[tokio::test]
async fn a_recorded_ticket_without_a_file_has_no_file_to_remove() {
    let world = World::new();
    let event = world.event(5, 2500).await;
    let request = world.request(&event, "buyer-1").await;
    let mut execution = Execution::new(&world, &request);
    execution.ok(Step::ConfirmSeat).await;
    execution.ok(Step::RecordTicket).await;

    let removed = execution.ok(Step::RemoveTicketFile).await;
    assert_eq!(outcome(&removed), "nothing-to-remove");
    let released = execution.ok(Step::ReleaseSeat).await;
    assert_eq!(
        released,
        json!({"outcome": "released", "holdStatus": "SOLD"})
    );
    let again = execution.ok(Step::ReleaseSeat).await;
    assert_eq!(again, json!({"outcome": "already-released"}));
    assert_eq!(world.seats(event.id).await, SeatCounts::default());
}

#[tokio::test]
async fn compensations_after_the_forward_steps_undo_everything_once() {
    let world = World::new();
    let event = world.event(5, 2500).await;
    let request = world.request(&event, "buyer-1").await;
    let mut execution = Execution::new(&world, &request);
    execution.ok(Step::ConfirmSeat).await;
    let recorded: TicketsRecorded =
        serde_json::from_value(execution.ok(Step::RecordTicket).await).unwrap();
    execution.ok(Step::RenderTicket).await;
    let key = FileKey::for_ticket(event.id, recorded.ticket_ids[0]);
    assert!(world.files.exists(&key).await.unwrap());
    // DeliverTicket gave up: the Catch routes to RemoveTicketFile.
    execution.caught(REJECTED);

    let outcomes = execution.compensate_from(Step::RemoveTicketFile).await;
    assert_eq!(
        outcomes,
        ["removed", "voided", "released", "refunded", "failed"]
    );
    // A redriven execution runs the compensations again: nothing happens twice.
    let again = execution.compensate_from(Step::RemoveTicketFile).await;
    assert_eq!(
        again,
        [
            "nothing-to-remove",
            "voided",
            "already-released",
            "refunded",
            "failed"
        ]
    );
    assert_eq!(
        execution.payload["undo"]["refund"]["refundId"],
        world.payments.refunds()[0].1.id.as_str(),
        "the repeated refund returns the first"
    );

    assert!(!world.files.exists(&key).await.unwrap(), "file gone");
    let ticket = world.ticket(recorded.ticket_ids[0]).await;
    assert_eq!(ticket.status, TicketStatus::Void);
    assert_eq!(world.seats(event.id).await, SeatCounts::default());
    assert_eq!(world.payments.refund_count(), 1);
    assert_eq!(world.payments.refund_calls(), 2);
    let (refund, _) = &world.payments.refunds()[0];
    assert_eq!(refund.order_id, request.order_id);
    assert_eq!(
        Some(refund.payment_intent_id.clone()),
        request.payment_intent_id
    );
    assert_eq!(refund.amount, request.amount());
    let order = world.order(&request.order_id).await;
    assert_eq!(order.status, OrderStatus::Failed);
    assert_eq!(
        order.failure_reason.as_deref(),
        Some("We could not issue your ticket. Your payment has been refunded.")
    );
}

#[tokio::test]
async fn compensating_a_fulfilled_order_refunds_it() {
    let world = World::new();
    let event = world.event(5, 2500).await;
    let request = world.request(&event, "buyer-1").await;
    let mut execution = Execution::new(&world, &request);
    execution.forward().await;
    // DeliverTicket's write landed but its invocation timed out until the retries ran out.
    execution.caught("States.Timeout");
    let outcomes = execution.compensate_from(Step::RemoveTicketFile).await;
    assert_eq!(
        outcomes,
        ["removed", "voided", "released", "refunded", "refunded"]
    );
    let order = world.order(&request.order_id).await;
    assert_eq!(order.status, OrderStatus::Refunded);
    assert_eq!(
        order.failure_reason.as_deref(),
        Some(failure_reason(Some("States.Timeout"), true))
    );
    assert_eq!(world.seats(event.id).await, SeatCounts::default());
    assert_eq!(world.payments.refund_count(), 1);
}

#[tokio::test]
async fn a_used_ticket_is_kept_when_its_order_is_undone() {
    let world = World::new();
    let event = world.event(5, 2500).await;
    let request = world.request(&event, "buyer-1").await;
    let mut execution = Execution::new(&world, &request);
    execution.forward().await;
    let ticket_id = world.order(&request.order_id).await.ticket_ids[0];
    let scanned = world
        .store
        .redeem_ticket(ticket_id, &"organizer-1".into(), world.clock.now())
        .await
        .unwrap();
    assert!(matches!(scanned, Redemption::Admitted(_)));

    let voided = execution.ok(Step::VoidTicket).await;
    assert_eq!(
        voided,
        json!({"outcome": "kept-used"}),
        "nothing was voided"
    );
    let ticket = world.ticket(ticket_id).await;
    assert_eq!(ticket.status, TicketStatus::Used);
}

#[tokio::test]
async fn a_late_payment_with_seats_left_takes_one_and_gets_a_ticket() {
    let world = World::new();
    let event = world.event(2, 2500).await;
    let request = world.request(&event, "buyer-1").await;
    // The checkout expired before the payment's webhook: the hold was released.
    world.expire_hold(&request).await;
    assert_eq!(world.seats(event.id).await.taken, 0);

    let mut execution = Execution::new(&world, &request);
    let seat = execution.ok(Step::ConfirmSeat).await;
    assert_eq!(seat, json!({"holdStatus": "SOLD", "late": true}));
    for step in [Step::RecordTicket, Step::RenderTicket, Step::DeliverTicket] {
        execution.ok(step).await;
    }
    assert_eq!(
        world.order_status(&request.order_id).await,
        Some(OrderStatus::Fulfilled)
    );
    assert_eq!(world.seats(event.id).await, ONE_SOLD);
}

#[tokio::test]
async fn a_late_payment_for_a_sold_out_event_is_refunded() {
    let world = World::new();
    let event = world.event(1, 2500).await;
    let request = world.request(&event, "buyer-1").await;
    world.expire_hold(&request).await;
    // Someone else took the only seat meanwhile.
    world.hold(event.id, "buyer-2").await;

    let mut execution = Execution::new(&world, &request);
    let failure = execution.fails(Step::ConfirmSeat).await;
    assert_eq!(failure.error, SEAT_UNAVAILABLE);
    // The Catch for SeatUnavailable goes straight to the refund.
    let outcomes = execution.compensate_from(Step::RefundPayment).await;
    assert_eq!(outcomes, ["refunded", "failed"]);
    let order = world.order(&request.order_id).await;
    assert_eq!(order.status, OrderStatus::Failed);
    assert_eq!(
        order.failure_reason.as_deref(),
        Some("The event sold out before your payment arrived. Your payment has been refunded.")
    );
    assert_eq!(world.payments.refund_count(), 1);
    assert_eq!(
        world.seats(event.id).await,
        SeatCounts {
            taken: 1,
            sold: 0,
            checked_in: 0
        },
        "the other buyer keeps the seat"
    );
}

/// A discounted payment arrives after its hold (and its code's only use) went back, and another
/// buyer has used the code since: the order cannot have the discount, so it is refunded.
#[tokio::test]
async fn a_late_payment_whose_promo_code_was_used_up_meanwhile_is_refunded() {
    let world = World::new();
    let event = world.event(5, 2500).await;
    let code = PromoCode {
        event_id: event.id,
        code: "ONCE".into(),
        discount: Discount::Percent(20),
        ticket_type_ids: Vec::new(),
        max_uses: 1,
        valid_from: None,
        valid_until: None,
        created_at: world.clock.now(),
    };
    world.store.create_promo_code(&code).await.unwrap();
    let with_code = |buyer: &str| NewHold {
        id: HoldId::from(Uuid::now_v7()),
        seats: Seats::one(event.ticket_types[0].id),
        promo_code: Some("ONCE".into()),
        user_id: buyer.into(),
        expires_at: world.clock.now() + TimeDelta::minutes(30),
        event_version: None,
    };
    let first = with_code("buyer-1");
    world
        .store
        .hold_seat(event.id, &first, world.clock.now())
        .await
        .unwrap();
    let request = RegistrationRequest {
        amount_minor: 2000,
        ..request_for(&event, first.id, "buyer-1")
    };
    world.expire_hold(&request).await;
    world
        .store
        .hold_seat(event.id, &with_code("buyer-2"), world.clock.now())
        .await
        .unwrap();

    let mut execution = Execution::new(&world, &request);
    let failure = execution.fails(Step::ConfirmSeat).await;
    assert_eq!(failure.error, SEAT_UNAVAILABLE);
    assert!(
        failure.cause.contains("promo code ONCE"),
        "{}",
        failure.cause
    );
    let outcomes = execution.compensate_from(Step::RefundPayment).await;
    assert_eq!(outcomes, ["refunded", "failed"]);
    assert_eq!(world.payments.refund_count(), 1);
    assert_eq!(
        world.seats(event.id).await.taken,
        1,
        "only the other buyer's seat"
    );
}

#[tokio::test]
async fn a_free_registration_needs_no_payment() {
    let world = World::new();
    let event = world.event(3, 0).await;
    let request = world.request(&event, "buyer-1").await;
    assert_eq!(request.payment_intent_id, None);
    let mut execution = Execution::new(&world, &request);
    execution.forward().await;
    assert_eq!(
        world.order_status(&request.order_id).await,
        Some(OrderStatus::Fulfilled)
    );
    let key = FileKey::parse(execution.payload["file"]["fileKeys"][0].as_str().unwrap()).unwrap();
    let text = text(&world.files.read(&key).await.unwrap().unwrap());
    assert!(text.contains("Free"), "{text}");

    let refund = execution.ok(Step::RefundPayment).await;
    assert_eq!(refund, json!({"outcome": "no-payment"}));
    assert_eq!(world.payments.calls(), 0);
}

#[tokio::test]
async fn transient_store_faults_are_transient_and_the_retry_succeeds() {
    let world = World::new();
    let event = world.event(5, 2500).await;
    let request = world.request(&event, "buyer-1").await;
    let mut execution = Execution::new(&world, &request);
    for step in Step::ALL
        .into_iter()
        .filter(|step| *step != Step::RefundPayment)
    {
        world.flaky.faults.fail_next(1);
        let failure = execution.run(step).await.unwrap_err();
        assert_eq!(failure.error, TRANSIENT, "{step:?}: {failure}");
        assert!(failure.cause.contains("injected fault"), "{failure}");
        execution.ok(step).await;
    }
    assert_eq!(
        world.order_status(&request.order_id).await,
        Some(OrderStatus::Refunded),
        "the forward steps fulfilled it, the compensations refunded it"
    );
}

#[tokio::test]
async fn transient_payment_faults_are_transient_and_refund_once() {
    let world = World::new();
    let event = world.event(5, 2500).await;
    let request = world.request(&event, "buyer-1").await;
    let mut execution = Execution::new(&world, &request);
    execution.ok(Step::ConfirmSeat).await;
    world.payments.faults.fail_next(2);
    for _ in 0..2 {
        let failure = execution.run(Step::RefundPayment).await.unwrap_err();
        assert_eq!(failure.error, TRANSIENT, "{failure}");
    }
    let refunded = execution.ok(Step::RefundPayment).await;
    assert_eq!(outcome(&refunded), "refunded");
    assert_eq!(
        (world.payments.refund_count(), world.payments.refund_calls()),
        (1, 3)
    );
}

#[tokio::test]
async fn a_ticket_file_not_yet_stored_is_a_transient_delivery_failure() {
    let world = World::new();
    let event = world.event(5, 2500).await;
    let request = world.request(&event, "buyer-1").await;
    let mut execution = Execution::new(&world, &request);
    execution.ok(Step::ConfirmSeat).await;
    execution.ok(Step::RecordTicket).await;
    let failure = execution.run(Step::DeliverTicket).await.unwrap_err();
    assert_eq!(failure.error, TRANSIENT, "{failure}");
    assert_eq!(
        world.order_status(&request.order_id).await,
        Some(OrderStatus::Pending)
    );
}

#[tokio::test]
async fn permanent_problems_are_rejected() {
    let world = World::new();
    let event = world.event(5, 2500).await;

    // An unknown hold.
    let unknown = request_for(&event, HoldId::from(Uuid::now_v7()), "buyer-1");
    let failure = Execution::new(&world, &unknown)
        .run(Step::ConfirmSeat)
        .await
        .unwrap_err();
    assert_eq!(failure.error, REJECTED, "{failure}");

    // An order that already failed takes no seat.
    let request = world.request(&event, "buyer-1").await;
    let mut execution = Execution::new(&world, &request);
    execution.caught(REJECTED);
    execution.ok(Step::FailOrder).await;
    let failure = execution.run(Step::ConfirmSeat).await.unwrap_err();
    assert_eq!(failure.error, REJECTED, "{failure}");
    let failure = execution.run(Step::RecordTicket).await.unwrap_err();
    assert_eq!(failure.error, REJECTED, "{failure}");

    // Tickets other than the seats held: three tickets on a hold of two, nothing sold.
    let pair = world
        .order_request(&event, "buyer-2", &["Ada", "Grace"])
        .await;
    let mut more = pair.clone();
    more.tickets.push(more.tickets[0].clone());
    let failure = Execution::new(&world, &more)
        .run(Step::ConfirmSeat)
        .await
        .unwrap_err();
    assert_eq!(failure.error, REJECTED, "{failure}");
    assert!(failure.cause.contains("other tickets"), "{failure}");
    let held = world.store.get_hold(pair.event_id, pair.hold_id).await;
    assert_eq!(held.unwrap().unwrap().status, HoldStatus::Held);

    // Steps after RecordTicket need its ticket.
    let fresh = world.request(&event, "buyer-1").await;
    let mut execution = Execution::new(&world, &fresh);
    execution.ok(Step::ConfirmSeat).await;
    for step in [Step::RenderTicket, Step::DeliverTicket] {
        let failure = execution.run(step).await.unwrap_err();
        assert_eq!(failure.error, REJECTED, "{step:?}: {failure}");
    }

    // Input that is not a registration request, or not a valid one.
    let failure = world
        .steps
        .run(Step::ConfirmSeat, json!({"orderId": "cs_1"}))
        .await
        .unwrap_err();
    assert_eq!(failure.error, REJECTED);
    let invalid = RegistrationRequest {
        amount_minor: -5,
        ..world.request(&event, "buyer-1").await
    };
    let failure = Execution::new(&world, &invalid)
        .run(Step::ConfirmSeat)
        .await
        .unwrap_err();
    assert_eq!(failure.error, REJECTED);
    assert!(failure.cause.contains("amountMinor"), "{failure}");
}
