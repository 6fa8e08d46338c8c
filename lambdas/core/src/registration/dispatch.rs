//! The steps by name, and all of them bound to one set of ports: how ticketd's executor runs the
//! state machine's tasks in one process. The Lambda binaries call the step functions directly,
//! each with only the adapters its step needs.

use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use super::render::TicketRenderer;
use super::steps;
use super::{StepFailure, StepPayload};
use crate::clock::Clock;
use crate::files::TicketFiles;
use crate::ids::Ids;
use crate::payments::Payments;
use crate::store::Store;
use crate::ticket_code::TicketSigner;

/// A task state of the registration state machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    ConfirmSeat,
    RecordTicket,
    RenderTicket,
    DeliverTicket,
    RemoveTicketFile,
    VoidTicket,
    ReleaseSeat,
    RefundPayment,
    FailOrder,
}

impl Step {
    /// The forward steps, then the compensations in the order they run.
    pub const ALL: [Step; 9] = [
        Step::ConfirmSeat,
        Step::RecordTicket,
        Step::RenderTicket,
        Step::DeliverTicket,
        Step::RemoveTicketFile,
        Step::VoidTicket,
        Step::ReleaseSeat,
        Step::RefundPayment,
        Step::FailOrder,
    ];

    /// The state's name in the state machine.
    pub const fn state_name(self) -> &'static str {
        self.names().0
    }

    /// The `${...}` placeholder the state's `Resource` (or `FunctionName`) is written with.
    pub const fn substitution(self) -> &'static str {
        self.names().1
    }

    /// The Lambda binary (`lambdas/functions/src/bin/<name>.rs`) that runs the step on AWS.
    pub const fn binary_name(self) -> &'static str {
        self.names().2
    }

    pub fn is_compensation(self) -> bool {
        !matches!(
            self,
            Step::ConfirmSeat | Step::RecordTicket | Step::RenderTicket | Step::DeliverTicket
        )
    }

    pub fn from_state_name(name: &str) -> Option<Step> {
        Self::ALL.into_iter().find(|step| step.state_name() == name)
    }

    const fn names(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Step::ConfirmSeat => ("ConfirmSeat", "ConfirmSeatFunctionArn", "confirm-seat"),
            Step::RecordTicket => ("RecordTicket", "RecordTicketFunctionArn", "record-ticket"),
            Step::RenderTicket => ("RenderTicket", "RenderTicketFunctionArn", "render-ticket"),
            Step::DeliverTicket => (
                "DeliverTicket",
                "DeliverTicketFunctionArn",
                "deliver-ticket",
            ),
            Step::RemoveTicketFile => (
                "RemoveTicketFile",
                "RemoveTicketFileFunctionArn",
                "remove-ticket-file",
            ),
            Step::VoidTicket => ("VoidTicket", "VoidTicketFunctionArn", "void-ticket"),
            Step::ReleaseSeat => ("ReleaseSeat", "ReleaseSeatFunctionArn", "release-seat"),
            Step::RefundPayment => (
                "RefundPayment",
                "RefundPaymentFunctionArn",
                "refund-payment",
            ),
            Step::FailOrder => ("FailOrder", "FailOrderFunctionArn", "fail-order"),
        }
    }
}

/// Every step bound to one set of ports (ticketd runs them all in one process).
#[derive(Clone)]
pub struct RegistrationSteps {
    pub store: Arc<dyn Store>,
    pub files: Arc<dyn TicketFiles>,
    pub payments: Arc<dyn Payments>,
    pub renderer: Arc<dyn TicketRenderer>,
    pub signer: Arc<TicketSigner>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn Ids>,
}

impl RegistrationSteps {
    /// Runs `step` on a task payload (the execution input plus what earlier steps added) and
    /// returns its JSON output.
    pub async fn run(&self, step: Step, payload: Value) -> Result<Value, StepFailure> {
        let StepPayload { request, error } = StepPayload::parse(&payload)?;
        let (store, files) = (&*self.store, &*self.files);
        let now = self.clock.now();
        match step {
            Step::ConfirmSeat => output(steps::confirm_seat(store, &request, now).await?),
            Step::RecordTicket => {
                output(steps::record_ticket(store, &*self.ids, &request, now).await?)
            }
            Step::RenderTicket => output(
                steps::render_ticket(store, files, &*self.renderer, &self.signer, &request).await?,
            ),
            Step::DeliverTicket => {
                output(steps::deliver_ticket(store, files, &request, now).await?)
            }
            Step::RemoveTicketFile => {
                output(steps::remove_ticket_file(store, files, &request).await?)
            }
            Step::VoidTicket => output(steps::void_ticket(store, &request).await?),
            Step::ReleaseSeat => output(steps::release_seat(store, &request, now).await?),
            Step::RefundPayment => output(steps::refund_payment(&*self.payments, &request).await?),
            Step::FailOrder => {
                output(steps::fail_order(store, &request, error.as_ref(), now).await?)
            }
        }
    }
}

/// A step's output as JSON.
pub fn output<T: Serialize>(value: T) -> Result<Value, StepFailure> {
    serde_json::to_value(value)
        .map_err(|error| StepFailure::rejected(format!("the step's output is not JSON: {error}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registration::{ERROR_NAMES, SEAT_UNAVAILABLE, TRANSIENT};

    #[test]
    fn names_follow_one_pattern_and_map_back() {
        for step in Step::ALL {
            let state = step.state_name();
            assert_eq!(step.substitution(), format!("{state}FunctionArn"));
            let mut kebab = String::new();
            for (i, ch) in state.char_indices() {
                if ch.is_ascii_uppercase() && i > 0 {
                    kebab.push('-');
                }
                kebab.push(ch.to_ascii_lowercase());
            }
            assert_eq!(step.binary_name(), kebab);
            assert_eq!(Step::from_state_name(state), Some(step));
        }
        assert_eq!(Step::from_state_name("Nope"), None);
        let forward: Vec<_> = Step::ALL
            .into_iter()
            .filter(|step| !step.is_compensation())
            .collect();
        assert_eq!(
            forward,
            [
                Step::ConfirmSeat,
                Step::RecordTicket,
                Step::RenderTicket,
                Step::DeliverTicket
            ]
        );
    }

    /// The state machine file and these steps name each other: a renamed state, substitution
    /// or error name on either side fails here, not in a deployed workflow.
    #[test]
    fn the_state_machine_file_binds_every_step_and_uses_only_known_error_names() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../statemachines/registration.asl.json"
        );
        let text = std::fs::read_to_string(path).expect("the state machine file");
        let definition: Value = serde_json::from_str(&text).expect("JSON");
        let states = definition["States"].as_object().expect("States");
        let tasks: Vec<&str> = states
            .iter()
            .filter(|(_, state)| state["Type"] == "Task")
            .map(|(name, _)| name.as_str())
            .collect();
        assert_eq!(tasks.len(), Step::ALL.len(), "{tasks:?}");
        for step in Step::ALL {
            let state = &states[step.state_name()];
            assert_eq!(
                state["Parameters"]["FunctionName"],
                format!("${{{}}}", step.substitution()),
                "{step:?}"
            );
            // Every error a step can raise is retried or caught by name, or by States.ALL.
            let named: Vec<&str> = ["Retry", "Catch"]
                .iter()
                .flat_map(|field| state[*field].as_array().into_iter().flatten())
                .flat_map(|rule| rule["ErrorEquals"].as_array().expect("ErrorEquals"))
                .map(|name| name.as_str().expect("an error name"))
                .collect();
            for name in named.iter().filter(|name| name.starts_with("Ticketing.")) {
                assert!(ERROR_NAMES.contains(name), "{step:?} names {name}");
            }
            assert!(
                named.contains(&TRANSIENT),
                "{step:?} retries transient errors"
            );
        }
        let confirm_catches = &states["ConfirmSeat"]["Catch"];
        assert_eq!(confirm_catches[0]["ErrorEquals"][0], SEAT_UNAVAILABLE);
        assert_eq!(confirm_catches[0]["Next"], "RefundPayment");
    }
}
