import * as fs from 'node:fs';
import { ArnFormat, RemovalPolicy, Stack } from 'aws-cdk-lib';
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
  /** Names its log group (`<stack>-<purpose>`). Default `registration`. */
  readonly purpose?: string;
}

/**
 * A state machine from a file of `statemachines/` (read at synth and passed inline so the template
 * shows it), each `${<State>FunctionArn}` bound to its function: the registration saga by default.
 * A definition with a DISTRIBUTED Map (the cancellation) gets its state machine a fixed name and
 * the grants a Map Run needs to start and watch its child executions.
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

    const stack = Stack.of(this);
    const purpose = props.purpose ?? 'registration';
    // Vended-logs prefix: Step Functions then needs no per-log-group resource policy. The name is
    // fixed, so the group goes with the stack (a retained one would block re-creating the stack).
    const logGroup = new logs.LogGroup(this, 'Logs', {
      logGroupName: `/aws/vendedlogs/states/${stack.stackName}-${purpose}`,
      retention: LOG_RETENTION,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const distributed = text.includes('"DISTRIBUTED"');
    // A Distributed Map starts executions of its own state machine: its role names the machine,
    // which it cannot do through the machine's ARN (a cycle), so the machine gets a known name.
    const stateMachineName = distributed ? `${stack.stackName}-${purpose}` : undefined;

    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineName,
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
    if (stateMachineName) {
      const machine = stack.formatArn({
        service: 'states',
        resource: 'stateMachine',
        resourceName: stateMachineName,
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      });
      // Child executions of a Map Run are `<machine>/<map run>:<id>`.
      const children = stack.formatArn({
        service: 'states',
        resource: 'execution',
        resourceName: `${stateMachineName}/*`,
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      });
      this.stateMachine.addToRolePolicy(new iam.PolicyStatement({ actions: ['states:StartExecution'], resources: [machine] }));
      this.stateMachine.addToRolePolicy(
        new iam.PolicyStatement({ actions: ['states:DescribeExecution', 'states:StopExecution'], resources: [children] }),
      );
      acknowledge(
        role,
        `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:${stateMachineName}/*]`,
        'A Distributed Map names its child executions itself (<machine>/<map run>:<id>): the Map Run can only be let watch and stop them by pattern, limited to this state machine.',
      );
    }
    acknowledge(
      role,
      'AwsSolutions-IAM5[Resource::*]',
      'Set by CDK for logging and tracing: the CloudWatch Logs delivery actions (CreateLogDelivery, PutResourcePolicy, ...) and X-Ray PutTraceSegments/GetSampling* do not support resource-level permissions.',
    );
  }
}
