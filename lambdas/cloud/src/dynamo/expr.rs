//! Expression placeholders. Every attribute name goes through `#name` (so reserved words such as
//! `capacity`, `status` and `ttl` are never an issue) and every value through `:vN`; only the
//! placeholders an expression uses are sent, as DynamoDB requires.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

pub(crate) type Names = HashMap<String, String>;
pub(crate) type Values = HashMap<String, AttributeValue>;

/// Names longer than this get a numbered placeholder. No attribute of the table is named
/// `n<digits>`, so those never meet a name's own placeholder.
const LONG_NAME: usize = 12;

#[derive(Debug, Default)]
pub(crate) struct Expr {
    names: Names,
    values: Values,
}

impl Expr {
    /// The placeholder of an attribute name (`[A-Za-z0-9]+`): `#<name>` for a short name, so
    /// expressions read well; `#n<k>` for a long one (a type's counter, `t<32 hex>Taken`), so
    /// an edit of 20 types stays within DynamoDB's 4 KB per expression.
    pub(crate) fn name(&mut self, attribute: &str) -> String {
        debug_assert!(attribute.chars().all(|c| c.is_ascii_alphanumeric()));
        if let Some((placeholder, _)) = self.names.iter().find(|(_, name)| *name == attribute) {
            return placeholder.clone();
        }
        let placeholder = match attribute.len() {
            0..=LONG_NAME => format!("#{attribute}"),
            _ => format!("#n{}", self.names.len()),
        };
        self.names.insert(placeholder.clone(), attribute.to_owned());
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
        let counter = "t0190f5a0000070008000000000000001Taken";
        assert_eq!(expr.name(counter), "#n1");
        assert_eq!(expr.name(counter), "#n1");
        assert_eq!(expr.value(AttributeValue::N("1".into())), ":v0");
        assert_eq!(expr.value(AttributeValue::N("1".into())), ":v1");
        let (names, values) = expr.into_parts();
        assert_eq!(names.unwrap().len(), 2);
        assert_eq!(values.unwrap().len(), 2);
        assert_eq!(Expr::default().into_parts(), (None, None));
    }
}
