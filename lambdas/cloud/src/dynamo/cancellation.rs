//! Cancelled events: the cancellation written on the event item (`cancelledAt`,
//! `soldWhenCancelled`, `cancellationFinishedAt`), the sold holds it pages through, and the
//! orders whose refund failed (`CANCELFAIL#<orderId>` items under the event).

use chrono::{DateTime, Utc};
use ticket_core::cancellation::CancellationFailure;
use ticket_core::page::MAX_PAGE_SIZE;
use ticket_core::time::{to_key, to_millis};
use ticket_core::{EventId, EventView, HoldStatus, OrderId, Page, PageRequest, StoreError};

use super::DynamoStore;
use super::due::{CANCELLATIONS_DUE, GSI3PK, GSI3SK};
use super::expr::Expr;
use super::failure::{Failure, store_error};
use super::items::{
    CANCELLATION_FAILURE_PREFIX, HOLD_PREFIX, PK, cancellation_failure_from_item,
    cancellation_failure_item, decodable, event_from_item, event_key, event_partition, n, s,
};
use super::paging::{QuerySpec, SortRange, next_cursor};

impl DynamoStore {
    pub(super) async fn cancel(
        &self,
        id: EventId,
        now: DateTime<Utc>,
    ) -> Result<EventView, StoreError> {
        let mut expr = Expr::default();
        let (cancelled_at, version) = (expr.name("cancelledAt"), expr.name("version"));
        let one = expr.value(n(1));
        // The version moves on, so a checkout or edit judged before is judged again; every
        // write that takes seats requires `cancelledAt` absent.
        // In the reconciliation index until its refunds finish.
        let update = format!(
            "SET {cancelled_at} = {}, {} = {}, {version} = if_not_exists({version}, {one}) + {one}, \
             {} = {}, {} = {}",
            expr.value(s(to_key(to_millis(now)))),
            expr.name("soldWhenCancelled"),
            expr.name("sold"),
            expr.name(GSI3PK),
            expr.value(s(CANCELLATIONS_DUE)),
            expr.name(GSI3SK),
            expr.value(s(format!("{}#{id}", to_key(to_millis(now))))),
        );
        let condition = format!(
            "attribute_exists({}) AND attribute_not_exists({cancelled_at}) AND {} > {}",
            expr.name(PK),
            expr.name("startsAt"),
            expr.value(s(to_key(to_millis(now)))),
        );
        match self.update(event_key(id), update, condition, expr).await {
            Ok(item) => event_from_item(&item),
            Err(Failure::Store(error)) => Err(error),
            Err(Failure::Refused) => {
                let view = self.existing_event(id).await?;
                match view.is_cancelled() {
                    true => Ok(view),
                    false => Err(StoreError::EventEnded),
                }
            }
        }
    }

    /// Holds of the event that are `SOLD` to an order, in hold id order. The filter drops the
    /// other holds after DynamoDB read them, so a page is read in as many queries as it takes.
    pub(super) async fn sold_orders(
        &self,
        id: EventId,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<OrderId>, StoreError> {
        let spec = QuerySpec {
            index: None,
            partition: event_partition(id),
            sort: SortRange::BeginsWith(HOLD_PREFIX.into()),
            forward: true,
            item_prefix: "EVENT#",
        };
        let mut start = spec.start_key(cursor)?;
        let mut items = Vec::new();
        loop {
            let mut expr = Expr::default();
            let key = spec.key_condition(&mut expr);
            let filter = format!(
                "{} = {} AND attribute_exists({})",
                expr.name("status"),
                expr.value(s(HoldStatus::Sold.as_str())),
                expr.name("orderId"),
            );
            let projection = format!("{}, {}", expr.name("orderId"), expr.name(PK));
            let (names, values) = expr.into_parts();
            let wanted = limit - items.len();
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression(key)
                .filter_expression(filter)
                .projection_expression(projection)
                .set_expression_attribute_names(names)
                .set_expression_attribute_values(values)
                .consistent_read(true)
                .limit(i32::try_from(wanted).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|error| store_error("Query", error))?;
            items.extend(output.items.unwrap_or_default().iter().filter_map(|item| {
                item.get("orderId")
                    .and_then(|value| value.as_s().ok())
                    .map(|order| OrderId::from(order.as_str()))
            }));
            start = output.last_evaluated_key.filter(|key| !key.is_empty());
            if start.is_none() || items.len() >= limit {
                return Ok(Page {
                    items,
                    next_cursor: next_cursor(start)?,
                });
            }
        }
    }

    pub(super) async fn put_cancellation_failure(
        &self,
        failure: &CancellationFailure,
    ) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(cancellation_failure_item(failure)))
            .send()
            .await
            .map(drop)
            .map_err(|error| store_error("PutItem", error))
    }

    pub(super) async fn read_cancellation_failures(
        &self,
        id: EventId,
    ) -> Result<Vec<CancellationFailure>, StoreError> {
        let spec = QuerySpec {
            index: None,
            partition: event_partition(id),
            sort: SortRange::BeginsWith(CANCELLATION_FAILURE_PREFIX.into()),
            forward: true,
            item_prefix: "EVENT#",
        };
        let mut failures = Vec::new();
        let mut cursor = None;
        loop {
            let page = match cursor {
                Some(cursor) => PageRequest::after(MAX_PAGE_SIZE, cursor),
                None => PageRequest::first(MAX_PAGE_SIZE),
            };
            let (found, next) = self.query(&spec, &page).await?;
            failures.extend(decodable(&found, cancellation_failure_from_item));
            match next {
                Some(next) => cursor = Some(next),
                None => return Ok(failures),
            }
        }
    }

    pub(super) async fn due_cancellations(
        &self,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<EventId>, StoreError> {
        self.query_due(CANCELLATIONS_DUE, before, limit)
            .await?
            .iter()
            .map(|item| event_from_item(item).map(|view| view.event.id))
            .collect()
    }

    pub(super) async fn finish(&self, id: EventId, now: DateTime<Utc>) -> Result<(), StoreError> {
        let mut expr = Expr::default();
        let finished = expr.name("cancellationFinishedAt");
        let update = format!(
            "SET {finished} = {} REMOVE {}, {}",
            expr.value(s(to_key(to_millis(now)))),
            expr.name(GSI3PK),
            expr.name(GSI3SK)
        );
        let condition = format!(
            "attribute_exists({}) AND attribute_not_exists({finished})",
            expr.name("cancelledAt")
        );
        match self.update(event_key(id), update, condition, expr).await {
            Ok(_) | Err(Failure::Refused) => Ok(()),
            Err(Failure::Store(error)) => Err(error),
        }
    }
}
