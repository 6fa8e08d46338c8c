//! The Cognito adapter of the [`UserDirectory`] port: group membership through
//! `AdminAddUserToGroup` on one user pool.
//!
//! Cognito answers success when the user is already in the group, so adding again is the
//! idempotent no-op the port promises, and the post-confirmation trigger may run twice.

use async_trait::async_trait;
use aws_sdk_cognitoidentityprovider::Client;
use aws_sdk_cognitoidentityprovider::error::{ProvideErrorMetadata, SdkError};
use ticket_core::identity::{DirectoryError, UserDirectory};

use crate::sdk_error::{SdkFailure, classify};

/// Error codes that a retry, later, may get past.
const TRANSIENT_CODES: &[&str] = &[
    "TooManyRequestsException",
    "ThrottlingException",
    "Throttling",
    "InternalErrorException",
    "ServiceUnavailable",
];

/// The users and groups of one user pool.
#[derive(Debug, Clone)]
pub struct CognitoUserDirectory {
    client: Client,
    user_pool_id: String,
}

impl CognitoUserDirectory {
    pub fn new(client: Client, user_pool_id: impl Into<String>) -> Self {
        Self {
            client,
            user_pool_id: user_pool_id.into(),
        }
    }

    pub fn user_pool_id(&self) -> &str {
        &self.user_pool_id
    }
}

/// Maps an SDK error, naming the operation and the error code only: never the SDK's debug text,
/// which can carry request details.
fn directory_error<E, R>(
    error: SdkError<E, R>,
    user_pool_id: &str,
    username: &str,
    group: &str,
) -> DirectoryError
where
    E: ProvideErrorMetadata,
{
    const OPERATION: &str = "AdminAddUserToGroup";
    match classify(&error, TRANSIENT_CODES) {
        SdkFailure::Transient(what) => DirectoryError::Unavailable(format!("{OPERATION}: {what}")),
        SdkFailure::Service(Some("UserNotFoundException")) => {
            DirectoryError::UnknownUser(username.to_owned())
        }
        // Cognito says the same for a missing pool and a missing group: either way the pool
        // has no such group.
        SdkFailure::Service(Some("ResourceNotFoundException")) => {
            DirectoryError::UnknownGroup(format!("{group} in user pool {user_pool_id}"))
        }
        SdkFailure::Service(Some(code)) => {
            DirectoryError::Internal(format!("{OPERATION} failed: {code}"))
        }
        SdkFailure::Service(None) => DirectoryError::Internal(format!("{OPERATION} failed")),
        SdkFailure::Unbuildable => {
            DirectoryError::Internal(format!("{OPERATION}: the request could not be built"))
        }
    }
}

#[async_trait]
impl UserDirectory for CognitoUserDirectory {
    async fn add_to_group(&self, username: &str, group: &str) -> Result<(), DirectoryError> {
        self.client
            .admin_add_user_to_group()
            .user_pool_id(&self.user_pool_id)
            .username(username)
            .group_name(group)
            .send()
            .await
            .map_err(|error| directory_error(error, &self.user_pool_id, username, group))?;
        Ok(())
    }
}
