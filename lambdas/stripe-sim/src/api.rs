//! The simulator's REST API under `{base}/v1`: form-encoded requests, Stripe's JSON objects and
//! error shapes, Bearer (or Basic) secret-key auth and idempotency keys on every POST.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use ticket_core::money::MAX_AMOUNT_MINOR;
use ticket_core::{Currency, Money};

use super::StripeSimulator;
use super::error::{ApiError, answer};
use super::ledger::{
    CouponOff, Failure, KeyedRequest, Ledger, LineItem, NewCoupon, NewRefund, NewSession,
    SavedAnswer, no_such_coupon, no_such_session,
};

/// Stripe's bounds on `expires_at`, from the session's creation: at least 30 minutes ahead
/// (real Stripe's floor, the simulator's unless configured lower), at most 24 hours.
pub const STRIPE_MIN_EXPIRY: Duration = Duration::from_secs(30 * 60);
const MAX_EXPIRY_SECONDS: i64 = 24 * 3600;
/// Stripe's limits on metadata and ids.
const MAX_METADATA_KEYS: usize = 50;
const MAX_METADATA_KEY_CHARS: usize = 40;
const MAX_METADATA_VALUE_CHARS: usize = 500;
const MAX_CLIENT_REFERENCE_CHARS: usize = 200;
const MAX_URL_CHARS: usize = 5000;
const MAX_IDEMPOTENCY_KEY_CHARS: usize = 255;
const MAX_LIST_LIMIT: usize = 100;
/// Stripe's limit on a coupon's `name`.
const MAX_COUPON_NAME_CHARS: usize = 40;
const DEFAULT_LIST_LIMIT: usize = 10;

pub(super) fn routes(mount: &str) -> Router<StripeSimulator> {
    let v1 = |path: &str| format!("{mount}/v1{path}");
    Router::new()
        .route(
            &v1("/checkout/sessions"),
            post(create_session).fallback(unrecognized),
        )
        .route(
            &v1("/checkout/sessions/{id}"),
            get(retrieve_session).fallback(unrecognized),
        )
        .route(
            &v1("/checkout/sessions/{id}/expire"),
            post(expire_session).fallback(unrecognized),
        )
        .route(
            &v1("/refunds"),
            post(create_refund).get(list_refunds).fallback(unrecognized),
        )
        .route(&v1("/coupons"), post(create_coupon).fallback(unrecognized))
        .route(
            &v1("/coupons/{id}"),
            get(retrieve_coupon).fallback(unrecognized),
        )
        .route(&v1("/{*rest}"), any(unrecognized))
        .route(&format!("{mount}/_sim/deliveries"), get(deliveries))
}

// ---- authentication ----

/// The account's secret key as Bearer token or as Basic user name (`curl -u sk_test_...:`).
fn authenticate(sim: &StripeSimulator, headers: &HeaderMap) -> Result<(), ApiError> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| {
            if let Some(token) = value.strip_prefix("Bearer ") {
                Some(token.trim().to_owned())
            } else {
                let decoded = STANDARD.decode(value.strip_prefix("Basic ")?.trim()).ok()?;
                let text = String::from_utf8(decoded).ok()?;
                Some(
                    text.split_once(':')
                        .map_or(text.as_str(), |(user, _)| user)
                        .to_owned(),
                )
            }
        })
        .filter(|key| !key.is_empty());
    let Some(key) = presented else {
        return Err(ApiError::unauthorized(
            "You did not provide an API key. You need to provide your API key in the \
             Authorization header, using Bearer auth (e.g. 'Authorization: Bearer \
             YOUR_SECRET_KEY')."
                .to_owned(),
        ));
    };
    let expected = sim.config().secret_key.as_bytes();
    if aws_lc_rs::constant_time::verify_slices_are_equal(key.as_bytes(), expected).is_ok() {
        Ok(())
    } else {
        Err(ApiError::unauthorized(format!(
            "Invalid API Key provided: {}",
            mask_key(&key)
        )))
    }
}

/// Stripe's masking of a rejected key: its prefix and last four characters.
fn mask_key(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() <= 12 {
        return "*".repeat(chars.len());
    }
    let prefix: String = chars[..8].iter().collect();
    let suffix: String = chars[chars.len() - 4..].iter().collect();
    format!("{prefix}{}{suffix}", "*".repeat(chars.len() - 12))
}

// ---- parameters ----

/// A request's form or query parameters, taken one by one as they are read: whatever is left
/// at the end is a parameter the endpoint does not know, which Stripe refuses.
struct Params(BTreeMap<String, String>);

impl Params {
    fn parse(encoded: &[u8]) -> Self {
        Self(form_urlencoded::parse(encoded).into_owned().collect())
    }

    fn take(&mut self, name: &str) -> Option<String> {
        self.0.remove(name)
    }

    fn required(&mut self, name: &str) -> Result<String, ApiError> {
        self.take(name)
            .filter(|value| !value.is_empty())
            .ok_or_else(|| ApiError::missing(name))
    }

    fn integer(&mut self, name: &str) -> Result<Option<i64>, ApiError> {
        self.take(name)
            .map(|text| {
                text.parse::<i64>()
                    .map_err(|_| ApiError::invalid_integer(name, &text))
            })
            .transpose()
    }

    /// The keys and values of `prefix[key]` parameters (`metadata[eventId]`, ...).
    fn take_hash(&mut self, prefix: &str) -> BTreeMap<String, String> {
        let open = format!("{prefix}[");
        let names: Vec<String> = self
            .0
            .keys()
            .filter(|name| name.starts_with(&open) && name.ends_with(']'))
            .cloned()
            .collect();
        names
            .into_iter()
            .filter_map(|name| {
                let value = self.0.remove(&name)?;
                Some((name[open.len()..name.len() - 1].to_owned(), value))
            })
            .collect()
    }

    /// The indexes of `prefix[N][...]` parameters, in order.
    fn indexes(&self, prefix: &str) -> Vec<usize> {
        let open = format!("{prefix}[");
        let mut indexes: Vec<usize> = self
            .0
            .keys()
            .filter_map(|name| name.strip_prefix(&open)?.split_once(']')?.0.parse().ok())
            .collect();
        indexes.sort_unstable();
        indexes.dedup();
        indexes
    }

    fn finish(self) -> Result<(), ApiError> {
        match self.0.keys().next() {
            Some(unknown) => Err(ApiError::unknown_param(unknown)),
            None => Ok(()),
        }
    }
}

/// Stripe's answer to an empty value for a parameter that cannot be unset.
fn empty_value(param: &str) -> ApiError {
    ApiError::invalid(
        Some(param),
        format!(
            "You passed an empty string for '{param}'. We assume empty values are an attempt to \
             unset a parameter; however '{param}' cannot be unset. You should remove '{param}' \
             from your request or supply a non-empty value."
        ),
    )
    .with_code("parameter_invalid_empty")
}

fn metadata(params: &mut Params) -> Result<BTreeMap<String, String>, ApiError> {
    let metadata = params.take_hash("metadata");
    if metadata.len() > MAX_METADATA_KEYS {
        return Err(ApiError::invalid(
            Some("metadata"),
            format!("You can have at most {MAX_METADATA_KEYS} metadata keys."),
        ));
    }
    for (key, value) in &metadata {
        let param = format!("metadata[{key}]");
        if key.is_empty() || key.chars().count() > MAX_METADATA_KEY_CHARS {
            return Err(ApiError::invalid(
                Some(&param),
                format!("Metadata keys must be 1 to {MAX_METADATA_KEY_CHARS} characters long."),
            ));
        }
        if value.chars().count() > MAX_METADATA_VALUE_CHARS {
            return Err(ApiError::invalid(
                Some(&param),
                format!("Metadata values can have up to {MAX_METADATA_VALUE_CHARS} characters."),
            ));
        }
    }
    Ok(metadata)
}

fn url(params: &mut Params, name: &str) -> Result<Option<String>, ApiError> {
    let Some(url) = params.take(name) else {
        return Ok(None);
    };
    let parsed = url
        .parse::<Uri>()
        .ok()
        .filter(|uri| matches!(uri.scheme_str(), Some("http" | "https")) && uri.host().is_some());
    if parsed.is_none() || url.len() > MAX_URL_CHARS {
        return Err(ApiError::invalid(Some(name), "Not a valid URL").with_code("url_invalid"));
    }
    Ok(Some(url))
}

fn line_items(params: &mut Params) -> Result<(Vec<LineItem>, Currency), ApiError> {
    let mut items = Vec::new();
    let mut currency = None;
    for index in params.indexes("line_items") {
        let field = |name: &str| format!("line_items[{index}]{name}");
        if let Some(price) = params.take(&field("[price]")) {
            // The simulator has no catalogue: only inline `price_data`.
            return Err(ApiError::no_such(
                StatusCode::BAD_REQUEST,
                "price",
                &price,
                Some(&field("[price]")),
            ));
        }
        let currency_param = field("[price_data][currency]");
        let code = params.required(&currency_param)?;
        let item_currency: Currency = code.parse().map_err(|_| {
            ApiError::invalid(Some(&currency_param), format!("Invalid currency: {code}."))
        })?;
        if currency.is_some_and(|first| first != item_currency) {
            return Err(ApiError::invalid(
                Some(&currency_param),
                "All line items must have the same currency.",
            ));
        }
        currency = Some(item_currency);
        let amount_param = field("[price_data][unit_amount]");
        let unit_amount = params
            .integer(&amount_param)?
            .ok_or_else(|| ApiError::missing(&amount_param))?;
        if unit_amount < 0 {
            return Err(ApiError::invalid(
                Some(&amount_param),
                "This value must be greater than or equal to 0.",
            ));
        }
        let name = params.required(&field("[price_data][product_data][name]"))?;
        let quantity_param = field("[quantity]");
        let quantity = params
            .integer(&quantity_param)?
            .ok_or_else(|| ApiError::missing(&quantity_param))?;
        if !(1..=999_999).contains(&quantity) {
            return Err(ApiError::invalid(
                Some(&quantity_param),
                "This value must be between 1 and 999999.",
            ));
        }
        items.push(LineItem {
            name,
            unit_amount,
            quantity,
        });
    }
    match currency {
        Some(currency) => Ok((items, currency)),
        None => Err(ApiError::invalid(
            Some("line_items"),
            "`line_items` is required in `payment` mode.",
        )
        .with_code("parameter_missing")),
    }
}

/// The coupon of the session's `discounts`: Checkout takes at most one discount, and the
/// simulator has coupons but no promotion codes. Whether the coupon exists and applies is the
/// ledger's to judge.
fn discount_coupon(params: &mut Params) -> Result<Option<String>, ApiError> {
    let indexes = params.indexes("discounts");
    if indexes.len() > 1 {
        return Err(ApiError::invalid(
            Some("discounts"),
            "A Checkout Session can have at most one discount.",
        ));
    }
    let Some(index) = indexes.first() else {
        return Ok(None);
    };
    let coupon_param = format!("discounts[{index}][coupon]");
    let promotion_code_param = format!("discounts[{index}][promotion_code]");
    let coupon = params.take(&coupon_param);
    let promotion_code = params.take(&promotion_code_param);
    match (coupon, promotion_code) {
        (Some(_), Some(_)) => Err(ApiError::invalid(
            Some(&format!("discounts[{index}]")),
            "You may only specify one of these parameters: coupon, promotion_code.",
        )),
        // The simulator has no promotion codes.
        (None, Some(code)) => Err(ApiError::no_such(
            StatusCode::BAD_REQUEST,
            "promotion code",
            &code,
            Some(&promotion_code_param),
        )),
        (Some(coupon), None) if coupon.is_empty() => Err(empty_value(&coupon_param)),
        // With neither, what `discounts[N]` had is left for the unknown-parameter error.
        (coupon, None) => Ok(coupon),
    }
}

/// `expires_at`'s floor as Stripe words it: "30 minutes", "5 minutes", "90 seconds".
fn describe_floor(floor: Duration) -> String {
    let seconds = floor.as_secs();
    match seconds {
        60 => "1 minute".to_owned(),
        _ if seconds.is_multiple_of(60) => format!("{} minutes", seconds / 60),
        1 => "1 second".to_owned(),
        _ => format!("{seconds} seconds"),
    }
}

fn parse_new_session(
    params: &mut Params,
    now: i64,
    min_expiry: Duration,
) -> Result<NewSession, ApiError> {
    let mode = params.required("mode")?;
    if mode != "payment" {
        return Err(ApiError::invalid(
            Some("mode"),
            format!("The Stripe simulator supports mode `payment` only, not `{mode}`."),
        ));
    }
    let (line_items, currency) = line_items(params)?;
    let total = line_items
        .iter()
        .try_fold(0i64, |sum, item| {
            sum.checked_add(item.unit_amount.checked_mul(item.quantity)?)
        })
        .filter(|total| *total <= MAX_AMOUNT_MINOR)
        .ok_or_else(|| {
            ApiError::invalid(
                Some("line_items"),
                format!(
                    "The Checkout Session's total amount must be at most {}.",
                    Money {
                        amount_minor: MAX_AMOUNT_MINOR,
                        currency
                    }
                ),
            )
            .with_code("amount_too_large")
        })?;
    if total == 0 {
        return Err(ApiError::invalid(
            Some("line_items"),
            "The Checkout Session's total amount due must be greater than zero.",
        )
        .with_code("amount_too_small"));
    }
    let expires_at = params
        .integer("expires_at")?
        .unwrap_or(now + MAX_EXPIRY_SECONDS);
    let floor = i64::try_from(min_expiry.as_secs()).unwrap_or(MAX_EXPIRY_SECONDS);
    if expires_at < now.saturating_add(floor) {
        return Err(ApiError::invalid(
            Some("expires_at"),
            format!(
                "The `expires_at` timestamp must be at least {} from Checkout Session creation.",
                describe_floor(min_expiry)
            ),
        ));
    }
    if expires_at > now + MAX_EXPIRY_SECONDS {
        return Err(ApiError::invalid(
            Some("expires_at"),
            "The `expires_at` timestamp must be less than 24 hours from Checkout Session \
             creation.",
        ));
    }
    let client_reference_id = params.take("client_reference_id");
    if client_reference_id
        .as_ref()
        .is_some_and(|id| id.chars().count() > MAX_CLIENT_REFERENCE_CHARS)
    {
        return Err(ApiError::invalid(
            Some("client_reference_id"),
            format!("client_reference_id can be at most {MAX_CLIENT_REFERENCE_CHARS} characters."),
        ));
    }
    let customer_email = params.take("customer_email");
    if let Some(email) = &customer_email
        && !is_email(email)
    {
        return Err(ApiError::invalid(
            Some("customer_email"),
            format!("Invalid email address: {email}"),
        )
        .with_code("email_invalid"));
    }
    let success_url =
        url(params, "success_url")?.ok_or_else(|| ApiError::missing("success_url"))?;
    let cancel_url = url(params, "cancel_url")?;
    let coupon = discount_coupon(params)?;
    Ok(NewSession {
        line_items,
        currency,
        expires_at,
        metadata: metadata(params)?,
        client_reference_id,
        customer_email,
        success_url,
        cancel_url,
        coupon,
    })
}

/// What Stripe's check amounts to: something on each side of one `@`, no spaces.
pub(super) fn is_email(text: &str) -> bool {
    text.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty() && domain.contains('.') && !domain.contains('@')
    }) && !text.contains(char::is_whitespace)
}

/// A `POST /v1/coupons`: `amount_off` with `currency`, or `percent_off`; `duration` `once`
/// (the default, and the only one the simulator has); optional `id`, `max_redemptions`,
/// `name` and `metadata`.
fn parse_new_coupon(params: &mut Params) -> Result<NewCoupon, ApiError> {
    let id = params.take("id");
    if id.as_ref().is_some_and(String::is_empty) {
        return Err(empty_value("id"));
    }
    let amount_off = params.integer("amount_off")?;
    let currency = params.take("currency");
    let percent_off = params.take("percent_off");
    let off = match (amount_off, percent_off) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                None,
                "You may only specify one of these parameters: amount_off, percent_off.",
            ));
        }
        (None, None) => {
            return Err(ApiError::invalid(
                None,
                "You must pass either `amount_off` (with `currency`) or `percent_off`.",
            )
            .with_code("parameter_missing"));
        }
        (Some(amount_minor), None) => {
            if amount_minor < 1 {
                return Err(ApiError::invalid(
                    Some("amount_off"),
                    "This value must be greater than or equal to 1.",
                ));
            }
            if amount_minor > MAX_AMOUNT_MINOR {
                return Err(ApiError::invalid(
                    Some("amount_off"),
                    format!("This value must be less than or equal to {MAX_AMOUNT_MINOR}."),
                ));
            }
            let code = currency.filter(|code| !code.is_empty()).ok_or_else(|| {
                ApiError::invalid(
                    Some("currency"),
                    "You must pass `currency` when passing `amount_off`.",
                )
                .with_code("parameter_missing")
            })?;
            let currency: Currency = code.parse().map_err(|_| {
                ApiError::invalid(Some("currency"), format!("Invalid currency: {code}."))
            })?;
            CouponOff::Amount(Money {
                amount_minor,
                currency,
            })
        }
        (None, Some(text)) => {
            if currency.is_some() {
                return Err(ApiError::invalid(
                    Some("currency"),
                    "`currency` can only be passed with `amount_off`.",
                ));
            }
            let percent = text
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|percent| percent.is_finite())
                .ok_or_else(|| {
                    ApiError::invalid(Some("percent_off"), format!("Invalid decimal: {text}"))
                })?;
            if percent <= 0.0 || percent > 100.0 {
                return Err(ApiError::invalid(
                    Some("percent_off"),
                    "This value must be greater than 0 and less than or equal to 100.",
                ));
            }
            CouponOff::Percent(percent)
        }
    };
    if let Some(duration) = params.take("duration") {
        match duration.as_str() {
            "once" => {}
            "forever" | "repeating" => {
                return Err(ApiError::invalid(
                    Some("duration"),
                    format!(
                        "The Stripe simulator supports duration `once` only, not `{duration}`."
                    ),
                ));
            }
            _ => {
                return Err(ApiError::invalid(
                    Some("duration"),
                    format!(
                        "Invalid duration: must be one of forever, once, or repeating (got \
                         {duration})"
                    ),
                ));
            }
        }
    }
    let max_redemptions = params.integer("max_redemptions")?;
    if max_redemptions.is_some_and(|max| max < 1) {
        return Err(ApiError::invalid(
            Some("max_redemptions"),
            "This value must be greater than or equal to 1.",
        ));
    }
    // An empty name unsets it, as for Stripe's other optional strings.
    let name = params.take("name").filter(|name| !name.is_empty());
    if name
        .as_ref()
        .is_some_and(|name| name.chars().count() > MAX_COUPON_NAME_CHARS)
    {
        return Err(ApiError::invalid(
            Some("name"),
            format!("A coupon's name can be at most {MAX_COUPON_NAME_CHARS} characters."),
        ));
    }
    Ok(NewCoupon {
        id,
        off,
        max_redemptions,
        name,
        metadata: metadata(params)?,
    })
}

fn parse_new_refund(params: &mut Params) -> Result<NewRefund, ApiError> {
    let payment_intent = params.take("payment_intent").ok_or_else(|| {
        ApiError::invalid(
            None,
            "One of the following params should be provided for this request: payment_intent \
             or charge.",
        )
        .with_code("parameter_missing")
    })?;
    let amount = params.integer("amount")?;
    if amount.is_some_and(|amount| amount <= 0) {
        return Err(ApiError::invalid(
            Some("amount"),
            "This value must be greater than or equal to 1.",
        ));
    }
    let reason = params.take("reason");
    if let Some(reason) = &reason
        && !matches!(
            reason.as_str(),
            "duplicate" | "fraudulent" | "requested_by_customer"
        )
    {
        return Err(ApiError::invalid(
            Some("reason"),
            format!(
                "Invalid reason: must be one of duplicate, fraudulent, or requested_by_customer \
                 (got {reason})"
            ),
        ));
    }
    Ok(NewRefund {
        payment_intent,
        amount,
        metadata: metadata(params)?,
        reason,
    })
}

// ---- requests ----

/// A POST: authenticated, then answered from its idempotency key if the key was used before
/// (the same answer with `Idempotent-Replayed: true`, or an `idempotency_error` for different
/// parameters), else parsed and executed in one transaction, which also keeps the answer for
/// the key: concurrent requests with one key run one after the other, so the second replays
/// the first. As at Stripe, an answer is kept for the key once the endpoint began executing,
/// errors included; a request refused for its parameters keeps nothing, so it can be
/// corrected and sent again with the same key.
fn post_request<T>(
    sim: &StripeSimulator,
    headers: &HeaderMap,
    path: &str,
    body: &[u8],
    parse: impl FnOnce(&mut Params, i64) -> Result<T, ApiError>,
    execute: impl FnOnce(&mut Ledger, T) -> Result<Value, Failure>,
) -> Response {
    if let Err(error) = authenticate(sim, headers) {
        return error.into_response();
    }
    let key = match idempotency_key(headers) {
        Ok(key) => key,
        Err(error) => return error.into_response(),
    };
    let mut params = Params::parse(body);
    let request = KeyedRequest {
        endpoint: format!("POST {path}"),
        params: params.0.clone().into_iter().collect(),
    };
    let answered = sim.with_ledger(|ledger| {
        if let Some(key) = &key
            && let Some(saved) = ledger.saved_answer(key)?
        {
            return Ok(replay(key, &saved, &request));
        }
        let now = ledger.now();
        let input = match parse(&mut params, now).and_then(|input| params.finish().map(|()| input))
        {
            Ok(input) => input,
            Err(error) => return Ok(error.into_response()),
        };
        let (status, body) = match execute(ledger, input) {
            Ok(object) => (StatusCode::OK, object),
            Err(Failure::Api(error)) => (error.status, error.body()),
            Err(storage @ Failure::Storage(_)) => return Err(storage),
        };
        if let Some(key) = key {
            let saved = SavedAnswer {
                request,
                status,
                body,
            };
            ledger.save_answer(&key, &saved)?;
            return Ok(answer(saved.status, &saved.body));
        }
        Ok(answer(status, &body))
    });
    answered.unwrap_or_else(failure_response)
}

/// The answer to a failed operation; a storage failure is logged and answered 500.
pub(super) fn failure_response(failure: Failure) -> Response {
    match failure {
        Failure::Api(error) => error.into_response(),
        Failure::Storage(error) => {
            tracing::error!(%error, "the Stripe simulator's database failed");
            ApiError::internal().into_response()
        }
    }
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    match value.to_str() {
        Ok(key) if !key.is_empty() && key.len() <= MAX_IDEMPOTENCY_KEY_CHARS => {
            Ok(Some(key.to_owned()))
        }
        _ => Err(ApiError::invalid(
            None,
            format!(
                "Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY_CHARS} printable ASCII \
                 characters."
            ),
        )),
    }
}

fn replay(key: &str, saved: &SavedAnswer, request: &KeyedRequest) -> Response {
    let mismatch = if saved.request.endpoint != request.endpoint {
        Some(format!(
            "Keys for idempotent requests can only be used for the same endpoint they were \
             first used for ('{}' vs '{}'). Try using a key other than '{key}' if you meant to \
             execute a different request.",
            saved.request.endpoint, request.endpoint
        ))
    } else if saved.request.params != request.params {
        Some(format!(
            "Keys for idempotent requests can only be used with the same parameters they were \
             first used with. Try using a key other than '{key}' if you meant to execute a \
             different request."
        ))
    } else {
        None
    };
    if let Some(message) = mismatch {
        return ApiError {
            kind: "idempotency_error",
            ..ApiError::invalid(None, message)
        }
        .into_response();
    }
    let mut response = answer(saved.status, &saved.body);
    response
        .headers_mut()
        .insert("idempotent-replayed", HeaderValue::from_static("true"));
    response
}

/// A GET: authenticated, its query parameters checked, answered in one transaction (reading a
/// session past its time expires it).
fn get_request(
    sim: &StripeSimulator,
    headers: &HeaderMap,
    query: Option<&str>,
    read: impl FnOnce(&mut Ledger, &mut Params) -> Result<Value, Failure>,
) -> Response {
    if let Err(error) = authenticate(sim, headers) {
        return error.into_response();
    }
    let mut params = Params::parse(query.unwrap_or_default().as_bytes());
    let result = sim.with_ledger(|ledger| {
        let object = read(ledger, &mut params)?;
        params.finish()?;
        Ok(object)
    });
    match result {
        Ok(object) => answer(StatusCode::OK, &object),
        Err(failure) => failure_response(failure),
    }
}

async fn create_session(
    State(sim): State<StripeSimulator>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let base_url = sim.base_url().to_owned();
    let min_expiry = sim.config().min_expiry;
    post_request(
        &sim,
        &headers,
        "/v1/checkout/sessions",
        &body,
        |params, now| parse_new_session(params, now, min_expiry),
        |ledger, request| Ok(ledger.create_session(request)?.to_json(&base_url)),
    )
}

async fn retrieve_session(
    State(sim): State<StripeSimulator>,
    Path(id): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let base_url = sim.base_url().to_owned();
    get_request(&sim, &headers, query.as_deref(), |ledger, _| {
        let session = ledger.session(&id)?.ok_or_else(|| no_such_session(&id))?;
        Ok(session.to_json(&base_url))
    })
}

async fn expire_session(
    State(sim): State<StripeSimulator>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let base_url = sim.base_url().to_owned();
    post_request(
        &sim,
        &headers,
        &format!("/v1/checkout/sessions/{id}/expire"),
        &body,
        |_, _| Ok(()),
        |ledger, ()| Ok(ledger.expire(&id)?.to_json(&base_url)),
    )
}

async fn create_refund(
    State(sim): State<StripeSimulator>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    post_request(
        &sim,
        &headers,
        "/v1/refunds",
        &body,
        |params, _| parse_new_refund(params),
        |ledger, request| ledger.refund(request),
    )
}

async fn list_refunds(
    State(sim): State<StripeSimulator>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    get_request(&sim, &headers, query.as_deref(), |ledger, params| {
        let payment_intent = params.take("payment_intent");
        let limit = params
            .integer("limit")?
            .unwrap_or(DEFAULT_LIST_LIMIT as i64);
        let limit = usize::try_from(limit)
            .ok()
            .filter(|limit| (1..=MAX_LIST_LIMIT).contains(limit))
            .ok_or_else(|| {
                ApiError::invalid(
                    Some("limit"),
                    format!("This value must be between 1 and {MAX_LIST_LIMIT}."),
                )
            })?;
        ledger.refunds(payment_intent.as_deref(), limit)
    })
}

async fn create_coupon(
    State(sim): State<StripeSimulator>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    post_request(
        &sim,
        &headers,
        "/v1/coupons",
        &body,
        |params, _| parse_new_coupon(params),
        |ledger, request| Ok(ledger.create_coupon(request)?.to_json()),
    )
}

async fn retrieve_coupon(
    State(sim): State<StripeSimulator>,
    Path(id): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    get_request(&sim, &headers, query.as_deref(), |ledger, _| {
        let coupon = ledger.coupon(&id)?.ok_or_else(|| no_such_coupon(&id))?;
        Ok(coupon.to_json())
    })
}

/// `GET {base}/_sim/deliveries` (not a Stripe route; same key): every webhook event and how
/// its delivery went, oldest first.
async fn deliveries(State(sim): State<StripeSimulator>, headers: HeaderMap) -> Response {
    if let Err(error) = authenticate(&sim, &headers) {
        return error.into_response();
    }
    let data = match sim.try_deliveries() {
        Ok(data) => data,
        Err(error) => return failure_response(Failure::Storage(error)),
    };
    answer(
        StatusCode::OK,
        &json!({ "object": "list", "data": data, "has_more": false }),
    )
}

/// Stripe's 404 for a path or method it does not serve.
async fn unrecognized(State(sim): State<StripeSimulator>, method: Method, uri: Uri) -> Response {
    let path = uri.path().strip_prefix(sim.mount()).unwrap_or(uri.path());
    ApiError {
        status: StatusCode::NOT_FOUND,
        ..ApiError::invalid(
            None,
            format!(
                "Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs \
                 or we can help at https://support.stripe.com/."
            ),
        )
    }
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejected_keys_are_masked_like_stripe() {
        assert_eq!(
            mask_key("sk_test_abcdefghijklmnop1234"),
            "sk_test_****************1234"
        );
        assert_eq!(mask_key("short"), "*****");
    }

    #[test]
    fn params_leave_unknown_names_for_the_error() {
        let mut params = Params::parse(
            b"metadata[a]=1&metadata[b]=2&line_items[1][x]=y&line_items[0][x]=z&extra=1",
        );
        assert_eq!(params.indexes("line_items"), vec![0, 1]);
        let metadata = params.take_hash("metadata");
        assert_eq!(metadata.len(), 2);
        params.take("line_items[0][x]");
        params.take("line_items[1][x]");
        let error = params.finish().unwrap_err();
        assert_eq!(error.param.as_deref(), Some("extra"));
        assert_eq!(error.code, Some("parameter_unknown"));
    }

    #[test]
    fn the_expiry_floor_is_worded_like_stripe() {
        assert_eq!(describe_floor(STRIPE_MIN_EXPIRY), "30 minutes");
        assert_eq!(describe_floor(Duration::from_secs(60)), "1 minute");
        assert_eq!(describe_floor(Duration::from_secs(90)), "90 seconds");
    }

    #[test]
    fn a_coupon_takes_an_amount_in_a_currency_or_a_percentage() {
        let parsed = |body: &str| {
            let mut params = Params::parse(body.as_bytes());
            parse_new_coupon(&mut params).and_then(|coupon| params.finish().map(|()| coupon))
        };
        let amount = parsed(
            "amount_off=500&currency=eur&duration=once&max_redemptions=3&name=Early%20bird\
             &metadata[campaign]=spring",
        )
        .unwrap();
        assert_eq!(
            amount.off,
            CouponOff::Amount(Money {
                amount_minor: 500,
                currency: "EUR".parse().unwrap(),
            })
        );
        assert_eq!(amount.id, None);
        assert_eq!(amount.max_redemptions, Some(3));
        assert_eq!(amount.name.as_deref(), Some("Early bird"));
        assert_eq!(amount.metadata["campaign"], "spring");
        let percent = parsed("percent_off=12.5&id=SPRING").unwrap();
        assert_eq!(percent.off, CouponOff::Percent(12.5));
        assert_eq!(percent.id.as_deref(), Some("SPRING"));
        assert_eq!(percent.max_redemptions, None);

        let long_name = format!("percent_off=10&name={}", "x".repeat(41));
        let refusals = [
            ("amount_off=500&percent_off=10", None, None),
            ("duration=once", None, Some("parameter_missing")),
            (
                "amount_off=500",
                Some("currency"),
                Some("parameter_missing"),
            ),
            ("amount_off=0&currency=eur", Some("amount_off"), None),
            (
                "amount_off=ten&currency=eur",
                Some("amount_off"),
                Some("parameter_invalid_integer"),
            ),
            ("amount_off=500&currency=xyz", Some("currency"), None),
            ("percent_off=10&currency=eur", Some("currency"), None),
            ("percent_off=0", Some("percent_off"), None),
            ("percent_off=100.5", Some("percent_off"), None),
            ("percent_off=NaN", Some("percent_off"), None),
            ("percent_off=ten", Some("percent_off"), None),
            ("percent_off=10&duration=forever", Some("duration"), None),
            ("percent_off=10&duration=weekly", Some("duration"), None),
            (
                "percent_off=10&max_redemptions=0",
                Some("max_redemptions"),
                None,
            ),
            (long_name.as_str(), Some("name"), None),
            (
                "percent_off=10&id=",
                Some("id"),
                Some("parameter_invalid_empty"),
            ),
            (
                "percent_off=10&redeem_by=1",
                Some("redeem_by"),
                Some("parameter_unknown"),
            ),
        ];
        for (body, param, code) in refusals {
            let error = parsed(body).unwrap_err();
            assert_eq!(error.status, StatusCode::BAD_REQUEST, "{body}");
            assert_eq!(error.param.as_deref(), param, "{body}: {}", error.message);
            assert_eq!(error.code, code, "{body}: {}", error.message);
        }
        // At most 40 characters, counted as characters.
        let forty = format!("percent_off=10&name={}", "é".repeat(40));
        assert_eq!(parsed(&forty).unwrap().name.unwrap().chars().count(), 40);
    }

    #[test]
    fn a_session_takes_one_coupon_and_no_promotion_code() {
        let coupon = |body: &str| {
            let mut params = Params::parse(body.as_bytes());
            discount_coupon(&mut params).and_then(|coupon| params.finish().map(|()| coupon))
        };
        assert_eq!(coupon("").unwrap(), None);
        assert_eq!(
            coupon("discounts[0][coupon]=Z4OV52SU").unwrap().as_deref(),
            Some("Z4OV52SU")
        );
        let refusals = [
            (
                "discounts[0][coupon]=A&discounts[1][coupon]=B",
                "discounts",
                None,
            ),
            (
                "discounts[0][coupon]=A&discounts[0][promotion_code]=P",
                "discounts[0]",
                None,
            ),
            (
                "discounts[0][promotion_code]=promo_1",
                "discounts[0][promotion_code]",
                Some("resource_missing"),
            ),
            (
                "discounts[0][coupon]=",
                "discounts[0][coupon]",
                Some("parameter_invalid_empty"),
            ),
            (
                "discounts[0][discount]=di_1",
                "discounts[0][discount]",
                Some("parameter_unknown"),
            ),
        ];
        for (body, param, code) in refusals {
            let error = coupon(body).unwrap_err();
            assert_eq!(
                error.param.as_deref(),
                Some(param),
                "{body}: {}",
                error.message
            );
            assert_eq!(error.code, code, "{body}: {}", error.message);
        }
    }

    #[test]
    fn emails_need_a_local_part_and_a_domain() {
        assert!(is_email("ada@example.com"));
        assert!(!is_email("ada@"));
        assert!(!is_email("@example.com"));
        assert!(!is_email("ada example@example.com"));
        assert!(!is_email("ada@example"));
    }
}
