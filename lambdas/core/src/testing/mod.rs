//! Test doubles for the ports, an in-memory store among them, and fault injection (feature
//! `testing`).
//!
//! - [`FakePayments`]: an in-memory payment provider that keeps checkout sessions and refunds by
//!   idempotency key, the way Stripe does, and counts calls.
//! - [`MemoryStore`]: a store in memory with the SQLite adapter's semantics, for tests that
//!   need no database.
//! - [`FlakyStore`]: wraps any store and makes chosen calls fail with `Unavailable`.
//! - [`RecordingWorkflow`]: records the registrations started, one execution per order.
//! - [`NoFiles`]: ticket files that are never rendered; links point nowhere.
//! - [`Faults`]: the fault switch each of them carries as its `faults` field.
//! - [`api`]: known callers, requests and signed webhook deliveries for handler tests.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::cancellation::CancellationFailure;
use crate::event::{Event, EventStats, EventView};
use crate::event_edit::EventUpdate;
use crate::files::{FileKey, FilesError, TicketFiles};
use crate::ids::{EventId, HoldId, OrderId, TicketId, UserId};
use crate::order::{Hold, NewHold, NewTickets, Order, OrderStatus, Recorded, Ticket};
use crate::organizer::OrganizerProfile;
use crate::page::{Page, PageRequest};
use crate::payments::{
    CheckoutRequest, CheckoutSession, Payments, PaymentsError, Refund, RefundRequest,
    SessionSnapshot, SessionStatus,
};
use crate::promo::{PromoCode, PromoCodeView};
use crate::registration::RegistrationRequest;
use crate::store::{Redemption, ReleaseOutcome, ReleaseScope, Store, StoreError};
use crate::stripe_webhook::{self, SessionFields};
use crate::workflow::{Started, Workflow, WorkflowError};

pub mod api;

pub use crate::memory_store::MemoryStore;

/// The message of every injected fault.
pub const INJECTED_FAULT: &str = "injected fault";

/// The fault switch of a test double: makes the next few calls fail, or all of them until
/// recovered. Each double fails a tripped call with its port's `Unavailable` error.
#[derive(Debug, Default)]
pub struct Faults(Mutex<(usize, bool)>);

impl Faults {
    /// The next `calls` calls (of any method) fail.
    pub fn fail_next(&self, calls: usize) {
        self.0.lock().expect("faults lock").0 = calls;
    }

    /// Every call fails until [`Self::recover`].
    pub fn fail_always(&self) {
        *self.0.lock().expect("faults lock") = (0, true);
    }

    pub fn recover(&self) {
        *self.0.lock().expect("faults lock") = (0, false);
    }

    /// Whether this call fails, using up one of the `next` faults if so.
    fn trip(&self) -> bool {
        let mut faults = self.0.lock().expect("faults lock");
        if faults.1 {
            return true;
        }
        if faults.0 > 0 {
            faults.0 -= 1;
            return true;
        }
        false
    }
}

/// Where a fake checkout session stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionState {
    Open,
    /// Complete, paid by a delayed method whose money has not arrived yet.
    Processing,
    Paid,
    Expired,
}

#[derive(Debug, Default)]
struct Ledger {
    issued: u64,
    /// Sessions by idempotency key, and the state of each by id.
    sessions: HashMap<String, (CheckoutRequest, CheckoutSession)>,
    /// The requests that opened a session, oldest first.
    opened: Vec<CheckoutRequest>,
    session_states: HashMap<OrderId, SessionState>,
    /// Refunds in the order they were made, and their index by idempotency key.
    refunds: Vec<(RefundRequest, Refund)>,
    refund_keys: HashMap<String, usize>,
    refund_calls: usize,
    calls: usize,
    /// Orders whose refunds fail (`Unavailable`) whatever the faults say.
    failing_refunds: Vec<OrderId>,
}

impl Ledger {
    fn next_id(&mut self, prefix: &str) -> String {
        self.issued += 1;
        format!("{prefix}_fake_{:06}", self.issued)
    }
}

/// An in-memory payment provider. Requests carry idempotency keys, as with Stripe: repeating a
/// key returns what the first request made and makes nothing new. Any call can be told to fail
/// with `Unavailable` through [`Self::faults`].
#[derive(Debug, Default)]
pub struct FakePayments {
    ledger: Mutex<Ledger>,
    pub faults: Faults,
}

impl FakePayments {
    pub fn new() -> Self {
        Self::default()
    }

    /// Every refund of `order` fails with `Unavailable` from now on, as a provider failing for
    /// some payments does.
    pub fn fail_refunds_of(&self, order: &OrderId) {
        self.ledger().failing_refunds.push(order.clone());
    }

    /// Refunds of every order work again.
    pub fn recover_refunds(&self) {
        self.ledger().failing_refunds.clear();
    }

    /// Distinct refunds made (a repeated idempotency key does not count again).
    pub fn refund_count(&self) -> usize {
        self.ledger().refunds.len()
    }

    /// Calls of [`Payments::refund`], repeats and failures included.
    pub fn refund_calls(&self) -> usize {
        self.ledger().refund_calls
    }

    /// The checkout requests that opened a session, oldest first (repeats not again).
    pub fn checkouts(&self) -> Vec<CheckoutRequest> {
        self.ledger().opened.clone()
    }

    /// Calls of any method, failures included.
    pub fn calls(&self) -> usize {
        self.ledger().calls
    }

    /// The distinct refunds, oldest first, with the request that made each.
    pub fn refunds(&self) -> Vec<(RefundRequest, Refund)> {
        self.ledger().refunds.clone()
    }

    pub fn session_state(&self, session: &OrderId) -> Option<SessionState> {
        self.ledger().session_states.get(session).copied()
    }

    /// The buyer pays an open session (what the provider's checkout page does), or a delayed
    /// payment's money arrives.
    pub fn pay(&self, session: &OrderId) -> Result<(), PaymentsError> {
        self.complete(session, SessionState::Paid)
    }

    /// The buyer completes an open session with a delayed payment method.
    pub fn pay_later(&self, session: &OrderId) -> Result<(), PaymentsError> {
        self.complete(session, SessionState::Processing)
    }

    /// The payment intent a paid session reports.
    pub fn payment_intent_of(session: &OrderId) -> String {
        format!("pi_for_{session}")
    }

    fn complete(&self, session: &OrderId, to: SessionState) -> Result<(), PaymentsError> {
        let mut ledger = self.ledger();
        match ledger.session_states.get_mut(session) {
            Some(state @ (SessionState::Open | SessionState::Processing)) => {
                *state = to;
                Ok(())
            }
            Some(state) => Err(PaymentsError::Rejected(format!(
                "session {session} is {state:?}"
            ))),
            None => Err(PaymentsError::Rejected(format!("no session {session}"))),
        }
    }

    fn ledger(&self) -> MutexGuard<'_, Ledger> {
        self.ledger.lock().expect("payments lock")
    }

    /// Counts the call; fails it if a fault is due.
    fn call(&self) -> Result<MutexGuard<'_, Ledger>, PaymentsError> {
        let mut ledger = self.ledger();
        ledger.calls += 1;
        if self.faults.trip() {
            return Err(PaymentsError::Unavailable(INJECTED_FAULT.into()));
        }
        Ok(ledger)
    }
}

/// The answer to a repeated idempotency key: what the first request made, if `request` is
/// the same request.
fn replay<R: PartialEq, T: Clone>(
    key: &str,
    first: &R,
    request: &R,
    made: &T,
) -> Result<T, PaymentsError> {
    if first == request {
        Ok(made.clone())
    } else {
        Err(PaymentsError::Rejected(format!(
            "idempotency key {key} was used with other parameters"
        )))
    }
}

#[async_trait]
impl Payments for FakePayments {
    async fn create_checkout(
        &self,
        request: &CheckoutRequest,
    ) -> Result<CheckoutSession, PaymentsError> {
        let mut ledger = self.call()?;
        let key = request.idempotency_key();
        if let Some((first, session)) = ledger.sessions.get(&key) {
            return replay(&key, first, request, session);
        }
        if request.total().amount_minor <= 0 {
            return Err(PaymentsError::Rejected(
                "a checkout needs a positive amount".into(),
            ));
        }
        let id = OrderId::from(ledger.next_id("cs"));
        let session = CheckoutSession {
            url: format!("https://payments.invalid/checkout/{id}"),
            id: id.clone(),
        };
        ledger
            .sessions
            .insert(key, (request.clone(), session.clone()));
        ledger.opened.push(request.clone());
        ledger.session_states.insert(id, SessionState::Open);
        Ok(session)
    }

    async fn expire_checkout(&self, session: &OrderId) -> Result<(), PaymentsError> {
        let mut ledger = self.call()?;
        match ledger.session_states.get_mut(session) {
            Some(state @ (SessionState::Open | SessionState::Expired)) => {
                *state = SessionState::Expired;
                Ok(())
            }
            Some(SessionState::Paid | SessionState::Processing) => Err(PaymentsError::Rejected(
                format!("session {session} is complete"),
            )),
            None => Err(PaymentsError::Rejected(format!("no session {session}"))),
        }
    }

    async fn get_checkout(
        &self,
        session: &OrderId,
    ) -> Result<Option<SessionSnapshot>, PaymentsError> {
        let ledger = self.call()?;
        let Some(state) = ledger.session_states.get(session).copied() else {
            return Ok(None);
        };
        let (request, _) = ledger
            .sessions
            .values()
            .find(|(_, made)| &made.id == session)
            .expect("every session state has its session");
        let (status, payment_status) = match state {
            SessionState::Open => (SessionStatus::Open, "unpaid"),
            SessionState::Processing => (SessionStatus::Complete, "unpaid"),
            SessionState::Paid => (SessionStatus::Complete, "paid"),
            SessionState::Expired => (SessionStatus::Expired, "unpaid"),
        };
        Ok(Some(SessionSnapshot {
            status,
            fields: SessionFields {
                id: session.to_string(),
                payment_status: Some(payment_status.into()),
                payment_intent: (state != SessionState::Open)
                    .then(|| Self::payment_intent_of(session)),
                amount_total: Some(request.total().amount_minor),
                currency: Some(request.currency.code().to_ascii_lowercase()),
                event_id: Some(request.event_id.to_string()),
                hold_id: Some(request.hold_id.to_string()),
                user_id: Some(request.user_id.to_string()),
                tickets: stripe_webhook::session_tickets(|name| {
                    let metadata = stripe_webhook::ticket_metadata(&request.tickets);
                    metadata
                        .into_iter()
                        .find(|(key, _)| key == name)
                        .map(|(_, value)| value)
                }),
                customer_email: request.customer_email.clone(),
                customer_name: None,
            },
        }))
    }

    async fn refund(&self, request: &RefundRequest) -> Result<Refund, PaymentsError> {
        self.ledger().refund_calls += 1;
        let mut ledger = self.call()?;
        if ledger.failing_refunds.contains(&request.order_id) {
            return Err(PaymentsError::Unavailable(format!(
                "{INJECTED_FAULT}: refunds of {} fail",
                request.order_id
            )));
        }
        let key = request.idempotency_key();
        if let Some(&index) = ledger.refund_keys.get(&key) {
            let (first, refund) = &ledger.refunds[index];
            return replay(&key, first, request, refund);
        }
        if request.amount.amount_minor <= 0 {
            return Err(PaymentsError::Rejected(
                "a refund needs a positive amount".into(),
            ));
        }
        let refund = Refund {
            id: ledger.next_id("re"),
            status: "succeeded".into(),
        };
        let index = ledger.refunds.len();
        ledger.refunds.push((request.clone(), refund.clone()));
        ledger.refund_keys.insert(key, index);
        Ok(refund)
    }
}

/// A workflow that runs nothing and records each registration started, named by its order as
/// Step Functions names executions: the same request again is `Existing`, another request for
/// the same order is refused as `AlreadyExists`.
#[derive(Debug, Default)]
pub struct RecordingWorkflow {
    started: Mutex<Vec<RegistrationRequest>>,
    cancellations: Mutex<Vec<EventId>>,
    pub faults: Faults,
}

impl RecordingWorkflow {
    pub fn new() -> Self {
        Self::default()
    }

    /// The distinct registrations started, in order.
    pub fn started(&self) -> Vec<RegistrationRequest> {
        self.started.lock().expect("workflow lock").clone()
    }

    /// The events whose cancellation was started, once each, in order.
    pub fn cancellations(&self) -> Vec<EventId> {
        self.cancellations.lock().expect("workflow lock").clone()
    }

    /// Whether the registration of `order` was started.
    pub fn has_started(&self, order: &OrderId) -> bool {
        self.started()
            .iter()
            .any(|request| &request.order_id == order)
    }
}

#[async_trait]
impl Workflow for RecordingWorkflow {
    async fn start_registration(
        &self,
        request: &RegistrationRequest,
    ) -> Result<Started, WorkflowError> {
        if self.faults.trip() {
            return Err(WorkflowError::Unavailable(INJECTED_FAULT.into()));
        }
        let mut started = self.started.lock().expect("workflow lock");
        match started
            .iter()
            .find(|first| first.order_id == request.order_id)
        {
            Some(first) if first == request => Ok(Started::Existing),
            Some(_) => Err(WorkflowError::AlreadyExists(request.order_id.to_string())),
            None => {
                started.push(request.clone());
                Ok(Started::New)
            }
        }
    }
    async fn start_cancellation(&self, event_id: EventId) -> Result<Started, WorkflowError> {
        if self.faults.trip() {
            return Err(WorkflowError::Unavailable(INJECTED_FAULT.into()));
        }
        let mut started = self.cancellations.lock().expect("workflow lock");
        if started.contains(&event_id) {
            return Ok(Started::Existing);
        }
        started.push(event_id);
        Ok(Started::New)
    }
}

/// A store whose calls can be made to fail with `Unavailable` (the fault a retry gets past)
/// through [`Self::faults`]; the rest go to the wrapped store.
pub struct FlakyStore {
    inner: Arc<dyn Store>,
    pub faults: Faults,
}

impl FlakyStore {
    pub fn new(inner: Arc<dyn Store>) -> Self {
        Self {
            inner,
            faults: Faults::default(),
        }
    }

    fn check(&self) -> Result<(), StoreError> {
        if self.faults.trip() {
            Err(StoreError::Unavailable(INJECTED_FAULT.into()))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl Store for FlakyStore {
    async fn create_event(&self, event: &Event) -> Result<(), StoreError> {
        self.check()?;
        self.inner.create_event(event).await
    }

    async fn get_event(&self, id: EventId) -> Result<Option<EventView>, StoreError> {
        self.check()?;
        self.inner.get_event(id).await
    }

    async fn update_event(&self, update: &EventUpdate) -> Result<EventView, StoreError> {
        self.check()?;
        self.inner.update_event(update).await
    }

    async fn set_visibility(
        &self,
        id: EventId,
        visibility: crate::event::Visibility,
    ) -> Result<EventView, StoreError> {
        self.check()?;
        self.inner.set_visibility(id, visibility).await
    }

    async fn cancel_event(&self, id: EventId, now: DateTime<Utc>) -> Result<EventView, StoreError> {
        self.check()?;
        self.inner.cancel_event(id, now).await
    }

    async fn sold_orders_of_event(
        &self,
        id: EventId,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<OrderId>, StoreError> {
        self.check()?;
        self.inner.sold_orders_of_event(id, cursor, limit).await
    }

    async fn record_cancellation_failure(
        &self,
        failure: &CancellationFailure,
    ) -> Result<(), StoreError> {
        self.check()?;
        self.inner.record_cancellation_failure(failure).await
    }

    async fn cancellation_failures(
        &self,
        id: EventId,
    ) -> Result<Vec<CancellationFailure>, StoreError> {
        self.check()?;
        self.inner.cancellation_failures(id).await
    }

    async fn cancellations_due(
        &self,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<EventId>, StoreError> {
        self.check()?;
        self.inner.cancellations_due(before, limit).await
    }

    async fn finish_cancellation(&self, id: EventId, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.check()?;
        self.inner.finish_cancellation(id, now).await
    }

    async fn get_organizer_profile(
        &self,
        user: &UserId,
    ) -> Result<Option<OrganizerProfile>, StoreError> {
        self.check()?;
        self.inner.get_organizer_profile(user).await
    }

    async fn put_organizer_profile(&self, profile: &OrganizerProfile) -> Result<(), StoreError> {
        self.check()?;
        self.inner.put_organizer_profile(profile).await
    }

    async fn list_organizer_events(
        &self,
        organizer: &UserId,
        page: &PageRequest,
    ) -> Result<Page<EventView>, StoreError> {
        self.check()?;
        self.inner.list_organizer_events(organizer, page).await
    }

    async fn list_upcoming_events(
        &self,
        now: DateTime<Utc>,
        page: &PageRequest,
    ) -> Result<Page<EventView>, StoreError> {
        self.check()?;
        self.inner.list_upcoming_events(now, page).await
    }

    async fn hold_seat(
        &self,
        event_id: EventId,
        hold: &NewHold,
        now: DateTime<Utc>,
    ) -> Result<Hold, StoreError> {
        self.check()?;
        self.inner.hold_seat(event_id, hold, now).await
    }

    async fn get_hold(
        &self,
        event_id: EventId,
        hold_id: HoldId,
    ) -> Result<Option<Hold>, StoreError> {
        self.check()?;
        self.inner.get_hold(event_id, hold_id).await
    }

    async fn confirm_hold(&self, event_id: EventId, hold_id: HoldId) -> Result<Hold, StoreError> {
        self.check()?;
        self.inner.confirm_hold(event_id, hold_id).await
    }

    async fn release_hold(
        &self,
        event_id: EventId,
        hold_id: HoldId,
        scope: ReleaseScope,
        now: DateTime<Utc>,
    ) -> Result<ReleaseOutcome, StoreError> {
        self.check()?;
        self.inner.release_hold(event_id, hold_id, scope, now).await
    }

    async fn take_seat_late(&self, event_id: EventId, hold_id: HoldId) -> Result<Hold, StoreError> {
        self.check()?;
        self.inner.take_seat_late(event_id, hold_id).await
    }

    async fn record_tickets(&self, request: &NewTickets) -> Result<Recorded, StoreError> {
        self.check()?;
        self.inner.record_tickets(request).await
    }

    async fn create_order(&self, order: &Order) -> Result<Order, StoreError> {
        self.check()?;
        self.inner.create_order(order).await
    }

    async fn get_order(&self, id: &OrderId) -> Result<Option<Order>, StoreError> {
        self.check()?;
        self.inner.get_order(id).await
    }

    async fn transition_order(
        &self,
        id: &OrderId,
        to: OrderStatus,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Order, StoreError> {
        self.check()?;
        self.inner.transition_order(id, to, reason, now).await
    }

    async fn get_ticket(&self, id: TicketId) -> Result<Option<Ticket>, StoreError> {
        self.check()?;
        self.inner.get_ticket(id).await
    }

    async fn void_ticket(&self, id: TicketId) -> Result<Ticket, StoreError> {
        self.check()?;
        self.inner.void_ticket(id).await
    }

    async fn redeem_ticket(
        &self,
        id: TicketId,
        by: &UserId,
        now: DateTime<Utc>,
    ) -> Result<Redemption, StoreError> {
        self.check()?;
        self.inner.redeem_ticket(id, by, now).await
    }

    async fn tickets_of_user(
        &self,
        user: &UserId,
        page: &PageRequest,
    ) -> Result<Page<Ticket>, StoreError> {
        self.check()?;
        self.inner.tickets_of_user(user, page).await
    }

    async fn attendees_of_event(
        &self,
        event_id: EventId,
        page: &PageRequest,
    ) -> Result<Page<Ticket>, StoreError> {
        self.check()?;
        self.inner.attendees_of_event(event_id, page).await
    }

    async fn event_stats(
        &self,
        id: EventId,
        now: DateTime<Utc>,
    ) -> Result<Option<EventStats>, StoreError> {
        self.check()?;
        self.inner.event_stats(id, now).await
    }

    async fn expired_holds(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Hold>, StoreError> {
        self.check()?;
        self.inner.expired_holds(now, limit).await
    }

    async fn orders_due(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Order>, StoreError> {
        self.check()?;
        self.inner.orders_due(now, limit).await
    }

    async fn defer_order_check(
        &self,
        id: &OrderId,
        until: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.check()?;
        self.inner.defer_order_check(id, until).await
    }

    async fn rename_ticket(&self, id: TicketId, holder_name: &str) -> Result<Ticket, StoreError> {
        self.check()?;
        self.inner.rename_ticket(id, holder_name).await
    }

    async fn create_promo_code(&self, promo: &PromoCode) -> Result<(), StoreError> {
        self.check()?;
        self.inner.create_promo_code(promo).await
    }

    async fn update_promo_code(&self, promo: &PromoCode) -> Result<PromoCodeView, StoreError> {
        self.check()?;
        self.inner.update_promo_code(promo).await
    }

    async fn get_promo_code(
        &self,
        event_id: EventId,
        code: &str,
    ) -> Result<Option<PromoCodeView>, StoreError> {
        self.check()?;
        self.inner.get_promo_code(event_id, code).await
    }

    async fn promo_codes_of_event(
        &self,
        event_id: EventId,
    ) -> Result<Vec<PromoCodeView>, StoreError> {
        self.check()?;
        self.inner.promo_codes_of_event(event_id).await
    }
}

/// Ticket files for checks that never render one: puts are dropped, links point nowhere.
pub struct NoFiles;

#[async_trait]
impl TicketFiles for NoFiles {
    async fn put_pdf(&self, _: &FileKey, _: Vec<u8>) -> Result<(), FilesError> {
        Ok(())
    }

    async fn download_url(
        &self,
        key: &FileKey,
        _: &str,
        _: std::time::Duration,
    ) -> Result<String, FilesError> {
        Ok(format!("https://files.invalid/{key}"))
    }

    async fn delete(&self, _: &FileKey) -> Result<(), FilesError> {
        Ok(())
    }

    async fn exists(&self, _: &FileKey) -> Result<bool, FilesError> {
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::TicketTypeId;
    use crate::money::Money;
    use crate::payments::CheckoutLine;
    use crate::registration::OrderedTicket;
    use uuid::Uuid;

    fn eur(amount_minor: i64) -> Money {
        Money {
            amount_minor,
            currency: "EUR".parse().unwrap(),
        }
    }

    fn refund_of(order: &str, amount_minor: i64) -> RefundRequest {
        RefundRequest {
            order_id: order.into(),
            payment_intent_id: format!("pi_{order}"),
            amount: eur(amount_minor),
        }
    }

    fn checkout(hold: u128) -> CheckoutRequest {
        CheckoutRequest {
            event_id: EventId::from(Uuid::from_u128(1)),
            hold_id: HoldId::from(Uuid::from_u128(hold)),
            user_id: "buyer".into(),
            currency: "EUR".parse().unwrap(),
            lines: vec![CheckoutLine {
                title: "Show".into(),
                unit_price_minor: 1500,
                quantity: 1,
            }],
            discount: None,
            tickets: vec![OrderedTicket {
                ticket_type_id: TicketTypeId::from(Uuid::from_u128(1)),
                holder_name: None,
            }],
            customer_email: None,
            expires_at: crate::time::from_key("2030-01-01T00:30:00.000Z").unwrap(),
            success_url: "https://site.invalid/ok".into(),
            cancel_url: "https://site.invalid/cancel".into(),
        }
    }

    #[tokio::test]
    async fn a_repeated_refund_key_refunds_once() {
        let payments = FakePayments::new();
        let first = payments.refund(&refund_of("cs_1", 900)).await.unwrap();
        let again = payments.refund(&refund_of("cs_1", 900)).await.unwrap();
        let other = payments.refund(&refund_of("cs_2", 900)).await.unwrap();
        assert_eq!(first, again);
        assert_ne!(first.id, other.id);
        assert_eq!((payments.refund_count(), payments.refund_calls()), (2, 3));
        assert_eq!(
            payments
                .refunds()
                .iter()
                .map(|(request, _)| request.order_id.as_str())
                .collect::<Vec<_>>(),
            ["cs_1", "cs_2"]
        );
        let changed = payments.refund(&refund_of("cs_1", 100)).await.unwrap_err();
        assert!(matches!(changed, PaymentsError::Rejected(_)), "{changed}");
        let zero = payments.refund(&refund_of("cs_3", 0)).await.unwrap_err();
        assert!(matches!(zero, PaymentsError::Rejected(_)), "{zero}");
        assert_eq!(payments.refund_count(), 2);
    }

    #[tokio::test]
    async fn faults_fail_the_next_calls_or_all_until_recovered() {
        let payments = FakePayments::new();
        payments.faults.fail_next(2);
        for _ in 0..2 {
            let error = payments.refund(&refund_of("cs_1", 900)).await.unwrap_err();
            assert!(error.is_transient(), "{error}");
        }
        payments.refund(&refund_of("cs_1", 900)).await.unwrap();
        payments.faults.fail_always();
        for _ in 0..3 {
            assert!(payments.create_checkout(&checkout(1)).await.is_err());
        }
        payments.faults.recover();
        payments.create_checkout(&checkout(1)).await.unwrap();
        assert_eq!(
            (
                payments.refund_count(),
                payments.refund_calls(),
                payments.calls()
            ),
            (1, 3, 7)
        );
    }

    #[tokio::test]
    async fn checkout_sessions_are_one_per_hold_and_expire_unless_paid() {
        let payments = FakePayments::new();
        let session = payments.create_checkout(&checkout(1)).await.unwrap();
        assert_eq!(
            payments.create_checkout(&checkout(1)).await.unwrap(),
            session
        );
        let other = payments.create_checkout(&checkout(2)).await.unwrap();
        assert_ne!(other.id, session.id);
        assert_eq!(
            payments.session_state(&session.id),
            Some(SessionState::Open)
        );

        payments.expire_checkout(&session.id).await.unwrap();
        payments.expire_checkout(&session.id).await.unwrap();
        assert_eq!(
            payments.session_state(&session.id),
            Some(SessionState::Expired)
        );
        assert!(
            payments.pay(&session.id).is_err(),
            "an expired session cannot be paid"
        );

        payments.pay(&other.id).unwrap();
        let paid = payments.expire_checkout(&other.id).await.unwrap_err();
        assert!(matches!(paid, PaymentsError::Rejected(_)), "{paid}");
        let unknown = payments
            .expire_checkout(&OrderId::from("cs_nope"))
            .await
            .unwrap_err();
        assert!(matches!(unknown, PaymentsError::Rejected(_)), "{unknown}");

        let mut free = checkout(3);
        free.lines[0].unit_price_minor = 0;
        assert!(payments.create_checkout(&free).await.is_err());
    }
}
