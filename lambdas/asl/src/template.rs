//! Payload templates: Parameters, ResultSelector and a Task's Payload. A key ending in `.$`
//! takes the value its path selects, at any depth (objects inside objects and arrays).

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::path::Query;

#[derive(Debug, Clone)]
pub(crate) enum Template {
    /// No path anywhere below: copied as is.
    Literal(Value),
    Object(Vec<(String, Template)>),
    Array(Vec<Template>),
    /// The value of a `.$` key; `field` is the key as written, for error messages.
    Path {
        field: String,
        query: Query,
    },
}

/// A `.$` path that selected nothing: AWS fails the execution with States.Runtime.
#[derive(Debug)]
pub(crate) struct MissingPath {
    pub path: String,
    pub field: String,
}

impl Template {
    /// Compiles `value`; problems are reported as `location.field: message`.
    pub(crate) fn compile(value: &Value, location: &str, problems: &mut Vec<String>) -> Self {
        match value {
            Value::Object(map) => {
                let mut fields = Vec::with_capacity(map.len());
                let mut names = HashSet::new();
                let mut dynamic = false;
                for (key, value) in map {
                    let here = format!("{location}.{key}");
                    if let Some(name) = key.strip_suffix(".$") {
                        if !names.insert(name.to_owned()) {
                            problems.push(format!("{here}: `{name}` is given twice"));
                        }
                        dynamic = true;
                        let template = match value.as_str() {
                            Some(text) if text.starts_with("States.") => {
                                problems.push(format!(
                                    "{here}: intrinsic functions (`{text}`) are not supported by \
                                     the local executor"
                                ));
                                Template::Literal(Value::Null)
                            }
                            Some(text) => match Query::parse(text, true) {
                                Ok(query) => Template::Path {
                                    field: key.clone(),
                                    query,
                                },
                                Err(error) => {
                                    problems.push(format!("{here}: {error}"));
                                    Template::Literal(Value::Null)
                                }
                            },
                            None => {
                                problems.push(format!(
                                    "{here}: a field ending in `.$` takes a path string"
                                ));
                                Template::Literal(Value::Null)
                            }
                        };
                        fields.push((name.to_owned(), template));
                    } else {
                        if !names.insert(key.clone()) {
                            problems.push(format!("{here}: `{key}` is given twice"));
                        }
                        let template = Template::compile(value, &here, problems);
                        dynamic |= !matches!(template, Template::Literal(_));
                        fields.push((key.clone(), template));
                    }
                }
                if dynamic {
                    Template::Object(fields)
                } else {
                    Template::Literal(value.clone())
                }
            }
            Value::Array(items) => {
                let items: Vec<Template> = items
                    .iter()
                    .enumerate()
                    .map(|(at, item)| {
                        Template::compile(item, &format!("{location}[{at}]"), problems)
                    })
                    .collect();
                if items
                    .iter()
                    .all(|item| matches!(item, Template::Literal(_)))
                {
                    Template::Literal(value.clone())
                } else {
                    Template::Array(items)
                }
            }
            other => Template::Literal(other.clone()),
        }
    }

    /// A template that is just `$`.
    pub(crate) fn root_path() -> Self {
        Template::Path {
            field: "Payload.$".into(),
            query: Query::parse("$", false).expect("`$` is a path"),
        }
    }

    pub(crate) fn uses_context(&self) -> bool {
        match self {
            Template::Literal(_) => false,
            Template::Object(fields) => fields.iter().any(|(_, t)| t.uses_context()),
            Template::Array(items) => items.iter().any(Template::uses_context),
            Template::Path { query, .. } => query.uses_context(),
        }
    }

    /// Builds the value for `input` (and `context`, for `$$` paths).
    pub(crate) fn apply(&self, input: &Value, context: &Value) -> Result<Value, MissingPath> {
        Ok(match self {
            Template::Literal(value) => value.clone(),
            Template::Object(fields) => {
                let mut map = Map::new();
                for (name, template) in fields {
                    map.insert(name.clone(), template.apply(input, context)?);
                }
                Value::Object(map)
            }
            Template::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|item| item.apply(input, context))
                    .collect::<Result<_, _>>()?,
            ),
            Template::Path { field, query } => match query.select(input, context) {
                Some(value) => value.into_owned(),
                None => {
                    return Err(MissingPath {
                        path: query.text().to_owned(),
                        field: field.clone(),
                    });
                }
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn compile(value: Value) -> Template {
        let mut problems = Vec::new();
        let template = Template::compile(&value, "P", &mut problems);
        assert!(problems.is_empty(), "{problems:?}");
        template
    }

    #[test]
    fn paths_are_replaced_at_every_depth() {
        let template = compile(json!({
            "id.$": "$.order.id",
            "fixed": 1,
            "nested": {"name.$": "$.who", "list": [{"first.$": "$.items[0]"}, 7]},
            "all.$": "$.items[*]",
            "state.$": "$$.State.Name"
        }));
        assert!(template.uses_context());
        let input = json!({"order": {"id": "o1"}, "who": "ann", "items": ["a", "b"]});
        let context = json!({"State": {"Name": "S"}});
        assert_eq!(
            template.apply(&input, &context).unwrap(),
            json!({
                "id": "o1",
                "fixed": 1,
                "nested": {"name": "ann", "list": [{"first": "a"}, 7]},
                "all": ["a", "b"],
                "state": "S"
            })
        );
    }

    #[test]
    fn literal_subtrees_stay_literal() {
        assert!(matches!(
            compile(json!({"a": [1, {"b": 2}]})),
            Template::Literal(_)
        ));
    }

    #[test]
    fn a_missing_path_names_the_field() {
        let error = compile(json!({"x": {"y.$": "$.nope"}}))
            .apply(&json!({}), &Value::Null)
            .unwrap_err();
        assert_eq!(
            (error.path.as_str(), error.field.as_str()),
            ("$.nope", "y.$")
        );
    }

    #[test]
    fn intrinsics_and_duplicates_are_refused() {
        let mut problems = Vec::new();
        Template::compile(
            &json!({"a.$": "States.Format('{}', $.x)", "b": 1, "b.$": "$.b", "c.$": 3}),
            "States.S.Parameters",
            &mut problems,
        );
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(
            problems[0].contains("States.S.Parameters.a.$") && problems[0].contains("intrinsic")
        );
        assert!(problems[1].contains("`b` is given twice"));
        assert!(problems[2].contains("c.$"));
    }
}
