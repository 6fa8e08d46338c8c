//! Adapters of the ticketing ports: AWS (feature `aws`) and Stripe (feature `stripe`).

#[cfg(feature = "aws")]
pub mod cognito;
#[cfg(feature = "aws")]
pub mod dynamo;
#[cfg(feature = "aws")]
pub mod s3;
#[cfg(feature = "aws")]
mod sdk_error;
#[cfg(feature = "aws")]
pub mod step_functions;
#[cfg(feature = "stripe")]
pub mod stripe;

#[cfg(feature = "aws")]
pub use cognito::CognitoUserDirectory;
#[cfg(feature = "aws")]
pub use dynamo::DynamoStore;
#[cfg(feature = "aws")]
pub use step_functions::StepFunctionsWorkflow;
#[cfg(feature = "stripe")]
pub use stripe::StripePayments;
