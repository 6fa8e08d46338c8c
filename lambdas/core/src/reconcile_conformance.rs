//! The reconciliation checks every `Store` adapter must pass: the pass of
//! [`crate::reconcile`] over the adapter, with faked payments ([`FakePayments`]) and a
//! recording workflow. Checkouts are made through the real API handler, and webhooks arrive
//! through it signed as Stripe signs them, so the pass meets what production writes. An
//! adapter's test file invokes [`reconcile_conformance_tests!`] next to the store suite.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Value, json};

use crate::api::{self, ApiPorts, ApiRequest, HOLD_MINUTES};
use crate::clock::{Clock, ManualClock};
use crate::conformance::{SharedStore, now};
use crate::event::{Event, NewEvent, Visibility};
use crate::identity::{Caller, Group};
use crate::ids::{EventId, HoldId, Ids, OrderId, RandomIds, RegistrationId, TicketId, UserId};
use crate::order::{
    Attendee, HoldStatus, NewHold, NewTickets, Order, OrderStatus, Seats, TicketDraft, TicketStatus,
};
use crate::payments::{Payments, PaymentsError, SessionSnapshot};
use crate::reconcile::{PassReport, ReconcilePorts, reconcile};
use crate::store::FIRST_ORDER_CHECK;
use crate::stripe_webhook::signature_header;
use crate::testing::{FakePayments, NoFiles, RecordingWorkflow, SessionState};
use crate::ticket_code::TicketVerifier;

/// Expands to one `#[tokio::test]` per reconciliation check. `$make` is an async expression
/// that yields a fresh `Arc<dyn Store>` for each test.
#[macro_export]
macro_rules! reconcile_conformance_tests {
    ($make:expr) => {
        $crate::reconcile_conformance_tests!(@each $make;
            reconcile_releases_an_expired_hold_without_an_order_once,
            reconcile_starts_the_registration_of_a_paid_order_once,
            reconcile_waits_for_an_open_checkout_then_expires_it_at_the_provider,
            reconcile_closes_orders_whose_session_expired_or_never_existed,
            reconcile_waits_for_a_delayed_payment_until_it_is_paid,
            reconcile_registers_a_payment_that_beats_the_expiry,
            reconcile_closes_a_free_order_whose_registration_never_started,
            reconcile_leaves_an_order_alone_while_the_provider_is_down,
            reconcile_two_passes_at_once_change_nothing_twice,
            reconcile_racing_a_paid_webhook_starts_one_registration,
            reconcile_racing_an_unpaid_webhook_gives_the_seat_back_once,
            index_lists_expired_holds_without_an_order,
            index_lists_pending_orders_when_their_check_is_due,
            reconcile_finishes_an_organizers_refund_cut_short_once
        );
    };
    (@each $make:expr; $($name:ident),+) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let store: $crate::conformance::SharedStore = $make.await;
                $crate::reconcile_conformance::$name(store).await;
            }
        )+
    };
}

const WEBHOOK_SECRET: &str = "whsec_reconcile_conformance";
const PRICE_MINOR: i64 = 2500;
const CAPACITY: i64 = 20;

/// Rounds of each race: enough for both orders of arrival to come up.
const RACE_ROUNDS: usize = 6;

/// The ports of one check: the store under test, fakes for the rest, a clock the check moves.
struct World {
    store: SharedStore,
    payments: Arc<FakePayments>,
    workflow: Arc<RecordingWorkflow>,
    clock: Arc<ManualClock>,
}

impl World {
    fn new(store: SharedStore) -> Self {
        Self {
            store,
            payments: Arc::new(FakePayments::new()),
            workflow: Arc::new(RecordingWorkflow::new()),
            clock: Arc::new(ManualClock::new(now())),
        }
    }

    fn ports(&self) -> ReconcilePorts {
        self.ports_with(self.payments.clone())
    }

    fn ports_with(&self, payments: Arc<dyn Payments>) -> ReconcilePorts {
        ReconcilePorts {
            store: self.store.clone(),
            payments,
            workflow: self.workflow.clone(),
            clock: self.clock.clone(),
        }
    }

    fn api(&self) -> ApiPorts {
        ApiPorts {
            store: self.store.clone(),
            files: Arc::new(NoFiles),
            payments: self.payments.clone(),
            workflow: self.workflow.clone(),
            clock: self.clock.clone(),
            ids: Arc::new(RandomIds),
            verifier: Arc::new(TicketVerifier::new()),
            ticket_pdfs: None,
            webhook_secrets: vec![WEBHOOK_SECRET.into()],
            site_url: "https://tickets.invalid".into(),
            hold_minutes: HOLD_MINUTES,
        }
    }

    async fn pass(&self) -> PassReport {
        reconcile(&self.ports())
            .await
            .expect("the indexes can be read")
    }

    fn advance(&self, by: TimeDelta) {
        self.clock.advance(by);
    }

    /// Past the first check of an order made now, with its hold still running.
    fn to_first_check(&self) {
        self.advance(FIRST_ORDER_CHECK + TimeDelta::seconds(1));
    }

    /// Past the end of every hold taken now.
    fn past_the_holds(&self) {
        self.advance(TimeDelta::minutes(HOLD_MINUTES) + TimeDelta::seconds(1));
    }

    async fn event(&self, price_minor: i64) -> Event {
        let event = NewEvent {
            title: "Reconciled".into(),
            venue: "Main hall".into(),
            starts_at: Some(self.clock.now() + TimeDelta::days(30)),
            capacity: CAPACITY,
            price_minor: Some(price_minor),
            currency: "EUR".into(),
            ..NewEvent::default()
        }
        .validate(
            EventId::from(RandomIds.new_id()),
            UserId::from("organizer"),
            self.clock.now(),
            &RandomIds,
        )
        .expect("a valid event");
        self.store.create_event(&event).await.expect("create event");
        self.store
            .set_visibility(event.id, Visibility::Published)
            .await
            .expect("publish the event");
        event
    }

    /// A paid checkout through the API: the hold, the session and the `PENDING` order.
    async fn checkout(&self, event: &Event) -> Order {
        let buyer = format!("buyer-{}", RandomIds.new_id().simple());
        let caller = Caller {
            user_id: UserId::from(buyer.as_str()),
            email: Some(format!("{buyer}@example.com")),
            name: Some("Ada".into()),
            groups: vec![Group::Attendee],
        };
        let request = ApiRequest::new("POST", "/events/{id}/checkout", Ok(caller))
            .with_path_param("id", event.id.to_string());
        let response = api::handle(&self.api(), request).await;
        assert_eq!(response.status, 201, "{}", response.json_body());
        let order_id = response.json_body()["orderId"]
            .as_str()
            .expect("an order id")
            .to_owned();
        self.order(&OrderId::from(order_id)).await
    }

    async fn order(&self, id: &OrderId) -> Order {
        self.store
            .get_order(id)
            .await
            .expect("get order")
            .expect("the order exists")
    }

    async fn hold_status(&self, order: &Order) -> HoldStatus {
        self.store
            .get_hold(order.event_id, order.hold_id)
            .await
            .expect("get hold")
            .expect("the hold exists")
            .status
    }

    /// Held, sold and remaining seats.
    async fn seats(&self, event: &Event) -> (i64, i64, i64) {
        let seats = self
            .store
            .get_event(event.id)
            .await
            .expect("get event")
            .expect("the event exists")
            .seats;
        let (taken, sold) = (i64::from(seats.taken), i64::from(seats.sold));
        (taken - sold, sold, CAPACITY - taken)
    }

    async fn snapshot(&self, order: &Order) -> SessionSnapshot {
        self.payments
            .get_checkout(&order.id)
            .await
            .expect("the fake answers")
            .expect("the session exists")
    }

    /// `POST /stripe/webhook` with an event of `kind` about the session as it stands now.
    async fn webhook(&self, kind: &str, order: &Order) -> (u16, Value) {
        let session = self.snapshot(order).await;
        let body = webhook_body(kind, &session);
        let signature = signature_header(WEBHOOK_SECRET, self.clock.now().timestamp(), &body);
        let request = ApiRequest::new("POST", "/stripe/webhook", Err(missing_token()))
            .with_header("Stripe-Signature", signature)
            .with_body(body);
        let response = api::handle(&self.api(), request).await;
        (response.status, response.json_body())
    }
}

fn missing_token() -> crate::identity::IdentityError {
    crate::identity::IdentityError::NoClaims
}

/// A `checkout.session.*` event as Stripe sends it, built from the session's fields.
fn webhook_body(kind: &str, session: &SessionSnapshot) -> Vec<u8> {
    let fields = &session.fields;
    let status = match session.status {
        crate::payments::SessionStatus::Open => "open",
        crate::payments::SessionStatus::Complete => "complete",
        crate::payments::SessionStatus::Expired => "expired",
    };
    json!({
        "id": format!("evt_{}", RandomIds.new_id().simple()),
        "object": "event",
        "type": kind,
        "data": { "object": {
            "id": fields.id,
            "object": "checkout.session",
            "status": status,
            "payment_status": fields.payment_status,
            "payment_intent": fields.payment_intent,
            "amount_total": fields.amount_total,
            "currency": fields.currency,
            "customer_details": { "email": fields.customer_email, "name": fields.customer_name },
            "metadata": {
                "eventId": fields.event_id,
                "holdId": fields.hold_id,
                "userId": fields.user_id,
            },
        }},
    })
    .to_string()
    .into_bytes()
}

/// A hold taken straight in the store, as a checkout that died before it opened an order
/// leaves it.
async fn orphan_hold(world: &World, event: &Event, expires_in: TimeDelta) -> HoldId {
    let hold = NewHold {
        id: HoldId::from(RandomIds.new_id()),
        seats: Seats::one(event.ticket_types[0].id),
        promo_code: None,
        user_id: UserId::from("crashed-buyer"),
        expires_at: world.clock.now() + expires_in,
        event_version: None,
    };
    world
        .store
        .hold_seat(event.id, &hold, world.clock.now())
        .await
        .expect("hold a seat");
    hold.id
}

async fn hold_status_of(world: &World, event: &Event, hold: HoldId) -> HoldStatus {
    world
        .store
        .get_hold(event.id, hold)
        .await
        .expect("get hold")
        .expect("the hold exists")
        .status
}

pub async fn reconcile_releases_an_expired_hold_without_an_order_once(store: SharedStore) {
    let world = World::new(store);
    let event = world.event(PRICE_MINOR).await;
    let expiring = orphan_hold(&world, &event, TimeDelta::minutes(5)).await;
    let running = orphan_hold(&world, &event, TimeDelta::minutes(60)).await;
    let sold = orphan_hold(&world, &event, TimeDelta::minutes(5)).await;
    world.store.confirm_hold(event.id, sold).await.unwrap();
    world.advance(TimeDelta::minutes(6));

    let first = world.pass().await;
    let second = world.pass().await;

    assert_eq!((first.holds_released, second.holds_released), (1, 0));
    assert!(first.errors.is_empty(), "{first:?}");
    assert_eq!(
        hold_status_of(&world, &event, expiring).await,
        HoldStatus::Released
    );
    assert_eq!(
        hold_status_of(&world, &event, running).await,
        HoldStatus::Held
    );
    assert_eq!(hold_status_of(&world, &event, sold).await, HoldStatus::Sold);
    assert_eq!(world.seats(&event).await, (1, 1, CAPACITY - 2));
    assert_eq!(
        world.payments.calls(),
        0,
        "an orphan hold needs no provider"
    );
}

pub async fn reconcile_starts_the_registration_of_a_paid_order_once(store: SharedStore) {
    let world = World::new(store);
    let event = world.event(PRICE_MINOR).await;
    let order = world.checkout(&event).await;
    world.payments.pay(&order.id).unwrap();
    // The webhook is lost. Before the first check nothing is due.
    assert_eq!(world.pass().await, PassReport::default());
    world.to_first_check();

    let first = world.pass().await;
    let at_once = world.pass().await;
    world.past_the_holds();
    let later = world.pass().await;

    assert_eq!(first.registrations_started, 1, "{first:?}");
    assert_eq!(
        at_once,
        PassReport::default(),
        "deferred: not due again at once"
    );
    assert_eq!(later.registrations_started, 1, "looked at again: {later:?}");
    assert_eq!(later.orders_expired, 0);
    let started = world.workflow.started();
    assert_eq!(started.len(), 1, "one registration: {started:?}");
    let expected = world.snapshot(&order).await.fields.registration().unwrap();
    assert_eq!(started[0], expected);
    assert_eq!(
        started[0].payment_intent_id.as_deref(),
        Some(FakePayments::payment_intent_of(&order.id).as_str())
    );
    // The seat stays the buyer's even past the hold: the registration sells it.
    assert_eq!(world.hold_status(&order).await, HoldStatus::Held);
    assert_eq!(world.order(&order.id).await.status, OrderStatus::Pending);
}

pub async fn reconcile_waits_for_an_open_checkout_then_expires_it_at_the_provider(
    store: SharedStore,
) {
    let world = World::new(store);
    let event = world.event(PRICE_MINOR).await;
    let order = world.checkout(&event).await;
    world.to_first_check();

    let early = world.pass().await;
    assert_eq!((early.orders_deferred, early.orders_expired), (1, 0));
    assert_eq!(
        world.payments.session_state(&order.id),
        Some(SessionState::Open)
    );
    // Deferred to the hold's end, not one check per pass meanwhile.
    world.advance(TimeDelta::minutes(5));
    assert_eq!(world.pass().await, PassReport::default());
    world.past_the_holds();

    let late = world.pass().await;
    let again = world.pass().await;

    assert_eq!(late.orders_expired, 1, "{late:?}");
    assert_eq!(again, PassReport::default());
    assert_eq!(
        world.payments.session_state(&order.id),
        Some(SessionState::Expired),
        "expired at the provider first: nobody can pay for the seat given back"
    );
    assert_eq!(world.hold_status(&order).await, HoldStatus::Released);
    assert_eq!(world.order(&order.id).await.status, OrderStatus::Expired);
    assert_eq!(world.seats(&event).await, (0, 0, CAPACITY));
    assert!(world.workflow.started().is_empty());
}

pub async fn reconcile_closes_orders_whose_session_expired_or_never_existed(store: SharedStore) {
    let world = World::new(store);
    let event = world.event(PRICE_MINOR).await;
    let expired = world.checkout(&event).await;
    world.payments.expire_checkout(&expired.id).await.unwrap();
    // An order whose session the provider does not know (another account, a lost sandbox).
    let hold = orphan_hold(&world, &event, TimeDelta::minutes(HOLD_MINUTES)).await;
    let unknown = Order {
        id: OrderId::from("cs_test_the_provider_never_made"),
        hold_id: hold,
        ..expired.clone()
    };
    world.store.create_order(&unknown).await.unwrap();
    world.to_first_check();

    let report = world.pass().await;

    assert_eq!(report.orders_expired, 2, "{report:?}");
    for order in [&expired, &unknown] {
        assert_eq!(world.order(&order.id).await.status, OrderStatus::Expired);
        assert_eq!(world.hold_status(order).await, HoldStatus::Released);
    }
    assert_eq!(world.seats(&event).await, (0, 0, CAPACITY));
}

pub async fn reconcile_waits_for_a_delayed_payment_until_it_is_paid(store: SharedStore) {
    let world = World::new(store);
    let event = world.event(PRICE_MINOR).await;
    let order = world.checkout(&event).await;
    world.payments.pay_later(&order.id).unwrap();
    world.past_the_holds();

    let processing = world.pass().await;
    assert_eq!(
        (processing.orders_deferred, processing.orders_expired),
        (1, 0),
        "{processing:?}"
    );
    assert!(world.workflow.started().is_empty());
    assert_eq!(world.hold_status(&order).await, HoldStatus::Held);
    world.payments.pay(&order.id).unwrap();
    world.past_the_holds();

    let paid = world.pass().await;

    assert_eq!(paid.registrations_started, 1, "{paid:?}");
    assert!(world.workflow.has_started(&order.id));
}

/// The buyer pays in the instant between the pass's read and its expire: the provider refuses
/// to expire a completed session.
struct PaysOnExpire(Arc<FakePayments>);

#[async_trait::async_trait]
impl Payments for PaysOnExpire {
    async fn create_checkout(
        &self,
        request: &crate::payments::CheckoutRequest,
    ) -> Result<crate::payments::CheckoutSession, PaymentsError> {
        self.0.create_checkout(request).await
    }
    async fn expire_checkout(&self, session: &OrderId) -> Result<(), PaymentsError> {
        self.0.pay(session)?;
        self.0.expire_checkout(session).await
    }
    async fn get_checkout(
        &self,
        session: &OrderId,
    ) -> Result<Option<SessionSnapshot>, PaymentsError> {
        self.0.get_checkout(session).await
    }
    async fn refund(
        &self,
        request: &crate::payments::RefundRequest,
    ) -> Result<crate::payments::Refund, PaymentsError> {
        self.0.refund(request).await
    }
}

pub async fn reconcile_registers_a_payment_that_beats_the_expiry(store: SharedStore) {
    let world = World::new(store);
    let event = world.event(PRICE_MINOR).await;
    let order = world.checkout(&event).await;
    world.past_the_holds();
    let ports = world.ports_with(Arc::new(PaysOnExpire(world.payments.clone())));

    let report = reconcile(&ports).await.unwrap();

    assert_eq!(
        (report.registrations_started, report.orders_expired),
        (1, 0),
        "{report:?}"
    );
    assert_eq!(
        world.payments.session_state(&order.id),
        Some(SessionState::Paid)
    );
    assert!(world.workflow.has_started(&order.id));
    assert_eq!(world.hold_status(&order).await, HoldStatus::Held);
    assert_eq!(world.order(&order.id).await.status, OrderStatus::Pending);
}

pub async fn reconcile_closes_a_free_order_whose_registration_never_started(store: SharedStore) {
    let world = World::new(store);
    let event = world.event(0).await;
    // A free checkout that crashed between its order and its registration...
    let stalled_hold = orphan_hold(&world, &event, TimeDelta::minutes(HOLD_MINUTES)).await;
    let stalled = free_order(&world, &event, stalled_hold);
    world.store.create_order(&stalled).await.unwrap();
    // ...and one whose registration sold the seat and is still running.
    let running_hold = orphan_hold(&world, &event, TimeDelta::minutes(HOLD_MINUTES)).await;
    world
        .store
        .confirm_hold(event.id, running_hold)
        .await
        .unwrap();
    let running = free_order(&world, &event, running_hold);
    world.store.create_order(&running).await.unwrap();
    world.to_first_check();

    let early = world.pass().await;
    assert_eq!((early.orders_deferred, early.orders_expired), (2, 0));
    world.past_the_holds();
    let late = world.pass().await;

    assert_eq!(late.orders_expired, 1, "{late:?}");
    assert_eq!(world.order(&stalled.id).await.status, OrderStatus::Expired);
    assert_eq!(world.order(&running.id).await.status, OrderStatus::Pending);
    assert_eq!(world.hold_status(&running).await, HoldStatus::Sold);
    assert_eq!(world.seats(&event).await, (0, 1, CAPACITY - 1));
    assert_eq!(
        world.payments.calls(),
        0,
        "a free order has no session to ask about"
    );
}

fn free_order(world: &World, event: &Event, hold_id: HoldId) -> Order {
    let now = world.clock.now();
    Order {
        id: api::free_order_id(hold_id),
        event_id: event.id,
        hold_id,
        user_id: UserId::from("crashed-buyer"),
        payment_intent_id: None,
        amount: event.lowest_price(),
        status: OrderStatus::Pending,
        ticket_ids: Vec::new(),
        failure_reason: None,
        created_at: now,
        updated_at: now,
    }
}

pub async fn reconcile_leaves_an_order_alone_while_the_provider_is_down(store: SharedStore) {
    let world = World::new(store);
    let event = world.event(PRICE_MINOR).await;
    let order = world.checkout(&event).await;
    world.payments.pay(&order.id).unwrap();
    world.past_the_holds();
    world.payments.faults.fail_always();

    let down = world.pass().await;

    assert_eq!(down.errors.len(), 1, "{down:?}");
    assert_eq!(down.orders_expired, 0);
    assert_eq!(world.hold_status(&order).await, HoldStatus::Held);
    assert_eq!(world.order(&order.id).await.status, OrderStatus::Pending);
    world.payments.faults.recover();
    world.past_the_holds();
    let back = world.pass().await;
    assert_eq!(back.registrations_started, 1, "{back:?}");
}

pub async fn reconcile_two_passes_at_once_change_nothing_twice(store: SharedStore) {
    let world = World::new(store);
    let event = world.event(PRICE_MINOR).await;
    let mut paid = Vec::new();
    let mut unpaid = Vec::new();
    let mut orphans = Vec::new();
    for _ in 0..3 {
        let order = world.checkout(&event).await;
        world.payments.pay(&order.id).unwrap();
        paid.push(order);
        unpaid.push(world.checkout(&event).await);
        orphans.push(orphan_hold(&world, &event, TimeDelta::minutes(HOLD_MINUTES)).await);
    }
    world.past_the_holds();

    let (one, two) = tokio::join!(world.pass(), world.pass());

    assert!(
        one.errors.is_empty() && two.errors.is_empty(),
        "{one:?} {two:?}"
    );
    assert_eq!(
        one.holds_released + two.holds_released,
        3,
        "{one:?} {two:?}"
    );
    assert_eq!(world.workflow.started().len(), 3);
    for order in &paid {
        assert!(world.workflow.has_started(&order.id));
        assert_eq!(world.hold_status(order).await, HoldStatus::Held);
    }
    for order in &unpaid {
        assert_eq!(world.order(&order.id).await.status, OrderStatus::Expired);
        assert_eq!(world.hold_status(order).await, HoldStatus::Released);
    }
    for hold in orphans {
        assert_eq!(
            hold_status_of(&world, &event, hold).await,
            HoldStatus::Released
        );
    }
    // Each released seat came back once: only the three paid holds are out.
    assert_eq!(world.seats(&event).await, (3, 0, CAPACITY - 3));
}

pub async fn reconcile_racing_a_paid_webhook_starts_one_registration(store: SharedStore) {
    let world = World::new(store);
    let event = world.event(PRICE_MINOR).await;
    for kind in [
        "checkout.session.completed",
        "checkout.session.async_payment_succeeded",
    ] {
        for _ in 0..RACE_ROUNDS {
            let order = world.checkout(&event).await;
            if kind == "checkout.session.async_payment_succeeded" {
                world.payments.pay_later(&order.id).unwrap();
            }
            world.payments.pay(&order.id).unwrap();
            world.past_the_holds();

            let (report, (status, body)) = tokio::join!(world.pass(), world.webhook(kind, &order));

            assert_eq!(status, 200, "{kind}: {body}");
            assert!(report.errors.is_empty(), "{kind}: {report:?}");
            assert_eq!(
                report.orders_expired, 0,
                "{kind}: a paid order never expires"
            );
            assert!(world.workflow.has_started(&order.id), "{kind}");
            assert_eq!(world.hold_status(&order).await, HoldStatus::Held, "{kind}");
            assert_eq!(world.order(&order.id).await.status, OrderStatus::Pending);
        }
    }
    // One registration per order, however the pass and the webhooks interleaved.
    assert_eq!(world.workflow.started().len(), 2 * RACE_ROUNDS);
}

pub async fn reconcile_racing_an_unpaid_webhook_gives_the_seat_back_once(store: SharedStore) {
    let world = World::new(store);
    let event = world.event(PRICE_MINOR).await;
    for kind in [
        "checkout.session.expired",
        "checkout.session.async_payment_failed",
    ] {
        for _ in 0..RACE_ROUNDS {
            let order = world.checkout(&event).await;
            match kind {
                "checkout.session.expired" => {
                    world.payments.expire_checkout(&order.id).await.unwrap();
                }
                // Completed with a delayed method whose payment then failed.
                _ => world.payments.pay_later(&order.id).unwrap(),
            }
            world.past_the_holds();

            let (report, (status, body)) = tokio::join!(world.pass(), world.webhook(kind, &order));

            assert_eq!(status, 200, "{kind}: {body}");
            assert!(report.errors.is_empty(), "{kind}: {report:?}");
            assert_eq!(world.order(&order.id).await.status, OrderStatus::Expired);
            assert_eq!(world.hold_status(&order).await, HoldStatus::Released);
            assert_eq!(world.seats(&event).await, (0, 0, CAPACITY), "{kind}");
        }
    }
    assert!(world.workflow.started().is_empty());
}

pub async fn index_lists_expired_holds_without_an_order(store: SharedStore) {
    let world = World::new(store);
    let event = world.event(PRICE_MINOR).await;
    let later = orphan_hold(&world, &event, TimeDelta::minutes(10)).await;
    let first = orphan_hold(&world, &event, TimeDelta::minutes(5)).await;
    let not_yet = orphan_hold(&world, &event, TimeDelta::minutes(60)).await;
    let sold = orphan_hold(&world, &event, TimeDelta::minutes(5)).await;
    world.store.confirm_hold(event.id, sold).await.unwrap();
    let with_order = world.checkout(&event).await;
    world.past_the_holds();
    let at = world.clock.now();

    let expired = world.store.expired_holds(at, 10).await.unwrap();
    let limited = world.store.expired_holds(at, 1).await.unwrap();

    let ids: Vec<HoldId> = expired.iter().map(|hold| hold.id).collect();
    assert_eq!(
        ids,
        vec![first, later],
        "longest expired first, only held orphans"
    );
    assert!(!ids.contains(&not_yet) && !ids.contains(&with_order.hold_id));
    assert_eq!(limited.len(), 1);
    assert_eq!(expired[0].event_id, event.id);
    world
        .store
        .release_hold(event.id, first, crate::store::ReleaseScope::Unpaid, at)
        .await
        .unwrap();
    let after: Vec<HoldId> = expired_ids(&world, at).await;
    assert_eq!(after, vec![later], "a released hold leaves the index");
}

async fn expired_ids(world: &World, at: DateTime<Utc>) -> Vec<HoldId> {
    world
        .store
        .expired_holds(at, 10)
        .await
        .unwrap()
        .iter()
        .map(|hold| hold.id)
        .collect()
}

pub async fn index_lists_pending_orders_when_their_check_is_due(store: SharedStore) {
    let world = World::new(store);
    let event = world.event(PRICE_MINOR).await;
    let first = world.checkout(&event).await;
    world.advance(TimeDelta::seconds(1));
    let second = world.checkout(&event).await;
    let store = &world.store;
    let due = |at| async move {
        store
            .orders_due(at, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|order| order.id)
            .collect::<Vec<_>>()
    };
    let made = world.clock.now();
    assert!(due(made).await.is_empty(), "not due before the first check");
    let checked = made + FIRST_ORDER_CHECK;
    assert_eq!(
        due(checked).await,
        vec![first.id.clone(), second.id.clone()]
    );
    assert_eq!(store.orders_due(checked, 1).await.unwrap().len(), 1);

    store
        .defer_order_check(&first.id, checked + TimeDelta::minutes(10))
        .await
        .unwrap();
    assert_eq!(due(checked).await, vec![second.id.clone()]);
    assert_eq!(
        due(checked + TimeDelta::minutes(10)).await,
        vec![second.id.clone(), first.id.clone()]
    );
    store
        .transition_order(&second.id, OrderStatus::Expired, None, checked)
        .await
        .unwrap();
    assert_eq!(
        due(checked + TimeDelta::minutes(10)).await,
        vec![first.id.clone()],
        "a closed order leaves the index"
    );
    // Deferring a closed or unknown order changes nothing and is no error.
    store.defer_order_check(&second.id, checked).await.unwrap();
    store
        .defer_order_check(&OrderId::from("cs_unknown"), checked)
        .await
        .unwrap();
    assert_eq!(world.order(&second.id).await.status, OrderStatus::Expired);
    assert_eq!(due(checked).await, Vec::<OrderId>::new());
}

/// A paid checkout whose seat is sold and ticket recorded, `FULFILLED`: what a finished
/// registration leaves (its PDF aside).
async fn fulfilled_order(world: &World, event: &Event) -> Order {
    let order = world.checkout(event).await;
    world.payments.pay(&order.id).expect("the buyer pays");
    let store = &world.store;
    store
        .confirm_hold(order.event_id, order.hold_id)
        .await
        .expect("the seat is sold");
    // The order keeps no payment intent (the registration has it): a refund asks the provider.
    let paid = order;
    store
        .record_tickets(&NewTickets {
            tickets: vec![TicketDraft {
                id: TicketId::from(RandomIds.new_id()),
                registration_id: RegistrationId::from(RandomIds.new_id()),
                ticket_type_id: event.ticket_types[0].id,
                attendee: Attendee {
                    name: "Ada".into(),
                    email: "ada@example.com".into(),
                },
            }],
            order: paid.clone(),
            created_at: world.clock.now(),
        })
        .await
        .expect("the ticket is recorded");
    store
        .transition_order(&paid.id, OrderStatus::Fulfilled, None, world.clock.now())
        .await
        .expect("the order is fulfilled")
}

/// `POST /orders/{id}/refund` as the event's organizer.
async fn refund_request(world: &World, order: &Order) -> (u16, Value) {
    let organizer = Caller {
        user_id: UserId::from("organizer"),
        email: Some("organizer@example.com".into()),
        name: None,
        groups: vec![Group::Organizer],
    };
    let request = ApiRequest::new("POST", "/orders/{id}/refund", Ok(organizer))
        .with_path_param("id", order.id.as_str());
    let response = api::handle(&world.api(), request).await;
    (response.status, response.json_body())
}

pub async fn reconcile_finishes_an_organizers_refund_cut_short_once(store: SharedStore) {
    let world = World::new(store);
    let event = world.event(PRICE_MINOR).await;
    let order = fulfilled_order(&world, &event).await;
    let ticket_id = order.ticket_ids[0];
    assert_eq!(world.seats(&event).await, (0, 1, CAPACITY - 1));

    // Stripe is down: the tickets stop admitting and the seat goes back at once, the order is
    // REFUNDING and due for a pass.
    world.payments.faults.fail_always();
    let (status, body) = refund_request(&world, &order).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["status"], "REFUNDING");
    assert_eq!(body["tickets"][0]["status"], "VOID");
    assert_eq!(
        world.seats(&event).await,
        (0, 0, CAPACITY),
        "the seat is back"
    );
    let due = world
        .store
        .orders_due(world.clock.now(), 10)
        .await
        .expect("the index reads");
    assert_eq!(due.iter().map(|o| &o.id).collect::<Vec<_>>(), [&order.id]);
    let report = world.pass().await;
    assert_eq!((report.refunds_finished, report.errors.len()), (0, 1));
    assert_eq!(world.order(&order.id).await.status, OrderStatus::Refunding);

    // Stripe is back: the next pass due finishes the refund, once.
    world.payments.faults.recover();
    world.advance(TimeDelta::minutes(30));
    let report = world.pass().await;
    assert_eq!(report.refunds_finished, 1, "{report}");
    let refunded = world.order(&order.id).await;
    assert_eq!(refunded.status, OrderStatus::Refunded);
    assert_eq!(
        refunded.failure_reason.as_deref(),
        Some(crate::refund::ORGANIZER_REFUND_REASON)
    );
    let refunds = world.payments.refunds();
    assert_eq!(refunds.len(), 1);
    assert_eq!(refunds[0].0.amount.amount_minor, PRICE_MINOR);
    assert_eq!(
        world
            .store
            .get_ticket(ticket_id)
            .await
            .expect("get ticket")
            .expect("the ticket exists")
            .status,
        TicketStatus::Void
    );
    assert_eq!(world.seats(&event).await, (0, 0, CAPACITY));

    // Nothing is left to do: the order left the index, and asking again refunds nothing more,
    // also for a request that read the order while it was still FULFILLED.
    world.advance(TimeDelta::minutes(30));
    assert_eq!(world.pass().await, PassReport::default());
    let stale = crate::refund::start_refund(
        &*world.store,
        &order,
        &[],
        crate::refund::ORGANIZER_REFUND_REASON,
        world.clock.now(),
    )
    .await
    .expect("a refund that lost the race is no error");
    assert_eq!(stale.status, OrderStatus::Refunded);
    let (status, body) = refund_request(&world, &order).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("REFUNDED")));
    assert_eq!(world.payments.refund_count(), 1);
    assert_eq!(world.seats(&event).await, (0, 0, CAPACITY), "released once");
}
