//! An in-memory [`Store`] (feature `testing`), so the API handlers can be tested without a
//! database. It keeps the SQLite adapter's semantics and passes both conformance suites.
//!
//! All state sits behind one mutex and each method does all its work under one lock, so every
//! call is atomic, the way one SQLite transaction is. Each call makes all its checks before
//! its first write, so a refused call changes nothing (SQLite would roll back). The maps are
//! ordered, so lists and ties come out the same on every run. The reconciliation queries
//! filter the maps: the "never a scan" rule matters for a real table, not here.
//!
//! Instants are stored to the millisecond, the precision every adapter stores
//! ([`crate::time::to_key`]). A `now` is truncated the same way before it is compared, just as
//! SQLite compares `to_key(now)`.

use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::cancellation::CancellationFailure;
use crate::event::{Cancellation, Event, EventView, SeatCounts, Visibility};
use crate::event_edit::EventUpdate;
use crate::ids::{EventId, HoldId, OrderId, RegistrationId, TicketId, UserId};
use crate::order::{
    Hold, HoldStatus, NewHold, NewTickets, Order, OrderStatus, Recorded, Seats, Ticket,
    TicketStatus,
};
use crate::organizer::OrganizerProfile;
use crate::page::{Page, PageRequest, decode_cursor, encode_cursor};
use crate::promo::{PromoCode, PromoCodeView};
use crate::store::{
    FIRST_ORDER_CHECK, Redemption, ReleaseOutcome, ReleaseScope, Store, StoreError, room_for,
};
use crate::time::to_millis;

/// A [`Store`] that lives in memory and dies with its value. Each `new()` store starts empty.
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// A poisoned lock means an earlier call panicked: the state may be half-written.
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().expect("memory store lock")
    }
}

#[derive(Debug, Default)]
struct State {
    events: BTreeMap<EventId, EventView>,
    /// A hold's id is unique within its event (as DynamoDB keys it).
    holds: BTreeMap<(EventId, HoldId), StoredHold>,
    orders: BTreeMap<OrderId, StoredOrder>,
    /// A ticket is also its registration: one attendee, one ticket.
    tickets: BTreeMap<TicketId, Ticket>,
    /// Keyed by event and upper-case code.
    promo_codes: BTreeMap<(EventId, String), PromoCodeView>,
    organizers: BTreeMap<UserId, OrganizerProfile>,
    /// Keyed by event and order.
    cancellation_failures: BTreeMap<(EventId, OrderId), CancellationFailure>,
}

#[derive(Debug)]
struct StoredHold {
    hold: Hold,
    /// The order that took the hold over: from then on the order's checks decide the hold's
    /// fate, and the hold is no longer one of [`Store::expired_holds`].
    order: Option<OrderId>,
}

#[derive(Debug)]
struct StoredOrder {
    order: Order,
    /// When the order is next due for a reconciliation check. Only a `PENDING` order has one.
    check_after: Option<DateTime<Utc>>,
}

impl StoredOrder {
    /// A new order is `PENDING` without a ticket, whatever the caller passed (as in SQLite),
    /// and first due for a check [`FIRST_ORDER_CHECK`] after it was made.
    fn new(order: &Order) -> Self {
        let order = Order {
            status: OrderStatus::Pending,
            ticket_ids: Vec::new(),
            failure_reason: None,
            created_at: to_millis(order.created_at),
            updated_at: to_millis(order.updated_at),
            ..order.clone()
        };
        Self {
            check_after: Some(order.created_at + FIRST_ORDER_CHECK),
            order,
        }
    }
}

/// What a hold or ticket names but cannot be found: a bug of this store, not the caller's.
fn missing(what: &str, id: impl std::fmt::Display) -> StoreError {
    StoreError::Internal(format!("{what} {id} is missing"))
}

/// The position after which a page starts; `None` for the first page.
fn start<P: DeserializeOwned>(page: &PageRequest) -> Result<Option<P>, StoreError> {
    Ok(page.cursor.as_deref().map(decode_cursor).transpose()?)
}

/// The first page of `items` (sorted, and already past the cursor). The next cursor is the
/// position of the last item given, present only when more items follow.
fn page_of<T, P: Serialize>(
    items: impl IntoIterator<Item = T>,
    page: &PageRequest,
    position: impl Fn(&T) -> P,
) -> Page<T> {
    let mut items = items.into_iter();
    let first: Vec<T> = items.by_ref().take(page.limit() as usize).collect();
    let next_cursor = match items.next() {
        Some(_) => first.last().map(|last| encode_cursor(&position(last))),
        None => None,
    };
    Page {
        items: first,
        next_cursor,
    }
}

fn event_position(view: &EventView) -> (DateTime<Utc>, EventId) {
    (view.event.starts_at, view.event.id)
}

fn ticket_position(ticket: &Ticket) -> (DateTime<Utc>, TicketId) {
    (ticket.created_at, ticket.id)
}

impl State {
    fn create_event(&mut self, event: &Event) -> Result<(), StoreError> {
        let Entry::Vacant(entry) = self.events.entry(event.id) else {
            return Err(StoreError::AlreadyExists("event"));
        };
        entry.insert(EventView::new(Event {
            starts_at: to_millis(event.starts_at),
            ends_at: event.ends_at.map(to_millis),
            created_at: to_millis(event.created_at),
            ..event.clone()
        }));
        Ok(())
    }

    fn update_event(&mut self, update: &EventUpdate) -> Result<EventView, StoreError> {
        let view = self
            .events
            .get_mut(&update.event.id)
            .ok_or(StoreError::NotFound("event"))?;
        if view.version != update.expected_version {
            return Err(StoreError::EventChanged);
        }
        if !update.seats_fit(view) {
            return Err(StoreError::SeatsTaken);
        }
        view.event = Event {
            starts_at: to_millis(update.event.starts_at),
            ends_at: update.event.ends_at.map(to_millis),
            ..update.event.clone()
        };
        view.version += 1;
        Ok(view.clone())
    }

    fn cancelled(&self, event_id: EventId) -> bool {
        self.events
            .get(&event_id)
            .is_some_and(EventView::is_cancelled)
    }

    fn cancel_event(&mut self, id: EventId, now: DateTime<Utc>) -> Result<EventView, StoreError> {
        let view = self
            .events
            .get_mut(&id)
            .ok_or(StoreError::NotFound("event"))?;
        if view.cancellation.is_none() {
            if now >= view.event.starts_at {
                return Err(StoreError::EventEnded);
            }
            view.cancellation = Some(Cancellation {
                requested_at: to_millis(now),
                sold_then: view.seats.sold,
                finished_at: None,
            });
            // A checkout or edit judged before the cancellation is judged again.
            view.version += 1;
        }
        Ok(view.clone())
    }

    fn sold_orders_of_event(
        &self,
        id: EventId,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<OrderId>, StoreError> {
        let after: Option<HoldId> = cursor.map(decode_cursor).transpose()?;
        let mut sold = self
            .holds
            .range((id, HoldId::from(uuid::Uuid::nil()))..)
            .take_while(|((event_id, _), _)| *event_id == id)
            .filter(|((_, hold_id), stored)| {
                stored.hold.status == HoldStatus::Sold
                    && stored.order.is_some()
                    && after.is_none_or(|after| *hold_id > after)
            });
        let items: Vec<(HoldId, OrderId)> = sold
            .by_ref()
            .take(limit)
            .map(|((_, hold_id), stored)| (*hold_id, stored.order.clone().expect("filtered")))
            .collect();
        let next_cursor = match sold.next() {
            Some(_) => items.last().map(|(hold_id, _)| encode_cursor(hold_id)),
            None => None,
        };
        Ok(Page {
            items: items.into_iter().map(|(_, order)| order).collect(),
            next_cursor,
        })
    }

    /// Events that `keep` takes, by start time (then id), from the page's cursor on.
    fn events_page(
        &self,
        page: &PageRequest,
        keep: impl Fn(&EventView) -> bool,
    ) -> Result<Page<EventView>, StoreError> {
        let after: Option<(DateTime<Utc>, EventId)> = start(page)?;
        let mut views: Vec<&EventView> = self
            .events
            .values()
            .filter(|view| keep(view) && after.is_none_or(|after| event_position(view) > after))
            .collect();
        views.sort_by_key(|view| event_position(view));
        Ok(page_of(views.into_iter().cloned(), page, event_position))
    }

    /// Adds `taken` and `sold` per seat to an event's counters and to those of each type of
    /// `seats`, refusing what SQLite's `CHECK (0 <= sold AND sold <= taken AND taken <=
    /// capacity)` (and the types', with their quotas) refuses; all or nothing. Callers check
    /// for room first ([`room_for`]): a refusal here is a bug.
    fn add_seats(
        &mut self,
        event_id: EventId,
        seats: &Seats,
        taken: i64,
        sold: i64,
    ) -> Result<(), StoreError> {
        let view = self
            .events
            .get_mut(&event_id)
            .ok_or_else(|| missing("event", event_id))?;
        let added = |counts: SeatCounts, limit: u32, count: u32| {
            let count = i64::from(count);
            let new_taken = u32::try_from(i64::from(counts.taken) + taken * count).ok()?;
            let new_sold = u32::try_from(i64::from(counts.sold) + sold * count).ok()?;
            (new_sold <= new_taken && new_taken <= limit).then_some(SeatCounts {
                taken: new_taken,
                sold: new_sold,
                ..counts
            })
        };
        let out_of_bounds = || {
            StoreError::Internal(format!(
                "the seat counts of event {event_id} would leave their bounds"
            ))
        };
        let mut type_seats = Vec::new();
        for (type_id, count) in seats.iter() {
            let quota = view
                .event
                .ticket_type(type_id)
                .ok_or_else(|| missing("ticket type", type_id))?
                .quota;
            let counts = added(view.type_seats(type_id), quota, count).ok_or_else(out_of_bounds)?;
            type_seats.push((type_id, counts));
        }
        view.seats =
            added(view.seats, view.event.capacity, seats.total()).ok_or_else(out_of_bounds)?;
        view.type_seats.extend(type_seats);
        Ok(())
    }

    fn hold(&self, event_id: EventId, hold_id: HoldId) -> Result<&Hold, StoreError> {
        self.holds
            .get(&(event_id, hold_id))
            .map(|stored| &stored.hold)
            .ok_or(StoreError::NotFound("hold"))
    }

    fn set_hold_status(
        &mut self,
        event_id: EventId,
        hold_id: HoldId,
        status: HoldStatus,
    ) -> Result<Hold, StoreError> {
        let stored = self
            .holds
            .get_mut(&(event_id, hold_id))
            .ok_or(StoreError::NotFound("hold"))?;
        stored.hold.status = status;
        Ok(stored.hold.clone())
    }

    fn hold_seat(
        &mut self,
        event_id: EventId,
        new_hold: &NewHold,
        now: DateTime<Utc>,
    ) -> Result<Hold, StoreError> {
        let now = to_millis(now);
        let view = self
            .events
            .get(&event_id)
            .ok_or(StoreError::NotFound("event"))?;
        // In SQLite's order: a full or started event refuses even a repeated hold id.
        if view.is_cancelled() {
            return Err(StoreError::EventCancelled);
        }
        if now >= view.event.starts_at {
            return Err(StoreError::EventEnded);
        }
        if new_hold
            .event_version
            .is_some_and(|version| version != view.version)
        {
            return Err(StoreError::EventChanged);
        }
        room_for(view, &new_hold.seats)?;
        if self.holds.contains_key(&(event_id, new_hold.id)) {
            return Err(StoreError::AlreadyExists("hold"));
        }
        if let Some(code) = &new_hold.promo_code {
            self.promo_use_left(event_id, code)?;
        }
        let hold = Hold {
            id: new_hold.id,
            event_id,
            seats: new_hold.seats.clone(),
            promo_code: new_hold.promo_code.clone(),
            user_id: new_hold.user_id.clone(),
            status: HoldStatus::Held,
            expires_at: to_millis(new_hold.expires_at),
            created_at: now,
        };
        self.add_seats(event_id, &hold.seats, 1, 0)?;
        self.use_promo_code(event_id, hold.promo_code.as_deref(), 1);
        self.holds.insert(
            (event_id, hold.id),
            StoredHold {
                hold: hold.clone(),
                order: None,
            },
        );
        Ok(hold)
    }

    fn confirm_hold(&mut self, event_id: EventId, hold_id: HoldId) -> Result<Hold, StoreError> {
        let cancelled = self.cancelled(event_id);
        let hold = self.hold(event_id, hold_id)?;
        match hold.status {
            HoldStatus::Sold => Ok(hold.clone()),
            _ if cancelled => Err(StoreError::EventCancelled),
            HoldStatus::Released => Err(StoreError::HoldReleased),
            HoldStatus::Held => {
                let seats = hold.seats.clone();
                self.add_seats(event_id, &seats, 0, 1)?;
                self.set_hold_status(event_id, hold_id, HoldStatus::Sold)
            }
        }
    }

    fn release_hold(
        &mut self,
        event_id: EventId,
        hold_id: HoldId,
        scope: ReleaseScope,
    ) -> Result<ReleaseOutcome, StoreError> {
        let hold = self.hold(event_id, hold_id)?;
        let (was, seats, code) = (hold.status, hold.seats.clone(), hold.promo_code.clone());
        let sold = match (was, scope) {
            (HoldStatus::Released, _) => return Ok(ReleaseOutcome::AlreadyReleased),
            (HoldStatus::Sold, ReleaseScope::Unpaid) => return Ok(ReleaseOutcome::KeptSold),
            (HoldStatus::Sold, ReleaseScope::Any) => 1,
            (HoldStatus::Held, _) => 0,
        };
        self.add_seats(event_id, &seats, -1, -sold)?;
        self.use_promo_code(event_id, code.as_deref(), -1);
        self.set_hold_status(event_id, hold_id, HoldStatus::Released)?;
        Ok(ReleaseOutcome::Released { was })
    }

    fn take_seat_late(&mut self, event_id: EventId, hold_id: HoldId) -> Result<Hold, StoreError> {
        let cancelled = self.cancelled(event_id);
        let hold = self.hold(event_id, hold_id)?;
        let (seats, code) = (hold.seats.clone(), hold.promo_code.clone());
        match hold.status {
            HoldStatus::Sold => return Ok(hold.clone()),
            _ if cancelled => return Err(StoreError::EventCancelled),
            // Never released: its seats are still taken, so this is a confirm.
            HoldStatus::Held => self.add_seats(event_id, &seats, 0, 1)?,
            // Its seat went back to the pool: it needs a free one again. The event's start is
            // not checked, as in SQLite and DynamoDB.
            HoldStatus::Released => {
                let view = self
                    .events
                    .get(&event_id)
                    .ok_or_else(|| missing("event", event_id))?;
                room_for(view, &seats)?;
                if let Some(code) = &code {
                    self.promo_use_left(event_id, code)?;
                }
                self.add_seats(event_id, &seats, 1, 1)?;
                self.use_promo_code(event_id, code.as_deref(), 1);
            }
        }
        self.set_hold_status(event_id, hold_id, HoldStatus::Sold)
    }

    /// Stores a new order and hands its hold (if there is one, and no other order took it) over
    /// to it. The caller has checked that no order has its id.
    fn insert_order(&mut self, order: &Order) -> Order {
        let stored = StoredOrder::new(order);
        let order = stored.order.clone();
        if let Some(hold) = self.holds.get_mut(&(order.event_id, order.hold_id)) {
            hold.order.get_or_insert_with(|| order.id.clone());
        }
        self.orders.insert(order.id.clone(), stored);
        order
    }

    fn record_tickets(&mut self, request: &NewTickets) -> Result<Recorded, StoreError> {
        let existing = self
            .orders
            .get(&request.order.id)
            .map(|stored| stored.order.clone());
        if let Some(order) = &existing {
            if !order.ticket_ids.is_empty() {
                let tickets = order
                    .ticket_ids
                    .iter()
                    .map(|&id| {
                        self.tickets
                            .get(&id)
                            .cloned()
                            .ok_or_else(|| missing("ticket", id))
                    })
                    .collect::<Result<_, _>>()?;
                return Ok(Recorded {
                    order: order.clone(),
                    tickets,
                });
            }
            if !order.status.takes_a_ticket() {
                return Err(StoreError::OrderClosed(order.status));
            }
        }
        let tickets: Vec<Ticket> = request
            .tickets()
            .into_iter()
            .map(|ticket| Ticket {
                created_at: to_millis(request.created_at),
                ..ticket
            })
            .collect();
        if tickets.is_empty() {
            return Err(StoreError::Internal("an order of no ticket".into()));
        }
        // SQLite's foreign key: a ticket needs its event (a bug of the caller, hence Internal).
        if !self.events.contains_key(&request.order.event_id) {
            return Err(missing("event", request.order.event_id));
        }
        for (index, ticket) in tickets.iter().enumerate() {
            let earlier = &tickets[..index];
            if self.tickets.contains_key(&ticket.id) || earlier.iter().any(|t| t.id == ticket.id) {
                return Err(StoreError::AlreadyExists("ticket"));
            }
            if self.registration_taken(ticket.event_id, ticket.registration_id)
                || earlier
                    .iter()
                    .any(|t| t.registration_id == ticket.registration_id)
            {
                return Err(StoreError::AlreadyExists("registration"));
            }
        }
        let order = match existing {
            Some(order) => order,
            None => self.insert_order(&request.order),
        };
        let stored = self
            .orders
            .get_mut(&order.id)
            .ok_or_else(|| missing("order", &order.id))?;
        stored.order.ticket_ids = tickets.iter().map(|ticket| ticket.id).collect();
        let order = stored.order.clone();
        for ticket in &tickets {
            self.tickets.insert(ticket.id, ticket.clone());
        }
        Ok(Recorded { order, tickets })
    }

    fn registration_taken(&self, event_id: EventId, id: RegistrationId) -> bool {
        self.tickets
            .values()
            .any(|ticket| ticket.event_id == event_id && ticket.registration_id == id)
    }

    fn create_order(&mut self, order: &Order) -> Order {
        match self.orders.get(&order.id) {
            Some(stored) => stored.order.clone(),
            None => self.insert_order(order),
        }
    }

    fn transition_order(
        &mut self,
        id: &OrderId,
        to: OrderStatus,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Order, StoreError> {
        let stored = self
            .orders
            .get_mut(id)
            .ok_or(StoreError::NotFound("order"))?;
        let order = &mut stored.order;
        if order.status == to {
            return Ok(order.clone());
        }
        if !to.allowed_from().contains(&order.status) {
            return Err(StoreError::InvalidTransition {
                from: order.status,
                to,
            });
        }
        order.status = to;
        order.updated_at = to_millis(now);
        // A move without a reason keeps an earlier one (SQLite's COALESCE).
        if let Some(reason) = reason {
            order.failure_reason = Some(reason.to_owned());
        }
        // A refund under way is due at once (finished by the next pass if cut short); no other
        // status is checked, and none moves back to `PENDING`.
        stored.check_after = to.is_checked().then(|| to_millis(now));
        Ok(stored.order.clone())
    }

    fn void_ticket(&mut self, id: TicketId) -> Result<Ticket, StoreError> {
        let ticket = self
            .tickets
            .get_mut(&id)
            .ok_or(StoreError::NotFound("ticket"))?;
        match ticket.status {
            TicketStatus::Void => {}
            TicketStatus::Used => return Err(StoreError::TicketUsed),
            TicketStatus::Valid => ticket.status = TicketStatus::Void,
        }
        Ok(ticket.clone())
    }

    fn redeem_ticket(
        &mut self,
        id: TicketId,
        by: &UserId,
        now: DateTime<Utc>,
    ) -> Result<Redemption, StoreError> {
        let Some(ticket) = self.tickets.get_mut(&id) else {
            return Ok(Redemption::Unknown);
        };
        match ticket.status {
            TicketStatus::Used => return Ok(Redemption::AlreadyUsed(ticket.clone())),
            TicketStatus::Void => return Ok(Redemption::Void(ticket.clone())),
            TicketStatus::Valid => {}
        }
        let view = self
            .events
            .get_mut(&ticket.event_id)
            .ok_or_else(|| missing("event", ticket.event_id))?;
        view.seats.checked_in += 1;
        view.type_seats
            .entry(ticket.ticket_type_id)
            .or_default()
            .checked_in += 1;
        ticket.status = TicketStatus::Used;
        ticket.used_at = Some(to_millis(now));
        ticket.used_by = Some(by.clone());
        Ok(Redemption::Admitted(ticket.clone()))
    }

    fn tickets_of_user(
        &self,
        user: &UserId,
        page: &PageRequest,
    ) -> Result<Page<Ticket>, StoreError> {
        // Newest first: the page continues below the cursor's position.
        let before: Option<(DateTime<Utc>, TicketId)> = start(page)?;
        let mut tickets: Vec<&Ticket> = self
            .tickets
            .values()
            .filter(|ticket| {
                ticket.user_id == *user
                    && before.is_none_or(|before| ticket_position(ticket) < before)
            })
            .collect();
        tickets.sort_by_key(|ticket| Reverse(ticket_position(ticket)));
        Ok(page_of(tickets.into_iter().cloned(), page, ticket_position))
    }

    fn attendees_of_event(
        &self,
        event_id: EventId,
        page: &PageRequest,
    ) -> Result<Page<Ticket>, StoreError> {
        let after: Option<RegistrationId> = start(page)?;
        let mut tickets: Vec<&Ticket> = self
            .tickets
            .values()
            .filter(|ticket| {
                ticket.event_id == event_id
                    && after.is_none_or(|after| ticket.registration_id > after)
            })
            .collect();
        tickets.sort_by_key(|ticket| ticket.registration_id);
        Ok(page_of(tickets.into_iter().cloned(), page, |ticket| {
            ticket.registration_id
        }))
    }

    fn expired_holds(&self, now: DateTime<Utc>, limit: usize) -> Vec<Hold> {
        let now = to_millis(now);
        let mut due: Vec<&Hold> = self
            .holds
            .values()
            .filter(|stored| {
                stored.order.is_none()
                    && stored.hold.status == HoldStatus::Held
                    && stored.hold.expires_at <= now
            })
            .map(|stored| &stored.hold)
            .collect();
        due.sort_by_key(|hold| (hold.expires_at, hold.id));
        due.into_iter().take(limit).cloned().collect()
    }

    fn orders_due(&self, now: DateTime<Utc>, limit: usize) -> Vec<Order> {
        let now = to_millis(now);
        let mut due: Vec<(DateTime<Utc>, &Order)> = self
            .orders
            .values()
            .filter_map(|stored| Some((stored.check_after?, &stored.order)))
            .filter(|(check_after, _)| *check_after <= now)
            .collect();
        due.sort_by(|(a_at, a), (b_at, b)| (a_at, &a.id).cmp(&(b_at, &b.id)));
        due.into_iter()
            .take(limit)
            .map(|(_, order)| order.clone())
            .collect()
    }

    /// `Ok` if the event's `code` has a use left.
    fn promo_use_left(&self, event_id: EventId, code: &str) -> Result<(), StoreError> {
        let view = self
            .promo_codes
            .get(&(event_id, code.to_owned()))
            .ok_or(StoreError::NotFound("promo code"))?;
        if view.used >= view.promo.max_uses {
            return Err(StoreError::PromoCodeUsedUp(code.to_owned()));
        }
        Ok(())
    }

    /// Counts `delta` uses of `code` (none without a code); checked before.
    fn use_promo_code(&mut self, event_id: EventId, code: Option<&str>, delta: i32) {
        if let Some(view) =
            code.and_then(|code| self.promo_codes.get_mut(&(event_id, code.to_owned())))
        {
            view.used = view.used.saturating_add_signed(delta);
        }
    }

    fn create_promo_code(&mut self, promo: &PromoCode) -> Result<(), StoreError> {
        match self.promo_codes.entry((promo.event_id, promo.code.clone())) {
            Entry::Occupied(_) => Err(StoreError::AlreadyExists("promo code")),
            Entry::Vacant(entry) => {
                let promo = PromoCode {
                    created_at: to_millis(promo.created_at),
                    valid_from: promo.valid_from.map(to_millis),
                    valid_until: promo.valid_until.map(to_millis),
                    ..promo.clone()
                };
                entry.insert(PromoCodeView { promo, used: 0 });
                Ok(())
            }
        }
    }

    fn promo_codes_of_event(&self, event_id: EventId) -> Vec<PromoCodeView> {
        let mut codes: Vec<PromoCodeView> = self
            .promo_codes
            .iter()
            .filter(|((event, _), _)| *event == event_id)
            .map(|(_, view)| view.clone())
            .collect();
        codes.sort_by(|a, b| {
            (a.promo.created_at, &a.promo.code).cmp(&(b.promo.created_at, &b.promo.code))
        });
        codes
    }

    fn defer_order_check(&mut self, id: &OrderId, until: DateTime<Utc>) {
        if let Some(stored) = self.orders.get_mut(id)
            && stored.order.status.is_checked()
        {
            stored.check_after = Some(to_millis(until));
        }
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn create_event(&self, event: &Event) -> Result<(), StoreError> {
        self.state().create_event(event)
    }

    async fn get_event(&self, id: EventId) -> Result<Option<EventView>, StoreError> {
        Ok(self.state().events.get(&id).cloned())
    }

    async fn list_organizer_events(
        &self,
        organizer: &UserId,
        page: &PageRequest,
    ) -> Result<Page<EventView>, StoreError> {
        self.state()
            .events_page(page, |view| view.event.organizer_id == *organizer)
    }

    async fn list_upcoming_events(
        &self,
        now: DateTime<Utc>,
        page: &PageRequest,
    ) -> Result<Page<EventView>, StoreError> {
        let now = to_millis(now);
        self.state().events_page(page, |view| {
            view.visibility == Visibility::Published && view.event.starts_at > now
        })
    }

    async fn update_event(&self, update: &EventUpdate) -> Result<EventView, StoreError> {
        self.state().update_event(update)
    }

    async fn set_visibility(
        &self,
        id: EventId,
        visibility: Visibility,
    ) -> Result<EventView, StoreError> {
        let mut state = self.state();
        let view = state
            .events
            .get_mut(&id)
            .ok_or(StoreError::NotFound("event"))?;
        view.visibility = visibility;
        Ok(view.clone())
    }

    async fn cancel_event(&self, id: EventId, now: DateTime<Utc>) -> Result<EventView, StoreError> {
        self.state().cancel_event(id, now)
    }

    async fn sold_orders_of_event(
        &self,
        id: EventId,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<OrderId>, StoreError> {
        self.state().sold_orders_of_event(id, cursor, limit)
    }

    async fn record_cancellation_failure(
        &self,
        failure: &CancellationFailure,
    ) -> Result<(), StoreError> {
        let failure = CancellationFailure {
            at: to_millis(failure.at),
            ..failure.clone()
        };
        self.state()
            .cancellation_failures
            .insert((failure.event_id, failure.order_id.clone()), failure);
        Ok(())
    }

    async fn cancellation_failures(
        &self,
        id: EventId,
    ) -> Result<Vec<CancellationFailure>, StoreError> {
        Ok(self
            .state()
            .cancellation_failures
            .values()
            .filter(|failure| failure.event_id == id)
            .cloned()
            .collect())
    }

    async fn cancellations_due(
        &self,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<EventId>, StoreError> {
        let state = self.state();
        let mut due: Vec<(DateTime<Utc>, EventId)> = state
            .events
            .values()
            .filter_map(|view| {
                let cancellation = view.cancellation?;
                (cancellation.finished_at.is_none() && cancellation.requested_at <= before)
                    .then_some((cancellation.requested_at, view.event.id))
            })
            .collect();
        due.sort_unstable();
        Ok(due.into_iter().take(limit).map(|(_, id)| id).collect())
    }

    async fn finish_cancellation(&self, id: EventId, now: DateTime<Utc>) -> Result<(), StoreError> {
        let mut state = self.state();
        let view = state
            .events
            .get_mut(&id)
            .ok_or(StoreError::NotFound("event"))?;
        if let Some(cancellation) = &mut view.cancellation {
            cancellation.finished_at.get_or_insert(to_millis(now));
        }
        Ok(())
    }

    async fn get_organizer_profile(
        &self,
        user: &UserId,
    ) -> Result<Option<OrganizerProfile>, StoreError> {
        Ok(self.state().organizers.get(user).cloned())
    }

    async fn put_organizer_profile(&self, profile: &OrganizerProfile) -> Result<(), StoreError> {
        let profile = OrganizerProfile {
            updated_at: to_millis(profile.updated_at),
            ..profile.clone()
        };
        self.state()
            .organizers
            .insert(profile.user_id.clone(), profile);
        Ok(())
    }

    async fn hold_seat(
        &self,
        event_id: EventId,
        hold: &NewHold,
        now: DateTime<Utc>,
    ) -> Result<Hold, StoreError> {
        self.state().hold_seat(event_id, hold, now)
    }

    async fn get_hold(
        &self,
        event_id: EventId,
        hold_id: HoldId,
    ) -> Result<Option<Hold>, StoreError> {
        Ok(self
            .state()
            .holds
            .get(&(event_id, hold_id))
            .map(|stored| stored.hold.clone()))
    }

    async fn confirm_hold(&self, event_id: EventId, hold_id: HoldId) -> Result<Hold, StoreError> {
        self.state().confirm_hold(event_id, hold_id)
    }

    async fn release_hold(
        &self,
        event_id: EventId,
        hold_id: HoldId,
        scope: ReleaseScope,
        _now: DateTime<Utc>,
    ) -> Result<ReleaseOutcome, StoreError> {
        self.state().release_hold(event_id, hold_id, scope)
    }

    async fn take_seat_late(&self, event_id: EventId, hold_id: HoldId) -> Result<Hold, StoreError> {
        self.state().take_seat_late(event_id, hold_id)
    }

    async fn record_tickets(&self, request: &NewTickets) -> Result<Recorded, StoreError> {
        self.state().record_tickets(request)
    }

    async fn create_order(&self, order: &Order) -> Result<Order, StoreError> {
        Ok(self.state().create_order(order))
    }

    async fn get_order(&self, id: &OrderId) -> Result<Option<Order>, StoreError> {
        Ok(self
            .state()
            .orders
            .get(id)
            .map(|stored| stored.order.clone()))
    }

    async fn transition_order(
        &self,
        id: &OrderId,
        to: OrderStatus,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Order, StoreError> {
        self.state().transition_order(id, to, reason, now)
    }

    async fn get_ticket(&self, id: TicketId) -> Result<Option<Ticket>, StoreError> {
        Ok(self.state().tickets.get(&id).cloned())
    }

    async fn void_ticket(&self, id: TicketId) -> Result<Ticket, StoreError> {
        self.state().void_ticket(id)
    }

    async fn rename_ticket(&self, id: TicketId, holder_name: &str) -> Result<Ticket, StoreError> {
        let mut state = self.state();
        let ticket = state
            .tickets
            .get_mut(&id)
            .ok_or(StoreError::NotFound("ticket"))?;
        match ticket.status {
            TicketStatus::Valid => {
                ticket.attendee.name = holder_name.to_owned();
                Ok(ticket.clone())
            }
            TicketStatus::Used => Err(StoreError::TicketUsed),
            TicketStatus::Void => Err(StoreError::TicketVoid),
        }
    }

    async fn redeem_ticket(
        &self,
        id: TicketId,
        by: &UserId,
        now: DateTime<Utc>,
    ) -> Result<Redemption, StoreError> {
        self.state().redeem_ticket(id, by, now)
    }

    async fn tickets_of_user(
        &self,
        user: &UserId,
        page: &PageRequest,
    ) -> Result<Page<Ticket>, StoreError> {
        self.state().tickets_of_user(user, page)
    }

    async fn attendees_of_event(
        &self,
        event_id: EventId,
        page: &PageRequest,
    ) -> Result<Page<Ticket>, StoreError> {
        self.state().attendees_of_event(event_id, page)
    }

    async fn expired_holds(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Hold>, StoreError> {
        Ok(self.state().expired_holds(now, limit))
    }

    async fn orders_due(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Order>, StoreError> {
        Ok(self.state().orders_due(now, limit))
    }

    async fn defer_order_check(
        &self,
        id: &OrderId,
        until: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.state().defer_order_check(id, until);
        Ok(())
    }

    async fn create_promo_code(&self, promo: &PromoCode) -> Result<(), StoreError> {
        self.state().create_promo_code(promo)
    }

    async fn update_promo_code(&self, promo: &PromoCode) -> Result<PromoCodeView, StoreError> {
        let mut state = self.state();
        let view = state
            .promo_codes
            .get_mut(&(promo.event_id, promo.code.clone()))
            .ok_or(StoreError::NotFound("promo code"))?;
        if view.used > promo.max_uses {
            return Err(StoreError::PromoCodeUsed(view.used));
        }
        view.promo.max_uses = promo.max_uses;
        view.promo.valid_from = promo.valid_from.map(to_millis);
        view.promo.valid_until = promo.valid_until.map(to_millis);
        Ok(view.clone())
    }

    async fn get_promo_code(
        &self,
        event_id: EventId,
        code: &str,
    ) -> Result<Option<PromoCodeView>, StoreError> {
        Ok(self
            .state()
            .promo_codes
            .get(&(event_id, code.to_owned()))
            .cloned())
    }

    async fn promo_codes_of_event(
        &self,
        event_id: EventId,
    ) -> Result<Vec<PromoCodeView>, StoreError> {
        Ok(self.state().promo_codes_of_event(event_id))
    }
}
