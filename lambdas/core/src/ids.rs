//! Identifiers. Entity ids are UUIDv7: unguessable enough for URLs and time-ordered, so sorting
//! by id sorts by creation in every adapter. Orders are named by their checkout session id, and
//! users by their identity provider subject, so those two are strings.

use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Makes new identifiers; injectable so tests can predict them.
pub trait Ids: Send + Sync {
    fn new_id(&self) -> Uuid;
}

#[derive(Debug, Default, Clone, Copy)]
pub struct RandomIds;

impl Ids for RandomIds {
    fn new_id(&self) -> Uuid {
        Uuid::now_v7()
    }
}

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            pub fn new(ids: &dyn Ids) -> Self {
                Self(ids.new_id())
            }

            pub fn as_uuid(&self) -> &Uuid {
                &self.0
            }
        }

        impl From<Uuid> for $name {
            fn from(uuid: Uuid) -> Self {
                Self(uuid)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(text: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(text).map(Self)
            }
        }
    };
}

uuid_id!(
    /// Names an event.
    EventId
);
uuid_id!(
    /// Names a ticket type within an event.
    TicketTypeId
);
uuid_id!(
    /// Names a seat hold within an event.
    HoldId
);
uuid_id!(
    /// Names a ticket (and what its QR code points at).
    TicketId
);
uuid_id!(
    /// Names a registration: an attendee's place on an event's list.
    RegistrationId
);

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(text: &str) -> Self {
                Self(text.to_owned())
            }
        }

        impl From<String> for $name {
            fn from(text: String) -> Self {
                Self(text)
            }
        }
    };
}

string_id!(
    /// A user: the identity provider's `sub` claim.
    UserId
);
string_id!(
    /// An order: named by its checkout session id, so a payment maps to exactly one order.
    OrderId
);
