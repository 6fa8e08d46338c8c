//! `GET /events/{id}/attendees`: JSON pages, or the whole list as CSV with `Accept: text/csv`.

use super::bodies::{AttendeeBody, PageBody};
use super::csv::csv_row;
use super::events::own_event;
use super::http::{ApiError, ApiRequest, ApiResponse};
use crate::files::content_disposition;
use crate::identity::Caller;
use crate::page::{MAX_PAGE_SIZE, PageRequest};
use crate::store::Store;
use crate::time::to_key;

/// The CSV's header row.
pub const CSV_COLUMNS: [&str; 7] = [
    "name",
    "email",
    "ticketType",
    "status",
    "ticketId",
    "registeredAt",
    "checkedInAt",
];

fn wants_csv(request: &ApiRequest) -> bool {
    request.header("accept").is_some_and(|accept| {
        accept.split(',').any(|kind| {
            kind.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("text/csv")
        })
    })
}

pub(crate) async fn list(
    store: &dyn Store,
    caller: &Caller,
    request: &ApiRequest,
) -> Result<ApiResponse, ApiError> {
    let view = own_event(store, caller, request).await?;
    let event_id = view.event.id;
    if !wants_csv(request) {
        let page = request.page()?;
        let attendees = store
            .attendees_of_event(event_id, &page)
            .await
            .map_err(ApiError::store)?;
        return Ok(ApiResponse::json(
            200,
            &PageBody::of(attendees, |ticket| AttendeeBody::of(&ticket, &view.event)),
        ));
    }
    let mut csv = csv_row(&CSV_COLUMNS);
    let mut page = PageRequest::first(MAX_PAGE_SIZE);
    loop {
        let attendees = store
            .attendees_of_event(event_id, &page)
            .await
            .map_err(ApiError::store)?;
        for ticket in &attendees.items {
            csv.push_str(&csv_row(&[
                ticket.attendee.name.clone(),
                ticket.attendee.email.clone(),
                view.event.type_name(ticket.ticket_type_id).to_owned(),
                ticket.status.to_string(),
                ticket.id.to_string(),
                to_key(ticket.created_at),
                ticket.used_at.map(to_key).unwrap_or_default(),
            ]));
        }
        match attendees.next_cursor {
            Some(cursor) => page = PageRequest::after(MAX_PAGE_SIZE, cursor),
            None => break,
        }
    }
    Ok(ApiResponse {
        status: 200,
        headers: vec![
            ("content-type".into(), "text/csv; charset=utf-8".into()),
            ("cache-control".into(), "no-store".into()),
            (
                "content-disposition".into(),
                content_disposition(&format!("attendees-{event_id}.csv")),
            ),
        ],
        body: csv.into_bytes(),
    })
}
