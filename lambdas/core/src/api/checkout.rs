//! `POST /events/{id}/checkout`: hold a seat, then start paying for it (Stripe Checkout) or, for
//! a free event, start the registration straight away.

use super::ApiPorts;
use super::bodies::CheckoutStarted;
use super::events::find_event;
use super::http::{ApiError, ApiRequest, ApiResponse};
use crate::event::Event;
use crate::identity::Caller;
use crate::ids::{HoldId, OrderId};
use crate::order::{Attendee, Hold, NewHold, Order, OrderStatus};
use crate::payments::CheckoutRequest;
use crate::registration::RegistrationRequest;
use crate::store::{ReleaseScope, StoreError};
use chrono::TimeDelta;

/// How long a seat is held while its buyer pays. The session expires with the hold, and Stripe
/// refuses an `expires_at` less than 30 minutes after the session's creation, which comes a
/// moment after the hold's: one minute more covers the trip.
pub const HOLD_MINUTES: i64 = 31;

/// The order id of a free registration: one per hold, and a valid execution name (at most 80
/// characters of `[A-Za-z0-9_-]`).
pub fn free_order_id(hold: HoldId) -> OrderId {
    OrderId::from(format!("free_{}", hold.as_uuid().simple()))
}

pub(crate) async fn checkout(
    ports: &ApiPorts,
    caller: &Caller,
    request: &ApiRequest,
) -> Result<ApiResponse, ApiError> {
    let view = find_event(&*ports.store, request).await?;
    let event = view.event;
    let now = ports.clock.now();
    let new_hold = NewHold {
        id: HoldId::new(&*ports.ids),
        user_id: caller.user_id.clone(),
        expires_at: now + TimeDelta::minutes(ports.hold_minutes),
    };
    let hold = ports
        .store
        .hold_seat(event.id, &new_hold, now)
        .await
        .map_err(|error| match error {
            StoreError::SoldOut => ApiError::conflict("the event is sold out"),
            StoreError::EventEnded => ApiError::conflict("the event has already started"),
            StoreError::NotFound(_) => ApiError::not_found("event"),
            other => ApiError::store(other),
        })?;
    let (order_id, checkout_url) = if event.price.is_free() {
        (register_free(ports, caller, &event, &hold).await?, None)
    } else {
        let (id, url) = start_payment(ports, caller, &event, &hold).await?;
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
    event: &Event,
    hold: &Hold,
) -> Result<OrderId, ApiError> {
    let email = caller.email.clone().unwrap_or_default();
    let name = caller.name.clone().unwrap_or_else(|| email.clone());
    let registration = RegistrationRequest {
        order_id: free_order_id(hold.id),
        event_id: event.id,
        hold_id: hold.id,
        user_id: caller.user_id.clone(),
        payment_intent_id: None,
        amount_minor: 0,
        currency: event.price.currency,
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
    event: &Event,
    hold: &Hold,
) -> Result<(OrderId, String), ApiError> {
    let site = ports.site_url.trim_end_matches('/');
    let checkout = CheckoutRequest {
        event_id: event.id,
        hold_id: hold.id,
        user_id: caller.user_id.clone(),
        title: event.title.clone(),
        price: event.price,
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
        amount: event.price,
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
