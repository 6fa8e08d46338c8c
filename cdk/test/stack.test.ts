import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { readTableSchema } from '../lib/data';
import { ENV, LAMBDAS, SECRET_ENV, SecretName, cancellationStepLambdas, envNamesOf, routesOf, stepLambdas } from '../lib/functions';
import { BINARY_TAG, pascal } from '../lib/lambdas';
import { CANCELLATION_ASL_PATH, OPENAPI_PATH, REGISTRATION_ASL_PATH } from '../lib/paths';
import { THROTTLE } from '../lib/api';
import { substitutionFor, substitutionsIn } from '../lib/workflow';
import { COMPENSATION_STEPS } from '../lib/alarms';
import { Synth, allowStatements, logicalId, render, resourcesOfType, synthSkipBuild, tempDir } from './helpers';
import { buildApp } from '../lib/app';
import { Template } from 'aws-cdk-lib/assertions';

let synth: Synth;
before(() => {
  synth = synthSkipBuild();
});

const sortBy = <T>(items: readonly T[], key: (item: T) => string): T[] => [...items].sort((a, b) => key(a).localeCompare(key(b)));
const fnId = (binary: string) => logicalId(synth.stack.lambdas.get(binary));
const roleIdOf = (binary: string) => logicalId(synth.stack.lambdas.get(binary).role!);

describe('DynamoDB table', () => {
  it('has exactly the keys, indexes and TTL of cdk/table-schema.json', () => {
    const schema = readTableSchema();
    const tables = resourcesOfType(synth.json, 'AWS::DynamoDB::Table');
    assert.equal(tables.length, 1);
    const props = tables[0][1].Properties!;
    assert.deepEqual(props.KeySchema, schema.KeySchema);
    assert.deepEqual(
      sortBy(props.AttributeDefinitions, (a: any) => a.AttributeName),
      sortBy(schema.AttributeDefinitions, (a) => a.AttributeName),
    );
    assert.deepEqual(
      sortBy(props.GlobalSecondaryIndexes, (i: any) => i.IndexName),
      sortBy(schema.GlobalSecondaryIndexes ?? [], (i) => i.IndexName),
    );
    assert.deepEqual(props.TimeToLiveSpecification, schema.TimeToLiveSpecification);
    assert.equal(props.BillingMode, schema.BillingMode);
  });

  it('is on-demand, point-in-time recoverable, deletion-protected and retained', () => {
    const [[, table]] = resourcesOfType(synth.json, 'AWS::DynamoDB::Table');
    assert.equal(table.Properties!.BillingMode, 'PAY_PER_REQUEST');
    assert.deepEqual(table.Properties!.PointInTimeRecoverySpecification, { PointInTimeRecoveryEnabled: true });
    assert.equal(table.Properties!.DeletionProtectionEnabled, true);
    assert.equal(table.DeletionPolicy, 'Retain');
    assert.equal(table.UpdateReplacePolicy, 'Retain');
  });
});

describe('buckets', () => {
  it('every bucket blocks public access, encrypts and is retained', () => {
    const buckets = resourcesOfType(synth.json, 'AWS::S3::Bucket');
    assert.equal(buckets.length, 3, 'ticket files, site, access logs');
    for (const [id, bucket] of buckets) {
      assert.deepEqual(
        bucket.Properties!.PublicAccessBlockConfiguration,
        { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
        id,
      );
      assert.equal(
        bucket.Properties!.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.SSEAlgorithm,
        'AES256',
        id,
      );
      assert.equal(bucket.DeletionPolicy, 'Retain', id);
    }
  });

  it('every bucket policy denies requests without TLS', () => {
    for (const [id] of resourcesOfType(synth.json, 'AWS::S3::Bucket')) {
      const policies = resourcesOfType(synth.json, 'AWS::S3::BucketPolicy').filter(
        ([, policy]) => policy.Properties!.Bucket.Ref === id,
      );
      assert.equal(policies.length, 1, `${id} has a bucket policy`);
      const statements: any[] = policies[0][1].Properties!.PolicyDocument.Statement;
      const tls = statements.find(
        (s) => s.Effect === 'Deny' && s.Condition?.Bool?.['aws:SecureTransport'] === 'false' && s.Action === 's3:*',
      );
      assert.ok(tls, `${id} denies s3:* without aws:SecureTransport`);
      assert.ok(!statements.some((s) => s.Effect === 'Allow' && (s.Principal === '*' || s.Principal?.AWS === '*')), `${id} allows nobody at all`);
    }
  });

  it('ticket files expire under tickets/ after 400 days, are not versioned and log access', () => {
    const id = logicalId(synth.stack.data.ticketBucket);
    const bucket = synth.json.Resources[id].Properties!;
    assert.ok(
      bucket.LifecycleConfiguration.Rules.some(
        (rule: any) => rule.Prefix === 'tickets/' && rule.ExpirationInDays === 400 && rule.Status === 'Enabled',
      ),
    );
    assert.equal(bucket.VersioningConfiguration, undefined);
    assert.deepEqual(bucket.LoggingConfiguration.DestinationBucketName, { Ref: logicalId(synth.stack.data.logsBucket) });
  });
});

describe('Lambdas', () => {
  it('each function of ours, and only those, names its binary in the ticketing:binary tag', () => {
    const tagged = resourcesOfType(synth.json, 'AWS::Lambda::Function').flatMap(([id, fn]) =>
      (fn.Properties!.Tags ?? []).filter((tag: { Key: string }) => tag.Key === BINARY_TAG).map((tag: { Value: string }) => [id, tag.Value]),
    );
    assert.deepEqual(
      sortBy(tagged, ([id]) => id),
      sortBy(LAMBDAS.map((spec) => [fnId(spec.binary), spec.binary]), ([id]) => id),
    );
  });

  it('one function per list entry, each provided.al2023 on arm64 with JSON logs to its own retained log group', () => {
    for (const spec of LAMBDAS) {
      const fn = synth.json.Resources[fnId(spec.binary)];
      assert.equal(fn.Type, 'AWS::Lambda::Function');
      const props = fn.Properties!;
      assert.equal(props.Runtime, 'provided.al2023', spec.binary);
      assert.deepEqual(props.Architectures, ['arm64'], spec.binary);
      assert.equal(props.Handler, 'bootstrap');
      assert.equal(props.LoggingConfig.LogFormat, 'JSON');
      const logGroup = synth.json.Resources[props.LoggingConfig.LogGroup.Ref];
      assert.equal(logGroup.Type, 'AWS::Logs::LogGroup');
      assert.equal(logGroup.Properties!.RetentionInDays, 30);
      assert.equal(props.MemorySize, spec.memoryMb ?? 256);
      // REPORT lines (duration, memory, init) are platform logs at INFO.
      assert.equal(props.LoggingConfig.SystemLogLevel, 'INFO', spec.binary);
      assert.deepEqual(props.TracingConfig, { Mode: 'Active' }, spec.binary);
    }
  });

  it('no function may delete an item or use a condition check (the adapter does neither)', () => {
    const actions = allowStatements(synth.json).flatMap((statement) => statement.actions);
    assert.ok(actions.includes('dynamodb:PutItem'));
    for (const unused of ['dynamodb:DeleteItem', 'dynamodb:ConditionCheckItem']) {
      assert.ok(!actions.includes(unused), unused);
    }
  });

  it('every function of the app is provided.al2023 + arm64, except CDK’s own BucketDeployment handler', () => {
    const ours = new Set(LAMBDAS.map((spec) => fnId(spec.binary)));
    for (const [id] of resourcesOfType(synth.json, "AWS::Lambda::Function")) {
      if (ours.has(id)) continue;
      assert.match(id, /^CustomCDKBucketDeployment/, `${id} is not in lib/functions.ts`);
    }
  });

  it('each function has exactly the environment its entry asks for', () => {
    for (const spec of LAMBDAS) {
      const variables = synth.json.Resources[fnId(spec.binary)].Properties!.Environment?.Variables ?? {};
      assert.deepEqual(Object.keys(variables).sort(), envNamesOf(spec).sort(), spec.binary);
    }
    const env = (binary: string) => synth.json.Resources[fnId(binary)].Properties!.Environment.Variables;
    assert.deepEqual(env('render-ticket').TABLE_NAME, { Ref: logicalId(synth.stack.data.table) });
    assert.deepEqual(env('render-ticket').BUCKET_NAME, { Ref: logicalId(synth.stack.data.ticketBucket) });
    assert.deepEqual(env('render-ticket').TICKET_SIGNING_KEY_SECRET_ARN, {
      Ref: logicalId(synth.stack.secrets.byName.ticketSigningKey),
    });
    assert.deepEqual(env('refund-payment').STRIPE_SECRET_KEY_SECRET_ARN, {
      Ref: logicalId(synth.stack.secrets.byName.stripeSecretKey),
    });
    assert.deepEqual(env('checkout').STATE_MACHINE_ARN, { Ref: logicalId(synth.stack.workflow.stateMachine) });
  });

  it('the saga-step binaries are the nine of the state machine; all but refund-payment use the table', () => {
    assert.deepEqual(
      stepLambdas().map((spec) => spec.binary),
      ['confirm-seat', 'record-ticket', 'render-ticket', 'deliver-ticket', 'remove-ticket-file', 'void-ticket', 'release-seat', 'refund-payment', 'fail-order'],
    );
    for (const spec of stepLambdas()) {
      assert.equal(envNamesOf(spec).includes('TABLE_NAME'), spec.binary !== 'refund-payment', spec.binary);
    }
    for (const binary of ['render-ticket', 'deliver-ticket', 'remove-ticket-file']) {
      assert.ok(envNamesOf(LAMBDAS.find((s) => s.binary === binary)!).includes('BUCKET_NAME'), binary);
    }
  });
});

describe('HTTP API routes', () => {
  it('the function list serves exactly the operations of the OpenAPI document, one binary each', () => {
    const document = JSON.parse(fs.readFileSync(OPENAPI_PATH, 'utf8'));
    const kebab = (id: string) => id.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
    const documented: string[] = [];
    for (const [routePath, item] of Object.entries<Record<string, any>>(document.paths)) {
      for (const [method, operation] of Object.entries<any>(item)) {
        const auth = (operation.security ?? document.security ?? []).length > 0 ? 'jwt' : 'none';
        documented.push(`${method.toUpperCase()} ${routePath} ${auth} ${kebab(operation.operationId)}`);
      }
    }
    const listed = routesOf().map((route) => `${route.method} ${route.path} ${route.auth} ${route.binary}`);
    assert.deepEqual(listed.sort(), documented.sort());
  });
});

describe('IAM', () => {
  const statements = () => allowStatements(synth.json);

  it('grants no wildcard action (*, service:*)', () => {
    for (const statement of statements()) {
      for (const action of statement.actions) {
        assert.ok(action !== '*' && !/^[a-z0-9-]+:\*$/i.test(action), `${statement.owner} grants ${action}`);
      }
    }
  });

  it('grants nothing on the table or ticket bucket by wildcard, except objects under tickets/', () => {
    const table = logicalId(synth.stack.data.table);
    const bucket = logicalId(synth.stack.data.ticketBucket);
    for (const statement of statements()) {
      for (const resource of statement.resources) {
        if (resource.includes(table)) {
          assert.ok(!resource.includes('*'), `${statement.owner}: ${resource}`);
        }
        if (resource.includes(bucket)) {
          assert.ok(!resource.includes('*') || resource === `\${${bucket}.Arn}/tickets/*`, `${statement.owner}: ${resource}`);
        }
      }
    }
  });

  it('grants Resource "*" only for actions that have no resource-level permissions', () => {
    const allowed = new Set([
      'logs:CreateLogDelivery', 'logs:GetLogDelivery', 'logs:UpdateLogDelivery', 'logs:DeleteLogDelivery',
      'logs:ListLogDeliveries', 'logs:PutResourcePolicy', 'logs:DescribeResourcePolicies', 'logs:DescribeLogGroups',
      'xray:PutTraceSegments', 'xray:PutTelemetryRecords', 'xray:GetSamplingRules', 'xray:GetSamplingTargets',
      'cloudfront:CreateInvalidation', 'cloudfront:GetInvalidation',
    ]);
    for (const statement of statements()) {
      if (!statement.resources.includes('*')) continue;
      for (const action of statement.actions) assert.ok(allowed.has(action), `${statement.owner} grants ${action} on *`);
    }
  });

  it('each function writes only to its own log group', () => {
    for (const spec of LAMBDAS) {
      const fn = synth.json.Resources[fnId(spec.binary)];
      const own = `\${${fn.Properties!.LoggingConfig.LogGroup.Ref}.Arn}`;
      const logs = statements().filter((s) => s.roles.includes(roleIdOf(spec.binary)) && s.actions.some((a) => a.startsWith('logs:')));
      assert.deepEqual(logs.flatMap((s) => s.resources), [own], spec.binary);
    }
  });

  it('secrets are readable only by the functions that list them', () => {
    for (const name of Object.keys(SECRET_ENV) as SecretName[]) {
      const secret = `\${${logicalId(synth.stack.secrets.byName[name])}}`;
      const readers = statements()
        .filter((s) => s.resources.includes(secret))
        .flatMap((s) => {
          assert.deepEqual(s.actions, ['secretsmanager:GetSecretValue'], `${s.owner} on ${name}`);
          return s.roles;
        })
        .sort();
      const expected = LAMBDAS.filter((spec) => spec.secrets?.includes(name)).map((spec) => roleIdOf(spec.binary)).sort();
      assert.ok(expected.length > 0);
      assert.deepEqual(readers, expected, name);
    }
  });

  it('the post-confirmation trigger may add users to groups of this pool only, through a policy nothing waits on', () => {
    const pool = logicalId(synth.stack.auth.userPool);
    const role = roleIdOf('post-confirmation');
    const grants = statements().filter((s) => s.actions.includes('cognito-idp:AdminAddUserToGroup'));
    assert.equal(grants.length, 1);
    assert.deepEqual(grants[0].actions, ['cognito-idp:AdminAddUserToGroup']);
    assert.deepEqual(grants[0].resources, [`\${${pool}.Arn}`]);
    assert.deepEqual(grants[0].roles, [role]);
    // The function must not depend on that policy, or pool → function → policy → pool is a cycle.
    const dependsOn = [synth.json.Resources[fnId('post-confirmation')].DependsOn ?? []].flat();
    assert.ok(!dependsOn.includes(grants[0].owner), `function waits on ${grants[0].owner}`);
    synth.template.hasResourceProperties('AWS::Cognito::UserPool', {
      LambdaConfig: { PostConfirmation: { 'Fn::GetAtt': [fnId('post-confirmation'), 'Arn'] } },
    });
  });
});

describe('registration state machine', () => {
  it('is the file statemachines/registration.asl.json with each ${XxxFunctionArn} bound to its function', () => {
    const machine = synth.json.Resources[logicalId(synth.stack.workflow.stateMachine)];
    const props = machine.Properties!;
    const fileText = fs.readFileSync(REGISTRATION_ASL_PATH, 'utf8');

    const expected: Record<string, unknown> = {};
    for (const spec of stepLambdas()) expected[substitutionFor(spec.step!)] = { 'Fn::GetAtt': [fnId(spec.binary), 'Arn'] };
    assert.deepEqual(props.DefinitionSubstitutions, expected);
    assert.deepEqual(Object.keys(expected).sort(), substitutionsIn(fileText));

    // Substitute the same marker into both, parse both, compare.
    const substitute = (text: string) =>
      text.replace(/\$\{([A-Za-z0-9_]+)\}/g, (_all, name: string) => `ARN(${render(props.DefinitionSubstitutions[name])})`);
    assert.equal(typeof props.DefinitionString, 'string', 'the definition is inline, not an S3 asset');
    assert.deepEqual(JSON.parse(substitute(props.DefinitionString)), JSON.parse(substitute(fileText)));
  });

  it('is STANDARD, logs ALL to a log group and traces with X-Ray', () => {
    synth.template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineType: 'STANDARD',
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: {
        Level: 'ALL',
        Destinations: [{ CloudWatchLogsLogGroup: { LogGroupArn: { 'Fn::GetAtt': [Match.anyValue(), 'Arn'] } } }],
      },
    });
  });

  it('may invoke exactly the nine step functions', () => {
    const role = logicalId(synth.stack.workflow.stateMachine.role);
    const invokes = allowStatements(synth.json).filter((s) => s.actions.some((a) => a.startsWith('lambda:')));
    assert.ok(invokes.every((s) => s.roles.length === 1 && s.roles[0] === role || !s.roles.includes(role)));
    const mine = invokes.filter((s) => s.roles.includes(role));
    assert.deepEqual(mine.flatMap((s) => s.actions), ['lambda:InvokeFunction']);
    assert.deepEqual(
      mine.flatMap((s) => s.resources).sort(),
      stepLambdas().map((spec) => `\${${fnId(spec.binary)}.Arn}`).sort(),
    );
  });

});

describe('cancellation state machine', () => {
  const machineId = () => logicalId(synth.stack.cancellation.stateMachine);

  it('is the file statemachines/cancellation.asl.json with each ${XxxFunctionArn} bound to its function', () => {
    const props = synth.json.Resources[machineId()].Properties!;
    const fileText = fs.readFileSync(CANCELLATION_ASL_PATH, 'utf8');
    const expected: Record<string, unknown> = {};
    for (const spec of cancellationStepLambdas()) {
      expected[substitutionFor(spec.cancellationStep!)] = { 'Fn::GetAtt': [fnId(spec.binary), 'Arn'] };
    }
    assert.deepEqual(props.DefinitionSubstitutions, expected);
    assert.deepEqual(Object.keys(expected).sort(), substitutionsIn(fileText));
    assert.equal(props.StateMachineType, 'STANDARD');
    assert.equal(props.StateMachineName, 'Ticketing-cancellation');
    const definition = JSON.parse(props.DefinitionString);
    assert.equal(definition.States.RefundOrders.ItemProcessor.ProcessorConfig.Mode, 'DISTRIBUTED');
  });

  it('invokes exactly its four step functions and runs its Map Run children, nothing else', () => {
    const role = logicalId(synth.stack.cancellation.stateMachine.role);
    const mine = allowStatements(synth.json).filter((s) => s.roles.includes(role));
    const invokes = mine.filter((s) => s.actions.some((a) => a.startsWith('lambda:')));
    assert.deepEqual(
      invokes.flatMap((s) => s.resources).sort(),
      cancellationStepLambdas().map((spec) => `\${${fnId(spec.binary)}.Arn}`).sort(),
    );
    const states = mine.filter((s) => s.actions.some((a) => a.startsWith('states:')));
    const machine = 'arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:Ticketing-cancellation';
    const children = 'arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:Ticketing-cancellation/*';
    assert.deepEqual(
      states.map((s) => [s.actions, s.resources]),
      [
        [['states:StartExecution'], [machine]],
        [['states:DescribeExecution', 'states:StopExecution'], [children]],
      ],
    );
  });

  it('is started only by cancel-event and the reconciliation pass, which are told its ARN', () => {
    const starters = allowStatements(synth.json).filter(
      (s) => s.actions.includes('states:StartExecution') && s.resources.some((r) => String(r).includes(machineId())),
    );
    assert.deepEqual(starters.flatMap((s) => s.roles).sort(), [roleIdOf('cancel-event'), roleIdOf('reconcile')].sort());
    synth.template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ [ENV.cancellationStateMachine]: { Ref: machineId() } }) },
    });
    assert.deepEqual(
      LAMBDAS.filter((spec) => spec.startsCancellation).map((spec) => spec.binary),
      ['cancel-event', 'reconcile'],
    );
  });
});

describe('alarms', () => {
  const alarms = () => resourcesOfType(synth.json, 'AWS::CloudWatch::Alarm');
  const topic = () => logicalId(synth.stack.alarms.topic);

  it('every alarm notifies the one encrypted, TLS-only topic; an email subscribes by context', () => {
    assert.ok(alarms().length > 20);
    for (const [id, alarm] of alarms()) {
      assert.deepEqual(alarm.Properties!.AlarmActions, [{ Ref: topic() }], id);
    }
    const [[, snsTopic]] = resourcesOfType(synth.json, 'AWS::SNS::Topic');
    assert.ok(snsTopic.Properties!.KmsMasterKeyId, 'encrypted with a key CloudWatch may use');
    assert.equal(resourcesOfType(synth.json, 'AWS::SNS::Subscription').length, 0);
    const mailed = synthSkipBuild({ context: { alarmEmail: 'ops@example.org' } });
    const [[, subscription]] = resourcesOfType(mailed.json, 'AWS::SNS::Subscription');
    assert.equal(subscription.Properties!.Protocol, 'email');
    assert.equal(subscription.Properties!.Endpoint, 'ops@example.org');
    assert.throws(() => synthSkipBuild({ context: { alarmEmail: 'not-an-address' } }), /alarmEmail/);
  });

  it('a compensation that errors once pages (money or a seat at risk); a compensated outcome only counts in a rate', () => {
    for (const step of COMPENSATION_STEPS) {
      const spec = stepLambdas().find((s) => s.step === step)!;
      const mine = alarms().filter(
        ([, a]) =>
          a.Properties!.MetricName === 'Errors' &&
          a.Properties!.EvaluationPeriods === 1 &&
          JSON.stringify(a.Properties!.Dimensions) === JSON.stringify([{ Name: 'FunctionName', Value: { Ref: fnId(spec.binary) } }]),
      );
      assert.equal(mine.length, 1, step);
      assert.equal(mine[0][1].Properties!.Threshold, 1);
    }
    const rate = alarms().find(([id]) => id.startsWith('AlarmsRegistrationsFailing'));
    assert.ok(rate, 'a failed-share alarm');
    const expression = rate[1].Properties!.Metrics.find((m: any) => m.Expression).Expression;
    assert.match(expression, /failed \/ started/);
    assert.equal(rate[1].Properties!.Threshold, 0.2);
    assert.ok(
      !alarms().some(([, a]) => a.Properties!.MetricName === 'ExecutionsFailed' && a.Properties!.Threshold === 1),
      'no alarm on every failed execution',
    );
  });

  it('watches timed-out and aborted registrations, every function failing for 15 minutes, throttles and API 5xx', () => {
    const ids = alarms().map(([id]) => id);
    assert.ok(ids.some((id) => id.startsWith('AlarmsRegistrationsTimedOutOrAborted')));
    assert.ok(ids.some((id) => id.startsWith('AlarmsLambdaThrottles')));
    const server = alarms().find(([, a]) => a.Properties!.MetricName === '5xx');
    assert.ok(server, 'an API 5xx alarm');
    for (const spec of LAMBDAS) {
      const failing = alarms().filter(
        ([, a]) =>
          a.Properties!.MetricName === 'Errors' &&
          a.Properties!.DatapointsToAlarm === 3 &&
          JSON.stringify(a.Properties!.Dimensions) === JSON.stringify([{ Name: 'FunctionName', Value: { Ref: fnId(spec.binary) } }]),
      );
      assert.equal(failing.length, 1, spec.binary);
    }
  });
});

describe('Cognito', () => {
  it('email sign-in, self sign-up, verified email, strong passwords, retained and protected', () => {
    synth.template.hasResourceProperties('AWS::Cognito::UserPool', {
      UsernameAttributes: ['email'],
      AutoVerifiedAttributes: ['email'],
      AdminCreateUserConfig: { AllowAdminCreateUserOnly: false },
      DeletionProtection: 'ACTIVE',
      Policies: {
        PasswordPolicy: { MinimumLength: 12, RequireLowercase: true, RequireUppercase: true, RequireNumbers: true, RequireSymbols: true },
      },
      UserPoolTier: 'PLUS',
    });
    const [[, pool]] = resourcesOfType(synth.json, 'AWS::Cognito::UserPool');
    assert.equal(pool.DeletionPolicy, 'Retain');
  });

  it('has the organizer and attendee groups and a hosted UI domain', () => {
    const groups = resourcesOfType(synth.json, 'AWS::Cognito::UserPoolGroup').map(([, g]) => g.Properties!.GroupName).sort();
    assert.deepEqual(groups, ['attendee', 'organizer']);
    synth.template.hasResourceProperties('AWS::Cognito::UserPoolDomain', {
      Domain: { 'Fn::Join': ['', ['ticketing-', { Ref: 'AWS::AccountId' }]] },
    });
  });

  it('the hosted UI prefix comes from context', () => {
    const other = synthSkipBuild({ context: { authDomainPrefix: 'tickets-demo' } });
    other.template.hasResourceProperties('AWS::Cognito::UserPoolDomain', { Domain: 'tickets-demo' });
  });

  it('the site client is public, code flow only, hosted UI only, with the site as its only callback', () => {
    const site = { 'Fn::Join': ['', ['https://', { 'Fn::GetAtt': [logicalId(synth.stack.site.distribution), 'DomainName'] }, '/']] };
    synth.template.hasResourceProperties('AWS::Cognito::UserPoolClient', {
      GenerateSecret: false,
      AllowedOAuthFlows: ['code'],
      AllowedOAuthFlowsUserPoolClient: true,
      AllowedOAuthScopes: Match.arrayWith(['openid']),
      CallbackURLs: [site],
      LogoutURLs: [site],
      SupportedIdentityProviders: ['COGNITO'],
      ExplicitAuthFlows: ['ALLOW_REFRESH_TOKEN_AUTH'],
    });
  });

  it('a dev stack may add a local callback URL by context', () => {
    const dev = synthSkipBuild({ context: { localDevUrl: 'http://localhost:8080/' } });
    const [[, client]] = resourcesOfType(dev.json, 'AWS::Cognito::UserPoolClient');
    assert.equal(render(client.Properties!.CallbackURLs[1]), 'http://localhost:8080/');
  });
});

describe('Cognito mail', () => {
  it('goes through SES when a verified identity is given, with a warning otherwise', () => {
    const [[, pool]] = resourcesOfType(synth.json, 'AWS::Cognito::UserPool');
    assert.equal(pool.Properties!.EmailConfiguration?.EmailSendingAccount ?? 'COGNITO_DEFAULT', 'COGNITO_DEFAULT');
    const noted = Annotations.fromStack(synth.stack).findInfo('*', Match.stringLikeRegexp('sesFromEmail'));
    assert.equal(noted.length, 1);
    assert.match(String(synth.json.Outputs!.CognitoMail.Value), /Cognito default sender/);

    const ses = synthSkipBuild({
      context: { sesFromEmail: 'tickets@example.org', sesFromName: 'Example Tickets', sesRegion: 'eu-west-1' },
    });
    const [[, sesPool]] = resourcesOfType(ses.json, 'AWS::Cognito::UserPool');
    const mail = sesPool.Properties!.EmailConfiguration;
    assert.equal(mail.EmailSendingAccount, 'DEVELOPER');
    assert.equal(mail.From, 'Example Tickets <tickets@example.org>');
    assert.match(render(mail.SourceArn), /:identity\/tickets@example\.org$/);
    assert.equal(Annotations.fromStack(ses.stack).findInfo('*', Match.stringLikeRegexp('sesFromEmail')).length, 0);
    assert.equal(ses.json.Outputs!.CognitoMail.Value, 'SES: tickets@example.org');
    assert.throws(() => synthSkipBuild({ context: { sesFromEmail: 'nope' } }), /sesFromEmail/);
  });
});

describe('HTTP API', () => {
  it('has one route per route of the function list', () => {
    const keys = resourcesOfType(synth.json, 'AWS::ApiGatewayV2::Route').map(([, r]) => r.Properties!.RouteKey).sort();
    assert.deepEqual(keys, routesOf().map((r) => `${r.method} ${r.path}`).sort());
  });

  it('every route has the Cognito JWT authorizer except POST /stripe/webhook', () => {
    const [[authorizerId, authorizer]] = resourcesOfType(synth.json, 'AWS::ApiGatewayV2::Authorizer');
    assert.equal(authorizer.Properties!.AuthorizerType, 'JWT');
    assert.deepEqual(authorizer.Properties!.JwtConfiguration.Audience, [{ Ref: logicalId(synth.stack.auth.client) }]);
    assert.match(render(authorizer.Properties!.JwtConfiguration.Issuer), /^https:\/\/cognito-idp\.\$\{AWS::Region\}\.amazonaws\.com\/\$\{.+\}$/);
    for (const [, route] of resourcesOfType(synth.json, 'AWS::ApiGatewayV2::Route')) {
      const props = route.Properties!;
      if (props.RouteKey === 'POST /stripe/webhook') {
        assert.equal(props.AuthorizationType, 'NONE');
        assert.equal(props.AuthorizerId, undefined);
      } else {
        assert.equal(props.AuthorizationType, 'JWT', props.RouteKey);
        assert.deepEqual(props.AuthorizerId, { Ref: authorizerId }, props.RouteKey);
      }
    }
  });

  it('routes reach the function the list names', () => {
    for (const route of routesOf()) {
      const [[, r]] = resourcesOfType(synth.json, 'AWS::ApiGatewayV2::Route').filter(
        ([, r]) => r.Properties!.RouteKey === `${route.method} ${route.path}`,
      );
      const integrationId = render(r.Properties!.Target).replace(/^integrations\/\$\{(.+)\}$/, '$1');
      const integration = synth.json.Resources[integrationId].Properties!;
      assert.deepEqual(integration.IntegrationUri, { 'Fn::GetAtt': [fnId(route.binary), 'Arn'] }, route.path);
      assert.equal(integration.PayloadFormatVersion, '2.0');
    }
  });

  it('CORS allows the site origin only; the stage throttles and writes access logs', () => {
    const site = { 'Fn::Join': ['', ['https://', { 'Fn::GetAtt': [logicalId(synth.stack.site.distribution), 'DomainName'] }]] };
    synth.template.hasResourceProperties('AWS::ApiGatewayV2::Api', {
      ProtocolType: 'HTTP',
      CorsConfiguration: { AllowOrigins: [site], AllowCredentials: false },
    });
    synth.template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: THROTTLE.rateLimit, ThrottlingBurstLimit: THROTTLE.burstLimit },
      AccessLogSettings: { DestinationArn: { 'Fn::GetAtt': [Match.anyValue(), 'Arn'] }, Format: Match.stringLikeRegexp('requestId') },
    });
  });
});

describe('stages', () => {
  it('the stack is Ticketing, protected from termination, unless context says otherwise', () => {
    assert.equal(synth.stack.stackName, 'Ticketing');
    assert.equal(synth.stack.terminationProtection, true);
    const staging = synthSkipBuild({ context: { stage: 'staging', terminationProtection: 'false' } });
    assert.equal(staging.stack.stackName, 'Ticketing-staging');
    assert.equal(staging.stack.terminationProtection, false);
    assert.throws(() => synthSkipBuild({ context: { stage: 'Not OK' } }), /stage "Not OK"/);
  });

  it('account-wide CloudFront names carry the stack (with its stage) and the region', () => {
    const names = (json: typeof synth.json) => [
      ...resourcesOfType(json, 'AWS::CloudFront::ResponseHeadersPolicy').map(([, r]) => r.Properties!.ResponseHeadersPolicyConfig.Name),
      ...resourcesOfType(json, 'AWS::CloudFront::OriginAccessControl').map(([, r]) => r.Properties!.OriginAccessControlConfig.Name),
    ].map(render);
    const main = names(synth.json);
    assert.equal(main.length, 2);
    for (const name of main) assert.match(name, /^Ticketing-\$\{AWS::Region\}-/);
    const staging = names(synthSkipBuild({ context: { stage: 'staging' } }).json);
    for (const name of staging) assert.match(name, /^Ticketing-staging-\$\{AWS::Region\}-/);
  });
});

describe('site', () => {
  it('CloudFront serves the private bucket through origin access control, with no error pages masking a missing file', () => {
    synth.template.hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: {
        DefaultRootObject: 'index.html',
        Origins: [Match.objectLike({ OriginAccessControlId: { 'Fn::GetAtt': [Match.anyValue(), 'Id'] } })],
        DefaultCacheBehavior: Match.objectLike({ ViewerProtocolPolicy: 'redirect-to-https' }),
        CustomErrorResponses: Match.absent(),
        Logging: Match.objectLike({ Prefix: 'cloudfront/' }),
      },
    });
  });

  it('sends a strict CSP, HSTS, frame DENY, nosniff and a referrer policy', () => {
    const [[, policy]] = resourcesOfType(synth.json, 'AWS::CloudFront::ResponseHeadersPolicy');
    const security = policy.Properties!.ResponseHeadersPolicyConfig.SecurityHeadersConfig;
    const csp = render(security.ContentSecurityPolicy.ContentSecurityPolicy);
    const directives = Object.fromEntries(csp.split(';').map((d: string) => d.trim().split(/\s+/)).map(([k, ...v]) => [k, v]));
    assert.deepEqual(directives['default-src'], ["'self'"]);
    assert.deepEqual(directives['connect-src'], [
      "'self'",
      'https://*.execute-api.${AWS::Region}.amazonaws.com',
      'https://ticketing-${AWS::AccountId}.auth.${AWS::Region}.amazoncognito.com',
    ]);
    assert.deepEqual(directives['frame-ancestors'], ["'none'"]);
    assert.ok(!csp.includes('unsafe-'), 'no unsafe-inline or unsafe-eval');
    assert.equal(security.StrictTransportSecurity.AccessControlMaxAgeSec, 730 * 24 * 3600);
    assert.equal(security.FrameOptions.FrameOption, 'DENY');
    assert.equal(security.ContentTypeOptions.Override, true);
    assert.equal(security.ReferrerPolicy.ReferrerPolicy, 'no-referrer');
  });

  it('deploys frontend/ and a config.json with apiUrl, cognitoDomain, clientId and region', () => {
    const [[, deployment]] = resourcesOfType(synth.json, 'Custom::CDKBucketDeployment');
    const props = deployment.Properties!;
    assert.equal(props.SourceObjectKeys.length, 2);
    assert.deepEqual(props.DestinationBucketName, { Ref: logicalId(synth.stack.site.bucket) });
    // Source.jsonData stages config.json as an asset with markers that the deployment replaces.
    const configKey = (props.SourceObjectKeys as string[]).find((key) => {
      const dir = path.join(synth.outdir, `asset.${key.replace(/\.zip$/, '')}`);
      return fs.existsSync(path.join(dir, 'config.json'));
    });
    assert.ok(configKey, 'a config.json asset');
    const index = (props.SourceObjectKeys as string[]).indexOf(configKey!);
    const staged = fs.readFileSync(path.join(synth.outdir, `asset.${configKey!.replace(/\.zip$/, '')}`, 'config.json'), 'utf8');
    const markers: Record<string, unknown> = props.SourceMarkers[index];
    const config = JSON.parse(staged.replace(/<<marker:[^>]+>>/g, (marker) => render(markers[marker])));
    assert.deepEqual(Object.keys(config).sort(), ['apiUrl', 'clientId', 'cognitoDomain', 'region']);
    assert.equal(config.apiUrl, `\${${logicalId(synth.stack.api.httpApi)}.ApiEndpoint}`);
    assert.equal(config.clientId, `\${${logicalId(synth.stack.auth.client)}}`);
    assert.equal(config.cognitoDomain, 'https://ticketing-${AWS::AccountId}.auth.${AWS::Region}.amazoncognito.com');
    assert.equal(config.region, '${AWS::Region}');
    // And the site itself.
    const siteKey = (props.SourceObjectKeys as string[]).find((key) =>
      fs.existsSync(path.join(synth.outdir, `asset.${key.replace(/\.zip$/, '')}`, 'index.html')),
    );
    assert.ok(siteKey, 'frontend/ is deployed');
  });
});

describe('outputs', () => {
  it('name the site, API, webhook, user pool and client', () => {
    const outputs = synth.json.Outputs!;
    for (const key of ['SiteUrl', 'ApiUrl', 'WebhookUrl', 'UserPoolId', 'UserPoolClientId']) assert.ok(outputs[key], key);
    assert.match(render(outputs.WebhookUrl.Value), /\/stripe\/webhook$/);
    assert.equal(render(outputs.WebhookUrl.Value), `${render(outputs.ApiUrl.Value)}/stripe/webhook`);
  });
});

describe('Lambda code', () => {
  it('skip-build mode makes the template undeployable (placeholder guard)', () => {
    assert.ok(synth.json.Rules?.PlaceholderLambdasAreNotDeployable);
  });

  it('without skipBuild, a missing binary fails the synth and is named', () => {
    const empty = tempDir('empty-lambdas');
    assert.throws(
      () => buildApp({ nag: false, outdir: tempDir('synth'), context: { lambdaDir: empty } }),
      (error: Error) => /no bootstrap in .* for: confirm-seat, record-ticket/.test(error.message),
    );
  });

  it('without skipBuild, each function takes <lambdaDir>/<binary> and there is no guard', () => {
    const dir = tempDir('lambdas');
    for (const spec of LAMBDAS) {
      fs.mkdirSync(path.join(dir, spec.binary));
      fs.writeFileSync(path.join(dir, spec.binary, 'bootstrap'), `fake ${spec.binary}\n`, { mode: 0o755 });
    }
    const { stack } = buildApp({ nag: false, outdir: tempDir('synth'), context: { lambdaDir: dir } });
    const json = Template.fromStack(stack).toJSON();
    assert.equal(json.Rules?.PlaceholderLambdasAreNotDeployable, undefined);
    const keys = LAMBDAS.map((spec) => render(json.Resources[logicalId(stack.lambdas.get(spec.binary))].Properties.Code.S3Key));
    assert.equal(new Set(keys).size, LAMBDAS.length, 'one distinct asset per binary');
    assert.ok(LAMBDAS.every((spec) => pascal(spec.binary).length > 0));
  });
});
