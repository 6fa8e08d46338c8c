//! The table layout: keys, and the mapping between items and the core types.
//!
//! One table, string keys `PK` and `SK`; `GSI1` (organizer's events, user's tickets) and `GSI2`
//! (upcoming events) over `GSI1PK`/`GSI1SK` and `GSI2PK`/`GSI2SK`; `GSI3` (what reconciliation
//! may have to act on, see `due.rs`). `cdk/table-schema.json` holds the table definition.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Display;
use std::str::FromStr;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use ticket_core::cancellation::CancellationFailure;
use ticket_core::event::{Cancellation, Visibility};
use ticket_core::local_time::DEFAULT_TIME_ZONE;
use ticket_core::ticket_type::legacy_type_id;
use ticket_core::time::{from_key, to_key};
use ticket_core::{
    Attendee, Discount, Event, EventId, EventView, FIRST_ORDER_CHECK, Hold, HoldId, HoldStatus,
    Money, Order, OrderId, OrderStatus, OrganizerProfile, PromoCode, PromoCodeView, RegistrationId,
    SeatCounts, Seats, StoreError, Ticket, TicketId, TicketType, TicketTypeId, UserId,
};

use super::due::{hold_due, order_due};

pub(crate) type Item = HashMap<String, AttributeValue>;

pub(crate) const PK: &str = "PK";
pub(crate) const SK: &str = "SK";
pub(crate) const GSI1: &str = "GSI1";
pub(crate) const GSI1PK: &str = "GSI1PK";
pub(crate) const GSI1SK: &str = "GSI1SK";
pub(crate) const GSI2: &str = "GSI2";
pub(crate) const GSI2PK: &str = "GSI2PK";
pub(crate) const GSI2SK: &str = "GSI2SK";
/// Epoch seconds after which DynamoDB may delete the item (released holds only).
pub(crate) const TTL: &str = "ttl";

/// The partition of every event on `GSI2`, sorted by start time.
pub(crate) const EVENTS_PARTITION: &str = "EVENTS";
const METADATA: &str = "METADATA";
pub(crate) const HOLD_PREFIX: &str = "HOLD#";
pub(crate) const REGISTRATION_PREFIX: &str = "REG#";
pub(crate) const PROMO_PREFIX: &str = "PROMO#";
pub(crate) const CANCELLATION_FAILURE_PREFIX: &str = "CANCELFAIL#";

pub(crate) fn s(text: impl Into<String>) -> AttributeValue {
    AttributeValue::S(text.into())
}

pub(crate) fn n(number: impl Display) -> AttributeValue {
    AttributeValue::N(number.to_string())
}

fn key(pk: String, sk: String) -> Item {
    HashMap::from([(PK.to_owned(), s(pk)), (SK.to_owned(), s(sk))])
}

pub(crate) fn event_partition(id: EventId) -> String {
    format!("EVENT#{id}")
}

pub(crate) fn event_key(id: EventId) -> Item {
    key(event_partition(id), METADATA.to_owned())
}

pub(crate) fn hold_key(event_id: EventId, hold_id: HoldId) -> Item {
    key(event_partition(event_id), format!("{HOLD_PREFIX}{hold_id}"))
}

/// A promo code sits in its event's partition, so an event's codes are one query.
pub(crate) fn promo_key(event_id: EventId, code: &str) -> Item {
    key(event_partition(event_id), format!("{PROMO_PREFIX}{code}"))
}

/// An organizer's profile sits under their own partition (the events index uses `ORG#` as a
/// GSI1 partition only, never as a table key).
pub(crate) fn organizer_key(user: &UserId) -> Item {
    key(organizer_partition(user), "PROFILE".to_owned())
}

pub(crate) fn organizer_item(profile: &OrganizerProfile) -> Item {
    let mut item = organizer_key(&profile.user_id);
    item.extend([
        ("userId".to_owned(), s(profile.user_id.as_str())),
        ("displayName".to_owned(), s(&profile.display_name)),
        ("contactEmail".to_owned(), s(&profile.contact_email)),
        ("updatedAt".to_owned(), s(to_key(profile.updated_at))),
    ]);
    item
}

pub(crate) fn organizer_from_item(item: &Item) -> Result<OrganizerProfile, StoreError> {
    let a = Attrs(item);
    Ok(OrganizerProfile {
        user_id: UserId::from(a.string("userId")?),
        display_name: a.string("displayName")?,
        contact_email: a.string("contactEmail")?,
        updated_at: a.time("updatedAt")?,
    })
}

pub(crate) fn order_key(id: &OrderId) -> Item {
    key(format!("ORDER#{id}"), METADATA.to_owned())
}

pub(crate) fn ticket_key(id: TicketId) -> Item {
    key(format!("TICKET#{id}"), METADATA.to_owned())
}

pub(crate) fn registration_key(event_id: EventId, id: RegistrationId) -> Item {
    key(
        event_partition(event_id),
        format!("{REGISTRATION_PREFIX}{id}"),
    )
}

pub(crate) fn organizer_partition(organizer: &UserId) -> String {
    format!("ORG#{organizer}")
}

pub(crate) fn user_partition(user: &UserId) -> String {
    format!("USER#{user}")
}

/// The event-item attribute of a ticket type's counter (`Taken`, `Sold`, `CheckedIn`) or of its
/// `Quota`. The type named by the event's own id (every event of one price, and every event
/// from before ticket types) has none: its seats are the event's less the other types' (an
/// edit may add types to it), and its quota is the capacity (an edit keeps it so).
pub(crate) fn type_attribute(
    event_id: EventId,
    type_id: TicketTypeId,
    what: &str,
) -> Option<String> {
    (type_id != legacy_type_id(event_id)).then(|| format!("t{}{what}", type_id.as_uuid().simple()))
}

/// The attributes of an event that an edit may change (its counters aside), with the index
/// keys that sort by its start.
pub(crate) fn editable_attributes(event: &Event) -> Vec<(String, AttributeValue)> {
    let starts = to_key(event.starts_at);
    vec![
        ("title".to_owned(), s(&event.title)),
        ("description".to_owned(), s(&event.description)),
        ("venue".to_owned(), s(&event.venue)),
        ("startsAt".to_owned(), s(&starts)),
        // NULL when there is none, so an edit that drops the end overwrites it.
        (
            "endsAt".to_owned(),
            event
                .ends_at
                .map_or(AttributeValue::Null(true), |end| s(to_key(end))),
        ),
        ("timeZone".to_owned(), s(event.time_zone.name())),
        // NULL when buyers cannot cancel, likewise.
        (
            "cancellationCutoffHours".to_owned(),
            event
                .cancellation_cutoff_hours
                .map_or(AttributeValue::Null(true), n),
        ),
        ("capacity".to_owned(), n(event.capacity)),
        (
            "priceMinor".to_owned(),
            n(event.lowest_price().amount_minor),
        ),
        (
            "ticketTypes".to_owned(),
            s(serde_json::to_string(&event.ticket_types).expect("ticket types serialize")),
        ),
        (GSI1SK.to_owned(), s(format!("EVENT#{starts}#{}", event.id))),
        (GSI2SK.to_owned(), s(format!("{starts}#{}", event.id))),
    ]
}

/// A new event's item, with no seats taken.
pub(crate) fn event_item(event: &Event) -> Item {
    let mut item = event_key(event.id);
    item.extend(editable_attributes(event));
    item.extend([
        ("id".to_owned(), s(event.id.to_string())),
        ("organizerId".to_owned(), s(event.organizer_id.as_str())),
        ("version".to_owned(), n(1)),
        ("taken".to_owned(), n(0)),
        ("sold".to_owned(), n(0)),
        ("checkedIn".to_owned(), n(0)),
        ("currency".to_owned(), s(event.currency.code())),
        ("createdAt".to_owned(), s(to_key(event.created_at))),
        (
            GSI1PK.to_owned(),
            s(organizer_partition(&event.organizer_id)),
        ),
        // A draft: out of the upcoming events' index (GSI2PK) until it is published.
        ("visibility".to_owned(), s(Visibility::Draft.as_str())),
    ]);
    for ticket_type in &event.ticket_types {
        for (what, value) in [
            ("Taken", 0),
            ("Sold", 0),
            ("CheckedIn", 0),
            ("Quota", ticket_type.quota),
        ] {
            if let Some(name) = type_attribute(event.id, ticket_type.id, what) {
                item.insert(name, n(value));
            }
        }
    }
    item
}

pub(crate) fn hold_item(hold: &Hold) -> Item {
    let mut item = hold_key(hold.event_id, hold.id);
    item.extend([
        ("holdId".to_owned(), s(hold.id.to_string())),
        ("eventId".to_owned(), s(hold.event_id.to_string())),
        ("userId".to_owned(), s(hold.user_id.as_str())),
        (
            "seats".to_owned(),
            AttributeValue::M(
                hold.seats
                    .iter()
                    .map(|(type_id, count)| (type_id.to_string(), n(count)))
                    .collect(),
            ),
        ),
        ("status".to_owned(), s(hold.status.as_str())),
        ("expiresAt".to_owned(), s(to_key(hold.expires_at))),
        ("createdAt".to_owned(), s(to_key(hold.created_at))),
    ]);
    if let Some(code) = &hold.promo_code {
        item.insert("promoCode".to_owned(), s(code));
    }
    if hold.status == HoldStatus::Held {
        item.extend(hold_due(hold).map(|(name, value)| (name.to_owned(), value)));
    }
    item
}

/// A new promo code's item, with no use yet. `used` and `maxUses` are numbers a hold's
/// condition compares (`used < maxUses`).
pub(crate) fn promo_item(promo: &PromoCode) -> Item {
    let mut item = promo_key(promo.event_id, &promo.code);
    let (discount, amount) = match promo.discount {
        Discount::Percent(percent) => ("percentOff", i64::from(percent)),
        Discount::AmountOff(amount) => ("amountOffMinor", amount),
    };
    item.extend([
        ("eventId".to_owned(), s(promo.event_id.to_string())),
        ("code".to_owned(), s(&promo.code)),
        (discount.to_owned(), n(amount)),
        (
            "ticketTypeIds".to_owned(),
            s(serde_json::to_string(&promo.ticket_type_ids).expect("ids serialize")),
        ),
        ("maxUses".to_owned(), n(promo.max_uses)),
        ("used".to_owned(), n(0)),
        ("createdAt".to_owned(), s(to_key(promo.created_at))),
    ]);
    for (name, at) in [
        ("validFrom", promo.valid_from),
        ("validUntil", promo.valid_until),
    ] {
        if let Some(at) = at {
            item.insert(name.to_owned(), s(to_key(at)));
        }
    }
    item
}

pub(crate) fn promo_from_item(item: &Item) -> Result<PromoCodeView, StoreError> {
    let a = Attrs(item);
    let discount = match (item.get("percentOff"), item.get("amountOffMinor")) {
        (Some(_), None) => Discount::Percent(a.number("percentOff")?),
        (None, Some(_)) => Discount::AmountOff(a.number("amountOffMinor")?),
        _ => return Err(corrupt("percentOff")),
    };
    Ok(PromoCodeView {
        promo: PromoCode {
            event_id: a.parse("eventId")?,
            code: a.string("code")?,
            discount,
            ticket_type_ids: serde_json::from_str(a.text("ticketTypeIds")?)
                .map_err(|_| corrupt("ticketTypeIds"))?,
            max_uses: a.number("maxUses")?,
            valid_from: a.optional_time("validFrom")?,
            valid_until: a.optional_time("validUntil")?,
            created_at: a.time("createdAt")?,
        },
        used: a.number("used")?,
    })
}

/// An order's tickets, in the buyer's order.
pub(crate) fn ticket_ids(ids: &[TicketId]) -> AttributeValue {
    AttributeValue::L(ids.iter().map(|id| s(id.to_string())).collect())
}

/// The attributes of an order that are set once, when it is created (all but `ticketIds`).
pub(crate) fn order_creation_attributes(order: &Order) -> Vec<(&'static str, AttributeValue)> {
    let mut attributes = vec![
        ("orderId", s(order.id.as_str())),
        ("eventId", s(order.event_id.to_string())),
        ("holdId", s(order.hold_id.to_string())),
        ("userId", s(order.user_id.as_str())),
        ("amountMinor", n(order.amount.amount_minor)),
        ("currency", s(order.amount.currency.code())),
        ("status", s(order.status.as_str())),
        ("createdAt", s(to_key(order.created_at))),
        ("updatedAt", s(to_key(order.updated_at))),
    ];
    if let Some(payment) = &order.payment_intent_id {
        attributes.push(("paymentIntentId", s(payment)));
    }
    if let Some(reason) = &order.failure_reason {
        attributes.push(("failureReason", s(reason)));
    }
    attributes
}

pub(crate) fn order_item(order: &Order) -> Item {
    let mut item = order_key(&order.id);
    item.extend(
        order_creation_attributes(order)
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value)),
    );
    if !order.ticket_ids.is_empty() {
        item.insert("ticketIds".to_owned(), ticket_ids(&order.ticket_ids));
    }
    if order.status == OrderStatus::Pending {
        let due = order_due(&order.id, order.created_at + FIRST_ORDER_CHECK);
        item.extend(due.map(|(name, value)| (name.to_owned(), value)));
    }
    item
}

/// The attributes the ticket item and its registration item share.
fn ticket_attributes(ticket: &Ticket) -> Vec<(String, AttributeValue)> {
    let mut attributes = vec![
        ("ticketId", s(ticket.id.to_string())),
        ("eventId", s(ticket.event_id.to_string())),
        ("orderId", s(ticket.order_id.as_str())),
        ("registrationId", s(ticket.registration_id.to_string())),
        ("userId", s(ticket.user_id.as_str())),
        ("ticketTypeId", s(ticket.ticket_type_id.to_string())),
        ("attendeeName", s(&ticket.attendee.name)),
        ("attendeeEmail", s(&ticket.attendee.email)),
        ("status", s(ticket.status.as_str())),
        ("createdAt", s(to_key(ticket.created_at))),
    ];
    if let Some(at) = ticket.used_at {
        attributes.push(("usedAt", s(to_key(at))));
    }
    if let Some(by) = &ticket.used_by {
        attributes.push(("usedBy", s(by.as_str())));
    }
    if let Some(pdf) = &ticket.pdf_key {
        attributes.push(("pdfKey", s(pdf)));
    }
    attributes
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect()
}

pub(crate) fn ticket_item(ticket: &Ticket) -> Item {
    let mut item = ticket_key(ticket.id);
    item.extend(ticket_attributes(ticket));
    item.insert(GSI1PK.to_owned(), s(user_partition(&ticket.user_id)));
    item.insert(
        GSI1SK.to_owned(),
        s(format!(
            "TICKET#{}#{}",
            to_key(ticket.created_at),
            ticket.id
        )),
    );
    item
}

/// The attendee list entry: the ticket's attributes under the event's partition.
pub(crate) fn registration_item(ticket: &Ticket) -> Item {
    let mut item = registration_key(ticket.event_id, ticket.registration_id);
    item.extend(ticket_attributes(ticket));
    item
}

/// Reads typed attributes out of an item; a missing or malformed one is `Internal`.
struct Attrs<'a>(&'a Item);

fn corrupt(name: &str) -> StoreError {
    StoreError::Internal(format!(
        "corrupt item: attribute {name} is missing or malformed"
    ))
}

impl Attrs<'_> {
    fn text(&self, name: &str) -> Result<&str, StoreError> {
        self.optional_text(name)?.ok_or_else(|| corrupt(name))
    }

    fn optional_text(&self, name: &str) -> Result<Option<&str>, StoreError> {
        match self.0.get(name) {
            None | Some(AttributeValue::Null(_)) => Ok(None),
            Some(AttributeValue::S(text)) => Ok(Some(text)),
            Some(_) => Err(corrupt(name)),
        }
    }

    fn parse<T: FromStr>(&self, name: &str) -> Result<T, StoreError> {
        self.text(name)?.parse().map_err(|_| corrupt(name))
    }

    fn number<T: FromStr>(&self, name: &str) -> Result<T, StoreError> {
        match self.0.get(name) {
            Some(AttributeValue::N(number)) => number.parse().map_err(|_| corrupt(name)),
            _ => Err(corrupt(name)),
        }
    }

    fn optional_number<T: FromStr>(&self, name: &str) -> Result<Option<T>, StoreError> {
        match self.0.get(name) {
            None | Some(AttributeValue::Null(_)) => Ok(None),
            Some(_) => self.number(name).map(Some),
        }
    }

    fn time(&self, name: &str) -> Result<DateTime<Utc>, StoreError> {
        from_key(self.text(name)?).ok_or_else(|| corrupt(name))
    }

    fn optional_time(&self, name: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.optional_text(name)?
            .map(|text| from_key(text).ok_or_else(|| corrupt(name)))
            .transpose()
    }

    fn string(&self, name: &str) -> Result<String, StoreError> {
        self.text(name).map(str::to_owned)
    }

    fn optional_string(&self, name: &str) -> Result<Option<String>, StoreError> {
        Ok(self.optional_text(name)?.map(str::to_owned))
    }
}

/// Reads an event item, in either shape: with `ticketTypes` and their counters, or from before
/// ticket types (one type, the event's price and capacity, counted by the event's counters).
pub(crate) fn event_from_item(item: &Item) -> Result<EventView, StoreError> {
    let a = Attrs(item);
    let id: EventId = a.parse("id")?;
    let capacity = a.number("capacity")?;
    let ticket_types: Vec<TicketType> = match a.optional_text("ticketTypes")? {
        Some(json) => serde_json::from_str(json).map_err(|_| corrupt("ticketTypes"))?,
        None => vec![TicketType::legacy(id, a.number("priceMinor")?, capacity)],
    };
    let seats = SeatCounts {
        taken: a.number("taken")?,
        sold: a.number("sold")?,
        checked_in: a.number("checkedIn")?,
    };
    let mut type_seats = BTreeMap::new();
    for ticket_type in &ticket_types {
        let counter = |what| type_attribute(id, ticket_type.id, what).map(|name| a.number(&name));
        if let (Some(taken), Some(sold), Some(checked_in)) =
            (counter("Taken"), counter("Sold"), counter("CheckedIn"))
        {
            let counts = SeatCounts {
                taken: taken?,
                sold: sold?,
                checked_in: checked_in?,
            };
            type_seats.insert(ticket_type.id, counts);
        }
    }
    // The one-price type counts by the event's counters: its seats are the rest.
    let legacy = legacy_type_id(id);
    if ticket_types
        .iter()
        .any(|ticket_type| ticket_type.id == legacy)
    {
        let others = type_seats
            .values()
            .fold(SeatCounts::default(), |sum, counts| SeatCounts {
                taken: sum.taken + counts.taken,
                sold: sum.sold + counts.sold,
                checked_in: sum.checked_in + counts.checked_in,
            });
        let rest = SeatCounts {
            taken: seats
                .taken
                .checked_sub(others.taken)
                .ok_or_else(|| corrupt("taken"))?,
            sold: seats
                .sold
                .checked_sub(others.sold)
                .ok_or_else(|| corrupt("sold"))?,
            checked_in: seats
                .checked_in
                .checked_sub(others.checked_in)
                .ok_or_else(|| corrupt("checkedIn"))?,
        };
        type_seats.insert(legacy, rest);
    }
    Ok(EventView {
        event: Event {
            id,
            organizer_id: UserId::from(a.string("organizerId")?),
            title: a.string("title")?,
            description: a.string("description")?,
            venue: a.string("venue")?,
            starts_at: a.time("startsAt")?,
            ends_at: a.optional_time("endsAt")?,
            cancellation_cutoff_hours: a.optional_number("cancellationCutoffHours")?,
            // Items from before time zones have none: they were shown in UTC.
            time_zone: a
                .optional_text("timeZone")?
                .map_or(Ok(DEFAULT_TIME_ZONE), str::parse)
                .map_err(|_| corrupt("timeZone"))?,
            capacity,
            currency: a.parse("currency")?,
            ticket_types,
            created_at: a.time("createdAt")?,
        },
        // Items from before edits have no version: their first.
        version: match a.0.get("version") {
            None => 1,
            Some(_) => a.number("version")?,
        },
        seats,
        type_seats,
        // Items from before drafts were all on sale.
        visibility: a
            .optional_text("visibility")?
            .map_or(Ok(Visibility::Published), str::parse)
            .map_err(|_| corrupt("visibility"))?,
        cancellation: match a.optional_time("cancelledAt")? {
            Some(requested_at) => Some(Cancellation {
                requested_at,
                sold_then: a.number("soldWhenCancelled")?,
                finished_at: a.optional_time("cancellationFinishedAt")?,
            }),
            None => None,
        },
    })
}

/// An order whose refund failed when its event was cancelled: `EVENT#<eventId>` /
/// `CANCELFAIL#<orderId>`.
pub(crate) fn cancellation_failure_key(event_id: EventId, order_id: &OrderId) -> Item {
    key(
        event_partition(event_id),
        format!("{CANCELLATION_FAILURE_PREFIX}{order_id}"),
    )
}

pub(crate) fn cancellation_failure_item(failure: &CancellationFailure) -> Item {
    let mut item = cancellation_failure_key(failure.event_id, &failure.order_id);
    item.extend([
        ("eventId".to_owned(), s(failure.event_id.to_string())),
        ("orderId".to_owned(), s(failure.order_id.as_str())),
        ("reason".to_owned(), s(&failure.reason)),
        ("at".to_owned(), s(to_key(failure.at))),
    ]);
    item
}

pub(crate) fn cancellation_failure_from_item(
    item: &Item,
) -> Result<CancellationFailure, StoreError> {
    let a = Attrs(item);
    Ok(CancellationFailure {
        event_id: a.parse("eventId")?,
        order_id: OrderId::from(a.string("orderId")?),
        reason: a.string("reason")?,
        at: a.time("at")?,
    })
}

/// A hold's or ticket's type: absent from items written before ticket types, whose events
/// have the one type their id names.
fn type_of(a: &Attrs<'_>, event_id: EventId) -> Result<TicketTypeId, StoreError> {
    match a.optional_text("ticketTypeId")? {
        Some(text) => text.parse().map_err(|_| corrupt("ticketTypeId")),
        None => Ok(legacy_type_id(event_id)),
    }
}

/// A hold's seats, `{"<type id>": <count>}`: absent from holds written before orders of
/// several tickets, which took one seat of their `ticketTypeId`.
fn seats_of(a: &Attrs<'_>, event_id: EventId) -> Result<Seats, StoreError> {
    let Some(seats) = a.0.get("seats") else {
        return Ok(Seats::one(type_of(a, event_id)?));
    };
    let counts = seats
        .as_m()
        .map_err(|_| corrupt("seats"))?
        .iter()
        .map(|(type_id, count)| {
            let type_id: TicketTypeId = type_id.parse().ok()?;
            let count: u32 = count.as_n().ok()?.parse().ok()?;
            Some((type_id, count))
        });
    counts
        .collect::<Option<Seats>>()
        .ok_or_else(|| corrupt("seats"))
}

pub(crate) fn hold_from_item(item: &Item) -> Result<Hold, StoreError> {
    let a = Attrs(item);
    let event_id = a.parse("eventId")?;
    Ok(Hold {
        id: a.parse("holdId")?,
        event_id,
        seats: seats_of(&a, event_id)?,
        promo_code: a.optional_string("promoCode")?,
        user_id: UserId::from(a.string("userId")?),
        status: a.parse("status")?,
        expires_at: a.time("expiresAt")?,
        created_at: a.time("createdAt")?,
    })
}

/// An order's `ticketIds`; an order recorded before orders of several tickets has its one
/// `ticketId` instead.
fn order_tickets(a: &Attrs<'_>) -> Result<Vec<TicketId>, StoreError> {
    if let Some(id) = a.optional_text("ticketId")? {
        return Ok(vec![id.parse().map_err(|_| corrupt("ticketId"))?]);
    }
    let Some(ids) = a.0.get("ticketIds") else {
        return Ok(Vec::new());
    };
    let ids = ids.as_l().map_err(|_| corrupt("ticketIds"))?;
    ids.iter()
        .map(|id| id.as_s().ok()?.parse().ok())
        .collect::<Option<_>>()
        .ok_or_else(|| corrupt("ticketIds"))
}

pub(crate) fn order_from_item(item: &Item) -> Result<Order, StoreError> {
    let a = Attrs(item);
    Ok(Order {
        id: OrderId::from(a.string("orderId")?),
        event_id: a.parse("eventId")?,
        hold_id: a.parse("holdId")?,
        user_id: UserId::from(a.string("userId")?),
        payment_intent_id: a.optional_string("paymentIntentId")?,
        amount: Money {
            amount_minor: a.number("amountMinor")?,
            currency: a.parse("currency")?,
        },
        status: a.parse("status")?,
        ticket_ids: order_tickets(&a)?,
        failure_reason: a.optional_string("failureReason")?,
        created_at: a.time("createdAt")?,
        updated_at: a.time("updatedAt")?,
    })
}

/// Reads a ticket item or a registration item (they carry the same attributes).
pub(crate) fn ticket_from_item(item: &Item) -> Result<Ticket, StoreError> {
    let a = Attrs(item);
    let event_id = a.parse("eventId")?;
    Ok(Ticket {
        id: a.parse("ticketId")?,
        event_id,
        ticket_type_id: type_of(&a, event_id)?,
        order_id: OrderId::from(a.string("orderId")?),
        registration_id: a.parse("registrationId")?,
        user_id: UserId::from(a.string("userId")?),
        attendee: Attendee {
            name: a.string("attendeeName")?,
            email: a.string("attendeeEmail")?,
        },
        status: a.parse("status")?,
        used_at: a.optional_time("usedAt")?,
        used_by: a.optional_string("usedBy")?.map(UserId::from),
        pdf_key: a.optional_string("pdfKey")?,
        created_at: a.time("createdAt")?,
    })
}

/// The item's table key, `PK/SK`, for the log.
fn key_of(item: &Item) -> String {
    let part = |name: &str| match item.get(name) {
        Some(AttributeValue::S(text)) => text.clone(),
        Some(other) => format!("{other:?}"),
        None => "?".to_owned(),
    };
    format!("{}/{}", part(PK), part(SK))
}

/// Decodes one item the caller asked for. One that cannot be read is logged with its key and
/// is an `Internal` error naming it: a clear failure of that read, and of nothing else.
pub(crate) fn decoded<T>(
    item: &Item,
    decode: fn(&Item) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    decode(item).map_err(|error| {
        let key = key_of(item);
        tracing::error!(key, %error, "a stored item cannot be read");
        StoreError::Internal(format!("the item {key} cannot be read: {error}"))
    })
}

/// Decodes the items of a list: one that cannot be read is logged with its key and skipped,
/// so one bad item never takes a whole list down.
pub(crate) fn decodable<T>(items: &[Item], decode: fn(&Item) -> Result<T, StoreError>) -> Vec<T> {
    items
        .iter()
        .filter_map(|item| match decode(item) {
            Ok(value) => Some(value),
            Err(error) => {
                let key = key_of(item);
                tracing::error!(key, %error, "skipped a stored item that cannot be read");
                None
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;
    use ticket_core::{HoldStatus, OrderStatus, TicketStatus};
    use uuid::Uuid;

    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        from_key(text).unwrap()
    }

    #[test]
    fn events_round_trip_with_their_index_keys() {
        let id = EventId::from(Uuid::now_v7());
        let vip = TicketType {
            id: TicketTypeId::from(Uuid::now_v7()),
            name: "VIP".into(),
            quota: 2,
            sales_end: Some(at("2030-01-01T00:00:00.000Z")),
            ..TicketType::legacy(id, 4000, 7)
        };
        let event = Event {
            id,
            organizer_id: UserId::from("org-1"),
            title: "Meetup".into(),
            description: String::new(),
            venue: "Hall".into(),
            starts_at: at("2030-01-02T03:04:05.006Z"),
            ends_at: None,
            time_zone: ticket_core::Tz::UTC,
            cancellation_cutoff_hours: None,
            capacity: 7,
            currency: "EUR".parse().unwrap(),
            ticket_types: vec![TicketType::legacy(id, 1500, 7), vip.clone()],
            created_at: at("2029-12-01T00:00:00.000Z"),
        };
        let item = event_item(&event);
        let view = event_from_item(&item).unwrap();
        assert_eq!(view.event, event);
        assert_eq!(view.seats, SeatCounts::default());
        assert_eq!(view.type_seats(vip.id), SeatCounts::default());
        // The VIP type has counters of its own; the one named by the event's id is counted by
        // the event's.
        let vip_quota = format!("t{}Quota", vip.id.as_uuid().simple());
        assert_eq!(item[&vip_quota], n(2));
        assert_eq!(
            item.keys()
                .filter(|k| k.starts_with('t') && k.ends_with("Quota"))
                .count(),
            1
        );
        assert_eq!(item[GSI1PK], s("ORG#org-1"));
        assert_eq!(
            item[GSI2SK],
            s(format!("2030-01-02T03:04:05.006Z#{}", event.id))
        );
    }

    #[test]
    fn an_event_item_from_before_ticket_types_reads_as_one_type() {
        let id = EventId::from(Uuid::now_v7());
        let mut item = event_item(&Event {
            id,
            organizer_id: UserId::from("org-1"),
            title: "Old".into(),
            description: String::new(),
            venue: "Hall".into(),
            starts_at: at("2030-01-02T03:04:05.006Z"),
            ends_at: None,
            time_zone: ticket_core::Tz::Europe__Zurich,
            cancellation_cutoff_hours: None,
            capacity: 9,
            currency: "EUR".parse().unwrap(),
            ticket_types: vec![TicketType::legacy(id, 1500, 9)],
            created_at: at("2029-12-01T00:00:00.000Z"),
        });
        item.remove("ticketTypes");
        item.remove("version");
        item.remove("timeZone");
        item.remove("endsAt");
        item.insert("taken".into(), n(4));
        let view = event_from_item(&item).unwrap();
        assert_eq!(
            (view.event.time_zone, view.event.ends_at),
            (DEFAULT_TIME_ZONE, None),
            "an item from before time zones is shown in UTC"
        );
        assert_eq!(view.event.ticket_types, [TicketType::legacy(id, 1500, 9)]);
        assert_eq!(view.type_seats(legacy_type_id(id)).taken, 4);
        assert_eq!(view.version, 1, "an item from before edits is at its first");
        let mut hold = hold_item(&Hold {
            id: HoldId::from(Uuid::now_v7()),
            event_id: id,
            seats: Seats::one(legacy_type_id(id)),
            promo_code: None,
            user_id: UserId::from("u"),
            status: HoldStatus::Held,
            expires_at: at("2030-01-01T00:30:00.000Z"),
            created_at: at("2030-01-01T00:00:00.000Z"),
        });
        hold.remove("seats");
        assert_eq!(
            hold_from_item(&hold).unwrap().seats,
            Seats::one(legacy_type_id(id))
        );
        // Written with ticket types but before orders of several tickets: one seat of its type.
        let vip = TicketTypeId::from(Uuid::now_v7());
        hold.insert("ticketTypeId".into(), s(vip.to_string()));
        assert_eq!(hold_from_item(&hold).unwrap().seats, Seats::one(vip));
    }

    #[test]
    fn holds_orders_and_tickets_round_trip() {
        let ticket_type_id = TicketTypeId::from(Uuid::now_v7());
        let hold = Hold {
            id: HoldId::from(Uuid::now_v7()),
            seats: [(ticket_type_id, 3), (TicketTypeId::from(Uuid::now_v7()), 1)]
                .into_iter()
                .collect(),
            event_id: EventId::from(Uuid::now_v7()),
            promo_code: Some("SPRING-25".into()),
            user_id: UserId::from("u"),
            status: HoldStatus::Held,
            expires_at: at("2030-01-01T00:30:00.000Z"),
            created_at: at("2030-01-01T00:00:00.000Z"),
        };
        assert_eq!(hold_from_item(&hold_item(&hold)).unwrap(), hold);
        let order = Order {
            id: OrderId::from("cs_test_1"),
            event_id: hold.event_id,
            hold_id: hold.id,
            user_id: hold.user_id.clone(),
            payment_intent_id: None,
            amount: Money {
                amount_minor: 0,
                currency: "JPY".parse().unwrap(),
            },
            status: OrderStatus::Failed,
            ticket_ids: vec![
                TicketId::from(Uuid::now_v7()),
                TicketId::from(Uuid::now_v7()),
            ],
            failure_reason: Some("declined".into()),
            created_at: hold.created_at,
            updated_at: hold.created_at + TimeDelta::minutes(1),
        };
        assert_eq!(order_from_item(&order_item(&order)).unwrap(), order);
        let ticket = Ticket {
            id: TicketId::from(Uuid::now_v7()),
            event_id: hold.event_id,
            ticket_type_id,
            order_id: order.id.clone(),
            registration_id: RegistrationId::from(Uuid::now_v7()),
            user_id: hold.user_id.clone(),
            attendee: Attendee {
                name: "Zoë".into(),
                email: "z@example.com".into(),
            },
            status: TicketStatus::Used,
            used_at: Some(hold.expires_at),
            used_by: Some(UserId::from("door")),
            pdf_key: Some("tickets/x.pdf".into()),
            created_at: hold.created_at,
        };
        assert_eq!(ticket_from_item(&ticket_item(&ticket)).unwrap(), ticket);
        assert_eq!(
            ticket_from_item(&registration_item(&ticket)).unwrap(),
            ticket
        );
    }

    #[test]
    fn lists_skip_what_cannot_be_read_and_single_reads_name_it() {
        let good = |minute: u32| Hold {
            id: HoldId::from(Uuid::now_v7()),
            event_id: EventId::from(Uuid::nil()),
            seats: Seats::one(TicketTypeId::from(Uuid::nil())),
            promo_code: None,
            user_id: UserId::from("u"),
            status: HoldStatus::Held,
            expires_at: at(&format!("2030-01-01T00:{minute:02}:00.000Z")),
            created_at: at("2030-01-01T00:00:00.000Z"),
        };
        let (first, last) = (good(1), good(2));
        let mut bad = hold_item(&good(3));
        bad.insert("expiresAt".into(), s("+10000-13-01"));
        let items = [hold_item(&first), bad.clone(), hold_item(&last)];
        assert_eq!(decodable(&items, hold_from_item), [first, last]);
        let Err(StoreError::Internal(message)) = decoded(&bad, hold_from_item) else {
            panic!("a corrupt item must be an internal error");
        };
        assert!(message.starts_with("the item EVENT#"), "{message}");
        assert!(message.contains("expiresAt"), "{message}");
    }

    #[test]
    fn corrupt_items_are_internal_errors() {
        let mut item = event_key(EventId::from(Uuid::nil()));
        item.insert("id".into(), n(5));
        assert!(matches!(
            event_from_item(&item),
            Err(StoreError::Internal(_))
        ));
    }
}
