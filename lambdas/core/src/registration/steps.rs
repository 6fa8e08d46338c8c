//! The nine steps, as plain async functions over the ports each one needs. Forward steps:
//! [`confirm_seat`], [`record_ticket`], [`render_ticket`], [`deliver_ticket`]. Compensations, in
//! the order the state machine runs them: [`remove_ticket_file`], [`void_ticket`],
//! [`release_seat`], [`refund_payment`], [`fail_order`].

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::failure::port_failure;
use super::render::{RenderFailure, TicketPdf, TicketRenderer};
use super::{CaughtError, RegistrationRequest, StepFailure, failure_reason};
use crate::event::Event;
use crate::files::{FileKey, TicketFiles};
use crate::ids::{Ids, RegistrationId, TicketId};
use crate::order::{HoldStatus, NewTickets, Order, OrderStatus, Ticket, TicketDraft, TicketStatus};
use crate::organizer::OrganizerProfile;
use crate::payments::Payments;
use crate::store::{ReleaseOutcome, ReleaseScope, Store, StoreError};
use crate::ticket_code::TicketSigner;

/// ConfirmSeat's output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SeatConfirmed {
    pub hold_status: HoldStatus,
    /// This run sold a seat whose hold had been released (the payment arrived after the hold
    /// expired). A repeated run finds the seat sold and says `false`.
    pub late: bool,
}

/// RecordTicket's output: the order's tickets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TicketsRecorded {
    pub ticket_ids: Vec<TicketId>,
}

/// RenderTicket's output: one file per ticket, and their size in all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TicketsRendered {
    pub file_keys: Vec<String>,
    pub bytes: usize,
}

/// DeliverTicket's output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TicketDelivered {
    pub order_status: OrderStatus,
}

/// What a compensation did; the execution history shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// RemoveTicketFile: the files that were there are gone.
    Removed,
    /// RemoveTicketFile: no ticket, or no file for any.
    NothingToRemove,
    /// VoidTicket: every ticket is `VOID` (now or before).
    Voided,
    /// VoidTicket: the order has no ticket.
    NoTicket,
    /// VoidTicket: a ticket already admitted someone, so it stays `USED` (the rest are void).
    KeptUsed,
    /// ReleaseSeat: the seats went back to the pool.
    Released,
    /// ReleaseSeat: it had gone back before.
    AlreadyReleased,
    /// ReleaseSeat: unknown event or hold.
    NothingToRelease,
    /// RefundPayment: refunded (or found the earlier refund); FailOrder: the order had been
    /// fulfilled and is now `REFUNDED`.
    Refunded,
    /// RefundPayment: nothing was paid.
    NoPayment,
    /// FailOrder: the order is `FAILED`.
    Failed,
}

/// A compensation's output: the outcome and what it concerned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Undone {
    pub outcome: Outcome,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub file_keys: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ticket_ids: Vec<TicketId>,
    /// The hold's status before ReleaseSeat released it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold_status: Option<HoldStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_status: Option<OrderStatus>,
    /// FailOrder: the reason the buyer sees.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Undone {
    pub fn new(outcome: Outcome) -> Self {
        Self {
            outcome,
            file_keys: Vec::new(),
            ticket_ids: Vec::new(),
            hold_status: None,
            refund_id: None,
            refund_status: None,
            order_status: None,
            reason: None,
        }
    }
}

fn validated(request: &RegistrationRequest) -> Result<(), StepFailure> {
    request
        .validate()
        .map_err(|errors| StepFailure::rejected(format!("invalid registration request: {errors}")))
}

/// The stored order, if any.
async fn stored_order(
    store: &dyn Store,
    request: &RegistrationRequest,
) -> Result<Option<Order>, StepFailure> {
    store
        .get_order(&request.order_id)
        .await
        .map_err(port_failure("reading the order"))
}

/// The stored order, which must have its tickets (steps after RecordTicket).
async fn order_with_tickets(
    store: &dyn Store,
    request: &RegistrationRequest,
) -> Result<Order, StepFailure> {
    let order = stored_order(store, request).await?.ok_or_else(|| {
        StepFailure::rejected(format!("order {} does not exist", request.order_id))
    })?;
    if order.ticket_ids.is_empty() {
        return Err(StepFailure::rejected(format!(
            "order {} has no ticket",
            request.order_id
        )));
    }
    Ok(order)
}

/// Opens the order and sells its seats: `SOLD`, with `late` when the hold had been released
/// and free seats were taken instead. `SeatUnavailable` when the hold was released and the
/// event has no room for them; `Rejected` for an unknown hold, a hold of other seats than the
/// order's tickets, or an order that already failed.
pub async fn confirm_seat(
    store: &dyn Store,
    request: &RegistrationRequest,
    now: DateTime<Utc>,
) -> Result<SeatConfirmed, StepFailure> {
    validated(request)?;
    let order = store
        .create_order(&request.order(now))
        .await
        .map_err(port_failure("opening the order"))?;
    if (order.event_id, order.hold_id, &order.user_id)
        != (request.event_id, request.hold_id, &request.user_id)
    {
        return Err(StepFailure::rejected(format!(
            "order {} exists for another event, hold or user",
            order.id
        )));
    }
    // An `EXPIRED` order whose payment arrives after all is a late payment (below).
    if matches!(order.status, OrderStatus::Failed | OrderStatus::Refunded) {
        return Err(StepFailure::rejected(format!(
            "order {} is {} already",
            order.id, order.status
        )));
    }
    // The tickets asked for must be the seats held: a request naming others (no checkout
    // makes one) would sell seats of a type nobody held.
    let hold = store
        .get_hold(request.event_id, request.hold_id)
        .await
        .map_err(port_failure("reading the hold"))?;
    if let Some(hold) = hold
        && hold.seats != request.seats()
    {
        return Err(StepFailure::rejected(format!(
            "order {} asks for other tickets than hold {} holds",
            order.id, hold.id
        )));
    }
    match store.confirm_hold(request.event_id, request.hold_id).await {
        Ok(hold) => Ok(SeatConfirmed {
            hold_status: hold.status,
            late: false,
        }),
        Err(StoreError::HoldReleased) => {
            match store
                .take_seat_late(request.event_id, request.hold_id)
                .await
            {
                Ok(hold) => {
                    tracing::info!(order = %order.id, hold = %hold.id, "late payment took a free seat");
                    Ok(SeatConfirmed {
                        hold_status: hold.status,
                        late: true,
                    })
                }
                Err(StoreError::SoldOut | StoreError::TypeSoldOut(_)) => {
                    Err(StepFailure::seat_unavailable(format!(
                        "hold {} was released and event {} has no longer room for its seats",
                        request.hold_id, request.event_id
                    )))
                }
                // The payment was discounted by a code whose use went back with the hold and
                // has been taken since: the order cannot have it, so it is refunded.
                Err(StoreError::PromoCodeUsedUp(code)) => {
                    Err(StepFailure::seat_unavailable(format!(
                        "hold {} was released and its promo code {code} has been used up since",
                        request.hold_id
                    )))
                }
                Err(error) => Err(port_failure("taking a seat for a late payment")(error)),
            }
        }
        Err(error) => Err(port_failure("confirming the hold")(error)),
    }
}

/// Records the order's tickets with their registrations, once per order: a repeated run
/// returns the ids of the first. A ticket's file key is not stored: it is
/// [`FileKey::for_ticket`] of the event and ticket ids.
pub async fn record_ticket(
    store: &dyn Store,
    ids: &dyn Ids,
    request: &RegistrationRequest,
    now: DateTime<Utc>,
) -> Result<TicketsRecorded, StepFailure> {
    validated(request)?;
    let tickets = request
        .ordered_tickets()
        .iter()
        .map(|ordered| TicketDraft {
            id: TicketId::new(ids),
            registration_id: RegistrationId::new(ids),
            ticket_type_id: ordered.ticket_type_id,
            attendee: request.attendee_of(ordered),
        })
        .collect();
    let recorded = store
        .record_tickets(&NewTickets {
            order: request.order(now),
            tickets,
            created_at: now,
        })
        .await
        .map_err(port_failure("recording the tickets"))?;
    Ok(TicketsRecorded {
        ticket_ids: recorded.order.ticket_ids,
    })
}

/// Draws each ticket of the order with its signed code and stores its PDF at
/// [`FileKey::for_ticket`], replacing any earlier rendering.
pub async fn render_ticket(
    store: &dyn Store,
    files: &dyn TicketFiles,
    renderer: &dyn TicketRenderer,
    signer: &TicketSigner,
    request: &RegistrationRequest,
) -> Result<TicketsRendered, StepFailure> {
    let order = order_with_tickets(store, request).await?;
    let event = store
        .get_event(order.event_id)
        .await
        .map_err(port_failure("reading the event"))?
        .ok_or_else(|| StepFailure::rejected(format!("event {} does not exist", order.event_id)))?
        .event;
    let profile = store
        .get_organizer_profile(&event.organizer_id)
        .await
        .map_err(port_failure("reading the organizer's profile"))?;
    let issuer = OrganizerProfile::issuer(profile.as_ref());
    let mut rendered = TicketsRendered {
        file_keys: Vec::new(),
        bytes: 0,
    };
    for &ticket_id in &order.ticket_ids {
        let ticket = store
            .get_ticket(ticket_id)
            .await
            .map_err(port_failure("reading the ticket"))?
            .ok_or_else(|| StepFailure::rejected(format!("ticket {ticket_id} does not exist")))?;
        if ticket.status == TicketStatus::Void {
            return Err(StepFailure::rejected(format!("ticket {ticket_id} is VOID")));
        }
        let pdf = ticket_pdf(renderer, signer, issuer, &event, &order, &ticket)
            .map_err(|error| StepFailure::rejected(format!("ticket {ticket_id}: {error}")))?;
        let key = FileKey::for_ticket(ticket.event_id, ticket.id);
        rendered.bytes += pdf.len();
        files
            .put_pdf(&key, pdf)
            .await
            .map_err(port_failure("storing the ticket file"))?;
        rendered.file_keys.push(key.to_string());
    }
    Ok(rendered)
}

/// A ticket's PDF with its signed code, issued by `issuer` (the organizer's display name, see
/// [`OrganizerProfile::issuer`]): what RenderTicket draws for every ticket of an order, and
/// what a ticket is drawn again with after a rename or an edit of its event.
pub fn ticket_pdf(
    renderer: &dyn TicketRenderer,
    signer: &TicketSigner,
    issuer: &str,
    event: &Event,
    order: &Order,
    ticket: &Ticket,
) -> Result<Vec<u8>, RenderFailure> {
    let code = signer.sign(ticket.id, ticket.event_id);
    let ticket_type = event.ticket_type(ticket.ticket_type_id);
    renderer.render(&TicketPdf {
        event_title: &event.title,
        when: event.local_times(),
        venue: &event.venue,
        attendee_name: &ticket.attendee.name,
        attendee_email: &ticket.attendee.email,
        // One type needs no name: the event's own is the ticket's.
        ticket_type: (event.ticket_types.len() > 1).then(|| event.type_name(ticket.ticket_type_id)),
        ticket_id: ticket.id,
        // An order of one ticket paid its amount for it; otherwise each its type's price.
        price: match (order.ticket_ids.len(), ticket_type) {
            (1, _) | (_, None) => order.amount,
            (_, Some(ticket_type)) => event.price_of(ticket_type),
        },
        organizer: issuer,
        code: &code,
    })
}

/// Marks the order `FULFILLED` once every ticket file can be read. A file not (yet) visible
/// is `Transient`. No download link is kept: `GET /orders/{id}` makes fresh ones.
pub async fn deliver_ticket(
    store: &dyn Store,
    files: &dyn TicketFiles,
    request: &RegistrationRequest,
    now: DateTime<Utc>,
) -> Result<TicketDelivered, StepFailure> {
    let order = order_with_tickets(store, request).await?;
    for &ticket_id in &order.ticket_ids {
        let key = FileKey::for_ticket(order.event_id, ticket_id);
        let there = files
            .exists(&key)
            .await
            .map_err(port_failure("checking the ticket file"))?;
        if !there {
            return Err(StepFailure::transient(format!(
                "ticket file {key} is not there yet"
            )));
        }
    }
    let order = store
        .transition_order(&order.id, OrderStatus::Fulfilled, None, now)
        .await
        .map_err(port_failure("fulfilling the order"))?;
    Ok(TicketDelivered {
        order_status: order.status,
    })
}

/// Deletes the files of the order's tickets, those there are.
pub async fn remove_ticket_file(
    store: &dyn Store,
    files: &dyn TicketFiles,
    request: &RegistrationRequest,
) -> Result<Undone, StepFailure> {
    let Some(order) = stored_order(store, request).await? else {
        return Ok(Undone::new(Outcome::NothingToRemove));
    };
    let mut removed = Vec::new();
    for &ticket_id in &order.ticket_ids {
        let key = FileKey::for_ticket(order.event_id, ticket_id);
        let there = files
            .exists(&key)
            .await
            .map_err(port_failure("checking the ticket file"))?;
        if there {
            files
                .delete(&key)
                .await
                .map_err(port_failure("deleting the ticket file"))?;
            removed.push(key.to_string());
        }
    }
    let outcome = match removed.is_empty() {
        true => Outcome::NothingToRemove,
        false => Outcome::Removed,
    };
    Ok(Undone {
        file_keys: removed,
        ..Undone::new(outcome)
    })
}

/// Voids the order's tickets. One that already admitted someone stays `USED` (with a warning):
/// the attendee is inside, and the refund goes ahead regardless.
pub async fn void_ticket(
    store: &dyn Store,
    request: &RegistrationRequest,
) -> Result<Undone, StepFailure> {
    let ticket_ids = stored_order(store, request)
        .await?
        .map(|order| order.ticket_ids)
        .unwrap_or_default();
    let mut outcome = Outcome::NoTicket;
    let mut voided = Vec::new();
    for &ticket_id in &ticket_ids {
        match store.void_ticket(ticket_id).await {
            Ok(_) => {
                voided.push(ticket_id);
                if outcome == Outcome::NoTicket {
                    outcome = Outcome::Voided;
                }
            }
            Err(StoreError::NotFound(_)) => {}
            Err(StoreError::TicketUsed) => {
                tracing::warn!(
                    order = %request.order_id,
                    ticket = %ticket_id,
                    "a ticket of a failing order was already used; it stays USED"
                );
                outcome = Outcome::KeptUsed;
            }
            Err(error) => return Err(port_failure("voiding a ticket")(error)),
        }
    }
    Ok(Undone {
        ticket_ids: voided,
        ..Undone::new(outcome)
    })
}

/// Gives the order's seats back, sold or not, at most once.
pub async fn release_seat(
    store: &dyn Store,
    request: &RegistrationRequest,
    now: DateTime<Utc>,
) -> Result<Undone, StepFailure> {
    let released = store
        .release_hold(request.event_id, request.hold_id, ReleaseScope::Any, now)
        .await;
    Ok(match released {
        Ok(ReleaseOutcome::Released { was }) => Undone {
            hold_status: Some(was),
            ..Undone::new(Outcome::Released)
        },
        Ok(ReleaseOutcome::AlreadyReleased) => Undone::new(Outcome::AlreadyReleased),
        Ok(ReleaseOutcome::KeptSold) => {
            return Err(StepFailure::rejected(format!(
                "hold {} stayed SOLD on a release of any hold",
                request.hold_id
            )));
        }
        Err(StoreError::NotFound(_)) => Undone::new(Outcome::NothingToRelease),
        Err(error) => return Err(port_failure("releasing the seat")(error)),
    })
}

/// Refunds the payment in full, once per order however often it runs.
pub async fn refund_payment(
    payments: &dyn Payments,
    request: &RegistrationRequest,
) -> Result<Undone, StepFailure> {
    let Some(refund) = request.refund() else {
        return Ok(Undone::new(Outcome::NoPayment));
    };
    let refunded = payments
        .refund(&refund)
        .await
        .map_err(port_failure("refunding the payment"))?;
    Ok(Undone {
        refund_id: Some(refunded.id),
        refund_status: Some(refunded.status),
        ..Undone::new(Outcome::Refunded)
    })
}

/// Closes the order for good with the buyer-facing reason for `error` (what the Catch
/// recorded): `FAILED`, or `REFUNDED` if it had been fulfilled. Opens the order first if the
/// saga failed before ConfirmSeat did.
pub async fn fail_order(
    store: &dyn Store,
    request: &RegistrationRequest,
    error: Option<&CaughtError>,
    now: DateTime<Utc>,
) -> Result<Undone, StepFailure> {
    if let Some(problem) = super::order_id_problem(&request.order_id) {
        return Err(StepFailure::rejected(format!("invalid orderId: {problem}")));
    }
    let order = store
        .create_order(&request.order(now))
        .await
        .map_err(port_failure("opening the order"))?;
    let reason = failure_reason(
        error.map(|caught| caught.error.as_str()),
        request.refund().is_some(),
    );
    let (to, outcome) = match order.status {
        OrderStatus::Pending | OrderStatus::Failed | OrderStatus::Expired => {
            (OrderStatus::Failed, Outcome::Failed)
        }
        OrderStatus::Fulfilled | OrderStatus::Refunding | OrderStatus::Refunded => {
            (OrderStatus::Refunded, Outcome::Refunded)
        }
    };
    let order = store
        .transition_order(&order.id, to, Some(reason), now)
        .await
        .map_err(port_failure("closing the order"))?;
    Ok(Undone {
        order_status: Some(order.status),
        reason: order.failure_reason,
        ..Undone::new(outcome)
    })
}
