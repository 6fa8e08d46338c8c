//! The simulated Stripe account: checkout sessions, the payments made through them, refunds, and
//! the idempotency keys of past requests, as rows of the simulator's database. State
//! transitions inside the caller's transaction, no HTTP; objects come out in Stripe's JSON
//! shapes, and every session that completes or expires queues its event in the outbox in the
//! same transaction, so a crash never leaves a paid session without its event.

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
}

impl Session {
    fn expires(&self, now: i64) -> bool {
        self.request.expires_at <= now
    }

    pub fn amount_total(&self) -> i64 {
        self.request
            .line_items
            .iter()
            .map(|item| item.unit_amount * item.quantity)
            .sum()
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
        let amount = self.amount_total();
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
            "amount_subtotal": amount,
            "amount_total": amount,
            "cancel_url": request.cancel_url,
            "client_reference_id": request.client_reference_id,
            "created": self.created,
            "currency": currency_param(request.currency),
            "customer_details": customer_details,
            "customer_email": request.customer_email,
            "expires_at": request.expires_at,
            "livemode": false,
            "metadata": request.metadata,
            "mode": "payment",
            "payment_intent": self.payment_intent,
            "payment_status": if self.status == SessionStatus::Complete { "paid" } else { "unpaid" },
            "status": self.status.as_str(),
            "success_url": request.success_url,
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
            "discounts": [],
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
            "total_details": { "amount_discount": 0, "amount_shipping": 0, "amount_tax": 0 },
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

const SESSION_COLUMNS: &str = "id, created, status, request, payment_intent, payer";
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

    pub fn create_session(&mut self, request: NewSession) -> Result<Session, Failure> {
        let session = Session {
            id: random_id("cs_test_", 58),
            created: self.now(),
            request,
            status: SessionStatus::Open,
            payment_intent: None,
            payer: None,
        };
        self.tx
            .prepare_cached(
                "INSERT INTO sessions (id, created, status, expires_at, request)
                 VALUES (?1, ?2, 'open', ?3, ?4)",
            )?
            .execute(params![
                session.id,
                session.created,
                session.request.expires_at,
                encode_json(&session.request)
            ])?;
        Ok(session)
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

    /// Records a successful card payment of an open session; `None` if it is not open.
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
