//! Holds, orders, registrations and tickets: what a purchase leaves behind.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ids::{EventId, HoldId, OrderId, RegistrationId, TicketId, TicketTypeId, UserId};
use crate::money::Money;

/// Statuses are stored as their upper-case names in every adapter.
macro_rules! status_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
        pub enum $name {
            $(#[serde(rename = $text)] $variant),+
        }

        impl $name {
            pub fn as_str(&self) -> &'static str {
                match self {
                    $(Self::$variant => $text),+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(text: &str) -> Result<Self, Self::Err> {
                match text {
                    $($text => Ok(Self::$variant),)+
                    other => Err(format!("unknown {} {other:?}", stringify!($name))),
                }
            }
        }
    };
}

status_enum!(
    /// A held seat is counted as taken until it is sold or released.
    HoldStatus { Held = "HELD", Sold = "SOLD", Released = "RELEASED" }
);
status_enum!(
    /// `EXPIRED`: the checkout ended unpaid (expired, its delayed payment failed, or it never
    /// reached the payment provider) and its seat went back. `REFUNDING`: its organizer asked
    /// for a refund, which is under way (or was cut short: a reconciliation pass finishes it).
    OrderStatus {
        Pending = "PENDING",
        Fulfilled = "FULFILLED",
        Failed = "FAILED",
        Refunding = "REFUNDING",
        Refunded = "REFUNDED",
        Expired = "EXPIRED",
    }
);
status_enum!(TicketStatus { Valid = "VALID", Used = "USED", Void = "VOID" });

impl OrderStatus {
    /// Whether a registration may still record the order's ticket: pending, or expired and
    /// paid late after all (see [`Self::allowed_from`]).
    pub fn takes_a_ticket(self) -> bool {
        Self::Fulfilled.allowed_from().contains(&self)
    }

    /// The statuses an order may move to `self` from. Moving to the status it already has is
    /// always allowed and changes nothing.
    pub fn allowed_from(self) -> &'static [OrderStatus] {
        match self {
            Self::Pending => &[],
            Self::Expired => &[Self::Pending],
            // A payment that still reaches an expired checkout is a late payment: it takes a
            // free seat (`FULFILLED`) or is refunded (`FAILED`).
            Self::Fulfilled | Self::Failed => &[Self::Pending, Self::Expired],
            Self::Refunding => &[Self::Fulfilled],
            Self::Refunded => &[Self::Fulfilled, Self::Failed, Self::Refunding],
        }
    }

    /// Whether reconciliation passes look at an order in this status ([`crate::Store::orders_due`]):
    /// a pending one may have been paid unseen, a refunding one may have been cut short.
    pub fn is_checked(self) -> bool {
        matches!(self, Self::Pending | Self::Refunding)
    }
}

/// The seats of one order: how many of each ticket type. A hold takes them all or none.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Seats(BTreeMap<TicketTypeId, u32>);

impl Seats {
    /// One seat of one type: what every hold made before orders of several tickets took.
    pub fn one(type_id: TicketTypeId) -> Self {
        Self(BTreeMap::from([(type_id, 1)]))
    }

    pub fn total(&self) -> u32 {
        self.0.values().sum()
    }

    /// The seats of `type_id` among them.
    pub fn of(&self, type_id: TicketTypeId) -> u32 {
        self.0.get(&type_id).copied().unwrap_or(0)
    }

    /// Each type with its count (never 0), in id order.
    pub fn iter(&self) -> impl Iterator<Item = (TicketTypeId, u32)> + '_ {
        self.0.iter().map(|(&type_id, &count)| (type_id, count))
    }
}

/// One seat per ticket.
impl FromIterator<TicketTypeId> for Seats {
    fn from_iter<I: IntoIterator<Item = TicketTypeId>>(types: I) -> Self {
        types.into_iter().map(|type_id| (type_id, 1)).collect()
    }
}

/// Counts per type, added up; a count of 0 adds nothing.
impl FromIterator<(TicketTypeId, u32)> for Seats {
    fn from_iter<I: IntoIterator<Item = (TicketTypeId, u32)>>(counts: I) -> Self {
        let mut seats = BTreeMap::new();
        for (type_id, count) in counts.into_iter().filter(|&(_, count)| count > 0) {
            *seats.entry(type_id).or_insert(0) += count;
        }
        Self(seats)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Hold {
    pub id: HoldId,
    pub event_id: EventId,
    pub seats: Seats,
    /// The promo code the hold uses (upper case): one use of it, given back with the seats.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promo_code: Option<String>,
    pub user_id: UserId,
    pub status: HoldStatus,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

/// A request to hold seats (one or more, of one or more types) until `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewHold {
    pub id: HoldId,
    pub seats: Seats,
    /// A promo code (upper case) the hold takes one use of, all or nothing with the seats.
    pub promo_code: Option<String>,
    pub user_id: UserId,
    pub expires_at: DateTime<Utc>,
    /// The event's version the hold's prices were judged by: the hold is refused
    /// (`EventChanged`) if the event was edited since. `None` takes any version.
    pub event_version: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    pub id: OrderId,
    pub event_id: EventId,
    pub hold_id: HoldId,
    pub user_id: UserId,
    pub payment_intent_id: Option<String>,
    pub amount: Money,
    pub status: OrderStatus,
    /// Its tickets, in the order they were asked for; empty until they are recorded.
    pub ticket_ids: Vec<TicketId>,
    pub failure_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attendee {
    /// The ticket holder's name: given at checkout, or the buyer's.
    pub name: String,
    pub email: String,
}

/// An attendee's place on an event's list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Registration {
    pub id: RegistrationId,
    pub event_id: EventId,
    pub order_id: OrderId,
    pub ticket_id: TicketId,
    pub user_id: UserId,
    pub attendee: Attendee,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Ticket {
    pub id: TicketId,
    pub event_id: EventId,
    pub ticket_type_id: TicketTypeId,
    pub order_id: OrderId,
    pub registration_id: RegistrationId,
    pub user_id: UserId,
    pub attendee: Attendee,
    pub status: TicketStatus,
    pub used_at: Option<DateTime<Utc>>,
    pub used_by: Option<UserId>,
    pub pdf_key: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl Ticket {
    pub fn registration(&self) -> Registration {
        Registration {
            id: self.registration_id,
            event_id: self.event_id,
            order_id: self.order_id.clone(),
            ticket_id: self.id,
            user_id: self.user_id.clone(),
            attendee: self.attendee.clone(),
            created_at: self.created_at,
        }
    }
}

/// One ticket to record: its ids, type and holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketDraft {
    pub id: TicketId,
    pub registration_id: RegistrationId,
    pub ticket_type_id: TicketTypeId,
    pub attendee: Attendee,
}

/// What recording a paid order needs: the order (created if the store has none under its id)
/// and its tickets, at least one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTickets {
    pub order: Order,
    pub tickets: Vec<TicketDraft>,
    pub created_at: DateTime<Utc>,
}

impl NewTickets {
    /// The tickets this request creates when the order has none yet.
    pub fn tickets(&self) -> Vec<Ticket> {
        self.tickets
            .iter()
            .map(|draft| Ticket {
                id: draft.id,
                event_id: self.order.event_id,
                ticket_type_id: draft.ticket_type_id,
                order_id: self.order.id.clone(),
                registration_id: draft.registration_id,
                user_id: self.order.user_id.clone(),
                attendee: draft.attendee.clone(),
                status: TicketStatus::Valid,
                used_at: None,
                used_by: None,
                pdf_key: None,
                created_at: self.created_at,
            })
            .collect()
    }

    /// The order as it is once its tickets are recorded.
    pub fn order_with_tickets(&self) -> Order {
        Order {
            ticket_ids: self.tickets.iter().map(|draft| draft.id).collect(),
            ..self.order.clone()
        }
    }
}

/// The order of one checkout session and its tickets, in the order's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub order: Order,
    pub tickets: Vec<Ticket>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_through_text() {
        for status in [HoldStatus::Held, HoldStatus::Sold, HoldStatus::Released] {
            assert_eq!(status.as_str().parse::<HoldStatus>(), Ok(status));
        }
        assert_eq!("USED".parse::<TicketStatus>(), Ok(TicketStatus::Used));
        assert!("used".parse::<TicketStatus>().is_err());
        assert_eq!(
            serde_json::to_string(&OrderStatus::Fulfilled).unwrap(),
            "\"FULFILLED\""
        );
    }

    #[test]
    fn orders_move_forward_only() {
        assert!(
            OrderStatus::Fulfilled
                .allowed_from()
                .contains(&OrderStatus::Pending)
        );
        assert!(
            !OrderStatus::Pending
                .allowed_from()
                .contains(&OrderStatus::Failed)
        );
        assert!(
            !OrderStatus::Fulfilled
                .allowed_from()
                .contains(&OrderStatus::Failed)
        );
    }
}
