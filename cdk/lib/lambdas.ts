import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ArnFormat, Duration, Stack, Tags } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { Data } from './data';
import { ENV, FileAccess, LambdaSpec, SECRET_ENV, TableAccess, checkList, timeoutOf } from './functions';
import { acknowledge } from './nag';
import { Secrets } from './secrets';
import { Settings } from './settings';

export const LOG_RETENTION = logs.RetentionDays.ONE_MONTH;

/** Prefix of every ticket file key (`FileKey::for_ticket`). */
export const TICKET_PREFIX = 'tickets/';

/** The tag naming the binary a function runs (`lambdas/functions/src/bin/<binary>.rs`). */
export const BINARY_TAG = 'ticketing:binary';

/** `confirm-seat` → `ConfirmSeat`: construct ids (and so logical ids) of a binary. */
export function pascal(binary: string): string {
  return binary
    .split('-')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');
}

const PLACEHOLDER_BOOTSTRAP = `#!/bin/sh
# Placeholder written by the CDK app with -c skipBuild=true: not a Lambda. Build the Rust
# binaries with scripts/build-lambdas and synthesize without skipBuild to deploy.
echo "placeholder bootstrap: this stack was synthesized with skipBuild=true" >&2
exit 1
`;

/** One tiny directory shared by every function in skip-build mode (same content, same asset hash). */
function placeholderDir(): string {
  const dir = path.join(os.tmpdir(), 'ticketing-cdk-placeholder-lambda');
  const file = path.join(dir, 'bootstrap');
  if (!fs.existsSync(file) || fs.readFileSync(file, 'utf8') !== PLACEHOLDER_BOOTSTRAP) {
    fs.mkdirSync(dir, { recursive: true });
    const temp = `${file}.${process.pid}`;
    fs.writeFileSync(temp, PLACEHOLDER_BOOTSTRAP, { mode: 0o755 });
    fs.renameSync(temp, file);
  }
  return dir;
}

/** A listed binary has no bootstrap in the lambda dir (reported without a stack trace). */
export class MissingLambdaBuild extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MissingLambdaBuild';
  }
}

/**
 * Where each binary's code comes from. Without skipBuild every listed binary must have been
 * built: a missing one fails the synth, naming it, rather than deploying a stack that silently
 * lacks a route (CloudFormation would delete a function that was deployed before).
 */
export function codeDirs(specs: readonly LambdaSpec[], settings: Settings): Map<string, string> {
  const dirs = new Map<string, string>();
  if (settings.skipBuild) {
    const dir = placeholderDir();
    for (const spec of specs) dirs.set(spec.binary, dir);
    return dirs;
  }
  const missing: string[] = [];
  for (const spec of specs) {
    const dir = path.join(settings.lambdaDir, spec.binary);
    if (!fs.existsSync(path.join(dir, 'bootstrap'))) missing.push(spec.binary);
    dirs.set(spec.binary, dir);
  }
  if (missing.length > 0) {
    throw new MissingLambdaBuild(
      `no bootstrap in ${settings.lambdaDir} for: ${missing.join(', ')}. ` +
        'Run scripts/build-lambdas (or pass -c lambdaDir=<dir>), or -c skipBuild=true to synthesize with placeholders.',
    );
  }
  return dirs;
}

export interface LambdasProps {
  readonly specs: readonly LambdaSpec[];
  readonly settings: Settings;
  readonly data: Data;
  readonly secrets: Secrets;
}

/** The functions of the list, each with its own role, log group, environment and grants. */
export class Lambdas extends Construct {
  readonly specs: readonly LambdaSpec[];
  private readonly functions = new Map<string, lambda.Function>();
  private readonly data: Data;

  constructor(scope: Construct, id: string, props: LambdasProps) {
    super(scope, id);
    checkList(props.specs);
    this.specs = props.specs;
    this.data = props.data;
    const dirs = codeDirs(props.specs, props.settings);

    for (const spec of props.specs) {
      const name = pascal(spec.binary);
      const logGroup = new logs.LogGroup(this, `${name}Logs`, { retention: LOG_RETENTION });
      const role = new iam.Role(this, `${name}Role`, {
        assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
        description: `Runs the ${spec.binary} Lambda`,
      });
      // Its own log group only (what AWSLambdaBasicExecutionRole grants on every log group).
      role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          resources: [logGroup.logGroupArn],
        }),
      );
      const fn = new lambda.Function(this, name, {
        description: spec.purpose.slice(0, 256),
        runtime: lambda.Runtime.PROVIDED_AL2023,
        architecture: lambda.Architecture.ARM_64,
        handler: 'bootstrap',
        code: lambda.Code.fromAsset(dirs.get(spec.binary)!),
        memorySize: spec.memoryMb ?? 256,
        timeout: Duration.seconds(timeoutOf(spec)),
        reservedConcurrentExecutions: spec.reservedConcurrency,
        role,
        logGroup,
        loggingFormat: lambda.LoggingFormat.JSON,
        applicationLogLevelV2: lambda.ApplicationLogLevel.INFO,
        // INFO keeps the platform's REPORT lines (duration, memory, init time).
        systemLogLevelV2: lambda.SystemLogLevel.INFO,
        // Traces continue from the state machine and the API into each function.
        tracing: lambda.Tracing.ACTIVE,
      });
      this.functions.set(spec.binary, fn);
      // Which binary runs here, for people reading the console and for scripts/aws-stack,
      // which starts each function of the template as that binary.
      Tags.of(fn).add(BINARY_TAG, spec.binary);
      acknowledge(
        role,
        'AwsSolutions-IAM5[Resource::*]',
        'Active tracing: X-Ray PutTraceSegments and PutTelemetryRecords have no resource-level permissions, so the grant Lambda adds for them names every resource.',
      );
      if (spec.schedule) this.schedule(name, fn, spec.schedule.rateMinutes);

      if (spec.table) this.grantTable(fn, spec.table);
      if (spec.ticketFiles?.length) this.grantTicketFiles(fn, spec.ticketFiles);
      for (const secretName of spec.secrets ?? []) {
        const secret = props.secrets.byName[secretName];
        fn.addEnvironment(SECRET_ENV[secretName], secret.secretArn);
        role.addToPrincipalPolicy(
          new iam.PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: [secret.secretArn] }),
        );
      }
    }
  }

  /** Every function of the list. */
  all(): lambda.Function[] {
    return [...this.functions.values()];
  }

  /** The function that runs a state of the registration state machine. */
  getStep(step: string): lambda.Function {
    const spec = this.specs.find((s) => s.step === step);
    if (!spec) throw new Error(`no function for step ${step}`);
    return this.get(spec.binary);
  }

  /** The function of a listed binary. */
  get(binary: string): lambda.Function {
    const fn = this.functions.get(binary);
    if (!fn) throw new Error(`no function for binary ${binary}`);
    return fn;
  }

  specOf(binary: string): LambdaSpec {
    const spec = this.specs.find((s) => s.binary === binary);
    if (!spec) throw new Error(`binary ${binary} is not listed`);
    return spec;
  }

  /** STATE_MACHINE_ARN, StartExecution and DescribeExecution for the functions that start registrations. */
  bindWorkflow(stateMachine: sfn.StateMachine): void {
    this.bindStarts(
      stateMachine,
      this.specs.filter((s) => s.startsRegistration),
      ENV.stateMachine,
      'Executions are named per order (the checkout session id), so DescribeExecution can only name them by pattern; the pattern is limited to executions of the registration state machine.',
    );
  }

  /** CANCELLATION_STATE_MACHINE_ARN and the same grants for the functions that cancel events. */
  bindCancellations(stateMachine: sfn.StateMachine): void {
    this.bindStarts(
      stateMachine,
      this.specs.filter((s) => s.startsCancellation),
      ENV.cancellationStateMachine,
      'Executions are named per event (cancel-<eventId>), so DescribeExecution can only name them by pattern; the pattern is limited to executions of the cancellation state machine.',
    );
  }

  private bindStarts(stateMachine: sfn.StateMachine, specs: LambdaSpec[], variable: string, why: string): void {
    const executions = Stack.of(this).formatArn({
      service: 'states',
      resource: 'execution',
      resourceName: `${stateMachine.stateMachineName}:*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    for (const spec of specs) {
      const fn = this.get(spec.binary);
      fn.addEnvironment(variable, stateMachine.stateMachineArn);
      fn.addToRolePolicy(
        new iam.PolicyStatement({ actions: ['states:StartExecution'], resources: [stateMachine.stateMachineArn] }),
      );
      // A repeated start meets ExecutionAlreadyExists; the adapter then reads that execution
      // to compare its input.
      fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['states:DescribeExecution'], resources: [executions] }));
      const name = Stack.of(this).resolve(stateMachine.stateMachineName) as unknown;
      const pattern =
        typeof name === 'string'
          ? `arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:${name}:*`
          : `arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:<${this.logicalIdOf(stateMachine.node.defaultChild as sfn.CfnStateMachine)}.Name>:*`;
      acknowledge(fn.role!, `AwsSolutions-IAM5[Resource::${pattern}]`, why);
    }
  }

  /** SITE_URL for the functions that need the site's address. */
  bindSite(siteUrl: string): void {
    for (const spec of this.specs.filter((s) => s.siteUrl)) {
      this.get(spec.binary).addEnvironment(ENV.siteUrl, siteUrl);
    }
  }

  private logicalIdOf(element: { logicalId: string }): string {
    return Stack.of(this).resolve(element.logicalId) as string;
  }

  /**
   * An EventBridge rule invokes the function every `rateMinutes`. A failed or throttled pass is
   * not retried (neither by EventBridge nor by Lambda's async queue, whose events expire after the
   * minimum of 60 s): the next tick is the retry, and ticks do not pile up behind one another.
   */
  private schedule(name: string, fn: lambda.Function, rateMinutes: number): void {
    fn.configureAsyncInvoke({ retryAttempts: 0, maxEventAge: Duration.minutes(1) });
    new events.Rule(this, `${name}Schedule`, {
      description: `Invokes ${fn.node.id} every ${rateMinutes === 1 ? 'minute' : `${rateMinutes} minutes`}`,
      schedule: events.Schedule.rate(Duration.minutes(rateMinutes)),
      targets: [new targets.LambdaFunction(fn, { retryAttempts: 0, maxEventAge: Duration.minutes(1) })],
    });
  }

  private grantTable(fn: lambda.Function, access: TableAccess): void {
    const table = this.data.table;
    fn.addEnvironment(ENV.table, table.tableName);
    if (typeof access === 'object') {
      const unknown = access.indexes.filter((index) => !this.data.indexNames.includes(index));
      if (unknown.length) throw new Error(`${fn.node.id}: no index ${unknown.join(', ')} in table-schema.json`);
      if (access.items.length) {
        const actions = [...new Set(access.items)].sort().map((action) => `dynamodb:${action}`);
        fn.addToRolePolicy(new iam.PolicyStatement({ actions, resources: [table.tableArn] }));
      }
      if (access.indexes.length) {
        fn.addToRolePolicy(
          new iam.PolicyStatement({
            actions: ['dynamodb:Query'],
            resources: access.indexes.map((index) => `${table.tableArn}/index/${index}`),
          }),
        );
      }
      return;
    }
    const indexes = this.data.indexNames.map((index) => `${table.tableArn}/index/${index}`);
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['dynamodb:GetItem'], resources: [table.tableArn] }));
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['dynamodb:Query'], resources: [table.tableArn, ...indexes] }));
    if (access === 'readWrite') {
      fn.addToRolePolicy(
        new iam.PolicyStatement({
          // TransactWriteItems is authorised per item through these actions; the adapter never
          // deletes an item and never uses a ConditionCheck.
          actions: ['dynamodb:PutItem', 'dynamodb:UpdateItem'],
          resources: [table.tableArn],
        }),
      );
    }
  }

  private grantTicketFiles(fn: lambda.Function, access: readonly FileAccess[]): void {
    const bucket: s3.Bucket = this.data.ticketBucket;
    fn.addEnvironment(ENV.ticketFiles, bucket.bucketName);
    const objects = bucket.arnForObjects(`${TICKET_PREFIX}*`);
    const actions = new Set<string>();
    for (const want of access) {
      if (want === 'read' || want === 'check') actions.add('s3:GetObject');
      if (want === 'write') actions.add('s3:PutObject');
      if (want === 'delete') actions.add('s3:DeleteObject');
    }
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: [...actions].sort(), resources: [objects] }));
    if (access.includes('check')) {
      // Without ListBucket, HeadObject answers 403 for a missing key instead of 404, and the
      // adapter could not tell "not there yet" from "not allowed".
      fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [bucket.bucketArn] }));
    }
    acknowledge(
      fn.role!,
      `AwsSolutions-IAM5[Resource::<${this.logicalIdOf(bucket.node.defaultChild as s3.CfnBucket)}.Arn>/${TICKET_PREFIX}*]`,
      'Ticket PDFs are keyed tickets/<eventId>/<ticketId>.pdf, one object per ticket, so object permissions can only name the tickets/ prefix of the ticket bucket.',
    );
  }
}
