//! The local Amazon States Language executor: each state type, retries and catches, paths,
//! choice rules, named executions, the journal (restart, redrive, history) and the
//! definitions it refuses.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use asl::{
    Bindings, ExecutionStatus, ExecutionSummary, Executor, ExecutorError, ExecutorOptions,
    HistoryEvent, HistoryEventKind, JitterStrategy, StartError, StartOutcome, TaskFailure,
    TaskFunction, retry_delay_seconds, scaled,
};
use async_trait::async_trait;
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::sync::Semaphore;

// ---- helpers ------------------------------------------------------------------------------

fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(format!("{name}.asl.json"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn no_waiting() -> ExecutorOptions {
    ExecutorOptions {
        time_scale: 0.0,
        ..ExecutorOptions::default()
    }
}

/// A journal in a temporary directory that outlives executors opened on it.
struct Journal {
    dir: TempDir,
}

impl Journal {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("executions.sqlite3")
    }

    async fn open(&self, definition: &str, bindings: Bindings) -> Arc<Executor> {
        self.open_with(definition, bindings, no_waiting()).await
    }

    async fn open_with(
        &self,
        definition: &str,
        bindings: Bindings,
        options: ExecutorOptions,
    ) -> Arc<Executor> {
        Executor::open(&self.path(), definition, bindings, options)
            .await
            .unwrap_or_else(|e| panic!("open: {e}"))
    }
}

/// A function that answers from a script, one entry per call (the last one repeats), and
/// records every payload it was called with.
#[derive(Default)]
struct Script {
    answers: Mutex<VecDeque<Result<Value, TaskFailure>>>,
    calls: Mutex<Vec<Value>>,
}

impl Script {
    fn new(answers: Vec<Result<Value, TaskFailure>>) -> Arc<Self> {
        Arc::new(Self {
            answers: Mutex::new(answers.into()),
            calls: Mutex::new(Vec::new()),
        })
    }

    fn ok(value: Value) -> Arc<Self> {
        Self::new(vec![Ok(value)])
    }

    fn failing(error: &str) -> Arc<Self> {
        Self::new(vec![Err(TaskFailure::new(
            error,
            format!("{error} happened"),
        ))])
    }

    fn calls(&self) -> Vec<Value> {
        self.calls.lock().unwrap().clone()
    }

    fn count(&self) -> usize {
        self.calls.lock().unwrap().len()
    }
}

#[async_trait]
impl TaskFunction for Script {
    async fn invoke(&self, payload: Value) -> Result<Value, TaskFailure> {
        self.calls.lock().unwrap().push(payload);
        let mut answers = self.answers.lock().unwrap();
        if answers.len() > 1 {
            answers.pop_front().unwrap()
        } else {
            answers.front().cloned().expect("a script has an answer")
        }
    }
}

/// Returns its payload.
struct Echo;

#[async_trait]
impl TaskFunction for Echo {
    async fn invoke(&self, payload: Value) -> Result<Value, TaskFailure> {
        Ok(payload)
    }
}

/// Blocks every call until released, then echoes.
struct Gate {
    permits: Semaphore,
    entered: AtomicUsize,
}

impl Gate {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            permits: Semaphore::new(0),
            entered: AtomicUsize::new(0),
        })
    }

    async fn wait_entered(&self, count: usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.entered.load(Ordering::SeqCst) < count {
            assert!(Instant::now() < deadline, "the gate was never reached");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

#[async_trait]
impl TaskFunction for Gate {
    async fn invoke(&self, payload: Value) -> Result<Value, TaskFailure> {
        self.entered.fetch_add(1, Ordering::SeqCst);
        self.permits.acquire().await.unwrap().forget();
        Ok(payload)
    }
}

/// Sleeps, then echoes (for timeouts).
struct Slow(Duration);

#[async_trait]
impl TaskFunction for Slow {
    async fn invoke(&self, payload: Value) -> Result<Value, TaskFailure> {
        tokio::time::sleep(self.0).await;
        Ok(payload)
    }
}

fn task(function: &str) -> Value {
    json!({
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": format!("${{{function}}}"), "Payload.$": "$"}
    })
}

/// A task state with `extra` fields merged in.
fn task_with(function: &str, extra: Value) -> Value {
    let mut state = task(function);
    for (key, value) in extra.as_object().unwrap() {
        state[key] = value.clone();
    }
    state
}

/// Bindings with `function` as `${FnArn}`, the function of `task("FnArn")`.
fn fn_arn(function: Arc<dyn TaskFunction>) -> Bindings {
    Bindings::new().bind("FnArn", function)
}

fn machine(start: &str, states: Value) -> String {
    json!({"StartAt": start, "States": states}).to_string()
}

async fn run(executor: &Executor, name: &str, input: Value) -> ExecutionSummary {
    let outcome = executor.start(name, input).await.unwrap();
    assert!(
        matches!(outcome, StartOutcome::Started { .. }),
        "{outcome:?}"
    );
    tokio::time::timeout(Duration::from_secs(20), executor.wait(name))
        .await
        .expect("the execution ended in time")
        .unwrap()
}

async fn history(executor: &Executor, name: &str) -> Vec<HistoryEvent> {
    executor.history(name).await.unwrap().expect("a history")
}

async fn refused(definition: &str, bindings: Bindings) -> Vec<String> {
    let journal = Journal::new();
    match Executor::open(&journal.path(), definition, bindings, no_waiting()).await {
        Err(ExecutorError::Definition(problems)) => problems,
        Err(other) => panic!("refused for another reason: {other}"),
        Ok(_) => panic!("the definition was accepted"),
    }
}

fn assert_problem(problems: &[String], needles: &[&str]) {
    assert!(
        problems
            .iter()
            .any(|problem| needles.iter().all(|needle| problem.contains(needle))),
        "no problem mentions all of {needles:?}: {problems:#?}"
    );
}

fn five_task_bindings(function: Arc<dyn TaskFunction>) -> Bindings {
    (1..=5).fold(Bindings::new(), |bindings, n| {
        bindings.bind(format!("Step{n}FunctionArn"), function.clone())
    })
}

fn retry_events(events: &[HistoryEvent]) -> Vec<(u32, u32, f64)> {
    events
        .iter()
        .filter_map(|event| match &event.kind {
            HistoryEventKind::RetryScheduled {
                retrier,
                retry,
                delay_seconds,
                ..
            } => Some((*retrier, *retry, *delay_seconds)),
            _ => None,
        })
        .collect()
}

// ---- Task ---------------------------------------------------------------------------------

#[tokio::test]
async fn task_receives_its_payload_and_returns_the_lambda_invoke_result() {
    let function = Script::ok(json!({"seat": 7}));
    let journal = Journal::new();
    let definition = machine(
        "Call",
        json!({"Call": task_with("FnArn", json!({"ResultPath": "$.result", "End": true}))}),
    );
    let executor = journal.open(&definition, fn_arn(function.clone())).await;
    let done = run(&executor, "task-1", json!({"order": "o1"})).await;

    assert_eq!(done.status, ExecutionStatus::Succeeded);
    assert_eq!(function.calls(), vec![json!({"order": "o1"})]);
    let output = done.output.unwrap();
    assert_eq!(output["order"], "o1");
    assert_eq!(output["result"]["Payload"], json!({"seat": 7}));
    assert_eq!(output["result"]["StatusCode"], 200);
    assert_eq!(output["result"]["ExecutedVersion"], "$LATEST");
}

#[tokio::test]
async fn task_payload_template_and_result_selector_shape_the_data() {
    let function = Script::ok(json!({"pdfKey": "k/1.pdf", "noise": [1, 2, 3]}));
    let journal = Journal::new();
    let definition = machine(
        "Render",
        json!({"Render": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {
                "FunctionName": "${RenderArn}",
                "Payload": {
                    "ticket.$": "$.ticket.id",
                    "constant": {"n": 1},
                    "execution.$": "$$.Execution.Name",
                    "retry.$": "$$.State.RetryCount"
                }
            },
            "ResultSelector": {"key.$": "$.Payload.pdfKey", "status.$": "$.StatusCode"},
            "ResultPath": "$.rendered",
            "End": true
        }}),
    );
    let executor = journal
        .open(
            &definition,
            Bindings::new().bind("RenderArn", function.clone()),
        )
        .await;
    let done = run(&executor, "render-1", json!({"ticket": {"id": "t9"}})).await;

    assert_eq!(
        function.calls(),
        vec![json!({"ticket": "t9", "constant": {"n": 1}, "execution": "render-1", "retry": 0})]
    );
    assert_eq!(
        done.output.unwrap(),
        json!({"ticket": {"id": "t9"}, "rendered": {"key": "k/1.pdf", "status": 200}})
    );
}

#[tokio::test]
async fn task_payload_can_be_a_constant() {
    let function = Script::ok(json!("ok"));
    let journal = Journal::new();
    let definition = machine(
        "Call",
        json!({"Call": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "${FnArn}", "Payload": {"fixed": [1, "two"]}},
            "OutputPath": "$.Payload",
            "End": true
        }}),
    );
    let executor = journal.open(&definition, fn_arn(function.clone())).await;
    let done = run(&executor, "constant", json!({"ignored": true})).await;
    assert_eq!(function.calls(), vec![json!({"fixed": [1, "two"]})]);
    assert_eq!(done.output, Some(json!("ok")));
}

#[tokio::test]
async fn a_function_error_fails_the_execution_with_its_error_and_cause() {
    let journal = Journal::new();
    let definition = machine(
        "Call",
        json!({"Call": task_with("FnArn", json!({"End": true}))}),
    );
    let failure = TaskFailure::lambda_error("Ticketing.SoldOut", "no seats left");
    let executor = journal
        .open(&definition, fn_arn(Script::new(vec![Err(failure.clone())])))
        .await;
    let done = run(&executor, "sold-out", json!({})).await;
    assert_eq!(done.status, ExecutionStatus::Failed);
    assert_eq!(done.error.as_deref(), Some("Ticketing.SoldOut"));
    assert_eq!(done.cause.as_deref(), Some(failure.cause.as_str()));
    let cause: Value = serde_json::from_str(&failure.cause).unwrap();
    assert_eq!(
        cause,
        json!({"errorType": "Ticketing.SoldOut", "errorMessage": "no seats left"})
    );
    assert_eq!(done.failed_state.as_deref(), Some("Call"));
    assert!(done.stop_date.is_some());
}

#[tokio::test]
async fn a_panicking_function_is_a_task_failure_not_a_stuck_execution() {
    let journal = Journal::new();
    let definition = machine(
        "Call",
        json!({"Call": task_with("FnArn", json!({
            "Catch": [{"ErrorEquals": ["States.TaskFailed"], "Next": "Caught"}],
            "End": true
        })), "Caught": {"Type": "Succeed"}}),
    );
    let bindings = Bindings::new().bind_fn("FnArn", |_payload: Value| async move {
        if true {
            panic!("boom");
        }
        Ok(Value::Null)
    });
    let executor = journal.open(&definition, bindings).await;
    let done = run(&executor, "panics", json!({})).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded);
    let output = done.output.unwrap();
    assert_eq!(output["Error"], "Lambda.Unknown");
    assert!(output["Cause"].as_str().unwrap().contains("boom"));
}

// ---- Retry --------------------------------------------------------------------------------

#[tokio::test]
async fn retry_counts_attempts_against_max_attempts() {
    let function = Script::failing("Ticketing.Transient");
    let journal = Journal::new();
    let definition = machine(
        "Call",
        json!({"Call": task_with("FnArn", json!({
            "Retry": [{"ErrorEquals": ["Ticketing.Transient"], "MaxAttempts": 2}],
            "End": true
        }))}),
    );
    let executor = journal.open(&definition, fn_arn(function.clone())).await;
    let done = run(&executor, "transient", json!({})).await;

    assert_eq!(function.count(), 3, "one call and two retries");
    assert_eq!(done.status, ExecutionStatus::Failed);
    assert_eq!(done.error.as_deref(), Some("Ticketing.Transient"));
    let events = history(&executor, "transient").await;
    let attempts: Vec<u32> = events
        .iter()
        .filter_map(|event| match &event.kind {
            HistoryEventKind::TaskFailed { attempt, .. } => Some(*attempt),
            _ => None,
        })
        .collect();
    assert_eq!(attempts, vec![1, 2, 3]);
    assert_eq!(retry_events(&events).len(), 2);
}

#[tokio::test]
async fn a_retried_task_that_then_succeeds_goes_on() {
    let function = Script::new(vec![
        Err(TaskFailure::new("Ticketing.Transient", "busy")),
        Err(TaskFailure::new("Ticketing.Transient", "busy")),
        Ok(json!({"ok": true})),
    ]);
    let journal = Journal::new();
    let definition = machine(
        "Call",
        json!({"Call": task_with("FnArn", json!({
            "Retry": [{"ErrorEquals": ["Ticketing.Transient"], "MaxAttempts": 3}],
            "Parameters": {"FunctionName": "${FnArn}", "Payload": {"retry.$": "$$.State.RetryCount"}},
            "OutputPath": "$.Payload",
            "End": true
        }))}),
    );
    let executor = journal.open(&definition, fn_arn(function.clone())).await;
    let done = run(&executor, "flaky", json!({})).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded);
    assert_eq!(done.output, Some(json!({"ok": true})));
    // The payload is built again for each attempt, so $$.State.RetryCount counts up.
    assert_eq!(
        function.calls(),
        vec![
            json!({"retry": 0}),
            json!({"retry": 1}),
            json!({"retry": 2})
        ]
    );
}

#[tokio::test]
async fn max_attempts_zero_never_retries() {
    let function = Script::failing("Ticketing.Transient");
    let journal = Journal::new();
    let definition = machine(
        "Call",
        json!({"Call": task_with("FnArn", json!({
            "Retry": [{"ErrorEquals": ["Ticketing.Transient"], "MaxAttempts": 0}],
            "End": true
        }))}),
    );
    let executor = journal.open(&definition, fn_arn(function.clone())).await;
    let done = run(&executor, "no-retry", json!({})).await;
    assert_eq!(function.count(), 1);
    assert_eq!(done.status, ExecutionStatus::Failed);
}

#[tokio::test]
async fn each_retrier_keeps_its_own_count() {
    // A may retry once, B twice. A, B, B are retried; the second A finds A's retrier spent.
    let function = Script::new(vec![
        Err(TaskFailure::new("A", "a")),
        Err(TaskFailure::new("B", "b")),
        Err(TaskFailure::new("B", "b")),
        Err(TaskFailure::new("A", "a again")),
        Ok(json!("never reached")),
    ]);
    let journal = Journal::new();
    let definition = machine(
        "Call",
        json!({"Call": task_with("FnArn", json!({
            "Retry": [
                {"ErrorEquals": ["A"], "MaxAttempts": 1, "IntervalSeconds": 1},
                {"ErrorEquals": ["B"], "MaxAttempts": 2, "IntervalSeconds": 5}
            ],
            "End": true
        }))}),
    );
    let executor = journal.open(&definition, fn_arn(function.clone())).await;
    let done = run(&executor, "per-retrier", json!({})).await;
    assert_eq!(function.count(), 4);
    assert_eq!(done.error.as_deref(), Some("A"));
    assert_eq!(done.cause.as_deref(), Some("a again"));
    let retries = retry_events(&history(&executor, "per-retrier").await);
    // (retrier, retry number, delay): B's second retry backs off on B's own count.
    assert_eq!(retries, vec![(0, 1, 1.0), (1, 2, 5.0), (1, 3, 10.0)]);
}

#[tokio::test]
async fn the_first_matching_retrier_decides_even_when_spent() {
    let function = Script::failing("A");
    let journal = Journal::new();
    let definition = machine(
        "Call",
        json!({"Call": task_with("FnArn", json!({
            "Retry": [
                {"ErrorEquals": ["A"], "MaxAttempts": 0},
                {"ErrorEquals": ["States.ALL"], "MaxAttempts": 5}
            ],
            "End": true
        }))}),
    );
    let executor = journal.open(&definition, fn_arn(function.clone())).await;
    let done = run(&executor, "first-match", json!({})).await;
    assert_eq!(
        function.count(),
        1,
        "States.ALL's retrier is never consulted"
    );
    assert_eq!(done.error.as_deref(), Some("A"));
}

#[tokio::test]
async fn retry_delays_back_off_and_are_capped() {
    let function = Script::failing("Ticketing.Transient");
    let journal = Journal::new();
    let definition = machine(
        "Call",
        json!({"Call": task_with("FnArn", json!({
            "Retry": [{
                "ErrorEquals": ["Ticketing.Transient"],
                "IntervalSeconds": 2, "BackoffRate": 3.0, "MaxDelaySeconds": 10, "MaxAttempts": 4
            }],
            "End": true
        }))}),
    );
    let executor = journal.open(&definition, fn_arn(function.clone())).await;
    run(&executor, "backoff", json!({})).await;
    let delays: Vec<f64> = retry_events(&history(&executor, "backoff").await)
        .into_iter()
        .map(|(_, _, delay)| delay)
        .collect();
    assert_eq!(delays, vec![2.0, 6.0, 10.0, 10.0]);
}

#[tokio::test]
async fn full_jitter_keeps_each_delay_between_zero_and_the_backoff() {
    let function = Script::failing("Ticketing.Transient");
    let journal = Journal::new();
    let definition = machine(
        "Call",
        json!({"Call": task_with("FnArn", json!({
            "Retry": [{
                "ErrorEquals": ["Ticketing.Transient"], "IntervalSeconds": 4,
                "BackoffRate": 2.0, "MaxAttempts": 20, "JitterStrategy": "FULL"
            }],
            "End": true
        }))}),
    );
    let executor = journal.open(&definition, fn_arn(function.clone())).await;
    run(&executor, "jitter", json!({})).await;
    let retries = retry_events(&history(&executor, "jitter").await);
    assert_eq!(retries.len(), 20);
    for (at, (_, _, delay)) in retries.iter().enumerate() {
        let ceiling = 4.0 * 2f64.powi(at as i32);
        assert!(
            (0.0..=ceiling).contains(delay),
            "retry {at}: {delay} > {ceiling}"
        );
    }
    let below: usize = retries
        .iter()
        .enumerate()
        .filter(|(at, (_, _, delay))| *delay < 4.0 * 2f64.powi(*at as i32))
        .count();
    assert!(below > 0, "20 jittered delays all at the ceiling");
}

#[test]
fn the_delay_function_computes_backoff_cap_and_jitter() {
    let none = JitterStrategy::None;
    assert_eq!(retry_delay_seconds(1, 2.0, None, 0, none, 0.9), 1.0);
    assert_eq!(retry_delay_seconds(1, 2.0, None, 3, none, 0.9), 8.0);
    assert_eq!(retry_delay_seconds(3, 1.0, None, 7, none, 0.9), 3.0);
    assert_eq!(retry_delay_seconds(5, 2.0, Some(12), 2, none, 0.9), 12.0);
    assert_eq!(
        retry_delay_seconds(5, 2.0, Some(12), 2, JitterStrategy::Full, 0.5),
        6.0
    );
    assert_eq!(scaled(10.0, 0.25), Duration::from_millis(2500));
    assert_eq!(scaled(10.0, 0.0), Duration::ZERO);
}

#[tokio::test]
async fn time_scale_shrinks_the_retry_waits_but_keeps_them() {
    let function = Script::new(vec![
        Err(TaskFailure::new("Ticketing.Transient", "busy")),
        Err(TaskFailure::new("Ticketing.Transient", "busy")),
        Ok(json!(1)),
    ]);
    let journal = Journal::new();
    let definition = machine(
        "Call",
        json!({"Call": task_with("FnArn", json!({
            "Retry": [{"ErrorEquals": ["Ticketing.Transient"], "IntervalSeconds": 3, "BackoffRate": 2.0}],
            "End": true
        }))}),
    );
    let options = ExecutorOptions {
        time_scale: 0.01,
        ..ExecutorOptions::default()
    };
    let executor = journal
        .open_with(&definition, fn_arn(function), options)
        .await;
    let began = Instant::now();
    let done = run(&executor, "scaled", json!({})).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded);
    // 3 s and 6 s at a hundredth: 90 ms at least.
    assert!(
        began.elapsed() >= Duration::from_millis(90),
        "{:?}",
        began.elapsed()
    );
}

// ---- Error names and Catch ----------------------------------------------------------------

#[tokio::test]
async fn states_runtime_is_neither_retried_nor_caught() {
    let function = Script::ok(json!(1));
    let journal = Journal::new();
    let definition = machine(
        "Call",
        json!({
            "Call": task_with("FnArn", json!({
                "InputPath": "$.missing",
                "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 3}],
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}],
                "End": true
            })),
            "Caught": {"Type": "Succeed"}
        }),
    );
    let executor = journal.open(&definition, fn_arn(function.clone())).await;
    let done = run(&executor, "runtime", json!({"present": 1})).await;
    assert_eq!(done.status, ExecutionStatus::Failed);
    assert_eq!(done.error.as_deref(), Some("States.Runtime"));
    assert!(done.cause.unwrap().contains("$.missing"));
    assert_eq!(function.count(), 0);
}

#[tokio::test]
async fn a_missing_parameters_path_is_states_runtime() {
    let function = Script::ok(json!(1));
    let journal = Journal::new();
    let definition = machine(
        "Call",
        json!({
            "Call": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "${FnArn}", "Payload": {"deep": {"x.$": "$.nope"}}},
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}],
                "End": true
            },
            "Caught": {"Type": "Succeed"}
        }),
    );
    let executor = journal.open(&definition, fn_arn(function.clone())).await;
    let done = run(&executor, "param-path", json!({})).await;
    assert_eq!(done.error.as_deref(), Some("States.Runtime"));
    let cause = done.cause.unwrap();
    assert!(cause.contains("$.nope") && cause.contains("x.$"), "{cause}");
    assert_eq!(function.count(), 0);
}

#[tokio::test]
async fn states_task_failed_matches_function_errors_but_not_timeouts() {
    let journal = Journal::new();
    let definition = machine(
        "Call",
        json!({
            "Call": task_with("FnArn", json!({
                "TimeoutSeconds": 5,
                "Retry": [{"ErrorEquals": ["States.TaskFailed"], "MaxAttempts": 2}],
                "Catch": [{"ErrorEquals": ["States.TaskFailed"], "Next": "Caught"}],
                "End": true
            })),
            "Caught": {"Type": "Succeed"}
        }),
    );
    let options = ExecutorOptions {
        timeout_scale: 0.002, // 5 s → 10 ms
        ..no_waiting()
    };
    let failing = Script::failing("Custom.Error");
    let executor = journal
        .open_with(&definition, fn_arn(failing.clone()), options.clone())
        .await;
    let done = run(&executor, "custom", json!({})).await;
    assert_eq!(
        failing.count(),
        3,
        "States.TaskFailed retried a custom error"
    );
    assert_eq!(done.status, ExecutionStatus::Succeeded, "and caught it");

    let journal = Journal::new();
    let slow = Arc::new(Slow(Duration::from_secs(5)));
    let executor = journal.open_with(&definition, fn_arn(slow), options).await;
    let done = run(&executor, "slow", json!({})).await;
    assert_eq!(done.status, ExecutionStatus::Failed);
    assert_eq!(done.error.as_deref(), Some("States.Timeout"));
    let retries = retry_events(&history(&executor, "slow").await);
    assert!(retries.is_empty(), "a timeout is not States.TaskFailed");
}

#[tokio::test]
async fn task_timeout_is_states_timeout_and_can_be_caught_by_name() {
    let journal = Journal::new();
    let definition = machine(
        "Call",
        json!({
            "Call": task_with("FnArn", json!({
                "TimeoutSeconds": 1,
                "Retry": [{"ErrorEquals": ["States.Timeout"], "MaxAttempts": 1}],
                "Catch": [{"ErrorEquals": ["States.Timeout"], "ResultPath": "$.timeout", "Next": "Caught"}],
                "End": true
            })),
            "Caught": {"Type": "Succeed"}
        }),
    );
    let options = ExecutorOptions {
        timeout_scale: 0.02, // 1 s → 20 ms
        ..no_waiting()
    };
    let executor = journal
        .open_with(
            &definition,
            fn_arn(Arc::new(Slow(Duration::from_secs(5)))),
            options,
        )
        .await;
    let done = run(&executor, "timeout", json!({"keep": 1})).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded);
    let output = done.output.unwrap();
    assert_eq!(output["keep"], 1);
    assert_eq!(output["timeout"]["Error"], "States.Timeout");
    assert_eq!(retry_events(&history(&executor, "timeout").await).len(), 1);
}

#[tokio::test]
async fn states_all_catches_any_function_error() {
    let journal = Journal::new();
    let definition = machine(
        "Call",
        json!({
            "Call": task_with("FnArn", json!({
                "Catch": [
                    {"ErrorEquals": ["Other"], "Next": "Wrong"},
                    {"ErrorEquals": ["States.ALL"], "Next": "Caught"}
                ],
                "End": true
            })),
            "Wrong": {"Type": "Fail", "Error": "Wrong"},
            "Caught": {"Type": "Pass", "End": true}
        }),
    );
    let executor = journal
        .open(&definition, fn_arn(Script::failing("Anything.AtAll")))
        .await;
    let done = run(&executor, "all", json!({})).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded);
    // The default ResultPath `$` makes the error output the whole output.
    assert_eq!(
        done.output,
        Some(json!({"Error": "Anything.AtAll", "Cause": "Anything.AtAll happened"}))
    );
    let caught = history(&executor, "all")
        .await
        .into_iter()
        .find_map(|event| match event.kind {
            HistoryEventKind::ErrorCaught { next, error, .. } => Some((next, error)),
            _ => None,
        });
    assert_eq!(caught, Some(("Caught".into(), "Anything.AtAll".into())));
}

#[tokio::test]
async fn catch_result_path_puts_the_error_into_the_state_input() {
    let journal = Journal::new();
    let definition = machine(
        "Call",
        json!({
            "Call": task_with("FnArn", json!({
                "InputPath": "$.inner",
                "Catch": [{"ErrorEquals": ["Boom"], "ResultPath": "$.failure.detail", "Next": "Handle"}],
                "End": true
            })),
            "Handle": {"Type": "Succeed"}
        }),
    );
    let executor = journal
        .open(&definition, fn_arn(Script::failing("Boom")))
        .await;
    let done = run(&executor, "catch-path", json!({"inner": {"a": 1}, "b": 2})).await;
    // Into the raw input (not the InputPath's selection).
    assert_eq!(
        done.output.unwrap(),
        json!({
            "inner": {"a": 1},
            "b": 2,
            "failure": {"detail": {"Error": "Boom", "Cause": "Boom happened"}}
        })
    );
}

#[tokio::test]
async fn catch_result_path_null_keeps_the_input() {
    let journal = Journal::new();
    let definition = machine(
        "Call",
        json!({
            "Call": task_with("FnArn", json!({
                "Catch": [{"ErrorEquals": ["Boom"], "ResultPath": null, "Next": "Handle"}],
                "End": true
            })),
            "Handle": {"Type": "Succeed"}
        }),
    );
    let executor = journal
        .open(&definition, fn_arn(Script::failing("Boom")))
        .await;
    let done = run(&executor, "catch-null", json!({"same": true})).await;
    assert_eq!(done.output, Some(json!({"same": true})));
}

#[tokio::test]
async fn result_path_match_failure_can_be_caught_in_a_task() {
    let journal = Journal::new();
    let definition = machine(
        "Call",
        json!({
            "Call": task_with("FnArn", json!({
                "ResultPath": "$.text.field",
                "Catch": [{"ErrorEquals": ["States.ResultPathMatchFailure"], "ResultPath": "$.err", "Next": "Handle"}],
                "End": true
            })),
            "Handle": {"Type": "Succeed"}
        }),
    );
    let executor = journal
        .open(&definition, fn_arn(Script::ok(json!(1))))
        .await;
    let done = run(&executor, "rp-caught", json!({"text": "a string"})).await;
    let output = done.output.unwrap();
    assert_eq!(output["err"]["Error"], "States.ResultPathMatchFailure");
    assert!(
        output["err"]["Cause"]
            .as_str()
            .unwrap()
            .contains("$.text.field")
    );
}

#[tokio::test]
async fn result_path_into_a_non_object_fails_a_pass_state() {
    let journal = Journal::new();
    let definition = machine(
        "Put",
        json!({"Put": {"Type": "Pass", "Result": 1, "ResultPath": "$.list.x", "End": true}}),
    );
    let executor = journal.open(&definition, Bindings::new()).await;
    let done = run(&executor, "rp-fail", json!({"list": [1, 2]})).await;
    assert_eq!(done.status, ExecutionStatus::Failed);
    assert_eq!(done.error.as_deref(), Some("States.ResultPathMatchFailure"));
    assert!(done.cause.unwrap().contains("an array"));
}

#[tokio::test]
async fn catch_into_an_input_that_cannot_take_it_fails_with_result_path_match_failure() {
    let journal = Journal::new();
    let definition = machine(
        "Call",
        json!({
            "Call": task_with("FnArn", json!({
                "Catch": [{"ErrorEquals": ["Boom"], "ResultPath": "$.error", "Next": "Handle"}],
                "End": true
            })),
            "Handle": {"Type": "Succeed"}
        }),
    );
    let executor = journal
        .open(&definition, fn_arn(Script::failing("Boom")))
        .await;
    let done = run(&executor, "catch-string", json!("just a string")).await;
    assert_eq!(done.error.as_deref(), Some("States.ResultPathMatchFailure"));
}

#[tokio::test]
async fn data_over_256_kib_fails_with_data_limit_exceeded_which_states_all_does_not_catch() {
    let big = "x".repeat(300 * 1024);
    let journal = Journal::new();
    let definition = machine(
        "Call",
        json!({
            "Call": task_with("FnArn", json!({
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Handle"}],
                "Next": "Handle"
            })),
            "Handle": {"Type": "Succeed"}
        }),
    );
    let executor = journal
        .open(&definition, fn_arn(Script::ok(json!(big))))
        .await;
    let done = run(&executor, "too-big", json!({})).await;
    assert_eq!(done.status, ExecutionStatus::Failed);
    assert_eq!(done.error.as_deref(), Some("States.DataLimitExceeded"));

    let error = executor
        .start("too-big-input", json!({"big": "x".repeat(300 * 1024)}))
        .await
        .unwrap_err();
    assert!(matches!(error, StartError::InvalidInput(_)), "{error}");
}

// ---- Paths --------------------------------------------------------------------------------

#[tokio::test]
async fn paths_apply_in_aws_order_with_every_notation() {
    let journal = Journal::new();
    let executor = journal.open(&fixture("paths"), Bindings::new()).await;
    let input = json!({
        "order": {
            "id": "o1",
            "items": [{"sku": "a", "qty": 1}, {"sku": "b", "qty": 2}, {"sku": "c", "qty": 3}],
            "customer": {"name": "Ann"},
            "odd key": "spaced"
        }
    });
    let done = run(&executor, "paths", input).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{:?}", done.cause);
    assert_eq!(
        done.output.unwrap(),
        json!({
            "id": "o1",
            "firstItem": {"sku": "a", "qty": 1},
            "lastItem": "c",
            "skus": ["a", "b", "c"],
            "spaced": "spaced",
            "nested": {"customer": "Ann", "list": [{"qty": 2}, "fixed"]},
            "literal": {"a": [1, 2]},
            "state": "Select"
        })
    );
    // The states before the Succeed: ResultPath built `deep.er.note`, null discarded, and an
    // array element was replaced.
    let events = history(&executor, "paths").await;
    let trim_input = events
        .iter()
        .find_map(|event| match &event.kind {
            HistoryEventKind::StateEntered { name, input } if name == "Trim" => Some(input.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(
        trim_input["deep"],
        json!({"er": {"note": {"note": "from Result"}}})
    );
    assert_eq!(trim_input["order"]["items"][1], "replaced");
    assert_eq!(trim_input["order"]["items"][2]["sku"], "c");
    assert!(trim_input.get("Discard").is_none());
}

#[tokio::test]
async fn null_input_and_output_paths_give_an_empty_object() {
    let function = Script::ok(json!({"r": 1}));
    let journal = Journal::new();
    let definition = machine(
        "Call",
        json!({
            "Call": task_with("FnArn", json!({"InputPath": null, "Next": "Out"})),
            "Out": {"Type": "Pass", "OutputPath": null, "End": true}
        }),
    );
    let executor = journal.open(&definition, fn_arn(function.clone())).await;
    let done = run(&executor, "nulls", json!({"dropped": true})).await;
    assert_eq!(function.calls(), vec![json!({})]);
    assert_eq!(done.output, Some(json!({})));
}

#[tokio::test]
async fn result_path_null_discards_the_result_and_keeps_the_raw_input() {
    let journal = Journal::new();
    let definition = machine(
        "Call",
        json!({"Call": task_with("FnArn", json!({"InputPath": "$.part", "ResultPath": null, "End": true}))}),
    );
    let executor = journal
        .open(&definition, fn_arn(Script::ok(json!("dropped"))))
        .await;
    let done = run(&executor, "discard", json!({"part": {"x": 1}, "other": 2})).await;
    assert_eq!(done.output, Some(json!({"part": {"x": 1}, "other": 2})));
}

#[tokio::test]
async fn output_path_selecting_nothing_is_states_runtime() {
    let journal = Journal::new();
    let definition = machine(
        "P",
        json!({"P": {"Type": "Pass", "OutputPath": "$.absent", "End": true}}),
    );
    let executor = journal.open(&definition, Bindings::new()).await;
    let done = run(&executor, "out-missing", json!({"here": 1})).await;
    assert_eq!(done.error.as_deref(), Some("States.Runtime"));
    assert!(done.cause.unwrap().contains("OutputPath"));
}

#[tokio::test]
async fn result_selector_path_selecting_nothing_is_states_runtime() {
    let journal = Journal::new();
    let definition = machine(
        "Call",
        json!({"Call": task_with("FnArn", json!({
            "ResultSelector": {"x.$": "$.Payload.absent"},
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}],
            "End": true
        })), "Caught": {"Type": "Succeed"}}),
    );
    let executor = journal
        .open(&definition, fn_arn(Script::ok(json!({}))))
        .await;
    let done = run(&executor, "rs-missing", json!({})).await;
    assert_eq!(done.error.as_deref(), Some("States.Runtime"));
    assert!(done.cause.unwrap().contains("ResultSelector"));
}

#[tokio::test]
async fn the_context_object_describes_the_execution_and_state() {
    let journal = Journal::new();
    let definition = machine(
        "Look",
        json!({"Look": {
            "Type": "Pass",
            "Parameters": {
                "id.$": "$$.Execution.Id",
                "name.$": "$$.Execution.Name",
                "input.$": "$$.Execution.Input",
                "start.$": "$$.Execution.StartTime",
                "state.$": "$$.State.Name",
                "entered.$": "$$.State.EnteredTime",
                "retries.$": "$$.State.RetryCount",
                "machine.$": "$$.StateMachine.Id",
                "machineName.$": "$$.StateMachine.Name"
            },
            "End": true
        }}),
    );
    let options = ExecutorOptions {
        state_machine_arn: "arn:aws:states:eu-west-1:123456789012:stateMachine:Registration".into(),
        ..no_waiting()
    };
    let executor = journal
        .open_with(&definition, Bindings::new(), options)
        .await;
    let done = run(&executor, "ctx-1", json!({"given": [1]})).await;
    let output = done.output.unwrap();
    assert_eq!(
        output["id"],
        "arn:aws:states:eu-west-1:123456789012:execution:Registration:ctx-1"
    );
    assert_eq!(output["id"], json!(done.execution_arn));
    assert_eq!(output["name"], "ctx-1");
    assert_eq!(output["input"], json!({"given": [1]}));
    assert_eq!(output["state"], "Look");
    assert_eq!(output["retries"], 0);
    assert_eq!(
        output["machine"],
        "arn:aws:states:eu-west-1:123456789012:stateMachine:Registration"
    );
    assert_eq!(output["machineName"], "Registration");
    for field in ["start", "entered"] {
        let text = output[field].as_str().unwrap();
        let at = chrono::DateTime::parse_from_rfc3339(text).unwrap();
        assert!(text.ends_with('Z') && text.len() == 24, "{text}");
        assert!((chrono::Utc::now() - at.to_utc()).num_seconds().abs() < 60);
    }
}

// ---- Choice -------------------------------------------------------------------------------

/// Whether `rule` matches `input`: a Choice with the rule and a Default.
async fn rule_matches(rule: Value, input: Value) -> Result<bool, String> {
    let mut rule = rule;
    rule["Next"] = json!("Yes");
    let definition = machine(
        "Decide",
        json!({
            "Decide": {"Type": "Choice", "Choices": [rule], "Default": "No"},
            "Yes": {"Type": "Pass", "Result": true, "End": true},
            "No": {"Type": "Pass", "Result": false, "End": true}
        }),
    );
    let journal = Journal::new();
    let executor = journal.open(&definition, Bindings::new()).await;
    let done = run(&executor, "rule", input).await;
    match done.status {
        ExecutionStatus::Succeeded => Ok(done.output.unwrap().as_bool().unwrap()),
        _ => Err(format!("{}: {}", done.error.unwrap(), done.cause.unwrap())),
    }
}

#[tokio::test]
async fn every_comparison_operator_compares_as_aws_does() {
    let input = json!({
        "s": "m", "n": 5, "f": 2.5, "b": true, "t": "2026-03-01T12:00:00Z",
        "other": {"s": "m", "n": 5, "b": true, "t": "2026-03-01T13:00:00+01:00", "hi": "z", "big": 9}
    });
    let cases = [
        (json!({"Variable": "$.s", "StringEquals": "m"}), true),
        (json!({"Variable": "$.s", "StringEquals": "M"}), false),
        (json!({"Variable": "$.s", "StringLessThan": "n"}), true),
        (json!({"Variable": "$.s", "StringLessThan": "m"}), false),
        (json!({"Variable": "$.s", "StringGreaterThan": "l"}), true),
        (
            json!({"Variable": "$.s", "StringLessThanEquals": "m"}),
            true,
        ),
        (
            json!({"Variable": "$.s", "StringGreaterThanEquals": "n"}),
            false,
        ),
        (
            json!({"Variable": "$.s", "StringEqualsPath": "$.other.s"}),
            true,
        ),
        (
            json!({"Variable": "$.s", "StringLessThanPath": "$.other.hi"}),
            true,
        ),
        (
            json!({"Variable": "$.s", "StringGreaterThanPath": "$.other.hi"}),
            false,
        ),
        (
            json!({"Variable": "$.s", "StringLessThanEqualsPath": "$.other.s"}),
            true,
        ),
        (
            json!({"Variable": "$.s", "StringGreaterThanEqualsPath": "$.other.hi"}),
            false,
        ),
        (json!({"Variable": "$.n", "StringEquals": "5"}), false),
        (json!({"Variable": "$.n", "NumericEquals": 5}), true),
        (json!({"Variable": "$.n", "NumericEquals": 5.0}), true),
        (json!({"Variable": "$.f", "NumericLessThan": 3}), true),
        (json!({"Variable": "$.f", "NumericGreaterThan": 2.5}), false),
        (
            json!({"Variable": "$.f", "NumericLessThanEquals": 2.5}),
            true,
        ),
        (
            json!({"Variable": "$.n", "NumericGreaterThanEquals": 6}),
            false,
        ),
        (
            json!({"Variable": "$.n", "NumericEqualsPath": "$.other.n"}),
            true,
        ),
        (
            json!({"Variable": "$.n", "NumericLessThanPath": "$.other.big"}),
            true,
        ),
        (
            json!({"Variable": "$.n", "NumericGreaterThanPath": "$.other.big"}),
            false,
        ),
        (
            json!({"Variable": "$.n", "NumericLessThanEqualsPath": "$.other.n"}),
            true,
        ),
        (
            json!({"Variable": "$.f", "NumericGreaterThanEqualsPath": "$.other.n"}),
            false,
        ),
        (json!({"Variable": "$.s", "NumericEquals": 5}), false),
        (json!({"Variable": "$.b", "BooleanEquals": true}), true),
        (json!({"Variable": "$.b", "BooleanEquals": false}), false),
        (
            json!({"Variable": "$.b", "BooleanEqualsPath": "$.other.b"}),
            true,
        ),
        (json!({"Variable": "$.s", "BooleanEquals": true}), false),
        (
            json!({"Variable": "$.t", "TimestampEquals": "2026-03-01T12:00:00Z"}),
            true,
        ),
        (
            json!({"Variable": "$.t", "TimestampEquals": "2026-03-01T14:00:00+02:00"}),
            true,
        ),
        (
            json!({"Variable": "$.t", "TimestampLessThan": "2026-03-01T12:00:01Z"}),
            true,
        ),
        (
            json!({"Variable": "$.t", "TimestampGreaterThan": "2026-03-01T12:00:00Z"}),
            false,
        ),
        (
            json!({"Variable": "$.t", "TimestampLessThanEquals": "2026-03-01T12:00:00Z"}),
            true,
        ),
        (
            json!({"Variable": "$.t", "TimestampGreaterThanEquals": "2026-03-02T00:00:00Z"}),
            false,
        ),
        (
            json!({"Variable": "$.t", "TimestampEqualsPath": "$.other.t"}),
            true,
        ),
        (
            json!({"Variable": "$.t", "TimestampLessThanPath": "$.other.t"}),
            false,
        ),
        (
            json!({"Variable": "$.t", "TimestampGreaterThanPath": "$.other.t"}),
            false,
        ),
        (
            json!({"Variable": "$.t", "TimestampLessThanEqualsPath": "$.other.t"}),
            true,
        ),
        (
            json!({"Variable": "$.t", "TimestampGreaterThanEqualsPath": "$.other.t"}),
            true,
        ),
        (
            json!({"Variable": "$.s", "TimestampEquals": "2026-03-01T12:00:00Z"}),
            false,
        ),
        (
            json!({"Variable": "$.t", "StringMatches": "2026-03-*Z"}),
            true,
        ),
        (
            json!({"Variable": "$.t", "StringMatches": "2026-04-*"}),
            false,
        ),
        (json!({"Variable": "$.s", "IsNull": false}), true),
        (json!({"Variable": "$.s", "IsPresent": true}), true),
        (json!({"Variable": "$.absent", "IsPresent": false}), true),
        (json!({"Variable": "$.absent", "IsPresent": true}), false),
        (json!({"Variable": "$.n", "IsNumeric": true}), true),
        (json!({"Variable": "$.s", "IsNumeric": true}), false),
        (json!({"Variable": "$.s", "IsString": true}), true),
        (json!({"Variable": "$.b", "IsBoolean": true}), true),
        (json!({"Variable": "$.n", "IsBoolean": false}), true),
        (json!({"Variable": "$.t", "IsTimestamp": true}), true),
        (json!({"Variable": "$.s", "IsTimestamp": true}), false),
        (
            json!({"Variable": "$$.Execution.Name", "StringEquals": "rule"}),
            true,
        ),
    ];
    for (rule, expected) in cases {
        assert_eq!(
            rule_matches(rule.clone(), input.clone()).await,
            Ok(expected),
            "{rule}"
        );
    }
    assert_eq!(
        rule_matches(
            json!({"Variable": "$.v", "IsNull": true}),
            json!({"v": null})
        )
        .await,
        Ok(true)
    );
    assert_eq!(
        rule_matches(
            json!({"Variable": "$.v", "StringMatches": "log\\*.txt"}),
            json!({"v": "log*.txt"})
        )
        .await,
        Ok(true)
    );
}

#[tokio::test]
async fn a_missing_variable_is_states_runtime_except_for_is_present() {
    let error = rule_matches(
        json!({"Variable": "$.gone", "StringEquals": "x"}),
        json!({}),
    )
    .await
    .unwrap_err();
    assert!(
        error.starts_with("States.Runtime") && error.contains("$.gone"),
        "{error}"
    );
    let error = rule_matches(
        json!({"Variable": "$.here", "NumericEqualsPath": "$.gone"}),
        json!({"here": 1}),
    )
    .await
    .unwrap_err();
    assert!(error.contains("$.gone"), "{error}");
}

#[tokio::test]
async fn and_or_not_and_the_default_route_a_choice() {
    let journal = Journal::new();
    let executor = journal.open(&fixture("choice"), Bindings::new()).await;
    let cases = [
        (
            json!({"kind": "paid", "amount": 10, "refunded": false}),
            "paid",
        ),
        (
            json!({"kind": "paid", "amount": 10, "refunded": true}),
            "unknown",
        ),
        (
            json!({"kind": "paid", "amount": 0, "refunded": false, "delay": 0}),
            "free",
        ),
        (
            json!({"kind": "free", "amount": 3, "refunded": false, "delay": 1}),
            "free",
        ),
        (
            json!({"kind": "other", "amount": 3, "refunded": false}),
            "unknown",
        ),
    ];
    for (at, (input, route)) in cases.into_iter().enumerate() {
        let done = run(&executor, &format!("route-{at}"), input.clone()).await;
        assert_eq!(
            done.status,
            ExecutionStatus::Succeeded,
            "{input}: {:?}",
            done.cause
        );
        assert_eq!(done.output.unwrap()["route"], route, "{input}");
    }
    let done = run(
        &executor,
        "route-rejected",
        json!({"kind": "rejected-by-bank", "amount": 1, "refunded": false, "reason": "card declined"}),
    )
    .await;
    assert_eq!(done.status, ExecutionStatus::Failed);
    assert_eq!(done.error.as_deref(), Some("Order.Rejected"));
    assert_eq!(done.cause.as_deref(), Some("card declined"));
}

#[tokio::test]
async fn no_matching_rule_and_no_default_is_no_choice_matched() {
    let journal = Journal::new();
    let definition = machine(
        "Decide",
        json!({
            "Decide": {"Type": "Choice", "Choices": [{"Variable": "$.x", "NumericEquals": 1, "Next": "One"}]},
            "One": {"Type": "Succeed"}
        }),
    );
    let executor = journal.open(&definition, Bindings::new()).await;
    let done = run(&executor, "nomatch", json!({"x": 2})).await;
    assert_eq!(done.error.as_deref(), Some("States.NoChoiceMatched"));
    assert_eq!(done.failed_state.as_deref(), Some("Decide"));
    let done = run(&executor, "match", json!({"x": 1})).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded);
}

#[tokio::test]
async fn choice_input_and_output_paths_filter_what_passes() {
    let journal = Journal::new();
    let definition = machine(
        "Decide",
        json!({
            "Decide": {
                "Type": "Choice", "InputPath": "$.inner", "OutputPath": "$.keep",
                "Choices": [{"Variable": "$.flag", "BooleanEquals": true, "Next": "End"}]
            },
            "End": {"Type": "Succeed"}
        }),
    );
    let executor = journal.open(&definition, Bindings::new()).await;
    let done = run(
        &executor,
        "choice-io",
        json!({"inner": {"flag": true, "keep": {"k": 1}}, "outer": 0}),
    )
    .await;
    assert_eq!(done.output, Some(json!({"k": 1})));
}

// ---- Wait, Succeed, Fail ------------------------------------------------------------------

#[tokio::test]
async fn wait_seconds_waits_the_scaled_time() {
    let journal = Journal::new();
    let definition = machine(
        "Nap",
        json!({"Nap": {"Type": "Wait", "Seconds": 5, "OutputPath": "$.v", "End": true}}),
    );
    let options = ExecutorOptions {
        time_scale: 0.01,
        ..ExecutorOptions::default()
    };
    let executor = journal
        .open_with(&definition, Bindings::new(), options)
        .await;
    let began = Instant::now();
    let done = run(&executor, "nap", json!({"v": 1})).await;
    assert!(
        began.elapsed() >= Duration::from_millis(50),
        "{:?}",
        began.elapsed()
    );
    assert_eq!(done.output, Some(json!(1)));
}

#[tokio::test]
async fn wait_seconds_path_timestamp_and_timestamp_path() {
    let options = ExecutorOptions {
        time_scale: 0.01,
        ..ExecutorOptions::default()
    };
    let soon = (chrono::Utc::now() + chrono::TimeDelta::seconds(8))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let cases = [
        (json!({"SecondsPath": "$.s"}), json!({"s": 6}), 60),
        (json!({"Timestamp": "2020-01-01T00:00:00Z"}), json!({}), 0),
        (json!({"TimestampPath": "$.at"}), json!({"at": soon}), 40),
    ];
    for (at, (how, input, at_least_ms)) in cases.into_iter().enumerate() {
        let mut state = json!({"Type": "Wait", "End": true});
        for (key, value) in how.as_object().unwrap() {
            state[key] = value.clone();
        }
        let journal = Journal::new();
        let executor = journal
            .open_with(
                &machine("W", json!({"W": state})),
                Bindings::new(),
                options.clone(),
            )
            .await;
        let began = Instant::now();
        let done = run(&executor, &format!("wait-{at}"), input.clone()).await;
        assert_eq!(done.status, ExecutionStatus::Succeeded, "{how}");
        assert_eq!(done.output, Some(input));
        assert!(
            began.elapsed() >= Duration::from_millis(at_least_ms),
            "{how}: {:?}",
            began.elapsed()
        );
    }
}

#[tokio::test]
async fn a_bad_seconds_path_value_is_states_runtime() {
    let journal = Journal::new();
    let definition = machine(
        "W",
        json!({"W": {"Type": "Wait", "SecondsPath": "$.s", "End": true}}),
    );
    let executor = journal.open(&definition, Bindings::new()).await;
    let done = run(&executor, "bad-seconds", json!({"s": "ten"})).await;
    assert_eq!(done.error.as_deref(), Some("States.Runtime"));
    let done = run(&executor, "negative-seconds", json!({"s": -1})).await;
    assert_eq!(done.error.as_deref(), Some("States.Runtime"));
}

#[tokio::test]
async fn fail_takes_error_and_cause_literally_or_from_paths() {
    let journal = Journal::new();
    let definition = machine(
        "Route",
        json!({
            "Route": {"Type": "Choice", "Choices": [
                {"Variable": "$.literal", "BooleanEquals": true, "Next": "Literal"}
            ], "Default": "FromPaths"},
            "Literal": {"Type": "Fail", "Error": "Order.Failed", "Cause": "it broke"},
            "FromPaths": {"Type": "Fail", "ErrorPath": "$.e.name", "CausePath": "$$.Execution.Name"}
        }),
    );
    let executor = journal.open(&definition, Bindings::new()).await;
    let done = run(&executor, "literal", json!({"literal": true})).await;
    assert_eq!(
        (done.error.as_deref(), done.cause.as_deref()),
        (Some("Order.Failed"), Some("it broke"))
    );
    assert_eq!(done.failed_state.as_deref(), Some("Literal"));
    let done = run(
        &executor,
        "from-paths",
        json!({"literal": false, "e": {"name": "E.Dyn"}}),
    )
    .await;
    assert_eq!(
        (done.error.as_deref(), done.cause.as_deref()),
        (Some("E.Dyn"), Some("from-paths"))
    );
    let done = run(
        &executor,
        "not-a-string",
        json!({"literal": false, "e": {"name": 5}}),
    )
    .await;
    assert_eq!(done.error.as_deref(), Some("States.Runtime"));
}

#[tokio::test]
async fn succeed_applies_input_and_output_paths() {
    let journal = Journal::new();
    let definition = machine(
        "Done",
        json!({"Done": {"Type": "Succeed", "InputPath": "$.a", "OutputPath": "$.b"}}),
    );
    let executor = journal.open(&definition, Bindings::new()).await;
    let done = run(&executor, "succeed", json!({"a": {"b": [1, 2]}})).await;
    assert_eq!(done.output, Some(json!([1, 2])));
}

#[tokio::test]
async fn execution_timeout_stops_it_as_timed_out() {
    let journal = Journal::new();
    let definition = json!({
        "StartAt": "Nap",
        "TimeoutSeconds": 2,
        "States": {"Nap": {"Type": "Wait", "Seconds": 100, "End": true}}
    })
    .to_string();
    let options = ExecutorOptions {
        time_scale: 1.0,
        timeout_scale: 0.01, // 2 s → 20 ms
        ..ExecutorOptions::default()
    };
    let executor = journal
        .open_with(&definition, Bindings::new(), options)
        .await;
    let done = run(&executor, "too-slow", json!({})).await;
    assert_eq!(done.status, ExecutionStatus::TimedOut);
    assert_eq!(done.error.as_deref(), Some("States.Timeout"));
    assert_eq!(done.failed_state.as_deref(), Some("Nap"));
    let last = history(&executor, "too-slow").await.pop().unwrap();
    assert!(matches!(
        last.kind,
        HistoryEventKind::ExecutionTimedOut { .. }
    ));
}

// ---- Named executions ---------------------------------------------------------------------

#[tokio::test]
async fn starting_a_name_again_is_idempotent_for_the_same_input_only() {
    let function = Script::ok(json!(1));
    let journal = Journal::new();
    let executor = journal
        .open(&fixture("five_tasks"), five_task_bindings(function.clone()))
        .await;
    let first = run(&executor, "cs_test_a1", json!({"session": "a1"})).await;
    assert_eq!(first.status, ExecutionStatus::Succeeded);
    assert_eq!(function.count(), 5);

    let again = executor
        .start("cs_test_a1", json!({"session": "a1"}))
        .await
        .unwrap();
    assert_eq!(
        again,
        StartOutcome::Existing {
            execution_arn: first.execution_arn.clone(),
            status: ExecutionStatus::Succeeded
        }
    );
    let error = executor
        .start("cs_test_a1", json!({"session": "other"}))
        .await
        .unwrap_err();
    assert!(matches!(error, StartError::AlreadyExists(_)));
    assert!(
        error.to_string().contains("ExecutionAlreadyExists"),
        "{error}"
    );
    assert_eq!(function.count(), 5, "nothing ran again");
}

#[tokio::test]
async fn concurrent_starts_of_one_name_run_it_once() {
    let function = Script::ok(json!(1));
    let journal = Journal::new();
    let executor = journal
        .open(&fixture("five_tasks"), five_task_bindings(function.clone()))
        .await;
    let starts = (0..20).map(|_| {
        let executor = executor.clone();
        tokio::spawn(async move { executor.start("same", json!({"n": 1})).await.unwrap() })
    });
    let outcomes = futures::future::join_all(starts).await;
    let started = outcomes
        .iter()
        .filter(|o| matches!(o.as_ref().unwrap(), StartOutcome::Started { .. }))
        .count();
    assert_eq!(started, 1);
    executor.wait("same").await.unwrap();
    assert_eq!(function.count(), 5);
}

#[tokio::test]
async fn execution_names_are_checked_like_aws() {
    let journal = Journal::new();
    let executor = journal.open(&fixture("paths"), Bindings::new()).await;
    let long = "x".repeat(81);
    for bad in ["", "has space", "slash/y", "dot.name", "ünï", long.as_str()] {
        let error = executor.start(bad, json!({})).await.unwrap_err();
        assert!(
            matches!(error, StartError::InvalidName(_)),
            "{bad}: {error}"
        );
    }
    let longest = "A-z_0".repeat(16);
    assert!(matches!(
        executor.start(&longest, json!({"order": {}})).await,
        Ok(StartOutcome::Started { .. })
    ));
}

#[tokio::test]
async fn describe_list_and_history_of_unknown_and_known_executions() {
    let journal = Journal::new();
    let gate = Gate::new();
    let definition = machine(
        "Hold",
        json!({"Hold": task_with("FnArn", json!({"End": true}))}),
    );
    let executor = journal.open(&definition, fn_arn(gate.clone())).await;
    assert_eq!(executor.describe("nobody").await.unwrap(), None);
    assert_eq!(executor.history("nobody").await.unwrap(), None);

    for name in ["first", "second", "third"] {
        executor.start(name, json!({"who": name})).await.unwrap();
    }
    gate.wait_entered(3).await;
    let running = executor.describe("second").await.unwrap().unwrap();
    assert_eq!(running.status, ExecutionStatus::Running);
    assert_eq!(running.current_state.as_deref(), Some("Hold"));
    assert_eq!(running.input, json!({"who": "second"}));
    assert_eq!(running.output, None);

    gate.permits.add_permits(1);
    let finished = loop {
        let all = executor
            .list(Some(ExecutionStatus::Succeeded), 10)
            .await
            .unwrap();
        if !all.is_empty() {
            break all;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    assert_eq!(finished.len(), 1);
    let names: Vec<String> = executor
        .list(None, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, vec!["third", "second", "first"], "newest first");
    assert_eq!(executor.list(None, 2).await.unwrap().len(), 2);
    assert_eq!(
        executor
            .list(Some(ExecutionStatus::Running), 10)
            .await
            .unwrap()
            .len(),
        2
    );
    gate.permits.add_permits(2);
    for name in ["first", "second", "third"] {
        assert_eq!(
            executor.wait(name).await.unwrap().status,
            ExecutionStatus::Succeeded
        );
    }
    let summary = serde_json::to_value(executor.describe("first").await.unwrap().unwrap()).unwrap();
    for field in [
        "name",
        "executionArn",
        "status",
        "input",
        "output",
        "startDate",
        "stopDate",
        "redriveCount",
    ] {
        assert!(summary.get(field).is_some(), "{field} in {summary}");
    }
    assert_eq!(summary["status"], "SUCCEEDED");
}

#[tokio::test]
async fn many_executions_run_concurrently() {
    let journal = Journal::new();
    let executor = journal
        .open(&fixture("five_tasks"), five_task_bindings(Arc::new(Echo)))
        .await;
    let names: Vec<String> = (0..300).map(|n| format!("many-{n}")).collect();
    for name in &names {
        executor.start(name, json!({"name": name})).await.unwrap();
    }
    for name in &names {
        let done = executor.wait(name).await.unwrap();
        assert_eq!(done.status, ExecutionStatus::Succeeded);
        assert_eq!(done.output, Some(json!({"name": name})));
    }
    assert_eq!(executor.running_count(), 0);
}

// ---- History ------------------------------------------------------------------------------

#[tokio::test]
async fn history_tells_what_happened_in_order() {
    let journal = Journal::new();
    let confirm = Script::new(vec![
        Err(TaskFailure::new("Ticketing.Transient", "db busy")),
        Ok(json!({"seat": 12})),
    ]);
    let record = Script::ok(json!({"ticketId": "t1"}));
    let render = Script::ok(json!({"pdfKey": "t1.pdf"}));
    let deliver = Script::ok(json!(null));
    let compensate = Script::ok(json!(null));
    let bindings = Bindings::new()
        .bind("ConfirmSeatFunctionArn", confirm)
        .bind("RecordTicketFunctionArn", record)
        .bind("RenderTicketFunctionArn", render.clone())
        .bind("DeliverTicketFunctionArn", deliver)
        .bind("CompensateFunctionArn", compensate.clone());
    let executor = journal.open(&fixture("registration"), bindings).await;
    let done = run(&executor, "cs_ok", json!({"sessionId": "cs_ok"})).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{:?}", done.cause);
    assert_eq!(
        done.output,
        Some(json!({"ticketId": "t1", "rendered": {"pdfKey": "t1.pdf"}}))
    );
    assert_eq!(
        render.calls(),
        vec![json!({"ticketId": "t1", "execution": "cs_ok"})]
    );
    assert_eq!(compensate.count(), 0);

    let events = history(&executor, "cs_ok").await;
    let kinds: Vec<String> = events
        .iter()
        .map(|event| {
            let value = serde_json::to_value(event).unwrap();
            let name = value
                .get("name")
                .or(value.get("state"))
                .and_then(Value::as_str);
            format!("{} {}", value["type"].as_str().unwrap(), name.unwrap_or(""))
                .trim()
                .to_owned()
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            "ExecutionStarted",
            "StateEntered ConfirmSeat",
            "TaskFailed ConfirmSeat",
            "RetryScheduled ConfirmSeat",
            "StateExited ConfirmSeat",
            "StateEntered RecordTicket",
            "StateExited RecordTicket",
            "StateEntered RenderTicket",
            "StateExited RenderTicket",
            "StateEntered DeliverTicket",
            "StateExited DeliverTicket",
            "StateEntered Done",
            "StateExited Done",
            "ExecutionSucceeded",
        ]
    );
    let ids: Vec<u64> = events.iter().map(|e| e.id).collect();
    assert_eq!(ids, (0..events.len() as u64).collect::<Vec<_>>());
    assert!(events.windows(2).all(|w| w[0].timestamp <= w[1].timestamp));
    // Each state's output is what the next one entered with.
    for pair in events.windows(2) {
        if let (
            HistoryEventKind::StateExited { output, .. },
            HistoryEventKind::StateEntered { input, .. },
        ) = (&pair[0].kind, &pair[1].kind)
        {
            assert_eq!(output, input);
        }
    }
    assert_eq!(
        events[0].kind,
        HistoryEventKind::ExecutionStarted {
            input: json!({"sessionId": "cs_ok"})
        }
    );
    match &events[2].kind {
        HistoryEventKind::TaskFailed {
            error,
            cause,
            attempt,
            ..
        } => assert_eq!(
            (error.as_str(), cause.as_str(), *attempt),
            ("Ticketing.Transient", "db busy", 1)
        ),
        other => panic!("{other:?}"),
    }
    match &events[4].kind {
        HistoryEventKind::StateExited { output, .. } => {
            assert_eq!(
                output,
                &json!({"sessionId": "cs_ok", "confirmed": {"seat": {"seat": 12}}})
            )
        }
        other => panic!("{other:?}"),
    }
    let serialized = serde_json::to_value(&events[3]).unwrap();
    assert_eq!(serialized["type"], "RetryScheduled");
    assert_eq!(serialized["delaySeconds"], 1.0);
}

#[tokio::test]
async fn a_failure_runs_the_compensations_in_reverse_order() {
    let journal = Journal::new();
    let compensate = Script::ok(json!(null));
    let bindings = Bindings::new()
        .bind("ConfirmSeatFunctionArn", Script::ok(json!({"seat": 1})))
        .bind(
            "RecordTicketFunctionArn",
            Script::ok(json!({"ticketId": "t1"})),
        )
        .bind(
            "RenderTicketFunctionArn",
            Script::ok(json!({"pdfKey": "k"})),
        )
        .bind(
            "DeliverTicketFunctionArn",
            Script::new(vec![Err(TaskFailure::new(
                "Mail.Bounced",
                "no such mailbox",
            ))]),
        )
        .bind("CompensateFunctionArn", compensate.clone());
    let executor = journal.open(&fixture("registration"), bindings).await;
    let done = run(&executor, "cs_bounce", json!({"sessionId": "cs_bounce"})).await;
    assert_eq!(done.status, ExecutionStatus::Failed);
    assert_eq!(done.error.as_deref(), Some("Mail.Bounced"));
    assert_eq!(done.cause.as_deref(), Some("no such mailbox"));
    assert_eq!(done.failed_state.as_deref(), Some("RegistrationFailed"));
    let steps: Vec<Value> = compensate
        .calls()
        .iter()
        .map(|c| c["step"].clone())
        .collect();
    assert_eq!(
        steps,
        vec![
            json!("RemovePdf"),
            json!("VoidTicket"),
            json!("ReleaseSeat"),
            json!("MarkOrderFailed")
        ]
    );
    assert_eq!(
        compensate.calls()[0]["input"]["failure"]["Error"],
        "Mail.Bounced"
    );
}

// ---- Journal: restart, redrive ------------------------------------------------------------

#[tokio::test]
async fn executions_resume_after_a_restart_in_the_state_they_were_in() {
    let journal = Journal::new();
    let counter = Script::ok(json!({"step": "done"}));
    let gate = Gate::new();
    let bindings = |gate: Arc<Gate>| {
        Bindings::new()
            .bind("Step1FunctionArn", Arc::new(Echo))
            .bind("Step2FunctionArn", counter.clone())
            .bind("Step3FunctionArn", gate)
            .bind("Step4FunctionArn", Arc::new(Echo))
            .bind("Step5FunctionArn", Arc::new(Echo))
    };
    let executor = journal
        .open(&fixture("five_tasks"), bindings(gate.clone()))
        .await;
    executor.start("survivor", json!({"n": 1})).await.unwrap();
    gate.wait_entered(1).await;
    assert_eq!(counter.count(), 1);
    drop(executor); // the process "dies" in Step3

    let gate = Gate::new();
    let executor = journal
        .open(&fixture("five_tasks"), bindings(gate.clone()))
        .await;
    gate.wait_entered(1).await;
    let running = executor.describe("survivor").await.unwrap().unwrap();
    assert_eq!(running.status, ExecutionStatus::Running);
    assert_eq!(running.current_state.as_deref(), Some("Step3"));
    gate.permits.add_permits(1);
    let done = executor.wait("survivor").await.unwrap();
    assert_eq!(done.status, ExecutionStatus::Succeeded);
    assert_eq!(done.output, Some(json!({"step": "done"})));
    assert_eq!(counter.count(), 1, "Step2 was not run again");

    let events = history(&executor, "survivor").await;
    let resumed: Vec<&HistoryEventKind> = events
        .iter()
        .map(|e| &e.kind)
        .filter(|k| matches!(k, HistoryEventKind::ExecutionResumed { .. }))
        .collect();
    assert_eq!(
        resumed,
        vec![&HistoryEventKind::ExecutionResumed {
            state: "Step3".into()
        }]
    );
    let step3_inputs: Vec<&Value> = events
        .iter()
        .filter_map(|e| match &e.kind {
            HistoryEventKind::StateEntered { name, input } if name == "Step3" => Some(input),
            _ => None,
        })
        .collect();
    assert_eq!(step3_inputs, vec![&json!({"step": "done"})]);
}

#[tokio::test]
async fn a_resumed_wait_only_waits_what_is_left() {
    let journal = Journal::new();
    // 20 s at a twentieth: one second of real waiting.
    let definition = machine(
        "Nap",
        json!({"Nap": {"Type": "Wait", "Seconds": 20, "End": true}}),
    );
    let options = ExecutorOptions {
        time_scale: 0.05,
        ..ExecutorOptions::default()
    };
    let executor = journal
        .open_with(&definition, Bindings::new(), options.clone())
        .await;
    executor.start("napper", json!({})).await.unwrap();
    tokio::time::sleep(Duration::from_millis(700)).await;
    drop(executor);

    let executor = journal
        .open_with(&definition, Bindings::new(), options)
        .await;
    let reopened = Instant::now();
    let done = executor.wait("napper").await.unwrap();
    assert_eq!(done.status, ExecutionStatus::Succeeded);
    // About 300 ms were left; starting the wait over would take a second.
    assert!(
        reopened.elapsed() < Duration::from_millis(800),
        "{:?}",
        reopened.elapsed()
    );
}

#[tokio::test]
async fn a_start_is_durable_before_it_returns() {
    let journal = Journal::new();
    let gate = Gate::new();
    let definition = machine(
        "Hold",
        json!({"Hold": task_with("FnArn", json!({"End": true}))}),
    );
    let executor = journal.open(&definition, fn_arn(gate.clone())).await;
    executor.start("durable", json!({"d": 1})).await.unwrap();
    executor.shutdown();
    assert!(matches!(
        executor.start("after", json!({})).await,
        Err(StartError::ShutDown)
    ));
    drop(executor);

    let gate = Gate::new();
    gate.permits.add_permits(1);
    let executor = journal.open(&definition, fn_arn(gate.clone())).await;
    let done = executor.wait("durable").await.unwrap();
    assert_eq!(done.status, ExecutionStatus::Succeeded);
    assert_eq!(done.output.unwrap()["Payload"], json!({"d": 1}));
}

#[tokio::test]
async fn an_execution_whose_state_left_the_definition_fails_with_a_clear_cause() {
    let journal = Journal::new();
    let gate = Gate::new();
    let old = machine(
        "Old",
        json!({"Old": task_with("FnArn", json!({"Next": "End"})), "End": {"Type": "Succeed"}}),
    );
    let executor = journal.open(&old, fn_arn(gate.clone())).await;
    executor.start("orphan", json!({})).await.unwrap();
    gate.wait_entered(1).await;
    drop(executor);

    let new = machine("New", json!({"New": {"Type": "Succeed"}}));
    let executor = journal.open(&new, Bindings::new()).await;
    let done = executor.wait("orphan").await.unwrap();
    assert_eq!(done.status, ExecutionStatus::Failed);
    assert_eq!(done.error.as_deref(), Some("States.Runtime"));
    let cause = done.cause.unwrap();
    assert!(
        cause.contains("`Old`") && cause.contains("no longer in the definition"),
        "{cause}"
    );
    let error = executor.redrive("orphan").await.unwrap_err();
    assert!(matches!(error, StartError::NotRedrivable { .. }), "{error}");
}

#[tokio::test]
async fn redrive_restarts_a_failed_execution_at_the_failed_state() {
    let journal = Journal::new();
    let step2 = Script::ok(json!({"from": "step2"}));
    let step4 = Script::new(vec![
        Err(TaskFailure::new("Ticketing.Broken", "not yet")),
        Ok(json!({"fixed": true})),
    ]);
    let bindings = Bindings::new()
        .bind("Step1FunctionArn", Arc::new(Echo))
        .bind("Step2FunctionArn", step2.clone())
        .bind("Step3FunctionArn", Arc::new(Echo))
        .bind("Step4FunctionArn", step4.clone())
        .bind("Step5FunctionArn", Arc::new(Echo));
    let executor = journal.open(&fixture("five_tasks"), bindings).await;
    let failed = run(&executor, "redo", json!({"n": 1})).await;
    assert_eq!(failed.status, ExecutionStatus::Failed);
    assert_eq!(failed.failed_state.as_deref(), Some("Step4"));

    executor.redrive("redo").await.unwrap();
    let done = executor.wait("redo").await.unwrap();
    assert_eq!(done.status, ExecutionStatus::Succeeded);
    assert_eq!(done.output, Some(json!({"fixed": true})));
    assert_eq!(done.redrive_count, 1);
    assert!(done.redrive_date.is_some());
    assert_eq!((done.error, done.cause), (None, None));
    assert_eq!(
        step2.count(),
        1,
        "states before the failure did not run again"
    );
    assert_eq!(
        step4.calls(),
        vec![json!({"from": "step2"}); 2],
        "same input both times"
    );

    let kinds: Vec<&'static str> = history(&executor, "redo")
        .await
        .iter()
        .map(|e| match &e.kind {
            HistoryEventKind::ExecutionFailed { .. } => "failed",
            HistoryEventKind::ExecutionRedriven { .. } => "redriven",
            HistoryEventKind::ExecutionSucceeded { .. } => "succeeded",
            _ => "",
        })
        .filter(|k| !k.is_empty())
        .collect();
    assert_eq!(kinds, vec!["failed", "redriven", "succeeded"]);

    let error = executor.redrive("redo").await.unwrap_err();
    assert!(
        matches!(
            error,
            StartError::NotRedrivable {
                status: ExecutionStatus::Succeeded,
                ..
            }
        ),
        "{error}"
    );
    assert!(matches!(
        executor.redrive("never-was").await,
        Err(StartError::DoesNotExist(_))
    ));
}

#[tokio::test]
async fn the_journal_records_its_schema_version() {
    let journal = Journal::new();
    let executor = journal.open(&fixture("paths"), Bindings::new()).await;
    drop(executor);
    let conn = rusqlite::Connection::open(journal.path()).unwrap();
    let version: u32 = conn
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .unwrap();
    assert_eq!(version, 1);
    let mode: String = conn
        .pragma_query_value(None, "journal_mode", |row| row.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

// ---- Refused definitions ------------------------------------------------------------------

fn one_function() -> Bindings {
    fn_arn(Arc::new(Echo))
}

#[tokio::test]
async fn jsonata_and_unknown_top_level_fields_are_refused() {
    let problems = refused(
        &json!({"QueryLanguage": "JSONata", "StartAt": "A", "States": {"A": {"Type": "Succeed"}}})
            .to_string(),
        Bindings::new(),
    )
    .await;
    assert_problem(&problems, &["QueryLanguage", "JSONata"]);
    let problems = refused(
        &json!({"StartAt": "A", "Extra": 1, "States": {"A": {"Type": "Succeed"}}}).to_string(),
        Bindings::new(),
    )
    .await;
    assert_problem(&problems, &["Extra", "unknown top-level field"]);
    let problems = refused(
        &json!({"StartAt": "A", "States": {"A": {"Type": "Succeed", "QueryLanguage": "JSONata"}}})
            .to_string(),
        Bindings::new(),
    )
    .await;
    assert_problem(&problems, &["States.A.QueryLanguage", "JSONata"]);
    let problems = refused("{not json", Bindings::new()).await;
    assert_problem(&problems, &["not valid JSON"]);
}

#[tokio::test]
async fn parallel_states_are_refused() {
    let problems = refused(
        &machine("A", json!({"A": {"Type": "Parallel", "End": true}})),
        Bindings::new(),
    )
    .await;
    assert_problem(&problems, &["States.A.Type", "Parallel", "not supported"]);
}

#[tokio::test]
async fn unsupported_task_fields_are_refused_by_state_and_field() {
    for field in [
        "HeartbeatSeconds",
        "Credentials",
        "Arguments",
        "Output",
        "Assign",
        "TimeoutSecondsPath",
    ] {
        let mut state = task_with("FnArn", json!({"End": true}));
        state[field] = json!(5);
        let problems = refused(&machine("Call", json!({"Call": state})), one_function()).await;
        assert_problem(
            &problems,
            &[&format!("States.Call.{field}"), "not supported"],
        );
    }
    let problems = refused(
        &machine(
            "P",
            json!({"P": {"Type": "Pass", "Retry": [], "End": true}}),
        ),
        Bindings::new(),
    )
    .await;
    assert_problem(
        &problems,
        &["States.P.Retry", "not a field of a Pass state"],
    );
}

#[tokio::test]
async fn other_resources_and_parameters_are_refused() {
    let cases = [
        (
            "arn:aws:states:::lambda:invoke.waitForTaskToken",
            "callback",
        ),
        (
            "arn:aws:lambda:eu-west-1:1:function:x",
            "lambda:invoke integration",
        ),
        ("arn:aws:states:::dynamodb:putItem", "only Lambda"),
    ];
    for (resource, hint) in cases {
        let state = task_with("FnArn", json!({"Resource": resource, "End": true}));
        let problems = refused(&machine("Call", json!({"Call": state})), one_function()).await;
        assert_problem(&problems, &["States.Call.Resource", resource, hint]);
    }
    let state = json!({
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true,
        "Parameters": {"FunctionName": "${FnArn}", "Payload.$": "$", "InvocationType": "Event"}
    });
    let problems = refused(&machine("Call", json!({"Call": state})), one_function()).await;
    assert_problem(
        &problems,
        &["States.Call.Parameters.InvocationType", "not supported"],
    );
    let state = json!({
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true,
        "Parameters": {"FunctionName": "${FnArn}"}
    });
    let problems = refused(&machine("Call", json!({"Call": state})), one_function()).await;
    assert_problem(&problems, &["States.Call.Parameters", "Payload"]);
}

#[tokio::test]
async fn unbound_and_misplaced_substitutions_are_refused() {
    let problems = refused(
        &machine(
            "Call",
            json!({"Call": task_with("MissingArn", json!({"End": true}))}),
        ),
        one_function(),
    )
    .await;
    assert_problem(
        &problems,
        &[
            "States.Call.Parameters.FunctionName",
            "${MissingArn}",
            "not bound",
            "FnArn",
        ],
    );
    let problems = refused(
        &machine(
            "P",
            json!({"P": {"Type": "Pass", "Result": {"table": "${TableName}"}, "End": true}}),
        ),
        Bindings::new(),
    )
    .await;
    assert_problem(&problems, &["States.P.Result.table", "${TableName}"]);
    let state = json!({
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true,
        "Parameters": {"FunctionName": "arn:aws:lambda:eu-west-1:1:function:x", "Payload.$": "$"}
    });
    let problems = refused(&machine("Call", json!({"Call": state})), one_function()).await;
    assert_problem(
        &problems,
        &["States.Call.Parameters.FunctionName", "substitution"],
    );
}

#[tokio::test]
async fn intrinsic_functions_are_refused() {
    let state = json!({
        "Type": "Pass", "End": true,
        "Parameters": {"greeting.$": "States.Format('Hi {}', $.name)"}
    });
    let problems = refused(&machine("P", json!({"P": state})), Bindings::new()).await;
    assert_problem(&problems, &["States.P.Parameters.greeting.$", "intrinsic"]);
    let state = json!({"Type": "Fail", "ErrorPath": "States.Format('{}', $.e)"});
    let problems = refused(&machine("F", json!({"F": state})), Bindings::new()).await;
    assert_problem(&problems, &["States.F.ErrorPath", "intrinsic"]);
}

#[tokio::test]
async fn missing_targets_and_unreachable_states_are_refused() {
    let problems = refused(
        &machine("Nowhere", json!({"A": {"Type": "Succeed"}})),
        Bindings::new(),
    )
    .await;
    assert_problem(&problems, &["StartAt", "Nowhere"]);
    let problems = refused(
        &machine(
            "A",
            json!({"A": {"Type": "Pass", "Next": "Gone"}, "B": {"Type": "Succeed"}}),
        ),
        Bindings::new(),
    )
    .await;
    assert_problem(&problems, &["States.A.Next", "Gone"]);
    let problems = refused(
        &machine(
            "A",
            json!({
                "A": {"Type": "Choice", "Choices": [{"Variable": "$.x", "IsPresent": true, "Next": "B"}], "Default": "Lost"},
                "B": {"Type": "Succeed"}
            }),
        ),
        Bindings::new(),
    )
    .await;
    assert_problem(&problems, &["States.A.Default", "Lost"]);
    let problems = refused(
        &machine(
            "A",
            json!({"A": {"Type": "Succeed"}, "Island": {"Type": "Succeed"}}),
        ),
        Bindings::new(),
    )
    .await;
    assert_problem(&problems, &["States.Island", "unreachable"]);
    let problems = refused(
        &machine("A", json!({"A": {"Type": "Pass"}})),
        Bindings::new(),
    )
    .await;
    assert_problem(&problems, &["States.A", "Next or \"End\""]);
}

#[tokio::test]
async fn malformed_paths_are_refused() {
    let cases = [
        (
            json!({"Type": "Pass", "InputPath": "$.a[", "End": true}),
            "States.A.InputPath",
        ),
        (
            json!({"Type": "Pass", "OutputPath": "a.b", "End": true}),
            "States.A.OutputPath",
        ),
        (
            json!({"Type": "Pass", "ResultPath": "$.items[*]", "End": true}),
            "States.A.ResultPath",
        ),
        (
            json!({"Type": "Pass", "ResultPath": "$$.State", "End": true}),
            "States.A.ResultPath",
        ),
        (
            json!({"Type": "Pass", "Parameters": {"x.$": "$..[bad"}, "End": true}),
            "States.A.Parameters.x.$",
        ),
        (
            json!({"Type": "Pass", "Parameters": {"x.$": 5}, "End": true}),
            "States.A.Parameters.x.$",
        ),
        (
            json!({"Type": "Wait", "SecondsPath": "secs", "End": true}),
            "States.A.SecondsPath",
        ),
    ];
    for (state, location) in cases {
        let problems = refused(&machine("A", json!({"A": state})), Bindings::new()).await;
        assert_problem(&problems, &[location]);
    }
}

#[tokio::test]
async fn bad_retry_and_catch_lists_are_refused() {
    let cases = [
        (
            json!({"Retry": [{"ErrorEquals": ["States.ALL"]}, {"ErrorEquals": ["X"]}]}),
            vec!["States.Call.Retry[0].ErrorEquals", "last"],
        ),
        (
            json!({"Retry": [{"ErrorEquals": ["States.ALL", "X"]}]}),
            vec!["States.Call.Retry[0].ErrorEquals", "alone"],
        ),
        (
            json!({"Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Call"}, {"ErrorEquals": ["X"], "Next": "Call"}]}),
            vec!["States.Call.Catch[0].ErrorEquals", "last"],
        ),
        (
            json!({"Retry": [{"ErrorEquals": ["States.Timeuot"]}]}),
            vec!["States.Timeuot", "not an error"],
        ),
        (
            json!({"Retry": [{"ErrorEquals": []}]}),
            vec!["States.Call.Retry[0].ErrorEquals", "non-empty"],
        ),
        (
            json!({"Retry": [{"ErrorEquals": ["X"], "BackoffRate": 0.5}]}),
            vec!["States.Call.Retry[0].BackoffRate"],
        ),
        (
            json!({"Retry": [{"ErrorEquals": ["X"], "JitterStrategy": "SOME"}]}),
            vec!["States.Call.Retry[0].JitterStrategy"],
        ),
        (
            json!({"Retry": [{"ErrorEquals": ["X"], "IntervalSeconds": 0}]}),
            vec!["States.Call.Retry[0].IntervalSeconds"],
        ),
        (
            json!({"Catch": [{"ErrorEquals": ["X"]}]}),
            vec!["States.Call.Catch[0].Next", "required"],
        ),
        (
            json!({"TimeoutSeconds": 0}),
            vec!["States.Call.TimeoutSeconds"],
        ),
    ];
    for (extra, needles) in cases {
        let mut extra = extra;
        extra["End"] = json!(true);
        let problems = refused(
            &machine("Call", json!({"Call": task_with("FnArn", extra)})),
            one_function(),
        )
        .await;
        assert_problem(&problems, &needles);
    }
}

#[tokio::test]
async fn bad_choice_rules_are_refused() {
    let cases = [
        (
            json!({"Variable": "$.x", "StringEquals": "a", "IsNull": true, "Next": "B"}),
            "one operator",
        ),
        (
            json!({"StringEquals": "a", "Next": "B"}),
            "needs a Variable",
        ),
        (
            json!({"Variable": "$.x", "TimestampEquals": "yesterday", "Next": "B"}),
            "timestamp",
        ),
        (
            json!({"Variable": "$.x", "NumericEquals": "5", "Next": "B"}),
            "a number",
        ),
        (
            json!({"Variable": "$.x", "BooleanLessThan": true, "Next": "B"}),
            "unknown",
        ),
        (json!({"Condition": "{% $x %}", "Next": "B"}), "JSONata"),
        (
            json!({"Not": {"Variable": "$.x", "IsNull": true, "Next": "B"}, "Next": "B"}),
            "only top-level",
        ),
        (
            json!({"Variable": "$.x", "StringMatches": "a\\b", "Next": "B"}),
            "backslash",
        ),
        (json!({"Variable": "$.x", "IsPresent": true}), "Next"),
    ];
    for (rule, needle) in cases {
        let definition = machine(
            "A",
            json!({"A": {"Type": "Choice", "Choices": [rule], "Default": "B"}, "B": {"Type": "Succeed"}}),
        );
        let problems = refused(&definition, Bindings::new()).await;
        assert_problem(&problems, &["States.A.Choices[0]", needle]);
    }
}

#[tokio::test]
async fn every_problem_of_a_definition_is_reported_at_once() {
    let definition = machine(
        "A",
        json!({
            "A": task_with("Unbound", json!({"HeartbeatSeconds": 5, "Next": "B"})),
            "B": {"Type": "Wait", "Seconds": -1, "Next": "C"},
            "C": {"Type": "Parallel", "End": true}
        }),
    );
    let problems = refused(&definition, Bindings::new()).await;
    assert_problem(&problems, &["States.A.HeartbeatSeconds"]);
    assert_problem(
        &problems,
        &["States.A.Parameters.FunctionName", "${Unbound}"],
    );
    assert_problem(&problems, &["States.B.Seconds"]);
    assert_problem(&problems, &["States.C.Type", "Parallel"]);
    let error = Executor::open(
        &Journal::new().path(),
        &definition,
        Bindings::new(),
        no_waiting(),
    )
    .await
    .err()
    .unwrap()
    .to_string();
    assert!(
        error.contains("HeartbeatSeconds") && error.contains("Parallel"),
        "{error}"
    );
}

#[tokio::test]
async fn bad_options_are_refused() {
    let journal = Journal::new();
    for options in [
        ExecutorOptions {
            time_scale: -1.0,
            ..ExecutorOptions::default()
        },
        ExecutorOptions {
            timeout_scale: 0.0,
            ..ExecutorOptions::default()
        },
        ExecutorOptions {
            state_machine_arn: "not-an-arn".into(),
            ..ExecutorOptions::default()
        },
    ] {
        let result =
            Executor::open(&journal.path(), &fixture("paths"), Bindings::new(), options).await;
        assert!(matches!(result, Err(ExecutorError::Options(_))));
    }
}

// ---- Map ----------------------------------------------------------------------------------

/// The cancellation state machine that ticketd and Step Functions run.
fn cancellation_definition() -> String {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../statemachines/cancellation.asl.json");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

const CANCELLATION_FUNCTIONS: [&str; 4] = [
    "ListSoldOrdersFunctionArn",
    "RefundCancelledOrderFunctionArn",
    "RecordRefundFailureFunctionArn",
    "FinishCancellationFunctionArn",
];

/// A Map state over `$.items` whose ItemProcessor is one Task calling `${FnArn}` with the
/// iteration's input and ending with its Payload; `map` and `inner` fields are merged in.
fn map_state(map: Value, inner: Value) -> Value {
    let mut inner_task = task_with(
        "FnArn",
        json!({"ResultSelector": {"value.$": "$.Payload"}, "OutputPath": "$.value", "End": true}),
    );
    for (key, value) in inner.as_object().unwrap() {
        inner_task[key] = value.clone();
    }
    let mut state = json!({
        "Type": "Map",
        "ItemsPath": "$.items",
        "ItemProcessor": {"StartAt": "Inner", "States": {"Inner": inner_task}},
        "End": true
    });
    for (key, value) in map.as_object().unwrap() {
        state[key] = value.clone();
    }
    state
}

const DISTRIBUTED: &str = r#"{"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"}"#;

fn distributed() -> Value {
    serde_json::from_str(DISTRIBUTED).unwrap()
}

/// A Map state as `map_state` makes it, in DISTRIBUTED mode.
fn distributed_map(map: Value) -> Value {
    let mut state = map_state(map, json!({}));
    state["ItemProcessor"]["ProcessorConfig"] = distributed();
    state
}

/// Fails with `Ticketing.Broken` for the numbers in `failing`, else returns its payload;
/// counts its calls.
fn failing_for(failing: &'static [i64], calls: Arc<AtomicUsize>) -> Bindings {
    Bindings::new().bind_fn("FnArn", move |payload: Value| {
        let calls = calls.clone();
        async move {
            calls.fetch_add(1, Ordering::SeqCst);
            let n = payload.as_i64().unwrap();
            if failing.contains(&n) {
                Err(TaskFailure::new(
                    "Ticketing.Broken",
                    format!("item {n} is broken"),
                ))
            } else {
                Ok(payload)
            }
        }
    })
}

#[tokio::test]
async fn the_cancellation_definition_loads_with_its_four_functions_bound() {
    let journal = Journal::new();
    let bindings = CANCELLATION_FUNCTIONS
        .iter()
        .fold(Bindings::new(), |bindings, name| {
            bindings.bind(*name, Arc::new(Echo))
        });
    let executor = journal.open(&cancellation_definition(), bindings).await;
    assert_eq!(executor.running_count(), 0);

    // The functions of the Map's ItemProcessor are bound like the others.
    let without_refund = CANCELLATION_FUNCTIONS
        .iter()
        .filter(|name| **name != "RefundCancelledOrderFunctionArn")
        .fold(Bindings::new(), |bindings, name| {
            bindings.bind(*name, Arc::new(Echo))
        });
    let problems = refused(&cancellation_definition(), without_refund).await;
    assert_problem(
        &problems,
        &[
            "States.RefundOrders.ItemProcessor.States.RefundCancelledOrder.Parameters.FunctionName",
            "${RefundCancelledOrderFunctionArn}",
        ],
    );
    assert_eq!(problems.len(), 1, "{problems:#?}");
}

#[tokio::test]
async fn map_fields_the_executor_does_not_run_are_refused_by_location() {
    let refused_map = |extra: Value| machine("M", json!({"M": map_state(extra, json!({}))}));
    let cases: &[(Value, &[&str])] = &[
        (
            json!({"ItemReader": {"Resource": "arn:aws:states:::s3:getObject"}}),
            &["States.M.ItemReader", "not supported", "ItemsPath"],
        ),
        (
            json!({"ItemBatcher": {"MaxItemsPerBatch": 10}}),
            &["States.M.ItemBatcher", "not supported"],
        ),
        (
            json!({"ResultWriter": {"Resource": "arn:aws:states:::s3:putObject"}}),
            &["States.M.ResultWriter", "not supported"],
        ),
        (
            json!({"Label": "Refunds"}),
            &["States.M.Label", "not supported"],
        ),
        (
            json!({"MaxConcurrencyPath": "$.limit"}),
            &["States.M.MaxConcurrencyPath", "not supported"],
        ),
        (
            json!({"ToleratedFailurePercentage": 10}),
            &["States.M.ToleratedFailurePercentage", "DISTRIBUTED"],
        ),
        (
            json!({"ToleratedFailureCount": 1}),
            &["States.M.ToleratedFailureCount", "DISTRIBUTED"],
        ),
        (
            json!({"Iterator": {"StartAt": "Inner", "States": {}}}),
            &["States.M.Iterator", "ItemProcessor"],
        ),
        (
            json!({"Parameters": {"n.$": "$$.Map.Item.Value"}}),
            &["States.M.Parameters", "ItemSelector"],
        ),
        (
            json!({"ItemsPath": "$.items[*]"}),
            &["States.M.ItemsPath", "reference path"],
        ),
        (
            json!({"MaxConcurrency": -1}),
            &["States.M.MaxConcurrency", "integer"],
        ),
        (
            json!({"ItemSelector": "$.x"}),
            &["States.M.ItemSelector", "object"],
        ),
    ];
    for (extra, needles) in cases {
        let problems = refused(&refused_map(extra.clone()), fn_arn(Arc::new(Echo))).await;
        assert_problem(&problems, needles);
    }

    let problems = refused(
        &machine("P", json!({"P": {"Type": "Parallel", "End": true}})),
        Bindings::new(),
    )
    .await;
    assert_problem(&problems, &["States.P.Type", "Parallel", "not supported"]);
}

#[tokio::test]
async fn item_processor_problems_are_named_by_their_whole_location() {
    let with_processor = |processor: Value| {
        let mut state = map_state(json!({"Next": "After"}), json!({}));
        state.as_object_mut().unwrap().remove("End");
        for (key, value) in processor.as_object().unwrap() {
            state["ItemProcessor"][key] = value.clone();
        }
        machine("M", json!({"M": state, "After": {"Type": "Succeed"}}))
    };
    let inner = |extra: Value| task_with("FnArn", extra);
    let cases: &[(Value, &[&str])] = &[
        // A Next that leaves the processor.
        (
            json!({"States": {"Inner": inner(json!({"Next": "After"}))}}),
            &[
                "States.M.ItemProcessor.States.Inner.Next",
                "`After` is outside this ItemProcessor",
            ],
        ),
        // An unknown field of a state inside it.
        (
            json!({"States": {"Inner": inner(json!({"End": true, "Bogus": 1}))}}),
            &[
                "States.M.ItemProcessor.States.Inner.Bogus",
                "not a field of a Task state",
            ],
        ),
        // A bad retrier inside it.
        (
            json!({"States": {"Inner": inner(json!({"End": true, "Retry": [{"ErrorEquals": []}]}))}}),
            &["States.M.ItemProcessor.States.Inner.Retry[0].ErrorEquals"],
        ),
        // An unreachable state inside it.
        (
            json!({"States": {
                "Inner": inner(json!({"End": true})),
                "Orphan": {"Type": "Succeed"}
            }}),
            &["States.M.ItemProcessor.States.Orphan", "unreachable"],
        ),
        (
            json!({"StartAt": "Nowhere"}),
            &["States.M.ItemProcessor.StartAt", "no state named `Nowhere`"],
        ),
        (
            json!({"Bogus": true}),
            &[
                "States.M.ItemProcessor.Bogus",
                "not a field of an ItemProcessor",
            ],
        ),
        (
            json!({"ProcessorConfig": {"Mode": "DISTRIBUTED"}}),
            &[
                "States.M.ItemProcessor.ProcessorConfig.ExecutionType",
                "required",
            ],
        ),
        (
            json!({"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "FAST"}}),
            &[
                "States.M.ItemProcessor.ProcessorConfig.ExecutionType",
                "STANDARD or EXPRESS",
            ],
        ),
        (
            json!({"ProcessorConfig": {"Mode": "INLINE", "ExecutionType": "EXPRESS"}}),
            &[
                "States.M.ItemProcessor.ProcessorConfig.ExecutionType",
                "DISTRIBUTED",
            ],
        ),
        (
            json!({"ProcessorConfig": {"Mode": "PARALLEL"}}),
            &[
                "States.M.ItemProcessor.ProcessorConfig.Mode",
                "INLINE or DISTRIBUTED",
            ],
        ),
        // State names are unique in the whole machine.
        (
            json!({"StartAt": "After", "States": {"After": {"Type": "Succeed"}}}),
            &[
                "States.M.ItemProcessor.States.After",
                "already the name of States.After",
            ],
        ),
    ];
    for (processor, needles) in cases {
        let problems = refused(&with_processor(processor.clone()), fn_arn(Arc::new(Echo))).await;
        assert_problem(&problems, needles);
    }

    // The top level cannot lead into a processor either.
    let mut state = map_state(json!({}), json!({}));
    state["Catch"] = json!([{"ErrorEquals": ["States.ALL"], "Next": "Inner"}]);
    let problems = refused(&machine("M", json!({"M": state})), fn_arn(Arc::new(Echo))).await;
    assert_problem(
        &problems,
        &["States.M.Catch[0].Next", "no state named `Inner`"],
    );
}

#[tokio::test]
async fn item_selector_builds_each_input_and_the_outputs_keep_the_item_order() {
    let journal = Journal::new();
    let bindings = Bindings::new().bind_fn("FnArn", |payload: Value| async move {
        // Later items finish first.
        let index = payload["index"].as_u64().unwrap();
        tokio::time::sleep(Duration::from_millis(5 * (5 - index))).await;
        Ok(json!({"refunded": payload["orderId"], "event": payload["eventId"]}))
    });
    let definition = machine(
        "Refund",
        json!({"Refund": map_state(
            json!({
                "ItemsPath": "$.page.orderIds",
                "ItemSelector": {
                    "eventId.$": "$.eventId",
                    "orderId.$": "$$.Map.Item.Value",
                    "index.$": "$$.Map.Item.Index",
                    "state.$": "$$.State.Name"
                },
                "ResultPath": "$.refunds"
            }),
            json!({}),
        )}),
    );
    let executor = journal.open(&definition, bindings).await;
    let orders = json!(["o1", "o2", "o3", "o4", "o5"]);
    let done = run(
        &executor,
        "ordered",
        json!({"eventId": "e1", "page": {"orderIds": orders}}),
    )
    .await;
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{:?}", done.cause);
    let output = done.output.unwrap();
    let expected: Vec<Value> = ["o1", "o2", "o3", "o4", "o5"]
        .iter()
        .map(|order| json!({"refunded": order, "event": "e1"}))
        .collect();
    assert_eq!(output["refunds"], Value::Array(expected));
    assert_eq!(
        output["page"]["orderIds"], orders,
        "ResultPath kept the input"
    );

    // The iterations' states are not journaled as transitions.
    let entered: Vec<String> = history(&executor, "ordered")
        .await
        .into_iter()
        .filter_map(|event| match event.kind {
            HistoryEventKind::StateEntered { name, .. } => Some(name),
            _ => None,
        })
        .collect();
    assert_eq!(entered, vec!["Refund"]);
}

#[tokio::test]
async fn the_item_selector_sees_the_map_state_in_the_context_object() {
    let journal = Journal::new();
    let definition = machine(
        "M",
        json!({"M": map_state(
            json!({"ItemSelector": {"state.$": "$$.State.Name", "item.$": "$$.Map.Item"}}),
            json!({}),
        )}),
    );
    let executor = journal.open(&definition, fn_arn(Arc::new(Echo))).await;
    let done = run(&executor, "context", json!({"items": [{"a": 1}]})).await;
    assert_eq!(
        done.output,
        Some(json!([{"state": "M", "item": {"Index": 0, "Value": {"a": 1}}}]))
    );
}

/// Counts the invocations running at once and the most there ever were.
#[derive(Default)]
struct Concurrency {
    now: AtomicUsize,
    most: AtomicUsize,
    calls: AtomicUsize,
}

#[async_trait]
impl TaskFunction for Concurrency {
    async fn invoke(&self, payload: Value) -> Result<Value, TaskFailure> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(20)).await;
        self.now.fetch_sub(1, Ordering::SeqCst);
        Ok(payload)
    }
}

#[tokio::test]
async fn max_concurrency_limits_the_iterations_running_at_once() {
    let items: Vec<i64> = (0..10).collect();
    for (max_concurrency, mode, expected) in [
        (3, None, 3),
        (4, Some(distributed()), 4),
        (0, None, 10), // no limit
    ] {
        let journal = Journal::new();
        let function = Arc::new(Concurrency::default());
        let mut state = map_state(json!({"MaxConcurrency": max_concurrency}), json!({}));
        if let Some(config) = mode {
            state["ItemProcessor"]["ProcessorConfig"] = config;
        }
        let executor = journal
            .open(&machine("M", json!({"M": state})), fn_arn(function.clone()))
            .await;
        let done = run(&executor, "limited", json!({"items": items})).await;
        assert_eq!(done.status, ExecutionStatus::Succeeded, "{:?}", done.cause);
        assert_eq!(done.output, Some(json!(items)));
        assert_eq!(function.calls.load(Ordering::SeqCst), 10);
        assert_eq!(
            function.most.load(Ordering::SeqCst),
            expected,
            "MaxConcurrency {max_concurrency}"
        );
    }
}

#[tokio::test]
async fn an_inline_map_fails_with_its_first_failed_iteration_and_its_catch_catches_it() {
    let journal = Journal::new();
    let calls = Arc::new(AtomicUsize::new(0));
    let mut state = map_state(json!({"MaxConcurrency": 1, "Next": "Done"}), json!({}));
    state.as_object_mut().unwrap().remove("End");
    state["Catch"] = json!([
        {"ErrorEquals": ["Ticketing.Broken"], "ResultPath": "$.error", "Next": "Handle"}
    ]);
    let definition = machine(
        "M",
        json!({
            "M": state,
            "Done": {"Type": "Succeed"},
            "Handle": {"Type": "Pass", "End": true}
        }),
    );
    let executor = journal
        .open(&definition, failing_for(&[2], calls.clone()))
        .await;
    let done = run(&executor, "caught", json!({"items": [1, 2, 3, 4, 5]})).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{:?}", done.cause);
    assert_eq!(
        done.output,
        Some(json!({
            "items": [1, 2, 3, 4, 5],
            "error": {"Error": "Ticketing.Broken", "Cause": "item 2 is broken"}
        }))
    );
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "no iteration started after the failure"
    );
    let caught: Vec<(String, String)> = history(&executor, "caught")
        .await
        .into_iter()
        .filter_map(|event| match event.kind {
            HistoryEventKind::ErrorCaught { state, next, .. } => Some((state, next)),
            _ => None,
        })
        .collect();
    assert_eq!(caught, vec![("M".to_owned(), "Handle".to_owned())]);

    // Without a Catch the execution fails with the iteration's error and cause.
    let journal = Journal::new();
    let definition = machine("M", json!({"M": map_state(json!({}), json!({}))}));
    let executor = journal
        .open(
            &definition,
            failing_for(&[3], Arc::new(AtomicUsize::new(0))),
        )
        .await;
    let failed = run(&executor, "uncaught", json!({"items": [1, 2, 3]})).await;
    assert_eq!(failed.status, ExecutionStatus::Failed);
    assert_eq!(failed.error.as_deref(), Some("Ticketing.Broken"));
    assert_eq!(failed.cause.as_deref(), Some("item 3 is broken"));
    assert_eq!(failed.failed_state.as_deref(), Some("M"));
}

#[tokio::test]
async fn a_maps_retry_runs_every_iteration_again() {
    let journal = Journal::new();
    let attempts = Arc::new(AtomicUsize::new(0));
    let counter = attempts.clone();
    // Item 2 fails the first time only.
    let bindings = Bindings::new().bind_fn("FnArn", move |payload: Value| {
        let counter = counter.clone();
        async move {
            let call = counter.fetch_add(1, Ordering::SeqCst);
            if payload == json!(2) && call < 3 {
                return Err(TaskFailure::new("Ticketing.Transient", "once"));
            }
            Ok(payload)
        }
    });
    let mut state = map_state(json!({"MaxConcurrency": 1}), json!({}));
    state["Retry"] = json!([{"ErrorEquals": ["Ticketing.Transient"], "MaxAttempts": 1}]);
    let executor = journal
        .open(&machine("M", json!({"M": state})), bindings)
        .await;
    let done = run(&executor, "again", json!({"items": [1, 2, 3]})).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{:?}", done.cause);
    assert_eq!(done.output, Some(json!([1, 2, 3])));
    assert_eq!(attempts.load(Ordering::SeqCst), 2 + 3);
    let retries = retry_events(&history(&executor, "again").await);
    assert_eq!(retries.len(), 1);
}

#[tokio::test]
async fn a_distributed_map_tolerates_failures_up_to_its_threshold() {
    // 2 of 10 items fail.
    let items: Vec<i64> = (0..10).collect();
    let cases = [
        (json!({"ToleratedFailurePercentage": 20}), true),
        (json!({"ToleratedFailurePercentage": 19.5}), false),
        (json!({"ToleratedFailureCount": 2}), true),
        (json!({"ToleratedFailureCount": 1}), false),
        (
            json!({"ToleratedFailureCount": 5, "ToleratedFailurePercentage": 10}),
            false,
        ),
        (json!({}), false),
    ];
    for (tolerance, succeeds) in cases {
        let journal = Journal::new();
        let calls = Arc::new(AtomicUsize::new(0));
        let executor = journal
            .open(
                &machine("M", json!({"M": distributed_map(tolerance.clone())})),
                failing_for(&[3, 7], calls.clone()),
            )
            .await;
        let done = run(&executor, "tolerant", json!({"items": items})).await;
        if succeeds {
            assert_eq!(
                done.status,
                ExecutionStatus::Succeeded,
                "{tolerance}: {:?}",
                done.cause
            );
            let output = done.output.unwrap();
            let output = output.as_array().unwrap();
            assert_eq!(output.len(), 10);
            for (n, item) in output.iter().enumerate() {
                if n == 3 || n == 7 {
                    assert_eq!(
                        item,
                        &json!({
                            "Error": "Ticketing.Broken",
                            "Cause": format!("item {n} is broken"),
                            "Input": n.to_string(),
                            "Status": "FAILED"
                        })
                    );
                } else {
                    assert_eq!(item, &json!(n));
                }
            }
            assert_eq!(calls.load(Ordering::SeqCst), 10);
        } else {
            assert_eq!(done.status, ExecutionStatus::Failed, "{tolerance}");
            assert_eq!(
                done.error.as_deref(),
                Some("States.ExceedToleratedFailureThreshold"),
                "{tolerance}"
            );
            let cause = done.cause.unwrap();
            assert!(
                cause.contains("Map state `M`") && cause.contains("Ticketing.Broken"),
                "{cause}"
            );
        }
    }
}

#[tokio::test]
async fn the_threshold_error_can_be_caught_by_the_maps_catch() {
    let journal = Journal::new();
    let mut state = distributed_map(json!({"ToleratedFailureCount": 0, "Next": "Done"}));
    state.as_object_mut().unwrap().remove("End");
    state["Catch"] = json!([{
        "ErrorEquals": ["States.ExceedToleratedFailureThreshold"],
        "ResultPath": "$.failure",
        "Next": "Done"
    }]);
    let definition = machine("M", json!({"M": state, "Done": {"Type": "Succeed"}}));
    let executor = journal
        .open(
            &definition,
            failing_for(&[1], Arc::new(AtomicUsize::new(0))),
        )
        .await;
    let done = run(&executor, "caught", json!({"items": [0, 1]})).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{:?}", done.cause);
    assert_eq!(
        done.output.unwrap()["failure"]["Error"],
        json!("States.ExceedToleratedFailureThreshold")
    );
}

#[tokio::test]
async fn an_inner_retry_on_a_custom_error_retries_each_item() {
    let journal = Journal::new();
    let attempts: Arc<Mutex<Vec<i64>>> = Arc::default();
    let seen = attempts.clone();
    // Every item fails once with a custom error, then succeeds.
    let bindings = Bindings::new().bind_fn("FnArn", move |payload: Value| {
        let seen = seen.clone();
        async move {
            let n = payload.as_i64().unwrap();
            let first = {
                let mut seen = seen.lock().unwrap();
                seen.push(n);
                seen.iter().filter(|m| **m == n).count() == 1
            };
            if first {
                Err(TaskFailure::new(
                    "Ticketing.Flaky",
                    format!("item {n}, once"),
                ))
            } else {
                Ok(json!(n * 10))
            }
        }
    });
    let definition = machine(
        "M",
        json!({"M": map_state(
            json!({}),
            json!({"Retry": [{"ErrorEquals": ["Ticketing.Flaky"], "IntervalSeconds": 1, "MaxAttempts": 2}]}),
        )}),
    );
    let executor = journal.open(&definition, bindings).await;
    let done = run(&executor, "flaky", json!({"items": [1, 2, 3, 4]})).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{:?}", done.cause);
    assert_eq!(done.output, Some(json!([10, 20, 30, 40])));
    let mut calls = attempts.lock().unwrap().clone();
    calls.sort_unstable();
    assert_eq!(calls, vec![1, 1, 2, 2, 3, 3, 4, 4]);

    // The retries are history events named after the iteration; ids stay in order.
    let events = history(&executor, "flaky").await;
    let mut retried: Vec<String> = events
        .iter()
        .filter_map(|event| match &event.kind {
            HistoryEventKind::RetryScheduled { state, retry, .. } => {
                assert_eq!(*retry, 1);
                Some(state.clone())
            }
            _ => None,
        })
        .collect();
    retried.sort();
    assert_eq!(
        retried,
        vec!["M[0]/Inner", "M[1]/Inner", "M[2]/Inner", "M[3]/Inner"]
    );
    assert!(
        events
            .iter()
            .enumerate()
            .all(|(at, event)| event.id == at as u64)
    );
    assert!(matches!(
        events.last().unwrap().kind,
        HistoryEventKind::ExecutionSucceeded { .. }
    ));
}

#[tokio::test]
async fn a_restart_while_a_map_runs_runs_the_map_again() {
    let journal = Journal::new();
    let before = Script::ok(json!({"items": [1, 2, 3]}));
    let bindings = |gate: Arc<Gate>| {
        Bindings::new()
            .bind("BeforeFunctionArn", before.clone())
            .bind("FnArn", gate)
    };
    let mut first = task_with(
        "BeforeFunctionArn",
        json!({"OutputPath": "$.Payload", "Next": "M"}),
    );
    first["ResultSelector"] = json!({"Payload.$": "$.Payload"});
    let definition = machine(
        "Before",
        json!({"Before": first, "M": map_state(json!({}), json!({}))}),
    );
    let gate = Gate::new();
    let executor = journal.open(&definition, bindings(gate.clone())).await;
    executor.start("interrupted", json!({})).await.unwrap();
    gate.wait_entered(3).await;
    gate.permits.add_permits(1); // one iteration finishes before the "crash"
    tokio::time::sleep(Duration::from_millis(20)).await;
    let running = executor.describe("interrupted").await.unwrap().unwrap();
    assert_eq!(running.current_state.as_deref(), Some("M"));
    drop(executor);

    let gate = Gate::new();
    gate.permits.add_permits(3);
    let executor = journal.open(&definition, bindings(gate.clone())).await;
    let done = tokio::time::timeout(Duration::from_secs(20), executor.wait("interrupted"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{:?}", done.cause);
    assert_eq!(done.output, Some(json!([1, 2, 3])));
    assert_eq!(
        gate.entered.load(Ordering::SeqCst),
        3,
        "every iteration ran again"
    );
    assert_eq!(
        before.count(),
        1,
        "the state before the Map did not run again"
    );
    let resumed: Vec<String> = history(&executor, "interrupted")
        .await
        .into_iter()
        .filter_map(|event| match event.kind {
            HistoryEventKind::ExecutionResumed { state } => Some(state),
            _ => None,
        })
        .collect();
    assert_eq!(resumed, vec!["M"]);
}

#[tokio::test]
async fn items_that_are_not_an_array_are_states_runtime_naming_the_path() {
    let journal = Journal::new();
    let mut state = map_state(json!({}), json!({}));
    state["Catch"] = json!([{"ErrorEquals": ["States.ALL"], "Next": "Caught"}]);
    let definition = machine("M", json!({"M": state, "Caught": {"Type": "Succeed"}}));
    let executor = journal.open(&definition, fn_arn(Arc::new(Echo))).await;
    let done = run(&executor, "object", json!({"items": {"a": 1}})).await;
    assert_eq!(done.status, ExecutionStatus::Failed);
    assert_eq!(done.error.as_deref(), Some("States.Runtime"));
    let cause = done.cause.unwrap();
    assert!(
        cause.contains("`$.items`") && cause.contains("an object, not an array"),
        "{cause}"
    );
    let done = run(&executor, "missing", json!({})).await;
    assert_eq!(done.error.as_deref(), Some("States.Runtime"));
    assert!(done.cause.unwrap().contains("`$.items`"));
}

#[tokio::test]
async fn the_payload_limit_applies_to_a_maps_output() {
    let journal = Journal::new();
    let bindings = Bindings::new().bind_fn("FnArn", |_payload: Value| async move {
        Ok(json!("x".repeat(100 * 1024)))
    });
    let mut state = map_state(json!({"Next": "Done"}), json!({}));
    state.as_object_mut().unwrap().remove("End");
    let definition = machine("M", json!({"M": state, "Done": {"Type": "Succeed"}}));
    let executor = journal.open(&definition, bindings).await;
    let done = run(&executor, "two", json!({"items": [1, 2]})).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{:?}", done.cause);
    let done = run(&executor, "three", json!({"items": [1, 2, 3]})).await;
    assert_eq!(done.status, ExecutionStatus::Failed);
    assert_eq!(done.error.as_deref(), Some("States.DataLimitExceeded"));
    assert!(done.cause.unwrap().contains("`M`"));
}

#[tokio::test]
async fn the_execution_timeout_stops_a_running_map() {
    let journal = Journal::new();
    let mut definition: Value =
        serde_json::from_str(&machine("M", json!({"M": map_state(json!({}), json!({}))}))).unwrap();
    definition["TimeoutSeconds"] = json!(2);
    let options = ExecutorOptions {
        time_scale: 0.0,
        timeout_scale: 0.01, // 2 s → 20 ms
        ..ExecutorOptions::default()
    };
    let slow = Arc::new(Slow(Duration::from_secs(30)));
    let executor = journal
        .open_with(&definition.to_string(), fn_arn(slow), options)
        .await;
    let started = Instant::now();
    let done = run(&executor, "too-slow", json!({"items": [1, 2]})).await;
    assert_eq!(done.status, ExecutionStatus::TimedOut);
    assert_eq!(done.failed_state.as_deref(), Some("M"));
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn maps_nest_and_inner_states_flow_as_at_the_top_level() {
    let journal = Journal::new();
    let definition = machine(
        "Outer",
        json!({"Outer": {
            "Type": "Map",
            "ItemSelector": {"row.$": "$$.Map.Item.Value", "label.$": "$.label"},
            "ItemProcessor": {
                "StartAt": "Inner",
                "States": {
                    "Inner": {
                        "Type": "Map",
                        "ItemsPath": "$.row",
                        "ItemSelector": {"n.$": "$$.Map.Item.Value", "label.$": "$.label"},
                        "ItemProcessor": {
                            "StartAt": "Big",
                            "States": {
                                "Big": {
                                    "Type": "Choice",
                                    "Choices": [{"Variable": "$.n", "NumericGreaterThan": 2, "Next": "Call"}],
                                    "Default": "Keep"
                                },
                                "Call": task_with("FnArn", json!({"ResultSelector": {"called.$": "$.Payload.n"}, "End": true})),
                                "Keep": {"Type": "Pass", "OutputPath": "$.n", "End": true}
                            }
                        },
                        "End": true
                    }
                }
            },
            "InputPath": "$.input",
            "ItemsPath": "$.rows",
            "ResultPath": "$.rows",
            "OutputPath": "$.rows",
            "End": true
        }}),
    );
    let executor = journal.open(&definition, fn_arn(Arc::new(Echo))).await;
    let done = run(
        &executor,
        "nested",
        json!({"input": {"label": "L", "rows": [[1, 2], [3], []]}}),
    )
    .await;
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{:?}", done.cause);
    assert_eq!(done.output, Some(json!([[1, 2], [{"called": 3}], []])));
}

#[tokio::test]
async fn the_cancellation_refunds_every_page_and_records_the_orders_that_fail() {
    let journal = Journal::new();
    let list_calls: Arc<Mutex<Vec<Value>>> = Arc::default();
    let refund_calls: Arc<Mutex<Vec<Value>>> = Arc::default();
    let list_seen = list_calls.clone();
    let refund_seen = refund_calls.clone();
    let record = Script::ok(json!({"recorded": true}));
    let finish = Script::ok(json!({"again": false}));
    let bindings = Bindings::new()
        .bind_fn("ListSoldOrdersFunctionArn", move |payload: Value| {
            let list_seen = list_seen.clone();
            async move {
                list_seen.lock().unwrap().push(payload.clone());
                Ok(match payload["cursor"].as_str() {
                    None => json!({"orderIds": ["o1", "o2", "o3", "o4", "o5"], "cursor": "p2"}),
                    Some("p2") => json!({"orderIds": ["o6", "o7", "o8"], "cursor": null}),
                    Some(other) => panic!("unknown cursor {other}"),
                })
            }
        })
        .bind_fn("RefundCancelledOrderFunctionArn", move |payload: Value| {
            let refund_seen = refund_seen.clone();
            async move {
                let order = payload["orderId"].as_str().unwrap().to_owned();
                let attempt = {
                    let mut seen = refund_seen.lock().unwrap();
                    seen.push(payload.clone());
                    seen.iter()
                        .filter(|p| p["orderId"] == order.as_str())
                        .count()
                };
                match order.as_str() {
                    // Refused for good.
                    "o2" | "o7" => Err(TaskFailure::lambda_error(
                        "Ticketing.RefundFailed",
                        format!("the card of {order} is closed"),
                    )),
                    // A passing fault, retried.
                    "o4" if attempt == 1 => Err(TaskFailure::lambda_error(
                        "Ticketing.Transient",
                        "Stripe timed out",
                    )),
                    _ => Ok(json!({"refunded": order})),
                }
            }
        })
        .bind("RecordRefundFailureFunctionArn", record.clone())
        .bind("FinishCancellationFunctionArn", finish.clone());
    let executor = journal.open(&cancellation_definition(), bindings).await;
    let done = run(
        &executor,
        "cancel-e1",
        json!({"eventId": "e1", "cursor": null}),
    )
    .await;
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{:?}", done.cause);
    assert_eq!(
        done.output.as_ref().unwrap()["finish"],
        json!({"again": false})
    );

    // The loop over the cursor visited both pages.
    assert_eq!(
        *list_calls.lock().unwrap(),
        vec![
            json!({"eventId": "e1", "cursor": null}),
            json!({"eventId": "e1", "cursor": "p2"})
        ]
    );
    // Every order was refunded once, o4 twice (its retry); each with its event.
    let mut refunded: Vec<String> = refund_calls
        .lock()
        .unwrap()
        .iter()
        .map(|payload| {
            assert_eq!(payload["eventId"], "e1");
            payload["orderId"].as_str().unwrap().to_owned()
        })
        .collect();
    refunded.sort();
    assert_eq!(
        refunded,
        vec!["o1", "o2", "o3", "o4", "o4", "o5", "o6", "o7", "o8"]
    );
    // RecordFailure ran for exactly the orders that failed, with the reason.
    let mut recorded = record.calls();
    recorded.sort_by_key(|payload| payload["orderId"].as_str().unwrap().to_owned());
    assert_eq!(recorded.len(), 2, "{recorded:#?}");
    for (payload, order) in recorded.iter().zip(["o2", "o7"]) {
        assert_eq!(payload["orderId"], order);
        assert_eq!(payload["eventId"], "e1");
        assert_eq!(payload["error"]["Error"], "Ticketing.RefundFailed");
        let cause: Value =
            serde_json::from_str(payload["error"]["Cause"].as_str().unwrap()).unwrap();
        assert_eq!(
            cause["errorMessage"],
            format!("the card of {order} is closed")
        );
    }
    assert_eq!(finish.calls(), vec![json!({"eventId": "e1"})]);

    // The catches are in the history, named after their iteration.
    let mut caught: Vec<(String, String)> = history(&executor, "cancel-e1")
        .await
        .into_iter()
        .filter_map(|event| match event.kind {
            HistoryEventKind::ErrorCaught { state, next, .. } => Some((state, next)),
            _ => None,
        })
        .collect();
    caught.sort();
    assert_eq!(
        caught,
        vec![
            (
                "RefundOrders[1]/RefundCancelledOrder".to_owned(),
                "RefundOrders[1]/RecordRefundFailure".to_owned()
            ),
            (
                "RefundOrders[1]/RefundCancelledOrder".to_owned(),
                "RefundOrders[1]/RecordRefundFailure".to_owned()
            ),
        ]
    );
}
