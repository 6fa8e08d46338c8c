//! Domain of the ticketing platform: types, validation rules and the ports (traits) that adapters
//! implement. Nothing here does I/O or knows about AWS, HTTP or SQLite.

pub mod api;
#[cfg(feature = "apigw")]
pub mod apigw;
pub mod cancellation;
pub mod clock;
pub mod event;
pub mod event_edit;
pub mod files;
pub mod identity;
pub mod ids;
pub mod local_time;
pub mod money;
pub mod order;
pub mod organizer;
pub mod page;
pub mod payments;
pub mod promo;
pub mod reconcile;
pub mod refund;
pub mod registration;
pub mod store;
pub mod stripe_webhook;
pub mod ticket_code;
pub mod ticket_type;
pub mod time;
pub mod validation;
pub mod workflow;

#[cfg(feature = "conformance")]
pub mod conformance;
#[cfg(feature = "conformance")]
pub mod files_conformance;
#[cfg(any(test, feature = "testing"))]
pub mod memory_store;
#[cfg(feature = "conformance")]
pub mod reconcile_conformance;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use clock::{Clock, ManualClock, SystemClock};
pub use event::{
    Event, EventStats, EventStatus, EventView, NewEvent, SeatCounts, TypeStats, TypeStatus,
    Visibility,
};
pub use event_edit::{EditRefusal, EventEdit, EventUpdate, TicketTypeEdit};
pub use files::{DEFAULT_LINK_TTL, FileKey, FilesError, TicketFiles};
pub use identity::{Caller, DirectoryError, Group, IdentityError, UserDirectory};
pub use ids::{
    EventId, HoldId, Ids, OrderId, RandomIds, RegistrationId, TicketId, TicketTypeId, UserId,
};
pub use local_time::{LocalTimes, Tz};
pub use money::{Currency, Money};
pub use order::{
    Attendee, Hold, HoldStatus, NewHold, NewTickets, Order, OrderStatus, Recorded, Registration,
    Seats, Ticket, TicketDraft, TicketStatus,
};
pub use organizer::{NewOrganizerProfile, OrganizerProfile};
pub use page::{Page, PageRequest};
pub use payments::{
    CheckoutDiscount, CheckoutLine, CheckoutRequest, CheckoutSession, Payments, PaymentsError,
    Refund, RefundRequest, SessionSnapshot, SessionStatus,
};
pub use promo::{Discount, NewPromoCode, PromoCode, PromoCodeChange, PromoCodeView, PromoRefusal};
pub use registration::{
    OrderedTicket, RegistrationRequest, RegistrationSteps, RenderFailure, Step, StepFailure,
    TicketPdf, TicketRenderer,
};
pub use store::{
    FIRST_ORDER_CHECK, Redemption, ReleaseOutcome, ReleaseScope, Store, StoreError, room_for,
};
pub use ticket_code::{CodeError, KeyId, TicketPublicKey, TicketSigner, TicketVerifier};
pub use ticket_type::{NewTicketType, SalesClosed, TicketType};
pub use validation::{FieldError, ValidationErrors};
pub use workflow::{Started, Workflow, WorkflowError};
