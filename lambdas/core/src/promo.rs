//! Promo codes: a discount an organizer hands out for one event, a percentage or an amount off,
//! perhaps for some ticket types only, usable by a limited number of orders within a window.
//! The store counts the uses, atomically with the hold an order takes; everything else about a
//! code (its window, its types, what it takes off) is judged here.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::event::Event;
use crate::ids::{EventId, TicketTypeId};
use crate::money::{MAX_AMOUNT_MINOR, Money};
use crate::order::Seats;
use crate::time::to_millis;
use crate::validation::ValidationErrors;

pub const MIN_CODE_CHARS: usize = 3;
pub const MAX_CODE_CHARS: usize = 32;
pub const MAX_USES: u32 = 1_000_000;
/// Codes per event: enough for a campaign per partner, few enough to list on one page.
pub const MAX_CODES_PER_EVENT: usize = 200;

/// What a code takes off the tickets it applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Discount {
    /// 1 to 100 percent off each ticket it applies to (100 makes them free).
    Percent(u32),
    /// An amount off the order's tickets it applies to together, at most their price.
    AmountOff(i64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromoCode {
    pub event_id: EventId,
    /// Upper case: buyers may type it in any case ([`canonical_code`]).
    pub code: String,
    pub discount: Discount,
    /// The types it discounts; empty: every type.
    pub ticket_type_ids: Vec<TicketTypeId>,
    /// How many orders may use it. A held order uses it until its hold is released.
    pub max_uses: u32,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// A code with its uses so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromoCodeView {
    pub promo: PromoCode,
    pub used: u32,
}

/// A code as buyers may type it: trimmed, upper case.
pub fn canonical_code(text: &str) -> String {
    text.trim().to_uppercase()
}

/// Why a code cannot be used for an order, each with the words an API answers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PromoRefusal {
    #[error("the promo code {0:?} does not exist for this event")]
    Unknown(String),
    #[error("the promo code {0:?} is not valid yet")]
    NotYet(String),
    #[error("the promo code {0:?} has expired")]
    Expired(String),
    #[error("the promo code {0:?} has been used up")]
    UsedUp(String),
    #[error("the promo code {0:?} is not valid for the chosen ticket types")]
    NoEligibleTickets(String),
}

impl PromoRefusal {
    /// Whether the order could take the code at another time (a conflict with its state) rather
    /// than never (a bad request).
    pub fn is_conflict(&self) -> bool {
        matches!(self, Self::NotYet(_) | Self::Expired(_) | Self::UsedUp(_))
    }
}

impl PromoCode {
    pub fn applies_to(&self, type_id: TicketTypeId) -> bool {
        self.ticket_type_ids.is_empty() || self.ticket_type_ids.contains(&type_id)
    }

    /// Whether the code may be used at `now`: its window only (uses are the store's to count).
    pub fn check_window(&self, now: DateTime<Utc>) -> Result<(), PromoRefusal> {
        if self.valid_from.is_some_and(|from| now < from) {
            Err(PromoRefusal::NotYet(self.code.clone()))
        } else if self.valid_until.is_some_and(|until| now >= until) {
            Err(PromoRefusal::Expired(self.code.clone()))
        } else {
            Ok(())
        }
    }

    /// What the code takes off an order of `seats` of `event`, in minor units: a percentage
    /// rounded down per order (the buyer never pays less than the percentage says), an amount at
    /// most the price of the tickets it applies to. `NoEligibleTickets` if it applies to none.
    pub fn discount_minor(&self, event: &Event, seats: &Seats) -> Result<i64, PromoRefusal> {
        let mut eligible_tickets = 0;
        let mut eligible_minor: i64 = 0;
        for (type_id, count) in seats.iter() {
            if !self.applies_to(type_id) {
                continue;
            }
            let price = event.ticket_type(type_id).map_or(0, |t| t.price_minor);
            eligible_tickets += count;
            eligible_minor += price * i64::from(count);
        }
        // Only free tickets to discount is nothing to discount.
        if eligible_tickets == 0 || eligible_minor == 0 {
            return Err(PromoRefusal::NoEligibleTickets(self.code.clone()));
        }
        Ok(match self.discount {
            Discount::Percent(percent) => eligible_minor * i64::from(percent) / 100,
            Discount::AmountOff(amount) => amount.min(eligible_minor),
        })
    }

    /// How the discount reads on a receipt and in the Stripe session: `SPRING25 (25 % off)`.
    pub fn label(&self, event: &Event) -> String {
        let what = match self.discount {
            Discount::Percent(percent) => format!("{percent} % off"),
            Discount::AmountOff(amount) => format!(
                "{} off",
                Money {
                    amount_minor: amount,
                    currency: event.currency,
                }
            ),
        };
        format!("{} ({what})", self.code)
    }
}

/// What an organizer submits to create a code; checked by [`NewPromoCode::validate`].
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewPromoCode {
    pub code: String,
    #[serde(default)]
    pub percent_off: Option<i64>,
    #[serde(default)]
    pub amount_off_minor: Option<i64>,
    #[serde(default)]
    pub ticket_type_ids: Option<Vec<TicketTypeId>>,
    pub max_uses: i64,
    #[serde(default)]
    pub valid_from: Option<DateTime<Utc>>,
    #[serde(default)]
    pub valid_until: Option<DateTime<Utc>>,
}

impl NewPromoCode {
    /// The code for `event`, or every problem with the submission, each naming its field.
    pub fn validate(
        &self,
        event: &Event,
        created_at: DateTime<Utc>,
    ) -> Result<PromoCode, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let code = canonical_code(&self.code);
        let length = code.chars().count();
        if !(MIN_CODE_CHARS..=MAX_CODE_CHARS).contains(&length)
            || !code
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            errors.add(
                "code",
                format!(
                    "must be {MIN_CODE_CHARS} to {MAX_CODE_CHARS} characters of A-Z, 0-9, '-' and '_'"
                ),
            );
        }
        let discount = match (self.percent_off, self.amount_off_minor) {
            (Some(percent), None) if (1..=100).contains(&percent) => {
                Some(Discount::Percent(percent as u32))
            }
            (Some(_), None) => {
                errors.add("percentOff", "must be between 1 and 100");
                None
            }
            (None, Some(amount)) if (1..=MAX_AMOUNT_MINOR).contains(&amount) => {
                Some(Discount::AmountOff(amount))
            }
            (None, Some(_)) => {
                errors.add(
                    "amountOffMinor",
                    format!("must be between 1 and {MAX_AMOUNT_MINOR} minor units"),
                );
                None
            }
            _ => {
                errors.add(
                    "percentOff",
                    "give exactly one of percentOff and amountOffMinor",
                );
                None
            }
        };
        let mut ticket_type_ids = self.ticket_type_ids.clone().unwrap_or_default();
        ticket_type_ids.sort();
        ticket_type_ids.dedup();
        // One message, not one per id, for a list longer than the event has types.
        if ticket_type_ids.len() > event.ticket_types.len() {
            errors.add(
                "ticketTypeIds",
                format!("the event has {} ticket types", event.ticket_types.len()),
            );
            ticket_type_ids.clear();
        }
        for type_id in &ticket_type_ids {
            if event.ticket_type(*type_id).is_none() {
                errors.add(
                    "ticketTypeIds",
                    format!("the event has no ticket type {type_id}"),
                );
            }
        }
        // In the organizer's order of the types, as the event lists them.
        let ticket_type_ids: Vec<TicketTypeId> = event
            .ticket_types
            .iter()
            .map(|t| t.id)
            .filter(|id| ticket_type_ids.contains(id))
            .collect();
        let (max_uses, valid_from, valid_until) = checked_limits(
            &mut errors,
            self.max_uses,
            self.valid_from,
            self.valid_until,
        );
        let discount = discount.unwrap_or(Discount::Percent(0));
        errors.into_result(|| PromoCode {
            event_id: event.id,
            code,
            discount,
            ticket_type_ids,
            max_uses,
            valid_from,
            valid_until,
            created_at: to_millis(created_at),
        })
    }
}

/// The limits a code is created or edited with, checked: its uses and its window.
fn checked_limits(
    errors: &mut ValidationErrors,
    max_uses: i64,
    valid_from: Option<DateTime<Utc>>,
    valid_until: Option<DateTime<Utc>>,
) -> (u32, Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
    if !(1..=i64::from(MAX_USES)).contains(&max_uses) {
        errors.add("maxUses", format!("must be between 1 and {MAX_USES}"));
    }
    let (valid_from, valid_until) = (valid_from.map(to_millis), valid_until.map(to_millis));
    if let (Some(from), Some(until)) = (valid_from, valid_until)
        && from >= until
    {
        errors.add("validUntil", "must be after validFrom");
    }
    (
        u32::try_from(max_uses).unwrap_or(0),
        valid_from,
        valid_until,
    )
}

/// What an organizer may change of a code: its limits. Its discount and types stay, since
/// orders were priced by them; a field left out stays as it is, `null` clears a window's end.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PromoCodeChange {
    #[serde(default)]
    pub max_uses: Option<i64>,
    #[serde(default, deserialize_with = "present")]
    pub valid_from: Option<Option<DateTime<Utc>>>,
    #[serde(default, deserialize_with = "present")]
    pub valid_until: Option<Option<DateTime<Utc>>>,
}

/// A field that is present, `null` included: `Some(None)` for `null`, so that a missing field
/// (the `default`, `None`) can be told apart.
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

impl PromoCodeChange {
    /// The code as it is after the change, or every problem with it. Whether the new limit
    /// leaves room for the uses already counted is the store's to judge, atomically.
    pub fn apply(&self, promo: &PromoCode) -> Result<PromoCode, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let (max_uses, valid_from, valid_until) = checked_limits(
            &mut errors,
            self.max_uses.unwrap_or(i64::from(promo.max_uses)),
            self.valid_from.unwrap_or(promo.valid_from),
            self.valid_until.unwrap_or(promo.valid_until),
        );
        errors.into_result(|| PromoCode {
            max_uses,
            valid_from,
            valid_until,
            ..promo.clone()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;
    use crate::ticket_type::TicketType;
    use chrono::TimeZone;

    fn at(hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2030, 1, 1, hour, 0, 0).unwrap()
    }

    fn ticket_type(id: u128, price_minor: i64) -> TicketType {
        TicketType {
            id: TicketTypeId::from(uuid::Uuid::from_u128(id)),
            name: format!("type {id}"),
            price_minor,
            ..TicketType::legacy(EventId::from(uuid::Uuid::from_u128(99)), 0, 100)
        }
    }

    fn event() -> Event {
        Event {
            id: EventId::from(uuid::Uuid::from_u128(99)),
            organizer_id: crate::ids::UserId::from("org"),
            title: "Gig".into(),
            description: String::new(),
            venue: "Hall".into(),
            starts_at: at(20),
            ends_at: None,
            time_zone: crate::Tz::UTC,
            cancellation_cutoff_hours: None,
            capacity: 100,
            currency: "EUR".parse::<Currency>().unwrap(),
            ticket_types: vec![ticket_type(1, 2500), ticket_type(2, 999)],
            created_at: at(0),
        }
    }

    fn code(discount: Discount, types: Vec<TicketTypeId>) -> PromoCode {
        PromoCode {
            event_id: event().id,
            code: "SPRING".into(),
            discount,
            ticket_type_ids: types,
            max_uses: 5,
            valid_from: Some(at(8)),
            valid_until: Some(at(12)),
            created_at: at(0),
        }
    }

    fn seats(standard: u32, cheap: u32) -> Seats {
        let event = event();
        [
            (event.ticket_types[0].id, standard),
            (event.ticket_types[1].id, cheap),
        ]
        .into_iter()
        .collect()
    }

    #[test]
    fn a_percentage_is_taken_off_the_tickets_it_applies_to_rounded_down() {
        let event = event();
        let all = code(Discount::Percent(15), vec![]);
        // 2 × 25.00 + 1 × 9.99 = 59.99; 15 % is 8.9985, the buyer saves 8.99.
        assert_eq!(all.discount_minor(&event, &seats(2, 1)), Ok(899));
        let cheap_only = code(Discount::Percent(50), vec![event.ticket_types[1].id]);
        assert_eq!(cheap_only.discount_minor(&event, &seats(2, 2)), Ok(999));
        assert_eq!(
            cheap_only.discount_minor(&event, &seats(2, 0)),
            Err(PromoRefusal::NoEligibleTickets("SPRING".into()))
        );
        // A code for nothing but free tickets takes nothing off: it does not apply.
        let free_type = Event {
            ticket_types: vec![ticket_type(1, 2500), ticket_type(2, 0)],
            ..event.clone()
        };
        let for_free = code(Discount::AmountOff(500), vec![free_type.ticket_types[1].id]);
        assert_eq!(
            for_free.discount_minor(&free_type, &seats(1, 1)),
            Err(PromoRefusal::NoEligibleTickets("SPRING".into()))
        );
        let free = code(Discount::Percent(100), vec![]);
        assert_eq!(free.discount_minor(&event, &seats(1, 1)), Ok(3499));
    }

    #[test]
    fn an_amount_off_is_at_most_the_price_of_what_it_applies_to() {
        let event = event();
        let five = code(Discount::AmountOff(500), vec![]);
        assert_eq!(five.discount_minor(&event, &seats(1, 0)), Ok(500));
        let big = code(Discount::AmountOff(5000), vec![event.ticket_types[1].id]);
        assert_eq!(big.discount_minor(&event, &seats(3, 1)), Ok(999));
    }

    #[test]
    fn a_code_is_valid_from_its_start_until_just_before_its_end() {
        let promo = code(Discount::Percent(10), vec![]);
        assert_eq!(
            promo.check_window(at(7)),
            Err(PromoRefusal::NotYet("SPRING".into()))
        );
        assert_eq!(promo.check_window(at(8)), Ok(()));
        assert_eq!(
            promo.check_window(at(12)),
            Err(PromoRefusal::Expired("SPRING".into()))
        );
        assert!(PromoRefusal::UsedUp("X".into()).is_conflict());
        assert!(!PromoRefusal::Unknown("X".into()).is_conflict());
    }

    #[test]
    fn a_change_keeps_what_it_leaves_out_and_null_clears_a_window_end() {
        let promo = code(Discount::Percent(10), vec![]);
        let change: PromoCodeChange =
            serde_json::from_str(r#"{"maxUses": 9, "validUntil": null}"#).unwrap();
        let changed = change.apply(&promo).unwrap();
        assert_eq!(
            (changed.max_uses, changed.valid_from, changed.valid_until),
            (9, promo.valid_from, None)
        );
        assert_eq!(changed.discount, promo.discount);
        let bad: PromoCodeChange =
            serde_json::from_str(r#"{"maxUses": 0, "validFrom": "2030-01-01T13:00:00Z"}"#).unwrap();
        assert_eq!(
            bad.apply(&promo).unwrap_err().fields(),
            vec!["maxUses", "validUntil"]
        );
        assert!(serde_json::from_str::<PromoCodeChange>(r#"{"percentOff": 5}"#).is_err());
    }

    #[test]
    fn submissions_are_checked_field_by_field() {
        let event = event();
        let good = NewPromoCode {
            code: " friends-10 ".into(),
            percent_off: Some(10),
            ticket_type_ids: Some(vec![event.ticket_types[1].id, event.ticket_types[1].id]),
            max_uses: 5,
            ..NewPromoCode::default()
        };
        let promo = good.validate(&event, at(1)).unwrap();
        assert_eq!(promo.code, "FRIENDS-10");
        assert_eq!(promo.discount, Discount::Percent(10));
        assert_eq!(promo.ticket_type_ids, vec![event.ticket_types[1].id]);
        assert_eq!(promo.label(&event), "FRIENDS-10 (10 % off)");

        let bad = NewPromoCode {
            code: "a b".into(),
            percent_off: Some(10),
            amount_off_minor: Some(100),
            ticket_type_ids: Some(vec![TicketTypeId::from(uuid::Uuid::from_u128(7))]),
            max_uses: 0,
            valid_from: Some(at(9)),
            valid_until: Some(at(9)),
        };
        let errors = bad.validate(&event, at(1)).unwrap_err();
        assert_eq!(
            errors.fields(),
            vec![
                "code",
                "percentOff",
                "ticketTypeIds",
                "maxUses",
                "validUntil"
            ]
        );
        for (percent, amount, field) in [
            (Some(0), None, "percentOff"),
            (Some(101), None, "percentOff"),
            (None, Some(0), "amountOffMinor"),
            (None, None, "percentOff"),
        ] {
            let submission = NewPromoCode {
                code: "OK1".into(),
                percent_off: percent,
                amount_off_minor: amount,
                max_uses: 1,
                ..NewPromoCode::default()
            };
            assert_eq!(
                submission.validate(&event, at(1)).unwrap_err().fields(),
                vec![field]
            );
        }
    }
}
