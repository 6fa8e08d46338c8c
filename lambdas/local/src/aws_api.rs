//! The two AWS APIs the emulated stack's functions call that moto cannot play for ticketd:
//! Step Functions' StartExecution and DescribeExecution (the executions run on ticketd's
//! executor) and Cognito's AdminAddUserToGroup (the users live in ticketd's identity provider,
//! whose hosted UI moto does not have). The functions reach them through the SDK's
//! service-specific endpoints (`AWS_ENDPOINT_URL_SFN`, `AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER`),
//! in the AWS JSON protocol, as they would reach AWS.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use ticket_core::identity::Group;

use crate::lambda::LambdaFunctions;
use asl::{ExecutionStatus, Executor, StartError, StartOutcome};
use cognito_local::{Idp, UserError};

/// Where the Step Functions API is served.
pub const STATES_PATH: &str = "/aws/states";
/// Where the Cognito user pool API is served.
pub const COGNITO_PATH: &str = "/aws/cognito-idp";

#[derive(Clone)]
pub struct AwsApis {
    pub functions: Arc<LambdaFunctions>,
    /// The registration executor.
    pub executor: Arc<Executor>,
    /// The cancellation executor.
    pub cancellations: Arc<Executor>,
    pub idp: Idp,
}

impl AwsApis {
    /// The state machines by ARN, each with the executor that runs it.
    fn machines(&self) -> [(&str, &Arc<Executor>); 2] {
        [
            (&self.functions.state_machine_arn, &self.executor),
            (
                &self.functions.cancellation_state_machine_arn,
                &self.cancellations,
            ),
        ]
    }

    fn machine(&self, arn: &str) -> Option<&Arc<Executor>> {
        self.machines()
            .into_iter()
            .find_map(|(machine, executor)| (machine == arn).then_some(executor))
    }
}

pub fn routes(apis: AwsApis) -> Router {
    Router::new()
        .route(STATES_PATH, post(states))
        .route(&format!("{STATES_PATH}/"), post(states))
        .route(COGNITO_PATH, post(cognito))
        .route(&format!("{COGNITO_PATH}/"), post(cognito))
        .with_state(apis)
}

/// An AWS JSON protocol error: `{"__type", "message"}`, which the SDK reads as the error code.
fn aws_error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let body = json!({ "__type": code, "message": message.into() });
    (status, Json(body)).into_response()
}

fn bad_request(code: &str, message: impl Into<String>) -> Response {
    aws_error(StatusCode::BAD_REQUEST, code, message)
}

/// Only the functions' own credentials are answered: the access key id of the SigV4
/// `Authorization` header (the signature itself is not checked, as moto does not).
fn signed_by_functions(headers: &HeaderMap, apis: &AwsApis) -> bool {
    let expected = format!("Credential={}/", apis.functions.access_key_id);
    headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("AWS4-HMAC-SHA256 ") && value.contains(&expected))
}

/// The operation named by `X-Amz-Target: <service>.<operation>`.
fn operation<'h>(headers: &'h HeaderMap, service: &str) -> Option<&'h str> {
    let target = headers.get("x-amz-target")?.to_str().ok()?;
    target.strip_prefix(service)?.strip_prefix('.')
}

/// The request's JSON body as `T`, or why not (the SDK's ValidationException).
fn parse<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, String> {
    serde_json::from_slice(body).map_err(|error| error.to_string())
}

async fn states(State(apis): State<AwsApis>, headers: HeaderMap, body: Bytes) -> Response {
    if !signed_by_functions(&headers, &apis) {
        return bad_request(
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        );
    }
    match operation(&headers, "AWSStepFunctions") {
        Some("StartExecution") => match parse(&body) {
            Ok(request) => start_execution(&apis, request).await,
            Err(why) => bad_request("ValidationException", why),
        },
        Some("DescribeExecution") => match parse(&body) {
            Ok(request) => describe_execution(&apis, request).await,
            Err(why) => bad_request("ValidationException", why),
        },
        _ => bad_request(
            "UnknownOperationException",
            "only StartExecution and DescribeExecution are served here",
        ),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StartExecution {
    state_machine_arn: String,
    name: Option<String>,
    input: Option<String>,
}

async fn start_execution(apis: &AwsApis, request: StartExecution) -> Response {
    let Some(executor) = apis.machine(&request.state_machine_arn) else {
        return bad_request(
            "StateMachineDoesNotExist",
            format!(
                "State Machine Does Not Exist: '{}'",
                request.state_machine_arn
            ),
        );
    };
    let name = request
        .name
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let input: Value = match serde_json::from_str(request.input.as_deref().unwrap_or("{}")) {
        Ok(input) => input,
        Err(error) => return bad_request("InvalidExecutionInput", error.to_string()),
    };
    let arn = execution_arn(&request.state_machine_arn, &name);
    match executor.start(&name, input).await {
        // Standard workflows: the same name and input while it runs is the same execution.
        Ok(StartOutcome::Started { .. })
        | Ok(StartOutcome::Existing {
            status: ExecutionStatus::Running,
            ..
        }) => Json(json!({ "executionArn": arn, "startDate": now_seconds() })).into_response(),
        Ok(StartOutcome::Existing { .. }) | Err(StartError::AlreadyExists(_)) => bad_request(
            "ExecutionAlreadyExists",
            format!("Execution Already Exists: '{arn}'"),
        ),
        Err(StartError::InvalidName(name)) => {
            bad_request("InvalidName", format!("Invalid Name: '{name}'"))
        }
        Err(StartError::InvalidInput(why)) => bad_request("InvalidExecutionInput", why),
        Err(error) => aws_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            error.to_string(),
        ),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DescribeExecution {
    execution_arn: String,
}

async fn describe_execution(apis: &AwsApis, request: DescribeExecution) -> Response {
    let missing = || {
        bad_request(
            "ExecutionDoesNotExist",
            format!("Execution Does Not Exist: '{}'", request.execution_arn),
        )
    };
    let found = apis.machines().into_iter().find_map(|(machine, executor)| {
        request
            .execution_arn
            .strip_prefix(&execution_arn(machine, ""))
            .map(|name| (machine, executor, name))
    });
    let Some((machine, executor, name)) = found else {
        return missing();
    };
    match executor.describe(name).await {
        Ok(Some(execution)) => {
            let mut body = json!({
                "executionArn": request.execution_arn,
                "stateMachineArn": machine,
                "name": name,
                "status": execution.status.as_str(),
                "startDate": seconds(execution.start_date),
                "input": execution.input.to_string(),
            });
            if let Some(stopped) = execution.stop_date {
                body["stopDate"] = json!(seconds(stopped));
            }
            if let Some(output) = execution.output {
                body["output"] = json!(output.to_string());
            }
            Json(body).into_response()
        }
        Ok(None) => missing(),
        Err(error) => aws_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            error.to_string(),
        ),
    }
}

/// An execution's ARN under the state machine's, as Step Functions names it.
fn execution_arn(state_machine_arn: &str, name: &str) -> String {
    format!(
        "{}:{name}",
        state_machine_arn.replacen(":stateMachine:", ":execution:", 1)
    )
}

fn seconds(at: chrono::DateTime<chrono::Utc>) -> f64 {
    at.timestamp_millis() as f64 / 1000.0
}

fn now_seconds() -> f64 {
    seconds(chrono::Utc::now())
}

async fn cognito(State(apis): State<AwsApis>, headers: HeaderMap, body: Bytes) -> Response {
    if !signed_by_functions(&headers, &apis) {
        return bad_request(
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        );
    }
    match operation(&headers, "AWSCognitoIdentityProviderService") {
        Some("AdminAddUserToGroup") => match parse(&body) {
            Ok(request) => add_user_to_group(&apis, request).await,
            Err(why) => bad_request("ValidationException", why),
        },
        _ => bad_request(
            "UnknownOperationException",
            "only AdminAddUserToGroup is served here",
        ),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AdminAddUserToGroup {
    user_pool_id: String,
    username: String,
    group_name: String,
}

async fn add_user_to_group(apis: &AwsApis, request: AdminAddUserToGroup) -> Response {
    if request.user_pool_id != apis.functions.user_pool_id {
        return bad_request(
            "ResourceNotFoundException",
            format!("User pool {} does not exist.", request.user_pool_id),
        );
    }
    let Ok(group) = request.group_name.parse::<Group>() else {
        return bad_request("ResourceNotFoundException", "Group not found.");
    };
    match apis
        .idp
        .users()
        .add_to_group(&request.username, group)
        .await
    {
        Ok(()) => Json(json!({})).into_response(),
        Err(UserError::NotFound) => bad_request("UserNotFoundException", "User does not exist."),
        Err(error) => aws_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalErrorException",
            error.to_string(),
        ),
    }
}
