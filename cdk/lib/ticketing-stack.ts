import { Annotations, Aws, CfnOutput, CfnParameter, CfnRule, Fn, Stack, StackProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { Alarms } from './alarms';
import { Api } from './api';
import { Auth, hostedUiUrl } from './auth';
import { Data } from './data';
import { LAMBDAS, LambdaSpec, cancellationStepLambdas, stepLambdas } from './functions';
import { CANCELLATION_ASL_PATH } from './paths';
import { Lambdas } from './lambdas';
import { Secrets } from './secrets';
import { Settings } from './settings';
import { Site } from './site';
import { Workflow } from './workflow';

/** The Checkout events the webhook handler acts on: the endpoint in Stripe must send all four. */
export const WEBHOOK_EVENTS = [
  'checkout.session.completed',
  'checkout.session.async_payment_succeeded',
  'checkout.session.async_payment_failed',
  'checkout.session.expired',
] as const;

export interface TicketingStackProps extends StackProps {
  readonly settings: Settings;
  /** The function list; the app's is `LAMBDAS`. */
  readonly lambdas?: readonly LambdaSpec[];
}

export class TicketingStack extends Stack {
  readonly data: Data;
  readonly secrets: Secrets;
  readonly lambdas: Lambdas;
  readonly workflow: Workflow;
  /** Refunds every order of a cancelled event. */
  readonly cancellation: Workflow;
  readonly site: Site;
  readonly auth: Auth;
  readonly api: Api;
  readonly alarms: Alarms;

  constructor(scope: Construct, id: string, props: TicketingStackProps) {
    super(scope, id, props);
    const { settings } = props;
    const specs = props.lambdas ?? LAMBDAS;

    this.data = new Data(this, 'Data');
    this.secrets = new Secrets(this, 'Secrets');
    this.lambdas = new Lambdas(this, 'Functions', { specs, settings, data: this.data, secrets: this.secrets });

    const steps = new Map(stepLambdas(specs).map((spec) => [spec.step!, this.lambdas.get(spec.binary)] as const));
    this.workflow = new Workflow(this, 'Registration', { steps });
    this.lambdas.bindWorkflow(this.workflow.stateMachine);
    const cancellationSteps = new Map(
      cancellationStepLambdas(specs).map((spec) => [spec.cancellationStep!, this.lambdas.get(spec.binary)] as const),
    );
    this.cancellation = new Workflow(this, 'Cancellation', {
      steps: cancellationSteps,
      definitionPath: CANCELLATION_ASL_PATH,
      purpose: 'cancellation',
    });
    this.lambdas.bindCancellations(this.cancellation.stateMachine);

    const domainPrefix = settings.authDomainPrefix ?? `${this.stackName.toLowerCase()}-${Aws.ACCOUNT_ID}`;
    this.site = new Site(this, 'Site', { logsBucket: this.data.logsBucket, cognitoDomainUrl: hostedUiUrl(domainPrefix) });
    this.lambdas.bindSite(this.site.url);

    const trigger = specs.find((spec) => spec.trigger === 'postConfirmation');
    this.auth = new Auth(this, 'Auth', {
      domainPrefix,
      siteOrigins: [this.site.url, ...(settings.localDevUrl ? [settings.localDevUrl] : [])],
      postConfirmation: trigger ? this.lambdas.get(trigger.binary) : undefined,
      mail: settings.mail,
    });
    if (!settings.mail) {
      Annotations.of(this.auth).addInfo(
        'Cognito mails with its own sender (about 50 a day): sign-ups and password resets stop after a few dozen users. Deploy with -c sesFromEmail=<verified SES identity> (cdk/README.md).',
      );
    }

    this.api = new Api(this, 'Api', { lambdas: this.lambdas, auth: this.auth, siteOrigin: this.site.url });

    this.alarms = new Alarms(this, 'Alarms', {
      lambdas: this.lambdas,
      stateMachine: this.workflow.stateMachine,
      httpApi: this.api.httpApi,
      email: settings.alarmEmail,
    });

    this.site.deployContent({
      apiUrl: this.api.url,
      cognitoDomain: this.auth.hostedUiUrl,
      clientId: this.auth.client.userPoolClientId,
      region: Aws.REGION,
    });

    if (settings.skipBuild) {
      // Placeholder Lambdas must never reach an account: CloudFormation refuses this template
      // (the parameter can only be "placeholder", the rule wants "built").
      const build = new CfnParameter(this, 'LambdaBuild', {
        type: 'String',
        default: 'placeholder',
        allowedValues: ['placeholder'],
        description: 'Synthesized with -c skipBuild=true: the Lambdas are placeholders.',
      });
      new CfnRule(this, 'PlaceholderLambdasAreNotDeployable', {
        assertions: [
          {
            assert: Fn.conditionEquals(build.valueAsString, 'built'),
            assertDescription:
              'Synthesized with -c skipBuild=true (placeholder Lambdas): build with scripts/build-lambdas and deploy with scripts/deploy.',
          },
        ],
      });
    }

    const output = (id: string, value: string, description: string) =>
      new CfnOutput(this, id, { value, description });
    output('SiteUrl', this.site.url, 'The hosted site');
    output('ApiUrl', this.api.url, 'Base URL of the HTTP API');
    output('WebhookUrl', `${this.api.url}/stripe/webhook`, `Stripe webhook endpoint (events: ${WEBHOOK_EVENTS.join(', ')})`);
    output('AlarmTopicArn', this.alarms.topic.topicArn, 'Every alarm notifies this topic (context alarmEmail subscribes an address)');
    output(
      'CognitoMail',
      settings.mail ? `SES: ${settings.mail.fromEmail}` : 'Cognito default sender (about 50 mails a day)',
      'Who sends sign-up codes and password resets; set -c sesFromEmail=<verified SES identity> before an on-sale',
    );
    output('UserPoolId', this.auth.userPool.userPoolId, 'Cognito user pool');
    output('UserPoolClientId', this.auth.client.userPoolClientId, 'App client of the site');
    output('CognitoDomain', this.auth.hostedUiUrl, 'Hosted UI base URL');
    output('TableName', this.data.table.tableName, 'DynamoDB single table');
    output('TicketBucketName', this.data.ticketBucket.bucketName, 'Private bucket of ticket PDFs');
    output('StateMachineArn', this.workflow.stateMachine.stateMachineArn, 'Registration state machine');
    output('CancellationStateMachineArn', this.cancellation.stateMachine.stateMachineArn, 'Cancellation state machine');
    output('StripeSecretKeySecretArn', this.secrets.byName.stripeSecretKey.secretArn, 'Put the Stripe secret key here');
    output('StripeWebhookSecretSecretArn', this.secrets.byName.stripeWebhookSecret.secretArn, 'Put the webhook signing secret (whsec_...) here');
    output('TicketSigningKeySecretArn', this.secrets.byName.ticketSigningKey.secretArn, 'Put the ticket-signing key (KEYID:secret:<seed>) here');
  }
}
