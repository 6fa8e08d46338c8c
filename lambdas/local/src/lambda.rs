//! The emulated AWS stack's Lambda functions (`ticketd serve --lambda-functions FILE`): the API's
//! routes, the saga's steps, the post-confirmation trigger and the reconciliation pass run as
//! the Lambda bootstraps themselves, each under a Lambda Runtime API emulator, and ticketd calls
//! them the way API Gateway, Step Functions, Cognito and EventBridge do: through the Lambda
//! Invoke API, with events in AWS's shapes.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Value, json};
use ticket_core::api;
use ticket_core::cancellation::CancellationStep;
use ticket_core::registration::Step;

use asl::{Bindings, TaskFailure, TaskFunction};
use cognito_local::{Idp, PostConfirmation, User};

/// The functions file: the template's wiring, as the emulated stack's launcher
/// (`scripts/aws-stack`) resolved it to each function's Invoke API URL
/// (`.../2015-03-31/functions/<name>/invocations`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FunctionsFile {
    /// The HTTP API's routes: route key (`GET /events/{id}`) → its integration's function.
    pub routes: BTreeMap<String, String>,
    /// The state machine's `DefinitionSubstitutions`: `ConfirmSeatFunctionArn` → function.
    pub substitutions: BTreeMap<String, String>,
    /// The cancellation state machine's: `ListSoldOrdersFunctionArn` → function.
    pub cancellation_substitutions: BTreeMap<String, String>,
    /// The user pool's post-confirmation trigger.
    pub post_confirmation: String,
    /// The function the reconciliation schedule invokes.
    pub reconcile: String,
    /// The state machine the functions start executions of (their `STATE_MACHINE_ARN`).
    pub state_machine_arn: String,
    /// The cancellation state machine (their `CANCELLATION_STATE_MACHINE_ARN`).
    pub cancellation_state_machine_arn: String,
    /// The user pool named in the trigger's events.
    pub user_pool_id: String,
    /// The access key id the functions sign their AWS calls with: ticketd's AWS APIs answer
    /// only requests signed with it, so nothing else on the machine starts executions.
    pub access_key_id: String,
}

/// The stack's functions, wired as the template wires them.
pub struct LambdaFunctions {
    routes: BTreeMap<String, LambdaFunction>,
    substitutions: BTreeMap<String, LambdaFunction>,
    cancellation_substitutions: BTreeMap<String, LambdaFunction>,
    pub post_confirmation: LambdaFunction,
    pub reconcile: LambdaFunction,
    pub state_machine_arn: String,
    pub cancellation_state_machine_arn: String,
    pub user_pool_id: String,
    pub access_key_id: String,
}

impl LambdaFunctions {
    /// Reads the functions file, which must wire every route and every step.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
        let file: FunctionsFile = serde_json::from_str(&text)
            .map_err(|error| format!("{} is not a functions file: {error}", path.display()))?;
        Self::new(file)
    }

    pub fn new(file: FunctionsFile) -> Result<Self, String> {
        let unwired: Vec<String> = api::ROUTES
            .iter()
            .map(api::Route::key)
            .filter(|key| !file.routes.contains_key(key))
            .chain(
                Step::ALL
                    .iter()
                    .map(|step| step.substitution().to_owned())
                    .filter(|name| !file.substitutions.contains_key(name)),
            )
            .chain(
                CancellationStep::ALL
                    .iter()
                    .map(|step| step.substitution().to_owned())
                    .filter(|name| !file.cancellation_substitutions.contains_key(name)),
            )
            .collect();
        if !unwired.is_empty() {
            return Err(format!(
                "the functions file wires no function to {}",
                unwired.join(", ")
            ));
        }
        // One client for all: invocations wait as long as the longest function may run.
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|error| format!("cannot build the HTTP client: {error}"))?;
        let function = |role: &str, url: String| LambdaFunction {
            role: role.to_owned(),
            url,
            http: http.clone(),
        };
        let functions = |map: BTreeMap<String, String>| {
            map.into_iter()
                .map(|(key, url)| (key.clone(), function(&key, url)))
                .collect()
        };
        Ok(Self {
            routes: functions(file.routes),
            substitutions: functions(file.substitutions),
            cancellation_substitutions: functions(file.cancellation_substitutions),
            post_confirmation: function("PostConfirmation", file.post_confirmation),
            reconcile: function("ReconcileSchedule", file.reconcile),
            state_machine_arn: file.state_machine_arn,
            cancellation_state_machine_arn: file.cancellation_state_machine_arn,
            user_pool_id: file.user_pool_id,
            access_key_id: file.access_key_id,
        })
    }

    /// The function of a route; [`Self::new`] made sure every route has one.
    pub fn route(&self, route: &api::Route) -> &LambdaFunction {
        &self.routes[&route.key()]
    }

    /// Every `${...FunctionArn}` of the registration definition bound to its function.
    pub fn step_bindings(&self) -> Bindings {
        bind_all(&self.substitutions)
    }

    /// Every `${...FunctionArn}` of the cancellation definition bound to its function.
    pub fn cancellation_bindings(&self) -> Bindings {
        bind_all(&self.cancellation_substitutions)
    }
}

fn bind_all(functions: &BTreeMap<String, LambdaFunction>) -> Bindings {
    functions
        .iter()
        .fold(Bindings::new(), |bindings, (name, function)| {
            bindings.bind(name, Arc::new(function.clone()))
        })
}

/// One function behind the Invoke API.
#[derive(Clone)]
pub struct LambdaFunction {
    /// What it is wired as (`GET /events`, `ConfirmSeatFunctionArn`, ...), for the logs.
    role: String,
    url: String,
    http: reqwest::Client,
}

/// Why an invocation gave no result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvokeError {
    /// The function ran and failed: its error object (`{"errorType", "errorMessage"}`), as
    /// text, and its `errorType`.
    #[error("{error_type}: {payload}")]
    Function { error_type: String, payload: String },
    /// The function could not be invoked (Lambda's service errors).
    #[error("{0}")]
    Service(String),
}

impl LambdaFunction {
    /// Invokes the function synchronously with `event` and returns its answer.
    ///
    /// Lambda answers a function error with 200 and `X-Amz-Function-Error`; cargo-lambda's
    /// emulator with 500 and the same error object. Both are a function error here.
    pub async fn invoke(&self, event: &Value) -> Result<Value, InvokeError> {
        let service = |what: String| InvokeError::Service(format!("{}: {what}", self.role));
        let began = std::time::Instant::now();
        let response = self
            .http
            .post(&self.url)
            .json(event)
            .send()
            .await
            .map_err(|error| service(format!("invoke failed: {error}")))?;
        let status = response.status();
        let function_error = response.headers().contains_key("x-amz-function-error");
        let body = response
            .bytes()
            .await
            .map_err(|error| service(format!("unreadable answer: {error}")))?;
        // Like Lambda's REPORT line: what docs/cost.md's durations are measured from.
        tracing::info!(
            function = %self.role,
            millis = began.elapsed().as_secs_f64() * 1000.0,
            %status,
            "invoked"
        );
        let payload: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let error_type = payload.get("errorType").and_then(Value::as_str);
        match error_type {
            Some(error_type) if function_error || status.is_server_error() => {
                Err(InvokeError::Function {
                    error_type: error_type.to_owned(),
                    payload: String::from_utf8_lossy(&body).into_owned(),
                })
            }
            _ if status.is_success() && !function_error => Ok(payload),
            _ => Err(service(format!(
                "the Invoke API answered {status}: {}",
                String::from_utf8_lossy(&body)
            ))),
        }
    }
}

/// A step as Step Functions calls it through `lambda:invoke`: the function's error type is the
/// state's error, its error object the cause; a function that cannot be invoked is
/// `Lambda.ServiceException`, which the state machine retries.
#[async_trait]
impl TaskFunction for LambdaFunction {
    async fn invoke(&self, payload: Value) -> Result<Value, TaskFailure> {
        match LambdaFunction::invoke(self, &payload).await {
            Ok(output) => Ok(output),
            Err(InvokeError::Function {
                error_type,
                payload,
            }) => Err(TaskFailure::new(error_type, payload)),
            Err(InvokeError::Service(cause)) => {
                Err(TaskFailure::new("Lambda.ServiceException", cause))
            }
        }
    }
}

/// The post-confirmation Lambda as Cognito runs it: invoked with Cognito's event for the user
/// who confirmed; a function error fails the sign-up.
pub struct PostConfirmationFunction {
    pub function: LambdaFunction,
    pub user_pool_id: String,
}

#[async_trait]
impl PostConfirmation for PostConfirmationFunction {
    async fn user_confirmed(&self, idp: &Idp, user: &User) -> Result<(), String> {
        let event = post_confirmation_event(&self.user_pool_id, &idp.config().client.id, user);
        self.function
            .invoke(&event)
            .await
            .map(drop)
            .map_err(|error| error.to_string())
    }
}

/// Cognito's PostConfirmation_ConfirmSignUp event for `user`.
pub fn post_confirmation_event(user_pool_id: &str, client_id: &str, user: &User) -> Value {
    json!({
        "version": "1",
        "region": "us-east-1",
        "userPoolId": user_pool_id,
        "userName": user.sub,
        "callerContext": {
            "awsSdkVersion": "aws-sdk-unknown-unknown",
            "clientId": client_id,
        },
        "triggerSource": "PostConfirmation_ConfirmSignUp",
        "request": {
            "userAttributes": {
                "sub": user.sub,
                "email_verified": "true",
                "cognito:user_status": "CONFIRMED",
                "name": user.name,
                "email": user.email,
            },
        },
        "response": {},
    })
}

/// EventBridge's Scheduled Event, as the schedule rule invokes the reconcile function with it.
pub fn scheduled_event() -> Value {
    json!({
        "version": "0",
        "id": uuid::Uuid::new_v4().to_string(),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "000000000000",
        "time": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:000000000000:rule/ReconcileSchedule"],
        "detail": {},
    })
}
