//! The `Payments` port: Stripe Checkout sessions and refunds. One adapter (async-stripe), whose
//! base URL points at real Stripe or at ticketd's simulator; tests also use an in-memory fake.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{EventId, HoldId, OrderId, UserId};
use crate::money::{Currency, Money};
use crate::registration::OrderedTicket;
use crate::stripe_webhook::SessionFields;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaymentsError {
    /// The provider refused the request as made (bad parameters, unknown payment): no retry helps.
    #[error("the payment provider refused the request: {0}")]
    Rejected(String),
    /// Throttled, unreachable or a 5xx: worth a retry (requests carry idempotency keys).
    #[error("the payment provider is unavailable: {0}")]
    Unavailable(String),
    /// Anything else a retry will not fix (a response we cannot read, a bug).
    #[error("the payment provider failed: {0}")]
    Internal(String),
}

impl PaymentsError {
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

/// One line of a Checkout Session: the tickets of one type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutLine {
    /// The event's title, and the ticket type's name when the event has several.
    pub title: String,
    /// In the request's currency's minor unit.
    pub unit_price_minor: i64,
    pub quantity: u32,
}

/// A promo code's discount on a whole session: Stripe shows it as a coupon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutDiscount {
    /// How it reads (the code and what it takes off), at most 40 characters as Stripe's
    /// coupon names are.
    pub label: String,
    /// At most the lines' total.
    pub amount_minor: i64,
}

/// What an order of `lines` costs: every line's price times its quantity, less the discount.
pub fn order_total(
    currency: Currency,
    lines: &[CheckoutLine],
    discount: Option<&CheckoutDiscount>,
) -> Money {
    let subtotal: i64 = lines
        .iter()
        .map(|line| line.unit_price_minor * i64::from(line.quantity))
        .sum();
    Money {
        amount_minor: subtotal - discount.map_or(0, |discount| discount.amount_minor),
        currency,
    }
}

/// A Checkout Session for the held seats of one order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutRequest {
    pub event_id: EventId,
    pub hold_id: HoldId,
    pub user_id: UserId,
    pub currency: Currency,
    /// One line per ticket type, in the order the buyer chose them.
    pub lines: Vec<CheckoutLine>,
    /// A promo code's discount off the lines' total.
    pub discount: Option<CheckoutDiscount>,
    /// The tickets with their holders' names: the session's metadata, from which the webhook
    /// rebuilds the order.
    pub tickets: Vec<OrderedTicket>,
    pub customer_email: Option<String>,
    /// When the session (and the hold) expires; Stripe needs at least 30 minutes from now.
    pub expires_at: DateTime<Utc>,
    pub success_url: String,
    pub cancel_url: String,
}

impl CheckoutRequest {
    /// What the buyer pays: every line's price times its quantity, less the discount.
    pub fn total(&self) -> Money {
        order_total(self.currency, &self.lines, self.discount.as_ref())
    }

    /// One session per hold, however often the request is retried.
    pub fn idempotency_key(&self) -> String {
        format!("checkout-{}", self.hold_id)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckoutSession {
    /// The session id (`cs_...`), which is also the order's id.
    pub id: OrderId,
    /// Where the buyer pays.
    pub url: String,
}

/// Where a Checkout Session stands at the provider (Stripe's `status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionStatus {
    /// The buyer may still pay.
    Open,
    /// The buyer finished: paid, or paying by a delayed method (see `payment_status`).
    Complete,
    /// It can never be paid.
    Expired,
}

/// A Checkout Session as the provider has it now: what the reconciliation pass decides on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSnapshot {
    pub status: SessionStatus,
    /// The same fields a webhook carries, so both build the same registration.
    pub fields: SessionFields,
}

impl SessionSnapshot {
    /// Complete and its money received (`paid`, or nothing was due).
    pub fn is_paid(&self) -> bool {
        self.status == SessionStatus::Complete
            && matches!(
                self.fields.payment_status.as_deref(),
                Some("paid" | "no_payment_required")
            )
    }
}

/// Gives back what an order paid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundRequest {
    pub order_id: OrderId,
    pub payment_intent_id: String,
    pub amount: Money,
}

impl RefundRequest {
    /// One refund per order, however often the compensation runs.
    pub fn idempotency_key(&self) -> String {
        format!("refund-{}", self.order_id)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Refund {
    /// The provider's refund id (`re_...`).
    pub id: String,
    /// The provider's status text (`succeeded`, `pending`, ...).
    pub status: String,
}

#[async_trait]
pub trait Payments: Send + Sync {
    /// Creates (or, with the same idempotency key, finds again) the session for a hold.
    async fn create_checkout(
        &self,
        request: &CheckoutRequest,
    ) -> Result<CheckoutSession, PaymentsError>;

    /// Expires an open session so it can no longer be paid. Expiring one that is already
    /// expired is `Ok`; one that was paid is `Rejected`.
    async fn expire_checkout(&self, session: &OrderId) -> Result<(), PaymentsError>;

    /// The session as the provider has it now; `None` when it has no such session.
    async fn get_checkout(
        &self,
        session: &OrderId,
    ) -> Result<Option<SessionSnapshot>, PaymentsError>;

    /// Refunds a payment in full, at most once per order (see [`RefundRequest::idempotency_key`]).
    async fn refund(&self, request: &RefundRequest) -> Result<Refund, PaymentsError>;
}
