//! Choice Rules of the JSONPath query language: comparisons on a Variable, and And/Or/Not.

use std::cmp::Ordering;

use chrono::{DateTime, FixedOffset};
use serde_json::{Number, Value};

use super::path::Query;

#[derive(Debug, Clone)]
pub(crate) enum Rule {
    And(Vec<Rule>),
    Or(Vec<Rule>),
    Not(Box<Rule>),
    Test { variable: Query, test: Test },
}

#[derive(Debug, Clone)]
pub(crate) enum Test {
    Compare {
        kind: Kind,
        op: Op,
        operand: Operand,
    },
    Matches(Pattern),
    IsNull(bool),
    IsPresent(bool),
    IsNumeric(bool),
    IsString(bool),
    IsBoolean(bool),
    IsTimestamp(bool),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    String,
    Numeric,
    Boolean,
    Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Equals,
    LessThan,
    GreaterThan,
    LessThanEquals,
    GreaterThanEquals,
}

#[derive(Debug, Clone)]
pub(crate) enum Operand {
    /// Checked at load to be of the comparison's kind.
    Literal(Value),
    Path(Query),
}

/// Why a rule could not be evaluated: a path selected nothing (States.Runtime on AWS).
#[derive(Debug)]
pub(crate) struct MissingVariable(pub String);

const KINDS: [(&str, Kind); 4] = [
    ("String", Kind::String),
    ("Numeric", Kind::Numeric),
    ("Boolean", Kind::Boolean),
    ("Timestamp", Kind::Timestamp),
];

const OPS: [(&str, Op); 5] = [
    ("Equals", Op::Equals),
    ("LessThanEquals", Op::LessThanEquals),
    ("GreaterThanEquals", Op::GreaterThanEquals),
    ("LessThan", Op::LessThan),
    ("GreaterThan", Op::GreaterThan),
];

const CHECKS: [&str; 6] = [
    "IsNull",
    "IsPresent",
    "IsNumeric",
    "IsString",
    "IsBoolean",
    "IsTimestamp",
];

/// Splits an operator name like `NumericLessThanEqualsPath` into its parts.
fn comparison(name: &str) -> Option<(Kind, Op, bool)> {
    let (kind, rest) = KINDS
        .iter()
        .find_map(|(prefix, kind)| name.strip_prefix(prefix).map(|rest| (*kind, rest)))?;
    let (rest, by_path) = match rest.strip_suffix("Path") {
        Some(rest) => (rest, true),
        None => (rest, false),
    };
    let op = OPS
        .iter()
        .find_map(|(text, op)| (rest == *text).then_some(*op))?;
    // Booleans only compare for equality.
    (kind != Kind::Boolean || op == Op::Equals).then_some((kind, op, by_path))
}

/// Whether `name` is the operator field of a rule.
fn is_operator(name: &str) -> bool {
    comparison(name).is_some()
        || name == "StringMatches"
        || CHECKS.contains(&name)
        || matches!(name, "And" | "Or" | "Not")
}

impl Rule {
    /// Compiles one rule. `top` rules carry `Next` (handled by the caller); nested ones must not.
    pub(crate) fn compile(
        value: &Value,
        location: &str,
        top: bool,
        problems: &mut Vec<String>,
    ) -> Option<Rule> {
        let Some(map) = value.as_object() else {
            problems.push(format!("{location}: a Choice Rule is an object"));
            return None;
        };
        let mut operators = Vec::new();
        let mut ok = true;
        for key in map.keys() {
            match key.as_str() {
                "Variable" | "Comment" => {}
                "Next" if top => {}
                "Next" => {
                    problems.push(format!(
                        "{location}.Next: only top-level Choice Rules have Next"
                    ));
                    ok = false;
                }
                "Condition" | "Assign" | "Output" => {
                    problems.push(format!(
                        "{location}.{key}: not supported by the local executor (JSONata and \
                         variables are not)"
                    ));
                    ok = false;
                }
                name if is_operator(name) => operators.push(name),
                name => {
                    problems.push(format!(
                        "{location}.{name}: unknown Choice Rule field or operator"
                    ));
                    ok = false;
                }
            }
        }
        if map.get("Comment").is_some_and(|c| !c.is_string()) {
            problems.push(format!("{location}.Comment: must be a string"));
        }
        let operator = match operators.as_slice() {
            [one] => *one,
            [] => {
                problems.push(format!("{location}: a Choice Rule needs one operator"));
                return None;
            }
            many => {
                problems.push(format!(
                    "{location}: a Choice Rule has one operator, not {}",
                    many.join(", ")
                ));
                return None;
            }
        };
        let here = format!("{location}.{operator}");
        let operand = &map[operator];
        if matches!(operator, "And" | "Or" | "Not") {
            if map.contains_key("Variable") {
                problems.push(format!("{location}.Variable: {operator} takes no Variable"));
                ok = false;
            }
            let rule = if operator == "Not" {
                Rule::compile(operand, &here, false, problems).map(|rule| Rule::Not(Box::new(rule)))
            } else {
                match operand.as_array() {
                    Some(items) if !items.is_empty() => {
                        let rules: Vec<Rule> = items
                            .iter()
                            .enumerate()
                            .filter_map(|(at, item)| {
                                Rule::compile(item, &format!("{here}[{at}]"), false, problems)
                            })
                            .collect();
                        (rules.len() == items.len()).then(|| {
                            if operator == "And" {
                                Rule::And(rules)
                            } else {
                                Rule::Or(rules)
                            }
                        })
                    }
                    _ => {
                        problems.push(format!("{here}: a non-empty array of Choice Rules"));
                        None
                    }
                }
            };
            return rule.filter(|_| ok);
        }

        let variable = match map.get("Variable") {
            Some(Value::String(text)) => match Query::parse(text, true) {
                Ok(query) => Some(query),
                Err(error) => {
                    problems.push(format!("{location}.Variable: {error}"));
                    None
                }
            },
            Some(_) => {
                problems.push(format!("{location}.Variable: must be a path string"));
                None
            }
            None => {
                problems.push(format!("{location}: {operator} needs a Variable"));
                None
            }
        };
        let test = compile_test(operator, operand, &here, problems);
        match (variable, test, ok) {
            (Some(variable), Some(test), true) => Some(Rule::Test { variable, test }),
            _ => None,
        }
    }

    pub(crate) fn uses_context(&self) -> bool {
        match self {
            Rule::And(rules) | Rule::Or(rules) => rules.iter().any(Rule::uses_context),
            Rule::Not(rule) => rule.uses_context(),
            Rule::Test { variable, test } => {
                variable.uses_context()
                    || matches!(test, Test::Compare { operand: Operand::Path(query), .. } if query.uses_context())
            }
        }
    }

    pub(crate) fn eval(&self, input: &Value, context: &Value) -> Result<bool, MissingVariable> {
        match self {
            Rule::And(rules) => {
                for rule in rules {
                    if !rule.eval(input, context)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Rule::Or(rules) => {
                for rule in rules {
                    if rule.eval(input, context)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Rule::Not(rule) => Ok(!rule.eval(input, context)?),
            Rule::Test { variable, test } => {
                let Some(value) = variable.select(input, context) else {
                    // Only IsPresent may look at what is not there.
                    return match test {
                        Test::IsPresent(expected) => Ok(!expected),
                        _ => Err(MissingVariable(variable.text().to_owned())),
                    };
                };
                test.eval(&value, input, context)
            }
        }
    }
}

fn compile_test(
    operator: &str,
    operand: &Value,
    here: &str,
    problems: &mut Vec<String>,
) -> Option<Test> {
    if let Some((kind, op, by_path)) = comparison(operator) {
        let operand = if by_path {
            match operand.as_str().map(|text| Query::parse(text, true)) {
                Some(Ok(query)) => Operand::Path(query),
                Some(Err(error)) => {
                    problems.push(format!("{here}: {error}"));
                    return None;
                }
                None => {
                    problems.push(format!("{here}: must be a path string"));
                    return None;
                }
            }
        } else {
            let fits = match kind {
                Kind::String => operand.is_string(),
                Kind::Numeric => operand.is_number(),
                Kind::Boolean => operand.is_boolean(),
                Kind::Timestamp => operand.as_str().and_then(parse_timestamp).is_some(),
            };
            if !fits {
                let wanted = match kind {
                    Kind::String => "a string",
                    Kind::Numeric => "a number",
                    Kind::Boolean => "a boolean",
                    Kind::Timestamp => {
                        "an RFC 3339 timestamp string (uppercase T and Z, e.g. 2026-01-02T03:04:05Z)"
                    }
                };
                problems.push(format!("{here}: must be {wanted}"));
                return None;
            }
            Operand::Literal(operand.clone())
        };
        return Some(Test::Compare { kind, op, operand });
    }
    if operator == "StringMatches" {
        return match operand.as_str().map(Pattern::parse) {
            Some(Ok(pattern)) => Some(Test::Matches(pattern)),
            Some(Err(error)) => {
                problems.push(format!("{here}: {error}"));
                None
            }
            None => {
                problems.push(format!("{here}: must be a string"));
                None
            }
        };
    }
    let Some(expected) = operand.as_bool() else {
        problems.push(format!("{here}: must be true or false"));
        return None;
    };
    Some(match operator {
        "IsNull" => Test::IsNull(expected),
        "IsPresent" => Test::IsPresent(expected),
        "IsNumeric" => Test::IsNumeric(expected),
        "IsString" => Test::IsString(expected),
        "IsBoolean" => Test::IsBoolean(expected),
        _ => Test::IsTimestamp(expected),
    })
}

impl Test {
    fn eval(&self, value: &Value, input: &Value, context: &Value) -> Result<bool, MissingVariable> {
        Ok(match self {
            Test::IsNull(expected) => value.is_null() == *expected,
            Test::IsPresent(expected) => *expected,
            Test::IsNumeric(expected) => value.is_number() == *expected,
            Test::IsString(expected) => value.is_string() == *expected,
            Test::IsBoolean(expected) => value.is_boolean() == *expected,
            Test::IsTimestamp(expected) => {
                value.as_str().and_then(parse_timestamp).is_some() == *expected
            }
            Test::Matches(pattern) => value.as_str().is_some_and(|text| pattern.matches(text)),
            Test::Compare { kind, op, operand } => {
                let other = match operand {
                    Operand::Literal(value) => std::borrow::Cow::Borrowed(value),
                    Operand::Path(query) => query
                        .select(input, context)
                        .ok_or_else(|| MissingVariable(query.text().to_owned()))?,
                };
                // Values of another type than the comparison's never match.
                compare(*kind, value, &other).is_some_and(|ordering| op.accepts(ordering))
            }
        })
    }
}

impl Op {
    fn accepts(self, ordering: Ordering) -> bool {
        match self {
            Op::Equals => ordering == Ordering::Equal,
            Op::LessThan => ordering == Ordering::Less,
            Op::GreaterThan => ordering == Ordering::Greater,
            Op::LessThanEquals => ordering != Ordering::Greater,
            Op::GreaterThanEquals => ordering != Ordering::Less,
        }
    }
}

fn compare(kind: Kind, left: &Value, right: &Value) -> Option<Ordering> {
    match (kind, left, right) {
        (Kind::String, Value::String(a), Value::String(b)) => Some(a.cmp(b)),
        (Kind::Numeric, Value::Number(a), Value::Number(b)) => compare_numbers(a, b),
        (Kind::Boolean, Value::Bool(a), Value::Bool(b)) => Some(a.cmp(b)),
        (Kind::Timestamp, Value::String(a), Value::String(b)) => {
            Some(parse_timestamp(a)?.cmp(&parse_timestamp(b)?))
        }
        _ => None,
    }
}

fn compare_numbers(a: &Number, b: &Number) -> Option<Ordering> {
    if let (Some(a), Some(b)) = (a.as_i64(), b.as_i64()) {
        return Some(a.cmp(&b));
    }
    if let (Some(a), Some(b)) = (a.as_u64(), b.as_u64()) {
        return Some(a.cmp(&b));
    }
    a.as_f64()?.partial_cmp(&b.as_f64()?)
}

/// A timestamp as ASL wants it: RFC 3339 with an uppercase `T` and, when there is no numeric
/// offset, an uppercase `Z`.
pub(crate) fn parse_timestamp(text: &str) -> Option<DateTime<FixedOffset>> {
    if text.as_bytes().get(10) != Some(&b'T') || text.ends_with('z') {
        return None;
    }
    DateTime::parse_from_rfc3339(text).ok()
}

/// A StringMatches pattern: `*` matches any run of characters, `\*` a star, `\\` a backslash.
#[derive(Debug, Clone)]
pub(crate) struct Pattern {
    /// The literal pieces between stars, in order.
    pieces: Vec<String>,
    leading_star: bool,
    trailing_star: bool,
}

impl Pattern {
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let mut pieces = vec![String::new()];
        let mut chars = text.chars();
        let mut leading_star = false;
        let mut trailing_star = false;
        while let Some(c) = chars.next() {
            trailing_star = false;
            match c {
                '\\' => match chars.next() {
                    Some(escaped @ ('*' | '\\')) => pieces.last_mut().unwrap().push(escaped),
                    _ => {
                        return Err(format!(
                            "`{text}`: a backslash escapes only `*` or `\\` in StringMatches"
                        ));
                    }
                },
                '*' => {
                    if pieces.len() == 1 && pieces[0].is_empty() {
                        leading_star = true;
                    }
                    trailing_star = true;
                    if !pieces.last().unwrap().is_empty() {
                        pieces.push(String::new());
                    }
                }
                c => pieces.last_mut().unwrap().push(c),
            }
        }
        pieces.retain(|piece| !piece.is_empty());
        Ok(Self {
            pieces,
            leading_star,
            trailing_star,
        })
    }

    pub(crate) fn matches(&self, text: &str) -> bool {
        let pieces = &self.pieces;
        if pieces.is_empty() {
            return self.leading_star || text.is_empty();
        }
        let mut rest = text;
        let mut middle = &pieces[..];
        if !self.leading_star {
            let Some(after) = rest.strip_prefix(pieces[0].as_str()) else {
                return false;
            };
            rest = after;
            middle = &middle[1..];
            if middle.is_empty() {
                return self.trailing_star || rest.is_empty();
            }
        }
        let (last, middle) = if self.trailing_star {
            (None, middle)
        } else {
            let (last, middle) = middle.split_last().expect("at least one piece");
            (Some(last), middle)
        };
        // Greedy leftmost matching of the middle pieces is exact for `*`-only patterns.
        for piece in middle {
            match rest.find(piece.as_str()) {
                Some(at) => rest = &rest[at + piece.len()..],
                None => return false,
            }
        }
        match last {
            None => true,
            Some(last) => rest.ends_with(last.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn operator_names_split_into_kind_op_and_path() {
        assert_eq!(
            comparison("NumericLessThanEqualsPath"),
            Some((Kind::Numeric, Op::LessThanEquals, true))
        );
        assert_eq!(
            comparison("StringGreaterThan"),
            Some((Kind::String, Op::GreaterThan, false))
        );
        assert_eq!(comparison("BooleanLessThan"), None);
        assert_eq!(comparison("NumericEqual"), None);
    }

    #[test]
    fn string_matches_patterns() {
        let cases = [
            ("foo*.log", "foo23.log", true),
            ("foo*.log", "foo.log", true),
            ("foo*.log", "foo.txt", false),
            ("*.log", "zebra.log", true),
            ("foo*.*", "foobar.zebra", true),
            ("foo*.*", "foobar", false),
            ("*", "", true),
            ("", "", true),
            ("", "x", false),
            ("a*b*c", "abc", true),
            ("a*b*c", "aXbYbZc", true),
            ("a*b*c", "acb", false),
            ("a*a", "a", false),
            ("exact", "exact", true),
            ("exact", "exactly", false),
            (r"lit\*", "lit*", true),
            (r"lit\*", "litx", false),
            (r"back\\slash", r"back\slash", true),
        ];
        for (pattern, text, expected) in cases {
            assert_eq!(
                Pattern::parse(pattern).unwrap().matches(text),
                expected,
                "{pattern} on {text}"
            );
        }
        assert!(Pattern::parse(r"bad\n").is_err());
    }

    #[test]
    fn numbers_compare_exactly_as_integers_and_loosely_as_floats() {
        assert_eq!(
            compare(
                Kind::Numeric,
                &json!(9007199254740993_i64),
                &json!(9007199254740992_i64)
            ),
            Some(Ordering::Greater)
        );
        assert_eq!(
            compare(Kind::Numeric, &json!(1), &json!(1.0)),
            Some(Ordering::Equal)
        );
        assert_eq!(compare(Kind::Numeric, &json!("1"), &json!(1)), None);
    }

    #[test]
    fn timestamps_follow_the_asl_profile() {
        assert!(parse_timestamp("2026-01-02T03:04:05Z").is_some());
        assert!(parse_timestamp("2026-01-02T03:04:05.123+02:00").is_some());
        assert!(parse_timestamp("2026-01-02t03:04:05Z").is_none());
        assert!(parse_timestamp("2026-01-02T03:04:05z").is_none());
        assert!(parse_timestamp("2026-01-02 03:04:05Z").is_none());
        assert_eq!(
            compare(
                Kind::Timestamp,
                &json!("2026-01-02T03:04:05+01:00"),
                &json!("2026-01-02T02:04:05Z")
            ),
            Some(Ordering::Equal)
        );
    }
}
