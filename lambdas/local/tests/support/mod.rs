//! Shared by the registration tests: the embedded adapters the saga's steps run on (SQLite
//! store, ticket file directory, fake payment provider, signer) with builders for events, holds
//! and requests, and poppler/zbar wrappers that read a stored ticket PDF back. The tools are
//! required: a missing tool fails the test (scripts/test installs them).

#![allow(dead_code, reason = "each test binary uses a part of this module")]

use std::sync::Arc;

use chrono::TimeDelta;
use tempfile::TempDir;
use ticket_core::cancellation::CancellationSteps;
use ticket_core::testing::FakePayments;
use ticket_core::ticket_type::legacy_type_id;
use ticket_core::{
    Attendee, Clock, Event, EventId, HoldId, KeyId, NewEvent, NewHold, Order, OrderId,
    OrderedTicket, RandomIds, RegistrationRequest, RegistrationSteps, ReleaseScope, SeatCounts,
    Seats, Store, Ticket, TicketId, TicketSigner, UserId,
};
use ticket_embedded::SqliteStore;
use ticket_embedded::files::LocalFiles;
use ticket_render::PdfRenderer;
use uuid::Uuid;

/// The Stripe webhook signing secret the test stacks accept.
pub const WEBHOOK_SECRET: &str = "whsec_test_stack";

/// The embedded adapters in a temporary data directory, and the clock the tests go by.
pub struct Adapters {
    pub dir: TempDir,
    pub store: Arc<SqliteStore>,
    pub files: Arc<LocalFiles>,
    pub payments: Arc<FakePayments>,
    pub signer: Arc<TicketSigner>,
    pub clock: Arc<dyn Clock>,
}

impl Adapters {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        let dir = TempDir::new().unwrap();
        let store = Arc::new(SqliteStore::open(&dir.path().join("ticketd.sqlite3")).unwrap());
        let files = Arc::new(LocalFiles::open(dir.path(), "http://127.0.0.1:9").unwrap());
        Self {
            store,
            files,
            payments: Arc::new(FakePayments::new()),
            signer: Arc::new(TicketSigner::from_seed(KeyId::new("RS").unwrap(), &[9; 32])),
            clock,
            dir,
        }
    }

    /// The registration steps over these adapters, seeing the store as `store`: the SQLite
    /// store, or a wrapper of it that injects faults.
    pub fn steps(&self, store: Arc<dyn Store>) -> RegistrationSteps {
        RegistrationSteps {
            store,
            files: self.files.clone(),
            payments: self.payments.clone(),
            renderer: Arc::new(PdfRenderer),
            signer: self.signer.clone(),
            clock: self.clock.clone(),
            ids: Arc::new(RandomIds),
        }
    }

    /// The cancellation's steps over these adapters.
    pub fn cancellation_steps(&self) -> CancellationSteps {
        CancellationSteps {
            store: self.store.clone(),
            payments: self.payments.clone(),
            clock: self.clock.clone(),
        }
    }

    /// An event in 30 days with `capacity` seats at `price_minor` EUR cents.
    pub async fn event(&self, capacity: i64, price_minor: i64) -> Event {
        let now = self.clock.now();
        let event = NewEvent {
            title: "Saga Night \u{2014} Compensations Live".into(),
            description: String::new(),
            venue: "Hall 7".into(),
            starts_at: Some(now + TimeDelta::days(30)),
            ends_at: None,
            time_zone: None,
            cancellation_cutoff_hours: None,
            capacity,
            price_minor: Some(price_minor),
            currency: "EUR".into(),
            ticket_types: None,
        }
        .validate(
            EventId::from(Uuid::now_v7()),
            "organizer-1".into(),
            now,
            &RandomIds,
        )
        .unwrap();
        self.store.create_event(&event).await.unwrap();
        event
    }

    /// A seat held for `buyer` for 30 minutes.
    pub async fn hold(&self, event_id: EventId, buyer: &str) -> HoldId {
        // The events here sell one type, named by the event's id.
        let hold = NewHold {
            id: HoldId::from(Uuid::now_v7()),
            seats: Seats::one(legacy_type_id(event_id)),
            promo_code: None,
            user_id: buyer.into(),
            expires_at: self.clock.now() + TimeDelta::minutes(30),
            event_version: None,
        };
        self.store
            .hold_seat(event_id, &hold, self.clock.now())
            .await
            .unwrap();
        hold.id
    }

    /// A seat held for `buyer`, and the paid registration request for it (a free one if the
    /// event is free).
    pub async fn request(&self, event: &Event, buyer: &str) -> RegistrationRequest {
        let hold_id = self.hold(event.id, buyer).await;
        request_for(event, hold_id, buyer)
    }

    /// `holders.len()` seats held at once for `buyer`, and the paid registration request of
    /// the order: a ticket per holder, paid for all together.
    pub async fn order_request(
        &self,
        event: &Event,
        buyer: &str,
        holders: &[&str],
    ) -> RegistrationRequest {
        let type_id = event.ticket_types[0].id;
        let hold = NewHold {
            id: HoldId::from(Uuid::now_v7()),
            seats: holders.iter().map(|_| type_id).collect(),
            promo_code: None,
            user_id: buyer.into(),
            expires_at: self.clock.now() + TimeDelta::minutes(30),
            event_version: None,
        };
        self.store
            .hold_seat(event.id, &hold, self.clock.now())
            .await
            .unwrap();
        let single = request_for(event, hold.id, buyer);
        RegistrationRequest {
            ticket_type_id: None,
            tickets: holders
                .iter()
                .map(|holder| OrderedTicket {
                    ticket_type_id: type_id,
                    holder_name: Some((*holder).to_owned()),
                })
                .collect(),
            amount_minor: single.amount_minor * holders.len() as i64,
            ..single
        }
    }

    /// The checkout of `request` expired before its payment arrived: its hold is released.
    pub async fn expire_hold(&self, request: &RegistrationRequest) {
        self.store
            .release_hold(
                request.event_id,
                request.hold_id,
                ReleaseScope::Unpaid,
                self.clock.now(),
            )
            .await
            .unwrap();
    }

    pub async fn seats(&self, event_id: EventId) -> SeatCounts {
        self.store.get_event(event_id).await.unwrap().unwrap().seats
    }

    /// The order, which must exist.
    pub async fn order(&self, id: &OrderId) -> Order {
        self.store.get_order(id).await.unwrap().expect("the order")
    }

    /// The ticket, which must exist.
    pub async fn ticket(&self, id: TicketId) -> Ticket {
        self.store
            .get_ticket(id)
            .await
            .unwrap()
            .expect("the ticket")
    }
}

/// `buyer`'s registration request for the hold `hold_id` on `event`: paid (with a payment
/// intent) unless the event is free.
pub fn request_for(event: &Event, hold_id: HoldId, buyer: &str) -> RegistrationRequest {
    RegistrationRequest {
        order_id: OrderId::from(format!("cs_test_{}", Uuid::now_v7().simple())),
        event_id: event.id,
        hold_id,
        ticket_type_id: Some(event.ticket_types[0].id),
        tickets: Vec::new(),
        user_id: UserId::from(buyer),
        payment_intent_id: (!event.lowest_price().is_free())
            .then(|| format!("pi_{}", Uuid::now_v7().simple())),
        amount_minor: event.lowest_price().amount_minor,
        currency: event.currency,
        attendee: Attendee {
            name: "Zo\u{eb} \u{c5}ngstr\u{f6}m".into(),
            email: "zoe@example.org".into(),
        },
    }
}
