//! The simulated Stripe account: checkout sessions, the payments made through them, refunds, and
//! the idempotency keys of past requests. Plain state transitions under the caller's lock, no
//! HTTP; objects come out in Stripe's JSON shapes, and every session that completes or expires
//! leaves an event for the webhook deliveries.

use std::collections::{BTreeMap, HashMap};

use axum::http::StatusCode;
use serde_json::{Value, json};
use ticket_core::{Currency, Money};

use super::api::ApiError;
use super::random_id;

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

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineItem {
    pub name: String,
    pub unit_amount: i64,
    pub quantity: i64,
}

/// A validated `POST /v1/checkout/sessions`.
#[derive(Debug, Clone)]
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
#[derive(Debug, Clone, PartialEq, Eq)]
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

/// A payment made through a session, with what has been refunded of it.
#[derive(Debug, Clone)]
struct Payment {
    charge: String,
    amount: Money,
    refunded: i64,
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

#[derive(Debug, Clone)]
struct Refund {
    id: String,
    charge: String,
    balance_transaction: String,
    amount: Money,
    created: i64,
    request: NewRefund,
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
            "metadata": self.request.metadata,
            "payment_intent": self.request.payment_intent,
            "reason": self.request.reason,
            "receipt_number": null,
            "source_transfer_reversal": null,
            "status": "succeeded",
            "transfer_reversal": null,
        })
    }
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
    pub saved_at: i64,
}

#[derive(Debug, Default)]
pub struct Ledger {
    sessions: HashMap<String, Session>,
    payments: HashMap<String, Payment>,
    /// In the order they were made.
    refunds: Vec<Refund>,
    pub idempotency: HashMap<String, SavedAnswer>,
    /// Sessions that completed or expired since the last [`Self::take_events`].
    events: Vec<(SessionEvent, Session)>,
}

impl Ledger {
    pub fn create_session(&mut self, request: NewSession, now: i64) -> &Session {
        let id = random_id("cs_test_", 58);
        let session = Session {
            id: id.clone(),
            created: now,
            request,
            status: SessionStatus::Open,
            payment_intent: None,
            payer: None,
        };
        self.sessions.entry(id).or_insert(session)
    }

    /// The session, expired first if its time has come: a late buyer never pays, whether or
    /// not the background sweep has run yet.
    pub fn session(&mut self, id: &str, now: i64) -> Option<&Session> {
        if self
            .sessions
            .get(id)
            .is_some_and(|session| session.status == SessionStatus::Open && session.expires(now))
        {
            self.close(id, SessionEvent::Expired);
        }
        self.sessions.get(id)
    }

    /// `POST /v1/checkout/sessions/{id}/expire`.
    pub fn expire(&mut self, id: &str, now: i64) -> Result<&Session, ApiError> {
        let session = self.session(id, now).ok_or_else(|| no_such_session(id))?;
        if session.status != SessionStatus::Open {
            return Err(ApiError::invalid(
                None,
                "Only Checkout Sessions with a status in [\"open\"] can be expired.",
            ));
        }
        Ok(self.close(id, SessionEvent::Expired))
    }

    /// Expires every open session whose time has come; returns how many.
    pub fn expire_due(&mut self, now: i64) -> usize {
        let due: Vec<String> = self
            .sessions
            .values()
            .filter(|session| session.status == SessionStatus::Open && session.expires(now))
            .map(|session| session.id.clone())
            .collect();
        for id in &due {
            self.close(id, SessionEvent::Expired);
        }
        self.idempotency
            .retain(|_, saved| now - saved.saved_at < IDEMPOTENCY_KEY_SECONDS);
        due.len()
    }

    /// Records a successful card payment of an open session; `None` if it is not open.
    pub fn complete(&mut self, id: &str, payer: Payer) -> Option<&Session> {
        let session = self
            .sessions
            .get_mut(id)
            .filter(|session| session.status == SessionStatus::Open)?;
        let payment_intent = random_id("pi_", 24);
        self.payments.insert(
            payment_intent.clone(),
            Payment {
                charge: random_id("ch_", 24),
                amount: session.money(session.amount_total()),
                refunded: 0,
            },
        );
        session.payment_intent = Some(payment_intent);
        session.payer = Some(payer);
        Some(self.close(id, SessionEvent::Completed))
    }

    /// Moves an open session to the status `event` tells of, and records the event.
    fn close(&mut self, id: &str, event: SessionEvent) -> &Session {
        let session = self.sessions.get_mut(id).expect("a known session");
        session.status = match event {
            SessionEvent::Completed => SessionStatus::Complete,
            SessionEvent::Expired => SessionStatus::Expired,
        };
        self.events.push((event, session.clone()));
        session
    }

    pub fn take_events(&mut self) -> Vec<(SessionEvent, Session)> {
        std::mem::take(&mut self.events)
    }

    /// `POST /v1/refunds`.
    pub fn refund(&mut self, request: NewRefund, now: i64) -> Result<Value, ApiError> {
        let payment = self
            .payments
            .get_mut(&request.payment_intent)
            .ok_or_else(|| {
                ApiError::no_such(
                    StatusCode::BAD_REQUEST,
                    "payment_intent",
                    &request.payment_intent,
                    Some("payment_intent"),
                )
            })?;
        let unrefunded = payment.amount.amount_minor - payment.refunded;
        if unrefunded == 0 {
            return Err(ApiError::invalid(
                None,
                format!("Charge {} has already been refunded.", payment.charge),
            )
            .with_code("charge_already_refunded"));
        }
        let amount = request.amount.unwrap_or(unrefunded);
        if amount > unrefunded {
            let money = |amount_minor| Money {
                amount_minor,
                ..payment.amount
            };
            return Err(ApiError::invalid(
                Some("amount"),
                format!(
                    "Refund amount ({}) is greater than unrefunded amount on charge ({}).",
                    money(amount),
                    money(unrefunded)
                ),
            )
            .with_code("amount_too_large"));
        }
        payment.refunded += amount;
        let refund = Refund {
            id: random_id("re_", 24),
            charge: payment.charge.clone(),
            balance_transaction: random_id("txn_", 24),
            amount: Money {
                amount_minor: amount,
                ..payment.amount
            },
            created: now,
            request,
        };
        let answer = refund.to_json();
        self.refunds.push(refund);
        Ok(answer)
    }

    /// `GET /v1/refunds`: newest first, like every Stripe list.
    pub fn refunds(&self, payment_intent: Option<&str>, limit: usize) -> Value {
        let matching: Vec<&Refund> = self
            .refunds
            .iter()
            .rev()
            .filter(|refund| {
                payment_intent.is_none_or(|wanted| refund.request.payment_intent == wanted)
            })
            .collect();
        let data: Vec<Value> = matching.iter().take(limit).map(|r| r.to_json()).collect();
        json!({
            "object": "list",
            "data": data,
            "has_more": matching.len() > limit,
            "url": "/v1/refunds",
        })
    }
}

pub fn no_such_session(id: &str) -> ApiError {
    ApiError::no_such(StatusCode::NOT_FOUND, "checkout.session", id, Some("id"))
}
