//! `POST /stripe/webhook`: Stripe reports that a checkout was paid (start the registration named
//! by the session) or will never be (give the seat back). No JWT: the `Stripe-Signature` over the
//! raw body proves the sender, and nothing changes before it is checked.

use serde_json::json;

use super::ApiPorts;
use super::http::{ApiError, ApiRequest, ApiResponse};
use crate::ids::{EventId, HoldId, OrderId, UserId};
use crate::money::Currency;
use crate::order::Attendee;
use crate::registration::RegistrationRequest;
use crate::store::{ReleaseOutcome, ReleaseScope, StoreError};
use crate::stripe_webhook::{self, SIGNATURE_HEADER, SessionFields, WebhookEvent};
use crate::workflow::{Started, WorkflowError};

pub(crate) async fn stripe_webhook(
    ports: &ApiPorts,
    request: &ApiRequest,
) -> Result<ApiResponse, ApiError> {
    stripe_webhook::verify(
        request.headers.get(SIGNATURE_HEADER).map(String::as_str),
        &request.body,
        &ports.webhook_secrets,
        ports.clock.now(),
    )
    .map_err(|error| ApiError::bad_request(error.to_string()))?;
    let event = WebhookEvent::parse(&request.body)
        .ok_or_else(|| ApiError::bad_request("the body is not a Stripe event"))?;
    let outcome = match event.kind.as_str() {
        "checkout.session.completed" | "checkout.session.async_payment_succeeded" => {
            paid(ports, &event).await?
        }
        "checkout.session.expired" | "checkout.session.async_payment_failed" => {
            unpaid(ports, &event).await?
        }
        // Stripe sends whatever the endpoint subscribes to; an answer other than 2xx would only
        // make it retry.
        _ => "ignored",
    };
    tracing::info!(event = %event.id, kind = %event.kind, outcome, "Stripe webhook");
    Ok(ApiResponse::json(
        200,
        &json!({ "received": true, "outcome": outcome }),
    ))
}

/// The checkout session of a `checkout.session.*` event, or `None` when it carries none of this
/// system's metadata (another integration on the same Stripe account).
fn our_session(event: &WebhookEvent) -> Result<Option<SessionFields>, ApiError> {
    let session = SessionFields::of(&event.object)
        .ok_or_else(|| ApiError::bad_request("`data.object` is not a checkout session"))?;
    Ok(session.hold_id.is_some().then_some(session))
}

async fn paid(ports: &ApiPorts, event: &WebhookEvent) -> Result<&'static str, ApiError> {
    let Some(session) = our_session(event)? else {
        return Ok("ignored: not a ticketing checkout");
    };
    // A completed session with a delayed payment method is not paid yet:
    // `async_payment_succeeded` follows when it is.
    if event.kind == "checkout.session.completed"
        && session.payment_status.as_deref() != Some("paid")
    {
        return Ok("awaiting payment");
    }
    let registration = registration_of(&session)?;
    match ports.workflow.start_registration(&registration).await {
        Ok(Started::New) => Ok("registration started"),
        // A redelivery, or the completed and async-succeeded events of one session.
        Ok(Started::Existing) => Ok("registration already started"),
        Err(WorkflowError::AlreadyExists(name)) => {
            // The session's registration runs already, started from another event of it whose
            // fields differed; one session never makes two tickets.
            tracing::warn!(execution = %name, "a registration for this session runs already");
            Ok("registration already started")
        }
        Err(error) => Err(ApiError::workflow(error)),
    }
}

/// A session field parsed, or a 400 naming it.
fn field<T: std::str::FromStr>(value: &Option<String>, name: &str) -> Result<T, ApiError> {
    value
        .as_deref()
        .and_then(|text| text.parse().ok())
        .ok_or_else(|| ApiError::bad_request(format!("the checkout session has no valid {name}")))
}

/// The registration a paid session asks for, from its metadata and what Stripe collected.
fn registration_of(session: &SessionFields) -> Result<RegistrationRequest, ApiError> {
    let email = session.customer_email.clone().unwrap_or_default();
    let registration = RegistrationRequest {
        order_id: OrderId(session.id.clone()),
        event_id: field::<EventId>(&session.event_id, "metadata.eventId")?,
        hold_id: field::<HoldId>(&session.hold_id, "metadata.holdId")?,
        user_id: UserId(field::<String>(&session.user_id, "metadata.userId")?),
        payment_intent_id: Some(field(&session.payment_intent, "payment_intent")?),
        amount_minor: session
            .amount_total
            .ok_or_else(|| ApiError::bad_request("the checkout session has no amount_total"))?,
        currency: field::<Currency>(&session.currency, "currency")?,
        attendee: Attendee {
            // Stripe collects a name only with some settings; the ticket then shows the email.
            name: session
                .customer_name
                .clone()
                .unwrap_or_else(|| email.clone()),
            email,
        },
    };
    registration.validate().map_err(|errors| {
        ApiError::bad_request(format!(
            "the checkout session cannot become a ticket: {errors}"
        ))
    })?;
    Ok(registration)
}

/// The session expired or its delayed payment failed: the seat goes back, unless a payment
/// already sold it (an expiry that arrives after the payment does no damage). The order stays
/// `PENDING`: a payment that still arrives gets a ticket if a seat is left and a refund if not,
/// and `GET /orders/{id}` shows the buyer that the checkout expired meanwhile.
async fn unpaid(ports: &ApiPorts, event: &WebhookEvent) -> Result<&'static str, ApiError> {
    let Some(session) = our_session(event)? else {
        return Ok("ignored: not a ticketing checkout");
    };
    let event_id = field::<EventId>(&session.event_id, "metadata.eventId")?;
    let hold_id = field::<HoldId>(&session.hold_id, "metadata.holdId")?;
    let outcome = ports
        .store
        .release_hold(event_id, hold_id, ReleaseScope::Unpaid, ports.clock.now())
        .await;
    match outcome {
        Ok(ReleaseOutcome::Released { .. }) => Ok("seat released"),
        Ok(ReleaseOutcome::AlreadyReleased) => Ok("seat already released"),
        Ok(ReleaseOutcome::KeptSold) => Ok("seat kept: it was paid"),
        // The event or hold is gone: nothing to give back.
        Err(StoreError::NotFound(_)) => Ok("ignored: no such hold"),
        Err(error) => Err(ApiError::store(error)),
    }
}
