//! What the API answers: one type per response body. The OpenAPI document's schemas of these
//! bodies are the ones [`response_schemas`] derives from the types (a test compares them), so
//! the document cannot drift from what the handlers send.

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset, Utc};
use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, SchemaGenerator};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::event::{Event, EventStats, EventView, Visibility};
use crate::identity::Caller;
use crate::ids::{EventId, OrderId, TicketId, TicketTypeId};
use crate::order::{Order, OrderStatus, Ticket, TicketStatus};
use crate::organizer::OrganizerProfile;
use crate::page::Page;
use crate::promo::{Discount, PromoCodeView};
use crate::ticket_type::TicketType;

/// An event with its live availability.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "Event")]
pub struct EventBody {
    pub id: EventId,
    pub title: String,
    pub description: String,
    pub venue: String,
    pub starts_at: DateTime<Utc>,
    /// When it is over; null when the organizer did not say.
    pub ends_at: Option<DateTime<Utc>>,
    /// The venue's IANA time zone (`Europe/Zurich`; `UTC` for events made without one).
    pub time_zone: String,
    /// `startsAt` as a clock at the venue shows it, with the zone's offset
    /// (`2030-07-01T19:30:00+02:00`).
    pub starts_at_local: DateTime<FixedOffset>,
    /// `endsAt` likewise.
    pub ends_at_local: Option<DateTime<FixedOffset>>,
    /// Buyers may cancel their orders for a full refund (`POST /orders/{id}/cancel`) until this
    /// many hours before the start; null: they cannot.
    pub cancellation_cutoff_hours: Option<u32>,
    /// The instant that cut-off falls on; null when buyers cannot cancel.
    pub cancellable_until: Option<DateTime<Utc>>,
    /// Caps the seats of all ticket types together.
    pub capacity: u32,
    /// The cheapest ticket type's price in the currency's minor unit (cents); 0 for a free
    /// event.
    pub price_minor: i64,
    /// ISO 4217, lower case (`eur`): every type's price is in it.
    pub currency: String,
    /// In the organizer's order; their seats are in `availability`.
    pub ticket_types: Vec<TicketTypeBody>,
    pub created_at: DateTime<Utc>,
    /// Counts the event's edits from 1; also its ETag (`"3"`), which an edit names in
    /// `If-Match`.
    #[schemars(range(min = 1))]
    pub version: u32,
    /// Who organizes it, as their profile names them: in the answers about one event (null in
    /// lists, and while the organizer has no profile).
    pub organizer: Option<EventOrganizer>,
    /// Whether the caller organizes the event.
    pub organized_by_you: bool,
    /// DRAFT (new: only its organizer sees it), PUBLISHED (listed and on sale) or UNPUBLISHED
    /// (taken off: out of the listings and off sale, its tickets still valid).
    pub visibility: Visibility,
    pub availability: EventStats,
}

/// A kind of ticket an event sells.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "TicketType")]
pub struct TicketTypeBody {
    pub id: TicketTypeId,
    pub name: String,
    pub description: String,
    /// In the event's currency's minor unit; 0 is free.
    pub price_minor: i64,
    #[schemars(range(min = 1))]
    pub quota: u32,
    /// On sale from; null: from the event's publication.
    pub sales_start: Option<DateTime<Utc>>,
    /// On sale until; null: until the event starts.
    pub sales_end: Option<DateTime<Utc>>,
    #[schemars(range(min = 1, max = 10))]
    pub max_per_order: u32,
}

impl From<&TicketType> for TicketTypeBody {
    fn from(ticket_type: &TicketType) -> Self {
        Self {
            id: ticket_type.id,
            name: ticket_type.name.clone(),
            description: ticket_type.description.clone(),
            price_minor: ticket_type.price_minor,
            quota: ticket_type.quota,
            sales_start: ticket_type.sales_start,
            sales_end: ticket_type.sales_end,
            max_per_order: ticket_type.max_per_order,
        }
    }
}

impl EventBody {
    pub fn of(view: &EventView, caller: &Caller, now: DateTime<Utc>) -> Self {
        let event = &view.event;
        let local = event.local_times();
        Self {
            id: event.id,
            title: event.title.clone(),
            description: event.description.clone(),
            venue: event.venue.clone(),
            starts_at: event.starts_at,
            ends_at: event.ends_at,
            time_zone: event.time_zone.name().to_owned(),
            starts_at_local: local.starts_at.fixed_offset(),
            ends_at_local: local.ends_at.map(|end| end.fixed_offset()),
            cancellation_cutoff_hours: event.cancellation_cutoff_hours,
            cancellable_until: event.cancellable_until(),
            capacity: event.capacity,
            price_minor: event.lowest_price().amount_minor,
            currency: event.currency.code().to_owned(),
            ticket_types: event.ticket_types.iter().map(Into::into).collect(),
            created_at: event.created_at,
            version: view.version,
            organizer: None,
            organized_by_you: event.organizer_id == caller.user_id,
            visibility: view.visibility,
            availability: view.stats(now),
        }
    }
}

/// A checkout begun: its seat is held until `holdExpiresAt`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CheckoutStarted {
    pub order_id: OrderId,
    /// Where to pay (Stripe Checkout); null for a free event, whose registration has started.
    #[schemars(extend("format" = "uri"))]
    pub checkout_url: Option<String>,
    pub hold_expires_at: DateTime<Utc>,
}

/// What an order would cost, with a promo code's discount: nothing is held.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Quote {
    /// ISO 4217, lower case, as events give it.
    pub currency: String,
    /// Every ticket at its type's price.
    pub subtotal_minor: i64,
    /// What the promo code takes off; 0 without one.
    pub discount_minor: i64,
    /// What the buyer pays; 0 is a free order, which skips payment.
    pub total_minor: i64,
    /// The code applied (upper case), or null.
    pub promo_code: Option<String>,
}

/// A promo code of an event, with its uses.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "PromoCode")]
pub struct PromoCodeBody {
    /// Upper case; buyers may type it in any case.
    pub code: String,
    /// Percent off each ticket it applies to; null for an amount off.
    #[schemars(range(min = 1, max = 100))]
    pub percent_off: Option<u32>,
    /// Minor units off the order's tickets it applies to; null for a percentage.
    pub amount_off_minor: Option<i64>,
    /// The ticket types it discounts; empty: every type.
    pub ticket_type_ids: Vec<TicketTypeId>,
    #[schemars(range(min = 1))]
    pub max_uses: u32,
    /// Orders holding seats or paid with it.
    pub used: u32,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl From<&PromoCodeView> for PromoCodeBody {
    fn from(view: &PromoCodeView) -> Self {
        let promo = &view.promo;
        let (percent_off, amount_off_minor) = match promo.discount {
            Discount::Percent(percent) => (Some(percent), None),
            Discount::AmountOff(amount) => (None, Some(amount)),
        };
        Self {
            code: promo.code.clone(),
            percent_off,
            amount_off_minor,
            ticket_type_ids: promo.ticket_type_ids.clone(),
            max_uses: promo.max_uses,
            used: view.used,
            valid_from: promo.valid_from,
            valid_until: promo.valid_until,
            created_at: promo.created_at,
        }
    }
}

/// The organizer of an event, as attendees see them.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventOrganizer {
    pub name: String,
    #[schemars(email)]
    pub contact_email: String,
}

impl From<&OrganizerProfile> for EventOrganizer {
    fn from(profile: &OrganizerProfile) -> Self {
        Self {
            name: profile.display_name.clone(),
            contact_email: profile.contact_email.clone(),
        }
    }
}

/// An organizer's own profile: the name on their tickets and event pages, and their contact.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "OrganizerProfile")]
pub struct OrganizerProfileBody {
    #[schemars(length(min = 1, max = 100))]
    pub display_name: String,
    #[schemars(email)]
    pub contact_email: String,
    pub updated_at: DateTime<Utc>,
}

impl From<&OrganizerProfile> for OrganizerProfileBody {
    fn from(profile: &OrganizerProfile) -> Self {
        Self {
            display_name: profile.display_name.clone(),
            contact_email: profile.contact_email.clone(),
            updated_at: profile.updated_at,
        }
    }
}

/// An event's promo codes, oldest first.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PromoCodeList {
    pub promo_codes: Vec<PromoCodeBody>,
}

/// A short-lived link to a ticket's PDF.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DownloadLink {
    #[schemars(extend("format" = "uri"))]
    pub url: String,
    pub expires_at: DateTime<Utc>,
}

/// An order as its buyer sees it.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "Order")]
pub struct OrderBody {
    pub order_id: OrderId,
    pub event_id: EventId,
    /// PENDING until paid and registered; EXPIRED: the checkout ended unpaid and the seat went
    /// back (a payment that arrives later still moves it on); FULFILLED: the ticket is ready;
    /// FAILED: no ticket, see failureReason (a payment taken is refunded); REFUNDING: its
    /// organizer is refunding it (the tickets no longer admit); REFUNDED: the tickets were
    /// issued, then refunded (see failureReason).
    pub status: OrderStatus,
    pub failure_reason: Option<String>,
    /// What the whole order costs.
    pub amount_minor: i64,
    pub currency: String,
    /// Its tickets in the buyer's order, once recorded.
    pub tickets: Vec<OrderTicketBody>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl OrderBody {
    /// `status` is the order's own, or EXPIRED for a pending order whose seats went back.
    pub fn of(order: &Order, status: OrderStatus, tickets: Vec<OrderTicketBody>) -> Self {
        Self {
            order_id: order.id.clone(),
            event_id: order.event_id,
            status,
            failure_reason: order.failure_reason.clone(),
            amount_minor: order.amount.amount_minor,
            currency: order.amount.currency.code().to_owned(),
            tickets,
            created_at: order.created_at,
            updated_at: order.updated_at,
        }
    }
}

/// A ticket of an order.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "OrderTicket")]
pub struct OrderTicketBody {
    pub ticket_id: TicketId,
    /// One of the event's `ticketTypes`.
    pub ticket_type_id: TicketTypeId,
    pub status: TicketStatus,
    /// The name printed on the ticket.
    pub holder_name: String,
    /// Only when the order is FULFILLED and the ticket not VOID.
    pub download: Option<DownloadLink>,
}

impl OrderTicketBody {
    pub fn of(ticket: Ticket, download: Option<DownloadLink>) -> Self {
        Self {
            ticket_id: ticket.id,
            ticket_type_id: ticket.ticket_type_id,
            status: ticket.status,
            holder_name: ticket.attendee.name,
            download,
        }
    }
}

/// One of the caller's tickets.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "Ticket")]
pub struct TicketBody {
    pub ticket_id: TicketId,
    pub event_id: EventId,
    /// One of the event's `ticketTypes`.
    pub ticket_type_id: TicketTypeId,
    pub order_id: OrderId,
    pub status: TicketStatus,
    /// The ticket holder's name.
    pub attendee_name: String,
    /// When it was scanned at the door.
    pub used_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl From<&Ticket> for TicketBody {
    fn from(ticket: &Ticket) -> Self {
        Self {
            ticket_id: ticket.id,
            event_id: ticket.event_id,
            ticket_type_id: ticket.ticket_type_id,
            order_id: ticket.order_id.clone(),
            status: ticket.status,
            attendee_name: ticket.attendee.name.clone(),
            used_at: ticket.used_at,
            created_at: ticket.created_at,
        }
    }
}

/// A ticket on an event's attendee list.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "Attendee")]
pub struct AttendeeBody {
    pub ticket_id: TicketId,
    /// The order it was bought in: what its organizer refunds (`POST /orders/{id}/refund`).
    pub order_id: OrderId,
    pub ticket_type_id: TicketTypeId,
    /// The ticket type's name.
    pub ticket_type: String,
    pub name: String,
    pub email: String,
    pub status: TicketStatus,
    pub registered_at: DateTime<Utc>,
    pub checked_in_at: Option<DateTime<Utc>>,
}

impl AttendeeBody {
    pub fn of(ticket: &Ticket, event: &Event) -> Self {
        Self {
            ticket_id: ticket.id,
            order_id: ticket.order_id.clone(),
            ticket_type_id: ticket.ticket_type_id,
            ticket_type: event.type_name(ticket.ticket_type_id).to_owned(),
            name: ticket.attendee.name.clone(),
            email: ticket.attendee.email.clone(),
            status: ticket.status,
            registered_at: ticket.created_at,
            checked_in_at: ticket.used_at,
        }
    }
}

/// A page of items; `nextCursor` asks for the next one.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "{T}Page")]
pub struct PageBody<T> {
    pub items: Vec<T>,
    /// Present when more items may follow.
    pub next_cursor: Option<String>,
}

impl<T> PageBody<T> {
    pub fn of<U>(page: Page<U>, show: impl Fn(U) -> T) -> Self {
        Self {
            items: page.items.into_iter().map(show).collect(),
            next_cursor: page.next_cursor,
        }
    }
}

/// The verdict of a door scan, always answered with 200 so a scanner shows it as it is.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(
    tag = "result",
    rename_all = "SCREAMING_SNAKE_CASE",
    rename_all_fields = "camelCase"
)]
pub enum ScanResult {
    /// Admitted now.
    Valid {
        ticket_id: TicketId,
        event_id: EventId,
        event_title: String,
        /// The ticket type's name.
        ticket_type: String,
        attendee_name: String,
    },
    /// Admitted before: not again.
    Used {
        ticket_id: TicketId,
        event_id: EventId,
        event_title: String,
        ticket_type: String,
        attendee_name: String,
        /// When the ticket was first scanned.
        used_at: Option<DateTime<Utc>>,
    },
    /// A ticket of this event that no longer admits: its order failed or was refunded.
    Void {
        ticket_id: TicketId,
        event_id: EventId,
        event_title: String,
        ticket_type: String,
        attendee_name: String,
        /// Why, for the person at the door ("the order was refunded").
        reason: String,
    },
    /// Not a ticket of this system.
    Invalid { reason: String },
    /// A genuine ticket of someone else's event.
    NotYourEvent { event_id: EventId },
}

impl ScanResult {
    pub fn invalid(reason: &str) -> Self {
        Self::Invalid {
            reason: reason.to_owned(),
        }
    }
}

/// What the webhook did with a Stripe event.
#[derive(Debug, Serialize, JsonSchema)]
pub struct WebhookReceived {
    #[schemars(extend("const" = true))]
    pub received: bool,
    /// For example "registration started", "registration already started", "seat released",
    /// "ignored".
    pub outcome: &'static str,
}

/// A failure, for people: never internal error text.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "Error")]
pub struct ErrorBody {
    pub error: String,
    /// Validation only: each field at fault (camelCase name) and what is wrong with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "BTreeMap<String, String>")]
    pub fields: Option<BTreeMap<String, String>>,
}

/// The JSON Schemas of every response body, by the names the OpenAPI document gives them under
/// `components/schemas`.
pub fn response_schemas() -> Map<String, Value> {
    let mut generator = SchemaSettings::draft2020_12()
        .with(|settings| {
            settings.definitions_path = "/components/schemas".into();
            settings.meta_schema = None;
        })
        .for_serialize()
        .into_generator();
    add::<EventBody>(&mut generator);
    add::<crate::cancellation::CancellationProgress>(&mut generator);
    add::<PageBody<EventBody>>(&mut generator);
    add::<CheckoutStarted>(&mut generator);
    add::<Quote>(&mut generator);
    add::<PromoCodeBody>(&mut generator);
    add::<PromoCodeList>(&mut generator);
    add::<OrganizerProfileBody>(&mut generator);
    add::<OrderBody>(&mut generator);
    add::<PageBody<TicketBody>>(&mut generator);
    add::<PageBody<AttendeeBody>>(&mut generator);
    add::<ScanResult>(&mut generator);
    add::<WebhookReceived>(&mut generator);
    add::<ErrorBody>(&mut generator);
    generator.take_definitions(true)
}

fn add<T: JsonSchema>(generator: &mut SchemaGenerator) {
    generator.subschema_for::<T>();
}
