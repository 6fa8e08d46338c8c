import * as fs from 'node:fs';
import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { LOG_RETENTION } from './lambdas';
import { acknowledge } from './nag';
import { REGISTRATION_ASL_PATH } from './paths';

/** `${ConfirmSeatFunctionArn}` → `ConfirmSeat`: the states a definition binds to functions. */
export function substitutionsIn(definitionText: string): string[] {
  const names = new Set<string>();
  for (const match of definitionText.matchAll(/\$\{([A-Za-z0-9_]+)\}/g)) names.add(match[1]);
  return [...names].sort();
}

export function substitutionFor(step: string): string {
  return `${step}FunctionArn`;
}

export interface WorkflowProps {
  /** State name → the function that runs it. */
  readonly steps: ReadonlyMap<string, lambda.IFunction>;
  readonly definitionPath?: string;
}

/**
 * The registration state machine, from `statemachines/registration.asl.json` (read at synth and
 * passed inline so the template shows it), each `${<State>FunctionArn}` bound to its function.
 */
export class Workflow extends Construct {
  readonly stateMachine: sfn.StateMachine;

  constructor(scope: Construct, id: string, props: WorkflowProps) {
    super(scope, id);
    const file = props.definitionPath ?? REGISTRATION_ASL_PATH;
    const text = fs.readFileSync(file, 'utf8');
    const definition = JSON.parse(text) as unknown;

    const wanted = substitutionsIn(text);
    const given = [...props.steps.keys()].map(substitutionFor).sort();
    const missing = wanted.filter((name) => !given.includes(name));
    const extra = given.filter((name) => !wanted.includes(name));
    if (missing.length || extra.length) {
      throw new Error(
        `${file} and lib/functions.ts disagree: no function for ${missing.join(', ') || '-'}; ` +
          `no state uses ${extra.join(', ') || '-'}`,
      );
    }
    const substitutions: Record<string, string> = {};
    for (const [step, fn] of props.steps) substitutions[substitutionFor(step)] = fn.functionArn;

    const stackName = Stack.of(this).stackName;
    // Vended-logs prefix: Step Functions then needs no per-log-group resource policy. The name is
    // fixed, so the group goes with the stack (a retained one would block re-creating the stack).
    const logGroup = new logs.LogGroup(this, 'Logs', {
      logGroupName: `/aws/vendedlogs/states/${stackName}-registration`,
      retention: LOG_RETENTION,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromString(JSON.stringify(definition)),
      definitionSubstitutions: substitutions,
      tracingEnabled: true,
      // Execution data (order ids, attendee names and emails) stays in the execution history,
      // which an operator reads to redrive; the log keeps the events and errors.
      logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
    });
    // Exactly the step functions, by unqualified ARN (what `lambda:invoke` with FunctionName calls).
    this.stateMachine.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['lambda:InvokeFunction'],
        resources: [...props.steps.values()].map((fn) => fn.functionArn),
      }),
    );
    const role = this.stateMachine.role;
    acknowledge(
      role,
      'AwsSolutions-IAM5[Resource::*]',
      'Set by CDK for logging and tracing: the CloudWatch Logs delivery actions (CreateLogDelivery, PutResourcePolicy, ...) and X-Ray PutTraceSegments/GetSampling* do not support resource-level permissions.',
    );
  }
}
