//! AWS adapters of the ticketing ports.

pub mod dynamo;
pub mod s3;

pub use dynamo::DynamoStore;
