//! `PATCH /tickets/{id}`: the buyer puts another holder's name on a ticket until the event
//! starts; the ticket's PDF is drawn again with it (the same signed code).

use serde::Deserialize;

use super::ApiPorts;
use super::bodies::TicketBody;
use super::http::{ApiError, ApiRequest, ApiResponse};
use super::orders::own_ticket;
use super::ticket_pdfs::draw;
use crate::identity::Caller;
use crate::order::{OrderStatus, TicketStatus};
use crate::registration::MAX_ATTENDEE_NAME_CHARS;
use crate::store::StoreError;
use crate::validation::{ValidationErrors, single_line};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Rename {
    holder_name: String,
}

pub(crate) async fn rename(
    ports: &ApiPorts,
    caller: &Caller,
    request: &ApiRequest,
) -> Result<ApiResponse, ApiError> {
    let store = &*ports.store;
    let mut errors = ValidationErrors::default();
    let holder_name = single_line(
        &mut errors,
        "holderName",
        &request.json::<Rename>()?.holder_name,
        MAX_ATTENDEE_NAME_CHARS,
    );
    if !errors.0.is_empty() {
        return Err(ApiError::invalid_fields(&errors));
    }
    let ticket = own_ticket(store, caller, request).await?;
    let view = store
        .get_event(ticket.event_id)
        .await
        .map_err(ApiError::store)?
        .ok_or_else(|| ApiError::not_found("event"))?;
    if ports.clock.now() >= view.event.starts_at {
        return Err(ApiError::conflict(
            "the event has started: the holder's name can no longer change",
        ));
    }
    // Its PDF is drawn once the order is fulfilled; before that the registration may still be
    // drawing it, with whichever name it read.
    let order = store
        .get_order(&ticket.order_id)
        .await
        .map_err(ApiError::store)?
        .filter(|order| order.status == OrderStatus::Fulfilled)
        .ok_or_else(|| ApiError::conflict("the order's tickets are not issued yet"))?;
    let refused = |status: TicketStatus| match status {
        TicketStatus::Used => ApiError::conflict("the ticket has been used"),
        _ => ApiError::conflict("the ticket is void"),
    };
    let renamed =
        store
            .rename_ticket(ticket.id, &holder_name)
            .await
            .map_err(|error| match error {
                StoreError::TicketUsed => refused(TicketStatus::Used),
                StoreError::TicketVoid => refused(TicketStatus::Void),
                other => ApiError::store(other),
            })?;
    // The name is stored first: should drawing fail, the door already shows the new name and
    // the same request draws the PDF again.
    let drawn = draw(ports, &view, &order, renamed).await?;
    Ok(ApiResponse::json(200, &TicketBody::from(&drawn)))
}
