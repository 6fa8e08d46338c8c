import { Duration, Stack } from 'aws-cdk-lib';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { Lambdas, pascal } from './lambdas';

/**
 * The saga's compensations. An error of one of these is money or a seat at risk: a refund or a
 * release that did not happen. A failed execution whose compensations all ran is a normal
 * outcome (sold out, a late payment refunded) and is only watched as a rate.
 */
export const COMPENSATION_STEPS = ['RemoveTicketFile', 'VoidTicket', 'ReleaseSeat', 'RefundPayment', 'FailOrder'] as const;

export interface AlarmsProps {
  readonly lambdas: Lambdas;
  readonly stateMachine: sfn.StateMachine;
  readonly httpApi: apigwv2.HttpApi;
  /** Who is mailed when an alarm fires (context `alarmEmail`); the topic exists either way. */
  readonly email?: string;
}

/**
 * Every alarm of the stack, each notifying one SNS topic. What to do when one fires is in
 * `docs/runbook.md`.
 */
export class Alarms extends Construct {
  readonly topic: sns.Topic;
  readonly alarms: cloudwatch.Alarm[] = [];

  constructor(scope: Construct, id: string, props: AlarmsProps) {
    super(scope, id);
    // CloudWatch cannot publish to a topic under the AWS-managed SNS key: a key of our own,
    // which CloudWatch may use.
    const key = new kms.Key(this, 'TopicKey', {
      description: `${Stack.of(this).stackName} alarm topic`,
      enableKeyRotation: true,
    });
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
      }),
    );
    this.topic = new sns.Topic(this, 'Topic', {
      displayName: `${Stack.of(this).stackName} alarms`,
      masterKey: key,
      enforceSSL: true,
    });
    if (props.email) this.topic.addSubscription(new subscriptions.EmailSubscription(props.email));

    const period = Duration.minutes(5);
    const sum = cloudwatch.Stats.SUM;

    for (const step of COMPENSATION_STEPS) {
      const fn = props.lambdas.getStep(step);
      this.alarm(`${step}Errors`, {
        alarmDescription: `Money or a seat at risk: the ${step} compensation failed. Find the executions that failed in ${step} and redrive them once the cause is fixed (docs/runbook.md).`,
        metric: fn.metricErrors({ period, statistic: sum }),
        threshold: 1,
        evaluationPeriods: 1,
      });
    }

    const executions = (metric: cloudwatch.Metric) => metric.with({ period: Duration.minutes(15), statistic: sum });
    this.alarm('RegistrationsFailing', {
      alarmDescription:
        'More than a fifth of the registrations started in 15 minutes failed (each was compensated: sold out, seat gone, refunded). A few are normal; this many means a step is broken.',
      metric: new cloudwatch.MathExpression({
        expression: 'IF(started >= 5, failed / started, 0)',
        usingMetrics: {
          started: executions(props.stateMachine.metricStarted()),
          failed: executions(props.stateMachine.metricFailed()),
        },
        period: Duration.minutes(15),
        label: 'failed share of started registrations',
      }),
      threshold: 0.2,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    });
    this.alarm('RegistrationsTimedOutOrAborted', {
      alarmDescription: 'A registration timed out or was stopped: its order may hold a payment without a ticket (docs/runbook.md).',
      metric: new cloudwatch.MathExpression({
        expression: 'timedOut + aborted',
        usingMetrics: {
          timedOut: props.stateMachine.metricTimedOut({ period, statistic: sum }),
          aborted: props.stateMachine.metricAborted({ period, statistic: sum }),
        },
        period,
      }),
      threshold: 1,
      evaluationPeriods: 1,
    });

    for (const fn of props.lambdas.all()) {
      // Route errors show as API 5xx below; steps retry transient errors. Failing in three
      // periods in a row is a function that does not work at all (a bad key, a missing grant).
      this.alarm(`${fn.node.id}Failing`, {
        alarmDescription: `${fn.node.id} failed in each of three 5-minute periods: see its log group.`,
        metric: fn.metricErrors({ period, statistic: sum }),
        threshold: 1,
        evaluationPeriods: 3,
        datapointsToAlarm: 3,
      });
    }
    this.alarm('LambdaThrottles', {
      alarmDescription:
        'Lambda throttled invocations in this account and region: the concurrency quota is reached (an on-sale burst). Ask for a higher quota, or reserve concurrency for the webhook and saga.',
      metric: new cloudwatch.Metric({ namespace: 'AWS/Lambda', metricName: 'Throttles', period, statistic: sum }),
      threshold: 1,
      evaluationPeriods: 1,
    });
    this.alarm('ApiServerErrors', {
      alarmDescription: 'The HTTP API answered 5xx (a function failed or timed out, or a port is down): see the route functions\' logs.',
      metric: props.httpApi.metricServerError({ period, statistic: sum }),
      threshold: 5,
      evaluationPeriods: 1,
    });
  }

  private alarm(id: string, props: Omit<cloudwatch.AlarmProps, 'comparisonOperator' | 'treatMissingData'> & Partial<Pick<cloudwatch.AlarmProps, 'comparisonOperator'>>): void {
    const alarm = new cloudwatch.Alarm(this, pascal(id), {
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      ...props,
    });
    alarm.addAlarmAction(new actions.SnsAction(this.topic));
    this.alarms.push(alarm);
  }
}
