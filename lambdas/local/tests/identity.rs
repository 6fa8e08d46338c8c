//! ticketd's identity provider over real HTTP, hop by hop (redirects are not followed, cookies
//! are kept by hand so their attributes can be checked): sign-up, sign-in, the code exchange
//! with PKCE and its failures, refresh, promotion, logout, the HTML pages' escaping and policy
//! messages, and the JWT verifier the gateway will use.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{TimeDelta, Utc};
use cognito_local::users_cli::add_user;
use cognito_local::verifier::{JwtVerifier, VerifyError, cognito_issuer};
use cognito_local::{self as idp, Idp, IdpConfig, SigningKey};
use jsonwebtoken::jwk::JwkSet;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tempfile::TempDir;
use ticket_core::identity::{Caller, Group};
use ticket_core::{Clock, ManualClock};
use ticket_embedded::SqliteStore;
use ticket_embedded::files::LocalFiles;
use ticketd::server::{self, AppState, Services};
use tokio::net::TcpListener;

const PASSWORD: &str = "Corr3ct-Horse!";

struct Stack {
    dir: TempDir,
    addr: SocketAddr,
    idp: Idp,
    clock: Arc<ManualClock>,
}

impl Stack {
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let site_dir = dir.path().join("site");
        std::fs::create_dir(&site_dir).unwrap();
        std::fs::write(
            site_dir.join("index.html"),
            "<!doctype html><title>site</title>",
        )
        .unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let url = format!("http://{addr}");
        let clock = Arc::new(ManualClock::new(Utc::now()));
        let idp = Idp::open(dir.path(), IdpConfig::local(&url), clock.clone()).unwrap();
        let files = LocalFiles::open(&dir.path().join("files"), &url).unwrap();
        let state = AppState {
            store: Arc::new(SqliteStore::open_in_memory().unwrap()),
            site_dir,
            files: Arc::new(files),
        };
        let services = Services {
            idp: Some(idp.clone()),
            ..Services::default()
        };
        tokio::spawn(axum::serve(listener, server::router(state, services)).into_future());
        Self {
            dir,
            addr,
            idp,
            clock,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn callback(&self) -> String {
        self.url("/")
    }

    fn browser(&self) -> Browser {
        Browser {
            base: self.url(""),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: HashMap::new(),
        }
    }

    /// A confirmed user with [`PASSWORD`], as `ticketd users add` makes them.
    async fn user(&self, email: &str, groups: &[Group]) {
        add_user(
            self.idp.users(),
            email,
            "Test User",
            PASSWORD,
            groups,
            self.clock.now(),
        )
        .await
        .unwrap();
    }

    /// What the gateway will do: a verifier from the published discovery document and JWKS.
    async fn published_verifier(&self) -> JwtVerifier {
        let config: Value = reqwest::get(self.url("/auth/.well-known/openid-configuration"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let jwks: JwkSet = reqwest::get(config["jwks_uri"].as_str().unwrap())
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        JwtVerifier::new(
            config["issuer"].as_str().unwrap(),
            vec![idp::DEFAULT_CLIENT_ID.to_owned()],
            &jwks,
        )
        .unwrap()
    }

    fn now(&self) -> i64 {
        self.clock.now().timestamp()
    }

    async fn exchange(&self, params: &[(&str, &str)]) -> (StatusCode, Value) {
        let response = reqwest::Client::new()
            .post(self.url("/auth/oauth2/token"))
            .form(params)
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.json().await.unwrap())
    }

    /// Redeems `code` the way the site does.
    async fn redeem(&self, code: &str, pkce: &Pkce) -> (StatusCode, Value) {
        self.exchange(&[
            ("grant_type", "authorization_code"),
            ("client_id", idp::DEFAULT_CLIENT_ID),
            ("code", code),
            ("redirect_uri", &self.callback()),
            ("code_verifier", &pkce.verifier),
        ])
        .await
    }
}

/// A user agent with a cookie jar of its own; follows no redirect.
struct Browser {
    base: String,
    client: reqwest::Client,
    cookies: HashMap<String, String>,
}

impl Browser {
    fn absolute(&self, target: &str) -> String {
        if target.starts_with("http") {
            target.to_owned()
        } else {
            format!("{}{target}", self.base)
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep_cookies(&mut self, headers: &HeaderMap) {
        for value in headers.get_all(SET_COOKIE) {
            let text = value.to_str().unwrap();
            let (pair, attributes) = text.split_once(';').unwrap_or((text, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if attributes.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
    }

    async fn get(&mut self, target: &str) -> reqwest::Response {
        let response = self
            .client
            .get(self.absolute(target))
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        self.keep_cookies(response.headers());
        response
    }

    async fn post(&mut self, target: &str, form: &[(&str, &str)]) -> reqwest::Response {
        let response = self
            .client
            .post(self.absolute(target))
            .header("cookie", self.cookie_header())
            .form(form)
            .send()
            .await
            .unwrap();
        self.keep_cookies(response.headers());
        response
    }
}

struct Pkce {
    verifier: String,
    challenge: String,
}

impl Pkce {
    fn new() -> Self {
        let verifier = format!("{}-{}", uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        Self {
            verifier,
            challenge,
        }
    }
}

fn location(response: &reqwest::Response) -> String {
    response.headers()[LOCATION].to_str().unwrap().to_owned()
}

fn query(url: &str) -> HashMap<String, String> {
    let query = url.split_once('?').map_or("", |(_, query)| query);
    form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

fn authorize_url(stack: &Stack, pkce: &Pkce, state: &str) -> String {
    let params = form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", idp::DEFAULT_CLIENT_ID)
        .append_pair("redirect_uri", &stack.callback())
        .append_pair("state", state)
        .append_pair("scope", "openid email profile")
        .append_pair("code_challenge", &pkce.challenge)
        .append_pair("code_challenge_method", "S256")
        .finish();
    format!("/auth/oauth2/authorize?{params}")
}

/// Starts an authorization; returns the pending request's id from the redirect to the form.
async fn start(stack: &Stack, browser: &mut Browser, pkce: &Pkce) -> String {
    let response = browser.get(&authorize_url(stack, pkce, "st-1")).await;
    assert_eq!(response.status(), StatusCode::FOUND);
    let to = location(&response);
    assert!(to.starts_with("/auth/login?"), "{to}");
    query(&to)["request"].clone()
}

/// Asserts `response` returns to the callback with a code and the state; returns the code.
fn code_from(stack: &Stack, response: &reqwest::Response) -> String {
    let to = location(response);
    assert!(to.starts_with(&stack.callback()), "{to}");
    let params = query(&to);
    assert_eq!(params.get("state").map(String::as_str), Some("st-1"));
    params["code"].clone()
}

/// Signs in through the form; returns the code.
async fn sign_in(stack: &Stack, browser: &mut Browser, pkce: &Pkce, email: &str) -> String {
    let request = start(stack, browser, pkce).await;
    let form = browser.get(&format!("/auth/login?request={request}")).await;
    assert_eq!(form.status(), StatusCode::OK);
    let response = browser
        .post(
            "/auth/login",
            &[
                ("request", &request),
                ("email", email),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    code_from(stack, &response)
}

fn assert_oauth_error(outcome: (StatusCode, Value), error: &str) {
    assert_eq!(outcome.0, StatusCode::BAD_REQUEST, "{}", outcome.1);
    assert_eq!(outcome.1, json!({ "error": error }));
}

fn header_of(token: &str) -> Value {
    let header = token.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap()
}

#[tokio::test]
async fn sign_up_makes_an_attendee_and_the_tokens_carry_cognitos_claims() {
    let stack = Stack::start().await;
    let mut browser = stack.browser();
    let pkce = Pkce::new();
    let request = start(&stack, &mut browser, &pkce).await;
    let form = browser
        .get(&format!("/auth/signup?request={request}"))
        .await;
    assert_eq!(form.status(), StatusCode::OK);
    let response = browser
        .post(
            "/auth/signup",
            &[
                ("request", &request),
                ("email", "Ada@Example.com"),
                ("name", "Ada Lovelace"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let session_cookie = response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|value| value.to_str().unwrap().to_owned())
        .find(|cookie| cookie.starts_with("ticketd_idp_session="))
        .expect("a session cookie");
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/auth"] {
        assert!(session_cookie.contains(attribute), "{session_cookie}");
    }
    let code = code_from(&stack, &response);

    let (status, tokens) = stack.redeem(&code, &pkce).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["expires_in"], 3600);
    assert_eq!(tokens["token_type"], "Bearer");
    assert!(
        tokens["refresh_token"]
            .as_str()
            .is_some_and(|t| t.len() >= 40)
    );

    let verifier = stack.published_verifier().await;
    let issuer = stack.url("/auth");
    let user = stack
        .idp
        .users()
        .find_by_email("ada@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(user.groups, vec![Group::Attendee]);
    uuid::Uuid::parse_str(&user.sub).expect("sub is a UUID");

    let id_token = tokens["id_token"].as_str().unwrap();
    let jwks = stack.idp.jwks();
    assert_eq!(header_of(id_token)["alg"], "RS256");
    assert_eq!(
        header_of(id_token)["kid"].as_str(),
        jwks.keys[0].common.key_id.as_deref()
    );
    let id = verifier.verify_at(id_token, stack.now()).unwrap();
    assert_eq!(id["sub"], json!(user.sub));
    assert_eq!(id["aud"], "ticketd-local");
    assert_eq!(id["cognito:groups"], json!(["attendee"]));
    assert_eq!(id["email"], "Ada@Example.com");
    assert_eq!(id["email_verified"], true);
    assert_eq!(id["name"], "Ada Lovelace");
    assert_eq!(id["cognito:username"], json!(user.sub));
    assert_eq!(id["token_use"], "id");
    assert_eq!(id["iss"], json!(issuer));
    assert_eq!(id["iat"], json!(stack.now()));
    assert_eq!(id["exp"], json!(stack.now() + 3600));
    assert_eq!(id["auth_time"], json!(stack.now()));

    let access_token = tokens["access_token"].as_str().unwrap();
    let access = verifier.verify_at(access_token, stack.now()).unwrap();
    assert_eq!(access["sub"], json!(user.sub));
    assert_eq!(access["cognito:groups"], json!(["attendee"]));
    assert_eq!(access["iss"], json!(issuer));
    assert_eq!(access["client_id"], "ticketd-local");
    assert_eq!(access["token_use"], "access");
    assert_eq!(access["scope"], "openid email profile");
    assert_eq!(access["username"], json!(user.sub));
    assert_eq!(access["exp"], json!(stack.now() + 3600));
    assert!(access["jti"].as_str().is_some_and(|jti| !jti.is_empty()));
    assert!(
        access.get("aud").is_none(),
        "access tokens carry client_id, not aud"
    );
    assert!(access.get("auth_time").is_some() && access.get("iat").is_some());

    // What the handlers will read, both as ticketd's gateway passes the claims and as API
    // Gateway renders them (strings, `[a b]` arrays).
    let caller = Caller::from_claims(&Value::Object(id.clone())).unwrap();
    assert_eq!(caller.user_id.as_str(), user.sub);
    assert_eq!(caller.groups, vec![Group::Attendee]);
    assert_eq!(caller.email.as_deref(), Some("Ada@Example.com"));
    let as_api_gateway = json!({ "sub": user.sub, "cognito:groups": "[attendee]" });
    assert_eq!(
        Caller::from_claims(&as_api_gateway).unwrap().groups,
        vec![Group::Attendee]
    );

    let info: Value = reqwest::Client::new()
        .get(stack.url("/auth/oauth2/userInfo"))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["sub"], json!(user.sub));
    assert_eq!(info["email"], "Ada@Example.com");
    assert_eq!(info["name"], "Ada Lovelace");
    // The ID token is not a bearer credential for userInfo.
    let refused = reqwest::Client::new()
        .get(stack.url("/auth/oauth2/userInfo"))
        .bearer_auth(id_token)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn sign_in_with_pkce_then_a_live_session_skips_the_form() {
    let stack = Stack::start().await;
    stack.user("grace@example.com", &[]).await;
    let mut browser = stack.browser();
    let pkce = Pkce::new();
    let request = start(&stack, &mut browser, &pkce).await;

    let wrong = browser
        .post(
            "/auth/login",
            &[
                ("request", &request),
                ("email", "grace@example.com"),
                ("password", "Wr0ng-password"),
            ],
        )
        .await;
    assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
    assert!(wrong.headers().get(LOCATION).is_none());
    let page = wrong.text().await.unwrap();
    assert!(page.contains("Incorrect email or password."), "{page}");
    assert!(page.contains("value=\"grace@example.com\""));
    assert!(
        !page.contains("Wr0ng-password"),
        "passwords are never echoed"
    );

    let right = browser
        .post(
            "/auth/login",
            &[
                ("request", &request),
                ("email", "GRACE@example.com"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(right.status(), StatusCode::SEE_OTHER);
    let code = code_from(&stack, &right);
    let (status, tokens) = stack.redeem(&code, &pkce).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");

    // The request was used up by the sign-in.
    let replay = browser
        .post(
            "/auth/login",
            &[
                ("request", &request),
                ("email", "grace@example.com"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST);

    // The session answers the next authorization with a code at once.
    let again = Pkce::new();
    let response = browser.get(&authorize_url(&stack, &again, "st-1")).await;
    assert_eq!(response.status(), StatusCode::FOUND);
    let code = code_from(&stack, &response);
    let (status, tokens) = stack.redeem(&code, &again).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    // Unless the client asks for a fresh sign-in.
    let forced = browser
        .get(&format!(
            "{}&prompt=login",
            authorize_url(&stack, &again, "st-1")
        ))
        .await;
    assert!(location(&forced).starts_with("/auth/login?"));
}

#[tokio::test]
async fn bad_code_exchanges_get_oauth_errors_and_no_tokens() {
    let stack = Stack::start().await;
    stack.user("bob@example.com", &[]).await;
    let mut browser = stack.browser();
    let pkce = Pkce::new();
    let first = sign_in(&stack, &mut browser, &pkce, "bob@example.com").await;
    // Later codes come straight from the session.
    async fn code(stack: &Stack, browser: &mut Browser, pkce: &Pkce) -> String {
        let response = browser.get(&authorize_url(stack, pkce, "st-1")).await;
        code_from(stack, &response)
    }
    let client = idp::DEFAULT_CLIENT_ID;
    let callback = stack.callback();

    // A wrong verifier fails, and burns the code: the right one cannot use it afterwards.
    let other = Pkce::new();
    assert_oauth_error(stack.redeem(&first, &other).await, "invalid_grant");
    assert_oauth_error(stack.redeem(&first, &pkce).await, "invalid_grant");

    // A code works once.
    let reused = code(&stack, &mut browser, &pkce).await;
    assert_eq!(stack.redeem(&reused, &pkce).await.0, StatusCode::OK);
    assert_oauth_error(stack.redeem(&reused, &pkce).await, "invalid_grant");

    // The redirect URI must be the one the code was issued for, even another registered one.
    let redirected = code(&stack, &mut browser, &pkce).await;
    let index = stack.url("/index.html");
    assert_oauth_error(
        stack
            .exchange(&[
                ("grant_type", "authorization_code"),
                ("client_id", client),
                ("code", &redirected),
                ("redirect_uri", &index),
                ("code_verifier", &pkce.verifier),
            ])
            .await,
        "invalid_grant",
    );

    // An unknown client is refused before the code is looked at.
    let unknown = code(&stack, &mut browser, &pkce).await;
    assert_oauth_error(
        stack
            .exchange(&[
                ("grant_type", "authorization_code"),
                ("client_id", "someone-else"),
                ("code", &unknown),
                ("redirect_uri", &callback),
                ("code_verifier", &pkce.verifier),
            ])
            .await,
        "invalid_client",
    );
    assert_eq!(stack.redeem(&unknown, &pkce).await.0, StatusCode::OK);

    // Codes live five minutes.
    let late = code(&stack, &mut browser, &pkce).await;
    stack
        .clock
        .advance(TimeDelta::minutes(5) + TimeDelta::seconds(1));
    assert_oauth_error(stack.redeem(&late, &pkce).await, "invalid_grant");

    let missing = code(&stack, &mut browser, &pkce).await;
    assert_oauth_error(
        stack
            .exchange(&[
                ("grant_type", "authorization_code"),
                ("client_id", client),
                ("code", &missing),
                ("redirect_uri", &callback),
            ])
            .await,
        "invalid_request",
    );
    assert_oauth_error(
        stack
            .exchange(&[("grant_type", "password"), ("client_id", client)])
            .await,
        "unsupported_grant_type",
    );
    let not_a_form = reqwest::Client::new()
        .post(stack.url("/auth/oauth2/token"))
        .json(&json!({ "grant_type": "authorization_code" }))
        .send()
        .await
        .unwrap();
    assert_eq!(not_a_form.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        not_a_form.json::<Value>().await.unwrap(),
        json!({ "error": "invalid_request" })
    );
}

#[tokio::test]
async fn authorize_shows_a_page_for_bad_clients_and_redirects_other_errors() {
    let stack = Stack::start().await;
    let mut browser = stack.browser();
    let pkce = Pkce::new();
    let good = authorize_url(&stack, &pkce, "st-1");

    let unknown = browser
        .get(&good.replace("client_id=ticketd-local", "client_id=evil"))
        .await;
    assert_eq!(unknown.status(), StatusCode::BAD_REQUEST);
    assert!(unknown.headers().get(LOCATION).is_none());
    assert!(unknown.text().await.unwrap().contains("unknown client_id"));

    let evil_redirect =
        form_urlencoded::byte_serialize(b"http://evil.example/").collect::<String>();
    let ours = form_urlencoded::byte_serialize(stack.callback().as_bytes()).collect::<String>();
    let unregistered = browser.get(&good.replace(&ours, &evil_redirect)).await;
    assert_eq!(unregistered.status(), StatusCode::BAD_REQUEST);
    assert!(unregistered.headers().get(LOCATION).is_none());
    let page = unregistered.text().await.unwrap();
    assert!(page.contains("redirect_uri"), "{page}");

    for (from, to, error) in [
        (
            "code_challenge_method=S256",
            "code_challenge_method=plain",
            "invalid_request",
        ),
        ("&code_challenge_method=S256", "", "invalid_request"),
        (
            "response_type=code",
            "response_type=token",
            "unsupported_response_type",
        ),
        (
            "scope=openid+email+profile",
            "scope=openid+admin",
            "invalid_scope",
        ),
    ] {
        let response = browser.get(&good.replace(from, to)).await;
        assert_eq!(response.status(), StatusCode::FOUND, "{to}");
        let back = location(&response);
        assert!(back.starts_with(&stack.callback()), "{back}");
        let params = query(&back);
        assert_eq!(params["error"], error, "{to}");
        assert_eq!(params["state"], "st-1");
        assert!(!params.contains_key("code"));
    }
}

#[tokio::test]
async fn a_refresh_token_gets_new_tokens_and_a_promotion_shows_in_the_next_ones() {
    let stack = Stack::start().await;
    stack.user("carol@example.com", &[]).await;
    let mut browser = stack.browser();
    let pkce = Pkce::new();
    let code = sign_in(&stack, &mut browser, &pkce, "carol@example.com").await;
    let (_, tokens) = stack.redeem(&code, &pkce).await;
    let verifier = stack.published_verifier().await;
    let access = verifier
        .verify_at(tokens["access_token"].as_str().unwrap(), stack.now())
        .unwrap();
    assert_eq!(access["cognito:groups"], json!(["attendee"]));

    // The CLI, as a separate process on the same data directory while the server runs.
    let promoted = Command::new(env!("CARGO_BIN_EXE_ticketd"))
        .args(["users", "promote", "carol@example.com", "--data-dir"])
        .arg(stack.dir.path())
        .output()
        .unwrap();
    assert!(
        promoted.status.success(),
        "{}",
        String::from_utf8_lossy(&promoted.stderr)
    );

    stack.clock.advance(TimeDelta::minutes(10));
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let (status, renewed) = stack
        .exchange(&[
            ("grant_type", "refresh_token"),
            ("client_id", idp::DEFAULT_CLIENT_ID),
            ("refresh_token", refresh),
        ])
        .await;
    assert_eq!(status, StatusCode::OK, "{renewed}");
    assert!(
        renewed.get("refresh_token").is_none(),
        "Cognito does not rotate"
    );
    assert_eq!(renewed["expires_in"], 3600);
    let id = verifier
        .verify_at(renewed["id_token"].as_str().unwrap(), stack.now())
        .unwrap();
    assert_eq!(id["cognito:groups"], json!(["organizer", "attendee"]));
    assert_eq!(id["iat"], json!(stack.now()));
    assert_eq!(
        id["auth_time"], access["auth_time"],
        "still the same sign-in"
    );
    let access = verifier
        .verify_at(renewed["access_token"].as_str().unwrap(), stack.now())
        .unwrap();
    assert!(
        Caller::from_claims(&Value::Object(access))
            .unwrap()
            .is_organizer()
    );

    for (client, token) in [
        (idp::DEFAULT_CLIENT_ID, "not-a-refresh-token"),
        (
            idp::DEFAULT_CLIENT_ID,
            tokens["access_token"].as_str().unwrap(),
        ),
    ] {
        assert_oauth_error(
            stack
                .exchange(&[
                    ("grant_type", "refresh_token"),
                    ("client_id", client),
                    ("refresh_token", token),
                ])
                .await,
            "invalid_grant",
        );
    }
}

#[tokio::test]
async fn the_users_command_adds_with_a_generated_password_and_lists() {
    let stack = Stack::start().await;
    let ticketd = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_ticketd"))
            .arg("users")
            .args(args)
            .arg("--data-dir")
            .arg(stack.dir.path())
            .output()
            .unwrap()
    };
    let added = ticketd(&[
        "add",
        "dan@example.com",
        "--name",
        "Dan",
        "--group",
        "organizer",
    ]);
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let stdout = String::from_utf8(added.stdout).unwrap();
    let password = stdout
        .lines()
        .find_map(|line| line.strip_prefix("password: "))
        .expect("a generated password is printed")
        .to_owned();
    assert!(cognito_local::users::password_policy_failures(&password).is_empty());

    let refused = ticketd(&["add", "eve@example.com", "--group", "admin"]);
    assert!(!refused.status.success());
    let weak = ticketd(&["add", "eve@example.com", "--password", "weak"]);
    assert!(!weak.status.success());
    assert!(String::from_utf8_lossy(&weak.stderr).contains("at least 12 characters"));

    let listed = String::from_utf8(ticketd(&["list"]).stdout).unwrap();
    assert!(
        listed.contains("dan@example.com\tDan\torganizer,attendee"),
        "{listed}"
    );
    assert!(!listed.contains("eve@example.com"));

    // The printed password signs in, and the token says organizer.
    let mut browser = stack.browser();
    let pkce = Pkce::new();
    let request = start(&stack, &mut browser, &pkce).await;
    let response = browser
        .post(
            "/auth/login",
            &[
                ("request", &request),
                ("email", "dan@example.com"),
                ("password", &password),
            ],
        )
        .await;
    let code = code_from(&stack, &response);
    let (_, tokens) = stack.redeem(&code, &pkce).await;
    let id = stack
        .idp
        .verifier()
        .verify_at(tokens["id_token"].as_str().unwrap(), stack.now())
        .unwrap();
    assert_eq!(id["cognito:groups"], json!(["organizer", "attendee"]));
}

#[tokio::test]
async fn logout_ends_the_session_and_returns_only_to_a_registered_uri() {
    let stack = Stack::start().await;
    stack.user("erin@example.com", &[]).await;
    let mut browser = stack.browser();
    let pkce = Pkce::new();
    sign_in(&stack, &mut browser, &pkce, "erin@example.com").await;
    assert!(browser.cookies.contains_key("ticketd_idp_session"));

    let evil = browser
        .get("/auth/logout?client_id=ticketd-local&logout_uri=http%3A%2F%2Fevil.example%2F")
        .await;
    assert_eq!(evil.status(), StatusCode::BAD_REQUEST);
    assert!(evil.headers().get(LOCATION).is_none());
    let still = browser.get(&authorize_url(&stack, &pkce, "st-1")).await;
    assert!(
        location(&still).starts_with(&stack.callback()),
        "session kept"
    );

    let callback = form_urlencoded::byte_serialize(stack.callback().as_bytes()).collect::<String>();
    let session = browser.cookies["ticketd_idp_session"].clone();
    let out = browser
        .get(&format!(
            "/auth/logout?client_id=ticketd-local&logout_uri={callback}"
        ))
        .await;
    assert_eq!(out.status(), StatusCode::FOUND);
    assert_eq!(location(&out), stack.callback());
    assert!(
        !browser.cookies.contains_key("ticketd_idp_session"),
        "cookie cleared"
    );

    let after = browser.get(&authorize_url(&stack, &pkce, "st-1")).await;
    assert!(location(&after).starts_with("/auth/login?"));
    // The old session id is dead on the server too, not just forgotten by the browser.
    browser
        .cookies
        .insert("ticketd_idp_session".into(), session);
    let replayed = browser.get(&authorize_url(&stack, &pkce, "st-1")).await;
    assert!(location(&replayed).starts_with("/auth/login?"));
}

#[tokio::test]
async fn sign_up_escapes_a_hostile_name_and_explains_the_password_policy() {
    let stack = Stack::start().await;
    let mut browser = stack.browser();
    let pkce = Pkce::new();
    let request = start(&stack, &mut browser, &pkce).await;
    let hostile = "<script>alert(\"x\")</script>'\"&";
    let response = browser
        .post(
            "/auth/signup",
            &[
                ("request", &request),
                ("email", "\"><img src=x onerror=alert(1)>"),
                ("name", hostile),
                ("password", "short"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.starts_with("default-src 'self'"), "{csp}");
    let page = response.text().await.unwrap();
    assert!(!page.contains("<script"), "{page}");
    assert!(!page.contains("<img"), "{page}");
    assert!(page.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#39;&quot;&amp;"));
    for message in [
        "Enter an email address like name@example.com.",
        "Password must be at least 12 characters long.",
        "Password must contain an uppercase letter.",
        "Password must contain a digit.",
        "Password must contain a symbol",
    ] {
        assert!(page.contains(message), "missing {message:?} in {page}");
    }
    assert!(!page.contains("Password must contain a lowercase letter."));

    // The same name is stored as typed and goes into the token as is (the site must not
    // write it as HTML).
    let done = browser
        .post(
            "/auth/signup",
            &[
                ("request", &request),
                ("email", "mallory@example.com"),
                ("name", hostile),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    let (_, tokens) = stack.redeem(&code_from(&stack, &done), &pkce).await;
    let id = stack
        .idp
        .verifier()
        .verify_at(tokens["id_token"].as_str().unwrap(), stack.now())
        .unwrap();
    assert_eq!(id["name"], hostile);

    // An email that is taken, whatever its case, is refused on its field.
    let mut other = stack.browser();
    let request = start(&stack, &mut other, &Pkce::new()).await;
    let taken = other
        .post(
            "/auth/signup",
            &[
                ("request", &request),
                ("email", "MALLORY@example.com"),
                ("name", "M"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(taken.status(), StatusCode::BAD_REQUEST);
    assert!(taken.text().await.unwrap().contains("already exists"));
}

#[tokio::test]
async fn a_form_posted_from_another_browser_is_refused() {
    let stack = Stack::start().await;
    stack.user("frank@example.com", &[]).await;
    let mut victim = stack.browser();
    let request = start(&stack, &mut victim, &Pkce::new()).await;
    // A cross-site form post carries no SameSite=Lax cookie: like this cookie-less browser.
    let mut attacker = stack.browser();
    for (path, form) in [
        (
            "/auth/login",
            vec![("email", "frank@example.com"), ("password", PASSWORD)],
        ),
        (
            "/auth/signup",
            vec![
                ("email", "new@example.com"),
                ("name", "N"),
                ("password", PASSWORD),
            ],
        ),
    ] {
        let mut fields = vec![("request", request.as_str())];
        fields.extend(form);
        let response = attacker.post(path, &fields).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{path}");
        assert!(response.headers().get(LOCATION).is_none());
        assert!(response.text().await.unwrap().contains("expired"));
    }
    assert!(
        stack
            .idp
            .users()
            .find_by_email("new@example.com")
            .await
            .unwrap()
            .is_none()
    );
    // The victim's own form still works.
    let own = victim
        .post(
            "/auth/login",
            &[
                ("request", &request),
                ("email", "frank@example.com"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(own.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn the_verifier_refuses_other_keys_issuers_audiences_and_expired_tokens() {
    let stack = Stack::start().await;
    stack.user("gina@example.com", &[Group::Organizer]).await;
    let mut browser = stack.browser();
    let pkce = Pkce::new();
    let code = sign_in(&stack, &mut browser, &pkce, "gina@example.com").await;
    let (_, tokens) = stack.redeem(&code, &pkce).await;
    let id_token = tokens["id_token"].as_str().unwrap();
    let access_token = tokens["access_token"].as_str().unwrap();
    let verifier = stack.published_verifier().await;
    let now = stack.now();
    let claims = verifier.verify_at(id_token, now).unwrap();
    let jwks = stack.idp.jwks();
    let issuer = stack.url("/auth");

    // The same claims signed by another key: its kid is unknown here; and under our kid,
    // the signature fails.
    let other = SigningKey::generate();
    assert_eq!(
        verifier.verify_at(&other.sign(&claims).unwrap(), now),
        Err(VerifyError::UnknownKey)
    );
    let mut impostor = other.jwk();
    impostor.common.key_id = jwks.keys[0].common.key_id.clone();
    let fooled = JwtVerifier::new(
        issuer.clone(),
        vec![idp::DEFAULT_CLIENT_ID.into()],
        &JwkSet {
            keys: vec![impostor],
        },
    )
    .unwrap();
    assert_eq!(
        fooled.verify_at(id_token, now),
        Err(VerifyError::BadSignature)
    );

    let cognito = JwtVerifier::new(
        cognito_issuer("eu-west-1", "eu-west-1_AbCdEf"),
        vec![idp::DEFAULT_CLIENT_ID.into()],
        &jwks,
    )
    .unwrap();
    assert_eq!(
        cognito.verify_at(id_token, now),
        Err(VerifyError::WrongIssuer)
    );

    let elsewhere = JwtVerifier::new(issuer.clone(), vec!["another-client".into()], &jwks).unwrap();
    for token in [id_token, access_token] {
        assert_eq!(
            elsewhere.verify_at(token, now),
            Err(VerifyError::WrongAudience)
        );
        assert!(verifier.verify_at(token, now + 3600 + 30).is_ok(), "leeway");
        assert_eq!(
            verifier.verify_at(token, now + 3600 + 61),
            Err(VerifyError::Expired)
        );
    }
    // Against the real clock: a token issued two hours ago has expired.
    stack
        .clock
        .advance(TimeDelta::hours(-2) - TimeDelta::minutes(5));
    let old = Pkce::new();
    let response = browser.get(&authorize_url(&stack, &old, "st-1")).await;
    let (_, stale) = stack.redeem(&code_from(&stack, &response), &old).await;
    assert_eq!(
        verifier.verify(stale["access_token"].as_str().unwrap()),
        Err(VerifyError::Expired)
    );
    assert!(verifier.verify(access_token).is_ok());
}

#[tokio::test]
async fn discovery_and_jwks_describe_the_provider_under_auth() {
    let stack = Stack::start().await;
    let config: Value = reqwest::get(stack.url("/auth/.well-known/openid-configuration"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let issuer = stack.url("/auth");
    assert_eq!(config["issuer"], json!(issuer));
    assert_eq!(
        config["authorization_endpoint"],
        json!(format!("{issuer}/oauth2/authorize"))
    );
    assert_eq!(
        config["token_endpoint"],
        json!(format!("{issuer}/oauth2/token"))
    );
    assert_eq!(
        config["userinfo_endpoint"],
        json!(format!("{issuer}/oauth2/userInfo"))
    );
    assert_eq!(
        config["jwks_uri"],
        json!(format!("{issuer}/.well-known/jwks.json"))
    );
    assert_eq!(config["code_challenge_methods_supported"], json!(["S256"]));

    let jwks: Value = reqwest::get(stack.url("/auth/.well-known/jwks.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = &jwks["keys"][0];
    assert_eq!(key["kty"], "RSA");
    assert_eq!(key["alg"], "RS256");
    assert_eq!(key["use"], "sig");
    assert_eq!(key["e"], "AQAB");
    assert!(key["kid"].as_str().is_some_and(|kid| !kid.is_empty()));
    assert!(key.get("d").is_none(), "no private parts");

    let key_file = stack.dir.path().join(idp::keys::KEY_FILE);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(key_file).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

#[tokio::test]
async fn a_fresh_data_directory_gets_demo_accounts_once() {
    let stack = Stack::start().await;
    let text = idp::ensure_demo_accounts(&stack.idp, stack.dir.path())
        .await
        .unwrap()
        .expect("made on a fresh directory");
    let path = stack.dir.path().join(idp::DEMO_ACCOUNTS_FILE);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    let organizer: Vec<&str> = text
        .lines()
        .find(|line| line.starts_with("organizer@example.com"))
        .unwrap()
        .split('\t')
        .collect();
    assert_eq!(organizer[2], "organizer attendee");
    let attendee = text
        .lines()
        .find(|line| line.starts_with("attendee@example.com"))
        .unwrap();
    assert!(attendee.ends_with("\tattendee"));
    assert!(
        stack
            .idp
            .users()
            .authenticate("organizer@example.com", organizer[1])
            .await
            .unwrap()
            .is_some_and(|user| user.groups.contains(&Group::Organizer))
    );
    assert_eq!(
        idp::ensure_demo_accounts(&stack.idp, stack.dir.path())
            .await
            .unwrap(),
        None
    );
}
