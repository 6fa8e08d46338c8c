//! Who is calling: the user pool's groups, the caller read from the claims API Gateway's JWT
//! authorizer passes on (`requestContext.authorizer.jwt.claims`), and the post-confirmation
//! trigger that puts every new user in the `attendee` group.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::UserId;

/// The user pool's groups. A user may be in both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Group {
    /// Creates events, lists their attendees and scans tickets.
    Organizer,
    /// Buys tickets; every confirmed user is one.
    Attendee,
}

impl Group {
    pub const ALL: [Group; 2] = [Group::Organizer, Group::Attendee];

    /// The group's name in the user pool and in `cognito:groups`.
    pub fn name(self) -> &'static str {
        match self {
            Group::Organizer => "organizer",
            Group::Attendee => "attendee",
        }
    }
}

impl fmt::Display for Group {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Group {
    type Err = UnknownGroup;
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Group::ALL
            .into_iter()
            .find(|group| group.name() == name)
            .ok_or_else(|| UnknownGroup(name.to_owned()))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown group `{0}` (groups are organizer and attendee)")]
pub struct UnknownGroup(pub String);

/// The signed-in user a request is made by, from its verified token's claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The `sub` claim.
    pub user_id: UserId,
    /// Only ID tokens carry `email` and `name`; a caller presenting an access token has none.
    pub email: Option<String>,
    pub name: Option<String>,
    /// Known groups only, each once, in [`Group`] order; groups this system does not use are
    /// dropped.
    pub groups: Vec<Group>,
}

/// Why a request carries no usable caller. The API answers 401.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    #[error("the request carries no verified token claims")]
    NoClaims,
    #[error("the token has no `sub` claim")]
    MissingSubject,
}

impl Caller {
    /// From the claims object (`requestContext.authorizer.jwt.claims`). API Gateway passes
    /// every claim as a string, and arrays as `[a b]`; ticketd's gateway and tests may pass
    /// JSON arrays. Both are read.
    pub fn from_claims(claims: &Value) -> Result<Self, IdentityError> {
        let claims = claims.as_object().ok_or(IdentityError::NoClaims)?;
        Self::from_lookup(|name| claims.get(name).and_then(ClaimValue::from_json))
    }

    /// From an API Gateway v2 request context (`requestContext` of the event).
    pub fn from_request_context(request_context: &Value) -> Result<Self, IdentityError> {
        let claims = request_context
            .pointer("/authorizer/jwt/claims")
            .ok_or(IdentityError::NoClaims)?;
        Self::from_claims(claims)
    }

    /// From claims as strings (how typed API Gateway event structs hold them).
    pub fn from_claim_strings(claims: &HashMap<String, String>) -> Result<Self, IdentityError> {
        Self::from_lookup(|name| claims.get(name).map(|text| ClaimValue::Text(text)))
    }

    fn from_lookup<'a>(
        claim: impl Fn(&str) -> Option<ClaimValue<'a>>,
    ) -> Result<Self, IdentityError> {
        let text = |name: &str| match claim(name) {
            Some(ClaimValue::Text(text)) if !text.trim().is_empty() => Some(text.trim().to_owned()),
            _ => None,
        };
        let user_id = text("sub").ok_or(IdentityError::MissingSubject)?;
        let groups = claim("cognito:groups")
            .map(|value| parse_groups(&value))
            .unwrap_or_default();
        Ok(Self {
            user_id: UserId::from(user_id),
            email: text("email"),
            name: text("name"),
            groups,
        })
    }

    pub fn is_in(&self, group: Group) -> bool {
        self.groups.contains(&group)
    }

    pub fn is_organizer(&self) -> bool {
        self.is_in(Group::Organizer)
    }
}

/// A claim as it arrives: a string, or (from a JSON claims object) an array of strings.
enum ClaimValue<'a> {
    Text(&'a str),
    List(Vec<&'a str>),
}

impl<'a> ClaimValue<'a> {
    fn from_json(value: &'a Value) -> Option<Self> {
        match value {
            Value::String(text) => Some(Self::Text(text)),
            Value::Array(items) => {
                Some(Self::List(items.iter().filter_map(Value::as_str).collect()))
            }
            _ => None,
        }
    }
}

/// `["organizer","attendee"]` (JSON), `[organizer attendee]` (API Gateway's rendering of an
/// array), or a bare `organizer`.
fn parse_groups(value: &ClaimValue<'_>) -> Vec<Group> {
    let names: Vec<String> = match value {
        ClaimValue::List(items) => items.iter().map(|item| (*item).to_owned()).collect(),
        ClaimValue::Text(text) => {
            let text = text.trim();
            match serde_json::from_str::<Vec<String>>(text) {
                Ok(items) => items,
                Err(_) => text
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .split(|c: char| c.is_whitespace() || c == ',')
                    .filter(|name| !name.is_empty())
                    .map(str::to_owned)
                    .collect(),
            }
        }
    };
    let mut groups: Vec<Group> = names
        .iter()
        .filter_map(|name| name.trim().parse().ok())
        .collect();
    groups.sort();
    groups.dedup();
    groups
}

/// Why the user directory refused or failed a change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DirectoryError {
    /// No user of that name (Cognito's `UserNotFoundException`).
    #[error("no user named {0}")]
    UnknownUser(String),
    /// The pool has no such group (Cognito's `ResourceNotFoundException`).
    #[error("no group named {0}")]
    UnknownGroup(String),
    /// Throttled or briefly unreachable: worth retrying.
    #[error("user directory unavailable: {0}")]
    Unavailable(String),
    #[error("user directory failed: {0}")]
    Internal(String),
}

/// The user pool, as far as the system changes it. Shaped after Cognito's admin API:
/// `username` is the pool's user name (with email sign-in, the user's `sub`).
#[async_trait]
pub trait UserDirectory: Send + Sync {
    /// Puts the user in the group. Idempotent, like `AdminAddUserToGroup`: adding a member
    /// again succeeds and changes nothing.
    async fn add_to_group(&self, username: &str, group: &str) -> Result<(), DirectoryError>;
}

/// The post-confirmation trigger: a newly confirmed user becomes an attendee. Safe to run again
/// for the same user (Cognito retries a failed trigger, and also fires it after a password reset).
pub async fn on_user_confirmed(
    directory: &dyn UserDirectory,
    username: &str,
) -> Result<(), DirectoryError> {
    if username.trim().is_empty() {
        return Err(DirectoryError::UnknownUser(String::new()));
    }
    directory
        .add_to_group(username, Group::Attendee.name())
        .await
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use serde_json::json;

    use super::*;

    #[test]
    fn groups_arrive_as_a_json_array() {
        let caller = Caller::from_claims(&json!({
            "sub": "u-1",
            "email": "ada@example.com",
            "cognito:groups": ["attendee", "organizer"],
        }))
        .unwrap();
        assert_eq!(caller.user_id.as_str(), "u-1");
        assert_eq!(caller.email.as_deref(), Some("ada@example.com"));
        assert_eq!(caller.groups, vec![Group::Organizer, Group::Attendee]);
        assert!(caller.is_organizer());
    }

    #[test]
    fn groups_arrive_as_api_gateways_bracketed_string() {
        for form in [
            "[organizer attendee]",
            "[attendee organizer]",
            "[\"organizer\",\"attendee\"]",
            "[organizer, attendee]",
        ] {
            let caller =
                Caller::from_claims(&json!({ "sub": "u-1", "cognito:groups": form })).unwrap();
            assert_eq!(
                caller.groups,
                vec![Group::Organizer, Group::Attendee],
                "{form}"
            );
        }
        let attendee =
            Caller::from_claims(&json!({ "sub": "u-1", "cognito:groups": "[attendee]" })).unwrap();
        assert_eq!(attendee.groups, vec![Group::Attendee]);
        assert!(!attendee.is_organizer());
    }

    #[test]
    fn typed_claim_strings_read_the_same() {
        let claims = HashMap::from([
            ("sub".to_owned(), "u-2".to_owned()),
            ("cognito:groups".to_owned(), "[organizer]".to_owned()),
            ("name".to_owned(), "Ada".to_owned()),
        ]);
        let caller = Caller::from_claim_strings(&claims).unwrap();
        assert_eq!(caller.user_id.as_str(), "u-2");
        assert_eq!(caller.groups, vec![Group::Organizer]);
        assert_eq!(caller.name.as_deref(), Some("Ada"));
        assert_eq!(caller.email, None);
    }

    #[test]
    fn a_missing_or_empty_groups_claim_is_no_groups_and_unknown_groups_are_dropped() {
        for claims in [
            json!({ "sub": "u" }),
            json!({ "sub": "u", "cognito:groups": "[]" }),
            json!({ "sub": "u", "cognito:groups": "" }),
            json!({ "sub": "u", "cognito:groups": [] }),
            json!({ "sub": "u", "cognito:groups": "[admins Organizer]" }),
        ] {
            assert_eq!(
                Caller::from_claims(&claims).unwrap().groups,
                vec![],
                "{claims}"
            );
        }
    }

    #[test]
    fn no_sub_is_an_error() {
        for claims in [
            json!({ "email": "a@example.com" }),
            json!({ "sub": "" }),
            json!({ "sub": "  " }),
            json!({ "sub": 42 }),
        ] {
            assert_eq!(
                Caller::from_claims(&claims),
                Err(IdentityError::MissingSubject),
                "{claims}"
            );
        }
        assert_eq!(
            Caller::from_claims(&json!("not an object")),
            Err(IdentityError::NoClaims)
        );
    }

    #[test]
    fn the_request_context_is_dug_into() {
        let context = json!({
            "authorizer": { "jwt": { "claims": { "sub": "u-3", "cognito:groups": "[attendee]" },
                                     "scopes": null } }
        });
        let caller = Caller::from_request_context(&context).unwrap();
        assert_eq!(caller.user_id.as_str(), "u-3");
        assert_eq!(caller.groups, vec![Group::Attendee]);
        assert_eq!(
            Caller::from_request_context(&json!({ "http": {} })),
            Err(IdentityError::NoClaims)
        );
    }

    #[test]
    fn group_names_round_trip() {
        for group in Group::ALL {
            assert_eq!(group.name().parse::<Group>(), Ok(group));
        }
        assert!("admin".parse::<Group>().is_err());
    }

    #[derive(Default)]
    struct RecordingDirectory(Mutex<Vec<(String, String)>>);

    #[async_trait]
    impl UserDirectory for RecordingDirectory {
        async fn add_to_group(&self, username: &str, group: &str) -> Result<(), DirectoryError> {
            self.0
                .lock()
                .unwrap()
                .push((username.to_owned(), group.to_owned()));
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_confirmed_user_is_added_to_attendee() {
        let directory = RecordingDirectory::default();
        on_user_confirmed(&directory, "c0ffee-sub").await.unwrap();
        assert_eq!(
            *directory.0.lock().unwrap(),
            vec![("c0ffee-sub".to_owned(), "attendee".to_owned())]
        );
        assert_eq!(
            on_user_confirmed(&directory, " ").await,
            Err(DirectoryError::UnknownUser(String::new()))
        );
        assert_eq!(directory.0.lock().unwrap().len(), 1);
    }

    struct DownDirectory;

    #[async_trait]
    impl UserDirectory for DownDirectory {
        async fn add_to_group(&self, _: &str, _: &str) -> Result<(), DirectoryError> {
            Err(DirectoryError::Unavailable("throttled".into()))
        }
    }

    #[tokio::test]
    async fn a_directory_failure_reaches_the_trigger() {
        // The trigger must fail so Cognito retries rather than confirm a user with no group.
        assert_eq!(
            on_user_confirmed(&DownDirectory, "u").await,
            Err(DirectoryError::Unavailable("throttled".into()))
        );
    }
}
