//! Loading a definition: parse the JSON, check it against what the executor runs, and compile
//! it (paths parsed, functions resolved, transitions as indexes). Every problem is collected,
//! each prefixed with where it is (`States.<state>.<field>`), so a definition is refused at
//! load with the whole list, never half-way through an execution.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use chrono::{DateTime, FixedOffset};
use serde_json::{Map, Value};

use super::choice::{Rule, parse_timestamp};
use super::model::{Bindings, TaskFunction};
use super::path::{Query, ReferencePath};
use super::retry::{ALL, JitterStrategy, STATES_ERRORS};
use super::template::Template;

/// The only Resource a Task may have.
pub(crate) const LAMBDA_INVOKE: &str = "arn:aws:states:::lambda:invoke";

/// Largest integer AWS takes in TimeoutSeconds, IntervalSeconds, MaxAttempts, Seconds.
const MAX_INT: u64 = 99_999_999;
/// Longest state name AWS takes.
const MAX_STATE_NAME: usize = 80;

/// Fields of the States Language that this executor does not run (they get a clearer
/// message than a field no state type has).
const UNSUPPORTED_FIELDS: &[&str] = &[
    "Arguments",
    "Assign",
    "Branches",
    "Credentials",
    "HeartbeatSeconds",
    "HeartbeatSecondsPath",
    "ItemBatcher",
    "ItemReader",
    "Items",
    "Label",
    "MaxConcurrencyPath",
    "Output",
    "ResultWriter",
    "TimeoutSecondsPath",
    "ToleratedFailureCountPath",
    "ToleratedFailurePercentagePath",
];

/// The fields a Map state may have (besides Type, Comment and QueryLanguage).
const MAP_FIELDS: &[&str] = &[
    "InputPath",
    "OutputPath",
    "ItemsPath",
    "ItemSelector",
    "ItemProcessor",
    "MaxConcurrency",
    "ToleratedFailurePercentage",
    "ToleratedFailureCount",
    "ResultSelector",
    "ResultPath",
    "Retry",
    "Catch",
    "Next",
    "End",
];

pub(crate) struct Definition {
    pub start_at: usize,
    pub states: Vec<State>,
    pub index: HashMap<String, usize>,
    pub timeout_seconds: Option<u64>,
}

pub(crate) struct State {
    pub name: Arc<str>,
    pub kind: StateKind,
}

pub(crate) enum StateKind {
    Task(Box<Task>),
    Pass(Pass),
    Choice(Choice),
    Wait(Wait),
    Succeed(Io),
    Fail(Fail),
    Map(Box<MapState>),
}

/// InputPath and OutputPath.
pub(crate) struct Io {
    pub input: Selector,
    pub output: Selector,
}

/// What InputPath or OutputPath does.
pub(crate) enum Selector {
    /// `$` (the default).
    Root,
    /// `null`: `{}`.
    Empty,
    Path(Query),
}

/// What ResultPath does.
pub(crate) enum ResultTarget {
    /// `$` (the default): the result is the output.
    Replace,
    /// `null`: the result is dropped; the output is the state's input.
    Discard,
    At(ReferencePath),
}

#[derive(Clone, Copy)]
pub(crate) enum Transition {
    Next(usize),
    End,
}

pub(crate) struct Task {
    pub io: Io,
    pub function: Arc<dyn TaskFunction>,
    pub payload: Template,
    pub result_selector: Option<Template>,
    pub result_path: ResultTarget,
    pub timeout_seconds: Option<u64>,
    pub retry: Vec<Retrier>,
    pub catch: Vec<Catcher>,
    pub transition: Transition,
}

/// A Map state: runs its ItemProcessor once per item of an array.
pub(crate) struct MapState {
    pub io: Io,
    /// ItemsPath, read in the effective input (`None`: `$`, the effective input itself).
    pub items_path: Option<Query>,
    /// Builds each iteration's input from the Map's effective input, with `$$.Map.Item.Index`
    /// and `$$.Map.Item.Value` in the context object (`None`: the item itself).
    pub item_selector: Option<Template>,
    pub processor: Processor,
    /// Most iterations running at once; 0 is no limit.
    pub max_concurrency: u64,
    /// DISTRIBUTED only (refused in INLINE mode, as AWS does).
    pub tolerated_failure_count: Option<u64>,
    pub tolerated_failure_percentage: Option<f64>,
    pub result_selector: Option<Template>,
    pub result_path: ResultTarget,
    pub retry: Vec<Retrier>,
    pub catch: Vec<Catcher>,
    pub transition: Transition,
}

/// A Map's ItemProcessor: a state machine of its own (its states, its StartAt), compiled like
/// the top level. Its transitions index its own `states`.
pub(crate) struct Processor {
    pub mode: ProcessorMode,
    pub start_at: usize,
    pub states: Vec<State>,
}

/// ProcessorConfig.Mode. Both run the iterations in this process, as tasks of the execution;
/// what differs is how failures count (see the engine). ExecutionType (STANDARD or EXPRESS,
/// required with DISTRIBUTED) is checked and changes nothing here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ProcessorMode {
    Inline,
    Distributed,
}

pub(crate) struct Retrier {
    pub errors: Vec<String>,
    pub interval_seconds: u64,
    pub max_attempts: u32,
    pub backoff_rate: f64,
    pub max_delay_seconds: Option<u64>,
    pub jitter: JitterStrategy,
}

pub(crate) struct Catcher {
    pub errors: Vec<String>,
    pub result_path: ResultTarget,
    pub next: usize,
}

pub(crate) struct Pass {
    pub io: Io,
    pub parameters: Option<Template>,
    pub result: Option<Value>,
    pub result_path: ResultTarget,
    pub transition: Transition,
}

pub(crate) struct Choice {
    pub io: Io,
    pub choices: Vec<(Rule, usize)>,
    pub default: Option<usize>,
    pub uses_context: bool,
}

pub(crate) struct Wait {
    pub io: Io,
    pub until: WaitFor,
    pub transition: Transition,
}

pub(crate) enum WaitFor {
    Seconds(u64),
    SecondsPath(Query),
    Timestamp(DateTime<FixedOffset>),
    TimestampPath(Query),
}

pub(crate) struct Fail {
    pub error: Option<Source>,
    pub cause: Option<Source>,
}

/// A Fail state's Error or Cause: given, or read from the input.
pub(crate) enum Source {
    Literal(String),
    Path(Query),
}

impl Selector {
    /// Selects from a value the caller keeps. `Err` carries the path that selected nothing.
    pub(crate) fn select<'a>(&self, value: &'a Value) -> Result<Cow<'a, Value>, &str> {
        match self {
            Selector::Root => Ok(Cow::Borrowed(value)),
            Selector::Empty => Ok(Cow::Owned(Value::Object(Map::new()))),
            Selector::Path(query) => query.select(value, &Value::Null).ok_or(query.text()),
        }
    }

    /// Selects from a value the caller gives up (moves instead of copying).
    pub(crate) fn select_owned(&self, value: Value) -> Result<Value, &str> {
        match self {
            Selector::Root => Ok(value),
            Selector::Empty => Ok(Value::Object(Map::new())),
            Selector::Path(query) => query.select_owned(value).ok_or(query.text()),
        }
    }
}

impl ResultTarget {
    /// Why the result cannot be put into `raw`, if it cannot.
    pub(crate) fn check(&self, raw: &Value) -> Result<(), String> {
        match self {
            ResultTarget::At(path) => path.check(raw),
            _ => Ok(()),
        }
    }

    /// The state's output: `raw` (its input) combined with `result`. Check first.
    pub(crate) fn apply(&self, raw: Value, result: Value) -> Value {
        match self {
            ResultTarget::Replace => result,
            ResultTarget::Discard => raw,
            ResultTarget::At(path) => path.apply(raw, result),
        }
    }
}

impl Definition {
    /// Parses and checks `text` against what runs here and what `bindings` binds.
    pub(crate) fn load(text: &str, bindings: &Bindings) -> Result<Self, Vec<String>> {
        let root: Value = serde_json::from_str(text)
            .map_err(|error| vec![format!("the definition is not valid JSON: {error}")])?;
        let Some(top) = root.as_object() else {
            return Err(vec!["the definition is not a JSON object".into()]);
        };
        let mut loader = Loader::new(bindings, String::new(), HashSet::new());
        for key in top.keys() {
            if key != "States" {
                loader.substitutions(&top[key], &mut vec![key.clone()], false);
            }
            match key.as_str() {
                "StartAt" | "States" | "Comment" | "Version" | "TimeoutSeconds" => {}
                "QueryLanguage" => loader.query_language(&top[key], "QueryLanguage"),
                other => loader.problem(other, "unknown top-level field"),
            }
        }
        loader.comment(top, "Comment");
        match top.get("Version") {
            None => {}
            Some(Value::String(version)) if version == "1.0" => {}
            Some(_) => loader.problem("Version", "only \"1.0\" exists"),
        }
        let timeout_seconds = top
            .get("TimeoutSeconds")
            .and_then(|value| loader.integer(value, "TimeoutSeconds", 1, MAX_INT));
        unique_names(top, "", &mut HashMap::new(), &mut loader.problems);

        let graph = loader.graph(top);
        if let Some((start_at, states)) = graph
            && loader.problems.is_empty()
        {
            return Ok(Definition {
                start_at,
                states,
                index: loader.index,
                timeout_seconds,
            });
        }
        if loader.problems.is_empty() {
            loader
                .problems
                .push("the definition could not be compiled".into());
        }
        Err(loader.problems)
    }

    pub(crate) fn state(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }
}

/// AWS wants every state name unique in the whole state machine, the states of every
/// ItemProcessor included.
fn unique_names(
    machine: &Map<String, Value>,
    prefix: &str,
    seen: &mut HashMap<String, String>,
    problems: &mut Vec<String>,
) {
    let Some(states) = machine.get("States").and_then(Value::as_object) else {
        return;
    };
    for (name, state) in states {
        let location = format!("{prefix}States.{name}");
        match seen.get(name) {
            Some(first) => problems.push(format!(
                "{location}: `{name}` is already the name of {first} (state names are unique in \
                 the whole state machine, ItemProcessors included)"
            )),
            None => {
                seen.insert(name.clone(), location.clone());
            }
        }
        if state.get("Type").and_then(Value::as_str) == Some("Map")
            && let Some(processor) = state.get("ItemProcessor").and_then(Value::as_object)
        {
            unique_names(
                processor,
                &format!("{location}.ItemProcessor."),
                seen,
                problems,
            );
        }
    }
}

struct Loader<'a> {
    bindings: &'a Bindings,
    /// Where the states being compiled are: empty at the top level,
    /// `States.<map>.ItemProcessor.` inside a Map's processor (nested Maps add more).
    prefix: String,
    /// The states of the state machine being compiled (the top level or one ItemProcessor).
    index: HashMap<String, usize>,
    /// The names of the states around an ItemProcessor, which its transitions cannot reach.
    enclosing: HashSet<String>,
    problems: Vec<String>,
}

impl<'a> Loader<'a> {
    fn new(bindings: &'a Bindings, prefix: String, enclosing: HashSet<String>) -> Self {
        Self {
            bindings,
            prefix,
            index: HashMap::new(),
            enclosing,
            problems: Vec::new(),
        }
    }

    fn problem(&mut self, location: &str, message: &str) {
        self.problems.push(format!("{location}: {message}"));
    }

    /// Compiles the `StartAt` and `States` of `machine` (the definition, or an ItemProcessor):
    /// its names indexed, every state compiled, reachability checked. `None` when any of it
    /// could not be compiled (the problems say why).
    fn graph(&mut self, machine: &Map<String, Value>) -> Option<(usize, Vec<State>)> {
        let prefix = self.prefix.clone();
        let Some(states) = machine.get("States").and_then(Value::as_object) else {
            self.problem(&format!("{prefix}States"), "required: an object of states");
            return None;
        };
        if states.is_empty() {
            self.problem(&format!("{prefix}States"), "has no state");
        }
        for (at, name) in states.keys().enumerate() {
            if name.is_empty() || name.chars().count() > MAX_STATE_NAME {
                self.problem(
                    &format!("{prefix}States.{name}"),
                    "a state name has 1 to 80 characters",
                );
            }
            self.index.insert(name.clone(), at);
        }
        let start_at = match machine.get("StartAt") {
            Some(Value::String(name)) => match self.index.get(name) {
                Some(&at) => Some(at),
                None => {
                    let message = if self.enclosing.contains(name) {
                        format!(
                            "`{name}` is outside this ItemProcessor: it starts at one of its own \
                             states"
                        )
                    } else {
                        format!("there is no state named `{name}`")
                    };
                    self.problem(&format!("{prefix}StartAt"), &message);
                    None
                }
            },
            _ => {
                self.problem(
                    &format!("{prefix}StartAt"),
                    "required: the name of the first state",
                );
                None
            }
        };
        let compiled: Vec<Option<State>> = states
            .iter()
            .map(|(name, value)| self.state(name, value))
            .collect();
        let start_at = start_at?;
        if !compiled.iter().all(Option::is_some) {
            return None;
        }
        let states: Vec<State> = compiled.into_iter().flatten().collect();
        self.reachability(&states, start_at);
        Some((start_at, states))
    }

    /// Every `${...}` outside a Task's FunctionName is a substitution nothing here fills in.
    /// `trail` starts at `States.<name>` for a state (`task`: it is a Task).
    fn substitutions(&mut self, value: &Value, trail: &mut Vec<String>, task: bool) {
        match value {
            Value::String(text) if text.contains("${") => {
                let function_name = task
                    && trail.len() == 3
                    && trail[1] == "Parameters"
                    && trail[2] == "FunctionName";
                if !function_name {
                    self.problem(
                        &trail.join("."),
                        &format!(
                            "`{text}`: only a Task's Parameters.FunctionName may hold a \
                             `${{...}}` substitution (bound to a function)"
                        ),
                    );
                }
            }
            Value::Object(map) => {
                for (key, value) in map {
                    trail.push(key.clone());
                    self.substitutions(value, trail, task);
                    trail.pop();
                }
            }
            Value::Array(items) => {
                for (at, item) in items.iter().enumerate() {
                    trail.push(format!("[{at}]"));
                    self.substitutions(item, trail, task);
                    trail.pop();
                }
            }
            _ => {}
        }
    }

    fn query_language(&mut self, value: &Value, location: &str) {
        match value.as_str() {
            Some("JSONPath") => {}
            Some("JSONata") => self.problem(
                location,
                "JSONata is not supported by the local executor (JSONPath only)",
            ),
            _ => self.problem(location, "must be \"JSONPath\""),
        }
    }

    fn comment(&mut self, map: &Map<String, Value>, location: &str) {
        if map.get("Comment").is_some_and(|c| !c.is_string()) {
            self.problem(location, "must be a string");
        }
    }

    fn integer(&mut self, value: &Value, location: &str, min: u64, max: u64) -> Option<u64> {
        match value.as_u64() {
            Some(n) if (min..=max).contains(&n) => Some(n),
            _ => {
                self.problem(location, &format!("must be an integer from {min} to {max}"));
                None
            }
        }
    }

    fn target(&mut self, value: &Value, location: &str) -> Option<usize> {
        match value.as_str() {
            Some(name) => match self.index.get(name) {
                Some(&at) => Some(at),
                None if self.enclosing.contains(name) => {
                    self.problem(
                        location,
                        &format!(
                            "`{name}` is outside this ItemProcessor: a transition inside it \
                             leads to one of its own states (the Map's Next goes on after it)"
                        ),
                    );
                    None
                }
                None => {
                    self.problem(location, &format!("there is no state named `{name}`"));
                    None
                }
            },
            None => {
                self.problem(location, "must be the name of a state");
                None
            }
        }
    }

    fn state(&mut self, name: &str, value: &Value) -> Option<State> {
        let location = format!("{}States.{name}", self.prefix);
        let Some(map) = value.as_object() else {
            self.problem(&location, "a state is an object");
            return None;
        };
        let Some(kind) = map.get("Type").and_then(Value::as_str) else {
            self.problem(&format!("{location}.Type"), "required: the state's type");
            return None;
        };
        let allowed: &[&str] = match kind {
            "Task" => &[
                "InputPath",
                "OutputPath",
                "Parameters",
                "ResultSelector",
                "ResultPath",
                "Retry",
                "Catch",
                "Next",
                "End",
                "Resource",
                "TimeoutSeconds",
            ],
            "Pass" => &[
                "InputPath",
                "OutputPath",
                "Parameters",
                "Result",
                "ResultPath",
                "Next",
                "End",
            ],
            "Choice" => &["InputPath", "OutputPath", "Choices", "Default"],
            "Wait" => &[
                "InputPath",
                "OutputPath",
                "Seconds",
                "SecondsPath",
                "Timestamp",
                "TimestampPath",
                "Next",
                "End",
            ],
            "Succeed" => &["InputPath", "OutputPath"],
            "Fail" => &["Error", "ErrorPath", "Cause", "CausePath"],
            "Map" => MAP_FIELDS,
            "Parallel" => {
                self.problem(
                    &format!("{location}.Type"),
                    &format!("{kind} states are not supported by the local executor"),
                );
                return None;
            }
            other => {
                self.problem(
                    &format!("{location}.Type"),
                    &format!("unknown state type `{other}`"),
                );
                return None;
            }
        };
        let before = self.problems.len();
        if kind == "Map" {
            // The processor's states are checked as states (a Task in it may bind a function).
            for (key, field) in map {
                let mut trail = vec![format!("{location}.{key}")];
                match (key.as_str(), field) {
                    ("ItemProcessor", Value::Object(processor)) => {
                        for (key, field) in processor.iter().filter(|(key, _)| *key != "States") {
                            trail.push(key.clone());
                            self.substitutions(field, &mut trail, false);
                            trail.pop();
                        }
                    }
                    _ => self.substitutions(field, &mut trail, false),
                }
            }
        } else {
            self.substitutions(value, &mut vec![location.clone()], kind == "Task");
        }
        for key in map.keys() {
            let here = format!("{location}.{key}");
            match key.as_str() {
                "Type" | "Comment" => {}
                "QueryLanguage" => self.query_language(&map[key], &here),
                key if allowed.contains(&key) => {}
                "Iterator" if kind == "Map" => self.problem(
                    &here,
                    "the legacy Iterator is not supported by the local executor: use \
                     ItemProcessor (same StartAt and States)",
                ),
                "Parameters" if kind == "Map" => self.problem(
                    &here,
                    "the legacy Parameters of a Map is not supported by the local executor: use \
                     ItemSelector",
                ),
                key if UNSUPPORTED_FIELDS.contains(&key) => {
                    let hint = match key {
                        "ItemReader" if kind == "Map" => {
                            " (the items come from ItemsPath, in the state's input)"
                        }
                        "ItemBatcher" if kind == "Map" => " (each iteration gets one item)",
                        "ResultWriter" if kind == "Map" => " (the results are the state's output)",
                        "MaxConcurrencyPath"
                        | "ToleratedFailureCountPath"
                        | "ToleratedFailurePercentagePath"
                            if kind == "Map" =>
                        {
                            " (give the value itself, without Path)"
                        }
                        _ => "",
                    };
                    self.problem(&here, &format!("not supported by the local executor{hint}"));
                }
                _ => self.problem(&here, &format!("not a field of a {kind} state")),
            }
        }
        self.comment(map, &format!("{location}.Comment"));
        let kind = match kind {
            "Task" => self
                .task(map, &location)
                .map(|t| StateKind::Task(Box::new(t))),
            "Pass" => self.pass(map, &location).map(StateKind::Pass),
            "Choice" => self.choice(map, &location).map(StateKind::Choice),
            "Wait" => self.wait(map, &location).map(StateKind::Wait),
            "Succeed" => self.io(map, &location).map(StateKind::Succeed),
            "Map" => self
                .map_state(map, &location)
                .map(|m| StateKind::Map(Box::new(m))),
            _ => self.fail(map, &location).map(StateKind::Fail),
        };
        if self.problems.len() > before {
            return None;
        }
        kind.map(|kind| State {
            name: Arc::from(name),
            kind,
        })
    }

    fn io(&mut self, map: &Map<String, Value>, location: &str) -> Option<Io> {
        Some(Io {
            input: self.selector(map.get("InputPath"), &format!("{location}.InputPath"))?,
            output: self.selector(map.get("OutputPath"), &format!("{location}.OutputPath"))?,
        })
    }

    fn selector(&mut self, value: Option<&Value>, location: &str) -> Option<Selector> {
        match value {
            None => Some(Selector::Root),
            Some(Value::Null) => Some(Selector::Empty),
            Some(Value::String(text)) => match Query::parse(text, false) {
                Ok(query) if query.is_root() => Some(Selector::Root),
                Ok(query) => Some(Selector::Path(query)),
                Err(error) => {
                    self.problem(location, &error);
                    None
                }
            },
            Some(_) => {
                self.problem(location, "must be a path string or null");
                None
            }
        }
    }

    fn result_target(&mut self, value: Option<&Value>, location: &str) -> Option<ResultTarget> {
        match value {
            None => Some(ResultTarget::Replace),
            Some(Value::Null) => Some(ResultTarget::Discard),
            Some(Value::String(text)) => match ReferencePath::parse(text) {
                Ok(path) if path.is_root() => Some(ResultTarget::Replace),
                Ok(path) => Some(ResultTarget::At(path)),
                Err(error) => {
                    self.problem(location, &error);
                    None
                }
            },
            Some(_) => {
                self.problem(location, "must be a reference path string or null");
                None
            }
        }
    }

    fn transition(&mut self, map: &Map<String, Value>, location: &str) -> Option<Transition> {
        match (map.get("Next"), map.get("End")) {
            (Some(next), None) => self
                .target(next, &format!("{location}.Next"))
                .map(Transition::Next),
            (None, Some(Value::Bool(true))) => Some(Transition::End),
            (None, Some(_)) => {
                self.problem(&format!("{location}.End"), "must be true when given");
                None
            }
            (Some(_), Some(_)) => {
                self.problem(location, "has both Next and End");
                None
            }
            (None, None) => {
                self.problem(location, "needs Next or \"End\": true");
                None
            }
        }
    }

    fn template(&mut self, value: Option<&Value>, location: &str) -> Option<Template> {
        value.map(|value| Template::compile(value, location, &mut self.problems))
    }

    fn task(&mut self, map: &Map<String, Value>, location: &str) -> Option<Task> {
        match map.get("Resource").and_then(Value::as_str) {
            Some(LAMBDA_INVOKE) => {}
            Some(other) => {
                let hint = if other.starts_with(LAMBDA_INVOKE) {
                    "callback and .sync integrations are not supported"
                } else if other.contains(":lambda:") && other.contains(":function:") {
                    "call the function through the lambda:invoke integration"
                } else {
                    "only Lambda functions can be called"
                };
                self.problem(
                    &format!("{location}.Resource"),
                    &format!("`{other}` is not supported by the local executor ({hint}: \"Resource\": \"{LAMBDA_INVOKE}\")"),
                );
            }
            None => self.problem(
                &format!("{location}.Resource"),
                &format!("required: \"{LAMBDA_INVOKE}\""),
            ),
        }
        let parameters = self.invoke_parameters(map.get("Parameters"), location);
        let io = self.io(map, location);
        let result_selector = match map.get("ResultSelector") {
            Some(value) if !value.is_object() => {
                self.problem(&format!("{location}.ResultSelector"), "must be an object");
                None
            }
            value => self.template(value, &format!("{location}.ResultSelector")),
        };
        let result_path =
            self.result_target(map.get("ResultPath"), &format!("{location}.ResultPath"));
        let timeout_seconds = map.get("TimeoutSeconds").and_then(|value| {
            self.integer(value, &format!("{location}.TimeoutSeconds"), 1, MAX_INT)
        });
        let retry = self.retriers(map.get("Retry"), &format!("{location}.Retry"));
        let catch = self.catchers(map.get("Catch"), &format!("{location}.Catch"));
        let transition = self.transition(map, location);
        let (function, payload) = parameters?;
        Some(Task {
            io: io?,
            function,
            payload,
            result_selector,
            result_path: result_path?,
            timeout_seconds,
            retry,
            catch,
            transition: transition?,
        })
    }

    fn map_state(&mut self, map: &Map<String, Value>, location: &str) -> Option<MapState> {
        let io = self.io(map, location);
        let items_path = map
            .get("ItemsPath")
            .and_then(|value| self.items_path(value, &format!("{location}.ItemsPath")));
        let item_selector = match map.get("ItemSelector") {
            Some(value) if !value.is_object() => {
                self.problem(&format!("{location}.ItemSelector"), "must be an object");
                None
            }
            value => self.template(value, &format!("{location}.ItemSelector")),
        };
        let processor = self.processor(map.get("ItemProcessor"), location);
        let mode = processor.as_ref().map(|processor| processor.mode);
        let max_concurrency = map
            .get("MaxConcurrency")
            .and_then(|value| {
                self.integer(value, &format!("{location}.MaxConcurrency"), 0, MAX_INT)
            })
            .unwrap_or(0);
        let mut tolerated_failure_count = None;
        let mut tolerated_failure_percentage = None;
        for field in ["ToleratedFailureCount", "ToleratedFailurePercentage"] {
            let Some(value) = map.get(field) else {
                continue;
            };
            let here = format!("{location}.{field}");
            if mode == Some(ProcessorMode::Inline) {
                self.problem(
                    &here,
                    "only a DISTRIBUTED Map tolerates failures (an INLINE Map fails with its \
                     first failed iteration): set ItemProcessor.ProcessorConfig.Mode to \
                     DISTRIBUTED, or catch the error inside the ItemProcessor",
                );
                continue;
            }
            if field == "ToleratedFailureCount" {
                tolerated_failure_count = self.integer(value, &here, 0, MAX_INT);
            } else {
                match value.as_f64() {
                    Some(percentage) if (0.0..=100.0).contains(&percentage) => {
                        tolerated_failure_percentage = Some(percentage);
                    }
                    _ => self.problem(&here, "must be a number from 0 to 100"),
                }
            }
        }
        let result_selector = match map.get("ResultSelector") {
            Some(value) if !value.is_object() => {
                self.problem(&format!("{location}.ResultSelector"), "must be an object");
                None
            }
            value => self.template(value, &format!("{location}.ResultSelector")),
        };
        let result_path =
            self.result_target(map.get("ResultPath"), &format!("{location}.ResultPath"));
        let retry = self.retriers(map.get("Retry"), &format!("{location}.Retry"));
        let catch = self.catchers(map.get("Catch"), &format!("{location}.Catch"));
        let transition = self.transition(map, location);
        Some(MapState {
            io: io?,
            items_path,
            item_selector,
            processor: processor?,
            max_concurrency,
            tolerated_failure_count,
            tolerated_failure_percentage,
            result_selector,
            result_path: result_path?,
            retry,
            catch,
            transition: transition?,
        })
    }

    /// ItemsPath: a reference path into the effective input, as AWS requires (`$` is `None`).
    fn items_path(&mut self, value: &Value, location: &str) -> Option<Query> {
        let Some(text) = value.as_str() else {
            self.problem(location, "must be a reference path string");
            return None;
        };
        if text.starts_with("$$") {
            self.problem(
                location,
                &format!(
                    "`{text}`: ItemsPath is a reference path into the state's input, not the \
                     context object"
                ),
            );
            return None;
        }
        match ReferencePath::parse(text) {
            Ok(path) if path.is_root() => None,
            Ok(_) => match Query::parse(text, false) {
                Ok(query) => Some(query),
                Err(error) => {
                    self.problem(location, &error);
                    None
                }
            },
            Err(error) => {
                self.problem(location, &error);
                None
            }
        }
    }

    /// A Map's ItemProcessor: its ProcessorConfig, and its states compiled by a loader of its
    /// own (its names, its transitions, its reachability), every problem located under
    /// `<location>.ItemProcessor.`.
    fn processor(&mut self, value: Option<&Value>, location: &str) -> Option<Processor> {
        let here = format!("{location}.ItemProcessor");
        let Some(map) = value.and_then(Value::as_object) else {
            self.problem(
                &here,
                "required: an object with StartAt and States (and ProcessorConfig if not INLINE)",
            );
            return None;
        };
        for key in map.keys() {
            if !matches!(
                key.as_str(),
                "ProcessorConfig" | "StartAt" | "States" | "Comment"
            ) {
                self.problem(&format!("{here}.{key}"), "not a field of an ItemProcessor");
            }
        }
        self.comment(map, &format!("{here}.Comment"));
        let mode = self.processor_config(map.get("ProcessorConfig"), &here);

        let mut enclosing = self.enclosing.clone();
        enclosing.extend(self.index.keys().cloned());
        let mut inner = Loader::new(self.bindings, format!("{here}."), enclosing);
        let graph = inner.graph(map);
        self.problems.append(&mut inner.problems);
        let (start_at, states) = graph?;
        Some(Processor {
            mode: mode?,
            start_at,
            states,
        })
    }

    fn processor_config(&mut self, value: Option<&Value>, location: &str) -> Option<ProcessorMode> {
        let here = format!("{location}.ProcessorConfig");
        let Some(value) = value else {
            return Some(ProcessorMode::Inline);
        };
        let Some(config) = value.as_object() else {
            self.problem(&here, "must be an object with Mode (and ExecutionType)");
            return None;
        };
        let mut ok = true;
        for key in config.keys() {
            if !matches!(key.as_str(), "Mode" | "ExecutionType") {
                self.problem(&format!("{here}.{key}"), "not a field of a ProcessorConfig");
                ok = false;
            }
        }
        let mode = match config.get("Mode") {
            None => Some(ProcessorMode::Inline),
            Some(value) => match value.as_str() {
                Some("INLINE") => Some(ProcessorMode::Inline),
                Some("DISTRIBUTED") => Some(ProcessorMode::Distributed),
                _ => {
                    self.problem(&format!("{here}.Mode"), "must be INLINE or DISTRIBUTED");
                    None
                }
            },
        };
        match (mode, config.get("ExecutionType")) {
            (Some(ProcessorMode::Distributed), None) => {
                self.problem(
                    &format!("{here}.ExecutionType"),
                    "required with DISTRIBUTED: STANDARD or EXPRESS",
                );
                ok = false;
            }
            (Some(ProcessorMode::Distributed), Some(value))
                if !matches!(value.as_str(), Some("STANDARD" | "EXPRESS")) =>
            {
                self.problem(
                    &format!("{here}.ExecutionType"),
                    "must be STANDARD or EXPRESS",
                );
                ok = false;
            }
            (Some(ProcessorMode::Inline), Some(_)) => {
                self.problem(
                    &format!("{here}.ExecutionType"),
                    "only a DISTRIBUTED Map has an ExecutionType",
                );
                ok = false;
            }
            _ => {}
        }
        mode.filter(|_| ok)
    }

    /// The Parameters of the lambda:invoke form: `FunctionName` (a bound `${...}`) and
    /// `Payload` or `Payload.$`.
    fn invoke_parameters(
        &mut self,
        value: Option<&Value>,
        location: &str,
    ) -> Option<(Arc<dyn TaskFunction>, Template)> {
        let here = format!("{location}.Parameters");
        let Some(map) = value.and_then(Value::as_object) else {
            self.problem(
                &here,
                "required: an object with FunctionName and Payload (or Payload.$)",
            );
            return None;
        };
        for key in map.keys() {
            if !matches!(key.as_str(), "FunctionName" | "Payload" | "Payload.$") {
                self.problem(
                    &format!("{here}.{key}"),
                    "not supported by the local executor (lambda:invoke takes FunctionName and \
                     Payload here)",
                );
            }
        }
        let function = match map.get("FunctionName") {
            Some(Value::String(text)) => {
                let name = text
                    .strip_prefix("${")
                    .and_then(|rest| rest.strip_suffix('}'))
                    .filter(|name| !name.is_empty() && !name.contains(['$', '{', '}']));
                match name {
                    Some(name) => match self.bindings.0.get(name) {
                        Some(function) => Some(function.clone()),
                        None => {
                            let bound = self.bindings.names().join(", ");
                            self.problem(
                                &format!("{here}.FunctionName"),
                                &format!(
                                    "`${{{name}}}` is not bound to a function (bound: {bound})"
                                ),
                            );
                            None
                        }
                    },
                    None => {
                        self.problem(
                            &format!("{here}.FunctionName"),
                            &format!("`{text}` must be a substitution like `${{ConfirmSeatFunctionArn}}`, bound to a function"),
                        );
                        None
                    }
                }
            }
            _ => {
                self.problem(
                    &format!("{here}.FunctionName"),
                    "required: a `${...}` substitution bound to a function",
                );
                None
            }
        };
        let payload = match (map.get("Payload"), map.get("Payload.$")) {
            (Some(_), Some(_)) => {
                self.problem(&here, "has both Payload and Payload.$");
                None
            }
            (None, None) => {
                self.problem(
                    &here,
                    "needs Payload or Payload.$ (e.g. \"Payload.$\": \"$\")",
                );
                None
            }
            (Some(payload), None) => self.template(Some(payload), &format!("{here}.Payload")),
            (None, Some(path)) => {
                let single =
                    Value::Object(Map::from_iter([("Payload.$".to_owned(), path.clone())]));
                match Template::compile(&single, &here, &mut self.problems) {
                    Template::Object(mut fields) if fields.len() == 1 => {
                        let (_, template) = fields.remove(0);
                        Some(match template {
                            Template::Path { query, .. } if query.is_root() => {
                                Template::root_path()
                            }
                            other => other,
                        })
                    }
                    _ => None,
                }
            }
        };
        Some((function?, payload?))
    }

    fn error_equals(&mut self, value: Option<&Value>, location: &str) -> Vec<String> {
        let Some(items) = value
            .and_then(Value::as_array)
            .filter(|items| !items.is_empty())
        else {
            self.problem(location, "required: a non-empty array of error names");
            return Vec::new();
        };
        let mut names = Vec::with_capacity(items.len());
        for item in items {
            match item.as_str() {
                Some(name) if name.starts_with("States.") && !STATES_ERRORS.contains(&name) => {
                    self.problem(
                        location,
                        &format!("`{name}` is not an error Step Functions raises"),
                    );
                }
                Some(name) if !name.is_empty() => names.push(name.to_owned()),
                _ => self.problem(location, "error names are non-empty strings"),
            }
        }
        if names.iter().any(|name| name == ALL) && items.len() > 1 {
            self.problem(location, "States.ALL must be alone in its ErrorEquals");
        }
        names
    }

    /// States.ALL may only be in the last retrier or catcher.
    fn all_is_last(&mut self, lists: &[Vec<String>], location: &str) {
        for (at, list) in lists.iter().enumerate() {
            if at + 1 < lists.len() && list.iter().any(|name| name == ALL) {
                self.problem(
                    &format!("{location}[{at}].ErrorEquals"),
                    "States.ALL must be in the last entry",
                );
            }
        }
    }

    fn retriers(&mut self, value: Option<&Value>, location: &str) -> Vec<Retrier> {
        let Some(value) = value else {
            return Vec::new();
        };
        let Some(items) = value.as_array() else {
            self.problem(location, "must be an array of retriers");
            return Vec::new();
        };
        let mut retriers = Vec::new();
        for (at, item) in items.iter().enumerate() {
            let here = format!("{location}[{at}]");
            let Some(map) = item.as_object() else {
                self.problem(&here, "a retrier is an object");
                continue;
            };
            for key in map.keys() {
                if !matches!(
                    key.as_str(),
                    "ErrorEquals"
                        | "IntervalSeconds"
                        | "MaxAttempts"
                        | "BackoffRate"
                        | "MaxDelaySeconds"
                        | "JitterStrategy"
                        | "Comment"
                ) {
                    self.problem(&format!("{here}.{key}"), "not a field of a retrier");
                }
            }
            let errors = self.error_equals(map.get("ErrorEquals"), &format!("{here}.ErrorEquals"));
            let interval_seconds = match map.get("IntervalSeconds") {
                None => 1,
                Some(value) => self
                    .integer(value, &format!("{here}.IntervalSeconds"), 1, MAX_INT)
                    .unwrap_or(1),
            };
            let max_attempts = match map.get("MaxAttempts") {
                None => 3,
                Some(value) => self
                    .integer(value, &format!("{here}.MaxAttempts"), 0, MAX_INT)
                    .unwrap_or(0) as u32,
            };
            let backoff_rate = match map.get("BackoffRate") {
                None => 2.0,
                Some(value) => match value.as_f64() {
                    Some(rate) if rate >= 1.0 && rate.is_finite() => rate,
                    _ => {
                        self.problem(&format!("{here}.BackoffRate"), "must be a number ≥ 1.0");
                        1.0
                    }
                },
            };
            let max_delay_seconds = map.get("MaxDelaySeconds").and_then(|value| {
                self.integer(value, &format!("{here}.MaxDelaySeconds"), 1, 31_622_399)
            });
            let jitter = match map.get("JitterStrategy") {
                None => JitterStrategy::None,
                Some(value) => match value.as_str() {
                    Some("FULL") => JitterStrategy::Full,
                    Some("NONE") => JitterStrategy::None,
                    _ => {
                        self.problem(&format!("{here}.JitterStrategy"), "must be FULL or NONE");
                        JitterStrategy::None
                    }
                },
            };
            retriers.push(Retrier {
                errors,
                interval_seconds,
                max_attempts,
                backoff_rate,
                max_delay_seconds,
                jitter,
            });
        }
        let lists: Vec<Vec<String>> = retriers.iter().map(|r| r.errors.clone()).collect();
        self.all_is_last(&lists, location);
        retriers
    }

    fn catchers(&mut self, value: Option<&Value>, location: &str) -> Vec<Catcher> {
        let Some(value) = value else {
            return Vec::new();
        };
        let Some(items) = value.as_array() else {
            self.problem(location, "must be an array of catchers");
            return Vec::new();
        };
        let mut catchers = Vec::new();
        let mut lists = Vec::new();
        for (at, item) in items.iter().enumerate() {
            let here = format!("{location}[{at}]");
            let Some(map) = item.as_object() else {
                self.problem(&here, "a catcher is an object");
                continue;
            };
            for key in map.keys() {
                match key.as_str() {
                    "ErrorEquals" | "ResultPath" | "Next" | "Comment" => {}
                    "Assign" | "Output" => {
                        self.problem(
                            &format!("{here}.{key}"),
                            "not supported by the local executor",
                        );
                    }
                    _ => self.problem(&format!("{here}.{key}"), "not a field of a catcher"),
                }
            }
            let errors = self.error_equals(map.get("ErrorEquals"), &format!("{here}.ErrorEquals"));
            lists.push(errors.clone());
            let result_path =
                self.result_target(map.get("ResultPath"), &format!("{here}.ResultPath"));
            let next = match map.get("Next") {
                Some(next) => self.target(next, &format!("{here}.Next")),
                None => {
                    self.problem(&format!("{here}.Next"), "required: the state to go on at");
                    None
                }
            };
            if let (Some(result_path), Some(next)) = (result_path, next) {
                catchers.push(Catcher {
                    errors,
                    result_path,
                    next,
                });
            }
        }
        self.all_is_last(&lists, location);
        catchers
    }

    fn pass(&mut self, map: &Map<String, Value>, location: &str) -> Option<Pass> {
        let io = self.io(map, location);
        let parameters = self.template(map.get("Parameters"), &format!("{location}.Parameters"));
        let result_path =
            self.result_target(map.get("ResultPath"), &format!("{location}.ResultPath"));
        let transition = self.transition(map, location);
        Some(Pass {
            io: io?,
            parameters,
            result: map.get("Result").cloned(),
            result_path: result_path?,
            transition: transition?,
        })
    }

    fn choice(&mut self, map: &Map<String, Value>, location: &str) -> Option<Choice> {
        let io = self.io(map, location);
        let here = format!("{location}.Choices");
        let mut choices = Vec::new();
        match map.get("Choices").and_then(Value::as_array) {
            Some(items) if !items.is_empty() => {
                for (at, item) in items.iter().enumerate() {
                    let rule_location = format!("{here}[{at}]");
                    let rule = Rule::compile(item, &rule_location, true, &mut self.problems);
                    let next = match item.get("Next") {
                        Some(next) => self.target(next, &format!("{rule_location}.Next")),
                        None => {
                            self.problem(
                                &format!("{rule_location}.Next"),
                                "required: the state this rule leads to",
                            );
                            None
                        }
                    };
                    if let (Some(rule), Some(next)) = (rule, next) {
                        choices.push((rule, next));
                    }
                }
            }
            _ => self.problem(&here, "required: a non-empty array of Choice Rules"),
        }
        let default = map
            .get("Default")
            .and_then(|value| self.target(value, &format!("{location}.Default")));
        let uses_context = choices.iter().any(|(rule, _)| rule.uses_context());
        Some(Choice {
            io: io?,
            choices,
            default,
            uses_context,
        })
    }

    fn wait(&mut self, map: &Map<String, Value>, location: &str) -> Option<Wait> {
        let io = self.io(map, location);
        let given: Vec<&str> = ["Seconds", "SecondsPath", "Timestamp", "TimestampPath"]
            .into_iter()
            .filter(|key| map.contains_key(*key))
            .collect();
        let until = match given.as_slice() {
            [key] => {
                let here = format!("{location}.{key}");
                let value = &map[*key];
                match *key {
                    "Seconds" => self.integer(value, &here, 0, MAX_INT).map(WaitFor::Seconds),
                    "Timestamp" => match value.as_str().and_then(parse_timestamp) {
                        Some(at) => Some(WaitFor::Timestamp(at)),
                        None => {
                            self.problem(
                                &here,
                                "must be an RFC 3339 timestamp (uppercase T and Z, e.g. \
                                 2026-01-02T03:04:05Z)",
                            );
                            None
                        }
                    },
                    _ => {
                        let query = self.path(value, &here);
                        if *key == "SecondsPath" {
                            query.map(WaitFor::SecondsPath)
                        } else {
                            query.map(WaitFor::TimestampPath)
                        }
                    }
                }
            }
            _ => {
                self.problem(
                    location,
                    "a Wait state has exactly one of Seconds, SecondsPath, Timestamp, TimestampPath",
                );
                None
            }
        };
        let transition = self.transition(map, location);
        Some(Wait {
            io: io?,
            until: until?,
            transition: transition?,
        })
    }

    /// A path that reads (context allowed); intrinsic functions are refused by name.
    fn path(&mut self, value: &Value, location: &str) -> Option<Query> {
        match value.as_str() {
            Some(text) if text.starts_with("States.") => {
                self.problem(
                    location,
                    &format!(
                        "intrinsic functions (`{text}`) are not supported by the local executor"
                    ),
                );
                None
            }
            Some(text) => match Query::parse(text, true) {
                Ok(query) => Some(query),
                Err(error) => {
                    self.problem(location, &error);
                    None
                }
            },
            None => {
                self.problem(location, "must be a path string");
                None
            }
        }
    }

    fn fail(&mut self, map: &Map<String, Value>, location: &str) -> Option<Fail> {
        let source = |loader: &mut Self, field: &str| -> Option<Source> {
            let path_field = format!("{field}Path");
            match (map.get(field), map.get(&path_field)) {
                (Some(_), Some(_)) => {
                    loader.problem(location, &format!("has both {field} and {path_field}"));
                    None
                }
                (Some(Value::String(text)), None) => Some(Source::Literal(text.clone())),
                (Some(_), None) => {
                    loader.problem(&format!("{location}.{field}"), "must be a string");
                    None
                }
                (None, Some(path)) => loader
                    .path(path, &format!("{location}.{path_field}"))
                    .map(Source::Path),
                (None, None) => None,
            }
        };
        let error = source(self, "Error");
        let cause = source(self, "Cause");
        Some(Fail { error, cause })
    }

    /// AWS refuses states nothing leads to.
    fn reachability(&mut self, states: &[State], start_at: usize) {
        let mut seen = vec![false; states.len()];
        let mut queue = VecDeque::from([start_at]);
        seen[start_at] = true;
        while let Some(at) = queue.pop_front() {
            for next in successors(&states[at].kind) {
                if !seen[next] {
                    seen[next] = true;
                    queue.push_back(next);
                }
            }
        }
        for (state, seen) in states.iter().zip(seen) {
            if !seen {
                self.problem(
                    &format!("{}States.{}", self.prefix, state.name),
                    "no state leads here (unreachable from StartAt)",
                );
            }
        }
    }
}

fn successors(kind: &StateKind) -> Vec<usize> {
    let next = |transition: &Transition| match transition {
        Transition::Next(at) => vec![*at],
        Transition::End => Vec::new(),
    };
    match kind {
        StateKind::Task(task) => {
            let mut all = next(&task.transition);
            all.extend(task.catch.iter().map(|catcher| catcher.next));
            all
        }
        StateKind::Pass(pass) => next(&pass.transition),
        StateKind::Wait(wait) => next(&wait.transition),
        StateKind::Choice(choice) => {
            let mut all: Vec<usize> = choice.choices.iter().map(|(_, at)| *at).collect();
            all.extend(choice.default);
            all
        }
        StateKind::Map(map) => {
            let mut all = next(&map.transition);
            all.extend(map.catch.iter().map(|catcher| catcher.next));
            all
        }
        StateKind::Succeed(_) | StateKind::Fail(_) => Vec::new(),
    }
}
