//! `POST /scan`: a door scan. Every verdict is a 200 with `result`, so a scanner shows it as
//! is; only a malformed request (400) or a failing store (5xx) is an error.

use super::bodies::ScanResult;
use super::http::{ApiError, ApiRequest, ApiResponse};
use crate::clock::Clock;
use crate::identity::Caller;
use crate::ids::OrderId;
use crate::order::OrderStatus;
use crate::store::{Redemption, Store};
use crate::ticket_code::{CodeError, TicketVerifier};
use serde::Deserialize;

/// The longest `code` accepted.
pub const MAX_SCAN_CHARS: usize = 1024;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScanBody {
    code: String,
}

pub(crate) async fn scan(
    store: &dyn Store,
    verifier: &TicketVerifier,
    clock: &dyn Clock,
    caller: &Caller,
    request: &ApiRequest,
) -> Result<ApiResponse, ApiError> {
    let body: ScanBody = request.json()?;
    // A code is far shorter (`MAX_CODE_LEN`); this only bounds the work on nonsense.
    if body.code.chars().count() > MAX_SCAN_CHARS {
        return Err(ApiError::bad_request(format!(
            "`code` must be at most {MAX_SCAN_CHARS} characters"
        )));
    }
    let verdict = match verifier.verify(&body.code) {
        Err(CodeError::Malformed(_)) => ScanResult::invalid("not a ticket code"),
        Err(CodeError::UnknownKey(_) | CodeError::BadSignature) => {
            ScanResult::invalid("the code is not signed by this system")
        }
        Ok(code) => {
            let event = store
                .get_event(code.event_id)
                .await
                .map_err(ApiError::store)?;
            match event {
                None => ScanResult::invalid("unknown event"),
                Some(view) if view.event.organizer_id != caller.user_id => {
                    ScanResult::NotYourEvent {
                        event_id: code.event_id,
                    }
                }
                Some(view) => {
                    // A cancelled event admits nobody, whether its ticket's refund ran yet.
                    let redemption = if view.is_cancelled() {
                        match store.get_ticket(code.ticket_id).await {
                            Ok(Some(ticket)) => Redemption::Void(ticket),
                            Ok(None) => Redemption::Unknown,
                            Err(error) => return Err(ApiError::store(error)),
                        }
                    } else {
                        store
                            .redeem_ticket(code.ticket_id, &caller.user_id, clock.now())
                            .await
                            .map_err(ApiError::store)?
                    };
                    let event = view.event;
                    match redemption {
                        Redemption::Admitted(ticket) => ScanResult::Valid {
                            ticket_id: ticket.id,
                            event_id: ticket.event_id,
                            ticket_type: event.type_name(ticket.ticket_type_id).to_owned(),
                            event_title: event.title,
                            attendee_name: ticket.attendee.name,
                        },
                        Redemption::AlreadyUsed(ticket) => ScanResult::Used {
                            ticket_id: ticket.id,
                            event_id: ticket.event_id,
                            ticket_type: event.type_name(ticket.ticket_type_id).to_owned(),
                            event_title: event.title,
                            attendee_name: ticket.attendee.name,
                            used_at: ticket.used_at,
                        },
                        Redemption::Void(ticket) => ScanResult::Void {
                            reason: if view.cancellation.is_some() {
                                "the event was cancelled"
                            } else {
                                void_reason(store, &ticket.order_id).await?
                            }
                            .to_owned(),
                            ticket_id: ticket.id,
                            event_id: ticket.event_id,
                            ticket_type: event.type_name(ticket.ticket_type_id).to_owned(),
                            event_title: event.title,
                            attendee_name: ticket.attendee.name,
                        },
                        Redemption::Unknown => ScanResult::invalid("unknown ticket"),
                    }
                }
            }
        }
    };
    Ok(ApiResponse::json(200, &verdict))
}

/// Why a void ticket no longer admits, from what became of its order.
async fn void_reason(store: &dyn Store, order_id: &OrderId) -> Result<&'static str, ApiError> {
    let order = store.get_order(order_id).await.map_err(ApiError::store)?;
    Ok(match order.map(|order| order.status) {
        Some(OrderStatus::Refunded) => "the order was refunded",
        Some(OrderStatus::Failed) => "the purchase failed",
        _ => "the ticket was voided",
    })
}
