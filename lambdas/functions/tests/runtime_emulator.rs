//! The bootstraps as AWS starts them: each binary runs as its own process against a Lambda
//! Runtime API (cargo-lambda's emulator, `cargo lambda watch --only-lambda-apis`, installed by
//! scripts/test), and is invoked through the Invoke API with events in AWS's shape, its AWS
//! services on moto. What runs is the whole `main`: environment, cold start, runtime loop.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use ticket_testkit::moto;
use ticket_testkit::recorded::{COGNITO_POST_CONFIRMATION, authorized, recorded_event};

/// A process killed when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The Runtime and Invoke APIs on a free port, and that port. One emulator serves one function
/// here (its default function `_`), so each test starts its own.
fn emulator() -> (Running, u16) {
    let port = free_port();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let child = Command::new("cargo-lambda")
        .args([
            "lambda",
            "watch",
            "--only-lambda-apis",
            "-P",
            &port.to_string(),
        ])
        .current_dir(repo)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("cargo-lambda (pip install cargo-lambda; scripts/test installs it)");
    let running = Running(child);
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_err() {
        assert!(
            Instant::now() < deadline,
            "the runtime emulator did not listen"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    (running, port)
}

/// The bootstrap `binary` started against the emulator on `port` with the environment `env`
/// (what the template would give it) and moto's endpoint for every AWS service.
fn function(binary: &str, port: u16, env: &[(&str, String)]) -> Running {
    let child = Command::new(binary)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env(
            "AWS_LAMBDA_RUNTIME_API",
            format!("http://127.0.0.1:{port}/.rt"),
        )
        .env("AWS_LAMBDA_FUNCTION_NAME", "_")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_ENDPOINT_URL", moto::moto_endpoint())
        .envs(env.iter().map(|(name, value)| (*name, value.as_str())))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the bootstrap");
    Running(child)
}

/// Invokes the function through the Invoke API: the HTTP status and the answer. A function
/// error comes back as the runtime's `{errorType, errorMessage}`.
async fn invoke(port: u16, event: &Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!(
            "http://127.0.0.1:{port}/2015-03-31/functions/_/invocations"
        ))
        .json(event)
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .expect("the invocation is answered");
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON answer"))
}

#[tokio::test]
async fn the_post_confirmation_bootstrap_answers_cognitos_event_under_the_runtime() {
    let (_emulator, port) = emulator();
    let _function = function(env!("CARGO_BIN_EXE_post-confirmation"), port, &[]);
    let mut event = recorded_event(COGNITO_POST_CONFIRMATION);
    // A password reset changes nothing, so no user pool is needed.
    event["triggerSource"] = json!("PostConfirmation_ConfirmForgotPassword");
    event["userPoolId"] = json!("us-east-1_example");
    event["userName"] = json!("u1");
    let (status, answer) = invoke(port, &event).await;
    assert_eq!(status, 200);
    assert_eq!(answer, event, "Cognito gets its event back");

    let (status, refused) = invoke(port, &json!({"triggerSource": 7})).await;
    assert_ne!(status, 200);
    assert_eq!(refused["errorType"], "PostConfirmation.UnreadableEvent");
}

#[tokio::test]
async fn a_route_bootstrap_reads_its_table_and_answers_api_gateways_event() {
    let client = moto::client().await;
    let table = moto::unique_table_name();
    moto::create_table(&client, &table).await;
    let (_emulator, port) = emulator();
    let _function = function(
        env!("CARGO_BIN_EXE_list-my-tickets"),
        port,
        &[("TABLE_NAME", table)],
    );
    let event = authorized("GET", "/me/tickets", "/me/tickets", "att-1", "[attendee]");
    let (status, answer) = invoke(port, &event).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["statusCode"], 200, "{answer}");
    let body: Value = serde_json::from_str(answer["body"].as_str().unwrap()).unwrap();
    assert_eq!(body, json!({"items": [], "nextCursor": null}));

    // Another route's event is not this function's: 404, and the function keeps serving.
    let other = authorized("GET", "/events", "/events", "att-1", "[attendee]");
    let (_, answer) = invoke(port, &other).await;
    assert_eq!(answer["statusCode"], 404);
}
