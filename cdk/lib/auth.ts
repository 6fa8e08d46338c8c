import { Aws, Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { acknowledge } from './nag';

export const ORGANIZER_GROUP = 'organizer';
export const ATTENDEE_GROUP = 'attendee';

/** The hosted UI's base URL for a domain prefix, known before the domain resource exists. */
export function hostedUiUrl(domainPrefix: string): string {
  return `https://${domainPrefix}.auth.${Aws.REGION}.amazoncognito.com`;
}

export interface AuthProps {
  readonly domainPrefix: string;
  /** Origins (scheme + host, no trailing slash) the site runs at; each gets `<origin>/` as callback and logout URL. */
  readonly siteOrigins: readonly string[];
  /** The post-confirmation trigger, when the list has one. */
  readonly postConfirmation?: lambda.IFunction;
  /** Cognito's mail (sign-up codes, password resets) through SES; Cognito's own sender if unset. */
  readonly mail?: MailSettings;
}

/** An SES identity verified in the account: an address, or one at a verified domain. */
export interface MailSettings {
  readonly fromEmail: string;
  readonly fromName?: string;
  /** The verified domain of `fromEmail`, when the domain (not the address) is the identity. */
  readonly verifiedDomain?: string;
  /** Where the identity is verified, if not the stack's region. */
  readonly region?: string;
}

/**
 * The user pool (email sign-in, self sign-up), its groups, hosted UI domain and the site's
 * public app client (authorization code + PKCE, no secret).
 */
export class Auth extends Construct {
  readonly userPool: cognito.UserPool;
  readonly client: cognito.UserPoolClient;
  readonly domain: cognito.UserPoolDomain;
  readonly hostedUiUrl: string;

  constructor(scope: Construct, id: string, props: AuthProps) {
    super(scope, id);

    this.userPool = new cognito.UserPool(this, 'UserPool', {
      selfSignUpEnabled: true,
      signInAliases: { email: true },
      signInCaseSensitive: false,
      autoVerify: { email: true },
      // Cognito's own sender allows about 50 mails a day for the whole pool: sign-ups and
      // password resets stop after a few dozen users. SES has no such limit.
      email: props.mail
        ? cognito.UserPoolEmail.withSES({
            fromEmail: props.mail.fromEmail,
            fromName: props.mail.fromName,
            sesVerifiedDomain: props.mail.verifiedDomain,
            sesRegion: props.mail.region,
          })
        : undefined,
      keepOriginal: { email: true },
      standardAttributes: {
        email: { required: true, mutable: true },
        // Printed on the ticket. Required attributes cannot be changed after the pool exists.
        fullname: { required: true, mutable: true },
      },
      passwordPolicy: {
        minLength: 12,
        requireLowercase: true,
        requireUppercase: true,
        requireDigits: true,
        requireSymbols: true,
        tempPasswordValidity: Duration.days(3),
      },
      accountRecovery: cognito.AccountRecovery.EMAIL_ONLY,
      mfa: cognito.Mfa.OPTIONAL,
      mfaSecondFactor: { otp: true, sms: false },
      featurePlan: cognito.FeaturePlan.PLUS,
      standardThreatProtectionMode: cognito.StandardThreatProtectionMode.FULL_FUNCTION,
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    acknowledge(
      this.userPool,
      'AwsSolutions-COG2',
      'MFA is offered (TOTP) but not required: attendees sign up to buy a ticket and a mandatory second factor would turn many away; Plus-tier threat protection (ENFORCED) challenges or blocks risky sign-ins instead.',
    );

    this.userPool.addGroup('Organizers', {
      groupName: ORGANIZER_GROUP,
      description: 'Create events, list attendees and scan tickets (added by scripts/make-organizer).',
      precedence: 0,
    });
    this.userPool.addGroup('Attendees', {
      groupName: ATTENDEE_GROUP,
      description: 'Every confirmed user (added by the post-confirmation trigger).',
      precedence: 10,
    });

    this.domain = this.userPool.addDomain('HostedUi', { cognitoDomain: { domainPrefix: props.domainPrefix } });
    this.hostedUiUrl = hostedUiUrl(props.domainPrefix);

    const urls = props.siteOrigins.map((origin) => `${origin}/`);
    this.client = this.userPool.addClient('SiteClient', {
      generateSecret: false,
      oAuth: {
        flows: { authorizationCodeGrant: true, implicitCodeGrant: false },
        scopes: [cognito.OAuthScope.OPENID, cognito.OAuthScope.EMAIL, cognito.OAuthScope.PROFILE],
        callbackUrls: urls,
        logoutUrls: urls,
      },
      supportedIdentityProviders: [cognito.UserPoolClientIdentityProvider.COGNITO],
      preventUserExistenceErrors: true,
      enableTokenRevocation: true,
      accessTokenValidity: Duration.hours(1),
      idTokenValidity: Duration.hours(1),
      refreshTokenValidity: Duration.days(30),
    });
    // The site signs in through the hosted UI only. Left unset, Cognito would also allow SRP and
    // custom sign-in, whose tokens carry aws.cognito.signin.user.admin (users could change their
    // attributes through the Cognito API, outside the site).
    (this.client.node.defaultChild as cognito.CfnUserPoolClient).explicitAuthFlows = ['ALLOW_REFRESH_TOKEN_AUTH'];

    if (props.postConfirmation) {
      const trigger = props.postConfirmation;
      this.userPool.addTrigger(cognito.UserPoolOperation.POST_CONFIRMATION, trigger);
      // The pool names the trigger (LambdaConfig), and the function depends on its role's
      // default policy, so a statement there naming the pool would close a cycle. This
      // separate policy is attached to the same role after both exist; nothing depends on it.
      // A new user can only confirm once the stack (and so this policy) is in place.
      new iam.Policy(this, 'PostConfirmationAddToGroup', {
        roles: [trigger.role!],
        statements: [
          new iam.PolicyStatement({
            actions: ['cognito-idp:AdminAddUserToGroup'],
            resources: [this.userPool.userPoolArn],
          }),
        ],
      });
    }
  }
}
