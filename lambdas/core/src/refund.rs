//! The refund of one whole order, asked by its organizer or (a cancellation) by its buyer: every
//! ticket void, its seats back on sale (and its promo code's use), the payment back once, the
//! order `REFUNDED`.
//!
//! [`start_refund`] marks the order `REFUNDING` first, which puts it in the reconciliation
//! index; [`finish_refund`] then does the rest. If the process dies in between, the next
//! reconciliation pass calls [`finish_refund`] again. Each of its steps is idempotent (a void
//! ticket stays void, a released hold is released once, the payment provider refunds an order
//! once by its idempotency key), so finishing twice does nothing twice.

use chrono::{DateTime, Utc};

use crate::order::{Order, OrderStatus, Ticket, TicketStatus};
use crate::payments::{Payments, PaymentsError, RefundRequest};
use crate::store::{ReleaseScope, Store, StoreError};

/// What an order its organizer refunded says to its buyer.
pub const ORGANIZER_REFUND_REASON: &str = "The organizer refunded this order.";
/// What an order its buyer cancelled says.
pub const BUYER_CANCELLATION_REASON: &str = "You cancelled this order.";

/// Why a refund cannot start; nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefundRefusal {
    #[error("only a fulfilled order can be refunded; this one is {0}")]
    NotFulfilled(OrderStatus),
    #[error("ticket {0} has already been used at the door")]
    TicketUsed(crate::ids::TicketId),
}

#[derive(Debug, thiserror::Error)]
pub enum RefundError {
    #[error(transparent)]
    Refused(#[from] RefundRefusal),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("refunding the payment: {0}")]
    Payments(#[from] PaymentsError),
}

/// Judges the refund of `order`, whose `tickets` these are, and marks it `REFUNDING` with the
/// `reason` its buyer will read: refused unless it is fulfilled and none of its tickets admitted
/// anyone. An order already refunding or refunded is returned as it is (asking twice is one
/// refund), also when `order` was read before another refund of it finished.
pub async fn start_refund(
    store: &dyn Store,
    order: &Order,
    tickets: &[Ticket],
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Order, RefundError> {
    match order.status {
        OrderStatus::Refunding | OrderStatus::Refunded => return Ok(order.clone()),
        OrderStatus::Fulfilled => {}
        other => return Err(RefundRefusal::NotFulfilled(other).into()),
    }
    if let Some(used) = tickets
        .iter()
        .find(|ticket| ticket.status == TicketStatus::Used)
    {
        return Err(RefundRefusal::TicketUsed(used.id).into());
    }
    Ok(mark_refunding(store, order, reason, now).await?)
}

/// Moves a fulfilled `order` to `REFUNDING` with `reason`, judged by the caller. An order another
/// refund (or the saga's compensation) finished since it was read is returned as it is now.
pub async fn mark_refunding(
    store: &dyn Store,
    order: &Order,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Order, StoreError> {
    match store
        .transition_order(&order.id, OrderStatus::Refunding, Some(reason), now)
        .await
    {
        Err(StoreError::InvalidTransition {
            from: OrderStatus::Refunded,
            ..
        }) => store
            .get_order(&order.id)
            .await?
            .ok_or(StoreError::NotFound("order")),
        moved => moved,
    }
}

/// Finishes a refund under way: voids the tickets, gives the seats back, refunds the payment
/// and closes the order `REFUNDED` (keeping the reason [`start_refund`] gave). A ticket scanned in the meantime stays used (it admitted
/// someone); the refund goes on. Any other error leaves the order `REFUNDING` for a retry.
pub async fn finish_refund(
    store: &dyn Store,
    payments: &dyn Payments,
    order: &Order,
    now: DateTime<Utc>,
) -> Result<Order, RefundError> {
    if order.status == OrderStatus::Refunded {
        return Ok(order.clone());
    }
    for &ticket_id in &order.ticket_ids {
        match store.void_ticket(ticket_id).await {
            Ok(_) | Err(StoreError::TicketUsed) => {}
            Err(error) => return Err(error.into()),
        }
    }
    match store
        .release_hold(order.event_id, order.hold_id, ReleaseScope::Any, now)
        .await
    {
        Ok(_) | Err(StoreError::NotFound(_)) => {}
        Err(error) => return Err(error.into()),
    }
    if !order.amount.is_free() {
        let payment_intent_id = payment_of(payments, order).await?;
        payments
            .refund(&RefundRequest {
                order_id: order.id.clone(),
                payment_intent_id,
                amount: order.amount,
            })
            .await?;
    }
    Ok(store
        .transition_order(&order.id, OrderStatus::Refunded, None, now)
        .await?)
}

/// The payment an order's refund goes back through: the order's own record of it if it has
/// one, else the one its checkout session (the order's id) names at the provider.
async fn payment_of(payments: &dyn Payments, order: &Order) -> Result<String, PaymentsError> {
    if let Some(payment_intent_id) = &order.payment_intent_id {
        return Ok(payment_intent_id.clone());
    }
    payments
        .get_checkout(&order.id)
        .await?
        .and_then(|session| session.fields.payment_intent)
        .ok_or_else(|| {
            PaymentsError::Rejected(format!(
                "the payment provider has no payment for order {}",
                order.id
            ))
        })
}
