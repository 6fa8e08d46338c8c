//! Start-up and key handling of the Lambdas against moto's Secrets Manager (scripts/moto-server)
//! and a stub Stripe on 127.0.0.1: the stack's placeholder is refused naming its secret, and a
//! 401 from Stripe makes the adapter read the key again once. Also one reconciliation pass as
//! the scheduled Lambda runs it, on a table in moto's DynamoDB.

use ticket_testkit::moto;

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use ticket_cloud::DynamoStore;
use ticket_core::reconcile::ReconcilePorts;
use ticket_core::registration::RegistrationRequest;
use ticket_core::testing::FakePayments;
use ticket_core::{
    Money, OrderId, Payments, PaymentsError, RefundRequest, Started, SystemClock, Workflow,
    WorkflowError,
};
use ticket_functions::{
    ConfigError, PASS_FAILED, SecretsManagerSecret, Var, pass, payments_from_secret,
};

const OLD_KEY: &str = "sk_test_old0000000000000000000000";
const NEW_KEY: &str = "sk_test_new1111111111111111111111";
/// What cdk/lib/secrets.ts makes every secret start with.
const PLACEHOLDER: &str = r#"{"unset":"put the real value with aws secretsmanager put-secret-value","placeholder":"Zx81kQvBn2LmT0aYcW5hRj7eUsPd4GfN"}"#;
const PAYMENT_INTENT: &str = "pi_1GszsK2eZvKYlo2CfhZyoZLp";

async fn secrets_client() -> aws_sdk_secretsmanager::Client {
    aws_sdk_secretsmanager::Client::new(&moto::sdk_config().await)
}

/// A new secret holding `value`; its ARN.
async fn secret_with(value: &str) -> String {
    let created = secrets_client()
        .await
        .create_secret()
        .name(format!("stripe-key-{}", uuid::Uuid::new_v4().simple()))
        .secret_string(value)
        .send()
        .await
        .expect("create secret");
    created.arn().expect("ARN").to_owned()
}

async fn put(arn: &str, value: &str) {
    secrets_client()
        .await
        .put_secret_value()
        .secret_id(arn)
        .secret_string(value)
        .send()
        .await
        .expect("put secret value");
}

async fn secret(arn: &str) -> SecretsManagerSecret {
    SecretsManagerSecret::new(
        &moto::sdk_config().await,
        arn,
        Var::StripeSecretKeySecretArn,
    )
}

// ---- a stub Stripe: POST /v1/refunds succeeds for the accepted key only, else 401 ----

#[derive(Default)]
struct Seen {
    /// (Authorization, Idempotency-Key) of each request, in order.
    requests: Mutex<Vec<(String, String)>>,
}

struct Stub {
    base: String,
    seen: Arc<Seen>,
}

impl Stub {
    async fn accepting(key: &'static str) -> Self {
        let seen = Arc::new(Seen::default());
        let app = Router::new()
            .fallback(
                move |State(seen): State<Arc<Seen>>, headers: HeaderMap| async move {
                    let header = |name: &str| {
                        headers
                            .get(name)
                            .and_then(|value| value.to_str().ok())
                            .unwrap_or_default()
                            .to_owned()
                    };
                    let authorization = header("authorization");
                    seen.requests
                        .lock()
                        .unwrap()
                        .push((authorization.clone(), header("idempotency-key")));
                    if authorization == format!("Bearer {key}") {
                        json_response(StatusCode::OK, refund_object())
                    } else {
                        // Stripe's answer to a key it does not know (it masks the key).
                        json_response(
                            StatusCode::UNAUTHORIZED,
                            json!({"error": {
                                "message": "Invalid API Key provided: sk_test_****0000",
                                "type": "invalid_request_error"
                            }}),
                        )
                    }
                },
            )
            .with_state(seen.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { base, seen }
    }

    fn keys_seen(&self) -> Vec<String> {
        let requests = self.seen.requests.lock().unwrap();
        requests
            .iter()
            .map(|(authorization, _)| authorization.trim_start_matches("Bearer ").to_owned())
            .collect()
    }

    fn idempotency_keys(&self) -> Vec<String> {
        let requests = self.seen.requests.lock().unwrap();
        requests.iter().map(|(_, key)| key.clone()).collect()
    }
}

fn json_response(status: StatusCode, body: Value) -> Response {
    (
        status,
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn refund_object() -> Value {
    json!({
        "id": "re_1Nispe2eZvKYlo2Cd31jOCgZ",
        "object": "refund",
        "amount": 2500,
        "created": 1_692_942_318,
        "currency": "eur",
        "metadata": {"orderId": "cs_test_a1"},
        "payment_intent": PAYMENT_INTENT,
        "status": "succeeded"
    })
}

fn refund_request() -> RefundRequest {
    RefundRequest {
        order_id: OrderId::from("cs_test_a1"),
        payment_intent_id: PAYMENT_INTENT.to_owned(),
        amount: Money {
            amount_minor: 2500,
            currency: "EUR".parse().unwrap(),
        },
    }
}

// ---- placeholders ----

#[tokio::test]
async fn the_stacks_placeholder_is_refused_at_start_up_naming_the_secrets_variable() {
    let arn = secret_with(PLACEHOLDER).await;
    let refused = payments_from_secret(secret(&arn).await, Some("http://127.0.0.1:9"))
        .await
        .expect_err("a placeholder key is refused");
    assert_eq!(
        refused,
        ConfigError::PlaceholderSecret(Var::StripeSecretKeySecretArn)
    );
    let message = refused.to_string();
    assert!(
        message.contains("STRIPE_SECRET_KEY_SECRET_ARN"),
        "{message}"
    );
    assert!(message.contains("put-secret-value"), "{message}");
    assert!(
        !message.contains("Zx81kQ"),
        "the value is not echoed: {message}"
    );

    // Once the operator puts the real key, the next cold start takes it.
    put(&arn, OLD_KEY).await;
    payments_from_secret(secret(&arn).await, Some("http://127.0.0.1:9"))
        .await
        .expect("a real key is taken");
}

// ---- a 401 reads the key again ----

#[tokio::test]
async fn a_401_reads_the_key_again_once_and_sends_the_request_with_the_new_key() {
    let stripe = Stub::accepting(NEW_KEY).await;
    let arn = secret_with(OLD_KEY).await;
    let payments = payments_from_secret(secret(&arn).await, Some(&stripe.base))
        .await
        .expect("started with the old key");
    // The operator puts the right key after the container started.
    put(&arn, NEW_KEY).await;

    let refund = payments.refund(&refund_request()).await.expect("refunded");
    assert_eq!(refund.id, "re_1Nispe2eZvKYlo2Cd31jOCgZ");
    assert_eq!(stripe.keys_seen(), [OLD_KEY, NEW_KEY]);
    // The same idempotency key both times: Stripe never acted on the refused request.
    assert_eq!(stripe.idempotency_keys(), ["refund-cs_test_a1"; 2]);

    // From then on the new key goes first.
    payments.refund(&refund_request()).await.expect("refunded");
    assert_eq!(stripe.keys_seen(), [OLD_KEY, NEW_KEY, NEW_KEY]);
}

#[tokio::test]
async fn a_401_fails_after_one_reread_when_the_secret_still_holds_the_refused_key() {
    let stripe = Stub::accepting(NEW_KEY).await;
    let arn = secret_with(OLD_KEY).await;
    let payments = payments_from_secret(secret(&arn).await, Some(&stripe.base))
        .await
        .unwrap();

    let error = payments.refund(&refund_request()).await.unwrap_err();
    assert!(
        matches!(&error, PaymentsError::Internal(text) if text.contains("HTTP 401")),
        "{error:?}"
    );
    assert_eq!(
        stripe.keys_seen(),
        [OLD_KEY],
        "not sent again with the same key"
    );
}

#[tokio::test]
async fn a_401_fails_when_the_secret_went_back_to_the_placeholder() {
    let stripe = Stub::accepting(NEW_KEY).await;
    let arn = secret_with(OLD_KEY).await;
    let payments = payments_from_secret(secret(&arn).await, Some(&stripe.base))
        .await
        .unwrap();
    put(&arn, PLACEHOLDER).await;

    let error = payments.refund(&refund_request()).await.unwrap_err();
    assert!(
        matches!(&error, PaymentsError::Internal(text) if text.contains("HTTP 401")),
        "{error:?}"
    );
    assert_eq!(stripe.keys_seen(), [OLD_KEY]);
}

#[tokio::test]
async fn a_plain_key_is_not_read_again() {
    let stripe = Stub::accepting(NEW_KEY).await;
    let payments = ticket_cloud::StripePayments::new(OLD_KEY, Some(&stripe.base)).unwrap();
    payments.refund(&refund_request()).await.unwrap_err();
    assert_eq!(stripe.keys_seen(), [OLD_KEY]);
}

// ---- the scheduled pass ----

/// A workflow no pass on an empty table may use.
struct NoWorkflow;

#[async_trait]
impl Workflow for NoWorkflow {
    async fn start_registration(
        &self,
        request: &RegistrationRequest,
    ) -> Result<Started, WorkflowError> {
        panic!("nothing to register, yet asked for {}", request.order_id)
    }

    async fn start_cancellation(
        &self,
        event_id: ticket_core::EventId,
    ) -> Result<Started, WorkflowError> {
        panic!("nothing to cancel, yet asked for {event_id}")
    }
}

fn ports(store: DynamoStore) -> ReconcilePorts {
    ReconcilePorts {
        store: Arc::new(store),
        payments: Arc::new(FakePayments::new()),
        workflow: Arc::new(NoWorkflow),
        clock: Arc::new(SystemClock),
    }
}

#[tokio::test]
async fn a_pass_returns_its_report_as_json() {
    let client = moto::client().await;
    let table = moto::unique_table_name();
    moto::create_table(&client, &table).await;

    let report = pass(&ports(DynamoStore::new(client, table)))
        .await
        .expect("a pass over an empty table");
    assert_eq!(report["holdsReleased"], 0, "{report}");
    assert_eq!(report["ordersExpired"], 0, "{report}");
    assert_eq!(report["registrationsStarted"], 0, "{report}");
    assert_eq!(report["errors"], json!([]), "{report}");
}

#[tokio::test]
async fn a_pass_that_cannot_read_its_index_is_a_function_error() {
    let client = moto::client().await;
    let failed = pass(&ports(DynamoStore::new(client, "no-such-table")))
        .await
        .expect_err("no table, no pass");
    assert_eq!(failed.error_type, PASS_FAILED);
    assert!(!failed.error_message.is_empty());
}
