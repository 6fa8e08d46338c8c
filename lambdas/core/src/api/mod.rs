//! The HTTP API as plain async functions over the ports, free of any HTTP framework. A gateway
//! (API Gateway's payload 2.0 on AWS, ticketd's gateway locally) turns a request into an
//! [`ApiRequest`], calls [`handle`] and writes the [`ApiResponse`] back.
//!
//! [`ROUTES`] is the one list of routes: the gateway, the Lambda binaries, the CDK app and the
//! OpenAPI document ([`OPENAPI`], checked against it by a test) all follow it. The bodies it
//! answers are the types of [`bodies`], whose derived JSON Schemas the document carries.

mod attendees;
pub mod bodies;
mod checkout;
mod csv;
mod events;
mod holders;
mod http;
mod orders;
mod organizers;
mod promo_codes;
mod scan;
mod ticket_pdfs;
mod webhook;

use std::sync::Arc;

use crate::clock::Clock;
use crate::files::TicketFiles;
use crate::identity::Group;
use crate::ids::Ids;
use crate::payments::Payments;
use crate::registration::TicketRenderer;
use crate::store::Store;
use crate::ticket_code::{TicketSigner, TicketVerifier};
use crate::workflow::Workflow;

pub use attendees::CSV_COLUMNS;
pub use checkout::{HOLD_MINUTES, free_order_id};
pub use csv::{csv_cell, csv_row};
pub use http::{ApiError, ApiRequest, ApiResponse, MAX_BODY_BYTES};

/// The OpenAPI 3.1 document of this API.
pub const OPENAPI: &str = include_str!("../../api/openapi.json");

/// What the handlers run on. Each handler takes only the ports it needs.
#[derive(Clone)]
pub struct ApiPorts {
    pub store: Arc<dyn Store>,
    pub files: Arc<dyn TicketFiles>,
    pub payments: Arc<dyn Payments>,
    pub workflow: Arc<dyn Workflow>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn Ids>,
    /// Checks the signed codes scanned at the door.
    pub verifier: Arc<TicketVerifier>,
    /// Draws a ticket again when its holder is renamed; only where that route runs.
    pub ticket_pdfs: Option<TicketPdfs>,
    /// Stripe's webhook signing secrets (`whsec_...`); more than one while a secret is rotated.
    pub webhook_secrets: Vec<String>,
    /// The hosted site's origin without a trailing slash (`https://tickets.example.org`): where
    /// Stripe Checkout sends the buyer back.
    pub site_url: String,
    /// How long a checkout holds its seat: [`HOLD_MINUTES`] wherever real Stripe takes the
    /// payment (its sessions last at least 30 minutes); shorter only with ticketd's simulator.
    pub hold_minutes: i64,
}

/// What draws a ticket's PDF outside the registration: the renderer and the signing key.
#[derive(Clone)]
pub struct TicketPdfs {
    pub renderer: Arc<dyn TicketRenderer>,
    pub signer: Arc<TicketSigner>,
}

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No token (the Stripe webhook, which proves itself by its signature).
    Public,
    /// Any signed-in user.
    SignedIn,
    /// Members of the group only.
    Group(Group),
}

/// What a route runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handler {
    CreateEvent,
    ListEvents,
    GetEvent,
    UpdateEvent,
    PublishEvent,
    UnpublishEvent,
    CancelEvent,
    EventCancellation,
    EventStats,
    Checkout,
    Quote,
    CreatePromoCode,
    ListPromoCodes,
    UpdatePromoCode,
    EventAttendees,
    GetOrder,
    RefundOrder,
    CancelOrder,
    MyTickets,
    GetOrganizerProfile,
    PutOrganizerProfile,
    DownloadTicket,
    RenameHolder,
    Scan,
    StripeWebhook,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub method: &'static str,
    /// The path template, as API Gateway's `routeKey` and `ticketd`'s gateway name it.
    pub path: &'static str,
    pub access: Access,
    pub handler: Handler,
    /// The operation's `operationId` in the OpenAPI document (and a handy Lambda name).
    pub operation_id: &'static str,
}

impl Route {
    /// API Gateway's route key: `GET /events/{id}`.
    pub fn key(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    /// The route's Lambda binary: its operation id in kebab case (`listMyTickets` →
    /// `list-my-tickets`).
    pub fn binary_name(&self) -> String {
        let mut name = String::new();
        for character in self.operation_id.chars() {
            if character.is_ascii_uppercase() {
                name.push('-');
            }
            name.push(character.to_ascii_lowercase());
        }
        name
    }
}

const fn route(
    method: &'static str,
    path: &'static str,
    access: Access,
    handler: Handler,
    operation_id: &'static str,
) -> Route {
    Route {
        method,
        path,
        access,
        handler,
        operation_id,
    }
}

const ORGANIZER: Access = Access::Group(Group::Organizer);
const ATTENDEE: Access = Access::Group(Group::Attendee);

/// Every route of the API.
pub const ROUTES: &[Route] = &[
    route(
        "POST",
        "/events",
        ORGANIZER,
        Handler::CreateEvent,
        "createEvent",
    ),
    // `?mine=true` needs the organizer group; the handler checks it.
    route(
        "GET",
        "/events",
        Access::SignedIn,
        Handler::ListEvents,
        "listEvents",
    ),
    route(
        "GET",
        "/events/{id}",
        Access::SignedIn,
        Handler::GetEvent,
        "getEvent",
    ),
    route(
        "PUT",
        "/events/{id}",
        ORGANIZER,
        Handler::UpdateEvent,
        "updateEvent",
    ),
    route(
        "POST",
        "/events/{id}/publish",
        ORGANIZER,
        Handler::PublishEvent,
        "publishEvent",
    ),
    route(
        "POST",
        "/events/{id}/unpublish",
        ORGANIZER,
        Handler::UnpublishEvent,
        "unpublishEvent",
    ),
    route(
        "POST",
        "/events/{id}/cancel",
        ORGANIZER,
        Handler::CancelEvent,
        "cancelEvent",
    ),
    route(
        "GET",
        "/events/{id}/cancellation",
        ORGANIZER,
        Handler::EventCancellation,
        "getEventCancellation",
    ),
    route(
        "GET",
        "/events/{id}/stats",
        ORGANIZER,
        Handler::EventStats,
        "getEventStats",
    ),
    route(
        "POST",
        "/events/{id}/checkout",
        ATTENDEE,
        Handler::Checkout,
        "checkout",
    ),
    route(
        "POST",
        "/events/{id}/quote",
        ATTENDEE,
        Handler::Quote,
        "quoteOrder",
    ),
    route(
        "POST",
        "/events/{id}/promo-codes",
        ORGANIZER,
        Handler::CreatePromoCode,
        "createPromoCode",
    ),
    route(
        "GET",
        "/events/{id}/promo-codes",
        ORGANIZER,
        Handler::ListPromoCodes,
        "listPromoCodes",
    ),
    route(
        "PATCH",
        "/events/{id}/promo-codes/{code}",
        ORGANIZER,
        Handler::UpdatePromoCode,
        "updatePromoCode",
    ),
    route(
        "GET",
        "/events/{id}/attendees",
        ORGANIZER,
        Handler::EventAttendees,
        "listAttendees",
    ),
    route(
        "GET",
        "/orders/{id}",
        Access::SignedIn,
        Handler::GetOrder,
        "getOrder",
    ),
    route(
        "POST",
        "/orders/{id}/refund",
        ORGANIZER,
        Handler::RefundOrder,
        "refundOrder",
    ),
    // The buyer's own order; the handler checks the event's cut-off.
    route(
        "POST",
        "/orders/{id}/cancel",
        Access::SignedIn,
        Handler::CancelOrder,
        "cancelOrder",
    ),
    route(
        "GET",
        "/me/tickets",
        Access::SignedIn,
        Handler::MyTickets,
        "listMyTickets",
    ),
    route(
        "GET",
        "/me/organizer-profile",
        ORGANIZER,
        Handler::GetOrganizerProfile,
        "getOrganizerProfile",
    ),
    route(
        "PUT",
        "/me/organizer-profile",
        ORGANIZER,
        Handler::PutOrganizerProfile,
        "putOrganizerProfile",
    ),
    route(
        "GET",
        "/tickets/{id}/download",
        Access::SignedIn,
        Handler::DownloadTicket,
        "downloadTicket",
    ),
    route(
        "PATCH",
        "/tickets/{id}",
        Access::SignedIn,
        Handler::RenameHolder,
        "renameTicketHolder",
    ),
    route("POST", "/scan", ORGANIZER, Handler::Scan, "scanTicket"),
    // Stripe cannot hold a token: the handler verifies `Stripe-Signature` instead.
    route(
        "POST",
        "/stripe/webhook",
        Access::Public,
        Handler::StripeWebhook,
        "stripeWebhook",
    ),
];

/// The route of `method` and path template `path`.
pub fn find_route(method: &str, path: &str) -> Option<&'static Route> {
    ROUTES
        .iter()
        .find(|route| route.method.eq_ignore_ascii_case(method) && route.path == path)
}

/// Matches a concrete request path (`/events/0191…/stats`) against the table: the route and
/// its path parameters. For gateways that do not match templates themselves.
pub fn match_path(method: &str, path: &str) -> Option<(&'static Route, Vec<(String, String)>)> {
    let path = path
        .strip_suffix('/')
        .filter(|p| !p.is_empty())
        .unwrap_or(path);
    ROUTES
        .iter()
        .filter(|route| route.method.eq_ignore_ascii_case(method))
        .find_map(|route| template_params(route.path, path).map(|params| (route, params)))
}

fn template_params(template: &str, path: &str) -> Option<Vec<(String, String)>> {
    let mut params = Vec::new();
    let mut wanted = template.split('/');
    let mut given = path.split('/');
    loop {
        match (wanted.next(), given.next()) {
            (None, None) => return Some(params),
            (Some(want), Some(got)) => {
                if let Some(name) = want.strip_prefix('{').and_then(|w| w.strip_suffix('}')) {
                    if got.is_empty() {
                        return None;
                    }
                    params.push((name.to_owned(), got.to_owned()));
                } else if want != got {
                    return None;
                }
            }
            _ => return None,
        }
    }
}

/// Runs the request's route: checks the caller against the route's access, then hands the
/// request to its handler. Never panics on input and never answers 500 for a client's mistake.
pub async fn handle(ports: &ApiPorts, request: ApiRequest) -> ApiResponse {
    let Some(route) = find_route(&request.method, &request.route) else {
        return ApiError::new(404, "no such route").into();
    };
    match run(ports, route, &request).await {
        Ok(response) => response,
        Err(error) => error.into(),
    }
}

async fn run(
    ports: &ApiPorts,
    route: &Route,
    request: &ApiRequest,
) -> Result<ApiResponse, ApiError> {
    let caller = match route.access {
        Access::Public => None,
        Access::SignedIn => Some(request.caller()?),
        Access::Group(group) => {
            let caller = request.caller()?;
            if !caller.is_in(group) {
                return Err(ApiError::forbidden(format!("this needs the {group} group")));
            }
            Some(caller)
        }
    };
    if request.body.len() > MAX_BODY_BYTES {
        return Err(ApiError::body_too_large());
    }
    // Every handler but the webhook's acts for a caller; the route table gives each of them
    // SignedIn or a group (a test keeps it so), so `signed_in` fails only if that changes.
    let signed_in = || caller.ok_or_else(|| ApiError::new(401, "sign in first"));
    match route.handler {
        Handler::StripeWebhook => webhook::stripe_webhook(ports, request).await,
        Handler::CreateEvent => {
            events::create(
                &*ports.store,
                &*ports.clock,
                &*ports.ids,
                signed_in()?,
                request,
            )
            .await
        }
        Handler::ListEvents => {
            events::list(&*ports.store, &*ports.clock, signed_in()?, request).await
        }
        Handler::GetEvent => events::get(&*ports.store, &*ports.clock, signed_in()?, request).await,
        Handler::UpdateEvent => {
            events::update(
                &*ports.store,
                &*ports.clock,
                &*ports.ids,
                signed_in()?,
                request,
            )
            .await
        }
        Handler::PublishEvent => {
            events::publish(&*ports.store, &*ports.clock, signed_in()?, request).await
        }
        Handler::UnpublishEvent => {
            events::unpublish(&*ports.store, &*ports.clock, signed_in()?, request).await
        }
        Handler::CancelEvent => {
            events::cancel(
                &*ports.store,
                &*ports.workflow,
                &*ports.clock,
                signed_in()?,
                request,
            )
            .await
        }
        Handler::EventCancellation => {
            events::cancellation(&*ports.store, signed_in()?, request).await
        }
        Handler::EventStats => {
            events::stats(&*ports.store, &*ports.clock, signed_in()?, request).await
        }
        Handler::Checkout => checkout::checkout(ports, signed_in()?, request).await,
        Handler::Quote => checkout::quote(ports, signed_in()?, request).await,
        Handler::CreatePromoCode => {
            promo_codes::create(&*ports.store, &*ports.clock, signed_in()?, request).await
        }
        Handler::ListPromoCodes => promo_codes::list(&*ports.store, signed_in()?, request).await,
        Handler::UpdatePromoCode => promo_codes::update(&*ports.store, signed_in()?, request).await,
        Handler::EventAttendees => attendees::list(&*ports.store, signed_in()?, request).await,
        Handler::GetOrder => orders::get_order(ports, signed_in()?, request).await,
        Handler::RefundOrder => orders::refund(ports, signed_in()?, request).await,
        Handler::CancelOrder => orders::cancel(ports, signed_in()?, request).await,
        Handler::MyTickets => orders::my_tickets(&*ports.store, signed_in()?, request).await,
        Handler::GetOrganizerProfile => organizers::get(&*ports.store, signed_in()?).await,
        Handler::PutOrganizerProfile => {
            organizers::put(&*ports.store, &*ports.clock, signed_in()?, request).await
        }
        Handler::DownloadTicket => orders::download(ports, signed_in()?, request).await,
        Handler::RenameHolder => holders::rename(ports, signed_in()?, request).await,
        Handler::Scan => {
            scan::scan(
                &*ports.store,
                &ports.verifier,
                &*ports.clock,
                signed_in()?,
                request,
            )
            .await
        }
    }
}

#[cfg(test)]
mod tests;
