//! The HTTP client of the Stripe adapter, with a key that can change under it: when Stripe
//! answers 401 (the key is not valid), the key is read once more from its [`KeySource`] and, if
//! it changed, the request is sent again with the new one. So a key put into Secrets Manager
//! after deploy takes effect in running Lambda containers, without waiting for new ones.
//!
//! A 401 means Stripe did not act on the request (it never got past authentication), so sending
//! it again, with the same idempotency key, cannot do anything twice.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use async_trait::async_trait;
use bytes::Bytes;
use stripe::{Client, ClientBuilder, RequestStrategy, StripeError};
use stripe_client_core::{
    ConfigOverride, CustomizedStripeRequest, RequestBuilder, StripeClient, StripeClientErr,
};

/// Where the Stripe key is read again after Stripe refused the one in use.
#[async_trait]
pub trait KeySource: Send + Sync {
    /// The key as stored now. An `Err` says why it cannot be used, naming the secret, never
    /// its value.
    async fn current_key(&self) -> Result<String, String>;
}

/// A [`StripeClient`] for the current key.
#[derive(Clone)]
pub(super) struct KeyedClient {
    inner: Arc<Inner>,
}

struct Inner {
    base_url: String,
    source: Option<Arc<dyn KeySource>>,
    state: RwLock<State>,
}

struct State {
    client: Client,
    key: String,
    /// Keys used before, still scrubbed from error text.
    retired: Vec<String>,
}

impl fmt::Debug for KeyedClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedClient")
            .field("base_url", &self.inner.base_url)
            .field("rereads_key", &self.inner.source.is_some())
            .finish_non_exhaustive()
    }
}

/// An async-stripe client for `key` at `base_url`, sending each request once (see the module
/// documentation of the adapter).
pub(super) fn build_client(key: &str, base_url: &str) -> Result<Client, StripeError> {
    ClientBuilder::new(key)
        .url(base_url)
        .request_strategy(RequestStrategy::Once)
        .build()
}

impl KeyedClient {
    pub(super) fn new(key: &str, base_url: &str) -> Result<Self, StripeError> {
        let client = build_client(key, base_url)?;
        Ok(Self {
            inner: Arc::new(Inner {
                base_url: base_url.to_owned(),
                source: None,
                state: RwLock::new(State {
                    client,
                    key: key.to_owned(),
                    retired: Vec::new(),
                }),
            }),
        })
    }

    /// The same client, reading its key again from `source` after a 401.
    pub(super) fn with_source(self, source: Arc<dyn KeySource>) -> Self {
        let state = self.read();
        Self {
            inner: Arc::new(Inner {
                base_url: self.inner.base_url.clone(),
                source: Some(source),
                state: RwLock::new(State {
                    client: state.0,
                    key: state.1,
                    retired: Vec::new(),
                }),
            }),
        }
    }

    /// Every key this client has used, to scrub from error text.
    pub(super) fn keys(&self) -> Vec<String> {
        let state = self
            .inner
            .state
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let mut keys = state.retired.clone();
        keys.push(state.key.clone());
        keys
    }

    /// The current client and its key (cloned out: no lock is held across a request).
    fn read(&self) -> (Client, String) {
        let state = self
            .inner
            .state
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        (state.client.clone(), state.key.clone())
    }

    /// Reads the key again after Stripe refused `refused`; the client of the new key, or `None`
    /// when there is no other key to try (the caller then reports the 401).
    async fn reread(&self, source: &dyn KeySource, refused: &str) -> Option<Client> {
        let fresh = match source.current_key().await {
            Ok(key) => key.trim().to_owned(),
            Err(why) => {
                tracing::error!(%why, "Stripe refused the API key (HTTP 401) and reading it again failed");
                return None;
            }
        };
        if fresh == refused {
            tracing::error!(
                "Stripe refused the API key (HTTP 401); its secret still holds that key: put a valid one"
            );
            return None;
        }
        let client = match build_client(&fresh, &self.inner.base_url) {
            Ok(client) => client,
            Err(_) => {
                // async-stripe's text could quote the key: say only what happened.
                tracing::error!(
                    "the Stripe API key read again after a 401 is not usable as a header value"
                );
                return None;
            }
        };
        let mut state = self
            .inner
            .state
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if state.key != fresh {
            let old = std::mem::replace(&mut state.key, fresh);
            if !state.retired.contains(&old) {
                state.retired.push(old);
            }
            state.client = client.clone();
            tracing::info!(
                "Stripe refused the API key (HTTP 401); read it again and using the new one"
            );
        }
        Some(client)
    }
}

impl StripeClient for KeyedClient {
    type Err = StripeError;

    async fn execute(&self, request: CustomizedStripeRequest) -> Result<Bytes, StripeError> {
        let (client, key) = self.read();
        let Some(source) = self.inner.source.clone() else {
            return client.execute(request).await;
        };
        let (request, overrides) = request.into_pieces();
        let first = send_copy(&client, &request, &overrides).await;
        if !matches!(first, Err(StripeError::Stripe(_, 401))) {
            return first;
        }
        match self.reread(&*source, &key).await {
            Some(client) => send_copy(&client, &request, &overrides).await,
            None => first,
        }
    }
}

/// Sends a copy of a request through `client`. async-stripe hands a client each request by
/// value and rebuilds one from its parts only through `customize()`, whose `send` decodes the
/// answer: decode it as any JSON (miniserde's `Value`) and return the bytes `client` answered,
/// which the caller's `send` then decodes as its type.
async fn send_copy(
    client: &Client,
    request: &RequestBuilder,
    overrides: &ConfigOverride,
) -> Result<Bytes, StripeError> {
    let copy = RequestBuilder {
        query: request.query.clone(),
        body: request.body.clone(),
        path: request.path.clone(),
        method: request.method,
    };
    let mut customized = copy.customize::<miniserde::json::Value>();
    if let Some(strategy) = &overrides.request_strategy {
        customized = customized.request_strategy(strategy.clone());
    }
    if let Some(account) = &overrides.account_id {
        customized = customized.account_id(account.clone());
    }
    if let Some(timeout) = overrides.timeout {
        customized = customized.timeout(timeout);
    }
    let capture = Capture {
        client,
        answer: Mutex::new(None),
    };
    let sent = customized.send(&capture).await;
    let answer = capture
        .answer
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner);
    match (answer, sent) {
        (Some(bytes), _) => Ok(bytes),
        (None, Err(error)) => Err(error),
        (None, Ok(_)) => Err(StripeError::deserialize_err("no answer captured")),
    }
}

/// Forwards a request to `client` and keeps the bytes of its answer.
struct Capture<'a> {
    client: &'a Client,
    answer: Mutex<Option<Bytes>>,
}

impl StripeClient for Capture<'_> {
    type Err = StripeError;

    async fn execute(&self, request: CustomizedStripeRequest) -> Result<Bytes, StripeError> {
        let bytes = self.client.execute(request).await?;
        *self.answer.lock().unwrap_or_else(PoisonError::into_inner) = Some(bytes.clone());
        Ok(bytes)
    }
}
