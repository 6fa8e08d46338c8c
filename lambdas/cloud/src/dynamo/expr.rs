//! Expression placeholders. Every attribute name goes through `#name` (so reserved words such as
//! `capacity`, `status` and `ttl` are never an issue) and every value through `:vN`; only the
//! placeholders an expression uses are sent, as DynamoDB requires.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

pub(crate) type Names = HashMap<String, String>;
pub(crate) type Values = HashMap<String, AttributeValue>;

#[derive(Debug, Default)]
pub(crate) struct Expr {
    names: Names,
    values: Values,
}

impl Expr {
    /// The placeholder of an attribute name (`[A-Za-z0-9]+`).
    pub(crate) fn name(&mut self, attribute: &str) -> String {
        debug_assert!(attribute.chars().all(|c| c.is_ascii_alphanumeric()));
        let placeholder = format!("#{attribute}");
        self.names
            .entry(placeholder.clone())
            .or_insert_with(|| attribute.to_owned());
        placeholder
    }

    /// A placeholder for a value.
    pub(crate) fn value(&mut self, value: AttributeValue) -> String {
        let placeholder = format!(":v{}", self.values.len());
        self.values.insert(placeholder.clone(), value);
        placeholder
    }

    pub(crate) fn into_parts(self) -> (Option<Names>, Option<Values>) {
        let names = (!self.names.is_empty()).then_some(self.names);
        let values = (!self.values.is_empty()).then_some(self.values);
        (names, values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_reused_for_names_and_fresh_for_values() {
        let mut expr = Expr::default();
        assert_eq!(expr.name("capacity"), "#capacity");
        assert_eq!(expr.name("capacity"), "#capacity");
        assert_eq!(expr.value(AttributeValue::N("1".into())), ":v0");
        assert_eq!(expr.value(AttributeValue::N("1".into())), ":v1");
        let (names, values) = expr.into_parts();
        assert_eq!(names.unwrap().len(), 1);
        assert_eq!(values.unwrap().len(), 2);
        assert_eq!(Expr::default().into_parts(), (None, None));
    }
}
