//! The identity provider's users: one SQLite file, `<data-dir>/users.sqlite3`, apart from the
//! ticket store (users are the user pool's business, as on AWS). Passwords are kept as argon2id
//! hashes (PHC strings); emails are unique whatever their case.

use std::path::Path;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, ErrorCode, OptionalExtension, Row, TransactionBehavior, params};
use ticket_core::ValidationErrors;
use ticket_core::identity::{DirectoryError, Group, UserDirectory};
use ticket_core::time::{from_key, to_key};
use uuid::Uuid;

/// The users file's name in the data directory.
pub const USERS_FILE: &str = "users.sqlite3";

/// The user pool's password policy (`cdk/lib/auth.ts`: 12 characters, every character class),
/// so a password that works locally works on AWS.
pub const MIN_PASSWORD_LENGTH: usize = 12;
pub const MAX_PASSWORD_LENGTH: usize = 256;
const MAX_NAME_LENGTH: usize = 100;
const MAX_EMAIL_LENGTH: usize = 254;

const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE users (
    sub           TEXT PRIMARY KEY,
    email         TEXT NOT NULL,
    -- The email lowercased: what makes it unique and what sign-in looks up.
    email_key     TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    TEXT NOT NULL
);
CREATE TABLE user_groups (
    sub        TEXT NOT NULL REFERENCES users (sub) ON DELETE CASCADE,
    group_name TEXT NOT NULL CHECK (group_name IN ('organizer', 'attendee')),
    PRIMARY KEY (sub, group_name)
);
"#];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The user's `sub`, also their user name in the pool (email sign-in, as on AWS).
    pub sub: String,
    pub email: String,
    pub name: String,
    /// In [`Group`] order.
    pub groups: Vec<Group>,
    pub created_at: DateTime<Utc>,
}

impl User {
    pub fn group_names(&self) -> Vec<String> {
        self.groups
            .iter()
            .map(|group| group.name().to_owned())
            .collect()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("an account with this email already exists")]
    EmailTaken,
    #[error("no such user")]
    NotFound,
    #[error("user database: {0}")]
    Database(String),
}

impl From<rusqlite::Error> for UserError {
    fn from(error: rusqlite::Error) -> Self {
        match error.sqlite_error_code() {
            Some(ErrorCode::ConstraintViolation) => UserError::EmailTaken,
            _ => UserError::Database(error.to_string()),
        }
    }
}

/// A new user's validated details.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: String,
    pub name: String,
    pub password: String,
}

impl NewUser {
    /// Checks every field and says what is wrong with each (field names `email`, `name`,
    /// `password`).
    pub fn validate(email: &str, name: &str, password: &str) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let email = email.trim();
        if let Err(message) = check_email(email) {
            errors.add("email", message);
        }
        let name = name.trim();
        if name.is_empty() {
            errors.add("name", "Enter your name.");
        } else if name.chars().count() > MAX_NAME_LENGTH {
            errors.add(
                "name",
                format!("Use at most {MAX_NAME_LENGTH} characters for your name."),
            );
        } else if name.chars().any(char::is_control) {
            errors.add("name", "Your name cannot contain control characters.");
        } else if name.chars().any(ticket_core::validation::is_bidi_control) {
            // The name goes on tickets and attendee lists: an override left open would reorder
            // what follows it there.
            errors.add(
                "name",
                "Your name cannot contain bidirectional control characters.",
            );
        }
        for message in password_policy_failures(password) {
            errors.add("password", message);
        }
        errors.into_result(|| Self {
            email: email.to_owned(),
            name: name.to_owned(),
            password: password.to_owned(),
        })
    }
}

fn check_email(email: &str) -> Result<(), &'static str> {
    if email.is_empty() {
        return Err("Enter your email address.");
    }
    if email.len() > MAX_EMAIL_LENGTH {
        return Err("That email address is too long.");
    }
    let valid = email.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty()
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains('@')
    }) && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if valid {
        Ok(())
    } else {
        Err("Enter an email address like name@example.com.")
    }
}

/// What a password lacks under the policy (at least [`MIN_PASSWORD_LENGTH`] characters with an
/// uppercase letter, a lowercase letter, a digit and a symbol); empty when it passes.
pub fn password_policy_failures(password: &str) -> Vec<String> {
    let mut failures = Vec::new();
    let length = password.chars().count();
    if length < MIN_PASSWORD_LENGTH {
        failures.push(format!(
            "Password must be at least {MIN_PASSWORD_LENGTH} characters long."
        ));
    }
    if length > MAX_PASSWORD_LENGTH {
        failures.push(format!(
            "Password must be at most {MAX_PASSWORD_LENGTH} characters long."
        ));
    }
    if !password.chars().any(char::is_uppercase) {
        failures.push("Password must contain an uppercase letter.".to_owned());
    }
    if !password.chars().any(char::is_lowercase) {
        failures.push("Password must contain a lowercase letter.".to_owned());
    }
    if !password.chars().any(|c| c.is_ascii_digit()) {
        failures.push("Password must contain a digit.".to_owned());
    }
    if !password.chars().any(is_symbol) {
        failures.push("Password must contain a symbol, like ! @ # $ or %.".to_owned());
    }
    failures
}

fn is_symbol(c: char) -> bool {
    !c.is_alphanumeric() && !c.is_control()
}

/// A strong password that meets the policy: 20 characters with every kind the policy asks for.
pub fn generate_password() -> String {
    const LOWER: &[u8] = b"abcdefghijkmnopqrstuvwxyz";
    const UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
    const DIGITS: &[u8] = b"23456789";
    const SYMBOLS: &[u8] = b"!#%+-=?@_~";
    let all: Vec<u8> = [LOWER, UPPER, DIGITS, SYMBOLS].concat();
    loop {
        let mut random = [0u8; 20];
        getrandom::fill(&mut random).expect("the operating system's random source");
        // Modulo bias (256 is no multiple of 67) costs a fraction of a bit per character;
        // 20 characters still carry over 110 bits.
        let password: String = random
            .iter()
            .map(|byte| all[*byte as usize % all.len()] as char)
            .collect();
        if password_policy_failures(&password).is_empty() {
            return password;
        }
    }
}

/// An argon2id PHC string for `password` (default parameters: 19 MiB, 2 passes).
pub fn hash_password(password: &str) -> Result<String, UserError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|_| UserError::Database("cannot hash the password".into()))
}

/// Whether `password` matches the PHC string `hash`.
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|hash| {
        Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok()
    })
}

#[derive(Clone)]
pub struct UserStore {
    conn: Arc<Mutex<Connection>>,
    /// Hashed once, verified against when an email is unknown, so a sign-in for an unknown
    /// email takes as long as one with a wrong password.
    decoy_hash: Arc<String>,
}

impl UserStore {
    pub fn open(path: &Path) -> Result<Self, UserError> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        Self::init(conn)
    }

    pub fn open_in_memory() -> Result<Self, UserError> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(mut conn: Connection) -> Result<Self, UserError> {
        // The CLI and the server may use the file at once.
        conn.busy_timeout(Duration::from_secs(5))?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version: u32 = tx.pragma_query_value(None, "user_version", |row| row.get(0))?;
        let version = version as usize;
        if version > MIGRATIONS.len() {
            return Err(UserError::Database(format!(
                "the users database has schema version {version}, newer than this ticketd knows"
            )));
        }
        for migration in &MIGRATIONS[version..] {
            tx.execute_batch(migration)?;
        }
        tx.pragma_update(None, "user_version", MIGRATIONS.len() as u32)?;
        tx.commit()?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            decoy_hash: Arc::new(hash_password(&generate_password())?),
        })
    }

    async fn with_connection<T, F>(&self, work: F) -> Result<T, UserError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, UserError> + Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || work(&mut conn.lock().expect("users connection lock")))
            .await
            .map_err(|error| UserError::Database(format!("users task failed: {error}")))?
    }

    /// Stores a new user (no groups yet) with the password hashed.
    pub async fn create(&self, user: NewUser, now: DateTime<Utc>) -> Result<User, UserError> {
        let password = user.password;
        let hash = tokio::task::spawn_blocking(move || hash_password(&password))
            .await
            .map_err(|error| UserError::Database(format!("hash task failed: {error}")))??;
        let created = User {
            sub: Uuid::new_v4().to_string(),
            email: user.email,
            name: user.name,
            groups: Vec::new(),
            created_at: now,
        };
        let row = created.clone();
        self.with_connection(move |conn| {
            conn.execute(
                "INSERT INTO users (sub, email, email_key, name, password_hash, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    row.sub,
                    row.email,
                    email_key(&row.email),
                    row.name,
                    hash,
                    to_key(row.created_at)
                ],
            )?;
            Ok(())
        })
        .await?;
        Ok(created)
    }

    /// The user with this email and password, if both match. Takes as long either way.
    pub async fn authenticate(
        &self,
        email: &str,
        password: &str,
    ) -> Result<Option<User>, UserError> {
        let key = email_key(email.trim());
        let found = self
            .with_connection(move |conn| {
                let row = conn
                    .query_row(
                        "SELECT sub, password_hash FROM users WHERE email_key = ?1",
                        params![key],
                        |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?)),
                    )
                    .optional()?;
                Ok(row)
            })
            .await?;
        let (sub, hash) = match found {
            Some((sub, hash)) => (Some(sub), hash),
            None => (None, self.decoy_hash.as_str().to_owned()),
        };
        let password = password.to_owned();
        let matches = tokio::task::spawn_blocking(move || verify_password(&password, &hash))
            .await
            .map_err(|error| UserError::Database(format!("verify task failed: {error}")))?;
        match sub {
            Some(sub) if matches => self.get(&sub).await,
            _ => Ok(None),
        }
    }

    pub async fn get(&self, sub: &str) -> Result<Option<User>, UserError> {
        let sub = sub.to_owned();
        self.with_connection(move |conn| load_user(conn, "sub", &sub))
            .await
    }

    pub async fn find_by_email(&self, email: &str) -> Result<Option<User>, UserError> {
        let key = email_key(email.trim());
        self.with_connection(move |conn| load_user(conn, "email_key", &key))
            .await
    }

    /// Adds the user to the group; adding a member again changes nothing.
    pub async fn add_to_group(&self, sub: &str, group: Group) -> Result<(), UserError> {
        let sub = sub.to_owned();
        self.with_connection(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let exists = tx
                .query_row("SELECT 1 FROM users WHERE sub = ?1", params![sub], |_| {
                    Ok(())
                })
                .optional()?;
            if exists.is_none() {
                return Err(UserError::NotFound);
            }
            tx.execute(
                "INSERT OR IGNORE INTO user_groups (sub, group_name) VALUES (?1, ?2)",
                params![sub, group.name()],
            )?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    /// Every user, oldest first.
    pub async fn list(&self) -> Result<Vec<User>, UserError> {
        self.with_connection(|conn| {
            let subs: Vec<String> = conn
                .prepare("SELECT sub FROM users ORDER BY created_at, email_key")?
                .query_map([], |row| row.get(0))?
                .collect::<Result<_, _>>()?;
            subs.iter()
                .filter_map(|sub| load_user(conn, "sub", sub).transpose())
                .collect()
        })
        .await
    }

    pub async fn is_empty(&self) -> Result<bool, UserError> {
        self.with_connection(|conn| {
            let count: i64 = conn.query_row("SELECT count(*) FROM users", [], |row| row.get(0))?;
            Ok(count == 0)
        })
        .await
    }
}

/// The local user pool as the post-confirmation trigger sees it; user names are subs.
#[async_trait]
impl UserDirectory for UserStore {
    async fn add_to_group(&self, username: &str, group: &str) -> Result<(), DirectoryError> {
        let group =
            Group::from_str(group).map_err(|_| DirectoryError::UnknownGroup(group.to_owned()))?;
        match UserStore::add_to_group(self, username, group).await {
            Ok(()) => Ok(()),
            Err(UserError::NotFound) => Err(DirectoryError::UnknownUser(username.to_owned())),
            Err(error) => Err(DirectoryError::Internal(error.to_string())),
        }
    }
}

fn email_key(email: &str) -> String {
    email.to_lowercase()
}

fn load_user(conn: &Connection, column: &str, value: &str) -> Result<Option<User>, UserError> {
    let user = conn
        .query_row(
            &format!("SELECT sub, email, name, created_at FROM users WHERE {column} = ?1"),
            params![value],
            user_from_row,
        )
        .optional()?;
    let Some(mut user) = user else {
        return Ok(None);
    };
    let names: Vec<String> = conn
        .prepare("SELECT group_name FROM user_groups WHERE sub = ?1")?
        .query_map(params![user.sub], |row| row.get(0))?
        .collect::<Result<_, _>>()?;
    user.groups = names.iter().filter_map(|name| name.parse().ok()).collect();
    user.groups.sort();
    Ok(Some(user))
}

fn user_from_row(row: &Row<'_>) -> rusqlite::Result<User> {
    let created_at: String = row.get(3)?;
    Ok(User {
        sub: row.get(0)?,
        email: row.get(1)?,
        name: row.get(2)?,
        groups: Vec::new(),
        created_at: from_key(&created_at).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                3,
                rusqlite::types::Type::Text,
                format!("not a timestamp: {created_at}").into(),
            )
        })?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_names_each_missing_kind() {
        assert!(password_policy_failures("Str0ng!passw0rd").is_empty());
        let failures = password_policy_failures("short");
        assert!(
            failures.iter().any(|f| f.contains("at least 12")),
            "{failures:?}"
        );
        assert!(failures.iter().any(|f| f.contains("uppercase")));
        assert!(failures.iter().any(|f| f.contains("digit")));
        assert!(failures.iter().any(|f| f.contains("symbol")));
        assert!(!failures.iter().any(|f| f.contains("lowercase")));
        assert_eq!(
            password_policy_failures("ALLUPPERCASE1!"),
            vec!["Password must contain a lowercase letter.".to_owned()]
        );
    }

    #[test]
    fn generated_passwords_meet_the_policy_and_differ() {
        let first = generate_password();
        assert!(password_policy_failures(&first).is_empty());
        assert_eq!(first.len(), 20);
        assert_ne!(first, generate_password());
    }

    #[test]
    fn hashes_are_argon2id_and_verify_only_the_password() {
        let hash = hash_password("Str0ng!passw0rd").unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify_password("Str0ng!passw0rd", &hash));
        assert!(!verify_password("Str0ng!passw0rD", &hash));
        assert!(!verify_password("Str0ng!passw0rd", "not a hash"));
    }

    #[test]
    fn sign_up_fields_are_checked_together() {
        let errors = NewUser::validate("nope", " ", "weak").unwrap_err();
        assert_eq!(
            errors.fields(),
            vec![
                "email", "name", "password", "password", "password", "password"
            ]
        );
        let bidi = NewUser::validate("a@example.com", "Ada\u{202E}nimda", "Str0ng!passw0rd");
        assert_eq!(bidi.unwrap_err().fields(), ["name"]);
        assert!(
            NewUser::validate("a@example.com", "\u{5E9}\u{5E8}\u{5D4}", "Str0ng!passw0rd").is_ok()
        );
        let user = NewUser::validate(" Ada@Example.com ", " Ada ", "Str0ng!passw0rd").unwrap();
        assert_eq!(
            (user.email.as_str(), user.name.as_str()),
            ("Ada@Example.com", "Ada")
        );
    }

    #[tokio::test]
    async fn emails_are_unique_whatever_their_case_and_groups_are_idempotent() {
        let users = UserStore::open_in_memory().unwrap();
        let now = Utc::now();
        let ada = users
            .create(
                NewUser::validate("Ada@Example.com", "Ada", "Str0ng!passw0rd").unwrap(),
                now,
            )
            .await
            .unwrap();
        let again = NewUser::validate("ada@example.COM", "Other", "Str0ng!passw0rd").unwrap();
        assert!(matches!(
            users.create(again, now).await,
            Err(UserError::EmailTaken)
        ));

        users.add_to_group(&ada.sub, Group::Attendee).await.unwrap();
        users.add_to_group(&ada.sub, Group::Attendee).await.unwrap();
        users
            .add_to_group(&ada.sub, Group::Organizer)
            .await
            .unwrap();
        let found = users
            .find_by_email("ADA@example.com")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found.groups, vec![Group::Organizer, Group::Attendee]);
        assert_eq!(found.email, "Ada@Example.com");
        assert!(matches!(
            users.add_to_group("nobody", Group::Attendee).await,
            Err(UserError::NotFound)
        ));

        assert!(
            users
                .authenticate("ada@example.com", "Str0ng!passw0rd")
                .await
                .unwrap()
                .is_some()
        );
        assert!(
            users
                .authenticate("ada@example.com", "wrong")
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            users
                .authenticate("eve@example.com", "Str0ng!passw0rd")
                .await
                .unwrap()
                .is_none()
        );
    }

    #[tokio::test]
    async fn the_directory_port_maps_unknowns() {
        let users = UserStore::open_in_memory().unwrap();
        let directory: &dyn UserDirectory = &users;
        assert_eq!(
            directory.add_to_group("nobody", "attendee").await,
            Err(DirectoryError::UnknownUser("nobody".into()))
        );
        assert_eq!(
            directory.add_to_group("nobody", "admins").await,
            Err(DirectoryError::UnknownGroup("admins".into()))
        );
    }
}
