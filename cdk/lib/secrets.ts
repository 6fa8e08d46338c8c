import { RemovalPolicy } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { SecretName } from './functions';
import { acknowledge } from './nag';

interface SecretSpec {
  readonly description: string;
  /** How the value is made and changed; shown in the console next to the secret. */
  readonly rotation: string;
  readonly removalPolicy: RemovalPolicy;
}

const SPECS: Record<SecretName, SecretSpec> = {
  stripeSecretKey: {
    description: 'Stripe secret API key (sk_live_... or sk_test_...), used for Checkout sessions and refunds.',
    rotation:
      'Stripe API keys are rolled in the Stripe dashboard, not by a Secrets Manager rotation Lambda; the operator puts the new key with put-secret-value and new Lambda instances read it.',
    removalPolicy: RemovalPolicy.DESTROY,
  },
  stripeWebhookSecret: {
    description: 'Stripe webhook signing secret (whsec_...) of the endpoint <api>/stripe/webhook.',
    rotation:
      'The webhook signing secret is created and rolled by Stripe for the endpoint; no rotation Lambda can obtain a new one, so the operator copies it from the dashboard.',
    removalPolicy: RemovalPolicy.DESTROY,
  },
  ticketSigningKey: {
    description: 'Ed25519 ticket-signing key as KEYID:secret:<base64url seed>. Losing it makes issued tickets unverifiable.',
    rotation:
      'Rotating the ticket-signing key needs a new key id and an overlap in which scanners accept both public keys; that is a planned manual procedure, not a scheduled rotation.',
    removalPolicy: RemovalPolicy.RETAIN,
  },
};

/**
 * The three secrets. Each starts with a generated placeholder (`{"unset": ..., "placeholder": ...}`)
 * that no function accepts, and the operator puts the real value once after the first deploy:
 *   aws secretsmanager put-secret-value --secret-id <ARN from the stack outputs> --secret-string '<value>'
 * CloudFormation never writes the value again (the generator only runs on creation).
 */
export class Secrets extends Construct {
  readonly byName: Record<SecretName, secretsmanager.Secret>;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    const make = (name: SecretName, constructId: string): secretsmanager.Secret => {
      const spec = SPECS[name];
      const secret = new secretsmanager.Secret(this, constructId, {
        description: `${spec.description} Set by the operator after deploy.`,
        removalPolicy: spec.removalPolicy,
        generateSecretString: {
          secretStringTemplate: JSON.stringify({ unset: 'put the real value with aws secretsmanager put-secret-value' }),
          generateStringKey: 'placeholder',
          excludePunctuation: true,
        },
      });
      acknowledge(secret, 'AwsSolutions-SMG4', spec.rotation);
      return secret;
    };
    this.byName = {
      stripeSecretKey: make('stripeSecretKey', 'StripeSecretKey'),
      stripeWebhookSecret: make('stripeWebhookSecret', 'StripeWebhookSecret'),
      ticketSigningKey: make('ticketSigningKey', 'TicketSigningKey'),
    };
  }
}
