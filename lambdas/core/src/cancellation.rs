//! Cancelling an event. The request stops sales at once ([`Store::cancel_event`]: no hold,
//! confirmation or late seat succeeds after it) and starts the cancellation state machine
//! (`statemachines/cancellation.asl.json`), which refunds every sold order a page at a time.
//! Its task functions are here; each is idempotent, so a retried task, a repeated Map item or a
//! second pass over the orders refunds nothing twice.
//!
//! An order still being registered when the event was cancelled (its seats confirmed, the
//! order still `PENDING`) is retried until its registration ends it: fulfilled, it is then
//! refunded like the others; failed, its registration refunded it. An order whose refund keeps
//! failing is listed with the reason ([`record_refund_failure`]) and the others go on; the
//! last step passes over the orders again while one that is not listed still holds sold seats.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::clock::Clock;
use crate::event::EventView;
use crate::ids::{EventId, OrderId};
use crate::order::OrderStatus;
use crate::payments::Payments;
use crate::refund::{RefundError, finish_refund, mark_refunding};
use crate::registration::{StepFailure, output, port_failure};
use crate::store::{Store, StoreError};

/// What an order refunded because its event was cancelled says to its buyer.
pub const EVENT_CANCELLED_REASON: &str = "The event was cancelled.";

/// Orders per page of the state machine's loop: 1,000 ids (about 70 bytes each) stay far
/// below the 256 KiB a state's data may have.
pub const PAGE_SIZE: usize = 1000;

/// An order whose refund failed for good (its retries ran out), listed for the organizer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CancellationFailure {
    #[schemars(with = "String")]
    pub event_id: EventId,
    #[schemars(with = "String")]
    pub order_id: OrderId,
    pub reason: String,
    pub at: DateTime<Utc>,
}

/// A task state of the cancellation state machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CancellationStep {
    ListSoldOrders,
    RefundCancelledOrder,
    RecordRefundFailure,
    FinishCancellation,
}

impl CancellationStep {
    pub const ALL: [CancellationStep; 4] = [
        CancellationStep::ListSoldOrders,
        CancellationStep::RefundCancelledOrder,
        CancellationStep::RecordRefundFailure,
        CancellationStep::FinishCancellation,
    ];

    /// The state's name in the state machine.
    pub const fn state_name(self) -> &'static str {
        self.names().0
    }

    /// The `${...}` placeholder the state's `FunctionName` is written with.
    pub const fn substitution(self) -> &'static str {
        self.names().1
    }

    /// The Lambda binary (`lambdas/functions/src/bin/<name>.rs`) that runs the step on AWS.
    pub const fn binary_name(self) -> &'static str {
        self.names().2
    }

    const fn names(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Self::ListSoldOrders => (
                "ListSoldOrders",
                "ListSoldOrdersFunctionArn",
                "list-sold-orders",
            ),
            Self::RefundCancelledOrder => (
                "RefundCancelledOrder",
                "RefundCancelledOrderFunctionArn",
                "refund-cancelled-order",
            ),
            Self::RecordRefundFailure => (
                "RecordRefundFailure",
                "RecordRefundFailureFunctionArn",
                "record-refund-failure",
            ),
            Self::FinishCancellation => (
                "FinishCancellation",
                "FinishCancellationFunctionArn",
                "finish-cancellation",
            ),
        }
    }
}

/// The execution's input and what `ListSoldOrders` reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PageInput {
    pub event_id: EventId,
    pub cursor: Option<String>,
}

impl PageInput {
    /// The input the cancellation of `event_id` starts with.
    pub fn first(event_id: EventId) -> Self {
        Self {
            event_id,
            cursor: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderPage {
    pub order_ids: Vec<OrderId>,
    /// Where the next page starts; `None` after the last.
    pub cursor: Option<String>,
}

/// One Map item: `RefundCancelledOrder` reads it, `RecordRefundFailure` reads it with the
/// error its Catch added.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderInput {
    pub event_id: EventId,
    pub order_id: OrderId,
    #[serde(default)]
    pub error: Option<CaughtError>,
}

/// What a Catch puts at its ResultPath.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaughtError {
    #[serde(rename = "Error")]
    pub error: String,
    #[serde(rename = "Cause", default)]
    pub cause: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RefundOutcome {
    /// Refunded now (or finished refunding).
    Refunded,
    /// Refunded before: nothing changed.
    AlreadyRefunded,
    /// The order failed or expired without a ticket: its registration gave the money back.
    NothingToRefund,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Refunded {
    pub outcome: RefundOutcome,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Finished {
    /// Another pass over the orders is needed (one still holds sold seats and is not listed
    /// as a failure).
    pub again: bool,
}

/// The next page of the event's sold orders.
pub async fn list_sold_orders(
    store: &dyn Store,
    input: &PageInput,
) -> Result<OrderPage, StepFailure> {
    let page = store
        .sold_orders_of_event(input.event_id, input.cursor.as_deref(), PAGE_SIZE)
        .await
        .map_err(port_failure("listing the event's sold orders"))?;
    Ok(OrderPage {
        order_ids: page.items,
        cursor: page.next_cursor,
    })
}

/// Refunds one order of a cancelled event, whatever its tickets' state (the event will not
/// take place, so an admitted buyer is refunded too). Refused for an event that is not
/// cancelled: this path never refunds orders of an event on sale.
pub async fn refund_cancelled_order(
    store: &dyn Store,
    payments: &dyn Payments,
    input: &OrderInput,
    now: DateTime<Utc>,
) -> Result<Refunded, StepFailure> {
    let event = store
        .get_event(input.event_id)
        .await
        .map_err(port_failure("reading the event"))?
        .ok_or_else(|| StepFailure::rejected(format!("no event {}", input.event_id)))?;
    if !event.is_cancelled() {
        return Err(StepFailure::rejected(format!(
            "event {} is not cancelled",
            input.event_id
        )));
    }
    let order = store
        .get_order(&input.order_id)
        .await
        .map_err(port_failure("reading the order"))?
        .filter(|order| order.event_id == input.event_id)
        .ok_or_else(|| {
            StepFailure::rejected(format!(
                "event {} has no order {}",
                input.event_id, input.order_id
            ))
        })?;
    let order = match order.status {
        OrderStatus::Refunded => return Ok(refunded(RefundOutcome::AlreadyRefunded)),
        OrderStatus::Failed | OrderStatus::Expired => {
            return Ok(refunded(RefundOutcome::NothingToRefund));
        }
        OrderStatus::Pending => {
            return Err(StepFailure::transient(format!(
                "order {} is still being registered",
                order.id
            )));
        }
        OrderStatus::Refunding => order,
        // Whatever its tickets' state: the event will not take place.
        OrderStatus::Fulfilled => mark_refunding(store, &order, EVENT_CANCELLED_REASON, now)
            .await
            .map_err(port_failure("marking the order refunding"))?,
    };
    if order.status == OrderStatus::Refunded {
        return Ok(refunded(RefundOutcome::AlreadyRefunded));
    }
    match finish_refund(store, payments, &order, now).await {
        Ok(_) => Ok(refunded(RefundOutcome::Refunded)),
        Err(RefundError::Store(error)) => Err(port_failure("refunding the order")(error)),
        Err(RefundError::Payments(error)) => Err(port_failure("refunding the payment")(error)),
        Err(RefundError::Refused(refusal)) => Err(StepFailure::rejected(refusal.to_string())),
    }
}

fn refunded(outcome: RefundOutcome) -> Refunded {
    Refunded { outcome }
}

/// Lists the order among the cancellation's failures, with the cause its retries ended on.
pub async fn record_refund_failure(
    store: &dyn Store,
    input: &OrderInput,
    now: DateTime<Utc>,
) -> Result<(), StepFailure> {
    let reason = match &input.error {
        Some(caught) if caught.cause.is_empty() => caught.error.clone(),
        Some(caught) => caught.cause.clone(),
        None => "the refund failed".to_owned(),
    };
    store
        .record_cancellation_failure(&CancellationFailure {
            event_id: input.event_id,
            order_id: input.order_id.clone(),
            reason,
            at: now,
        })
        .await
        .map_err(port_failure("recording the refund's failure"))
}

/// Marks the cancellation finished when every order still holding sold seats is listed as a
/// failure; asks for another pass when one is not (it was being registered when the event was
/// cancelled) or a listed one's refund never started (still being registered, or fulfilled).
pub async fn finish_cancellation(
    store: &dyn Store,
    event_id: EventId,
    now: DateTime<Utc>,
) -> Result<Finished, StepFailure> {
    let mut failed = BTreeSet::new();
    for failure in store
        .cancellation_failures(event_id)
        .await
        .map_err(port_failure("reading the refunds' failures"))?
    {
        // A listed order whose refund never started is not done with: one still being
        // registered is ended by its registration, and one fulfilled since (or whose refund
        // could not be marked) is refunded by the next pass. One left REFUNDING is the
        // reconciliation pass's to finish.
        let order = store
            .get_order(&failure.order_id)
            .await
            .map_err(port_failure("reading the order"))?;
        if order.is_some_and(|order| {
            matches!(order.status, OrderStatus::Pending | OrderStatus::Fulfilled)
        }) {
            return Ok(Finished { again: true });
        }
        failed.insert(failure.order_id);
    }
    let mut cursor = None;
    loop {
        let page = store
            .sold_orders_of_event(event_id, cursor.as_deref(), PAGE_SIZE)
            .await
            .map_err(port_failure("listing the event's sold orders"))?;
        if page.items.iter().any(|order| !failed.contains(order)) {
            return Ok(Finished { again: true });
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    store
        .finish_cancellation(event_id, now)
        .await
        .map_err(port_failure("marking the cancellation finished"))?;
    Ok(Finished { again: false })
}

/// Every step bound to one set of ports (ticketd runs them in one process).
#[derive(Clone)]
pub struct CancellationSteps {
    pub store: Arc<dyn Store>,
    pub payments: Arc<dyn Payments>,
    pub clock: Arc<dyn Clock>,
}

impl CancellationSteps {
    /// Runs `step` on its task payload and returns its JSON output.
    pub async fn run(&self, step: CancellationStep, payload: Value) -> Result<Value, StepFailure> {
        let store = &*self.store;
        let now = self.clock.now();
        match step {
            CancellationStep::ListSoldOrders => {
                output(list_sold_orders(store, &parse(payload)?).await?)
            }
            CancellationStep::RefundCancelledOrder => {
                output(refund_cancelled_order(store, &*self.payments, &parse(payload)?, now).await?)
            }
            CancellationStep::RecordRefundFailure => {
                output(record_refund_failure(store, &parse(payload)?, now).await?)
            }
            CancellationStep::FinishCancellation => {
                let input: PageInput = parse(payload)?;
                output(finish_cancellation(store, input.event_id, now).await?)
            }
        }
    }
}

/// A task payload as the step's input type.
pub fn parse<T: serde::de::DeserializeOwned>(payload: Value) -> Result<T, StepFailure> {
    serde_json::from_value(payload)
        .map_err(|error| StepFailure::rejected(format!("unreadable task payload: {error}")))
}

/// How far an event's cancellation has come: what its organizer sees.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CancellationProgress {
    pub requested_at: DateTime<Utc>,
    /// When every order was refunded or listed below; absent while refunds go on.
    pub finished_at: Option<DateTime<Utc>>,
    /// Tickets sold when the event was cancelled.
    pub tickets_sold: u32,
    /// Of those, tickets whose seats are back and whose order is not listed below.
    pub tickets_refunded: u32,
    /// Orders whose refund failed and is not done yet, with the reason.
    pub failures: Vec<CancellationFailure>,
}

/// The progress of a cancelled event's refunds; `None` for an event that is not cancelled.
pub async fn progress(
    store: &dyn Store,
    view: &EventView,
) -> Result<Option<CancellationProgress>, StoreError> {
    let Some(cancellation) = view.cancellation else {
        return Ok(None);
    };
    let mut failures = Vec::new();
    let mut failed_tickets = 0u32;
    for failure in store.cancellation_failures(view.event.id).await? {
        // A listed order refunded since (a later pass, the reconciliation), or whose payment
        // its registration gave back, is no failure any more.
        match store.get_order(&failure.order_id).await? {
            Some(order)
                if matches!(
                    order.status,
                    OrderStatus::Refunded | OrderStatus::Failed | OrderStatus::Expired
                ) => {}
            order => {
                let tickets = order.map_or(0, |order| order.ticket_ids.len());
                failed_tickets += u32::try_from(tickets).unwrap_or(u32::MAX);
                failures.push(failure);
            }
        }
    }
    // A failed order's seats are usually back already (its refund failed at the provider).
    let still_sold = view.seats.sold.saturating_add(failed_tickets);
    Ok(Some(CancellationProgress {
        requested_at: cancellation.requested_at,
        finished_at: cancellation.finished_at,
        tickets_sold: cancellation.sold_then,
        tickets_refunded: cancellation.sold_then.saturating_sub(still_sold),
        failures,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registration::TRANSIENT;

    /// The state machine file and these steps name each other: a renamed state or
    /// substitution on either side fails here, not in a deployed workflow.
    #[test]
    fn the_state_machine_file_binds_every_step_and_retries_transient_errors() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../statemachines/cancellation.asl.json"
        );
        let text = std::fs::read_to_string(path).expect("the state machine file");
        let definition: Value = serde_json::from_str(&text).expect("JSON");
        let top = definition["States"].as_object().expect("States");
        let map = &top["RefundOrders"];
        let inner = map["ItemProcessor"]["States"].as_object().expect("inner");
        let tasks: Vec<(&String, &Value)> = top
            .iter()
            .chain(inner)
            .filter(|(_, state)| state["Type"] == "Task")
            .collect();
        assert_eq!(tasks.len(), CancellationStep::ALL.len());
        for step in CancellationStep::ALL {
            let state = top
                .get(step.state_name())
                .or_else(|| inner.get(step.state_name()))
                .unwrap_or_else(|| panic!("no state {}", step.state_name()));
            assert_eq!(
                state["Parameters"]["FunctionName"],
                format!("${{{}}}", step.substitution())
            );
            assert_eq!(
                state["Retry"][0]["ErrorEquals"]
                    .as_array()
                    .unwrap()
                    .last()
                    .unwrap(),
                TRANSIENT
            );
            let kebab: String = step
                .state_name()
                .char_indices()
                .flat_map(|(at, ch)| {
                    let dash = (at > 0 && ch.is_ascii_uppercase()).then_some('-');
                    dash.into_iter().chain([ch.to_ascii_lowercase()])
                })
                .collect();
            assert_eq!(step.binary_name(), kebab);
        }
        // A page fits the Map's input, and the refund's failure is recorded, not fatal.
        assert_eq!(map["ItemsPath"], "$.page.orderIds");
        assert_eq!(
            inner["RefundCancelledOrder"]["Catch"][0]["Next"],
            "RecordRefundFailure"
        );
        assert!(
            top["ListSoldOrders"]["Comment"]
                .as_str()
                .unwrap()
                .contains(&format!("{}", PAGE_SIZE).replace("000", ",000"))
        );
    }
}
