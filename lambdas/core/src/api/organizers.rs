//! `GET /me/organizer-profile`, `PUT /me/organizer-profile`: the name an organizer's tickets
//! and event pages show, and their contact address.

use super::bodies::OrganizerProfileBody;
use super::http::{ApiError, ApiRequest, ApiResponse};
use crate::clock::Clock;
use crate::identity::Caller;
use crate::organizer::NewOrganizerProfile;
use crate::store::Store;

pub(crate) async fn get(store: &dyn Store, caller: &Caller) -> Result<ApiResponse, ApiError> {
    let profile = store
        .get_organizer_profile(&caller.user_id)
        .await
        .map_err(ApiError::store)?
        .ok_or_else(|| ApiError::not_found("organizer profile"))?;
    Ok(ApiResponse::json(
        200,
        &OrganizerProfileBody::from(&profile),
    ))
}

/// Creates or replaces the caller's profile. Tickets drawn from then on name them (those
/// issued earlier when drawn again: after a rename or an edit of their event).
pub(crate) async fn put(
    store: &dyn Store,
    clock: &dyn Clock,
    caller: &Caller,
    request: &ApiRequest,
) -> Result<ApiResponse, ApiError> {
    let input: NewOrganizerProfile = request.json()?;
    let profile = input
        .validate(caller.user_id.clone(), clock.now())
        .map_err(|errors| ApiError::invalid_fields(&errors))?;
    store
        .put_organizer_profile(&profile)
        .await
        .map_err(ApiError::store)?;
    Ok(ApiResponse::json(
        200,
        &OrganizerProfileBody::from(&profile),
    ))
}
