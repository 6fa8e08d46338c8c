//! The Cognito user directory against moto's Cognito: the post-confirmation trigger puts a user
//! in `attendee` once however often it runs, and a missing user, group or pool is told apart
//! from an outage.

use ticket_testkit::moto;

use aws_sdk_cognitoidentityprovider::Client;
use ticket_cloud::CognitoUserDirectory;
use ticket_core::identity::{DirectoryError, UserDirectory, on_user_confirmed};

async fn cognito_client() -> Client {
    Client::new(&moto::sdk_config().await)
}

/// A new pool with the `attendee` and `organizer` groups and one confirmed user; returns the
/// pool id and the user's name.
async fn pool_with_user(client: &Client) -> (String, String) {
    let pool = client
        .create_user_pool()
        .pool_name(format!("users-{}", uuid::Uuid::new_v4().simple()))
        .send()
        .await
        .expect("create user pool")
        .user_pool
        .and_then(|pool| pool.id)
        .expect("pool id");
    for group in ["attendee", "organizer"] {
        client
            .create_group()
            .user_pool_id(&pool)
            .group_name(group)
            .send()
            .await
            .expect("create group");
    }
    let username = uuid::Uuid::new_v4().to_string();
    client
        .admin_create_user()
        .user_pool_id(&pool)
        .username(&username)
        .send()
        .await
        .expect("create user");
    (pool, username)
}

async fn groups_of(client: &Client, pool: &str, username: &str) -> Vec<String> {
    client
        .admin_list_groups_for_user()
        .user_pool_id(pool)
        .username(username)
        .send()
        .await
        .expect("list groups")
        .groups()
        .iter()
        .filter_map(|group| group.group_name().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn a_confirmed_user_joins_attendee_once_however_often_the_trigger_runs() {
    let client = cognito_client().await;
    let (pool, username) = pool_with_user(&client).await;
    let directory = CognitoUserDirectory::new(client.clone(), &pool);
    assert_eq!(directory.user_pool_id(), pool);

    on_user_confirmed(&directory, &username).await.unwrap();
    assert_eq!(groups_of(&client, &pool, &username).await, ["attendee"]);

    on_user_confirmed(&directory, &username).await.unwrap();
    assert_eq!(groups_of(&client, &pool, &username).await, ["attendee"]);
}

#[tokio::test]
async fn an_unknown_user_is_unknown_user() {
    let client = cognito_client().await;
    let (pool, _) = pool_with_user(&client).await;
    let directory = CognitoUserDirectory::new(client, &pool);
    assert_eq!(
        directory
            .add_to_group("nobody-by-this-name", "attendee")
            .await,
        Err(DirectoryError::UnknownUser("nobody-by-this-name".into()))
    );
}

#[tokio::test]
async fn an_unknown_group_or_pool_is_unknown_group() {
    let client = cognito_client().await;
    let (pool, username) = pool_with_user(&client).await;
    let directory = CognitoUserDirectory::new(client.clone(), &pool);
    assert_eq!(
        directory.add_to_group(&username, "admins").await,
        Err(DirectoryError::UnknownGroup(format!(
            "admins in user pool {pool}"
        )))
    );

    let missing_pool = "us-east-1_NoSuchPool";
    let directory = CognitoUserDirectory::new(client, missing_pool);
    assert_eq!(
        directory.add_to_group(&username, "attendee").await,
        Err(DirectoryError::UnknownGroup(format!(
            "attendee in user pool {missing_pool}"
        )))
    );
}

#[tokio::test]
async fn an_unreachable_service_is_unavailable() {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url("http://127.0.0.1:9")
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_cognitoidentityprovider::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .load()
        .await;
    let directory = CognitoUserDirectory::new(Client::new(&config), "us-east-1_Pool");
    let error = directory
        .add_to_group("someone", "attendee")
        .await
        .expect_err("nothing listens on port 9");
    assert!(
        matches!(error, DirectoryError::Unavailable(ref text) if text == "AdminAddUserToGroup: could not reach the service"),
        "{error:?}"
    );
}
