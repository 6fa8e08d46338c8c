//! One moto server per test process (`scripts/moto-server`), SDK clients on it, and a fresh
//! table, made from `cdk/table-schema.json`, for every store a test asks for.
//!
//! Needs `python3` with moto's server extras (`pip install 'moto[server]'`).

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::Credentials;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TableStatus, TimeToLiveSpecification,
};
use serde::Deserialize;
use ticket_cloud::DynamoStore;
use ticket_core::Store;

pub const REPO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

/// The table definition shared with the CDK app.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TableSchema {
    pub billing_mode: String,
    pub attribute_definitions: Vec<AttributeSpec>,
    pub key_schema: Vec<KeySpec>,
    pub global_secondary_indexes: Vec<IndexSpec>,
    pub time_to_live_specification: TtlSpec,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AttributeSpec {
    pub attribute_name: String,
    pub attribute_type: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeySpec {
    pub attribute_name: String,
    pub key_type: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IndexSpec {
    pub index_name: String,
    pub key_schema: Vec<KeySpec>,
    pub projection: ProjectionSpec,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProjectionSpec {
    pub projection_type: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TtlSpec {
    pub attribute_name: String,
    pub enabled: bool,
}

pub fn schema() -> TableSchema {
    let path = format!("{REPO}/cdk/table-schema.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"));
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("{path}: {error}"))
}

/// The moto server of this test process. It exits when its stdin closes, that is when this
/// process ends, however it ends.
struct Moto {
    port: u16,
    _child: Child,
    _stdin: Mutex<ChildStdin>,
    _stdout: Mutex<BufReader<ChildStdout>>,
}

static MOTO: OnceLock<Moto> = OnceLock::new();

#[allow(
    clippy::zombie_processes,
    reason = "the child lives as long as this process, in MOTO, and exits when its stdin closes"
)]
fn start_moto() -> Moto {
    let script = format!("{REPO}/scripts/moto-server");
    let mut child = Command::new("python3")
        .arg(&script)
        .args(["--port", "0"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|error| panic!("cannot run python3 {script}: {error}"));
    let stdin = child.stdin.take().expect("piped stdin");
    let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
    let mut line = String::new();
    loop {
        line.clear();
        let read = stdout.read_line(&mut line).expect("read moto's stdout");
        if read == 0 {
            let status = child.wait().expect("wait for moto-server");
            panic!(
                "moto-server exited ({status}) before listening \
                 (is moto installed? pip install 'moto[server]')"
            );
        }
        if let Some(port) = line.trim().strip_prefix("PORT ") {
            let port = port.parse().expect("moto-server prints its port");
            return Moto {
                port,
                _child: child,
                _stdin: Mutex::new(stdin),
                _stdout: Mutex::new(stdout),
            };
        }
    }
}

pub fn moto_endpoint() -> String {
    format!("http://127.0.0.1:{}", MOTO.get_or_init(start_moto).port)
}

/// A client of the moto server. Every test runs its own tokio runtime, so every test makes its
/// own client (a client's connections belong to the runtime that opened them).
pub async fn client() -> Client {
    Client::new(&sdk_config().await)
}

/// The SDK configuration of every client of the moto server (moto serves every service on its
/// one port).
pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(moto_endpoint())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "moto"))
        .load()
        .await
}

/// Creates a table as `cdk/table-schema.json` defines it and waits until it is active.
pub async fn create_table(client: &Client, name: &str) {
    let schema = schema();
    let keys = |specs: &[KeySpec]| -> Vec<KeySchemaElement> {
        specs
            .iter()
            .map(|key| {
                KeySchemaElement::builder()
                    .attribute_name(&key.attribute_name)
                    .key_type(KeyType::from(key.key_type.as_str()))
                    .build()
                    .expect("key schema element")
            })
            .collect()
    };
    let attributes = schema
        .attribute_definitions
        .iter()
        .map(|attribute| {
            AttributeDefinition::builder()
                .attribute_name(&attribute.attribute_name)
                .attribute_type(ScalarAttributeType::from(attribute.attribute_type.as_str()))
                .build()
                .expect("attribute definition")
        })
        .collect();
    let indexes = schema
        .global_secondary_indexes
        .iter()
        .map(|index| {
            GlobalSecondaryIndex::builder()
                .index_name(&index.index_name)
                .set_key_schema(Some(keys(&index.key_schema)))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::from(
                            index.projection.projection_type.as_str(),
                        ))
                        .build(),
                )
                .build()
                .expect("index")
        })
        .collect();
    client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::from(schema.billing_mode.as_str()))
        .set_attribute_definitions(Some(attributes))
        .set_key_schema(Some(keys(&schema.key_schema)))
        .set_global_secondary_indexes(Some(indexes))
        .send()
        .await
        .expect("create table");
    let mut waited = 0;
    loop {
        let table = client
            .describe_table()
            .table_name(name)
            .send()
            .await
            .expect("describe table")
            .table
            .expect("table description");
        if table.table_status() == Some(&TableStatus::Active) {
            break;
        }
        waited += 1;
        assert!(waited < 200, "table {name} did not become active");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ttl = &schema.time_to_live_specification;
    client
        .update_time_to_live()
        .table_name(name)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name(&ttl.attribute_name)
                .enabled(ttl.enabled)
                .build()
                .expect("ttl specification"),
        )
        .send()
        .await
        .expect("enable ttl");
}

pub fn unique_table_name() -> String {
    format!("tickets-{}", uuid::Uuid::new_v4().simple())
}

/// A store on a new, empty table of its own.
pub async fn fresh_store() -> Arc<dyn Store> {
    let client = client().await;
    let table = unique_table_name();
    create_table(&client, &table).await;
    Arc::new(DynamoStore::new(client, table))
}

/// An S3 client of the same moto server. Path-style
/// addressing (`http://127.0.0.1:<port>/<bucket>/<key>`): virtual-host style would put the bucket
/// in the host name, which does not resolve to moto.
pub async fn s3_client() -> aws_sdk_s3::Client {
    let s3_config = aws_sdk_s3::config::Builder::from(&sdk_config().await)
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(s3_config)
}
