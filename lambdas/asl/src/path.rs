//! Paths of the JSONPath query language of ASL.
//!
//! A *reference path* (`$`, `$.a.b`, `$['a b']`, `$.a[0]`) names at most one node. It is what
//! ResultPath takes, and what most InputPath, OutputPath and `.$` values are; those are read by
//! walking the value directly, which is cheap. Any other JSONPath (wildcards, slices, filters,
//! descendants) is an *indefinite* path: it is evaluated by `serde_json_path` (RFC 9535) and,
//! like the Jayway implementation AWS uses, yields the array of everything it matched.
//!
//! `$$` at the start of a path reads the context object instead of the input.

use std::borrow::Cow;
use std::fmt;

use serde_json::{Map, Value};
use serde_json_path::JsonPath;

/// One step of a reference path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Segment {
    Key(String),
    /// Negative indexes count from the end, as in RFC 9535.
    Index(i64),
}

/// A path that reads a value: InputPath, OutputPath, `.$` values, Variable and the like.
#[derive(Clone)]
pub(crate) struct Query {
    text: String,
    context: bool,
    kind: QueryKind,
}

#[derive(Clone)]
enum QueryKind {
    Single(Vec<Segment>),
    Multi(JsonPath),
}

impl fmt::Debug for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Query({})", self.text)
    }
}

impl Query {
    /// Parses `text`; `$$` paths are accepted only where `allow_context` is set.
    pub(crate) fn parse(text: &str, allow_context: bool) -> Result<Self, String> {
        let (context, rest) = if let Some(rest) = text.strip_prefix("$$") {
            (true, rest)
        } else if let Some(rest) = text.strip_prefix('$') {
            (false, rest)
        } else {
            return Err(format!("`{text}` is not a path (a path starts with `$`)"));
        };
        if context && !allow_context {
            return Err(format!(
                "`{text}` reads the context object, which this field cannot"
            ));
        }
        let kind = match parse_segments(rest) {
            Some(segments) => QueryKind::Single(segments),
            None => {
                let rfc = format!("${rest}");
                match JsonPath::parse(&rfc) {
                    Ok(path) => QueryKind::Multi(path),
                    Err(error) => return Err(format!("`{text}` is not a valid JSONPath: {error}")),
                }
            }
        };
        Ok(Self {
            text: text.to_owned(),
            context,
            kind,
        })
    }

    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    /// Whether the path reads the context object (`$$`).
    pub(crate) fn uses_context(&self) -> bool {
        self.context
    }

    /// `$` itself: selecting with it is the identity.
    pub(crate) fn is_root(&self) -> bool {
        !self.context && matches!(&self.kind, QueryKind::Single(segments) if segments.is_empty())
    }

    /// What the path selects in `input` (or in `context` for a `$$` path); `None` when a
    /// reference path names nothing. An indefinite path always yields an array.
    pub(crate) fn select<'a>(
        &self,
        input: &'a Value,
        context: &'a Value,
    ) -> Option<Cow<'a, Value>> {
        let root = if self.context { context } else { input };
        match &self.kind {
            QueryKind::Single(segments) => walk(root, segments).map(Cow::Borrowed),
            QueryKind::Multi(path) => Some(Cow::Owned(Value::Array(
                path.query(root).all().into_iter().cloned().collect(),
            ))),
        }
    }

    /// Like [`Query::select`] on an input the caller gives up, so a reference path moves the
    /// selected part out instead of copying it. Not for `$$` paths.
    pub(crate) fn select_owned(&self, mut input: Value) -> Option<Value> {
        debug_assert!(!self.context, "select_owned on a context path");
        match &self.kind {
            QueryKind::Single(segments) => walk_mut(&mut input, segments).map(Value::take),
            QueryKind::Multi(path) => Some(Value::Array(
                path.query(&input).all().into_iter().cloned().collect(),
            )),
        }
    }
}

/// A path that says where to put a result: ResultPath.
#[derive(Debug, Clone)]
pub(crate) struct ReferencePath {
    text: String,
    segments: Vec<Segment>,
}

impl ReferencePath {
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        if text.starts_with("$$") {
            return Err(format!(
                "`{text}` names the context object, which cannot be written"
            ));
        }
        let segments = text
            .strip_prefix('$')
            .and_then(parse_segments)
            .ok_or_else(|| {
                format!(
                    "`{text}` is not a reference path (`$`, `$.a.b`, `$['a b']`, `$.a[0]`: \
                     no wildcards, filters or slices)"
                )
            })?;
        Ok(Self {
            text: text.to_owned(),
            segments,
        })
    }

    pub(crate) fn is_root(&self) -> bool {
        self.segments.is_empty()
    }

    /// Whether `result` can be put into `raw` at this path, and if not, why (the cause of a
    /// States.ResultPathMatchFailure). Missing objects on the way can be created; values of
    /// another type and missing array elements cannot.
    pub(crate) fn check(&self, raw: &Value) -> Result<(), String> {
        let mut current = Some(raw);
        for segment in &self.segments {
            current = match (segment, current) {
                (Segment::Key(_), None) => None,
                (Segment::Key(key), Some(Value::Object(map))) => map.get(key),
                (Segment::Key(key), Some(other)) => {
                    return Err(self.mismatch(&format!(
                        "cannot add the field `{key}` to {}",
                        describe(other)
                    )));
                }
                (Segment::Index(index), Some(Value::Array(items))) => {
                    match resolve_index(*index, items.len()) {
                        Some(at) => Some(&items[at]),
                        None => {
                            return Err(self.mismatch(&format!(
                                "index {index} is outside an array of {} elements",
                                items.len()
                            )));
                        }
                    }
                }
                (Segment::Index(index), other) => {
                    let what = other.map_or("a missing value", describe);
                    return Err(self.mismatch(&format!("cannot index [{index}] into {what}")));
                }
            };
        }
        Ok(())
    }

    /// Puts `result` into `raw` at this path. Call [`ReferencePath::check`] first: a path that
    /// does not fit leaves `raw` unchanged.
    pub(crate) fn apply(&self, mut raw: Value, result: Value) -> Value {
        if self.segments.is_empty() {
            return result;
        }
        let mut current = &mut raw;
        for segment in &self.segments {
            current = match (segment, current) {
                (Segment::Key(key), Value::Object(map)) => map
                    .entry(key.clone())
                    .or_insert_with(|| Value::Object(Map::new())),
                (Segment::Index(index), Value::Array(items)) => {
                    match resolve_index(*index, items.len()) {
                        Some(at) => &mut items[at],
                        None => return raw,
                    }
                }
                _ => return raw,
            };
        }
        *current = result;
        raw
    }

    fn mismatch(&self, why: &str) -> String {
        format!("unable to apply ResultPath `{}`: {why}", self.text)
    }
}

/// What kind of JSON value `value` is, with its article (`an object`), for messages.
pub(crate) fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn resolve_index(index: i64, len: usize) -> Option<usize> {
    let len = i64::try_from(len).ok()?;
    let at = if index < 0 { len + index } else { index };
    (0..len).contains(&at).then_some(at as usize)
}

fn walk<'a>(mut value: &'a Value, segments: &[Segment]) -> Option<&'a Value> {
    for segment in segments {
        value = match (segment, value) {
            (Segment::Key(key), Value::Object(map)) => map.get(key)?,
            (Segment::Index(index), Value::Array(items)) => {
                &items[resolve_index(*index, items.len())?]
            }
            _ => return None,
        };
    }
    Some(value)
}

fn walk_mut<'a>(mut value: &'a mut Value, segments: &[Segment]) -> Option<&'a mut Value> {
    for segment in segments {
        value = match (segment, value) {
            (Segment::Key(key), Value::Object(map)) => map.get_mut(key)?,
            (Segment::Index(index), Value::Array(items)) => {
                let at = resolve_index(*index, items.len())?;
                &mut items[at]
            }
            _ => return None,
        };
    }
    Some(value)
}

/// The segments of a reference path after its `$`, or `None` when it is not one.
///
/// Dot names are read like Jayway reads them (anything up to the next `.` or `[`), so
/// `$.order-id` works as it does on AWS although RFC 9535 would refuse it.
fn parse_segments(mut rest: &str) -> Option<Vec<Segment>> {
    let mut segments = Vec::new();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            let name = &after[..end];
            let plain = !name.is_empty()
                && !name.chars().any(|c| {
                    c.is_whitespace()
                        || matches!(
                            c,
                            '*' | ']' | '\'' | '"' | '(' | ')' | '@' | '?' | ',' | '$'
                        )
                });
            if !plain {
                return None;
            }
            segments.push(Segment::Key(name.to_owned()));
            rest = &after[end..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let (segment, after) = bracket(after)?;
            segments.push(segment);
            rest = after;
        } else {
            return None;
        }
    }
    Some(segments)
}

/// One `[...]` selector after its `[`: an integer index or one quoted name.
fn bracket(text: &str) -> Option<(Segment, &str)> {
    let quote = text.chars().next()?;
    if quote == '\'' || quote == '"' {
        let mut name = String::new();
        let mut chars = text[1..].char_indices();
        while let Some((at, c)) = chars.next() {
            match c {
                '\\' => {
                    let (_, escaped) = chars.next()?;
                    match escaped {
                        '\\' | '\'' | '"' | '/' => name.push(escaped),
                        'n' => name.push('\n'),
                        't' => name.push('\t'),
                        _ => return None,
                    }
                }
                c if c == quote => {
                    let after = text[1 + at + 1..].strip_prefix(']')?;
                    return Some((Segment::Key(name), after));
                }
                c => name.push(c),
            }
        }
        None
    } else {
        let end = text.find(']')?;
        let digits = &text[..end];
        let unsigned = digits.strip_prefix('-').unwrap_or(digits);
        // RFC 9535 indexes: no leading zeros, no `-0`, no spaces.
        let canonical = !unsigned.is_empty()
            && unsigned.bytes().all(|b| b.is_ascii_digit())
            && (unsigned == "0" || !unsigned.starts_with('0'))
            && digits != "-0";
        if !canonical {
            return None;
        }
        Some((Segment::Index(digits.parse().ok()?), &text[end + 1..]))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn segments(text: &str) -> Vec<Segment> {
        match Query::parse(text, true).unwrap().kind {
            QueryKind::Single(segments) => segments,
            QueryKind::Multi(_) => panic!("{text} parsed as an indefinite path"),
        }
    }

    fn key(name: &str) -> Segment {
        Segment::Key(name.into())
    }

    #[test]
    fn reference_paths_parse_into_segments() {
        assert_eq!(segments("$"), vec![]);
        assert_eq!(segments("$.a.b"), vec![key("a"), key("b")]);
        assert_eq!(segments("$['a b']"), vec![key("a b")]);
        assert_eq!(segments("$[\"x.y\"]"), vec![key("x.y")]);
        assert_eq!(segments("$['it\\'s']"), vec![key("it's")]);
        assert_eq!(
            segments("$.a[0].b[-1]"),
            vec![key("a"), Segment::Index(0), key("b"), Segment::Index(-1)]
        );
        assert_eq!(segments("$.order-id"), vec![key("order-id")]);
        assert_eq!(
            segments("$$.Execution.Id"),
            vec![key("Execution"), key("Id")]
        );
    }

    #[test]
    fn indefinite_paths_go_to_the_rfc_9535_engine() {
        for text in ["$.a[*].b", "$..b", "$.a[0:2]", "$.a[?@.x > 1]", "$.*"] {
            let query = Query::parse(text, false).unwrap();
            assert!(matches!(query.kind, QueryKind::Multi(_)), "{text}");
        }
    }

    #[test]
    fn malformed_paths_are_refused_with_the_path_in_the_message() {
        for text in [
            "a.b",
            "$.",
            "$[",
            "$.a[01]",
            "$.a['x]",
            "$.a..",
            "$[?(@.x ==]",
        ] {
            let error = Query::parse(text, false).unwrap_err();
            assert!(error.contains(text), "{error}");
        }
        assert!(
            Query::parse("$$.Execution", false)
                .unwrap_err()
                .contains("context")
        );
        assert!(ReferencePath::parse("$.a[*]").is_err());
        assert!(ReferencePath::parse("$$.a").is_err());
    }

    #[test]
    fn select_walks_objects_and_arrays() {
        let input = json!({"a": {"b": [10, 20, 30]}, "c d": true});
        let query = |text: &str| Query::parse(text, false).unwrap();
        assert_eq!(
            *query("$.a.b[1]").select(&input, &Value::Null).unwrap(),
            json!(20)
        );
        assert_eq!(
            *query("$.a.b[-1]").select(&input, &Value::Null).unwrap(),
            json!(30)
        );
        assert_eq!(
            *query("$['c d']").select(&input, &Value::Null).unwrap(),
            json!(true)
        );
        assert!(query("$.a.b[3]").select(&input, &Value::Null).is_none());
        assert!(query("$.a.x").select(&input, &Value::Null).is_none());
        assert!(query("$.a.b.c").select(&input, &Value::Null).is_none());
        assert_eq!(
            *query("$.a.b[0:2]").select(&input, &Value::Null).unwrap(),
            json!([10, 20])
        );
        assert_eq!(
            *query("$.nothing[*]").select(&input, &Value::Null).unwrap(),
            json!([])
        );
        assert_eq!(query("$.a.b[2]").select_owned(input), Some(json!(30)));
    }

    #[test]
    fn context_paths_read_the_context() {
        let query = Query::parse("$$.State.Name", true).unwrap();
        assert!(query.uses_context());
        let context = json!({"State": {"Name": "S"}});
        assert_eq!(*query.select(&json!({}), &context).unwrap(), json!("S"));
    }

    #[test]
    fn result_path_creates_missing_objects() {
        let path = ReferencePath::parse("$.a.b.c").unwrap();
        let raw = json!({"a": {"keep": 1}});
        path.check(&raw).unwrap();
        assert_eq!(
            path.apply(raw, json!(5)),
            json!({"a": {"keep": 1, "b": {"c": 5}}})
        );
        let root = ReferencePath::parse("$").unwrap();
        assert_eq!(root.apply(json!({"x": 1}), json!("r")), json!("r"));
    }

    #[test]
    fn result_path_replaces_array_elements_but_creates_none() {
        let path = ReferencePath::parse("$.list[1]").unwrap();
        let raw = json!({"list": [1, 2]});
        path.check(&raw).unwrap();
        assert_eq!(path.apply(raw, json!("x")), json!({"list": [1, "x"]}));
        assert!(path.check(&json!({"list": [1]})).is_err());
        assert!(path.check(&json!({})).is_err());
    }

    #[test]
    fn result_path_cannot_write_into_a_non_object() {
        let path = ReferencePath::parse("$.a.b").unwrap();
        let error = path.check(&json!({"a": "text"})).unwrap_err();
        assert!(
            error.contains("`b`") && error.contains("a string"),
            "{error}"
        );
        assert!(path.check(&json!("text")).is_err());
        assert!(path.check(&json!(null)).is_err());
    }
}
