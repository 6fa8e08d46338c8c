//! Everything a Lambda reads from its environment, in one type read once per cold start, and the
//! adapters built from it. The CDK app gives each function only the variables its job needs
//! (cdk/lib/functions.ts); an adapter asked for without its variable fails naming it.

use std::env;
use std::fmt;
use std::sync::Arc;

use aws_config::SdkConfig;
use serde_json::Value;
use ticket_cloud::s3::S3Files;
use ticket_cloud::stripe::KeySource;
use ticket_cloud::{DynamoStore, StepFunctionsWorkflow, StripePayments};
use ticket_core::{TicketSigner, TicketVerifier, stripe_webhook};

/// An environment variable a Lambda may be given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Var {
    /// The DynamoDB table's name.
    TableName,
    /// The ticket bucket's name.
    BucketName,
    /// The registration state machine's ARN.
    StateMachineArn,
    /// The hosted site's origin (where Stripe Checkout sends the buyer back).
    SiteUrl,
    /// The ticket codes' public keys (`KEYID:<base64url>`, comma-separated): what a scan
    /// needs, without the signing key.
    PublicKeys,
    /// The ticket-signing key as secret text, `KEYID:secret:<base64url seed>`.
    SigningKey,
    /// The ARN of the Secrets Manager secret holding [`Var::SigningKey`]'s text.
    SigningKeySecretArn,
    /// The Stripe secret key (`sk_...`, or a restricted `rk_...` key allowed to refund).
    StripeSecretKey,
    /// The ARN of the secret holding [`Var::StripeSecretKey`].
    StripeSecretKeySecretArn,
    /// Stripe's webhook signing secret(s), `whsec_...`, comma-separated while rotating.
    StripeWebhookSecret,
    /// The ARN of the secret holding [`Var::StripeWebhookSecret`].
    StripeWebhookSecretSecretArn,
    /// Another Stripe server (a simulator); real Stripe when unset.
    StripeApiBase,
    /// The cancellation state machine (the function that cancels events starts it).
    CancellationStateMachineArn,
}

impl Var {
    pub const ALL: [Var; 13] = [
        Var::TableName,
        Var::BucketName,
        Var::StateMachineArn,
        Var::SiteUrl,
        Var::PublicKeys,
        Var::SigningKey,
        Var::SigningKeySecretArn,
        Var::StripeSecretKey,
        Var::StripeSecretKeySecretArn,
        Var::StripeWebhookSecret,
        Var::StripeWebhookSecretSecretArn,
        Var::StripeApiBase,
        Var::CancellationStateMachineArn,
    ];

    /// The variable's name, as the CDK app sets it.
    pub const fn name(self) -> &'static str {
        match self {
            Var::TableName => "TABLE_NAME",
            Var::BucketName => "BUCKET_NAME",
            Var::StateMachineArn => "STATE_MACHINE_ARN",
            Var::SiteUrl => "SITE_URL",
            Var::PublicKeys => "TICKET_PUBLIC_KEYS",
            Var::SigningKey => "TICKET_SIGNING_KEY",
            Var::SigningKeySecretArn => "TICKET_SIGNING_KEY_SECRET_ARN",
            Var::StripeSecretKey => "STRIPE_SECRET_KEY",
            Var::StripeSecretKeySecretArn => "STRIPE_SECRET_KEY_SECRET_ARN",
            Var::StripeWebhookSecret => "STRIPE_WEBHOOK_SECRET",
            Var::StripeWebhookSecretSecretArn => "STRIPE_WEBHOOK_SECRET_SECRET_ARN",
            Var::StripeApiBase => "STRIPE_API_BASE",
            Var::CancellationStateMachineArn => "CANCELLATION_STATE_MACHINE_ARN",
        }
    }
}

impl fmt::Display for Var {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set")]
    Missing(Var),
    #[error("environment variable {0} is not valid: {1}")]
    Invalid(Var, String),
    #[error("neither environment variable {0} nor {1} is set")]
    MissingSecret(Var, Var),
    #[error("the secret named by {0} cannot be read: {1}")]
    SecretUnreadable(Var, String),
    #[error(
        "the secret named by {0} still holds the placeholder the stack created it with: put the \
         real value (aws secretsmanager put-secret-value --secret-id <that ARN> --secret-string ...)"
    )]
    PlaceholderSecret(Var),
    #[error("environment variable {0} holds a placeholder, not a real value")]
    PlaceholderValue(Var),
}

/// A secret as a function is given it: the value itself in one variable (ticketd, tests) or,
/// in another, the ARN of the Secrets Manager secret that holds it (what the CDK app sets).
#[derive(Clone, PartialEq, Eq)]
pub enum Secret {
    Value { var: Var, text: String },
    Arn { var: Var, arn: String },
}

// By hand: a derived Debug would print the secret.
impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Secret::Value { var, .. } => write!(f, "Secret::Value({var})"),
            Secret::Arn { var, arn } => write!(f, "Secret::Arn({var}={arn})"),
        }
    }
}

impl Secret {
    /// The secret's text, fetched from Secrets Manager where it is named by ARN. The stack's
    /// placeholder ([`is_placeholder`]) is refused naming the variable: a function must not
    /// start on a secret nobody has set.
    pub async fn read(&self, aws: &SdkConfig) -> Result<String, ConfigError> {
        match self {
            Secret::Value { var, text } if is_placeholder(text) => {
                Err(ConfigError::PlaceholderValue(*var))
            }
            Secret::Value { text, .. } => Ok(text.clone()),
            Secret::Arn { var, arn } => SecretsManagerSecret::new(aws, arn, *var).fetch().await,
        }
    }
}

/// What a Lambda was given in its environment. Blank variables count as unset.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LambdaConfig {
    pub table_name: Option<String>,
    pub bucket_name: Option<String>,
    pub state_machine_arn: Option<String>,
    pub cancellation_state_machine_arn: Option<String>,
    pub site_url: Option<String>,
    pub public_keys: Option<String>,
    pub stripe_api_base: Option<String>,
    pub signing_key: Option<Secret>,
    pub stripe_secret_key: Option<Secret>,
    pub stripe_webhook_secret: Option<Secret>,
}

impl LambdaConfig {
    /// The process's environment.
    pub fn from_env() -> Self {
        Self::from_vars(|var| env::var(var.name()).ok())
    }

    /// The variables `read` gives.
    pub fn from_vars(read: impl Fn(Var) -> Option<String>) -> Self {
        let read = |var| {
            read(var)
                .map(|value| value.trim().to_owned())
                .filter(|value| !value.is_empty())
        };
        let secret = |value_var, arn_var| {
            let value = read(value_var).map(|text| Secret::Value {
                var: value_var,
                text,
            });
            value.or_else(|| read(arn_var).map(|arn| Secret::Arn { var: arn_var, arn }))
        };
        Self {
            table_name: read(Var::TableName),
            bucket_name: read(Var::BucketName),
            state_machine_arn: read(Var::StateMachineArn),
            cancellation_state_machine_arn: read(Var::CancellationStateMachineArn),
            site_url: read(Var::SiteUrl),
            public_keys: read(Var::PublicKeys),
            stripe_api_base: read(Var::StripeApiBase),
            signing_key: secret(Var::SigningKey, Var::SigningKeySecretArn),
            stripe_secret_key: secret(Var::StripeSecretKey, Var::StripeSecretKeySecretArn),
            stripe_webhook_secret: secret(
                Var::StripeWebhookSecret,
                Var::StripeWebhookSecretSecretArn,
            ),
        }
    }

    /// The DynamoDB store of [`Var::TableName`].
    pub fn store(&self, aws: &SdkConfig) -> Result<DynamoStore, ConfigError> {
        let table = required(&self.table_name, Var::TableName)?;
        Ok(DynamoStore::new(aws_sdk_dynamodb::Client::new(aws), table))
    }

    /// The ticket files in the bucket of [`Var::BucketName`].
    pub fn files(&self, aws: &SdkConfig) -> Result<S3Files, ConfigError> {
        let bucket = required(&self.bucket_name, Var::BucketName)?;
        Ok(S3Files::new(aws_sdk_s3::Client::new(aws), bucket))
    }

    /// The state machines the function was given: registrations ([`Var::StateMachineArn`])
    /// and cancellations ([`Var::CancellationStateMachineArn`]); at least one.
    pub fn workflow(&self, aws: &SdkConfig) -> Result<StepFunctionsWorkflow, ConfigError> {
        let client = aws_sdk_sfn::Client::new(aws);
        let workflow = match (
            &self.state_machine_arn,
            &self.cancellation_state_machine_arn,
        ) {
            (Some(registrations), _) => StepFunctionsWorkflow::new(client, registrations),
            (None, Some(cancellations)) => {
                return Ok(StepFunctionsWorkflow::cancellations(client, cancellations));
            }
            (None, None) => return Err(ConfigError::Missing(Var::StateMachineArn)),
        };
        Ok(match &self.cancellation_state_machine_arn {
            Some(cancellations) => workflow.with_cancellations(cancellations),
            None => workflow,
        })
    }

    /// The ticket-signing key.
    pub async fn signer(&self, aws: &SdkConfig) -> Result<TicketSigner, ConfigError> {
        let secret = given(&self.signing_key, Var::SigningKey, Var::SigningKeySecretArn)?;
        parse_signer(&secret.read(aws).await?)
    }

    /// What checks the codes scanned at the door: the public keys of [`Var::PublicKeys`], or
    /// the signing key's own where the function has it, or none (every code is then refused as
    /// signed by an unknown key).
    pub async fn verifier(&self, aws: &SdkConfig) -> Result<TicketVerifier, ConfigError> {
        if let Some(text) = &self.public_keys {
            return TicketVerifier::from_public_keys(text.split(',').map(str::trim))
                .map_err(|error| ConfigError::Invalid(Var::PublicKeys, error.to_string()));
        }
        if self.signing_key.is_some() {
            return Ok(self.signer(aws).await?.verifier());
        }
        TicketVerifier::from_public_keys::<[&str; 0]>([])
            .map_err(|error| ConfigError::Invalid(Var::PublicKeys, error.to_string()))
    }

    /// Stripe, at [`Var::StripeApiBase`] if set. A key from Secrets Manager is read there
    /// again when Stripe refuses it (HTTP 401), so one put after deploy takes effect in running
    /// containers; a plain variable cannot change under a running process.
    pub async fn payments(&self, aws: &SdkConfig) -> Result<StripePayments, ConfigError> {
        let base = self.stripe_api_base.as_deref();
        match given(
            &self.stripe_secret_key,
            Var::StripeSecretKey,
            Var::StripeSecretKeySecretArn,
        )? {
            Secret::Arn { var, arn } => {
                payments_from_secret(SecretsManagerSecret::new(aws, arn, *var), base).await
            }
            value => stripe_payments(&value.read(aws).await?, base),
        }
    }

    /// Stripe's webhook signing secrets; none where the function was not given them (every
    /// delivery then fails verification).
    pub async fn webhook_secrets(&self, aws: &SdkConfig) -> Result<Vec<String>, ConfigError> {
        match &self.stripe_webhook_secret {
            Some(secret) => Ok(stripe_webhook::secrets_from(&secret.read(aws).await?)),
            None => Ok(Vec::new()),
        }
    }
}

fn required(value: &Option<String>, var: Var) -> Result<String, ConfigError> {
    value.clone().ok_or(ConfigError::Missing(var))
}

fn given(secret: &Option<Secret>, var: Var, arn_var: Var) -> Result<&Secret, ConfigError> {
    secret
        .as_ref()
        .ok_or(ConfigError::MissingSecret(var, arn_var))
}

/// Whether a secret's text is the placeholder the CDK app creates each secret with
/// (`{"unset": "...", "placeholder": "<random>"}`, see cdk/lib/secrets.ts): no real key, webhook
/// secret or signing key is a JSON object with an `unset` member.
pub fn is_placeholder(text: &str) -> bool {
    serde_json::from_str::<serde_json::Map<String, Value>>(text.trim())
        .is_ok_and(|object| object.contains_key("unset"))
}

/// One Secrets Manager secret, named by its ARN (found in the variable `arn_var`).
#[derive(Debug, Clone)]
pub struct SecretsManagerSecret {
    client: aws_sdk_secretsmanager::Client,
    arn: String,
    arn_var: Var,
}

impl SecretsManagerSecret {
    pub fn new(aws: &SdkConfig, arn: impl Into<String>, arn_var: Var) -> Self {
        Self {
            client: aws_sdk_secretsmanager::Client::new(aws),
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

fn parse_signer(text: &str) -> Result<TicketSigner, ConfigError> {
    TicketSigner::from_secret_text(text.trim())
        .map_err(|error| ConfigError::Invalid(Var::SigningKey, error.to_string()))
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
        .map_err(|error| ConfigError::Invalid(Var::StripeSecretKey, error.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(Var, &str)]) -> LambdaConfig {
        LambdaConfig::from_vars(|var| {
            vars.iter()
                .find(|(given, _)| *given == var)
                .map(|(_, value)| (*value).to_owned())
        })
    }

    #[test]
    fn every_variable_has_its_own_name() {
        let names: std::collections::BTreeSet<_> = Var::ALL.iter().map(|var| var.name()).collect();
        assert_eq!(names.len(), Var::ALL.len());
    }

    #[test]
    fn variables_are_read_trimmed_and_blank_counts_as_unset() {
        let read = config(&[
            (Var::TableName, " tickets \n"),
            (Var::BucketName, "  "),
            (Var::SiteUrl, "https://tickets.example.org"),
        ]);
        assert_eq!(read.table_name.as_deref(), Some("tickets"));
        assert_eq!(read.bucket_name, None);
        assert_eq!(
            read.site_url.as_deref(),
            Some("https://tickets.example.org")
        );
    }

    #[test]
    fn a_secrets_value_wins_over_its_arn() {
        let both = config(&[
            (Var::StripeSecretKey, "sk_test_1"),
            (
                Var::StripeSecretKeySecretArn,
                "arn:aws:secretsmanager:eu-west-1:1:secret:k",
            ),
            (
                Var::SigningKeySecretArn,
                "arn:aws:secretsmanager:eu-west-1:1:secret:s",
            ),
        ]);
        assert_eq!(
            both.stripe_secret_key,
            Some(Secret::Value {
                var: Var::StripeSecretKey,
                text: "sk_test_1".into()
            })
        );
        assert_eq!(
            both.signing_key,
            Some(Secret::Arn {
                var: Var::SigningKeySecretArn,
                arn: "arn:aws:secretsmanager:eu-west-1:1:secret:s".into()
            })
        );
        assert_eq!(both.stripe_webhook_secret, None);
        assert!(
            !format!("{both:?}").contains("sk_test_1"),
            "no secret in Debug"
        );
    }

    #[tokio::test]
    async fn an_adapter_without_its_variable_fails_naming_it() {
        let aws = SdkConfig::builder().build();
        let none = LambdaConfig::default();
        assert_eq!(
            none.store(&aws).unwrap_err().to_string(),
            "environment variable TABLE_NAME is not set"
        );
        assert_eq!(
            none.files(&aws).unwrap_err(),
            ConfigError::Missing(Var::BucketName)
        );
        assert_eq!(
            none.payments(&aws).await.unwrap_err().to_string(),
            "neither environment variable STRIPE_SECRET_KEY nor STRIPE_SECRET_KEY_SECRET_ARN is set"
        );
        assert_eq!(
            none.webhook_secrets(&aws).await.unwrap(),
            Vec::<String>::new()
        );
    }

    #[tokio::test]
    async fn a_placeholder_in_a_plain_variable_is_refused() {
        let aws = SdkConfig::builder().build();
        let placeholder = r#"{"unset":"put the real value","placeholder":"x"}"#;
        let given = config(&[(Var::StripeWebhookSecret, placeholder)]);
        assert_eq!(
            given.webhook_secrets(&aws).await.unwrap_err(),
            ConfigError::PlaceholderValue(Var::StripeWebhookSecret)
        );
        let rotating = config(&[(Var::StripeWebhookSecret, "whsec_a, whsec_b")]);
        assert_eq!(
            rotating.webhook_secrets(&aws).await.unwrap(),
            ["whsec_a", "whsec_b"]
        );
    }

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
            ConfigError::PlaceholderSecret(Var::StripeSecretKeySecretArn).to_string(),
            "the secret named by STRIPE_SECRET_KEY_SECRET_ARN still holds the placeholder the \
             stack created it with: put the real value (aws secretsmanager put-secret-value \
             --secret-id <that ARN> --secret-string ...)"
        );
    }
}
