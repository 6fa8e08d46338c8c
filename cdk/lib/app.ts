import * as fs from 'node:fs';
import * as path from 'node:path';
import { App, AppProps, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { LambdaSpec } from './functions';
import { readSettings, stackName } from './settings';
import { TicketingStack } from './ticketing-stack';

/** The feature flags and defaults of `cdk.json`, so an in-process app (tests) matches `cdk synth`. */
function cdkJsonContext(): Record<string, unknown> {
  const file = path.join(__dirname, '..', 'cdk.json');
  return (JSON.parse(fs.readFileSync(file, 'utf8')) as { context?: Record<string, unknown> }).context ?? {};
}

export interface BuildOptions {
  /** Extra context, as `-c key=value` would give it. */
  readonly context?: Record<string, unknown>;
  readonly outdir?: string;
  readonly lambdas?: readonly LambdaSpec[];
  /** Run cdk-nag's AwsSolutions pack during synth (on by default). */
  readonly nag?: boolean;
}

export function buildApp(options: BuildOptions = {}): { app: App; stack: TicketingStack } {
  const props: AppProps = {
    // CLI context (-c, CDK_CONTEXT_JSON) still wins over these defaults.
    context: { ...cdkJsonContext(), ...(options.context ?? {}) },
    outdir: options.outdir,
  };
  const app = new App(props);
  const settings = readSettings(app.node);
  const stack = new TicketingStack(app, stackName(settings), {
    description: 'Event ticketing: Cognito, HTTP API, Rust Lambdas, DynamoDB, S3, Step Functions, CloudFront site',
    // A stray `cdk destroy` would take the API, the functions and running registrations with it.
    terminationProtection: settings.terminationProtection,
    settings,
    lambdas: options.lambdas,
  });
  if (options.nag ?? true) {
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  }
  return { app, stack };
}
