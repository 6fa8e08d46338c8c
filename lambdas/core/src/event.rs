//! Events, their validation and their seat counts.

use std::collections::BTreeMap;

use chrono::{DateTime, Months, SecondsFormat, TimeDelta, Timelike, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ids::{EventId, Ids, TicketTypeId, UserId};
use crate::local_time::{DEFAULT_TIME_ZONE, LocalTimes, Tz, parse_time_zone};
use crate::money::{Currency, MAX_AMOUNT_MINOR, Money};
use crate::ticket_type::{NewTicketType, SalesClosed, TicketType, TypeLimits, validate_types};
use crate::time::to_millis;
use crate::validation::{ValidationErrors, multi_line, single_line};

pub const MAX_TITLE_CHARS: usize = 200;
pub const MAX_VENUE_CHARS: usize = 200;
pub const MAX_DESCRIPTION_CHARS: usize = 5_000;
pub const MAX_CAPACITY: i64 = 1_000_000;
/// How far ahead an event may start. Keeps every stored instant a four-digit year (the stored
/// form sorts and parses as RFC 3339 only then) and refuses dates nobody means.
pub const MAX_YEARS_AHEAD: u32 = 10;
/// The longest an event may last (a festival, a season's exhibition).
pub const MAX_DAYS_LONG: i64 = 366;
/// The longest cancellation cut-off: a year (and a day) before the start.
pub const MAX_CANCELLATION_CUTOFF_HOURS: i64 = 366 * 24;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    pub id: EventId,
    pub organizer_id: UserId,
    pub title: String,
    pub description: String,
    pub venue: String,
    pub starts_at: DateTime<Utc>,
    /// When it is over, if the organizer said.
    #[serde(default)]
    pub ends_at: Option<DateTime<Utc>>,
    /// The venue's: the zone its times are shown in.
    #[serde(default = "default_time_zone")]
    pub time_zone: Tz,
    /// Buyers may cancel an order for a full refund until this many hours before the start;
    /// `None`: they cannot (the default).
    #[serde(default)]
    pub cancellation_cutoff_hours: Option<u32>,
    /// Caps the seats of all its ticket types together.
    pub capacity: u32,
    /// Every ticket type's price is in this currency.
    pub currency: Currency,
    /// At least one, in the organizer's order.
    pub ticket_types: Vec<TicketType>,
    pub created_at: DateTime<Utc>,
}

fn default_time_zone() -> Tz {
    DEFAULT_TIME_ZONE
}

impl Event {
    /// Its start and end in the venue's zone.
    pub fn local_times(&self) -> LocalTimes {
        LocalTimes::new(self.time_zone, self.starts_at, self.ends_at)
    }

    /// Until when its buyers may cancel their orders themselves, if the organizer lets them.
    pub fn cancellable_until(&self) -> Option<DateTime<Utc>> {
        self.cancellation_cutoff_hours
            .map(|hours| self.starts_at - TimeDelta::hours(i64::from(hours)))
    }

    /// Whether a buyer may cancel an order at `now`; if not, why, for the buyer.
    pub fn buyer_may_cancel(&self, now: DateTime<Utc>) -> Result<(), String> {
        let (Some(hours), Some(until)) = (self.cancellation_cutoff_hours, self.cancellable_until())
        else {
            return Err("the organizer does not let buyers cancel orders of this event".into());
        };
        if now < until {
            return Ok(());
        }
        Err(format!(
            "orders of this event could be cancelled until {hours} hours before the start ({})",
            until.to_rfc3339_opts(SecondsFormat::Secs, true)
        ))
    }

    pub fn ticket_type(&self, id: TicketTypeId) -> Option<&TicketType> {
        self.ticket_types
            .iter()
            .find(|ticket_type| ticket_type.id == id)
    }

    /// A ticket's type's name, for lists and the door; a type the event no longer has (none is
    /// ever removed) reads as the default name.
    pub fn type_name(&self, id: TicketTypeId) -> &str {
        self.ticket_type(id)
            .map_or(crate::ticket_type::DEFAULT_TYPE_NAME, |ticket_type| {
                ticket_type.name.as_str()
            })
    }

    pub fn price_of(&self, ticket_type: &TicketType) -> Money {
        Money {
            amount_minor: ticket_type.price_minor,
            currency: self.currency,
        }
    }

    /// The "from" price a listing shows: the cheapest type's.
    pub fn lowest_price(&self) -> Money {
        Money {
            amount_minor: self
                .ticket_types
                .iter()
                .map(|ticket_type| ticket_type.price_minor)
                .min()
                .unwrap_or(0),
            currency: self.currency,
        }
    }
}

/// What an organizer submits. Loosely typed on purpose: every field is checked by
/// [`NewEvent::validate`], which names each field at fault. Either one `priceMinor` (the event
/// gets one type of that price, as many seats as its capacity) or `ticketTypes`. Without a
/// `timeZone` the event's times are shown in UTC.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewEvent {
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub venue: String,
    pub starts_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub ends_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub time_zone: Option<String>,
    #[serde(default)]
    pub cancellation_cutoff_hours: Option<i64>,
    pub capacity: i64,
    #[serde(default)]
    pub price_minor: Option<i64>,
    pub currency: String,
    #[serde(default)]
    pub ticket_types: Option<Vec<NewTicketType>>,
}

impl NewEvent {
    /// Checks every field and builds the event, or returns all problems found. New ticket types
    /// take their ids from `ids`.
    pub fn validate(
        &self,
        id: EventId,
        organizer_id: UserId,
        now: DateTime<Utc>,
        ids: &dyn Ids,
    ) -> Result<Event, ValidationErrors> {
        self.build(id, organizer_id, now, || TicketTypeId::new(ids))
    }

    /// [`NewEvent::validate`] with each ticket type's id, in the list's order, from `type_id`:
    /// an edit keeps the ids its types already have.
    pub(crate) fn build(
        &self,
        id: EventId,
        organizer_id: UserId,
        now: DateTime<Utc>,
        type_id: impl FnMut() -> TicketTypeId,
    ) -> Result<Event, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let title = single_line(&mut errors, "title", &self.title, MAX_TITLE_CHARS);
        let description = multi_line(
            &mut errors,
            "description",
            &self.description,
            MAX_DESCRIPTION_CHARS,
        );
        let venue = single_line(&mut errors, "venue", &self.venue, MAX_VENUE_CHARS);
        let latest = now.checked_add_months(Months::new(12 * MAX_YEARS_AHEAD));
        // Judged as stored (milliseconds): a start a microsecond after now would be stored as
        // now, an event that has started before anyone could buy.
        let starts_at = self.starts_at.map(to_millis);
        match starts_at {
            None => errors.add("startsAt", "is required"),
            Some(at) if at <= now => errors.add("startsAt", "must be in the future"),
            Some(at) if latest.is_none_or(|latest| at > latest) => errors.add(
                "startsAt",
                format!("must be at most {MAX_YEARS_AHEAD} years from now"),
            ),
            // chrono takes `:60` in any minute; browsers and most clients do not.
            Some(at) if at.nanosecond() >= 1_000_000_000 => {
                errors.add("startsAt", "must not be a leap second (:60)")
            }
            Some(_) => {}
        }
        let ends_at = self.ends_at.map(to_millis);
        if let (Some(end), Some(start)) = (ends_at, starts_at) {
            if end <= start {
                errors.add("endsAt", "must be after startsAt");
            } else if end - start > TimeDelta::days(MAX_DAYS_LONG) {
                errors.add(
                    "endsAt",
                    format!("must be at most {MAX_DAYS_LONG} days after startsAt"),
                );
            } else if end.nanosecond() >= 1_000_000_000 {
                errors.add("endsAt", "must not be a leap second (:60)");
            }
        }
        let cancellation_cutoff_hours = match self.cancellation_cutoff_hours {
            None => None,
            Some(hours) => match u32::try_from(hours) {
                Ok(hours) if i64::from(hours) <= MAX_CANCELLATION_CUTOFF_HOURS => Some(hours),
                _ => {
                    errors.add(
                        "cancellationCutoffHours",
                        format!("must be a whole number of hours from 0 to {MAX_CANCELLATION_CUTOFF_HOURS}, or null"),
                    );
                    None
                }
            },
        };
        let time_zone = self
            .time_zone
            .as_deref()
            .map_or(Ok(DEFAULT_TIME_ZONE), parse_time_zone)
            .map_err(|error| errors.add("timeZone", error))
            .ok();
        let capacity = u32::try_from(self.capacity)
            .ok()
            .filter(|capacity| (1..=MAX_CAPACITY).contains(&i64::from(*capacity)));
        if capacity.is_none() {
            errors.add(
                "capacity",
                format!("must be between 1 and {MAX_CAPACITY} seats"),
            );
        }
        let ticket_types = match (&self.ticket_types, self.price_minor) {
            (Some(_), Some(_)) => {
                errors.add(
                    "priceMinor",
                    "must be left out when ticketTypes give the prices",
                );
                Vec::new()
            }
            (Some(types), None) => {
                let limits = TypeLimits {
                    capacity,
                    starts_at,
                };
                validate_types(&mut errors, types, &limits, type_id)
            }
            (None, price_minor) => {
                match price_minor {
                    None => errors.add("priceMinor", "is required (or give ticketTypes)"),
                    Some(price) if price < 0 => {
                        errors.add("priceMinor", "must not be negative (0 makes a free event)")
                    }
                    Some(price) if price > MAX_AMOUNT_MINOR => errors.add(
                        "priceMinor",
                        format!("must be at most {MAX_AMOUNT_MINOR} minor units"),
                    ),
                    Some(_) => {}
                }
                vec![TicketType::legacy(
                    id,
                    price_minor.unwrap_or(0),
                    capacity.unwrap_or(0),
                )]
            }
        };
        let currency = self.currency.parse::<Currency>();
        if let Err(error) = &currency {
            errors.add("currency", error.to_string());
        }
        errors.into_result(|| Event {
            id,
            organizer_id,
            title,
            description,
            venue,
            starts_at: starts_at.expect("checked above"),
            ends_at,
            time_zone: time_zone.expect("checked above"),
            cancellation_cutoff_hours,
            capacity: capacity.expect("checked above"),
            currency: currency.expect("checked above"),
            ticket_types,
            created_at: to_millis(now),
        })
    }
}

/// Seat counters the store keeps on each event and on each of its types. `taken` counts held
/// and sold seats.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SeatCounts {
    pub taken: u32,
    pub sold: u32,
    pub checked_in: u32,
}

/// An event as stored, with its live seat counts, in all and per type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventView {
    pub event: Event,
    /// Counts the event's edits from 1: what an edit names to be refused if another came
    /// first (the API's ETag), and what a hold pins so its prices are the event's own.
    pub version: u32,
    pub seats: SeatCounts,
    /// A type missing here has no seat taken.
    pub type_seats: BTreeMap<TicketTypeId, SeatCounts>,
    /// Set once the organizer cancelled the event: no seat is held or sold after it.
    #[serde(default)]
    pub cancellation: Option<Cancellation>,
    #[serde(default)]
    pub visibility: Visibility,
}

/// Who sees an event and whether it sells: what its organizer publishes and unpublishes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Visibility {
    /// New: only its organizer sees it, and it sells nothing.
    #[default]
    Draft,
    /// Listed and on sale.
    Published,
    /// Published once, then taken off: out of the listings and off sale, its page still opens
    /// from a link (its ticket holders keep theirs) and its tickets stay valid.
    Unpublished,
}

impl Visibility {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "DRAFT",
            Self::Published => "PUBLISHED",
            Self::Unpublished => "UNPUBLISHED",
        }
    }

    /// Only its organizer may see a draft; anyone signed in may see the others.
    pub fn shows_to_everyone(self) -> bool {
        self != Self::Draft
    }
}

impl std::str::FromStr for Visibility {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        [Self::Draft, Self::Published, Self::Unpublished]
            .into_iter()
            .find(|visibility| visibility.as_str() == text)
            .ok_or_else(|| format!("unknown visibility {text}"))
    }
}

/// An event's cancellation: when it was asked for, how many tickets were sold then (what its
/// refunds work down from) and when every order was refunded or listed as failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cancellation {
    pub requested_at: DateTime<Utc>,
    pub sold_then: u32,
    pub finished_at: Option<DateTime<Utc>>,
}

impl EventView {
    /// A new event: nothing taken.
    pub fn new(event: Event) -> Self {
        Self {
            event,
            version: 1,
            seats: SeatCounts::default(),
            type_seats: BTreeMap::new(),
            cancellation: None,
            visibility: Visibility::Draft,
        }
    }

    /// Whether a buyer may start a checkout now (the rest is the seats' and types' to say).
    pub fn on_sale(&self) -> bool {
        self.visibility == Visibility::Published && !self.is_cancelled()
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancellation.is_some()
    }

    pub fn type_seats(&self, id: TicketTypeId) -> SeatCounts {
        self.type_seats.get(&id).copied().unwrap_or_default()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EventStatus {
    Open,
    SoldOut,
    Ended,
    Cancelled,
    /// A draft, or unpublished by its organizer.
    NotOnSale,
}

/// An event's seats: what is held, sold and left, and how many were scanned at the door; in
/// all and per ticket type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventStats {
    #[schemars(range(min = 1))]
    pub capacity: u32,
    /// Seats held by buyers still paying.
    pub held: u32,
    pub sold: u32,
    pub remaining: u32,
    pub checked_in: u32,
    /// ENDED once the event has started, whatever seats are left; CANCELLED once its organizer
    /// cancelled it.
    pub status: EventStatus,
    pub ticket_types: Vec<TypeStats>,
}

impl EventView {
    pub fn stats(&self, now: DateTime<Utc>) -> EventStats {
        let SeatCounts {
            taken,
            sold,
            checked_in,
        } = self.seats;
        let remaining = self.event.capacity.saturating_sub(taken);
        let started = now >= self.event.starts_at;
        let status = if self.is_cancelled() {
            EventStatus::Cancelled
        } else if started {
            EventStatus::Ended
        } else if self.visibility != Visibility::Published {
            EventStatus::NotOnSale
        } else if remaining == 0 {
            EventStatus::SoldOut
        } else {
            EventStatus::Open
        };
        let ticket_types = self
            .event
            .ticket_types
            .iter()
            .map(|ticket_type| {
                let counts = self.type_seats(ticket_type.id);
                let sales_over = started || self.is_cancelled();
                TypeStats::of(ticket_type, counts, remaining, sales_over, now)
            })
            .collect();
        EventStats {
            capacity: self.event.capacity,
            held: taken.saturating_sub(sold),
            sold,
            remaining,
            checked_in,
            status,
            ticket_types,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TypeStatus {
    OnSale,
    SoldOut,
    NotYetOnSale,
    SalesEnded,
    /// The event has started or was cancelled.
    Ended,
}

/// A type's seats: its quota, what is held, sold and left, and how many were scanned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TypeStats {
    pub ticket_type_id: TicketTypeId,
    pub name: String,
    pub quota: u32,
    pub held: u32,
    pub sold: u32,
    /// What can still be bought: the type's quota left, at most the event's seats left.
    pub remaining: u32,
    pub checked_in: u32,
    pub status: TypeStatus,
}

impl TypeStats {
    pub(crate) fn of(
        ticket_type: &TicketType,
        counts: SeatCounts,
        event_remaining: u32,
        event_started: bool,
        now: DateTime<Utc>,
    ) -> Self {
        let remaining = ticket_type
            .quota
            .saturating_sub(counts.taken)
            .min(event_remaining);
        let status = if event_started {
            TypeStatus::Ended
        } else {
            match ticket_type.closed_at(now) {
                Some(SalesClosed::NotYet) => TypeStatus::NotYetOnSale,
                Some(SalesClosed::Over) => TypeStatus::SalesEnded,
                None if remaining == 0 => TypeStatus::SoldOut,
                None => TypeStatus::OnSale,
            }
        };
        Self {
            ticket_type_id: ticket_type.id,
            name: ticket_type.name.clone(),
            quota: ticket_type.quota,
            held: counts.taken.saturating_sub(counts.sold),
            sold: counts.sold,
            remaining,
            checked_in: counts.checked_in,
            status,
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;
    use uuid::Uuid;

    use super::*;
    use crate::ids::RandomIds;

    fn now() -> DateTime<Utc> {
        crate::time::from_key("2026-11-24T12:00:00.000Z").unwrap()
    }

    fn valid() -> NewEvent {
        NewEvent {
            title: "  Rust Meetup  ".into(),
            description: "Talks and pizza".into(),
            venue: "Hall 1".into(),
            starts_at: Some(now() + TimeDelta::days(7)),
            ends_at: None,
            time_zone: None,
            cancellation_cutoff_hours: None,
            capacity: 100,
            price_minor: Some(1500),
            currency: "eur".into(),
            ticket_types: None,
        }
    }

    fn check(input: &NewEvent) -> Result<Event, ValidationErrors> {
        input.validate(
            EventId::from(Uuid::nil()),
            UserId::from("org-1"),
            now(),
            &RandomIds,
        )
    }

    fn failing_fields(input: NewEvent) -> Vec<&'static str> {
        check(&input).unwrap_err().fields()
    }

    #[test]
    fn a_valid_event_is_normalised() {
        let event = check(&valid()).unwrap();
        assert_eq!(event.title, "Rust Meetup");
        assert_eq!(event.currency.code(), "EUR");
        assert_eq!(event.capacity, 100);
        // One price makes one type with every seat.
        let [only] = &event.ticket_types[..] else {
            panic!("one type: {:?}", event.ticket_types)
        };
        assert_eq!(
            (only.name.as_str(), only.price_minor, only.quota),
            ("General admission", 1500, 100)
        );
    }

    #[test]
    fn each_invalid_field_is_named() {
        let long = |n: usize| "x".repeat(n);
        assert_eq!(
            failing_fields(NewEvent {
                title: " ".into(),
                ..valid()
            }),
            ["title"]
        );
        assert_eq!(
            failing_fields(NewEvent {
                title: long(201),
                ..valid()
            }),
            ["title"]
        );
        assert!(
            check(&NewEvent {
                title: long(200),
                ..valid()
            })
            .is_ok()
        );
        assert_eq!(
            failing_fields(NewEvent {
                title: "a\nb".into(),
                ..valid()
            }),
            ["title"]
        );
        assert_eq!(
            failing_fields(NewEvent {
                description: long(5_001),
                ..valid()
            }),
            ["description"]
        );
        assert!(
            check(&NewEvent {
                description: long(5_000),
                ..valid()
            })
            .is_ok()
        );
        assert_eq!(
            failing_fields(NewEvent {
                venue: "".into(),
                ..valid()
            }),
            ["venue"]
        );
        assert_eq!(
            failing_fields(NewEvent {
                capacity: 0,
                ..valid()
            }),
            ["capacity"]
        );
        assert_eq!(
            failing_fields(NewEvent {
                capacity: 1_000_001,
                ..valid()
            }),
            ["capacity"]
        );
        assert!(
            check(&NewEvent {
                capacity: 1_000_000,
                ..valid()
            })
            .is_ok()
        );
        assert_eq!(
            failing_fields(NewEvent {
                price_minor: Some(-1),
                ..valid()
            }),
            ["priceMinor"]
        );
        assert_eq!(
            failing_fields(NewEvent {
                price_minor: Some(100_000_000),
                ..valid()
            }),
            ["priceMinor"]
        );
        assert!(
            check(&NewEvent {
                price_minor: Some(0),
                ..valid()
            })
            .unwrap()
            .lowest_price()
            .is_free()
        );
        assert_eq!(
            failing_fields(NewEvent {
                currency: "XYZ".into(),
                ..valid()
            }),
            ["currency"]
        );
        assert_eq!(
            failing_fields(NewEvent {
                starts_at: None,
                ..valid()
            }),
            ["startsAt"]
        );
        assert_eq!(
            failing_fields(NewEvent {
                starts_at: Some(now()),
                ..valid()
            }),
            ["startsAt"]
        );
    }

    #[test]
    fn buyers_may_cancel_until_a_whole_number_of_hours_before_the_start() {
        let start = valid().starts_at.unwrap();
        let event = check(&NewEvent {
            cancellation_cutoff_hours: Some(48),
            ..valid()
        })
        .unwrap();
        assert_eq!(
            event.cancellable_until(),
            Some(start - TimeDelta::hours(48))
        );
        let cutoff = start - TimeDelta::hours(48);
        assert_eq!(
            event.buyer_may_cancel(cutoff - TimeDelta::seconds(1)),
            Ok(())
        );
        let late = event.buyer_may_cancel(cutoff).unwrap_err();
        assert!(late.contains("until 48 hours before the start"), "{late}");
        let off = check(&valid()).unwrap();
        assert_eq!(off.cancellable_until(), None, "off by default");
        let refused = off
            .buyer_may_cancel(start - TimeDelta::days(30))
            .unwrap_err();
        assert!(refused.contains("does not let buyers cancel"), "{refused}");
        for hours in [-1, MAX_CANCELLATION_CUTOFF_HOURS + 1, i64::MAX] {
            let input = NewEvent {
                cancellation_cutoff_hours: Some(hours),
                ..valid()
            };
            assert_eq!(
                failing_fields(input),
                ["cancellationCutoffHours"],
                "{hours}"
            );
        }
    }

    #[test]
    fn the_zone_is_a_tz_database_name_and_the_end_follows_the_start() {
        let start = valid().starts_at.unwrap();
        let event = check(&NewEvent {
            time_zone: Some("Europe/Zurich".into()),
            ends_at: Some(start + TimeDelta::hours(4)),
            ..valid()
        })
        .unwrap();
        assert_eq!(event.time_zone, Tz::Europe__Zurich);
        assert_eq!(event.ends_at, Some(start + TimeDelta::hours(4)));
        let unzoned = check(&valid()).unwrap();
        assert_eq!((unzoned.time_zone, unzoned.ends_at), (Tz::UTC, None));
        for zone in ["Mars/Olympus_Mons", "CEST", "", "Europe/Zurich "] {
            let input = NewEvent {
                time_zone: Some(zone.into()),
                ..valid()
            };
            assert_eq!(failing_fields(input), ["timeZone"], "{zone:?}");
        }
        for end in [
            start,
            start - TimeDelta::hours(1),
            start + TimeDelta::days(MAX_DAYS_LONG) + TimeDelta::milliseconds(1),
        ] {
            let input = NewEvent {
                ends_at: Some(end),
                ..valid()
            };
            assert_eq!(failing_fields(input), ["endsAt"], "{end}");
        }
        let longest = NewEvent {
            ends_at: Some(start + TimeDelta::days(MAX_DAYS_LONG)),
            ..valid()
        };
        assert!(check(&longest).is_ok());
    }

    #[test]
    fn starts_at_is_kept_to_a_window_of_four_digit_years() {
        let at = |text: &str| NewEvent {
            starts_at: Some(serde_json::from_value(serde_json::json!(text)).unwrap()),
            ..valid()
        };
        // now() is 2026-11-24T12:00:00Z: the window ends ten calendar years later.
        assert!(check(&at("2036-11-24T12:00:00Z")).is_ok());
        assert!(check(&at("2026-11-24T12:00:00.001Z")).is_ok());
        // Stored to the millisecond, this would start the moment it is created.
        assert_eq!(
            check(&at("2026-11-24T12:00:00.000999Z"))
                .unwrap_err()
                .fields(),
            ["startsAt"]
        );
        for refused in [
            "2036-11-24T12:00:00.001Z",
            "9999-12-31T23:59:59Z",
            "+10000-01-01T00:00:00Z",
            "+262142-12-31T23:59:59Z",
            "-0001-01-01T00:00:00Z",
            "2030-06-30T23:59:60Z",
        ] {
            let errors = check(&at(refused)).unwrap_err();
            assert_eq!(errors.fields(), ["startsAt"], "{refused}");
        }
        assert!(
            check(&at("+10000-01-01T00:00:00Z"))
                .unwrap_err()
                .to_string()
                .contains("startsAt: must be at most 10 years from now")
        );
    }

    #[test]
    fn bidi_controls_are_refused_in_every_text_field() {
        let rlo = "\u{202E}";
        assert_eq!(
            failing_fields(NewEvent {
                title: format!("Meetup{rlo}gpj.exe"),
                venue: "Hall\u{2066}1".into(),
                description: format!("Talks\n{rlo}and pizza"),
                ..valid()
            }),
            ["title", "description", "venue"]
        );
        let event = check(&NewEvent {
            title: "\u{5DE}\u{5E4}\u{5D2}\u{5E9} Rust".into(),
            description: "Line one\r\n\tLine two".into(),
            ..valid()
        })
        .unwrap();
        assert_eq!(event.description, "Line one\r\n\tLine two");
    }

    #[test]
    fn all_problems_are_reported_at_once() {
        let errors = check(&NewEvent::default()).unwrap_err();
        assert_eq!(
            errors.fields(),
            [
                "title",
                "venue",
                "startsAt",
                "capacity",
                "priceMinor",
                "currency"
            ]
        );
        assert!(
            errors
                .to_string()
                .contains("capacity: must be between 1 and 1000000")
        );
    }

    #[test]
    fn stats_follow_the_counters_and_the_clock() {
        let event = check(&NewEvent {
            capacity: 3,
            ..valid()
        })
        .unwrap();
        let view = |taken, sold| EventView {
            seats: SeatCounts {
                taken,
                sold,
                checked_in: 1,
            },
            visibility: Visibility::Published,
            ..EventView::new(event.clone())
        };
        let stats = view(2, 1).stats(now());
        assert_eq!((stats.held, stats.sold, stats.remaining), (1, 1, 1));
        assert_eq!(stats.status, EventStatus::Open);
        assert_eq!(view(3, 1).stats(now()).status, EventStatus::SoldOut);
        assert_eq!(view(1, 1).stats(event.starts_at).status, EventStatus::Ended);
        // A draft or an unpublished event is off sale; a cancelled one says so first.
        for visibility in [Visibility::Draft, Visibility::Unpublished] {
            let off = EventView {
                visibility,
                ..view(1, 1)
            };
            assert_eq!(off.stats(now()).status, EventStatus::NotOnSale);
            assert!(!off.on_sale());
            let cancelled = EventView {
                cancellation: Some(Cancellation {
                    requested_at: now(),
                    sold_then: 1,
                    finished_at: None,
                }),
                ..off
            };
            assert_eq!(cancelled.stats(now()).status, EventStatus::Cancelled);
        }
        assert!(view(1, 1).on_sale());
        assert_eq!(EventView::new(event.clone()).visibility, Visibility::Draft);
    }

    #[test]
    fn ticket_types_replace_the_one_price() {
        let types = || {
            Some(vec![
                NewTicketType {
                    name: "Standard".into(),
                    price_minor: 1500,
                    quota: 80,
                    ..NewTicketType::default()
                },
                NewTicketType {
                    name: "VIP".into(),
                    price_minor: 4000,
                    quota: 20,
                    ..NewTicketType::default()
                },
            ])
        };
        let event = check(&NewEvent {
            price_minor: None,
            ticket_types: types(),
            ..valid()
        })
        .unwrap();
        let names: Vec<&str> = event.ticket_types.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["Standard", "VIP"]);
        assert_eq!(event.lowest_price().amount_minor, 1500);
        assert_ne!(event.ticket_types[0].id, event.ticket_types[1].id);
        assert_eq!(
            failing_fields(NewEvent {
                ticket_types: types(),
                ..valid()
            }),
            ["priceMinor"]
        );
        let errors = check(&NewEvent {
            capacity: 50,
            price_minor: None,
            ticket_types: types(),
            ..valid()
        })
        .unwrap_err();
        assert_eq!(
            errors.to_string(),
            "ticketTypes: ticket type 1 (\"Standard\"): quota must be between 1 and the event's capacity (50)"
        );
    }

    #[test]
    fn a_types_remaining_is_capped_by_the_events_seats() {
        let vip = TicketType {
            quota: 5,
            ..TicketType::legacy(EventId::from(Uuid::nil()), 1500, 10)
        };
        let counts = SeatCounts {
            taken: 2,
            sold: 1,
            checked_in: 0,
        };
        let stats = TypeStats::of(&vip, counts, 10, false, now());
        assert_eq!((stats.held, stats.sold, stats.remaining), (1, 1, 3));
        assert_eq!(stats.status, TypeStatus::OnSale);
        let capped = TypeStats::of(&vip, counts, 0, false, now());
        assert_eq!((capped.remaining, capped.status), (0, TypeStatus::SoldOut));
        assert_eq!(
            TypeStats::of(&vip, counts, 10, true, now()).status,
            TypeStatus::Ended
        );
    }
}
