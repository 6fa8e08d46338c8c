//! What the identity provider remembers between requests, in memory: authorization requests
//! waiting for a sign-in, authorization codes, sign-in sessions and refresh tokens. Each has a
//! lifetime; expired entries are dropped as new ones arrive, and each kind is capped so a
//! flood of requests cannot exhaust memory.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, TimeDelta, Utc};
use local_support::random_token;
use sha2::{Digest, Sha256};

/// How long a sign-in form stays usable.
pub const REQUEST_TTL: TimeDelta = TimeDelta::hours(1);
/// How long an authorization code can be redeemed (RFC 6749 recommends at most 10 minutes).
pub const CODE_TTL: TimeDelta = TimeDelta::minutes(5);
/// The sign-in session (the hosted UI's cookie): Cognito's lasts an hour.
pub const SESSION_TTL: TimeDelta = TimeDelta::hours(1);
/// Refresh tokens, as the CDK app configures Cognito's client.
pub const REFRESH_TTL: TimeDelta = TimeDelta::days(30);
/// The most entries of one kind held at once.
const MAX_ENTRIES: usize = 10_000;

/// An authorization request waiting for the user to sign in or sign up.
#[derive(Debug, Clone)]
pub struct AuthRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub state: Option<String>,
    pub scope: String,
    pub code_challenge: String,
    pub nonce: Option<String>,
    /// The browser-binding cookie of the browser that started it: a sign-in form posted from
    /// another site carries no cookie (SameSite=Lax), so it cannot complete someone's request.
    pub browser: String,
    pub expires_at: DateTime<Utc>,
}

/// What tokens are issued for.
#[derive(Debug, Clone)]
pub struct Grant {
    pub sub: String,
    pub client_id: String,
    pub scope: String,
    /// When the user signed in (seconds since the epoch).
    pub auth_time: i64,
    pub nonce: Option<String>,
}

#[derive(Debug, Clone)]
pub struct CodeEntry {
    pub grant: Grant,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct Session {
    pub sub: String,
    pub auth_time: i64,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
struct RefreshEntry {
    grant: Grant,
    expires_at: DateTime<Utc>,
}

#[derive(Debug, Default)]
pub struct Flows {
    requests: HashMap<String, AuthRequest>,
    codes: HashMap<String, CodeEntry>,
    sessions: HashMap<String, Session>,
    refresh: HashMap<String, RefreshEntry>,
}

/// Too many entries of one kind are live.
#[derive(Debug)]
pub struct Full;

impl Flows {
    fn prune(&mut self, now: DateTime<Utc>) {
        self.requests.retain(|_, entry| entry.expires_at > now);
        self.codes.retain(|_, entry| entry.expires_at > now);
        self.sessions.retain(|_, entry| entry.expires_at > now);
        self.refresh.retain(|_, entry| entry.expires_at > now);
    }

    fn insert<T>(map: &mut HashMap<String, T>, value: T) -> Result<String, Full> {
        if map.len() >= MAX_ENTRIES {
            return Err(Full);
        }
        let key = random_token();
        map.insert(key.clone(), value);
        Ok(key)
    }

    pub fn add_request(
        &mut self,
        request: AuthRequest,
        now: DateTime<Utc>,
    ) -> Result<String, Full> {
        self.prune(now);
        Self::insert(&mut self.requests, request)
    }

    pub fn request(&self, id: &str, now: DateTime<Utc>) -> Option<AuthRequest> {
        self.requests
            .get(id)
            .filter(|request| request.expires_at > now)
            .cloned()
    }

    pub fn remove_request(&mut self, id: &str) {
        self.requests.remove(id);
    }

    pub fn add_code(&mut self, entry: CodeEntry, now: DateTime<Utc>) -> Result<String, Full> {
        self.prune(now);
        Self::insert(&mut self.codes, entry)
    }

    /// The code's entry, removed whether or not it is then honoured: a code is tried once.
    pub fn take_code(&mut self, code: &str) -> Option<CodeEntry> {
        self.codes.remove(code)
    }

    pub fn add_session(&mut self, session: Session, now: DateTime<Utc>) -> Result<String, Full> {
        self.prune(now);
        Self::insert(&mut self.sessions, session)
    }

    pub fn session(&self, id: &str, now: DateTime<Utc>) -> Option<Session> {
        self.sessions
            .get(id)
            .filter(|session| session.expires_at > now)
            .cloned()
    }

    pub fn end_session(&mut self, id: &str) {
        self.sessions.remove(id);
    }

    pub fn add_refresh(&mut self, grant: Grant, now: DateTime<Utc>) -> Result<String, Full> {
        self.prune(now);
        let entry = RefreshEntry {
            grant,
            expires_at: now + REFRESH_TTL,
        };
        Self::insert(&mut self.refresh, entry)
    }

    pub fn refresh(&self, token: &str, now: DateTime<Utc>) -> Option<Grant> {
        self.refresh
            .get(token)
            .filter(|entry| entry.expires_at > now)
            .map(|entry| entry.grant.clone())
    }
}

/// A PKCE S256 challenge: the base64url of a SHA-256 digest, 43 characters.
pub fn is_s256_challenge(challenge: &str) -> bool {
    challenge.len() == 43
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// RFC 7636: 43 to 128 unreserved characters.
pub fn is_code_verifier(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

pub fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s256_matches_rfc_7636_appendix_b() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert!(is_code_verifier(verifier));
        let challenge = s256(verifier);
        assert_eq!(challenge, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
        assert!(is_s256_challenge(&challenge));
        assert!(!is_s256_challenge("plain-challenge"));
        assert!(!is_code_verifier("short"));
    }

    #[test]
    fn codes_are_taken_once_and_sessions_expire() {
        let now = Utc::now();
        let mut flows = Flows::default();
        let grant = Grant {
            sub: "u".into(),
            client_id: "c".into(),
            scope: "openid".into(),
            auth_time: now.timestamp(),
            nonce: None,
        };
        let code = flows
            .add_code(
                CodeEntry {
                    grant: grant.clone(),
                    redirect_uri: "r".into(),
                    code_challenge: "x".into(),
                    expires_at: now + CODE_TTL,
                },
                now,
            )
            .unwrap();
        assert!(flows.take_code(&code).is_some());
        assert!(flows.take_code(&code).is_none());

        let session = flows
            .add_session(
                Session {
                    sub: "u".into(),
                    auth_time: 0,
                    expires_at: now + SESSION_TTL,
                },
                now,
            )
            .unwrap();
        assert!(flows.session(&session, now).is_some());
        assert!(flows.session(&session, now + SESSION_TTL).is_none());
    }
}
