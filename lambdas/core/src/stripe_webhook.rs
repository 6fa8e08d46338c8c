//! Stripe webhooks: the `Stripe-Signature` check over the raw body, and the few fields of an event
//! the system reads. Parsing is deliberately loose (a `serde_json::Value` walk, no typed event
//! model), so a newer Stripe API version with new or changed fields never breaks a delivery.

use chrono::{DateTime, Utc};
use data_encoding::HEXLOWER_PERMISSIVE;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::Sha256;

use crate::ids::{EventId, HoldId, OrderId, UserId};
use crate::money::Currency;
use crate::order::Attendee;
use crate::registration::{OrderedTicket, RegistrationRequest};
use crate::ticket_type::MAX_TICKETS_PER_ORDER;

/// The header Stripe signs each delivery with (lower case, as [`crate::api::ApiRequest`] keeps
/// header names).
pub const SIGNATURE_HEADER: &str = "stripe-signature";

/// How far a delivery's timestamp may be from now: Stripe's libraries' default.
pub const TOLERANCE_SECONDS: i64 = 300;

type HmacSha256 = Hmac<Sha256>;

/// The signing secrets in a configuration value: one `whsec_...`, or several separated by commas
/// or whitespace while a secret is rotated.
pub fn secrets_from(text: &str) -> Vec<String> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|secret| !secret.is_empty())
        .map(str::to_owned)
        .collect()
}

fn mac(secret: &str, timestamp: i64, payload: &[u8]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(payload);
    mac
}

/// The `Stripe-Signature` value Stripe sends for `payload` at `timestamp` (unix seconds):
/// `t=<timestamp>,v1=<hex HMAC-SHA256 of "<timestamp>.<payload>">`.
pub fn signature_header(secret: &str, timestamp: i64, payload: &[u8]) -> String {
    let signature = mac(secret, timestamp, payload).finalize().into_bytes();
    format!(
        "t={timestamp},v1={}",
        data_encoding::HEXLOWER.encode(&signature)
    )
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the Stripe-Signature header is missing")]
    Missing,
    #[error("the Stripe-Signature header has no timestamp or no v1 signature")]
    Malformed,
    #[error("the Stripe-Signature timestamp is more than {TOLERANCE_SECONDS} seconds from now")]
    Stale,
    #[error("no v1 signature in Stripe-Signature matches the payload")]
    NoMatch,
}

/// Checks `header` against the raw `payload`: its timestamp within [`TOLERANCE_SECONDS`] of
/// `now`, and any of its `v1` signatures made with any of `secrets` (several while a secret is
/// rotated). The comparison is constant-time.
pub fn verify(
    header: Option<&str>,
    payload: &[u8],
    secrets: &[String],
    now: DateTime<Utc>,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => timestamp = value.parse::<i64>().ok(),
            // A v1 that is not hex cannot match; other schemes (v0) are ignored, as Stripe's
            // libraries do.
            Some(("v1", value)) => {
                signatures.extend(HEXLOWER_PERMISSIVE.decode(value.as_bytes()).ok())
            }
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    // `abs_diff`: a `t` near i64::MIN or MAX must not overflow the subtraction.
    if now.timestamp().abs_diff(timestamp) > TOLERANCE_SECONDS.unsigned_abs() {
        return Err(SignatureError::Stale);
    }
    let matches = secrets.iter().any(|secret| {
        let expected = mac(secret, timestamp, payload);
        signatures
            .iter()
            .any(|signature| expected.clone().verify_slice(signature).is_ok())
    });
    if matches {
        Ok(())
    } else {
        Err(SignatureError::NoMatch)
    }
}

/// What the system reads of a webhook event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEvent {
    /// `evt_...`
    pub id: String,
    /// `checkout.session.completed`, ...
    pub kind: String,
    /// `data.object`, whatever its type.
    pub object: Value,
}

impl WebhookEvent {
    /// `None` unless the body is a JSON object with a string `id` and `type` and an object
    /// `data.object`.
    pub fn parse(payload: &[u8]) -> Option<Self> {
        let mut event: Value = serde_json::from_slice(payload).ok()?;
        let id = event.get("id")?.as_str()?.to_owned();
        let kind = event.get("type")?.as_str()?.to_owned();
        let object = event.get_mut("data")?.get_mut("object")?.take();
        object.is_object().then_some(Self { id, kind, object })
    }
}

/// One ticket in a session's metadata, unparsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionTicket {
    pub ticket_type_id: String,
    pub holder_name: Option<String>,
}

/// The metadata that lists an order's tickets: `ticket1Type` and (if named) `ticket1Holder`,
/// and so on. One key per value keeps each under Stripe's 500 characters (a name is at most
/// 200), and ten tickets take at most 20 of its 50 keys.
pub fn ticket_metadata(tickets: &[OrderedTicket]) -> Vec<(String, String)> {
    let mut metadata = Vec::new();
    for (index, ticket) in tickets.iter().enumerate() {
        let number = index + 1;
        metadata.push((
            format!("ticket{number}Type"),
            ticket.ticket_type_id.to_string(),
        ));
        if let Some(name) = &ticket.holder_name {
            metadata.push((format!("ticket{number}Holder"), name.clone()));
        }
    }
    metadata
}

/// The tickets a session's metadata lists ([`ticket_metadata`]), read through `get`. A
/// session opened before orders of several tickets has one `ticketTypeId` (and
/// `holderName`); one opened before ticket types has none.
pub fn session_tickets(get: impl Fn(&str) -> Option<String>) -> Vec<SessionTicket> {
    let listed: Vec<SessionTicket> = (1..=MAX_TICKETS_PER_ORDER)
        .map_while(|number| {
            Some(SessionTicket {
                ticket_type_id: get(&format!("ticket{number}Type"))?,
                holder_name: get(&format!("ticket{number}Holder")),
            })
        })
        .collect();
    if !listed.is_empty() {
        return listed;
    }
    get("ticketTypeId")
        .map(|ticket_type_id| SessionTicket {
            ticket_type_id,
            holder_name: get("holderName"),
        })
        .into_iter()
        .collect()
}

/// The fields of a Checkout Session (`data.object` of `checkout.session.*` events) the
/// registration needs. Absent fields are `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionFields {
    /// `cs_...`: the order's id.
    pub id: String,
    pub payment_status: Option<String>,
    /// The payment intent's id, whether Stripe sent the id or the expanded object.
    pub payment_intent: Option<String>,
    pub amount_total: Option<i64>,
    /// Lower case, as Stripe sends it.
    pub currency: Option<String>,
    pub event_id: Option<String>,
    pub hold_id: Option<String>,
    pub user_id: Option<String>,
    /// The order's tickets as the metadata lists them (see [`ticket_metadata`]); empty for
    /// sessions opened before ticket types.
    pub tickets: Vec<SessionTicket>,
    pub customer_email: Option<String>,
    pub customer_name: Option<String>,
}

fn text(value: &Value, path: &[&str]) -> Option<String> {
    let mut value = value;
    for key in path {
        value = value.get(key)?;
    }
    value.as_str().map(str::to_owned)
}

/// A session field parsed, or why not (naming it).
fn field<T: std::str::FromStr>(value: &Option<String>, name: &str) -> Result<T, String> {
    value
        .as_deref()
        .and_then(|text| text.parse().ok())
        .ok_or_else(|| format!("the checkout session has no valid {name}"))
}

impl SessionFields {
    /// Whether the session carries this system's metadata (not another integration's on the
    /// same Stripe account).
    pub fn is_ours(&self) -> bool {
        self.hold_id.is_some()
    }

    /// The event and hold the session was opened for.
    pub fn hold(&self) -> Result<(EventId, HoldId), String> {
        Ok((
            field(&self.event_id, "metadata.eventId")?,
            field(&self.hold_id, "metadata.holdId")?,
        ))
    }

    /// The registration a paid session asks for, from its metadata and what Stripe collected.
    /// The webhook and the reconciliation pass both build it here, so a session always asks
    /// for the same execution.
    pub fn registration(&self) -> Result<RegistrationRequest, String> {
        let (event_id, hold_id) = self.hold()?;
        let tickets = self
            .tickets
            .iter()
            .enumerate()
            .map(|(index, ticket)| {
                Ok(OrderedTicket {
                    ticket_type_id: ticket.ticket_type_id.parse().map_err(|_| {
                        format!(
                            "the checkout session has no valid type for ticket {}",
                            index + 1
                        )
                    })?,
                    holder_name: ticket.holder_name.clone(),
                })
            })
            .collect::<Result<_, String>>()?;
        let email = self.customer_email.clone().unwrap_or_default();
        let registration = RegistrationRequest {
            order_id: OrderId::from(self.id.clone()),
            event_id,
            hold_id,
            ticket_type_id: None,
            tickets,
            user_id: UserId::from(field::<String>(&self.user_id, "metadata.userId")?),
            payment_intent_id: Some(field(&self.payment_intent, "payment_intent")?),
            amount_minor: self
                .amount_total
                .ok_or("the checkout session has no amount_total")?,
            currency: field::<Currency>(&self.currency, "currency")?,
            attendee: Attendee {
                // Stripe collects a name only with some settings; a ticket that names no holder
                // then shows the email.
                name: self.customer_name.clone().unwrap_or_else(|| email.clone()),
                email,
            },
        };
        registration
            .validate()
            .map_err(|errors| format!("the checkout session cannot become a ticket: {errors}"))?;
        Ok(registration)
    }

    /// `None` when the object has no string `id`.
    pub fn of(session: &Value) -> Option<Self> {
        Some(Self {
            id: text(session, &["id"])?,
            payment_status: text(session, &["payment_status"]),
            payment_intent: text(session, &["payment_intent"])
                .or_else(|| text(session, &["payment_intent", "id"])),
            amount_total: session.get("amount_total").and_then(Value::as_i64),
            currency: text(session, &["currency"]),
            event_id: text(session, &["metadata", "eventId"]),
            hold_id: text(session, &["metadata", "holdId"]),
            user_id: text(session, &["metadata", "userId"])
                .or_else(|| text(session, &["client_reference_id"])),
            tickets: session_tickets(|name| text(session, &["metadata", name])),
            customer_email: text(session, &["customer_details", "email"])
                .or_else(|| text(session, &["customer_email"])),
            customer_name: text(session, &["customer_details", "name"]),
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::json;

    use super::*;

    const SECRET: &str = "whsec_test_secret";

    fn now() -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000, 0).unwrap()
    }

    fn secrets(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn several_secrets_may_be_configured() {
        assert_eq!(
            secrets_from(" whsec_a, whsec_b\nwhsec_c "),
            ["whsec_a", "whsec_b", "whsec_c"]
        );
        assert!(secrets_from(" , ").is_empty());
    }

    #[test]
    fn a_signature_made_with_the_secret_verifies() {
        let payload = br#"{"id":"evt_1"}"#;
        let header = signature_header(SECRET, now().timestamp(), payload);
        assert!(header.starts_with(&format!("t={},v1=", now().timestamp())));
        assert_eq!(
            verify(Some(&header), payload, &secrets(&[SECRET]), now()),
            Ok(())
        );
    }

    #[test]
    fn matches_stripes_documented_scheme() {
        // Python: hmac.new(b"whsec_test_secret", b"1800000000.{}", hashlib.sha256).hexdigest()
        assert_eq!(
            signature_header(SECRET, 1_800_000_000, b"{}"),
            "t=1800000000,v1=c54fd4ffd4dd216571ba5d99b08a3cf927757e386c311b181f85788c2178e368"
        );
    }

    #[test]
    fn any_v1_and_any_secret_may_match() {
        let payload = b"{}";
        let good = signature_header("whsec_new", now().timestamp(), payload);
        let good_v1 = good.split_once(",v1=").unwrap().1;
        let header = format!(
            "t={},v1={},v0=abc,v1={good_v1}",
            now().timestamp(),
            "00".repeat(32)
        );
        assert_eq!(
            verify(
                Some(&header),
                payload,
                &secrets(&["whsec_old", "whsec_new"]),
                now()
            ),
            Ok(())
        );
    }

    #[test]
    fn refuses_a_changed_payload_a_wrong_secret_and_junk() {
        let header = signature_header(SECRET, now().timestamp(), b"{\"a\":1}");
        assert_eq!(
            verify(Some(&header), b"{\"a\":2}", &secrets(&[SECRET]), now()),
            Err(SignatureError::NoMatch)
        );
        assert_eq!(
            verify(
                Some(&header),
                b"{\"a\":1}",
                &secrets(&["whsec_other"]),
                now()
            ),
            Err(SignatureError::NoMatch)
        );
        assert_eq!(
            verify(Some(&header), b"{\"a\":1}", &[], now()),
            Err(SignatureError::NoMatch)
        );
        for junk in ["", "v1=abc", "t=12", "t=abc,v1=00", "t=1800000000,v1=zz"] {
            assert_eq!(
                verify(Some(junk), b"{}", &secrets(&[SECRET]), now()),
                Err(SignatureError::Malformed),
                "{junk}"
            );
        }
        assert_eq!(
            verify(None, b"{}", &secrets(&[SECRET]), now()),
            Err(SignatureError::Missing)
        );
    }

    #[test]
    fn refuses_timestamps_outside_the_tolerance_either_way() {
        let payload = b"{}";
        for offset in [-TOLERANCE_SECONDS, TOLERANCE_SECONDS] {
            let header = signature_header(SECRET, now().timestamp() + offset, payload);
            assert_eq!(
                verify(Some(&header), payload, &secrets(&[SECRET]), now()),
                Ok(())
            );
        }
        for offset in [-TOLERANCE_SECONDS - 1, TOLERANCE_SECONDS + 1] {
            let header = signature_header(SECRET, now().timestamp() + offset, payload);
            assert_eq!(
                verify(Some(&header), payload, &secrets(&[SECRET]), now()),
                Err(SignatureError::Stale)
            );
        }
        for extreme in [i64::MIN, i64::MAX] {
            let header = signature_header(SECRET, extreme, payload);
            assert_eq!(
                verify(Some(&header), payload, &secrets(&[SECRET]), now()),
                Err(SignatureError::Stale)
            );
        }
    }

    #[test]
    fn reads_only_the_fields_it_needs() {
        let payload = json!({
            "id": "evt_1",
            "type": "checkout.session.completed",
            "api_version": "2099-01-01.future",
            "data": {"object": {
                "id": "cs_test_1",
                "object": "checkout.session",
                "payment_status": "paid",
                "payment_intent": {"id": "pi_1", "object": "payment_intent"},
                "amount_total": 2500,
                "currency": "eur",
                "metadata": {"eventId": "e", "holdId": "h", "userId": "u"},
                "customer_details": {"email": "a@example.com", "name": "Ada", "new_field": [1]},
                "something_new": {"nested": true}
            }}
        });
        let event = WebhookEvent::parse(payload.to_string().as_bytes()).unwrap();
        assert_eq!(event.kind, "checkout.session.completed");
        let session = SessionFields::of(&event.object).unwrap();
        assert_eq!(session.id, "cs_test_1");
        assert_eq!(session.payment_intent.as_deref(), Some("pi_1"));
        assert_eq!(session.amount_total, Some(2500));
        assert_eq!(session.hold_id.as_deref(), Some("h"));
        assert_eq!(session.customer_name.as_deref(), Some("Ada"));
        assert_eq!(session.customer_email.as_deref(), Some("a@example.com"));

        for bad in [
            &b"not json"[..],
            b"[]",
            br#"{"id":"evt","type":"x"}"#,
            br#"{"id":"evt","type":"x","data":{"object":1}}"#,
        ] {
            assert_eq!(WebhookEvent::parse(bad), None);
        }
    }
}
