//! AWS adapters of the ticketing ports.

pub mod dynamo;
pub mod s3;
mod sdk_error;
pub mod step_functions;
pub mod stripe;

pub use dynamo::DynamoStore;
pub use step_functions::StepFunctionsWorkflow;
pub use stripe::StripePayments;
