//! Editing an event after it is made: what the organizer sends (the event's whole editable
//! state, its ticket types named by id), how it is judged against the event as stored, and
//! what the store must still find true when it writes the edit.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::event::{Event, EventView, NewEvent};
use crate::ids::{Ids, TicketTypeId};
use crate::ticket_type::{NewTicketType, legacy_type_id};
use crate::validation::ValidationErrors;

/// How many times a write that raced an edit (or an edit that raced sales) is judged again
/// before the caller is told to try again.
pub const EDIT_RETRIES: usize = 3;

/// An event as its organizer wants it now. Every type the event has must be listed (by `id`;
/// a type is never removed, since tickets, holds and promo codes name it); an entry without
/// `id` adds a type. The currency cannot change: prices were paid in it. The time zone is
/// required: an edit that left it out would move the event's local times.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventEdit {
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub venue: String,
    pub starts_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub ends_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub time_zone: Option<String>,
    /// Absent or null: buyers cannot cancel (as on a new event).
    #[serde(default)]
    pub cancellation_cutoff_hours: Option<i64>,
    pub capacity: i64,
    /// Checked to be the event's own when given.
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub ticket_types: Vec<TicketTypeEdit>,
}

/// One type of an [`EventEdit`]: an existing one (`id`) or a new one.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TicketTypeEdit {
    #[serde(default)]
    pub id: Option<TicketTypeId>,
    #[serde(flatten)]
    pub fields: NewTicketType,
}

/// An edit judged good, for the store to write if the event is still as it was judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventUpdate {
    /// The event as edited.
    pub event: Event,
    /// The version the edit was judged against: the write is refused if the event has another.
    pub expected_version: u32,
    /// Per type the event had, the most seats of it that may be sold or held for the edit to
    /// stand: its new quota, or 0 when its price changes (only unsold tickets are repriced).
    pub type_ceilings: BTreeMap<TicketTypeId, u32>,
}

impl EventUpdate {
    /// Whether `view`'s seats allow the edit: the capacity and each ceiling at least what is
    /// taken. Stores that check before they write judge by this.
    pub fn seats_fit(&self, view: &EventView) -> bool {
        view.seats.taken <= self.event.capacity
            && self
                .type_ceilings
                .iter()
                .all(|(id, ceiling)| view.type_seats(*id).taken <= *ceiling)
    }
}

/// Why an edit is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EditRefusal {
    /// Fields that are wrong whatever the event's state (400).
    Invalid(ValidationErrors),
    /// The event has started: nothing about it changes any more (409).
    Started,
    /// A limit below what is sold and held, or a price of tickets already sold (409), each
    /// naming its field.
    SeatsTaken(Vec<String>),
}

impl EventEdit {
    /// The edit that changes nothing: `event` as it is, for a caller to change what it wants.
    pub fn of(event: &Event) -> Self {
        let ticket_types = event
            .ticket_types
            .iter()
            .map(|ticket_type| TicketTypeEdit {
                id: Some(ticket_type.id),
                fields: NewTicketType {
                    name: ticket_type.name.clone(),
                    description: ticket_type.description.clone(),
                    price_minor: ticket_type.price_minor,
                    quota: i64::from(ticket_type.quota),
                    sales_start: ticket_type.sales_start,
                    sales_end: ticket_type.sales_end,
                    max_per_order: Some(i64::from(ticket_type.max_per_order)),
                },
            })
            .collect();
        Self {
            title: event.title.clone(),
            description: event.description.clone(),
            venue: event.venue.clone(),
            starts_at: Some(event.starts_at),
            ends_at: event.ends_at,
            time_zone: Some(event.time_zone.name().to_owned()),
            cancellation_cutoff_hours: event.cancellation_cutoff_hours.map(i64::from),
            capacity: i64::from(event.capacity),
            currency: None,
            ticket_types,
        }
    }

    /// Judges the edit against the event as `view` has it; new types take ids from `ids`.
    pub fn plan(
        &self,
        view: &EventView,
        now: DateTime<Utc>,
        ids: &dyn Ids,
    ) -> Result<EventUpdate, EditRefusal> {
        let current = &view.event;
        if now >= current.starts_at {
            return Err(EditRefusal::Started);
        }
        let mut errors = self.type_id_errors(current);
        if let Some(currency) = &self.currency
            && !currency.eq_ignore_ascii_case(current.currency.code())
        {
            errors.add(
                "currency",
                format!("cannot change (the event sells in {})", current.currency),
            );
        }
        if self.time_zone.is_none() {
            errors.add(
                "timeZone",
                "is required (the venue's IANA time zone, such as Europe/Zurich)",
            );
        }
        if !errors.0.is_empty() {
            return Err(EditRefusal::Invalid(errors));
        }
        let new_event = NewEvent {
            title: self.title.clone(),
            description: self.description.clone(),
            venue: self.venue.clone(),
            starts_at: self.starts_at,
            ends_at: self.ends_at,
            time_zone: self.time_zone.clone(),
            cancellation_cutoff_hours: self.cancellation_cutoff_hours,
            capacity: self.capacity,
            price_minor: None,
            currency: current.currency.code().to_owned(),
            ticket_types: Some(self.ticket_types.iter().map(|t| t.fields.clone()).collect()),
        };
        let mut type_ids = self.ticket_types.iter().map(|t| t.id);
        let mut event = new_event
            .build(current.id, current.organizer_id.clone(), now, || {
                type_ids
                    .next()
                    .flatten()
                    .unwrap_or_else(|| TicketTypeId::new(ids))
            })
            .map_err(EditRefusal::Invalid)?;
        event.created_at = current.created_at;
        self.check_one_price_type(&event)?;
        let (type_ceilings, taken) = ceilings(view, &event);
        if !taken.is_empty() {
            return Err(EditRefusal::SeatsTaken(taken));
        }
        Ok(EventUpdate {
            event,
            expected_version: view.version,
            type_ceilings,
        })
    }

    /// Each listed id is one of the event's types, listed once, and every type is listed.
    fn type_id_errors(&self, current: &Event) -> ValidationErrors {
        let mut errors = ValidationErrors::default();
        let mut listed = BTreeSet::new();
        for (index, ticket_type) in self.ticket_types.iter().enumerate() {
            let Some(id) = ticket_type.id else { continue };
            if current.ticket_type(id).is_none() {
                errors.add(
                    "ticketTypes",
                    format!("ticket type {}: the event has no type {id}", index + 1),
                );
            } else if !listed.insert(id) {
                errors.add(
                    "ticketTypes",
                    format!("ticket type {}: lists type {id} a second time", index + 1),
                );
            }
        }
        // An unknown id is most likely a mistyped one: the types it leaves out go unsaid.
        let ids_known = errors.0.is_empty();
        for ticket_type in &current.ticket_types {
            if ids_known && !listed.contains(&ticket_type.id) {
                errors.add(
                    "ticketTypes",
                    format!(
                        "must list the type {:?} (id {}): a type cannot be removed, end its \
                         sales instead",
                        ticket_type.name, ticket_type.id
                    ),
                );
            }
        }
        errors
    }

    /// An event made with one price has a type whose seats are the event's own (DynamoDB
    /// counts them by the event's counters): its quota stays the capacity.
    fn check_one_price_type(&self, event: &Event) -> Result<(), EditRefusal> {
        let legacy = legacy_type_id(event.id);
        let Some((index, ticket_type)) = event
            .ticket_types
            .iter()
            .enumerate()
            .find(|(_, ticket_type)| ticket_type.id == legacy)
        else {
            return Ok(());
        };
        if ticket_type.quota == event.capacity {
            return Ok(());
        }
        let mut errors = ValidationErrors::default();
        errors.add(
            "ticketTypes",
            format!(
                "ticket type {} ({:?}): quota must equal the capacity ({}): the event was made \
                 with one price, and this type's seats are the event's",
                index + 1,
                ticket_type.name,
                event.capacity
            ),
        );
        Err(EditRefusal::Invalid(errors))
    }
}

/// The ceilings the store must find true, and the fields the seats taken now already break.
fn ceilings(view: &EventView, event: &Event) -> (BTreeMap<TicketTypeId, u32>, Vec<String>) {
    let mut broken = Vec::new();
    if view.seats.taken > event.capacity {
        broken.push(format!(
            "capacity cannot go below the {} seats sold or held",
            view.seats.taken
        ));
    }
    let mut type_ceilings = BTreeMap::new();
    for (index, ticket_type) in event.ticket_types.iter().enumerate() {
        let Some(before) = view.event.ticket_type(ticket_type.id) else {
            continue;
        };
        let taken = view.type_seats(ticket_type.id).taken;
        let label = format!("ticket type {} ({:?})", index + 1, ticket_type.name);
        if taken > ticket_type.quota {
            broken.push(format!(
                "{label}: quota cannot go below the {taken} tickets of it sold or held"
            ));
        }
        let repriced = before.price_minor != ticket_type.price_minor;
        if repriced && taken > 0 {
            broken.push(format!(
                "{label}: priceMinor cannot change once a ticket of it is sold or held ({taken})"
            ));
        }
        let ceiling = if repriced { 0 } else { ticket_type.quota };
        type_ceilings.insert(ticket_type.id, ceiling);
    }
    (type_ceilings, broken)
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;
    use crate::event::SeatCounts;
    use crate::ids::{EventId, RandomIds, UserId};
    use crate::time::from_key;

    fn now() -> DateTime<Utc> {
        from_key("2030-06-01T12:00:00.000Z").unwrap()
    }

    /// Standard (quota 8, 3 taken) and VIP (quota 2, none taken) under a capacity of 10.
    fn view() -> EventView {
        let types = ["Standard", "VIP"].map(|name| NewTicketType {
            name: name.into(),
            price_minor: 1000,
            quota: if name == "VIP" { 2 } else { 8 },
            ..NewTicketType::default()
        });
        let event = NewEvent {
            title: "Gala".into(),
            venue: "Pier".into(),
            starts_at: Some(now() + TimeDelta::days(9)),
            capacity: 10,
            currency: "EUR".into(),
            ticket_types: Some(types.to_vec()),
            ..NewEvent::default()
        }
        .validate(
            EventId::new(&RandomIds),
            UserId::from("org"),
            now(),
            &RandomIds,
        )
        .unwrap();
        let standard = event.ticket_types[0].id;
        let taken = SeatCounts {
            taken: 3,
            ..SeatCounts::default()
        };
        EventView {
            seats: taken,
            type_seats: BTreeMap::from([(standard, taken)]),
            ..EventView::new(event)
        }
    }

    #[test]
    fn ceilings_are_the_new_quotas_or_zero_for_a_repriced_type() {
        let view = view();
        let mut edit = EventEdit::of(&view.event);
        edit.ticket_types[0].fields.quota = 5;
        edit.ticket_types[1].fields.price_minor = 2500;
        edit.ticket_types.push(TicketTypeEdit {
            id: None,
            fields: NewTicketType {
                name: "Student".into(),
                quota: 1,
                ..NewTicketType::default()
            },
        });
        let update = edit.plan(&view, now(), &RandomIds).unwrap();
        let [standard, vip, student] = &update.event.ticket_types[..] else {
            panic!("three types")
        };
        assert_eq!(
            (standard.id, vip.id),
            (view.event.ticket_types[0].id, view.event.ticket_types[1].id)
        );
        assert!(
            view.event.ticket_type(student.id).is_none(),
            "a new type gets a new id"
        );
        assert_eq!(
            update.type_ceilings,
            BTreeMap::from([(standard.id, 5), (vip.id, 0)])
        );
        assert_eq!(update.expected_version, 1);
        assert_eq!(update.event.created_at, view.event.created_at);
        assert!(update.seats_fit(&view));
    }

    #[test]
    fn what_the_seats_taken_forbid_is_named() {
        let view = view();
        let mut edit = EventEdit::of(&view.event);
        edit.capacity = 2;
        edit.ticket_types[0].fields.quota = 2;
        edit.ticket_types[0].fields.price_minor = 1;
        edit.ticket_types[1].fields.quota = 1;
        let Err(EditRefusal::SeatsTaken(problems)) = edit.plan(&view, now(), &RandomIds) else {
            panic!("refused for the seats taken")
        };
        assert_eq!(
            problems,
            [
                "capacity cannot go below the 3 seats sold or held",
                "ticket type 1 (\"Standard\"): quota cannot go below the 3 tickets of it sold or held",
                "ticket type 1 (\"Standard\"): priceMinor cannot change once a ticket of it is sold or held (3)",
            ]
        );
    }

    #[test]
    fn types_are_listed_once_each_and_never_dropped_and_the_currency_stays() {
        let view = view();
        let invalid = |change: &dyn Fn(&mut EventEdit)| {
            let mut edit = EventEdit::of(&view.event);
            change(&mut edit);
            match edit.plan(&view, now(), &RandomIds) {
                Err(EditRefusal::Invalid(errors)) => errors.to_string(),
                other => panic!("not refused as invalid: {other:?}"),
            }
        };
        assert!(
            invalid(&|edit| {
                edit.ticket_types.pop();
            })
            .contains("must list the type \"VIP\"")
        );
        assert!(
            invalid(&|edit| edit.ticket_types[1].id = edit.ticket_types[0].id)
                .contains("a second time")
        );
        assert!(
            invalid(&|edit| edit.ticket_types[1].id = Some(TicketTypeId::new(&RandomIds)))
                .contains("the event has no type")
        );
        assert!(invalid(&|edit| edit.currency = Some("usd".into())).contains("currency"));
        let mut same_currency = EventEdit::of(&view.event);
        same_currency.currency = Some("eur".into());
        assert!(same_currency.plan(&view, now(), &RandomIds).is_ok());
        assert_eq!(
            EventEdit::of(&view.event).plan(&view, view.event.starts_at, &RandomIds),
            Err(EditRefusal::Started)
        );
    }
}
