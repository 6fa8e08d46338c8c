//! Start-up shared by the Lambda binaries (one per route and saga step, Cognito's
//! post-confirmation trigger and the scheduled reconciliation pass, under `src/bin/`): read
//! configuration from the environment, build the adapters once per cold start, and hand events
//! to core. No business logic lives here.

mod post_confirmation;
mod reconcile;
mod route;

use std::env;
use std::future::Future;
use std::sync::Arc;

use aws_config::SdkConfig;
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde::Serialize;
use serde_json::Value;
use ticket_cloud::s3::S3Files;
use ticket_cloud::stripe::KeySource;
use ticket_cloud::{DynamoStore, StripePayments};
use ticket_core::TicketSigner;
use ticket_core::registration::{StepFailure, StepPayload, output};
use tracing::level_filters::LevelFilter;
use tracing_subscriber::EnvFilter;

pub use post_confirmation::{post_confirmation, run_post_confirmation};
pub use reconcile::{PASS_FAILED, pass, reconcile_ports, run_reconcile};
pub use route::{
    PUBLIC_KEYS_VAR, SITE_URL_VAR, STATE_MACHINE_ARN_VAR, binary_name, run_route, serves,
};
pub use ticket_core::api::Handler;
pub use ticket_core::registration::Step;

/// Names the environment variable that holds the DynamoDB table name (set by the CDK app).
pub const TABLE_NAME_VAR: &str = "TABLE_NAME";

/// Names the environment variable that holds the ticket bucket's name (set by the CDK app).
pub const BUCKET_NAME_VAR: &str = "BUCKET_NAME";

/// Names the environment variable that holds the ticket-signing key, in the secret text form
/// `KEYID:secret:<base64url seed>` (see `ticket_core::ticket_code`).
pub const SIGNING_KEY_VAR: &str = "TICKET_SIGNING_KEY";

/// Names the environment variable that holds the ARN of the Secrets Manager secret with the
/// ticket-signing key (set by the CDK app; see [`secret_from_env`]).
pub const SIGNING_KEY_ARN_VAR: &str = "TICKET_SIGNING_KEY_SECRET_ARN";

/// Names the environment variable that holds the Stripe secret key (`sk_...` or a restricted
/// `rk_...` key allowed to create refunds).
pub const STRIPE_SECRET_KEY_VAR: &str = "STRIPE_SECRET_KEY";

/// Names the environment variable that holds the ARN of the secret with the Stripe key.
pub const STRIPE_SECRET_KEY_ARN_VAR: &str = "STRIPE_SECRET_KEY_SECRET_ARN";

/// Names the environment variable with Stripe's webhook signing secret(s) (`whsec_...`, several
/// separated by commas while rotating).
pub const STRIPE_WEBHOOK_SECRET_VAR: &str = "STRIPE_WEBHOOK_SECRET";

/// Names the environment variable that holds the ARN of the secret with the webhook secret(s).
pub const STRIPE_WEBHOOK_SECRET_ARN_VAR: &str = "STRIPE_WEBHOOK_SECRET_SECRET_ARN";

/// Names the optional environment variable that points the Stripe client at another server
/// (a simulator); real Stripe when unset.
pub const STRIPE_API_BASE_VAR: &str = "STRIPE_API_BASE";

/// Whether two strings are equal, at build time.
pub const fn same_str(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Names the step a saga-step binary runs, as `STEP`. A binary whose file name is not that
/// step's binary name does not build, so the function the state machine invokes for a step
/// runs that step.
#[macro_export]
macro_rules! step_binary {
    ($step:ident) => {
        const STEP: $crate::Step = $crate::Step::$step;
        const _: () = assert!(
            $crate::same_str(STEP.binary_name(), env!("CARGO_BIN_NAME")),
            "this binary's name is not the binary name of the step it runs"
        );
    };
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
    #[error("environment variable {0} is not valid: {1}")]
    Invalid(&'static str, String),
    #[error("neither environment variable {0} nor {1} is set")]
    MissingSecret(&'static str, &'static str),
    #[error("the secret named by {0} cannot be read: {1}")]
    SecretUnreadable(&'static str, String),
    #[error(
        "the secret named by {0} still holds the placeholder the stack created it with: put the \
         real value (aws secretsmanager put-secret-value --secret-id <that ARN> --secret-string ...)"
    )]
    PlaceholderSecret(&'static str),
    #[error("environment variable {0} holds a placeholder, not a real value")]
    PlaceholderValue(&'static str),
}

/// Whether a secret's text is the placeholder the CDK app creates each secret with
/// (`{"unset": "...", "placeholder": "<random>"}`, see cdk/lib/secrets.ts): no real key, webhook
/// secret or signing key is a JSON object with an `unset` member.
pub fn is_placeholder(text: &str) -> bool {
    serde_json::from_str::<serde_json::Map<String, Value>>(text.trim())
        .is_ok_and(|object| object.contains_key("unset"))
}

/// Reads a required, non-empty environment variable.
pub fn required_env(name: &'static str) -> Result<String, ConfigError> {
    optional_env(name).ok_or(ConfigError::Missing(name))
}

/// Reads an environment variable; unset and blank are both `None`.
pub fn optional_env(name: &str) -> Option<String> {
    env::var(name).ok().filter(|value| !value.trim().is_empty())
}

/// JSON log lines (one object per event, fields at the top level) at `RUST_LOG`'s level,
/// `info` by default. CloudWatch keeps them with the invocation's request id, which the
/// runtime's span adds.
pub fn init_logging() {
    // Lossy: a typo in RUST_LOG drops that directive instead of silencing every log.
    let filter = EnvFilter::builder()
        .with_default_directive(LevelFilter::INFO.into())
        .from_env_lossy();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .json()
        .flatten_event(true)
        .with_span_list(false)
        .with_target(false)
        .init();
}

/// The AWS configuration of the Lambda (its role's credentials, its region). Load it once and
/// build every AWS adapter from it.
pub async fn aws_config() -> SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

/// The DynamoDB store named by `TABLE_NAME`.
pub fn store_from(config: &SdkConfig) -> Result<DynamoStore, ConfigError> {
    let table = required_env(TABLE_NAME_VAR)?;
    Ok(DynamoStore::new(
        aws_sdk_dynamodb::Client::new(config),
        table,
    ))
}

/// The DynamoDB store named by `TABLE_NAME`, with the Lambda's own credentials and region.
pub async fn store_from_env() -> Result<DynamoStore, ConfigError> {
    store_from(&aws_config().await)
}

/// The ticket files in the S3 bucket named by `BUCKET_NAME`.
pub fn files_from(config: &SdkConfig) -> Result<S3Files, ConfigError> {
    let bucket = required_env(BUCKET_NAME_VAR)?;
    Ok(S3Files::new(aws_sdk_s3::Client::new(config), bucket))
}

/// Whether the function was given the secret: its value in `var` or its ARN in `arn_var`.
pub fn secret_given(var: &'static str, arn_var: &'static str) -> bool {
    optional_env(var).is_some() || optional_env(arn_var).is_some()
}

/// A secret's value: `var` itself where it is set (ticketd, tests), else the Secrets Manager
/// secret whose ARN is in `arn_var` (what the CDK app sets), fetched once per cold start. The
/// stack's placeholder ([`is_placeholder`]) is refused, naming the variable: a function must not
/// start on a secret nobody has set.
pub async fn secret_from_env(
    config: &SdkConfig,
    var: &'static str,
    arn_var: &'static str,
) -> Result<String, ConfigError> {
    if let Some(value) = optional_env(var) {
        if is_placeholder(&value) {
            return Err(ConfigError::PlaceholderValue(var));
        }
        return Ok(value);
    }
    let arn = optional_env(arn_var).ok_or(ConfigError::MissingSecret(var, arn_var))?;
    SecretsManagerSecret::new(config, arn, arn_var)
        .fetch()
        .await
}

/// One Secrets Manager secret, named by its ARN (found in the variable `arn_var`).
#[derive(Debug, Clone)]
pub struct SecretsManagerSecret {
    client: aws_sdk_secretsmanager::Client,
    arn: String,
    arn_var: &'static str,
}

impl SecretsManagerSecret {
    pub fn new(config: &SdkConfig, arn: impl Into<String>, arn_var: &'static str) -> Self {
        Self {
            client: aws_sdk_secretsmanager::Client::new(config),
            arn: arn.into().trim().to_owned(),
            arn_var,
        }
    }

    /// The secret's current text; neither empty nor the stack's placeholder.
    pub async fn fetch(&self) -> Result<String, ConfigError> {
        let answer = self
            .client
            .get_secret_value()
            .secret_id(&self.arn)
            .send()
            .await
            .map_err(|error| {
                // The code only: the SDK's full text can carry request details.
                let code = error
                    .as_service_error()
                    .and_then(|error| error.meta().code())
                    .unwrap_or("no answer from Secrets Manager");
                ConfigError::SecretUnreadable(self.arn_var, code.to_owned())
            })?;
        let text = answer
            .secret_string()
            .filter(|value| !value.trim().is_empty())
            .ok_or_else(|| {
                ConfigError::SecretUnreadable(self.arn_var, "it has no text value".into())
            })?;
        if is_placeholder(text) {
            return Err(ConfigError::PlaceholderSecret(self.arn_var));
        }
        Ok(text.to_owned())
    }
}

/// The Stripe adapter reads its key here again after a 401.
#[async_trait::async_trait]
impl KeySource for SecretsManagerSecret {
    async fn current_key(&self) -> Result<String, String> {
        self.fetch().await.map_err(|error| error.to_string())
    }
}

/// The ticket-signing key from `TICKET_SIGNING_KEY`, or from the secret named by
/// `TICKET_SIGNING_KEY_SECRET_ARN`.
pub async fn signer_from(config: &SdkConfig) -> Result<TicketSigner, ConfigError> {
    parse_signer(&secret_from_env(config, SIGNING_KEY_VAR, SIGNING_KEY_ARN_VAR).await?)
}

fn parse_signer(text: &str) -> Result<TicketSigner, ConfigError> {
    TicketSigner::from_secret_text(text.trim())
        .map_err(|error| ConfigError::Invalid(SIGNING_KEY_VAR, error.to_string()))
}

/// Stripe, with the key from `STRIPE_SECRET_KEY` or the secret named by
/// `STRIPE_SECRET_KEY_SECRET_ARN`, at `STRIPE_API_BASE` if set. A key from Secrets Manager is
/// read there again when Stripe refuses it (HTTP 401), so one put after deploy takes effect in
/// running containers; the plain variable cannot change under a running process.
pub async fn payments_from(config: &SdkConfig) -> Result<StripePayments, ConfigError> {
    let base = optional_env(STRIPE_API_BASE_VAR);
    let base = base.as_deref().map(str::trim);
    if let Some(key) = optional_env(STRIPE_SECRET_KEY_VAR) {
        if is_placeholder(&key) {
            return Err(ConfigError::PlaceholderValue(STRIPE_SECRET_KEY_VAR));
        }
        return stripe_payments(&key, base);
    }
    let arn = optional_env(STRIPE_SECRET_KEY_ARN_VAR).ok_or(ConfigError::MissingSecret(
        STRIPE_SECRET_KEY_VAR,
        STRIPE_SECRET_KEY_ARN_VAR,
    ))?;
    let secret = SecretsManagerSecret::new(config, arn, STRIPE_SECRET_KEY_ARN_VAR);
    payments_from_secret(secret, base).await
}

/// Stripe with the key in `secret` (refused if it is the placeholder), at `base_url` or real
/// Stripe, reading the secret again after a 401.
pub async fn payments_from_secret(
    secret: SecretsManagerSecret,
    base_url: Option<&str>,
) -> Result<StripePayments, ConfigError> {
    let key = secret.fetch().await?;
    Ok(stripe_payments(&key, base_url)?.with_key_source(Arc::new(secret)))
}

fn stripe_payments(key: &str, base_url: Option<&str>) -> Result<StripePayments, ConfigError> {
    StripePayments::new(key.trim(), base_url)
        .map_err(|error| ConfigError::Invalid(STRIPE_SECRET_KEY_VAR, error.to_string()))
}

/// The PDF renderer, warmed up (fonts parsed) during the cold start rather than in the first
/// invocation.
pub fn renderer() -> ticket_render::PdfRenderer {
    ticket_render::warm_up();
    ticket_render::PdfRenderer
}

/// Serves one registration step: each invocation's payload (the execution input plus what
/// earlier steps added) is parsed and handed to `handler`, whose output becomes the task's
/// result. A [`StepFailure`] becomes the Lambda error whose type Step Functions matches in its
/// `Retry` and `Catch` (`Ticketing.Transient`, ...).
pub async fn run_step<F, Fut, O>(step: Step, handler: F) -> Result<(), lambda_runtime::Error>
where
    F: Fn(StepPayload) -> Fut,
    Fut: Future<Output = Result<O, StepFailure>>,
    O: Serialize,
{
    let handler = &handler;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        handle(step, handler, event.payload)
    }))
    .await
}

async fn handle<F, Fut, O>(step: Step, handler: &F, payload: Value) -> Result<Value, Diagnostic>
where
    F: Fn(StepPayload) -> Fut,
    Fut: Future<Output = Result<O, StepFailure>>,
    O: Serialize,
{
    let state = step.state_name();
    let payload = StepPayload::parse(&payload).map_err(|failure| {
        tracing::error!(step = state, error = failure.error, cause = %failure.cause, "unreadable payload");
        diagnostic(failure)
    })?;
    let order = payload.request.order_id.clone();
    match handler(payload).await.and_then(output) {
        Ok(result) => {
            tracing::info!(step = state, order = %order, result = %result, "step done");
            Ok(result)
        }
        Err(failure) => {
            if failure.is_transient() {
                tracing::warn!(step = state, order = %order, error = failure.error, cause = %failure.cause, "step failed; worth a retry");
            } else {
                tracing::error!(step = state, order = %order, error = failure.error, cause = %failure.cause, "step failed");
            }
            Err(diagnostic(failure))
        }
    }
}

/// What Step Functions sees: the error name as the error type, the cause as the message.
fn diagnostic(failure: StepFailure) -> Diagnostic {
    Diagnostic {
        error_type: failure.error.to_owned(),
        error_message: failure.cause,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signing_key_reads_its_secret_text() {
        let signer = TicketSigner::generate_with_derived_id();
        let loaded = parse_signer(&format!(" {}\n", signer.to_secret_text())).unwrap();
        assert_eq!(
            loaded.public_key().to_string(),
            signer.public_key().to_string()
        );
        let error = parse_signer("K1:not-a-key").expect_err("refused");
        assert!(
            error
                .to_string()
                .starts_with("environment variable TICKET_SIGNING_KEY is not valid")
        );
        assert!(
            !error.to_string().contains("not-a-key"),
            "the secret is not echoed: {error}"
        );
    }

    #[test]
    fn the_stacks_placeholder_is_recognised_and_real_values_are_not() {
        // What cdk/lib/secrets.ts generates: its template plus a random `placeholder` member.
        let generated = r#"{"unset":"put the real value with aws secretsmanager put-secret-value","placeholder":"Zx81kQvBn2LmT0aYcW5hRj7eUsPd4GfN"}"#;
        assert!(is_placeholder(generated));
        assert!(is_placeholder(&format!(" {generated}\n")));
        for real in [
            "sk_test_4eC39HqLyjWDarjtT1zdp7dc",
            "whsec_abc,whsec_def",
            "K1:secret:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            r#"{"key":"a JSON secret of another shape"}"#,
            "unset",
        ] {
            assert!(!is_placeholder(real), "{real}");
        }
        assert_eq!(
            ConfigError::PlaceholderSecret(STRIPE_SECRET_KEY_ARN_VAR).to_string(),
            "the secret named by STRIPE_SECRET_KEY_SECRET_ARN still holds the placeholder the \
             stack created it with: put the real value (aws secretsmanager put-secret-value \
             --secret-id <that ARN> --secret-string ...)"
        );
    }

    #[test]
    fn a_missing_variable_is_named() {
        let error = required_env("TICKET_TEST_SURELY_UNSET").unwrap_err();
        assert_eq!(
            error.to_string(),
            "environment variable TICKET_TEST_SURELY_UNSET is not set"
        );
    }

    fn request() -> Value {
        serde_json::json!({
            "orderId": "cs_test_1",
            "eventId": "00000000-0000-0000-0000-000000000001",
            "holdId": "00000000-0000-0000-0000-000000000002",
            "userId": "buyer",
            "amountMinor": 0,
            "currency": "EUR",
            "attendee": {"name": "Ada", "email": "ada@example.org"},
            "seat": {"holdStatus": "SOLD", "late": false}
        })
    }

    #[tokio::test]
    async fn a_step_failure_becomes_the_error_type_step_functions_matches() {
        let failing = |payload: StepPayload| async move {
            Err::<Value, _>(StepFailure::transient(format!(
                "store busy for {}",
                payload.request.order_id
            )))
        };
        let diagnostic = handle(Step::ConfirmSeat, &failing, request())
            .await
            .unwrap_err();
        assert_eq!(diagnostic.error_type, "Ticketing.Transient");
        assert_eq!(diagnostic.error_message, "store busy for cs_test_1");

        let unreadable = handle(Step::ConfirmSeat, &failing, serde_json::json!({"x": 1}))
            .await
            .unwrap_err();
        assert_eq!(unreadable.error_type, "Ticketing.Rejected");
    }

    #[tokio::test]
    async fn a_step_result_is_its_camel_case_json() {
        let done = |payload: StepPayload| async move {
            Ok(ticket_core::registration::Undone {
                reason: Some(payload.request.attendee.name),
                ..ticket_core::registration::Undone::new(
                    ticket_core::registration::Outcome::NothingToRelease,
                )
            })
        };
        let result = handle(Step::ReleaseSeat, &done, request()).await.unwrap();
        assert_eq!(
            result,
            serde_json::json!({"outcome": "nothing-to-release", "reason": "Ada"})
        );
    }

    #[test]
    fn every_step_has_its_binary() {
        // What each binary runs is checked when it builds (`step_binary!`).
        let bins = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/bin");
        for step in Step::ALL {
            let source = bins.join(format!("{}.rs", step.binary_name()));
            assert!(source.is_file(), "{step:?} needs {}", source.display());
        }
        assert!(same_str("confirm-seat", Step::ConfirmSeat.binary_name()));
        assert!(!same_str("confirm-seats", Step::ConfirmSeat.binary_name()));
    }

    #[tokio::test]
    async fn a_secret_is_the_plain_variable_when_set_and_named_when_missing() {
        let config = SdkConfig::builder().build();
        // Cargo sets CARGO_PKG_NAME for the tests it runs.
        let plain = secret_from_env(&config, "CARGO_PKG_NAME", "TICKET_TEST_SURELY_UNSET_ARN")
            .await
            .unwrap();
        assert_eq!(plain, "ticket-functions");
        let missing = secret_from_env(
            &config,
            "TICKET_TEST_SURELY_UNSET",
            "TICKET_TEST_SURELY_UNSET_ARN",
        )
        .await
        .unwrap_err();
        assert_eq!(
            missing.to_string(),
            "neither environment variable TICKET_TEST_SURELY_UNSET nor \
             TICKET_TEST_SURELY_UNSET_ARN is set"
        );
    }
}
