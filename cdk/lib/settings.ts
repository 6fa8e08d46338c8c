import * as path from 'node:path';
import { Node } from 'constructs';
import { MailSettings } from './auth';
import { REPO_ROOT, DEFAULT_LAMBDA_DIR } from './paths';

/**
 * What the app reads from CDK context (`-c key=value` or `cdk.json`):
 *
 * - `skipBuild=true`: every Lambda gets a placeholder asset, so the app synthesizes without any
 *   Rust build (tests, `scripts/deploy --dry-run` without cargo). Such a template refuses to
 *   deploy (a CloudFormation rule fails).
 * - `lambdaDir=<dir>`: where `scripts/build-lambdas` wrote `<binary>/bootstrap`; relative paths are
 *   taken from the repository root. Default `target/lambda`.
 * - `authDomainPrefix=<prefix>`: the Cognito hosted UI domain prefix (globally unique per region).
 *   Default `ticketing-<account id>`.
 * - `localDevUrl=<url>`: an extra OAuth callback/logout URL for running the site locally
 *   against this user pool (a dev stack's `http://localhost:8080`). None by default: a
 *   production client redirects to its own site only.
 * - `stage=<name>`: a second deployment in the same account or region (`staging`, `eu`): the
 *   stack is `Ticketing-<name>` and every account-wide name carries it. None by default
 *   (`Ticketing`).
 * - `sesFromEmail=<address>` (with `sesRegion`, default the deploy's region, and optional
 *   `sesFromName`, `sesVerifiedDomain`): Cognito mails through this SES identity, verified
 *   beforehand. Without it, Cognito's own sender (about 50 mails a day) is used, which the
 *   `CognitoMail` output and a synth note say.
 * - `alarmEmail=<address>`: subscribes the address to the alarm topic (it confirms by mail).
 * - `terminationProtection=false`: lets `cdk destroy` remove the stack (a throwaway stage).
 *   On by default.
 */
export interface Settings {
  readonly skipBuild: boolean;
  readonly stage?: string;
  readonly terminationProtection: boolean;
  readonly alarmEmail?: string;
  readonly mail?: MailSettings;
  readonly lambdaDir: string;
  readonly authDomainPrefix?: string;
  readonly localDevUrl?: string;
}

export function readSettings(node: Node): Settings {
  const text = (key: string): string | undefined => {
    const value = node.tryGetContext(key);
    if (value === undefined || value === null || value === '') return undefined;
    return String(value);
  };
  const skipBuild = ['true', '1', 'yes'].includes((text('skipBuild') ?? 'false').toLowerCase());
  const lambdaDir = path.resolve(REPO_ROOT, text('lambdaDir') ?? DEFAULT_LAMBDA_DIR);
  const authDomainPrefix = text('authDomainPrefix');
  if (authDomainPrefix !== undefined && !/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/.test(authDomainPrefix)) {
    throw new Error(`authDomainPrefix "${authDomainPrefix}": use lower-case letters, digits and hyphens`);
  }
  if (authDomainPrefix !== undefined && /aws|amazon|cognito/.test(authDomainPrefix)) {
    throw new Error(`authDomainPrefix "${authDomainPrefix}" may not contain aws, amazon or cognito`);
  }
  const local = text('localDevUrl');
  const localDevUrl = local === undefined || local === 'none' ? undefined : local.replace(/\/+$/, '');
  const stage = text('stage');
  if (stage !== undefined && !/^[a-z][a-z0-9-]{0,19}$/.test(stage)) {
    throw new Error(`stage "${stage}": use 1 to 20 lower-case letters, digits and hyphens, starting with a letter`);
  }
  const terminationProtection = !['false', '0', 'no'].includes((text('terminationProtection') ?? 'true').toLowerCase());
  const alarmEmail = text('alarmEmail');
  if (alarmEmail !== undefined && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(alarmEmail)) {
    throw new Error(`alarmEmail "${alarmEmail}" is not an email address`);
  }
  const fromEmail = text('sesFromEmail');
  if (fromEmail !== undefined && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(fromEmail)) {
    throw new Error(`sesFromEmail "${fromEmail}" is not an email address`);
  }
  // The app is environment-agnostic, so the identity's region must be named (cdk deploy sets
  // CDK_DEFAULT_REGION from the credentials' region).
  const sesRegion = text('sesRegion') ?? process.env.CDK_DEFAULT_REGION;
  if (fromEmail !== undefined && sesRegion === undefined) {
    throw new Error('sesFromEmail needs sesRegion=<region where the SES identity is verified>');
  }
  const mail = fromEmail
    ? { fromEmail, fromName: text('sesFromName'), verifiedDomain: text('sesVerifiedDomain'), region: sesRegion }
    : undefined;
  return { skipBuild, lambdaDir, authDomainPrefix, localDevUrl, stage, terminationProtection, alarmEmail, mail };
}

/** The stack's name: `Ticketing`, or `Ticketing-<stage>`. */
export function stackName(settings: Settings): string {
  return settings.stage ? `Ticketing-${settings.stage}` : 'Ticketing';
}
