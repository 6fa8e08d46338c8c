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
/// `id` adds a type. The currency cannot change: prices were paid in it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventEdit {
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub venue: String,
    pub starts_at: Option<DateTime<Utc>>,
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
        if !errors.0.is_empty() {
            return Err(EditRefusal::Invalid(errors));
        }
        let new_event = NewEvent {
            title: self.title.clone(),
            description: self.description.clone(),
            venue: self.venue.clone(),
            starts_at: self.starts_at,
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
