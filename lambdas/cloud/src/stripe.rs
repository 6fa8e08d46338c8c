//! The Stripe adapter of the [`Payments`] port, on async-stripe: Checkout Sessions in `payment`
//! mode and refunds, against real Stripe or any server that speaks its API (ticketd's simulator).
//!
//! Keys: with a [`KeySource`] (what the Lambdas configure when the key is in Secrets Manager), a
//! 401 from Stripe makes the adapter read the key again once and, if it changed, send the
//! request again with it (see [`keyed`]); otherwise the 401 stands.
//!
//! Retries: every request is sent exactly once. Creating a session or a refund carries the
//! port's idempotency key ([`CheckoutRequest::idempotency_key`],
//! [`RefundRequest::idempotency_key`]) and async-stripe's `RequestStrategy::Idempotent` sends it
//! once; its retrying strategies (`Retry`, `ExponentialBackoff`) would replace that key with a
//! random one (or send none), and their backoff sleeps would eat the API Gateway's 29 s budget.
//! Transient failures come back as [`PaymentsError::Unavailable`] and the caller retries with the
//! same key (Step Functions' task retries, or the buyer's next click), so Stripe answers a retry
//! with the first result, across Lambda invocations too.
//!
//! Responses are decoded into async-stripe's typed objects, which need the fields Stripe always
//! sends: a simulator must answer complete objects (for a session at least `id`, `created`,
//! `expires_at`, `livemode`, `mode`, `payment_method_types`, `payment_status`,
//! `automatic_tax.enabled`, `custom_fields`, `custom_text`, `shipping_options`; for a refund
//! `id`, `amount`, `created`, `currency`), or the adapter reports [`PaymentsError::Internal`].

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use stripe::{ApiErrors, ApiErrorsCode, RequestStrategy, StripeError};
use stripe::{IdempotencyKey, StripeRequest};
use stripe_checkout::CheckoutSessionStatus;
use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionDiscounts, CreateCheckoutSessionLineItems,
    CreateCheckoutSessionLineItemsPriceData, ExpireCheckoutSession, ProductData,
    RetrieveCheckoutSession,
};
use stripe_client_core::{RequestBuilder, StripeMethod};
use stripe_core::refund::{CreateRefund, ListRefund};
use ticket_core::stripe_webhook::{SessionFields, session_tickets, ticket_metadata};
use ticket_core::{
    CheckoutDiscount, CheckoutRequest, CheckoutSession, OrderId, Payments, PaymentsError, Refund,
    RefundRequest, SessionSnapshot, SessionStatus,
};

mod keyed;

pub use keyed::KeySource;
use keyed::KeyedClient;

/// How long one HTTP attempt may take. Stripe usually answers in well under a second; a hung
/// connection must fail while the caller can still act: a checkout may wait for four requests
/// (a promo code's coupon, the session, then expire and read back after a store failure) within
/// its 29 s Lambda timeout and API Gateway's 30 s. The CDK app states the same number
/// (`STRIPE_REQUEST_TIMEOUT_SECONDS`) and a test there checks every function given the Stripe
/// key outlasts four.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(6);

/// Checkout Sessions and refunds on one Stripe account.
#[derive(Clone)]
pub struct StripePayments {
    client: KeyedClient,
    base_url: String,
    timeout: Duration,
}

impl fmt::Debug for StripePayments {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StripePayments")
            .field("base_url", &self.base_url)
            .field("timeout", &self.timeout)
            .field("client", &self.client)
            .finish_non_exhaustive()
    }
}

const STRIPE_API: &str = "https://api.stripe.com/";

impl StripePayments {
    /// A client for the account of `secret_key`, talking to `base_url` (such as ticketd's
    /// simulator, `http://127.0.0.1:PORT`), or to real Stripe when `None`.
    pub fn new(secret_key: &str, base_url: Option<&str>) -> Result<Self, PaymentsError> {
        // async-stripe appends `v1/...` to the base as text: without the slash a base with a
        // path would become `.../basev1/...`.
        let base_url = match base_url {
            Some(url) if url.ends_with('/') => url.to_owned(),
            Some(url) => format!("{url}/"),
            None => STRIPE_API.to_owned(),
        };
        let client = KeyedClient::new(secret_key, &base_url).map_err(|error| {
            PaymentsError::Internal(redact(
                format!("Stripe client configuration: {error}"),
                &[secret_key.to_owned()],
            ))
        })?;
        Ok(Self {
            client,
            base_url,
            timeout: DEFAULT_TIMEOUT,
        })
    }

    /// Reads the key again from `source` when Stripe answers 401, and sends the request once
    /// more if it changed: a key put after deploy takes effect without new containers.
    pub fn with_key_source(mut self, source: Arc<dyn KeySource>) -> Self {
        self.client = self.client.with_source(source);
        self
    }

    /// Changes the per-attempt timeout (default [`DEFAULT_TIMEOUT`]).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    fn error(&self, operation: &str, error: StripeError) -> PaymentsError {
        let keys = self.client.keys();
        match payments_error(operation, error) {
            PaymentsError::Rejected(text) => PaymentsError::Rejected(redact(text, &keys)),
            PaymentsError::Unavailable(text) => PaymentsError::Unavailable(redact(text, &keys)),
            PaymentsError::Internal(text) => PaymentsError::Internal(redact(text, &keys)),
        }
    }

    /// A coupon taking `discount` off one session: one per hold, however often the checkout
    /// is retried, and redeemable once.
    async fn coupon_for(
        &self,
        request: &CheckoutRequest,
        discount: &CheckoutDiscount,
    ) -> Result<String, PaymentsError> {
        let hold = request.hold_id.to_string();
        let form = CouponForm {
            amount_off: discount.amount_minor,
            currency: request.currency.code().to_ascii_lowercase(),
            duration: "once",
            max_redemptions: 1,
            name: discount.label.chars().take(MAX_COUPON_NAME_CHARS).collect(),
            metadata: HashMap::from([("holdId", hold.as_str())]),
        };
        let key = idempotency_key(format!("coupon-{hold}"))?;
        let coupon = RequestBuilder::new(StripeMethod::Post, "/coupons")
            .form(&form)
            .customize::<CouponCreated>()
            .request_strategy(RequestStrategy::Idempotent(key))
            .timeout(self.timeout)
            .send(&self.client)
            .await
            .map_err(|error| self.error("create coupon", error))?;
        Ok(coupon.id)
    }

    /// The session's status, read after Stripe refused to expire it.
    async fn session_status(
        &self,
        session: &str,
    ) -> Result<Option<CheckoutSessionStatus>, PaymentsError> {
        let found = RetrieveCheckoutSession::new(session)
            .customize()
            .timeout(self.timeout)
            .send(&self.client)
            .await
            .map_err(|error| self.error("retrieve checkout session", error))?;
        Ok(found.status)
    }

    /// A refund already made for this order's payment: the one tagged with the order, else any
    /// that has not failed (one made in the Dashboard also leaves nothing to refund).
    async fn existing_refund(
        &self,
        request: &RefundRequest,
    ) -> Result<Option<Refund>, PaymentsError> {
        let refunds = ListRefund::new()
            .payment_intent(request.payment_intent_id.as_str())
            .limit(100)
            .customize()
            .timeout(self.timeout)
            .send(&self.client)
            .await
            .map_err(|error| self.error("list refunds", error))?;
        let ours = |refund: &&stripe_core::Refund| {
            refund
                .metadata
                .as_ref()
                .and_then(|metadata| metadata.get("orderId"))
                .is_some_and(|order| order == request.order_id.as_str())
        };
        let live = |refund: &&stripe_core::Refund| {
            !matches!(refund.status.as_deref(), Some("failed" | "canceled"))
        };
        let found = refunds
            .data
            .iter()
            .find(ours)
            .or_else(|| refunds.data.iter().find(live));
        Ok(found.map(to_refund))
    }
}

/// Stripe's statuses that a later retry may get past (its `Stripe-Should-Retry` list):
/// 409 another request with the same idempotency key is in flight, 424 an external dependency
/// failed, 429 rate limited, 5xx Stripe's side.
fn transient_status(status: u16) -> bool {
    matches!(status, 409 | 424 | 429 | 500..=599)
}

/// Stripe's message and code, never the request or async-stripe's debug text.
fn describe(api: &ApiErrors) -> String {
    let message = api.message.as_deref().unwrap_or(api.type_.as_str());
    match &api.code {
        Some(code) => format!("{message} ({})", code.as_str()),
        None => message.to_owned(),
    }
}

fn payments_error(operation: &str, error: StripeError) -> PaymentsError {
    match error {
        StripeError::Stripe(api, status) => {
            let message = describe(&api);
            if transient_status(status) {
                PaymentsError::Unavailable(format!("Stripe {operation}: HTTP {status}: {message}"))
            } else if matches!(status, 401 | 403) {
                // Our key or its permissions, not the buyer's request: an operator must act.
                PaymentsError::Internal(format!(
                    "Stripe {operation}: HTTP {status}, check the API key: {message}"
                ))
            } else if (400..500).contains(&status) {
                PaymentsError::Rejected(format!("Stripe {operation}: {message}"))
            } else {
                PaymentsError::Internal(format!("Stripe {operation}: HTTP {status}: {message}"))
            }
        }
        StripeError::ClientError(detail) => PaymentsError::Unavailable(format!(
            "Stripe {operation}: could not reach Stripe: {detail}"
        )),
        StripeError::Timeout => {
            PaymentsError::Unavailable(format!("Stripe {operation}: timed out"))
        }
        // async-stripe drops the status of an error answer it cannot read, so a gateway's HTML
        // 503 lands here too; Stripe's own answers are always JSON.
        StripeError::JSONDeserialize(detail) => {
            PaymentsError::Internal(format!("Stripe {operation}: unreadable answer: {detail}"))
        }
        StripeError::ConfigError(detail) => {
            PaymentsError::Internal(format!("Stripe {operation}: {detail}"))
        }
    }
}

/// Defence in depth: no message leaves with a secret key in it, whatever the server echoed.
fn redact(mut text: String, secret_keys: &[String]) -> String {
    for key in secret_keys {
        if !key.is_empty() && text.contains(key.as_str()) {
            text = text.replace(key.as_str(), "[redacted]");
        }
    }
    text
}

fn idempotency_key(key: String) -> Result<IdempotencyKey, PaymentsError> {
    IdempotencyKey::new(&key)
        .map_err(|error| PaymentsError::Internal(format!("idempotency key {key:?}: {error}")))
}

/// Session ids go into the request path: only Stripe's id alphabet may pass.
fn session_id(order: &OrderId) -> Result<&str, PaymentsError> {
    let id = order.as_str();
    if !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        Ok(id)
    } else {
        Err(PaymentsError::Rejected(format!(
            "{id:?} is not a Stripe Checkout Session id"
        )))
    }
}

fn to_refund(refund: &stripe_core::Refund) -> Refund {
    Refund {
        id: refund.id.as_str().to_owned(),
        status: refund
            .status
            .clone()
            .unwrap_or_else(|| "unknown".to_owned()),
    }
}

/// Stripe's longest coupon name.
const MAX_COUPON_NAME_CHARS: usize = 40;

/// `POST /v1/coupons`: a one-off coupon for one session's discount. async-stripe keeps
/// coupons in a crate of its own (billing), which this one request does not warrant.
#[derive(serde::Serialize)]
struct CouponForm<'a> {
    amount_off: i64,
    currency: String,
    duration: &'static str,
    max_redemptions: u32,
    name: String,
    metadata: HashMap<&'static str, &'a str>,
}

/// The part of Stripe's coupon object the adapter reads.
#[derive(miniserde::Deserialize)]
struct CouponCreated {
    id: String,
}

fn checkout_form(request: &CheckoutRequest, coupon: Option<&str>) -> CreateCheckoutSession {
    let Ok(currency) = request
        .currency
        .code()
        .to_ascii_lowercase()
        .parse::<stripe_types::Currency>();
    let items = request
        .lines
        .iter()
        .map(|line| {
            let mut price_data = CreateCheckoutSessionLineItemsPriceData::new(currency.clone());
            price_data.product_data = Some(ProductData::new(line.title.as_str()));
            price_data.unit_amount = Some(line.unit_price_minor);
            let mut item = CreateCheckoutSessionLineItems::new();
            item.price_data = Some(price_data);
            item.quantity = Some(u64::from(line.quantity));
            item
        })
        .collect::<Vec<_>>();
    let mut metadata = HashMap::from([
        ("eventId".to_owned(), request.event_id.to_string()),
        ("holdId".to_owned(), request.hold_id.to_string()),
        ("userId".to_owned(), request.user_id.to_string()),
    ]);
    metadata.extend(ticket_metadata(&request.tickets));
    let mut form = CreateCheckoutSession::new();
    if let Some(coupon) = coupon {
        let mut discount = CreateCheckoutSessionDiscounts::new();
        discount.coupon = Some(coupon.to_owned());
        form = form.discounts(vec![discount]);
    }
    let form = form
        .mode(stripe_checkout::CheckoutSessionMode::Payment)
        .line_items(items)
        .expires_at(request.expires_at.timestamp())
        .metadata(metadata)
        .client_reference_id(request.hold_id.to_string())
        .success_url(request.success_url.as_str())
        .cancel_url(request.cancel_url.as_str());
    match &request.customer_email {
        Some(email) => form.customer_email(email.as_str()),
        None => form,
    }
}

#[async_trait]
impl Payments for StripePayments {
    async fn create_checkout(
        &self,
        request: &CheckoutRequest,
    ) -> Result<CheckoutSession, PaymentsError> {
        let coupon = match &request.discount {
            Some(discount) => Some(self.coupon_for(request, discount).await?),
            None => None,
        };
        let key = idempotency_key(request.idempotency_key())?;
        let session = checkout_form(request, coupon.as_deref())
            .customize()
            .request_strategy(RequestStrategy::Idempotent(key))
            .timeout(self.timeout)
            .send(&self.client)
            .await
            .map_err(|error| self.error("create checkout session", error))?;
        let url = session.url.ok_or_else(|| {
            PaymentsError::Internal(format!(
                "Stripe created checkout session {} without a URL",
                session.id.as_str()
            ))
        })?;
        Ok(CheckoutSession {
            id: OrderId::from(session.id.as_str().to_owned()),
            url,
        })
    }

    async fn expire_checkout(&self, session: &OrderId) -> Result<(), PaymentsError> {
        let id = session_id(session)?;
        let expired = ExpireCheckoutSession::new(id)
            .customize()
            .timeout(self.timeout)
            .send(&self.client)
            .await;
        let refused = match expired {
            Ok(_) => return Ok(()),
            Err(error) => self.error("expire checkout session", error),
        };
        if !matches!(refused, PaymentsError::Rejected(_)) {
            return Err(refused);
        }
        // Stripe refuses to expire a session that is no longer open; its status says whether
        // that is the outcome we wanted.
        match self.session_status(id).await? {
            Some(CheckoutSessionStatus::Expired) => Ok(()),
            Some(CheckoutSessionStatus::Complete) => Err(PaymentsError::Rejected(format!(
                "checkout session {id} is complete (paid): it cannot be expired"
            ))),
            _ => Err(refused),
        }
    }

    async fn get_checkout(
        &self,
        session: &OrderId,
    ) -> Result<Option<SessionSnapshot>, PaymentsError> {
        let id = session_id(session)?;
        let found = RetrieveCheckoutSession::new(id)
            .customize()
            .timeout(self.timeout)
            .send(&self.client)
            .await;
        let found = match found {
            Ok(found) => found,
            Err(StripeError::Stripe(_, 404)) => return Ok(None),
            Err(error) => return Err(self.error("retrieve checkout session", error)),
        };
        let status = match found.status {
            Some(CheckoutSessionStatus::Open) => SessionStatus::Open,
            Some(CheckoutSessionStatus::Complete) => SessionStatus::Complete,
            Some(CheckoutSessionStatus::Expired) => SessionStatus::Expired,
            other => {
                return Err(PaymentsError::Internal(format!(
                    "checkout session {id} has status {other:?}"
                )));
            }
        };
        let metadata = |name: &str| {
            found
                .metadata
                .as_ref()
                .and_then(|metadata| metadata.get(name).cloned())
        };
        let details = found.customer_details.as_ref();
        Ok(Some(SessionSnapshot {
            status,
            fields: SessionFields {
                id: found.id.as_str().to_owned(),
                payment_status: Some(found.payment_status.as_str().to_owned()),
                payment_intent: found
                    .payment_intent
                    .as_ref()
                    .map(|intent| intent.id().as_str().to_owned()),
                amount_total: found.amount_total,
                currency: found.currency.as_ref().map(ToString::to_string),
                event_id: metadata("eventId"),
                hold_id: metadata("holdId"),
                user_id: metadata("userId").or_else(|| found.client_reference_id.clone()),
                tickets: session_tickets(metadata),
                customer_email: details
                    .and_then(|details| details.email.clone())
                    .or_else(|| found.customer_email.clone()),
                customer_name: details.and_then(|details| details.name.clone()),
            },
        }))
    }

    async fn refund(&self, request: &RefundRequest) -> Result<Refund, PaymentsError> {
        let key = idempotency_key(request.idempotency_key())?;
        let metadata = HashMap::from([("orderId".to_owned(), request.order_id.to_string())]);
        let created = CreateRefund::new()
            .payment_intent(request.payment_intent_id.as_str())
            .amount(request.amount.amount_minor)
            .metadata(metadata)
            .customize()
            .request_strategy(RequestStrategy::Idempotent(key))
            .timeout(self.timeout)
            .send(&self.client)
            .await;
        let error = match created {
            Ok(refund) => return Ok(to_refund(&refund)),
            Err(error) => error,
        };
        // Stripe keeps idempotency keys for 24 hours; a compensation that runs again later gets
        // `charge_already_refunded` instead of the first refund: nothing is left to undo.
        let already_refunded = matches!(
            &error,
            StripeError::Stripe(api, _) if matches!(api.code, Some(ApiErrorsCode::ChargeAlreadyRefunded))
        );
        let error = self.error("create refund", error);
        if already_refunded && let Some(existing) = self.existing_refund(request).await? {
            return Ok(existing);
        }
        Err(error)
    }
}
