import * as path from 'node:path';
import { Node } from 'constructs';
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
 * - `localDevUrl=<url>|none`: an extra OAuth callback/logout URL for running the site locally
 *   against this user pool. Default `http://localhost:8080`; `none` leaves it out.
 */
export interface Settings {
  readonly skipBuild: boolean;
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
  const local = text('localDevUrl') ?? 'http://localhost:8080';
  const localDevUrl = local === 'none' ? undefined : local.replace(/\/+$/, '');
  return { skipBuild, lambdaDir, authDomainPrefix, localDevUrl };
}
