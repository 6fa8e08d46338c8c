//! `ticketd-bench flash-sale`: a flash sale through the whole stack over HTTP, in-process. Many
//! more buyers than seats check out at once (`POST /api/events/{id}/checkout` through the
//! gateway's JWT check); those who get a seat pay on the Stripe simulator's hosted page, whose
//! signed webhook starts the registration saga. Then it checks the outcome — exactly the seats
//! sold as tickets, sold-out buyers never reached Stripe, every payment became a ticket or a
//! refund — and reports the throughput.

use std::collections::HashMap;
use std::error::Error;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::Request;
use axum::http::Method;
use axum::middleware::{self, Next};
use chrono::{DateTime, TimeDelta, Utc};
use futures::{StreamExt, TryStreamExt};
use reqwest::StatusCode;
use serde_json::{Value, json};
use ticket_core::page::MAX_PAGE_SIZE;
use ticket_core::{
    EventId, OrderId, OrderStatus, PageRequest, Seats, Store, TicketStatus, room_for,
};
use tokio::sync::oneshot;

use crate::report::{latency_summary, micros, note_debug_build};
use asl::{ExecutionStatus, Executor};
use cognito_local::{self as idp, SigningKey};
use stripe_sim::{DeliveryStatus, StripeSimulator};
use ticketd::app::{self, ServeOptions};

type BoxError = Box<dyn Error + Send + Sync>;

/// How long the registrations may take to finish once every buyer is done: generous, since a
/// webhook that failed is retried for about half a minute.
const PATIENCE: Duration = Duration::from_secs(300);
/// Stripe's test card that pays.
const PAYING_CARD: &str = "4242 4242 4242 4242";

#[derive(Debug, Clone, clap::Args)]
pub struct FlashSaleArgs {
    /// Buyers, each checking out once and paying if a seat was held for them.
    #[arg(long, default_value_t = 20_000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub buyers: u32,
    /// Seats of the event on sale.
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub seats: u32,
    /// Buyers in flight at once.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub concurrency: u32,
    /// Sell three ticket types (Standard, VIP, Student; their quotas add up to more than the
    /// capacity) in orders of one to three tickets, each with a holder's name, instead of one
    /// type, one ticket per order.
    #[arg(long)]
    pub ticket_types: bool,
    /// Keep the stack's state in this directory instead of a temporary one.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

/// The different orders buyers make: [`FlashSaleArgs::order_of`] repeats after this many.
const ORDER_PATTERNS: usize = 9;

/// The mixed sale's types: name, price in cents, and quota in percent of the capacity.
const MIXED_TYPES: [(&str, i64, u32); 3] = [
    ("Standard", 2500, 60),
    ("VIP", 8000, 10),
    ("Student", 1500, 40),
];

impl FlashSaleArgs {
    /// How many tickets buyer `n` orders, and of which types (indexes into the event's types):
    /// one to three tickets, starting at each type in turn, so the orders repeat every
    /// [`ORDER_PATTERNS`] buyers.
    fn order_of(&self, n: usize) -> Vec<usize> {
        match self.ticket_types {
            false => vec![0],
            true => (0..1 + n % 3)
                .map(|i| (n / 3 + i) % MIXED_TYPES.len())
                .collect(),
        }
    }
}

pub async fn run(args: FlashSaleArgs) -> Result<(), BoxError> {
    println!(
        "flash sale through the whole stack over HTTP: {} buyers, {} seats, {} in flight \
         (gateway + JWT, checkout, Stripe simulator with hosted page and signed webhooks, \
         registration saga){}",
        args.buyers,
        args.seats,
        args.concurrency,
        match args.ticket_types {
            true => "; three ticket types, orders of 1 to 3 tickets",
            false => "",
        }
    );
    note_debug_build();
    ticket_render::warm_up();
    let temp_dir;
    let dir = match &args.data_dir {
        Some(dir) => dir.clone(),
        None => {
            temp_dir = tempfile::tempdir()?;
            temp_dir.path().to_owned()
        }
    };
    // The site is not part of the sale.
    let site_dir = dir.join("site");
    std::fs::create_dir_all(&site_dir)
        .map_err(|error| format!("cannot create {}: {error}", site_dir.display()))?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let options = ServeOptions {
        demo_accounts: false,
        ..ServeOptions::new(&dir, site_dir)
    };
    let app = app::start(options, listener).await?;
    let idp = &app.idp;
    let stack = Stack {
        url: app.url.clone(),
        issuer: idp.issuer().to_owned(),
        client_id: idp.config().client.id.clone(),
        store: app.state.store.clone(),
        executor: app.executor.clone(),
        simulator: app.simulator.clone().ok_or("no Stripe simulator")?,
        sessions_created: Arc::default(),
    };
    let router = stack.counting_sessions(app.router());
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(app.serve_router(router, async {
        let _ = stopped.await;
    }));

    let outcome = sell(&stack, &dir, &args).await;
    let _ = stop.send(());
    server.await??;
    match outcome? {
        0 => Ok(()),
        failed => Err(format!("{failed} check(s) failed").into()),
    }
}

/// The running stack as the sale sees it.
struct Stack {
    url: String,
    /// What the gateway checks tokens against.
    issuer: String,
    client_id: String,
    store: Arc<dyn Store>,
    executor: Arc<Executor>,
    simulator: StripeSimulator,
    /// Checkout sessions the simulator created: buyers who reached Stripe.
    sessions_created: Arc<AtomicUsize>,
}

impl Stack {
    /// `router` counting the successful `POST /v1/checkout/sessions` at the simulator.
    fn counting_sessions(&self, router: Router) -> Router {
        let path = format!(
            "{}/v1/checkout/sessions",
            self.simulator
                .config()
                .base_url
                .trim_start_matches(&self.url)
        );
        let count = self.sessions_created.clone();
        router.layer(middleware::from_fn(move |request: Request, next: Next| {
            let creates = request.method() == Method::POST && request.uri().path() == path;
            let count = count.clone();
            async move {
                let response = next.run(request).await;
                if creates && response.status().is_success() {
                    count.fetch_add(1, Ordering::Relaxed);
                }
                response
            }
        }))
    }

    fn api(&self, path: &str) -> String {
        format!("{}/api{path}", self.url)
    }
}

/// What happened to one buyer.
enum Outcome {
    SoldOut,
    /// Held the seats of its order and paid for them.
    Paid {
        order_id: String,
        paid_at: DateTime<Utc>,
        tickets: usize,
    },
}

struct Buyer {
    outcome: Outcome,
    /// The checkout request, answer read.
    checkout_micros: u64,
    /// The payment form's POST (paid buyers).
    pay_micros: Option<u64>,
}

/// Runs the sale and prints what it measured and checked; returns how many checks failed.
async fn sell(stack: &Stack, dir: &Path, args: &FlashSaleArgs) -> Result<usize, BoxError> {
    let http = reqwest::Client::builder()
        // The simulator's 303 goes to the site's success page: its status is the answer.
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()?;
    let tokens = mint_tokens(stack, dir, args.buyers as usize + 1)?;
    let (event_id, types) = create_event(stack, &http, &tokens[0], args).await?;

    let started = Instant::now();
    let next = AtomicUsize::new(1);
    let buyers: Vec<Buyer> = futures::stream::iter(0..args.concurrency)
        .map(|_| async {
            let mut done = Vec::new();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= tokens.len() {
                    return Ok::<_, BoxError>(done);
                }
                let tickets: Vec<Value> = args
                    .order_of(n)
                    .into_iter()
                    .enumerate()
                    .map(|(i, kind)| {
                        json!({"ticketTypeId": types[kind], "holderName": format!("Holder {n}-{i}")})
                    })
                    .collect();
                done.push(buy(stack, &http, event_id, n, &tokens[n], &tickets).await?);
            }
        })
        .buffer_unordered(args.concurrency as usize)
        .try_concat()
        .await?;
    let selling = started.elapsed();
    let paid: Vec<(&str, DateTime<Utc>)> = buyers
        .iter()
        .filter_map(|buyer| match &buyer.outcome {
            Outcome::Paid {
                order_id, paid_at, ..
            } => Some((order_id.as_str(), *paid_at)),
            Outcome::SoldOut => None,
        })
        .collect();
    tokio::time::timeout(PATIENCE, wait_for_registrations(stack, &paid))
        .await
        .map_err(|_| format!("the registrations did not finish within {PATIENCE:?}"))??;
    let wall = started.elapsed();

    let completed = completed_sessions(stack).await?;
    let orders = paid_orders(stack, &http, &paid, &completed).await?;
    let first_payment = paid.iter().map(|(_, at)| *at).min();
    let last_fulfilled = orders
        .values()
        .filter(|order| order.status == OrderStatus::Fulfilled)
        .map(|order| order.updated_at)
        .max();

    let mut checkout = Latencies::default();
    let mut sold_out = Latencies::default();
    let mut pay = Latencies::default();
    for buyer in &buyers {
        match buyer.outcome {
            Outcome::Paid { .. } => checkout.0.push(buyer.checkout_micros),
            Outcome::SoldOut => sold_out.0.push(buyer.checkout_micros),
        }
        pay.0.extend(buyer.pay_micros);
    }
    let checkouts = buyers.len();
    println!(
        "\ncheckouts: {checkouts} in {:.2} s = {:.0}/s; {} held a seat ({}), {} sold out ({})",
        selling.as_secs_f64(),
        checkouts as f64 / selling.as_secs_f64(),
        checkout.0.len(),
        checkout.summary(),
        sold_out.0.len(),
        sold_out.summary(),
    );
    println!(
        "payments on the hosted page: {} ({})",
        pay.0.len(),
        pay.summary()
    );
    let tickets: usize = orders.values().map(|order| order.tickets).sum();
    if let (Some(first), Some(last)) = (first_payment, last_fulfilled) {
        let seconds = (last - first).as_seconds_f64();
        println!(
            "registrations: {tickets} tickets in {seconds:.2} s from the first payment to the \
             last FULFILLED = {:.0}/s",
            tickets as f64 / seconds
        );
    }
    println!(
        "wall time: {:.2} s from the first checkout to the last registration finished",
        wall.as_secs_f64()
    );

    let checks = verify(stack, args, event_id, &buyers, &orders, &completed).await?;
    println!("checks:");
    for (passed, text) in &checks {
        println!("  {} {text}", if *passed { "ok    " } else { "FAILED" });
    }
    Ok(checks.iter().filter(|(passed, _)| !passed).count())
}

/// Access tokens as the identity provider issues them at sign-in: the organizer's first, then
/// one per buyer, each a distinct user. Minted with the provider's own key rather than by
/// signing up: 20,000 sign-ups would hash 20,000 argon2id passwords, minutes of work that is
/// not what the sale measures. Signing (RS256) is spread over the cores and not timed either.
fn mint_tokens(stack: &Stack, dir: &Path, count: usize) -> Result<Vec<String>, BoxError> {
    let began = Instant::now();
    // The identity provider's key, which `app::start` made in the data directory.
    let key = SigningKey::load_or_create(dir)?;
    let now = Utc::now().timestamp();
    let token = |n: usize| {
        let (sub, groups) = match n {
            0 => ("flash-sale-organizer".to_owned(), json!(["organizer"])),
            n => (format!("flash-sale-buyer-{n}"), json!(["attendee"])),
        };
        key.sign(&json!({
            "sub": sub,
            "iss": stack.issuer,
            "version": 2,
            "client_id": stack.client_id,
            "token_use": "access",
            "scope": idp::SCOPES.join(" "),
            "auth_time": now,
            "iat": now,
            "exp": now + idp::TOKEN_SECONDS,
            "jti": uuid::Uuid::new_v4().to_string(),
            "username": sub,
            "cognito:groups": groups,
        }))
    };
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let per_thread = count.div_ceil(threads);
    let tokens = std::thread::scope(|scope| {
        let parts: Vec<_> = (0..count)
            .step_by(per_thread)
            .map(|from| {
                scope.spawn(move || {
                    (from..count.min(from + per_thread))
                        .map(token)
                        .collect::<Result<Vec<_>, _>>()
                })
            })
            .collect();
        parts
            .into_iter()
            .map(|part| part.join().expect("token minting does not panic"))
            .collect::<Result<Vec<_>, _>>()
    })?
    .concat();
    println!(
        "{count} access tokens minted in {:.1} s (not timed)",
        began.elapsed().as_secs_f64()
    );
    Ok(tokens)
}

/// `POST /api/events` as the organizer: a paid event of `seats` seats a month from now, of
/// one type or of [`MIXED_TYPES`]; its id and its types' ids.
async fn create_event(
    stack: &Stack,
    http: &reqwest::Client,
    organizer: &str,
    args: &FlashSaleArgs,
) -> Result<(EventId, Vec<String>), BoxError> {
    let mut event = json!({
        "title": "Flash sale",
        "venue": "Benchmark hall",
        "startsAt": (Utc::now() + TimeDelta::days(30)).to_rfc3339(),
        "capacity": args.seats,
        "currency": "EUR",
    });
    match args.ticket_types {
        false => event["priceMinor"] = json!(2500),
        true => {
            let types: Vec<Value> = MIXED_TYPES
                .iter()
                .map(|&(name, price, percent)| {
                    json!({
                        "name": name,
                        "priceMinor": price,
                        "quota": (args.seats * percent / 100).max(1),
                        "maxPerOrder": 3,
                    })
                })
                .collect();
            event["ticketTypes"] = json!(types);
        }
    }
    let response = http
        .post(stack.api("/events"))
        .bearer_auth(organizer)
        .json(&event)
        .send()
        .await?;
    let status = response.status();
    let body: Value = response.json().await?;
    if status != StatusCode::CREATED {
        return Err(format!("creating the event answered {status}: {body}").into());
    }
    let id: EventId = body["id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| format!("the new event has no id: {body}"))?;
    // A new event is a draft: it sells once published.
    let published = http
        .post(stack.api(&format!("/events/{id}/publish")))
        .bearer_auth(organizer)
        .send()
        .await?;
    if published.status() != StatusCode::OK {
        return Err(format!("publishing the event answered {}", published.status()).into());
    }
    let types = body["ticketTypes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|ticket_type| ticket_type["id"].as_str().map(str::to_owned))
        .collect();
    Ok((id, types))
}

/// One buyer: check out `tickets`; with their seats held, pay on the hosted page with the
/// paying test card.
async fn buy(
    stack: &Stack,
    http: &reqwest::Client,
    event_id: EventId,
    n: usize,
    token: &str,
    tickets: &[Value],
) -> Result<Buyer, BoxError> {
    let began = Instant::now();
    let response = http
        .post(stack.api(&format!("/events/{event_id}/checkout")))
        .bearer_auth(token)
        .json(&json!({ "tickets": tickets }))
        .send()
        .await?;
    let status = response.status();
    let body: Value = response.json().await?;
    let checkout_micros = micros(began.elapsed());
    match status {
        StatusCode::CONFLICT => {
            return Ok(Buyer {
                outcome: Outcome::SoldOut,
                checkout_micros,
                pay_micros: None,
            });
        }
        StatusCode::CREATED => {}
        _ => return Err(format!("buyer {n}: checkout answered {status}: {body}").into()),
    }
    let (Some(order_id), Some(checkout_url)) =
        (body["orderId"].as_str(), body["checkoutUrl"].as_str())
    else {
        return Err(
            format!("buyer {n}: the checkout answer lacks its order or URL: {body}").into(),
        );
    };
    let began = Instant::now();
    // An access token carries no email, so the page asks for one, as Stripe's would.
    let paid = http
        .post(format!("{checkout_url}/pay"))
        .form(&[
            ("email", format!("buyer{n}@example.com").as_str()),
            ("card_number", PAYING_CARD),
            ("card_expiry", "12 / 34"),
            ("card_cvc", "123"),
            ("name", &format!("Buyer {n}")),
        ])
        .send()
        .await?;
    let paid_at = Utc::now();
    let pay_micros = micros(began.elapsed());
    if paid.status() != StatusCode::SEE_OTHER {
        return Err(format!("buyer {n}: paying answered {}", paid.status()).into());
    }
    Ok(Buyer {
        outcome: Outcome::Paid {
            order_id: order_id.to_owned(),
            paid_at,
            tickets: tickets.len(),
        },
        checkout_micros,
        pay_micros: Some(pay_micros),
    })
}

/// Until every paid order's registration execution has finished. An execution appears once
/// the payment's webhook arrives, which is after the buyer's redirect.
async fn wait_for_registrations(
    stack: &Stack,
    paid: &[(&str, DateTime<Utc>)],
) -> Result<(), BoxError> {
    for (order_id, _) in paid {
        while stack.executor.describe(order_id).await?.is_none() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let execution = stack.executor.wait(order_id).await?;
        if execution.status != ExecutionStatus::Succeeded {
            // Not an error here: a compensated registration must have refunded, which the
            // checks see.
            tracing::warn!(order = order_id, status = ?execution.status, "registration did not succeed");
        }
    }
    Ok(())
}

/// A paid order as the store and the simulator see it.
struct PaidOrder {
    status: OrderStatus,
    /// The tickets recorded for it.
    tickets: usize,
    updated_at: DateTime<Utc>,
    amount_minor: i64,
    /// Refunded at the simulator, in minor units.
    refunded_minor: i64,
}

/// Every paid order, with what the simulator refunded of its payment.
async fn paid_orders(
    stack: &Stack,
    http: &reqwest::Client,
    paid: &[(&str, DateTime<Utc>)],
    payment_intents: &HashMap<String, String>,
) -> Result<HashMap<String, PaidOrder>, BoxError> {
    futures::stream::iter(paid)
        .map(|&(order_id, _)| async move {
            let order = stack
                .store
                .get_order(&OrderId::from(order_id.to_owned()))
                .await?
                .ok_or_else(|| format!("no order {order_id}"))?;
            let refunded_minor = match payment_intents.get(order_id) {
                Some(payment_intent) => refunded(stack, http, payment_intent).await?,
                None => 0,
            };
            Ok::<_, BoxError>((
                order_id.to_owned(),
                PaidOrder {
                    status: order.status,
                    tickets: order.ticket_ids.len(),
                    updated_at: order.updated_at,
                    amount_minor: order.amount.amount_minor,
                    refunded_minor,
                },
            ))
        })
        .buffer_unordered(32)
        .try_collect()
        .await
}

/// The payment intent of every session the simulator completed (was paid), by session id,
/// once every webhook delivery has settled.
async fn completed_sessions(stack: &Stack) -> Result<HashMap<String, String>, BoxError> {
    let deliveries = loop {
        let deliveries = stack.simulator.deliveries();
        if deliveries
            .iter()
            .all(|record| record.status != DeliveryStatus::Pending)
        {
            break deliveries;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    Ok(deliveries
        .iter()
        .filter(|record| record.event_type() == "checkout.session.completed")
        .map(|record| {
            let payment_intent = record.event["data"]["object"]["payment_intent"]
                .as_str()
                .unwrap_or_default();
            (record.session_id().to_owned(), payment_intent.to_owned())
        })
        .collect())
}

/// What the simulator has refunded of a payment (`GET /v1/refunds?payment_intent=`).
async fn refunded(
    stack: &Stack,
    http: &reqwest::Client,
    payment_intent: &str,
) -> Result<i64, BoxError> {
    let config = stack.simulator.config();
    let response = http
        .get(format!("{}/v1/refunds", config.base_url))
        .query(&[("payment_intent", payment_intent), ("limit", "100")])
        .bearer_auth(&config.secret_key)
        .send()
        .await?
        .error_for_status()?;
    let refunds: Value = response.json().await?;
    Ok(refunds["data"].as_array().map_or(0, |refunds| {
        refunds
            .iter()
            .filter_map(|refund| refund["amount"].as_i64())
            .sum()
    }))
}

/// The sale's invariants, each passed or not with what was seen.
async fn verify(
    stack: &Stack,
    args: &FlashSaleArgs,
    event_id: EventId,
    buyers: &[Buyer],
    orders: &HashMap<String, PaidOrder>,
    completed: &HashMap<String, String>,
) -> Result<Vec<(bool, String)>, BoxError> {
    let held = buyers
        .iter()
        .filter(|buyer| matches!(buyer.outcome, Outcome::Paid { .. }))
        .count();
    let held_seats: usize = buyers
        .iter()
        .map(|buyer| match buyer.outcome {
            Outcome::Paid { tickets, .. } => tickets,
            Outcome::SoldOut => 0,
        })
        .sum();
    let sold_out = buyers.len() - held;
    let view = stack
        .store
        .get_event(event_id)
        .await?
        .ok_or("the event is gone")?;
    let seats = view.seats;
    let over_quota: Vec<String> = view
        .event
        .ticket_types
        .iter()
        .filter(|ticket_type| view.type_seats(ticket_type.id).taken > ticket_type.quota)
        .map(|ticket_type| ticket_type.name.clone())
        .collect();
    let tickets = valid_tickets(stack.store.as_ref(), event_id).await?;
    let sessions = stack.sessions_created.load(Ordering::Relaxed);
    let charged_strangers = completed
        .keys()
        .filter(|session| !orders.contains_key(*session))
        .count();
    let ticketed = |order: &PaidOrder| order.status == OrderStatus::Fulfilled && order.tickets > 0;
    let with_tickets = orders.values().filter(|order| ticketed(order)).count();
    let refunded = orders
        .values()
        .filter(|order| order.refunded_minor > 0)
        .count();
    let settled_wrong = orders
        .values()
        .filter(|order| match ticketed(order) {
            true => order.refunded_minor != 0,
            false => order.refunded_minor != order.amount_minor,
        })
        .count();
    let pending = orders
        .values()
        .filter(|order| order.status == OrderStatus::Pending)
        .count();
    let capacity = i64::from(args.seats);
    let sold = i64::from(seats.sold);
    let still_held = i64::from(seats.taken) - sold;
    let remaining = capacity - i64::from(seats.taken);
    // Every buyer was served, or no order the buyers make fits in what is left (one ticket per
    // order sells every seat; orders of several may leave a few seats no order fits).
    let fits = |order: Vec<usize>| {
        let seats: Seats = order
            .into_iter()
            .map(|kind| view.event.ticket_types[kind].id)
            .collect();
        room_for(&view, &seats).is_ok()
    };
    let fills = held == buyers.len() || (0..ORDER_PATTERNS).all(|n| !fits(args.order_of(n)));
    Ok(vec![
        (
            still_held == 0 && capacity == sold + remaining,
            format!(
                "seats: capacity {capacity} = sold {sold} + remaining {remaining}, \
                 {still_held} still held"
            ),
        ),
        (
            over_quota.is_empty(),
            format!("ticket types over their quota: {over_quota:?}"),
        ),
        (pending == 0, format!("orders left PENDING: {pending}")),
        (
            tickets == held_seats && (seats.sold, seats.taken) == (tickets as u32, tickets as u32),
            format!(
                "tickets issued: {tickets}, one per seat held by a paid order ({held_seats}; \
                 event: {} sold, {} taken)",
                seats.sold, seats.taken
            ),
        ),
        (
            fills && held + sold_out == buyers.len(),
            format!("checkouts: {held} held their seats, {sold_out} refused as sold out"),
        ),
        (
            sessions == held,
            format!(
                "Stripe checkout sessions created: {sessions}, one per held order (sold-out \
                 buyers never reached Stripe)"
            ),
        ),
        (
            completed.len() == held && charged_strangers == 0,
            format!(
                "payments made: {} ({charged_strangers} for no held seat)",
                completed.len()
            ),
        ),
        (
            refunded == held - with_tickets,
            format!(
                "refunds: {refunded} ({} paid buyers without tickets)",
                held - with_tickets
            ),
        ),
        (
            settled_wrong == 0,
            format!(
                "every paid buyer has tickets or a full refund, never both: {settled_wrong} \
                 do not"
            ),
        ),
    ])
}

/// The event's tickets that admit (VALID), counted over every page.
async fn valid_tickets(store: &dyn Store, event_id: EventId) -> Result<usize, BoxError> {
    let mut count = 0;
    let mut page = PageRequest::first(MAX_PAGE_SIZE);
    loop {
        let tickets = store.attendees_of_event(event_id, &page).await?;
        count += tickets
            .items
            .iter()
            .filter(|ticket| ticket.status == TicketStatus::Valid)
            .count();
        match tickets.next_cursor {
            Some(cursor) => page = PageRequest::after(MAX_PAGE_SIZE, cursor),
            None => return Ok(count),
        }
    }
}

/// Latencies in microseconds.
#[derive(Default)]
struct Latencies(Vec<u64>);

impl Latencies {
    /// `p50 x ms, p99 y ms`.
    fn summary(&mut self) -> String {
        if self.0.is_empty() {
            return "none".to_owned();
        }
        self.0.sort_unstable();
        latency_summary(&self.0)
    }
}
