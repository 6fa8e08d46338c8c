//! `GET /orders/{id}`, `POST /orders/{id}/refund`, `POST /orders/{id}/cancel`,
//! `GET /me/tickets`, `GET /tickets/{id}/download`.

use super::ApiPorts;
use super::bodies::{DownloadLink, OrderBody, OrderTicketBody, PageBody, TicketBody};
use super::http::{ApiError, ApiRequest, ApiResponse};
use super::ticket_pdfs::current_pdf;
use crate::event::EventView;
use crate::files::DEFAULT_LINK_TTL;
use crate::identity::Caller;
use crate::ids::{OrderId, TicketId};
use crate::order::{HoldStatus, Order, OrderStatus, Ticket, TicketStatus};
use crate::refund::{
    BUYER_CANCELLATION_REASON, ORGANIZER_REFUND_REASON, RefundError, finish_refund, start_refund,
};
use crate::registration::MAX_ORDER_ID_LEN;
use crate::store::{Store, StoreError};
use chrono::{DateTime, TimeDelta, Utc};

/// A fresh download link for a ticket's PDF with its event's current details:
/// `{url, expiresAt}`.
async fn download_link(
    ports: &ApiPorts,
    view: &EventView,
    order: &Order,
    ticket: &Ticket,
) -> Result<DownloadLink, ApiError> {
    let (files, clock) = (&*ports.files, &*ports.clock);
    let key = current_pdf(ports, view, order, ticket).await?;
    let name = format!("ticket-{}.pdf", ticket.id);
    let url = files
        .download_url(&key, &name, DEFAULT_LINK_TTL)
        .await
        .map_err(ApiError::files)?;
    let expires_at = clock.now()
        + TimeDelta::from_std(DEFAULT_LINK_TTL).expect("the link lifetime fits a TimeDelta");
    Ok(DownloadLink { url, expires_at })
}

/// Order ids are checkout session ids (`cs_…`) or `free_…`, not UUIDs.
fn order_id(request: &ApiRequest) -> Result<OrderId, ApiError> {
    let id = request
        .path_params
        .get("id")
        .map(String::as_str)
        .unwrap_or("");
    let fine = !id.is_empty()
        && id.len() <= MAX_ORDER_ID_LEN
        && id
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-');
    if !fine {
        return Err(ApiError::bad_request(format!(
            "`id` must be an order id: 1 to {MAX_ORDER_ID_LEN} characters of A-Z, a-z, 0-9, _ and -"
        )));
    }
    Ok(OrderId::from(id.to_owned()))
}

/// The order's state for its buyer, with its tickets; those of a fulfilled order carry fresh
/// download links.
pub(crate) async fn get_order(
    ports: &ApiPorts,
    caller: &Caller,
    request: &ApiRequest,
) -> Result<ApiResponse, ApiError> {
    let store = &*ports.store;
    let order = own_order(store, caller, request).await?;
    // Read once its tickets are downloadable: their PDFs show the event as it is now.
    let event = match order.status {
        OrderStatus::Fulfilled => Some(event_of(store, &order).await?),
        _ => None,
    };
    let mut tickets = Vec::new();
    for ticket in tickets_of(store, &order).await? {
        let download = match (&event, ticket.status) {
            (Some(view), TicketStatus::Valid | TicketStatus::Used) => {
                Some(download_link(ports, view, &order, &ticket).await?)
            }
            _ => None,
        };
        tickets.push(OrderTicketBody::of(ticket, download));
    }
    // A pending order whose seat went back (its checkout expired unpaid) shows as EXPIRED; a
    // payment that still arrives moves it on to FULFILLED or, with no seat left, a refund.
    let status = match order.status {
        OrderStatus::Pending if hold_released(store, &order).await? => OrderStatus::Expired,
        status => status,
    };
    Ok(ApiResponse::json(
        200,
        &OrderBody::of(&order, status, tickets),
    ))
}

/// `POST /orders/{id}/refund`: the organizer of the order's event refunds it in full. Its
/// tickets are voided and its seats go back on sale; asking again for a refunded order changes
/// nothing.
pub(crate) async fn refund(
    ports: &ApiPorts,
    caller: &Caller,
    request: &ApiRequest,
) -> Result<ApiResponse, ApiError> {
    let store = &*ports.store;
    let order = named_order(store, request).await?;
    let view = event_of(store, &order).await?;
    if view.event.organizer_id != caller.user_id {
        return Err(ApiError::forbidden(
            "this order is not for one of your events",
        ));
    }
    let now = ports.clock.now();
    refund_answer(ports, &order, ORGANIZER_REFUND_REASON, now).await
}

/// `POST /orders/{id}/cancel`: the buyer cancels their own order for a full refund, until the
/// cut-off its event's organizer set (none: buyers cannot cancel). Answered like a refund;
/// asking again for a cancelled order changes nothing.
pub(crate) async fn cancel(
    ports: &ApiPorts,
    caller: &Caller,
    request: &ApiRequest,
) -> Result<ApiResponse, ApiError> {
    let store = &*ports.store;
    let order = own_order(store, caller, request).await?;
    let event = event_of(store, &order).await?.event;
    let now = ports.clock.now();
    // Asking again for a cancelled order is answered, whatever the time.
    if !matches!(order.status, OrderStatus::Refunding | OrderStatus::Refunded) {
        event.buyer_may_cancel(now).map_err(ApiError::conflict)?;
    }
    refund_answer(ports, &order, BUYER_CANCELLATION_REASON, now).await
}

/// Refunds `order` for `reason` and answers with it: 200 `REFUNDED`, or 202 `REFUNDING` when the
/// payment provider (or the store) failed midway, which a reconciliation pass finishes.
async fn refund_answer(
    ports: &ApiPorts,
    order: &Order,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<ApiResponse, ApiError> {
    let store = &*ports.store;
    let tickets = tickets_of(store, order).await?;
    let order = start_refund(store, order, &tickets, reason, now)
        .await
        .map_err(refund_error)?;
    let (status, order) = match finish_refund(store, &*ports.payments, &order, now).await {
        Ok(order) => (200, order),
        Err(error) => {
            tracing::warn!(order = %order.id, %error, "refund cut short: a reconciliation pass finishes it");
            (202, order)
        }
    };
    let tickets = tickets_of(store, &order)
        .await?
        .into_iter()
        .map(|ticket| OrderTicketBody::of(ticket, None))
        .collect();
    Ok(ApiResponse::json(
        status,
        &OrderBody::of(&order, order.status, tickets),
    ))
}

fn refund_error(error: RefundError) -> ApiError {
    match error {
        RefundError::Refused(refusal) => ApiError::conflict(refusal.to_string()),
        RefundError::Store(error) => ApiError::store(error),
        RefundError::Payments(error) => ApiError::payments(error),
    }
}

/// The order named by `{id}`: 400 for a malformed id, 404 for an unknown one, 403 unless the
/// caller bought it.
async fn own_order(
    store: &dyn Store,
    caller: &Caller,
    request: &ApiRequest,
) -> Result<Order, ApiError> {
    let order = named_order(store, request).await?;
    if order.user_id != caller.user_id {
        return Err(ApiError::forbidden("this is not your order"));
    }
    Ok(order)
}

/// The order named by `{id}`: 400 for a malformed id, 404 for an unknown one.
async fn named_order(store: &dyn Store, request: &ApiRequest) -> Result<Order, ApiError> {
    store
        .get_order(&order_id(request)?)
        .await
        .map_err(ApiError::store)?
        .ok_or_else(|| ApiError::not_found("order"))
}

/// An order's tickets, in the buyer's order.
async fn tickets_of(store: &dyn Store, order: &Order) -> Result<Vec<Ticket>, ApiError> {
    let mut tickets = Vec::with_capacity(order.ticket_ids.len());
    for &ticket_id in &order.ticket_ids {
        let ticket = store
            .get_ticket(ticket_id)
            .await
            .map_err(ApiError::store)?
            .ok_or_else(|| {
                ApiError::store(StoreError::Internal(format!(
                    "order {} names a missing ticket {ticket_id}",
                    order.id
                )))
            })?;
        tickets.push(ticket);
    }
    Ok(tickets)
}

async fn event_of(store: &dyn Store, order: &Order) -> Result<EventView, ApiError> {
    store
        .get_event(order.event_id)
        .await
        .map_err(ApiError::store)?
        .ok_or_else(|| {
            ApiError::store(StoreError::Internal(format!(
                "order {} names a missing event",
                order.id
            )))
        })
}

async fn hold_released(store: &dyn Store, order: &Order) -> Result<bool, ApiError> {
    let hold = store
        .get_hold(order.event_id, order.hold_id)
        .await
        .map_err(ApiError::store)?;
    Ok(hold.is_some_and(|hold| hold.status == HoldStatus::Released))
}

pub(crate) async fn my_tickets(
    store: &dyn Store,
    caller: &Caller,
    request: &ApiRequest,
) -> Result<ApiResponse, ApiError> {
    let page = request.page()?;
    let tickets = store
        .tickets_of_user(&caller.user_id, &page)
        .await
        .map_err(ApiError::store)?;
    Ok(ApiResponse::json(
        200,
        &PageBody::of(tickets, |ticket| TicketBody::from(&ticket)),
    ))
}

/// The ticket named by `{id}`: 400 for a malformed id, 404 for an unknown one, 403 unless the
/// caller bought it.
pub(crate) async fn own_ticket(
    store: &dyn Store,
    caller: &Caller,
    request: &ApiRequest,
) -> Result<Ticket, ApiError> {
    let id: TicketId = request.uuid_param("id")?;
    let ticket = store
        .get_ticket(id)
        .await
        .map_err(ApiError::store)?
        .ok_or_else(|| ApiError::not_found("ticket"))?;
    if ticket.user_id != caller.user_id {
        return Err(ApiError::forbidden("this is not your ticket"));
    }
    Ok(ticket)
}

/// A fresh link to the owner's ticket PDF, once its order is fulfilled.
pub(crate) async fn download(
    ports: &ApiPorts,
    caller: &Caller,
    request: &ApiRequest,
) -> Result<ApiResponse, ApiError> {
    let store = &*ports.store;
    let ticket = own_ticket(store, caller, request).await?;
    if ticket.status == TicketStatus::Void {
        return Err(ApiError::conflict("the ticket was voided"));
    }
    // The PDF exists once the registration delivered it, which fulfils the order.
    let order = store
        .get_order(&ticket.order_id)
        .await
        .map_err(ApiError::store)?
        .filter(|order| order.status == OrderStatus::Fulfilled)
        .ok_or_else(|| ApiError::conflict("the ticket is not ready yet, try again shortly"))?;
    let view = event_of(store, &order).await?;
    Ok(ApiResponse::json(
        200,
        &download_link(ports, &view, &order, &ticket).await?,
    ))
}
