//! Start-up shared by the Lambda binaries (one per route and saga step, under `src/bin/`, as the
//! routes and steps arrive): read configuration from the environment and build the adapters once
//! per cold start. No business logic lives here.

use std::env;

use ticket_cloud::DynamoStore;

/// Names the environment variable that holds the DynamoDB table name (set by the CDK app).
pub const TABLE_NAME_VAR: &str = "TABLE_NAME";

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_variable_is_named() {
        let error = required_env("TICKET_TEST_SURELY_UNSET").unwrap_err();
        assert_eq!(
            error.to_string(),
            "environment variable TICKET_TEST_SURELY_UNSET is not set"
        );
    }
}
