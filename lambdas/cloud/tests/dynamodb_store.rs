//! The DynamoDB store against moto: the shared conformance suite, and the table it runs on.

use ticket_testkit::moto;

use std::collections::BTreeSet;

use aws_sdk_dynamodb::types::{KeySchemaElement, TimeToLiveStatus};

ticket_core::store_conformance_tests!(moto::fresh_store());
ticket_core::reconcile_conformance_tests!(moto::fresh_store());

fn keys(elements: &[KeySchemaElement]) -> Vec<moto::KeySpec> {
    elements
        .iter()
        .map(|key| moto::KeySpec {
            attribute_name: key.attribute_name().to_owned(),
            key_type: key.key_type().as_str().to_owned(),
        })
        .collect()
}

#[tokio::test]
async fn the_table_matches_the_schema_file() {
    let schema = moto::schema();
    let client = moto::client().await;
    let name = moto::unique_table_name();
    moto::create_table(&client, &name).await;
    let table = client
        .describe_table()
        .table_name(&name)
        .send()
        .await
        .unwrap()
        .table
        .unwrap();

    assert_eq!(keys(table.key_schema()), schema.key_schema);
    let attributes: BTreeSet<moto::AttributeSpec> = table
        .attribute_definitions()
        .iter()
        .map(|attribute| moto::AttributeSpec {
            attribute_name: attribute.attribute_name().to_owned(),
            attribute_type: attribute.attribute_type().as_str().to_owned(),
        })
        .collect();
    assert_eq!(
        attributes,
        schema.attribute_definitions.iter().cloned().collect()
    );
    let mut indexes: Vec<moto::IndexSpec> = table
        .global_secondary_indexes()
        .iter()
        .map(|index| moto::IndexSpec {
            index_name: index.index_name().unwrap().to_owned(),
            key_schema: keys(index.key_schema()),
            projection: moto::ProjectionSpec {
                projection_type: index
                    .projection()
                    .and_then(|projection| projection.projection_type())
                    .unwrap()
                    .as_str()
                    .to_owned(),
            },
        })
        .collect();
    indexes.sort_by(|a, b| a.index_name.cmp(&b.index_name));
    assert_eq!(indexes, schema.global_secondary_indexes);
    assert_eq!(
        table
            .billing_mode_summary()
            .and_then(|summary| summary.billing_mode())
            .map(|mode| mode.as_str()),
        Some(schema.billing_mode.as_str())
    );
    // The adapter relies on exactly these names.
    assert_eq!(
        schema
            .global_secondary_indexes
            .iter()
            .map(|index| index.index_name.as_str())
            .collect::<Vec<_>>(),
        ["GSI1", "GSI2", "GSI3"]
    );

    let ttl = client
        .describe_time_to_live()
        .table_name(&name)
        .send()
        .await
        .unwrap()
        .time_to_live_description
        .unwrap();
    assert_eq!(ttl.attribute_name(), Some("ttl"));
    assert_eq!(
        ttl.attribute_name(),
        Some(schema.time_to_live_specification.attribute_name.as_str())
    );
    assert_eq!(ttl.time_to_live_status(), Some(&TimeToLiveStatus::Enabled));
}
