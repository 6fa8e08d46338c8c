//! The identity provider's HTTP routes under `/auth`, shaped like Cognito's hosted UI.

use std::collections::HashMap;

use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use local_support::random_token;

use super::flows::{
    AuthRequest, CODE_TTL, CodeEntry, Grant, REQUEST_TTL, SESSION_TTL, Session, is_code_verifier,
    is_s256_challenge, s256,
};
use super::pages::{self, FormState};
use super::users::{NewUser, User, UserError};
use super::{Idp, SCOPES, TOKEN_SECONDS, cookies};
use local_support::error_response;

/// The sign-in session cookie.
pub const SESSION_COOKIE: &str = "ticketd_idp_session";
/// Binds authorization requests to the browser that started them (see [`AuthRequest`]).
pub const BROWSER_COOKIE: &str = "ticketd_idp_browser";

pub fn routes(idp: Idp) -> Router {
    Router::new()
        .route("/auth/oauth2/authorize", get(authorize))
        .route("/auth/login", get(login_form).post(login))
        .route("/auth/signup", get(signup_form).post(signup))
        .route("/auth/oauth2/token", post(token))
        .route("/auth/oauth2/userInfo", get(user_info).post(user_info))
        .route("/auth/logout", get(logout))
        .route("/auth/.well-known/jwks.json", get(jwks))
        .route(
            "/auth/.well-known/openid-configuration",
            get(openid_configuration),
        )
        .route("/auth/style.css", get(stylesheet))
        .with_state(idp)
}

type Params = HashMap<String, String>;

fn unavailable() -> Response {
    pages::error_page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Sign-in unavailable",
        "Signing in is not possible right now. Please try again in a moment.",
    )
}

fn expired_request() -> Response {
    pages::error_page(
        StatusCode::BAD_REQUEST,
        "Sign-in expired",
        "This sign-in page has expired or was opened in another browser. Go back to the site \
         and sign in again.",
    )
}

/// `uri` with `pairs` added to its query (pairs without a value are left out).
fn with_query(uri: &str, pairs: &[(&str, Option<&str>)]) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (name, value) in pairs {
        if let Some(value) = value {
            query.append_pair(name, value);
        }
    }
    let separator = if uri.contains('?') { '&' } else { '?' };
    format!("{uri}{separator}{}", query.finish())
}

fn redirect(status: StatusCode, location: &str) -> Response {
    let mut response = status.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn set_cookie(idp: &Idp, response: &mut Response, name: &str, value: &str, max_age: Option<i64>) {
    let max_age = max_age.map_or(String::new(), |seconds| format!("; Max-Age={seconds}"));
    let secure = if idp.0.secure_cookies { "; Secure" } else { "" };
    let cookie = format!("{name}={value}; Path=/auth; HttpOnly; SameSite=Lax{max_age}{secure}");
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

/// `GET /auth/oauth2/authorize`.
async fn authorize(
    State(idp): State<Idp>,
    headers: HeaderMap,
    query: Result<Query<Params>, QueryRejection>,
) -> Response {
    let Ok(Query(params)) = query else {
        return pages::error_page(
            StatusCode::BAD_REQUEST,
            "Bad sign-in request",
            "The sign-in link is malformed.",
        );
    };
    start_authorization(&idp, &headers, &params).await
}

/// Checks an authorization request. Problems with the client or the redirect URI get an error
/// page (an unregistered URI is never redirected to); the rest go back to the client as OAuth
/// errors. A valid request is answered with a code at once if the browser has a live session,
/// else with the sign-in page.
async fn start_authorization(idp: &Idp, headers: &HeaderMap, params: &Params) -> Response {
    let client = &idp.config().client;
    if params.get("client_id") != Some(&client.id) {
        return pages::error_page(
            StatusCode::BAD_REQUEST,
            "Unknown app",
            "The app that sent you here is not registered with this sign-in service \
             (unknown client_id).",
        );
    }
    let redirect_uri = match params.get("redirect_uri") {
        Some(uri) if client.callback_urls.contains(uri) => uri.clone(),
        _ => {
            return pages::error_page(
                StatusCode::BAD_REQUEST,
                "Unregistered redirect",
                "The address to return to (redirect_uri) is not one of this app's registered \
                 callback URLs.",
            );
        }
    };
    let state = params.get("state").map(String::as_str);
    let fail = |error: &str, description: &str| {
        redirect(
            StatusCode::FOUND,
            &with_query(
                &redirect_uri,
                &[
                    ("error", Some(error)),
                    ("error_description", Some(description)),
                    ("state", state),
                ],
            ),
        )
    };
    if params.get("response_type").map(String::as_str) != Some("code") {
        return fail("unsupported_response_type", "response_type must be code");
    }
    let challenge = params.get("code_challenge").map(String::as_str);
    let method = params.get("code_challenge_method").map(String::as_str);
    let code_challenge = match (challenge, method) {
        (Some(challenge), Some("S256")) if is_s256_challenge(challenge) => challenge.to_owned(),
        _ => {
            return fail(
                "invalid_request",
                "PKCE is required: code_challenge (base64url SHA-256) with \
                 code_challenge_method=S256",
            );
        }
    };
    let requested = params
        .get("scope")
        .map_or_else(|| SCOPES.join(" "), Clone::clone);
    let mut scopes: Vec<&str> = Vec::new();
    for scope in requested.split_whitespace() {
        if !SCOPES.contains(&scope) {
            return fail("invalid_scope", "scopes are openid, email and profile");
        }
        if !scopes.contains(&scope) {
            scopes.push(scope);
        }
    }
    let now = idp.now();
    let cookies = cookies(headers);
    let request = AuthRequest {
        client_id: client.id.clone(),
        redirect_uri: redirect_uri.clone(),
        state: state.map(str::to_owned),
        scope: scopes.join(" "),
        code_challenge,
        nonce: params.get("nonce").cloned(),
        browser: cookies
            .get(BROWSER_COOKIE)
            .filter(|value| value.len() == 43)
            .cloned()
            .unwrap_or_else(random_token),
        expires_at: now + REQUEST_TTL,
    };

    let live_session = (params.get("prompt").map(String::as_str) != Some("login"))
        .then(|| cookies.get(SESSION_COOKIE))
        .flatten()
        .and_then(|id| idp.flows().session(id, now));
    if let Some(session) = live_session {
        match idp.users().get(&session.sub).await {
            Ok(Some(_)) => {
                return complete(
                    idp,
                    &request,
                    &session.sub,
                    session.auth_time,
                    StatusCode::FOUND,
                );
            }
            Ok(None) => {}
            Err(error) => {
                tracing::error!(%error, "identity provider: cannot read a user");
                return unavailable();
            }
        }
    }

    let browser = request.browser.clone();
    let fresh_browser = cookies.get(BROWSER_COOKIE) != Some(&browser);
    let Ok(id) = idp.flows().add_request(request, now) else {
        return unavailable();
    };
    let mut response = redirect(
        StatusCode::FOUND,
        &with_query("/auth/login", &[("request", Some(&id))]),
    );
    if fresh_browser {
        set_cookie(idp, &mut response, BROWSER_COOKIE, &browser, None);
    }
    response
}

/// Ends an authorization request with a code: back to the client's redirect URI.
fn complete(
    idp: &Idp,
    request: &AuthRequest,
    sub: &str,
    auth_time: i64,
    status: StatusCode,
) -> Response {
    let now = idp.now();
    let entry = CodeEntry {
        grant: Grant {
            sub: sub.to_owned(),
            client_id: request.client_id.clone(),
            scope: request.scope.clone(),
            auth_time,
            nonce: request.nonce.clone(),
        },
        redirect_uri: request.redirect_uri.clone(),
        code_challenge: request.code_challenge.clone(),
        expires_at: now + CODE_TTL,
    };
    let Ok(code) = idp.flows().add_code(entry, now) else {
        return unavailable();
    };
    redirect(
        status,
        &with_query(
            &request.redirect_uri,
            &[("code", Some(&code)), ("state", request.state.as_deref())],
        ),
    )
}

/// The pending request a form names, if it is live and this browser started it.
fn pending_request(idp: &Idp, headers: &HeaderMap, id: Option<&String>) -> Option<AuthRequest> {
    let request = idp.flows().request(id?, idp.now())?;
    (cookies(headers).get(BROWSER_COOKIE) == Some(&request.browser)).then_some(request)
}

/// A posted sign-in or sign-up form and the authorization request it continues, which must be
/// pending in this browser.
fn posted_request(
    idp: &Idp,
    headers: &HeaderMap,
    form: Result<Form<Params>, FormRejection>,
) -> Option<(Params, AuthRequest)> {
    let Form(form) = form.ok()?;
    let request = pending_request(idp, headers, form.get("request"))?;
    Some((form, request))
}

/// Signs the user in: a session cookie, the request consumed, a code for the client.
fn sign_in(idp: &Idp, request_id: &str, request: &AuthRequest, user: &User) -> Response {
    let now = idp.now();
    let auth_time = now.timestamp();
    let session = Session {
        sub: user.sub.clone(),
        auth_time,
        expires_at: now + SESSION_TTL,
    };
    let Ok(session_id) = idp.flows().add_session(session, now) else {
        return unavailable();
    };
    idp.flows().remove_request(request_id);
    // 303: the browser follows a POST's answer with a GET.
    let mut response = complete(idp, request, &user.sub, auth_time, StatusCode::SEE_OTHER);
    set_cookie(
        idp,
        &mut response,
        SESSION_COOKIE,
        &session_id,
        Some(SESSION_TTL.num_seconds()),
    );
    response
}

/// `GET /auth/login?request=<id>`, or Cognito's `/login?client_id=...` (same parameters as
/// `/oauth2/authorize`).
async fn login_form(
    State(idp): State<Idp>,
    headers: HeaderMap,
    query: Result<Query<Params>, QueryRejection>,
) -> Response {
    form_page(idp, headers, query, pages::login_page).await
}

/// `GET /auth/signup?request=<id>` (or with the authorize parameters, like `/login`).
async fn signup_form(
    State(idp): State<Idp>,
    headers: HeaderMap,
    query: Result<Query<Params>, QueryRejection>,
) -> Response {
    form_page(idp, headers, query, pages::signup_page).await
}

/// An empty sign-in or sign-up form for a pending authorization request; with the authorize
/// parameters instead of a request id, starts the authorization first.
async fn form_page(
    idp: Idp,
    headers: HeaderMap,
    query: Result<Query<Params>, QueryRejection>,
    page: fn(StatusCode, &str, &FormState<'_>) -> Response,
) -> Response {
    let params = query.map(|Query(params)| params).unwrap_or_default();
    if !params.contains_key("request") && params.contains_key("client_id") {
        return start_authorization(&idp, &headers, &params).await;
    }
    match pending_request(&idp, &headers, params.get("request")) {
        Some(_) => page(StatusCode::OK, &params["request"], &FormState::default()),
        None => expired_request(),
    }
}

/// `POST /auth/login` (request, email, password).
async fn login(
    State(idp): State<Idp>,
    headers: HeaderMap,
    form: Result<Form<Params>, FormRejection>,
) -> Response {
    let Some((form, request)) = posted_request(&idp, &headers, form) else {
        return expired_request();
    };
    let request_id = &form["request"];
    let email = form.get("email").map_or("", String::as_str);
    let password = form.get("password").map_or("", String::as_str);
    match idp.users().authenticate(email, password).await {
        Ok(Some(user)) => {
            tracing::info!(sub = %user.sub, "identity provider: signed in");
            sign_in(&idp, request_id, &request, &user)
        }
        Ok(None) => pages::login_page(
            StatusCode::BAD_REQUEST,
            request_id,
            &FormState {
                email,
                alert: Some("Incorrect email or password."),
                ..FormState::default()
            },
        ),
        Err(error) => {
            tracing::error!(%error, "identity provider: sign-in failed");
            unavailable()
        }
    }
}

/// `POST /auth/signup` (request, email, name, password): the account, the post-confirmation
/// trigger (attendee group), then signed in and back to the client.
async fn signup(
    State(idp): State<Idp>,
    headers: HeaderMap,
    form: Result<Form<Params>, FormRejection>,
) -> Response {
    let Some((form, request)) = posted_request(&idp, &headers, form) else {
        return expired_request();
    };
    let request_id = &form["request"];
    let field = |name: &str| form.get(name).map_or("", String::as_str);
    let (email, name) = (field("email"), field("name"));
    let again = |field_errors: Vec<(&str, String)>| {
        pages::signup_page(
            StatusCode::BAD_REQUEST,
            request_id,
            &FormState {
                email,
                name,
                alert: None,
                field_errors,
            },
        )
    };
    let new_user = match NewUser::validate(email, name, field("password")) {
        Ok(new_user) => new_user,
        Err(errors) => {
            return again(
                errors
                    .0
                    .into_iter()
                    .map(|error| (error.field, error.message))
                    .collect(),
            );
        }
    };
    let user = match idp.users().create(new_user, idp.now()).await {
        Ok(user) => user,
        Err(UserError::EmailTaken) => {
            return again(vec![(
                "email",
                "An account with this email already exists. Sign in instead.".to_owned(),
            )]);
        }
        Err(error) => {
            tracing::error!(%error, "identity provider: sign-up failed");
            return unavailable();
        }
    };
    // Email sign-up is confirmed at once here (no verification mail), so the trigger runs now.
    if let Err(error) = idp.user_confirmed(&user).await {
        tracing::error!(%error, sub = %user.sub, "identity provider: post-confirmation failed");
        return unavailable();
    }
    tracing::info!(sub = %user.sub, "identity provider: signed up");
    sign_in(&idp, request_id, &request, &user)
}

/// An OAuth error answer, like Cognito's: 400 `{"error": "..."}`.
fn oauth_error(error: &str) -> Response {
    let status = if error == "server_error" {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::BAD_REQUEST
    };
    no_store((status, Json(json!({ "error": error }))).into_response())
}

fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// The client id of an `Authorization: Basic` header (a public client's secret is empty).
fn basic_client_id(headers: &HeaderMap) -> Option<String> {
    let encoded = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Basic ")?;
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, _) = decoded.split_once(':')?;
    Some(id.to_owned())
}

/// `POST /auth/oauth2/token` (form-encoded).
async fn token(
    State(idp): State<Idp>,
    headers: HeaderMap,
    form: Result<Form<Params>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return oauth_error("invalid_request");
    };
    let client_id = form
        .get("client_id")
        .cloned()
        .or_else(|| basic_client_id(&headers));
    if client_id.as_ref() != Some(&idp.config().client.id) {
        return oauth_error("invalid_client");
    }
    let client_id = client_id.unwrap_or_default();
    match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => code_grant(&idp, &client_id, &form).await,
        Some("refresh_token") => refresh_grant(&idp, &client_id, &form).await,
        Some(_) => oauth_error("unsupported_grant_type"),
        None => oauth_error("invalid_request"),
    }
}

async fn code_grant(idp: &Idp, client_id: &str, form: &Params) -> Response {
    let (Some(code), Some(verifier)) = (form.get("code"), form.get("code_verifier")) else {
        return oauth_error("invalid_request");
    };
    // Taken before any check: a code is tried once, whatever the outcome.
    let Some(entry) = idp.flows().take_code(code) else {
        return oauth_error("invalid_grant");
    };
    let valid = entry.expires_at > idp.now()
        && entry.grant.client_id == client_id
        && form.get("redirect_uri") == Some(&entry.redirect_uri)
        && is_code_verifier(verifier)
        && s256(verifier) == entry.code_challenge;
    if !valid {
        return oauth_error("invalid_grant");
    }
    issue(idp, &entry.grant, true).await
}

async fn refresh_grant(idp: &Idp, client_id: &str, form: &Params) -> Response {
    let Some(token) = form.get("refresh_token") else {
        return oauth_error("invalid_request");
    };
    let grant = idp.flows().refresh(token, idp.now());
    match grant {
        Some(grant) if grant.client_id == client_id => issue(idp, &grant, false).await,
        _ => oauth_error("invalid_grant"),
    }
}

/// Tokens for the grant; a refresh token only for a code (Cognito does not rotate them).
async fn issue(idp: &Idp, grant: &Grant, with_refresh: bool) -> Response {
    let user = match idp.users().get(&grant.sub).await {
        Ok(Some(user)) => user,
        Ok(None) => return oauth_error("invalid_grant"),
        Err(error) => {
            tracing::error!(%error, "identity provider: cannot read a user");
            return oauth_error("server_error");
        }
    };
    let now = idp.now();
    let (id_claims, access_claims) = idp.token_claims(&user, grant, now.timestamp());
    let signed = (|| {
        let access = idp.0.key.sign(&access_claims)?;
        // As Cognito: an ID token only for the `openid` scope.
        let id = grant
            .scope
            .split(' ')
            .any(|scope| scope == "openid")
            .then(|| idp.0.key.sign(&id_claims))
            .transpose()?;
        Ok::<_, super::keys::SignError>((access, id))
    })();
    let Ok((access_token, id_token)) = signed else {
        tracing::error!("identity provider: cannot sign a token");
        return oauth_error("server_error");
    };
    let mut body = json!({
        "access_token": access_token,
        "expires_in": TOKEN_SECONDS,
        "token_type": "Bearer",
    });
    if let Some(id_token) = id_token {
        body["id_token"] = json!(id_token);
    }
    if with_refresh {
        let Ok(refresh) = idp.flows().add_refresh(grant.clone(), now) else {
            return oauth_error("server_error");
        };
        body["refresh_token"] = json!(refresh);
    }
    no_store(Json(body).into_response())
}

/// `GET|POST /auth/oauth2/userInfo` with `Authorization: Bearer <access token>`.
async fn user_info(State(idp): State<Idp>, headers: HeaderMap) -> Response {
    let refused = || {
        let mut response = no_store(
            (
                StatusCode::UNAUTHORIZED,
                Json(json!({ "error": "invalid_token" })),
            )
                .into_response(),
        );
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer error=\"invalid_token\""),
        );
        response
    };
    let Some(token) = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
    else {
        return refused();
    };
    let claims = match idp
        .verifier()
        .verify_at(token.trim(), idp.now().timestamp())
    {
        Ok(claims) if claims.get("token_use") == Some(&Value::from("access")) => claims,
        _ => return refused(),
    };
    let sub = claims
        .get("sub")
        .and_then(Value::as_str)
        .unwrap_or_default();
    match idp.users().get(sub).await {
        Ok(Some(user)) => no_store(
            Json(json!({
                "sub": user.sub,
                "email_verified": "true",
                "email": user.email,
                "name": user.name,
                "username": user.sub,
            }))
            .into_response(),
        ),
        Ok(None) => refused(),
        Err(error) => {
            tracing::error!(%error, "identity provider: cannot read a user");
            error_response(StatusCode::INTERNAL_SERVER_ERROR, "cannot read the user")
        }
    }
}

/// `GET /auth/logout?client_id=...&logout_uri=...`: ends the sign-in session and sends the
/// browser to the (registered) logout URI.
async fn logout(
    State(idp): State<Idp>,
    headers: HeaderMap,
    query: Result<Query<Params>, QueryRejection>,
) -> Response {
    let params = query.map(|Query(params)| params).unwrap_or_default();
    let client = &idp.config().client;
    if params.get("client_id") != Some(&client.id) {
        return pages::error_page(
            StatusCode::BAD_REQUEST,
            "Unknown app",
            "The app that sent you here is not registered with this sign-in service \
             (unknown client_id).",
        );
    }
    let Some(logout_uri) = params
        .get("logout_uri")
        .filter(|uri| client.logout_urls.contains(uri))
    else {
        return pages::error_page(
            StatusCode::BAD_REQUEST,
            "Unregistered sign-out address",
            "The address to return to after signing out (logout_uri) is not one of this \
             app's registered sign-out URLs.",
        );
    };
    if let Some(session) = cookies(&headers).get(SESSION_COOKIE) {
        idp.flows().end_session(session);
    }
    let mut response = redirect(StatusCode::FOUND, logout_uri);
    set_cookie(&idp, &mut response, SESSION_COOKIE, "", Some(0));
    response
}

async fn jwks(State(idp): State<Idp>) -> Response {
    Json(idp.jwks()).into_response()
}

async fn openid_configuration(State(idp): State<Idp>) -> Response {
    Json(idp.openid_configuration()).into_response()
}

async fn stylesheet() -> Response {
    local_support::html::stylesheet(pages::STYLESHEET)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_pairs_are_appended_and_encoded() {
        assert_eq!(
            with_query(
                "http://h/cb",
                &[("code", Some("a b")), ("state", None), ("x", Some("&="))]
            ),
            "http://h/cb?code=a+b&x=%26%3D"
        );
        assert_eq!(
            with_query("http://h/cb?k=v", &[("code", Some("c"))]),
            "http://h/cb?k=v&code=c"
        );
    }

    #[test]
    fn a_basic_header_names_the_client() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Basic {}", STANDARD.encode("ticketd-local:"))).unwrap(),
        );
        assert_eq!(basic_client_id(&headers).as_deref(), Some("ticketd-local"));
    }
}
