//! Which file holds a ticket's PDF as its event is now, and drawing it again outside the
//! registration: after the holder is renamed, and on the first download after the event was
//! edited (same signed code, current details).

use super::http::ApiError;
use super::{ApiPorts, TicketPdfs};
use crate::event::EventView;
use crate::files::FileKey;
use crate::order::{Order, Ticket};
use crate::organizer::OrganizerProfile;
use crate::registration::ticket_pdf;
use crate::store::StoreError;

/// How often a ticket is drawn at most, should renames keep racing the drawing.
const REDRAWS: usize = 3;

/// The drawing ports, which only the functions that draw tickets are given.
fn drawing(ports: &ApiPorts) -> Result<&TicketPdfs, ApiError> {
    ports.ticket_pdfs.as_ref().ok_or_else(|| {
        ApiError::store(StoreError::Internal(
            "this function cannot draw tickets".into(),
        ))
    })
}

/// Draws `ticket` with the event as `view` has it into the file of that version, and returns
/// the ticket as drawn. A rename racing this may have stored another name before our PDF
/// landed over its own: the file must end with the name the store has, so it is drawn again
/// if the name changed meanwhile.
pub(crate) async fn draw(
    ports: &ApiPorts,
    view: &EventView,
    order: &Order,
    ticket: Ticket,
) -> Result<Ticket, ApiError> {
    let pdfs = drawing(ports)?;
    let key = FileKey::for_ticket_version(ticket.event_id, ticket.id, view.version);
    let profile = ports
        .store
        .get_organizer_profile(&view.event.organizer_id)
        .await
        .map_err(ApiError::store)?;
    let issuer = OrganizerProfile::issuer(profile.as_ref());
    let mut drawn = ticket;
    for _ in 0..REDRAWS {
        let pdf = ticket_pdf(
            &*pdfs.renderer,
            &pdfs.signer,
            issuer,
            &view.event,
            order,
            &drawn,
        )
        .map_err(|error| {
            ApiError::store(StoreError::Internal(format!("drawing a ticket: {error}")))
        })?;
        ports
            .files
            .put_pdf(&key, pdf)
            .await
            .map_err(ApiError::files)?;
        let now = ports
            .store
            .get_ticket(drawn.id)
            .await
            .map_err(ApiError::store)?
            .ok_or_else(|| ApiError::not_found("ticket"))?;
        if now.attendee.name == drawn.attendee.name {
            break;
        }
        drawn = now;
    }
    Ok(drawn)
}

/// The file of the ticket's PDF with the event's current details: the registration's while
/// the event is unedited, else that version's, drawn now if nobody asked for it yet.
pub(crate) async fn current_pdf(
    ports: &ApiPorts,
    view: &EventView,
    order: &Order,
    ticket: &Ticket,
) -> Result<FileKey, ApiError> {
    let key = FileKey::for_ticket_version(ticket.event_id, ticket.id, view.version);
    if view.version > 1 && !ports.files.exists(&key).await.map_err(ApiError::files)? {
        draw(ports, view, order, ticket.clone()).await?;
    }
    Ok(key)
}
