//! Start-up shared by the Lambda binaries (one per route and saga step, under `src/bin/`, as the
//! routes and steps arrive): read configuration from the environment and build the adapters once
//! per cold start. No business logic lives here.

use std::env;

use ticket_cloud::DynamoStore;
use ticket_core::TicketSigner;

/// Names the environment variable that holds the DynamoDB table name (set by the CDK app).
pub const TABLE_NAME_VAR: &str = "TABLE_NAME";

/// Names the environment variable that holds the ticket-signing key, in the secret text form
/// `KEYID:secret:<base64url seed>` (see `ticket_core::ticket_code`).
pub const SIGNING_KEY_VAR: &str = "TICKET_SIGNING_KEY";

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
    #[error("environment variable {0} is not valid: {1}")]
    Invalid(&'static str, String),
}

/// Reads a required, non-empty environment variable.
pub fn required_env(name: &'static str) -> Result<String, ConfigError> {
    env::var(name)
        .ok()
        .filter(|value| !value.trim().is_empty())
        .ok_or(ConfigError::Missing(name))
}

/// The DynamoDB store named by `TABLE_NAME`, with the Lambda's own credentials and region.
pub async fn store_from_env() -> Result<DynamoStore, ConfigError> {
    let table = required_env(TABLE_NAME_VAR)?;
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    Ok(DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&config),
        table,
    ))
}

/// The ticket-signing key from `TICKET_SIGNING_KEY`.
pub fn signer_from_env() -> Result<TicketSigner, ConfigError> {
    parse_signer(&required_env(SIGNING_KEY_VAR)?)
}

fn parse_signer(text: &str) -> Result<TicketSigner, ConfigError> {
    TicketSigner::from_secret_text(text.trim())
        .map_err(|error| ConfigError::Invalid(SIGNING_KEY_VAR, error.to_string()))
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
    fn a_missing_variable_is_named() {
        let error = required_env("TICKET_TEST_SURELY_UNSET").unwrap_err();
        assert_eq!(
            error.to_string(),
            "environment variable TICKET_TEST_SURELY_UNSET is not set"
        );
    }
}
