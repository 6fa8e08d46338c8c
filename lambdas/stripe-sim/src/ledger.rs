//! The simulated Stripe account: coupons, checkout sessions (with a coupon's discount, if they
//! have one), the payments made through them, refunds, and the idempotency keys of past
//! requests, as rows of the simulator's database. State transitions inside the caller's
//! transaction, no HTTP; objects come out in Stripe's JSON shapes, and every session that
//! completes or expires queues its event in the outbox in the same transaction, so a crash never
//! leaves a paid session without its event (nor a completed session's coupon unredeemed).

use std::collections::BTreeMap;

use axum::http::StatusCode;
use rusqlite::types::Type;
use rusqlite::{OptionalExtension, Row, Transaction, params};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use ticket_core::{Currency, Money};

use super::db::{decode_json, encode_json};
use super::error::ApiError;
use super::{random_id, webhooks};

/// How long Stripe keeps an idempotency key.
const IDEMPOTENCY_KEY_SECONDS: i64 = 24 * 3600;
/// The length of a coupon id Stripe makes up (`Z4OV52SU`).
const COUPON_ID_CHARS: usize = 8;
/// The parameter that names a session's coupon, which coupon errors point at (Checkout takes
/// one discount).
pub const DISCOUNT_COUPON_PARAM: &str = "discounts[0][coupon]";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionStatus {
    Open,
    Complete,
    Expired,
}

impl SessionStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Complete => "complete",
            Self::Expired => "expired",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [Self::Open, Self::Complete, Self::Expired]
            .into_iter()
            .find(|status| status.as_str() == text)
    }
}

/// A webhook event type the simulator sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEvent {
    Completed,
    Expired,
}

impl SessionEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Completed => "checkout.session.completed",
            Self::Expired => "checkout.session.expired",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineItem {
    pub name: String,
    pub unit_amount: i64,
    pub quantity: i64,
}

/// A validated `POST /v1/checkout/sessions`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewSession {
    pub line_items: Vec<LineItem>,
    pub currency: Currency,
    pub expires_at: i64,
    pub metadata: BTreeMap<String, String>,
    pub client_reference_id: Option<String>,
    pub customer_email: Option<String>,
    pub success_url: String,
    pub cancel_url: Option<String>,
    /// `discounts[0][coupon]`: the coupon to apply, as asked (checked against the coupons when
    /// the session is created). Absent from sessions stored before coupons existed.
    #[serde(default)]
    pub coupon: Option<String>,
}

/// What a coupon takes off.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CouponOff {
    /// `amount_off` in `currency`: at most the session's subtotal, in that currency only.
    Amount(Money),
    /// `percent_off`: more than 0, at most 100.
    Percent(f64),
}

/// A validated `POST /v1/coupons` (`duration` is `once`, the only one the simulator has).
#[derive(Debug, Clone)]
pub struct NewCoupon {
    /// The id asked for; a random one if absent.
    pub id: Option<String>,
    pub off: CouponOff,
    pub max_redemptions: Option<i64>,
    pub name: Option<String>,
    pub metadata: BTreeMap<String, String>,
}

/// A coupon as Stripe keeps it.
#[derive(Debug, Clone)]
pub struct Coupon {
    pub id: String,
    pub created: i64,
    pub off: CouponOff,
    pub max_redemptions: Option<i64>,
    /// How many completed sessions used it.
    pub times_redeemed: i64,
    pub name: Option<String>,
    pub metadata: BTreeMap<String, String>,
}

impl Coupon {
    /// Stripe's `valid`: whether it can still be applied (it has redemptions left).
    pub fn valid(&self) -> bool {
        self.max_redemptions
            .is_none_or(|max| self.times_redeemed < max)
    }

    /// What it takes off a subtotal of `subtotal` minor units (in the coupon's currency, for an
    /// amount off): the amount, at most the subtotal, or the percentage rounded half up.
    pub fn discount_on(&self, subtotal: i64) -> i64 {
        match self.off {
            CouponOff::Amount(off) => off.amount_minor.min(subtotal),
            CouponOff::Percent(percent) => percent_of(subtotal, percent),
        }
    }

    /// The object as Stripe's API answers it.
    pub fn to_json(&self) -> Value {
        let (amount_off, currency, percent_off): (Option<i64>, Option<String>, Option<f64>) =
            match self.off {
                CouponOff::Amount(off) => (
                    Some(off.amount_minor),
                    Some(currency_param(off.currency)),
                    None,
                ),
                CouponOff::Percent(percent) => (None, None, Some(percent)),
            };
        json!({
            "id": self.id,
            "object": "coupon",
            "amount_off": amount_off,
            "applies_to": null,
            "created": self.created,
            "currency": currency,
            "duration": "once",
            "duration_in_months": null,
            "livemode": false,
            "max_redemptions": self.max_redemptions,
            "metadata": self.metadata,
            "name": self.name,
            "percent_off": percent_off,
            "redeem_by": null,
            "times_redeemed": self.times_redeemed,
            "valid": self.valid(),
        })
    }
}

/// `percent` percent of `amount` minor units, rounded half up as Stripe rounds a percentage
/// discount. Computed in integers from the percentage in millionths of a percent, so a
/// percentage written with up to six decimals is exact: 12.5 % of 2500 is 313 (312.5), and
/// 1.15 % of 1000 is 12 (11.5), whatever the float nearest 1.15 is.
pub fn percent_of(amount: i64, percent: f64) -> i64 {
    const SCALE: i128 = 100 * 1_000_000;
    let millionths = (percent * 1_000_000.0).round() as i128;
    let rounded = (i128::from(amount) * millionths + SCALE / 2).div_euclid(SCALE);
    i64::try_from(rounded).unwrap_or(i64::MAX)
}

/// The coupon a session was created with and what it took off, fixed then, as at Stripe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionDiscount {
    pub coupon: String,
    /// The coupon's name then, for the hosted page.
    pub name: Option<String>,
    /// Minor units of the session's currency; less than the subtotal.
    pub amount_minor: i64,
}

/// The sum of the line items, before any discount.
fn line_items_total(items: &[LineItem]) -> i64 {
    items
        .iter()
        .map(|item| item.unit_amount * item.quantity)
        .sum()
}

/// Who paid, as the hosted page collected it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payer {
    pub email: Option<String>,
    pub name: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Session {
    pub id: String,
    pub created: i64,
    pub request: NewSession,
    pub status: SessionStatus,
    pub payment_intent: Option<String>,
    pub payer: Option<Payer>,
    pub discount: Option<SessionDiscount>,
}

impl Session {
    fn expires(&self, now: i64) -> bool {
        self.request.expires_at <= now
    }

    /// The line items' sum, before the discount.
    pub fn amount_subtotal(&self) -> i64 {
        line_items_total(&self.request.line_items)
    }

    /// What the coupon took off, 0 without one.
    pub fn amount_discount(&self) -> i64 {
        self.discount
            .as_ref()
            .map_or(0, |discount| discount.amount_minor)
    }

    /// What the buyer pays: the subtotal less the discount (the payment intent's amount, and
    /// so the most that can be refunded).
    pub fn amount_total(&self) -> i64 {
        self.amount_subtotal() - self.amount_discount()
    }

    pub fn money(&self, amount_minor: i64) -> Money {
        Money {
            amount_minor,
            currency: self.request.currency,
        }
    }

    /// Where the buyer goes after paying: Stripe fills in `{CHECKOUT_SESSION_ID}`.
    pub fn success_redirect(&self) -> String {
        self.request
            .success_url
            .replace("{CHECKOUT_SESSION_ID}", &self.id)
    }

    /// The object as Stripe's API answers it: every field async-stripe requires, the rest null
    /// or empty like a session without those features.
    pub fn to_json(&self, base_url: &str) -> Value {
        let request = &self.request;
        let discounts: Vec<Value> = self
            .discount
            .iter()
            .map(|discount| json!({ "coupon": discount.coupon, "promotion_code": null }))
            .collect();
        let customer_details = self.payer.as_ref().map(|payer| {
            json!({
                "address": null,
                "business_name": null,
                "email": payer.email,
                "individual_name": null,
                "name": payer.name,
                "phone": null,
                "tax_exempt": "none",
                "tax_ids": [],
            })
        });
        // Stripe shows the URL only while the session can be paid.
        let url = (self.status == SessionStatus::Open)
            .then(|| format!("{base_url}/checkout/{}", self.id));
        let mut object = json!({
            "id": self.id,
            "object": "checkout.session",
            "amount_subtotal": self.amount_subtotal(),
            "amount_total": self.amount_total(),
            "cancel_url": request.cancel_url,
            "client_reference_id": request.client_reference_id,
            "created": self.created,
            "currency": currency_param(request.currency),
            "customer_details": customer_details,
            "customer_email": request.customer_email,
            "discounts": discounts,
            "expires_at": request.expires_at,
            "livemode": false,
            "metadata": request.metadata,
            "mode": "payment",
            "payment_intent": self.payment_intent,
            "payment_status": if self.status == SessionStatus::Complete { "paid" } else { "unpaid" },
            "status": self.status.as_str(),
            "success_url": request.success_url,
            "total_details": {
                "amount_discount": self.amount_discount(),
                "amount_shipping": 0,
                "amount_tax": 0,
            },
            "ui_mode": "hosted_page",
            "url": url,
        });
        // The features the simulator leaves out, as a session without them shows them
        // (async-stripe requires several of these fields).
        let unused = json!({
            "adaptive_pricing": null,
            "after_expiration": null,
            "allow_promotion_codes": null,
            "automatic_tax": { "enabled": false, "liability": null, "provider": null, "status": null },
            "billing_address_collection": null,
            "client_secret": null,
            "consent": null,
            "consent_collection": null,
            "custom_fields": [],
            "custom_text": {
                "after_submit": null,
                "shipping_address": null,
                "submit": null,
                "terms_of_service_acceptance": null,
            },
            "customer": null,
            "customer_creation": "if_required",
            "invoice": null,
            "invoice_creation": null,
            "locale": null,
            "payment_link": null,
            "payment_method_collection": "if_required",
            "payment_method_options": {},
            "payment_method_types": ["card"],
            "phone_number_collection": { "enabled": false },
            "recovered_from": null,
            "setup_intent": null,
            "shipping_address_collection": null,
            "shipping_cost": null,
            "shipping_options": [],
            "submit_type": null,
            "subscription": null,
        });
        if let (Some(fields), Value::Object(unused)) = (object.as_object_mut(), unused) {
            fields.extend(unused);
        }
        object
    }
}

/// Stripe writes currencies in lower case.
pub fn currency_param(currency: Currency) -> String {
    currency.code().to_ascii_lowercase()
}

/// Why a ledger operation did not happen: Stripe's answer to the request, or the database.
#[derive(Debug)]
pub enum Failure {
    Api(ApiError),
    Storage(rusqlite::Error),
}

impl From<ApiError> for Failure {
    fn from(error: ApiError) -> Self {
        Self::Api(error)
    }
}

impl From<rusqlite::Error> for Failure {
    fn from(error: rusqlite::Error) -> Self {
        Self::Storage(error)
    }
}

/// A refund as Stripe shows it.
#[derive(Debug, Clone)]
struct Refund {
    id: String,
    payment_intent: String,
    charge: String,
    balance_transaction: String,
    amount: Money,
    created: i64,
    metadata: BTreeMap<String, String>,
    reason: Option<String>,
}

impl Refund {
    fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "object": "refund",
            "amount": self.amount.amount_minor,
            "balance_transaction": self.balance_transaction,
            "charge": self.charge,
            "created": self.created,
            "currency": currency_param(self.amount.currency),
            "destination_details": null,
            "metadata": self.metadata,
            "payment_intent": self.payment_intent,
            "reason": self.reason,
            "receipt_number": null,
            "source_transfer_reversal": null,
            "status": "succeeded",
            "transfer_reversal": null,
        })
    }
}

/// A validated `POST /v1/refunds`.
#[derive(Debug, Clone)]
pub struct NewRefund {
    pub payment_intent: String,
    /// The rest of the payment when absent.
    pub amount: Option<i64>,
    pub metadata: BTreeMap<String, String>,
    pub reason: Option<String>,
}

/// What a reused idempotency key must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyedRequest {
    /// `POST /v1/...`
    pub endpoint: String,
    /// Sorted by name.
    pub params: Vec<(String, String)>,
}

/// What an idempotency key was first used for, and the answer to replay.
#[derive(Debug, Clone)]
pub struct SavedAnswer {
    pub request: KeyedRequest,
    pub status: StatusCode,
    pub body: Value,
}

const SESSION_COLUMNS: &str = "id, created, status, request, payment_intent, payer, discount";
const COUPON_COLUMNS: &str = "id, created, amount_off, currency, percent_off, max_redemptions, \
     times_redeemed, name, metadata";
const REFUND_COLUMNS: &str = "id, payment_intent, charge, balance_transaction, amount_minor, currency, created, metadata, \
     reason";

fn conversion_error(index: usize, message: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(index, Type::Text, message.into())
}

fn session_from_row(row: &Row<'_>) -> rusqlite::Result<Session> {
    let status: String = row.get(2)?;
    Ok(Session {
        id: row.get(0)?,
        created: row.get(1)?,
        status: SessionStatus::parse(&status)
            .ok_or_else(|| conversion_error(2, format!("session status {status:?}")))?,
        request: decode_json(row, 3)?,
        payment_intent: row.get(4)?,
        payer: row
            .get::<_, Option<String>>(5)?
            .map(|text| serde_json::from_str(&text))
            .transpose()
            .map_err(|error| conversion_error(5, error.to_string()))?,
        discount: row
            .get::<_, Option<String>>(6)?
            .map(|text| serde_json::from_str(&text))
            .transpose()
            .map_err(|error| conversion_error(6, error.to_string()))?,
    })
}

fn coupon_from_row(row: &Row<'_>) -> rusqlite::Result<Coupon> {
    let amount_off: Option<i64> = row.get(2)?;
    let percent_off: Option<f64> = row.get(4)?;
    let off = match (amount_off, percent_off) {
        (Some(amount_minor), None) => CouponOff::Amount(Money {
            amount_minor,
            currency: currency_column(row, 3)?,
        }),
        (None, Some(percent)) => CouponOff::Percent(percent),
        _ => {
            return Err(conversion_error(
                2,
                "a coupon has either amount_off or percent_off".to_owned(),
            ));
        }
    };
    Ok(Coupon {
        id: row.get(0)?,
        created: row.get(1)?,
        off,
        max_redemptions: row.get(5)?,
        times_redeemed: row.get(6)?,
        name: row.get(7)?,
        metadata: decode_json(row, 8)?,
    })
}

fn currency_column(row: &Row<'_>, index: usize) -> rusqlite::Result<Currency> {
    let code: String = row.get(index)?;
    code.parse()
        .map_err(|_| conversion_error(index, format!("currency {code:?}")))
}

fn refund_from_row(row: &Row<'_>) -> rusqlite::Result<Refund> {
    Ok(Refund {
        id: row.get(0)?,
        payment_intent: row.get(1)?,
        charge: row.get(2)?,
        balance_transaction: row.get(3)?,
        amount: Money {
            amount_minor: row.get(4)?,
            currency: currency_column(row, 5)?,
        },
        created: row.get(6)?,
        metadata: decode_json(row, 7)?,
        reason: row.get(8)?,
    })
}

/// The account as one transaction sees and changes it, at one instant.
pub struct Ledger<'t> {
    tx: &'t Transaction<'t>,
    /// Where the sessions' hosted pages are (their `url`).
    base_url: &'t str,
    /// The transaction's instant, unix ms.
    now_ms: i64,
    /// How many events this transaction queued.
    events: usize,
}

impl<'t> Ledger<'t> {
    pub fn new(tx: &'t Transaction<'t>, base_url: &'t str, now_ms: i64) -> Self {
        Self {
            tx,
            base_url,
            now_ms,
            events: 0,
        }
    }

    /// Stripe's timestamps: unix seconds.
    pub fn now(&self) -> i64 {
        self.now_ms.div_euclid(1000)
    }

    /// How many webhook events this transaction queued.
    pub fn events(&self) -> usize {
        self.events
    }

    /// `POST /v1/checkout/sessions`: with the discount of its coupon, if it names one.
    pub fn create_session(&mut self, request: NewSession) -> Result<Session, Failure> {
        let discount = match &request.coupon {
            Some(coupon) => Some(self.discount(coupon, &request)?),
            None => None,
        };
        let session = Session {
            id: random_id("cs_test_", 58),
            created: self.now(),
            request,
            status: SessionStatus::Open,
            payment_intent: None,
            payer: None,
            discount,
        };
        self.tx
            .prepare_cached(
                "INSERT INTO sessions (id, created, status, expires_at, request, discount)
                 VALUES (?1, ?2, 'open', ?3, ?4, ?5)",
            )?
            .execute(params![
                session.id,
                session.created,
                session.request.expires_at,
                encode_json(&session.request),
                session.discount.as_ref().map(encode_json),
            ])?;
        Ok(session)
    }

    /// What coupon `id` takes off the session `request` asks for: refused like Stripe if the
    /// coupon does not exist, is used up or is in another currency, and, as the simulator
    /// refuses a session whose line items come to nothing, if nothing would be left to pay.
    fn discount(&self, id: &str, request: &NewSession) -> Result<SessionDiscount, Failure> {
        let coupon = self.coupon(id)?.ok_or_else(|| {
            ApiError::no_such(
                StatusCode::BAD_REQUEST,
                "coupon",
                id,
                Some(DISCOUNT_COUPON_PARAM),
            )
        })?;
        if !coupon.valid() {
            return Err(ApiError::invalid(
                Some(DISCOUNT_COUPON_PARAM),
                "This coupon has reached its max redemptions",
            )
            .with_code("coupon_expired")
            .into());
        }
        if let CouponOff::Amount(off) = coupon.off
            && off.currency != request.currency
        {
            return Err(ApiError::invalid(
                Some(DISCOUNT_COUPON_PARAM),
                format!(
                    "The coupon '{id}' is in {}, but this Checkout Session is in {}: an \
                     amount_off coupon can only be applied in its own currency.",
                    currency_param(off.currency),
                    currency_param(request.currency)
                ),
            )
            .into());
        }
        let subtotal = line_items_total(&request.line_items);
        let amount_minor = coupon.discount_on(subtotal);
        if amount_minor >= subtotal {
            return Err(ApiError::invalid(
                Some("discounts"),
                "The Checkout Session's total amount due must be greater than zero.",
            )
            .with_code("amount_too_small")
            .into());
        }
        Ok(SessionDiscount {
            coupon: coupon.id,
            name: coupon.name,
            amount_minor,
        })
    }

    /// `POST /v1/coupons`.
    pub fn create_coupon(&mut self, request: NewCoupon) -> Result<Coupon, Failure> {
        let id = match request.id {
            Some(id) => {
                if self.coupon(&id)?.is_some() {
                    return Err(ApiError::invalid(Some("id"), "Coupon already exists.")
                        .with_code("resource_already_exists")
                        .into());
                }
                id
            }
            None => loop {
                let id = random_id("", COUPON_ID_CHARS).to_ascii_uppercase();
                if self.coupon(&id)?.is_none() {
                    break id;
                }
            },
        };
        let coupon = Coupon {
            id,
            created: self.now(),
            off: request.off,
            max_redemptions: request.max_redemptions,
            times_redeemed: 0,
            name: request.name,
            metadata: request.metadata,
        };
        let (amount_off, currency, percent_off): (Option<i64>, Option<&str>, Option<f64>) =
            match &coupon.off {
                CouponOff::Amount(off) => (Some(off.amount_minor), Some(off.currency.code()), None),
                CouponOff::Percent(percent) => (None, None, Some(*percent)),
            };
        self.tx
            .prepare_cached(&format!(
                "INSERT INTO coupons ({COUPON_COLUMNS}, duration)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'once')"
            ))?
            .execute(params![
                coupon.id,
                coupon.created,
                amount_off,
                currency,
                percent_off,
                coupon.max_redemptions,
                coupon.times_redeemed,
                coupon.name,
                encode_json(&coupon.metadata),
            ])?;
        Ok(coupon)
    }

    /// `GET /v1/coupons/{id}`.
    pub fn coupon(&self, id: &str) -> Result<Option<Coupon>, Failure> {
        Ok(self
            .tx
            .prepare_cached(&format!(
                "SELECT {COUPON_COLUMNS} FROM coupons WHERE id = ?1"
            ))?
            .query_row([id], coupon_from_row)
            .optional()?)
    }

    fn load(&self, id: &str) -> Result<Option<Session>, Failure> {
        Ok(self
            .tx
            .prepare_cached(&format!(
                "SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?1"
            ))?
            .query_row([id], session_from_row)
            .optional()?)
    }

    /// The session, expired first if its time has come: a late buyer never pays, whether or
    /// not the background sweep has run yet.
    pub fn session(&mut self, id: &str) -> Result<Option<Session>, Failure> {
        match self.load(id)? {
            Some(session)
                if session.status == SessionStatus::Open && session.expires(self.now()) =>
            {
                self.close(session, SessionEvent::Expired).map(Some)
            }
            found => Ok(found),
        }
    }

    /// `POST /v1/checkout/sessions/{id}/expire`.
    pub fn expire(&mut self, id: &str) -> Result<Session, Failure> {
        let session = self.session(id)?.ok_or_else(|| no_such_session(id))?;
        if session.status != SessionStatus::Open {
            return Err(ApiError::invalid(
                None,
                "Only Checkout Sessions with a status in [\"open\"] can be expired.",
            )
            .into());
        }
        self.close(session, SessionEvent::Expired)
    }

    /// Expires every open session whose time has come, and forgets idempotency keys and
    /// settled events past Stripe's retention; returns how many sessions expired.
    pub fn expire_due(&mut self) -> Result<usize, Failure> {
        let due: Vec<String> = self
            .tx
            .prepare_cached(
                "SELECT id FROM sessions WHERE status = 'open' AND expires_at <= ?1
                 ORDER BY expires_at",
            )?
            .query_map([self.now()], |row| row.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        for id in &due {
            if let Some(session) = self.load(id)? {
                self.close(session, SessionEvent::Expired)?;
            }
        }
        self.tx
            .prepare_cached("DELETE FROM idempotency_keys WHERE saved_at <= ?1")?
            .execute([self.now() - IDEMPOTENCY_KEY_SECONDS])?;
        let retention = i64::try_from(webhooks::EVENT_RETENTION.as_millis()).unwrap_or(i64::MAX);
        webhooks::prune(self.tx, self.now_ms.saturating_sub(retention))?;
        Ok(due.len())
    }

    /// Records a successful card payment of an open session, and the redemption of its coupon;
    /// `None` if it is not open.
    pub fn complete(&mut self, id: &str, payer: Payer) -> Result<Option<Session>, Failure> {
        let Some(mut session) = self
            .load(id)?
            .filter(|session| session.status == SessionStatus::Open)
        else {
            return Ok(None);
        };
        let payment_intent = random_id("pi_", 24);
        let amount = session.money(session.amount_total());
        self.tx
            .prepare_cached(
                "INSERT INTO payment_intents (id, session_id, charge, amount_minor, currency, created)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                payment_intent,
                session.id,
                random_id("ch_", 24),
                amount.amount_minor,
                amount.currency.code(),
                self.now(),
            ])?;
        if let Some(discount) = &session.discount {
            self.tx
                .prepare_cached(
                    "UPDATE coupons SET times_redeemed = times_redeemed + 1 WHERE id = ?1",
                )?
                .execute([&discount.coupon])?;
        }
        session.payment_intent = Some(payment_intent);
        session.payer = Some(payer);
        self.close(session, SessionEvent::Completed).map(Some)
    }

    /// Moves an open session to the status `event` tells of, and queues the event.
    fn close(&mut self, mut session: Session, event: SessionEvent) -> Result<Session, Failure> {
        session.status = match event {
            SessionEvent::Completed => SessionStatus::Complete,
            SessionEvent::Expired => SessionStatus::Expired,
        };
        self.tx
            .prepare_cached(
                "UPDATE sessions SET status = ?2, payment_intent = ?3, payer = ?4 WHERE id = ?1",
            )?
            .execute(params![
                session.id,
                session.status.as_str(),
                session.payment_intent,
                session.payer.as_ref().map(encode_json),
            ])?;
        let object = session.to_json(self.base_url);
        webhooks::enqueue(
            self.tx,
            &webhooks::event(event, object, self.now()),
            self.now_ms,
        )?;
        self.events += 1;
        Ok(session)
    }

    /// `POST /v1/refunds`.
    pub fn refund(&mut self, request: NewRefund) -> Result<Value, Failure> {
        let payment = self
            .tx
            .prepare_cached(
                "SELECT charge, amount_minor, currency, refunded_minor FROM payment_intents
                 WHERE id = ?1",
            )?
            .query_row([&request.payment_intent], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    Money {
                        amount_minor: row.get(1)?,
                        currency: currency_column(row, 2)?,
                    },
                    row.get::<_, i64>(3)?,
                ))
            })
            .optional()?;
        let Some((charge, paid, refunded)) = payment else {
            return Err(ApiError::no_such(
                StatusCode::BAD_REQUEST,
                "payment_intent",
                &request.payment_intent,
                Some("payment_intent"),
            )
            .into());
        };
        let unrefunded = paid.amount_minor - refunded;
        if unrefunded == 0 {
            return Err(ApiError::invalid(
                None,
                format!("Charge {charge} has already been refunded."),
            )
            .with_code("charge_already_refunded")
            .into());
        }
        let amount = request.amount.unwrap_or(unrefunded);
        let money = |amount_minor| Money {
            amount_minor,
            ..paid
        };
        if amount > unrefunded {
            return Err(ApiError::invalid(
                Some("amount"),
                format!(
                    "Refund amount ({}) is greater than unrefunded amount on charge ({}).",
                    money(amount),
                    money(unrefunded)
                ),
            )
            .with_code("amount_too_large")
            .into());
        }
        let refund = Refund {
            id: random_id("re_", 24),
            payment_intent: request.payment_intent,
            charge,
            balance_transaction: random_id("txn_", 24),
            amount: money(amount),
            created: self.now(),
            metadata: request.metadata,
            reason: request.reason,
        };
        self.tx
            .prepare_cached(
                "UPDATE payment_intents SET refunded_minor = refunded_minor + ?2 WHERE id = ?1",
            )?
            .execute(params![refund.payment_intent, amount])?;
        self.tx
            .prepare_cached(&format!(
                "INSERT INTO refunds ({REFUND_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
            ))?
            .execute(params![
                refund.id,
                refund.payment_intent,
                refund.charge,
                refund.balance_transaction,
                refund.amount.amount_minor,
                refund.amount.currency.code(),
                refund.created,
                encode_json(&refund.metadata),
                refund.reason,
            ])?;
        Ok(refund.to_json())
    }

    /// `GET /v1/refunds`: newest first, like every Stripe list.
    pub fn refunds(&self, payment_intent: Option<&str>, limit: usize) -> Result<Value, Failure> {
        let fetch = i64::try_from(limit).unwrap_or(i64::MAX).saturating_add(1);
        let mut matching: Vec<Refund> = self
            .tx
            .prepare_cached(&format!(
                "SELECT {REFUND_COLUMNS} FROM refunds
                 WHERE ?1 IS NULL OR payment_intent = ?1 ORDER BY seq DESC LIMIT ?2"
            ))?
            .query_map(params![payment_intent, fetch], refund_from_row)?
            .collect::<rusqlite::Result<_>>()?;
        let has_more = matching.len() > limit;
        matching.truncate(limit);
        let data: Vec<Value> = matching.iter().map(Refund::to_json).collect();
        Ok(json!({
            "object": "list",
            "data": data,
            "has_more": has_more,
            "url": "/v1/refunds",
        }))
    }

    /// The answer saved for `key`, unless Stripe would have forgotten it by now.
    pub fn saved_answer(&self, key: &str) -> Result<Option<SavedAnswer>, Failure> {
        let saved = self
            .tx
            .prepare_cached(
                "SELECT endpoint, params, status, body FROM idempotency_keys
                 WHERE key = ?1 AND saved_at > ?2",
            )?
            .query_row(params![key, self.now() - IDEMPOTENCY_KEY_SECONDS], |row| {
                let status: u16 = row.get(2)?;
                Ok(SavedAnswer {
                    request: KeyedRequest {
                        endpoint: row.get(0)?,
                        params: decode_json(row, 1)?,
                    },
                    status: StatusCode::from_u16(status)
                        .map_err(|_| conversion_error(2, format!("HTTP status {status}")))?,
                    body: decode_json(row, 3)?,
                })
            })
            .optional()?;
        Ok(saved)
    }

    /// Keeps the answer to replay for `key`, in the transaction that made it.
    pub fn save_answer(&mut self, key: &str, saved: &SavedAnswer) -> Result<(), Failure> {
        self.tx
            .prepare_cached(
                "INSERT OR REPLACE INTO idempotency_keys (key, endpoint, params, status, body, saved_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                key,
                saved.request.endpoint,
                encode_json(&saved.request.params),
                saved.status.as_u16(),
                encode_json(&saved.body),
                self.now(),
            ])?;
        Ok(())
    }
}

pub fn no_such_session(id: &str) -> ApiError {
    ApiError::no_such(StatusCode::NOT_FOUND, "checkout.session", id, Some("id"))
}

pub fn no_such_coupon(id: &str) -> ApiError {
    ApiError::no_such(StatusCode::NOT_FOUND, "coupon", id, Some("id"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn coupon(off: CouponOff, max_redemptions: Option<i64>, times_redeemed: i64) -> Coupon {
        Coupon {
            id: "Z4OV52SU".to_owned(),
            created: 1,
            off,
            max_redemptions,
            times_redeemed,
            name: None,
            metadata: BTreeMap::new(),
        }
    }

    #[test]
    fn a_percentage_is_rounded_half_up_like_stripe() {
        assert_eq!(percent_of(2500, 12.5), 313);
        assert_eq!(percent_of(1000, 1.15), 12);
        assert_eq!(percent_of(999, 10.0), 100);
        assert_eq!(percent_of(994, 10.0), 99);
        assert_eq!(percent_of(1, 49.0), 0);
        assert_eq!(percent_of(1, 50.0), 1);
        assert_eq!(percent_of(1800, 100.0), 1800);
        assert_eq!(percent_of(99_999_999, 33.333333), 33_333_333);
    }

    #[test]
    fn an_amount_off_is_at_most_the_subtotal() {
        let eur = "EUR".parse().unwrap();
        let five_off = coupon(
            CouponOff::Amount(Money {
                amount_minor: 500,
                currency: eur,
            }),
            None,
            0,
        );
        assert_eq!(five_off.discount_on(1800), 500);
        assert_eq!(five_off.discount_on(300), 300);
        let quarter_off = coupon(CouponOff::Percent(25.0), None, 0);
        assert_eq!(quarter_off.discount_on(1800), 450);
    }

    #[test]
    fn a_coupon_is_valid_until_its_last_redemption() {
        assert!(coupon(CouponOff::Percent(10.0), None, 1_000).valid());
        assert!(coupon(CouponOff::Percent(10.0), Some(2), 1).valid());
        let used_up = coupon(CouponOff::Percent(10.0), Some(2), 2);
        assert!(!used_up.valid());
        let object = used_up.to_json();
        assert_eq!(object["valid"], false);
        assert_eq!(object["object"], "coupon");
        assert_eq!(object["percent_off"], 10.0);
        assert_eq!(object["amount_off"], Value::Null);
        assert_eq!(object["currency"], Value::Null);
        assert_eq!(object["duration"], "once");
        assert_eq!(object["times_redeemed"], 2);
    }
}
