//! `POST /events/{id}/checkout`: hold a seat of the chosen ticket type, then start paying for it (Stripe Checkout) or, for
//! a free event, start the registration straight away.

use super::ApiPorts;
use super::bodies::CheckoutStarted;
use super::events::find_event;
use super::http::{ApiError, ApiRequest, ApiResponse};
use crate::event::Event;
use crate::identity::Caller;
use crate::ids::{HoldId, OrderId, TicketTypeId};
use crate::money::Money;
use crate::order::{Attendee, Hold, NewHold, Order, OrderStatus, Seats};
use crate::payments::CheckoutRequest;
use crate::registration::{MAX_ATTENDEE_NAME_CHARS, RegistrationRequest};
use crate::store::{ReleaseScope, StoreError};
use crate::ticket_type::{SalesClosed, TicketType};
use crate::validation::{ValidationErrors, single_line};
use chrono::{DateTime, TimeDelta, Utc};
use serde::Deserialize;

/// How long a seat is held while its buyer pays. The session expires with the hold, and Stripe
/// refuses an `expires_at` less than 30 minutes after the session's creation, which comes a
/// moment after the hold's: one minute more covers the trip.
pub const HOLD_MINUTES: i64 = 31;

/// The order id of a free registration: one per hold, and a valid execution name (at most 80
/// characters of `[A-Za-z0-9_-]`).
pub fn free_order_id(hold: HoldId) -> OrderId {
    OrderId::from(format!("free_{}", hold.as_uuid().simple()))
}

/// What a buyer asks for: the tickets of the order, each of a type and with its holder's name.
/// A body may be left out for an event of one type: one ticket, in the buyer's name.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CheckoutBody {
    tickets: Vec<WantedTicket>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct WantedTicket {
    ticket_type_id: TicketTypeId,
    #[serde(default)]
    holder_name: Option<String>,
}

/// The one ticket an order takes (several per order are not built yet), its type checked
/// against the event and the clock, its holder's name against the ticket's rules.
fn wanted_ticket<'e>(
    event: &'e Event,
    request: &ApiRequest,
    now: DateTime<Utc>,
) -> Result<(&'e TicketType, Option<String>), ApiError> {
    let body: Option<CheckoutBody> = if request.body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        Some(request.json()?)
    };
    let wanted = body.as_ref().map(|body| &body.tickets[..]);
    let (type_id, holder_name) = match (wanted, &event.ticket_types[..]) {
        (None, [only]) => (only.id, None),
        (Some([]), _) => {
            return Err(ApiError::bad_request(
                "`tickets` must list at least one ticket",
            ));
        }
        (None, _) => {
            return Err(ApiError::bad_request(
                "choose a ticket type: `tickets` must list the ticket",
            ));
        }
        (Some([wanted]), _) => (wanted.ticket_type_id, wanted.holder_name.clone()),
        _ => {
            return Err(ApiError::bad_request(
                "`tickets`: an order takes one ticket (several per order are not available yet)",
            ));
        }
    };
    let ticket_type = event.ticket_type(type_id).ok_or_else(|| {
        ApiError::bad_request(format!("`tickets`: the event has no ticket type {type_id}"))
    })?;
    match ticket_type.closed_at(now) {
        Some(SalesClosed::NotYet) => {
            return Err(ApiError::conflict(format!(
                "the ticket type {:?} is not on sale yet",
                ticket_type.name
            )));
        }
        Some(SalesClosed::Over) => {
            return Err(ApiError::conflict(format!(
                "the ticket type {:?} is no longer on sale",
                ticket_type.name
            )));
        }
        None => {}
    }
    // A blank name is no name: the ticket then carries the buyer's.
    let holder_name = match holder_name.filter(|name| !name.trim().is_empty()) {
        None => None,
        Some(name) => {
            let mut errors = ValidationErrors::default();
            let name = single_line(&mut errors, "holderName", &name, MAX_ATTENDEE_NAME_CHARS);
            if !errors.0.is_empty() {
                return Err(ApiError::bad_request(format!("`tickets`: {errors}")));
            }
            Some(name)
        }
    };
    Ok((ticket_type, holder_name))
}

pub(crate) async fn checkout(
    ports: &ApiPorts,
    caller: &Caller,
    request: &ApiRequest,
) -> Result<ApiResponse, ApiError> {
    let view = find_event(&*ports.store, request).await?;
    let event = view.event;
    let now = ports.clock.now();
    if now >= event.starts_at {
        return Err(ApiError::conflict("the event has already started"));
    }
    let (ticket_type, holder_name) = wanted_ticket(&event, request, now)?;
    let new_hold = NewHold {
        id: HoldId::new(&*ports.ids),
        seats: Seats::one(ticket_type.id),
        user_id: caller.user_id.clone(),
        expires_at: now + TimeDelta::minutes(ports.hold_minutes),
    };
    let hold = ports
        .store
        .hold_seat(event.id, &new_hold, now)
        .await
        .map_err(|error| match error {
            StoreError::SoldOut => ApiError::conflict("the event is sold out"),
            StoreError::TypeSoldOut(type_id) => ApiError::conflict(format!(
                "the ticket type {:?} is sold out",
                event.ticket_type(type_id).map_or("", |t| t.name.as_str())
            )),
            StoreError::EventEnded => ApiError::conflict("the event has already started"),
            StoreError::NotFound(_) => ApiError::not_found("event"),
            other => ApiError::store(other),
        })?;
    let sale = Sale {
        event: &event,
        ticket_type,
        holder_name,
        hold: &hold,
    };
    let (order_id, checkout_url) = if ticket_type.price_minor == 0 {
        (register_free(ports, caller, &sale).await?, None)
    } else {
        let (id, url) = start_payment(ports, caller, &sale).await?;
        (id, Some(url))
    };
    Ok(ApiResponse::json(
        201,
        &CheckoutStarted {
            order_id,
            checkout_url,
            hold_expires_at: hold.expires_at,
        },
    ))
}

/// What a checkout sells: a held seat of a type, and the name to put on its ticket.
struct Sale<'a> {
    event: &'a Event,
    ticket_type: &'a TicketType,
    holder_name: Option<String>,
    hold: &'a Hold,
}

impl Sale<'_> {
    fn price(&self) -> Money {
        self.event.price_of(self.ticket_type)
    }

    /// The line item's name: the type's name too when the event has several.
    fn title(&self) -> String {
        match self.event.ticket_types.len() {
            1 => self.event.title.clone(),
            _ => format!("{} — {}", self.event.title, self.ticket_type.name),
        }
    }
}

/// Gives the seat back after a failed checkout. Best effort: an unreleased hold expires with
/// its checkout anyway.
async fn release(ports: &ApiPorts, hold: &Hold) {
    if let Err(error) = ports
        .store
        .release_hold(
            hold.event_id,
            hold.id,
            ReleaseScope::Unpaid,
            ports.clock.now(),
        )
        .await
    {
        tracing::error!(%error, hold = %hold.id, "could not release the hold of a failed checkout");
    }
}

async fn register_free(
    ports: &ApiPorts,
    caller: &Caller,
    sale: &Sale<'_>,
) -> Result<OrderId, ApiError> {
    let hold = sale.hold;
    let email = caller.email.clone().unwrap_or_default();
    let name = sale
        .holder_name
        .clone()
        .or_else(|| caller.name.clone())
        .unwrap_or_else(|| email.clone());
    let registration = RegistrationRequest {
        order_id: free_order_id(hold.id),
        event_id: sale.event.id,
        hold_id: hold.id,
        ticket_type_id: Some(sale.ticket_type.id),
        user_id: caller.user_id.clone(),
        payment_intent_id: None,
        amount_minor: 0,
        currency: sale.event.currency,
        attendee: Attendee { name, email },
    };
    if let Err(errors) = registration.validate() {
        release(ports, hold).await;
        return Err(ApiError::bad_request(format!(
            "your profile cannot go on a ticket: {errors}"
        )));
    }
    let now = ports.clock.now();
    if let Err(error) = ports.store.create_order(&registration.order(now)).await {
        release(ports, hold).await;
        return Err(ApiError::store(error));
    }
    if let Err(error) = ports.workflow.start_registration(&registration).await {
        // Close the order first: should the start have gone through after all, the saga finds
        // the order failed and undoes itself.
        let reason = "the registration could not start";
        if let Err(error) = ports
            .store
            .transition_order(
                &registration.order_id,
                OrderStatus::Failed,
                Some(reason),
                now,
            )
            .await
        {
            tracing::error!(%error, "could not fail the order of a registration that did not start");
        }
        release(ports, hold).await;
        return Err(ApiError::workflow(error));
    }
    Ok(registration.order_id)
}

async fn start_payment(
    ports: &ApiPorts,
    caller: &Caller,
    sale: &Sale<'_>,
) -> Result<(OrderId, String), ApiError> {
    let (event, hold) = (sale.event, sale.hold);
    let site = ports.site_url.trim_end_matches('/');
    let checkout = CheckoutRequest {
        event_id: event.id,
        hold_id: hold.id,
        user_id: caller.user_id.clone(),
        ticket_type_id: sale.ticket_type.id,
        holder_name: sale.holder_name.clone(),
        title: sale.title(),
        price: sale.price(),
        customer_email: caller.email.clone(),
        expires_at: hold.expires_at,
        // Stripe fills in `{CHECKOUT_SESSION_ID}`: the order the site then polls.
        success_url: format!("{site}/?order={{CHECKOUT_SESSION_ID}}"),
        cancel_url: format!("{site}/?event={}", event.id),
    };
    let session = match ports.payments.create_checkout(&checkout).await {
        Ok(session) => session,
        Err(error) => {
            release(ports, hold).await;
            return Err(ApiError::payments(error));
        }
    };
    let now = ports.clock.now();
    let order = Order {
        id: session.id.clone(),
        event_id: event.id,
        hold_id: hold.id,
        user_id: caller.user_id.clone(),
        payment_intent_id: None,
        amount: sale.price(),
        status: OrderStatus::Pending,
        ticket_id: None,
        failure_reason: None,
        created_at: now,
        updated_at: now,
    };
    if let Err(error) = ports.store.create_order(&order).await {
        // Nobody may pay for a seat we no longer hold.
        if let Err(error) = ports.payments.expire_checkout(&session.id).await {
            tracing::error!(%error, session = %session.id, "could not expire an orphaned checkout");
        }
        release(ports, hold).await;
        return Err(ApiError::store(error));
    }
    Ok((session.id, session.url))
}
