//! The Step Functions workflow adapter against moto's Step Functions: the registration state
//! machine is created from `statemachines/registration.asl.json`, and starting a registration
//! twice never runs it twice.

use ticket_testkit::moto;

use aws_sdk_sfn::Client;
use serde_json::Value;
use ticket_cloud::StepFunctionsWorkflow;
use ticket_core::registration::RegistrationRequest;
use ticket_core::workflow::execution_name;
use ticket_core::{Attendee, Currency, Started, Workflow, WorkflowError};

async fn sfn_client() -> Client {
    Client::new(&moto::sdk_config().await)
}

/// The definition with every `${...FunctionArn}` replaced, as the CDK app's
/// DefinitionSubstitutions do.
fn substituted_definition() -> String {
    let path = format!("{}/statemachines/registration.asl.json", moto::REPO);
    let mut text = std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"));
    while let Some(start) = text.find("${") {
        let end = start + text[start..].find('}').expect("closing brace");
        let name = &text[start + 2..end];
        let arn = format!("arn:aws:lambda:us-east-1:123456789012:function:{name}");
        text.replace_range(start..=end, &arn);
    }
    text
}

async fn workflow(client: &Client) -> StepFunctionsWorkflow {
    let created = client
        .create_state_machine()
        .name(format!("registration-{}", uuid::Uuid::new_v4().simple()))
        .definition(substituted_definition())
        .role_arn("arn:aws:iam::123456789012:role/registration")
        .send()
        .await
        .expect("create state machine");
    StepFunctionsWorkflow::new(client.clone(), created.state_machine_arn())
}

fn request(order: &str) -> RegistrationRequest {
    RegistrationRequest {
        order_id: order.into(),
        event_id: uuid::Uuid::now_v7().into(),
        hold_id: uuid::Uuid::now_v7().into(),
        ticket_type_id: Some(uuid::Uuid::now_v7().into()),
        tickets: Vec::new(),
        user_id: "user-1".into(),
        payment_intent_id: Some("pi_123".into()),
        amount_minor: 2500,
        currency: "EUR".parse::<Currency>().unwrap(),
        attendee: Attendee {
            name: "Ada Lovelace".into(),
            email: "ada@example.com".into(),
        },
    }
}

#[tokio::test]
async fn a_registration_starts_one_execution_named_by_its_order_with_the_request_as_input() {
    let client = sfn_client().await;
    let workflow = workflow(&client).await;
    let request = request("cs_test_start");

    assert_eq!(
        workflow.start_registration(&request).await,
        Ok(Started::New)
    );

    let executions = client
        .list_executions()
        .state_machine_arn(workflow.state_machine_arn())
        .send()
        .await
        .expect("list executions");
    let names: Vec<&str> = executions.executions().iter().map(|e| e.name()).collect();
    assert_eq!(names, ["cs_test_start"]);
    let described = client
        .describe_execution()
        .execution_arn(executions.executions()[0].execution_arn())
        .send()
        .await
        .expect("describe");
    let input: Value = serde_json::from_str(described.input().unwrap()).unwrap();
    assert_eq!(input, serde_json::to_value(&request).unwrap());
    assert_eq!(input["orderId"], "cs_test_start");
}

#[tokio::test]
async fn the_same_request_again_is_existing_even_after_the_execution_finished() {
    let client = sfn_client().await;
    let workflow = workflow(&client).await;
    let request = request("cs_test_again");
    assert_eq!(
        workflow.start_registration(&request).await,
        Ok(Started::New)
    );

    // Step Functions answers ExecutionAlreadyExists for a finished execution's name.
    let arn = client
        .list_executions()
        .state_machine_arn(workflow.state_machine_arn())
        .send()
        .await
        .unwrap()
        .executions()[0]
        .execution_arn()
        .to_owned();
    client
        .stop_execution()
        .execution_arn(&arn)
        .send()
        .await
        .expect("stop");

    assert_eq!(
        workflow.start_registration(&request).await,
        Ok(Started::Existing)
    );
}

#[tokio::test]
async fn an_order_id_too_long_for_an_execution_name_starts_one_execution_under_its_hash() {
    let client = sfn_client().await;
    let workflow = workflow(&client).await;
    // Step Functions takes names of at most 80 characters; the store takes longer order ids.
    let request = request(&format!("cs_live_{}", "a".repeat(150)));
    assert_eq!(
        workflow.start_registration(&request).await,
        Ok(Started::New)
    );
    let executions = client
        .list_executions()
        .state_machine_arn(workflow.state_machine_arn())
        .send()
        .await
        .expect("list executions");
    let names: Vec<&str> = executions.executions().iter().map(|e| e.name()).collect();
    assert_eq!(names, [execution_name(&request.order_id)]);
    assert!(names[0].len() <= 80 && names[0].starts_with("sha256-"));
    // Once it has finished, the same order again finds it under the same hashed name.
    client
        .stop_execution()
        .execution_arn(executions.executions()[0].execution_arn())
        .send()
        .await
        .expect("stop");
    assert_eq!(
        workflow.start_registration(&request).await,
        Ok(Started::Existing)
    );
}

#[tokio::test]
async fn the_same_name_with_other_input_is_refused() {
    let client = sfn_client().await;
    let workflow = workflow(&client).await;
    let first = request("cs_test_clash");
    let mut other = request("cs_test_clash");
    other.amount_minor = 1;
    assert_eq!(workflow.start_registration(&first).await, Ok(Started::New));

    assert_eq!(
        workflow.start_registration(&other).await,
        Err(WorkflowError::AlreadyExists("cs_test_clash".into()))
    );
}

#[tokio::test]
async fn an_unreachable_service_is_transient() {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url("http://127.0.0.1:9")
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_sfn::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .load()
        .await;
    let workflow = StepFunctionsWorkflow::new(
        Client::new(&config),
        "arn:aws:states:us-east-1:123456789012:stateMachine:registration",
    );

    let error = workflow
        .start_registration(&request("cs_test_down"))
        .await
        .expect_err("nothing listens on port 9");
    assert!(error.is_transient(), "{error}");
}
