//! Queries that page: the key condition, and cursors made of `LastEvaluatedKey`.
//!
//! A cursor is [`encode_cursor`] of the last evaluated key as a map of string attributes (every
//! key attribute of the table is a string). A cursor is only taken back by the query it belongs
//! to: the same key attributes, the same partition, a sort key inside the query's range.

use std::collections::{BTreeMap, BTreeSet};

use ticket_core::StoreError;
use ticket_core::page::{decode_cursor, encode_cursor};

use super::expr::Expr;
use super::items::{GSI1, GSI1PK, GSI1SK, GSI2, GSI2PK, GSI2SK, Item, PK, SK, s};

/// Which sort keys a query takes.
#[derive(Debug, Clone)]
pub(crate) enum SortRange {
    BeginsWith(String),
    /// Strictly greater than.
    After(String),
}

impl SortRange {
    fn contains(&self, sort_key: &str) -> bool {
        match self {
            Self::BeginsWith(prefix) => sort_key.starts_with(prefix.as_str()),
            Self::After(bound) => sort_key > bound.as_str(),
        }
    }
}

/// One paged query of the table or of an index.
#[derive(Debug, Clone)]
pub(crate) struct QuerySpec {
    /// `None` queries the table.
    pub index: Option<&'static str>,
    pub partition: String,
    pub sort: SortRange,
    /// Ascending sort key order when true.
    pub forward: bool,
    /// Every item this query returns has a table `PK` starting with this.
    pub item_prefix: &'static str,
}

impl QuerySpec {
    fn key_attributes(&self) -> (&'static str, &'static str) {
        match self.index {
            None => (PK, SK),
            Some(GSI1) => (GSI1PK, GSI1SK),
            Some(GSI2) => (GSI2PK, GSI2SK),
            Some(other) => unreachable!("unknown index {other}"),
        }
    }

    /// The attributes of a `LastEvaluatedKey`: the table's key, plus the index's.
    fn position_attributes(&self) -> BTreeSet<&'static str> {
        let (partition, sort) = self.key_attributes();
        BTreeSet::from([PK, SK, partition, sort])
    }

    /// The key condition expression.
    pub(crate) fn key_condition(&self, expr: &mut Expr) -> String {
        let (partition_name, sort_name) = self.key_attributes();
        let partition = format!(
            "{} = {}",
            expr.name(partition_name),
            expr.value(s(&self.partition))
        );
        match &self.sort {
            SortRange::BeginsWith(prefix) => format!(
                "{partition} AND begins_with({}, {})",
                expr.name(sort_name),
                expr.value(s(prefix))
            ),
            SortRange::After(bound) => format!(
                "{partition} AND {} > {}",
                expr.name(sort_name),
                expr.value(s(bound))
            ),
        }
    }

    /// The `ExclusiveStartKey` a cursor stands for; `InvalidCursor` for anything this query did
    /// not hand out.
    pub(crate) fn start_key(&self, cursor: Option<&str>) -> Result<Option<Item>, StoreError> {
        let Some(cursor) = cursor else {
            return Ok(None);
        };
        let position: BTreeMap<String, String> = decode_cursor(cursor)?;
        let (partition_name, sort_name) = self.key_attributes();
        let attributes: BTreeSet<&str> = position.keys().map(String::as_str).collect();
        let belongs = attributes == self.position_attributes()
            && position[partition_name] == self.partition
            && self.sort.contains(&position[sort_name])
            && position[PK].starts_with(self.item_prefix);
        if !belongs {
            return Err(StoreError::InvalidCursor);
        }
        Ok(Some(
            position
                .into_iter()
                .map(|(name, value)| (name, s(value)))
                .collect(),
        ))
    }
}

/// The cursor of the next page, from a query's `LastEvaluatedKey`.
pub(crate) fn next_cursor(last_key: Option<Item>) -> Result<Option<String>, StoreError> {
    let Some(last_key) = last_key.filter(|key| !key.is_empty()) else {
        return Ok(None);
    };
    let position = last_key
        .into_iter()
        .map(|(name, value)| match value.as_s() {
            Ok(text) => Ok((name, text.clone())),
            Err(_) => Err(StoreError::Internal(format!(
                "key attribute {name} is not a string"
            ))),
        })
        .collect::<Result<BTreeMap<String, String>, StoreError>>()?;
    Ok(Some(encode_cursor(&position)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> QuerySpec {
        QuerySpec {
            index: Some(GSI1),
            partition: "ORG#a".into(),
            sort: SortRange::BeginsWith("EVENT#".into()),
            forward: true,
            item_prefix: "EVENT#",
        }
    }

    fn cursor(pairs: &[(&str, &str)]) -> String {
        let key: Item = pairs
            .iter()
            .map(|(name, value)| (name.to_string(), s(*value)))
            .collect();
        next_cursor(Some(key)).unwrap().unwrap()
    }

    #[test]
    fn cursors_round_trip_within_their_query() {
        let good = [
            (PK, "EVENT#1"),
            (SK, "METADATA"),
            (GSI1PK, "ORG#a"),
            (GSI1SK, "EVENT#2030#1"),
        ];
        let key = spec().start_key(Some(&cursor(&good))).unwrap().unwrap();
        assert_eq!(key[GSI1SK], s("EVENT#2030#1"));
        assert_eq!(spec().start_key(None).unwrap(), None);
    }

    #[test]
    fn foreign_cursors_are_refused() {
        let refused = |pairs: &[(&str, &str)]| {
            spec().start_key(Some(&cursor(pairs))) == Err(StoreError::InvalidCursor)
        };
        // Another organizer's partition.
        assert!(refused(&[
            (PK, "EVENT#1"),
            (SK, "METADATA"),
            (GSI1PK, "ORG#b"),
            (GSI1SK, "EVENT#2030#1"),
        ]));
        // A table cursor, not an index one.
        assert!(refused(&[(PK, "EVENT#1"), (SK, "METADATA")]));
        // A user's ticket on the same index.
        assert!(refused(&[
            (PK, "TICKET#1"),
            (SK, "METADATA"),
            (GSI1PK, "ORG#a"),
            (GSI1SK, "TICKET#2030#1"),
        ]));
        let after = QuerySpec {
            index: Some(GSI2),
            partition: "EVENTS".into(),
            sort: SortRange::After("2030-01-01".into()),
            forward: true,
            item_prefix: "EVENT#",
        };
        let past = cursor(&[
            (PK, "EVENT#1"),
            (SK, "METADATA"),
            (GSI2PK, "EVENTS"),
            (GSI2SK, "2029-12-31#1"),
        ]);
        assert_eq!(after.start_key(Some(&past)), Err(StoreError::InvalidCursor));
        assert_eq!(spec().start_key(Some("")), Err(StoreError::InvalidCursor));
    }
}
