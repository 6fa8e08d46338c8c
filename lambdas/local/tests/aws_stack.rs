//! The emulated AWS stack's seams, each against the real other side: ticketd's Step Functions
//! and Cognito APIs answer the AWS SDK adapters the Lambdas use (`StepFunctionsWorkflow`,
//! `CognitoUserDirectory`), and only when signed with the functions' key; the Invoke API client
//! reads a function's answer, a function error in both of Lambda's shapes and a function that
//! cannot be invoked, as Step Functions and API Gateway would; a functions file that leaves a
//! route or a step unwired is refused. (The whole stack — every bootstrap under cargo-lambda's
//! runtime on moto — runs the browser journey: `TICKETD_STACK=aws`, in the test command.)

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;

use asl::{ExecutorOptions, TaskFunction};
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_sfn::config::Credentials;
use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use cognito_local::{Idp, IdpConfig};
use serde_json::{Value, json};
use ticket_cloud::{CognitoUserDirectory, StepFunctionsWorkflow};
use ticket_core::cancellation::CancellationStep;
use ticket_core::identity::{DirectoryError, Group, UserDirectory};
use ticket_core::registration::Step;
use ticket_core::{OrderStatus, Started, Store, SystemClock, Workflow, WorkflowError, api};
use ticketd::aws_api::{self, AwsApis, COGNITO_PATH, STATES_PATH};
use ticketd::lambda::{FunctionsFile, InvokeError, LambdaFunctions};
use ticketd::{cancellation, registration};

use support::Adapters;

const KEY_ID: &str = "AKIAFUNCTIONSKEY0001";
const MACHINE: &str = "arn:aws:states:us-east-1:000000000000:stateMachine:Registration";
const CANCELLATIONS: &str = "arn:aws:states:us-east-1:000000000000:stateMachine:Cancellation";
const POOL: &str = "us-east-1_emulated";

/// A functions file wiring every route, step, trigger and schedule to `url`.
fn functions_file(url: &str) -> FunctionsFile {
    FunctionsFile {
        routes: api::ROUTES
            .iter()
            .map(|route| (route.key(), url.to_owned()))
            .collect(),
        substitutions: Step::ALL
            .iter()
            .map(|step| (step.substitution().to_owned(), url.to_owned()))
            .collect(),
        cancellation_substitutions: CancellationStep::ALL
            .iter()
            .map(|step| (step.substitution().to_owned(), url.to_owned()))
            .collect(),
        post_confirmation: url.to_owned(),
        reconcile: url.to_owned(),
        state_machine_arn: MACHINE.to_owned(),
        cancellation_state_machine_arn: CANCELLATIONS.to_owned(),
        user_pool_id: POOL.to_owned(),
        access_key_id: KEY_ID.to_owned(),
    }
}

/// ticketd's AWS APIs on a free port, over an executor running the saga in process.
struct Apis {
    url: String,
    idp: Idp,
    adapters: Adapters,
    cancellations: Arc<asl::Executor>,
}

async fn serve_apis() -> Apis {
    let adapters = Adapters::new(Arc::new(SystemClock));
    let data_dir = adapters.dir.path();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let executor = registration::open_executor(
        &data_dir.join("executions.sqlite3"),
        registration::bindings(Arc::new(adapters.steps(adapters.store.clone())), |_, f| f),
        ExecutorOptions::default(),
    )
    .await
    .unwrap();
    let cancellations = cancellation::open_executor(
        &data_dir.join("cancellations.sqlite3"),
        cancellation::bindings(Arc::new(adapters.cancellation_steps()), |_, f| f),
        ExecutorOptions::default(),
    )
    .await
    .unwrap();
    let idp = Idp::open(data_dir, IdpConfig::local(&url), Arc::new(SystemClock)).unwrap();
    let functions = LambdaFunctions::new(functions_file("http://127.0.0.1:9/unused")).unwrap();
    let apis = AwsApis {
        functions: Arc::new(functions),
        executor,
        cancellations: cancellations.clone(),
        idp: idp.clone(),
    };
    tokio::spawn(async move { axum::serve(listener, aws_api::routes(apis)).await });
    Apis {
        url,
        idp,
        adapters,
        cancellations,
    }
}

/// The SDK configuration a function has in the emulated stack: the service's endpoint on
/// ticketd, signed with `key_id`.
async fn sdk_config(endpoint: String, key_id: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(key_id, "secret", None, None, "test"))
        .load()
        .await
}

async fn workflow(apis: &Apis, key_id: &str) -> StepFunctionsWorkflow {
    let config = sdk_config(format!("{}{STATES_PATH}", apis.url), key_id).await;
    StepFunctionsWorkflow::new(aws_sdk_sfn::Client::new(&config), MACHINE)
}

#[tokio::test]
async fn the_step_functions_adapter_starts_one_execution_per_order_through_ticketd() {
    let apis = serve_apis().await;
    let workflow = workflow(&apis, KEY_ID).await;
    let event = apis.adapters.event(3, 0).await;
    let request = apis.adapters.request(&event, "buyer-1").await;

    assert_eq!(
        workflow.start_registration(&request).await,
        Ok(Started::New)
    );
    // Redelivered at once: the same execution, whether it still runs or has ended.
    let again = workflow.start_registration(&request).await.unwrap();
    assert!(
        matches!(again, Started::New | Started::Existing),
        "{again:?}"
    );
    // The same order with another input is refused, as Step Functions does.
    let mut other = request.clone();
    other.amount_minor += 1;
    assert!(matches!(
        workflow.start_registration(&other).await,
        Err(WorkflowError::AlreadyExists(_))
    ));

    // Once it has ended, StartExecution answers ExecutionAlreadyExists and the adapter reads
    // the execution through DescribeExecution to see it is the same one.
    let mut ended = false;
    for _ in 0..200 {
        let order = apis
            .adapters
            .store
            .get_order(&request.order_id)
            .await
            .unwrap();
        if order.is_some_and(|order| order.status == OrderStatus::Fulfilled) {
            ended = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert!(ended, "the execution registered the order");
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(
        workflow.start_registration(&request).await,
        Ok(Started::Existing)
    );
}

#[tokio::test]
async fn ticketds_aws_apis_answer_only_the_functions_key_and_a_known_state_machine() {
    let apis = serve_apis().await;
    let event = apis.adapters.event(3, 0).await;
    let request = apis.adapters.request(&event, "buyer-1").await;

    let stranger = workflow(&apis, "AKIASOMEONEELSE00001").await;
    let refused = stranger.start_registration(&request).await;
    assert!(
        matches!(refused, Err(WorkflowError::Rejected(ref why)) if why.contains("UnrecognizedClientException")),
        "{refused:?}"
    );

    let config = sdk_config(format!("{}{STATES_PATH}", apis.url), KEY_ID).await;
    let elsewhere = StepFunctionsWorkflow::new(
        aws_sdk_sfn::Client::new(&config),
        "arn:aws:states:us-east-1:000000000000:stateMachine:Other",
    );
    let refused = elsewhere.start_registration(&request).await;
    assert!(
        matches!(refused, Err(WorkflowError::Rejected(ref why)) if why.contains("StateMachineDoesNotExist")),
        "{refused:?}"
    );
    assert_eq!(
        apis.adapters
            .store
            .get_order(&request.order_id)
            .await
            .unwrap(),
        None,
        "nothing ran"
    );

    // Unsigned, and an operation that is not served: 400s naming the problem.
    let http = reqwest::Client::new();
    let unsigned = http
        .post(format!("{}{STATES_PATH}", apis.url))
        .header("x-amz-target", "AWSStepFunctions.StartExecution")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), StatusCode::BAD_REQUEST);
    let body: Value = unsigned.json().await.unwrap();
    assert_eq!(body["__type"], "UnrecognizedClientException");
}

#[tokio::test]
async fn the_cognito_adapter_adds_a_user_of_ticketds_identity_provider_to_a_group() {
    let apis = serve_apis().await;
    let user = apis
        .idp
        .users()
        .create(
            cognito_local::users::NewUser::validate("new@example.com", "New", "A-long-pass-1!")
                .unwrap(),
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    let config = sdk_config(format!("{}{COGNITO_PATH}", apis.url), KEY_ID).await;
    let client = aws_sdk_cognitoidentityprovider::Client::new(&config);
    let directory = CognitoUserDirectory::new(client.clone(), POOL);

    directory
        .add_to_group(&user.sub, Group::Attendee.name())
        .await
        .unwrap();
    let member = apis.idp.users().get(&user.sub).await.unwrap().unwrap();
    assert_eq!(member.group_names(), vec!["attendee".to_owned()]);

    assert!(matches!(
        directory
            .add_to_group("nobody", Group::Attendee.name())
            .await,
        Err(DirectoryError::UnknownUser(_))
    ));
    let elsewhere = CognitoUserDirectory::new(client, "us-east-1_other");
    assert!(
        elsewhere
            .add_to_group(&user.sub, Group::Organizer.name())
            .await
            .is_err()
    );
    let member = apis.idp.users().get(&user.sub).await.unwrap().unwrap();
    assert_eq!(
        member.group_names(),
        vec!["attendee".to_owned()],
        "unchanged"
    );
}

/// An Invoke API answering as `answer` does, and its URL.
async fn invoke_api(answer: fn(Value) -> (StatusCode, HeaderMap, String)) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/2015-03-31/functions/_/invocations",
        listener.local_addr().unwrap()
    );
    let app = Router::new().route(
        "/2015-03-31/functions/_/invocations",
        post(move |axum::Json(event): axum::Json<Value>| async move { answer(event) }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

fn function_at(url: &str) -> ticketd::lambda::LambdaFunction {
    LambdaFunctions::new(functions_file(url))
        .unwrap()
        .reconcile
        .clone()
}

#[tokio::test]
async fn an_invocation_reads_the_answer_and_both_shapes_of_a_function_error() {
    let echo = invoke_api(|event| (StatusCode::OK, HeaderMap::new(), event.to_string())).await;
    let function = function_at(&echo);
    assert_eq!(function.invoke(&json!({"a": 1})).await, Ok(json!({"a": 1})));

    let error = r#"{"errorType":"Ticketing.SeatUnavailable","errorMessage":"sold out"}"#;
    // Lambda: 200 with X-Amz-Function-Error.
    let lambda = invoke_api(|_| {
        let mut headers = HeaderMap::new();
        headers.insert("x-amz-function-error", "Unhandled".parse().unwrap());
        let body = r#"{"errorType":"Ticketing.SeatUnavailable","errorMessage":"sold out"}"#;
        (StatusCode::OK, headers, body.to_owned())
    })
    .await;
    // cargo-lambda's emulator: 500 with the same object.
    let emulator = invoke_api(|_| {
        let body = r#"{"errorType":"Ticketing.SeatUnavailable","errorMessage":"sold out"}"#;
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            HeaderMap::new(),
            body.to_owned(),
        )
    })
    .await;
    for url in [lambda, emulator] {
        let expected = InvokeError::Function {
            error_type: "Ticketing.SeatUnavailable".into(),
            payload: error.into(),
        };
        assert_eq!(function_at(&url).invoke(&json!({})).await, Err(expected));
        // Step Functions sees the error type as the state's error, the object as its cause.
        let failure = TaskFunction::invoke(&function_at(&url), json!({}))
            .await
            .unwrap_err();
        assert_eq!(
            (failure.error.as_str(), failure.cause.as_str()),
            ("Ticketing.SeatUnavailable", error)
        );
    }

    // A gateway error without an error object, and nobody listening: Lambda's service error,
    // which the state machine retries.
    let broken = invoke_api(|_| (StatusCode::BAD_GATEWAY, HeaderMap::new(), String::new())).await;
    let gone = "http://127.0.0.1:9/2015-03-31/functions/_/invocations";
    for url in [broken.as_str(), gone] {
        let function = function_at(url);
        assert!(matches!(
            function.invoke(&json!({})).await,
            Err(InvokeError::Service(_))
        ));
        let failure = TaskFunction::invoke(&function, json!({}))
            .await
            .unwrap_err();
        assert_eq!(failure.error, "Lambda.ServiceException");
    }
}

#[test]
fn a_functions_file_must_wire_every_route_and_every_step() {
    let mut file = functions_file("http://127.0.0.1:9/");
    file.routes.remove("POST /events/{id}/checkout");
    file.substitutions.remove("RefundPaymentFunctionArn");
    let Err(why) = LambdaFunctions::new(file) else {
        panic!("a file with a route and a step unwired was taken");
    };
    assert!(why.contains("POST /events/{id}/checkout"), "{why}");
    assert!(why.contains("RefundPaymentFunctionArn"), "{why}");
    let empty: BTreeMap<String, String> = BTreeMap::new();
    let file = FunctionsFile {
        routes: empty.clone(),
        substitutions: empty,
        ..functions_file("http://127.0.0.1:9/")
    };
    assert!(LambdaFunctions::new(file).is_err());
}

#[tokio::test]
async fn the_step_functions_adapter_starts_one_cancellation_per_event_on_its_own_machine() {
    let apis = serve_apis().await;
    let config = sdk_config(format!("{}{STATES_PATH}", apis.url), KEY_ID).await;
    let client = aws_sdk_sfn::Client::new(&config);
    let event = apis.adapters.event(3, 0).await;
    apis.adapters
        .store
        .cancel_event(event.id, chrono::Utc::now())
        .await
        .unwrap();

    // A function given only the registration machine cannot start cancellations.
    let registrations = StepFunctionsWorkflow::new(client.clone(), MACHINE);
    assert!(matches!(
        registrations.start_cancellation(event.id).await,
        Err(WorkflowError::Internal(_))
    ));
    let cancellations = StepFunctionsWorkflow::cancellations(client, CANCELLATIONS);
    assert_eq!(
        cancellations.start_cancellation(event.id).await,
        Ok(Started::New)
    );
    let name = ticket_core::workflow::cancellation_execution_name(event.id);
    let run = apis.cancellations.wait(&name).await.unwrap();
    assert_eq!(run.status, asl::ExecutionStatus::Succeeded, "{run:?}");
    // Asked again once it ended: the same execution, nothing new runs.
    assert_eq!(
        cancellations.start_cancellation(event.id).await,
        Ok(Started::Existing)
    );
    let view = apis
        .adapters
        .store
        .get_event(event.id)
        .await
        .unwrap()
        .unwrap();
    assert!(view.cancellation.unwrap().finished_at.is_some());
}
