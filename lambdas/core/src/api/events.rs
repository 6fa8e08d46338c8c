//! `POST /events`, `GET /events`, `GET /events/{id}`, `GET /events/{id}/stats`.

use super::bodies::{EventBody, PageBody};
use super::http::{ApiError, ApiRequest, ApiResponse};
use crate::clock::Clock;
use crate::event::{EventView, NewEvent};
use crate::identity::Caller;
use crate::ids::{EventId, Ids};
use crate::store::Store;

pub(crate) async fn create(
    store: &dyn Store,
    clock: &dyn Clock,
    ids: &dyn Ids,
    caller: &Caller,
    request: &ApiRequest,
) -> Result<ApiResponse, ApiError> {
    let input: NewEvent = request.json()?;
    let now = clock.now();
    let event = input
        .validate(EventId::new(ids), caller.user_id.clone(), now, ids)
        .map_err(|errors| ApiError::invalid_fields(&errors))?;
    store.create_event(&event).await.map_err(ApiError::store)?;
    let view = EventView::new(event);
    Ok(ApiResponse::json(201, &EventBody::of(&view, caller, now)))
}

/// Upcoming events for everyone; `?mine=true` lists the organizer's own events, past and
/// future (a user may be in both groups, so the parameter decides, not the group).
pub(crate) async fn list(
    store: &dyn Store,
    clock: &dyn Clock,
    caller: &Caller,
    request: &ApiRequest,
) -> Result<ApiResponse, ApiError> {
    let mine = match request.query_value("mine")? {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(ApiError::bad_request("`mine` must be true or false")),
    };
    let page = request.page()?;
    let now = clock.now();
    let events = if mine {
        if !caller.is_organizer() {
            return Err(ApiError::forbidden(
                "listing your own events needs the organizer group",
            ));
        }
        store.list_organizer_events(&caller.user_id, &page).await
    } else {
        store.list_upcoming_events(now, &page).await
    }
    .map_err(ApiError::store)?;
    Ok(ApiResponse::json(
        200,
        &PageBody::of(events, |view| EventBody::of(&view, caller, now)),
    ))
}

pub(crate) async fn get(
    store: &dyn Store,
    clock: &dyn Clock,
    caller: &Caller,
    request: &ApiRequest,
) -> Result<ApiResponse, ApiError> {
    let view = find_event(store, request).await?;
    Ok(ApiResponse::json(
        200,
        &EventBody::of(&view, caller, clock.now()),
    ))
}

pub(crate) async fn stats(
    store: &dyn Store,
    clock: &dyn Clock,
    caller: &Caller,
    request: &ApiRequest,
) -> Result<ApiResponse, ApiError> {
    let view = own_event(store, caller, request).await?;
    Ok(ApiResponse::json(200, &view.stats(clock.now())))
}

/// The event named by `{id}`: 400 for a malformed id, 404 for an unknown one.
pub(crate) async fn find_event(
    store: &dyn Store,
    request: &ApiRequest,
) -> Result<EventView, ApiError> {
    let id: EventId = request.uuid_param("id")?;
    store
        .get_event(id)
        .await
        .map_err(ApiError::store)?
        .ok_or_else(|| ApiError::not_found("event"))
}

/// [`find_event`], and 403 unless the caller organizes it.
pub(crate) async fn own_event(
    store: &dyn Store,
    caller: &Caller,
    request: &ApiRequest,
) -> Result<EventView, ApiError> {
    let view = find_event(store, request).await?;
    if view.event.organizer_id != caller.user_id {
        return Err(ApiError::forbidden("this is not your event"));
    }
    Ok(view)
}
