//! Cognito's post-confirmation trigger: a user who confirms their sign-up joins the `attendee`
//! group ([`on_user_confirmed`]). The trigger also fires after a forgotten password is reset;
//! that user is no new user, so the event passes untouched.
//!
//! Cognito wants the event back as it came. A failure goes back to Cognito as an error, so the
//! confirmation reports it rather than leave a user in no group silently.

use aws_lambda_events::cognito::{
    CognitoEventUserPoolsPostConfirmation, CognitoEventUserPoolsPostConfirmationTriggerSource,
};
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde_json::Value;
use ticket_cloud::CognitoUserDirectory;
use ticket_core::identity::{DirectoryError, UserDirectory, on_user_confirmed};

/// Serves the trigger. The user pool comes with each event, so the function needs no
/// configuration beyond its role's permission to add users to groups.
pub async fn run_post_confirmation() -> Result<(), lambda_runtime::Error> {
    let (_, aws) = crate::cold_start().await;
    let client = &aws_sdk_cognitoidentityprovider::Client::new(&aws);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        post_confirmation(
            move |pool| CognitoUserDirectory::new(client.clone(), pool),
            event.payload,
        )
    }))
    .await
}

/// Handles one post-confirmation event with the directory of the event's user pool
/// (`directory_for(userPoolId)`), answering the event unchanged.
pub async fn post_confirmation<D, F>(directory_for: F, event: Value) -> Result<Value, Diagnostic>
where
    D: UserDirectory,
    F: Fn(&str) -> D,
{
    // Read from a copy: the answer is the event itself, with fields this crate may not
    // know about.
    let parsed: CognitoEventUserPoolsPostConfirmation = serde_json::from_value(event.clone())
        .map_err(|error| {
            tracing::error!(%error, "unreadable post-confirmation event");
            failure("PostConfirmation.UnreadableEvent", error.to_string())
        })?;
    let header = &parsed.cognito_event_user_pools_header;
    if !matches!(
        header.trigger_source,
        Some(CognitoEventUserPoolsPostConfirmationTriggerSource::ConfirmSignUp)
    ) {
        tracing::info!(trigger_source = ?header.trigger_source, "not a sign-up; nothing to do");
        return Ok(event);
    }
    let (Some(pool), Some(username)) = (&header.user_pool_id, &header.user_name) else {
        tracing::error!("post-confirmation event without userPoolId or userName");
        return Err(failure(
            "PostConfirmation.UnreadableEvent",
            "the event names no user pool or user".into(),
        ));
    };
    match on_user_confirmed(&directory_for(pool), username).await {
        Ok(()) => {
            tracing::info!(user_pool = %pool, user = %username, "added to attendee");
            Ok(event)
        }
        Err(error) => {
            tracing::error!(user_pool = %pool, user = %username, %error, "could not add to attendee");
            Err(failure(error_type(&error), error.to_string()))
        }
    }
}

fn error_type(error: &DirectoryError) -> &'static str {
    match error {
        DirectoryError::UnknownUser(_) => "PostConfirmation.UnknownUser",
        DirectoryError::UnknownGroup(_) => "PostConfirmation.UnknownGroup",
        DirectoryError::Unavailable(_) => "PostConfirmation.Unavailable",
        DirectoryError::Internal(_) => "PostConfirmation.Internal",
    }
}

fn failure(error_type: &str, message: String) -> Diagnostic {
    Diagnostic {
        error_type: error_type.to_owned(),
        error_message: message,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use async_trait::async_trait;
    use serde_json::json;

    use ticket_testkit::recorded::{COGNITO_POST_CONFIRMATION, recorded_event};

    use super::*;

    /// Records `(pool, user, group)` for every addition; fails with `failing` if set.
    #[derive(Clone, Default)]
    struct Recorder {
        added: Arc<Mutex<Vec<(String, String, String)>>>,
        failing: Option<DirectoryError>,
    }

    struct PoolDirectory {
        pool: String,
        recorder: Recorder,
    }

    #[async_trait]
    impl UserDirectory for PoolDirectory {
        async fn add_to_group(&self, username: &str, group: &str) -> Result<(), DirectoryError> {
            if let Some(error) = &self.recorder.failing {
                return Err(error.clone());
            }
            self.recorder.added.lock().unwrap().push((
                self.pool.clone(),
                username.to_owned(),
                group.to_owned(),
            ));
            Ok(())
        }
    }

    impl Recorder {
        async fn handle(&self, event: Value) -> Result<Value, Diagnostic> {
            let recorder = self.clone();
            post_confirmation(
                move |pool| PoolDirectory {
                    pool: pool.to_owned(),
                    recorder: recorder.clone(),
                },
                event,
            )
            .await
        }

        fn added(&self) -> Vec<(String, String, String)> {
            self.added.lock().unwrap().clone()
        }
    }

    /// Cognito's recorded post-confirmation event for a user of this pool, with a field this
    /// crate's types do not know.
    fn event(trigger_source: &str) -> Value {
        let mut event = recorded_event(COGNITO_POST_CONFIRMATION);
        event["triggerSource"] = json!(trigger_source);
        event["region"] = json!("eu-west-1");
        event["userPoolId"] = json!("eu-west-1_AbCdEf123");
        event["userName"] = json!("6b1c7a2e-0d3f-4c59-9a51-2f0e8d7b4c11");
        event["request"]["userAttributes"] = json!({
            "sub": "6b1c7a2e-0d3f-4c59-9a51-2f0e8d7b4c11",
            "email": "ada@example.org",
            "email_verified": "true",
            "cognito:user_status": "CONFIRMED"
        });
        event["somethingNew"] = json!({"kept": true});
        event
    }

    #[tokio::test]
    async fn a_confirmed_sign_up_joins_attendee_in_the_events_pool_and_the_event_comes_back() {
        let recorder = Recorder::default();
        let sent = event("PostConfirmation_ConfirmSignUp");
        assert_eq!(recorder.handle(sent.clone()).await.unwrap(), sent);
        assert_eq!(
            recorder.added(),
            [(
                "eu-west-1_AbCdEf123".to_owned(),
                "6b1c7a2e-0d3f-4c59-9a51-2f0e8d7b4c11".to_owned(),
                "attendee".to_owned()
            )]
        );
    }

    #[tokio::test]
    async fn a_password_reset_changes_nothing() {
        let recorder = Recorder::default();
        let sent = event("PostConfirmation_ConfirmForgotPassword");
        assert_eq!(recorder.handle(sent.clone()).await.unwrap(), sent);
        assert_eq!(recorder.added(), []);
    }

    #[tokio::test]
    async fn a_directory_failure_fails_the_trigger_with_its_kind() {
        let recorder = Recorder {
            failing: Some(DirectoryError::Unavailable(
                "AdminAddUserToGroup: TooManyRequestsException".into(),
            )),
            ..Recorder::default()
        };
        let diagnostic = recorder
            .handle(event("PostConfirmation_ConfirmSignUp"))
            .await
            .unwrap_err();
        assert_eq!(diagnostic.error_type, "PostConfirmation.Unavailable");
        assert_eq!(
            diagnostic.error_message,
            "user directory unavailable: AdminAddUserToGroup: TooManyRequestsException"
        );
    }

    #[tokio::test]
    async fn an_event_without_a_user_or_of_another_shape_is_refused() {
        let recorder = Recorder::default();
        let mut nameless = event("PostConfirmation_ConfirmSignUp");
        nameless.as_object_mut().unwrap().remove("userName");
        let unreadable = json!({"triggerSource": 7});
        for sent in [nameless, unreadable] {
            let diagnostic = recorder.handle(sent.clone()).await.unwrap_err();
            assert_eq!(
                diagnostic.error_type, "PostConfirmation.UnreadableEvent",
                "{sent}"
            );
        }
        assert_eq!(recorder.added(), []);
    }
}
