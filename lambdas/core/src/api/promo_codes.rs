//! `POST /events/{id}/promo-codes`, `GET /events/{id}/promo-codes`,
//! `PATCH /events/{id}/promo-codes/{code}`: an organizer's codes.

use super::bodies::{PromoCodeBody, PromoCodeList};
use super::events::own_event;
use super::http::{ApiError, ApiRequest, ApiResponse};
use crate::clock::Clock;
use crate::identity::Caller;
use crate::promo::{
    MAX_CODE_CHARS, MAX_CODES_PER_EVENT, NewPromoCode, PromoCodeChange, PromoCodeView,
    canonical_code,
};
use crate::store::{Store, StoreError};

pub(crate) async fn create(
    store: &dyn Store,
    clock: &dyn Clock,
    caller: &Caller,
    request: &ApiRequest,
) -> Result<ApiResponse, ApiError> {
    let view = own_event(store, caller, request).await?;
    let input: NewPromoCode = request.json()?;
    let promo = input
        .validate(&view.event, clock.now())
        .map_err(|errors| ApiError::invalid_fields(&errors))?;
    // A soft limit: two racing creations may pass it by one, which harms nothing.
    let existing = store
        .promo_codes_of_event(view.event.id)
        .await
        .map_err(ApiError::store)?;
    if existing.len() >= MAX_CODES_PER_EVENT {
        return Err(ApiError::conflict(format!(
            "an event has at most {MAX_CODES_PER_EVENT} promo codes"
        )));
    }
    store
        .create_promo_code(&promo)
        .await
        .map_err(|error| match error {
            StoreError::AlreadyExists(_) => ApiError::conflict(format!(
                "the event already has the promo code {:?}",
                promo.code
            )),
            other => ApiError::store(other),
        })?;
    let created = PromoCodeView { promo, used: 0 };
    Ok(ApiResponse::json(201, &PromoCodeBody::from(&created)))
}

pub(crate) async fn list(
    store: &dyn Store,
    caller: &Caller,
    request: &ApiRequest,
) -> Result<ApiResponse, ApiError> {
    let view = own_event(store, caller, request).await?;
    let codes = store
        .promo_codes_of_event(view.event.id)
        .await
        .map_err(ApiError::store)?;
    Ok(ApiResponse::json(
        200,
        &PromoCodeList {
            promo_codes: codes.iter().map(PromoCodeBody::from).collect(),
        },
    ))
}

/// Changes a code's limits: more or fewer uses (never fewer than it has), another window.
pub(crate) async fn update(
    store: &dyn Store,
    caller: &Caller,
    request: &ApiRequest,
) -> Result<ApiResponse, ApiError> {
    let view = own_event(store, caller, request).await?;
    let code = canonical_code(request.path_params.get("code").map_or("", String::as_str));
    // No longer code was ever made; a key that long would not even be a valid DynamoDB key.
    if code.chars().count() > MAX_CODE_CHARS {
        return Err(ApiError::not_found("promo code"));
    }
    let change: PromoCodeChange = request.json()?;
    let current = store
        .get_promo_code(view.event.id, &code)
        .await
        .map_err(ApiError::store)?
        .ok_or_else(|| ApiError::not_found("promo code"))?;
    let changed = change
        .apply(&current.promo)
        .map_err(|errors| ApiError::invalid_fields(&errors))?;
    let updated = store
        .update_promo_code(&changed)
        .await
        .map_err(|error| match error {
            StoreError::PromoCodeUsed(used) => ApiError::conflict(format!(
                "`maxUses` cannot go below the {used} orders that use the code"
            )),
            StoreError::NotFound(_) => ApiError::not_found("promo code"),
            other => ApiError::store(other),
        })?;
    Ok(ApiResponse::json(200, &PromoCodeBody::from(&updated)))
}
