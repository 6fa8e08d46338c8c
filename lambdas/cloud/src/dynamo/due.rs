//! The reconciliation index, `GSI3`: holds still `HELD` that no order took over (partition
//! `HOLDS_DUE`, sorted by expiry), orders still `PENDING` or `REFUNDING` (partition `ORDERS_DUE`,
//! sorted by their next check) and cancelled events whose refunds have not finished (partition
//! `CANCELLATIONS_DUE`, sorted by when they were cancelled). Sparse: an item carries `GSI3PK`/`GSI3SK` only while a reconciliation
//! pass may have to act on it, so a pass reads what is due and nothing else.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use ticket_core::time::to_key;
use ticket_core::{Hold, OrderId, StoreError};

use super::DynamoStore;
use super::expr::Expr;
use super::failure::store_error;
use super::items::{Item, s};

pub(crate) const GSI3: &str = "GSI3";
pub(crate) const GSI3PK: &str = "GSI3PK";
pub(crate) const GSI3SK: &str = "GSI3SK";
pub(crate) const HOLDS_DUE: &str = "HOLDS_DUE";
pub(crate) const ORDERS_DUE: &str = "ORDERS_DUE";
pub(crate) const CANCELLATIONS_DUE: &str = "CANCELLATIONS_DUE";

/// The index attributes of a hold that is due at its expiry.
pub(crate) fn hold_due(hold: &Hold) -> [(&'static str, AttributeValue); 2] {
    [
        (GSI3PK, s(HOLDS_DUE)),
        (
            GSI3SK,
            s(format!(
                "{}#{}#{}",
                to_key(hold.expires_at),
                hold.event_id,
                hold.id
            )),
        ),
    ]
}

/// The sort key of an order that is due at `at`.
pub(crate) fn order_due_key(id: &OrderId, at: DateTime<Utc>) -> String {
    format!("{}#{id}", to_key(at))
}

/// The index attributes of an order that is due at `at`.
pub(crate) fn order_due(id: &OrderId, at: DateTime<Utc>) -> [(&'static str, AttributeValue); 2] {
    [(GSI3PK, s(ORDERS_DUE)), (GSI3SK, s(order_due_key(id, at)))]
}

impl DynamoStore {
    /// Up to `limit` items of a due partition whose time is at or before `now`, earliest first.
    pub(super) async fn query_due(
        &self,
        partition: &str,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Item>, StoreError> {
        let mut expr = Expr::default();
        // Sort keys are `<time>#...`; `$` sorts right after `#`, so `<now>$` is above every key
        // due at `now` and below every later one.
        let condition = format!(
            "{} = {} AND {} < {}",
            expr.name(GSI3PK),
            expr.value(s(partition)),
            expr.name(GSI3SK),
            expr.value(s(format!("{}$", to_key(now))))
        );
        let (names, values) = expr.into_parts();
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI3)
            .key_condition_expression(condition)
            .set_expression_attribute_names(names)
            .set_expression_attribute_values(values)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(|error| store_error("Query", error))?;
        Ok(output.items.unwrap_or_default())
    }
}
