//! Events, their validation and their seat counts.

use chrono::{DateTime, Months, Timelike, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ids::{EventId, UserId};
use crate::money::{Currency, MAX_AMOUNT_MINOR, Money};
use crate::time::to_millis;
use crate::validation::{ValidationErrors, multi_line, single_line};

pub const MAX_TITLE_CHARS: usize = 200;
pub const MAX_VENUE_CHARS: usize = 200;
pub const MAX_DESCRIPTION_CHARS: usize = 5_000;
pub const MAX_CAPACITY: i64 = 1_000_000;
/// How far ahead an event may start. Keeps every stored instant a four-digit year (the stored
/// form sorts and parses as RFC 3339 only then) and refuses dates nobody means.
pub const MAX_YEARS_AHEAD: u32 = 10;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    pub id: EventId,
    pub organizer_id: UserId,
    pub title: String,
    pub description: String,
    pub venue: String,
    pub starts_at: DateTime<Utc>,
    pub capacity: u32,
    pub price: Money,
    pub created_at: DateTime<Utc>,
}

/// What an organizer submits. Loosely typed on purpose: every field is checked by
/// [`NewEvent::validate`], which names each field at fault.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewEvent {
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub venue: String,
    pub starts_at: Option<DateTime<Utc>>,
    pub capacity: i64,
    pub price_minor: i64,
    pub currency: String,
}

impl NewEvent {
    /// Checks every field and builds the event, or returns all problems found.
    pub fn validate(
        &self,
        id: EventId,
        organizer_id: UserId,
        now: DateTime<Utc>,
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
        if !(1..=MAX_CAPACITY).contains(&self.capacity) {
            errors.add(
                "capacity",
                format!("must be between 1 and {MAX_CAPACITY} seats"),
            );
        }
        if self.price_minor < 0 {
            errors.add("priceMinor", "must not be negative (0 makes a free event)");
        } else if self.price_minor > MAX_AMOUNT_MINOR {
            errors.add(
                "priceMinor",
                format!("must be at most {MAX_AMOUNT_MINOR} minor units"),
            );
        }
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
            capacity: u32::try_from(self.capacity).expect("checked above"),
            price: Money {
                amount_minor: self.price_minor,
                currency: currency.expect("checked above"),
            },
            created_at: to_millis(now),
        })
    }
}

/// Seat counters the store keeps on each event. `taken` counts held and sold seats.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SeatCounts {
    pub taken: u32,
    pub sold: u32,
    pub checked_in: u32,
}

/// An event as stored, with its live seat counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventView {
    pub event: Event,
    pub seats: SeatCounts,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EventStatus {
    Open,
    SoldOut,
    Ended,
}

/// An event's seats: what is held, sold and left, and how many were scanned at the door.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventStats {
    #[schemars(range(min = 1))]
    pub capacity: u32,
    /// Seats held by buyers still paying.
    pub held: u32,
    pub sold: u32,
    pub remaining: u32,
    pub checked_in: u32,
    /// ENDED once the event has started, whatever seats are left.
    pub status: EventStatus,
}

impl EventView {
    pub fn stats(&self, now: DateTime<Utc>) -> EventStats {
        let SeatCounts {
            taken,
            sold,
            checked_in,
        } = self.seats;
        let remaining = self.event.capacity.saturating_sub(taken);
        let status = if now >= self.event.starts_at {
            EventStatus::Ended
        } else if remaining == 0 {
            EventStatus::SoldOut
        } else {
            EventStatus::Open
        };
        EventStats {
            capacity: self.event.capacity,
            held: taken.saturating_sub(sold),
            sold,
            remaining,
            checked_in,
            status,
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

    fn valid() -> NewEvent {
        NewEvent {
            title: "  Rust Meetup  ".into(),
            description: "Talks and pizza".into(),
            venue: "Hall 1".into(),
            starts_at: Some(now() + TimeDelta::days(7)),
            capacity: 100,
            price_minor: 1500,
            currency: "eur".into(),
        }
    }

    fn check(input: &NewEvent) -> Result<Event, ValidationErrors> {
        input.validate(EventId::from(Uuid::nil()), UserId::from("org-1"), now())
    }

    fn failing_fields(input: NewEvent) -> Vec<&'static str> {
        check(&input).unwrap_err().fields()
    }

    #[test]
    fn a_valid_event_is_normalised() {
        let event = check(&valid()).unwrap();
        assert_eq!(event.title, "Rust Meetup");
        assert_eq!(event.price.currency.code(), "EUR");
        assert_eq!(event.price.amount_minor, 1500);
        assert_eq!(event.capacity, 100);
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
                price_minor: -1,
                ..valid()
            }),
            ["priceMinor"]
        );
        assert_eq!(
            failing_fields(NewEvent {
                price_minor: 100_000_000,
                ..valid()
            }),
            ["priceMinor"]
        );
        assert!(
            check(&NewEvent {
                price_minor: 0,
                ..valid()
            })
            .unwrap()
            .price
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
            ["title", "venue", "startsAt", "capacity", "currency"]
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
            event: event.clone(),
            seats: SeatCounts {
                taken,
                sold,
                checked_in: 1,
            },
        };
        let stats = view(2, 1).stats(now());
        assert_eq!((stats.held, stats.sold, stats.remaining), (1, 1, 1));
        assert_eq!(stats.status, EventStatus::Open);
        assert_eq!(view(3, 1).stats(now()).status, EventStatus::SoldOut);
        assert_eq!(view(1, 1).stats(event.starts_at).status, EventStatus::Ended);
    }
}
