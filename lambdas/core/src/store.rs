//! The `Store` port: events, holds, orders and tickets. Every method is atomic on its own, so
//! concurrent callers can never oversell a seat or admit a ticket twice.

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};

use crate::cancellation::CancellationFailure;
use crate::event::{Event, EventStats, EventView, Visibility};
use crate::event_edit::EventUpdate;
use crate::ids::{EventId, HoldId, OrderId, TicketId, TicketTypeId, UserId};
use crate::order::{
    Hold, HoldStatus, NewHold, NewTickets, Order, OrderStatus, Recorded, Seats, Ticket,
};
use crate::organizer::OrganizerProfile;
use crate::page::{InvalidCursor, Page, PageRequest};
use crate::promo::{PromoCode, PromoCodeView};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0} already exists")]
    AlreadyExists(&'static str),
    #[error("the event is sold out")]
    SoldOut,
    /// This ticket type's quota has too few seats left, though the event may have seats of
    /// other types.
    #[error("the ticket type {0} is sold out")]
    TypeSoldOut(TicketTypeId),
    #[error("the event has already started")]
    EventEnded,
    /// The organizer cancelled the event: nothing is held or sold any more.
    #[error("the event has been cancelled")]
    EventCancelled,
    /// The event has another version than the one a hold or an edit was judged against: it
    /// was edited meanwhile.
    #[error("the event has been edited meanwhile")]
    EventChanged,
    /// An edit's capacity or a type's ceiling is below the seats taken by now.
    #[error("more seats are taken than the edit allows")]
    SeatsTaken,
    /// The promo code a hold asked for has no use left.
    #[error("the promo code {0} has been used up")]
    PromoCodeUsedUp(String),
    /// A code's limit cannot go below the uses it has: carries them.
    #[error("the promo code has been used {0} times")]
    PromoCodeUsed(u32),
    #[error("the hold was released")]
    HoldReleased,
    #[error("the ticket has been used")]
    TicketUsed,
    #[error("the ticket is void")]
    TicketVoid,
    #[error("the order is {0} and takes no ticket")]
    OrderClosed(OrderStatus),
    #[error("an order cannot move from {from} to {to}")]
    InvalidTransition { from: OrderStatus, to: OrderStatus },
    #[error("the paging cursor is not valid")]
    InvalidCursor,
    /// The backend could not do it now (throttled, contended, unreachable): worth a retry.
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    /// The backend failed in a way a retry will not fix (corrupt data, a bug).
    #[error("the store failed: {0}")]
    Internal(String),
}

impl From<InvalidCursor> for StoreError {
    fn from(InvalidCursor: InvalidCursor) -> Self {
        Self::InvalidCursor
    }
}

impl StoreError {
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

/// Whether the event has room for all of `seats`: its capacity first, then each type's quota.
/// `NotFound` for a type the event does not have. Every adapter judges a refused hold by it.
pub fn room_for(view: &EventView, seats: &Seats) -> Result<(), StoreError> {
    let left = |limit: u32, taken: u32| limit.saturating_sub(taken);
    for (type_id, _) in seats.iter() {
        if view.event.ticket_type(type_id).is_none() {
            return Err(StoreError::NotFound("ticket type"));
        }
    }
    if left(view.event.capacity, view.seats.taken) < seats.total() {
        return Err(StoreError::SoldOut);
    }
    for (type_id, count) in seats.iter() {
        let quota = view.event.ticket_type(type_id).map_or(0, |t| t.quota);
        if left(quota, view.type_seats(type_id).taken) < count {
            return Err(StoreError::TypeSoldOut(type_id));
        }
    }
    Ok(())
}

/// Which holds a release may undo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReleaseScope {
    /// Only an unpaid (`HELD`) seat: what an expired checkout releases. A sold seat is kept, so
    /// an expiry notice that arrives after the payment does no damage.
    Unpaid,
    /// Also a sold seat: what the registration saga's compensation releases.
    Any,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReleaseOutcome {
    /// The seat went back to the pool now; `was` is the hold's status before.
    Released { was: HoldStatus },
    /// Released earlier: nothing changed.
    AlreadyReleased,
    /// Sold and the scope was `Unpaid`: nothing changed.
    KeptSold,
}

/// How long after its creation a `PENDING` order is first due for a reconciliation check
/// ([`Store::orders_due`]): soon, so a payment whose webhook was lost still becomes a ticket
/// within minutes.
pub const FIRST_ORDER_CHECK: TimeDelta = TimeDelta::minutes(1);

/// The answer to a door scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redemption {
    /// First scan: the ticket is now `USED`.
    Admitted(Ticket),
    /// Scanned before; carries when and by whom.
    AlreadyUsed(Ticket),
    /// The ticket was voided (its purchase failed or was refunded).
    Void(Ticket),
    /// No such ticket.
    Unknown,
}

#[async_trait]
pub trait Store: Send + Sync {
    /// Stores a new event as a draft ([`Visibility::Draft`]) with zero seats taken;
    /// `AlreadyExists` if its id is in use.
    async fn create_event(&self, event: &Event) -> Result<(), StoreError>;

    async fn get_event(&self, id: EventId) -> Result<Option<EventView>, StoreError>;

    /// An organizer's events, past and future, by start time.
    async fn list_organizer_events(
        &self,
        organizer: &UserId,
        page: &PageRequest,
    ) -> Result<Page<EventView>, StoreError>;

    /// Published events starting after `now`, soonest first.
    async fn list_upcoming_events(
        &self,
        now: DateTime<Utc>,
        page: &PageRequest,
    ) -> Result<Page<EventView>, StoreError>;

    /// An organizer's profile, if they have made one.
    async fn get_organizer_profile(
        &self,
        user: &UserId,
    ) -> Result<Option<OrganizerProfile>, StoreError>;

    /// Creates or replaces the organizer's profile.
    async fn put_organizer_profile(&self, profile: &OrganizerProfile) -> Result<(), StoreError>;

    /// Writes an edit judged by [`EventUpdate`]: `EventChanged` unless the event still has
    /// the version it was judged against, `SeatsTaken` unless its seats still fit
    /// ([`EventUpdate::seats_fit`]), `NotFound` for an unknown event. Returns the event with
    /// its next version.
    async fn update_event(&self, update: &EventUpdate) -> Result<EventView, StoreError>;

    /// Publishes or unpublishes the event (its organizer judged the change). Its version stays:
    /// what an edit or a hold is judged by does not change. `NotFound` for an unknown event.
    async fn set_visibility(
        &self,
        id: EventId,
        visibility: Visibility,
    ) -> Result<EventView, StoreError>;

    /// Cancels the event (`Cancellation::sold_then` its sold seats now), in one write that
    /// every later hold, confirmation and late seat is judged against: none succeeds once this
    /// returns (`EventCancelled`). Cancelled already: returned as it is. `EventEnded` once the
    /// event has started, `NotFound` for an unknown event.
    async fn cancel_event(&self, id: EventId, now: DateTime<Utc>) -> Result<EventView, StoreError>;

    /// The orders that hold sold seats of the event (a `SOLD` hold taken over by an order),
    /// at most `limit` from `cursor` on, in one stable order; `next_cursor` when more may
    /// follow. What a cancellation refunds.
    async fn sold_orders_of_event(
        &self,
        id: EventId,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<OrderId>, StoreError>;

    /// Lists an order among its event's cancellation failures (replacing an earlier entry for
    /// the order).
    async fn record_cancellation_failure(
        &self,
        failure: &CancellationFailure,
    ) -> Result<(), StoreError>;

    /// The event's cancellation failures, by order id.
    async fn cancellation_failures(
        &self,
        id: EventId,
    ) -> Result<Vec<CancellationFailure>, StoreError>;

    /// Events cancelled at or before `before` whose cancellation has not finished, earliest
    /// first, at most `limit`: what a reconciliation pass makes sure is running. Read from an
    /// index, never a scan.
    async fn cancellations_due(
        &self,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<EventId>, StoreError>;

    /// Marks the event's cancellation finished at `now` (the first time only).
    async fn finish_cancellation(&self, id: EventId, now: DateTime<Utc>) -> Result<(), StoreError>;

    /// Takes every seat of the hold or none, and one use of its promo code with them:
    /// `EventChanged` when the hold pins another version of the event than it has, `SoldOut` when the event's capacity has too few left, `TypeSoldOut` naming a type whose
    /// quota has too few, `PromoCodeUsedUp` when the code has no use left, `EventEnded` once
    /// the event has started, `NotFound` for an unknown event, a type it does not have or a
    /// code it does not have. The types' sales windows and order limits, and the code's window
    /// and types, are the caller's to judge.
    async fn hold_seat(
        &self,
        event_id: EventId,
        hold: &NewHold,
        now: DateTime<Utc>,
    ) -> Result<Hold, StoreError>;

    async fn get_hold(
        &self,
        event_id: EventId,
        hold_id: HoldId,
    ) -> Result<Option<Hold>, StoreError>;

    /// Marks a hold's seats sold (idempotent). `HoldReleased` if it was released meanwhile: use
    /// [`Store::take_seat_late`] then.
    async fn confirm_hold(&self, event_id: EventId, hold_id: HoldId) -> Result<Hold, StoreError>;

    /// Gives a hold's seats back, and its promo code's use, at most once however often it is
    /// called.
    async fn release_hold(
        &self,
        event_id: EventId,
        hold_id: HoldId,
        scope: ReleaseScope,
        now: DateTime<Utc>,
    ) -> Result<ReleaseOutcome, StoreError>;

    /// Sells the hold's seats to a payment whose hold was already released (it arrived late):
    /// `SoldOut` (or `TypeSoldOut`) unless all of them are free, `PromoCodeUsedUp` unless its
    /// promo code has a use left again. Idempotent once sold.
    async fn take_seat_late(&self, event_id: EventId, hold_id: HoldId) -> Result<Hold, StoreError>;

    /// Creates the order (if absent) and all its tickets with their registrations in one step.
    /// Keyed by the order id (the checkout session): recording the same order again returns
    /// what the first call created. `OrderClosed` if the order failed or was refunded before
    /// any ticket.
    async fn record_tickets(&self, request: &NewTickets) -> Result<Recorded, StoreError>;

    /// Stores a `PENDING` order unless one exists under its id; returns the stored order. The
    /// order's hold (if it exists) then belongs to the order: it leaves
    /// [`Store::expired_holds`], and the order is due for its first check
    /// [`FIRST_ORDER_CHECK`] after `order.created_at`.
    async fn create_order(&self, order: &Order) -> Result<Order, StoreError>;

    async fn get_order(&self, id: &OrderId) -> Result<Option<Order>, StoreError>;

    /// Moves an order to `to` from one of `to.allowed_from()`; already at `to` changes nothing.
    /// A failure reason is kept with `FAILED`. Moving to `REFUNDING` makes the order due for a
    /// check at `now` ([`Store::orders_due`]), so a refund cut short is finished by a pass;
    /// moving on from it ends that.
    async fn transition_order(
        &self,
        id: &OrderId,
        to: OrderStatus,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Order, StoreError>;

    async fn get_ticket(&self, id: TicketId) -> Result<Option<Ticket>, StoreError>;

    /// `VALID` → `VOID` (idempotent). `TicketUsed` if it already admitted someone.
    async fn void_ticket(&self, id: TicketId) -> Result<Ticket, StoreError>;

    /// Puts `holder_name` on a `VALID` ticket (and its registration): `TicketUsed` or
    /// `TicketVoid` otherwise, `NotFound` for an unknown ticket.
    async fn rename_ticket(&self, id: TicketId, holder_name: &str) -> Result<Ticket, StoreError>;

    /// Admits a ticket once: only from `VALID`, counting the event's check-ins.
    async fn redeem_ticket(
        &self,
        id: TicketId,
        by: &UserId,
        now: DateTime<Utc>,
    ) -> Result<Redemption, StoreError>;

    /// A user's tickets, newest first.
    async fn tickets_of_user(
        &self,
        user: &UserId,
        page: &PageRequest,
    ) -> Result<Page<Ticket>, StoreError>;

    /// An event's attendees (one ticket each), in registration order.
    async fn attendees_of_event(
        &self,
        event_id: EventId,
        page: &PageRequest,
    ) -> Result<Page<Ticket>, StoreError>;

    /// Holds still `HELD`, without an order, whose expiry is at or before `now`: oldest expiry
    /// first, at most `limit`. Their checkout failed or crashed before it opened an order, so
    /// nobody was given a page to pay on. Read from an index, never a scan.
    async fn expired_holds(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Hold>, StoreError>;

    /// Orders still `PENDING` or `REFUNDING` ([`OrderStatus::is_checked`]) whose next check is
    /// due at or before `now`: longest due first, at most `limit`. Read from an index, never a
    /// scan.
    async fn orders_due(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Order>, StoreError>;

    /// Puts a checked order's next check off until `until`; any other order (or an unknown
    /// one) is left alone.
    async fn defer_order_check(&self, id: &OrderId, until: DateTime<Utc>)
    -> Result<(), StoreError>;

    /// Stores a new promo code with no use yet; `AlreadyExists` if the event has the code.
    async fn create_promo_code(&self, promo: &PromoCode) -> Result<(), StoreError>;

    /// Replaces a code's limits (`max_uses`, `valid_from`, `valid_until`) with `promo`'s:
    /// `PromoCodeUsed` when more orders use it than the new limit, `NotFound` for no such code.
    async fn update_promo_code(&self, promo: &PromoCode) -> Result<PromoCodeView, StoreError>;

    /// One of an event's codes (`code` upper case), with its uses.
    async fn get_promo_code(
        &self,
        event_id: EventId,
        code: &str,
    ) -> Result<Option<PromoCodeView>, StoreError>;

    /// All of an event's codes with their uses, oldest first (codes made in the same
    /// millisecond by code).
    async fn promo_codes_of_event(
        &self,
        event_id: EventId,
    ) -> Result<Vec<PromoCodeView>, StoreError>;

    /// Capacity, held, sold, remaining, checked in and status of an event.
    async fn event_stats(
        &self,
        id: EventId,
        now: DateTime<Utc>,
    ) -> Result<Option<EventStats>, StoreError> {
        Ok(self.get_event(id).await?.map(|view| view.stats(now)))
    }
}
