//! ticketd's identity provider: the part of a Cognito user pool the site uses, on one machine.
//! It speaks the hosted UI's endpoints under `/auth` (so the site's `cognitoDomain` is
//! `http://<host>/auth` here and the hosted-UI domain on AWS): `/oauth2/authorize`, `/login`,
//! `/signup`, `/oauth2/token` (authorization code with PKCE S256, refresh token),
//! `/oauth2/userInfo`, `/logout`, `/.well-known/jwks.json` and
//! `/.well-known/openid-configuration`. Tokens carry Cognito's claims, signed RS256 with a key
//! kept in the data directory; sign-up runs the post-confirmation trigger: by default
//! [`ticket_core::identity::on_user_confirmed`] against the local user store, or another
//! [`PostConfirmation`] (the emulated AWS stack's Lambda).
//!
//! Users live in `<data-dir>/users.sqlite3`. Sign-in sessions, pending authorization requests,
//! codes and refresh tokens live in memory: a restart signs everyone out.

mod flows;
pub mod keys;
mod pages;
mod routes;
pub mod users;
pub mod users_cli;
pub mod verifier;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use jsonwebtoken::jwk::JwkSet;
use serde_json::{Value, json};
use ticket_core::Clock;
use ticket_core::identity::{Group, on_user_confirmed};

pub use keys::SigningKey;
pub use routes::routes;
pub use users::{User, UserError, UserStore};
pub use verifier::{JwtVerifier, VerifyError};

use flows::Flows;

/// Where the identity provider's routes are mounted.
pub const MOUNT: &str = "/auth";
/// The local app client's default id.
pub const DEFAULT_CLIENT_ID: &str = "ticketd-local";
/// The file demo accounts are kept in, in the data directory.
pub const DEMO_ACCOUNTS_FILE: &str = "demo-accounts.txt";
/// Lifetime of ID and access tokens, as the CDK app configures Cognito's client.
pub const TOKEN_SECONDS: i64 = 3600;

/// The scopes the app client may ask for (the CDK client's).
pub const SCOPES: [&str; 3] = ["openid", "email", "profile"];

/// The site's app client: public (no secret), authorization code + PKCE.
#[derive(Debug, Clone)]
pub struct AppClient {
    pub id: String,
    /// Where `/oauth2/authorize` may send the code, compared exactly.
    pub callback_urls: Vec<String>,
    /// Where `/logout` may send the browser, compared exactly.
    pub logout_urls: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct IdpConfig {
    /// The `iss` of every token: `<base URL>/auth`.
    pub issuer: String,
    pub client: AppClient,
}

impl IdpConfig {
    /// ticketd's defaults for a server at `base_url` (`http://host:port`): issuer
    /// `<base_url>/auth`, client `ticketd-local` whose callback and logout URLs are the site's
    /// `/` and `/index.html`. A loopback `127.0.0.1` base also registers the same URLs under
    /// `localhost`, since people type either.
    pub fn local(base_url: &str) -> Self {
        let base = base_url.trim_end_matches('/');
        let mut origins = vec![base.to_owned()];
        if let Some(port) = base.strip_prefix("http://127.0.0.1") {
            origins.push(format!("http://localhost{port}"));
        }
        let urls: Vec<String> = origins
            .iter()
            .flat_map(|origin| [format!("{origin}/"), format!("{origin}/index.html")])
            .collect();
        Self {
            issuer: format!("{base}{MOUNT}"),
            client: AppClient {
                id: DEFAULT_CLIENT_ID.to_owned(),
                callback_urls: urls.clone(),
                logout_urls: urls,
            },
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum IdpError {
    #[error("cannot open {path}: {source}")]
    Users { path: String, source: UserError },
    #[error("cannot load the identity provider's signing key: {0}")]
    Key(std::io::Error),
}

/// Cognito's post-confirmation trigger, as the provider runs it once a sign-up is confirmed. A
/// failure fails the sign-up, as a failing trigger does in Cognito.
#[async_trait]
pub trait PostConfirmation: Send + Sync {
    async fn user_confirmed(&self, idp: &Idp, user: &User) -> Result<(), String>;
}

/// The identity provider; cheap to clone.
#[derive(Clone)]
pub struct Idp(Arc<Inner>);

struct Inner {
    config: IdpConfig,
    users: UserStore,
    key: SigningKey,
    verifier: JwtVerifier,
    clock: Arc<dyn Clock>,
    flows: Mutex<Flows>,
    /// Cookies get `Secure` when the issuer is https.
    secure_cookies: bool,
    /// `None`: the rule itself, on the local user store.
    post_confirmation: Option<Arc<dyn PostConfirmation>>,
}

impl Idp {
    /// Opens the users file and the signing key in `data_dir` (making them on first start).
    pub fn open(
        data_dir: &Path,
        config: IdpConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, IdpError> {
        let path = data_dir.join(users::USERS_FILE);
        let users = UserStore::open(&path).map_err(|source| IdpError::Users {
            path: path.display().to_string(),
            source,
        })?;
        let key = SigningKey::load_or_create(data_dir).map_err(IdpError::Key)?;
        Ok(Self::new(config, users, key, clock))
    }

    pub fn new(
        config: IdpConfig,
        users: UserStore,
        key: SigningKey,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let secure_cookies = config.issuer.starts_with("https://");
        let verifier = JwtVerifier::new(
            config.issuer.clone(),
            vec![config.client.id.clone()],
            &key.jwks(),
        )
        .expect("the JWKS holds the signing key");
        Self(Arc::new(Inner {
            config,
            users,
            key,
            verifier,
            clock,
            flows: Mutex::new(Flows::default()),
            secure_cookies,
            post_confirmation: None,
        }))
    }

    /// This provider, running `trigger` on sign-up instead of the local rule. Called before
    /// the provider is cloned.
    pub fn with_post_confirmation(self, trigger: Arc<dyn PostConfirmation>) -> Self {
        let Ok(mut inner) = Arc::try_unwrap(self.0) else {
            panic!("with_post_confirmation is called before the provider is shared");
        };
        inner.post_confirmation = Some(trigger);
        Self(Arc::new(inner))
    }

    /// Runs the post-confirmation trigger for a user who just signed up.
    async fn user_confirmed(&self, user: &User) -> Result<(), String> {
        match &self.0.post_confirmation {
            Some(trigger) => trigger.user_confirmed(self, user).await,
            None => on_user_confirmed(self.users(), &user.sub)
                .await
                .map_err(|error| error.to_string()),
        }
    }

    pub fn config(&self) -> &IdpConfig {
        &self.0.config
    }

    pub fn issuer(&self) -> &str {
        &self.0.config.issuer
    }

    pub fn users(&self) -> &UserStore {
        &self.0.users
    }

    pub fn jwks(&self) -> JwkSet {
        self.0.key.jwks()
    }

    /// A verifier for this provider's tokens, as the gateway's JWT authorizer would be
    /// configured: this issuer, the app client as audience.
    pub fn verifier(&self) -> &JwtVerifier {
        &self.0.verifier
    }

    fn now(&self) -> DateTime<Utc> {
        self.0.clock.now()
    }

    fn flows(&self) -> std::sync::MutexGuard<'_, Flows> {
        self.0.flows.lock().expect("idp flows lock")
    }

    /// The OpenID discovery document.
    pub fn openid_configuration(&self) -> Value {
        let issuer = self.issuer();
        json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/oauth2/authorize"),
            "token_endpoint": format!("{issuer}/oauth2/token"),
            "userinfo_endpoint": format!("{issuer}/oauth2/userInfo"),
            "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
            "end_session_endpoint": format!("{issuer}/logout"),
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": SCOPES,
            "token_endpoint_auth_methods_supported": ["none"],
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": ["sub", "email", "email_verified", "name", "cognito:groups",
                                 "cognito:username", "auth_time", "iss", "aud", "exp", "iat"],
        })
    }

    /// ID and access token claims for `user`, as Cognito issues them. Groups are the user's
    /// current ones, so a promotion shows in the next token.
    fn token_claims(&self, user: &User, grant: &flows::Grant, now: i64) -> (Value, Value) {
        let issuer = self.issuer();
        let origin_jti = uuid::Uuid::new_v4().to_string();
        let groups = user.group_names();
        let mut access = json!({
            "sub": user.sub,
            "iss": issuer,
            "version": 2,
            "client_id": grant.client_id,
            "origin_jti": origin_jti,
            "token_use": "access",
            "scope": grant.scope,
            "auth_time": grant.auth_time,
            "exp": now + TOKEN_SECONDS,
            "iat": now,
            "jti": uuid::Uuid::new_v4().to_string(),
            "username": user.sub,
        });
        let mut id = json!({
            "sub": user.sub,
            "aud": grant.client_id,
            "email_verified": true,
            "email": user.email,
            "name": user.name,
            "cognito:username": user.sub,
            "origin_jti": origin_jti,
            "token_use": "id",
            "iss": issuer,
            "auth_time": grant.auth_time,
            "exp": now + TOKEN_SECONDS,
            "iat": now,
            "jti": uuid::Uuid::new_v4().to_string(),
        });
        // Like Cognito, no `cognito:groups` for a user in no group.
        if !groups.is_empty() {
            access["cognito:groups"] = json!(groups);
            id["cognito:groups"] = json!(groups);
        }
        if let Some(nonce) = &grant.nonce {
            id["nonce"] = json!(nonce);
        }
        (id, access)
    }
}

/// Makes the demo organizer and attendee on a fresh data directory (no users yet): prints
/// their credentials and keeps them in `<data-dir>/demo-accounts.txt` (mode 0600). Returns the
/// file's text when it made them, `None` when the directory already had users.
pub async fn ensure_demo_accounts(
    idp: &Idp,
    data_dir: &Path,
) -> Result<Option<String>, Box<dyn std::error::Error + Send + Sync>> {
    if !idp.users().is_empty().await? {
        return Ok(None);
    }
    let mut text = String::from(
        "# Demo accounts made by ticketd on a fresh data directory. Sign in at the site.\n",
    );
    let accounts = [
        (
            "organizer@example.com",
            "Demo Organizer",
            &[Group::Organizer][..],
        ),
        ("attendee@example.com", "Demo Attendee", &[][..]),
    ];
    for (email, name, extra_groups) in accounts {
        let password = users::generate_password();
        let user =
            users_cli::add_user(idp.users(), email, name, &password, extra_groups, idp.now())
                .await?;
        let groups = user.group_names().join(" ");
        text.push_str(&format!("{email}\t{password}\t{groups}\n"));
    }
    let path = data_dir.join(DEMO_ACCOUNTS_FILE);
    local_support::secret_file::load_or_create(&path, || Ok(text.clone().into_bytes()))?;
    Ok(Some(text))
}

/// Reads `name=value` pairs of a `Cookie` header.
fn cookies(headers: &axum::http::HeaderMap) -> HashMap<String, String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            Some((name.to_owned(), value.to_owned()))
        })
        .collect()
}
