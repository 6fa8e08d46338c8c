//! Loading a definition: parse the JSON, check it against what the executor runs, and compile
//! it (paths parsed, functions resolved, transitions as indexes). Every problem is collected,
//! each prefixed with where it is (`States.<state>.<field>`), so a definition is refused at
//! load with the whole list, never half-way through an execution.

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
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
    "ItemProcessor",
    "ItemReader",
    "ItemSelector",
    "Items",
    "ItemsPath",
    "Iterator",
    "Label",
    "MaxConcurrency",
    "MaxConcurrencyPath",
    "Output",
    "ResultWriter",
    "TimeoutSecondsPath",
    "ToleratedFailureCount",
    "ToleratedFailureCountPath",
    "ToleratedFailurePercentage",
    "ToleratedFailurePercentagePath",
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
        let mut loader = Loader {
            bindings,
            index: HashMap::new(),
            problems: Vec::new(),
        };
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

        let Some(states) = top.get("States").and_then(Value::as_object) else {
            loader.problem("States", "required: an object of states");
            return Err(loader.problems);
        };
        if states.is_empty() {
            loader.problem("States", "has no state");
        }
        for (at, name) in states.keys().enumerate() {
            if name.is_empty() || name.chars().count() > MAX_STATE_NAME {
                loader.problem(
                    &format!("States.{name}"),
                    "a state name has 1 to 80 characters",
                );
            }
            loader.index.insert(name.clone(), at);
        }
        let start_at = match top.get("StartAt") {
            Some(Value::String(name)) => match loader.index.get(name) {
                Some(&at) => Some(at),
                None => {
                    loader.problem("StartAt", &format!("there is no state named `{name}`"));
                    None
                }
            },
            _ => {
                loader.problem("StartAt", "required: the name of the first state");
                None
            }
        };

        let compiled: Vec<Option<State>> = states
            .iter()
            .map(|(name, value)| loader.state(name, value))
            .collect();
        if let Some(start_at) = start_at
            && compiled.iter().all(Option::is_some)
        {
            let states: Vec<State> = compiled.into_iter().flatten().collect();
            loader.reachability(&states, start_at);
            if loader.problems.is_empty() {
                return Ok(Definition {
                    start_at,
                    states,
                    index: loader.index,
                    timeout_seconds,
                });
            }
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

struct Loader<'a> {
    bindings: &'a Bindings,
    index: HashMap<String, usize>,
    problems: Vec<String>,
}

impl Loader<'_> {
    fn problem(&mut self, location: &str, message: &str) {
        self.problems.push(format!("{location}: {message}"));
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
        let location = format!("States.{name}");
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
            "Parallel" | "Map" => {
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
        self.substitutions(value, &mut vec![location.clone()], kind == "Task");
        for key in map.keys() {
            let here = format!("{location}.{key}");
            match key.as_str() {
                "Type" | "Comment" => {}
                "QueryLanguage" => self.query_language(&map[key], &here),
                key if allowed.contains(&key) => {}
                key if UNSUPPORTED_FIELDS.contains(&key) => {
                    self.problem(&here, "not supported by the local executor");
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
                    &format!("States.{}", state.name),
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
        StateKind::Succeed(_) | StateKind::Fail(_) => Vec::new(),
    }
}
