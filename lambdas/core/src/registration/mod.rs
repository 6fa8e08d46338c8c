//! The registration saga's steps: what `statemachines/registration.asl.json` runs, on Step
//! Functions (one Lambda per step) and in ticketd (all steps in one process, through
//! [`RegistrationSteps`]).
//!
//! Every task gets the execution input ([`RegistrationRequest`]) plus whatever earlier steps
//! added (`seat`, `ticket`, `file`, `delivery`, `error`, `undo`). Steps read the request only
//! and look everything else up in the store, because the step that would have produced a result
//! may have failed midway. Each step is idempotent, and each compensation succeeds with a
//! "nothing to undo" outcome when there is nothing to undo.
//!
//! Failures carry one of three error names ([`TRANSIENT`], [`SEAT_UNAVAILABLE`], [`REJECTED`]),
//! which the state machine retries on or catches by name.

mod dispatch;
mod failure;
mod render;
mod steps;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ids::{EventId, HoldId, OrderId, TicketTypeId, UserId};
use crate::money::{Currency, MAX_AMOUNT_MINOR, Money};
use crate::order::{Attendee, Order, OrderStatus, Seats};
use crate::payments::RefundRequest;
use crate::ticket_type::{MAX_TICKETS_PER_ORDER, legacy_type_id};
use crate::validation::ValidationErrors;

pub use dispatch::{RegistrationSteps, Step, output};
pub(crate) use failure::port_failure;
pub use failure::{
    ERROR_NAMES, REJECTED, SEAT_UNAVAILABLE, StepFailure, TRANSIENT, failure_reason,
};
pub use render::{RenderFailure, TICKET_ISSUER, TicketPdf, TicketRenderer};
pub use steps::{
    Outcome, SeatConfirmed, TicketDelivered, TicketsRecorded, TicketsRendered, Undone,
    confirm_seat, deliver_ticket, fail_order, record_ticket, refund_payment, release_seat,
    remove_ticket_file, render_ticket, ticket_pdf, void_ticket,
};

/// The longest order id accepted (Stripe's session ids are about 70 characters).
pub const MAX_ORDER_ID_LEN: usize = 255;
/// The longest attendee name and email kept on a ticket (Stripe's own limits are lower).
pub const MAX_ATTENDEE_NAME_CHARS: usize = 200;
pub const MAX_ATTENDEE_EMAIL_CHARS: usize = 320;

/// The execution input: one paid (or free) order of held seats to turn into tickets. The
/// execution is named by `order_id`, so a payment starts at most one registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistrationRequest {
    /// The checkout session id; free events get an id of their own.
    pub order_id: OrderId,
    pub event_id: EventId,
    pub hold_id: HoldId,
    /// The one ticket's type of a request made before orders of several tickets (see
    /// [`Self::ordered_tickets`]). Absent from requests made before ticket types too, whose
    /// events have the one type [`legacy_type_id`] names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket_type_id: Option<TicketTypeId>,
    /// The order's tickets, one per held seat, in the buyer's order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tickets: Vec<OrderedTicket>,
    pub user_id: UserId,
    /// What a refund goes back to; none for free events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_intent_id: Option<String>,
    pub amount_minor: i64,
    pub currency: Currency,
    /// The buyer: each ticket carries this email, and this name unless it names its holder.
    pub attendee: Attendee,
}

/// One ticket of an order: its type and, if the buyer gave one, its holder's name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderedTicket {
    pub ticket_type_id: TicketTypeId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder_name: Option<String>,
}

impl RegistrationRequest {
    /// The order's tickets, at least one: `tickets`, or the one ticket of a request made
    /// before orders of several tickets.
    pub fn ordered_tickets(&self) -> Vec<OrderedTicket> {
        if !self.tickets.is_empty() {
            return self.tickets.clone();
        }
        vec![OrderedTicket {
            ticket_type_id: self
                .ticket_type_id
                .unwrap_or_else(|| legacy_type_id(self.event_id)),
            holder_name: None,
        }]
    }

    /// The seats the order's hold took: one per ticket.
    pub fn seats(&self) -> Seats {
        self.ordered_tickets()
            .into_iter()
            .map(|ticket| ticket.ticket_type_id)
            .collect()
    }

    /// Who a ticket of the order admits: its holder, or the buyer.
    pub fn attendee_of(&self, ticket: &OrderedTicket) -> Attendee {
        Attendee {
            name: ticket
                .holder_name
                .clone()
                .unwrap_or_else(|| self.attendee.name.clone()),
            email: self.attendee.email.clone(),
        }
    }

    pub fn amount(&self) -> Money {
        Money {
            amount_minor: self.amount_minor,
            currency: self.currency,
        }
    }

    /// The `PENDING` order this request opens.
    pub fn order(&self, now: DateTime<Utc>) -> Order {
        Order {
            id: self.order_id.clone(),
            event_id: self.event_id,
            hold_id: self.hold_id,
            user_id: self.user_id.clone(),
            payment_intent_id: self.payment_intent_id.clone(),
            amount: self.amount(),
            status: OrderStatus::Pending,
            ticket_ids: Vec::new(),
            failure_reason: None,
            created_at: now,
            updated_at: now,
        }
    }

    /// The refund that undoes this payment; `None` when nothing was paid.
    pub fn refund(&self) -> Option<RefundRequest> {
        let payment_intent_id = self.payment_intent_id.clone()?;
        (self.amount_minor > 0).then(|| RefundRequest {
            order_id: self.order_id.clone(),
            payment_intent_id,
            amount: self.amount(),
        })
    }

    /// Checks what the store and the ticket rely on. Attendee details are not judged beyond
    /// their length: they come from the payment provider, and refusing them would turn a paid
    /// seat into a refund.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::default();
        if let Some(problem) = order_id_problem(&self.order_id) {
            errors.add("orderId", problem);
        }
        let user = self.user_id.as_str();
        if user.trim().is_empty() || user.chars().any(char::is_control) {
            errors.add("userId", "must be a non-empty single line");
        }
        if let Some(intent) = &self.payment_intent_id
            && (intent.is_empty() || !intent.bytes().all(|b| b.is_ascii_graphic()))
        {
            errors.add("paymentIntentId", "must be printable ASCII without spaces");
        }
        if !(0..=MAX_AMOUNT_MINOR).contains(&self.amount_minor) {
            errors.add(
                "amountMinor",
                format!("must be between 0 and {MAX_AMOUNT_MINOR}"),
            );
        }
        if self.attendee.name.chars().count() > MAX_ATTENDEE_NAME_CHARS {
            errors.add(
                "attendee.name",
                format!("must be at most {MAX_ATTENDEE_NAME_CHARS} characters"),
            );
        }
        if self.attendee.email.chars().count() > MAX_ATTENDEE_EMAIL_CHARS {
            errors.add(
                "attendee.email",
                format!("must be at most {MAX_ATTENDEE_EMAIL_CHARS} characters"),
            );
        }
        if self.tickets.len() > MAX_TICKETS_PER_ORDER as usize {
            errors.add(
                "tickets",
                format!("an order takes at most {MAX_TICKETS_PER_ORDER} tickets"),
            );
        }
        for (index, ticket) in self.tickets.iter().enumerate() {
            let name = ticket.holder_name.as_deref().unwrap_or_default();
            if name.chars().count() > MAX_ATTENDEE_NAME_CHARS {
                errors.add(
                    "tickets",
                    format!(
                        "holderName of ticket {}: must be at most {MAX_ATTENDEE_NAME_CHARS} \
                         characters",
                        index + 1
                    ),
                );
            }
        }
        errors.into_result(|| ())
    }
}

/// Why an order id cannot name an order, if it cannot: it becomes a store key and an execution
/// name.
fn order_id_problem(id: &OrderId) -> Option<String> {
    let id = id.as_str();
    let fine =
        !id.is_empty() && id.len() <= MAX_ORDER_ID_LEN && id.bytes().all(|b| b.is_ascii_graphic());
    (!fine).then(|| format!("must be 1 to {MAX_ORDER_ID_LEN} printable ASCII characters"))
}

/// What a Catch put under `error`: Step Functions' `{"Error": name, "Cause": text}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaughtError {
    #[serde(rename = "Error")]
    pub error: String,
    #[serde(rename = "Cause", default)]
    pub cause: Option<String>,
}

/// A task's payload: the request, and the error a Catch recorded, if any. Everything else
/// earlier steps added is ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepPayload {
    pub request: RegistrationRequest,
    pub error: Option<CaughtError>,
}

impl StepPayload {
    /// Reads a payload. Its shape only: [`RegistrationRequest::validate`] is for the steps
    /// that write, so compensations still undo what they can for a request that fails it.
    pub fn parse(payload: &Value) -> Result<Self, StepFailure> {
        let request = RegistrationRequest::deserialize(payload).map_err(|error| {
            StepFailure::rejected(format!(
                "the payload is not a registration request: {error}"
            ))
        })?;
        // A malformed `error` only loses the buyer-facing reason's precision, so it is not fatal.
        let error = payload
            .get("error")
            .and_then(|error| CaughtError::deserialize(error).ok());
        Ok(Self { request, error })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use uuid::Uuid;

    fn request() -> RegistrationRequest {
        RegistrationRequest {
            order_id: "cs_test_a1".into(),
            event_id: EventId::from(Uuid::from_u128(1)),
            hold_id: HoldId::from(Uuid::from_u128(2)),
            ticket_type_id: None,
            tickets: Vec::new(),
            user_id: "user-sub-1".into(),
            payment_intent_id: Some("pi_123".into()),
            amount_minor: 2500,
            currency: "EUR".parse().unwrap(),
            attendee: Attendee {
                name: "Zoë".into(),
                email: "zoe@example.org".into(),
            },
        }
    }

    #[test]
    fn the_request_is_camel_case_json() {
        let value = serde_json::to_value(request()).unwrap();
        assert_eq!(
            value,
            json!({
                "orderId": "cs_test_a1",
                "eventId": "00000000-0000-0000-0000-000000000001",
                "holdId": "00000000-0000-0000-0000-000000000002",
                "userId": "user-sub-1",
                "paymentIntentId": "pi_123",
                "amountMinor": 2500,
                "currency": "EUR",
                "attendee": {"name": "Zoë", "email": "zoe@example.org"}
            })
        );
        let back: RegistrationRequest = serde_json::from_value(value).unwrap();
        assert_eq!(back, request());
    }

    #[test]
    fn a_free_request_has_no_payment_intent_and_no_refund() {
        let free = RegistrationRequest {
            payment_intent_id: None,
            amount_minor: 0,
            ..request()
        };
        let value = serde_json::to_value(&free).unwrap();
        assert!(value.get("paymentIntentId").is_none(), "{value}");
        assert_eq!(
            serde_json::from_value::<RegistrationRequest>(value).unwrap(),
            free
        );
        assert_eq!(free.refund(), None);
        assert_eq!(
            request().refund(),
            Some(RefundRequest {
                order_id: "cs_test_a1".into(),
                payment_intent_id: "pi_123".into(),
                amount: request().amount(),
            })
        );
        let paid_without_intent = RegistrationRequest {
            payment_intent_id: None,
            ..request()
        };
        assert_eq!(paid_without_intent.refund(), None);
    }

    #[test]
    fn the_order_is_pending_and_mirrors_the_request() {
        let now = crate::time::from_key("2030-01-01T00:00:00.000Z").unwrap();
        let order = request().order(now);
        assert_eq!(order.status, OrderStatus::Pending);
        assert_eq!(order.id.as_str(), "cs_test_a1");
        assert_eq!(order.amount.to_string(), "25.00 EUR");
        assert_eq!(order.payment_intent_id.as_deref(), Some("pi_123"));
        assert_eq!((order.ticket_ids, order.created_at), (vec![], now));
    }

    #[test]
    fn payloads_keep_the_request_and_the_caught_error_and_ignore_the_rest() {
        let mut value = serde_json::to_value(request()).unwrap();
        value["seat"] = json!({"holdStatus": "SOLD", "late": false});
        value["undo"] = json!({"file": {"outcome": "removed"}});
        value["error"] = json!({"Error": SEAT_UNAVAILABLE, "Cause": "sold out"});
        let payload = StepPayload::parse(&value).unwrap();
        assert_eq!(payload.request, request());
        assert_eq!(
            payload.error,
            Some(CaughtError {
                error: SEAT_UNAVAILABLE.into(),
                cause: Some("sold out".into())
            })
        );

        let failure = StepPayload::parse(&json!({"orderId": "cs_1"})).unwrap_err();
        assert_eq!(failure.error, REJECTED);
        let failure = StepPayload::parse(&json!({"currency": "XXX"})).unwrap_err();
        assert_eq!(failure.error, REJECTED);
    }

    #[test]
    fn validation_names_each_bad_field() {
        assert_eq!(request().validate(), Ok(()));
        let bad = RegistrationRequest {
            order_id: "cs 1".into(),
            user_id: " ".into(),
            payment_intent_id: Some(String::new()),
            amount_minor: -1,
            attendee: Attendee {
                name: "x".repeat(MAX_ATTENDEE_NAME_CHARS + 1),
                email: "e".repeat(MAX_ATTENDEE_EMAIL_CHARS + 1),
            },
            ..request()
        };
        assert_eq!(
            bad.validate().unwrap_err().fields(),
            [
                "orderId",
                "userId",
                "paymentIntentId",
                "amountMinor",
                "attendee.name",
                "attendee.email"
            ]
        );
        let long_id = RegistrationRequest {
            order_id: OrderId::from("c".repeat(MAX_ORDER_ID_LEN + 1)),
            ..request()
        };
        assert_eq!(long_id.validate().unwrap_err().fields(), ["orderId"]);
    }
}
