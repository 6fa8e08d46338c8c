//! `POST /events/{id}/checkout`: hold a seat for each ticket of the order, all or none (and a
//! use of its promo code with them), then start paying for them (Stripe Checkout) or, for a
//! free order, start the registration straight away. `POST /events/{id}/quote` prices the same
//! body without holding anything.

use super::ApiPorts;
use super::bodies::{CheckoutStarted, Quote};
use super::events::visible_event;
use super::http::{ApiError, ApiRequest, ApiResponse};
use crate::event::{Event, EventView};
use crate::event_edit::EDIT_RETRIES;
use crate::identity::Caller;
use crate::ids::{HoldId, OrderId, TicketTypeId};
use crate::money::Money;
use crate::order::{Attendee, Hold, NewHold, Order, OrderStatus, Seats};
use crate::payments::{CheckoutDiscount, CheckoutLine, CheckoutRequest, order_total};
use crate::promo::{MAX_CODE_CHARS, PromoRefusal, canonical_code};
use crate::registration::{MAX_ATTENDEE_NAME_CHARS, OrderedTicket, RegistrationRequest};
use crate::store::{ReleaseScope, StoreError};
use crate::ticket_type::{MAX_TICKETS_PER_ORDER, SalesClosed};
use crate::validation::{ValidationErrors, single_line};
use chrono::{DateTime, TimeDelta, Utc};
use serde::Deserialize;

/// How long a seat is held while its buyer pays. The session expires with the hold, and Stripe
/// refuses an `expires_at` less than 30 minutes after the session's creation, which comes a
/// moment after the hold's: one minute more covers the trip.
pub const HOLD_MINUTES: i64 = 31;

/// The order id of a free registration: one per hold, and a valid execution name (at most 80
/// characters of `[A-Za-z0-9_-]`).
pub fn free_order_id(hold: HoldId) -> OrderId {
    OrderId::from(format!("free_{}", hold.as_uuid().simple()))
}

/// What a buyer asks for: the tickets of the order, each of a type and with its holder's name.
/// A body may be left out for an event of one type: one ticket, in the buyer's name.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CheckoutBody {
    tickets: Vec<WantedTicket>,
    #[serde(default)]
    promo_code: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct WantedTicket {
    ticket_type_id: TicketTypeId,
    #[serde(default)]
    holder_name: Option<String>,
}

/// The tickets an order takes, checked against the event, its types' sales windows and
/// per-order maximums, and the ticket's rules for holders' names; and the promo code it names.
fn wanted_tickets(
    event: &Event,
    request: &ApiRequest,
    now: DateTime<Utc>,
) -> Result<(Vec<OrderedTicket>, Option<String>), ApiError> {
    let CheckoutBody {
        tickets: wanted,
        promo_code,
    } = if request.body.iter().all(u8::is_ascii_whitespace) {
        match &event.ticket_types[..] {
            [only] => CheckoutBody {
                tickets: vec![WantedTicket {
                    ticket_type_id: only.id,
                    holder_name: None,
                }],
                promo_code: None,
            },
            _ => {
                return Err(ApiError::bad_request(
                    "choose a ticket type: `tickets` must list the tickets",
                ));
            }
        }
    } else {
        request.json::<CheckoutBody>()?
    };
    if wanted.is_empty() {
        return Err(ApiError::bad_request(
            "`tickets` must list at least one ticket",
        ));
    }
    if wanted.len() > MAX_TICKETS_PER_ORDER as usize {
        return Err(ApiError::bad_request(format!(
            "`tickets`: an order takes at most {MAX_TICKETS_PER_ORDER} tickets"
        )));
    }
    let mut errors = ValidationErrors::default();
    let mut tickets = Vec::new();
    for wanted in wanted {
        let ticket_type = event.ticket_type(wanted.ticket_type_id).ok_or_else(|| {
            ApiError::bad_request(format!(
                "`tickets`: the event has no ticket type {}",
                wanted.ticket_type_id
            ))
        })?;
        // A blank name is no name: the ticket then carries the buyer's.
        let holder_name = wanted
            .holder_name
            .filter(|name| !name.trim().is_empty())
            .map(|name| single_line(&mut errors, "holderName", &name, MAX_ATTENDEE_NAME_CHARS));
        tickets.push(OrderedTicket {
            ticket_type_id: ticket_type.id,
            holder_name,
        });
    }
    if !errors.0.is_empty() {
        return Err(ApiError::bad_request(format!("`tickets`: {errors}")));
    }
    let seats: Seats = tickets.iter().map(|ticket| ticket.ticket_type_id).collect();
    for (type_id, count) in seats.iter() {
        let Some(ticket_type) = event.ticket_type(type_id) else {
            continue;
        };
        if count > ticket_type.max_per_order {
            return Err(ApiError::bad_request(format!(
                "`tickets`: an order takes at most {} of the ticket type {:?}",
                ticket_type.max_per_order, ticket_type.name
            )));
        }
        match ticket_type.closed_at(now) {
            Some(SalesClosed::NotYet) => {
                return Err(ApiError::conflict(format!(
                    "the ticket type {:?} is not on sale yet",
                    ticket_type.name
                )));
            }
            Some(SalesClosed::Over) => {
                return Err(ApiError::conflict(format!(
                    "the ticket type {:?} is no longer on sale",
                    ticket_type.name
                )));
            }
            None => {}
        }
    }
    Ok((tickets, promo_code))
}

/// A promo code applied to an order: what it takes off, and how that reads.
#[derive(Debug, Clone)]
struct AppliedPromo {
    code: String,
    label: String,
    discount_minor: i64,
}

/// An order as asked for, checked and priced: its tickets and the promo code it uses.
struct Priced {
    tickets: Vec<OrderedTicket>,
    promo: Option<AppliedPromo>,
}

impl Priced {
    fn lines(&self, event: &Event) -> Vec<CheckoutLine> {
        lines(event, &self.tickets)
    }

    /// What the code takes off, when that is something: a percentage of a cheap order may
    /// round to nothing, and Stripe takes no coupon of 0.
    fn discount(&self) -> Option<CheckoutDiscount> {
        self.promo
            .as_ref()
            .filter(|promo| promo.discount_minor > 0)
            .map(|promo| CheckoutDiscount {
                label: promo.label.clone(),
                amount_minor: promo.discount_minor,
            })
    }

    fn total(&self, event: &Event) -> Money {
        order_total(event.currency, &self.lines(event), self.discount().as_ref())
    }

    fn seats(&self) -> Seats {
        self.tickets
            .iter()
            .map(|ticket| ticket.ticket_type_id)
            .collect()
    }
}

fn promo_refused(refusal: PromoRefusal) -> ApiError {
    match refusal.is_conflict() {
        true => ApiError::conflict(refusal.to_string()),
        false => ApiError::bad_request(refusal.to_string()),
    }
}

/// The order the request asks for, with its promo code judged: unknown, outside its window,
/// for none of the order's types or used up (as far as a read tells; the hold counts the use
/// atomically) each refuse it.
async fn priced_order(
    ports: &ApiPorts,
    event: &Event,
    request: &ApiRequest,
    now: DateTime<Utc>,
) -> Result<Priced, ApiError> {
    let (tickets, promo_code) = wanted_tickets(event, request, now)?;
    let mut priced = Priced {
        tickets,
        promo: None,
    };
    let Some(code) = promo_code
        .as_deref()
        .map(canonical_code)
        .filter(|code| !code.is_empty())
    else {
        return Ok(priced);
    };
    if code.chars().count() > MAX_CODE_CHARS {
        return Err(ApiError::bad_request(format!(
            "`promoCode` must be at most {MAX_CODE_CHARS} characters"
        )));
    }
    let view = ports
        .store
        .get_promo_code(event.id, &code)
        .await
        .map_err(ApiError::store)?
        .ok_or_else(|| promo_refused(PromoRefusal::Unknown(code.clone())))?;
    view.promo.check_window(now).map_err(promo_refused)?;
    let discount_minor = view
        .promo
        .discount_minor(event, &priced.seats())
        .map_err(promo_refused)?;
    if view.used >= view.promo.max_uses {
        return Err(promo_refused(PromoRefusal::UsedUp(code)));
    }
    priced.promo = Some(AppliedPromo {
        label: view.promo.label(event),
        code,
        discount_minor,
    });
    Ok(priced)
}

/// The event named by the path, still open, and the order the body asks of it, priced: what
/// a quote answers and a checkout holds.
/// What a checkout or edit of a cancelled event is told.
pub(crate) const CANCELLED: &str = "the event has been cancelled";

async fn open_event_order(
    ports: &ApiPorts,
    caller: &Caller,
    request: &ApiRequest,
) -> Result<(EventView, Priced), ApiError> {
    let view = visible_event(&*ports.store, caller, request).await?;
    let event = &view.event;
    let now = ports.clock.now();
    if view.is_cancelled() {
        return Err(ApiError::conflict(CANCELLED));
    }
    if !view.on_sale() {
        return Err(ApiError::conflict(
            "the event is not on sale: its organizer has not published it",
        ));
    }
    if now >= event.starts_at {
        return Err(ApiError::conflict("the event has already started"));
    }
    let priced = priced_order(ports, event, request, now).await?;
    // Stripe refuses a card payment below its minimum; a free order pays nothing.
    let total = priced.total(event);
    if let Some(minimum) = event.currency.minimum_charge_minor()
        && (1..minimum).contains(&total.amount_minor)
    {
        let minimum = Money {
            amount_minor: minimum,
            ..total
        };
        return Err(ApiError::conflict(format!(
            "the order's total, {total}, is below the smallest card payment, {minimum}"
        )));
    }
    Ok((view, priced))
}

pub(crate) async fn quote(
    ports: &ApiPorts,
    caller: &Caller,
    request: &ApiRequest,
) -> Result<ApiResponse, ApiError> {
    let (EventView { event, .. }, priced) = open_event_order(ports, caller, request).await?;
    let subtotal = order_total(event.currency, &priced.lines(&event), None);
    let discount_minor = priced.promo.as_ref().map_or(0, |p| p.discount_minor);
    Ok(ApiResponse::json(
        200,
        &Quote {
            currency: event.currency.code().to_ascii_lowercase(),
            subtotal_minor: subtotal.amount_minor,
            discount_minor,
            total_minor: subtotal.amount_minor - discount_minor,
            promo_code: priced.promo.map(|promo| promo.code),
        },
    ))
}

pub(crate) async fn checkout(
    ports: &ApiPorts,
    caller: &Caller,
    request: &ApiRequest,
) -> Result<ApiResponse, ApiError> {
    let (event, priced, hold) = hold_seats(ports, caller, request).await?;
    let sale = Sale {
        event: &event,
        priced,
        hold: &hold,
    };
    let (order_id, checkout_url) = if sale.total().is_free() {
        (register_free(ports, caller, &sale).await?, None)
    } else {
        let (id, url) = start_payment(ports, caller, &sale).await?;
        (id, Some(url))
    };
    Ok(ApiResponse::json(
        201,
        &CheckoutStarted {
            order_id,
            checkout_url,
            hold_expires_at: hold.expires_at,
        },
    ))
}

/// Judges and prices the order and holds its seats. A hold pins the event's version its prices
/// were judged by: if the organizer edited the event meanwhile, the order is judged again.
async fn hold_seats(
    ports: &ApiPorts,
    caller: &Caller,
    request: &ApiRequest,
) -> Result<(Event, Priced, Hold), ApiError> {
    for _ in 0..EDIT_RETRIES {
        let (view, priced) = open_event_order(ports, caller, request).await?;
        let event = view.event;
        let now = ports.clock.now();
        let new_hold = NewHold {
            id: HoldId::new(&*ports.ids),
            seats: priced.seats(),
            promo_code: priced.promo.as_ref().map(|promo| promo.code.clone()),
            user_id: caller.user_id.clone(),
            expires_at: now + TimeDelta::minutes(ports.hold_minutes),
            event_version: Some(view.version),
        };
        let refused = match ports.store.hold_seat(event.id, &new_hold, now).await {
            Ok(hold) => return Ok((event, priced, hold)),
            Err(StoreError::EventChanged) => continue,
            Err(error) => error,
        };
        return Err(match refused {
            StoreError::SoldOut => ApiError::conflict(match new_hold.seats.total() {
                1 => "the event is sold out".to_owned(),
                wanted => format!("the event has fewer than {wanted} seats left"),
            }),
            StoreError::TypeSoldOut(type_id) => ApiError::conflict(format!(
                "the ticket type {:?} is sold out{}",
                event.type_name(type_id),
                match new_hold.seats.of(type_id) {
                    1 => String::new(),
                    wanted => format!(" (fewer than {wanted} left)"),
                }
            )),
            StoreError::EventEnded => ApiError::conflict("the event has already started"),
            StoreError::EventCancelled => ApiError::conflict(CANCELLED),
            StoreError::PromoCodeUsedUp(code) => promo_refused(PromoRefusal::UsedUp(code)),
            StoreError::NotFound("promo code") => promo_refused(PromoRefusal::Unknown(
                new_hold.promo_code.clone().unwrap_or_default(),
            )),
            StoreError::NotFound(_) => ApiError::not_found("event"),
            other => ApiError::store(other),
        });
    }
    Err(ApiError::conflict(
        "the event is being edited by its organizer; try again",
    ))
}

/// One line per ticket type, in the order the buyer first named each: its name too when the
/// event has several.
fn lines(event: &Event, tickets: &[OrderedTicket]) -> Vec<CheckoutLine> {
    let mut lines: Vec<(TicketTypeId, CheckoutLine)> = Vec::new();
    for ticket in tickets {
        if let Some((_, line)) = lines
            .iter_mut()
            .find(|(id, _)| *id == ticket.ticket_type_id)
        {
            line.quantity += 1;
            continue;
        }
        let Some(ticket_type) = event.ticket_type(ticket.ticket_type_id) else {
            continue;
        };
        let title = match event.ticket_types.len() {
            1 => event.title.clone(),
            _ => format!("{} — {}", event.title, ticket_type.name),
        };
        let line = CheckoutLine {
            title,
            unit_price_minor: ticket_type.price_minor,
            quantity: 1,
        };
        lines.push((ticket_type.id, line));
    }
    lines.into_iter().map(|(_, line)| line).collect()
}

/// What a checkout sells: held seats, one per ticket with the name to put on it, perhaps at a
/// promo code's discount.
struct Sale<'a> {
    event: &'a Event,
    priced: Priced,
    hold: &'a Hold,
}

impl Sale<'_> {
    fn total(&self) -> Money {
        self.priced.total(self.event)
    }
}

/// Gives the seat back after a failed checkout. Best effort: an unreleased hold expires with
/// its checkout anyway.
async fn release(ports: &ApiPorts, hold: &Hold) {
    if let Err(error) = ports
        .store
        .release_hold(
            hold.event_id,
            hold.id,
            ReleaseScope::Unpaid,
            ports.clock.now(),
        )
        .await
    {
        tracing::error!(%error, hold = %hold.id, "could not release the hold of a failed checkout");
    }
}

async fn register_free(
    ports: &ApiPorts,
    caller: &Caller,
    sale: &Sale<'_>,
) -> Result<OrderId, ApiError> {
    let hold = sale.hold;
    let email = caller.email.clone().unwrap_or_default();
    let name = caller.name.clone().unwrap_or_else(|| email.clone());
    let registration = RegistrationRequest {
        order_id: free_order_id(hold.id),
        event_id: sale.event.id,
        hold_id: hold.id,
        ticket_type_id: None,
        tickets: sale.priced.tickets.clone(),
        user_id: caller.user_id.clone(),
        payment_intent_id: None,
        amount_minor: 0,
        currency: sale.event.currency,
        attendee: Attendee { name, email },
    };
    if let Err(errors) = registration.validate() {
        release(ports, hold).await;
        return Err(ApiError::bad_request(format!(
            "your profile cannot go on a ticket: {errors}"
        )));
    }
    let now = ports.clock.now();
    if let Err(error) = ports.store.create_order(&registration.order(now)).await {
        release(ports, hold).await;
        return Err(ApiError::store(error));
    }
    if let Err(error) = ports.workflow.start_registration(&registration).await {
        // Close the order first: should the start have gone through after all, the saga finds
        // the order failed and undoes itself.
        let reason = "the registration could not start";
        if let Err(error) = ports
            .store
            .transition_order(
                &registration.order_id,
                OrderStatus::Failed,
                Some(reason),
                now,
            )
            .await
        {
            tracing::error!(%error, "could not fail the order of a registration that did not start");
        }
        release(ports, hold).await;
        return Err(ApiError::workflow(error));
    }
    Ok(registration.order_id)
}

async fn start_payment(
    ports: &ApiPorts,
    caller: &Caller,
    sale: &Sale<'_>,
) -> Result<(OrderId, String), ApiError> {
    let (event, hold) = (sale.event, sale.hold);
    let site = ports.site_url.trim_end_matches('/');
    let checkout = CheckoutRequest {
        event_id: event.id,
        hold_id: hold.id,
        user_id: caller.user_id.clone(),
        currency: event.currency,
        lines: sale.priced.lines(event),
        discount: sale.priced.discount(),
        tickets: sale.priced.tickets.clone(),
        customer_email: caller.email.clone(),
        expires_at: hold.expires_at,
        // Stripe fills in `{CHECKOUT_SESSION_ID}`: the order the site then polls.
        success_url: format!("{site}/?order={{CHECKOUT_SESSION_ID}}"),
        cancel_url: format!("{site}/?event={}", event.id),
    };
    let session = match ports.payments.create_checkout(&checkout).await {
        Ok(session) => session,
        Err(error) => {
            release(ports, hold).await;
            return Err(ApiError::payments(error));
        }
    };
    let now = ports.clock.now();
    let order = Order {
        id: session.id.clone(),
        event_id: event.id,
        hold_id: hold.id,
        user_id: caller.user_id.clone(),
        payment_intent_id: None,
        amount: sale.total(),
        status: OrderStatus::Pending,
        ticket_ids: Vec::new(),
        failure_reason: None,
        created_at: now,
        updated_at: now,
    };
    if let Err(error) = ports.store.create_order(&order).await {
        // Nobody may pay for a seat we no longer hold.
        if let Err(error) = ports.payments.expire_checkout(&session.id).await {
            tracing::error!(%error, session = %session.id, "could not expire an orphaned checkout");
        }
        release(ports, hold).await;
        return Err(ApiError::store(error));
    }
    Ok((session.id, session.url))
}
