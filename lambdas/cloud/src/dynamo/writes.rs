//! The writes that transactions are made of.

use aws_sdk_dynamodb::types::TransactWriteItem;
use chrono::{DateTime, TimeDelta, Utc};
use ticket_core::{
    Event, EventId, EventUpdate, EventView, FIRST_ORDER_CHECK, HoldId, HoldStatus, NewTickets,
    Order, OrderStatus, Seats, StoreError, Ticket, TicketStatus,
};

use super::DynamoStore;
use super::due::{GSI3PK, GSI3SK, order_due};
use super::expr::Expr;
use super::items::{
    self, Item, PK, TTL, event_key, hold_key, n, order_key, promo_key, registration_key, s,
    ticket_key,
};

/// How long a released hold stays in the table before DynamoDB's TTL may delete it.
const RELEASED_HOLD_RETENTION: TimeDelta = TimeDelta::days(30);

/// What a write to an event's seat counters requires of the event.
pub(super) enum SeatGuard<'a> {
    /// Only that it exists (what gives seats back).
    Exists,
    /// That it exists and is not cancelled (what sells held seats).
    OnSale,
    /// Not cancelled, and room for the seats under the capacity and each type's quota, as `event` has them: the
    /// write also requires those limits unchanged, since a condition cannot subtract one
    /// attribute from another. With `before` (a time key), the event must start after it;
    /// with `version`, the event must still have that version.
    Room {
        event: &'a Event,
        before: Option<String>,
        version: Option<u32>,
    },
}

/// The condition that the event item has `version` (an item from before edits has none: its
/// version is 1).
pub(super) fn version_is(expr: &mut Expr, version: u32) -> String {
    let name = expr.name("version");
    let value = expr.value(n(version));
    match version {
        1 => format!("(attribute_not_exists({name}) OR {name} = {value})"),
        _ => format!("{name} = {value}"),
    }
}

impl DynamoStore {
    /// Moves a hold from one status to another. A released hold gets an expiry (`ttl`); one
    /// taken back loses it.
    pub(super) fn hold_change(
        &self,
        event_id: EventId,
        id: HoldId,
        from: HoldStatus,
        to: HoldStatus,
        released_at: Option<DateTime<Utc>>,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut expr = Expr::default();
        let status = expr.name("status");
        let mut update = format!("SET {status} = {}", expr.value(s(to.as_str())));
        // A hold that is no longer `HELD` leaves the reconciliation index.
        let mut removes = vec![expr.name(GSI3PK), expr.name(GSI3SK)];
        if let Some(at) = released_at {
            let expires = (at + RELEASED_HOLD_RETENTION).timestamp();
            update += &format!(", {} = {}", expr.name(TTL), expr.value(n(expires)));
        } else if from == HoldStatus::Released {
            removes.push(expr.name(TTL));
        }
        update += &format!(" REMOVE {}", removes.join(", "));
        let condition = format!("{status} = {}", expr.value(s(from.as_str())));
        self.tx_update(hold_key(event_id, id), update, condition, expr)
    }

    /// Adds per seat to an event's counters (`taken`, `sold`, `checkedIn`) and to the same
    /// counters of each type of `seats` (see [`items::type_attribute`]).
    pub(super) fn count(
        &self,
        event_id: EventId,
        seats: &Seats,
        deltas: &[(&str, i64)],
        guard: SeatGuard<'_>,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut expr = Expr::default();
        let type_attribute = |type_id, counter: &str| {
            let what = match counter {
                "taken" => "Taken",
                "sold" => "Sold",
                "quota" => "Quota",
                _ => "CheckedIn",
            };
            items::type_attribute(event_id, type_id, what)
        };
        let mut sets = Vec::new();
        for &(counter, delta) in deltas {
            let name = expr.name(counter);
            let total = delta * i64::from(seats.total());
            sets.push(format!("{name} = {name} + {}", expr.value(n(total))));
            for (type_id, count) in seats.iter() {
                if let Some(attribute) = type_attribute(type_id, counter) {
                    let name = expr.name(&attribute);
                    let delta = delta * i64::from(count);
                    sets.push(format!("{name} = {name} + {}", expr.value(n(delta))));
                }
            }
        }
        let update = format!("SET {}", sets.join(", "));
        let mut condition = format!("attribute_exists({})", expr.name(PK));
        if !matches!(guard, SeatGuard::Exists) {
            condition += &format!(" AND attribute_not_exists({})", expr.name("cancelledAt"));
        }
        if let SeatGuard::Room {
            event,
            before,
            version,
        } = guard
        {
            // `taken <= limit - wanted`, the limit pinned to the value the room was judged by.
            let mut room = |taken: &str, limit_name: &str, limit: u32, wanted: u32| {
                let Some(most) = limit.checked_sub(wanted) else {
                    return Err(StoreError::SoldOut);
                };
                let limit_name = expr.name(limit_name);
                condition += &format!(
                    " AND {limit_name} = {} AND {} <= {}",
                    expr.value(n(limit)),
                    expr.name(taken),
                    expr.value(n(most))
                );
                Ok(())
            };
            room("taken", "capacity", event.capacity, seats.total())?;
            for (type_id, count) in seats.iter() {
                let ticket_type = event
                    .ticket_type(type_id)
                    .ok_or(StoreError::NotFound("ticket type"))?;
                if let (Some(taken), Some(quota)) = (
                    type_attribute(type_id, "taken"),
                    type_attribute(type_id, "quota"),
                ) {
                    room(&taken, &quota, ticket_type.quota, count)
                        .map_err(|_| StoreError::TypeSoldOut(type_id))?;
                }
            }
            if let Some(now) = before {
                condition += &format!(" AND {} > {}", expr.name("startsAt"), expr.value(s(now)));
            }
            if let Some(version) = version {
                condition += &format!(" AND {}", version_is(&mut expr, version));
            }
        }
        self.tx_update(event_key(event_id), update, condition, expr)
    }

    /// Counts one use of the event's promo `code` (`delta` 1), needing one left, or gives one
    /// back (`delta` -1).
    pub(super) fn promo_use(
        &self,
        event_id: EventId,
        code: &str,
        delta: i64,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut expr = Expr::default();
        let used = expr.name("used");
        let update = format!("SET {used} = {used} + {}", expr.value(n(delta)));
        // A missing item has no `used`, so either comparison refuses it.
        let condition = match delta > 0 {
            true => format!("{used} < {}", expr.name("maxUses")),
            false => format!("{used} > {}", expr.value(n(0))),
        };
        self.tx_update(promo_key(event_id, code), update, condition, expr)
    }

    /// Changes the status of a ticket or registration item from `VALID`, setting more
    /// attributes with it.
    pub(super) fn ticket_change(
        &self,
        key: Item,
        to: TicketStatus,
        also: &[(&str, String)],
    ) -> Result<TransactWriteItem, StoreError> {
        let mut expr = Expr::default();
        let status = expr.name("status");
        let mut update = format!("SET {status} = {}", expr.value(s(to.as_str())));
        for (attribute, value) in also {
            update += &format!(", {} = {}", expr.name(attribute), expr.value(s(value)));
        }
        let condition = format!("{status} = {}", expr.value(s(TicketStatus::Valid.as_str())));
        self.tx_update(key, update, condition, expr)
    }

    pub(super) fn ticket_writes(
        &self,
        ticket: &Ticket,
        to: TicketStatus,
        also: &[(&str, String)],
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        Ok(vec![
            self.ticket_change(ticket_key(ticket.id), to, also)?,
            self.ticket_change(
                registration_key(ticket.event_id, ticket.registration_id),
                to,
                also,
            )?,
        ])
    }

    /// Puts an item that must not exist yet.
    pub(super) fn tx_create(&self, item: Item) -> Result<TransactWriteItem, StoreError> {
        let mut expr = Expr::default();
        let condition = format!("attribute_not_exists({})", expr.name(PK));
        self.tx_put(item, condition, expr)
    }

    /// Hands a hold over to its order: the hold leaves the reconciliation index (the order's
    /// checks decide its fate). Requires the hold to exist.
    pub(super) fn hold_taken_by(&self, order: &Order) -> Result<TransactWriteItem, StoreError> {
        let mut expr = Expr::default();
        let order_id = expr.name("orderId");
        let update = format!(
            "SET {order_id} = if_not_exists({order_id}, {}) REMOVE {}, {}",
            expr.value(s(order.id.as_str())),
            expr.name(GSI3PK),
            expr.name(GSI3SK)
        );
        let condition = format!("attribute_exists({})", expr.name(PK));
        self.tx_update(
            hold_key(order.event_id, order.hold_id),
            update,
            condition,
            expr,
        )
    }

    /// Creates the order unless it exists and gives it its tickets, if it has none and is
    /// still pending (or expired and paid late).
    pub(super) fn order_takes_tickets(
        &self,
        request: &NewTickets,
    ) -> Result<TransactWriteItem, StoreError> {
        let order = Order {
            status: OrderStatus::Pending,
            ..request.order.clone()
        };
        let mut expr = Expr::default();
        let due = order_due(&order.id, order.created_at + FIRST_ORDER_CHECK);
        let sets: Vec<String> = items::order_creation_attributes(&order)
            .into_iter()
            .chain(due)
            .map(|(attribute, value)| {
                let name = expr.name(attribute);
                format!("{name} = if_not_exists({name}, {})", expr.value(value))
            })
            .collect();
        let tickets = expr.name("ticketIds");
        let ids: Vec<_> = request.tickets.iter().map(|draft| draft.id).collect();
        let update = format!(
            "SET {}, {tickets} = {}",
            sets.join(", "),
            expr.value(items::ticket_ids(&ids))
        );
        let status = expr.name("status");
        let condition = format!(
            "attribute_not_exists({tickets}) AND attribute_not_exists({}) \
             AND (attribute_not_exists({}) OR {status} IN ({}, {}))",
            expr.name("ticketId"),
            expr.name(PK),
            expr.value(s(OrderStatus::Pending.as_str())),
            expr.value(s(OrderStatus::Expired.as_str()))
        );
        self.tx_update(order_key(&order.id), update, condition, expr)
    }
}

/// The update that writes an edit to the event item, and its condition: the version it was
/// judged against, and the seats within the new capacity and under each type's ceiling.
/// `view` is the event as read just before: which types are new, and the counts a repriced
/// one-price type is judged by.
pub(super) fn event_change(update: &EventUpdate, view: &EventView) -> (String, String, Expr) {
    let event = &update.event;
    let mut attributes = items::editable_attributes(event);
    attributes.push(("version".to_owned(), n(update.expected_version + 1)));
    for ticket_type in &event.ticket_types {
        let is_new = view.event.ticket_type(ticket_type.id).is_none();
        for (what, value) in [
            ("Quota", Some(ticket_type.quota)),
            ("Taken", is_new.then_some(0)),
            ("Sold", is_new.then_some(0)),
            ("CheckedIn", is_new.then_some(0)),
        ] {
            if let (Some(name), Some(value)) =
                (items::type_attribute(event.id, ticket_type.id, what), value)
            {
                attributes.push((name, n(value)));
            }
        }
    }
    let mut expr = Expr::default();
    let sets: Vec<String> = attributes
        .into_iter()
        .map(|(name, value)| format!("{} = {}", expr.name(&name), expr.value(value)))
        .collect();
    let mut conditions = vec![
        format!("attribute_exists({})", expr.name(PK)),
        version_is(&mut expr, update.expected_version),
        format!(
            "{} <= {}",
            expr.name("taken"),
            expr.value(n(event.capacity))
        ),
    ];
    for (&type_id, &ceiling) in &update.type_ceilings {
        match items::type_attribute(event.id, type_id, "Taken") {
            Some(taken) => conditions.push(format!(
                "{} <= {}",
                expr.name(&taken),
                expr.value(n(ceiling))
            )),
            // The one-price type's seats are the event's less the other types': a condition
            // cannot subtract, so the others are pinned to the counts read.
            None if ceiling < event.capacity => {
                let mut others = 0;
                for (&other, counts) in &view.type_seats {
                    if let Some(name) = items::type_attribute(event.id, other, "Taken") {
                        conditions.push(format!(
                            "{} = {}",
                            expr.name(&name),
                            expr.value(n(counts.taken))
                        ));
                        others += counts.taken;
                    }
                }
                conditions.push(format!(
                    "{} <= {}",
                    expr.name("taken"),
                    expr.value(n(ceiling + others))
                ));
            }
            None => {}
        }
    }
    (
        format!("SET {}", sets.join(", ")),
        conditions.join(" AND "),
        expr,
    )
}

#[cfg(test)]
mod tests {
    use chrono::{TimeDelta, Utc};
    use ticket_core::ids::RandomIds;
    use ticket_core::{EventEdit, NewEvent, NewTicketType, TicketTypeEdit, UserId};

    use super::*;

    /// DynamoDB refuses an expression longer than 4 KB (moto does not check).
    const MAX_EXPRESSION_BYTES: usize = 4096;

    #[test]
    fn an_edit_of_the_most_types_fits_dynamodbs_expression_limit() {
        let now = Utc::now();
        let type_named = |name: String| NewTicketType {
            name,
            price_minor: 100,
            quota: 5,
            ..NewTicketType::default()
        };
        let event = NewEvent {
            title: "Many types".into(),
            venue: "Hall".into(),
            starts_at: Some(now + TimeDelta::days(3)),
            capacity: 100,
            currency: "EUR".into(),
            ticket_types: Some(vec![type_named("First".into())]),
            ..NewEvent::default()
        }
        .validate(
            EventId::new(&RandomIds),
            UserId::from("org"),
            now,
            &RandomIds,
        )
        .unwrap();
        let view = EventView::new(event);
        // Nineteen new types, each with its counters, and the first repriced.
        let mut edit = EventEdit::of(&view.event);
        edit.ticket_types[0].fields.price_minor = 200;
        edit.ticket_types.extend((2..=20).map(|n| TicketTypeEdit {
            id: None,
            fields: type_named(format!("Type {n}")),
        }));
        let update = edit.plan(&view, now, &RandomIds).unwrap();
        assert_eq!(update.event.ticket_types.len(), 20);
        let (change, condition, _) = event_change(&update, &view);
        assert!(
            change.len() <= MAX_EXPRESSION_BYTES,
            "{} bytes",
            change.len()
        );
        assert!(
            condition.len() <= MAX_EXPRESSION_BYTES,
            "{} bytes",
            condition.len()
        );
        // And once they all exist, an edit that changes every quota.
        let view = EventView {
            version: 2,
            ..EventView::new(update.event)
        };
        let mut edit = EventEdit::of(&view.event);
        for ticket_type in &mut edit.ticket_types {
            ticket_type.fields.quota = 4;
        }
        let update = edit.plan(&view, now, &RandomIds).unwrap();
        let (change, condition, _) = event_change(&update, &view);
        assert!(
            change.len() <= MAX_EXPRESSION_BYTES,
            "{} bytes",
            change.len()
        );
        assert!(
            condition.len() <= MAX_EXPRESSION_BYTES,
            "{} bytes",
            condition.len()
        );
    }
}
