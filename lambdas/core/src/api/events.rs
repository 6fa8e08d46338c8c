//! `POST /events`, `GET /events`, `GET /events/{id}`, `PUT /events/{id}`,
//! `GET /events/{id}/stats`, `POST /events/{id}/publish`, `POST /events/{id}/unpublish`,
//! `POST /events/{id}/cancel`, `GET /events/{id}/cancellation`.
//!
//! A new event is a draft only its organizer sees; publishing lists it and opens its sales,
//! unpublishing takes it out of the listings and off sale (its page still opens from a link,
//! and its tickets stay valid).
//!
//! An event's version is its ETag (`"3"`): an edit must name the version it was made from in
//! `If-Match`, so of two organizers editing at once the second is told (412) instead of
//! silently undoing the first's change.

use super::bodies::{EventBody, PageBody};
use super::checkout::CANCELLED;
use super::http::{ApiError, ApiRequest, ApiResponse};
use crate::cancellation::{self, CancellationProgress};
use crate::clock::Clock;
use crate::event::{EventView, NewEvent, Visibility};
use crate::event_edit::{EDIT_RETRIES, EditRefusal, EventEdit};
use crate::identity::Caller;
use crate::ids::{EventId, Ids};
use crate::store::{Store, StoreError};
use crate::workflow::Workflow;

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
    event_response(store, 201, &view, caller, now).await
}

/// One event's body, naming its organizer as their profile does, with its version as the
/// ETag.
async fn event_response(
    store: &dyn Store,
    status: u16,
    view: &EventView,
    caller: &Caller,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<ApiResponse, ApiError> {
    let profile = store
        .get_organizer_profile(&view.event.organizer_id)
        .await
        .map_err(ApiError::store)?;
    let body = EventBody {
        organizer: profile.as_ref().map(Into::into),
        ..EventBody::of(view, caller, now)
    };
    Ok(ApiResponse::json(status, &body).with_header("etag", format!("\"{}\"", view.version)))
}

/// The version `If-Match` names: 428 without one, 400 for anything but one strong ETag.
fn if_match(request: &ApiRequest) -> Result<u32, ApiError> {
    let header = request.header("if-match").ok_or_else(|| {
        ApiError::new(
            428,
            "an edit needs If-Match with the event's ETag (from GET /events/{id})",
        )
    })?;
    header
        .trim()
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
        .and_then(|version| version.parse().ok())
        .ok_or_else(|| {
            ApiError::bad_request("If-Match must be one of the event's ETags, such as \"3\"")
        })
}

/// Changes an event and its ticket types, as the organizer last saw it (If-Match).
pub(crate) async fn update(
    store: &dyn Store,
    clock: &dyn Clock,
    ids: &dyn Ids,
    caller: &Caller,
    request: &ApiRequest,
) -> Result<ApiResponse, ApiError> {
    let mut view = own_event(store, caller, request).await?;
    let seen = if_match(request)?;
    let edit: EventEdit = request.json()?;
    for _ in 0..EDIT_RETRIES {
        if view.is_cancelled() {
            return Err(ApiError::conflict(CANCELLED));
        }
        if view.version != seen {
            return Err(ApiError::new(
                412,
                format!(
                    "the event has changed since version {seen} (it is at version {}): load \
                     it again and redo the edit",
                    view.version
                ),
            ));
        }
        let now = clock.now();
        let update = edit
            .plan(&view, now, ids)
            .map_err(|refusal| match refusal {
                EditRefusal::Invalid(errors) => ApiError::invalid_fields(&errors),
                EditRefusal::Started => {
                    ApiError::conflict("the event has started: it can no longer change")
                }
                EditRefusal::SeatsTaken(problems) => ApiError::conflict(problems.join("; ")),
            })?;
        match store.update_event(&update).await {
            Ok(updated) => return event_response(store, 200, &updated, caller, now).await,
            // Judged again on what the store has now: another edit, or seats taken meanwhile.
            Err(StoreError::EventChanged | StoreError::SeatsTaken) => {
                view = find_event(store, request).await?;
            }
            Err(StoreError::NotFound(_)) => return Err(ApiError::not_found("event")),
            Err(other) => return Err(ApiError::store(other)),
        }
    }
    Err(ApiError::conflict(
        "seats are being taken too fast to judge the edit; try again",
    ))
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
    let view = visible_event(store, caller, request).await?;
    event_response(store, 200, &view, caller, clock.now()).await
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

/// [`find_event`], and 404 for a draft unless the caller organizes it.
pub(crate) async fn visible_event(
    store: &dyn Store,
    caller: &Caller,
    request: &ApiRequest,
) -> Result<EventView, ApiError> {
    let view = find_event(store, request).await?;
    if !view.visibility.shows_to_everyone() && view.event.organizer_id != caller.user_id {
        return Err(ApiError::not_found("event"));
    }
    Ok(view)
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

/// Publishes the caller's event: listed and on sale from now. Publishing again changes nothing.
pub(crate) async fn publish(
    store: &dyn Store,
    clock: &dyn Clock,
    caller: &Caller,
    request: &ApiRequest,
) -> Result<ApiResponse, ApiError> {
    let view = own_event(store, caller, request).await?;
    if view.is_cancelled() {
        return Err(ApiError::conflict(
            "the event has been cancelled: it cannot be published",
        ));
    }
    set_visibility(store, clock, caller, view, Visibility::Published).await
}

/// Takes the caller's event out of the listings and off sale; its tickets stay valid.
/// Unpublishing again changes nothing; a draft was never published (409).
pub(crate) async fn unpublish(
    store: &dyn Store,
    clock: &dyn Clock,
    caller: &Caller,
    request: &ApiRequest,
) -> Result<ApiResponse, ApiError> {
    let view = own_event(store, caller, request).await?;
    if view.visibility == Visibility::Draft {
        return Err(ApiError::conflict(
            "the event is a draft: it has not been published",
        ));
    }
    set_visibility(store, clock, caller, view, Visibility::Unpublished).await
}

async fn set_visibility(
    store: &dyn Store,
    clock: &dyn Clock,
    caller: &Caller,
    view: EventView,
    visibility: Visibility,
) -> Result<ApiResponse, ApiError> {
    let view = if view.visibility == visibility {
        view
    } else {
        store
            .set_visibility(view.event.id, visibility)
            .await
            .map_err(|error| match error {
                StoreError::NotFound(_) => ApiError::not_found("event"),
                other => ApiError::store(other),
            })?
    };
    event_response(store, 200, &view, caller, clock.now()).await
}

/// Cancels the caller's event: sales stop before this answers, then the cancellation state
/// machine refunds every order. 202 with the progress so far; asking again starts nothing new
/// (and starts the refunds if an earlier request could not).
pub(crate) async fn cancel(
    store: &dyn Store,
    workflow: &dyn Workflow,
    clock: &dyn Clock,
    caller: &Caller,
    request: &ApiRequest,
) -> Result<ApiResponse, ApiError> {
    let view = own_event(store, caller, request).await?;
    let view = match store.cancel_event(view.event.id, clock.now()).await {
        Ok(view) => view,
        Err(StoreError::EventEnded) => {
            return Err(ApiError::conflict(
                "the event has started: refund its orders one by one instead",
            ));
        }
        Err(StoreError::NotFound(_)) => return Err(ApiError::not_found("event")),
        Err(other) => return Err(ApiError::store(other)),
    };
    if view
        .cancellation
        .is_some_and(|cancellation| cancellation.finished_at.is_none())
    {
        workflow
            .start_cancellation(view.event.id)
            .await
            .map_err(ApiError::workflow)?;
    }
    Ok(ApiResponse::json(202, &progress_of(store, &view).await?))
}

/// How far the cancellation of the caller's event has come; 404 for an event not cancelled.
pub(crate) async fn cancellation(
    store: &dyn Store,
    caller: &Caller,
    request: &ApiRequest,
) -> Result<ApiResponse, ApiError> {
    let view = own_event(store, caller, request).await?;
    Ok(ApiResponse::json(200, &progress_of(store, &view).await?))
}

async fn progress_of(
    store: &dyn Store,
    view: &EventView,
) -> Result<CancellationProgress, ApiError> {
    cancellation::progress(store, view)
        .await
        .map_err(ApiError::store)?
        .ok_or_else(|| ApiError::not_found("cancellation (the event is not cancelled)"))
}
