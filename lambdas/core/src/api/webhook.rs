//! `POST /stripe/webhook`: Stripe reports that a checkout was paid (start the registration named
//! by the session) or will never be (give the seat back). No JWT: the `Stripe-Signature` over the
//! raw body proves the sender, and nothing changes before it is checked.

use super::ApiPorts;
use super::bodies::WebhookReceived;
use super::http::{ApiError, ApiRequest, ApiResponse};
use crate::ids::OrderId;
use crate::reconcile::close_unpaid;
use crate::store::ReleaseOutcome;
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
        &WebhookReceived {
            received: true,
            outcome,
        },
    ))
}

/// The checkout session of a `checkout.session.*` event, or `None` when it carries none of this
/// system's metadata (another integration on the same Stripe account).
fn our_session(event: &WebhookEvent) -> Result<Option<SessionFields>, ApiError> {
    let session = SessionFields::of(&event.object)
        .ok_or_else(|| ApiError::bad_request("`data.object` is not a checkout session"))?;
    Ok(session.is_ours().then_some(session))
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
    let registration = session.registration().map_err(ApiError::bad_request)?;
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

/// The session expired or its delayed payment failed: the seat goes back and the order closes
/// `EXPIRED`, unless a payment already sold the seat (an expiry that arrives after the payment
/// does no damage). Stripe never takes a payment for an expired session, so nothing is owed.
async fn unpaid(ports: &ApiPorts, event: &WebhookEvent) -> Result<&'static str, ApiError> {
    let Some(session) = our_session(event)? else {
        return Ok("ignored: not a ticketing checkout");
    };
    let (event_id, hold_id) = session.hold().map_err(ApiError::bad_request)?;
    let order_id = OrderId::from(session.id.clone());
    let outcome = close_unpaid(
        &*ports.store,
        event_id,
        hold_id,
        &order_id,
        ports.clock.now(),
    )
    .await
    .map_err(ApiError::store)?;
    Ok(match outcome {
        ReleaseOutcome::Released { .. } => "seat released",
        ReleaseOutcome::AlreadyReleased => "seat already released",
        ReleaseOutcome::KeptSold => "seat kept: it was paid",
    })
}
