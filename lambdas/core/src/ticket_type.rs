//! Ticket types: the kinds of ticket an event sells (early bird, standard, VIP), each with its
//! own price, quota and sales window under the event's one capacity and one currency.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{EventId, TicketTypeId};
use crate::money::MAX_AMOUNT_MINOR;
use crate::time::to_millis;
use crate::validation::{ValidationErrors, multi_line, single_line};

pub const MAX_TICKET_TYPES: usize = 20;
pub const MAX_TYPE_NAME_CHARS: usize = 100;
pub const MAX_TYPE_DESCRIPTION_CHARS: usize = 1_000;
/// The most tickets one order may take, and so the highest maximum per order a type may set.
pub const MAX_TICKETS_PER_ORDER: u32 = 10;
/// The name of the one type an event gets when its organizer names none (and of the type every
/// event made before ticket types became).
pub const DEFAULT_TYPE_NAME: &str = "General admission";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TicketType {
    pub id: TicketTypeId,
    pub name: String,
    pub description: String,
    /// In the event's currency.
    pub price_minor: i64,
    /// At most this many sold and held; the event's capacity caps all types together.
    pub quota: u32,
    pub sales_start: Option<DateTime<Utc>>,
    pub sales_end: Option<DateTime<Utc>>,
    pub max_per_order: u32,
}

impl TicketType {
    /// The one type of an event made before ticket types: named by the event's own id, so
    /// every adapter derives the same id for it without a migration of its holds or tickets.
    pub fn legacy(event_id: EventId, price_minor: i64, capacity: u32) -> Self {
        Self {
            id: legacy_type_id(event_id),
            name: DEFAULT_TYPE_NAME.to_owned(),
            description: String::new(),
            price_minor,
            quota: capacity,
            sales_start: None,
            sales_end: None,
            max_per_order: MAX_TICKETS_PER_ORDER,
        }
    }

    /// Why the type cannot be bought at `now`, if it cannot: its window is judged here, its
    /// seats by the store.
    pub fn closed_at(&self, now: DateTime<Utc>) -> Option<SalesClosed> {
        if self.sales_start.is_some_and(|start| now < start) {
            Some(SalesClosed::NotYet)
        } else if self.sales_end.is_some_and(|end| now >= end) {
            Some(SalesClosed::Over)
        } else {
            None
        }
    }
}

/// The id of an event's pre-ticket-types type: see [`TicketType::legacy`].
pub fn legacy_type_id(event_id: EventId) -> TicketTypeId {
    TicketTypeId::from(*event_id.as_uuid())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SalesClosed {
    NotYet,
    Over,
}

/// What an organizer submits for one type; checked by [`validate_types`].
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewTicketType {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub price_minor: i64,
    pub quota: i64,
    #[serde(default)]
    pub sales_start: Option<DateTime<Utc>>,
    #[serde(default)]
    pub sales_end: Option<DateTime<Utc>>,
    #[serde(default)]
    pub max_per_order: Option<i64>,
}

/// The limits a type is judged against: its event's.
pub(crate) struct TypeLimits {
    pub capacity: Option<u32>,
    pub starts_at: Option<DateTime<Utc>>,
}

/// Checks every type, adding each problem under `ticketTypes` with the type's place and name
/// (`ticket type 2 ("VIP"): quota must be ...`), and builds the types with ids from `new_id`.
pub(crate) fn validate_types(
    errors: &mut ValidationErrors,
    types: &[NewTicketType],
    limits: &TypeLimits,
    mut new_id: impl FnMut() -> TicketTypeId,
) -> Vec<TicketType> {
    if types.is_empty() || types.len() > MAX_TICKET_TYPES {
        errors.add(
            "ticketTypes",
            format!("must list between 1 and {MAX_TICKET_TYPES} ticket types"),
        );
        return Vec::new();
    }
    let mut built = Vec::with_capacity(types.len());
    for (index, new_type) in types.iter().enumerate() {
        let mut problems = ValidationErrors::default();
        let ticket_type = new_type.validate(&mut problems, limits, new_id());
        let duplicate = built.iter().any(|earlier: &TicketType| {
            earlier.name.to_lowercase() == ticket_type.name.to_lowercase()
        });
        if duplicate && !ticket_type.name.is_empty() {
            problems.add("name", "is the name of an earlier type");
        }
        for problem in problems.0 {
            errors.add(
                "ticketTypes",
                format!(
                    "ticket type {} ({:?}): {} {}",
                    index + 1,
                    ticket_type.name,
                    problem.field,
                    problem.message
                ),
            );
        }
        built.push(ticket_type);
    }
    built
}

impl NewTicketType {
    fn validate(
        &self,
        errors: &mut ValidationErrors,
        limits: &TypeLimits,
        id: TicketTypeId,
    ) -> TicketType {
        let name = single_line(errors, "name", &self.name, MAX_TYPE_NAME_CHARS);
        let description = multi_line(
            errors,
            "description",
            &self.description,
            MAX_TYPE_DESCRIPTION_CHARS,
        );
        if !(0..=MAX_AMOUNT_MINOR).contains(&self.price_minor) {
            errors.add(
                "priceMinor",
                format!("must be between 0 and {MAX_AMOUNT_MINOR} minor units (0 is free)"),
            );
        }
        let capacity = limits.capacity.map_or(i64::MAX, i64::from);
        if self.quota < 1 || self.quota > capacity {
            errors.add(
                "quota",
                format!("must be between 1 and the event's capacity ({capacity})"),
            );
        }
        let max = i64::from(MAX_TICKETS_PER_ORDER);
        let max_per_order = self.max_per_order.unwrap_or(max);
        if !(1..=max).contains(&max_per_order) {
            errors.add("maxPerOrder", format!("must be between 1 and {max}"));
        }
        let sales_start = self.sales_start.map(to_millis);
        let sales_end = self.sales_end.map(to_millis);
        if let (Some(start), Some(end)) = (sales_start, sales_end)
            && start >= end
        {
            errors.add("salesEnd", "must be after salesStart");
        }
        if let Some(starts_at) = limits.starts_at {
            if sales_start.is_some_and(|start| start >= starts_at) {
                errors.add("salesStart", "must be before the event starts");
            }
            if sales_end.is_some_and(|end| end > starts_at) {
                errors.add("salesEnd", "must be at or before the event's start");
            }
        }
        TicketType {
            id,
            name,
            description,
            price_minor: self.price_minor,
            quota: u32::try_from(self.quota).unwrap_or(0),
            sales_start,
            sales_end,
            max_per_order: u32::try_from(max_per_order).unwrap_or(0),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;
    use uuid::Uuid;

    use super::*;

    fn now() -> DateTime<Utc> {
        crate::time::from_key("2026-11-24T12:00:00.000Z").unwrap()
    }

    fn standard() -> NewTicketType {
        NewTicketType {
            name: "Standard".into(),
            price_minor: 1500,
            quota: 5,
            ..NewTicketType::default()
        }
    }

    fn check(types: &[NewTicketType]) -> Result<Vec<TicketType>, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let limits = TypeLimits {
            capacity: Some(10),
            starts_at: Some(now() + TimeDelta::days(7)),
        };
        let built = validate_types(&mut errors, types, &limits, || {
            TicketTypeId::from(Uuid::now_v7())
        });
        errors.into_result(|| built)
    }

    fn messages(types: &[NewTicketType]) -> Vec<String> {
        let errors = check(types).unwrap_err();
        assert!(errors.fields().iter().all(|field| *field == "ticketTypes"));
        errors.0.into_iter().map(|error| error.message).collect()
    }

    #[test]
    fn a_valid_type_is_normalised_and_may_sell_ten_per_order() {
        let types = check(&[NewTicketType {
            name: "  VIP ".into(),
            ..standard()
        }])
        .unwrap();
        assert_eq!(types[0].name, "VIP");
        assert_eq!(types[0].max_per_order, MAX_TICKETS_PER_ORDER);
        assert_eq!(types[0].quota, 5);
    }

    #[test]
    fn each_problem_names_the_type_and_its_field() {
        let vip = NewTicketType {
            name: "VIP".into(),
            quota: 11,
            price_minor: -1,
            max_per_order: Some(11),
            ..standard()
        };
        assert_eq!(
            messages(&[standard(), vip]),
            [
                "ticket type 2 (\"VIP\"): priceMinor must be between 0 and 99999999 minor units (0 is free)",
                "ticket type 2 (\"VIP\"): quota must be between 1 and the event's capacity (10)",
                "ticket type 2 (\"VIP\"): maxPerOrder must be between 1 and 10",
            ]
        );
        assert_eq!(
            messages(&[standard(), standard()]),
            ["ticket type 2 (\"Standard\"): name is the name of an earlier type"]
        );
        assert_eq!(messages(&[]), ["must list between 1 and 20 ticket types"]);
        assert_eq!(
            messages(&vec![standard(); 21]),
            ["must list between 1 and 20 ticket types"]
        );
        let control = NewTicketType {
            name: "VIP\u{7}".into(),
            ..standard()
        };
        assert!(messages(&[control])[0].contains("name must be a single line"));
    }

    #[test]
    fn a_sales_window_ends_after_it_starts_and_by_the_event() {
        let window = |start: i64, end: i64| NewTicketType {
            sales_start: Some(now() + TimeDelta::days(start)),
            sales_end: Some(now() + TimeDelta::days(end)),
            ..standard()
        };
        assert!(check(&[window(1, 7)]).is_ok());
        assert_eq!(
            messages(&[window(2, 1)]),
            ["ticket type 1 (\"Standard\"): salesEnd must be after salesStart"]
        );
        assert_eq!(
            messages(&[window(1, 8)]),
            ["ticket type 1 (\"Standard\"): salesEnd must be at or before the event's start"]
        );
        let early_bird = check(&[window(1, 3)]).unwrap().remove(0);
        assert_eq!(early_bird.closed_at(now()), Some(SalesClosed::NotYet));
        assert_eq!(early_bird.closed_at(now() + TimeDelta::days(2)), None);
        assert_eq!(
            early_bird.closed_at(now() + TimeDelta::days(3)),
            Some(SalesClosed::Over)
        );
    }
}
