//! The hosted payment page of a checkout session, Stripe Checkout's stand-in: server-rendered
//! forms, no scripts, every interpolated value escaped, served under a CSP that allows only
//! this origin's stylesheet.

use std::fmt::Write;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::DateTime;

use super::StripeSimulator;
use super::api::is_email;
use super::ledger::{Failure, Payer, Session, SessionStatus};
use local_support::html::{escape, page};

/// Only this origin's stylesheet; no `form-action`, since paying redirects to the merchant's
/// success URL, which browsers would check against it.
const CONTENT_SECURITY_POLICY: &str =
    "default-src 'none'; style-src 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Stripe's test cards: one that pays and one that is declined.
const PAYING_CARD: &str = "4242424242424242";
const DECLINED_CARD: &str = "4000000000000002";
const TEST_CARDS_HINT: &str =
    "Test mode: card 4242 4242 4242 4242 pays, 4000 0000 0000 0002 is declined.";

const STYLESHEET: &str = "\
body{font-family:system-ui,sans-serif;background:#f6f9fc;margin:0;color:#1a1f36}
main{max-width:26rem;margin:3rem auto;background:#fff;padding:2rem;border-radius:8px;\
box-shadow:0 1px 4px rgba(0,0,0,.12)}
h1{font-size:1.5rem;margin:.25rem 0 1rem}
.badge{display:inline-block;background:#ffde92;color:#5a3e00;font-size:.75rem;font-weight:600;\
padding:.1rem .5rem;border-radius:4px;margin:0}
.items{list-style:none;padding:0;margin:0 0 1.5rem;border-top:1px solid #e3e8ee}
.items li{display:flex;justify-content:space-between;gap:1rem;padding:.6rem 0;\
border-bottom:1px solid #e3e8ee}
.items li.discount{color:#0a6e31}
.items li.total{font-weight:600}
fieldset{border:0;padding:0;margin:0}
legend{font-weight:600;padding:0}
label,.label{display:block;margin-top:1rem;font-weight:600}
input{width:100%;box-sizing:border-box;padding:.55rem;margin-top:.25rem;font-size:1rem;\
border:1px solid #c4cdd5;border-radius:4px}
input[aria-invalid=true]{border-color:#b00020}
.row{display:flex;gap:1rem}
.row>div{flex:1}
button{margin-top:1.5rem;width:100%;padding:.7rem;font-size:1rem;background:#635bff;color:#fff;\
border:0;border-radius:4px;cursor:pointer}
button.secondary{margin-top:.75rem;background:#fff;color:#635bff;border:1px solid #635bff}
.alert{background:#fdecee;color:#b00020;padding:.75rem;border-radius:4px}
.hint{color:#555;font-size:.85rem;margin:.25rem 0 0}
a.button{display:block;text-align:center;margin-top:1.5rem;padding:.7rem;background:#635bff;\
color:#fff;border-radius:4px;text-decoration:none}
";

pub(super) fn routes(mount: &str) -> Router<StripeSimulator> {
    Router::new()
        .route(&format!("{mount}/checkout/{{id}}"), get(show))
        .route(&format!("{mount}/checkout/{{id}}/pay"), post(pay))
        .route(&format!("{mount}/checkout/{{id}}/cancel"), post(cancel))
        .route(&format!("{mount}/checkout.css"), get(stylesheet))
}

/// A page with the checkout's stylesheet and CSP, and the security headers of every page.
fn html(sim: &StripeSimulator, status: StatusCode, title: &str, body: &str) -> Response {
    let stylesheet = format!("{}/checkout.css", sim.mount());
    page(status, title, &stylesheet, CONTENT_SECURITY_POLICY, body)
}

/// A page with a heading, a message and, if given, a link onwards.
fn notice(
    sim: &StripeSimulator,
    status: StatusCode,
    title: &str,
    message: &str,
    link: Option<(&str, &str)>,
) -> Response {
    let mut body = format!("<h1>{}</h1><p>{}</p>", escape(title), escape(message));
    if let Some((text, href)) = link {
        let _ = write!(
            body,
            "<a class=\"button\" href=\"{}\">{}</a>",
            escape(href),
            escape(text)
        );
    }
    html(sim, status, title, &body)
}

/// The page for a failed lookup or change: not found, or the simulator's own trouble.
fn failed(sim: &StripeSimulator, failure: Failure) -> Response {
    match failure {
        Failure::Storage(error) => {
            tracing::error!(%error, "the Stripe simulator's database failed");
            notice(
                sim,
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "The checkout could not be loaded or saved, and nothing was charged. Try again \
                 in a moment.",
                None,
            )
        }
        Failure::Api(_) => not_found(sim),
    }
}

fn not_found(sim: &StripeSimulator) -> Response {
    notice(
        sim,
        StatusCode::NOT_FOUND,
        "Checkout not found",
        "There is no checkout session at this address.",
        None,
    )
}

/// The page of a session that can no longer be paid: already paid, or expired.
fn closed(sim: &StripeSimulator, session: &Session, status_if_paid: StatusCode) -> Response {
    if session.status == SessionStatus::Complete {
        let success = session.success_redirect();
        notice(
            sim,
            status_if_paid,
            "Payment complete",
            "This order has already been paid; nothing more is due.",
            Some(("Continue", &success)),
        )
    } else {
        notice(
            sim,
            StatusCode::GONE,
            "This checkout has expired",
            "The time to pay for this order ran out, so nothing was charged. Go back to the \
             site to start again.",
            session
                .request
                .cancel_url
                .as_deref()
                .map(|url| ("Back to the site", url)),
        )
    }
}

/// What the buyer typed that the page shows again after a refusal (never the card).
#[derive(Debug, Default)]
struct Entered {
    email: String,
    name: String,
}

/// Why a payment did not go through, and which field it concerns.
struct Refusal {
    status: StatusCode,
    field: &'static str,
    message: &'static str,
}

fn payment_page(
    sim: &StripeSimulator,
    session: &Session,
    entered: &Entered,
    refusal: Option<&Refusal>,
) -> Response {
    let amount = session.money(session.amount_total()).to_string();
    let action = format!("{}/checkout/{}", escape(sim.mount()), escape(&session.id));
    let mut body = format!(
        "<p class=\"badge\">Test mode</p><h1>Pay {}</h1><ul class=\"items\">",
        escape(&amount)
    );
    for item in &session.request.line_items {
        let quantity = if item.quantity > 1 {
            format!("{} × ", item.quantity)
        } else {
            String::new()
        };
        let _ = write!(
            body,
            "<li><span>{}</span><span>{quantity}{}</span></li>",
            escape(&item.name),
            escape(&session.money(item.unit_amount).to_string())
        );
    }
    // With a coupon: the subtotal, what the coupon takes off (under its name) and what is due.
    if let Some(discount) = &session.discount {
        let label = discount.name.as_deref().unwrap_or(&discount.coupon);
        let _ = write!(
            body,
            "<li class=\"subtotal\"><span>Subtotal</span><span>{}</span></li>\
             <li class=\"discount\"><span>{}</span><span>{}</span></li>\
             <li class=\"total\"><span>Total due</span><span>{}</span></li>",
            escape(&session.money(session.amount_subtotal()).to_string()),
            escape(label),
            escape(&session.money(-session.amount_discount()).to_string()),
            escape(&amount),
        );
    }
    body.push_str("</ul>");
    if let Some(refusal) = refusal {
        let _ = write!(
            body,
            "<p class=\"alert\" role=\"alert\" id=\"refusal\">{}</p>",
            escape(refusal.message)
        );
    }
    // The field a refusal is about is marked invalid and described by the alert.
    let refused = |field: &str| refusal.is_some_and(|refusal| refusal.field == field);
    let _ = write!(body, "<form method=\"post\" action=\"{action}/pay\">");
    match &session.request.customer_email {
        Some(email) => {
            let _ = write!(
                body,
                "<p><span class=\"label\">Email</span>{}</p>",
                escape(email)
            );
        }
        None => {
            let _ = write!(
                body,
                "<label for=\"email\">Email</label><input id=\"email\" name=\"email\" \
                 type=\"email\" autocomplete=\"email\" required value=\"{}\"{}>",
                escape(&entered.email),
                if refused("email") {
                    " aria-invalid=\"true\" aria-describedby=\"refusal\""
                } else {
                    ""
                },
            );
        }
    }
    let _ = write!(
        body,
        "<fieldset><legend class=\"label\">Card information</legend>\
         <label for=\"card_number\">Card number</label>\
         <input id=\"card_number\" name=\"card_number\" inputmode=\"numeric\" \
         autocomplete=\"cc-number\" placeholder=\"1234 1234 1234 1234\" required \
         aria-describedby=\"{card_described_by}\"{card_invalid}>\
         <p class=\"hint\" id=\"card-hint\">{hint}</p>\
         <div class=\"row\"><div><label for=\"card_expiry\">Expiry</label>\
         <input id=\"card_expiry\" name=\"card_expiry\" inputmode=\"numeric\" \
         autocomplete=\"cc-exp\" placeholder=\"MM / YY\"></div>\
         <div><label for=\"card_cvc\">CVC</label>\
         <input id=\"card_cvc\" name=\"card_cvc\" inputmode=\"numeric\" autocomplete=\"cc-csc\" \
         placeholder=\"123\"></div></div></fieldset>\
         <label for=\"name\">Name on card</label>\
         <input id=\"name\" name=\"name\" autocomplete=\"cc-name\" value=\"{name}\">\
         <button type=\"submit\">Pay {amount}</button></form>",
        card_described_by = if refused("card_number") {
            "card-hint refusal"
        } else {
            "card-hint"
        },
        card_invalid = if refused("card_number") {
            " aria-invalid=\"true\""
        } else {
            ""
        },
        hint = escape(TEST_CARDS_HINT),
        name = escape(&entered.name),
        amount = escape(&amount),
    );
    if session.request.cancel_url.is_some() {
        let _ = write!(
            body,
            "<form method=\"post\" action=\"{action}/cancel\">\
             <button type=\"submit\" class=\"secondary\">Cancel and go back</button></form>"
        );
    }
    if let Some(expires) = DateTime::from_timestamp(session.request.expires_at, 0) {
        let _ = write!(
            body,
            "<p class=\"hint\">Pay before {} UTC.</p>",
            expires.format("%Y-%m-%d %H:%M")
        );
    }
    let title = match session.request.line_items.first() {
        Some(item) => format!("Pay {amount} · {}", item.name),
        None => format!("Pay {amount}"),
    };
    let status = refusal.map_or(StatusCode::OK, |refusal| refusal.status);
    html(sim, status, &title, &body)
}

async fn show(State(sim): State<StripeSimulator>, Path(id): Path<String>) -> Response {
    match sim.with_ledger(|ledger| ledger.session(&id)) {
        Err(failure) => failed(&sim, failure),
        Ok(None) => not_found(&sim),
        Ok(Some(session)) if session.status == SessionStatus::Open => {
            payment_page(&sim, &session, &Entered::default(), None)
        }
        Ok(Some(session)) => closed(&sim, &session, StatusCode::OK),
    }
}

/// Whether the card pays, as Stripe's test cards do; spaces and dashes are ignored.
fn charge_card(number: &str) -> Result<(), Refusal> {
    let digits: String = number
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    let refusal = |status, message| {
        Err(Refusal {
            status,
            field: "card_number",
            message,
        })
    };
    match digits.as_str() {
        PAYING_CARD => Ok(()),
        DECLINED_CARD => refusal(StatusCode::PAYMENT_REQUIRED, "Your card was declined."),
        "" => refusal(StatusCode::UNPROCESSABLE_ENTITY, "Enter a card number."),
        _ => refusal(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Use a test card: 4242 4242 4242 4242 pays, 4000 0000 0000 0002 is declined.",
        ),
    }
}

enum Payment {
    UnknownSession,
    /// Already paid or expired.
    Closed(Session),
    Refused(Session, Refusal),
    Paid(Session),
}

/// `POST {base}/checkout/{id}/pay`: a 303 to the success URL once paid, else the page again
/// with the reason (a declined card leaves the session open and sends no event, like Stripe).
async fn pay(State(sim): State<StripeSimulator>, Path(id): Path<String>, body: Bytes) -> Response {
    let field = |name: &str| {
        form_urlencoded::parse(&body)
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.trim().to_owned())
            .unwrap_or_default()
    };
    let entered = Entered {
        email: field("email"),
        name: field("name"),
    };
    let card_number = field("card_number");
    // Paying commits the session's completion and its event together, before the redirect.
    let payment = sim.with_ledger(|ledger| {
        let Some(session) = ledger.session(&id)? else {
            return Ok(Payment::UnknownSession);
        };
        if session.status != SessionStatus::Open {
            return Ok(Payment::Closed(session));
        }
        let email = match &session.request.customer_email {
            Some(email) => email.clone(),
            None if is_email(&entered.email) => entered.email.clone(),
            None => {
                let refusal = Refusal {
                    status: StatusCode::UNPROCESSABLE_ENTITY,
                    field: "email",
                    message: "Enter a valid email address.",
                };
                return Ok(Payment::Refused(session, refusal));
            }
        };
        if let Err(refusal) = charge_card(&card_number) {
            return Ok(Payment::Refused(session, refusal));
        }
        let payer = Payer {
            email: Some(email),
            name: Some(entered.name.clone()).filter(|name| !name.is_empty()),
        };
        Ok(match ledger.complete(&id, payer)? {
            Some(paid) => Payment::Paid(paid),
            None => Payment::Closed(session),
        })
    });
    let payment = match payment {
        Ok(payment) => payment,
        Err(failure) => return failed(&sim, failure),
    };
    match payment {
        Payment::UnknownSession => not_found(&sim),
        Payment::Closed(session) => closed(&sim, &session, StatusCode::CONFLICT),
        Payment::Refused(session, refusal) => {
            payment_page(&sim, &session, &entered, Some(&refusal))
        }
        Payment::Paid(session) => see_other(&sim, &session.success_redirect()),
    }
}

/// `POST {base}/checkout/{id}/cancel`: back to the merchant's cancel URL. The session stays
/// open until it expires, as at Stripe.
async fn cancel(State(sim): State<StripeSimulator>, Path(id): Path<String>) -> Response {
    match sim.with_ledger(|ledger| ledger.session(&id)) {
        Err(failure) => failed(&sim, failure),
        Ok(None) => not_found(&sim),
        Ok(Some(session)) => match &session.request.cancel_url {
            Some(url) => see_other(&sim, url),
            None => notice(
                &sim,
                StatusCode::OK,
                "Checkout cancelled",
                "Nothing was charged. You can close this page.",
                None,
            ),
        },
    }
}

/// A 303 to a URL the API validated when the session was created.
fn see_other(sim: &StripeSimulator, url: &str) -> Response {
    match HeaderValue::from_str(url) {
        Ok(location) => (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response(),
        Err(_) => notice(
            sim,
            StatusCode::INTERNAL_SERVER_ERROR,
            "Cannot go back to the site",
            "The merchant's return address is not usable.",
            None,
        ),
    }
}

async fn stylesheet() -> Response {
    local_support::html::stylesheet(STYLESHEET)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_cards_pay_or_decline_with_spaces_and_dashes() {
        assert!(charge_card("4242 4242 4242 4242").is_ok());
        assert!(charge_card("4242-4242-4242-4242").is_ok());
        let declined = charge_card("4000 0000 0000 0002").unwrap_err();
        assert_eq!(declined.message, "Your card was declined.");
        let other = charge_card("5555 5555 5555 4444").unwrap_err();
        assert!(
            other.message.starts_with("Use a test card"),
            "{}",
            other.message
        );
    }
}
