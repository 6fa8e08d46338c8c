/**
 * What keeps a sale from getting stuck on AWS (issue 13): every saga step retries Lambda's own
 * failures and times out before its state does, functions that call Stripe outlast their Stripe
 * requests, and the reconciliation pass runs every minute with exactly the grants it needs.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import {
  API_INTEGRATION_TIMEOUT_SECONDS,
  LAMBDAS,
  LambdaSpec,
  STRIPE_CALLS_PER_INVOCATION,
  STRIPE_REQUEST_TIMEOUT_SECONDS,
  routesOf,
  scheduledLambdas,
  stepLambdas,
} from '../lib/functions';
import { REPO_ROOT } from '../lib/paths';
import { WEBHOOK_EVENTS } from '../lib/ticketing-stack';
import { CfnResource, Synth, allowStatements, logicalId, render, resourcesOfType, synthSkipBuild } from './helpers';

let synth: Synth;
before(() => {
  synth = synthSkipBuild();
});

const fnId = (binary: string) => logicalId(synth.stack.lambdas.get(binary));
const fnOf = (binary: string): CfnResource => synth.json.Resources[fnId(binary)];
const specOf = (binary: string): LambdaSpec => LAMBDAS.find((spec) => spec.binary === binary)!;

/** Errors of the Lambda service and sandbox, not of our code: every Task retries them. */
const LAMBDA_SERVICE_ERRORS = [
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
  'Lambda.ClientExecutionTimeoutException',
  // A hung call: the function's own timeout fires (below the state's) and surfaces as these.
  'Lambda.Unknown',
  'Sandbox.Timedout',
];
/** A cold start that failed: transient where start-up reads a secret from Secrets Manager. */
const COLD_START_ERROR = 'Runtime.ExitError';

interface Retrier {
  ErrorEquals: string[];
  IntervalSeconds?: number;
  MaxAttempts?: number;
  BackoffRate?: number;
  MaxDelaySeconds?: number;
  JitterStrategy?: string;
}
interface TaskState {
  Type: string;
  Resource: string;
  Parameters: { FunctionName: string };
  TimeoutSeconds?: number;
  Retry?: Retrier[];
}

/** The synthesized state machine's Task states, each with the binary its FunctionName binds. */
function tasks(): Array<{ name: string; state: TaskState; binary: string }> {
  const [[, machine]] = resourcesOfType(synth.json, 'AWS::StepFunctions::StateMachine');
  const props = machine.Properties!;
  const definition = JSON.parse(props.DefinitionString as string) as { States: Record<string, TaskState> };
  const byFunction = new Map(LAMBDAS.map((spec) => [fnId(spec.binary), spec.binary]));
  const found = Object.entries(definition.States)
    .filter(([, state]) => state.Type === 'Task')
    .map(([name, state]) => {
      const substitution = /^\$\{([A-Za-z0-9_]+)\}$/.exec(state.Parameters.FunctionName)?.[1];
      assert.ok(substitution, `${name} names its function through a substitution`);
      const bound = props.DefinitionSubstitutions[substitution!];
      const binary = byFunction.get(bound?.['Fn::GetAtt']?.[0]);
      assert.ok(binary, `${name}: ${substitution} is bound to a function of the list`);
      return { name, state, binary: binary! };
    });
  assert.equal(found.length, stepLambdas().length);
  return found;
}

/** `pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(N);` of the Stripe adapter. */
function stripeClientTimeoutSeconds(): number {
  const source = fs.readFileSync(path.join(REPO_ROOT, 'lambdas', 'cloud', 'src', 'stripe.rs'), 'utf8');
  const match = /pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs\((\d+)\);/.exec(source);
  assert.ok(match, 'lambdas/cloud/src/stripe.rs defines DEFAULT_TIMEOUT in whole seconds');
  return Number(match![1]);
}

describe('registration steps against Lambda failures', () => {
  it('every Task retries the Lambda service errors, and Runtime.ExitError where start-up reads a secret', () => {
    for (const { name, state, binary } of tasks()) {
      const retried = new Set((state.Retry ?? []).flatMap((retrier) => retrier.ErrorEquals));
      const missing = LAMBDA_SERVICE_ERRORS.filter((error) => !retried.has(error));
      assert.deepEqual(missing, [], `${name} does not retry`);
      assert.ok(!retried.has('States.ALL'), `${name}: a States.ALL retrier would retry our own refusals too`);
      if (specOf(binary).secrets?.length) {
        assert.ok(retried.has(COLD_START_ERROR), `${name} (${binary} reads a secret at start-up) retries ${COLD_START_ERROR}`);
      }
    }
  });

  it('every retrier backs off: a few attempts, growing, capped and jittered', () => {
    for (const { name, state } of tasks()) {
      assert.ok((state.Retry ?? []).length > 0, name);
      for (const retrier of state.Retry!) {
        const where = `${name} ${retrier.ErrorEquals.join(',')}`;
        assert.ok((retrier.IntervalSeconds ?? 1) >= 1, where);
        assert.ok((retrier.MaxAttempts ?? 3) >= 3 && (retrier.MaxAttempts ?? 3) <= 10, `${where}: MaxAttempts`);
        assert.ok((retrier.BackoffRate ?? 2) >= 1.5 && (retrier.BackoffRate ?? 2) <= 3, `${where}: BackoffRate`);
        assert.ok(retrier.MaxDelaySeconds !== undefined && retrier.MaxDelaySeconds <= 60, `${where}: MaxDelaySeconds`);
        assert.equal(retrier.JitterStrategy, 'FULL', where);
      }
    }
  });

  it("every step function times out before its state does", () => {
    for (const { name, state, binary } of tasks()) {
      assert.ok(state.TimeoutSeconds !== undefined, `${name} has a TimeoutSeconds (the default is 99999999)`);
      const timeout = fnOf(binary).Properties!.Timeout as number;
      assert.ok(timeout < state.TimeoutSeconds!, `${binary}: function ${timeout} s, state ${name} ${state.TimeoutSeconds} s`);
    }
  });
});

describe('functions that call Stripe', () => {
  it('the list states the Stripe client timeout of lambdas/cloud/src/stripe.rs', () => {
    assert.equal(STRIPE_REQUEST_TIMEOUT_SECONDS, stripeClientTimeoutSeconds());
  });

  it('each function given the Stripe key outlasts its Stripe requests, each at its timeout', () => {
    const withKey = LAMBDAS.filter((spec) => spec.secrets?.includes('stripeSecretKey'));
    assert.deepEqual(withKey.map((spec) => spec.binary).sort(), ['cancel-order', 'checkout', 'reconcile', 'refund-cancelled-order', 'refund-order', 'refund-payment']);
    const needed = STRIPE_CALLS_PER_INVOCATION * stripeClientTimeoutSeconds();
    for (const spec of withKey) {
      const timeout = fnOf(spec.binary).Properties!.Timeout as number;
      assert.ok(timeout >= needed, `${spec.binary}: ${timeout} s < ${STRIPE_CALLS_PER_INVOCATION} × ${stripeClientTimeoutSeconds()} s`);
    }
    assert.equal(fnOf('checkout').Properties!.Timeout, 29);
  });

  it('each route function answers within API Gateway’s integration timeout', () => {
    for (const binary of new Set(routesOf().map((route) => route.binary))) {
      const timeout = fnOf(binary).Properties!.Timeout as number;
      assert.ok(timeout < API_INTEGRATION_TIMEOUT_SECONDS, `${binary}: ${timeout} s`);
    }
  });
});

describe('reconciliation pass', () => {
  const roleId = () => logicalId(synth.stack.lambdas.get('reconcile').role!);

  it('is the one scheduled function, invoked every minute by an EventBridge rule, without retries', () => {
    assert.deepEqual(scheduledLambdas().map((spec) => spec.binary), ['reconcile']);
    const rules = resourcesOfType(synth.json, 'AWS::Events::Rule');
    assert.equal(rules.length, 1);
    const [[ruleId, rule]] = rules;
    assert.equal(rule.Properties!.ScheduleExpression, 'rate(1 minute)');
    assert.equal(rule.Properties!.State, 'ENABLED');
    assert.deepEqual(rule.Properties!.Targets, [
      {
        Arn: { 'Fn::GetAtt': [fnId('reconcile'), 'Arn'] },
        Id: 'Target0',
        RetryPolicy: { MaximumEventAgeInSeconds: 60, MaximumRetryAttempts: 0 },
      },
    ]);
    const permissions = resourcesOfType(synth.json, 'AWS::Lambda::Permission').filter(
      ([, permission]) => permission.Properties!.Principal === 'events.amazonaws.com',
    );
    assert.equal(permissions.length, 1);
    assert.deepEqual(permissions[0][1].Properties, {
      Action: 'lambda:InvokeFunction',
      FunctionName: { 'Fn::GetAtt': [fnId('reconcile'), 'Arn'] },
      Principal: 'events.amazonaws.com',
      SourceArn: { 'Fn::GetAtt': [ruleId, 'Arn'] },
    });
    const [[, invokeConfig]] = resourcesOfType(synth.json, 'AWS::Lambda::EventInvokeConfig');
    assert.deepEqual(invokeConfig.Properties, {
      FunctionName: { Ref: fnId('reconcile') },
      MaximumEventAgeInSeconds: 60,
      MaximumRetryAttempts: 0,
      Qualifier: '$LATEST',
    });
  });

  it('runs one pass at a time, each over before the next tick', () => {
    const props = fnOf('reconcile').Properties!;
    assert.equal(props.ReservedConcurrentExecutions, 1);
    assert.ok(props.Timeout < 60, `${props.Timeout} s`);
    // No other function is limited.
    for (const spec of LAMBDAS.filter((s) => s.binary !== 'reconcile')) {
      assert.equal(fnOf(spec.binary).Properties!.ReservedConcurrentExecutions, undefined, spec.binary);
    }
  });

  it('has exactly its grants: items and GSI3 of the table, starting registrations and cancellations, the Stripe key, its log group', () => {
    const table = `\${${logicalId(synth.stack.data.table)}.Arn}`;
    const machine = logicalId(synth.stack.workflow.stateMachine);
    const cancellations = logicalId(synth.stack.cancellation.stateMachine);
    const granted = allowStatements(synth.json)
      .filter((statement) => statement.roles.includes(roleId()))
      .flatMap((statement) => statement.actions.flatMap((action) => statement.resources.map((resource) => `${action} ${resource}`)))
      .sort();
    const logGroup = `\${${fnOf('reconcile').Properties!.LoggingConfig.LogGroup.Ref}.Arn}`;
    assert.deepEqual(
      granted,
      [
        `dynamodb:GetItem ${table}`,
        `dynamodb:Query ${table}/index/GSI3`,
        `dynamodb:UpdateItem ${table}`,
        `logs:CreateLogStream ${logGroup}`,
        `logs:PutLogEvents ${logGroup}`,
        `secretsmanager:GetSecretValue \${${logicalId(synth.stack.secrets.byName.stripeSecretKey)}}`,
        `states:DescribeExecution arn:\${AWS::Partition}:states:\${AWS::Region}:\${AWS::AccountId}:execution:\${${machine}.Name}:*`,
        `states:StartExecution \${${machine}}`,
        `states:DescribeExecution arn:\${AWS::Partition}:states:\${AWS::Region}:\${AWS::AccountId}:execution:\${${cancellations}.Name}:*`,
        `states:StartExecution \${${cancellations}}`,
        // Active tracing; X-Ray's write actions take no resource.
        'xray:PutTelemetryRecords *',
        'xray:PutTraceSegments *',
      ].sort(),
    );
    const managed = synth.json.Resources[roleId()].Properties!.ManagedPolicyArns;
    assert.equal(managed, undefined, 'no managed policy');
  });

  it('alarms when every pass of 15 minutes failed', () => {
    const alarms = resourcesOfType(synth.json, 'AWS::CloudWatch::Alarm').filter(
      ([, alarm]) =>
        alarm.Properties!.MetricName === 'Errors' &&
        JSON.stringify(alarm.Properties!.Dimensions) === JSON.stringify([{ Name: 'FunctionName', Value: { Ref: fnId('reconcile') } }]),
    );
    assert.equal(alarms.length, 1);
    const props = alarms[0][1].Properties!;
    assert.deepEqual(props.Dimensions, [{ Name: 'FunctionName', Value: { Ref: fnId('reconcile') } }]);
    assert.equal(props.Period, 300);
    assert.equal(props.EvaluationPeriods, 3);
    assert.equal(props.DatapointsToAlarm, 3);
    assert.equal(props.Threshold, 1);
  });

  it('queries the sparse GSI3 index (GSI3PK, GSI3SK) of the table', () => {
    const [[, table]] = resourcesOfType(synth.json, 'AWS::DynamoDB::Table');
    const gsi3 = (table.Properties!.GlobalSecondaryIndexes as any[]).find((index) => index.IndexName === 'GSI3');
    assert.ok(gsi3, 'the table has GSI3');
    assert.deepEqual(gsi3.KeySchema, [
      { AttributeName: 'GSI3PK', KeyType: 'HASH' },
      { AttributeName: 'GSI3SK', KeyType: 'RANGE' },
    ]);
    const attributes = new Map((table.Properties!.AttributeDefinitions as any[]).map((a) => [a.AttributeName, a.AttributeType]));
    assert.equal(attributes.get('GSI3PK'), 'S');
    assert.equal(attributes.get('GSI3SK'), 'S');
  });
});

describe('secrets and the webhook', () => {
  it('each secret starts as the placeholder the functions refuse ({"unset": ..., "placeholder": ...})', () => {
    // ticket_functions::is_placeholder recognizes this shape; change both together.
    const secrets = resourcesOfType(synth.json, 'AWS::SecretsManager::Secret');
    assert.equal(secrets.length, 3);
    for (const [id, secret] of secrets) {
      const generate = secret.Properties!.GenerateSecretString;
      assert.deepEqual(Object.keys(JSON.parse(generate.SecretStringTemplate)), ['unset'], id);
      assert.equal(generate.GenerateStringKey, 'placeholder', id);
    }
  });

  it('the WebhookUrl output and scripts/deploy name the four events the handler acts on', () => {
    const handler = fs.readFileSync(path.join(REPO_ROOT, 'lambdas', 'core', 'src', 'api', 'webhook.rs'), 'utf8');
    const handled = [...new Set([...handler.matchAll(/"(checkout\.session\.[a-z_]+)"/g)].map((m) => m[1]))].sort();
    assert.deepEqual(handled, [...WEBHOOK_EVENTS].sort());
    const description = (synth.json.Outputs!.WebhookUrl as { Description?: string }).Description ?? '';
    const deploy = fs.readFileSync(path.join(REPO_ROOT, 'scripts', 'deploy'), 'utf8');
    for (const event of WEBHOOK_EVENTS) {
      assert.ok(description.includes(event), `WebhookUrl description names ${event}`);
      assert.ok(deploy.includes(event), `scripts/deploy names ${event}`);
    }
    assert.match(render(synth.json.Outputs!.WebhookUrl.Value), /\/stripe\/webhook$/);
  });
});
