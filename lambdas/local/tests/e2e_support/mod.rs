//! The real `ticketd serve` as a child process, driven over HTTP only: users sign up and in
//! through the identity provider's PKCE flow, organizers are made with the `ticketd users` CLI,
//! and every API answer is checked against the contract every answer keeps (no 5xx, no internal
//! text, errors as `{"error": ...}`, successes `no-store`).

#![allow(dead_code, reason = "each test binary uses a part of this module")]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tempfile::TempDir;

pub const CLIENT_ID: &str = "ticketd-local";
/// Meets the user pool's policy (12 characters, upper, lower, digit, symbol).
pub const PASSWORD: &str = "Sturdy-Passw0rd!";
/// Text that only a leaked internal error would put in an answer.
const INTERNAL_MARKERS: &[&str] = &[
    "panicked",
    "sqlite",
    "Sqlite",
    "SQLITE",
    "backtrace",
    ".rs:",
    "StoreError",
    "Internal(",
    "Unavailable(",
];

/// A `ticketd serve` on a free loopback port with a fresh data directory; killed on drop.
pub struct Ticketd {
    pub url: String,
    pub data_dir: TempDir,
    child: Child,
    http: reqwest::Client,
    /// What `serve` was given besides `--addr` and `--data-dir`.
    args: Vec<String>,
}

impl Ticketd {
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// [`Self::start`] with more `serve` arguments (kept for [`Self::restart`]).
    pub fn start_with(args: &[&str]) -> Self {
        let data_dir = tempfile::tempdir().unwrap();
        let args: Vec<String> = args.iter().map(|arg| (*arg).to_owned()).collect();
        let (child, url) = spawn_serve(data_dir.path(), "127.0.0.1:0", &args);
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        let ticketd = Self {
            url,
            data_dir,
            child,
            http,
            args,
        };
        // The demo accounts are written once the identity provider is open.
        ticketd.wait_for(|| ticketd.data_dir.path().join("demo-accounts.txt").exists());
        ticketd
    }

    /// Sends the process `signal` (`KILL`, `TERM`, ...) and waits for it to exit, at most
    /// `within`; its exit status and how long it took.
    pub fn signal(&mut self, signal: &str, within: Duration) -> (ExitStatus, Duration) {
        let began = Instant::now();
        let sent = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -{signal} failed");
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status, began.elapsed());
            }
            if began.elapsed() > within {
                let _ = self.child.kill();
                panic!(
                    "ticketd did not exit within {within:?} of SIG{signal}; log:\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// `ticketd serve` again, once the last one has exited: the same data directory, address
    /// (so tokens, links and hosted pages stay valid) and arguments.
    pub fn restart(&mut self) {
        assert!(
            self.child.try_wait().unwrap().is_some(),
            "ticketd is still running"
        );
        let addr = self.url.trim_start_matches("http://").to_owned();
        let (child, url) = spawn_serve(self.data_dir.path(), &addr, &self.args);
        assert_eq!(url, self.url);
        self.child = child;
    }

    fn wait_for(&self, ready: impl Fn() -> bool) {
        for _ in 0..200 {
            if ready() {
                return;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("ticketd did not get ready; log:\n{}", self.log());
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data_dir.path().join("ticketd.log")).unwrap_or_default()
    }

    /// The callback URL of the site, registered with the local app client.
    pub fn callback(&self) -> String {
        format!("{}/", self.url)
    }

    /// The password ticketd made for a demo account (`demo-accounts.txt`: email, password,
    /// groups, tab-separated).
    pub fn demo_password(&self, email: &str) -> String {
        let text = std::fs::read_to_string(self.data_dir.path().join("demo-accounts.txt")).unwrap();
        text.lines()
            .find_map(|line| {
                let mut fields = line.split('\t');
                (fields.next() == Some(email))
                    .then(|| fields.next())
                    .flatten()
            })
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("no demo account {email} in {text}"))
    }

    /// `ticketd users ARGS` on this data directory, while the server runs; its stdout.
    pub fn users_cli(&self, args: &[&str]) -> String {
        let output = Command::new(env!("CARGO_BIN_EXE_ticketd"))
            .arg("users")
            .arg("--data-dir")
            .arg(self.data_dir.path())
            .args(args)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "ticketd users {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    /// A new user, signed up through `/auth/signup` (an attendee, like every new user).
    pub async fn sign_up(&self, email: &str, name: &str) -> User {
        let (request, browser) = self.authorize().await;
        let response = self
            .form(
                "/auth/signup",
                &browser,
                &[
                    ("request", &request),
                    ("email", email),
                    ("name", name),
                    ("password", PASSWORD),
                ],
            )
            .await;
        let token = self.redeem(response).await;
        User {
            email: email.to_owned(),
            password: PASSWORD.to_owned(),
            token,
        }
    }

    /// A new user promoted to organizer with `ticketd users promote`, signed in again so the
    /// token carries the group.
    pub async fn organizer(&self, email: &str, name: &str) -> User {
        let user = self.sign_up(email, name).await;
        self.users_cli(&["promote", email]);
        self.sign_in(&user.email, &user.password).await
    }

    /// Signs in through `/auth/login`.
    pub async fn sign_in(&self, email: &str, password: &str) -> User {
        let (request, browser) = self.authorize().await;
        let response = self
            .form(
                "/auth/login",
                &browser,
                &[
                    ("request", &request),
                    ("email", email),
                    ("password", password),
                ],
            )
            .await;
        let token = self.redeem(response).await;
        User {
            email: email.to_owned(),
            password: password.to_owned(),
            token,
        }
    }

    /// `GET /auth/oauth2/authorize` with a fresh PKCE pair: the pending request's id, and the
    /// browser (its cookie, the PKCE pair) that must finish it.
    async fn authorize(&self) -> (String, Browser) {
        let pkce = Pkce::new();
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("response_type", "code")
            .append_pair("client_id", CLIENT_ID)
            .append_pair("redirect_uri", &self.callback())
            .append_pair("scope", "openid email profile")
            .append_pair("state", &pkce.state)
            .append_pair("code_challenge", &pkce.challenge)
            .append_pair("code_challenge_method", "S256")
            .finish();
        let response = self
            .http
            .get(format!("{}/auth/oauth2/authorize?{query}", self.url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FOUND);
        let to = location(response.headers());
        assert!(to.starts_with("/auth/login?"), "{to}");
        let request = query_param(&to, "request").expect("a pending request id");
        let cookie = cookie(response.headers(), "ticketd_idp_browser").expect("a browser cookie");
        (request, Browser { cookie, pkce })
    }

    /// Posts a sign-in or sign-up form from `browser`: the 303 back to the site.
    async fn form(&self, path: &str, browser: &Browser, form: &[(&str, &str)]) -> Redirected {
        let response = self
            .http
            .post(format!("{}{path}", self.url))
            .header("cookie", format!("ticketd_idp_browser={}", browser.cookie))
            .form(form)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        assert_eq!(
            status,
            StatusCode::SEE_OTHER,
            "{path}: {}",
            response.text().await.unwrap()
        );
        Redirected {
            location: location(&headers),
            pkce: browser.pkce.clone(),
        }
    }

    /// Follows the redirect to the site: checks the state, redeems the code with the verifier
    /// for the ID token.
    async fn redeem(&self, redirected: Redirected) -> String {
        let Redirected { location, pkce } = redirected;
        assert!(location.starts_with(&self.callback()), "{location}");
        assert_eq!(query_param(&location, "state"), Some(pkce.state.clone()));
        let code = query_param(&location, "code").expect("a code");
        let response = self
            .http
            .post(format!("{}/auth/oauth2/token", self.url))
            .form(&[
                ("grant_type", "authorization_code"),
                ("client_id", CLIENT_ID),
                ("code", &code),
                ("redirect_uri", &self.callback()),
                ("code_verifier", &pkce.verifier),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        body["id_token"].as_str().expect("an ID token").to_owned()
    }

    /// Starts an API request to `/api{path}`; [`Call::send`] sends it and checks the answer.
    pub fn api(&self, method: Method, path: &str) -> Call {
        Call {
            request: self
                .http
                .request(method.clone(), format!("{}/api{path}", self.url)),
            what: format!("{method} {path}"),
        }
    }

    pub fn get(&self, path: &str) -> Call {
        self.api(Method::GET, path)
    }

    pub fn post(&self, path: &str) -> Call {
        self.api(Method::POST, path)
    }

    /// A plain request outside the API (ticket files, preflights).
    pub fn raw(&self, method: Method, url: &str) -> reqwest::RequestBuilder {
        self.http.request(method, url)
    }
}

/// Runs `ticketd serve` on `data_dir` at `addr` with `args`, its stderr appended to the
/// directory's `ticketd.log`, until it says where it listens: the process and its URL.
fn spawn_serve(data_dir: &std::path::Path, addr: &str, args: &[String]) -> (Child, String) {
    let log_path = data_dir.join("ticketd.log");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ticketd"))
        .arg("serve")
        .args(["--addr", addr])
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        // Its built-in Stripe simulator, whatever the environment holds.
        .env_remove("STRIPE_SECRET_KEY")
        .env_remove("STRIPE_WEBHOOK_SECRET")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .expect("run ticketd");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    let url = loop {
        line.clear();
        if stdout.read_line(&mut line).unwrap() == 0 {
            let status = child.wait().unwrap();
            let log = std::fs::read_to_string(&log_path);
            panic!("ticketd exited ({status}) before listening: {log:?}");
        }
        if let Some(url) = line.trim().strip_prefix("ticketd listening on ") {
            break url.to_owned();
        }
    };
    // Whatever else it prints must not fill the pipe and block it.
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    (child, url)
}

impl Drop for Ticketd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let log = self.log();
            let lines: Vec<&str> = log.lines().collect();
            let tail = lines[lines.len().saturating_sub(30)..].join("\n");
            eprintln!("the end of ticketd's log:\n{tail}");
        }
    }
}

/// A signed-in user: the ID token is the bearer token the site sends.
#[derive(Debug, Clone)]
pub struct User {
    pub email: String,
    pub password: String,
    pub token: String,
}

impl User {
    /// The token's claims (unverified: the server checks them).
    pub fn claims(&self) -> Value {
        let payload = self.token.split('.').nth(1).unwrap();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
    }
}

#[derive(Clone)]
struct Pkce {
    verifier: String,
    challenge: String,
    state: String,
}

impl Pkce {
    fn new() -> Self {
        let verifier = format!("{}-{}", uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        Self {
            verifier,
            challenge,
            state: uuid::Uuid::new_v4().simple().to_string(),
        }
    }
}

/// The authorization request's browser: its cookie and the PKCE pair it started with.
struct Browser {
    cookie: String,
    pkce: Pkce,
}

struct Redirected {
    location: String,
    pkce: Pkce,
}

fn location(headers: &HeaderMap) -> String {
    headers[LOCATION].to_str().unwrap().to_owned()
}

fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?').map_or("", |(_, query)| query);
    form_urlencoded::parse(query.as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get_all(SET_COOKIE).iter().find_map(|value| {
        let pair = value.to_str().ok()?.split(';').next()?;
        let (key, value) = pair.split_once('=')?;
        (key == name).then(|| value.to_owned())
    })
}

/// An API request being built.
pub struct Call {
    request: reqwest::RequestBuilder,
    what: String,
}

impl Call {
    pub fn token(mut self, token: &str) -> Self {
        self.request = self.request.bearer_auth(token);
        self
    }

    pub fn user(self, user: &User) -> Self {
        self.token(&user.token)
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.request = self.request.header(name, value);
        self
    }

    pub fn json(mut self, body: &Value) -> Self {
        self.request = self.request.json(body);
        self
    }

    /// A raw body, sent as JSON.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.request = self
            .request
            .header("content-type", "application/json")
            .body(body.into());
        self
    }

    /// Sends the request and checks what every answer keeps: never a 5xx; no internal text; an
    /// error is JSON `{"error": ...}` (or the authorizer's own `{"message": "Unauthorized"}`);
    /// a success is `no-store` (most carry personal data).
    pub async fn send(self) -> Answer {
        let response = self.request.send().await.unwrap();
        let answer = Answer {
            status: response.status(),
            headers: response.headers().clone(),
            body: response.bytes().await.unwrap().to_vec(),
        };
        let what = &self.what;
        let text = answer.text();
        assert!(
            !answer.status.is_server_error(),
            "{what}: {} {text}",
            answer.status
        );
        for marker in INTERNAL_MARKERS {
            assert!(!text.contains(marker), "{what}: internal text in {text}");
        }
        if answer.status == StatusCode::UNAUTHORIZED && answer.json().get("message").is_some() {
            assert_eq!(
                answer.json(),
                serde_json::json!({ "message": "Unauthorized" }),
                "{what}"
            );
        } else if answer.status.is_client_error() {
            assert!(
                answer.json()["error"]
                    .as_str()
                    .is_some_and(|text| !text.is_empty()),
                "{what}: {} {text}",
                answer.status
            );
        } else {
            assert_eq!(answer.header("cache-control"), "no-store", "{what}");
        }
        answer
    }
}

/// An API answer.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// The `error` of an error answer.
    pub fn error(&self) -> String {
        self.json()["error"].as_str().unwrap_or_default().to_owned()
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
    }

    /// Asserts the status, showing the body when it differs; returns the JSON body.
    #[track_caller]
    pub fn expect(&self, status: u16) -> Value {
        assert_eq!(self.status.as_u16(), status, "{}", self.text());
        self.json()
    }

    /// Asserts a 4xx whose `error` contains `needle`.
    #[track_caller]
    pub fn expect_error(&self, status: u16, needle: &str) {
        assert_eq!(self.status.as_u16(), status, "{}", self.text());
        let error = self.error();
        assert!(error.contains(needle), "`{needle}` not in `{error}`");
    }
}
