import * as fs from 'node:fs';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { TABLE_SCHEMA_PATH } from './paths';

/** The shape of `cdk/table-schema.json`: CloudFormation `AWS::DynamoDB::Table` property names. */
export interface TableSchema {
  readonly BillingMode: string;
  readonly AttributeDefinitions: ReadonlyArray<{ AttributeName: string; AttributeType: string }>;
  readonly KeySchema: ReadonlyArray<{ AttributeName: string; KeyType: string }>;
  readonly GlobalSecondaryIndexes?: ReadonlyArray<{
    IndexName: string;
    KeySchema: ReadonlyArray<{ AttributeName: string; KeyType: string }>;
    Projection: { ProjectionType: string; NonKeyAttributes?: string[] };
  }>;
  readonly TimeToLiveSpecification?: { AttributeName: string; Enabled: boolean };
}

const KNOWN_SCHEMA_KEYS = new Set([
  'BillingMode',
  'AttributeDefinitions',
  'KeySchema',
  'GlobalSecondaryIndexes',
  'TimeToLiveSpecification',
]);

export function readTableSchema(file = TABLE_SCHEMA_PATH): TableSchema {
  const schema = JSON.parse(fs.readFileSync(file, 'utf8')) as TableSchema;
  // A key this app does not translate would be silently dropped: refuse it instead.
  const unknown = Object.keys(schema).filter((key) => !KNOWN_SCHEMA_KEYS.has(key));
  if (unknown.length > 0) {
    throw new Error(`${file}: the CDK app does not translate ${unknown.join(', ')} yet (lib/data.ts)`);
  }
  if (schema.BillingMode !== 'PAY_PER_REQUEST') {
    throw new Error(`${file}: BillingMode ${schema.BillingMode}; the app deploys on-demand tables only`);
  }
  return schema;
}

function keysOf(
  schema: TableSchema,
  keySchema: ReadonlyArray<{ AttributeName: string; KeyType: string }>,
  where: string,
): { partitionKey: dynamodb.Attribute; sortKey?: dynamodb.Attribute } {
  const attribute = (name: string): dynamodb.Attribute => {
    const definition = schema.AttributeDefinitions.find((d) => d.AttributeName === name);
    if (!definition) throw new Error(`table-schema.json: ${where} key ${name} has no AttributeDefinition`);
    const type = { S: dynamodb.AttributeType.STRING, N: dynamodb.AttributeType.NUMBER, B: dynamodb.AttributeType.BINARY }[
      definition.AttributeType
    ];
    if (!type) throw new Error(`table-schema.json: attribute ${name} has type ${definition.AttributeType}`);
    return { name, type };
  };
  const hash = keySchema.filter((k) => k.KeyType === 'HASH');
  const range = keySchema.filter((k) => k.KeyType === 'RANGE');
  if (hash.length !== 1 || range.length > 1 || hash.length + range.length !== keySchema.length) {
    throw new Error(`table-schema.json: ${where} needs one HASH key and at most one RANGE key`);
  }
  return {
    partitionKey: attribute(hash[0].AttributeName),
    sortKey: range.length ? attribute(range[0].AttributeName) : undefined,
  };
}

/** The table, its ticket bucket and the bucket that receives access logs. */
export class Data extends Construct {
  readonly table: dynamodb.Table;
  readonly schema: TableSchema;
  /** Index names, for IAM statements naming each index (no `index/*`). */
  readonly indexNames: string[];
  readonly ticketBucket: s3.Bucket;
  readonly logsBucket: s3.Bucket;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.schema = readTableSchema();
    const schema = this.schema;

    this.table = new dynamodb.Table(this, 'Table', {
      ...keysOf(schema, schema.KeySchema, 'the table'),
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
      timeToLiveAttribute: schema.TimeToLiveSpecification?.Enabled
        ? schema.TimeToLiveSpecification.AttributeName
        : undefined,
    });
    for (const index of schema.GlobalSecondaryIndexes ?? []) {
      const projectionType = {
        ALL: dynamodb.ProjectionType.ALL,
        KEYS_ONLY: dynamodb.ProjectionType.KEYS_ONLY,
        INCLUDE: dynamodb.ProjectionType.INCLUDE,
      }[index.Projection.ProjectionType];
      if (!projectionType) throw new Error(`table-schema.json: ${index.IndexName} projection ${index.Projection.ProjectionType}`);
      this.table.addGlobalSecondaryIndex({
        indexName: index.IndexName,
        ...keysOf(schema, index.KeySchema, index.IndexName),
        projectionType,
        nonKeyAttributes: index.Projection.NonKeyAttributes,
      });
    }
    this.indexNames = (schema.GlobalSecondaryIndexes ?? []).map((index) => index.IndexName);

    // Access logs of the ticket and site buckets and CloudFront's standard logs. CloudFront
    // writes with ACLs, so ACLs stay enabled (bucket owner preferred); S3 server access logs
    // are delivered through the bucket policy CDK adds.
    this.logsBucket = new s3.Bucket(this, 'AccessLogs', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [
        { id: 'expire-logs', expiration: Duration.days(90) },
        { id: 'abort-uploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
    });
    // (cdk-nag's S1 does not ask a bucket that receives server access logs to log itself.)

    // Ticket PDFs: `tickets/<eventId>/<ticketId>.pdf`, read only through presigned GETs.
    // No versioning: a PDF is derived data (RenderTicket makes it again from the table and the
    // signing key), and the RemoveTicketFile compensation must really delete an attendee's file.
    this.ticketBucket = new s3.Bucket(this, 'TicketFiles', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned: false,
      removalPolicy: RemovalPolicy.RETAIN,
      serverAccessLogsBucket: this.logsBucket,
      serverAccessLogsPrefix: 'ticket-files/',
      lifecycleRules: [
        // Tickets are bought up to about a year ahead; 400 days covers that with margin.
        { id: 'expire-tickets', prefix: 'tickets/', expiration: Duration.days(400) },
        { id: 'abort-uploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
    });
  }
}
