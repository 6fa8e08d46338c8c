//! The executor: starts, runs, resumes and redrives executions of one definition.

use std::borrow::Cow;
use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use futures::FutureExt;
use futures::future::BoxFuture;
use futures::stream::{FuturesUnordered, StreamExt};
use serde_json::{Map, Value, json};
use tokio::sync::watch;
use tokio::task::AbortHandle;
use tokio::time::Instant;

use super::definition::{
    Catcher, Choice, Definition, Fail, Io, MapState, Pass, ProcessorMode, ResultTarget, Retrier,
    Source, State, StateKind, Task, Transition, Wait, WaitFor,
};
use super::journal::{
    End, EventRecord, Journal, Kind, RedriveReply, Resume, StartReply, from_micros, micros,
};
use super::model::{
    Bindings, ExecutionStatus, ExecutionSummary, ExecutorError, ExecutorOptions, HistoryEvent,
    StartError, StartOutcome, TaskFailure, execution_arn_prefix,
};
use super::path::describe;
use super::retry::{
    self, DATA_LIMIT, NO_CHOICE, RESULT_PATH, RUNTIME, TIMEOUT, TOLERATED_FAILURE, error_matches,
    retry_delay_seconds,
};
use super::template::MissingPath;

/// Step Functions' limit on an execution's input and on every state's input and output.
pub const MAX_PAYLOAD_BYTES: usize = 256 * 1024;
/// AWS's limit on execution names.
const MAX_NAME: usize = 80;

/// Runs executions of one state machine definition, journaled in SQLite.
///
/// Dropping it (or [`Executor::shutdown`]) stops the running executions where they are;
/// the next [`Executor::open`] of the same journal resumes them.
pub struct Executor {
    shared: Arc<Shared>,
}

struct Shared {
    definition: Definition,
    options: ExecutorOptions,
    journal: Journal,
    /// `arn:...:execution:<machine>:`; an execution's ARN is this and its name.
    execution_arn_prefix: String,
    state_machine_name: String,
    running: Mutex<HashMap<String, Running>>,
    generation: AtomicU64,
    closed: AtomicBool,
}

/// A running execution's task.
struct Running {
    /// Tells this run from a later one of the same execution (after a redrive).
    generation: u64,
    abort: AbortHandle,
    done: watch::Receiver<bool>,
}

impl Executor {
    /// Parses and checks `definition_json` (refusing anything this executor does not run, or
    /// a `${...}` that `bindings` does not bind), opens or creates the journal at
    /// `journal_path`, and resumes every execution a previous process left RUNNING, in the
    /// state it was in, with the input that state entered with. An execution whose state is
    /// no longer in the definition is marked FAILED (States.Runtime) with a cause saying so.
    ///
    /// Must be called within a Tokio runtime: executions run as its tasks.
    pub async fn open(
        journal_path: &Path,
        definition_json: &str,
        bindings: Bindings,
        options: ExecutorOptions,
    ) -> Result<Arc<Executor>, ExecutorError> {
        if !(options.time_scale >= 0.0 && options.time_scale.is_finite()) {
            return Err(ExecutorError::Options(
                "time_scale must be a finite number ≥ 0".into(),
            ));
        }
        if !(options.timeout_scale > 0.0 && options.timeout_scale.is_finite()) {
            return Err(ExecutorError::Options(
                "timeout_scale must be a finite number > 0".into(),
            ));
        }
        let definition =
            Definition::load(definition_json, &bindings).map_err(ExecutorError::Definition)?;
        let (execution_arn_prefix, state_machine_name) =
            execution_arn_prefix(&options.state_machine_arn)?;

        let path = journal_path.to_owned();
        let prefix = execution_arn_prefix.clone();
        let (journal, left_running) = tokio::task::spawn_blocking(move || {
            let journal = Journal::open(&path, prefix)?;
            let running = journal.running()?;
            Ok::<_, String>((journal, running))
        })
        .await
        .map_err(|error| ExecutorError::Journal(error.to_string()))?
        .map_err(ExecutorError::Journal)?;

        let shared = Arc::new(Shared {
            definition,
            options,
            journal,
            execution_arn_prefix,
            state_machine_name,
            running: Mutex::new(HashMap::new()),
            generation: AtomicU64::new(0),
            closed: AtomicBool::new(false),
        });
        for resume in left_running {
            shared.resume(resume).await?;
        }
        Ok(Arc::new(Executor { shared }))
    }

    /// Starts an execution named `name` (1–80 characters of `A-Za-z0-9_-`) with `input`.
    ///
    /// Standard-workflow idempotency: a name already used with the same input returns
    /// [`StartOutcome::Existing`] and runs nothing, whatever that execution's status (AWS
    /// answers ExecutionAlreadyExists once it has stopped); with another input it is
    /// [`StartError::AlreadyExists`]. Returns once the start is committed to the journal.
    pub async fn start(&self, name: &str, input: Value) -> Result<StartOutcome, StartError> {
        let shared = &self.shared;
        validate_name(name)?;
        let input_text = serde_json::to_string(&input)
            .map_err(|error| StartError::InvalidInput(error.to_string()))?;
        if input_text.len() > MAX_PAYLOAD_BYTES {
            return Err(StartError::InvalidInput(format!(
                "the input is {} bytes, over the {MAX_PAYLOAD_BYTES}-byte limit",
                input_text.len()
            )));
        }
        if shared.closed.load(Ordering::Acquire) {
            return Err(StartError::ShutDown);
        }
        let now = Utc::now();
        let first = shared.definition.states[shared.definition.start_at]
            .name
            .clone();
        let reply = shared
            .journal
            .start(name.to_owned(), input_text, micros(now), first)
            .await
            .map_err(|error| shared.start_error(error))?;
        let execution_arn = shared.execution_arn(name);
        match reply {
            StartReply::Existing {
                input: existing,
                status,
            } => {
                let same = serde_json::from_str::<Value>(&existing).is_ok_and(|v| v == input);
                if same {
                    Ok(StartOutcome::Existing {
                        execution_arn,
                        status,
                    })
                } else {
                    Err(StartError::AlreadyExists(name.to_owned()))
                }
            }
            StartReply::Started { id } => {
                tracing::info!(execution = name, "execution started");
                let input = Arc::new(input);
                let run = Run {
                    shared: shared.clone(),
                    id,
                    name: name.to_owned(),
                    execution_input: input.clone(),
                    started_at: now,
                    redriven_at: None,
                    redrive_count: 0,
                    next_seq: AtomicI64::new(1),
                };
                let first = shared.definition.start_at;
                shared.spawn(run, first, (*input).clone(), now);
                Ok(StartOutcome::Started { execution_arn })
            }
        }
    }

    /// The execution named `name`, if there is one.
    pub async fn describe(&self, name: &str) -> Result<Option<ExecutionSummary>, ExecutorError> {
        self.shared
            .journal
            .describe(name)
            .await
            .map_err(ExecutorError::Journal)
    }

    /// Up to `limit` executions, newest first, of one status or all.
    pub async fn list(
        &self,
        status: Option<ExecutionStatus>,
        limit: usize,
    ) -> Result<Vec<ExecutionSummary>, ExecutorError> {
        self.shared
            .journal
            .list(status, limit)
            .await
            .map_err(ExecutorError::Journal)
    }

    /// The history of the execution named `name`, oldest event first.
    pub async fn history(&self, name: &str) -> Result<Option<Vec<HistoryEvent>>, ExecutorError> {
        self.shared
            .journal
            .history(name)
            .await
            .map_err(ExecutorError::Journal)
    }

    /// Waits until the execution is no longer RUNNING and returns it. An unknown name is
    /// [`ExecutorError::Journal`]; a shutdown while waiting is [`ExecutorError::ShutDown`].
    pub async fn wait(&self, name: &str) -> Result<ExecutionSummary, ExecutorError> {
        loop {
            let done = self
                .shared
                .running
                .lock()
                .expect("running executions lock")
                .get(name)
                .map(|running| running.done.clone());
            if let Some(mut done) = done {
                // An error means the run was dropped (shutdown): the journal says the rest.
                let _ = done.wait_for(|done| *done).await;
            }
            let summary = self
                .describe(name)
                .await?
                .ok_or_else(|| ExecutorError::Journal(format!("no execution named `{name}`")))?;
            if summary.status != ExecutionStatus::Running {
                return Ok(summary);
            }
            if self.shared.closed.load(Ordering::Acquire) {
                return Err(ExecutorError::ShutDown);
            }
            // Committed as RUNNING but its task not registered yet (a redrive in progress).
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Like Step Functions' RedriveExecution: a FAILED or TIMED_OUT execution runs again from
    /// the state it failed in, with the input that state entered with; its redrive count goes
    /// up by one. Returns once the redrive is committed.
    pub async fn redrive(&self, name: &str) -> Result<(), StartError> {
        let shared = &self.shared;
        if shared.closed.load(Ordering::Acquire) {
            return Err(StartError::ShutDown);
        }
        // A state that is gone from the definition cannot run again: refuse before changing
        // anything.
        let summary = shared
            .journal
            .describe(name)
            .await
            .map_err(StartError::Journal)?
            .ok_or_else(|| StartError::DoesNotExist(name.to_owned()))?;
        if let Some(state) = &summary.failed_state
            && shared.definition.state(state).is_none()
        {
            return Err(StartError::NotRedrivable {
                name: name.to_owned(),
                status: summary.status,
                reason: format!("its failed state `{state}` is no longer in the definition"),
            });
        }
        let reply = shared
            .journal
            .redrive(name.to_owned(), micros(Utc::now()))
            .await
            .map_err(|error| shared.start_error(error))?;
        match reply {
            RedriveReply::Missing => Err(StartError::DoesNotExist(name.to_owned())),
            RedriveReply::NotRedrivable(status) => Err(StartError::NotRedrivable {
                name: name.to_owned(),
                status,
                reason: "only FAILED and TIMED_OUT executions can be redriven".into(),
            }),
            RedriveReply::Redriven(resume) => {
                tracing::info!(
                    execution = name,
                    state = resume.state.as_deref().unwrap_or_default(),
                    redrive_count = resume.redrive_count,
                    "execution redriven"
                );
                shared
                    .launch(resume)
                    .map_err(|error| StartError::Journal(error.to_string()))
            }
        }
    }

    /// Stops every running execution where it is (the journal keeps them RUNNING, for the
    /// next `open` to resume) and closes the journal once what was queued is committed.
    /// Blocks for that last commit. Later calls do nothing.
    pub fn shutdown(&self) {
        self.shared.shutdown();
    }

    /// How many executions this executor is running now.
    pub fn running_count(&self) -> usize {
        self.shared
            .running
            .lock()
            .expect("running executions lock")
            .len()
    }
}

impl Drop for Executor {
    fn drop(&mut self) {
        self.shared.shutdown();
    }
}

fn validate_name(name: &str) -> Result<(), StartError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(StartError::InvalidName(name.to_owned()))
    }
}

impl Shared {
    fn execution_arn(&self, name: &str) -> String {
        format!("{}{name}", self.execution_arn_prefix)
    }

    fn start_error(&self, error: String) -> StartError {
        if self.closed.load(Ordering::Acquire) {
            StartError::ShutDown
        } else {
            StartError::Journal(error)
        }
    }

    fn shutdown(&self) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        let running: Vec<Running> = self
            .running
            .lock()
            .expect("running executions lock")
            .drain()
            .map(|(_, running)| running)
            .collect();
        for run in &running {
            run.abort.abort();
        }
        self.journal.close();
    }

    /// Goes on with an execution a previous process left RUNNING.
    async fn resume(self: &Arc<Self>, resume: Resume) -> Result<(), ExecutorError> {
        if let Some(state) = &resume.state
            && self.definition.state(state).is_none()
        {
            let cause = format!(
                "the execution was in state `{state}`, which is no longer in the definition, so \
                 it cannot resume"
            );
            tracing::warn!(execution = %resume.name, %state, "cannot resume execution: state gone");
            let at = micros(Utc::now());
            let mut failed = EventRecord::new(
                resume.next_seq,
                at,
                Kind::Failed,
                Some(Arc::from(state.as_str())),
            );
            failed.error = Some(RUNTIME.into());
            failed.cause = Some(cause.clone());
            let end = End {
                status: ExecutionStatus::Failed,
                output: None,
                error: Some(RUNTIME.into()),
                cause: Some(cause),
                at,
            };
            return self
                .journal
                .finish(resume.id, end, vec![failed])
                .await
                .map_err(ExecutorError::Journal);
        }
        let mut resume = resume;
        let mut resumed = EventRecord::new(
            resume.next_seq,
            micros(Utc::now()),
            Kind::Resumed,
            resume.state.as_deref().map(Arc::from),
        );
        if resume.state.is_none() {
            resumed.state = Some(
                self.definition.states[self.definition.start_at]
                    .name
                    .clone(),
            );
        }
        self.journal.append(resume.id, vec![resumed]);
        resume.next_seq += 1;
        tracing::info!(execution = %resume.name, state = resume.state.as_deref().unwrap_or_default(), "execution resumed");
        self.launch(resume)
    }

    /// Spawns the run of an execution from a resume point.
    fn launch(self: &Arc<Self>, resume: Resume) -> Result<(), ExecutorError> {
        let parse = |text: &str| {
            serde_json::from_str::<Value>(text).map_err(|error| {
                ExecutorError::Journal(format!("corrupt JSON in the journal: {error}"))
            })
        };
        let execution_input = Arc::new(parse(&resume.input)?);
        let state_input = match &resume.state_input {
            Some(text) => parse(text)?,
            None => (*execution_input).clone(),
        };
        let state = match &resume.state {
            Some(state) => self.definition.state(state).ok_or_else(|| {
                ExecutorError::Journal(format!("state `{state}` is not in the definition"))
            })?,
            None => self.definition.start_at,
        };
        let run = Run {
            shared: self.clone(),
            id: resume.id,
            name: resume.name,
            execution_input,
            started_at: from_micros(resume.started_at),
            redriven_at: resume.redriven_at.map(from_micros),
            redrive_count: resume.redrive_count,
            next_seq: AtomicI64::new(resume.next_seq),
        };
        self.spawn(run, state, state_input, from_micros(resume.entered_at));
        Ok(())
    }

    fn spawn(self: &Arc<Self>, run: Run, state: usize, input: Value, entered_at: DateTime<Utc>) {
        let generation = self.generation.fetch_add(1, Ordering::Relaxed);
        let (done_tx, done) = watch::channel(false);
        let name = run.name.clone();
        // Held across the spawn so the task cannot finish and deregister before it is
        // registered.
        let mut running = self.running.lock().expect("running executions lock");
        if self.closed.load(Ordering::Acquire) {
            return;
        }
        let handle = tokio::spawn(run.run(state, input, entered_at, generation, done_tx));
        running.insert(
            name,
            Running {
                generation,
                abort: handle.abort_handle(),
                done,
            },
        );
    }
}

/// An error raised while running a state.
#[derive(Debug)]
struct StateError {
    error: String,
    cause: String,
}

impl StateError {
    fn new(error: &str, cause: String) -> Self {
        Self {
            error: error.to_owned(),
            cause,
        }
    }

    fn runtime(cause: String) -> Self {
        Self::new(RUNTIME, cause)
    }
}

impl From<TaskFailure> for StateError {
    fn from(failure: TaskFailure) -> Self {
        Self {
            error: failure.error,
            cause: failure.cause,
        }
    }
}

/// How a state ended.
enum Step {
    Next(usize, Value),
    End(Value),
}

/// The states being run: the definition's, or an ItemProcessor's for one iteration.
#[derive(Clone, Copy)]
struct Scope<'a> {
    states: &'a [State],
    /// `None` at the top level; in an iteration, what its states' history rows are prefixed
    /// with (`RefundOrders[3]/`).
    path: Option<&'a str>,
}

impl Scope<'_> {
    /// How history rows name `state`, a state of this scope.
    fn name(&self, state: &State) -> Arc<str> {
        match self.path {
            None => state.name.clone(),
            Some(path) => Arc::from(format!("{path}{}", state.name)),
        }
    }
}

/// How an iteration ended: its output, or its error (with its input as JSON text in
/// DISTRIBUTED mode).
type IterationOutcome = Result<Value, (StateError, Option<String>)>;

/// What Retry and Catch wrap.
#[derive(Clone, Copy)]
enum Retried<'a> {
    Task(&'a Task),
    Map(&'a MapState),
}

impl<'a> Retried<'a> {
    fn handlers(self) -> (&'a [Retrier], &'a [Catcher]) {
        match self {
            Retried::Task(task) => (&task.retry, &task.catch),
            Retried::Map(map) => (&map.retry, &map.catch),
        }
    }

    fn output(self) -> (&'a Io, &'a ResultTarget, Transition) {
        match self {
            Retried::Task(task) => (&task.io, &task.result_path, task.transition),
            Retried::Map(map) => (&map.io, &map.result_path, map.transition),
        }
    }
}

/// Which tolerance `failures` of `total` items exceed, if any.
fn exceeded(map: &MapState, failures: usize, total: usize) -> Option<String> {
    let count = map.tolerated_failure_count;
    let percentage = map.tolerated_failure_percentage;
    if let Some(count) = count
        && failures as u64 > count
    {
        return Some(format!("ToleratedFailureCount of {count}"));
    }
    if let Some(percentage) = percentage
        && failures as f64 * 100.0 > percentage * total as f64
    {
        return Some(format!("ToleratedFailurePercentage of {percentage}%"));
    }
    (count.is_none() && percentage.is_none() && failures > 0).then(|| {
        "tolerance of no failure (it has neither ToleratedFailureCount nor \
         ToleratedFailurePercentage)"
            .to_owned()
    })
}

/// States.DataLimitExceeded when `output` is over [`MAX_PAYLOAD_BYTES`] as JSON.
fn within_payload_limit(state: &State, output: &Value) -> Result<(), StateError> {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0 += bytes.len();
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    serde_json::to_writer(&mut count, output)
        .map_err(|error| StateError::runtime(error.to_string()))?;
    if count.0 > MAX_PAYLOAD_BYTES {
        return Err(StateError::new(
            DATA_LIMIT,
            format!(
                "the output of state `{}` is {} bytes, over the {MAX_PAYLOAD_BYTES}-byte limit",
                state.name, count.0
            ),
        ));
    }
    Ok(())
}

/// How an execution ended.
enum Outcome {
    Succeeded(Value),
    /// Error and cause are optional: a Fail state may give neither.
    Failed {
        error: Option<String>,
        cause: Option<String>,
    },
    TimedOut,
}

/// One execution being run.
struct Run {
    shared: Arc<Shared>,
    id: i64,
    name: String,
    execution_input: Arc<Value>,
    started_at: DateTime<Utc>,
    redriven_at: Option<DateTime<Utc>>,
    redrive_count: u32,
    next_seq: AtomicI64,
}

impl Run {
    async fn run(
        mut self,
        state: usize,
        input: Value,
        entered_at: DateTime<Utc>,
        generation: u64,
        done: watch::Sender<bool>,
    ) {
        let mut current = state;
        let deadline = self.deadline();
        let outcome = match deadline {
            Some(deadline) => {
                match tokio::time::timeout_at(deadline, self.drive(&mut current, input, entered_at))
                    .await
                {
                    Ok(outcome) => outcome,
                    Err(_) => Outcome::TimedOut,
                }
            }
            None => self.drive(&mut current, input, entered_at).await,
        };
        self.finish(current, outcome).await;
        let shared = self.shared.clone();
        {
            let mut running = shared.running.lock().expect("running executions lock");
            if running
                .get(&self.name)
                .is_some_and(|running| running.generation == generation)
            {
                running.remove(&self.name);
            }
        }
        let _ = done.send(true);
    }

    /// When the definition's TimeoutSeconds runs out (counted from the start or the last
    /// redrive, across restarts).
    fn deadline(&self) -> Option<Instant> {
        let seconds = self.shared.definition.timeout_seconds? as f64;
        let base = self.redriven_at.unwrap_or(self.started_at);
        let limit = Duration::try_from_secs_f64(seconds * self.shared.options.timeout_scale)
            .unwrap_or(Duration::MAX);
        let elapsed = (Utc::now() - base).to_std().unwrap_or_default();
        Some(Instant::now() + limit.saturating_sub(elapsed))
    }

    /// The next history sequence number. Atomic: the iterations of a Map journal their
    /// retries and catches concurrently.
    fn seq(&self) -> i64 {
        self.next_seq.fetch_add(1, Ordering::Relaxed)
    }

    /// A history row about the state `name` (see [`Scope::name`]).
    fn event(&self, kind: Kind, name: Arc<str>) -> EventRecord {
        let seq = self.seq();
        EventRecord::new(seq, micros(Utc::now()), kind, Some(name))
    }

    /// Runs states from `current` until the execution ends; `current` follows along, so a
    /// timeout knows where it struck.
    async fn drive(
        &mut self,
        current: &mut usize,
        mut input: Value,
        mut entered_at: DateTime<Utc>,
    ) -> Outcome {
        let shared = self.shared.clone();
        let scope = Scope {
            states: &shared.definition.states,
            path: None,
        };
        loop {
            let state = &shared.definition.states[*current];
            if let StateKind::Fail(fail) = &state.kind {
                let (error, cause) = match self.fail(fail, &input, state, entered_at) {
                    Ok(fields) => fields,
                    Err(error) => (Some(error.error), Some(error.cause)),
                };
                return Outcome::Failed { error, cause };
            }
            let step = self.step(scope, state, input, entered_at).await;
            match step {
                Ok(Step::Next(next, output)) => {
                    let data = match serde_json::to_string(&output) {
                        Ok(data) if data.len() <= MAX_PAYLOAD_BYTES => data,
                        Ok(data) => return data_limit(state, data.len()),
                        Err(error) => {
                            return Outcome::Failed {
                                error: Some(RUNTIME.into()),
                                cause: Some(error.to_string()),
                            };
                        }
                    };
                    let next_state = &shared.definition.states[next];
                    let mut entered = self.event(Kind::Entered, next_state.name.clone());
                    entered.exited = Some(state.name.clone());
                    entered.data = Some(data);
                    entered_at = from_micros(entered.at);
                    self.shared.journal.append(self.id, vec![entered]);
                    *current = next;
                    input = output;
                }
                Ok(Step::End(output)) => return Outcome::Succeeded(output),
                Err(error) => {
                    // An empty error or cause is none: an iteration that ended in a Fail
                    // state without Error or Cause fails its INLINE Map with empty ones.
                    return Outcome::Failed {
                        error: Some(error.error).filter(|error| !error.is_empty()),
                        cause: Some(error.cause).filter(|cause| !cause.is_empty()),
                    };
                }
            }
        }
    }

    /// Records how the execution ended and waits until that is committed.
    async fn finish(&mut self, current: usize, outcome: Outcome) {
        let shared = self.shared.clone();
        let state = &shared.definition.states[current];
        let at = micros(Utc::now());
        let outcome = match outcome {
            Outcome::Succeeded(output) => match serde_json::to_string(&output) {
                Ok(text) if text.len() <= MAX_PAYLOAD_BYTES => Ok(text),
                Ok(text) => Err(data_limit(state, text.len())),
                Err(error) => Err(Outcome::Failed {
                    error: Some(RUNTIME.into()),
                    cause: Some(error.to_string()),
                }),
            },
            other => Err(other),
        };
        let (end, events) = match outcome {
            Ok(output) => {
                let mut succeeded = self.event(Kind::Succeeded, state.name.clone());
                succeeded.exited = succeeded.state.take();
                tracing::info!(execution = %self.name, "execution succeeded");
                let end = End {
                    status: ExecutionStatus::Succeeded,
                    output: Some(output),
                    error: None,
                    cause: None,
                    at,
                };
                (end, vec![succeeded])
            }
            Err(Outcome::Failed { error, cause }) => {
                tracing::info!(
                    execution = %self.name,
                    state = %state.name,
                    error = error.as_deref().unwrap_or_default(),
                    cause = cause.as_deref().unwrap_or_default(),
                    "execution failed"
                );
                let mut failed = self.event(Kind::Failed, state.name.clone());
                failed.error = error.clone();
                failed.cause = cause.clone();
                let end = End {
                    status: ExecutionStatus::Failed,
                    output: None,
                    error,
                    cause,
                    at,
                };
                (end, vec![failed])
            }
            Err(_) => {
                let seconds = shared.definition.timeout_seconds.unwrap_or_default();
                let cause = format!(
                    "the execution ran longer than its TimeoutSeconds ({seconds} s) and stopped \
                     in state `{}`",
                    state.name
                );
                tracing::info!(execution = %self.name, state = %state.name, "execution timed out");
                let mut timed_out = self.event(Kind::TimedOut, state.name.clone());
                timed_out.error = Some(TIMEOUT.into());
                timed_out.cause = Some(cause.clone());
                let end = End {
                    status: ExecutionStatus::TimedOut,
                    output: None,
                    error: Some(TIMEOUT.into()),
                    cause: Some(cause),
                    at,
                };
                (end, vec![timed_out])
            }
        };
        if let Err(error) = shared.journal.finish(self.id, end, events).await {
            tracing::error!(execution = %self.name, %error, "cannot record the end of the execution");
        }
    }

    /// The context object (`$$`), built only for states whose paths read it.
    fn context(&self, state: &State, entered_at: DateTime<Utc>, retry_count: u32) -> Value {
        let shared = &self.shared;
        let mut execution = json!({
            "Id": shared.execution_arn(&self.name),
            "Name": self.name,
            "Input": *self.execution_input,
            "StartTime": self.started_at.to_rfc3339_opts(SecondsFormat::Millis, true),
            "RoleArn": "arn:aws:iam::000000000000:role/local",
            "RedriveCount": self.redrive_count,
        });
        if let Some(redriven_at) = self.redriven_at {
            execution["RedriveTime"] =
                json!(redriven_at.to_rfc3339_opts(SecondsFormat::Millis, true));
        }
        json!({
            "Execution": execution,
            "State": {
                "Name": &*state.name,
                "EnteredTime": entered_at.to_rfc3339_opts(SecondsFormat::Millis, true),
                "RetryCount": retry_count,
            },
            "StateMachine": {
                "Id": shared.options.state_machine_arn,
                "Name": shared.state_machine_name,
            },
        })
    }

    /// Runs one state (not a top-level Fail, which `drive` ends the execution with).
    async fn step(
        &self,
        scope: Scope<'_>,
        state: &State,
        input: Value,
        entered_at: DateTime<Utc>,
    ) -> Result<Step, StateError> {
        match &state.kind {
            StateKind::Task(task) => {
                self.retrying(scope, state, Retried::Task(task), input, entered_at)
                    .await
            }
            StateKind::Map(map) => {
                self.retrying(scope, state, Retried::Map(map), input, entered_at)
                    .await
            }
            StateKind::Pass(pass) => self.pass(state, pass, input, entered_at),
            StateKind::Choice(choice) => self.choice(state, choice, input, entered_at),
            StateKind::Wait(wait) => self.wait(state, wait, input, entered_at).await,
            StateKind::Succeed(io) => succeed(io, input).map(Step::End),
            StateKind::Fail(fail) => {
                // Inside an iteration: the iteration fails with the Fail state's error.
                let (error, cause) = self.fail(fail, &input, state, entered_at)?;
                Err(StateError {
                    error: error.unwrap_or_default(),
                    cause: cause.unwrap_or_default(),
                })
            }
        }
    }

    /// A Task or a Map with its Retry and Catch: attempts until one succeeds, no retrier
    /// matches or its attempts are spent, then the first matching catcher decides. Failures,
    /// retries and catches are journaled as history rows (not transitions).
    async fn retrying(
        &self,
        scope: Scope<'_>,
        state: &State,
        retried: Retried<'_>,
        raw: Value,
        entered_at: DateTime<Utc>,
    ) -> Result<Step, StateError> {
        let (retry, catch) = retried.handlers();
        let mut retrier_counts = vec![0u32; retry.len()];
        let mut retries = 0u32;
        let name = scope.name(state);
        loop {
            let attempt = match retried {
                Retried::Task(task) => {
                    let uses_context = task.payload.uses_context()
                        || task
                            .result_selector
                            .as_ref()
                            .is_some_and(|selector| selector.uses_context());
                    let context = if uses_context {
                        self.context(state, entered_at, retries)
                    } else {
                        Value::Null
                    };
                    self.attempt(state, task, &raw, &context).await
                }
                Retried::Map(map) => {
                    self.map_attempt(scope, state, map, &raw, entered_at, retries)
                        .await
                }
            };
            let (io, result_path, transition) = retried.output();
            let error = match attempt {
                Ok(result) => match result_path.check(&raw) {
                    Ok(()) => {
                        let output = result_path.apply(raw, result);
                        let output = io
                            .output
                            .select_owned(output)
                            .map_err(|path| missing_output(state, path))?;
                        return Ok(next_step(transition, output));
                    }
                    Err(cause) => StateError::new(RESULT_PATH, cause),
                },
                Err(error) => error,
            };
            if error.error == RUNTIME {
                return Err(error);
            }
            let mut failed = self.event(Kind::TaskFailed, name.clone());
            failed.error = Some(error.error.clone());
            failed.cause = Some(error.cause.clone());
            failed.count = Some(i64::from(retries) + 1);
            let mut events = vec![failed];

            // The first retrier that names the error decides, exhausted or not.
            let retrier = retry
                .iter()
                .position(|retrier| error_matches(&retrier.errors, &error.error));
            if let Some(index) = retrier
                && retrier_counts[index] < retry[index].max_attempts
            {
                let policy = &retry[index];
                let seconds = retry_delay_seconds(
                    policy.interval_seconds,
                    policy.backoff_rate,
                    policy.max_delay_seconds,
                    retrier_counts[index],
                    policy.jitter,
                    rand::random::<f64>(),
                );
                retrier_counts[index] += 1;
                retries += 1;
                let mut scheduled = self.event(Kind::RetryScheduled, name.clone());
                scheduled.count = Some(i64::from(retries));
                scheduled.extra = Some(index as i64);
                scheduled.delay = Some(seconds);
                events.push(scheduled);
                self.shared.journal.append(self.id, events);
                tracing::debug!(
                    execution = %self.name,
                    state = %name,
                    error = %error.error,
                    retry = retries,
                    delay_seconds = seconds,
                    "retrying state"
                );
                let wait = retry::scaled(seconds, self.shared.options.time_scale);
                if !wait.is_zero() {
                    tokio::time::sleep(wait).await;
                }
                continue;
            }

            let catcher = catch
                .iter()
                .find(|catcher| error_matches(&catcher.errors, &error.error));
            let Some(catcher) = catcher else {
                self.shared.journal.append(self.id, events);
                return Err(error);
            };
            if let Err(cause) = catcher.result_path.check(&raw) {
                self.shared.journal.append(self.id, events);
                return Err(StateError::new(RESULT_PATH, cause));
            }
            let mut caught = self.event(Kind::ErrorCaught, name.clone());
            caught.error = Some(error.error.clone());
            caught.target = Some(scope.name(&scope.states[catcher.next]));
            events.push(caught);
            self.shared.journal.append(self.id, events);
            let error_output = json!({"Error": error.error, "Cause": error.cause});
            return Ok(Step::Next(
                catcher.next,
                catcher.result_path.apply(raw, error_output),
            ));
        }
    }

    /// One run of a Map state: InputPath, ItemsPath, ItemSelector, every iteration, then
    /// ResultSelector. The result is the iterations' outputs in item order.
    ///
    /// The iterations run as futures of this execution's task (so the execution's timeout, a
    /// shutdown or an INLINE failure stops them all), at most MaxConcurrency at once (0: no
    /// limit), started in item order. Their state transitions are not journaled: the
    /// execution stays in the Map state, and a restart runs the Map again from its input.
    /// Inside them `$$` is the execution's context object, its State the inner state (on AWS
    /// a DISTRIBUTED iteration is a child execution, with an Execution of its own).
    ///
    /// - INLINE: the first iteration to fail fails the Map with its error and cause; nothing
    ///   more is started and the iterations still running are stopped. The Map's Retry then
    ///   runs every iteration again; its Catch sees that error.
    /// - DISTRIBUTED (each iteration a child workflow on AWS): a failed iteration is counted
    ///   and the others go on. Once the failures exceed ToleratedFailureCount or
    ///   ToleratedFailurePercentage of the items (either, when both are given; with neither,
    ///   no failure is tolerated), the Map fails with States.ExceedToleratedFailureThreshold
    ///   and the iterations still running are stopped. Otherwise it succeeds, and a failed
    ///   item's place in the output holds what AWS returns for a failed child execution
    ///   without a ResultWriter, reduced to what exists here:
    ///   `{"Error": ..., "Cause": ..., "Input": "<the iteration's input as JSON text>",
    ///   "Status": "FAILED"}`.
    async fn map_attempt(
        &self,
        scope: Scope<'_>,
        state: &State,
        map: &MapState,
        raw: &Value,
        entered_at: DateTime<Utc>,
        retries: u32,
    ) -> Result<Value, StateError> {
        let effective = map
            .io
            .input
            .select(raw)
            .map_err(|path| missing_input(state, path))?;
        let selected = match &map.items_path {
            None => Cow::Borrowed(effective.as_ref()),
            Some(query) => query.select(&effective, &Value::Null).ok_or_else(|| {
                StateError::runtime(format!(
                    "Invalid path `{}` in the ItemsPath of state `{}`: it selects nothing in \
                     the input",
                    query.text(),
                    state.name
                ))
            })?,
        };
        // AWS also iterates over an object's key-value pairs; the local executor takes arrays.
        let Value::Array(items) = selected.as_ref() else {
            return Err(StateError::runtime(format!(
                "the ItemsPath `{}` of state `{}` selects {}, not an array",
                map.items_path.as_ref().map_or("$", |query| query.text()),
                state.name,
                describe(&selected)
            )));
        };
        let inputs: Vec<Value> = match &map.item_selector {
            None => items.clone(),
            Some(selector) => {
                // `$` is the Map's effective input; the context object gains Map.Item.
                let uses_context = selector.uses_context();
                let mut context = if uses_context {
                    self.context(state, entered_at, retries)
                } else {
                    Value::Null
                };
                let mut inputs = Vec::with_capacity(items.len());
                for (index, item) in items.iter().enumerate() {
                    if uses_context {
                        context["Map"] = json!({"Item": {"Index": index, "Value": item}});
                    }
                    inputs.push(
                        selector
                            .apply(&effective, &context)
                            .map_err(|missing| missing_field(state, "ItemSelector", &missing))?,
                    );
                }
                inputs
            }
        };

        let total = inputs.len();
        let limit = match usize::try_from(map.max_concurrency) {
            Ok(0) | Err(_) => usize::MAX,
            Ok(limit) => limit,
        };
        let distributed = map.processor.mode == ProcessorMode::Distributed;
        let mut outputs = vec![Value::Null; total];
        let mut failures = 0usize;
        let mut first_failure: Option<StateError> = None;
        let mut pending = inputs.into_iter().enumerate();
        let mut running = FuturesUnordered::new();
        loop {
            while running.len() < limit {
                let Some((index, input)) = pending.next() else {
                    break;
                };
                running.push(self.iteration(scope, state, map, index, input, distributed));
            }
            // Dropping `running` (an early return) stops the iterations still running.
            let Some((index, outcome)) = running.next().await else {
                break;
            };
            match outcome {
                Ok(output) => outputs[index] = output,
                Err((error, _)) if !distributed => return Err(error),
                Err((error, input_text)) => {
                    failures += 1;
                    outputs[index] = json!({
                        "Error": error.error,
                        "Cause": error.cause,
                        "Input": input_text,
                        "Status": "FAILED",
                    });
                    let first = first_failure.get_or_insert(error);
                    if let Some(threshold) = exceeded(map, failures, total) {
                        return Err(StateError::new(
                            TOLERATED_FAILURE,
                            format!(
                                "{failures} of the {total} iterations of Map state `{}` failed, \
                                 over its {threshold}; the first failure: {}: {}",
                                state.name, first.error, first.cause
                            ),
                        ));
                    }
                }
            }
        }
        let result = Value::Array(outputs);
        match &map.result_selector {
            Some(selector) => {
                let context = if selector.uses_context() {
                    self.context(state, entered_at, retries)
                } else {
                    Value::Null
                };
                selector
                    .apply(&result, &context)
                    .map_err(|missing| missing_field(state, "ResultSelector", &missing))
            }
            None => Ok(result),
        }
    }

    /// Iteration `index` of a Map: its ItemProcessor run on `input`. A failure carries the
    /// input as JSON text when `distributed` (for the failed item's place in the output).
    fn iteration<'a>(
        &'a self,
        scope: Scope<'a>,
        state: &'a State,
        map: &'a MapState,
        index: usize,
        input: Value,
        distributed: bool,
    ) -> BoxFuture<'a, (usize, IterationOutcome)> {
        Box::pin(async move {
            let input_text = distributed.then(|| input.to_string());
            // History rows of an iteration's states name them `<Map>[<index>]/<state>`.
            let path = format!("{}[{index}]/", scope.name(state));
            let inner = Scope {
                states: &map.processor.states,
                path: Some(&path),
            };
            let outcome = self
                .run_processor(inner, map.processor.start_at, input)
                .await
                .map_err(|error| (error, input_text));
            (index, outcome)
        })
    }

    /// Runs the states of an ItemProcessor from `at` until one ends the iteration. No
    /// transition is journaled; every state's output is held to the payload limit.
    async fn run_processor(
        &self,
        scope: Scope<'_>,
        mut at: usize,
        mut input: Value,
    ) -> Result<Value, StateError> {
        let mut entered_at = Utc::now();
        loop {
            let state = &scope.states[at];
            match self.step(scope, state, input, entered_at).await? {
                Step::Next(next, output) => {
                    within_payload_limit(state, &output)?;
                    at = next;
                    input = output;
                    entered_at = Utc::now();
                }
                Step::End(output) => {
                    within_payload_limit(state, &output)?;
                    return Ok(output);
                }
            }
        }
    }

    /// One invocation: InputPath, the payload, the call (with TimeoutSeconds), ResultSelector.
    async fn attempt(
        &self,
        state: &State,
        task: &Task,
        raw: &Value,
        context: &Value,
    ) -> Result<Value, StateError> {
        let payload = {
            let effective = task
                .io
                .input
                .select(raw)
                .map_err(|path| missing_input(state, path))?;
            task.payload
                .apply(&effective, context)
                .map_err(|missing| missing_field(state, "Parameters", &missing))?
        };
        let call = AssertUnwindSafe(task.function.invoke(payload)).catch_unwind();
        let returned = match task.timeout_seconds {
            Some(seconds) => {
                let limit =
                    Duration::try_from_secs_f64(seconds as f64 * self.shared.options.timeout_scale)
                        .unwrap_or(Duration::MAX);
                match tokio::time::timeout(limit, call).await {
                    Ok(returned) => returned,
                    Err(_) => {
                        return Err(StateError::new(
                            TIMEOUT,
                            format!(
                                "the task did not finish within its TimeoutSeconds ({seconds} s)"
                            ),
                        ));
                    }
                }
            }
            None => call.await,
        };
        let output = match returned {
            Ok(result) => result?,
            Err(panic) => {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                tracing::error!(execution = %self.name, state = %state.name, %message, "task function panicked");
                return Err(StateError::new(
                    "Lambda.Unknown",
                    format!("the function panicked: {message}"),
                ));
            }
        };
        let result = lambda_invoke_result(output);
        match &task.result_selector {
            Some(selector) => selector
                .apply(&result, context)
                .map_err(|missing| missing_field(state, "ResultSelector", &missing)),
            None => Ok(result),
        }
    }

    fn pass(
        &self,
        state: &State,
        pass: &Pass,
        raw: Value,
        entered_at: DateTime<Utc>,
    ) -> Result<Step, StateError> {
        let result = {
            let effective = pass
                .io
                .input
                .select(&raw)
                .map_err(|path| missing_input(state, path))?;
            match (&pass.result, &pass.parameters) {
                (Some(result), _) => result.clone(),
                (None, Some(parameters)) => {
                    let context = if parameters.uses_context() {
                        self.context(state, entered_at, 0)
                    } else {
                        Value::Null
                    };
                    parameters
                        .apply(&effective, &context)
                        .map_err(|missing| missing_field(state, "Parameters", &missing))?
                }
                (None, None) => effective.into_owned(),
            }
        };
        pass.result_path
            .check(&raw)
            .map_err(|cause| StateError::new(RESULT_PATH, cause))?;
        let output = pass.result_path.apply(raw, result);
        let output = pass
            .io
            .output
            .select_owned(output)
            .map_err(|path| missing_output(state, path))?;
        Ok(next_step(pass.transition, output))
    }

    fn choice(
        &self,
        state: &State,
        choice: &Choice,
        raw: Value,
        entered_at: DateTime<Utc>,
    ) -> Result<Step, StateError> {
        let effective = choice
            .io
            .input
            .select_owned(raw)
            .map_err(|path| missing_input(state, path))?;
        let context = if choice.uses_context {
            self.context(state, entered_at, 0)
        } else {
            Value::Null
        };
        let mut target = None;
        for (rule, next) in &choice.choices {
            let matched = rule.eval(&effective, &context).map_err(|missing| {
                StateError::runtime(format!(
                    "Invalid path `{}`: the choice state `{}` could not find it in its input",
                    missing.0, state.name
                ))
            })?;
            if matched {
                target = Some(*next);
                break;
            }
        }
        let Some(next) = target.or(choice.default) else {
            return Err(StateError::new(
                NO_CHOICE,
                format!(
                    "no Choice Rule of state `{}` matched and it has no Default",
                    state.name
                ),
            ));
        };
        let output = choice
            .io
            .output
            .select_owned(effective)
            .map_err(|path| missing_output(state, path))?;
        Ok(Step::Next(next, output))
    }

    async fn wait(
        &self,
        state: &State,
        wait: &Wait,
        raw: Value,
        entered_at: DateTime<Utc>,
    ) -> Result<Step, StateError> {
        let effective = wait
            .io
            .input
            .select_owned(raw)
            .map_err(|path| missing_input(state, path))?;
        let read = |query: &super::path::Query| -> Result<Value, StateError> {
            let context = if query.uses_context() {
                self.context(state, entered_at, 0)
            } else {
                Value::Null
            };
            query
                .select(&effective, &context)
                .map(Cow::into_owned)
                .ok_or_else(|| {
                    StateError::runtime(format!(
                        "Invalid path `{}`: the wait state `{}` could not find it in its input",
                        query.text(),
                        state.name
                    ))
                })
        };
        // Seconds from when the state was entered (so a resumed Wait only waits the rest).
        let seconds = match &wait.until {
            WaitFor::Seconds(seconds) => *seconds as f64,
            WaitFor::SecondsPath(query) => match read(query)?.as_u64() {
                Some(seconds) => seconds as f64,
                None => {
                    return Err(StateError::runtime(format!(
                        "the value at SecondsPath `{}` of state `{}` is not a non-negative integer",
                        query.text(),
                        state.name
                    )));
                }
            },
            WaitFor::Timestamp(at) => seconds_until(entered_at, at.with_timezone(&Utc)),
            WaitFor::TimestampPath(query) => {
                let value = read(query)?;
                match value.as_str().and_then(super::choice::parse_timestamp) {
                    Some(at) => seconds_until(entered_at, at.with_timezone(&Utc)),
                    None => {
                        return Err(StateError::runtime(format!(
                            "the value at TimestampPath `{}` of state `{}` is not an RFC 3339 \
                             timestamp",
                            query.text(),
                            state.name
                        )));
                    }
                }
            }
        };
        let wait_for = retry::scaled(seconds, self.shared.options.time_scale);
        let waited = (Utc::now() - entered_at).to_std().unwrap_or_default();
        let remaining = wait_for.saturating_sub(waited);
        if !remaining.is_zero() {
            tokio::time::sleep(remaining).await;
        }
        let output = wait
            .io
            .output
            .select_owned(effective)
            .map_err(|path| missing_output(state, path))?;
        Ok(next_step(wait.transition, output))
    }

    /// A Fail state's error and cause.
    #[allow(clippy::type_complexity)]
    fn fail(
        &self,
        fail: &Fail,
        raw: &Value,
        state: &State,
        entered_at: DateTime<Utc>,
    ) -> Result<(Option<String>, Option<String>), StateError> {
        let read = |source: &Option<Source>, field: &str| -> Result<Option<String>, StateError> {
            match source {
                None => Ok(None),
                Some(Source::Literal(text)) => Ok(Some(text.clone())),
                Some(Source::Path(query)) => {
                    let context = if query.uses_context() {
                        self.context(state, entered_at, 0)
                    } else {
                        Value::Null
                    };
                    match query.select(raw, &context).as_deref() {
                        Some(Value::String(text)) => Ok(Some(text.clone())),
                        Some(_) => Err(StateError::runtime(format!(
                            "the value at {field}Path `{}` of state `{}` is not a string",
                            query.text(),
                            state.name
                        ))),
                        None => Err(StateError::runtime(format!(
                            "Invalid path `{}`: the fail state `{}` could not find it in its input",
                            query.text(),
                            state.name
                        ))),
                    }
                }
            }
        };
        Ok((read(&fail.error, "Error")?, read(&fail.cause, "Cause")?))
    }
}

fn succeed(io: &Io, raw: Value) -> Result<Value, StateError> {
    let effective = io.input.select_owned(raw).map_err(|path| {
        StateError::runtime(format!(
            "Invalid path `{path}` in InputPath: it selects nothing"
        ))
    })?;
    io.output.select_owned(effective).map_err(|path| {
        StateError::runtime(format!(
            "Invalid path `{path}` in OutputPath: it selects nothing"
        ))
    })
}

fn next_step(transition: Transition, output: Value) -> Step {
    match transition {
        Transition::Next(next) => Step::Next(next, output),
        Transition::End => Step::End(output),
    }
}

fn seconds_until(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    ((to - from).num_milliseconds().max(0) as f64) / 1000.0
}

fn data_limit(state: &State, bytes: usize) -> Outcome {
    Outcome::Failed {
        error: Some(DATA_LIMIT.into()),
        cause: Some(format!(
            "the output of state `{}` is {bytes} bytes, over the {MAX_PAYLOAD_BYTES}-byte limit",
            state.name
        )),
    }
}

fn missing_input(state: &State, path: &str) -> StateError {
    StateError::runtime(format!(
        "Invalid path `{path}` in the InputPath of state `{}`: it selects nothing in the input",
        state.name
    ))
}

fn missing_output(state: &State, path: &str) -> StateError {
    StateError::runtime(format!(
        "Invalid path `{path}` in the OutputPath of state `{}`: it selects nothing in the output",
        state.name
    ))
}

fn missing_field(state: &State, field: &str, missing: &MissingPath) -> StateError {
    StateError::runtime(format!(
        "The JSONPath `{}` specified for the field `{}` in the {field} of state `{}` could not be \
         found",
        missing.path, missing.field, state.name
    ))
}

/// What the lambda:invoke integration gives back for a function's output.
fn lambda_invoke_result(payload: Value) -> Value {
    let mut result = Map::new();
    result.insert("ExecutedVersion".into(), Value::String("$LATEST".into()));
    result.insert("Payload".into(), payload);
    result.insert("SdkHttpMetadata".into(), json!({"HttpStatusCode": 200}));
    result.insert("StatusCode".into(), Value::from(200));
    Value::Object(result)
}
