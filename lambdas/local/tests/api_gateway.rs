//! The API through ticketd's gateway over real HTTP: the JWT authorizer's checks with tokens
//! signed by ticketd's identity provider key, the payload 2.0 event the handlers receive (claims
//! as strings, groups as `[a b]`), the OpenAPI document, body limits and CORS.

mod support;

use std::sync::Arc;

use asl::ExecutorOptions;
use chrono::Utc;
use cognito_local::{Idp, IdpConfig, SigningKey};
use reqwest::StatusCode;
use serde_json::{Value, json};
use ticket_core::api::{self, ApiPorts, MAX_BODY_BYTES};
use ticket_core::{RandomIds, SystemClock};
use ticketd::gateway::{Backend, Gateway};
use ticketd::registration::{self, LocalWorkflow};
use ticketd::server::{self, AppState, Services};

use support::{Adapters, WEBHOOK_SECRET};

struct Served {
    url: String,
    key: SigningKey,
    issuer: String,
    client_id: String,
    _adapters: Adapters,
}

impl Served {
    async fn start() -> Self {
        let adapters = Adapters::new(Arc::new(SystemClock));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let data_dir = adapters.dir.path();
        let idp = Idp::open(data_dir, IdpConfig::local(&url), Arc::new(SystemClock)).unwrap();
        let executor = registration::open_executor(
            &data_dir.join("executions.sqlite3"),
            registration::bindings(Arc::new(adapters.steps(adapters.store.clone())), |_, f| f),
            ExecutorOptions::default(),
        )
        .await
        .unwrap();
        let gateway = Gateway {
            backend: Backend::InProcess(Arc::new(ApiPorts {
                store: adapters.store.clone(),
                files: adapters.files.clone(),
                payments: adapters.payments.clone(),
                workflow: Arc::new(LocalWorkflow::new(executor)),
                clock: Arc::new(SystemClock),
                ids: Arc::new(RandomIds),
                verifier: Arc::new(adapters.signer.verifier()),
                ticket_pdfs: None,
                webhook_secrets: vec![WEBHOOK_SECRET.to_owned()],
                site_url: url.clone(),
                hold_minutes: api::HOLD_MINUTES,
            })),
            verifier: idp.verifier().clone(),
            site_origin: url.parse().unwrap(),
        };
        let site_dir = data_dir.join("site");
        std::fs::create_dir_all(&site_dir).unwrap();
        let state = AppState {
            store: adapters.store.clone(),
            site_dir,
            files: adapters.files.clone(),
        };
        let services = Services {
            idp: Some(idp.clone()),
            gateway: Some(gateway),
            ..Services::default()
        };
        tokio::spawn(axum::serve(listener, server::router(state, services)).into_future());
        Self {
            key: SigningKey::load_or_create(data_dir).unwrap(),
            issuer: idp.issuer().to_owned(),
            client_id: idp.config().client.id.clone(),
            url,
            _adapters: adapters,
        }
    }

    /// An access token as the identity provider issues them, for `sub` in `groups`.
    fn token(&self, sub: &str, groups: &[&str]) -> String {
        self.token_with(json!({ "sub": sub, "cognito:groups": groups }))
    }

    fn token_with(&self, claims: Value) -> String {
        let now = Utc::now().timestamp();
        let mut all = json!({
            "iss": self.issuer,
            "client_id": self.client_id,
            "token_use": "access",
            "scope": "openid email profile",
            "auth_time": now,
            "iat": now,
            "exp": now + 3600,
            "jti": uuid::Uuid::new_v4().to_string(),
            "username": "user",
        });
        for (name, value) in claims.as_object().unwrap() {
            all[name] = value.clone();
        }
        self.key.sign(&all).unwrap()
    }

    fn api(&self, path: &str) -> String {
        format!("{}/api{path}", self.url)
    }

    async fn get(&self, path: &str, token: &str) -> reqwest::Response {
        reqwest::Client::new()
            .get(self.api(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }
}

fn new_event() -> Value {
    json!({
        "title": "RustFest",
        "venue": "Hall 1",
        "startsAt": (Utc::now() + chrono::TimeDelta::days(30)).to_rfc3339(),
        "capacity": 10,
        "priceMinor": 2500,
        "currency": "EUR"
    })
}

#[tokio::test]
async fn the_authorizer_lets_only_valid_tokens_of_this_provider_through() {
    let served = Served::start().await;
    let http = reqwest::Client::new();
    let events = served.api("/events");
    let expired = served.token_with(json!({"sub": "u1", "exp": Utc::now().timestamp() - 3600}));
    let other_client = served.token_with(json!({"sub": "u1", "client_id": "someone-else"}));
    let other_issuer = served.token_with(json!({"sub": "u1", "iss": "https://evil.example/auth"}));
    let forged = SigningKey::generate()
        .sign(
            &json!({"sub": "u1", "iss": served.issuer, "client_id": served.client_id,
                      "exp": Utc::now().timestamp() + 600, "token_use": "access"}),
        )
        .unwrap();

    for token in [
        None,
        Some("garbage"),
        Some(&*expired),
        Some(&*other_client),
        Some(&*other_issuer),
        Some(&*forged),
    ] {
        let mut request = http.get(&events);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{token:?}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            body,
            json!({"message": "Unauthorized"}),
            "API Gateway's own answer"
        );
    }

    let ok = served
        .get("/events", &served.token("u1", &["attendee"]))
        .await;
    assert_eq!(ok.status(), StatusCode::OK);
    // The webhook route has no authorizer: it reaches its handler without a token.
    let webhook = http
        .post(served.api("/stripe/webhook"))
        .send()
        .await
        .unwrap();
    assert_ne!(webhook.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_handlers_see_the_callers_groups_through_the_event() {
    let served = Served::start().await;
    let http = reqwest::Client::new();
    let organizer = served.token("org-1", &["organizer", "attendee"]);
    let attendee = served.token("att-1", &["attendee"]);

    let created = http
        .post(served.api("/events"))
        .bearer_auth(&organizer)
        .json(&new_event())
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let event: Value = created.json().await.unwrap();
    let id = event["id"].as_str().expect("the event's id");
    // A draft until published: attendees see it from then on.
    let published = http
        .post(served.api(&format!("/events/{id}/publish")))
        .bearer_auth(&organizer)
        .send()
        .await
        .unwrap();
    assert_eq!(published.status(), StatusCode::OK);

    let refused = http
        .post(served.api("/events"))
        .bearer_auth(&attendee)
        .json(&new_event())
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(refused.json::<Value>().await.unwrap()["error"].is_string());

    let got: Value = served
        .get(&format!("/events/{id}"), &attendee)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got["title"], "RustFest");
    let stats = served.get(&format!("/events/{id}/stats"), &organizer).await;
    assert_eq!(stats.status(), StatusCode::OK);
    // Query parameters arrive: `mine` lists the organizer's own events.
    let mine: Value = served
        .get("/events?mine=true&limit=5", &organizer)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine["items"].as_array().map(Vec::len), Some(1), "{mine}");
}

#[tokio::test]
async fn bad_requests_are_clear_4xx_answers() {
    let served = Served::start().await;
    let http = reqwest::Client::new();
    let organizer = served.token("org-1", &["organizer"]);

    let unknown = http.get(served.api("/nope")).send().await.unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert!(unknown.json::<Value>().await.unwrap()["error"].is_string());

    let too_big = http
        .post(served.api("/events"))
        .bearer_auth(&organizer)
        .header("content-type", "application/json")
        .body(vec![b' '; MAX_BODY_BYTES + 1])
        .send()
        .await
        .unwrap();
    assert_eq!(too_big.status(), StatusCode::BAD_REQUEST);
    assert!(too_big.text().await.unwrap().contains("larger than"));

    let malformed = http
        .post(served.api("/events"))
        .bearer_auth(&organizer)
        .body("{\"title\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
    let bad_id = served.get("/events/not-a-uuid", &organizer).await;
    assert_eq!(bad_id.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_openapi_document_is_served_and_cors_admits_only_the_site() {
    let served = Served::start().await;
    let http = reqwest::Client::new();
    let document: Value = http
        .get(served.api("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        document,
        serde_json::from_str::<Value>(api::OPENAPI).unwrap()
    );

    let preflight = |origin: &str| {
        http.request(reqwest::Method::OPTIONS, served.api("/events"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization,content-type",
            )
            .send()
    };
    let site = preflight(&served.url).await.unwrap();
    assert_eq!(
        site.headers()["access-control-allow-origin"],
        served.url.as_str()
    );
    // The allowed origin is always the site's, so a browser on another origin refuses.
    let other = preflight("https://evil.example").await.unwrap();
    let allowed = other.headers().get("access-control-allow-origin");
    assert!(
        allowed.is_none_or(|origin| origin == served.url.as_str()),
        "{allowed:?}"
    );
}

#[tokio::test]
async fn the_site_config_names_this_api_and_identity_provider() {
    let stack = Served::start().await;
    let response = reqwest::get(format!("{}/config.json", stack.url))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let config: Value = response.json().await.unwrap();
    assert_eq!(
        config,
        json!({
            "apiUrl": stack.api(""),
            "cognitoDomain": format!("{}/auth", stack.url),
            "clientId": stack.client_id,
            "region": "local",
        })
    );
    // The hosted-UI endpoints the site derives from it answer.
    let jwks = reqwest::get(format!(
        "{}/.well-known/jwks.json",
        config["cognitoDomain"].as_str().unwrap()
    ))
    .await
    .unwrap();
    assert_eq!(jwks.status(), 200);
}
