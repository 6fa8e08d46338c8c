//! The DynamoDB calls the store makes, and typed reads of single items.

use aws_sdk_dynamodb::types::{Put, ReturnValue, TransactWriteItem, Update};
use ticket_core::{
    EventId, EventView, Hold, HoldId, HoldStatus, Order, OrderId, Page, PageRequest, StoreError,
    Ticket, TicketId,
};

use super::DynamoStore;
use super::expr::Expr;
use super::failure::{Failure, failure, store_error};
use super::items::{
    Item, decodable, decoded, event_from_item, event_key, hold_from_item, hold_key,
    order_from_item, order_key, ticket_from_item, ticket_key,
};
use super::paging::{QuerySpec, next_cursor};

impl DynamoStore {
    /// A strongly consistent read of one item.
    pub(super) async fn get(&self, key: Item) -> Result<Option<Item>, StoreError> {
        self.client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map(|output| output.item)
            .map_err(|error| store_error("GetItem", error))
    }

    pub(super) async fn put(
        &self,
        item: Item,
        condition: String,
        expr: Expr,
    ) -> Result<(), Failure> {
        let (names, values) = expr.into_parts();
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition)
            .set_expression_attribute_names(names)
            .set_expression_attribute_values(values)
            .send()
            .await
            .map(drop)
            .map_err(|error| failure("PutItem", error))
    }

    /// Updates one item and returns all of it as it is now.
    pub(super) async fn update(
        &self,
        key: Item,
        update: String,
        condition: String,
        expr: Expr,
    ) -> Result<Item, Failure> {
        let (names, values) = expr.into_parts();
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .update_expression(update)
            .condition_expression(condition)
            .set_expression_attribute_names(names)
            .set_expression_attribute_values(values)
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(|error| failure("UpdateItem", error))?
            .attributes
            .ok_or_else(|| {
                Failure::Store(StoreError::Internal("UpdateItem returned no item".into()))
            })
    }

    pub(super) fn tx_put(
        &self,
        item: Item,
        condition: String,
        expr: Expr,
    ) -> Result<TransactWriteItem, StoreError> {
        let (names, values) = expr.into_parts();
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition)
            .set_expression_attribute_names(names)
            .set_expression_attribute_values(values)
            .build()
            .map_err(|_| StoreError::Internal("incomplete transaction put".into()))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    pub(super) fn tx_update(
        &self,
        key: Item,
        update: String,
        condition: String,
        expr: Expr,
    ) -> Result<TransactWriteItem, StoreError> {
        let (names, values) = expr.into_parts();
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key))
            .update_expression(update)
            .condition_expression(condition)
            .set_expression_attribute_names(names)
            .set_expression_attribute_values(values)
            .build()
            .map_err(|_| StoreError::Internal("incomplete transaction update".into()))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    pub(super) async fn transact(&self, writes: Vec<TransactWriteItem>) -> Result<(), Failure> {
        self.client
            .transact_write_items()
            .set_transact_items(Some(writes))
            .send()
            .await
            .map(drop)
            .map_err(|error| failure("TransactWriteItems", error))
    }

    /// One page of a query.
    pub(super) async fn query(
        &self,
        spec: &QuerySpec,
        page: &PageRequest,
    ) -> Result<(Vec<Item>, Option<String>), StoreError> {
        let start = spec.start_key(page.cursor.as_deref())?;
        let mut expr = Expr::default();
        let condition = spec.key_condition(&mut expr);
        let (names, values) = expr.into_parts();
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .set_index_name(spec.index.map(str::to_owned))
            .key_condition_expression(condition)
            .set_expression_attribute_names(names)
            .set_expression_attribute_values(values)
            .scan_index_forward(spec.forward)
            // Index reads are eventually consistent whatever is asked; table reads need not be.
            .consistent_read(spec.index.is_none())
            .limit(i32::try_from(page.limit()).unwrap_or(i32::MAX))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|error| store_error("Query", error))?;
        Ok((
            output.items.unwrap_or_default(),
            next_cursor(output.last_evaluated_key)?,
        ))
    }

    /// One page of a query, decoded. An item that cannot be read is logged and skipped, and the
    /// page is topped up from where the query stopped, so it is as full as without it and its
    /// cursor (DynamoDB's own position) skips nothing that can be read.
    pub(super) async fn query_page<T>(
        &self,
        spec: &QuerySpec,
        page: &PageRequest,
        decode: fn(&Item) -> Result<T, StoreError>,
    ) -> Result<Page<T>, StoreError> {
        let mut items = Vec::new();
        let mut request = page.clone();
        loop {
            let (found, next_cursor) = self.query(spec, &request).await?;
            items.extend(decodable(&found, decode));
            let missing = page.limit() as usize - items.len().min(page.limit() as usize);
            match next_cursor {
                Some(cursor) if missing > 0 => {
                    request = PageRequest::after(missing as u32, cursor);
                }
                next_cursor => return Ok(Page { items, next_cursor }),
            }
        }
    }

    pub(super) async fn query_events(
        &self,
        spec: QuerySpec,
        page: &PageRequest,
    ) -> Result<Page<EventView>, StoreError> {
        self.query_page(&spec, page, event_from_item).await
    }

    pub(super) async fn query_tickets(
        &self,
        spec: QuerySpec,
        page: &PageRequest,
    ) -> Result<Page<Ticket>, StoreError> {
        self.query_page(&spec, page, ticket_from_item).await
    }

    // --- Reads ------------------------------------------------------------------------------

    pub(super) async fn read_event(&self, id: EventId) -> Result<Option<EventView>, StoreError> {
        self.get(event_key(id))
            .await?
            .as_ref()
            .map(|item| decoded(item, event_from_item))
            .transpose()
    }

    pub(super) async fn read_hold(
        &self,
        event_id: EventId,
        id: HoldId,
    ) -> Result<Option<Hold>, StoreError> {
        self.get(hold_key(event_id, id))
            .await?
            .as_ref()
            .map(|item| decoded(item, hold_from_item))
            .transpose()
    }

    pub(super) async fn read_order(&self, id: &OrderId) -> Result<Option<Order>, StoreError> {
        self.get(order_key(id))
            .await?
            .as_ref()
            .map(|item| decoded(item, order_from_item))
            .transpose()
    }

    pub(super) async fn read_ticket(&self, id: TicketId) -> Result<Option<Ticket>, StoreError> {
        self.get(ticket_key(id))
            .await?
            .as_ref()
            .map(|item| decoded(item, ticket_from_item))
            .transpose()
    }

    /// A hold that a write just changed to `status` (its other attributes never change).
    pub(super) async fn hold_now(
        &self,
        event_id: EventId,
        id: HoldId,
        status: HoldStatus,
    ) -> Result<Hold, StoreError> {
        let hold = self
            .read_hold(event_id, id)
            .await?
            .ok_or_else(|| StoreError::Internal("a hold vanished".into()))?;
        Ok(Hold { status, ..hold })
    }
}
