//! AWS adapters of the ticketing ports.

pub mod dynamo;

pub use dynamo::DynamoStore;
