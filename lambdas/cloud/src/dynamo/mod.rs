//! The DynamoDB adapter of the [`Store`] port, on one table: `cdk/table-schema.json` defines it,
//! `items.rs` describes its items and keys.
//!
//! Every change is one conditional write or one `TransactWriteItems`, so the item conditions (a
//! free seat, a hold still `HELD`, a ticket still `VALID`) are checked by DynamoDB in the same
//! atomic step as the write. When a write is refused, the items are read again (strongly
//! consistent) to tell the caller why; a refusal that the items do not explain was a conflict
//! with a concurrent transaction and is retried, a bounded number of times, with jittered
//! backoff. Reads never guard writes, and nothing scans the table.

mod calls;
mod cancellation;
mod due;
mod expr;
mod failure;
mod items;
mod paging;
mod writes;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Utc};
use ticket_core::cancellation::CancellationFailure;
use ticket_core::page::MAX_PAGE_SIZE;
use ticket_core::time::{to_key, to_millis};
use ticket_core::{
    Event, EventId, EventUpdate, EventView, Hold, HoldId, HoldStatus, NewHold, NewTickets, Order,
    OrderId, OrderStatus, OrganizerProfile, Page, PageRequest, PromoCode, PromoCodeView, Recorded,
    Redemption, ReleaseOutcome, ReleaseScope, Seats, Store, StoreError, Ticket, TicketId,
    TicketStatus, UserId, Visibility, room_for,
};

use self::due::{GSI3PK, GSI3SK, HOLDS_DUE, ORDERS_DUE, order_due_key};
use self::expr::Expr;
use self::failure::{Failure, MAX_ATTEMPTS, backoff, contended};
use self::items::{
    EVENTS_PARTITION, GSI1, GSI2, GSI2PK, PK, PROMO_PREFIX, REGISTRATION_PREFIX, decoded,
    event_item, event_key, event_partition, hold_from_item, hold_item, hold_key, n,
    order_from_item, order_item, order_key, organizer_from_item, organizer_item, organizer_key,
    organizer_partition, promo_from_item, promo_item, promo_key, registration_item,
    registration_key, s, ticket_item, ticket_key, user_partition,
};
use self::paging::{QuerySpec, SortRange};
use self::writes::{SeatGuard, event_change};

/// The most tickets one order records: its order item and two items per ticket must fit in
/// one transaction (100 items), and orders take at most ten anyway.
const MAX_TICKETS_PER_TRANSACTION: usize = 49;

/// The [`Store`] on one DynamoDB table, made as `cdk/table-schema.json` defines it.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

impl DynamoStore {
    /// A hold, whose seats and promo code never change: what its counters are.
    async fn existing_hold(&self, event_id: EventId, hold_id: HoldId) -> Result<Hold, StoreError> {
        self.read_hold(event_id, hold_id)
            .await?
            .ok_or(StoreError::NotFound("hold"))
    }

    /// `Ok` if the hold uses no promo code or its code has a use left: what explains a refused
    /// write (the write's condition is what guards the count).
    async fn promo_use_left(
        &self,
        event_id: EventId,
        code: Option<&str>,
    ) -> Result<(), StoreError> {
        let Some(code) = code else {
            return Ok(());
        };
        let view = self
            .get_promo_code(event_id, code)
            .await?
            .ok_or(StoreError::NotFound("promo code"))?;
        match view.used < view.promo.max_uses {
            true => Ok(()),
            false => Err(StoreError::PromoCodeUsedUp(code.to_owned())),
        }
    }

    /// The event, which a write needing room is conditioned on.
    async fn existing_event(&self, event_id: EventId) -> Result<EventView, StoreError> {
        self.read_event(event_id)
            .await?
            .ok_or(StoreError::NotFound("event"))
    }
}

#[async_trait]
impl Store for DynamoStore {
    async fn create_event(&self, event: &Event) -> Result<(), StoreError> {
        let mut expr = Expr::default();
        let condition = format!("attribute_not_exists({})", expr.name(PK));
        match self.put(event_item(event), condition, expr).await {
            Ok(()) => Ok(()),
            Err(Failure::Refused) => Err(StoreError::AlreadyExists("event")),
            Err(Failure::Store(error)) => Err(error),
        }
    }

    async fn get_event(&self, id: EventId) -> Result<Option<EventView>, StoreError> {
        self.read_event(id).await
    }

    async fn get_organizer_profile(
        &self,
        user: &UserId,
    ) -> Result<Option<OrganizerProfile>, StoreError> {
        self.get(organizer_key(user))
            .await?
            .map(|item| decoded(&item, organizer_from_item))
            .transpose()
    }

    async fn put_organizer_profile(&self, profile: &OrganizerProfile) -> Result<(), StoreError> {
        // Creates or replaces: the key is the organizer's own, so the condition always holds;
        // PutItem wants one.
        let mut expr = Expr::default();
        let condition = format!(
            "attribute_not_exists({}) OR {} = {}",
            expr.name(PK),
            expr.name("userId"),
            expr.value(s(profile.user_id.as_str()))
        );
        match self.put(organizer_item(profile), condition, expr).await {
            Ok(()) => Ok(()),
            Err(Failure::Refused) => Err(StoreError::Internal(
                "an organizer's profile item names another user".into(),
            )),
            Err(Failure::Store(error)) => Err(error),
        }
    }

    async fn update_event(&self, update: &EventUpdate) -> Result<EventView, StoreError> {
        let event_id = update.event.id;
        for attempt in 0..MAX_ATTEMPTS {
            // The read tells what is wrong without a write, and gives the counts a repriced
            // one-price type is judged by.
            let view = self.existing_event(event_id).await?;
            if view.version != update.expected_version {
                return Err(StoreError::EventChanged);
            }
            if !update.seats_fit(&view) {
                return Err(StoreError::SeatsTaken);
            }
            let (change, condition, expr) = event_change(update, &view);
            match self
                .update(event_key(event_id), change, condition, expr)
                .await
            {
                Ok(item) => return items::event_from_item(&item),
                Err(Failure::Store(error)) => return Err(error),
                Err(Failure::Refused) => backoff(attempt).await,
            }
        }
        Err(contended("edit an event"))
    }

    async fn set_visibility(
        &self,
        id: EventId,
        visibility: Visibility,
    ) -> Result<EventView, StoreError> {
        let mut expr = Expr::default();
        let mut update = format!(
            "SET {} = {}",
            expr.name("visibility"),
            expr.value(s(visibility.as_str())),
        );
        // Only a published event is in the upcoming events' index.
        let listed = expr.name(GSI2PK);
        update += &match visibility {
            Visibility::Published => format!(", {listed} = {}", expr.value(s(EVENTS_PARTITION))),
            _ => format!(" REMOVE {listed}"),
        };
        let condition = format!("attribute_exists({})", expr.name(PK));
        match self.update(event_key(id), update, condition, expr).await {
            Ok(item) => items::event_from_item(&item),
            Err(Failure::Refused) => Err(StoreError::NotFound("event")),
            Err(Failure::Store(error)) => Err(error),
        }
    }

    async fn cancel_event(&self, id: EventId, now: DateTime<Utc>) -> Result<EventView, StoreError> {
        self.cancel(id, now).await
    }

    async fn sold_orders_of_event(
        &self,
        id: EventId,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<OrderId>, StoreError> {
        self.sold_orders(id, cursor, limit).await
    }

    async fn record_cancellation_failure(
        &self,
        failure: &CancellationFailure,
    ) -> Result<(), StoreError> {
        self.put_cancellation_failure(failure).await
    }

    async fn cancellation_failures(
        &self,
        id: EventId,
    ) -> Result<Vec<CancellationFailure>, StoreError> {
        self.read_cancellation_failures(id).await
    }

    async fn cancellations_due(
        &self,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<EventId>, StoreError> {
        self.due_cancellations(before, limit).await
    }

    async fn finish_cancellation(&self, id: EventId, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.finish(id, now).await
    }

    async fn list_organizer_events(
        &self,
        organizer: &UserId,
        page: &PageRequest,
    ) -> Result<Page<EventView>, StoreError> {
        let spec = QuerySpec {
            index: Some(GSI1),
            partition: organizer_partition(organizer),
            sort: SortRange::BeginsWith("EVENT#".into()),
            forward: true,
            item_prefix: "EVENT#",
        };
        self.query_events(spec, page).await
    }

    async fn list_upcoming_events(
        &self,
        now: DateTime<Utc>,
        page: &PageRequest,
    ) -> Result<Page<EventView>, StoreError> {
        // Sort keys are `<startsAt>#<id>`. `$` sorts right after `#`, so `<now>$` is above every
        // key of an event starting at `now` and below every key of a later one.
        let spec = QuerySpec {
            index: Some(GSI2),
            partition: EVENTS_PARTITION.into(),
            sort: SortRange::After(format!("{}$", to_key(now))),
            forward: true,
            item_prefix: "EVENT#",
        };
        self.query_events(spec, page).await
    }

    async fn hold_seat(
        &self,
        event_id: EventId,
        hold: &NewHold,
        now: DateTime<Utc>,
    ) -> Result<Hold, StoreError> {
        let now = to_millis(now);
        let pinned = hold.event_version;
        let hold = Hold {
            id: hold.id,
            event_id,
            seats: hold.seats.clone(),
            promo_code: hold.promo_code.clone(),
            user_id: hold.user_id.clone(),
            status: HoldStatus::Held,
            expires_at: to_millis(hold.expires_at),
            created_at: now,
        };
        for attempt in 0..MAX_ATTEMPTS {
            // The read tells what is wrong without a write, and pins the limits the write
            // is conditioned on.
            let view = self.existing_event(event_id).await?;
            if view.is_cancelled() {
                return Err(StoreError::EventCancelled);
            }
            if now >= view.event.starts_at {
                return Err(StoreError::EventEnded);
            }
            if pinned.is_some_and(|version| version != view.version) {
                return Err(StoreError::EventChanged);
            }
            room_for(&view, &hold.seats)?;
            self.promo_use_left(event_id, hold.promo_code.as_deref())
                .await?;
            let room = SeatGuard::Room {
                event: &view.event,
                before: Some(to_key(now)),
                version: pinned,
            };
            let mut writes = vec![
                self.count(event_id, &hold.seats, &[("taken", 1)], room)?,
                self.tx_create(hold_item(&hold))?,
            ];
            if let Some(code) = &hold.promo_code {
                writes.push(self.promo_use(event_id, code, 1)?);
            }
            match self.transact(writes).await {
                Ok(()) => return Ok(hold),
                Err(Failure::Store(error)) => return Err(error),
                Err(Failure::Refused) => {}
            }
            if self.get(hold_key(event_id, hold.id)).await?.is_some() {
                return Err(StoreError::AlreadyExists("hold"));
            }
            backoff(attempt).await;
        }
        Err(contended("hold a seat"))
    }

    async fn get_hold(
        &self,
        event_id: EventId,
        hold_id: HoldId,
    ) -> Result<Option<Hold>, StoreError> {
        self.read_hold(event_id, hold_id).await
    }

    async fn confirm_hold(&self, event_id: EventId, hold_id: HoldId) -> Result<Hold, StoreError> {
        let seats = self.existing_hold(event_id, hold_id).await?.seats;
        for attempt in 0..MAX_ATTEMPTS {
            let writes = vec![
                self.hold_change(event_id, hold_id, HoldStatus::Held, HoldStatus::Sold, None)?,
                self.count(event_id, &seats, &[("sold", 1)], SeatGuard::OnSale)?,
            ];
            match self.transact(writes).await {
                Ok(()) => return self.hold_now(event_id, hold_id, HoldStatus::Sold).await,
                Err(Failure::Store(error)) => return Err(error),
                Err(Failure::Refused) => {}
            }
            match self.read_hold(event_id, hold_id).await? {
                None => return Err(StoreError::NotFound("hold")),
                Some(hold) if hold.status == HoldStatus::Sold => return Ok(hold),
                Some(hold) if hold.status == HoldStatus::Released => {
                    return Err(StoreError::HoldReleased);
                }
                Some(_) if self.existing_event(event_id).await?.is_cancelled() => {
                    return Err(StoreError::EventCancelled);
                }
                Some(_) => backoff(attempt).await,
            }
        }
        Err(contended("confirm a hold"))
    }

    async fn release_hold(
        &self,
        event_id: EventId,
        hold_id: HoldId,
        scope: ReleaseScope,
        now: DateTime<Utc>,
    ) -> Result<ReleaseOutcome, StoreError> {
        // Try the likely status first; after a refusal, what the hold says it is now.
        let mut expected = HoldStatus::Held;
        let hold = self.existing_hold(event_id, hold_id).await?;
        for attempt in 0..MAX_ATTEMPTS {
            let counters: &[(&str, i64)] = match expected {
                HoldStatus::Held => &[("taken", -1)],
                _ => &[("taken", -1), ("sold", -1)],
            };
            let mut writes = vec![
                self.hold_change(event_id, hold_id, expected, HoldStatus::Released, Some(now))?,
                self.count(event_id, &hold.seats, counters, SeatGuard::Exists)?,
            ];
            if let Some(code) = &hold.promo_code {
                writes.push(self.promo_use(event_id, code, -1)?);
            }
            match self.transact(writes).await {
                Ok(()) => return Ok(ReleaseOutcome::Released { was: expected }),
                Err(Failure::Store(error)) => return Err(error),
                Err(Failure::Refused) => {}
            }
            let Some(hold) = self.read_hold(event_id, hold_id).await? else {
                return Err(StoreError::NotFound("hold"));
            };
            match (hold.status, scope) {
                (HoldStatus::Released, _) => return Ok(ReleaseOutcome::AlreadyReleased),
                (HoldStatus::Sold, ReleaseScope::Unpaid) => return Ok(ReleaseOutcome::KeptSold),
                (status, _) if status == expected => backoff(attempt).await,
                (status, _) => expected = status,
            }
        }
        Err(contended("release a hold"))
    }

    async fn take_seat_late(&self, event_id: EventId, hold_id: HoldId) -> Result<Hold, StoreError> {
        let hold = self.existing_hold(event_id, hold_id).await?;
        let (seats, code) = (&hold.seats, hold.promo_code.as_deref());
        let mut view = self.existing_event(event_id).await?;
        for attempt in 0..MAX_ATTEMPTS {
            if view.is_cancelled() && hold.status != HoldStatus::Sold {
                return Err(StoreError::EventCancelled);
            }
            let room = SeatGuard::Room {
                event: &view.event,
                before: None,
                version: None,
            };
            let mut writes = vec![
                self.hold_change(
                    event_id,
                    hold_id,
                    HoldStatus::Released,
                    HoldStatus::Sold,
                    None,
                )?,
                self.count(event_id, seats, &[("taken", 1), ("sold", 1)], room)?,
            ];
            if let Some(code) = code {
                writes.push(self.promo_use(event_id, code, 1)?);
            }
            match self.transact(writes).await {
                Ok(()) => return self.hold_now(event_id, hold_id, HoldStatus::Sold).await,
                Err(Failure::Store(error)) => return Err(error),
                Err(Failure::Refused) => {}
            }
            match self.read_hold(event_id, hold_id).await? {
                None => return Err(StoreError::NotFound("hold")),
                Some(hold) if hold.status == HoldStatus::Sold => return Ok(hold),
                Some(hold) if hold.status == HoldStatus::Held => {
                    return self.confirm_hold(event_id, hold_id).await;
                }
                Some(_) => {
                    view = self.existing_event(event_id).await?;
                    room_for(&view, seats)?;
                    self.promo_use_left(event_id, code).await?;
                    backoff(attempt).await;
                }
            }
        }
        Err(contended("take a seat late"))
    }

    async fn record_tickets(&self, request: &NewTickets) -> Result<Recorded, StoreError> {
        let tickets: Vec<Ticket> = request
            .tickets()
            .into_iter()
            .map(|ticket| Ticket {
                created_at: to_millis(request.created_at),
                ..ticket
            })
            .collect();
        if tickets.is_empty() || tickets.len() > MAX_TICKETS_PER_TRANSACTION {
            return Err(StoreError::Internal(format!(
                "an order of {} tickets",
                tickets.len()
            )));
        }
        for attempt in 0..MAX_ATTEMPTS {
            let mut writes = vec![self.order_takes_tickets(request)?];
            for ticket in &tickets {
                writes.push(self.tx_create(ticket_item(ticket))?);
                writes.push(self.tx_create(registration_item(ticket))?);
            }
            match self.transact(writes).await {
                Ok(()) => {
                    let order = self
                        .read_order(&request.order.id)
                        .await?
                        .ok_or_else(|| StoreError::Internal("an order vanished".into()))?;
                    return Ok(Recorded { order, tickets });
                }
                Err(Failure::Store(error)) => return Err(error),
                Err(Failure::Refused) => {}
            }
            let order = self.read_order(&request.order.id).await?;
            if let Some(order) = &order {
                if !order.ticket_ids.is_empty() {
                    let mut recorded = Vec::new();
                    for &id in &order.ticket_ids {
                        recorded.push(self.read_ticket(id).await?.ok_or_else(|| {
                            StoreError::Internal(format!("an order names a missing ticket {id}"))
                        })?);
                    }
                    return Ok(Recorded {
                        order: order.clone(),
                        tickets: recorded,
                    });
                }
                if !order.status.takes_a_ticket() {
                    return Err(StoreError::OrderClosed(order.status));
                }
            }
            // The order would take the tickets: unless their ids are taken, it was a conflict.
            for ticket in &tickets {
                if self.get(ticket_key(ticket.id)).await?.is_some() {
                    return Err(StoreError::AlreadyExists("ticket"));
                }
                let registration = registration_key(ticket.event_id, ticket.registration_id);
                if self.get(registration).await?.is_some() {
                    return Err(StoreError::AlreadyExists("registration"));
                }
            }
            backoff(attempt).await;
        }
        Err(contended("record tickets"))
    }

    async fn create_order(&self, order: &Order) -> Result<Order, StoreError> {
        let order = Order {
            created_at: to_millis(order.created_at),
            updated_at: to_millis(order.updated_at),
            ..order.clone()
        };
        // With its hold when the hold exists (the order takes it over), alone when not.
        let mut with_hold = true;
        for attempt in 0..MAX_ATTEMPTS {
            let mut writes = vec![self.tx_create(order_item(&order))?];
            if with_hold {
                writes.push(self.hold_taken_by(&order)?);
            }
            match self.transact(writes).await {
                Ok(()) => return Ok(order),
                Err(Failure::Store(error)) => return Err(error),
                Err(Failure::Refused) => {}
            }
            if let Some(stored) = self.read_order(&order.id).await? {
                return Ok(stored);
            }
            if with_hold
                && self
                    .read_hold(order.event_id, order.hold_id)
                    .await?
                    .is_none()
            {
                with_hold = false;
                continue;
            }
            backoff(attempt).await;
        }
        Err(contended("create an order"))
    }

    async fn get_order(&self, id: &OrderId) -> Result<Option<Order>, StoreError> {
        self.read_order(id).await
    }

    async fn transition_order(
        &self,
        id: &OrderId,
        to: OrderStatus,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Order, StoreError> {
        let from = to.allowed_from();
        for attempt in 0..MAX_ATTEMPTS {
            if !from.is_empty() {
                let mut expr = Expr::default();
                let status = expr.name("status");
                let mut update = format!(
                    "SET {status} = {}, {} = {}",
                    expr.value(s(to.as_str())),
                    expr.name("updatedAt"),
                    expr.value(s(to_key(now)))
                );
                if let Some(reason) = reason {
                    update += &format!(
                        ", {} = {}",
                        expr.name("failureReason"),
                        expr.value(s(reason))
                    );
                }
                // Pending orders and refunds under way are due for checks (a refund at once).
                if to.is_checked() {
                    update += &format!(
                        ", {} = {}, {} = {}",
                        expr.name(GSI3PK),
                        expr.value(s(ORDERS_DUE)),
                        expr.name(GSI3SK),
                        expr.value(s(order_due_key(id, now)))
                    );
                } else {
                    update += &format!(" REMOVE {}, {}", expr.name(GSI3PK), expr.name(GSI3SK));
                }
                let allowed: Vec<String> = from
                    .iter()
                    .map(|status| expr.value(s(status.as_str())))
                    .collect();
                let condition = format!("{status} IN ({})", allowed.join(", "));
                match self.update(order_key(id), update, condition, expr).await {
                    Ok(item) => return order_from_item(&item),
                    Err(Failure::Store(error)) => return Err(error),
                    Err(Failure::Refused) => {}
                }
            }
            match self.read_order(id).await? {
                None => return Err(StoreError::NotFound("order")),
                Some(order) if order.status == to => return Ok(order),
                Some(order) if from.contains(&order.status) => backoff(attempt).await,
                Some(order) => {
                    return Err(StoreError::InvalidTransition {
                        from: order.status,
                        to,
                    });
                }
            }
        }
        Err(contended("move an order"))
    }

    async fn get_ticket(&self, id: TicketId) -> Result<Option<Ticket>, StoreError> {
        self.read_ticket(id).await
    }

    async fn void_ticket(&self, id: TicketId) -> Result<Ticket, StoreError> {
        for attempt in 0..MAX_ATTEMPTS {
            // The read finds the registration item's key; the write's conditions decide.
            let Some(ticket) = self.read_ticket(id).await? else {
                return Err(StoreError::NotFound("ticket"));
            };
            match ticket.status {
                TicketStatus::Void => return Ok(ticket),
                TicketStatus::Used => return Err(StoreError::TicketUsed),
                TicketStatus::Valid => {}
            }
            let writes = self.ticket_writes(&ticket, TicketStatus::Void, &[])?;
            match self.transact(writes).await {
                Ok(()) => {
                    return Ok(Ticket {
                        status: TicketStatus::Void,
                        ..ticket
                    });
                }
                Err(Failure::Store(error)) => return Err(error),
                // Usually the ticket changed: the next read says so. Wait only on repeats.
                Err(Failure::Refused) if attempt > 0 => backoff(attempt).await,
                Err(Failure::Refused) => {}
            }
        }
        Err(contended("void a ticket"))
    }

    async fn rename_ticket(&self, id: TicketId, holder_name: &str) -> Result<Ticket, StoreError> {
        for attempt in 0..MAX_ATTEMPTS {
            // The read finds the registration item's key; the write's conditions decide.
            let Some(mut ticket) = self.read_ticket(id).await? else {
                return Err(StoreError::NotFound("ticket"));
            };
            match ticket.status {
                TicketStatus::Void => return Err(StoreError::TicketVoid),
                TicketStatus::Used => return Err(StoreError::TicketUsed),
                TicketStatus::Valid => {}
            }
            // A status change to itself, conditioned on `VALID`, with the name beside it.
            let name = [("attendeeName", holder_name.to_owned())];
            let writes = self.ticket_writes(&ticket, TicketStatus::Valid, &name)?;
            match self.transact(writes).await {
                Ok(()) => {
                    ticket.attendee.name = holder_name.to_owned();
                    return Ok(ticket);
                }
                Err(Failure::Store(error)) => return Err(error),
                Err(Failure::Refused) if attempt > 0 => backoff(attempt).await,
                Err(Failure::Refused) => {}
            }
        }
        Err(contended("rename a ticket's holder"))
    }

    async fn redeem_ticket(
        &self,
        id: TicketId,
        by: &UserId,
        now: DateTime<Utc>,
    ) -> Result<Redemption, StoreError> {
        let now = to_millis(now);
        for attempt in 0..MAX_ATTEMPTS {
            // The read finds the registration item's key; the write's conditions decide.
            let Some(ticket) = self.read_ticket(id).await? else {
                return Ok(Redemption::Unknown);
            };
            match ticket.status {
                TicketStatus::Used => return Ok(Redemption::AlreadyUsed(ticket)),
                TicketStatus::Void => return Ok(Redemption::Void(ticket)),
                TicketStatus::Valid => {}
            }
            let also = [("usedAt", to_key(now)), ("usedBy", by.to_string())];
            let mut writes = self.ticket_writes(&ticket, TicketStatus::Used, &also)?;
            writes.push(self.count(
                ticket.event_id,
                &Seats::one(ticket.ticket_type_id),
                &[("checkedIn", 1)],
                SeatGuard::Exists,
            )?);
            match self.transact(writes).await {
                Ok(()) => {
                    return Ok(Redemption::Admitted(Ticket {
                        status: TicketStatus::Used,
                        used_at: Some(now),
                        used_by: Some(by.clone()),
                        ..ticket
                    }));
                }
                Err(Failure::Store(error)) => return Err(error),
                // Usually another scan won: the next read says so. Wait only on repeats.
                Err(Failure::Refused) if attempt > 0 => backoff(attempt).await,
                Err(Failure::Refused) => {}
            }
        }
        Err(contended("redeem a ticket"))
    }

    async fn tickets_of_user(
        &self,
        user: &UserId,
        page: &PageRequest,
    ) -> Result<Page<Ticket>, StoreError> {
        let spec = QuerySpec {
            index: Some(GSI1),
            partition: user_partition(user),
            sort: SortRange::BeginsWith("TICKET#".into()),
            forward: false,
            item_prefix: "TICKET#",
        };
        self.query_tickets(spec, page).await
    }

    async fn expired_holds(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Hold>, StoreError> {
        self.query_due(HOLDS_DUE, now, limit)
            .await?
            .iter()
            .map(hold_from_item)
            .collect()
    }

    async fn orders_due(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Order>, StoreError> {
        self.query_due(ORDERS_DUE, now, limit)
            .await?
            .iter()
            .map(order_from_item)
            .collect()
    }

    async fn defer_order_check(
        &self,
        id: &OrderId,
        until: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut expr = Expr::default();
        let update = format!(
            "SET {} = {}, {} = {}",
            expr.name(GSI3PK),
            expr.value(s(ORDERS_DUE)),
            expr.name(GSI3SK),
            expr.value(s(order_due_key(id, until)))
        );
        // Only an order that is checked has a place in the index.
        let condition = format!("attribute_exists({})", expr.name(GSI3PK));
        match self.update(order_key(id), update, condition, expr).await {
            // Refused: the order moved on (or does not exist); it is due for nothing.
            Ok(_) | Err(Failure::Refused) => Ok(()),
            Err(Failure::Store(error)) => Err(error),
        }
    }

    async fn attendees_of_event(
        &self,
        event_id: EventId,
        page: &PageRequest,
    ) -> Result<Page<Ticket>, StoreError> {
        let partition = event_partition(event_id);
        let spec = QuerySpec {
            index: None,
            sort: SortRange::BeginsWith(REGISTRATION_PREFIX.into()),
            forward: true,
            item_prefix: "EVENT#",
            partition,
        };
        self.query_tickets(spec, page).await
    }

    async fn create_promo_code(&self, promo: &PromoCode) -> Result<(), StoreError> {
        let mut expr = Expr::default();
        let condition = format!("attribute_not_exists({})", expr.name(PK));
        match self.put(promo_item(promo), condition, expr).await {
            Ok(()) => Ok(()),
            Err(Failure::Refused) => Err(StoreError::AlreadyExists("promo code")),
            Err(Failure::Store(error)) => Err(error),
        }
    }

    async fn update_promo_code(&self, promo: &PromoCode) -> Result<PromoCodeView, StoreError> {
        let mut expr = Expr::default();
        let max_uses = expr.name("maxUses");
        let limit = expr.value(n(promo.max_uses));
        let mut sets = vec![format!("{max_uses} = {limit}")];
        let mut removes = Vec::new();
        for (name, at) in [
            ("validFrom", promo.valid_from),
            ("validUntil", promo.valid_until),
        ] {
            match at {
                Some(at) => sets.push(format!(
                    "{} = {}",
                    expr.name(name),
                    expr.value(s(to_key(at)))
                )),
                None => removes.push(expr.name(name)),
            }
        }
        let mut update = format!("SET {}", sets.join(", "));
        if !removes.is_empty() {
            update += &format!(" REMOVE {}", removes.join(", "));
        }
        // The uses are counted on the same item, so the condition judges the new limit against
        // the count as it is when the write lands.
        let condition = format!(
            "attribute_exists({}) AND {} <= {limit}",
            expr.name(PK),
            expr.name("used")
        );
        let key = promo_key(promo.event_id, &promo.code);
        match self.update(key, update, condition, expr).await {
            Ok(item) => decoded(&item, promo_from_item),
            Err(Failure::Store(error)) => Err(error),
            Err(Failure::Refused) => {
                match self.get_promo_code(promo.event_id, &promo.code).await? {
                    None => Err(StoreError::NotFound("promo code")),
                    Some(view) => Err(StoreError::PromoCodeUsed(view.used)),
                }
            }
        }
    }

    async fn get_promo_code(
        &self,
        event_id: EventId,
        code: &str,
    ) -> Result<Option<PromoCodeView>, StoreError> {
        self.get(promo_key(event_id, code))
            .await?
            .map(|item| decoded(&item, promo_from_item))
            .transpose()
    }

    async fn promo_codes_of_event(
        &self,
        event_id: EventId,
    ) -> Result<Vec<PromoCodeView>, StoreError> {
        let spec = QuerySpec {
            index: None,
            partition: event_partition(event_id),
            sort: SortRange::BeginsWith(PROMO_PREFIX.into()),
            forward: true,
            item_prefix: "EVENT#",
        };
        // At most a few hundred codes: every page, then in creation order (keys sort by code).
        let mut codes = Vec::new();
        let mut page = PageRequest::first(MAX_PAGE_SIZE);
        loop {
            let found = self.query_page(&spec, &page, promo_from_item).await?;
            codes.extend(found.items);
            match found.next_cursor {
                Some(cursor) => page = PageRequest::after(MAX_PAGE_SIZE, cursor),
                None => break,
            }
        }
        codes.sort_by(|a, b| {
            (a.promo.created_at, &a.promo.code).cmp(&(b.promo.created_at, &b.promo.code))
        });
        Ok(codes)
    }
}
