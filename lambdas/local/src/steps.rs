//! A state machine's task states run in process: each `${<State>FunctionArn}` of a definition
//! bound to one step of core, failing the way a Lambda function error reaches Step Functions.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;
use ticket_core::cancellation::{CancellationStep, CancellationSteps};
use ticket_core::registration::{RegistrationSteps, Step, StepFailure};

use asl::{Bindings, TaskFailure, TaskFunction};

/// The steps of one state machine, bound to their ports.
#[async_trait]
pub trait InProcessSteps: Send + Sync + 'static {
    type Step: Copy + Send + Sync + 'static;

    /// Every step, each bound under [`Self::substitution`].
    fn all() -> Vec<Self::Step>;

    /// The `${...}` placeholder the step's state names its function with.
    fn substitution(step: Self::Step) -> &'static str;

    async fn run(&self, step: Self::Step, payload: Value) -> Result<Value, StepFailure>;
}

#[async_trait]
impl InProcessSteps for RegistrationSteps {
    type Step = Step;

    fn all() -> Vec<Step> {
        Step::ALL.to_vec()
    }

    fn substitution(step: Step) -> &'static str {
        step.substitution()
    }

    async fn run(&self, step: Step, payload: Value) -> Result<Value, StepFailure> {
        RegistrationSteps::run(self, step, payload).await
    }
}

#[async_trait]
impl InProcessSteps for CancellationSteps {
    type Step = CancellationStep;

    fn all() -> Vec<CancellationStep> {
        CancellationStep::ALL.to_vec()
    }

    fn substitution(step: CancellationStep) -> &'static str {
        step.substitution()
    }

    async fn run(&self, step: CancellationStep, payload: Value) -> Result<Value, StepFailure> {
        CancellationSteps::run(self, step, payload).await
    }
}

/// One step as a Lambda function.
struct StepFunction<S: InProcessSteps> {
    steps: Arc<S>,
    step: S::Step,
}

#[async_trait]
impl<S: InProcessSteps> TaskFunction for StepFunction<S> {
    async fn invoke(&self, payload: Value) -> Result<Value, TaskFailure> {
        self.steps
            .run(self.step, payload)
            .await
            .map_err(|failure| TaskFailure::lambda_error(failure.error, failure.cause))
    }
}

/// Every step bound under its substitution name. `wrap` sees each function before it is bound
/// (tests inject faults there); pass `|_, function| function` to bind them as they are.
pub fn bindings<S: InProcessSteps>(
    steps: Arc<S>,
    wrap: impl Fn(S::Step, Arc<dyn TaskFunction>) -> Arc<dyn TaskFunction>,
) -> Bindings {
    S::all()
        .into_iter()
        .fold(Bindings::new(), |bindings, step| {
            let function = Arc::new(StepFunction {
                steps: steps.clone(),
                step,
            });
            bindings.bind(S::substitution(step), wrap(step, function))
        })
}
