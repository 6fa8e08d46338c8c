//! Requests to the API's handlers from a few known callers, as a gateway hands them over,
//! Stripe webhook deliveries signed as Stripe signs them, and checks of the answers. Shared by
//! the handler tests of core and of the stacks that run them.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::api::{ApiRequest, ApiResponse, Route};
use crate::identity::{Caller, IdentityError};
use crate::ids::OrderId;
use crate::payments::CheckoutRequest;
use crate::stripe_webhook;

/// A caller: the claims a gateway hands over, or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    User {
        sub: &'static str,
        /// `cognito:groups` as API Gateway flattens it: `[organizer attendee]`.
        groups: &'static str,
        name: &'static str,
    },
    Nobody,
}

pub const ORGANIZER: Who = Who::User {
    sub: "organizer-1",
    groups: "[organizer attendee]",
    name: "Olga Organizer",
};
pub const OTHER_ORGANIZER: Who = Who::User {
    sub: "organizer-2",
    groups: "[organizer attendee]",
    name: "Otto Other",
};
pub const ATTENDEE: Who = Who::User {
    sub: "attendee-1",
    groups: "[attendee]",
    name: "Zoë Ångström",
};
pub const OTHER_ATTENDEE: Who = Who::User {
    sub: "attendee-2",
    groups: "[attendee]",
    name: "Bob",
};
/// In the organizer group only: not allowed to buy.
pub const ORGANIZER_ONLY: Who = Who::User {
    sub: "organizer-3",
    groups: "[organizer]",
    name: "Ollie",
};

impl Who {
    /// The caller as the handlers see it; its email is `<sub>@example.org`.
    pub fn caller(&self) -> Result<Caller, IdentityError> {
        match self {
            Who::Nobody => Err(IdentityError::NoClaims),
            Who::User { sub, groups, name } => Caller::from_claims(&json!({
                "sub": sub,
                "cognito:groups": groups,
                "name": name,
                "email": format!("{sub}@example.org"),
            })),
        }
    }
}

/// A request for the route `method` `route` from `who`.
pub fn request(method: &str, route: &str, who: &Who) -> ApiRequest {
    ApiRequest::new(method, route, who.caller())
}

/// A request for `route` with an empty JSON body and any path parameter a fresh UUID.
pub fn any_request(route: &Route, who: &Who) -> ApiRequest {
    let mut request = request(route.method, route.path, who).with_body("{}");
    if route.path.contains("{id}") {
        request = request.with_path_param("id", uuid::Uuid::now_v7().to_string());
    }
    request
}

/// The body as text, for assertion messages.
pub fn body_text(response: &ApiResponse) -> String {
    String::from_utf8_lossy(&response.body).into_owned()
}

/// Checks that the response is `status` with a JSON `{"error": …}` body marked no-store, and
/// returns the message.
pub fn assert_error(response: &ApiResponse, status: u16) -> String {
    assert_eq!(response.status, status, "{}", body_text(response));
    assert_eq!(
        response.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    assert_eq!(response.header("cache-control"), Some("no-store"));
    response.json_body()["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no error message in {}", body_text(response)))
        .to_owned()
}

/// `checkout.session.<kind>` for the session `session` that `checkout` opened, as Stripe
/// sends it: paid with a payment intent, or unpaid for `expired`.
pub fn checkout_event(kind: &str, checkout: &CheckoutRequest, session: &OrderId) -> Value {
    let paid = kind != "expired";
    let mut metadata = json!({
        "eventId": checkout.event_id,
        "holdId": checkout.hold_id,
        "userId": checkout.user_id.as_str(),
    });
    for (key, value) in stripe_webhook::ticket_metadata(&checkout.tickets) {
        metadata[key] = json!(value);
    }
    json!({
        "id": format!("evt_{}", uuid::Uuid::now_v7().simple()),
        "object": "event",
        "type": format!("checkout.session.{kind}"),
        "api_version": "2026-09-30.endive",
        "data": {"object": {
            "id": session,
            "object": "checkout.session",
            "payment_status": if paid { "paid" } else { "unpaid" },
            "payment_intent": if paid { json!(format!("pi_{session}")) } else { Value::Null },
            "amount_total": checkout.total().amount_minor,
            "currency": checkout.currency.code().to_lowercase(),
            "metadata": metadata,
            "customer_details": {"email": checkout.customer_email, "name": "Ada Lovelace"},
        }},
    })
}

/// The webhook delivery of `body`, signed with `secret` at `at`.
pub fn signed_delivery(body: Vec<u8>, secret: &str, at: DateTime<Utc>) -> ApiRequest {
    let signature = stripe_webhook::signature_header(secret, at.timestamp(), &body);
    request("POST", "/stripe/webhook", &Who::Nobody)
        .with_header("stripe-signature", signature)
        .with_body(body)
}
